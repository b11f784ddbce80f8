//! `GET/POST /chats/config` (admin): context compaction and tool search settings, stored in the
//! `config` table under the reference's keys (`chat.context_compaction.*`, `chat.tool_*`), so
//! every instance reads what an admin saved. Keys never saved read as the reference's defaults.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Source};
use crate::store;

const MODEL: &str = "chat.context_compaction.model";
const ENABLE: &str = "chat.context_compaction.enable";
const THRESHOLD: &str = "chat.context_compaction.token_threshold";
const CAP: &str = "chat.context_compaction.token_cap";
const RETENTION: &str = "chat.context_compaction.retention_percentage";
const PROMPT: &str = "chat.context_compaction.prompt_template";
const TOOL_PERMISSIONS: &str = "chat.tool_permissions.enable";
const TOOL_SEARCH: &str = "chat.tool_search.enable";
const DEFER_THRESHOLD: &str = "chat.tool_search.defer_threshold";
const ALWAYS_LOADED: &str = "chat.tool_search.always_loaded";
const DEFER_BUILTIN: &str = "chat.tool_search.defer_builtin_tools";

/// The reference's defaults (`CONTEXT_COMPACTION_TOKEN_THRESHOLD`, `…_RETENTION_PERCENTAGE`,
/// `TOOL_SEARCH_DEFER_THRESHOLD`).
pub const DEFAULT_THRESHOLD: i64 = 80_000;
pub const DEFAULT_RETENTION: i64 = 40;
pub const DEFAULT_DEFER_THRESHOLD: i64 = 400;

/// `ChatConfigForm`: what `GET /chats/config` answers and `POST` takes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ChatConfigForm)]
#[allow(non_snake_case)]
pub struct ChatConfig {
    #[schema(required = false)]
    pub CONTEXT_COMPACTION_MODEL: Option<String>,
    pub ENABLE_CONTEXT_COMPACTION: bool,
    #[schema(required = false)]
    pub CONTEXT_COMPACTION_TOKEN_THRESHOLD: Option<i64>,
    #[schema(required = false)]
    pub CONTEXT_COMPACTION_TOKEN_CAP: Option<i64>,
    #[schema(required = false)]
    pub CONTEXT_COMPACTION_RETENTION_PERCENTAGE: Option<i64>,
    pub CONTEXT_COMPACTION_PROMPT_TEMPLATE: String,
    #[schema(required = false)]
    pub ENABLE_TOOL_PERMISSIONS: bool,
    #[schema(required = false)]
    pub ENABLE_TOOL_SEARCH: bool,
    #[schema(required = false)]
    pub TOOL_SEARCH_DEFER_THRESHOLD: i64,
    #[schema(required = false)]
    pub TOOL_SEARCH_ALWAYS_LOADED: Vec<String>,
    #[schema(required = false)]
    pub TOOL_SEARCH_DEFER_BUILTIN_TOOLS: bool,
}

fn int_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64))
}

impl ChatConfig {
    /// The stored values, each key that was never saved at its default.
    pub fn of(settings: &Settings) -> ChatConfig {
        let get = |k: &str| settings.get(k).filter(|v| !v.is_null());
        let bool_of = |k: &str, default: bool| get(k).and_then(Value::as_bool).unwrap_or(default);
        let threshold = get(THRESHOLD).and_then(int_of).unwrap_or(DEFAULT_THRESHOLD);
        ChatConfig {
            CONTEXT_COMPACTION_MODEL: Some(get(MODEL).and_then(Value::as_str).unwrap_or("").to_string()),
            ENABLE_CONTEXT_COMPACTION: bool_of(ENABLE, false),
            CONTEXT_COMPACTION_TOKEN_THRESHOLD: Some(threshold),
            CONTEXT_COMPACTION_TOKEN_CAP: Some(get(CAP).and_then(int_of).unwrap_or(threshold)),
            CONTEXT_COMPACTION_RETENTION_PERCENTAGE: Some(
                get(RETENTION).and_then(int_of).unwrap_or(DEFAULT_RETENTION),
            ),
            CONTEXT_COMPACTION_PROMPT_TEMPLATE: get(PROMPT).and_then(Value::as_str).unwrap_or("").to_string(),
            ENABLE_TOOL_PERMISSIONS: bool_of(TOOL_PERMISSIONS, false),
            ENABLE_TOOL_SEARCH: bool_of(TOOL_SEARCH, false),
            TOOL_SEARCH_DEFER_THRESHOLD: get(DEFER_THRESHOLD)
                .and_then(int_of)
                .unwrap_or(DEFAULT_DEFER_THRESHOLD),
            TOOL_SEARCH_ALWAYS_LOADED: get(ALWAYS_LOADED)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            TOOL_SEARCH_DEFER_BUILTIN_TOOLS: bool_of(DEFER_BUILTIN, true),
        }
    }

