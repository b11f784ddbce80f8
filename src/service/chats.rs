//! Chats: create, read, merge-update, delete; pin, archive, tags, shares, clones, message edits,
//! import, search and the admin views. Every ownership and permission rule lives here.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::service::settings::Settings;
use crate::service::validate;
use crate::store::chats::{ChatRow, ChatWrite, Filter, SharedRow, Sort, TagRow, TitlePage, TitleRow};
use crate::store::{self, Db};

/// Chats per page of the paged lists.
pub const PAGE_SIZE: i64 = 60;

// ---- document helpers ----

fn messages_mut(chat: &mut Value) -> Option<&mut Map<String, Value>> {
    chat.get_mut("history")?.get_mut("messages")?.as_object_mut()
}

/// Stamps every message with the author's id, and user messages with `{id, name}`.
fn stamp_messages(chat: &mut Value, user: &store::users::User) {
    let stamp = |m: &mut Value| {
        if let Some(obj) = m.as_object_mut() {
            obj.insert("user_id".into(), json!(user.id));
            if obj.get("role").and_then(Value::as_str) == Some("user") {
                obj.insert("user".into(), json!({"id": user.id, "name": user.name}));
            }
        }
    };
    if let Some(messages) = messages_mut(chat) {
        messages.values_mut().for_each(stamp);
    }
    if let Some(list) = chat.get_mut("messages").and_then(Value::as_array_mut) {
        list.iter_mut().for_each(stamp);
    }
}

/// The current message: `history.currentId`, `currentId`, `branchPointMessageId`, or the last
/// legacy message.
fn current_message_id(chat: &Value) -> Option<String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    s(chat.get("history").and_then(|h| h.get("currentId")))
        .or_else(|| s(chat.get("currentId")))
        .or_else(|| s(chat.get("branchPointMessageId")))
        .or_else(|| {
            chat.get("messages").and_then(Value::as_array).and_then(|m| m.last()).and_then(|m| s(m.get("id")))
        })
}

/// The longest title a chat may have, in characters.
pub const MAX_TITLE_CHARS: usize = 1000;

fn title_of(chat: &Value) -> String {
    match chat.get("title").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => "New Chat".to_string(),
    }
}

/// 400 `[ERROR: Invalid title]` for a title that is not text or longer than `MAX_TITLE_CHARS`.
fn check_title(chat: &Map<String, Value>) -> AppResult<()> {
    match chat.get("title") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t.chars().count() <= MAX_TITLE_CHARS => Ok(()),
        Some(_) => {
            Err(AppError::with_text(StatusCode::BAD_REQUEST, ErrorCode::Default, "[ERROR: Invalid title]"))
        }
    }
}

/// The texts of every message (history and legacy list).
fn message_texts(chat: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(messages) = chat.get("history").and_then(|h| h.get("messages")).and_then(Value::as_object) {
        out.extend(messages.values().filter_map(|m| m.get("content").and_then(Value::as_str)));
    }
    if let Some(list) = chat.get("messages").and_then(Value::as_array) {
        out.extend(list.iter().filter_map(|m| m.get("content").and_then(Value::as_str)));
    }
    out
}

/// Lower-cased title and message texts (the `search_text` column).
fn search_text(title: &str, chat: &Value) -> String {
    let mut text = title.to_lowercase();
    for t in message_texts(chat) {
        text.push('\n');
        text.push_str(&t.to_lowercase());
    }
    text
}

/// Rebuilds every message's `childrenIds` from the `parentId`s, keeping known order.
fn rebuild_children(messages: &mut Map<String, Value>) {
    let parents: Vec<(String, Option<String>)> = messages
        .iter()
        .map(|(id, m)| (id.clone(), m.get("parentId").and_then(Value::as_str).map(str::to_string)))
        .collect();
    let ids: Vec<String> = messages.keys().cloned().collect();
    for id in ids {
        let children: Vec<&String> =
            parents.iter().filter(|(_, p)| p.as_deref() == Some(id.as_str())).map(|(c, _)| c).collect();
        let Some(msg) = messages.get_mut(&id).and_then(Value::as_object_mut) else { continue };
        let mut ordered: Vec<Value> = msg
            .get("childrenIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|c| c.as_str().is_some_and(|c| children.iter().any(|x| *x == c)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for c in children {
            if !ordered.iter().any(|o| o.as_str() == Some(c.as_str())) {
                ordered.push(json!(c));
            }
        }
        msg.insert("childrenIds".into(), Value::Array(ordered));
    }
}

fn is_streaming(m: &Value) -> bool {
    m.get("role").and_then(Value::as_str) == Some("assistant") && m.get("done") == Some(&Value::Bool(false))
}

