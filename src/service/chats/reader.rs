//! What a reader other than a chat's owner sees of it (the reference's `shared_chat_response`):
//! no variables, params or tool settings, no `meta` of messages they did not write, and every
//! user message names its author (`user: {id, name}`), looked up when the message does not say.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::view::ChatView;
use crate::error::AppResult;
use crate::store::{self, Db};

/// Keys of the chat document only its owner sees.
const OWNER_KEYS: [&str; 5] = ["params", "tool_servers", "tool_ids", "filter_ids", "variables"];

/// Calls `f` on every message of the document: `history.messages` and the legacy list.
pub(super) fn each_message(doc: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(messages) = super::document::messages_mut(doc) {
        messages.values_mut().filter_map(Value::as_object_mut).for_each(&mut f);
    }
    if let Some(list) = doc.get_mut("messages").and_then(Value::as_array_mut) {
        list.iter_mut().filter_map(Value::as_object_mut).for_each(&mut f);
    }
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn is_user_message(m: &Map<String, Value>) -> bool {
    m.get("role").and_then(Value::as_str) == Some("user")
}

/// The reader's view of `view` (a chat or a share snapshot owned by `view.user_id`); `reader` is
/// the signed-in reader's id, `None` for an anonymous one.
pub(super) async fn for_reader(db: &Db, view: &mut ChatView, reader: Option<&str>) -> AppResult<()> {
    let owner = view.user_id.clone();
    if reader != Some(owner.as_str()) {
        view.variables = json!({});
        if let Some(doc) = view.chat.as_object_mut() {
            for key in OWNER_KEYS {
                doc.shift_remove(key);
            }
        }
    }
    let mut authors: HashMap<String, Value> = HashMap::new();
    let mut wanted: Vec<String> = Vec::new();
    each_message(&mut view.chat, |m| {
        if is_user_message(m) {
            let author = m.get("user").and_then(Value::as_object);
            let author_id = text(m, "user_id")
                .or_else(|| author.and_then(|a| text(a, "id")))
                .unwrap_or(&owner)
                .to_string();
            if let Some(a) = author
                && text(a, "id") == Some(author_id.as_str())
                && let Some(name) = text(a, "name")
            {
                authors.insert(author_id.clone(), json!({"id": author_id, "name": name}));
            }
            m.insert("user_id".into(), json!(author_id));
            wanted.push(author_id);
        }
        let writer = text(m, "user_id").unwrap_or(&owner);
        if reader != Some(writer) {
            m.shift_remove("meta");
        }
    });
    wanted.retain(|id| !authors.contains_key(id));
    wanted.sort();
    wanted.dedup();
    if !wanted.is_empty() {
        for user in store::users::get_many(db, &wanted).await? {
            authors.insert(user.id.clone(), json!({"id": user.id, "name": user.name}));
        }
    }
    each_message(&mut view.chat, |m| {
        if is_user_message(m) {
            let id = text(m, "user_id").unwrap_or_default().to_string();
            let author = authors.get(&id).cloned().unwrap_or_else(|| json!({"id": id, "name": ""}));
            m.insert("user".into(), author);
        }
    });
    Ok(())
}

/// Gives the messages the chat's owner wrote to `new_owner` (a copy of someone else's chat).
pub(super) fn reattribute(doc: &mut Value, owner: &str, new_owner: &store::users::User) {
    each_message(doc, |m| {
        if text(m, "user_id").unwrap_or(owner) == owner {
            m.insert("user_id".into(), json!(new_owner.id));
            if is_user_message(m) {
                m.insert("user".into(), json!({"id": new_owner.id, "name": new_owner.name}));
            }
        }
    });
}
