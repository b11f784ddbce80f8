//! Service routes: health, version and the configuration the web app starts from
//! (`GET /api/config`, shapes in `config_view`).

use serde_json::{Value, json};

use crate::app::App;
use crate::auth::{Role, caller};
use crate::error::{AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::store::{self, users::User};

mod config_view;

pub use config_view::{
    AppConfigView, AudioConfig, CodeConfig, FeaturesView, FileConfig, GoogleDriveConfig, ImageCompression,
    MemberConfig, MemberUi, OauthView, OneDriveConfig, PendingUi, RealtimeConfig, SignedInFeatures,
    SttConfig, TtsConfig,
};

/// The Open WebUI API version duet is compatible with.
pub const API_VERSION: &str = "0.12.4";

pub async fn health_db(app: &App) -> AppResult<()> {
    app.db.ping().await
}

/// The user behind a session token for `/api/config`: API keys are not read there, an
/// undecodable or stale token is anonymous, a token of a deleted account is 401.
async fn config_caller(app: &App, credential: Option<&str>) -> AppResult<Option<User>> {
    let Some(token) = credential else {
        return Ok(None);
    };
    if token.starts_with("sk-") {
        return Ok(None);
    }
    match caller::resolve_token(&app.db, &app.keys, app.redis.as_deref(), token.to_string()).await {
        Ok(p) => Ok(Some(p.user)),
        Err(e) if e.code == ErrorCode::InvalidAuthRequest || e.is_unavailable() => Err(e),
        Err(_) => Ok(None),
    }
}

/// `GET /api/config`, for the request's raw credential (header or cookie) if it has one.
pub async fn app_config(app: &App, credential: Option<&str>) -> AppResult<AppConfigView> {
    let user = config_caller(app, credential).await?;
    let settings = Settings::load(&app.db).await?;
    let onboarding = (user.is_none() && !store::users::has_users(&app.db).await?).then_some(true);
    let role = user.as_ref().map(|u| Role::from_stored(&u.role));
    let verified = role.as_ref().is_some_and(Role::is_verified);
    let pending_ui = || PendingUi {
        pending_user_overlay_title: settings.text("ui.pending_user_overlay_title").to_string(),
        pending_user_overlay_content: settings.text("ui.pending_user_overlay_content").to_string(),
    };
    Ok(AppConfigView {
        onboarding,
        status: true,
        name: app.config.webui_name.clone(),
        version: API_VERSION.to_string(),
        default_locale: String::new(),
        i18n: object_or_empty(settings.get("ui.i18n")),
        oauth: OauthView::default(),
        features: FeaturesView {
            slim: false,
            auth: true,
            auth_trusted_header: false,
            enable_signup_password_confirmation: false,
            enable_ldap: false,
            enable_signup: settings.enable_signup(),
            enable_login_form: settings.enable_login_form(),
            enable_websocket: false,
            signed_in: user.is_some().then(|| signed_in_features(app, &settings)),
        },
        member: verified.then(|| member_config(&settings)),
        ui: (user.is_some() && !verified).then(pending_ui),
    })
}

/// A stored JSON object, or `{}`.
fn object_or_empty(v: Option<&Value>) -> Value {
    v.filter(|v| v.is_object()).cloned().unwrap_or_else(|| json!({}))
}

/// A stored non-empty text, or `None`.
fn stored_text(settings: &Settings, key: &str) -> Option<String> {
    settings.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The flags of a signed-in caller: on for what duet serves (API keys, password change, folders,
/// user status, admin export and chat access as configured; usage for everyone), off for the
/// rest — duet has no tools, functions, plugins or tool/terminal servers, channels, apps,
/// calendar, automations, notes, memories, web search, code execution, image generation, task
/// generation (titles, tags, follow-ups, autocomplete), message rating, user webhooks,
/// analytics, cloud drives, LDAP, direct connections or version checks.
fn signed_in_features(app: &App, settings: &Settings) -> SignedInFeatures {
    SignedInFeatures {
        enable_api_keys: settings.enable_api_keys(),
        enable_password_change_form: settings.flag("ui.enable_password_change_form", true),
        enable_version_update_check: false,
        enable_pyodide_file_persistence: false,
        enable_public_active_users_count: true,
        enable_easter_eggs: true,
        enable_direct_connections: false,
        enable_direct_integrations: false,
        enable_plugins: false,
        enable_tools: false,
        enable_functions: false,
        enable_tool_servers: false,
        enable_terminal_servers: false,
        enable_folders: settings.flag("folders.enable", true),
        folder_max_file_count: settings.get("folders.max_file_count").cloned().unwrap_or(Value::Null),
        enable_channels: false,
        enable_encrypted_channels: false,
        enable_apps: false,
        enable_calendar: false,
        enable_automations: false,
        enable_notes: false,
        enable_context_compaction: false,
        enable_tool_permissions: false,
        enable_web_search: false,
        enable_web_search_confirmation: false,
        web_search_confirmation_content: String::new(),
        enable_code_execution: false,
        enable_code_interpreter: false,
        enable_image_generation: false,
        enable_autocomplete_generation: false,
        enable_title_generation: false,
        enable_follow_up_generation: false,
        enable_tags_generation: false,
        // Sharing to the community site is the browser's own request to openwebui.com.
        enable_community_sharing: settings.flag("ui.enable_community_sharing", false),
        enable_message_rating: false,
        enable_user_webhooks: false,
        enable_user_status: settings.flag("users.enable_status", true),
        enable_admin_export: app.config.enable_admin_export,
        enable_admin_chat_access: app.config.enable_admin_chat_access,
        enable_admin_analytics: false,
        enable_google_drive_integration: false,
        enable_onedrive_integration: false,
        enable_memories: false,
        enable_subagents: false,
    }
}

/// What a verified caller's web app reads besides the flags: stored defaults where the admin set
/// them, the browser's own speech engines, no upload limits, the default permission tree.
fn member_config(settings: &Settings) -> MemberConfig {
    MemberConfig {
        default_models: stored_text(settings, "ui.default_models"),
        default_pinned_models: stored_text(settings, "ui.default_pinned_models"),
        default_prompt_suggestions: settings.get("ui.prompt_suggestions").filter(|v| v.is_array()).cloned(),
        default_prompt_suggestions_i18n: object_or_empty(settings.get("ui.prompt_suggestions_i18n")),
        code: CodeConfig { engine: "pyodide".into(), interpreter_engine: "pyodide".into() },
        audio: AudioConfig {
            realtime: RealtimeConfig { enabled: false, model: String::new(), voice: String::new() },
            tts: TtsConfig { engine: String::new(), voice: String::new(), split_on: "punctuation".into() },
            stt: SttConfig { engine: "web".into() },
        },
        file: FileConfig {
            max_size: None,
            max_count: None,
            image_compression: ImageCompression { width: None, height: None },
        },
        permissions: settings.permissions().to_value(),
        google_drive: GoogleDriveConfig::default(),
        onedrive: OneDriveConfig::default(),
        ui: MemberUi {
            default_interface_settings: object_or_empty(settings.get("ui.default_interface_settings")),
            visibility: object_or_empty(settings.get("ui.visibility")),
            pending_user_overlay_title: settings.text("ui.pending_user_overlay_title").to_string(),
            pending_user_overlay_content: settings.text("ui.pending_user_overlay_content").to_string(),
            response_watermark: settings.text("ui.watermark").to_string(),
            iframe_csp: String::new(),
        },
        license_metadata: None,
    }
}
