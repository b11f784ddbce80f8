//! Chats: create, read, merge-update, delete; pin, archive, tags, shares, clones, message edits,
//! import, search and the admin views. Every ownership and permission rule lives here.
//!
//! This file holds the access helpers and the single-chat use cases (create, import, get,
//! update, delete, pin, archive, clone, message edits); the rest lives in the submodules and is
//! re-exported: `form` (inputs and their validation), `document` (pure helpers over the chat
//! JSON document), `lists` (the list views), `search` (search and the GraphQL chat query),
//! `tags` (tag functions), `shares` (share snapshots and their clones), `share_access` (who may
//! open a share) and `reader` (what others see of a chat), `params`, `fork`, `events` (message
//! events), `config` (the admin's chat settings), `compact`, `stats` and `stats_view`.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::{permissions, policy};
use crate::store::chats::{ChatRow, ChatWrite};
use crate::store::{self, Db};

mod compact;
mod config;
pub(crate) mod document;
mod events;
mod fork;
mod form;
mod links;
mod lists;
mod open;
mod params;
pub mod read;
mod reader;
mod search;
mod share_access;
mod shares;
mod stats;
mod stats_view;
mod tags;
pub(crate) mod turns;
mod view;

pub use crate::store::chats::ChatModels;
pub use compact::{CompactForm, CompactView, ContextUsageView, compact};
pub use config::{ChatConfig, chat_config, set_chat_config};
pub use events::{EventForm, message_event};
pub use fork::{ForkForm, fork};
pub use form::{
    ChatImportFields, ChatInput, ChatQuery, CloneForm, ImportForm, ImportInput, ListParams, MAX_TITLE_CHARS,
    MessageForm, PagedParams, TagFilterForm, TagForm,
};
pub use links::{models_of, owners, page_models, page_tags};
pub use lists::{all_archived, all_db, archived, archived_count, export, list, list_for_user, pinned};
pub use open::{OpenedChat, open};
pub use params::{params_form, update_params};
pub use search::{query, search, search_filter};
pub use share_access::{ShareAccessForm, ShareForm, ShareGrantView, share_access, update_share_access};
pub use shares::{clone_shared, get_share, share, share_with_mode, shared_list, unshare, unshare_all};
pub use stats::{EXPORT_PAGE, export_chat_stats, export_stats, export_stats_all, usage};
pub use stats_view::{
    AggregateStatsView, ChatBodyView, ChatStatsPage, ChatStatsView, ChatUsagePage, ChatUsageView,
    HistoryStatsView, MessageStatsView, ModelCounts,
};
pub use tags::{add_tag, chat_tags, chats_by_tag, normalize_tag, remove_tag, user_tags};
pub use view::{ChatPage, ChatSummary, ChatTitleView, ChatView, SearchHits, SharedItemView, TagView};

use document::{
    current_message_id, merge, messages_mut, newest_leaf, remove_from_history, search_text, stamp_messages,
    title_of,
};
use form::check_title;
use tags::tag_ids_of;

/// Chats per page of the paged lists.
pub const PAGE_SIZE: i64 = 60;

// ---- access ----

fn not_found_401() -> AppError {
    AppError::unauthorized(ErrorCode::NotFound)
}

fn default_401() -> AppError {
    AppError::unauthorized(ErrorCode::Default)
}

/// Whether admins may read and delete other users' chats (`ENABLE_ADMIN_CHAT_ACCESS`).
fn admin_access(app: &App, p: &Principal) -> bool {
    policy::admin_reaches_chats(&p.role, app.config.enable_admin_chat_access)
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
    let tree = permissions::of(&app.db, p).await?;
    Ok(policy::holds(&p.role, &tree, path))
}

// ---- writes ----

/// `POST /chats/new`.
pub async fn create(app: &App, caller: &Caller, input: ChatInput) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if let Some(folder) = &input.folder_id
        && !crate::service::folders::writable(app, p, folder).await?
    {
        return Err(AppError::not_found(ErrorCode::NotFound));
    }
    let now = store::now();
    Ok(ChatView::from(insert_chat(&app.db, p, ImportInput { chat: input, ..Default::default() }, now).await?))
}

