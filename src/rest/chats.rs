//! `/api/v1/chats`: routes of the reference's chats router.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::chats_more::MaybeJson;
use super::extract::{Body, Form, FormReader, Params};
use crate::app::AppState;
use crate::auth::{Admin, Caller, Verified};
use crate::error::AppResult;
use crate::service::chats::{
    self as svc, ChatInput, ChatPage, ChatTitleView, ChatView, CloneForm, ImportForm, ImportInput,
    ListParams, MessageForm, PagedParams, ShareForm, SharedItemView, TagFilterForm, TagForm, TagView,
};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/chats";
    let r = |path: &str| format!("{P}{path}");
    Router::new()
        .route(P, get(list).delete(delete_all))
        .route(&r("/"), get(list).delete(delete_all))
        .route(&r("/list"), get(list))
        .route(&r("/new"), post(create))
        .route(&r("/import"), post(import))
        .route(&r("/search"), get(search))
        .route(&r("/pinned"), get(pinned))
        .route(&r("/all"), get(export))
        .route(&r("/all/archived"), get(all_archived))
        .route(&r("/all/tags"), get(user_tags))
        .route(&r("/all/db"), get(all_db))
        .route(&r("/archived"), get(archived))
        .route(&r("/archived/count"), get(archived_count))
        .route(&r("/archive/all"), post(archive_all))
        .route(&r("/unarchive/all"), post(unarchive_all))
        .route(&r("/share/all"), delete(unshare_all))
        .route(&r("/share/{share_id}"), get(get_share))
        .route(&r("/shared"), get(shared_list))
        .route(&r("/tags"), post(chats_by_tag))
        .route(&r("/list/user/{user_id}"), get(list_for_user))
        .route(&r("/{id}"), get(get_chat).post(update).delete(delete_chat))
        .route(&r("/{id}/pinned"), get(is_pinned))
        .route(&r("/{id}/pin"), post(pin))
        .route(&r("/{id}/archive"), post(archive))
        .route(&r("/{id}/share"), post(share).delete(unshare))
        .route(&r("/{id}/clone"), post(clone))
        .route(&r("/{id}/clone/shared"), post(clone_shared))
        .route(&r("/{id}/tags"), get(chat_tags).post(add_tag).delete(remove_tag))
        .route(&r("/{id}/messages/{message_id}"), post(update_message).delete(delete_message))
}

/// A page of a chat list: its JSON, made once per cached page.
fn titles(page: ChatPage) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], page.json()).into_response()
}

impl Form for ChatInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        ChatInput {
            chat: r.object("chat"),
            variables: r.opt_object("variables"),
            folder_id: r.opt_string("folder_id"),
        }
    }
}

impl Form for ImportForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        let items = r.array("chats");
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Value::Object(map) = item else {
                r.not_an_object("chats", i, item.clone());
                continue;
            };
            let mut n = FormReader::nested(map, vec![json!("chats"), json!(i)]);
            let input = ImportInput {
                chat: ChatInput::read(&mut n),
                meta: n.opt_object("meta"),
                pinned: n.opt_bool("pinned").unwrap_or(false),
                archived: n.opt_bool("archived").unwrap_or(false),
                created_at: n.opt_int("created_at"),
                updated_at: n.opt_int("updated_at"),
            };
            r.absorb(n);
            out.push(input);
        }
        ImportForm { chats: out }
    }
}

impl Form for TagForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        TagForm { name: r.string("name") }
    }
}

impl Form for TagFilterForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        TagFilterForm { name: r.string("name"), skip: r.opt_int("skip"), limit: r.opt_int("limit") }
    }
}

impl Form for CloneForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        CloneForm { title: r.opt_string("title") }
    }
}

impl Form for MessageForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        MessageForm { content: r.opt_string("content") }
    }
}

fn list_params(params: &Params) -> AppResult<ListParams> {
    Ok(ListParams {
        page: params.int("page")?,
        include_pinned: params.bool("include_pinned")?.unwrap_or(false),
        include_folders: params.bool("include_folders")?.unwrap_or(false),
        sort_by: params.string("sort_by")?,
        sort_dir: params.string("sort_dir")?,
    })
}

fn paged_params(params: &Params) -> AppResult<PagedParams> {
    Ok(PagedParams {
        page: params.int("page")?,
        query: params.string("query")?,
        order_by: params.string("order_by")?,
        direction: params.string("direction")?,
    })
}

