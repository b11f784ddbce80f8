//! The caller's UI settings (`/users/user/settings` and its update, GraphQL `User.settings` and
//! `updateSettings`) and the built-in default permission tree.

use serde_json::{Map, Value};

use super::view::{UserView, settings_answer};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Source};
use crate::service::permissions::{self, PermissionTree};
use crate::service::policy;
use crate::store;

/// Config key of the admin's default interface settings.
const DEFAULT_INTERFACE_KEY: &str = "ui.default_interface_settings";

/// The fields of the reference's `InterfaceSettings`: the Interface panel's own settings, which
/// a caller without `settings.interface` may not change.
const INTERFACE_FIELDS: &[&str] = &[
    "autoTags",
    "autoFollowUps",
    "highContrastMode",
    "detectArtifacts",
    "responseAutoCopy",
    "showUsername",
    "showUpdateToast",
    "showChangelog",
    "showEmojiInCall",
    "voiceInterruption",
    "displayMultiModelResponsesInTabs",
    "chatFadeStreamingText",
    "richTextInput",
    "showFormattingToolbar",
    "insertPromptAsRichText",
    "promptAutocomplete",
    "insertSuggestionPrompt",
    "keepFollowUpPrompts",
    "insertFollowUpPrompt",
    "regenerateMenu",
    "enableMessageQueue",
    "largeTextAsFile",
    "copyFormatted",
    "collapseCodeBlocks",
    "renderMarkdownInUserMessages",
    "renderMarkdownInAssistantMessages",
    "expandDetails",
    "chatHoverPreview",
    "renderMarkdownInPreviews",
    "chatBubble",
    "widescreenMode",
    "splitLargeChunks",
    "scrollOnBranchChange",
    "scrollOnResponseGeneration",
    "showFilesOnTerminalSelect",
    "temporaryChatByDefault",
    "userLocation",
    "showChatTitleInTab",
    "iframeSandboxAllowScripts",
    "iframeSandboxAllowSameOrigin",
    "iframeSandboxAllowForms",
    "iframeSandboxAllowDownloads",
    "terminalPreviewAllowSameOrigin",
    "stylizedPdfExport",
    "hapticFeedback",
    "ctrlEnterToSend",
    "showFloatingActionButtons",
    "imageCompression",
    "imageCompressionInChannels",
    "landingPageMode",
    "chatDirection",
    "terminalFileDisplay",
    "defaultUploadContext",
    "webSearch",
    "models",
    "backgroundImageUrl",
    "fontFamily",
    "textScale",
    "title",
    "imageCompressionSize",
    "floatingActionButtons",
];

/// `GET /users/default/permissions/defaults` (admin): the tree before any admin change (the
/// built-in defaults with the `USER_PERMISSIONS_*` variables applied).
pub fn default_permissions_defaults(app: &App, caller: &Caller) -> AppResult<PermissionTree> {
    caller.require_admin()?;
    Ok(app.config.seeds.permissions.clone())
}

/// `GET /users/user/settings` (verified): the caller's settings; unless `raw`, with the admin's
/// default interface settings under the caller's own `ui` values.
pub async fn own(app: &App, caller: &Caller, raw: bool) -> AppResult<Option<Value>> {
    let p = caller.require_verified()?;
    let stored = p.user.settings.as_ref().map(|s| s.0.clone());
    with_defaults(app, stored, raw).await
}

