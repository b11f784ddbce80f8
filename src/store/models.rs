//! Table `models` (history is in `store::model_history`, grants in `store::grants`).

use std::collections::HashMap;

use serde_json::Value;
use sqlx::types::Json;

use super::cache::Change;
use super::grants::{GrantRow, MODEL};
use super::{Backend, Db, Exec, Tx, placeholders};
use crate::error::AppResult;
use crate::run;

macro_rules! model_columns {
    () => {
        "id, user_id, base_model_id, name, params, meta, version_id, is_active, updated_at, created_at"
    };
}

macro_rules! model_columns_in_join {
    () => {
        "models.id, models.user_id, models.base_model_id, models.name, models.params, models.meta, \
         models.version_id, models.is_active, models.updated_at, models.created_at"
    };
}
pub(super) use model_columns_in_join;

/// A whole model row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ModelRow {
    pub id: String,
    pub user_id: String,
    pub base_model_id: Option<String>,
    pub name: String,
    pub params: Json<Value>,
    pub meta: Json<Value>,
    pub version_id: Option<String>,
    pub is_active: bool,
    pub updated_at: i64,
    pub created_at: i64,
}

/// A model row with its owner's public fields (the workspace list).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListRow {
    #[sqlx(flatten)]
    pub model: ModelRow,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub owner_role: Option<String>,
    pub owner_email: Option<String>,
}

/// A model row to write (insert, or full replace of the mutable columns).
#[derive(Debug, Clone)]
pub struct ModelWrite<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub base_model_id: Option<&'a str>,
    pub name: &'a str,
    pub params: &'a Value,
    pub meta: &'a Value,
    pub version_id: Option<&'a str>,
    pub is_active: bool,
    pub updated_at: i64,
    pub created_at: i64,
}