async fn insert_chat(db: &Db, p: &Principal, input: ImportInput, now: i64) -> AppResult<ChatRow> {
    check_title(&input.chat.chat)?;
    let mut tx = db.begin().await?;
    let row = insert_chat_in(&mut tx, p, input, now).await?;
    tx.commit().await?;
    Ok(row)
}

/// Writes one new chat (and its tag links) inside `tx`, its messages stamped as the caller's;
/// returns the row written.
async fn insert_chat_in(
    tx: &mut store::Tx,
    p: &Principal,
    mut input: ImportInput,
    now: i64,
) -> AppResult<ChatRow> {
    let mut doc = Value::Object(std::mem::take(&mut input.chat.chat));
    stamp_messages(&mut doc, &p.user);
    insert_document_in(tx, &p.user.id, doc, input, now).await
}

/// Writes one new chat of `user_id` with `doc` as its document, authors as they are (a copy of
/// someone else's chat); the rest of `input` as `insert_chat_in`. Returns the row written.
pub(super) async fn insert_document_in(
    tx: &mut store::Tx,
    user_id: &str,
    doc: Value,
    input: ImportInput,
    now: i64,
) -> AppResult<ChatRow> {
    let folder_id = input.chat.folder_id;
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
        user_id,
        title: &title,
        chat: &doc,
        created_at,
        updated_at,
        archived: input.archived,
        pinned: input.pinned,
        meta: &meta,
        variables: &variables,
        folder_id: folder_id.as_deref(),
        current_message_id: current.as_deref(),
        last_read_at: Some(updated_at),
        search_text: &text,
    };
    let tag_ids = tag_ids_of(&meta);
    store::chats::insert(&mut *tx, &write).await?;
    if !tag_ids.is_empty() {
        for tag in &tag_ids {
            store::chats::ensure_tag(&mut *tx, user_id, tag, tag).await?;
        }
        store::chats::set_chat_tags(tx, &id, user_id, &tag_ids).await?;
    }
    Ok(write.row(None))
}

/// `POST /chats/import`.
pub async fn import(app: &App, caller: &Caller, chats: Vec<ImportInput>) -> AppResult<Vec<ChatView>> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    for input in &chats {
        check_title(&input.chat.chat)?;
    }
    // Folders the caller may not write (or that do not exist) are cleared, as the reference does.
    let mut chats = chats;
    let folder_ids: Vec<&mut Option<String>> = chats.iter_mut().map(|c| &mut c.chat.folder_id).collect();
    crate::service::folders::keep_writable(app, p, folder_ids).await?;
    // All or nothing: one transaction for the whole import.
    let now = store::now();
    let mut rows = Vec::with_capacity(chats.len());
    let mut tx = app.db.begin().await?;
    for input in chats {
        rows.push(insert_chat_in(&mut tx, p, input, now).await?);
    }
    tx.commit().await?;
    Ok(rows.into_iter().map(ChatView::from).collect())
}

/// What `reader`, who is not the owner, is shown of a chat (see `reader`).
pub async fn for_reader(app: &App, mut view: ChatView, reader: &str) -> AppResult<ChatView> {
    if view.user_id != reader {
        reader::for_reader(&app.db, &mut view, Some(reader)).await?;
    }
    Ok(view)
}

/// `GET /chats/{id}`: the owner, or an admin with admin chat access; otherwise 401 `NOT_FOUND`.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let row = store::chats::get(&app.db, id).await?.ok_or_else(not_found_401)?;
    view_for(app, p, row).await
}

/// What `p` is shown of `row` (see `get`).
async fn view_for(app: &App, p: &Principal, row: ChatRow) -> AppResult<ChatView> {
    let owner = row.user_id == p.user.id;
    if !owner && !admin_access(app, p) {
        // A reader of the shared folder the chat is in.
        if crate::service::folders::chat_reachable(app, p, row.folder_id.as_deref(), false).await? {
            return for_reader(app, ChatView::from(row), p.id()).await;
        }
        // The holder of a grant on the chat's share in `continue` mode.
        if share_access::continues(app, p, &row).await? {
            let mut view = ChatView::from(row);
            reader::for_reader(&app.db, &mut view, Some(p.id())).await?;
            return Ok(view);
        }
        return Err(not_found_401());
    }
    Ok(ChatView::from(row))
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
    Ok(write.row(row.share_id.clone()))
}

