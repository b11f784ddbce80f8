//! Table `shared_chats`: a chat's share snapshots (the share token is the id), and the share
//! grants that go with them.

use serde_json::Value;
use sqlx::types::Json;

use super::cache::Change;
use super::chats::{ChatRow, Sort};
use super::{Db, Exec, Tx};
use crate::error::AppResult;
use crate::run;

/// A share snapshot.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SharedRow {
    pub id: String,
    pub chat_id: String,
    pub user_id: String,
    pub title: String,
    pub chat: Json<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn get_share(ex: impl Into<Exec<'_>>, share_id: &str) -> AppResult<Option<SharedRow>> {
    Ok(run!(ex, e => sqlx::query_as(
        "select id, chat_id, user_id, title, chat, created_at, updated_at from shared_chats where id = $1")
        .bind(share_id)
        .fetch_optional(e)
        .await)?)
}

/// Writes the snapshot `share_id` of a chat (insert or refresh) and links it from the chat.
pub async fn upsert_share(
    tx: &mut Tx,
    share_id: &str,
    chat: &ChatRow,
    snapshot: &Value,
    now: i64,
) -> AppResult<()> {
    let sql = concat!(
        "insert into shared_chats (id, chat_id, user_id, title, chat, created_at, updated_at) ",
        "values ($1, $2, $3, $4, $5, $6, $6) on conflict (id) do update set title = excluded.title, ",
        "chat = excluded.chat, updated_at = excluded.updated_at"
    );
    tx.changes(Change::Chats(Some(chat.user_id.clone())));
    run!(&mut *tx, e => sqlx::query(sql)
        .bind(share_id)
        .bind(&chat.id)
        .bind(&chat.user_id)
        .bind(&chat.title)
        .bind(Json(snapshot))
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    run!(tx, e => sqlx::query("update chats set share_id = $2 where id = $1")
        .bind(&chat.id)
        .bind(share_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a chat's snapshots, their grants and its link.
pub async fn delete_shares(tx: &mut Tx, chat_id: &str) -> AppResult<()> {
    tx.changes(Change::Chats(None));
    run!(&mut *tx, e => sqlx::query("delete from shared_chats where chat_id = $1").bind(chat_id).execute(e).await.map(|r| r.rows_affected()))?;
    super::grants::delete_for(tx, super::grants::SHARED_CHAT, chat_id).await?;
    run!(tx, e => sqlx::query("update chats set share_id = null where id = $1").bind(chat_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes every snapshot of a user's chats, their grants and the links.
pub async fn delete_shares_for_user(tx: &mut Tx, user_id: &str) -> AppResult<()> {
    tx.changes(Change::Chats(Some(user_id.to_string())));
    delete_share_grants_of_user(tx, user_id).await?;
    run!(&mut *tx, e => sqlx::query("delete from shared_chats where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(tx, e => sqlx::query("update chats set share_id = null where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the share grants (`shared_chat`) of every chat of a user.
pub(super) async fn delete_share_grants_of_user(tx: &mut Tx, user_id: &str) -> AppResult<u64> {
    let sql = "delete from access_grants where resource_type = $1 and resource_id in \
               (select id from chats where user_id = $2)";
    Ok(run!(&mut *tx, e => sqlx::query(sql)
        .bind(super::grants::SHARED_CHAT)
        .bind(user_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Rewrites a share snapshot's title and document (its share mode lives in the document).
pub async fn set_share_document(tx: &mut Tx, share_id: &str, title: &str, chat: &Value) -> AppResult<()> {
    tx.changes(Change::Chats(None));
    run!(tx, e => sqlx::query("update shared_chats set title = $2, chat = $3 where id = $1")
        .bind(share_id)
        .bind(title)
        .bind(Json(chat))
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A user's shares with their chat ids, newest first.
pub async fn list_shares(
    db: &Db,
    user_id: &str,
    title: Option<&str>,
    sort: Sort,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<SharedRow>> {
    let pattern = title.map(|t| format!("%{}%", super::users::escape_like(&t.to_lowercase())));
    let direction = if ascending { "asc" } else { "desc" };
    let sql = format!(
        "select id, chat_id, user_id, title, chat, created_at, updated_at from shared_chats \
         where user_id = $1 and ($2 is null or lower(title) like $2 escape '\\') \
         order by {} {direction}, id asc limit $3 offset $4",
        sort.column()
    );
    Ok(run!(db, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(user_id)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?)
}
