//! `sendMessage`: a user message and the model's reply, started in the background through the
//! service that runs the web app's completions as tasks (`service::completions::send_message`);
//! the ids come back at once, the reply arrives on the chat's events (`messageStream`,
//! `chatEvents`) and is stored as it streams.

use async_graphql::{Context, Json, Object, SimpleObject};
use serde_json::Value;

use super::error::Gql;
use super::types::{caller, state};
use crate::service::completions::{self as svc, MessageInput, SentView};

#[derive(Default)]
pub struct SendMutation;

/// What `sendMessage` started.
#[derive(SimpleObject)]
pub struct SentMessage {
    /// The chat (a new one when no `chatId` was given).
    pub chat_id: String,
    pub user_message_id: String,
    /// The reply's message, written as it streams.
    pub assistant_message_id: String,
    /// The reply's task (`POST /api/tasks/stop/{id}` stops it).
    pub task_id: Option<String>,
}

impl From<SentView> for SentMessage {
    fn from(v: SentView) -> Self {
        SentMessage {
            chat_id: v.chat_id,
            user_message_id: v.user_message_id,
            assistant_message_id: v.assistant_message_id,
            task_id: v.task_id,
        }
    }
}

#[Object]
impl SendMutation {
    /// Sends `content` to `model` in chat `chatId` (a new chat without one), answering
    /// `parentId` (default: the chat's current message), as the web app's
    /// `POST /api/chat/completions` with a `session_id` does: the turn is written and its ids
    /// returned at once; the reply runs in the background and is stored as it streams. A new
    /// chat is named after its first exchange. Errors are the REST ones (`Model not found`,
    /// 404 for a chat the caller may not continue, the turn's checks).
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        chat_id: Option<String>,
        parent_id: Option<String>,
        model: String,
        content: String,
        params: Option<Json<Value>>,
    ) -> async_graphql::Result<SentMessage> {
        let input = MessageInput { chat_id, parent_id, model, content, params: params.map(|p| p.0) };
        svc::send_message(state(ctx), caller(ctx), input).await.gql().map(SentMessage::from)
    }
}
