//! `GET /api/config` as callers are shown it: the public part every visitor gets, the feature
//! flags a signed-in caller gets on top, and what the web app reads once a user is verified
//! (audio, code, files, permissions, interface). Keys keep the reference's order.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The whole answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AppConfig)]
pub struct AppConfigView {
    /// `true` while there is no account (the web app then offers to create the admin); absent
    /// afterwards and for signed-in callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onboarding: Option<bool>,
    pub status: bool,
    pub name: String,
    pub version: String,
    pub default_locale: String,
    /// Stored interface translations (`ui.i18n`).
    #[schema(value_type = Object)]
    pub i18n: Value,
    pub oauth: OauthView,
    pub features: FeaturesView,
    /// Users and admins only.
    #[serde(flatten)]
    pub member: Option<MemberConfig>,
    /// Pending users only: the text of the waiting screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui: Option<PendingUi>,
}

/// Sign-in providers: duet has none.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OauthView {
    pub providers: BTreeMap<String, String>,
    pub auto_redirect: bool,
}

/// What the server offers. A flag is `true` only for what duet serves.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AppConfigFeatures)]
pub struct FeaturesView {
    pub slim: bool,
    pub auth: bool,
    pub auth_trusted_header: bool,
    pub enable_signup_password_confirmation: bool,
    pub enable_ldap: bool,
    pub enable_signup: bool,
    pub enable_login_form: bool,
    /// socket.io (`/ws/socket.io`).
    pub enable_websocket: bool,
    /// Signed-in callers only.
    #[serde(flatten)]
    pub signed_in: Option<SignedInFeatures>,
}

/// The flags a signed-in caller sees. Those of features duet does not serve are `false`
/// whatever the stored configuration says, so the web app neither offers them nor calls their
/// routes. (Fields are `required = false` in the document: the struct is flattened into answers
/// that may lack it.)
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignedInFeatures {
    #[schema(required = false)]
    pub enable_api_keys: bool,
    #[schema(required = false)]
    pub enable_password_change_form: bool,
    #[schema(required = false)]
    pub enable_version_update_check: bool,
    #[schema(required = false)]
    pub enable_pyodide_file_persistence: bool,
    /// `GET /api/usage` answers every verified user.
    #[schema(required = false)]
    pub enable_public_active_users_count: bool,
    #[schema(required = false)]
    pub enable_easter_eggs: bool,
    #[schema(required = false)]
    pub enable_direct_connections: bool,
    #[schema(required = false)]
    pub enable_direct_integrations: bool,
    #[schema(required = false)]
    pub enable_plugins: bool,
    #[schema(required = false)]
    pub enable_tools: bool,
    #[schema(required = false)]
    pub enable_functions: bool,
    #[schema(required = false)]
    pub enable_tool_servers: bool,
    #[schema(required = false)]
    pub enable_terminal_servers: bool,
    #[schema(required = false)]
    pub enable_folders: bool,
    /// The stored `folders.max_file_count` (a count, `""` or `null`: no limit).
    #[schema(value_type = Value, required = false)]
    pub folder_max_file_count: Value,
    #[schema(required = false)]
    pub enable_channels: bool,
    #[schema(required = false)]
    pub enable_encrypted_channels: bool,
    #[schema(required = false)]
    pub enable_apps: bool,
    #[schema(required = false)]
    pub enable_calendar: bool,
    #[schema(required = false)]
    pub enable_automations: bool,
    #[schema(required = false)]
    pub enable_notes: bool,
    #[schema(required = false)]
    pub enable_context_compaction: bool,
    #[schema(required = false)]
    pub enable_tool_permissions: bool,
    #[schema(required = false)]
    pub enable_web_search: bool,
    #[schema(required = false)]
    pub enable_web_search_confirmation: bool,
    #[schema(required = false)]
    pub web_search_confirmation_content: String,
    #[schema(required = false)]
    pub enable_code_execution: bool,
    #[schema(required = false)]
    pub enable_code_interpreter: bool,
    #[schema(required = false)]
    pub enable_image_generation: bool,
    #[schema(required = false)]
    pub enable_autocomplete_generation: bool,
    #[schema(required = false)]
    pub enable_title_generation: bool,
    #[schema(required = false)]
    pub enable_follow_up_generation: bool,
    #[schema(required = false)]
    pub enable_tags_generation: bool,
    #[schema(required = false)]
    pub enable_community_sharing: bool,
    #[schema(required = false)]
    pub enable_message_rating: bool,
    #[schema(required = false)]
    pub enable_user_webhooks: bool,
    #[schema(required = false)]
    pub enable_user_status: bool,
    #[schema(required = false)]
    pub enable_admin_export: bool,
    #[schema(required = false)]
    pub enable_admin_chat_access: bool,
    #[schema(required = false)]
    pub enable_admin_analytics: bool,
    #[schema(required = false)]
    pub enable_google_drive_integration: bool,
    #[schema(required = false)]
    pub enable_onedrive_integration: bool,
    #[schema(required = false)]
    pub enable_memories: bool,
    #[schema(required = false)]
    pub enable_subagents: bool,
}

