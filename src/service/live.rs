//! Live views of a chat for subscribers (the GraphQL subscriptions): one reply followed from what
//! is stored so far to its end, and everything that happens to a chat. Both need the right to read
//! the chat (the rule and answer of `GET /chats/{id}`), and both start once the event bus reaches
//! every instance, so that an event published anywhere after the start is seen.

use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::events::{self, ChatEventKind, ChatEvents};

/// The longest a subscription waits for the bus to reach the other instances (Redis being
/// reconnected) before it starts with this instance's events only.
const LINK_WAIT: Duration = Duration::from_secs(3);

/// What a reply's subscriber sees.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyEvent {
    /// New text: `delta` is what this subscriber has not seen yet (so the deltas join to
    /// `content`), `content` the whole text so far.
    Delta { delta: String, content: String },
    /// The reply is finished and stored: its whole text, the provider's usage and any error.
    Done { content: String, usage: Option<Value>, error: Option<String> },
}

/// One reply, from what is stored when the subscription starts to its end.
pub struct Reply {
    events: ChatEvents,
    /// The text the subscriber has been given.
    seen: String,
    /// The stored state, given first.
    first: Option<ReplyEvent>,
    ended: bool,
}

impl Reply {
    /// The next event; `None` after `Done` (or once the bus is gone).
    pub async fn next(&mut self) -> Option<ReplyEvent> {
        if let Some(first) = self.first.take() {
            self.ended = matches!(first, ReplyEvent::Done { .. });
            return Some(first);
        }
        if self.ended {
            return None;
        }
        loop {
            let event = self.events.next().await?;
            match &event.kind {
                ChatEventKind::Delta { content, .. } => {
                    if let Some(delta) = unseen(&self.seen, content) {
                        self.seen.clone_from(content);
                        return Some(ReplyEvent::Delta { delta, content: content.clone() });
                    }
                }
                ChatEventKind::Done { content, usage, error } => {
                    self.ended = true;
                    return Some(ReplyEvent::Done {
                        content: content.clone(),
                        usage: usage.clone(),
                        error: error.clone(),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Reply `message_id` of chat `chat_id`. The first event is what is stored already: the whole
/// reply when it is finished (`Done`, and nothing after it), else its text so far as one `Delta`
/// (none while it is empty or not written yet); then what arrives, ending with `Done`. A message
/// stored without `done: false` counts as finished.
pub async fn reply(app: &App, caller: &Caller, chat_id: &str, message_id: &str) -> AppResult<Reply> {
    let events = events::chat_events(app, caller, chat_id, Some(message_id)).await?;
    linked(app).await;
    // Read after subscribing: what is written meanwhile is both stored and on the bus, and
    // `unseen` gives it once.
    let chat = crate::service::chats::get(app, caller, chat_id).await?;
    let stored = chat.chat.get("history").and_then(|h| h.get("messages")).and_then(|m| m.get(message_id));
    let (first, seen) = match stored {
        None => (None, String::new()),
        Some(message) => {
            let content = message.get("content").and_then(Value::as_str).unwrap_or_default().to_string();
            if message.get("done") == Some(&Value::Bool(false)) {
                let first = (!content.is_empty())
                    .then(|| ReplyEvent::Delta { delta: content.clone(), content: content.clone() });
                (first, content)
            } else {
                let usage = message.get("usage").filter(|u| !u.is_null()).cloned();
                let error = message.get("error").and_then(error_text);
                (Some(ReplyEvent::Done { content: content.clone(), usage, error }), content)
            }
        }
    };
    Ok(Reply { events, seen, first, ended: false })
}

/// Every event of chat `chat_id` from now on (`service::events::chat_events`, once the bus is
/// linked).
pub async fn chat(app: &App, caller: &Caller, chat_id: &str) -> AppResult<ChatEvents> {
    let events = events::chat_events(app, caller, chat_id, None).await?;
    linked(app).await;
    Ok(events)
}

/// Waits (at most `LINK_WAIT`) until the bus reaches every instance.
async fn linked(app: &App) {
    let mut link = app.events.linked();
    let linked = tokio::time::timeout(LINK_WAIT, link.wait_for(|l| *l)).await.is_ok_and(|r| r.is_ok());
    if !linked {
        tracing::warn!(
            "the event bus does not reach the other instances; a subscription starts with this one's events"
        );
    }
}

/// The text of `content` that a subscriber who has seen `seen` lacks; `None` when nothing is new.
/// The text of a reply only grows, so a shorter one is an event already covered (a late copy, or
/// text the stored state held); a text that does not continue `seen` replaces it and is given whole.
fn unseen(seen: &str, content: &str) -> Option<String> {
    match content.strip_prefix(seen) {
        Some("") => None,
        Some(rest) => Some(rest.to_string()),
        None if seen.starts_with(content) => None,
        None => Some(content.to_string()),
    }
}

/// A stored reply's error: `{"content": text}` as the reference stores it, or a plain text.
fn error_text(error: &Value) -> Option<String> {
    match error {
        Value::Null | Value::Bool(false) => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => match map.get("content") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => Some(error.to_string()),
        },
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unseen_text_is_what_extends_the_seen_text() {
        assert_eq!(unseen("", "Hello"), Some("Hello".into()));
        assert_eq!(unseen("Hello", "Hello world"), Some(" world".into()));
        assert_eq!(unseen("Hello world", "Hello world"), None);
        assert_eq!(unseen("Hello world", "Hello"), None, "a late event is already covered");
        assert_eq!(unseen("Hello", "Bye"), Some("Bye".into()), "a replaced text is given whole");
        assert_eq!(unseen("héllo", "héllo wörld"), Some(" wörld".into()));
    }

    #[test]
    fn stored_errors_read_as_the_reference_stores_them() {
        assert_eq!(
            error_text(&json!({"content": "Chat completion stream failed"})).as_deref(),
            Some("Chat completion stream failed")
        );
        assert_eq!(error_text(&json!("plain")).as_deref(), Some("plain"));
        assert_eq!(error_text(&Value::Null), None);
        assert_eq!(error_text(&json!({"code": 1})).as_deref(), Some(r#"{"code":1}"#));
    }
}