/// Merges an incoming document into a stored one: top-level keys shallowly; `history` as a
/// union of messages where the incoming version wins, except messages of other authors and
/// assistant messages still streaming, which keep the stored version.
fn merge(stored: &Value, incoming: &Map<String, Value>, caller_id: &str) -> Value {
    let mut out = stored.as_object().cloned().unwrap_or_default();
    for (key, value) in incoming {
        if key != "history" {
            out.insert(key.clone(), value.clone());
        }
    }
    if let Some(new_history) = incoming.get("history") {
        let old_history = stored.get("history").cloned().unwrap_or_else(|| json!({}));
        let mut messages =
            old_history.get("messages").and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(new_messages) = new_history.get("messages").and_then(Value::as_object) {
            for (id, msg) in new_messages {
                let keep_stored = messages.get(id).is_some_and(|old| {
                    old.get("user_id").and_then(Value::as_str).is_some_and(|u| u != caller_id)
                        || is_streaming(old)
                        || is_streaming(msg)
                });
                if !keep_stored {
                    messages.insert(id.clone(), msg.clone());
                }
            }
        }
        rebuild_children(&mut messages);
        let current = new_history
            .get("currentId")
            .and_then(Value::as_str)
            .filter(|c| messages.contains_key(*c))
            .or_else(|| {
                old_history.get("currentId").and_then(Value::as_str).filter(|c| messages.contains_key(*c))
            })
            .map(|c| json!(c))
            .unwrap_or(Value::Null);
        let mut history = new_history.as_object().cloned().unwrap_or_default();
        history.insert("messages".into(), Value::Object(messages));
        history.insert("currentId".into(), current);
        out.insert("history".into(), Value::Object(history));
    }
    Value::Object(out)
}

// ---- access ----

fn not_found_401() -> AppError {
    AppError::unauthorized(ErrorCode::NotFound)
}

fn default_401() -> AppError {
    AppError::unauthorized(ErrorCode::Default)
}

/// Whether admins may read and delete other users' chats (`ENABLE_ADMIN_CHAT_ACCESS`).
fn admin_access(app: &App, p: &Principal) -> bool {
    p.role.is_admin() && app.config.enable_admin_chat_access
}

/// The caller's own chat, or `err`.
async fn own_chat(db: &Db, p: &Principal, id: &str, err: fn() -> AppError) -> AppResult<ChatRow> {
    match store::chats::get(db, id).await? {
        Some(row) if row.user_id == p.user.id => Ok(row),
        _ => Err(err()),
    }
}

async fn permission(app: &App, p: &Principal, path: &str) -> AppResult<bool> {
    if p.role.is_admin() {
        return Ok(true);
    }
    Ok(Settings::load(&app.db).await?.permissions().allows(path))
}

// ---- writes ----

/// Optional chat fields of `ChatForm` / `ChatImportForm`.
#[derive(Debug, Clone, Default)]
pub struct ChatInput {
    pub chat: Map<String, Value>,
    pub variables: Option<Map<String, Value>>,
    pub folder_id: Option<String>,
}

/// One chat of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportInput {
    pub chat: ChatInput,
    pub meta: Option<Map<String, Value>>,
    pub pinned: bool,
    pub archived: bool,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// `POST /chats/new`.
pub async fn create(app: &App, caller: &Caller, input: ChatInput) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    if input.folder_id.is_some() {
        // Folders are not supported yet: no folder is writable.
        return Err(AppError::not_found(ErrorCode::NotFound));
    }
    let now = store::now();
    insert_chat(&app.db, p, ImportInput { chat: input, ..Default::default() }, now).await
}

async fn insert_chat(db: &Db, p: &Principal, input: ImportInput, now: i64) -> AppResult<ChatRow> {
    check_title(&input.chat.chat)?;
    let mut tx = db.begin().await?;
    let id = insert_chat_in(&mut tx, p, input, now).await?;
    tx.commit().await?;
    store::chats::get(db, &id).await?.ok_or_else(|| AppError::internal("chat vanished after insert"))
}

/// Writes one new chat (and its tag links) inside `tx`; returns its id.
async fn insert_chat_in(
    tx: &mut store::Tx,
    p: &Principal,
    input: ImportInput,
    now: i64,
) -> AppResult<String> {
    let mut doc = Value::Object(input.chat.chat);
    stamp_messages(&mut doc, &p.user);
    let title = title_of(&doc);
    let id = uuid::Uuid::new_v4().to_string();
    let meta = Value::Object(input.meta.unwrap_or_default());
    let variables = Value::Object(input.chat.variables.unwrap_or_default());
    let current = current_message_id(&doc);
    let created_at = input.created_at.unwrap_or(now);
    let updated_at = input.updated_at.unwrap_or(created_at);
    let text = search_text(&title, &doc);
    let write = ChatWrite {
        id: &id,
        user_id: &p.user.id,
        title: &title,
        chat: &doc,
        created_at,
        updated_at,
        archived: input.archived,
        pinned: input.pinned,
        meta: &meta,
        variables: &variables,
        folder_id: None,
        current_message_id: current.as_deref(),
        last_read_at: Some(updated_at),
        search_text: &text,
    };
    let tag_ids = tag_ids_of(&meta);
    store::chats::insert(&mut *tx, &write).await?;
    if !tag_ids.is_empty() {
        for tag in &tag_ids {
            store::chats::ensure_tag(&mut *tx, &p.user.id, tag, tag).await?;
        }
        store::chats::set_chat_tags(tx, &id, &p.user.id, &tag_ids).await?;
    }
    Ok(id)
}

