//! Table `model_history`: the configuration snapshots of a model.

use serde_json::Value;
use sqlx::types::Json;

use super::{Db, Exec, Tx};
use crate::error::AppResult;
use crate::run;

/// One configuration snapshot.
#[derive(Debug, Clone)]
pub struct HistoryWrite<'a> {
    pub id: &'a str,
    pub model_id: &'a str,
    pub parent_id: Option<&'a str>,
    pub snapshot: &'a Value,
    pub user_id: &'a str,
    pub commit_message: Option<&'a str>,
    pub created_at: i64,
}

pub async fn insert_history(ex: impl Into<Exec<'_>>, h: &HistoryWrite<'_>) -> AppResult<()> {
    let sql = concat!(
        "insert into model_history (id, model_id, parent_id, snapshot, user_id, commit_message, created_at) ",
        "values ($1, $2, $3, $4, $5, $6, $7)"
    );
    run!(ex, e => sqlx::query(sql)
        .bind(h.id)
        .bind(h.model_id)
        .bind(h.parent_id)
        .bind(Json(h.snapshot))
        .bind(h.user_id)
        .bind(h.commit_message)
        .bind(h.created_at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One history entry without its snapshot, and its author's name (`null` when the account is
/// gone).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: String,
    pub model_id: String,
    pub parent_id: Option<String>,
    pub user_id: Option<String>,
    pub commit_message: Option<String>,
    pub created_at: i64,
    pub author_name: Option<String>,
}

/// One history entry with its snapshot.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HistoryEntryRow {
    #[sqlx(flatten)]
    pub entry: HistoryRow,
    pub snapshot: Json<Value>,
}

macro_rules! history_columns {
    () => {
        "model_history.id, model_history.model_id, model_history.parent_id, model_history.user_id, \
         model_history.commit_message, model_history.created_at, users.name as author_name"
    };
}

/// A model's history, newest first: at most `limit` entries from `offset`. One statement.
pub async fn history(db: &Db, model_id: &str, limit: i64, offset: i64) -> AppResult<Vec<HistoryRow>> {
    let sql = concat!(
        "select ",
        history_columns!(),
        " from model_history left join users on users.id = model_history.user_id ",
        "where model_history.model_id = $1 ",
        "order by model_history.created_at desc, model_history.id desc limit $2 offset $3"
    );
    Ok(run!(db, e => sqlx::query_as(sql)
        .bind(model_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?)
}

/// `history` with each entry's snapshot.
pub async fn history_entries(
    db: &Db,
    model_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<HistoryEntryRow>> {
    let sql = concat!(
        "select ",
        history_columns!(),
        ", model_history.snapshot from model_history left join users on users.id = model_history.user_id ",
        "where model_history.model_id = $1 ",
        "order by model_history.created_at desc, model_history.id desc limit $2 offset $3"
    );
    Ok(run!(db, e => sqlx::query_as(sql)
        .bind(model_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?)
}

/// History entry `id` of model `model_id`, with its snapshot.
pub async fn history_entry(
    ex: impl Into<Exec<'_>>,
    model_id: &str,
    id: &str,
) -> AppResult<Option<HistoryEntryRow>> {
    let sql = concat!(
        "select ",
        history_columns!(),
        ", model_history.snapshot from model_history left join users on users.id = model_history.user_id ",
        "where model_history.model_id = $1 and model_history.id = $2"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(model_id).bind(id).fetch_optional(e).await)?)
}

/// Removes history entry `id` of `model_id` inside `tx`; the entries that followed it now follow
/// its parent. Whether an entry was removed.
pub async fn delete_history_entry(
    tx: &mut Tx,
    model_id: &str,
    id: &str,
    parent_id: Option<&str>,
) -> AppResult<bool> {
    run!(&mut *tx, e => sqlx::query(
        "update model_history set parent_id = $3 where model_id = $1 and parent_id = $2")
        .bind(model_id)
        .bind(id)
        .bind(parent_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    let n = run!(tx, e => sqlx::query("delete from model_history where model_id = $1 and id = $2")
        .bind(model_id)
        .bind(id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
