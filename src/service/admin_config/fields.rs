//! The keys of the admin configuration form: each field's name, where it is stored and how it is
//! validated and written.

use serde_json::{Value, json};

use crate::config::SettingSeeds;

/// How a field of the admin-config form is validated and written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
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

pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) key: &'static str,
    pub(super) kind: Kind,
    /// The value the key starts with.
    pub(super) seed: fn(&SettingSeeds) -> Value,
}

pub(super) const ROLES: &[&str] = &["pending", "user", "admin"];

pub(super) const FIELDS: &[Field] = &[
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
