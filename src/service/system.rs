//! Service routes: health, version and the public/app configuration (`GET /api/config`).

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::{Role, caller};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::service::permissions;
use crate::store::{self, users::User};

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
pub async fn app_config(app: &App, credential: Option<&str>) -> AppResult<Value> {
    let user = config_caller(app, credential).await?;
    let settings = Settings::load(&app.db).await?;
    let mut out = Map::new();
    if user.is_none() && !store::users::has_users(&app.db).await? {
        out.insert("onboarding".into(), json!(true));
    }
    out.insert("status".into(), json!(true));
    out.insert("name".into(), json!(app.config.webui_name));
    out.insert("version".into(), json!(API_VERSION));
    out.insert("default_locale".into(), json!(""));
    out.insert(
        "i18n".into(),
        settings.get("ui.i18n").cloned().filter(Value::is_object).unwrap_or_else(|| json!({})),
    );
    out.insert("oauth".into(), json!({"providers": {}, "auto_redirect": false}));
    let mut features = json!({
        "slim": false,
        "auth": true,
        "auth_trusted_header": false,
        "enable_signup_password_confirmation": false,
        "enable_ldap": false,
        "enable_signup": settings.enable_signup(),
        "enable_login_form": settings.enable_login_form(),
        "enable_websocket": false,
    });
    if let Some(user) = &user {
        let f = features.as_object_mut().ok_or_else(|| AppError::internal("features is an object"))?;
        f.insert("enable_api_keys".into(), json!(settings.enable_api_keys()));
        f.insert("enable_password_change_form".into(), json!(true));
        for (name, key, default) in [
            ("enable_folders", "folders.enable", true),
            ("enable_channels", "channels.enable", false),
            ("enable_notes", "notes.enable", true),
            ("enable_calendar", "calendar.enable", true),
            ("enable_automations", "automations.enable", true),
            ("enable_memories", "memories.enable", true),
            ("enable_community_sharing", "ui.enable_community_sharing", true),
            ("enable_message_rating", "ui.enable_message_rating", true),
            ("enable_user_webhooks", "ui.enable_user_webhooks", false),
            ("enable_user_status", "users.enable_status", true),
        ] {
            f.insert(name.into(), json!(settings.flag(key, default)));
        }
        f.insert("enable_admin_export".into(), json!(true));
        f.insert("enable_admin_chat_access".into(), json!(true));
        let role = Role::from_stored(&user.role);
        if role.is_verified() {
            out.insert("default_models".into(), json!(""));
            out.insert("default_pinned_models".into(), json!(""));
            out.insert("permissions".into(), permissions::of_user(&app.db, &user.id).await?.to_value());
            out.insert(
                "ui".into(),
                json!({
                    "pending_user_overlay_title": settings.text("ui.pending_user_overlay_title"),
                    "pending_user_overlay_content": settings.text("ui.pending_user_overlay_content"),
                    "response_watermark": settings.text("ui.watermark"),
                }),
            );
        } else {
            out.insert(
                "ui".into(),
                json!({
                    "pending_user_overlay_title": settings.text("ui.pending_user_overlay_title"),
                    "pending_user_overlay_content": settings.text("ui.pending_user_overlay_content"),
                }),
            );
        }
    }
    out.insert("features".into(), features);
    Ok(Value::Object(out))
}
