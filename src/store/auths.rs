//! Table `auths`: password hashes, the active flag and the session stamp of each user.

use super::cache::Change;
use super::{Exec, Tx};
use crate::error::AppResult;
use crate::run;
use crate::store::users::{User, user_columns_in_join};

/// A credential row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credential {
    pub id: String,
    pub password: String,
    pub active: bool,
    pub session_stamp: String,
}

/// A user with what token validation needs: the credential state and whether a token id is revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(flatten)]
    pub user: User,
    pub active: bool,
    pub session_stamp: String,
    pub revoked: bool,
    /// Whether the user belongs to a group (then group permissions merge into theirs).
    pub grouped: bool,
}

pub async fn insert(
    tx: &mut Tx,
    id: &str,
    email: &str,
    password_hash: &str,
    session_stamp: &str,
) -> AppResult<()> {
    tx.changes(Change::Account(id.to_string()));
    run!(tx, e => sqlx::query("insert into auths (id, email, password, active, session_stamp) values ($1, $2, $3, true, $4)")
        .bind(id)
        .bind(email)
        .bind(password_hash)
        .bind(session_stamp)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The credential and user of an email (stored lower-cased).
pub async fn by_email(ex: impl Into<Exec<'_>>, email: &str) -> AppResult<Option<(Credential, User)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        auth_id: String,
        password: String,
        active: bool,
        session_stamp: String,
    }
    let sql = concat!(
        "select ",
        user_columns_in_join!(),
        ", a.id as auth_id, a.password, a.active, a.session_stamp ",
        "from users join auths a on a.id = users.id where users.email = $1"
    );
    let row: Option<Row> = run!(ex, e => sqlx::query_as(sql).bind(email).fetch_optional(e).await)?;
    Ok(row.map(|r| {
        (
            Credential {
                id: r.auth_id,
                password: r.password,
                active: r.active,
                session_stamp: r.session_stamp,
            },
            r.user,
        )
    }))
}

pub async fn get(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Option<Credential>> {
    Ok(run!(ex, e => sqlx::query_as("select id, password, active, session_stamp from auths where id = $1")
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Everything a JWT check needs in one statement; served from `Caches::sessions` while fresh.
pub async fn session(db: &super::Db, id: &str, jti: &str) -> AppResult<Option<SessionRow>> {
    let cache = &db.caches().sessions;
    if let Some(row) = cache.get(id, jti) {
        return Ok(Some(row));
    }
    let ticket = cache.ticket();
    let row = session_uncached(db, id, jti).await?;
    if let (Some(ticket), Some(row)) = (ticket, &row) {
        cache.put(ticket, id, jti.to_string(), row.clone());
    }
    Ok(row)
}

async fn session_uncached(ex: impl Into<Exec<'_>>, id: &str, jti: &str) -> AppResult<Option<SessionRow>> {
    let sql = concat!(
        "select ",
        user_columns_in_join!(),
        ", a.active, a.session_stamp, ",
        "exists (select 1 from revoked_tokens r where r.jti = $2) as revoked, ",
        "exists (select 1 from group_members gm where gm.user_id = users.id) as grouped ",
        "from users join auths a on a.id = users.id where users.id = $1"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(id).bind(jti).fetch_optional(e).await)?)
}

/// Replaces the password hash; with `new_stamp`, also ends every session of the user.
pub async fn set_password(
    ex: impl Into<Exec<'_>>,
    id: &str,
    password_hash: &str,
    new_stamp: Option<&str>,
) -> AppResult<bool> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Account(id.to_string())).await;
    let done = run!(ex, e => sqlx::query("update auths set password = $2, session_stamp = coalesce($3, session_stamp) where id = $1")
        .bind(id)
        .bind(password_hash)
        .bind(new_stamp)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Replaces a hash only if it is still `old_hash` (legacy-hash upgrade at sign-in; a concurrent
/// password change wins).
pub async fn upgrade_hash(
    ex: impl Into<Exec<'_>>,
    id: &str,
    old_hash: &str,
    new_hash: &str,
) -> AppResult<()> {
    run!(ex, e => sqlx::query("update auths set password = $3 where id = $1 and password = $2")
        .bind(id)
        .bind(old_hash)
        .bind(new_hash)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_email(ex: impl Into<Exec<'_>>, id: &str, email: &str) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Account(id.to_string())).await;
    run!(ex, e => sqlx::query("update auths set email = $2 where id = $1")
        .bind(id)
        .bind(email)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> AppResult<()> {
    tx.changes(Change::Account(id.to_string()));
    run!(tx, e => sqlx::query("delete from auths where id = $1").bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}
