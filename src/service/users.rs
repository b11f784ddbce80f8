//! Users: the admin list, one user, admin updates, deletion and session revocation with the
//! primary-admin guards; the other readers' views (`lists`), the caller's own settings, status,
//! info and variables (`settings`, `account`), avatars (`profile_image`) and activity (`usage`).

use crate::app::App;
use crate::auth::Caller;
use crate::auth::password;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::validate::{self, Email, ImageUrl};
use crate::store::{self, Db, users::AdminUpdate, users::UserOrder};

mod account;
mod lists;
mod profile_image;
mod settings;
mod usage;
mod view;
pub use account::{StatusInput, info, status, update_info, update_status, update_variables, variables};
pub use lists::{active, all, info as user_info, oauth_sessions, preview, search};
pub use profile_image::{DEFAULT_AVATAR, ProfileImage, profile_image};
pub use settings::{
    default_permissions_defaults, of_user as settings_of, own as own_settings, update as update_settings,
};
pub use usage::{
    ModelUsage, ToolUsage, UsageDay, UsageInsights, UsagePeriod, UsageQuery, UsageTotals, UsageView, usage,
};
pub use view::{
    ActiveView, NamedRef, PreviewList, UserDetail, UserInfoList, UserInfoView, UserPage, UserPreview,
    UserView, UserWithGroups, VariablesView,
};

/// Users per page of the admin list.
pub const PAGE_SIZE: i64 = 30;

/// Seconds since the last request within which a user counts as active.
const ACTIVE_WINDOW: i64 = 180;

/// Admin list filters.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub query: Option<String>,
    pub order_by: Option<String>,
    pub direction: Option<String>,
    pub page: Option<i64>,
}

/// A window of users matching `query`, newest first, and the number matching (admin).
pub async fn list_range(
    app: &App,
    caller: &Caller,
    query: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<UserView>, i64)> {
    caller.require_admin()?;
    if let Some(query) = query {
        validate::check_search(&["query", "query"], query)?;
    }
    let query = query.filter(|q| !q.is_empty());
    let (users, total) =
        store::users::list(&app.db, query, UserOrder::CreatedAt, false, limit.clamp(0, 1000), offset.max(0))
            .await?;
    Ok((users.into_iter().map(UserView::from).collect(), total))
}

pub async fn list(app: &App, caller: &Caller, params: ListParams) -> AppResult<UserPage> {
    caller.require_admin()?;
    let (users, total) = page_of_users(app, &params).await?;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut groups = direct_groups(app, &ids).await?;
    Ok(UserPage {
        users: users
            .into_iter()
            .map(|user| {
                let group_ids =
                    groups.remove(&user.id).unwrap_or_default().into_iter().map(|g| g.id).collect();
                UserWithGroups { user: user.into(), group_ids }
            })
            .collect(),
        total,
    })
}

/// The direct groups of each of these users, newest change first (one statement per 500 users).
pub(crate) async fn direct_groups(
    app: &App,
    user_ids: &[String],
) -> AppResult<std::collections::HashMap<String, Vec<NamedRef>>> {
    let mut out: std::collections::HashMap<String, Vec<NamedRef>> = std::collections::HashMap::new();
    for (user, id, name) in store::groups::direct_of_members(&app.db, user_ids).await? {
        out.entry(user).or_default().push(NamedRef { id, name });
    }
    Ok(out)
}

/// A user's direct groups as the reference's `{id, name}` objects.
pub(crate) async fn group_refs(app: &App, user_id: &str) -> AppResult<Vec<serde_json::Value>> {
    let mut groups = direct_groups(app, &[user_id.to_string()]).await?;
    Ok(groups
        .remove(user_id)
        .unwrap_or_default()
        .into_iter()
        .map(|g| serde_json::json!({"id": g.id, "name": g.name}))
        .collect())
}

/// One `PAGE_SIZE` page of users as `params` ask for it (search text, order, 1-based page), and
/// the number of matches: the admin list and `/users/search` read the same way.
pub(crate) async fn page_of_users(
    app: &App,
    params: &ListParams,
) -> AppResult<(Vec<store::users::User>, i64)> {
    if let Some(query) = &params.query {
        validate::check_search(&["query", "query"], query)?;
    }
    let page = params.page.unwrap_or(1).max(1);
    let (order, ascending) = match params.order_by.as_deref().and_then(UserOrder::parse) {
        Some(order) => (order, params.direction.as_deref() == Some("asc")),
        None => (UserOrder::CreatedAt, false),
    };
    let query = params.query.as_deref().filter(|q| !q.is_empty());
    store::users::list(&app.db, query, order, ascending, PAGE_SIZE, (page - 1).saturating_mul(PAGE_SIZE))
        .await
}

/// Whether `user` made a request within the last three minutes.
fn is_active(user: &store::users::User) -> bool {
    store::now() - user.last_active_at <= ACTIVE_WINDOW
}

/// A user by id: the admin, or the caller themself.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<UserDetail> {
    let p = caller.require_verified()?;
    if !p.role.is_admin() && p.id() != id {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    let user =
        store::users::get(&app.db, id).await?.ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    let groups = group_refs(app, id).await?;
    Ok(UserDetail { is_active: is_active(&user), user: user.into(), groups })
}

/// `UserUpdateForm`: only given fields change.
#[derive(Debug, Clone, Default)]
pub struct UpdateInput {
    pub role: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub profile_image_url: Option<String>,
    pub password: Option<String>,
}

