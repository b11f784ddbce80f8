//! `/api/v1/chats`: routes of the reference's chats router.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{Body, Form, FormReader, Params};
use crate::app::AppState;
use crate::auth::{Admin, Caller, Verified};
use crate::error::AppResult;
use crate::service::chats::{self as svc, ChatInput, ImportInput, ListParams, PagedParams};
use crate::store::chats::{ChatRow, SharedRow, TagRow, TitlePage, TitleRow};

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

/// `ChatResponse`.
pub fn chat_response(row: &ChatRow) -> Value {
    json!({
        "id": row.id,
        "user_id": row.user_id,
        "title": row.title,
        "chat": row.chat.0,
        "updated_at": row.updated_at,
        "created_at": row.created_at,
        "share_id": row.share_id,
        "archived": row.archived,
        "pinned": row.pinned,
        "meta": row.meta.0,
        "variables": row.variables.as_ref().map(|v| v.0.clone()).filter(Value::is_object).unwrap_or_else(|| json!({})),
        "folder_id": row.folder_id,
        "tasks": null,
        "summary": null,
        "current_message_id": row.current_message_id,
        "context_usage": null,
    })
}

/// `ChatTitleIdResponse`.
pub fn title_response(row: &TitleRow, snippet: Option<String>) -> Value {
    json!({
        "id": row.id,
        "title": row.title,
        "updated_at": row.updated_at,
        "created_at": row.created_at,
        "last_read_at": row.last_read_at,
        "snippet": snippet,
        "active": false,
        "archived": row.archived,
    })
}

pub fn tag_json(t: &TagRow) -> Value {
    json!({"id": t.id, "name": t.name, "user_id": t.user_id, "meta": t.meta.as_ref().map(|m| m.0.clone())})
}

pub fn shared_response(s: &SharedRow) -> Value {
    json!({
        "id": s.id,
        "user_id": s.user_id,
        "title": s.title,
        "chat": s.chat.0,
        "updated_at": s.updated_at,
        "created_at": s.created_at,
        "share_id": s.id,
        "archived": false,
        "pinned": false,
        "meta": {},
        "variables": {},
        "folder_id": null,
        "tasks": null,
        "summary": null,
        "current_message_id": null,
        "context_usage": null,
    })
}

/// `{id (chat id), chat_id, title, share_id, updated_at, created_at}` of `GET /chats/shared`.
pub fn shared_item(s: &SharedRow) -> Value {
    json!({"id": s.chat_id, "chat_id": s.chat_id, "title": s.title, "share_id": s.id,
           "updated_at": s.updated_at, "created_at": s.created_at})
}

fn chats(rows: Vec<ChatRow>) -> Json<Vec<Value>> {
    Json(rows.iter().map(chat_response).collect())
}

/// A chat list entry (`title_response` without a snippet), serialised without building a `Value`.
#[derive(serde::Serialize)]
struct TitleBody<'a> {
    id: &'a str,
    title: &'a str,
    updated_at: i64,
    created_at: i64,
    last_read_at: Option<i64>,
    snippet: Option<&'a str>,
    active: bool,
    archived: bool,
}

fn titles(page: std::sync::Arc<TitlePage>) -> Response {
    let json = page.rendered.get_or_init(|| render_titles(&page.rows));
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json.clone()).into_response()
}

fn render_titles(rows: &[TitleRow]) -> bytes::Bytes {
    let body: Vec<TitleBody<'_>> = rows
        .iter()
        .map(|r| TitleBody {
            id: &r.id,
            title: &r.title,
            updated_at: r.updated_at,
            created_at: r.created_at,
            last_read_at: r.last_read_at,
            snippet: None,
            active: false,
            archived: r.archived,
        })
        .collect();
    // Plain structs of strings and numbers: serialising them cannot fail.
    serde_json::to_vec(&body).unwrap_or_default().into()
}

fn tags(rows: Vec<TagRow>) -> Json<Vec<Value>> {
    Json(rows.iter().map(tag_json).collect())
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

struct ImportForm(Vec<ImportInput>);

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
        ImportForm(out)
    }
}

struct TagForm {
    name: String,
    skip: Option<i64>,
    limit: Option<i64>,
}

impl Form for TagForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        TagForm { name: r.string("name"), skip: r.opt_int("skip"), limit: r.opt_int("limit") }
    }
}

struct CloneForm(Option<String>);

impl Form for CloneForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        CloneForm(r.opt_string("title"))
    }
}

struct MessageForm(Option<String>);

impl Form for MessageForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        MessageForm(r.opt_string("content"))
    }
}

