//! The chat side of a completion turn (the reference's `insert_new_chat` for a new chat,
//! `insert_chat_turn`, `upsert_message_to_chat_by_id_and_message_id`): the user message and the
//! assistant placeholders written before the provider is asked, the reply written as it arrives,
//! and the stored branch a prompt is rebuilt from. Each write is one transaction on the locked
//! row; texts lose their NUL characters on the way in.

use serde_json::{Map, Value, json};

use super::document::{current_message_id, search_text, stamp_messages, title_of};
use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::chats::{ChatRow, ChatWrite};
use crate::store::{self, Db};

/// One reply of a turn: its model, assistant message id and side-by-side column.
#[derive(Debug, Clone)]
pub struct Reply {
    pub model_id: String,
    pub message_id: Option<String>,
    pub model_idx: Option<Value>,
}

/// Removes NUL characters from every text (`sanitize_data_for_db`).
pub fn clean_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', ""),
        Value::Array(items) => items.iter_mut().for_each(clean_nul),
        Value::Object(map) => {
            let dirty: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
            for key in dirty {
                if let Some(v) = map.remove(&key) {
                    map.insert(key.replace('\0', ""), v);
                }
            }
            map.values_mut().for_each(clean_nul);
        }
        _ => {}
    }
}

/// Writes `doc` as the chat's document (title, current message and search text follow it).
async fn write_document(tx: &mut store::Tx, row: &ChatRow, doc: &Value, now: i64) -> AppResult<()> {
    let title = title_of(doc);
    let current = current_message_id(doc);
    let text = search_text(&title, doc);
    let variables = row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({}));
    let write = ChatWrite {
        id: &row.id,
        user_id: &row.user_id,
        title: &title,
        chat: doc,
        created_at: row.created_at,
        updated_at: now,
        archived: row.archived,
        pinned: row.pinned,
        meta: &row.meta.0,
        variables: &variables,
        folder_id: row.folder_id.as_deref(),
        current_message_id: current.as_deref(),
        last_read_at: row.last_read_at,
        search_text: &text,
    };
    store::chats::update_content(&mut *tx, &write).await
}

/// The chat, when the caller may continue it: theirs, or in a folder shared for continuing.
pub async fn writable(app: &App, p: &Principal, chat_id: &str) -> AppResult<Option<ChatRow>> {
    match store::chats::get(&app.db, chat_id).await? {
        Some(row) if row.user_id == p.user.id => Ok(Some(row)),
        Some(row)
            if crate::service::folders::chat_reachable(app, p, row.folder_id.as_deref(), true).await? =>
        {
            Ok(Some(row))
        }
        _ => Ok(None),
    }
}

/// Whether the caller may put a new chat in `folder_id`.
pub async fn folder_writable(app: &App, p: &Principal, folder_id: &str) -> AppResult<bool> {
    crate::service::folders::writable(app, p, folder_id).await
}

/// One stored message of a chat.
pub async fn message(db: &Db, chat_id: &str, message_id: &str) -> AppResult<Option<Value>> {
    let Some(row) = store::chats::get(db, chat_id).await? else { return Ok(None) };
    Ok(row.chat.0.get("history").and_then(|h| h.get("messages")).and_then(|m| m.get(message_id)).cloned())
}

/// The stored messages from the root down to `message_id` (`get_message_list`).
pub async fn branch(db: &Db, chat_id: &str, message_id: &str) -> AppResult<Vec<Value>> {
    let Some(row) = store::chats::get(db, chat_id).await? else { return Ok(Vec::new()) };
    let Some(messages) =
        row.chat.0.get("history").and_then(|h| h.get("messages")).and_then(Value::as_object).cloned()
    else {
        return Ok(Vec::new());
    };
    let mut chain = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut id = Some(message_id.to_string());
    while let Some(current) = id.filter(|i| seen.insert(i.clone())) {
        let Some(m) = messages.get(&current) else { break };
        chain.push(m.clone());
        id = m.get("parentId").and_then(Value::as_str).map(str::to_string);
    }
    chain.reverse();
    Ok(chain)
}

/// Adds `child` to the `childrenIds` of `parent`.
fn add_child(messages: &mut Map<String, Value>, parent: Option<&str>, child: &str) {
    let Some(p) = parent.and_then(|p| messages.get_mut(p)).and_then(Value::as_object_mut) else { return };
    let children = p.entry("childrenIds").or_insert_with(|| json!([]));
    if !children.is_array() {
        *children = json!([]);
    }
    if let Some(list) = children.as_array_mut()
        && !list.iter().any(|c| c.as_str() == Some(child))
    {
        list.push(json!(child));
    }
}

