//! Table `users`: profile rows (the reference's `UserModel`).

use serde_json::Value;
use sqlx::types::Json;

use super::{Backend, Tx};
use crate::error::AppResult;
use crate::run;

/// All columns of `users`, in the order of `User`'s fields.
macro_rules! user_columns {
    () => {
        "id, email, username, role, name, profile_image_url, profile_banner_image_url, bio, gender, \
         date_of_birth, timezone, presence_state, status_emoji, status_message, status_expires_at, \
         info, settings, oauth, scim, last_active_at, updated_at, created_at"
    };
}

/// The columns of `users`, table-qualified (for joins).
macro_rules! user_columns_in_join {
    () => {
        "users.id, users.email, users.username, users.role, users.name, users.profile_image_url, \
         users.profile_banner_image_url, users.bio, users.gender, users.date_of_birth, users.timezone, \
         users.presence_state, users.status_emoji, users.status_message, users.status_expires_at, users.info, \
         users.settings, users.oauth, users.scim, users.last_active_at, users.updated_at, users.created_at"
    };
}
pub(crate) use user_columns_in_join;

/// A user row, serialised as the reference's `UserModel`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub role: String,
    pub name: String,
    pub profile_image_url: String,
    pub profile_banner_image_url: Option<String>,
    pub bio: Option<String>,
    pub gender: Option<String>,
    pub date_of_birth: Option<String>,
    pub timezone: Option<String>,
    pub presence_state: Option<String>,
    pub status_emoji: Option<String>,
    pub status_message: Option<String>,
    pub status_expires_at: Option<i64>,
    pub info: Option<Json<Value>>,
    pub settings: Option<Json<Value>>,
    pub oauth: Option<Json<Value>>,
    pub scim: Option<Json<Value>>,
    pub last_active_at: i64,
    pub updated_at: i64,
    pub created_at: i64,
}

/// What a new account needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub profile_image_url: String,
    pub role: String,
    pub now: i64,
}

pub async fn get(ex: impl Into<super::Exec<'_>>, id: &str) -> AppResult<Option<User>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", user_columns!(), " from users where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

pub async fn get_by_email(ex: impl Into<super::Exec<'_>>, email: &str) -> AppResult<Option<User>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", user_columns!(), " from users where email = $1"))
        .bind(email)
        .fetch_optional(e)
        .await)?)
}

pub async fn count(ex: impl Into<super::Exec<'_>>) -> AppResult<i64> {
    Ok(run!(ex, e => sqlx::query_scalar("select count(*) from users").fetch_one(e).await)?)
}

pub async fn has_users(ex: impl Into<super::Exec<'_>>) -> AppResult<bool> {
    let found: Option<i64> = run!(ex, e => sqlx::query_scalar("select cast(1 as bigint) from users limit 1").fetch_optional(e).await)?;
    Ok(found.is_some())
}

/// The primary admin: the earliest account, an admin winning ties.
pub async fn first(ex: impl Into<super::Exec<'_>>) -> AppResult<Option<User>> {
    Ok(run!(ex, e => sqlx::query_as(concat!(
        "select ", user_columns!(),
        " from users order by created_at asc, case when role = 'admin' then 0 else 1 end, id asc limit 1"))
        .fetch_optional(e)
        .await)?)
}

/// Inserts a user inside `tx`. When `promote_first` is set and the table is empty, the user is
/// created as `admin` instead of `user.role`; the check and the insert are one atomic step (a
/// transaction-scoped advisory lock on PostgreSQL, SQLite's single writer otherwise).
pub async fn insert(tx: &mut Tx, user: &NewUser, promote_first: bool) -> AppResult<User> {
    tx.changes(super::cache::Change::Account(user.id.clone()));
    if promote_first && tx.backend() == Backend::Postgres {
        run!(&mut *tx, e => sqlx::query("select pg_advisory_xact_lock(727310001)").execute(e).await.map(|r| r.rows_affected()))?;
    }
    let sql = concat!(
        "insert into users (id, email, role, name, profile_image_url, last_active_at, updated_at, created_at) ",
        "select $1, $2, case when $7 and not exists (select 1 from users) then 'admin' else $3 end, $4, $5, $6, $6, $6 ",
        "returning ",
        user_columns!()
    );
    Ok(run!(tx, e => sqlx::query_as(sql)
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.role)
        .bind(&user.name)
        .bind(&user.profile_image_url)
        .bind(user.now)
        .bind(promote_first)
        .fetch_one(e)
        .await)?)
}

/// Profile fields written by `POST /auths/update/profile` (every field, `None` clears).
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: String,
    pub profile_image_url: String,
    pub bio: Option<String>,
    pub gender: Option<String>,
    pub date_of_birth: Option<String>,
}

