//! Table `config`: the persisted admin configuration, one JSON value per key.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::types::Json;

use super::{Exec, Tx};
use crate::error::AppResult;
use crate::run;

/// Every stored key and value.
pub async fn all(ex: impl Into<Exec<'_>>) -> AppResult<HashMap<String, Value>> {
    let rows: Vec<(String, Json<Value>)> =
        run!(ex, e => sqlx::query_as("select key, value from config").fetch_all(e).await)?;
    Ok(rows.into_iter().map(|(k, v)| (k, v.0)).collect())
}

pub async fn get(ex: impl Into<Exec<'_>>, key: &str) -> AppResult<Option<Value>> {
    let row: Option<Json<Value>> = run!(ex, e => sqlx::query_scalar("select value from config where key = $1")
        .bind(key)
        .fetch_optional(e)
        .await)?;
    Ok(row.map(|v| v.0))
}

/// Writes `key` (insert or replace).
pub async fn set(ex: impl Into<Exec<'_>>, key: &str, value: &Value, now: i64) -> AppResult<()> {
    run!(ex, e => sqlx::query("insert into config (key, value, updated_at) values ($1, $2, $3) on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at")
        .bind(key)
        .bind(Json(value))
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes `key` only if it has no value yet.
pub async fn seed(ex: impl Into<Exec<'_>>, key: &str, value: &Value, now: i64) -> AppResult<()> {
    run!(ex, e => sqlx::query("insert into config (key, value, updated_at) values ($1, $2, $3) on conflict (key) do nothing")
        .bind(key)
        .bind(Json(value))
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Writes several keys in one transaction.
pub async fn set_many(tx: &mut Tx, values: &[(String, Value)], now: i64) -> AppResult<()> {
    for (key, value) in values {
        set(&mut *tx, key, value, now).await?;
    }
    Ok(())
}