/// `upsert_message_to_history`: merges into a known message; a new one gets its defaults, becomes
/// the current message and its parent's child.
fn upsert(history: &mut Map<String, Value>, id: &str, message: Map<String, Value>, now: i64) -> Value {
    let messages = history.entry("messages").or_insert_with(|| json!({}));
    if !messages.is_object() {
        *messages = json!({});
    }
    let messages = messages.as_object_mut().expect("messages is an object");
    let stored = if let Some(Value::Object(existing)) = messages.get_mut(id) {
        existing.extend(message);
        Value::Object(existing.clone())
    } else {
        let mut m = message;
        m.entry("id").or_insert_with(|| json!(id));
        m.entry("childrenIds").or_insert_with(|| json!([]));
        if m.get("timestamp").is_none_or(Value::is_null) {
            m.insert("timestamp".into(), json!(now));
        }
        messages.insert(id.to_string(), Value::Object(m.clone()));
        history.insert("currentId".into(), json!(id));
        Value::Object(m)
    };
    let parent = stored.get("parentId").and_then(Value::as_str).map(str::to_string);
    if let Some(Value::Object(messages)) = history.get_mut("messages") {
        add_child(messages, parent.as_deref(), id);
    }
    stored
}

fn placeholder(id: &str, parent: Option<&str>, reply: &Reply, user_id: &str, now: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("parentId".into(), parent.map(|p| json!(p)).unwrap_or(Value::Null));
    m.insert("childrenIds".into(), json!([]));
    m.insert("role".into(), json!("assistant"));
    m.insert("content".into(), json!(""));
    m.insert("done".into(), json!(false));
    m.insert("model".into(), json!(reply.model_id));
    m.insert("modelIdx".into(), reply.model_idx.clone().unwrap_or(Value::Null));
    m.insert("timestamp".into(), json!(now));
    m.insert("user_id".into(), json!(user_id));
    m
}

/// A new chat for a first turn (`chat_id` chosen by the caller of this function): the user
/// message, a placeholder per reply, `models`, `files`.
pub async fn create_chat(
    app: &App,
    p: &Principal,
    chat_id: &str,
    user_message: Option<&Map<String, Value>>,
    replies: &[Reply],
    files: Option<Value>,
    folder_id: Option<&str>,
) -> AppResult<()> {
    let now = store::now();
    let user_id = user_message.and_then(|m| m.get("id")).and_then(Value::as_str).map(str::to_string);
    let reply_ids: Vec<&str> = replies.iter().filter_map(|r| r.message_id.as_deref()).collect();
    let mut messages = Map::new();
    if let (Some(uid), Some(user_message)) = (&user_id, user_message) {
        let mut m = user_message.clone();
        m.insert("childrenIds".into(), json!(reply_ids));
        messages.insert(uid.clone(), Value::Object(m));
    }
    for reply in replies {
        if let Some(id) = &reply.message_id {
            let mut m = placeholder(id, user_id.as_deref(), reply, &p.user.id, now);
            if reply.model_idx.is_none() {
                m.remove("modelIdx");
            }
            messages.insert(id.clone(), Value::Object(m));
        }
    }
    let content = user_message.and_then(|m| m.get("content")).cloned().unwrap_or(json!(""));
    let mut doc = json!({
        "id": chat_id,
        "title": "New Chat",
        "models": replies.iter().map(|r| r.model_id.clone()).collect::<Vec<_>>(),
        "history": {"currentId": reply_ids.first().map(|s| s.to_string()).or(user_id.clone()), "messages": messages},
        "messages": if user_id.is_some() { json!([{"role": "user", "content": content}]) } else { json!([]) },
        "files": files.filter(|f| !f.is_null()).unwrap_or_else(|| json!([])),
        "tags": [],
        "timestamp": now * 1000,
    });
    stamp_messages(&mut doc, &p.user);
    clean_nul(&mut doc);
    let title = title_of(&doc);
    let current = current_message_id(&doc);
    let text = search_text(&title, &doc);
    let write = ChatWrite {
        id: chat_id,
        user_id: &p.user.id,
        title: &title,
        chat: &doc,
        created_at: now,
        updated_at: now,
        archived: false,
        pinned: false,
        meta: &json!({}),
        variables: &json!({}),
        folder_id,
        current_message_id: current.as_deref(),
        last_read_at: Some(now),
        search_text: &text,
    };
    let mut tx = app.db.begin().await?;
    store::chats::insert(&mut tx, &write).await?;
    tx.commit().await
}

