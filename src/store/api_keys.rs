//! Table `api_keys`: one `sk-…` key per user.

use super::{Exec, Tx};
use crate::error::AppResult;
use crate::run;
use crate::store::users::{User, user_columns_in_join};

/// Stores `key` as the user's only key (replacing any previous one).
pub async fn replace(tx: &mut Tx, user_id: &str, key: &str, now: i64) -> AppResult<()> {
    run!(&mut *tx, e => sqlx::query("delete from api_keys where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(tx, e => sqlx::query("insert into api_keys (id, user_id, key, created_at, updated_at) values ($1, $2, $3, $4, $4)")
        .bind(format!("key_{user_id}"))
        .bind(user_id)
        .bind(key)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get_for_user(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<Option<String>> {
    Ok(run!(ex, e => sqlx::query_scalar("select key from api_keys where user_id = $1")
        .bind(user_id)
        .fetch_optional(e)
        .await)?)
}

pub async fn delete_for_user(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<()> {
    run!(ex, e => sqlx::query("delete from api_keys where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The owner of `key`, if the key exists and has not expired.
/// The owner of an API key, and whether they belong to a group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyUser {
    #[sqlx(flatten)]
    pub user: User,
    pub grouped: bool,
}

pub async fn user_by_key(ex: impl Into<Exec<'_>>, key: &str, now: i64) -> AppResult<Option<KeyUser>> {
    let sql = concat!(
        "select ",
        user_columns_in_join!(),
        ", exists (select 1 from group_members gm where gm.user_id = users.id) as grouped",
        " from users join api_keys k on k.user_id = users.id ",
        "where k.key = $1 and (k.expires_at is null or k.expires_at > $2)"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(key).bind(now).fetch_optional(e).await)?)
}

/// Records a use of `key`, at most once per `interval` seconds.
pub async fn touch(ex: impl Into<Exec<'_>>, key: &str, now: i64, interval: i64) -> AppResult<()> {
    run!(ex, e => sqlx::query("update api_keys set last_used_at = $2 where key = $1 and (last_used_at is null or last_used_at < $3)")
        .bind(key)
        .bind(now)
        .bind(now - interval)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
