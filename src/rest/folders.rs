//! `/api/v1/folders` (the reference's folders router), and the folder routes of its chats router:
//! `POST /api/v1/chats/{id}/folder`, `GET /api/v1/chats/folder/{folder_id}` (+ `/list`),
//! `POST /api/v1/chats/read` and `POST /api/v1/chats/{id}/unread` (the fixed paths win over
//! `/api/v1/chats/{id}`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Body, Params};
use crate::app::AppState;
use crate::auth::Verified;
use crate::error::AppResult;
use crate::service::chats::read::{self as read_svc, ChatUnreadView, ChatsReadView};
use crate::service::chats::{ChatTitleView, ChatView};
use crate::service::folders::{
    self as svc, ChatFolderIdForm, FolderAccessGrantsForm, FolderAccessView, FolderChatParams,
    FolderDetailView, FolderForm, FolderIsExpandedForm, FolderNameIdView, FolderParentIdForm, FolderReadView,
    FolderUpdateForm, FolderView, SharedFolderChatsView, SharedFolderView,
};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/folders";
    let r = |path: &str| format!("{P}{path}");
    Router::new()
        .route(P, get(list_bare).post(create_bare))
        .route(&r("/"), get(list).post(create))
        .route(&r("/shared"), get(shared))
        .route(&r("/{id}"), get(get_folder).delete(delete_folder))
        .route(&r("/{id}/update"), post(update))
        .route(&r("/{id}/update/parent"), post(update_parent))
        .route(&r("/{id}/update/expanded"), post(update_expanded))
        .route(&r("/{id}/access/update"), post(update_access))
        .route(&r("/{id}/shared/chats"), get(shared_chats))
        .route(&r("/{id}/read"), post(mark_folder_read))
        .route("/api/v1/chats/read", post(mark_chats_read))
        .route("/api/v1/chats/folder/{folder_id}", get(folder_chats))
        .route("/api/v1/chats/folder/{folder_id}/list", get(folder_chat_list))
        .route("/api/v1/chats/{id}/folder", post(move_chat))
        .route("/api/v1/chats/{id}/unread", post(mark_chat_unread))
}

fn chat_params(params: &Params) -> AppResult<FolderChatParams> {
    Ok(FolderChatParams {
        page: params.int("page")?,
        sort_by: params.string("sort_by")?,
        sort_dir: params.string("sort_dir")?,
    })
}

