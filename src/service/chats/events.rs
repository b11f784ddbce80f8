//! `POST /chats/{id}/messages/{message_id}/event`: an event for one message's listeners. The
//! reference emits it over socket.io and stores what some event types carry into the message;
//! duet stores the same (`status` → `statusHistory`, `message` appends to `content`, `replace`
//! sets it, `embeds`, `files`, `source`/`citation` → `sources`) and has no listener to emit to yet.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{admin_access, document, store_document};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Loc, Source};
use crate::store;

/// `EventForm`: the event's type and its data.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = EventForm)]
pub struct EventForm {
    #[schema(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl EventForm {
    /// The form read from a JSON body, or the 422 of its field errors.
    pub fn from_json(body: &Value) -> AppResult<EventForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let kind = f.string(map, Loc::root(), "type");
        let data = f.object(map, Loc::root(), "data");
        f.finish()?;
        Ok(EventForm { kind: kind.unwrap_or_default(), data: data.unwrap_or_default() })
    }
}

/// What an event changes in its message: fields to upsert, and whether the chat's `updated_at`
/// moves.
enum Change {
    None,
    /// Appended to `statusHistory` of an existing message.
    Status(Value),
    Upsert(Map<String, Value>, bool),
}

fn list_of(message: Option<&Map<String, Value>>, key: &str) -> Vec<Value> {
    message.and_then(|m| m.get(key)).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The change `event` makes to `message` (absent when the chat has no such message); `None`
/// when the event cannot be applied (the reference answers `false` then).
fn change_of(event: &EventForm, message: Option<&Map<String, Value>>) -> Option<Change> {
    let data = &event.data;
    let field = |k: &str, v: Value| Map::from_iter([(k.to_string(), v)]);
    Some(match event.kind.as_str() {
        "status" if message.is_some() => Change::Status(Value::Object(data.clone())),
        "message" => {
            let Some(m) = message.filter(|m| !m.is_empty()) else { return Some(Change::None) };
            let (Some(old), Some(add)) = (
                m.get("content").map_or(Some(""), Value::as_str),
                data.get("content").map_or(Some(""), Value::as_str),
            ) else {
                return None;
            };
            Change::Upsert(field("content", json!(format!("{old}{add}"))), true)
        }
        "replace" => {
            Change::Upsert(field("content", data.get("content").cloned().unwrap_or(json!(""))), true)
        }
        "embeds" => {
            let mut embeds = data.get("embeds").and_then(Value::as_array).cloned().unwrap_or_default();
            if !data.get("replace").is_some_and(truthy) {
                embeds.extend(list_of(message, "embeds"));
            }
            Change::Upsert(field("embeds", Value::Array(embeds)), false)
        }
        "files" => {
            let mut files = data.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
            files.extend(list_of(message, "files"));
            Change::Upsert(field("files", Value::Array(files)), false)
        }
        "source" | "citation" if data.get("type").is_none_or(Value::is_null) => {
            let mut sources = list_of(message, "sources");
            sources.push(Value::Object(data.clone()));
            Change::Upsert(field("sources", Value::Array(sources)), false)
        }
        _ => Change::None,
    })
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The role a new message takes: after a user message an assistant's, after an assistant's a
/// user's, otherwise an assistant's (as the reference guesses).
fn guessed_role(messages: &Map<String, Value>, parent: Option<&str>) -> &'static str {
    match parent.and_then(|p| messages.get(p)).and_then(|m| m.get("role")).and_then(Value::as_str) {
        Some("assistant") => "user",
        _ => "assistant",
    }
}

/// Writes `fields` into message `id` of `history`, creating the message (a child of the message
/// listing it, current) when the chat has none by that id.
fn upsert(history: &mut Map<String, Value>, id: &str, fields: Map<String, Value>) {
    let messages = history.entry("messages").or_insert_with(|| json!({}));
    if !messages.is_object() {
        *messages = json!({});
    }
    let Some(messages) = messages.as_object_mut() else { return };
    if let Some(existing) = messages.get_mut(id).and_then(Value::as_object_mut) {
        existing.extend(fields);
        return;
    }
    let parent = messages
        .iter()
        .find(|(_, m)| {
            m.get("childrenIds").and_then(Value::as_array).is_some_and(|c| c.iter().any(|c| c == id))
        })
        .map(|(pid, _)| pid.clone());
    let role = guessed_role(messages, parent.as_deref());
    let mut message = fields;
    message.insert("id".into(), json!(id));
    message.insert("parentId".into(), parent.as_ref().map_or(Value::Null, |p| json!(p)));
    message.insert("childrenIds".into(), json!([]));
    message.insert("role".into(), json!(role));
    message.insert("timestamp".into(), json!(store::now()));
    messages.insert(id.to_string(), Value::Object(message));
    history.insert("currentId".into(), json!(id));
}

/// `POST /chats/{id}/messages/{message_id}/event`: the owner, or an admin with admin chat access
/// (401 `ACCESS_PROHIBITED` otherwise and for unknown chats). Stores what the event carries under
/// a row lock; `true` once handled, `false` when the event does not fit the message (the
/// reference's failed emit).
pub async fn message_event(
    app: &App,
    caller: &Caller,
    id: &str,
    message_id: &str,
    event: EventForm,
) -> AppResult<bool> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = match store::chats::get_for_update(&mut tx, id).await? {
        Some(row) if row.user_id == p.user.id || admin_access(app, p) => row,
        _ => return Err(AppError::unauthorized(ErrorCode::AccessProhibited)),
    };
    let mut doc = row.chat.0.clone();
    let message = document::messages_mut(&mut doc).and_then(|m| m.get(message_id)).and_then(Value::as_object);
    let Some(change) = change_of(&event, message) else { return Ok(false) };
    let touch = match change {
        Change::None => return Ok(true),
        Change::Status(status) => {
            let Some(m) = document::messages_mut(&mut doc)
                .and_then(|m| m.get_mut(message_id))
                .and_then(Value::as_object_mut)
            else {
                return Ok(true);
            };
            let history = m.entry("statusHistory").or_insert_with(|| json!([]));
            let Some(list) = history.as_array_mut() else { return Ok(true) };
            list.push(status);
            false
        }
        Change::Upsert(fields, touch) => {
            let Some(obj) = doc.as_object_mut() else { return Ok(false) };
            let history = obj.entry("history").or_insert_with(|| json!({}));
            if !history.is_object() {
                *history = json!({});
            }
            let Some(history) = history.as_object_mut() else { return Ok(false) };
            upsert(history, message_id, fields);
            touch
        }
    };
    let variables = row.variables.as_ref().map(|v| v.0.clone()).unwrap_or_else(|| json!({}));
    let updated_at = if touch { store::now() } else { row.updated_at };
    store_document(&mut tx, &row, &doc, &variables, updated_at).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> EventForm {
        EventForm { kind: kind.into(), data: data.as_object().cloned().expect("object") }
    }

    #[test]
    fn message_events_append_and_replace_content() {
        let m = json!({"content": "Hel"});
        let m = m.as_object();
        let Some(Change::Upsert(f, true)) = change_of(&event("message", json!({"content": "lo"})), m) else {
            panic!("upsert")
        };
        assert_eq!(f["content"], "Hello");
        let Some(Change::Upsert(f, true)) = change_of(&event("replace", json!({"content": "X"})), m) else {
            panic!("upsert")
        };
        assert_eq!(f["content"], "X");
        assert!(matches!(change_of(&event("message", json!({"content": "x"})), None), Some(Change::None)));
        assert!(change_of(&event("message", json!({"content": 5})), m).is_none());
    }

    #[test]
    fn lists_put_the_new_items_first_and_sources_last() {
        let m = json!({"files": [{"id": "old"}], "sources": [{"n": 1}], "embeds": ["e0"]});
        let m = m.as_object();
        let Some(Change::Upsert(f, false)) = change_of(&event("files", json!({"files": [{"id": "new"}]})), m)
        else {
            panic!("upsert")
        };
        assert_eq!(f["files"], json!([{"id": "new"}, {"id": "old"}]));
        let Some(Change::Upsert(f, false)) = change_of(&event("citation", json!({"n": 2})), m) else {
            panic!("upsert")
        };
        assert_eq!(f["sources"], json!([{"n": 1}, {"n": 2}]));
        let Some(Change::Upsert(f, _)) =
            change_of(&event("embeds", json!({"embeds": ["e1"], "replace": true})), m)
        else {
            panic!("upsert")
        };
        assert_eq!(f["embeds"], json!(["e1"]));
        assert!(matches!(change_of(&event("source", json!({"type": "x"})), m), Some(Change::None)));
    }

    #[test]
    fn an_upsert_creates_a_missing_message_as_the_current_reply() {
        let mut h =
            json!({"messages": {"u": {"id": "u", "role": "user", "childrenIds": ["r"]}}, "currentId": "u"})
                .as_object()
                .cloned()
                .expect("object");
        upsert(&mut h, "r", Map::from_iter([("content".to_string(), json!("hi"))]));
        assert_eq!(h["currentId"], "r");
        assert_eq!(h["messages"]["r"]["parentId"], "u");
        assert_eq!(h["messages"]["r"]["role"], "assistant");
        assert_eq!(h["messages"]["r"]["content"], "hi");
    }
}
