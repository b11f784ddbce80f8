//! What a completion answers, for the adapters to render: the provider's JSON, the provider's
//! refusal passed on (its status, `Retry-After` and body), or a stream of SSE bytes (fed by the
//! turn's task, or read from the provider by the response itself); and the request shape for the
//! API document.

use std::task::{Context, Poll};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use utoipa::ToSchema;

pub use crate::upstream::chat::Body;

/// A streamed answer: its status and headers, and its bytes as they come. Dropping `chunks`
/// tells the turn the client has gone (or closes the provider's connection).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Chunks,
}

/// The bytes of a streamed answer: from the turn's task over a channel, or read from the
/// provider by whoever polls (an unsaved OpenAI-compatible stream, `super::direct`).
#[derive(Debug)]
pub struct Chunks(Source);

#[derive(Debug)]
enum Source {
    Channel(mpsc::Receiver<Bytes>),
    Direct(Box<super::direct::Direct>),
}

impl Chunks {
    pub(super) fn channel(rx: mpsc::Receiver<Bytes>) -> Chunks {
        Chunks(Source::Channel(rx))
    }

    pub(super) fn direct(d: super::direct::Direct) -> Chunks {
        Chunks(Source::Direct(Box::new(d)))
    }

    /// The bytes that have arrived (`Pending`: none yet, `cx` is woken), `None` at the end.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        match &mut self.0 {
            Source::Channel(rx) => rx.poll_recv(cx),
            Source::Direct(d) => d.poll_next(cx),
        }
    }
}

/// The answer of a completion.
#[derive(Debug)]
pub enum Completion {
    /// 200 with this body (a `chat.completion`, or what the provider answered).
    Json(Value),
    /// The provider's error status, its `Retry-After`/`Retry-After-Ms` headers and its body.
    Refused { status: u16, headers: Vec<(String, String)>, body: Body },
    /// `text/event-stream`.
    Stream(Reply),
    /// A failure after a saved turn was written (the chat id still goes back).
    Failed(crate::error::AppError),
}

/// A completion and the saved chat it belongs to (a new chat's id is only known from here).
#[derive(Debug)]
pub struct CompletionView {
    pub chat_id: Option<String>,
    pub answer: Completion,
}

/// A message of a completion request (OpenAI's shape; other fields pass through).
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionMessageDoc {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of parts (`{type: "text", text}`, `{type: "image_url", image_url: {url}}`).
    pub content: Value,
}

/// `POST /api/chat/completions`: an OpenAI chat request; every other field is passed upstream.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionRequestDoc {
    /// A model id of `GET /api/models` (presets too).
    pub model: String,
    pub messages: Vec<CompletionMessageDoc>,
    /// `true`: an `text/event-stream` of `chat.completion.chunk`s ending with `data: [DONE]`.
    pub stream: Option<bool>,
    /// Model params merged over the model's stored ones (`temperature`, `max_tokens`,
    /// `custom_params`, `system`, …).
    pub params: Option<Value>,
    /// Save the turn in this chat (the caller's).
    pub chat_id: Option<String>,
    /// `null` without `chat_id`: start a new saved chat (its id comes back in `X-Chat-Id`).
    pub parent_id: Option<String>,
    /// The assistant message id the reply is stored under.
    pub id: Option<String>,
    /// The user message of the turn (`{id, content, parentId?, files?, models?}`).
    pub user_message: Option<Value>,
    /// Several replies at once: `[{model_id, message_id}]`.
    pub message_ids: Option<Value>,
    /// Continue this stored reply instead of starting one.
    pub assistant_message_id: Option<String>,
    /// Text replacements for the system prompt (`{"{{TOPIC}}": "rust"}`).
    pub variables: Option<Value>,
    /// The web app's socket session: with a chat, the replies run as tasks and the answer is
    /// `{"status": true, "task_ids": [...], "chat_id": ...}` at once (events on the socket).
    pub session_id: Option<String>,
    /// The web app's follow-up work: with `title_generation`, a new chat is named after its first
    /// exchange.
    pub background_tasks: Option<Value>,
}
