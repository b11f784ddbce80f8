//! Table `revoked_tokens`: token ids ended by sign-out, kept until the token would have expired.

use super::Exec;
use crate::error::AppResult;
use crate::run;

/// Revokes `jti` (idempotent) and drops rows of tokens that have expired anyway.
pub async fn revoke(
    db: &super::Db,
    jti: &str,
    user_id: &str,
    expires_at: Option<i64>,
    now: i64,
) -> AppResult<()> {
    let mut ex = Exec::from(db);
    let _after = ex.changes(super::cache::Change::Account(user_id.to_string())).await;
    run!(ex, e => sqlx::query("insert into revoked_tokens (jti, user_id, expires_at) values ($1, $2, $3) on conflict (jti) do nothing")
        .bind(jti)
        .bind(user_id)
        .bind(expires_at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    run!(db, e => sqlx::query("delete from revoked_tokens where expires_at is not null and expires_at < $1")
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn is_revoked(ex: impl Into<Exec<'_>>, jti: &str) -> AppResult<bool> {
    let found: Option<i64> = run!(ex, e => sqlx::query_scalar("select cast(1 as bigint) from revoked_tokens where jti = $1")
        .bind(jti)
        .fetch_optional(e)
        .await)?;
    Ok(found.is_some())
}

pub async fn delete_for_user(tx: &mut super::Tx, user_id: &str) -> AppResult<()> {
    tx.changes(super::cache::Change::Account(user_id.to_string()));
    run!(tx, e => sqlx::query("delete from revoked_tokens where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}
