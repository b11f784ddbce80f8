//! Read state of chats (`last_read_at`): marking every chat read, marking one read (the web app's
//! socket `events:chat` `last_read_at`) or unread, and the unread counts per folder those answers
//! carry.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::folders::{self, UnreadCounts};
use crate::store;

/// `POST /chats/read`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ChatsReadResponse)]
pub struct ChatsReadView {
    /// The chats marked read (every chat of the caller's that is not archived).
    pub updated_count: u64,
    /// Unread chats per folder after (each counting the folders below it).
    pub folder_unread_counts: UnreadCounts,
}

/// `POST /chats/{id}/unread`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ChatUnreadResponse)]
pub struct ChatUnreadView {
    pub chat_id: String,
    /// 0: never read.
    pub last_read_at: i64,
    pub folder_id: Option<String>,
    pub folder_unread_counts: UnreadCounts,
}

/// `POST /chats/read`: every chat of the caller that is not archived reads as read
/// (`last_read_at` = `updated_at`).
pub async fn mark_all_read(app: &App, caller: &Caller) -> AppResult<ChatsReadView> {
    let p = caller.require_verified()?;
    let updated_count = store::folders::mark_read(&app.db, p.id(), None).await?;
    Ok(ChatsReadView { updated_count, folder_unread_counts: folders::unread_counts(app, p.id()).await? })
}

/// One chat marked read (`socket/main.py` `chat_events`, `last_read_at`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatReadView {
    pub chat_id: String,
    /// When it was read (now, in seconds).
    pub last_read_at: i64,
    /// Unread chats per folder after, only when the chat was unread before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_unread_counts: Option<UnreadCounts>,
}

/// The caller's chat reads as read now (`last_read_at` = now); `None` for others' chats and
/// unknown ids, as the reference ignores them.
pub async fn mark_read(app: &App, caller: &Caller, id: &str) -> AppResult<Option<ChatReadView>> {
    let p = caller.require_verified()?;
    let Some(chat) = store::chats::get(&app.db, id).await?.filter(|c| c.user_id == p.id()) else {
        return Ok(None);
    };
    let was_unread = chat.last_read_at.is_none_or(|read| chat.updated_at > read);
    let now = store::now();
    if !store::folders::mark_chat_read(&app.db, id, p.id(), now).await? {
        return Ok(None);
    }
    let folder_unread_counts = match was_unread {
        true => Some(folders::unread_counts(app, p.id()).await?),
        false => None,
    };
    Ok(Some(ChatReadView { chat_id: id.to_string(), last_read_at: now, folder_unread_counts }))
}

/// `POST /chats/{id}/unread`: the caller's chat reads as never read (`last_read_at` = 0); 404
/// for others' chats and unknown ids.
pub async fn mark_unread(app: &App, caller: &Caller, id: &str) -> AppResult<ChatUnreadView> {
    let p = caller.require_verified()?;
    let chat = store::chats::get(&app.db, id).await?.filter(|c| c.user_id == p.id());
    let Some(chat) = chat else { return Err(AppError::not_found(ErrorCode::NotFound)) };
    if !store::folders::mark_unread(&app.db, id, p.id()).await? {
        return Err(AppError::not_found(ErrorCode::NotFound));
    }
    Ok(ChatUnreadView {
        chat_id: id.to_string(),
        last_read_at: 0,
        folder_id: chat.folder_id,
        folder_unread_counts: folders::unread_counts(app, p.id()).await?,
    })
}