#[utoipa::path(get, path = "/api/v1/chats", tag = "chats", summary = "The caller's chats (titles), newest first", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("include_pinned" = Option<bool>, Query, description = "Include pinned chats"), ("include_folders" = Option<bool>, Query, description = "Include chats in folders"), ("sort_by" = Option<String>, Query, description = "updated_at, created_at or title"), ("sort_dir" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn list(State(s): State<AppState>, Verified(caller): Verified, params: Params) -> AppResult<Response> {
    Ok(titles(svc::list(&s, &caller, list_params(&params)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats", tag = "chats", summary = "Delete every chat of the caller", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete_all(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/new", tag = "chats", summary = "Create a chat", request_body = ChatInput, responses((status = 200, description = "OK", body = ChatView)))]
async fn create(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<ChatInput>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::create(&s, &caller, body.0).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/import", tag = "chats", summary = "Import chats in one transaction", request_body = ImportForm, responses((status = 200, description = "OK", body = Vec<ChatView>)))]
async fn import(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<ImportForm>,
) -> AppResult<Json<Vec<ChatView>>> {
    Ok(Json(svc::import(&s, &caller, body.0.chats).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/search", tag = "chats", summary = "Search the caller's chats", params(("text" = Option<String>, Query, description = "Words and tag:/pinned:/archived:/shared: filters"), ("page" = Option<i64>, Query, description = "1-based page; every item without it")), responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn search(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Response> {
    let text = params.required_text("text")?;
    let found = svc::search(&s, &caller, &text, params.int("page")?).await?;
    Ok(Json(found.views()).into_response())
}

#[utoipa::path(get, path = "/api/v1/chats/pinned", tag = "chats", summary = "Pinned chats", responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn pinned(State(s): State<AppState>, caller: Caller) -> AppResult<Response> {
    Ok(titles(svc::pinned(&s, &caller).await?))
}

/// NDJSON: one chat per line, newest first.
#[utoipa::path(get, path = "/api/v1/chats/all", tag = "chats", summary = "Every chat of the caller, one JSON document per line", responses((status = 200, description = "OK", body = String, content_type = "application/x-ndjson")))]
async fn export(State(s): State<AppState>, caller: Caller) -> AppResult<Response> {
    let rows = svc::export(&s, &caller).await?;
    let mut body = String::new();
    for row in &rows {
        body.push_str(&serde_json::to_string(row).unwrap_or_default());
        body.push('\n');
    }
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/chats/all/archived", tag = "chats", summary = "Every archived chat", responses((status = 200, description = "OK", body = Vec<ChatView>)))]
async fn all_archived(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<ChatView>>> {
    Ok(Json(svc::all_archived(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/all/tags", tag = "chats", summary = "The caller's tags", responses((status = 200, description = "OK", body = Vec<TagView>)))]
async fn user_tags(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<TagView>>> {
    Ok(Json(svc::user_tags(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/all/db", tag = "chats", summary = "Every chat of every user (admin)", responses((status = 200, description = "OK", body = Vec<ChatView>)))]
async fn all_db(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<ChatView>>> {
    Ok(Json(svc::all_db(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/archived", tag = "chats", summary = "Archived chats (titles)", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn archived(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Response> {
    Ok(titles(svc::archived(&s, &caller, paged_params(&params)?).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/archived/count", tag = "chats", summary = "How many chats are archived", responses((status = 200, description = "OK", body = i64, content_type = "application/json")))]
async fn archived_count(State(s): State<AppState>, caller: Caller) -> AppResult<Json<i64>> {
    Ok(Json(svc::archived_count(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/archive/all", tag = "chats", summary = "Archive every chat", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn archive_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::set_archived_all(&s, &caller, true).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/unarchive/all", tag = "chats", summary = "Unarchive every chat", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn unarchive_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::set_archived_all(&s, &caller, false).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/share/all", tag = "chats", summary = "Delete every share of the caller", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn unshare_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::unshare_all(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/share/{share_id}", tag = "chats", summary = "A shared snapshot", params(("share_id" = String, Path, description = "The share id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn get_share(
    State(s): State<AppState>,
    caller: Caller,
    Path(share_id): Path<String>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::get_share(&s, &caller, &share_id).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/shared", tag = "chats", summary = "The caller's shares", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<SharedItemView>)))]
async fn shared_list(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<SharedItemView>>> {
    Ok(Json(svc::shared_list(&s, &caller, paged_params(&params)?).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/tags", tag = "chats", summary = "Chats with a tag (titles)", request_body = TagFilterForm, responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn chats_by_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<TagFilterForm>,
) -> AppResult<Response> {
    let form = body.0;
    let (skip, limit) = (form.skip.unwrap_or(0), form.limit.unwrap_or(50));
    Ok(titles(svc::chats_by_tag(&s, &caller, &form.name, skip, limit).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/list/user/{user_id}", tag = "chats", summary = "Another user's chats (admin)", params(("user_id" = String, Path, description = "The user id"), ("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<ChatTitleView>)))]
async fn list_for_user(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(user_id): Path<String>,
    params: Params,
) -> AppResult<Response> {
    Ok(titles(svc::list_for_user(&s, &caller, &user_id, paged_params(&params)?).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = "chats", summary = "One chat", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn get_chat(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Response> {
    let chat = svc::open(&s, &caller, &id).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], chat.json()).into_response())
}

#[utoipa::path(post, path = "/api/v1/chats/{id}", tag = "chats", summary = "Merge a chat document into a chat", params(("id" = String, Path, description = "The chat id")), request_body = ChatInput, responses((status = 200, description = "OK", body = ChatView)))]
async fn update(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<ChatInput>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::update(&s, &caller, &id, body.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}", tag = "chats", summary = "Delete a chat", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_chat(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/pinned", tag = "chats", summary = "Whether a chat is pinned", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn is_pinned(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::is_pinned(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/pin", tag = "chats", summary = "Toggle a chat's pin", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn pin(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::toggle_pin(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/archive", tag = "chats", summary = "Toggle a chat's archive state", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn archive(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::toggle_archive(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/share", tag = "chats", summary = "Share a snapshot of a chat (or refresh it), optionally in `continue` mode", params(("id" = String, Path, description = "The chat id")), request_body(content = Option<ShareForm>, description = "Optional"), responses((status = 200, description = "OK", body = ChatView)))]
async fn share(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: MaybeJson,
) -> AppResult<Json<ChatView>> {
    let form = body.or_default(ShareForm::from_json)?;
    Ok(Json(svc::share_with_mode(&s, &caller, &id, form.share_mode).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/share", tag = "chats", summary = "Delete a chat's share", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn unshare(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<bool>> {
    Ok(Json(svc::unshare(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/clone", tag = "chats", summary = "Copy a chat", params(("id" = String, Path, description = "The chat id")), request_body = CloneForm, responses((status = 200, description = "OK", body = ChatView)))]
async fn clone(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<CloneForm>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::clone(&s, &caller, &id, body.0.title).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/clone/shared", tag = "chats", summary = "Copy a shared chat", params(("id" = String, Path, description = "The share id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn clone_shared(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::clone_shared(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "A chat's tags", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = Vec<TagView>)))]
async fn chat_tags(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<TagView>>> {
    Ok(Json(svc::chat_tags(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "Tag a chat", params(("id" = String, Path, description = "The chat id")), request_body = TagForm, responses((status = 200, description = "OK", body = Vec<TagView>)))]
async fn add_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<TagForm>,
) -> AppResult<Json<Vec<TagView>>> {
    Ok(Json(svc::add_tag(&s, &caller, &id, &body.0.name).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "Untag a chat", params(("id" = String, Path, description = "The chat id")), request_body = TagForm, responses((status = 200, description = "OK", body = Vec<TagView>)))]
async fn remove_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<TagForm>,
) -> AppResult<Json<Vec<TagView>>> {
    Ok(Json(svc::remove_tag(&s, &caller, &id, &body.0.name).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages/{message_id}", tag = "chats", summary = "Edit one message", params(("id" = String, Path, description = "The chat id"), ("message_id" = String, Path, description = "The message id")), request_body = MessageForm, responses((status = 200, description = "OK", body = ChatView)))]
async fn update_message(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path((id, message_id)): Path<(String, String)>,
    body: Body<MessageForm>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::update_message(&s, &caller, &id, &message_id, body.0.content).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/messages/{message_id}", tag = "chats", summary = "Delete one message", params(("id" = String, Path, description = "The chat id"), ("message_id" = String, Path, description = "The message id")), responses((status = 200, description = "OK", body = ChatView)))]
async fn delete_message(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<Json<ChatView>> {
    Ok(Json(svc::delete_message(&s, &caller, &id, &message_id).await?))
}