/// `POST /chats/import`.
pub async fn import(app: &App, caller: &Caller, chats: Vec<ImportInput>) -> AppResult<Vec<ChatRow>> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    for input in &chats {
        check_title(&input.chat.chat)?;
    }
    // All or nothing: one transaction for the whole import.
    let now = store::now();
    let mut ids = Vec::with_capacity(chats.len());
    let mut tx = app.db.begin().await?;
    for input in chats {
        ids.push(insert_chat_in(&mut tx, p, input, now).await?);
    }
    tx.commit().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        let row = store::chats::get(&app.db, id)
            .await?
            .ok_or_else(|| AppError::internal("imported chat vanished"))?;
        out.push(row);
    }
    Ok(out)
}

/// `GET /chats/{id}`: the owner, or an admin with admin chat access; otherwise 401 `NOT_FOUND`.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    let row = store::chats::get(&app.db, id).await?.ok_or_else(not_found_401)?;
    let owner = row.user_id == p.user.id;
    if !owner && !admin_access(app, p) {
        return Err(not_found_401());
    }
    Ok(row)
}

/// Stores a new document for a locked chat (title, current message and search text follow it)
/// and returns the row as written.
async fn store_document(
    tx: &mut store::Tx,
    row: &ChatRow,
    doc: &Value,
    variables: &Value,
    updated_at: i64,
) -> AppResult<ChatRow> {
    let title = title_of(doc);
    let current = current_message_id(doc);
    let text = search_text(&title, doc);
    let write = ChatWrite {
        id: &row.id,
        user_id: &row.user_id,
        title: &title,
        chat: doc,
        created_at: row.created_at,
        updated_at,
        archived: row.archived,
        pinned: row.pinned,
        meta: &row.meta.0,
        variables,
        folder_id: row.folder_id.as_deref(),
        current_message_id: current.as_deref(),
        last_read_at: row.last_read_at,
        search_text: &text,
    };
    store::chats::update_content(&mut *tx, &write).await?;
    store::chats::get(tx, &row.id).await?.ok_or_else(|| AppError::internal("chat vanished"))
}

/// `POST /chats/{id}`: merges `chat` into the stored document under a row lock; `updated_at`
/// moves only when messages change.
pub async fn update(app: &App, caller: &Caller, id: &str, input: ChatInput) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = match store::chats::get_for_update(&mut tx, id).await? {
        Some(row) if row.user_id == p.user.id => row,
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    };
    check_title(&input.chat)?;
    let mut incoming = Value::Object(input.chat.clone());
    stamp_messages(&mut incoming, &p.user);
    let incoming = incoming.as_object().cloned().unwrap_or_default();
    let doc = merge(&row.chat.0, &incoming, &p.user.id);
    let touches_messages = incoming.contains_key("history") || incoming.contains_key("messages");
    let variables = match input.variables {
        Some(v) => Value::Object(v),
        None => row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({})),
    };
    let updated_at = if touches_messages { store::now() } else { row.updated_at };
    let updated = store_document(&mut tx, &row, &doc, &variables, updated_at).await?;
    tx.commit().await?;
    Ok(updated)
}

/// `DELETE /chats/{id}`.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.delete").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let row = store::chats::get(&app.db, id).await?;
    match row {
        Some(row) if row.user_id == p.user.id || admin_access(app, p) => {
            let mut tx = app.db.begin().await?;
            store::chats::delete(&mut tx, id).await?;
            store::chats::delete_unused_tags(&mut tx, &row.user_id).await?;
            tx.commit().await?;
            Ok(true)
        }
        _ => Err(AppError::not_found(ErrorCode::NotFound)),
    }
}

/// `DELETE /chats/`: every chat of the caller.
pub async fn delete_all(app: &App, caller: &Caller) -> AppResult<bool> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.delete").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let mut tx = app.db.begin().await?;
    store::chats::delete_for_user(&mut tx, &p.user.id).await?;
    store::chats::delete_unused_tags(&mut tx, &p.user.id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `POST /chats/{id}/pin`: toggles.
pub async fn toggle_pin(app: &App, caller: &Caller, id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, default_401).await?;
    store::chats::set_flags(&app.db, id, !row.pinned, row.archived, false, store::now()).await?;
    reload(&app.db, id).await
}

/// `GET /chats/{id}/pinned`.
pub async fn is_pinned(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    Ok(own_chat(&app.db, p, id, default_401).await?.pinned)
}

/// `POST /chats/{id}/archive`: toggles, and takes the chat out of its folder.
pub async fn toggle_archive(app: &App, caller: &Caller, id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, default_401).await?;
    store::chats::set_flags(&app.db, id, row.pinned, !row.archived, true, store::now()).await?;
    reload(&app.db, id).await
}

pub async fn set_archived_all(app: &App, caller: &Caller, archived: bool) -> AppResult<bool> {
    let p = caller.require_verified()?;
    store::chats::set_archived_all(&app.db, &p.user.id, archived).await?;
    Ok(true)
}

