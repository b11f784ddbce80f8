//! The permission tree (`workspace.models`, `chat.delete`, `features.api_keys`, …): built-in
//! defaults, `USER_PERMISSIONS_*` environment overrides, the stored default tree, and a user's
//! own tree — the defaults merged with the permissions of every group they belong to
//! (`of_user`, the one place a caller's permissions are read from).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::ConfigError;
use crate::error::AppResult;
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Loc, Source};
use crate::store::{self, Db};

/// `(section, key, environment variable, built-in default)` for every permission, in the
/// reference's order.
pub const DEFAULTS: &[(&str, &str, &str, bool)] = &[
    ("workspace", "models", "USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", false),
    ("workspace", "knowledge", "USER_PERMISSIONS_WORKSPACE_KNOWLEDGE_ACCESS", false),
    ("workspace", "prompts", "USER_PERMISSIONS_WORKSPACE_PROMPTS_ACCESS", false),
    ("workspace", "tools", "USER_PERMISSIONS_WORKSPACE_TOOLS_ACCESS", false),
    ("workspace", "skills", "USER_PERMISSIONS_WORKSPACE_SKILLS_ACCESS", false),
    ("workspace", "models_import", "USER_PERMISSIONS_WORKSPACE_MODELS_IMPORT", false),
    ("workspace", "models_export", "USER_PERMISSIONS_WORKSPACE_MODELS_EXPORT", false),
    ("workspace", "models_hidden", "USER_PERMISSIONS_WORKSPACE_MODELS_HIDDEN", false),
    ("workspace", "prompts_import", "USER_PERMISSIONS_WORKSPACE_PROMPTS_IMPORT", false),
    ("workspace", "prompts_export", "USER_PERMISSIONS_WORKSPACE_PROMPTS_EXPORT", false),
    ("workspace", "tools_import", "USER_PERMISSIONS_WORKSPACE_TOOLS_IMPORT", false),
    ("workspace", "tools_export", "USER_PERMISSIONS_WORKSPACE_TOOLS_EXPORT", false),
    ("workspace", "skills_import", "USER_PERMISSIONS_WORKSPACE_SKILLS_IMPORT", false),
    ("workspace", "skills_export", "USER_PERMISSIONS_WORKSPACE_SKILLS_EXPORT", false),
    ("sharing", "models", "USER_PERMISSIONS_WORKSPACE_MODELS_ALLOW_SHARING", false),
    ("sharing", "public_models", "USER_PERMISSIONS_WORKSPACE_MODELS_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "knowledge", "USER_PERMISSIONS_WORKSPACE_KNOWLEDGE_ALLOW_SHARING", false),
    ("sharing", "public_knowledge", "USER_PERMISSIONS_WORKSPACE_KNOWLEDGE_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "prompts", "USER_PERMISSIONS_WORKSPACE_PROMPTS_ALLOW_SHARING", false),
    ("sharing", "public_prompts", "USER_PERMISSIONS_WORKSPACE_PROMPTS_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "tools", "USER_PERMISSIONS_WORKSPACE_TOOLS_ALLOW_SHARING", false),
    ("sharing", "public_tools", "USER_PERMISSIONS_WORKSPACE_TOOLS_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "skills", "USER_PERMISSIONS_WORKSPACE_SKILLS_ALLOW_SHARING", false),
    ("sharing", "public_skills", "USER_PERMISSIONS_WORKSPACE_SKILLS_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "notes", "USER_PERMISSIONS_NOTES_ALLOW_SHARING", false),
    ("sharing", "public_notes", "USER_PERMISSIONS_NOTES_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "folders", "USER_PERMISSIONS_FOLDERS_ALLOW_SHARING", false),
    ("sharing", "public_chats", "USER_PERMISSIONS_CHAT_ALLOW_PUBLIC_SHARING", false),
    ("sharing", "open_chats", "USER_PERMISSIONS_CHAT_ALLOW_OPEN_SHARING", false),
    ("sharing", "public_calendars", "USER_PERMISSIONS_CALENDAR_ALLOW_PUBLIC_SHARING", false),
    ("access_grants", "allow_users", "USER_PERMISSIONS_ACCESS_GRANTS_ALLOW_USERS", true),
    ("access_grants", "allow_groups", "USER_PERMISSIONS_ACCESS_GRANTS_ALLOW_GROUPS", true),
    ("chat", "controls", "USER_PERMISSIONS_CHAT_CONTROLS", true),
    ("chat", "valves", "USER_PERMISSIONS_CHAT_VALVES", true),
    ("chat", "system_prompt", "USER_PERMISSIONS_CHAT_SYSTEM_PROMPT", true),
    ("chat", "params", "USER_PERMISSIONS_CHAT_PARAMS", true),
    ("chat", "file_upload", "USER_PERMISSIONS_CHAT_FILE_UPLOAD", true),
    ("chat", "web_upload", "USER_PERMISSIONS_CHAT_WEB_UPLOAD", true),
    ("chat", "delete", "USER_PERMISSIONS_CHAT_DELETE", true),
    ("chat", "delete_message", "USER_PERMISSIONS_CHAT_DELETE_MESSAGE", true),
    ("chat", "continue_response", "USER_PERMISSIONS_CHAT_CONTINUE_RESPONSE", true),
    ("chat", "regenerate_response", "USER_PERMISSIONS_CHAT_REGENERATE_RESPONSE", true),
    ("chat", "rate_response", "USER_PERMISSIONS_CHAT_RATE_RESPONSE", true),
    ("chat", "edit", "USER_PERMISSIONS_CHAT_EDIT", true),
    ("chat", "share", "USER_PERMISSIONS_CHAT_SHARE", true),
    ("chat", "export", "USER_PERMISSIONS_CHAT_EXPORT", true),
    ("chat", "import", "USER_PERMISSIONS_CHAT_IMPORT", true),
    ("chat", "stt", "USER_PERMISSIONS_CHAT_STT", true),
    ("chat", "tts", "USER_PERMISSIONS_CHAT_TTS", true),
    ("chat", "call", "USER_PERMISSIONS_CHAT_CALL", true),
    ("chat", "multiple_models", "USER_PERMISSIONS_CHAT_MULTIPLE_MODELS", true),
    ("chat", "temporary", "USER_PERMISSIONS_CHAT_TEMPORARY", true),
    ("chat", "temporary_enforced", "USER_PERMISSIONS_CHAT_TEMPORARY_ENFORCED", false),
    ("features", "api_keys", "USER_PERMISSIONS_FEATURES_API_KEYS", false),
    ("features", "notes", "USER_PERMISSIONS_FEATURES_NOTES", true),
    ("features", "folders", "USER_PERMISSIONS_FEATURES_FOLDERS", true),
    ("features", "channels", "USER_PERMISSIONS_FEATURES_CHANNELS", true),
    ("features", "encrypted_channels", "USER_PERMISSIONS_FEATURES_ENCRYPTED_CHANNELS", false),
    ("features", "direct_tool_servers", "USER_PERMISSIONS_FEATURES_DIRECT_TOOL_SERVERS", false),
    ("features", "web_search", "USER_PERMISSIONS_FEATURES_WEB_SEARCH", true),
    ("features", "image_generation", "USER_PERMISSIONS_FEATURES_IMAGE_GENERATION", true),
    ("features", "code_interpreter", "USER_PERMISSIONS_FEATURES_CODE_INTERPRETER", true),
    ("features", "memories", "USER_PERMISSIONS_FEATURES_MEMORIES", true),
    ("features", "automations", "USER_PERMISSIONS_FEATURES_AUTOMATIONS", false),
    ("features", "calendar", "USER_PERMISSIONS_FEATURES_CALENDAR", true),
    ("features", "webhooks", "USER_PERMISSIONS_FEATURES_USER_WEBHOOKS", false),
    ("settings", "interface", "USER_PERMISSIONS_SETTINGS_INTERFACE", true),
];

/// A whole permission tree: `{section: {key: bool}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionTree(pub Map<String, Value>);

impl PermissionTree {
    /// The built-in defaults.
    pub fn builtin() -> Self {
        let mut root = Map::new();
        for (section, key, _, default) in DEFAULTS {
            section_mut(&mut root, section).insert((*key).to_string(), Value::Bool(*default));
        }
        PermissionTree(root)
    }

    /// The built-in defaults overridden by `USER_PERMISSIONS_*` variables.
    pub fn from_env(read: &dyn Fn(&str, bool) -> Result<bool, ConfigError>) -> Result<Self, ConfigError> {
        let mut root = Map::new();
        for (section, key, var, default) in DEFAULTS {
            let value = read(var, *default)?;
            section_mut(&mut root, section).insert((*key).to_string(), Value::Bool(value));
        }
        Ok(PermissionTree(root))
    }

    /// A stored tree with every missing section or key filled from `defaults`.
    pub fn filled(stored: Option<&Value>, defaults: &PermissionTree) -> Self {
        let mut out = defaults.0.clone();
        if let Some(Value::Object(stored)) = stored {
            for (section, keys) in stored {
                let Value::Object(keys) = keys else { continue };
                let target = section_mut(&mut out, section);
                for (key, value) in keys {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        PermissionTree(out)
    }

    /// Whether `path` (`"section.key"`) is granted: its value is truthy, as Python's `bool()`
    /// reads it (group trees are stored as sent, so a value may be other than a boolean).
    pub fn allows(&self, path: &str) -> bool {
        let Some((section, key)) = path.split_once('.') else {
            return false;
        };
        self.0.get(section).and_then(|s| s.get(key)).is_some_and(truthy)
    }

    /// Merges a group's tree into this one, the most permissive value winning: a key this tree
    /// lacks is taken, a falsy value gives way to the group's, objects merge key by key (the
    /// reference's `combine_permissions`). Anything but an object merges nothing.
    pub fn combine(&mut self, group: &Value) {
        if let Value::Object(group) = group {
            combine_into(&mut self.0, group);
        }
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// Validates a posted tree as the reference's `UserPermissions` form: every section is
    /// required and must be an object; keys missing inside a section take the built-in default;
    /// unknown keys are dropped; values must be booleans.
    pub fn from_form(body: &Value) -> AppResult<Self> {
        let body = Fields::object_form(Source::Body, body)?;
        let mut fields = Fields::body();
        let mut out = Map::new();
        let mut seen_sections: Vec<&str> = Vec::new();
        for (section, key, _, default) in DEFAULTS {
            if !seen_sections.contains(section) {
                seen_sections.push(section);
                match body.get(*section) {
                    None => fields.missing_in(*section, body),
                    Some(Value::Object(_)) => {}
                    Some(other) => fields.model_type_unnamed(*section, other),
                }
            }
            let given = body.get(*section).and_then(Value::as_object).and_then(|s| s.get(*key));
            let value = match given {
                None => *default,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    fields.bool_type(Loc::from(*section).at(*key), other);
                    *default
                }
            };
            section_mut(&mut out, section).insert((*key).to_string(), Value::Bool(value));
        }
        fields.finish()?;
        Ok(PermissionTree(out))
    }
}

fn combine_into(target: &mut Map<String, Value>, group: &Map<String, Value>) {
    for (key, value) in group {
        match value {
            Value::Object(inner) => {
                let entry = target.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(entry) = entry {
                    combine_into(entry, inner);
                }
            }
            _ => match target.get_mut(key) {
                Some(existing) if truthy(existing) => {}
                Some(existing) => *existing = value.clone(),
                None => {
                    target.insert(key.clone(), value.clone());
                }
            },
        }
    }
}

/// Python's truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The permission tree of a resolved caller: the default tree itself, without a statement, for
/// a user in no group (their session row says so); `of_user` otherwise.
pub async fn of(db: &Db, p: &crate::auth::Principal) -> AppResult<Arc<PermissionTree>> {
    if p.grouped { of_user(db, p.id()).await } else { Ok(Settings::load(db).await?.permissions()) }
}

/// The permission tree of user `user_id`: the stored default tree (built-in defaults filled in)
/// merged with the `permissions` of every group the user belongs to, directly or through a
/// subgroup — the tree every permission check of a user reads. Without groups it is the default
/// tree itself (no copy).
pub async fn of_user(db: &Db, user_id: &str) -> AppResult<Arc<PermissionTree>> {
    let defaults = Settings::load(db).await?.permissions();
    let groups = store::groups::permissions_of_member(db, user_id).await?;
    if groups.is_empty() {
        return Ok(defaults);
    }
    let mut tree = PermissionTree::clone(&defaults);
    for group in &groups {
        tree.combine(group);
    }
    Ok(Arc::new(tree))
}

fn section_mut<'a>(root: &'a mut Map<String, Value>, section: &str) -> &'a mut Map<String, Value> {
    let entry = root.entry(section.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(map) => map,
        _ => unreachable!("replaced by an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_tree_matches_the_reference_defaults() {
        let tree = PermissionTree::builtin();
        assert!(!tree.allows("workspace.models"));
        assert!(tree.allows("chat.delete"));
        assert!(tree.allows("chat.import"));
        assert!(!tree.allows("features.api_keys"));
        assert!(tree.allows("settings.interface"));
        assert_eq!(tree.0.len(), 6);
        assert_eq!(DEFAULTS.len(), 67);
    }

    #[test]
    fn stored_values_override_and_missing_keys_fill() {
        let tree = PermissionTree::filled(
            Some(&json!({"workspace": {"models": true}, "chat": "junk"})),
            &PermissionTree::builtin(),
        );
        assert!(tree.allows("workspace.models"));
        assert!(tree.allows("chat.delete"));
    }

    #[test]
    fn group_trees_merge_with_the_most_permissive_value_winning() {
        let mut tree = PermissionTree::builtin();
        tree.combine(&json!({"sharing": {"models": true}, "chat": {"delete": false}, "extra": {"x": 1}}));
        assert!(tree.allows("sharing.models"));
        // A group cannot take away what the defaults give.
        assert!(tree.allows("chat.delete"));
        assert!(tree.allows("extra.x"));
        assert!(!tree.allows("sharing.public_models"));
        // Falsy values give way, truthy ones stay; non-objects merge nothing.
        let mut t = PermissionTree(json!({"a": {"k": 0, "t": "yes"}}).as_object().cloned().expect("object"));
        t.combine(&json!({"a": {"k": "on", "t": false}}));
        t.combine(&json!(true));
        assert_eq!(t.to_value(), json!({"a": {"k": "on", "t": "yes"}}));
        assert!(!t.allows("a"));
    }

    #[test]
    fn form_requires_sections_and_booleans() {
        let err = PermissionTree::from_form(&json!({"workspace": {}})).expect_err("errors");
        let errs = err.field_errors();
        assert_eq!(errs.len(), 5);
        assert_eq!(errs[0].loc, vec![json!("body"), json!("sharing")]);
        let full = json!({"workspace": {"models": true}, "sharing": {}, "access_grants": {},
            "chat": {"delete": false, "bogus": true}, "features": {}, "settings": {}});
        let tree = PermissionTree::from_form(&full).expect("valid");
        assert!(tree.allows("workspace.models"));
        assert!(!tree.allows("chat.delete"));
        assert!(!tree.allows("chat.bogus"));
        let bad = json!({"workspace": {"models": "yes"}, "sharing": {}, "access_grants": {},
            "chat": {}, "features": {}, "settings": {}});
        let err = PermissionTree::from_form(&bad).expect_err("errors");
        assert_eq!(err.field_errors()[0].kind, "bool_type");
    }
}