pub async fn insert(ex: impl Into<Exec<'_>>, m: &ModelWrite<'_>) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Models).await;
    let sql = concat!(
        "insert into models (id, user_id, base_model_id, name, params, meta, version_id, is_active, ",
        "updated_at, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    run!(ex, e => sqlx::query(sql)
        .bind(m.id)
        .bind(m.user_id)
        .bind(m.base_model_id)
        .bind(m.name)
        .bind(Json(m.params))
        .bind(Json(m.meta))
        .bind(m.version_id)
        .bind(m.is_active)
        .bind(m.updated_at)
        .bind(m.created_at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites the configuration columns of a model (owner and creation time stay).
pub async fn update(ex: impl Into<Exec<'_>>, m: &ModelWrite<'_>) -> AppResult<u64> {
    let sql = concat!(
        "update models set base_model_id = $2, name = $3, params = $4, meta = $5, version_id = $6, ",
        "is_active = $7, updated_at = $8 where id = $1"
    );
    let mut ex = ex.into();
    let _after = ex.changes(Change::Models).await;
    Ok(run!(ex, e => sqlx::query(sql)
        .bind(m.id)
        .bind(m.base_model_id)
        .bind(m.name)
        .bind(Json(m.params))
        .bind(Json(m.meta))
        .bind(m.version_id)
        .bind(m.is_active)
        .bind(m.updated_at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?)
}

pub async fn get(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Option<ModelRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", model_columns!(), " from models where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// The model locked for a read-modify-write inside `tx` (`for update` on PostgreSQL; on SQLite
/// the transaction takes the writer lock first).
pub async fn get_for_update(tx: &mut Tx, id: &str) -> AppResult<Option<ModelRow>> {
    match tx.backend() {
        Backend::Postgres => Ok(run!(tx, e => sqlx::query_as(
            concat!("select ", model_columns!(), " from models where id = $1 for update"))
            .bind(id)
            .fetch_optional(e)
            .await)?),
        Backend::Sqlite => {
            run!(&mut *tx, e => sqlx::query("update models set id = id where id = $1")
                .bind(id)
                .execute(e)
                .await
                .map(|r| r.rows_affected()))?;
            get(tx, id).await
        }
    }
}

/// Models with these ids (unknown ids skipped), in creation order. One statement.
pub async fn by_ids(ex: impl Into<Exec<'_>>, ids: &[String]) -> AppResult<Vec<ModelRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {} from models where id in ({}) order by created_at asc, id asc",
        model_columns!(),
        placeholders(1, ids.len())
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Every model row, oldest first.
pub async fn all(db: &Db) -> AppResult<Vec<ModelRow>> {
    Ok(
        run!(db, e => sqlx::query_as(concat!("select ", model_columns!(), " from models order by created_at asc, id asc"))
        .fetch_all(e)
        .await)?,
    )
}

/// Every model row (oldest first) with its grants: what `/api/models` and a completion's model
/// lookup read, served from `Caches::models` while fresh (every write to `models` or to model
/// grants declares `Change::Models`).
#[derive(Debug, Default)]
pub struct StoredModels {
    pub rows: Vec<ModelRow>,
    pub grants: HashMap<String, Vec<GrantRow>>,
}

impl StoredModels {
    pub fn get(&self, id: &str) -> Option<&ModelRow> {
        self.rows.iter().find(|r| r.id == id)
    }

    /// The grants of model `id`, oldest first.
    pub fn grants_of(&self, id: &str) -> &[GrantRow] {
        self.grants.get(id).map(Vec::as_slice).unwrap_or_default()
    }
}

/// `StoredModels`: two statements, none while the cached copy is fresh.
pub async fn stored(db: &Db) -> AppResult<std::sync::Arc<StoredModels>> {
    let cache = &db.caches().models;
    if let Some(set) = cache.get("", "") {
        return Ok(set);
    }
    let ticket = cache.ticket();
    let rows = all(db).await?;
    let grants = grants_by_model(super::grants::all_grants(db, MODEL).await?);
    let set = std::sync::Arc::new(StoredModels { rows, grants });
    if let Some(ticket) = ticket {
        cache.put(ticket, "", String::new(), set.clone());
    }
    Ok(set)
}

/// Rows with `base_model_id` null (settings for upstream models), oldest first.
pub async fn base(db: &Db) -> AppResult<Vec<ModelRow>> {
    Ok(run!(db, e => sqlx::query_as(concat!(
        "select ", model_columns!(), " from models where base_model_id is null order by created_at asc, id asc"))
        .fetch_all(e)
        .await)?)
}

/// Flips `is_active` and bumps `updated_at`.
pub async fn toggle(ex: impl Into<Exec<'_>>, id: &str, now: i64) -> AppResult<u64> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Models).await;
    Ok(
        run!(ex, e => sqlx::query("update models set is_active = not is_active, updated_at = $2 where id = $1")
        .bind(id)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?,
    )
}

pub async fn touch(ex: impl Into<Exec<'_>>, id: &str, now: i64) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Models).await;
    run!(ex, e => sqlx::query("update models set updated_at = $2 where id = $1")
        .bind(id)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes a model with its grants and history.
pub async fn delete(tx: &mut Tx, id: &str) -> AppResult<bool> {
    tx.changes(Change::Models);
    run!(&mut *tx, e => sqlx::query("delete from access_grants where resource_type = $1 and resource_id = $2")
        .bind(MODEL).bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from model_history where model_id = $1")
        .bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    let n = run!(tx, e => sqlx::query("delete from models where id = $1")
        .bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes the grants that name a user (their account is being deleted).
pub async fn delete_grants_to_user(tx: &mut Tx, user_id: &str) -> AppResult<u64> {
    tx.changes(Change::Models);
    Ok(
        run!(tx, e => sqlx::query("delete from access_grants where principal_type = 'user' and principal_id = $1")
        .bind(user_id).execute(e).await.map(|r| r.rows_affected()))?,
    )
}

/// Deletes every model, every model grant and all history.
pub async fn delete_all(tx: &mut Tx) -> AppResult<u64> {
    tx.changes(Change::Models);
    run!(&mut *tx, e => sqlx::query("delete from access_grants where resource_type = $1")
        .bind(MODEL).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from model_history").execute(e).await.map(|r| r.rows_affected()))?;
    Ok(run!(tx, e => sqlx::query("delete from models").execute(e).await.map(|r| r.rows_affected()))?)
}

// ---- the workspace list: `store::model_list` ----

pub use super::model_list::{ListFilter, ListPage, Order, OwnerRow, list};

/// Models with these ids (unknown ids skipped), in creation order, each with its grants (oldest
/// first). One statement and one row on SQLite, two statements on PostgreSQL.
pub async fn by_ids_with_grants(db: &Db, ids: &[String]) -> AppResult<Vec<(ModelRow, Vec<GrantRow>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if db.backend() == Backend::Sqlite {
        let sql = format!(
            "select coalesce(json_group_array(json_array(id, user_id, base_model_id, name, json(params), \
             json(meta), version_id, is_active, updated_at, created_at, json({})) \
             order by created_at asc, id asc), '[]') from models where id in ({})",
            grants_json_sql("models.id"),
            placeholders(1, ids.len())
        );
        let page: String = run!(db, e => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_one(e).await
        })?;
        type Encoded = (
            String,
            String,
            Option<String>,
            String,
            Value,
            Value,
            Option<String>,
            i64,
            i64,
            i64,
            Vec<EncodedGrant>,
        );
        let rows: Vec<Encoded> = decode_json(&page, "models")?;
        return Ok(rows
            .into_iter()
            .map(|r| {
                let model = ModelRow {
                    id: r.0,
                    user_id: r.1,
                    base_model_id: r.2,
                    name: r.3,
                    params: Json(r.4),
                    meta: Json(r.5),
                    version_id: r.6,
                    is_active: r.7 != 0,
                    updated_at: r.8,
                    created_at: r.9,
                };
                (model, r.10.into_iter().map(grant_row).collect())
            })
            .collect());
    }
    let rows = by_ids(db, ids).await?;
    let mut grants = grants_by_model(super::grants::grants_for(db, MODEL, ids).await?);
    Ok(rows
        .into_iter()
        .map(|r| {
            let g = grants.remove(&r.id).unwrap_or_default();
            (r, g)
        })
        .collect())
}

/// A grant as `grants_json_sql` encodes it.
pub(super) type EncodedGrant = (String, String, String, String, String, String, i64);

pub(super) fn grant_row(g: EncodedGrant) -> GrantRow {
    GrantRow {
        id: g.0,
        resource_type: g.1,
        resource_id: g.2,
        principal_type: g.3,
        principal_id: g.4,
        permission: g.5,
        created_at: g.6,
    }
}

/// SQLite: the grants of the model whose id is `id_column`, oldest first, as a JSON array text.
pub(super) fn grants_json_sql(id_column: &str) -> String {
    format!(
        "(select coalesce(json_group_array(json_array(g.id, g.resource_type, g.resource_id, g.principal_type, \
         g.principal_id, g.permission, g.created_at) order by g.created_at asc, g.id asc), '[]') \
         from access_grants g where g.resource_type = 'model' and g.resource_id = {id_column})"
    )
}

pub(super) fn grants_by_model(grants: Vec<GrantRow>) -> HashMap<String, Vec<GrantRow>> {
    let mut out: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for g in grants {
        out.entry(g.resource_id.clone()).or_default().push(g);
    }
    out
}

pub(super) fn decode_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> AppResult<T> {
    serde_json::from_str(text)
        .map_err(|e| crate::error::AppError::internal(format!("{what} from the database: {e}")))
}

/// SQL true when the user bound at `param` owns `models` or holds a read grant on it: their own,
/// the every-user `*` grant, or a grant to a group they belong to (directly or through a subgroup).
pub(super) fn readable_by_sql(param: &str) -> String {
    format!(
        "(models.user_id = {param} or exists (select 1 from access_grants g where g.resource_type = 'model' \
         and g.resource_id = models.id and g.permission = 'read' and ((g.principal_type = 'user' \
         and (g.principal_id = '*' or g.principal_id = {param})) or (g.principal_type = 'group' \
         and g.principal_id in {}))))",
        super::groups::member_groups_sql(param)
    )
}

/// The `meta` of presets (`base` false) or base-model rows (`base` true), restricted to models
/// `reader` may read when given.
pub async fn metas(db: &Db, base: bool, reader: Option<&str>) -> AppResult<Vec<Json<Value>>> {
    let kind = if base { "models.base_model_id is null" } else { "models.base_model_id is not null" };
    let sql = match reader {
        Some(_) => format!("select models.meta from models where {kind} and {}", readable_by_sql("$1")),
        None => format!("select models.meta from models where {kind}"),
    };
    Ok(run!(db, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        if let Some(r) = reader {
            q = q.bind(r);
        }
        q.fetch_all(e).await
    })?)
}

/// Deletes these models with their grants and history inside `tx` (`sync` drops what the list
/// no longer names).
pub async fn delete_many(tx: &mut Tx, ids: &[String]) -> AppResult<u64> {
    tx.changes(Change::Models);
    let mut deleted = 0;
    // Well under every backend's limit of bound parameters per statement.
    for chunk in ids.chunks(500) {
        let list = placeholders(2, chunk.len());
        let grants =
            format!("delete from access_grants where resource_type = $1 and resource_id in ({list})");
        let history =
            format!("delete from model_history where model_id in ({})", placeholders(1, chunk.len()));
        let models = format!("delete from models where id in ({})", placeholders(1, chunk.len()));
        run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(grants.clone())).bind(MODEL);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
        run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(history.clone()));
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
        deleted += run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(models.clone()));
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(deleted)
}

// ---- history: `model_history` ----

pub use super::model_history::{
    HistoryEntryRow, HistoryRow, HistoryWrite, delete_history_entry, history, history_entries, history_entry,
    insert_history,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_from_the_first_number() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
