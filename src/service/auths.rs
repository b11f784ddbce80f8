//! Accounts and sessions: sign-up, sign-in, sign-out, the session user, profile and password
//! changes, admin-created users, admin details and API keys.

use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::auth::jwt::Claims;
use crate::auth::password::{self, Verified};
use crate::auth::{Caller, Credential, Principal, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limit::Decision;
use crate::service::admin_config::Settings;
use crate::service::users::ensure_email_free;
use crate::service::validate::{self, Email, ImageUrl};
use crate::service::{permissions, policy};
use crate::store::{self, users::NewUser, users::User};

mod form;
mod view;
pub use form::{AddUserInput, PasswordForm, ProfileInput, SigninForm, SignupInput, TimezoneForm};
pub use view::{AddedUserView, AdminDetails, ApiKeyView, SessionUserView, SessionView, UserBrief};

/// A newly issued session (sign-in, sign-up).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub token: String,
    pub claims: Claims,
    pub permissions: Value,
    /// Token lifetime (`None` = no expiry), for the cookie's `Max-Age`.
    pub lifetime: Option<Duration>,
}

impl Session {
    pub fn expires_at(&self) -> Option<i64> {
        self.claims.exp
    }
}

/// The profile-image path a session answer gives (never the stored value).
pub fn profile_image_path(user_id: &str) -> String {
    format!("/api/v1/users/{user_id}/profile/image")
}

/// `POST /auths/signup`: the first account becomes admin (and switches public sign-up off);
/// later ones get the configured default role.
pub async fn signup(app: &App, input: SignupInput) -> AppResult<Session> {
    let db = &app.db;
    let settings = Settings::load(db).await?;
    if store::users::has_users(db).await? && !(settings.enable_signup() && settings.enable_login_form()) {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let image = ImageUrl::or_default(input.profile_image_url.as_deref())?;
    let email = Email::parse(&input.email)?;
    ensure_email_free(db, &email).await?;
    validate::check_password(&input.password, app.config.password_validation.as_ref())?;
    let role = settings.default_user_role();
    let user = create_account(app, &input.name, &email, &input.password, &image, &role, true).await?;
    if user.role == "admin" {
        tracing::info!(user_id = %user.id, "first account created as admin; public sign-up switched off");
    }
    issue_session(app, user, Some("password")).await
}

/// Inserts user + credentials in one transaction. With `promote_first`, an empty database makes
/// this account the admin and switches sign-up off in the same transaction.
async fn create_account(
    app: &App,
    name: &str,
    email: &Email,
    password: &str,
    image: &ImageUrl,
    role: &Role,
    promote_first: bool,
) -> AppResult<User> {
    let hash = password::hash_async(password.to_string()).await?;
    let now = store::now();
    let new = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.to_string(),
        name: name.to_string(),
        profile_image_url: match image.as_str() {
            "" => ImageUrl::DEFAULT.to_string(),
            url => url.to_string(),
        },
        role: role.as_str().to_string(),
        now,
    };
    let mut tx = app.db.begin().await?;
    let user = store::users::insert(&mut tx, &new, promote_first).await.map_err(email_taken_on_conflict)?;
    store::auths::insert(&mut tx, &user.id, email.as_str(), &hash, &uuid::Uuid::new_v4().to_string()).await?;
    // `DEFAULT_GROUP_ID`: new accounts join that group (a group that no longer exists is skipped).
    let default_group = Settings::load(&app.db).await?.text("ui.default_group_id").to_string();
    if !default_group.is_empty() && store::groups::get(&mut tx, &default_group).await?.is_some() {
        store::groups::add_members(&mut tx, &default_group, std::slice::from_ref(&user.id), now).await?;
    }
    if promote_first && user.role == "admin" {
        store::settings::set(&mut tx, "ui.enable_signup", &Value::Bool(false), now).await?;
        let key = crate::service::users::PRIMARY_ADMIN_KEY;
        store::settings::seed(&mut tx, key, &Value::String(user.id.clone()), now).await?;
    }
    tx.commit().await.map_err(email_taken_on_conflict)?;
    if promote_first && user.role == "admin" {
        app.db.settings_changed();
    }
    Ok(user)
}