async fn reload(db: &Db, id: &str) -> AppResult<ChatRow> {
    store::chats::get(db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

// ---- lists ----

/// Query parameters of the chat lists.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub page: Option<i64>,
    pub include_pinned: bool,
    pub sort_by: Option<String>,
    pub sort_dir: Option<String>,
}

fn query_error(name: &str, msg: &str, input: &str) -> AppError {
    AppError::validation(vec![FieldError {
        kind: "literal_error",
        loc: vec![json!("query"), json!(name)],
        msg: msg.to_string(),
        input: json!(input),
        ctx: None,
    }])
}

fn parse_sort(sort_by: Option<&str>, sort_dir: Option<&str>) -> AppResult<(Sort, bool)> {
    let sort = match sort_by {
        None | Some("updated_at") => Sort::UpdatedAt,
        Some("created_at") => Sort::CreatedAt,
        Some("title") => Sort::Title,
        Some(other) => {
            return Err(query_error(
                "sort_by",
                "Input should be 'updated_at', 'created_at' or 'title'",
                other,
            ));
        }
    };
    let ascending = match sort_dir {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(query_error("sort_dir", "Input should be 'asc' or 'desc'", other)),
    };
    Ok((sort, ascending))
}

fn page_window(page: Option<i64>) -> (Option<i64>, i64) {
    match page {
        Some(p) if p >= 1 => (Some(PAGE_SIZE), (p - 1).saturating_mul(PAGE_SIZE)),
        _ => (None, 0),
    }
}

/// `GET /chats/` and `/chats/list`: not archived, not in a folder, pinned only on request.
pub async fn list(app: &App, caller: &Caller, params: ListParams) -> AppResult<Arc<TitlePage>> {
    let p = caller.require_verified()?;
    let (sort, ascending) = parse_sort(params.sort_by.as_deref(), params.sort_dir.as_deref())?;
    let filter = Filter {
        archived: Some(false),
        pinned: if params.include_pinned { None } else { Some(false) },
        without_folder: true,
        ..Default::default()
    };
    let (limit, offset) = page_window(params.page);
    let rows = store::chats::list(&app.db, &p.user.id, &filter, sort, ascending, limit, offset).await?;
    Ok(rows)
}

/// `GET /chats/pinned`.
pub async fn pinned(app: &App, caller: &Caller) -> AppResult<Arc<TitlePage>> {
    let p = caller.require_verified()?;
    let filter = Filter { archived: Some(false), pinned: Some(true), ..Default::default() };
    let rows = store::chats::list(&app.db, &p.user.id, &filter, Sort::UpdatedAt, false, None, 0).await?;
    Ok(rows)
}

/// Paging, title filter and order of the secondary lists (`/archived`, `/shared`, admin lists).
#[derive(Debug, Clone, Default)]
pub struct PagedParams {
    pub page: Option<i64>,
    pub query: Option<String>,
    pub order_by: Option<String>,
    pub direction: Option<String>,
}

fn paged(params: &PagedParams) -> AppResult<(Sort, bool, i64)> {
    if let Some(query) = &params.query {
        validate::check_search(&["query", "query"], query)?;
    }
    let (sort, ascending) =
        parse_sort(params.order_by.as_deref(), params.direction.as_deref()).map_err(|_| {
            let (name, value) = match params.order_by.as_deref() {
                Some(v) if !matches!(v, "updated_at" | "created_at" | "title") => ("order_by", v),
                _ => ("direction", params.direction.as_deref().unwrap_or("")),
            };
            query_error(name, "Input should be one of the allowed values", value)
        })?;
    let page = params.page.unwrap_or(1).max(1);
    Ok((sort, ascending, (page - 1).saturating_mul(PAGE_SIZE)))
}

/// `GET /chats/archived`.
pub async fn archived(app: &App, caller: &Caller, params: PagedParams) -> AppResult<Arc<TitlePage>> {
    let p = caller.require_verified()?;
    user_list(app, &p.user.id, Some(true), params).await
}

async fn user_list(
    app: &App,
    user_id: &str,
    archived: Option<bool>,
    params: PagedParams,
) -> AppResult<Arc<TitlePage>> {
    let (sort, ascending, offset) = paged(&params)?;
    let filter = Filter { archived, title: params.query.filter(|q| !q.is_empty()), ..Default::default() };
    let rows =
        store::chats::list(&app.db, user_id, &filter, sort, ascending, Some(PAGE_SIZE), offset).await?;
    Ok(rows)
}

pub async fn archived_count(app: &App, caller: &Caller) -> AppResult<i64> {
    let p = caller.require_verified()?;
    store::chats::count_archived(&app.db, &p.user.id).await
}

/// `GET /chats/all/archived` (whole chats).
pub async fn all_archived(app: &App, caller: &Caller) -> AppResult<Vec<ChatRow>> {
    let p = caller.require_verified()?;
    store::chats::all(&app.db, Some(&p.user.id), Some(true)).await
}

/// `GET /chats/all`: every chat of the caller, archived included, newest first.
pub async fn export(app: &App, caller: &Caller) -> AppResult<Vec<ChatRow>> {
    let p = caller.require_verified()?;
    store::chats::all(&app.db, Some(&p.user.id), None).await
}

/// `GET /chats/all/db` (admin, `ENABLE_ADMIN_EXPORT`).
pub async fn all_db(app: &App, caller: &Caller) -> AppResult<Vec<ChatRow>> {
    let p = caller.require_admin()?;
    if !app.config.enable_admin_export {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let _ = p;
    store::chats::all(&app.db, None, None).await
}

/// `GET /chats/list/user/{user_id}` (admin, `ENABLE_ADMIN_CHAT_ACCESS`): archived included.
pub async fn list_for_user(
    app: &App,
    caller: &Caller,
    user_id: &str,
    params: PagedParams,
) -> AppResult<Arc<TitlePage>> {
    let p = caller.require_admin()?;
    if !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    user_list(app, user_id, None, params).await
}

// ---- search ----

/// `GET /chats/search?text=`: words match the title or any message (all must occur);
/// `tag:`, `pinned:`, `archived:`, `shared:` tokens filter. 60 per page.
pub async fn search(
    app: &App,
    caller: &Caller,
    text: &str,
    page: Option<i64>,
) -> AppResult<Vec<(TitleRow, Option<String>)>> {
    let p = caller.require_verified()?;
    validate::check_search(&["query", "text"], text)?;
    let Some(filter) = search_filter(text, Filter { archived: Some(false), ..Default::default() }) else {
        return Ok(Vec::new());
    };
    let page = page.unwrap_or(1).max(1);
    let rows = store::chats::list(
        &app.db,
        &p.user.id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(PAGE_SIZE),
        (page - 1).saturating_mul(PAGE_SIZE),
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let snippet =
            if filter.words.is_empty() { None } else { snippet(&app.db, &row.id, &filter.words).await? };
        out.push((row.clone(), snippet));
    }
    Ok(out)
}

/// Adds the search text's words and `tag:`, `pinned:`, `archived:`, `shared:` tokens to `filter`;
/// `None` when nothing can match (a `folder:` token: folders are not supported).
pub fn search_filter(text: &str, mut filter: Filter) -> Option<Filter> {
    let bool_of = |v: &str| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    for token in text.to_lowercase().split_whitespace() {
        if let Some(tag) = token.strip_prefix("tag:") {
            if tag == "none" {
                filter.untagged = true;
            } else if !tag.is_empty() {
                filter.tags.push(normalize_tag(tag));
            }
        } else if let Some(v) = token.strip_prefix("pinned:") {
            filter.pinned = bool_of(v);
        } else if let Some(v) = token.strip_prefix("archived:") {
            filter.archived = bool_of(v);
        } else if let Some(v) = token.strip_prefix("shared:") {
            filter.shared = bool_of(v);
        } else if token.starts_with("folder:") {
            return None;
        } else {
            filter.words.push(token.to_string());
        }
    }
    Some(filter)
}

/// Filters of the GraphQL chat connection.
#[derive(Debug, Clone, Default)]
pub struct ChatQuery {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub search: Option<String>,
    pub tag: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A window of `owner_id`'s chats and the number matching (the caller's own, or any user's for an
/// admin with admin chat access). Archived chats are left out unless asked for.
pub async fn query(
    app: &App,
    caller: &Caller,
    owner_id: &str,
    q: ChatQuery,
) -> AppResult<(Vec<TitleRow>, i64)> {
    let p = caller.require_verified()?;
    if p.user.id != owner_id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    if let Some(search) = &q.search {
        validate::check_search(&["query", "search"], search)?;
    }
    if let Some(tag) = &q.tag {
        validate::check_search(&["query", "tag"], tag)?;
    }
    let base = Filter {
        archived: Some(q.archived.unwrap_or(false)),
        pinned: q.pinned,
        tags: q.tag.as_deref().map(normalize_tag).into_iter().collect(),
        ..Default::default()
    };
    let filter = match q.search.as_deref() {
        Some(text) => match search_filter(text, base) {
            Some(f) => f,
            None => return Ok((Vec::new(), 0)),
        },
        None => base,
    };
    let rows = store::chats::list(
        &app.db,
        owner_id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(q.limit.clamp(0, 1000)),
        q.offset.max(0),
    )
    .await?;
    let total = store::chats::count(&app.db, owner_id, &filter).await?;
    Ok((rows.rows.clone(), total))
}

/// About 200 characters of the first message (or title) containing the first word.
async fn snippet(db: &Db, id: &str, words: &[String]) -> AppResult<Option<String>> {
    let Some(row) = store::chats::get(db, id).await? else { return Ok(None) };
    let word = &words[0];
    let texts = message_texts(&row.chat.0);
    let hit = texts.into_iter().find(|t| t.to_lowercase().contains(word.as_str()));
    Ok(hit.map(|t| {
        let lower = t.to_lowercase();
        let at = lower.find(word.as_str()).unwrap_or(0);
        let chars: Vec<char> = t.chars().collect();
        let at_char = t[..at.min(t.len())].chars().count();
        let start = at_char.saturating_sub(100);
        let end = (at_char + 100).min(chars.len());
        chars[start..end].iter().collect()
    }))
}

// ---- tags ----

/// The reference's tag id: spaces to `_`, lower-case.
pub fn normalize_tag(name: &str) -> String {
    name.trim().replace(' ', "_").to_lowercase()
}

fn tag_ids_of(meta: &Value) -> Vec<String> {
    meta.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            let mut ids: Vec<String> = Vec::new();
            for id in a.iter().filter_map(Value::as_str).map(normalize_tag) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        })
        .unwrap_or_default()
}

/// `GET /chats/{id}/tags`.
pub async fn chat_tags(app: &App, caller: &Caller, id: &str) -> AppResult<Vec<TagRow>> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, not_found_401).await?;
    let tags = store::chats::tags_by_ids(&app.db, &p.user.id, &tag_ids_of(&row.meta.0)).await?;
    Ok(tags)
}

