//! Tables `models` and `model_history` (a model's grants are in `store::grants`).

use serde_json::Value;
use sqlx::types::Json;

use super::grants::MODEL;
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

/// Rows with `base_model_id` null (settings for upstream models), oldest first.
pub async fn base(db: &Db) -> AppResult<Vec<ModelRow>> {
    Ok(run!(db, e => sqlx::query_as(concat!(
        "select ", model_columns!(), " from models where base_model_id is null order by created_at asc, id asc"))
        .fetch_all(e)
        .await)?)
}

/// Flips `is_active` and bumps `updated_at`.
pub async fn toggle(ex: impl Into<Exec<'_>>, id: &str, now: i64) -> AppResult<u64> {
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
    Ok(
        run!(tx, e => sqlx::query("delete from access_grants where principal_type = 'user' and principal_id = $1")
        .bind(user_id).execute(e).await.map(|r| r.rows_affected()))?,
    )
}

/// Deletes every model, every model grant and all history.
pub async fn delete_all(tx: &mut Tx) -> AppResult<u64> {
    run!(&mut *tx, e => sqlx::query("delete from access_grants where resource_type = $1")
        .bind(MODEL).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from model_history").execute(e).await.map(|r| r.rows_affected()))?;
    Ok(run!(tx, e => sqlx::query("delete from models").execute(e).await.map(|r| r.rows_affected()))?)
}

// ---- the workspace list ----

/// Sort keys of the workspace list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Name,
    CreatedAt,
    UpdatedAt,
}

impl Order {
    fn column(self) -> &'static str {
        match self {
            Order::Name => "models.name",
            Order::CreatedAt => "models.created_at",
            Order::UpdatedAt => "models.updated_at",
        }
    }
}

/// Filters of the workspace list (presets only).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the name, base model id, or the owner's name, email or
    /// username.
    pub query: Option<String>,
    /// Only the caller's (`Some(true)`) or only others' (`Some(false)`) models.
    pub own: Option<bool>,
    /// Only the models of this owner.
    pub owner: Option<String>,
    /// The caller; set unless the caller sees everything.
    pub reader: Option<String>,
    /// The caller's id for `own` (always set).
    pub caller: String,
    /// A tag name inside `meta`, matched case-insensitively as a JSON string.
    pub tag: Option<String>,
}

/// Presets from `offset`, at most `limit` of them (with their owners), and the number of matches.
pub async fn list(
    db: &Db,
    filter: &ListFilter,
    order: Order,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ListRow>, i64)> {
    let mut args: Vec<String> = Vec::new();
    let mut clause = String::from(" where models.base_model_id is not null");
    // Every `?` of a template becomes the number of the argument it pushes.
    let mut arg = |value: String, clause: &mut String, template: &str| {
        args.push(value);
        clause.push_str(&template.replace('?', &format!("${}", args.len())));
    };
    if let Some(q) = filter.query.as_deref().filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", super::users::escape_like(&q.to_lowercase()));
        arg(
            pattern,
            &mut clause,
            " and (lower(models.name) like ? escape '\\' or lower(models.base_model_id) like ? escape '\\' \
             or lower(users.name) like ? escape '\\' or lower(users.email) like ? escape '\\' \
             or lower(coalesce(users.username, '')) like ? escape '\\')",
        );
    }
    match filter.own {
        Some(true) => arg(filter.caller.clone(), &mut clause, " and models.user_id = ?"),
        Some(false) => arg(filter.caller.clone(), &mut clause, " and models.user_id <> ?"),
        None => {}
    }
    if let Some(owner) = &filter.owner {
        arg(owner.clone(), &mut clause, " and models.user_id = ?");
    }
    if let Some(reader) = &filter.reader {
        arg(reader.clone(), &mut clause, &format!(" and {}", readable_by_sql("?")));
    }
    if let Some(tag) = filter.tag.as_deref().filter(|t| !t.is_empty()) {
        let (column, needle) = if db.backend() == Backend::Sqlite && !tag.is_ascii() {
            // SQLite's lower() only folds ASCII: match non-ASCII tags exactly.
            ("cast(models.meta as text)", tag.to_string())
        } else {
            ("lower(cast(models.meta as text))", tag.to_lowercase())
        };
        // The tag as a JSON string, quotes included, so `ai` does not match `"fair"`.
        let quoted = serde_json::to_string(&needle).unwrap_or_default();
        let pattern = format!("%{}%", super::users::escape_like(&quoted));
        arg(pattern, &mut clause, &format!(" and {column} like ? escape '\\'"));
    }
    let direction = if ascending { "asc" } else { "desc" };
    let select = format!(
        "select {}, users.id as owner_id, users.name as owner_name, users.role as owner_role, \
         users.email as owner_email from models left join users on users.id = models.user_id{clause} \
         order by {} {direction}, models.id asc limit {limit} offset {offset}",
        model_columns_in_join!(),
        order.column()
    );
    let count = format!("select count(*) from models left join users on users.id = models.user_id{clause}");
    let rows: Vec<ListRow> = run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(select.clone()));
        for a in &args {
            q = q.bind(a);
        }
        q.fetch_all(e).await
    })?;
    let total: i64 = run!(db, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()));
        for a in &args {
            q = q.bind(a);
        }
        q.fetch_one(e).await
    })?;
    Ok((rows, total))
}

/// SQL true when the user bound at `param` owns `models` or holds a read grant on it: their own,
/// the every-user `*` grant, or a grant to a group they belong to (directly or through a subgroup).
fn readable_by_sql(param: &str) -> String {
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

// ---- history ----

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

/// Deletes these models with their grants and history inside `tx` (`sync` drops what the list
/// no longer names).
pub async fn delete_many(tx: &mut Tx, ids: &[String]) -> AppResult<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_from_the_first_number() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 1), "$1");
    }
}
