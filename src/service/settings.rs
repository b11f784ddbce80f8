//! The persisted admin configuration (`GET/POST /auths/admin/config`, `user.permissions`):
//! which keys exist, how a posted form is validated, and typed reads of a snapshot.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::auth::{Caller, Role};
use crate::config::{Config, SettingSeeds, is_single_term_duration, parse_duration};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::service::permissions::PermissionTree;
use crate::store::{self, Db};

/// How a field of the admin-config form is validated and written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Required boolean.
    Bool,
    /// Optional boolean, written only when sent.
    OptBool,
    /// Required string.
    Str,
    /// Optional string or null, written as null when absent.
    OptStr,
    /// Optional object, always written (absent or null ⇒ `{}`).
    Dict,
    /// Optional object of objects of strings, written only when sent.
    I18n,
    /// Optional integer or numeric string, always written (absent, 0 or "" ⇒ "").
    Count,
    /// Optional integer > 0 or null, written only when sent.
    OptPositiveInt,
    /// Required string; written only when it is one of the choices.
    Choice(&'static [&'static str]),
    /// Optional string (default given); written only when it is one of the choices.
    OptChoice(&'static [&'static str], &'static str),
    /// Required string; written only when it is a single-term duration.
    Duration,
    /// Optional boolean; MFA is not supported, so only `false` is accepted.
    Mfa,
}

struct Field {
    name: &'static str,
    key: &'static str,
    kind: Kind,
    /// The value the key starts with.
    seed: fn(&SettingSeeds) -> Value,
}

const ROLES: &[&str] = &["pending", "user", "admin"];