#[utoipa::path(get, path = "/api/v1/folders/", tag = "folders", summary = "The caller's folders (a tree by parent_id) with unread counts", responses((status = 200, description = "OK", body = Vec<FolderNameIdView>)))]
async fn list(
    State(s): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<Json<Vec<FolderNameIdView>>> {
    Ok(Json(svc::list(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/folders", tag = "folders", summary = "The caller's folders (the same list without the trailing slash)", responses((status = 200, description = "OK", body = Vec<FolderNameIdView>)))]
async fn list_bare(
    State(s): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<Json<Vec<FolderNameIdView>>> {
    Ok(Json(svc::list(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/", tag = "folders", summary = "Create a folder", request_body = FolderForm, responses((status = 200, description = "OK", body = FolderView)))]
async fn create(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<FolderView>> {
    Ok(Json(svc::create(&s, &caller, FolderForm::from_json(&body.0)?).await?))
}

#[utoipa::path(post, path = "/api/v1/folders", tag = "folders", summary = "Create a folder (the same route without the trailing slash)", request_body = FolderForm, responses((status = 200, description = "OK", body = FolderView)))]
async fn create_bare(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<FolderView>> {
    Ok(Json(svc::create(&s, &caller, FolderForm::from_json(&body.0)?).await?))
}

#[utoipa::path(get, path = "/api/v1/folders/shared", tag = "folders", summary = "Folders shared with or by the caller, and the folders below them", responses((status = 200, description = "OK", body = Vec<SharedFolderView>)))]
async fn shared(
    State(s): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<Json<Vec<SharedFolderView>>> {
    Ok(Json(svc::shared(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/folders/{id}", tag = "folders", summary = "One folder with its grants", params(("id" = String, Path, description = "The folder id")), responses((status = 200, description = "OK", body = FolderDetailView)))]
async fn get_folder(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<FolderDetailView>> {
    Ok(Json(svc::get(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/{id}/update", tag = "folders", summary = "Rename a folder, merge its meta and data", params(("id" = String, Path, description = "The folder id")), request_body = FolderUpdateForm, responses((status = 200, description = "OK", body = FolderView)))]
async fn update(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<FolderView>> {
    Ok(Json(svc::update(&s, &caller, &id, FolderUpdateForm::from_json(&body.0)?).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/{id}/update/parent", tag = "folders", summary = "Move a folder under another (or to the root)", params(("id" = String, Path, description = "The folder id")), request_body = FolderParentIdForm, responses((status = 200, description = "OK", body = FolderView)))]
async fn update_parent(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<FolderView>> {
    let form = FolderParentIdForm::from_json(&body.0)?;
    Ok(Json(svc::move_to(&s, &caller, &id, form.parent_id).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/{id}/update/expanded", tag = "folders", summary = "Set whether a folder shows expanded", params(("id" = String, Path, description = "The folder id")), request_body = FolderIsExpandedForm, responses((status = 200, description = "OK", body = FolderView)))]
async fn update_expanded(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<FolderView>> {
    let form = FolderIsExpandedForm::from_json(&body.0)?;
    Ok(Json(svc::set_expanded(&s, &caller, &id, form.is_expanded).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/{id}/access/update", tag = "folders", summary = "Replace who a folder is shared with", params(("id" = String, Path, description = "The folder id")), request_body = FolderAccessGrantsForm, responses((status = 200, description = "OK", body = FolderAccessView)))]
async fn update_access(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<FolderAccessView>> {
    let form = FolderAccessGrantsForm::from_json(&body.0)?;
    Ok(Json(svc::update_access(&s, &caller, &id, form).await?))
}

#[utoipa::path(get, path = "/api/v1/folders/{id}/shared/chats", tag = "folders", summary = "A shared folder's chats, whoever owns them", params(("id" = String, Path, description = "The folder id"), ("page" = Option<i64>, Query, description = "1-based page of 10 (total and has_more with it); the first 60 without"), ("sort_by" = Option<String>, Query, description = "unread_updated_at (default), updated_at or title"), ("sort_dir" = Option<String>, Query, description = "asc or desc (default)")), responses((status = 200, description = "OK", body = SharedFolderChatsView)))]
async fn shared_chats(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    params: Params,
) -> AppResult<Json<SharedFolderChatsView>> {
    Ok(Json(svc::shared_chats(&s, &caller, &id, chat_params(&params)?).await?))
}

#[utoipa::path(post, path = "/api/v1/folders/{id}/read", tag = "folders", summary = "Mark the caller's chats in a folder read", params(("id" = String, Path, description = "The folder id")), responses((status = 200, description = "OK", body = FolderReadView)))]
async fn mark_folder_read(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<FolderReadView>> {
    Ok(Json(svc::mark_read(&s, &caller, &id).await?))
}

#[utoipa::path(delete, path = "/api/v1/folders/{id}", tag = "folders", summary = "Delete a folder and the folders below it", params(("id" = String, Path, description = "The folder id"), ("delete_contents" = Option<bool>, Query, description = "Delete the owner's chats in them (default true); otherwise they move to the root")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_folder(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    params: Params,
) -> AppResult<Json<bool>> {
    let delete_contents = params.bool("delete_contents")?.unwrap_or(true);
    Ok(Json(svc::delete(&s, &caller, &id, delete_contents).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/read", tag = "chats", summary = "Mark every chat of the caller read", responses((status = 200, description = "OK", body = ChatsReadView)))]
async fn mark_chats_read(
    State(s): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<Json<ChatsReadView>> {
    Ok(Json(read_svc::mark_all_read(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/unread", tag = "chats", summary = "Mark a chat unread", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = ChatUnreadView)))]
async fn mark_chat_unread(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<ChatUnreadView>> {
    Ok(Json(read_svc::mark_unread(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/folder/{folder_id}", tag = "chats", summary = "The caller's chats in a folder and the folders below it", params(("folder_id" = String, Path, description = "The folder id")), responses((status = 200, description = "OK", body = Vec<ChatView>)))]
async fn folder_chats(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(folder_id): Path<String>,
) -> AppResult<Json<Vec<ChatView>>> {
    Ok(Json(svc::folder_chats(&s, &caller, &folder_id).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/folder/{folder_id}/list", tag = "chats", summary = "The caller's chats in a folder (titles), 10 per page", params(("folder_id" = String, Path, description = "The folder id"), ("page" = Option<i64>, Query, description = "1-based page (default 1)"), ("sort_by" = Option<String>, Query, description = "unread_updated_at (default), updated_at or title"), ("sort_dir" = Option<String>, Query, description = "asc or desc (default)")), responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn folder_chat_list(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(folder_id): Path<String>,
    params: Params,
) -> AppResult<Response> {
    let list = svc::folder_chat_list(&s, &caller, &folder_id, chat_params(&params)?).await?;
    Ok(Json(list.views()).into_response())
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/folder", tag = "chats", summary = "Move a chat into a folder (or out with null)", params(("id" = String, Path, description = "The chat id")), request_body = ChatFolderIdForm, responses((status = 200, description = "OK", body = ChatView)))]
async fn move_chat(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<ChatView>> {
    let form = ChatFolderIdForm::from_json(&body.0)?;
    Ok(Json(svc::move_chat(&s, &caller, &id, form.folder_id).await?))
}
