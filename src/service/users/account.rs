//! What a verified caller keeps on their own account: the status line (`/users/user/status`),
//! the free-form `info` object (`/users/user/info`) and the template variables
//! (`/users/user/variables`).

use serde_json::{Map, Value};

use super::view::{UserView, VariablesView};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Source};
use crate::store::{self, users::StatusUpdate};

/// Config key of the user-status switch (`ENABLE_USER_STATUS`).
const ENABLE_STATUS_KEY: &str = "users.enable_status";

/// Variable names: a lower-case letter, then lower-case letters, digits and `_`.
fn variable_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The longest variable value, in characters.
const MAX_VARIABLE_LENGTH: usize = 20_000;
/// The longest variables object, in characters of its JSON text (as the reference writes it).
const MAX_VARIABLES_LENGTH: usize = 100_000;

async fn ensure_status_enabled(app: &App) -> AppResult<()> {
    if Settings::load(&app.db).await?.flag(ENABLE_STATUS_KEY, true) {
        Ok(())
    } else {
        Err(AppError::forbidden(ErrorCode::ActionProhibited))
    }
}

/// `GET /users/user/status` (verified): the caller's whole user record; 403
/// `ACTION_PROHIBITED` while user status is switched off.
pub async fn status(app: &App, caller: &Caller) -> AppResult<UserView> {
    let p = caller.require_verified()?;
    ensure_status_enabled(app).await?;
    Ok(UserView::from(p.user.clone()))
}

/// The reference's `UserStatus` form.
#[derive(Debug, Clone, Default, utoipa::ToSchema)]
#[schema(as = UserStatus)]
pub struct StatusInput {
    pub status_emoji: Option<String>,
    pub status_message: Option<String>,
    pub status_expires_at: Option<i64>,
}

/// `POST /users/user/status/update` (verified): writes the given fields (`null` or absent keeps
/// the stored value) and answers the user record.
pub async fn update_status(app: &App, caller: &Caller, input: StatusInput) -> AppResult<UserView> {
    let p = caller.require_verified()?;
    ensure_status_enabled(app).await?;
    let update = StatusUpdate {
        status_emoji: input.status_emoji,
        status_message: input.status_message,
        status_expires_at: input.status_expires_at,
    };
    store::users::set_status(&app.db, p.id(), &update)
        .await?
        .map(UserView::from)
        .ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))
}

/// `GET /users/user/info` (verified): the caller's `info` object, or `null`.
pub fn info(caller: &Caller) -> AppResult<Option<Value>> {
    let p = caller.require_verified()?;
    Ok(p.user.info.as_ref().map(|i| i.0.clone()))
}

/// `POST /users/user/info/update` (verified): the form's keys over the stored ones (a shallow
/// merge), read and written in one transaction with the row locked.
pub async fn update_info(app: &App, caller: &Caller, form: Map<String, Value>) -> AppResult<Option<Value>> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let user = store::users::get_for_update(&mut tx, p.id())
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    let mut info = match user.info.map(|i| i.0) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    info.extend(form);
    let written = store::users::set_info(&mut tx, p.id(), &Value::Object(info))
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    tx.commit().await?;
    Ok(written.info.map(|i| i.0))
}

/// `GET /users/user/variables` (verified): the stored variables whose values are texts.
pub async fn variables(app: &App, caller: &Caller) -> AppResult<VariablesView> {
    let p = caller.require_verified()?;
    let stored = store::users::variables(&app.db, p.id()).await?.flatten();
    let variables = match stored {
        Some(Value::Object(map)) => map.into_iter().filter(|(_, v)| v.is_string()).collect(),
        _ => Map::new(),
    };
    Ok(VariablesView { variables })
}

