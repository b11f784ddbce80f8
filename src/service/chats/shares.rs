//! Chat shares: share snapshots (create, remove, read), the shared list, and clones of a share.

use serde_json::{Value, json};

use super::form::{ChatInput, ImportInput, PagedParams, paged};
use super::view::{ChatView, SharedItemView};
use super::{PAGE_SIZE, admin_access, insert_chat, not_found_401, own_chat, permission, reload};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;

/// `POST /chats/{id}/share`: creates (or refreshes) the share snapshot.
pub async fn share(app: &App, caller: &Caller, id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.share").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let row = own_chat(&app.db, p, id, || AppError::unauthorized(ErrorCode::AccessProhibited)).await?;
    let share_id = row.share_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut snapshot = row.chat.0.clone();
    if let Some(obj) = snapshot.as_object_mut() {
        obj.insert("share_mode".into(), Value::Null);
    }
    let mut tx = app.db.begin().await?;
    store::chats::upsert_share(&mut tx, &share_id, &row, &snapshot, store::now()).await?;
    tx.commit().await?;
    Ok(ChatView::from(reload(&app.db, id).await?))
}

/// `DELETE /chats/{id}/share`.
pub async fn unshare(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    own_chat(&app.db, p, id, || AppError::unauthorized(ErrorCode::AccessProhibited)).await?;
    let mut tx = app.db.begin().await?;
    store::chats::delete_shares(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `DELETE /chats/share/all`.
pub async fn unshare_all(app: &App, caller: &Caller) -> AppResult<bool> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    store::chats::delete_shares_for_user(&mut tx, &p.user.id).await?;
    tx.commit().await?;
    Ok(true)
}

/// `GET /chats/share/{share_id}`: the sharer, or an admin with admin chat access. Shares carry
/// no grants yet, so other users are refused.
pub async fn get_share(app: &App, caller: &Caller, share_id: &str) -> AppResult<ChatView> {
    let p = match caller.require_verified() {
        Ok(p) => p,
        Err(e) if e.code == ErrorCode::NotAuthenticated => {
            return Err(AppError::unauthorized(ErrorCode::InvalidToken));
        }
        Err(e) => return Err(e),
    };
    let Some(share) = store::chats::get_share(&app.db, share_id).await? else {
        return Err(not_found_401());
    };
    if share.user_id != p.user.id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    Ok(ChatView::from(share))
}

/// `GET /chats/shared`: `{id (chat id), chat_id, title, share_id, updated_at, created_at}`.
pub async fn shared_list(app: &App, caller: &Caller, params: PagedParams) -> AppResult<Vec<SharedItemView>> {
    let p = caller.require_verified()?;
    let (sort, ascending, offset) = paged(&params)?;
    let rows = store::chats::list_shares(
        &app.db,
        &p.user.id,
        params.query.as_deref().filter(|q| !q.is_empty()),
        sort,
        ascending,
        PAGE_SIZE,
        offset,
    )
    .await?;
    Ok(rows.into_iter().map(SharedItemView::from).collect())
}

/// `POST /chats/{share_id}/clone/shared`: a copy of a share snapshot the caller may read, owned
/// by the caller.
pub async fn clone_shared(app: &App, caller: &Caller, share_id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let share = store::chats::get_share(&app.db, share_id).await?.ok_or_else(not_found_401)?;
    if share.user_id != p.user.id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let mut doc = share.chat.0.as_object().cloned().unwrap_or_default();
    doc.remove("share_mode");
    doc.insert("originalChatId".into(), json!(share.chat_id));
    if let Some(current) = share.chat.0.get("history").and_then(|h| h.get("currentId")) {
        doc.insert("branchPointMessageId".into(), current.clone());
    }
    doc.insert("title".into(), json!(format!("Clone of {}", share.title)));
    let now = store::now();
    let input = ImportInput {
        chat: ChatInput { chat: doc, variables: None, folder_id: None },
        created_at: Some(now),
        updated_at: Some(now),
        ..Default::default()
    };
    Ok(ChatView::from(insert_chat(&app.db, p, input, now).await?))
}
