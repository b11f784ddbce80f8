//! Read state of chats (`last_read_at`): marking every chat read, marking one unread, and the
//! unread counts per folder those answers carry.

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
