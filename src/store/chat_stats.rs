//! Windows of a user's whole chats, by `updated_at`, for the usage stats and the stats export
//! (which read every message of each chat).

use super::Db;
use super::chats::{self, ChatRow};
use crate::error::AppResult;
use crate::run;

/// Chats of `user_id` updated after `updated_after` (all without it), by `updated_at` then id,
/// `limit` of them from `offset`. Two statements: the window's ids, then their rows.
pub async fn window(
    db: &Db,
    user_id: &str,
    updated_after: Option<i64>,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<ChatRow>> {
    let direction = if ascending { "asc" } else { "desc" };
    let sql = format!(
        "select id from chats where user_id = $1 and ($2 is null or updated_at > $2) \
         order by updated_at {direction}, id asc limit $3 offset $4"
    );
    let ids: Vec<String> = run!(db, e => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user_id)
        .bind(updated_after)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?;
    let mut rows = chats::get_many(db, &ids).await?;
    rows.sort_by_key(|r| ids.iter().position(|id| id == &r.id));
    Ok(rows)
}

/// How many chats `window` chooses from.
pub async fn count(db: &Db, user_id: &str, updated_after: Option<i64>) -> AppResult<i64> {
    let sql = "select count(*) from chats where user_id = $1 and ($2 is null or updated_at > $2)";
    Ok(run!(db, e => sqlx::query_scalar(sql).bind(user_id).bind(updated_after).fetch_one(e).await)?)
}