/// `POST /chats/{id}/tags`: adds a tag (created on first use).
pub async fn add_tag(app: &App, caller: &Caller, id: &str, name: &str) -> AppResult<Vec<TagRow>> {
    let p = caller.require_verified()?;
    if name == "None" {
        return Err(AppError::with_text(
            StatusCode::BAD_REQUEST,
            ErrorCode::Default,
            "[ERROR: Tag name cannot be 'None']",
        ));
    }
    let tag = normalize_tag(name);
    if tag.is_empty() {
        return Err(AppError::with_text(
            StatusCode::BAD_REQUEST,
            ErrorCode::Default,
            "[ERROR: Tag name cannot be empty]",
        ));
    }
    let row = own_chat(&app.db, p, id, default_401).await?;
    let mut ids = tag_ids_of(&row.meta.0);
    if !ids.contains(&tag) {
        ids.push(tag.clone());
    }
    write_tags(app, &row, &ids, Some((&tag, name))).await?;
    chat_tags(app, caller, id).await
}

/// `DELETE /chats/{id}/tags`: removes a tag; an unused tag row is deleted.
pub async fn remove_tag(app: &App, caller: &Caller, id: &str, name: &str) -> AppResult<Vec<TagRow>> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, not_found_401).await?;
    let tag = normalize_tag(name);
    let ids: Vec<String> = tag_ids_of(&row.meta.0).into_iter().filter(|t| *t != tag).collect();
    write_tags(app, &row, &ids, None).await?;
    chat_tags(app, caller, id).await
}

