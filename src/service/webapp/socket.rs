//! What the web app's socket (`crate::socket`) asks of the services: who a token signs in
//! (`socket/main.py` `connect` and `user-join`, through `get_verified_user_by_token`), and
//! whether a connection may follow a chat (`events:chat` `join`).

use crate::app::App;
use crate::auth::{Caller, Principal, caller};
use crate::error::{AppError, AppResult, ErrorCode};

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

/// Whether `p` may follow chat `chat_id` (read it, as `GET /chats/{id}` checks).
pub async fn may_follow_chat(app: &App, p: &Principal, chat_id: &str) -> bool {
    let caller = Caller::Authenticated(Box::new(p.clone()));
    crate::service::chats::get(app, &caller, chat_id).await.is_ok()
}