/// Admin update. The primary admin may only be changed by themself and always stays admin; a new
/// password ends every session of the target. All changes are one transaction.
pub async fn update(app: &App, caller: &Caller, id: &str, input: UpdateInput) -> AppResult<UserView> {
    let p = caller.require_admin()?;
    // Form validation (422) comes first, as the reference's pydantic form does.
    let role = match &input.role {
        Some(r) => Some(validate::parse_role(r)?.as_str().to_string()),
        None => None,
    };
    let profile_image_url = input.profile_image_url.as_deref().map(ImageUrl::parse).transpose()?;
    if primary_admin_id(app).await?.as_deref() == Some(id) {
        if p.id() != id {
            return Err(AppError::forbidden(ErrorCode::ActionProhibited));
        }
        if input.role.as_deref().is_some_and(|r| r != "admin") {
            return Err(AppError::forbidden(ErrorCode::ActionProhibited));
        }
    }
    let current =
        store::users::get(&app.db, id).await?.ok_or_else(|| AppError::bad_request(ErrorCode::NotFound))?;
    let email = match &input.email {
        Some(e) => {
            let email = Email::parse(e)?;
            if email.as_str() != current.email {
                ensure_email_free(&app.db, &email).await?;
            }
            Some(email.to_string())
        }
        None => None,
    };
    let new_hash = match input.password.as_deref().filter(|p| !p.is_empty()) {
        Some(pw) => {
            validate::check_password(pw, app.config.password_validation.as_ref())?;
            Some(password::hash_async(pw.to_string()).await?)
        }
        None => None,
    };
    let changes = AdminUpdate {
        role,
        name: input.name,
        email: email.clone(),
        profile_image_url: profile_image_url.map(ImageUrl::into_string),
    };
    let nothing_to_write = changes.role.is_none()
        && changes.name.is_none()
        && changes.email.is_none()
        && changes.profile_image_url.is_none();
    let mut tx = app.db.begin().await?;
    if let Some(hash) = &new_hash {
        let stamp = uuid::Uuid::new_v4().to_string();
        store::auths::set_password(&mut tx, id, hash, Some(&stamp)).await?;
    }
    if let Some(email) = &email {
        store::auths::set_email(&mut tx, id, email).await?;
    }
    let updated = if nothing_to_write {
        Some(current)
    } else {
        store::users::update_admin(&mut tx, id, &changes, store::now())
            .await
            .map_err(|e| e.on_conflict(|| AppError::bad_request(ErrorCode::EmailTaken)))?
    };
    tx.commit().await?;
    if new_hash.is_some() {
        tracing::info!(user_id = %id, "password reset by an admin; all sessions ended");
    }
    updated.map(UserView::from).ok_or_else(|| AppError::bad_request(ErrorCode::Default))
}

/// 400 `EMAIL_TAKEN` when an account already has `email`.
pub(crate) async fn ensure_email_free(db: &Db, email: &Email) -> AppResult<()> {
    match store::users::get_by_email(db, email.as_str()).await? {
        Some(_) => Err(AppError::bad_request(ErrorCode::EmailTaken)),
        None => Ok(()),
    }
}

/// Deletes a user with their credentials, API keys and revoked-token rows in one transaction.
/// The primary admin and the caller themself cannot be deleted. An unknown id is `true`.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_admin()?;
    if primary_admin_id(app).await?.as_deref() == Some(id) {
        return Err(AppError::forbidden(ErrorCode::ActionProhibited));
    }
    if p.id() == id {
        return Err(AppError::forbidden(ErrorCode::ActionProhibited));
    }
    let mut tx = app.db.begin().await?;
    delete_owned_rows(&mut tx, id).await?;
    store::users::delete(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %id, "user deleted");
    Ok(true)
}

/// Ends every session of user `id` (admin) by giving their credentials a new session stamp;
/// API keys stay valid. 404 `User not found.` for an unknown id; the primary admin's sessions
/// may only be ended by themself (403 `ACTION_PROHIBITED`).
pub async fn revoke_sessions(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_admin()?;
    if store::users::get(&app.db, id).await?.is_none() {
        let mut err = AppError::not_found(ErrorCode::NotFound);
        err.detail = crate::error::Detail::Text("User not found.".into());
        return Err(err);
    }
    if primary_admin_id(app).await?.as_deref() == Some(id) && p.id() != id {
        return Err(AppError::forbidden(ErrorCode::ActionProhibited));
    }
    let stamp = uuid::Uuid::new_v4().to_string();
    store::users::rotate_session_stamp(&app.db, id, &stamp).await?;
    tracing::info!(user_id = %id, "all sessions ended by an admin");
    Ok(true)
}

/// Everything a user owns, removed inside the caller's transaction. Models the user owns stay
/// (others may rely on them; admins still manage them); grants naming the user go; other users'
/// chats in the user's folders move to the root.
async fn delete_owned_rows(tx: &mut store::Tx, id: &str) -> AppResult<()> {
    store::folders::release_for_user(tx, id).await?;
    store::chats::delete_for_user(tx, id).await?;
    store::models::delete_grants_to_user(tx, id).await?;
    store::api_keys::delete_for_user(&mut *tx, id).await?;
    store::revoked::delete_for_user(tx, id).await?;
    store::auths::delete(tx, id).await?;
    Ok(())
}

/// The primary admin: the account promoted by the first sign-up (recorded under
/// `PRIMARY_ADMIN_KEY`), else — for databases created elsewhere — the earliest account, an
/// admin winning ties.
pub async fn primary_admin_id(app: &App) -> AppResult<Option<String>> {
    if let Some(serde_json::Value::String(id)) = store::settings::get(&app.db, PRIMARY_ADMIN_KEY).await?
        && store::users::get(&app.db, &id).await?.is_some()
    {
        return Ok(Some(id));
    }
    Ok(store::users::first(&app.db).await?.map(|u| u.id))
}

/// Config key holding the primary admin's id.
pub const PRIMARY_ADMIN_KEY: &str = "duet.primary_admin_id";