async fn write_tags(app: &App, row: &ChatRow, ids: &[String], new: Option<(&str, &str)>) -> AppResult<()> {
    let mut meta = row.meta.0.as_object().cloned().unwrap_or_default();
    meta.insert("tags".into(), json!(ids));
    let mut tx = app.db.begin().await?;
    if let Some((id, name)) = new {
        store::chats::ensure_tag(&mut tx, &row.user_id, id, name).await?;
    }
    store::chats::set_meta(&mut tx, &row.id, &Value::Object(meta)).await?;
    store::chats::set_chat_tags(&mut tx, &row.id, &row.user_id, ids).await?;
    store::chats::delete_unused_tags(&mut tx, &row.user_id).await?;
    tx.commit().await
}

/// `GET /chats/all/tags`.
pub async fn user_tags(app: &App, caller: &Caller) -> AppResult<Vec<TagRow>> {
    let p = caller.require_verified()?;
    store::chats::user_tags(&app.db, &p.user.id).await
}

/// `POST /chats/tags`: the caller's chats with a tag.
pub async fn chats_by_tag(
    app: &App,
    caller: &Caller,
    name: &str,
    skip: i64,
    limit: i64,
) -> AppResult<Arc<TitlePage>> {
    let p = caller.require_verified()?;
    let filter = Filter { archived: Some(false), tags: vec![normalize_tag(name)], ..Default::default() };
    let rows = store::chats::list(
        &app.db,
        &p.user.id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(limit.clamp(0, 1000)),
        skip.max(0),
    )
    .await?;
    Ok(rows)
}

// ---- shares ----

/// `POST /chats/{id}/share`: creates (or refreshes) the share snapshot.
pub async fn share(app: &App, caller: &Caller, id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.share").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let row = own_chat(&app.db, p, id, || AppError::unauthorized(ErrorCode::AccessProhibited)).await?;
    let share_id = row.share_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut snapshot = row.chat.0.clone();
    if let Some(obj) = snapshot.as_object_mut() {
        obj.insert("share_mode".into(), Value::Null);
    }
    let mut tx = app.db.begin().await?;
    store::chats::upsert_share(&mut tx, &share_id, &row, &snapshot, store::now()).await?;
    tx.commit().await?;
    reload(&app.db, id).await
}