/// `POST /chats/{id}`: merges `chat` into the stored document under a row lock; `updated_at`
/// moves only when messages change.
pub async fn update(app: &App, caller: &Caller, id: &str, input: ChatInput) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let mut row = match store::chats::get_for_update(&mut tx, id).await? {
        Some(row) if row.user_id == p.user.id => row,
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    };
    check_title(&input.chat)?;
    let mut incoming = Value::Object(input.chat);
    stamp_messages(&mut incoming, &p.user);
    let incoming = match incoming {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let touches_messages = incoming.contains_key("history") || incoming.contains_key("messages");
    let doc = merge(std::mem::take(&mut row.chat.0), incoming, &p.user.id);
    let variables = match input.variables {
        Some(v) => Value::Object(v),
        None => row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({})),
    };
    let updated_at = if touches_messages { store::now() } else { row.updated_at };
    let updated = store_document(&mut tx, &row, &doc, &variables, updated_at).await?;
    tx.commit().await?;
    Ok(ChatView::from(updated))
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
pub async fn toggle_pin(app: &App, caller: &Caller, id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, default_401).await?;
    store::chats::set_flags(&app.db, id, !row.pinned, row.archived, false, store::now()).await?;
    Ok(ChatView::from(reload(&app.db, id).await?))
}

/// `GET /chats/{id}/pinned`.
pub async fn is_pinned(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    Ok(own_chat(&app.db, p, id, default_401).await?.pinned)
}

/// `POST /chats/{id}/archive`: toggles, and takes the chat out of its folder.
pub async fn toggle_archive(app: &App, caller: &Caller, id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, default_401).await?;
    store::chats::set_flags(&app.db, id, row.pinned, !row.archived, true, store::now()).await?;
    Ok(ChatView::from(reload(&app.db, id).await?))
}

pub async fn set_archived_all(app: &App, caller: &Caller, archived: bool) -> AppResult<bool> {
    let p = caller.require_verified()?;
    store::chats::set_archived_all(&app.db, &p.user.id, archived).await?;
    Ok(true)
}

async fn reload(db: &Db, id: &str) -> AppResult<ChatRow> {
    store::chats::get(db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

// ---- clone and messages ----

/// `POST /chats/{id}/clone`.
pub async fn clone(app: &App, caller: &Caller, id: &str, title: Option<String>) -> AppResult<ChatView> {
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
            folder_id: row.folder_id.clone(),
        },
        meta: row.meta.0.as_object().cloned(),
        pinned: row.pinned,
        archived: false,
        created_at: Some(now),
        updated_at: Some(now),
    };
    let mut input = input;
    crate::service::folders::keep_writable(app, p, vec![&mut input.chat.folder_id]).await?;
    Ok(ChatView::from(insert_chat(&app.db, p, input, now).await?))
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
    content: Option<String>,
) -> AppResult<ChatView> {
    caller.require_verified()?;
    let content = content.ok_or_else(|| AppError::bad_request(ErrorCode::NoMessageChanges))?;
    let row = edit_message(app, caller, id, message_id, false, |messages| {
        if let Some(m) = messages.get_mut(message_id).and_then(Value::as_object_mut) {
            m.insert("content".into(), json!(content));
        }
        Ok(())
    })
    .await?;
    Ok(row.into())
}

/// `DELETE /chats/{id}/messages/{message_id}`: removes the message and its direct replies; their
/// replies move up to the message's parent, and the current message becomes the newest leaf
/// below that parent (as the reference). An unknown message leaves the chat unchanged.
pub async fn delete_message(app: &App, caller: &Caller, id: &str, message_id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    match store::chats::get(&app.db, id).await? {
        Some(row) if row.user_id == p.user.id => {
            let known =
                row.chat.0.get("history").and_then(|h| h.get("messages")).and_then(|m| m.get(message_id));
            if known.is_none() {
                return Ok(row.into());
            }
        }
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    }
    let row = edit_message(app, caller, id, message_id, true, |messages| {
        remove_from_history(messages, message_id);
        Ok(())
    })
    .await?;
    Ok(row.into())
}