const FIELDS: &[Field] = &[
    Field { name: "ENABLE_MFA", key: "auth.mfa.enable", kind: Kind::Mfa, seed: |_s| json!(false) },
    Field {
        name: "MFA_ALLOW_OAUTH_BYPASS",
        key: "auth.mfa.allow_oauth_bypass",
        kind: Kind::Mfa,
        seed: |_s| json!(false),
    },
    Field {
        name: "MFA_ALLOW_TRUSTED_HEADER_BYPASS",
        key: "auth.mfa.allow_trusted_header_bypass",
        kind: Kind::Mfa,
        seed: |_s| json!(false),
    },
    Field {
        name: "SHOW_ADMIN_DETAILS",
        key: "auth.admin.show",
        kind: Kind::Bool,
        seed: |s| json!(s.show_admin_details),
    },
    Field {
        name: "ADMIN_EMAIL",
        key: "auth.admin.email",
        kind: Kind::OptStr,
        seed: |s| json!(s.admin_email),
    },
    Field { name: "WEBUI_URL", key: "webui.url", kind: Kind::Str, seed: |s| json!(s.webui_url) },
    Field {
        name: "ENABLE_LOGIN_FORM",
        key: "ui.enable_login_form",
        kind: Kind::OptBool,
        seed: |s| json!(s.enable_login_form),
    },
    Field {
        name: "ENABLE_SIGNUP",
        key: "ui.enable_signup",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_signup),
    },
    Field {
        name: "ENABLE_API_KEYS",
        key: "auth.enable_api_keys",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_api_keys),
    },
    Field {
        name: "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS",
        key: "auth.api_key.endpoint_restrictions",
        kind: Kind::Bool,
        seed: |s| json!(s.api_key_endpoint_restrictions),
    },
    Field {
        name: "API_KEYS_ALLOWED_ENDPOINTS",
        key: "auth.api_key.allowed_endpoints",
        kind: Kind::Str,
        seed: |s| json!(s.api_keys_allowed_endpoints),
    },
    Field {
        name: "DEFAULT_USER_ROLE",
        key: "ui.default_user_role",
        kind: Kind::Choice(ROLES),
        seed: |s| json!(s.default_user_role.as_str()),
    },
    Field { name: "DEFAULT_GROUP_ID", key: "ui.default_group_id", kind: Kind::Str, seed: |_s| json!("") },
    Field {
        name: "DEFAULT_INTERFACE_SETTINGS",
        key: "ui.default_interface_settings",
        kind: Kind::Dict,
        seed: |_s| json!({}),
    },
    Field { name: "I18N", key: "ui.i18n", kind: Kind::I18n, seed: |_s| json!({}) },
    Field {
        name: "JWT_EXPIRES_IN",
        key: "auth.jwt_expiry",
        kind: Kind::Duration,
        seed: |s| json!(s.jwt_expires_in),
    },
    Field {
        name: "ENABLE_COMMUNITY_SHARING",
        key: "ui.enable_community_sharing",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_community_sharing),
    },
    Field {
        name: "ENABLE_MESSAGE_RATING",
        key: "ui.enable_message_rating",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_message_rating),
    },
    Field {
        name: "ENABLE_FOLDERS",
        key: "folders.enable",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_folders),
    },
    Field {
        name: "FOLDER_MAX_FILE_COUNT",
        key: "folders.max_file_count",
        kind: Kind::Count,
        seed: |_s| json!(""),
    },
    Field {
        name: "AUTOMATION_MAX_COUNT",
        key: "automations.max_count",
        kind: Kind::Count,
        seed: |_s| json!(""),
    },
    Field {
        name: "AUTOMATION_MIN_INTERVAL",
        key: "automations.min_interval",
        kind: Kind::Count,
        seed: |_s| json!(""),
    },
    Field {
        name: "ENABLE_AUTOMATIONS",
        key: "automations.enable",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_automations),
    },
    Field {
        name: "ENABLE_CHANNELS",
        key: "channels.enable",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_channels),
    },
    Field {
        name: "ENABLE_ENCRYPTED_CHANNELS",
        key: "channels.encryption.enable",
        kind: Kind::OptBool,
        seed: |_s| json!(false),
    },
    Field { name: "ENABLE_APPS", key: "apps.enable", kind: Kind::OptBool, seed: |_s| json!(false) },
    Field {
        name: "CHANNEL_MODEL_RESPONSE_MODE",
        key: "channels.model_response_mode",
        kind: Kind::OptChoice(&["thread", "channel"], "thread"),
        seed: |_s| json!("thread"),
    },
    Field {
        name: "ENABLE_CALENDAR",
        key: "calendar.enable",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_calendar),
    },
    Field {
        name: "ENABLE_MEMORIES",
        key: "memories.enable",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_memories),
    },
    Field {
        name: "ENABLE_MEMORY_SYSTEM_CONTEXT",
        key: "memories.system_context.enable",
        kind: Kind::Bool,
        seed: |_s| json!(true),
    },
    Field {
        name: "ENABLE_SKILL_LAZY_LOADING",
        key: "skills.lazy_loading.enable",
        kind: Kind::OptBool,
        seed: |_s| json!(false),
    },
    Field {
        name: "SKILL_CONTENT_MAX_CHARS",
        key: "skills.content_max_chars",
        kind: Kind::OptPositiveInt,
        seed: |_s| Value::Null,
    },
    Field {
        name: "SKILL_PREVIEW_MAX_CHARS",
        key: "skills.preview_max_chars",
        kind: Kind::OptPositiveInt,
        seed: |_s| Value::Null,
    },
    Field { name: "ENABLE_NOTES", key: "notes.enable", kind: Kind::Bool, seed: |s| json!(s.enable_notes) },
    Field {
        name: "ENABLE_USER_WEBHOOKS",
        key: "ui.enable_user_webhooks",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_user_webhooks),
    },
    Field {
        name: "ENABLE_USER_STATUS",
        key: "users.enable_status",
        kind: Kind::Bool,
        seed: |s| json!(s.enable_user_status),
    },
    Field {
        name: "PENDING_USER_OVERLAY_TITLE",
        key: "ui.pending_user_overlay_title",
        kind: Kind::OptStr,
        seed: |s| json!(s.pending_user_overlay_title),
    },
    Field {
        name: "PENDING_USER_OVERLAY_CONTENT",
        key: "ui.pending_user_overlay_content",
        kind: Kind::OptStr,
        seed: |s| json!(s.pending_user_overlay_content),
    },
    Field {
        name: "RESPONSE_WATERMARK",
        key: "ui.watermark",
        kind: Kind::OptStr,
        seed: |s| json!(s.response_watermark),
    },
];

/// Config key of the stored default permission tree.
pub const PERMISSIONS_KEY: &str = "user.permissions";

/// The values every key starts with, from the environment.
fn seed_values(s: &SettingSeeds) -> Vec<(&'static str, Value)> {
    let mut values: Vec<(&'static str, Value)> = FIELDS.iter().map(|f| (f.key, (f.seed)(s))).collect();
    values.push((PERMISSIONS_KEY, s.permissions.to_value()));
    values
}

/// Writes the environment's values for keys that have none yet; with
/// `ENABLE_PERSISTENT_CONFIG=false`, the environment overwrites stored values.
pub async fn init(db: &Db, config: &Config) -> AppResult<()> {
    let now = store::now();
    for (key, value) in seed_values(&config.seeds) {
        if config.enable_persistent_config {
            store::settings::seed(db, key, &value, now).await?;
        } else {
            store::settings::set(db, key, &value, now).await?;
        }
    }
    db.settings_changed();
    Ok(())
}

/// A snapshot of the stored configuration with typed reads.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: std::sync::Arc<HashMap<String, Value>>,
}

impl Settings {
    pub async fn load(db: &Db) -> AppResult<Settings> {
        Ok(Settings { values: store::settings::all_cached(db).await? })
    }