/// `User.settings` of a user the caller was shown (`view`): their own settings (as `own`), or
/// — for an admin — any user's; 401 `ACCESS_PROHIBITED` for anyone else's.
pub async fn of_user(app: &App, caller: &Caller, view: &UserView, raw: bool) -> AppResult<Option<Value>> {
    let p = caller.require_verified()?;
    if p.id() != view.id && !p.role.is_admin() {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    with_defaults(app, view.settings.clone(), raw).await
}

async fn with_defaults(app: &App, stored: Option<Value>, raw: bool) -> AppResult<Option<Value>> {
    if raw {
        return Ok(settings_answer(stored));
    }
    let config = Settings::load(&app.db).await?;
    let defaults = match config.get(DEFAULT_INTERFACE_KEY) {
        Some(Value::Object(d)) if !d.is_empty() => d.clone(),
        _ => return Ok(settings_answer(stored)),
    };
    let mut settings = match stored {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let ui = match settings.remove("ui") {
        Some(Value::Object(ui)) => ui,
        _ => Map::new(),
    };
    settings.insert("ui".into(), Value::Object(merge_ui(defaults, ui)));
    Ok(settings_answer(Some(Value::Object(settings))))
}

/// `own` over `defaults`: `null` values keep the default; objects merge key by key.
fn merge_ui(defaults: Map<String, Value>, own: Map<String, Value>) -> Map<String, Value> {
    let mut merged = defaults;
    for (key, value) in own {
        if value.is_null() {
            continue;
        }
        let value = match (merged.remove(&key), value) {
            (Some(Value::Object(d)), Value::Object(v)) => Value::Object(merge_ui(d, v)),
            (_, v) => v,
        };
        merged.insert(key, value);
    }
    merged
}

/// `POST /users/user/settings/update` (verified): merges `form` into the stored settings and
/// answers them. Top-level keys replace stored ones; `ui` is patched key by key (`null` removes
/// a key). A caller without the permission loses what it guards from the form: the Interface
/// fields (`settings.interface`), `ui.system` (`chat.controls` and `chat.system_prompt`),
/// `ui.toolServers` (`features.direct_tool_servers`), `notifications` and
/// `ui.notifications.webhook_url` (`features.webhooks`). The read and the write are one
/// transaction with the row locked, so concurrent updates do not lose each other's keys.
pub async fn update(app: &App, caller: &Caller, mut form: Map<String, Value>) -> AppResult<Value> {
    let p = caller.require_verified()?;
    match form.get("ui") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(other) => return Err(Fields::error(Source::Body, |f| f.dict_type("ui", other))),
    }
    strip_unpermitted(app, p, &mut form).await?;

    let mut tx = app.db.begin().await?;
    let user = store::users::get_for_update(&mut tx, p.id())
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    let mut settings = match user.settings.map(|s| s.0) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let ui_patch = form.remove("ui");
    settings.extend(form);
    if let Some(Value::Object(patch)) = ui_patch {
        let mut ui = match settings.remove("ui") {
            Some(Value::Object(ui)) => ui,
            _ => Map::new(),
        };
        for (key, value) in patch {
            if value.is_null() {
                ui.remove(&key);
            } else {
                ui.insert(key, value);
            }
        }
        settings.insert("ui".into(), Value::Object(ui));
    }
    let written = store::users::set_settings(&mut tx, p.id(), &Value::Object(settings))
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    tx.commit().await?;
    Ok(settings_answer(written.settings.map(|s| s.0)).unwrap_or_else(|| Value::Object(Map::new())))
}

/// Drops from `form` what the caller's permissions do not allow them to set (admins keep all).
async fn strip_unpermitted(app: &App, p: &Principal, form: &mut Map<String, Value>) -> AppResult<()> {
    if p.role.is_admin() {
        return Ok(());
    }
    let tree = permissions::of(&app.db, p).await?;
    let holds = |path: &str| policy::holds(&p.role, &tree, path);
    if let Some(Value::Object(ui)) = form.get_mut("ui") {
        if !holds("settings.interface") {
            for key in INTERFACE_FIELDS {
                ui.remove(*key);
            }
        }
        if ui.contains_key("system") && !(holds("chat.controls") && holds("chat.system_prompt")) {
            ui.remove("system");
        }
        if ui.contains_key("toolServers") && !holds("features.direct_tool_servers") {
            ui.remove("toolServers");
        }
    }
    let webhook_in_ui = matches!(
        form.get("ui").and_then(|ui| ui.get("notifications")),
        Some(Value::Object(n)) if n.contains_key("webhook_url")
    );
    if (form.contains_key("notifications") || webhook_in_ui) && !holds("features.webhooks") {
        form.remove("notifications");
        if let Some(Value::Object(n)) = form.get_mut("ui").and_then(|ui| ui.get_mut("notifications")) {
            n.remove("webhook_url");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn own_ui_values_win_over_defaults_and_objects_merge_key_by_key() {
        let defaults = map(json!({"theme": "light", "title": {"auto": true, "x": 1}, "keep": 1}));
        let own = map(json!({"theme": "dark", "title": {"auto": false}, "keep": null, "extra": 2}));
        assert_eq!(
            Value::Object(merge_ui(defaults, own)),
            json!({"theme": "dark", "title": {"auto": false, "x": 1}, "keep": 1, "extra": 2})
        );
    }

    #[test]
    fn answers_always_carry_ui_first() {
        assert_eq!(settings_answer(Some(json!({"a": 1}))), Some(json!({"ui": {}, "a": 1})));
        assert_eq!(settings_answer(Some(json!({"a": 1, "ui": null}))), Some(json!({"ui": null, "a": 1})));
        assert_eq!(settings_answer(None), None);
        assert_eq!(settings_answer(Some(json!([1]))), None);
    }
}
