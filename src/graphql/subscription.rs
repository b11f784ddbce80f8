//! The `Subscription` root: a reply as it is written (`messageStream`) and what happens to a chat
//! (`chatEvents`), read from the event bus through `service::live`. Served over WebSocket
//! (`ws.rs`); each field tells the transport when it is listening (`Listening`).

use std::sync::Mutex;

use async_graphql::{Context, Enum, Json, SimpleObject, Subscription as SubscriptionRoot};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use serde_json::Value;
use tokio::sync::oneshot;

use super::error::Gql;
use super::types::{caller, state};
use crate::service::events::{ChatEvent as BusEvent, ChatEventKind as BusKind};
use crate::service::live::{self, ReplyEvent};

/// Every subscription field.
#[derive(Default)]
pub struct Subscription;

/// What a `MessageEvent` is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum MessageEventKind {
    /// More text of the reply.
    Delta,
    /// The finished, stored reply; the last event of the subscription.
    Done,
}

/// One event of a reply being written.
#[derive(SimpleObject, Debug)]
pub struct MessageEvent {
    pub kind: MessageEventKind,
    pub chat_id: String,
    pub message_id: String,
    /// `DELTA`: the text added since this subscription's previous event; the deltas of a
    /// subscription join to `content`.
    pub delta: Option<String>,
    /// The whole text so far; on `DONE` the text as stored.
    pub content: String,
    /// `DONE`: the provider's token usage, as stored on the message.
    pub usage: Option<Json<Value>>,
    /// `DONE`: the error the reply ended with, as stored on the message.
    pub error: Option<String>,
    /// Whether the reply is finished (`true` on `DONE`).
    pub done: bool,
}

impl MessageEvent {
    fn of(event: ReplyEvent, chat_id: &str, message_id: &str) -> MessageEvent {
        let (chat_id, message_id) = (chat_id.to_string(), message_id.to_string());
        match event {
            ReplyEvent::Delta { delta, content } => MessageEvent {
                kind: MessageEventKind::Delta,
                chat_id,
                message_id,
                delta: Some(delta),
                content,
                usage: None,
                error: None,
                done: false,
            },
            ReplyEvent::Done { content, usage, error } => MessageEvent {
                kind: MessageEventKind::Done,
                chat_id,
                message_id,
                delta: None,
                content,
                usage: usage.map(Json),
                error,
                done: true,
            },
        }
    }
}

/// What a `ChatEvent` is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ChatEventKind {
    /// A turn started (`active: true`) or ended (`active: false`, after its reply's `DONE`).
    Active,
    /// More text of a reply.
    Delta,
    /// A reply is finished and stored.
    Done,
    /// The chat's title changed.
    Title,
    /// A turn's messages were written (the user message and the reply placeholders): the chat's
    /// `title` and `folderId` then.
    Turn,
    /// A reply was stopped before its end; its `DONE` (with the text so far) follows.
    Cancelled,
    /// An event this schema has no kind for yet: `type` names it, `data` holds it.
    Other,
}

/// One event of a chat.
#[derive(SimpleObject, Debug)]
pub struct ChatEvent {
    pub kind: ChatEventKind,
    /// The event's name as published (`active`, `delta`, `done`, `title`, …).
    #[graphql(name = "type")]
    pub event_type: String,
    pub chat_id: String,
    /// The reply the event is about, when it is about one.
    pub message_id: Option<String>,
    /// `ACTIVE`: whether a turn is running.
    pub active: Option<bool>,
    /// `DELTA`: the text that arrived.
    pub delta: Option<String>,
    /// `DELTA`: the reply's whole text so far; `DONE`: its text as stored.
    pub content: Option<String>,
    /// `DONE`: the provider's token usage.
    pub usage: Option<Json<Value>>,
    /// `DONE`: the error the reply ended with.
    pub error: Option<String>,
    /// Whether the event finishes a reply (`true` on `DONE`).
    pub done: bool,
    /// `TITLE`: the new title; `TURN`: the chat's title.
    pub title: Option<String>,
    /// `TURN`: the folder the chat is in.
    pub folder_id: Option<String>,
    /// The event's fields as published (`{"type": …, …}`).
    pub data: Json<Value>,
}