pub async fn update_profile(
    ex: impl Into<super::Exec<'_>>,
    id: &str,
    p: &ProfileUpdate,
    now: i64,
) -> AppResult<Option<User>> {
    let sql = concat!(
        "update users set name = $2, profile_image_url = $3, bio = $4, gender = $5, date_of_birth = $6, ",
        "updated_at = $7 where id = $1 returning ",
        user_columns!()
    );
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    Ok(run!(ex, e => sqlx::query_as(sql)
        .bind(id)
        .bind(&p.name)
        .bind(&p.profile_image_url)
        .bind(&p.bio)
        .bind(&p.gender)
        .bind(&p.date_of_birth)
        .bind(now)
        .fetch_optional(e)
        .await)?)
}

/// Admin update: only `Some` fields are written.
#[derive(Debug, Clone, Default)]
pub struct AdminUpdate {
    pub role: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub profile_image_url: Option<String>,
}

pub async fn update_admin(
    ex: impl Into<super::Exec<'_>>,
    id: &str,
    u: &AdminUpdate,
    now: i64,
) -> AppResult<Option<User>> {
    let sql = concat!(
        "update users set role = coalesce($2, role), name = coalesce($3, name), email = coalesce($4, email), ",
        "profile_image_url = coalesce($5, profile_image_url), updated_at = $6 where id = $1 returning ",
        user_columns!()
    );
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    Ok(run!(ex, e => sqlx::query_as(sql)
        .bind(id)
        .bind(&u.role)
        .bind(&u.name)
        .bind(&u.email)
        .bind(&u.profile_image_url)
        .bind(now)
        .fetch_optional(e)
        .await)?)
}

