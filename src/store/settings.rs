//! Table `config`: the persisted admin configuration, one JSON value per key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::types::Json;

use super::{Db, Exec, Tx};
use crate::error::AppResult;
use crate::run;

/// The `config` table as last read, reused for a short time: it is read on most requests (roles'
/// permissions, feature switches) and written rarely. A write through the same `Db` bumps the
/// generation after its commit, so this process never serves a value older than its own writes;
/// a read that raced with a write is stored under the old generation and never served.
#[derive(Default)]
pub struct Cache {
    ttl_ms: AtomicU64,
    generation: AtomicU64,
    slot: RwLock<Option<Cached>>,
}

struct Cached {
    generation: u64,
    read_at: Instant,
    values: Arc<HashMap<String, Value>>,
}

impl Cache {
    pub fn set_ttl(&self, ttl: Duration) {
        self.ttl_ms.store(ttl.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn fresh(&self) -> Option<Arc<HashMap<String, Value>>> {
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.slot.read().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|c| c.generation == generation && c.read_at.elapsed() < ttl)
            .map(|c| c.values.clone())
    }

    fn store(&self, generation: u64, read_at: Instant, values: Arc<HashMap<String, Value>>) {
        if self.ttl_ms.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut slot = self.slot.write().unwrap_or_else(|e| e.into_inner());
        let newer = slot.as_ref().is_none_or(|c| c.generation < generation || c.read_at <= read_at);
        if newer {
            *slot = Some(Cached { generation, read_at, values });
        }
    }
}

/// Every stored key and value, from the cache when it is fresh.
pub async fn all_cached(db: &Db) -> AppResult<Arc<HashMap<String, Value>>> {
    let cache = &db.settings_cache;
    if let Some(values) = cache.fresh() {
        return Ok(values);
    }
    let generation = cache.generation.load(Ordering::Acquire);
    let read_at = Instant::now();
    let values = Arc::new(all(db).await?);
    cache.store(generation, read_at, values.clone());
    Ok(values)
}

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