/// A unique-constraint failure (a concurrent insert of the same email) is 400 `EMAIL_TAKEN`.
fn email_taken_on_conflict(err: AppError) -> AppError {
    err.on_conflict(|| AppError::bad_request(ErrorCode::EmailTaken))
}

/// Mints a session token for `user` and gathers what the answer needs.
pub async fn issue_session(app: &App, user: User, auth_method: Option<&str>) -> AppResult<Session> {
    let settings = Settings::load(&app.db).await?;
    let credential = store::auths::get(&app.db, &user.id)
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::InvalidCred))?;
    let lifetime = settings.jwt_lifetime();
    let (token, claims) = app
        .keys
        .issue_session(&user.id, &credential.session_stamp, auth_method, lifetime, store::now())
        .map_err(AppError::internal)?;
    let permissions = permissions::of_user(&app.db, &user.id).await?.to_value();
    Ok(Session { permissions, user, token, claims, lifetime })
}

/// `POST /auths/signin`: rate limit (per lower-cased email, checked first), then credentials.
/// An email over `MAX_EMAIL_BYTES` is refused before the limiter, a password over
/// `MAX_PASSWORD_BYTES` before it is hashed (both 400 `INVALID_CRED`: no account has them).
pub async fn signin(app: &App, email: &str, password: &str) -> AppResult<Session> {
    if !app.config.enable_password_auth {
        return Err(AppError::forbidden(ErrorCode::ActionProhibited));
    }
    let email = email.trim();
    if email.len() > validate::MAX_EMAIL_BYTES {
        return Err(AppError::bad_request(ErrorCode::InvalidCred));
    }
    let email = email.to_lowercase();
    let limiter_key = crate::limit::key_digest(&email);
    if let Decision::Limited { retry_after } = app.signin_limiter.hit(&limiter_key).await {
        tracing::info!(retry_after, "sign-in rate limit reached");
        return Err(AppError::rate_limited(retry_after));
    }
    if password.len() > validate::MAX_PASSWORD_BYTES {
        return Err(AppError::bad_request(ErrorCode::InvalidCred));
    }
    let found = store::auths::by_email(&app.db, &email).await?;
    let stored = found.as_ref().filter(|(c, _)| c.active).map(|(c, _)| c.password.clone());
    let verdict = password::verify_async(password.to_string(), stored.clone()).await?;
    let (credential, user) = match (verdict, found) {
        (Verified::No, _) | (_, None) => return Err(AppError::bad_request(ErrorCode::InvalidCred)),
        (_, Some(found)) => found,
    };
    if verdict == Verified::YesNeedsUpgrade {
        let new_hash = password::hash_async(password.to_string()).await?;
        store::auths::upgrade_hash(&app.db, &credential.id, &credential.password, &new_hash).await?;
        tracing::info!(user_id = %user.id, "upgraded a legacy password hash to argon2id");
    }
    issue_session(app, user, Some("password")).await
}

/// `POST /auths/signout`: revokes the presented token (if it is a valid one) everywhere.
pub async fn signout(app: &App, raw_token: Option<&str>) -> AppResult<()> {
    let Some(token) = raw_token.filter(|t| !t.starts_with("sk-")) else {
        return Ok(());
    };
    if let Some(claims) = app.keys.decode(token)
        && let Some(jti) = &claims.jti
    {
        revoke_token(app, jti, &claims.id, claims.exp).await?;
    }
    Ok(())
}

/// Revokes one token on every instance. The database row is the record (written first, so a
/// failure there is the request's failure); with Redis the token is also flagged there until it
/// expires, where Open WebUI instances sharing the Redis see it too. A Redis failure is logged and
/// the database row still revokes the token everywhere.
pub async fn revoke_token(app: &App, jti: &str, user_id: &str, expires_at: Option<i64>) -> AppResult<()> {
    let now = store::now();
    store::revoked::revoke(&app.db, jti, user_id, expires_at, now).await?;
    if let Some(redis) = &app.redis {
        let ttl = expires_at.map(|exp| Duration::from_secs(exp.saturating_sub(now).max(1) as u64));
        let key = crate::auth::caller::revoked_key(redis, jti);
        redis.set_flag("token revocation", &key, ttl).await;
    }
    Ok(())
}