    pub fn from_values(values: HashMap<String, Value>) -> Self {
        Settings { values: std::sync::Arc::new(values) }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    fn bool(&self, key: &str, default: bool) -> bool {
        self.values.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    fn str(&self, key: &str) -> &str {
        self.values.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn enable_signup(&self) -> bool {
        self.bool("ui.enable_signup", true)
    }
    pub fn enable_login_form(&self) -> bool {
        self.bool("ui.enable_login_form", true)
    }
    pub fn enable_api_keys(&self) -> bool {
        self.bool("auth.enable_api_keys", false)
    }
    pub fn show_admin_details(&self) -> bool {
        self.bool("auth.admin.show", true)
    }
    pub fn admin_email(&self) -> Option<&str> {
        Some(self.str("auth.admin.email")).filter(|s| !s.is_empty())
    }
    pub fn api_key_endpoint_restrictions(&self) -> bool {
        self.bool("auth.api_key.endpoint_restrictions", false)
    }
    /// The comma-separated allow-list of paths for API keys.
    pub fn api_keys_allowed_endpoints(&self) -> Vec<String> {
        self.str("auth.api_key.allowed_endpoints")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
    pub fn default_user_role(&self) -> Role {
        Role::parse(self.str("ui.default_user_role")).unwrap_or(Role::Pending)
    }
    /// Token lifetime; `None` = tokens never expire.
    pub fn jwt_lifetime(&self) -> Option<Duration> {
        parse_duration(self.str("auth.jwt_expiry")).unwrap_or(Some(Duration::from_secs(28 * 86400)))
    }
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.bool(key, default)
    }
    pub fn text(&self, key: &str) -> &str {
        self.str(key)
    }
    /// The default permission tree (stored values over the built-in defaults).
    /// The default permissions of role `user` (built-in defaults filled in), computed once per
    /// read of the stored configuration.
    pub fn permissions(&self) -> std::sync::Arc<PermissionTree> {
        self.derived().0
    }

    /// `permissions()` as JSON text, for answers that embed it.
    pub fn permissions_json(&self) -> std::sync::Arc<serde_json::value::RawValue> {
        self.derived().1
    }

    fn derived(&self) -> (std::sync::Arc<PermissionTree>, std::sync::Arc<serde_json::value::RawValue>) {
        use serde_json::value::RawValue;
        use std::sync::{Arc, Mutex};
        type Memo = Option<(Arc<HashMap<String, Value>>, Arc<PermissionTree>, Arc<RawValue>)>;
        static MEMO: Mutex<Memo> = Mutex::new(None);
        let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((values, tree, json)) = memo.as_ref()
            && Arc::ptr_eq(values, &self.values)
        {
            return (tree.clone(), json.clone());
        }
        let tree =
            Arc::new(PermissionTree::filled(self.values.get(PERMISSIONS_KEY), &PermissionTree::builtin()));
        // A map of strings to JSON values always serialises to valid JSON.
        let text = serde_json::to_string(&tree.0).unwrap_or_else(|_| "{}".to_string());
        let json: Arc<RawValue> = match RawValue::from_string(text) {
            Ok(raw) => raw.into(),
            Err(_) => RawValue::NULL.to_owned().into(),
        };
        *memo = Some((self.values.clone(), tree.clone(), json.clone()));
        (tree, json)
    }

    /// The admin-config object (`GET /auths/admin/config`).
    pub fn admin_view(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for f in FIELDS {
            let value = self.values.get(f.key).cloned().unwrap_or(Value::Null);
            out.insert(f.name.to_string(), value);
        }
        out
    }
}

/// `GET /auths/admin/config`.
pub async fn admin_config(db: &Db, caller: &Caller) -> AppResult<Map<String, Value>> {
    caller.require_admin()?;
    Ok(Settings::load(db).await?.admin_view())
}

/// `POST /auths/admin/config`: validates the whole form, writes it in one transaction, and
/// returns the stored object plus `sessions_revoked`.
pub async fn update_admin_config(db: &Db, caller: &Caller, body: &Value) -> AppResult<Map<String, Value>> {
    caller.require_admin()?;
    let updates = validate_admin_form(body).map_err(AppError::validation)?;
    let mut tx = db.begin().await?;
    store::settings::set_many(&mut tx, &updates, store::now()).await?;
    tx.commit().await?;
    db.settings_changed();
    let mut view = Settings::load(db).await?.admin_view();
    view.insert("sessions_revoked".into(), Value::Bool(false));
    Ok(view)
}

fn field_error(kind: &'static str, name: &str, msg: &str, input: Value) -> FieldError {
    FieldError { kind, loc: vec![json!("body"), json!(name)], msg: msg.to_string(), input, ctx: None }
}

/// The keys and values a posted admin config writes, or its field errors.
fn validate_admin_form(body: &Value) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
    let Value::Object(form) = body else {
        return Err(vec![FieldError {
            kind: "model_attributes_type",
            loc: vec![json!("body")],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: body.clone(),
            ctx: None,
        }]);
    };
    let mut errors = Vec::new();
    let mut updates = Vec::new();
    let missing = |name: &str| field_error("missing", name, "Field required", Value::Object(form.clone()));
    for f in FIELDS {
        let given = form.get(f.name);
        let key = f.key.to_string();
        match (f.kind, given) {
            (Kind::Bool, None) | (Kind::Str, None) | (Kind::Choice(_), None) | (Kind::Duration, None) => {
                errors.push(missing(f.name))
            }
            (Kind::Bool, Some(Value::Bool(b))) | (Kind::OptBool, Some(Value::Bool(b))) => {
                updates.push((key, Value::Bool(*b)))
            }
            (Kind::Bool | Kind::OptBool | Kind::Mfa, Some(v)) if !v.is_boolean() => {
                errors.push(field_error("bool_type", f.name, "Input should be a valid boolean", v.clone()))
            }
            (Kind::OptBool | Kind::Mfa, None) => {}
            (Kind::Mfa, Some(v)) if v.as_bool() == Some(true) => {
                return Err(vec![field_error(
                    "value_error",
                    f.name,
                    ErrorCode::MfaNotSupported.message(),
                    v.clone(),
                )]);
            }
            (Kind::Str | Kind::Choice(_) | Kind::Duration, Some(v)) if !v.is_string() => {
                errors.push(field_error("string_type", f.name, "Input should be a valid string", v.clone()))
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
            (Kind::OptStr, Some(v)) => {
                errors.push(field_error("string_type", f.name, "Input should be a valid string", v.clone()))
            }
            (Kind::OptChoice(_, default), None) => updates.push((key, json!(default))),
            (Kind::OptChoice(choices, _), Some(Value::String(s))) if choices.contains(&s.as_str()) => {
                updates.push((key, Value::String(s.clone())))
            }
            (Kind::OptChoice(..), Some(Value::String(_))) => {}
            (Kind::OptChoice(..), Some(v)) => {
                errors.push(field_error("string_type", f.name, "Input should be a valid string", v.clone()))
            }
            (Kind::Dict, None | Some(Value::Null)) => updates.push((key, json!({}))),
            (Kind::Dict, Some(Value::Object(m))) => updates.push((key, Value::Object(m.clone()))),
            (Kind::Dict, Some(v)) => {
                errors.push(field_error("dict_type", f.name, "Input should be a valid dictionary", v.clone()))
            }
            (Kind::I18n, None) => {}
            (Kind::I18n, Some(v)) => match validate_i18n(v) {
                Ok(clean) => updates.push((key, clean)),
                Err(msg) => errors.push(field_error("value_error", f.name, &msg, v.clone())),
            },
            (Kind::Count, None | Some(Value::Null)) => updates.push((key, json!(""))),
            (Kind::Count, Some(v)) => match count_value(v) {
                Some(n) => updates.push((key, n)),
                None => errors.push(field_error(
                    "int_parsing",
                    f.name,
                    "Input should be a valid integer, unable to parse string as an integer",
                    v.clone(),
                )),
            },
            (Kind::OptPositiveInt, None) => {}
            (Kind::OptPositiveInt, Some(Value::Null)) => updates.push((key, Value::Null)),
            (Kind::OptPositiveInt, Some(v)) => match v.as_i64() {
                Some(n) if n > 0 && v.is_i64() => updates.push((key, json!(n))),
                Some(_) => errors.push(field_error(
                    "greater_than",
                    f.name,
                    "Input should be greater than 0",
                    v.clone(),
                )),
                None => {
                    errors.push(field_error("int_type", f.name, "Input should be a valid integer", v.clone()))
                }
            },
            // Left: a valid boolean/MFA `false`, or a choice or duration outside the accepted set, which
            // the reference silently does not save.
            _ => {}
        }
    }
    if errors.is_empty() { Ok(updates) } else { Err(errors) }
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

/// `GET /users/default/permissions`.
pub async fn default_permissions(db: &Db, caller: &Caller) -> AppResult<PermissionTree> {
    caller.require_admin()?;
    Ok(PermissionTree::clone(&Settings::load(db).await?.permissions()))
}

/// `POST /users/default/permissions`: validates and stores the whole tree.
pub async fn set_default_permissions(db: &Db, caller: &Caller, body: &Value) -> AppResult<PermissionTree> {
    caller.require_admin()?;
    let tree = PermissionTree::from_form(body).map_err(AppError::validation)?;
    store::settings::set(db, PERMISSIONS_KEY, &tree.to_value(), store::now()).await?;
    db.settings_changed();
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let errs = validate_admin_form(&form).expect_err("errors");
        let kinds: Vec<_> = errs.iter().map(|e| (e.kind, e.loc[1].clone())).collect();
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