    /// A posted form, or the 422 of its field errors (pydantic's lax booleans and integers).
    pub fn from_json(body: &Value) -> AppResult<ChatConfig> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let boolean = |f: &mut Fields, name: &str, default: Option<bool>| match map.get(name) {
            None if default.is_none() => {
                f.missing_in(name, map);
                false
            }
            None => default.unwrap_or(false),
            Some(v) => f.lax_bool(v, name).unwrap_or(false),
        };
        let enable = boolean(&mut f, "ENABLE_CONTEXT_COMPACTION", None);
        let tool_permissions = boolean(&mut f, "ENABLE_TOOL_PERMISSIONS", Some(false));
        let tool_search = boolean(&mut f, "ENABLE_TOOL_SEARCH", Some(false));
        let defer_builtin = boolean(&mut f, "TOOL_SEARCH_DEFER_BUILTIN_TOOLS", Some(true));
        let model = match map.get("CONTEXT_COMPACTION_MODEL") {
            None => Some(String::new()),
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                f.string_type("CONTEXT_COMPACTION_MODEL", other);
                None
            }
        };
        let prompt = f.string(map, crate::service::form::Loc::root(), "CONTEXT_COMPACTION_PROMPT_TEMPLATE");
        let threshold = lax_int(&mut f, map, "CONTEXT_COMPACTION_TOKEN_THRESHOLD");
        let cap = lax_int(&mut f, map, "CONTEXT_COMPACTION_TOKEN_CAP");
        let retention = lax_int(&mut f, map, "CONTEXT_COMPACTION_RETENTION_PERCENTAGE");
        if let Some(Value::Null) = map.get("TOOL_SEARCH_DEFER_THRESHOLD") {
            f.int_type("TOOL_SEARCH_DEFER_THRESHOLD", &Value::Null);
        }
        let defer = lax_int(&mut f, map, "TOOL_SEARCH_DEFER_THRESHOLD").unwrap_or(DEFAULT_DEFER_THRESHOLD);
        let mut always_loaded = Vec::new();
        match map.get("TOOL_SEARCH_ALWAYS_LOADED") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => always_loaded.push(s.to_string()),
                        None => f.string_type(
                            crate::service::form::Loc::from("TOOL_SEARCH_ALWAYS_LOADED").at(i),
                            item,
                        ),
                    }
                }
            }
            Some(other) => f.list_type("TOOL_SEARCH_ALWAYS_LOADED", other),
        }
        f.finish()?;
        Ok(ChatConfig {
            CONTEXT_COMPACTION_MODEL: model,
            ENABLE_CONTEXT_COMPACTION: enable,
            CONTEXT_COMPACTION_TOKEN_THRESHOLD: threshold,
            CONTEXT_COMPACTION_TOKEN_CAP: cap,
            CONTEXT_COMPACTION_RETENTION_PERCENTAGE: retention,
            CONTEXT_COMPACTION_PROMPT_TEMPLATE: prompt.unwrap_or_default(),
            ENABLE_TOOL_PERMISSIONS: tool_permissions,
            ENABLE_TOOL_SEARCH: tool_search,
            TOOL_SEARCH_DEFER_THRESHOLD: defer,
            TOOL_SEARCH_ALWAYS_LOADED: always_loaded,
            TOOL_SEARCH_DEFER_BUILTIN_TOOLS: defer_builtin,
        })
    }

    /// The keys and values a saved form writes, bounded as the reference bounds them: thresholds
    /// at least 1 (the cap defaults to the threshold), retention within 10–50 %, the tool search
    /// threshold at least 0, blank always-loaded entries dropped.
    fn updates(&self) -> Vec<(String, Value)> {
        let threshold = self.CONTEXT_COMPACTION_TOKEN_THRESHOLD.unwrap_or(DEFAULT_THRESHOLD).max(1);
        let cap = self.CONTEXT_COMPACTION_TOKEN_CAP.filter(|c| *c != 0).unwrap_or(threshold).max(1);
        let retention =
            self.CONTEXT_COMPACTION_RETENTION_PERCENTAGE.unwrap_or(DEFAULT_RETENTION).clamp(10, 50);
        let always: Vec<String> = self
            .TOOL_SEARCH_ALWAYS_LOADED
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        [
            (MODEL, json!(self.CONTEXT_COMPACTION_MODEL.clone().unwrap_or_default())),
            (ENABLE, json!(self.ENABLE_CONTEXT_COMPACTION)),
            (THRESHOLD, json!(threshold)),
            (CAP, json!(cap)),
            (RETENTION, json!(retention)),
            (PROMPT, json!(self.CONTEXT_COMPACTION_PROMPT_TEMPLATE)),
            (TOOL_PERMISSIONS, json!(self.ENABLE_TOOL_PERMISSIONS)),
            (TOOL_SEARCH, json!(self.ENABLE_TOOL_SEARCH)),
            (DEFER_THRESHOLD, json!(self.TOOL_SEARCH_DEFER_THRESHOLD.max(0))),
            (ALWAYS_LOADED, json!(always)),
            (DEFER_BUILTIN, json!(self.TOOL_SEARCH_DEFER_BUILTIN_TOOLS)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// pydantic's lax `int | None`: integers, integral floats and integer texts; null is `None`.
fn lax_int(f: &mut Fields, map: &Map<String, Value>, name: &str) -> Option<i64> {
    let v = map.get(name)?;
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(_) => {
            let n = int_of(v);
            if n.is_none() {
                f.int_type(name, v);
            }
            n
        }
        Value::String(s) => {
            let n = s.trim().parse::<i64>().ok();
            if n.is_none() {
                f.int_parsing(name, v);
            }
            n
        }
        _ => {
            f.int_type(name, v);
            None
        }
    }
}

/// `GET /chats/config` (admin).
pub async fn chat_config(app: &App, caller: &Caller) -> AppResult<ChatConfig> {
    caller.require_admin()?;
    Ok(ChatConfig::of(&Settings::load(&app.db).await?))
}

/// `POST /chats/config` (admin): writes every key in one transaction; answers what is stored.
pub async fn set_chat_config(app: &App, caller: &Caller, form: ChatConfig) -> AppResult<ChatConfig> {
    caller.require_admin()?;
    let mut tx = app.db.begin().await?;
    store::settings::set_many(&mut tx, &form.updates(), store::now()).await?;
    tx.commit().await?;
    app.db.settings_changed();
    chat_config(app, caller).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_form_is_bounded_as_the_reference_bounds_it() {
        let form = ChatConfig::from_json(&json!({
            "ENABLE_CONTEXT_COMPACTION": "yes", "CONTEXT_COMPACTION_PROMPT_TEMPLATE": "p",
            "CONTEXT_COMPACTION_TOKEN_THRESHOLD": -5, "CONTEXT_COMPACTION_TOKEN_CAP": 0,
            "CONTEXT_COMPACTION_RETENTION_PERCENTAGE": 99, "TOOL_SEARCH_DEFER_THRESHOLD": "-3",
            "TOOL_SEARCH_ALWAYS_LOADED": [" a ", "  ", "b"], "CONTEXT_COMPACTION_MODEL": null
        }))
        .expect("valid");
        let u: std::collections::HashMap<String, Value> = form.updates().into_iter().collect();
        assert_eq!(u[ENABLE], json!(true));
        assert_eq!(u[THRESHOLD], json!(1));
        assert_eq!(u[CAP], json!(1));
        assert_eq!(u[RETENTION], json!(50));
        assert_eq!(u[DEFER_THRESHOLD], json!(0));
        assert_eq!(u[ALWAYS_LOADED], json!(["a", "b"]));
        assert_eq!(u[MODEL], json!(""));
        assert_eq!(u[DEFER_BUILTIN], json!(true));
    }

    #[test]
    fn required_fields_and_types_are_checked() {
        let err = ChatConfig::from_json(&json!({"CONTEXT_COMPACTION_TOKEN_CAP": "many",
            "TOOL_SEARCH_ALWAYS_LOADED": [1]}))
        .expect_err("invalid");
        let kinds: Vec<(&str, Value)> =
            err.field_errors().iter().map(|e| (e.kind, e.loc[1].clone())).collect();
        assert!(kinds.contains(&("missing", json!("ENABLE_CONTEXT_COMPACTION"))), "{kinds:?}");
        assert!(kinds.contains(&("missing", json!("CONTEXT_COMPACTION_PROMPT_TEMPLATE"))), "{kinds:?}");
        assert!(kinds.contains(&("int_parsing", json!("CONTEXT_COMPACTION_TOKEN_CAP"))), "{kinds:?}");
        assert!(kinds.contains(&("string_type", json!("TOOL_SEARCH_ALWAYS_LOADED"))), "{kinds:?}");
    }

    #[test]
    fn unsaved_keys_read_as_the_defaults() {
        let c = ChatConfig::of(&Settings::default());
        assert_eq!(c.CONTEXT_COMPACTION_TOKEN_CAP, Some(80_000));
        assert_eq!(c.CONTEXT_COMPACTION_RETENTION_PERCENTAGE, Some(40));
        assert_eq!(c.CONTEXT_COMPACTION_MODEL.as_deref(), Some(""));
        assert!(c.TOOL_SEARCH_DEFER_BUILTIN_TOOLS && !c.ENABLE_CONTEXT_COMPACTION);
    }
}