/// `GET /auths/` data: the caller, their token and permissions.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: User,
    pub token: String,
    pub expires_at: Option<i64>,
    /// The permissions object as JSON text (computed once per configuration read).
    pub permissions: std::sync::Arc<serde_json::value::RawValue>,
}

pub async fn session_user(app: &App, caller: &Caller) -> AppResult<SessionInfo> {
    let p = caller.require_human()?;
    let Credential::Session { token, claims } = &p.credential else {
        return Err(AppError::forbidden(ErrorCode::HumanSessionRequired));
    };
    if claims.exp.is_some_and(|exp| exp < store::now()) {
        return Err(AppError::unauthorized(ErrorCode::InvalidToken));
    }
    let permissions = if p.grouped {
        let tree = permissions::of(&app.db, p).await?;
        serde_json::value::to_raw_value(&tree.to_value()).map_err(AppError::internal)?.into()
    } else {
        Settings::load(&app.db).await?.permissions_json()
    };
    Ok(SessionInfo { user: p.user.clone(), token: token.clone(), expires_at: claims.exp, permissions })
}

pub async fn update_profile(app: &App, caller: &Caller, input: ProfileInput) -> AppResult<User> {
    let p = caller.require_verified()?;
    let image = ImageUrl::parse(&input.profile_image_url)?;
    if let Some(date) = &input.date_of_birth {
        validate::check_date("date_of_birth", date)?;
    }
    let update = store::users::ProfileUpdate {
        name: input.name,
        profile_image_url: image.into_string(),
        bio: input.bio,
        gender: input.gender,
        date_of_birth: input.date_of_birth,
    };
    store::users::update_profile(&app.db, p.id(), &update, store::now())
        .await?
        .ok_or_else(|| AppError::bad_request(ErrorCode::Default))
}

/// `POST /auths/update/timezone`: an IANA time-zone name (`validate::check_timezone`).
pub async fn update_timezone(app: &App, caller: &Caller, timezone: &str) -> AppResult<()> {
    let p = caller.require_user()?;
    validate::check_timezone(timezone)?;
    store::users::set_timezone(&app.db, p.id(), timezone).await
}

/// `POST /auths/update/password`: checks the current password, stores the new one and ends
/// every session of the account (including the caller's). A person's session only: API keys and
/// automation tokens are refused (403 `HUMAN_SESSION_REQUIRED`).
pub async fn update_password(app: &App, caller: &Caller, current: &str, new: &str) -> AppResult<()> {
    let p = caller.require_human()?;
    if current.len() > validate::MAX_PASSWORD_BYTES {
        return Err(AppError::bad_request(ErrorCode::IncorrectPassword));
    }
    let credential = store::auths::get(&app.db, p.id()).await?;
    let stored = credential.as_ref().filter(|c| c.active).map(|c| c.password.clone());
    if password::verify_async(current.to_string(), stored).await? == Verified::No {
        return Err(AppError::bad_request(ErrorCode::IncorrectPassword));
    }
    validate::check_password(new, app.config.password_validation.as_ref())?;
    let hash = password::hash_async(new.to_string()).await?;
    let stamp = uuid::Uuid::new_v4().to_string();
    store::auths::set_password(&app.db, p.id(), &hash, Some(&stamp)).await?;
    tracing::info!(user_id = %p.id(), "password changed; all sessions ended");
    Ok(())
}

/// An admin-created account and a token for it.
#[derive(Debug, Clone)]
pub struct AddedUser {
    pub user: User,
    pub token: String,
}

