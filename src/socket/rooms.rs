//! `events:chat` (`socket/main.py` `chat_events`): following a chat (`join` / `leave` of its
//! room `chat:{id}`) and marking it read (`last_read_at`).
//!
//! A connection that joins a chat it may read (the rule of `GET /chats/{id}`) hears the replies
//! that other users run in it — an admin reading a user's chat, a reader of a shared folder or of
//! a share in `continue` mode — as the reference's shared copies: `{"chat_id", "message_id",
//! "user_id", "shared": true, "data"}` with `chat:active`, `chat:message:error`,
//! `chat:tasks:cancel` and `chat:completion` (its `done`, `error`, `usage`, `content`). Its own
//! replies it hears through `user:{id}` already. The events come over the deployment's bus, so a
//! reply on any instance reaches the room's connections.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use socketioxide::extract::SocketRef;
use tokio::task::JoinHandle;

use super::payload::Payloads;
use crate::app::AppState;
use crate::auth::Principal;
use crate::service::events::ChatEvents;
use crate::service::webapp::socket as svc;

/// The chats one connection follows, each with the task forwarding others' replies in it.
#[derive(Default)]
pub struct Rooms {
    followed: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Rooms {
    fn followed(&self) -> std::sync::MutexGuard<'_, HashMap<String, JoinHandle<()>>> {
        self.followed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops following every chat (the connection closed or signed in as someone else).
    pub fn leave_all(&self, socket: &SocketRef) {
        for (chat_id, forward) in self.followed().drain() {
            forward.abort();
            socket.leave(room(&chat_id));
        }
    }

    fn leave(&self, socket: &SocketRef, chat_id: &str) {
        if let Some(forward) = self.followed().remove(chat_id) {
            forward.abort();
        }
        socket.leave(room(chat_id));
    }

    fn join(&self, socket: &SocketRef, p: &Principal, chat_id: &str, events: ChatEvents) {
        socket.join(room(chat_id));
        let forward = tokio::spawn(forward_shared(socket.clone(), p.id().to_string(), events));
        if let Some(old) = self.followed().insert(chat_id.to_string(), forward) {
            old.abort();
        }
    }
}

fn room(chat_id: &str) -> String {
    format!("chat:{chat_id}")
}

/// The answer to one `events:chat` message of signed-in `p` (the acknowledgement's value; `None`
/// acknowledges without one, as the reference's handlers that return nothing).
pub async fn chat_event(
    state: &AppState,
    rooms: &Rooms,
    socket: &SocketRef,
    p: &Principal,
    data: &Value,
) -> Option<Value> {
    let kind = data.get("data").and_then(|d| d.get("type")).and_then(Value::as_str)?;
    let chat_id = data.get("chat_id").and_then(Value::as_str);
    match kind {
        "join" | "leave" => {
            let Some(chat_id) = chat_id.filter(|id| svc::is_saved_chat(id)) else {
                return Some(json!(false));
            };
            if kind == "leave" {
                rooms.leave(socket, chat_id);
                return Some(json!(true));
            }
            match svc::follow_chat(state, p, chat_id).await {
                Some(events) => {
                    rooms.join(socket, p, chat_id, events);
                    Some(json!(true))
                }
                None => Some(json!(false)),
            }
        }
        "last_read_at" => {
            let read = svc::mark_read(state, p, chat_id?).await?;
            let chat_id = read.chat_id.clone();
            let event = json!({"chat_id": chat_id, "data": {"type": "chat:list", "data": read}});
            // Every connection of the user on this instance, this one included.
            let _ = socket.within(format!("user:{}", p.id())).emit("events", &event).await;
            None
        }
        // Typing is not passed on by duet.
        "typing" => Some(json!(false)),
        _ => None,
    }
}

/// Sends the replies other users run in the followed chat to the connection, as shared copies.
async fn forward_shared(socket: SocketRef, me: String, mut events: ChatEvents) {
    let mut payloads = Payloads::default();
    while let Some(event) = events.next().await {
        if event.user_id == me {
            continue;
        }
        for payload in payloads.of(&event) {
            let Some(value) = shared(&payload.value, &event.user_id) else { continue };
            if !super::send(&socket, &value, payload.replaceable).await {
                return;
            }
        }
    }
}

/// The shared copy of an `events` payload for the chat's room, or `None` for a payload only the
/// user's own connections get (`chat:list`, `chat:title`).
pub fn shared(value: &Value, user_id: &str) -> Option<Value> {
    const COMPLETION_KEYS: [&str; 7] =
        ["done", "error", "usage", "finish_reason", "content", "selected_model_id", "sources"];
    let kind = value["data"]["type"].as_str()?;
    let data = match kind {
        "chat:active" | "chat:message:error" | "chat:tasks:cancel" => value["data"].clone(),
        "chat:completion" => {
            let fields = value["data"]["data"].as_object()?;
            let kept: serde_json::Map<String, Value> = fields
                .iter()
                .filter(|(k, _)| COMPLETION_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            json!({"type": "chat:completion", "data": kept})
        }
        _ => return None,
    };
    Some(json!({
        "chat_id": value["chat_id"],
        "message_id": value["message_id"],
        "user_id": user_id,
        "shared": true,
        "data": data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_copies_are_the_reference_fields() {
        let done = json!({"chat_id": "c", "message_id": "m",
                          "data": {"type": "chat:completion", "data": {"done": true, "content": "Hi", "title": "T"}}});
        assert_eq!(
            shared(&done, "u"),
            Some(json!({"chat_id": "c", "message_id": "m", "user_id": "u", "shared": true,
                        "data": {"type": "chat:completion", "data": {"done": true, "content": "Hi"}}}))
        );
        let active = json!({"chat_id": "c", "message_id": "m",
                            "data": {"type": "chat:active", "data": {"active": true, "folder_id": null}}});
        assert_eq!(shared(&active, "u").expect("shared")["data"], active["data"]);
        for kind in ["chat:list", "chat:title"] {
            let v = json!({"chat_id": "c", "message_id": "m", "data": {"type": kind, "data": {}}});
            assert_eq!(shared(&v, "u"), None, "{kind}");
        }
    }
}
