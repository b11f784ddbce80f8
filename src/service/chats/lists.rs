//! The chat list views: the caller's list, pinned, archived, export, and the admin lists.

use std::sync::Arc;

use super::form::{ListParams, PagedParams, paged, parse_sort};
use super::view::{ChatPage, ChatView};
use super::{PAGE_SIZE, admin_access};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;
use crate::store::chats::{Filter, Sort, TitlePage};

fn page_window(page: Option<i64>) -> (Option<i64>, i64) {
    match page {
        Some(p) if p >= 1 => (Some(PAGE_SIZE), (p - 1).saturating_mul(PAGE_SIZE)),
        _ => (None, 0),
    }
}

/// `GET /chats/` and `/chats/list`: not archived; pinned chats and chats in folders only on
/// request.
pub async fn list(app: &App, caller: &Caller, params: ListParams) -> AppResult<ChatPage> {
    let p = caller.require_verified()?;
    let (sort, ascending) = parse_sort(params.sort_by.as_deref(), params.sort_dir.as_deref())?;
    let filter = Filter {
        archived: Some(false),
        pinned: if params.include_pinned { None } else { Some(false) },
        without_folder: !params.include_folders,
        ..Default::default()
    };
    let (limit, offset) = page_window(params.page);
    let rows = store::chats::list(&app.db, &p.user.id, &filter, sort, ascending, limit, offset).await?;
    Ok(ChatPage(rows))
}

/// `GET /chats/pinned`.
pub async fn pinned(app: &App, caller: &Caller) -> AppResult<ChatPage> {
    let p = caller.require_verified()?;
    let filter = Filter { archived: Some(false), pinned: Some(true), ..Default::default() };
    let rows = store::chats::list(&app.db, &p.user.id, &filter, Sort::UpdatedAt, false, None, 0).await?;
    Ok(ChatPage(rows))
}

/// `GET /chats/archived`.
pub async fn archived(app: &App, caller: &Caller, params: PagedParams) -> AppResult<ChatPage> {
    let p = caller.require_verified()?;
    Ok(ChatPage(user_list(app, &p.user.id, Some(true), params).await?))
}

async fn user_list(
    app: &App,
    user_id: &str,
    archived: Option<bool>,
    params: PagedParams,
) -> AppResult<Arc<TitlePage>> {
    let (sort, ascending, offset) = paged(&params)?;
    let filter = Filter { archived, title: params.query.filter(|q| !q.is_empty()), ..Default::default() };
    let rows =
        store::chats::list(&app.db, user_id, &filter, sort, ascending, Some(PAGE_SIZE), offset).await?;
    Ok(rows)
}

pub async fn archived_count(app: &App, caller: &Caller) -> AppResult<i64> {
    let p = caller.require_verified()?;
    store::chats::count_archived(&app.db, &p.user.id).await
}

/// `GET /chats/all/archived` (whole chats).
pub async fn all_archived(app: &App, caller: &Caller) -> AppResult<Vec<ChatView>> {
    let p = caller.require_verified()?;
    Ok(store::chats::all(&app.db, Some(&p.user.id), Some(true))
        .await?
        .into_iter()
        .map(ChatView::from)
        .collect())
}

/// `GET /chats/all`: every chat of the caller, archived included, newest first.
pub async fn export(app: &App, caller: &Caller) -> AppResult<Vec<ChatView>> {
    let p = caller.require_verified()?;
    Ok(store::chats::all(&app.db, Some(&p.user.id), None).await?.into_iter().map(ChatView::from).collect())
}

/// `GET /chats/all/db` (admin, `ENABLE_ADMIN_EXPORT`).
pub async fn all_db(app: &App, caller: &Caller) -> AppResult<Vec<ChatView>> {
    let p = caller.require_admin()?;
    if !app.config.enable_admin_export {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let _ = p;
    Ok(store::chats::all(&app.db, None, None).await?.into_iter().map(ChatView::from).collect())
}

/// `GET /chats/list/user/{user_id}` (admin, `ENABLE_ADMIN_CHAT_ACCESS`): archived included.
pub async fn list_for_user(
    app: &App,
    caller: &Caller,
    user_id: &str,
    params: PagedParams,
) -> AppResult<ChatPage> {
    let p = caller.require_admin()?;
    if !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    Ok(ChatPage(user_list(app, user_id, None, params).await?))
}
