//! A chat event (`service::events`) as the web app's socket receives it: the reference's `events`
//! payload `{"chat_id", "message_id", "data": {"type", "data"}}` (`get_event_emitter` in
//! `socket/main.py`, the event data of `utils/middleware.py` and `main.py`).
//!
//! | event | payloads |
//! |---|---|
//! | `Turn` | `chat:list` `{chat_id, folder_id}` |
//! | `Active` | `chat:active` `{active, folder_id}` |
//! | `Delta` | `chat:completion` `{content}` (the whole text so far) |
//! | `Done` | `chat:message:error` `{error: {content}, done: true}` when it failed, then `chat:completion` `{done: true, content, title, usage?}` |
//! | `Title` | `chat:title` with the title as its data |
//! | `Cancelled` | `chat:tasks:cancel` `{}`; the stopped reply's `Done` is not sent (the web app ends the reply itself) |
//!
//! A connection keeps what the events taught it about each chat (folder, title) for the
//! payloads that carry them.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::service::events::{ChatEvent, ChatEventKind};

/// The payloads of one connection's events.
#[derive(Debug, Default)]
pub struct Payloads {
    /// Per chat: its folder and title as last heard.
    folders: HashMap<String, Option<String>>,
    titles: HashMap<String, String>,
    /// Replies stopped, whose `Done` is not sent.
    cancelled: HashSet<String>,
}

/// One payload, and whether a newer one makes up for it if it cannot be sent (a reply's text).
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub value: Value,
    pub replaceable: bool,
}

fn envelope(event: &ChatEvent, kind: &str, data: Value) -> Value {
    json!({"chat_id": event.chat_id, "message_id": event.message_id, "data": {"type": kind, "data": data}})
}

impl Payloads {
    /// The payloads of `event`, in order.
    pub fn of(&mut self, event: &ChatEvent) -> Vec<Payload> {
        let chat = event.chat_id.clone();
        let message = event.message_id.clone().unwrap_or_default();
        if !matches!(event.kind, ChatEventKind::Cancelled | ChatEventKind::Done { .. }) {
            self.cancelled.remove(&message);
        }
        let fixed = |value| vec![Payload { value, replaceable: false }];
        match &event.kind {
            ChatEventKind::Turn { title, folder_id } => {
                self.folders.insert(chat.clone(), folder_id.clone());
                self.titles.insert(chat.clone(), title.clone());
                fixed(envelope(event, "chat:list", json!({"chat_id": chat, "folder_id": folder_id})))
            }
            ChatEventKind::Active { active } => {
                let folder_id = self.folders.get(&chat).cloned().flatten();
                fixed(envelope(event, "chat:active", json!({"active": active, "folder_id": folder_id})))
            }
            ChatEventKind::Delta { content, .. } => vec![Payload {
                value: envelope(event, "chat:completion", json!({"content": content})),
                replaceable: true,
            }],
            ChatEventKind::Done { content, usage, error } => {
                if self.cancelled.remove(&message) {
                    return Vec::new();
                }
                let mut out = Vec::new();
                if let Some(error) = error {
                    let data = json!({"error": {"content": error}, "done": true});
                    out.push(Payload {
                        value: envelope(event, "chat:message:error", data),
                        replaceable: false,
                    });
                }
                let title = self.titles.get(&chat).cloned().unwrap_or_default();
                let mut data = json!({"done": true, "content": content, "title": title});
                if let Some(usage) = usage {
                    data["usage"] = usage.clone();
                }
                out.push(Payload { value: envelope(event, "chat:completion", data), replaceable: false });
                out
            }
            ChatEventKind::Title { title } => {
                self.titles.insert(chat, title.clone());
                fixed(envelope(event, "chat:title", json!(title)))
            }
            ChatEventKind::Cancelled => {
                self.cancelled.insert(message);
                fixed(envelope(event, "chat:tasks:cancel", json!({})))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: ChatEventKind) -> ChatEvent {
        ChatEvent { user_id: "u".into(), chat_id: "c".into(), message_id: Some("m".into()), kind }
    }

    fn values(p: &mut Payloads, kind: ChatEventKind) -> Vec<Value> {
        p.of(&event(kind)).into_iter().map(|p| p.value).collect()
    }

    #[test]
    fn a_reply_is_the_reference_events() {
        let mut p = Payloads::default();
        let turn = ChatEventKind::Turn { title: "New Chat".into(), folder_id: Some("f".into()) };
        assert_eq!(
            values(&mut p, turn),
            [json!({"chat_id": "c", "message_id": "m",
                    "data": {"type": "chat:list", "data": {"chat_id": "c", "folder_id": "f"}}})]
        );
        assert_eq!(
            values(&mut p, ChatEventKind::Active { active: true }),
            [json!({"chat_id": "c", "message_id": "m",
                    "data": {"type": "chat:active", "data": {"active": true, "folder_id": "f"}}})]
        );
        let delta = p.of(&event(ChatEventKind::Delta { delta: "lo".into(), content: "Hello".into() }));
        assert_eq!(delta.len(), 1);
        assert!(delta[0].replaceable);
        assert_eq!(delta[0].value["data"], json!({"type": "chat:completion", "data": {"content": "Hello"}}));
        let done = ChatEventKind::Done {
            content: "Hello".into(),
            usage: Some(json!({"total_tokens": 3})),
            error: None,
        };
        assert_eq!(
            values(&mut p, done)[0]["data"],
            json!({"type": "chat:completion",
                   "data": {"done": true, "content": "Hello", "title": "New Chat", "usage": {"total_tokens": 3}}})
        );
        assert_eq!(
            values(&mut p, ChatEventKind::Title { title: "Hi".into() })[0]["data"],
            json!({"type": "chat:title", "data": "Hi"})
        );
    }

    #[test]
    fn a_failed_reply_sends_its_error_first() {
        let mut p = Payloads::default();
        let done = ChatEventKind::Done { content: String::new(), usage: None, error: Some("Boom".into()) };
        let out = values(&mut p, done);
        assert_eq!(
            out[0]["data"],
            json!({"type": "chat:message:error", "data": {"error": {"content": "Boom"}, "done": true}})
        );
        assert_eq!(
            out[1]["data"],
            json!({"type": "chat:completion", "data": {"done": true, "content": "", "title": ""}})
        );
    }

    #[test]
    fn a_stopped_reply_is_cancelled_without_its_done() {
        let mut p = Payloads::default();
        assert_eq!(
            values(&mut p, ChatEventKind::Cancelled)[0]["data"],
            json!({"type": "chat:tasks:cancel", "data": {}})
        );
        let done = || ChatEventKind::Done { content: "He".into(), usage: None, error: None };
        assert!(values(&mut p, done()).is_empty());
        // The next reply of the message is sent whole again.
        values(&mut p, ChatEventKind::Active { active: true });
        assert_eq!(values(&mut p, done()).len(), 1);
    }
}