pub async fn add_user(app: &App, caller: &Caller, input: AddUserInput) -> AppResult<AddedUser> {
    caller.require_admin()?;
    let role = validate::parse_role(input.role.as_deref().unwrap_or("pending"))?;
    let image = ImageUrl::or_default(input.profile_image_url.as_deref())?;
    let email = Email::parse(&input.email)?;
    ensure_email_free(&app.db, &email).await?;
    validate::check_password(&input.password, app.config.password_validation.as_ref())?;
    let user = create_account(app, &input.name, &email, &input.password, &image, &role, false).await?;
    let session = issue_session(app, user, None).await?;
    Ok(AddedUser { user: session.user, token: session.token })
}

/// `GET /auths/admin/details`: the contact admin's name and email.
pub async fn admin_details(app: &App, caller: &Caller) -> AppResult<(Option<String>, Option<String>)> {
    caller.require_user()?;
    let settings = Settings::load(&app.db).await?;
    if !settings.show_admin_details() {
        return Err(AppError::bad_request(ErrorCode::ActionProhibited));
    }
    if let Some(email) = settings.admin_email() {
        let name = store::users::get_by_email(&app.db, &email.to_lowercase()).await?.map(|u| u.name);
        return Ok((name, Some(email.to_string())));
    }
    let first = store::users::first(&app.db).await?;
    Ok((first.as_ref().map(|u| u.name.clone()), first.map(|u| u.email)))
}

/// The API-key gate: keys enabled and (admin or `features.api_keys`).
async fn api_key_principal<'a>(app: &App, caller: &'a Caller) -> AppResult<&'a Principal> {
    let p = caller.require_user()?;
    let settings = Settings::load(&app.db).await?;
    let tree = permissions::of(&app.db, p).await?;
    if policy::may_use_api_keys(&p.role, settings.enable_api_keys(), &tree) {
        Ok(p)
    } else {
        Err(AppError::forbidden(ErrorCode::ApiKeyCreationNotAllowed))
    }
}

/// `POST /auths/api_key`: a new `sk-…` key replacing the previous one. A person's session only
/// (an API key may not mint or remove keys).
pub async fn create_api_key(app: &App, caller: &Caller) -> AppResult<String> {
    caller.require_human()?;
    let p = api_key_principal(app, caller).await?;
    let key = format!("sk-{}", uuid::Uuid::new_v4().simple());
    let mut tx = app.db.begin().await?;
    store::api_keys::replace(&mut tx, p.id(), &key, store::now()).await?;
    tx.commit().await?;
    Ok(key)
}

pub async fn get_api_key(app: &App, caller: &Caller) -> AppResult<String> {
    let p = api_key_principal(app, caller).await?;
    store::api_keys::get_for_user(&app.db, p.id())
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::ApiKeyNotFound))
}

/// `DELETE /auths/api_key`: a person's session only, as creation.
pub async fn delete_api_key(app: &App, caller: &Caller) -> AppResult<()> {
    caller.require_human()?;
    let p = api_key_principal(app, caller).await?;
    store::api_keys::delete_for_user(&app.db, p.id()).await
}

/// Creates `WEBUI_ADMIN_EMAIL` as admin when the database has no users (start-up).
pub async fn bootstrap_admin(app: &App) -> AppResult<()> {
    let Some(admin) = &app.config.bootstrap_admin else {
        return Ok(());
    };
    if store::users::has_users(&app.db).await? {
        return Ok(());
    }
    let email = Email::parse(&admin.email)?;
    match create_account(app, &admin.name, &email, &admin.password, &ImageUrl::default(), &Role::Admin, true)
        .await
    {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "created the bootstrap admin account");
            Ok(())
        }
        // Another instance created it first.
        Err(e) if e.code == ErrorCode::EmailTaken => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates an admin account (`duet create-admin`); 400 `EMAIL_TAKEN` if the email is in use.
pub async fn create_admin(app: &App, email: &str, name: &str, password: &str) -> AppResult<User> {
    let email = Email::parse(email)?;
    ensure_email_free(&app.db, &email).await?;
    validate::check_password(password, app.config.password_validation.as_ref())?;
    create_account(app, name, &email, password, &ImageUrl::default(), &Role::Admin, false).await
}
