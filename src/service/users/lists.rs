//! Reads of other users: the whole list (admin), the search every verified user may run, one
//! user's public info and activity, their OAuth sessions and the admin's preview of what a user
//! can reach.

use serde_json::Value;

use super::view::{ActiveView, NamedRef, PreviewList, UserInfoList, UserInfoView, UserPreview};
use super::{ListParams, is_active};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;

/// `GET /users/all` (admin): every user, newest first. `groups` are empty and `is_active` is
/// `false`, as the reference answers (neither is computed there).
pub async fn all(app: &App, caller: &Caller) -> AppResult<UserInfoList> {
    caller.require_admin()?;
    let users = store::users::all(&app.db).await?;
    let total = users.len() as i64;
    Ok(UserInfoList { users: users.into_iter().map(|u| UserInfoView::of(u, false)).collect(), total })
}

/// `GET /users/search` (verified): the admin list's filter, order and pages, answered as public
/// info.
pub async fn search(app: &App, caller: &Caller, params: ListParams) -> AppResult<UserInfoList> {
    caller.require_verified()?;
    let (users, total) = super::page_of_users(app, &params).await?;
    Ok(UserInfoList { users: users.into_iter().map(|u| UserInfoView::of(u, false)).collect(), total })
}

/// `GET /users/{id}/info` (verified): one user's public info, whether they are active, and their
/// direct groups. 400 `NOT_FOUND` for an unknown id.
pub async fn info(app: &App, caller: &Caller, id: &str) -> AppResult<UserInfoView> {
    caller.require_verified()?;
    let user =
        store::users::get(&app.db, id).await?.ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    let active = is_active(&user);
    let groups = super::group_refs(app, id).await?;
    Ok(UserInfoView { groups, ..UserInfoView::of(user, active) })
}

/// `GET /users/{id}/active` (verified): an unknown id is simply not active.
pub async fn active(app: &App, caller: &Caller, id: &str) -> AppResult<ActiveView> {
    caller.require_verified()?;
    let user = store::users::get(&app.db, id).await?;
    Ok(ActiveView { active: user.as_ref().is_some_and(is_active) })
}

/// `GET /users/{id}/oauth/sessions` (admin). duet signs in with passwords only, so no user has
/// an OAuth session, and the reference answers a user without any 400 `NOT_FOUND`.
pub async fn oauth_sessions(_app: &App, caller: &Caller, _id: &str) -> AppResult<Vec<Value>> {
    caller.require_admin()?;
    Err(AppError::bad_request(ErrorCode::NotFound))
}

/// `GET /users/{id}/preview` (admin): the user's groups (direct and inherited) and the active
/// models the user can read (owned, or granted `read` to them, to everyone or to one of their
/// groups) out of all active models; knowledge bases and tools, which duet does not have, are
/// empty. 404 `NOT_FOUND` for an unknown id.
pub async fn preview(app: &App, caller: &Caller, id: &str) -> AppResult<UserPreview> {
    caller.require_admin()?;
    let user =
        store::users::get(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let active: Vec<_> = store::models::all(&app.db).await?.into_iter().filter(|m| m.is_active).collect();
    let others: Vec<String> = active.iter().filter(|m| m.user_id != id).map(|m| m.id.clone()).collect();
    let granted = store::grants::granted_ids(&app.db, store::grants::MODEL, &others, id, "read").await?;
    let total = active.len() as i64;
    let items = active
        .into_iter()
        .filter(|m| m.user_id == id || granted.contains(&m.id))
        .map(|m| NamedRef { id: m.id, name: m.name })
        .collect();
    let empty = || PreviewList { items: Vec::new(), total: 0 };
    let groups = store::groups::of_member(&app.db, id, true)
        .await?
        .into_iter()
        .map(|g| NamedRef { id: g.id, name: g.name })
        .collect();
    Ok(UserPreview {
        user: NamedRef { id: user.id, name: user.name },
        groups,
        models: PreviewList { items, total },
        knowledge: empty(),
        tools: empty(),
    })
}
