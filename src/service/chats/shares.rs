//! Chat shares: share snapshots (create, remove, read), the shared list, and clones of a share.
//! Who may open a share is `share_access`; what a reader sees of it is `reader`.

use serde_json::{Value, json};

use super::form::{ChatInput, ImportInput, PagedParams, paged};
use super::reader::{for_reader, reattribute};
use super::share_access::{CONTINUE, continues, is_continue, may_read, reach};
use super::view::{ChatView, SharedItemView};
use super::{PAGE_SIZE, admin_access, insert_document_in, not_found_401, own_chat, permission, reload};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;

/// `POST /chats/{id}/share`: creates (or refreshes) the share snapshot, in no particular mode.
pub async fn share(app: &App, caller: &Caller, id: &str) -> AppResult<ChatView> {
    share_with_mode(app, caller, id, None).await
}

/// `POST /chats/{id}/share` with a `ShareChatForm`: creates (or refreshes) the share snapshot. A
/// refresh keeps the snapshot's mode unless `share_mode` names one (`Some(None)` = none).
pub async fn share_with_mode(
    app: &App,
    caller: &Caller,
    id: &str,
    share_mode: Option<Option<String>>,
) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.share").await? {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let row = own_chat(&app.db, p, id, || AppError::unauthorized(ErrorCode::AccessProhibited)).await?;
    let mut tx = app.db.begin().await?;
    let existing = match row.share_id.as_deref() {
        Some(share_id) => store::chats::get_share(&mut tx, share_id).await?,
        None => None,
    };
    let mode = match share_mode {
        Some(mode) => mode.map_or(Value::Null, Value::String),
        None => existing.as_ref().and_then(|s| s.chat.0.get("share_mode").cloned()).unwrap_or(Value::Null),
    };
    let share_id = row.share_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut snapshot = row.chat.0.clone();
    if let Some(obj) = snapshot.as_object_mut() {
        obj.insert("share_mode".into(), mode);
    }
    store::chats::upsert_share(&mut tx, &share_id, &row, &snapshot, store::now()).await?;
    tx.commit().await?;
    Ok(ChatView::from(reload(&app.db, id).await?))
}

/// `DELETE /chats/{id}/share`: the snapshot and its grants go.
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

/// Sets the answer's `chat.share_mode`: `continue` when the reader may write to the chat.
fn mark_mode(view: &mut ChatView, writable: bool) {
    if let Some(doc) = view.chat.as_object_mut() {
        doc.insert("share_mode".into(), if writable { json!(CONTINUE) } else { Value::Null });
    }
}

/// `GET /chats/share/{share_id}`, sign-in optional: the snapshot for whoever may open it (see
/// `share_access`), or the live chat for a `continue` share's grant holders and its owner. 401
/// `NOT_FOUND` for an unknown share; 401 `ACCESS_PROHIBITED` for a signed-in reader without
/// access, `INVALID_TOKEN` for anyone else. Admins with admin chat access may name a chat instead.
pub async fn get_share(app: &App, caller: &Caller, share_id: &str) -> AppResult<ChatView> {
    let reader: Option<&Principal> = caller.principal().filter(|p| p.role.is_verified());
    let refused = || {
        AppError::unauthorized(if reader.is_some() {
            ErrorCode::AccessProhibited
        } else {
            ErrorCode::InvalidToken
        })
    };
    let Some(share) = store::chats::get_share(&app.db, share_id).await? else {
        if let Some(p) = reader.filter(|p| admin_access(app, p))
            && let Some(row) = store::chats::get(&app.db, share_id).await?
        {
            let writable = row.user_id == p.user.id || continues(app, p, &row).await?;
            let mut view = ChatView::from(row);
            for_reader(&app.db, &mut view, Some(p.id())).await?;
            mark_mode(&mut view, writable);
            return Ok(view);
        }
        return Err(not_found_401());
    };
    let r = reach(app, reader, &share.chat_id).await?;
    let readable =
        r.open || reader.is_some_and(|p| admin_access(app, p) || share.user_id == p.user.id || r.granted);
    if !readable {
        return Err(refused());
    }
    let mut view = ChatView::from(share.clone());
    let mut live = false;
    if is_continue(&share)
        && let Some(p) = reader
        && let Some(row) = store::chats::get(&app.db, &share.chat_id).await?
        && (row.user_id == p.user.id || r.granted)
    {
        view = ChatView::from(row);
        live = true;
    }
    for_reader(&app.db, &mut view, reader.map(Principal::id)).await?;
    mark_mode(&mut view, live);
    Ok(view)
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

/// `POST /chats/{share_id}/clone/shared`: a copy, owned by the caller, of a share they may open
/// (the live chat of a `continue` share they may read; a chat id for admins with admin chat
/// access), as the caller reads it: the owner's messages become the caller's, other authors'
/// stay theirs.
pub async fn clone_shared(app: &App, caller: &Caller, share_id: &str) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let share = store::chats::get_share(&app.db, share_id).await?;
    if let Some(share) = &share
        && !admin_access(app, p)
        && share.user_id != p.user.id
    {
        let r = reach(app, Some(p), &share.chat_id).await?;
        if !(r.open || r.granted) {
            return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
        }
    }
    // (the chat copied, the id it is a copy of)
    let mut source: Option<(ChatView, String)> =
        share.clone().map(|s| (ChatView::from(s.clone()), s.chat_id.clone()));
    if let Some(share) = &share
        && is_continue(share)
        && may_read(app, p, share).await?
        && let Some(row) = store::chats::get(&app.db, &share.chat_id).await?
    {
        source = Some((ChatView::from(row), share.chat_id.clone()));
    }
    if source.is_none()
        && admin_access(app, p)
        && let Some(row) = store::chats::get(&app.db, share_id).await?
    {
        source = Some((ChatView::from(row), share_id.to_string()));
    }
    let (mut chat, original_id) = source.ok_or_else(not_found_401)?;
    let owner = chat.user_id.clone();
    let branch_point = chat.chat.get("history").and_then(|h| h.get("currentId")).cloned();
    for_reader(&app.db, &mut chat, Some(p.id())).await?;
    let mut doc = std::mem::take(&mut chat.chat);
    reattribute(&mut doc, &owner, &p.user);
    if let Some(obj) = doc.as_object_mut() {
        obj.shift_remove("share_mode");
        obj.insert("originalChatId".into(), json!(original_id));
        if let Some(current) = branch_point {
            obj.insert("branchPointMessageId".into(), current);
        }
        obj.insert("title".into(), json!(format!("Clone of {}", chat.title)));
    }
    let now = store::now();
    let input = ImportInput {
        chat: ChatInput { chat: Default::default(), variables: None, folder_id: None },
        meta: chat.meta.as_object().cloned(),
        pinned: chat.pinned,
        created_at: Some(now),
        updated_at: Some(now),
        ..Default::default()
    };
    let mut tx = app.db.begin().await?;
    let id = insert_document_in(&mut tx, p.id(), doc, input, now).await?.id;
    tx.commit().await?;
    Ok(ChatView::from(reload(&app.db, &id).await?))
}
