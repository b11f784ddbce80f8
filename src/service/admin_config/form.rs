//! `GET/POST /auths/admin/config`: the admin's view of the configuration and the validation of a
//! posted form (every field checked, the whole form written in one transaction).

use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::config::is_single_term_duration;
use crate::error::{AppResult, ErrorCode};
use crate::service::form::{Fields, Source};
use crate::store::{self, Db};

use super::Settings;
use super::fields::{FIELDS, Kind};

/// `GET /auths/admin/config`.
pub async fn admin_config(db: &Db, caller: &Caller) -> AppResult<Map<String, Value>> {
    caller.require_admin()?;
    Ok(Settings::load(db).await?.admin_view())
}

/// `POST /auths/admin/config`: validates the whole form, writes it in one transaction, and
/// returns the stored object plus `sessions_revoked`.
pub async fn update_admin_config(db: &Db, caller: &Caller, body: &Value) -> AppResult<Map<String, Value>> {
    caller.require_admin()?;
    let updates = validate_admin_form(body)?;
    let mut tx = db.begin().await?;
    store::settings::set_many(&mut tx, &updates, store::now()).await?;
    tx.commit().await?;
    db.settings_changed();
    let mut view = Settings::load(db).await?.admin_view();
    view.insert("sessions_revoked".into(), Value::Bool(false));
    Ok(view)
}

/// The keys and values a posted admin config writes, or the 422 of its field errors.
fn validate_admin_form(body: &Value) -> AppResult<Vec<(String, Value)>> {
    let form = Fields::object_form(Source::Body, body)?;
    let mut errors = Fields::body();
    let mut updates = Vec::new();
    for f in FIELDS {
        let given = form.get(f.name);
        let key = f.key.to_string();
        match (f.kind, given) {
            (Kind::Bool, None) | (Kind::Str, None) | (Kind::Choice(_), None) | (Kind::Duration, None) => {
                errors.missing_in(f.name, form)
            }
            (Kind::Bool, Some(Value::Bool(b))) | (Kind::OptBool, Some(Value::Bool(b))) => {
                updates.push((key, Value::Bool(*b)))
            }
            (Kind::Bool | Kind::OptBool | Kind::Mfa, Some(v)) if !v.is_boolean() => {
                errors.bool_type(f.name, v)
            }
            (Kind::OptBool | Kind::Mfa, None) => {}
            (Kind::Mfa, Some(v)) if v.as_bool() == Some(true) => {
                let text = ErrorCode::MfaNotSupported.message();
                return Err(Fields::error(Source::Body, |e| e.value_error_bare(f.name, v, text)));
            }
            (Kind::Str | Kind::Choice(_) | Kind::Duration, Some(v)) if !v.is_string() => {
                errors.string_type(f.name, v)
            }
            (Kind::Str, Some(v)) => updates.push((key, v.clone())),
            (Kind::Choice(choices), Some(Value::String(s))) if choices.contains(&s.as_str()) => {
                updates.push((key, Value::String(s.clone())))
            }
            (Kind::Duration, Some(Value::String(s))) if is_single_term_duration(s) => {
                updates.push((key, Value::String(s.clone())))
            }
            (Kind::OptStr, None | Some(Value::Null)) => updates.push((key, Value::Null)),
            (Kind::OptStr, Some(Value::String(s))) => updates.push((key, Value::String(s.clone()))),
            (Kind::OptStr, Some(v)) => errors.string_type(f.name, v),
            (Kind::OptChoice(_, default), None) => updates.push((key, json!(default))),
            (Kind::OptChoice(choices, _), Some(Value::String(s))) if choices.contains(&s.as_str()) => {
                updates.push((key, Value::String(s.clone())))
            }
            (Kind::OptChoice(..), Some(Value::String(_))) => {}
            (Kind::OptChoice(..), Some(v)) => errors.string_type(f.name, v),
            (Kind::Dict, None | Some(Value::Null)) => updates.push((key, json!({}))),
            (Kind::Dict, Some(Value::Object(m))) => updates.push((key, Value::Object(m.clone()))),
            (Kind::Dict, Some(v)) => errors.dict_type(f.name, v),
            (Kind::I18n, None) => {}
            (Kind::I18n, Some(v)) => match validate_i18n(v) {
                Ok(clean) => updates.push((key, clean)),
                Err(msg) => errors.value_error_bare(f.name, v, &msg),
            },
            (Kind::Count, None | Some(Value::Null)) => updates.push((key, json!(""))),
            (Kind::Count, Some(v)) => match count_value(v) {
                Some(n) => updates.push((key, n)),
                None => errors.int_parsing(f.name, v),
            },
            (Kind::OptPositiveInt, None) => {}
            (Kind::OptPositiveInt, Some(Value::Null)) => updates.push((key, Value::Null)),
            (Kind::OptPositiveInt, Some(v)) => match v.as_i64() {
                Some(n) if n > 0 && v.is_i64() => updates.push((key, json!(n))),
                Some(_) => errors.greater_than(f.name, v, 0),
                None => errors.int_type(f.name, v),
            },
            // Left: a valid boolean/MFA `false`, or a choice or duration outside the accepted set, which
            // the reference silently does not save.
            _ => {}
        }
    }
    errors.finish()?;
    Ok(updates)
}