/// `POST /users/user/variables/update` (verified): replaces the variables with the form's
/// `variables` object (`{}` when absent; anything but an object is 422). 400 with the
/// reference's text for an object over 100,000 characters, a name that is not
/// `[a-z][a-z0-9_]*`, a value that is not a text or over 20,000 characters. `\r\n` in values is
/// stored as `\n`.
pub async fn update_variables(
    app: &App,
    caller: &Caller,
    mut form: Map<String, Value>,
) -> AppResult<VariablesView> {
    let p = caller.require_verified()?;
    let variables = match form.remove("variables") {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(Fields::error(Source::Body, |f| f.dict_type("variables", &other))),
    };
    let variables = check_variables(variables)?;
    if !store::users::set_variables(&app.db, p.id(), &Value::Object(variables.clone())).await? {
        return Err(AppError::bad_request(ErrorCode::NotFound));
    }
    Ok(VariablesView { variables })
}

fn check_variables(variables: Map<String, Value>) -> AppResult<Map<String, Value>> {
    let refuse = |text: String| AppError::bad_request_with(ErrorCode::ValidationError, text);
    if python_json_len(&Value::Object(variables.clone())) > MAX_VARIABLES_LENGTH {
        return Err(refuse("User variables are too large.".into()));
    }
    let mut out = Map::new();
    for (key, value) in variables {
        if !variable_name_ok(&key) {
            return Err(refuse(format!("Invalid user variable key: {key}")));
        }
        let Value::String(text) = value else {
            return Err(refuse(format!("User variable must be a string: {key}")));
        };
        let text = text.replace("\r\n", "\n");
        if text.chars().count() > MAX_VARIABLE_LENGTH {
            return Err(refuse(format!("User variable is too long: {key}")));
        }
        out.insert(key, Value::String(text));
    }
    Ok(out)
}

/// The length in characters of `value` as Python's `json.dumps(value, ensure_ascii=False)`
/// writes it (`", "` and `": "` separators), which is what the reference's size limit measures.
fn python_json_len(value: &Value) -> usize {
    match value {
        Value::Array(items) => {
            2 + items.iter().map(python_json_len).sum::<usize>() + 2 * items.len().saturating_sub(1)
        }
        Value::Object(map) => {
            2 + map.iter().map(|(k, v)| string_len(k) + 2 + python_json_len(v)).sum::<usize>()
                + 2 * map.len().saturating_sub(1)
        }
        Value::String(s) => string_len(s),
        other => other.to_string().chars().count(),
    }
}

fn string_len(s: &str) -> usize {
    // serde_json escapes exactly the characters Python's encoder escapes without `ensure_ascii`.
    Value::String(s.to_string()).to_string().chars().count()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lengths_follow_pythons_default_separators() {
        assert_eq!(python_json_len(&json!({})), 2);
        assert_eq!(python_json_len(&json!({"a": "b"})), r#"{"a": "b"}"#.len());
        assert_eq!(python_json_len(&json!({"a": "b", "c": [1, 2]})), r#"{"a": "b", "c": [1, 2]}"#.len());
        assert_eq!(python_json_len(&json!({"é": "\n"})), r#"{"é": "\n"}"#.chars().count());
    }

    #[test]
    fn names_and_values_are_checked_in_order() {
        let ok = check_variables(json!({"name": "a\r\nb"}).as_object().cloned().unwrap_or_default());
        assert_eq!(ok.ok().map(Value::Object), Some(json!({"name": "a\nb"})));
        for (input, text) in [
            (json!({"Name": "x"}), "Invalid user variable key: Name"),
            (json!({"_x": "x"}), "Invalid user variable key: _x"),
            (json!({"n": 1}), "User variable must be a string: n"),
            (json!({"n": "x".repeat(20_001)}), "User variable is too long: n"),
        ] {
            let err = check_variables(input.as_object().cloned().unwrap_or_default()).err();
            assert_eq!(err.map(|e| e.message()), Some(text.to_string()));
        }
        assert!(
            check_variables(json!({"n": "x".repeat(20_000)}).as_object().cloned().unwrap_or_default())
                .is_ok()
        );
    }
}