pub async fn set_timezone(ex: impl Into<super::Exec<'_>>, id: &str, timezone: &str) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    run!(ex, e => sqlx::query("update users set timezone = $2 where id = $1")
        .bind(id)
        .bind(timezone)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Moves `last_active_at` to `now` unless it was refreshed less than `interval` seconds ago (the
/// same test the caller makes, so a call always writes).
pub async fn touch_last_active(
    ex: impl Into<super::Exec<'_>>,
    id: &str,
    now: i64,
    interval: i64,
) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    run!(ex, e => sqlx::query("update users set last_active_at = $2 where id = $1 and last_active_at <= $3")
        .bind(id)
        .bind(now)
        .bind(now - interval)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the user row; credentials and API keys go with it (foreign keys cascade, and the
/// service deletes them explicitly in the same transaction).
pub async fn delete(tx: &mut Tx, id: &str) -> AppResult<bool> {
    tx.changes(super::cache::Change::Account(id.to_string()));
    tx.changes(super::cache::Change::Chats(Some(id.to_string())));
    let done = run!(tx, e => sqlx::query("delete from users where id = $1").bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Sort keys of the admin user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrder {
    Name,
    Email,
    CreatedAt,
    LastActiveAt,
    UpdatedAt,
    Role,
}

impl UserOrder {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "name" => UserOrder::Name,
            "email" => UserOrder::Email,
            "created_at" => UserOrder::CreatedAt,
            "last_active_at" => UserOrder::LastActiveAt,
            "updated_at" => UserOrder::UpdatedAt,
            "role" => UserOrder::Role,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            UserOrder::Name => "name",
            UserOrder::Email => "email",
            UserOrder::CreatedAt => "created_at",
            UserOrder::LastActiveAt => "last_active_at",
            UserOrder::UpdatedAt => "updated_at",
            UserOrder::Role => "role",
        }
    }
}

/// One page of users matching `query` (case-insensitive substring of name or email) and the
/// total number of matches.
pub async fn list(
    db: &super::Db,
    query: Option<&str>,
    order: UserOrder,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<User>, i64)> {
    let pattern = query.map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
    let filter = "($1 is null or lower(name) like $1 escape '\\' or lower(email) like $1 escape '\\')";
    let direction = if ascending { "asc" } else { "desc" };
    // Only fixed identifiers are formatted into the statement; values are bound.
    let select = format!(
        "select {} from users where {filter} order by {} {direction}, id asc limit $2 offset $3",
        user_columns!(),
        order.column()
    );
    let count_sql = format!("select count(*) from users where {filter}");
    let users: Vec<User> = run!(db, e => sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?;
    let total: i64 = run!(db, e => sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone()))
        .bind(&pattern)
        .fetch_one(e)
        .await)?;
    Ok((users, total))
}

/// Escapes `%`, `_` and `\` for a `like … escape '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Users by id (any order; unknown ids are skipped). One statement.
pub async fn get_many(db: &super::Db, ids: &[String]) -> AppResult<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql =
        format!("select {} from users where id in ({})", user_columns!(), super::placeholders(1, ids.len()));
    Ok(run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Every user, newest first (`GET /users/all`).
pub async fn all(db: &super::Db) -> AppResult<Vec<User>> {
    Ok(
        run!(db, e => sqlx::query_as(concat!("select ", user_columns!(), " from users order by created_at desc, id asc"))
        .fetch_all(e)
        .await)?,
    )
}

/// The user row inside `tx`, locked against concurrent read-modify-writes until the commit
/// (`for update` on PostgreSQL; on SQLite the transaction already holds the write lock).
pub async fn get_for_update(tx: &mut Tx, id: &str) -> AppResult<Option<User>> {
    Ok(match tx.backend() {
        Backend::Postgres => {
            run!(tx, e => sqlx::query_as(concat!("select ", user_columns!(), " from users where id = $1 for update"))
                .bind(id)
                .fetch_optional(e)
                .await)?
        }
        Backend::Sqlite => {
            run!(tx, e => sqlx::query_as(concat!("select ", user_columns!(), " from users where id = $1"))
                .bind(id)
                .fetch_optional(e)
                .await)?
        }
    })
}

/// Replaces the `settings` object; the user row as written, `None` for an unknown id.
pub async fn set_settings(
    ex: impl Into<super::Exec<'_>>,
    id: &str,
    settings: &Value,
) -> AppResult<Option<User>> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    Ok(
        run!(ex, e => sqlx::query_as(concat!("update users set settings = $2 where id = $1 returning ", user_columns!()))
        .bind(id)
        .bind(Json(settings))
        .fetch_optional(e)
        .await)?,
    )
}

/// Replaces the `info` object; the user row as written, `None` for an unknown id.
pub async fn set_info(ex: impl Into<super::Exec<'_>>, id: &str, info: &Value) -> AppResult<Option<User>> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    Ok(
        run!(ex, e => sqlx::query_as(concat!("update users set info = $2 where id = $1 returning ", user_columns!()))
        .bind(id)
        .bind(Json(info))
        .fetch_optional(e)
        .await)?,
    )
}

/// The status fields a status update writes; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct StatusUpdate {
    pub status_emoji: Option<String>,
    pub status_message: Option<String>,
    pub status_expires_at: Option<i64>,
}

pub async fn set_status(
    ex: impl Into<super::Exec<'_>>,
    id: &str,
    s: &StatusUpdate,
) -> AppResult<Option<User>> {
    let sql = concat!(
        "update users set status_emoji = coalesce($2, status_emoji), ",
        "status_message = coalesce($3, status_message), ",
        "status_expires_at = coalesce($4, status_expires_at) where id = $1 returning ",
        user_columns!()
    );
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    Ok(run!(ex, e => sqlx::query_as(sql)
        .bind(id)
        .bind(&s.status_emoji)
        .bind(&s.status_message)
        .bind(s.status_expires_at)
        .fetch_optional(e)
        .await)?)
}

/// The stored `variables` of a user: `None` for an unknown id, `Some(None)` when none are stored.
pub async fn variables(ex: impl Into<super::Exec<'_>>, id: &str) -> AppResult<Option<Option<Value>>> {
    let row: Option<Option<Json<Value>>> = run!(ex, e => sqlx::query_scalar("select variables from users where id = $1")
            .bind(id)
            .fetch_optional(e)
            .await)?;
    Ok(row.map(|v| v.map(|j| j.0)))
}

/// Replaces the `variables` object; `false` for an unknown id.
pub async fn set_variables(ex: impl Into<super::Exec<'_>>, id: &str, variables: &Value) -> AppResult<bool> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    let done = run!(ex, e => sqlx::query("update users set variables = $2 where id = $1")
        .bind(id)
        .bind(Json(variables))
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Gives the user's credentials a new session stamp, which ends every session token issued
/// before; `false` when the user has no credentials row.
pub async fn rotate_session_stamp(ex: impl Into<super::Exec<'_>>, id: &str, stamp: &str) -> AppResult<bool> {
    let mut ex = ex.into();
    let _after = ex.changes(super::cache::Change::Account(id.to_string())).await;
    let done = run!(ex, e => sqlx::query("update auths set session_stamp = $2 where id = $1")
        .bind(id)
        .bind(stamp)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// How many users made a request at or after `since` (epoch seconds; `GET /api/usage`).
pub async fn count_active_since(db: &super::Db, since: i64) -> AppResult<i64> {
    Ok(run!(db, e => sqlx::query_scalar("select count(*) from users where last_active_at >= $1")
        .bind(since)
        .fetch_one(e)
        .await)?)
}
