//! Pure helpers over the chat JSON document: authorship stamps, the current message, titles,
//! the models it lists, search text, the merge of an incoming document, and the message tree (children, removal,
//! newest leaf).

use serde_json::{Map, Value, json};

use crate::store;

pub(super) fn messages_mut(chat: &mut Value) -> Option<&mut Map<String, Value>> {
    chat.get_mut("history")?.get_mut("messages")?.as_object_mut()
}

/// Stamps every message with the author's id, and user messages with `{id, name}`.
pub(super) fn stamp_messages(chat: &mut Value, user: &store::users::User) {
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
pub(crate) fn current_message_id(chat: &Value) -> Option<String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    s(chat.get("history").and_then(|h| h.get("currentId")))
        .or_else(|| s(chat.get("currentId")))
        .or_else(|| s(chat.get("branchPointMessageId")))
        .or_else(|| {
            chat.get("messages").and_then(Value::as_array).and_then(|m| m.last()).and_then(|m| s(m.get("id")))
        })
}

pub(crate) fn title_of(chat: &Value) -> String {
    match chat.get("title").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => "New Chat".to_string(),
    }
}

/// The model ids a chat document lists (`chat.models`), in order, without repeats.
pub fn model_ids(chat: &Value) -> Vec<String> {
    chat.get("models").map(model_ids_in).unwrap_or_default()
}

/// The ids in a document's `models` value: its strings, in order, without repeats (anything but
/// a list holds none).
pub fn model_ids_in(models: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in models.as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// The texts of every message (history and legacy list).
pub(super) fn message_texts(chat: &Value) -> Vec<&str> {
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
pub(crate) fn search_text(title: &str, chat: &Value) -> String {
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
pub(super) fn merge(stored: Value, incoming: Map<String, Value>, caller_id: &str) -> Value {
    let mut out = match stored {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut new_history = None;
    for (key, value) in incoming {
        if key == "history" {
            new_history = Some(value);
        } else {
            out.insert(key, value);
        }
    }
    if let Some(new_history) = new_history {
        // Taken in place (`Value::take`), so every key keeps its position in the document.
        let mut old_history = out.get_mut("history").map(Value::take).unwrap_or(Value::Null);
        let mut messages = match old_history.get_mut("messages").map(Value::take) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut history = match new_history {
            Value::Object(h) => h,
            _ => Map::new(),
        };
        if let Some(Value::Object(new_messages)) = history.get_mut("messages").map(Value::take) {
            for (id, msg) in new_messages {
                let keep_stored = messages.get(&id).is_some_and(|old| {
                    old.get("user_id").and_then(Value::as_str).is_some_and(|u| u != caller_id)
                        || is_streaming(old)
                        || is_streaming(&msg)
                });
                if !keep_stored {
                    messages.insert(id, msg);
                }
            }
        }
        rebuild_children(&mut messages);
        let current = history
            .get("currentId")
            .and_then(Value::as_str)
            .filter(|c| messages.contains_key(*c))
            .or_else(|| {
                old_history.get("currentId").and_then(Value::as_str).filter(|c| messages.contains_key(*c))
            })
            .map(|c| json!(c))
            .unwrap_or(Value::Null);
        history.insert("messages".into(), Value::Object(messages));
        history.insert("currentId".into(), current);
        out.insert("history".into(), Value::Object(history));
    }
    Value::Object(out)
}

// ---- message tree ----

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
pub(super) fn remove_from_history(messages: &mut Map<String, Value>, message_id: &str) {
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
pub(super) fn newest_leaf(messages: &Map<String, Value>, parent: Option<&str>) -> Option<String> {
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
        let out = merge(stored.clone(), incoming.as_object().expect("object").clone(), "u");
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
        let out = merge(stored.clone(), incoming.as_object().expect("object").clone(), "u");
        assert_eq!(out["history"]["messages"]["a"]["content"], "partial");
        assert_eq!(out["history"]["messages"]["b"]["content"], "theirs");
        assert_eq!(out["history"]["currentId"], Value::Null);
    }

    #[test]
    fn model_ids_keep_order_and_drop_repeats_and_non_strings() {
        let doc = json!({"models": ["b", "a", "b", 3, null, "c"]});
        assert_eq!(model_ids(&doc), ["b", "a", "c"]);
        assert!(model_ids(&json!({"models": "a"})).is_empty());
        assert!(model_ids(&json!({})).is_empty());
        assert!(model_ids_in(&Value::Null).is_empty());
    }

    #[test]
    fn current_message() {
        assert_eq!(
            current_message_id(&json!({"messages": [{"id": "x"}, {"id": "y"}]})).as_deref(),
            Some("y")
        );
        assert_eq!(current_message_id(&json!({})), None);
    }
}