/// `DELETE /chats/{id}/share`.
pub async fn unshare(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    own_chat(&app.db, p, id, || AppError::unauthorized(ErrorCode::AccessProhibited)).await?;
    let mut tx = app.db.begin().await?;
    store::chats::delete_shares(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `DELETE /chats/share/all`.
pub async fn unshare_all(app: &App, caller: &Caller) -> AppResult<bool> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    store::chats::delete_shares_for_user(&mut tx, &p.user.id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `GET /chats/share/{share_id}`: the sharer, or an admin with admin chat access. Shares carry
/// no grants yet, so other users are refused.
pub async fn get_share(app: &App, caller: &Caller, share_id: &str) -> AppResult<SharedRow> {
    let p = match caller.require_verified() {
        Ok(p) => p,
        Err(e) if e.code == ErrorCode::NotAuthenticated => {
            return Err(AppError::unauthorized(ErrorCode::InvalidToken));
        }
        Err(e) => return Err(e),
    };
    let Some(share) = store::chats::get_share(&app.db, share_id).await? else {
        return Err(not_found_401());
    };
    if share.user_id != p.user.id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    Ok(share)
}

/// `GET /chats/shared`: `{id (chat id), chat_id, title, share_id, updated_at, created_at}`.
pub async fn shared_list(app: &App, caller: &Caller, params: PagedParams) -> AppResult<Vec<SharedRow>> {
    let p = caller.require_verified()?;
    let (sort, ascending, offset) = paged(&params)?;
    let rows = store::chats::list_shares(
        &app.db,
        &p.user.id,
        params.query.as_deref().filter(|q| !q.is_empty()),
        sort,
        ascending,
        PAGE_SIZE,
        offset,
    )
    .await?;
    Ok(rows)
}

// ---- clone and messages ----

/// `POST /chats/{id}/clone`.
pub async fn clone(app: &App, caller: &Caller, id: &str, title: Option<String>) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let row = own_chat(&app.db, p, id, default_401).await?;
    let mut doc = row.chat.0.as_object().cloned().unwrap_or_default();
    doc.insert("originalChatId".into(), json!(row.id));
    if let Some(current) = row.chat.0.get("history").and_then(|h| h.get("currentId")) {
        doc.insert("branchPointMessageId".into(), current.clone());
    }
    doc.insert("title".into(), json!(title.unwrap_or_else(|| format!("Clone of {}", row.title))));
    let now = store::now();
    let input = ImportInput {
        chat: ChatInput {
            chat: doc,
            variables: row.variables.as_ref().and_then(|v| v.0.as_object().cloned()),
            folder_id: None,
        },
        meta: row.meta.0.as_object().cloned(),
        pinned: row.pinned,
        archived: false,
        created_at: Some(now),
        updated_at: Some(now),
    };
    insert_chat(&app.db, p, input, now).await
}

/// `POST /chats/{share_id}/clone/shared`: a copy of a share snapshot the caller may read, owned
/// by the caller.
pub async fn clone_shared(app: &App, caller: &Caller, share_id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let share = store::chats::get_share(&app.db, share_id).await?.ok_or_else(not_found_401)?;
    if share.user_id != p.user.id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let mut doc = share.chat.0.as_object().cloned().unwrap_or_default();
    doc.remove("share_mode");
    doc.insert("originalChatId".into(), json!(share.chat_id));
    if let Some(current) = share.chat.0.get("history").and_then(|h| h.get("currentId")) {
        doc.insert("branchPointMessageId".into(), current.clone());
    }
    doc.insert("title".into(), json!(format!("Clone of {}", share.title)));
    let now = store::now();
    let input = ImportInput {
        chat: ChatInput { chat: doc, variables: None, folder_id: None },
        created_at: Some(now),
        updated_at: Some(now),
        ..Default::default()
    };
    insert_chat(&app.db, p, input, now).await
}

/// Edits or deletes one message of `history`, then stores the document.
async fn edit_message(
    app: &App,
    caller: &Caller,
    id: &str,
    message_id: &str,
    recompute_current: bool,
    edit: impl FnOnce(&mut Map<String, Value>) -> AppResult<()>,
) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = match store::chats::get_for_update(&mut tx, id).await? {
        Some(row) if row.user_id == p.user.id => row,
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    };
    let mut doc = row.chat.0.clone();
    let messages = messages_mut(&mut doc)
        .filter(|m| m.contains_key(message_id))
        .ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let parent =
        messages.get(message_id).and_then(|m| m.get("parentId")).and_then(Value::as_str).map(str::to_string);
    edit(messages)?;
    if let Some(history) = doc.get_mut("history").and_then(Value::as_object_mut) {
        let messages = history.get("messages").and_then(Value::as_object).cloned().unwrap_or_default();
        let current_ok =
            history.get("currentId").and_then(Value::as_str).is_some_and(|c| messages.contains_key(c));
        if recompute_current || !current_ok {
            let leaf = newest_leaf(&messages, parent.as_deref());
            history.insert("currentId".into(), leaf.map(Value::String).unwrap_or(Value::Null));
        }
    }
    let variables = row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({}));
    let updated = store_document(&mut tx, &row, &doc, &variables, store::now()).await?;
    tx.commit().await?;
    Ok(updated)
}

/// `POST /chats/{id}/messages/{message_id}`: sets the message's `content`.
pub async fn update_message(
    app: &App,
    caller: &Caller,
    id: &str,
    message_id: &str,
    content: String,
) -> AppResult<ChatRow> {
    edit_message(app, caller, id, message_id, false, |messages| {
        if let Some(m) = messages.get_mut(message_id).and_then(Value::as_object_mut) {
            m.insert("content".into(), json!(content));
        }
        Ok(())
    })
    .await
}

