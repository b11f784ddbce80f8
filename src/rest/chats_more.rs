//! `/api/v1/chats`: the share access, params, fork, message event, compaction, admin config and
//! stats routes of the reference's chats router (the fixed paths win over `/chats/{id}`).

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::extract::{Params, read_json};
use crate::app::AppState;
use crate::auth::{Admin, Verified};
use crate::error::{AppError, AppResult};
use crate::service::chats::{
    self as svc, ChatConfig, ChatStatsPage, ChatStatsView, ChatUsagePage, ChatView, CompactForm, CompactView,
    EventForm, ForkForm, ShareAccessForm, ShareGrantView,
};
use crate::service::form::{Fields, Loc, Source};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/chats";
    let r = |path: &str| format!("{P}{path}");
    Router::new()
        .route(&r("/config"), get(get_config).post(set_config))
        .route(&r("/stats/usage"), get(usage))
        .route(&r("/stats/export"), get(export_stats))
        .route(&r("/stats/export/{chat_id}"), get(export_chat_stats))
        .route(&r("/shared/{id}/access"), get(share_access))
        .route(&r("/shared/{id}/access/update"), post(update_share_access))
        .route(&r("/{id}/params"), patch(update_params))
        .route(&r("/{id}/fork"), post(fork))
        .route(&r("/{id}/compact"), post(compact))
        .route(&r("/{id}/messages/{message_id}/event"), post(message_event))
}

/// A JSON body that may be absent (`None`); a body that is there is parsed and checked for NUL.
pub struct MaybeJson(pub Option<Value>);

impl FromRequest<AppState> for MaybeJson {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        match read_json(req, state.config.request_body_limit).await {
            Ok(Value::Null) => Ok(MaybeJson(None)),
            Ok(v) => {
                crate::service::validate::check_no_nul(Source::Body, &v)?;
                Ok(MaybeJson(Some(v)))
            }
            Err(e) if e.field_errors().first().is_some_and(|f| f.kind == "missing" && f.loc.len() == 1) => {
                Ok(MaybeJson(None))
            }
            Err(e) => Err(e),
        }
    }
}

impl MaybeJson {
    /// The body, or 422 `missing` at `["body"]` when there is none.
    pub(super) fn required(self) -> AppResult<Value> {
        self.0.ok_or_else(|| Fields::error(Source::Body, |f| f.missing(Loc::root(), &Value::Null)))
    }

    /// `read` of the body, or `T::default()` without one.
    pub(super) fn or_default<T: Default>(self, read: impl FnOnce(&Value) -> AppResult<T>) -> AppResult<T> {
        self.0.as_ref().map_or_else(|| Ok(T::default()), read)
    }
}

