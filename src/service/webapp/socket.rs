//! What the web app's socket (`crate::socket`) asks of the services: who a token signs in
//! (`socket/main.py` `connect` and `user-join`, through `get_verified_user_by_token`), following a
//! chat (`events:chat` `join`) and marking it read (`events:chat` `last_read_at`).

use crate::app::App;
use crate::auth::{Caller, Principal, caller};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::chats::read::{self, ChatReadView};
use crate::service::events::{self, ChatEvents};

/// The verified user `token` signs in, with the REST rules for session tokens (expired, revoked
/// and older-session tokens are refused). API keys do not open a socket, as in the reference.
pub async fn authenticate(app: &App, token: &str) -> AppResult<Principal> {
    if token.is_empty() || token.starts_with("sk-") {
        return Err(AppError::unauthorized(ErrorCode::InvalidToken));
    }
    let principal =
        caller::resolve_token(&app.db, &app.keys, app.redis.as_deref(), token.to_string()).await?;
    let caller = Caller::Authenticated(Box::new(principal));
    caller.require_verified()?;
    match caller {
        Caller::Authenticated(p) => Ok(*p),
        _ => Err(AppError::unauthorized(ErrorCode::InvalidToken)),
    }
}

/// Whether `chat_id` names a stored chat (not a temporary one), as `is_saved_chat_id`.
pub fn is_saved_chat(chat_id: &str) -> bool {
    !chat_id.is_empty() && !crate::service::completions::is_temporary_chat(chat_id)
}

/// The events of chat `chat_id` for `p`, when `p` may read it (the rule of `GET /chats/{id}`).
pub async fn follow_chat(app: &App, p: &Principal, chat_id: &str) -> Option<ChatEvents> {
    let caller = Caller::Authenticated(Box::new(p.clone()));
    events::chat_events(app, &caller, chat_id, None).await.ok()
}

/// Marks `p`'s chat read now (the service of the REST read-state routes); `None` for a chat
/// that is not theirs, or when it could not be written.
pub async fn mark_read(app: &App, p: &Principal, chat_id: &str) -> Option<ChatReadView> {
    let caller = Caller::Authenticated(Box::new(p.clone()));
    match read::mark_read(app, &caller, chat_id).await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(chat_id, error = %e, "a chat could not be marked read");
            None
        }
    }
}