impl ChatEvent {
    fn of(event: &BusEvent) -> ChatEvent {
        let data = serde_json::to_value(&event.kind).unwrap_or(Value::Null);
        let event_type = data.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut out = ChatEvent {
            kind: ChatEventKind::Other,
            event_type,
            chat_id: event.chat_id.clone(),
            message_id: event.message_id.clone(),
            active: None,
            delta: None,
            content: None,
            usage: None,
            error: None,
            done: false,
            title: None,
            folder_id: None,
            data: Json(data),
        };
        match &event.kind {
            BusKind::Active { active } => {
                out.kind = ChatEventKind::Active;
                out.active = Some(*active);
            }
            BusKind::Delta { delta, content } => {
                out.kind = ChatEventKind::Delta;
                out.delta = Some(delta.clone());
                out.content = Some(content.clone());
            }
            BusKind::Done { content, usage, error } => {
                out.kind = ChatEventKind::Done;
                out.content = Some(content.clone());
                out.usage = usage.clone().map(Json);
                out.error.clone_from(error);
                out.done = true;
            }
            BusKind::Title { title } => {
                out.kind = ChatEventKind::Title;
                out.title = Some(title.clone());
            }
            BusKind::Turn { title, folder_id } => {
                out.kind = ChatEventKind::Turn;
                out.title = Some(title.clone());
                out.folder_id.clone_from(folder_id);
            }
            BusKind::Cancelled => out.kind = ChatEventKind::Cancelled,
            // Kinds added to the bus later stay `OTHER` until they are named here.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        out
    }
}

/// Put on a subscription's request by the transport, which waits for it before it reads the
/// client's next message: a field fires it once it is listening, so an event published after
/// the client's next `ping` has been answered reaches the subscription.
pub struct Listening(Mutex<Option<oneshot::Sender<()>>>);

impl Listening {
    /// The signal and what hears it (`Err` when the request ended without listening).
    pub fn new() -> (Listening, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Listening(Mutex::new(Some(tx))), rx)
    }

    fn fire(&self) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(());
        }
    }
}

fn listening(ctx: &Context<'_>) {
    if let Some(l) = ctx.data_opt::<Listening>() {
        l.fire();
    }
}

#[SubscriptionRoot]
impl Subscription {
    /// Reply `messageId` of chat `chatId` as it is written: first what is stored already (the
    /// finished reply as `DONE`, or its text so far as one `DELTA`), then each piece of text
    /// (`DELTA`), then the finished reply (`DONE`), after which the subscription completes. The
    /// caller must be allowed to read the chat, as for `GET /chats/{id}`: another user's chat
    /// fails with `NOT_FOUND`.
    async fn message_stream(
        &self,
        ctx: &Context<'_>,
        chat_id: String,
        message_id: String,
    ) -> async_graphql::Result<BoxStream<'static, MessageEvent>> {
        let reply = live::reply(state(ctx), caller(ctx), &chat_id, &message_id).await.gql()?;
        listening(ctx);
        Ok(stream::unfold(reply, move |mut reply| {
            let (chat_id, message_id) = (chat_id.clone(), message_id.clone());
            async move {
                let event = reply.next().await?;
                Some((MessageEvent::of(event, &chat_id, &message_id), reply))
            }
        })
        .boxed())
    }

    /// Everything that happens to chat `chatId` from now on, on any instance: turns starting and
    /// ending (`ACTIVE`), its messages written (`TURN`), the text of replies (`DELTA`), replies
    /// stopped (`CANCELLED`) and finished (`DONE`), titles (`TITLE`). Runs until the client
    /// completes it. Access as `messageStream`.
    async fn chat_events(
        &self,
        ctx: &Context<'_>,
        chat_id: String,
    ) -> async_graphql::Result<BoxStream<'static, ChatEvent>> {
        let events = live::chat(state(ctx), caller(ctx), &chat_id).await.gql()?;
        listening(ctx);
        Ok(stream::unfold(events, |mut events| async move {
            let event = events.next().await?;
            Some((ChatEvent::of(&event), events))
        })
        .boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: BusKind) -> ChatEvent {
        ChatEvent::of(&BusEvent {
            user_id: "u".into(),
            chat_id: "c".into(),
            message_id: Some("m".into()),
            kind,
        })
    }

    #[test]
    fn every_bus_event_has_its_kind_and_fields() {
        let turn = event(BusKind::Turn { title: "New Chat".into(), folder_id: Some("f".into()) });
        assert_eq!((turn.kind, turn.event_type.as_str()), (ChatEventKind::Turn, "turn"));
        assert_eq!((turn.title.as_deref(), turn.folder_id.as_deref()), (Some("New Chat"), Some("f")));
        let cancelled = event(BusKind::Cancelled);
        assert_eq!((cancelled.kind, cancelled.event_type.as_str()), (ChatEventKind::Cancelled, "cancelled"));
        let done = event(BusKind::Done {
            content: "Hi".into(),
            usage: Some(json!({"total_tokens": 3})),
            error: None,
        });
        assert_eq!((done.kind, done.done, done.content.as_deref()), (ChatEventKind::Done, true, Some("Hi")));
        assert_eq!(
            done.data.0,
            json!({"type": "done", "content": "Hi", "usage": {"total_tokens": 3}, "error": null})
        );
        let active = event(BusKind::Active { active: false });
        assert_eq!(
            (active.kind, active.active, active.message_id.as_deref()),
            (ChatEventKind::Active, Some(false), Some("m"))
        );
        let title = event(BusKind::Title { title: "T".into() });
        assert_eq!((title.kind, title.title.as_deref()), (ChatEventKind::Title, Some("T")));
        let delta = event(BusKind::Delta { delta: "!".into(), content: "Hi!".into() });
        assert_eq!(
            (delta.kind, delta.delta.as_deref(), delta.content.as_deref()),
            (ChatEventKind::Delta, Some("!"), Some("Hi!"))
        );
    }
}