/// `int | str | None`, written as an integer, or `""` when falsy.
fn count_value(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(json!("")),
            Some(i) => Some(json!(i)),
            None => None,
        },
        Value::String(s) if s.is_empty() => Some(json!("")),
        Value::String(s) => s.trim().parse::<i64>().ok().map(|i| if i == 0 { json!("") } else { json!(i) }),
        Value::Bool(false) => Some(json!("")),
        _ => None,
    }
}

/// `{locale: {key: text}}` with non-empty names and no prototype-pollution keys.
fn validate_i18n(v: &Value) -> Result<Value, String> {
    const UNSAFE: &[&str] = &["__proto__", "prototype", "constructor"];
    let Value::Object(locales) = v else {
        return Err("I18N must be a dictionary".into());
    };
    for (locale, entries) in locales {
        if locale.trim().is_empty() || UNSAFE.contains(&locale.as_str()) {
            return Err(format!("Invalid locale: {locale:?}"));
        }
        let Value::Object(entries) = entries else {
            return Err(format!("Translations for {locale:?} must be a dictionary"));
        };
        for (key, text) in entries {
            if key.trim().is_empty() || UNSAFE.contains(&key.as_str()) {
                return Err(format!("Invalid translation key: {key:?}"));
            }
            if !text.is_string() {
                return Err(format!("Translation {key:?} must be a string"));
            }
        }
    }
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::service::admin_config::seed_values;

    fn full_form() -> Value {
        let seeds = crate::config::Config::from_map(&HashMap::new()).expect("config").seeds;
        let settings =
            Settings::from_values(seed_values(&seeds).into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        Value::Object(settings.admin_view())
    }

    #[test]
    fn the_admin_view_round_trips_through_the_form() {
        let form = full_form();
        let updates = validate_admin_form(&form).expect("valid");
        assert!(updates.iter().any(|(k, v)| k == "ui.enable_signup" && v == &json!(true)));
        assert!(updates.iter().any(|(k, v)| k == "auth.jwt_expiry" && v == &json!("4w")));
    }

    #[test]
    fn required_fields_and_types_are_checked() {
        let mut form = full_form();
        form.as_object_mut().expect("object").remove("ENABLE_SIGNUP");
        form["WEBUI_URL"] = json!(5);
        let err = validate_admin_form(&form).expect_err("errors");
        let kinds: Vec<_> = err.field_errors().iter().map(|e| (e.kind, e.loc[1].clone())).collect();
        assert!(kinds.contains(&("missing", json!("ENABLE_SIGNUP"))));
        assert!(kinds.contains(&("string_type", json!("WEBUI_URL"))));
    }

    #[test]
    fn invalid_role_and_duration_are_ignored_not_saved() {
        let mut form = full_form();
        form["DEFAULT_USER_ROLE"] = json!("root");
        form["JWT_EXPIRES_IN"] = json!("1h30m");
        let updates = validate_admin_form(&form).expect("valid");
        assert!(!updates.iter().any(|(k, _)| k == "ui.default_user_role"));
        assert!(!updates.iter().any(|(k, _)| k == "auth.jwt_expiry"));
    }
}