/// What a verified caller's web app reads besides the flags (`required = false`: see
/// `SignedInFeatures`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberConfig {
    /// Comma-separated model ids (`ui.default_models`); `null` when unset.
    #[schema(required = false)]
    pub default_models: Option<String>,
    #[schema(required = false)]
    pub default_pinned_models: Option<String>,
    /// `ui.prompt_suggestions`; `null` lets the web app show its own localized suggestions.
    #[schema(value_type = Option<Vec<Object>>, required = false)]
    pub default_prompt_suggestions: Option<Value>,
    #[schema(value_type = Object, required = false)]
    pub default_prompt_suggestions_i18n: Value,
    #[schema(required = false)]
    pub code: CodeConfig,
    #[schema(required = false)]
    pub audio: AudioConfig,
    #[schema(required = false)]
    pub file: FileConfig,
    /// The default permission tree (`user.permissions`).
    #[schema(value_type = Object, required = false)]
    pub permissions: Value,
    #[schema(required = false)]
    pub google_drive: GoogleDriveConfig,
    #[schema(required = false)]
    pub onedrive: OneDriveConfig,
    #[schema(required = false)]
    pub ui: MemberUi,
    #[schema(value_type = Option<Object>, required = false)]
    pub license_metadata: Option<Value>,
}

/// Code execution engines (execution itself is off: `enable_code_execution`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeConfig {
    pub engine: String,
    pub interpreter_engine: String,
}

/// Speech: `tts.engine` `""` and `stt.engine` `"web"` are the browser's own speech synthesis and
/// recognition, which need nothing from the server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AudioConfig {
    pub realtime: RealtimeConfig,
    pub tts: TtsConfig,
    pub stt: SttConfig,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RealtimeConfig {
    pub enabled: bool,
    pub model: String,
    pub voice: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TtsConfig {
    pub engine: String,
    pub voice: String,
    pub split_on: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SttConfig {
    pub engine: String,
}

/// Upload limits (`null`: none).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileConfig {
    pub max_size: Option<i64>,
    pub max_count: Option<i64>,
    pub image_compression: ImageCompression,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageCompression {
    pub width: Option<i64>,
    pub height: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct GoogleDriveConfig {
    pub client_id: String,
    pub api_key: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OneDriveConfig {
    pub client_id_personal: String,
    pub client_id_business: String,
    pub sharepoint_url: String,
    pub sharepoint_tenant_id: String,
}

/// Interface settings of a verified caller (the document requires only what a pending caller's
/// `ui` has too: both are the same key).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberUi {
    /// `ui.default_interface_settings`.
    #[schema(value_type = Object, required = false)]
    pub default_interface_settings: Value,
    /// `ui.visibility`.
    #[schema(value_type = Object, required = false)]
    pub visibility: Value,
    pub pending_user_overlay_title: String,
    pub pending_user_overlay_content: String,
    #[schema(required = false)]
    pub response_watermark: String,
    #[schema(required = false)]
    pub iframe_csp: String,
}

/// Interface settings of a pending caller.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingUi {
    pub pending_user_overlay_title: String,
    pub pending_user_overlay_content: String,
}
