//! What happens to a chat while a turn runs — the reply growing, the reply finished, a title, the
//! turn starting and ending — published on the deployment's bus (`App::events`) so that every
//! listener sees it on whichever instance it is connected to: GraphQL subscriptions, the web app's
//! socket. Listening to a chat needs the right to read it, as `GET /chats/{id}` checks.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;

/// One event of a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEvent {
    /// Who ran the turn (the web app's `user:{id}` room).
    pub user_id: String,
    pub chat_id: String,
    /// The assistant message the event is about, when it is about one.
    pub message_id: Option<String>,
    pub kind: ChatEventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEventKind {
    /// A turn began or ended (`active: false` comes after the reply's `Done`).
    Active { active: bool },
    /// New text of the reply: `delta` is what arrived, `content` the whole text so far.
    Delta { delta: String, content: String },
    /// The reply is finished and stored: its whole text, the provider's usage and any error.
    Done { content: String, usage: Option<Value>, error: Option<String> },
    /// The chat's title changed.
    Title { title: String },
    /// A turn's messages were written to the chat (the user message and the reply placeholders):
    /// the chat's current title and folder, so that a chat list can place it.
    Turn { title: String, folder_id: Option<String> },
    /// The reply was stopped before its end; its `Done` (with the text so far) follows.
    Cancelled,
}

/// A chat's events, for a listener allowed to read the chat.
pub struct ChatEvents {
    chat_id: String,
    message_id: Option<String>,
    events: broadcast::Receiver<Arc<ChatEvent>>,
}

impl ChatEvents {
    /// The next event; `None` once the bus is gone. Events a slow listener missed are skipped
    /// (each `Delta` carries the whole text, so the next one makes up for those lost).
    pub async fn next(&mut self) -> Option<Arc<ChatEvent>> {
        loop {
            match self.events.recv().await {
                Ok(event) => {
                    let wanted = event.chat_id == self.chat_id
                        && self.message_id.as_ref().is_none_or(|m| event.message_id.as_ref() == Some(m));
                    if wanted {
                        return Some(event);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, chat_id = %self.chat_id, "a chat listener fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Events of chat `chat_id` (of one reply when `message_id` is given) from now on. The caller
/// must be allowed to read the chat (the same rule and answer as `GET /chats/{id}`).
pub async fn chat_events(
    app: &App,
    caller: &Caller,
    chat_id: &str,
    message_id: Option<&str>,
) -> AppResult<ChatEvents> {
    // Subscribed before the check, so nothing published in between is missed.
    let events = app.events.subscribe();
    crate::service::chats::get(app, caller, chat_id).await?;
    Ok(ChatEvents { chat_id: chat_id.to_string(), message_id: message_id.map(str::to_string), events })
}

/// Every chat event of turns run by user `user_id` (a signed-in connection's own events).
pub fn user_events(app: &App, user_id: &str) -> UserEvents {
    UserEvents { user_id: user_id.to_string(), events: app.events.subscribe() }
}

/// The events of one user's turns.
pub struct UserEvents {
    user_id: String,
    events: broadcast::Receiver<Arc<ChatEvent>>,
}

impl UserEvents {
    /// The next event; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Arc<ChatEvent>> {
        loop {
            match self.events.recv().await {
                Ok(event) if event.user_id == self.user_id => return Some(event),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, user_id = %self.user_id, "a user's event listener fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Publishes an event.
pub fn publish(app: &App, event: ChatEvent) {
    app.events.publish(event);
}