#[utoipa::path(get, path = "/api/v1/chats/shared/{id}/access", tag = "chats", summary = "Who may open a chat's share (its grants)", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = Vec<ShareGrantView>)))]
pub async fn share_access(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<ShareGrantView>>> {
    Ok(Json(svc::share_access(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/shared/{id}/access/update", tag = "chats", summary = "Replace who may open a chat's share, and its mode", params(("id" = String, Path, description = "The chat id")), request_body = ShareAccessForm, responses((status = 200, description = "OK", body = ChatView)))]
pub async fn update_share_access(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: MaybeJson,
) -> AppResult<Json<ChatView>> {
    let form = ShareAccessForm::from_json(&body.required()?)?;
    Ok(Json(svc::update_share_access(&s, &caller, &id, form).await?))
}

#[utoipa::path(patch, path = "/api/v1/chats/{id}/params", tag = "chats", summary = "Merge parameters into a chat's `chat.params`", params(("id" = String, Path, description = "The chat id")), request_body(content = Object, description = "Parameters to set"), responses((status = 200, description = "The merged params", body = Object)))]
pub async fn update_params(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: MaybeJson,
) -> AppResult<Json<Map<String, Value>>> {
    let params = svc::params_form(&body.required()?)?;
    Ok(Json(svc::update_params(&s, &caller, &id, params).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/fork", tag = "chats", summary = "Fork a chat (or a share) at a message", params(("id" = String, Path, description = "A chat id or a share id")), request_body(content = Option<ForkForm>, description = "Optional"), responses((status = 200, description = "OK", body = ChatView)))]
pub async fn fork(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: MaybeJson,
) -> AppResult<Json<ChatView>> {
    let form = body.or_default(ForkForm::from_json)?;
    Ok(Json(svc::fork(&s, &caller, &id, form.message_id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/compact", tag = "chats", summary = "Compact a chat's context (answered where no model is needed)", params(("id" = String, Path, description = "The chat id")), request_body(content = Option<CompactForm>, description = "Optional"), responses((status = 200, description = "OK", body = CompactView)))]
pub async fn compact(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: MaybeJson,
) -> AppResult<Json<CompactView>> {
    let form = body.or_default(CompactForm::from_json)?;
    Ok(Json(svc::compact(&s, &caller, &id, form).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages/{message_id}/event", tag = "chats", summary = "An event for a message's listeners (what it carries is stored in the message)", params(("id" = String, Path, description = "The chat id"), ("message_id" = String, Path, description = "The message id")), request_body = EventForm, responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
pub async fn message_event(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path((id, message_id)): Path<(String, String)>,
    body: MaybeJson,
) -> AppResult<Json<bool>> {
    let form = EventForm::from_json(&body.required()?)?;
    Ok(Json(svc::message_event(&s, &caller, &id, &message_id, form).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/config", tag = "chats", summary = "The chat settings: context compaction and tool search (admin)", responses((status = 200, description = "OK", body = ChatConfig)))]
pub async fn get_config(State(s): State<AppState>, Admin(caller): Admin) -> AppResult<Json<ChatConfig>> {
    Ok(Json(svc::chat_config(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/config", tag = "chats", summary = "Save the chat settings (admin)", request_body = ChatConfig, responses((status = 200, description = "OK", body = ChatConfig)))]
pub async fn set_config(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: MaybeJson,
) -> AppResult<Json<ChatConfig>> {
    let form = ChatConfig::from_json(&body.required()?)?;
    Ok(Json(svc::set_chat_config(&s, &caller, form).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/stats/usage", tag = "chats", summary = "Usage stats of the caller's chats, newest first", params(("items_per_page" = Option<i64>, Query, description = "Chats per page (default 50)"), ("page" = Option<i64>, Query, description = "1-based page (default 1)")), responses((status = 200, description = "OK", body = ChatUsagePage)))]
pub async fn usage(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<ChatUsagePage>> {
    let (per_page, page) = (params.int("items_per_page")?, params.int("page")?);
    Ok(Json(svc::usage(&s, &caller, per_page, page).await?))
}

/// With `stream=true` the answer is NDJSON, one `ChatStatsExport` per line, as a download.
#[utoipa::path(get, path = "/api/v1/chats/stats/export", tag = "chats", summary = "Stats export of the caller's chats, oldest update first (10 per page, or every chat as NDJSON)", params(("updated_at" = Option<i64>, Query, description = "Only chats updated after this time"), ("page" = Option<i64>, Query, description = "1-based page (default 1)"), ("stream" = Option<bool>, Query, description = "Every chat as NDJSON")), responses((status = 200, description = "A page as JSON, or with `stream=true` one `ChatStatsExport` object per line", content((ChatStatsPage = "application/json"), (String = "application/x-ndjson")))))]
pub async fn export_stats(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Response> {
    let updated_at = params.int("updated_at")?;
    let page = params.int("page")?;
    if !params.bool("stream")?.unwrap_or(false) {
        return Ok(Json(svc::export_stats(&s, &caller, updated_at, page).await?).into_response());
    }
    let chats = svc::export_stats_all(&s, &caller, updated_at).await?;
    let mut body = String::new();
    for chat in &chats {
        body.push_str(&serde_json::to_string(chat).unwrap_or_default());
        body.push('\n');
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    let user = caller.principal().map(|p| p.id().to_string()).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=chat-stats-export-{user}.jsonl")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/chats/stats/export/{chat_id}", tag = "chats", summary = "Stats export of one chat", params(("chat_id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = ChatStatsView)))]
pub async fn export_chat_stats(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(chat_id): Path<String>,
) -> AppResult<Json<ChatStatsView>> {
    Ok(Json(svc::export_chat_stats(&s, &caller, &chat_id).await?))
}