/// `DELETE /chats/{id}/messages/{message_id}`: removes the message and its direct replies; their
/// replies move up to the message's parent, and the current message becomes the newest leaf
/// below that parent (as the reference). An unknown message leaves the chat unchanged.
pub async fn delete_message(app: &App, caller: &Caller, id: &str, message_id: &str) -> AppResult<ChatRow> {
    let p = caller.require_verified()?;
    match store::chats::get(&app.db, id).await? {
        Some(row) if row.user_id == p.user.id => {
            let known =
                row.chat.0.get("history").and_then(|h| h.get("messages")).and_then(|m| m.get(message_id));
            if known.is_none() {
                return Ok(row);
            }
        }
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    }
    edit_message(app, caller, id, message_id, true, |messages| {
        remove_from_history(messages, message_id);
        Ok(())
    })
    .await
}

fn children_of(messages: &Map<String, Value>, id: &str) -> Vec<String> {
    messages
        .get(id)
        .and_then(|m| m.get("childrenIds"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|c| messages.contains_key(*c))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes `message_id` and its direct children; grandchildren move up to its parent.
fn remove_from_history(messages: &mut Map<String, Value>, message_id: &str) {
    let parent =
        messages.get(message_id).and_then(|m| m.get("parentId")).and_then(Value::as_str).map(str::to_string);
    let children = children_of(messages, message_id);
    let grandchildren: Vec<String> = children.iter().flat_map(|c| children_of(messages, c)).collect();
    if let Some(pid) = &parent
        && let Some(p) = messages.get_mut(pid).and_then(Value::as_object_mut)
    {
        let mut kept: Vec<Value> = p
            .get("childrenIds")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|c| c.as_str() != Some(message_id)).cloned().collect())
            .unwrap_or_default();
        kept.extend(grandchildren.iter().map(|g| json!(g)));
        p.insert("childrenIds".into(), Value::Array(kept));
    }
    for g in &grandchildren {
        if let Some(m) = messages.get_mut(g).and_then(Value::as_object_mut) {
            m.insert("parentId".into(), parent.as_ref().map(|p| json!(p)).unwrap_or(Value::Null));
        }
    }
    messages.shift_remove(message_id);
    for c in &children {
        messages.shift_remove(c);
    }
}

/// The newest leaf below `parent` (or below the roots), following the last child each time.
fn newest_leaf(messages: &Map<String, Value>, parent: Option<&str>) -> Option<String> {
    let mut current = parent.map(str::to_string);
    let mut next: Vec<String> = match parent {
        None => messages
            .iter()
            .filter(|(_, m)| m.get("parentId").is_none_or(Value::is_null))
            .map(|(id, _)| id.clone())
            .collect(),
        Some(p) => children_of(messages, p),
    };
    let mut seen = std::collections::HashSet::new();
    while let Some(last) = next.last().cloned() {
        if !seen.insert(last.clone()) {
            break;
        }
        next = children_of(messages, &last);
        current = Some(last);
    }
    current.filter(|c| messages.contains_key(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_keys_and_unions_messages() {
        let stored = json!({"title": "A", "models": ["m"], "history": {"currentId": "1", "messages": {
            "1": {"id": "1", "parentId": null, "childrenIds": [], "role": "user", "content": "hi", "user_id": "u"}}}});
        let incoming = json!({"title": "B", "history": {"currentId": "2", "messages": {
            "2": {"id": "2", "parentId": "1", "childrenIds": [], "role": "assistant", "content": "yo", "done": true}}}});
        let out = merge(&stored, incoming.as_object().expect("object"), "u");
        assert_eq!(out["title"], "B");
        assert_eq!(out["models"], json!(["m"]));
        assert_eq!(out["history"]["currentId"], "2");
        assert_eq!(out["history"]["messages"]["1"]["childrenIds"], json!(["2"]));
        assert_eq!(out["history"]["messages"]["2"]["content"], "yo");
    }

    #[test]
    fn merge_keeps_streaming_and_foreign_messages() {
        let stored = json!({"history": {"messages": {
            "a": {"id": "a", "role": "assistant", "content": "partial", "done": false},
            "b": {"id": "b", "role": "user", "content": "theirs", "user_id": "other"}}}});
        let incoming = json!({"history": {"currentId": "zzz", "messages": {
            "a": {"id": "a", "role": "assistant", "content": "overwrite", "done": true},
            "b": {"id": "b", "role": "user", "content": "mine", "user_id": "u"}}}});
        let out = merge(&stored, incoming.as_object().expect("object"), "u");
        assert_eq!(out["history"]["messages"]["a"]["content"], "partial");
        assert_eq!(out["history"]["messages"]["b"]["content"], "theirs");
        assert_eq!(out["history"]["currentId"], Value::Null);
    }

    #[test]
    fn tags_and_current_message() {
        assert_eq!(normalize_tag("Work Stuff"), "work_stuff");
        assert_eq!(
            current_message_id(&json!({"messages": [{"id": "x"}, {"id": "y"}]})).as_deref(),
            Some("y")
        );
        assert_eq!(current_message_id(&json!({})), None);
    }
}