fn list_params(params: &Params) -> AppResult<ListParams> {
    Ok(ListParams {
        page: params.int("page")?,
        include_pinned: params.bool("include_pinned")?.unwrap_or(false),
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

#[utoipa::path(get, path = "/api/v1/chats", tag = "chats", summary = "The caller's chats (titles), newest first", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("include_pinned" = Option<bool>, Query, description = "Include pinned chats"), ("sort_by" = Option<String>, Query, description = "updated_at, created_at or title"), ("sort_dir" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
async fn list(State(s): State<AppState>, Verified(caller): Verified, params: Params) -> AppResult<Response> {
    Ok(titles(svc::list(&s, &caller, list_params(&params)?).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats", tag = "chats", summary = "Delete every chat of the caller", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete_all(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/new", tag = "chats", summary = "Create a chat", request_body = super::openapi::ChatRequest, responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn create(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<ChatInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::create(&s, &caller, body.0).await?)))
}

#[utoipa::path(post, path = "/api/v1/chats/import", tag = "chats", summary = "Import chats in one transaction", request_body = super::openapi::ImportChatsRequest, responses((status = 200, description = "OK", body = Vec<super::openapi::ChatBody>)))]
async fn import(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<ImportForm>,
) -> AppResult<Json<Vec<Value>>> {
    Ok(chats(svc::import(&s, &caller, body.0.0).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/search", tag = "chats", summary = "Search the caller's chats", params(("text" = Option<String>, Query, description = "Words and tag:/pinned:/archived:/shared: filters"), ("page" = Option<i64>, Query, description = "1-based page; every item without it")), responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
async fn search(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<Value>>> {
    let text = params.required_text("text")?;
    let found = svc::search(&s, &caller, &text, params.int("page")?).await?;
    Ok(Json(found.into_iter().map(|(row, snippet)| title_response(&row, snippet)).collect()))
}

#[utoipa::path(get, path = "/api/v1/chats/pinned", tag = "chats", summary = "Pinned chats", responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
async fn pinned(State(s): State<AppState>, caller: Caller) -> AppResult<Response> {
    Ok(titles(svc::pinned(&s, &caller).await?))
}

/// NDJSON: one chat per line, newest first.
#[utoipa::path(get, path = "/api/v1/chats/all", tag = "chats", summary = "Every chat of the caller, one JSON document per line", responses((status = 200, description = "OK", body = String, content_type = "application/x-ndjson")))]
async fn export(State(s): State<AppState>, caller: Caller) -> AppResult<Response> {
    let rows = svc::export(&s, &caller).await?;
    let mut body = String::new();
    for row in &rows {
        body.push_str(&chat_response(row).to_string());
        body.push('\n');
    }
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/chats/all/archived", tag = "chats", summary = "Every archived chat", responses((status = 200, description = "OK", body = Vec<super::openapi::ChatBody>)))]
async fn all_archived(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<Value>>> {
    Ok(chats(svc::all_archived(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/all/tags", tag = "chats", summary = "The caller's tags", responses((status = 200, description = "OK", body = Vec<super::openapi::TagBody>)))]
async fn user_tags(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<Value>>> {
    Ok(tags(svc::user_tags(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/all/db", tag = "chats", summary = "Every chat of every user (admin)", responses((status = 200, description = "OK", body = Vec<super::openapi::ChatBody>)))]
async fn all_db(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<Value>>> {
    Ok(chats(svc::all_db(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/archived", tag = "chats", summary = "Archived chats (titles)", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
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

#[utoipa::path(get, path = "/api/v1/chats/share/{share_id}", tag = "chats", summary = "A shared snapshot", params(("share_id" = String, Path, description = "The share id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn get_share(
    State(s): State<AppState>,
    caller: Caller,
    Path(share_id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(shared_response(&svc::get_share(&s, &caller, &share_id).await?)))
}

#[utoipa::path(get, path = "/api/v1/chats/shared", tag = "chats", summary = "The caller's shares", params(("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<super::openapi::SharedItemBody>)))]
async fn shared_list(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<Value>>> {
    Ok(Json(svc::shared_list(&s, &caller, paged_params(&params)?).await?.iter().map(shared_item).collect()))
}

#[utoipa::path(post, path = "/api/v1/chats/tags", tag = "chats", summary = "Chats with a tag (titles)", request_body = super::openapi::TagFilterRequest, responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
async fn chats_by_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<TagForm>,
) -> AppResult<Response> {
    let form = body.0;
    let (skip, limit) = (form.skip.unwrap_or(0), form.limit.unwrap_or(50));
    Ok(titles(svc::chats_by_tag(&s, &caller, &form.name, skip, limit).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/list/user/{user_id}", tag = "chats", summary = "Another user's chats (admin)", params(("user_id" = String, Path, description = "The user id"), ("page" = Option<i64>, Query, description = "1-based page; every item without it"), ("query" = Option<String>, Query, description = "Title filter"), ("order_by" = Option<String>, Query, description = "Sort field"), ("direction" = Option<String>, Query, description = "asc or desc")), responses((status = 200, description = "OK", body = Vec<super::openapi::ChatTitleBody>)))]
async fn list_for_user(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(user_id): Path<String>,
    params: Params,
) -> AppResult<Response> {
    Ok(titles(svc::list_for_user(&s, &caller, &user_id, paged_params(&params)?).await?))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = "chats", summary = "One chat", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn get_chat(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let row = svc::get(&s, &caller, &id).await?;
    let owner = caller.principal().is_some_and(|p| p.user.id == row.user_id);
    let mut out = chat_response(&row);
    // The reference tells a reader whether they may continue the chat (the owner may).
    if let Some(chat) = out.get_mut("chat").and_then(Value::as_object_mut) {
        chat.insert("share_mode".into(), if owner { json!("continue") } else { Value::Null });
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}", tag = "chats", summary = "Merge a chat document into a chat", params(("id" = String, Path, description = "The chat id")), request_body = super::openapi::ChatRequest, responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn update(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<ChatInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::update(&s, &caller, &id, body.0).await?)))
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

#[utoipa::path(post, path = "/api/v1/chats/{id}/pin", tag = "chats", summary = "Toggle a chat's pin", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn pin(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::toggle_pin(&s, &caller, &id).await?)))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/archive", tag = "chats", summary = "Toggle a chat's archive state", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn archive(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::toggle_archive(&s, &caller, &id).await?)))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/share", tag = "chats", summary = "Share a snapshot of a chat", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn share(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::share(&s, &caller, &id).await?)))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/share", tag = "chats", summary = "Delete a chat's share", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn unshare(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> AppResult<Json<bool>> {
    Ok(Json(svc::unshare(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/clone", tag = "chats", summary = "Copy a chat", params(("id" = String, Path, description = "The chat id")), request_body = super::openapi::CloneRequest, responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn clone(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<CloneForm>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::clone(&s, &caller, &id, body.0.0).await?)))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/clone/shared", tag = "chats", summary = "Copy a shared chat", params(("id" = String, Path, description = "The share id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn clone_shared(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::clone_shared(&s, &caller, &id).await?)))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "A chat's tags", params(("id" = String, Path, description = "The chat id")), responses((status = 200, description = "OK", body = Vec<super::openapi::TagBody>)))]
async fn chat_tags(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<Value>>> {
    Ok(tags(svc::chat_tags(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "Tag a chat", params(("id" = String, Path, description = "The chat id")), request_body = super::openapi::TagRequest, responses((status = 200, description = "OK", body = Vec<super::openapi::TagBody>)))]
async fn add_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<TagForm>,
) -> AppResult<Json<Vec<Value>>> {
    Ok(tags(svc::add_tag(&s, &caller, &id, &body.0.name).await?))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/tags", tag = "chats", summary = "Untag a chat", params(("id" = String, Path, description = "The chat id")), request_body = super::openapi::TagRequest, responses((status = 200, description = "OK", body = Vec<super::openapi::TagBody>)))]
async fn remove_tag(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
    body: Body<TagForm>,
) -> AppResult<Json<Vec<Value>>> {
    Ok(tags(svc::remove_tag(&s, &caller, &id, &body.0.name).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages/{message_id}", tag = "chats", summary = "Edit one message", params(("id" = String, Path, description = "The chat id"), ("message_id" = String, Path, description = "The message id")), request_body = super::openapi::MessageRequest, responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn update_message(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path((id, message_id)): Path<(String, String)>,
    body: Body<MessageForm>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::update_message(&s, &caller, &id, &message_id, body.0.0).await?)))
}

#[utoipa::path(delete, path = "/api/v1/chats/{id}/messages/{message_id}", tag = "chats", summary = "Delete one message", params(("id" = String, Path, description = "The chat id"), ("message_id" = String, Path, description = "The message id")), responses((status = 200, description = "OK", body = super::openapi::ChatBody)))]
async fn delete_message(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, message_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    Ok(Json(chat_response(&svc::delete_message(&s, &caller, &id, &message_id).await?)))
}