/// `insert_chat_turn`: the user message (new, or the stored one being answered again) and a
/// placeholder per reply, with the reference's checks and texts; the chat's `models` (and
/// `files`, when the request has them) follow the turn when the caller owns it.
pub async fn insert_turn(
    app: &App,
    p: &Principal,
    chat_id: &str,
    user_message: Option<&Map<String, Value>>,
    replies: &[Reply],
    files: Option<&Value>,
) -> AppResult<()> {
    let invalid = || AppError::conflict(ErrorCode::InvalidMessageId);
    if writable(app, p, chat_id).await?.is_none() {
        return Err(AppError::forbidden(ErrorCode::ChatContinuationNotAllowed));
    }
    let mut tx = app.db.begin().await?;
    let row = store::chats::get_for_update(&mut tx, chat_id)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::ChatNotFound))?;
    let owner = row.user_id == p.user.id;
    let mut doc = row.chat.0.clone();
    if !doc.is_object() {
        doc = json!({});
    }
    let mut history = doc.get("history").and_then(Value::as_object).cloned().unwrap_or_default();
    let messages = history.get("messages").and_then(Value::as_object).cloned().unwrap_or_default();
    let user_message_id = user_message.and_then(|m| m.get("id")).and_then(Value::as_str).map(str::to_string);
    let mut ids: Vec<Option<&str>> = replies.iter().map(|r| r.message_id.as_deref()).collect();
    if user_message.is_some() {
        ids.insert(0, user_message_id.as_deref());
    }
    let valid: Vec<&str> = ids.iter().flatten().copied().filter(|i| !i.is_empty()).collect();
    if valid.len() != ids.len() || valid.iter().collect::<std::collections::HashSet<_>>().len() != valid.len()
    {
        return Err(invalid());
    }
    let author = |m: &Value| m.get("user_id").and_then(Value::as_str).unwrap_or(&row.user_id).to_string();
    let truthy = |m: &Value, k: &str| crate::upstream::convert::truthy(m.get(k));
    for reply in replies {
        if let Some(existing) = reply.message_id.as_deref().and_then(|id| messages.get(id))
            && (existing.get("role").and_then(Value::as_str) != Some("assistant")
                || truthy(existing, "done")
                || truthy(existing, "content")
                || truthy(existing, "output")
                || author(existing) != p.user.id
                || (user_message.is_some()
                    && existing.get("parentId").and_then(Value::as_str) != user_message_id.as_deref()))
        {
            return Err(invalid());
        }
    }
    let now = store::now();
    if let (Some(user_message), Some(uid)) = (user_message, &user_message_id) {
        let existing = messages.get(uid);
        if existing.is_some_and(|e| e.get("role").and_then(Value::as_str) != Some("user")) {
            return Err(AppError::forbidden(ErrorCode::RegenerateUserMessagesOnly));
        }
        let parent = match existing {
            Some(e) => e.get("parentId").cloned(),
            None => user_message.get("parentId").cloned(),
        }
        .filter(|p| !p.is_null());
        if let Some(parent) = &parent
            && !parent.as_str().is_some_and(|p| messages.contains_key(p))
        {
            return Err(AppError::conflict(ErrorCode::ParentMessageGone));
        }
        let message = match existing.and_then(Value::as_object) {
            Some(e)
                if user_message.contains_key("models") && author(&Value::Object(e.clone())) == p.user.id =>
            {
                let mut m = e.clone();
                m.insert("models".into(), user_message.get("models").cloned().unwrap_or(Value::Null));
                m
            }
            Some(e) => e.clone(),
            None => {
                let mut m: Map<String, Value> = if owner {
                    user_message.clone()
                } else {
                    ["content", "files", "models"]
                        .iter()
                        .filter_map(|k| user_message.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect()
                };
                m.insert("id".into(), json!(uid));
                m.insert("parentId".into(), parent.clone().unwrap_or(Value::Null));
                m.insert("role".into(), json!("user"));
                m.insert("childrenIds".into(), json!([]));
                m.insert("timestamp".into(), json!(now));
                m.insert("user_id".into(), json!(p.user.id));
                m.insert("user".into(), json!({"id": p.user.id, "name": p.user.name}));
                m
            }
        };
        let mut message = Value::Object(message);
        clean_nul(&mut message);
        upsert(&mut history, uid, message.as_object().cloned().unwrap_or_default(), now);
    }
    for reply in replies {
        let id = reply.message_id.as_deref().unwrap_or_default();
        upsert(&mut history, id, placeholder(id, user_message_id.as_deref(), reply, &p.user.id, now), now);
    }
    doc["history"] = Value::Object(history);
    if owner {
        let models = user_message
            .and_then(|m| m.get("models"))
            .filter(|m| crate::upstream::convert::truthy(Some(m)))
            .cloned()
            .unwrap_or_else(|| json!(replies.iter().map(|r| r.model_id.clone()).collect::<Vec<_>>()));
        doc["models"] = models;
        if let Some(files) = files.filter(|f| !f.is_null()) {
            doc["files"] = files.clone();
        }
    }
    write_document(&mut tx, &row, &doc, now).await?;
    tx.commit().await
}

/// Merges `fields` into a stored message (the reply as it streams, then finished). A chat or
/// message deleted meanwhile is left alone: `false`.
pub async fn write_reply(
    db: &Db,
    chat_id: &str,
    message_id: &str,
    fields: Map<String, Value>,
) -> AppResult<bool> {
    let mut tx = db.begin().await?;
    let Some(row) = store::chats::get_for_update(&mut tx, chat_id).await? else { return Ok(false) };
    let mut doc = row.chat.0.clone();
    let Some(message) = doc
        .get_mut("history")
        .and_then(|h| h.get_mut("messages"))
        .and_then(|m| m.get_mut(message_id))
        .and_then(Value::as_object_mut)
    else {
        return Ok(false);
    };
    let mut fields = Value::Object(fields);
    clean_nul(&mut fields);
    message.extend(fields.as_object().cloned().unwrap_or_default());
    write_document(&mut tx, &row, &doc, store::now()).await?;
    tx.commit().await?;
    Ok(true)
}
