//! Table `models` (history is in `store::model_history`, grants in `store::grants`).

use std::collections::{HashMap, HashSet};

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

/// A page of the workspace list.
#[derive(Debug)]
pub struct ListPage {
    /// The presets with their owners and grants.
    pub rows: Vec<(ListRow, Vec<GrantRow>)>,
    /// How many presets match.
    pub total: i64,
    /// The reader's groups (direct or inherited), when the list read them.
    pub reader_groups: Option<HashSet<String>>,
}

/// Presets from `offset`, at most `limit` of them (with their owners and grants), and the number
/// of matches, newest first unless `order` and `ascending` say otherwise, ties by id. While the
/// caches serve, from the cached stored models and owners (`list_cached`): no statement once
/// warm. Otherwise one statement and one row on SQLite, three statements on PostgreSQL.
pub async fn list(
    db: &Db,
    filter: &ListFilter,
    order: Order,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<ListPage> {
    if let Some(page) = list_cached(db, filter, order, ascending, limit, offset).await? {
        return Ok(page);
    }
    let (rows, total) = list_sql(db, filter, order, ascending, limit, offset).await?;
    Ok(ListPage { rows, total, reader_groups: None })
}

/// `list` in one statement (SQLite) or three (PostgreSQL).
async fn list_sql(
    db: &Db,
    filter: &ListFilter,
    order: Order,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<(ListRow, Vec<GrantRow>)>, i64)> {
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
    let from = "from models left join users on users.id = models.user_id";
    if db.backend() == Backend::Sqlite {
        // One statement and one row: the page as a JSON array (each model with its grants) and
        // the count. SQLite's worker thread hands rows over one at a time.
        let sql = format!(
            "with page(id, user_id, base_model_id, name, params, meta, version_id, is_active, updated_at, \
             created_at, owner_id, owner_name, owner_role, owner_email) as (select {}, users.id, users.name, \
             users.role, users.email {from}{clause} order by {} {direction}, models.id asc \
             limit {limit} offset {offset}) \
             select (select coalesce(json_group_array(json_array(id, user_id, base_model_id, name, json(params), \
             json(meta), version_id, is_active, updated_at, created_at, owner_id, owner_name, owner_role, \
             owner_email, json({})) order by {} {direction}, id asc), '[]') from page), \
             (select count(*) {from}{clause})",
            model_columns_in_join!(),
            order.column(),
            grants_json_sql("page.id"),
            order.column().trim_start_matches("models."),
        );
        let (page, total): (String, i64) = run!(db, e => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for a in &args {
                q = q.bind(a);
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
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Vec<EncodedGrant>,
        );
        let rows: Vec<Encoded> = decode_json(&page, "model page")?;
        let rows = rows
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
                let row =
                    ListRow { model, owner_id: r.10, owner_name: r.11, owner_role: r.12, owner_email: r.13 };
                (row, r.14.into_iter().map(grant_row).collect())
            })
            .collect();
        return Ok((rows, total));
    }
    let select = format!(
        "select {}, users.id as owner_id, users.name as owner_name, users.role as owner_role, \
         users.email as owner_email {from}{clause} \
         order by {} {direction}, models.id asc limit {limit} offset {offset}",
        model_columns_in_join!(),
        order.column()
    );
    let count = format!("select count(*) {from}{clause}");
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
    let ids: Vec<String> = rows.iter().map(|r| r.model.id.clone()).collect();
    let mut grants = grants_by_model(super::grants::grants_for(db, MODEL, &ids).await?);
    let rows = rows
        .into_iter()
        .map(|r| {
            let g = grants.remove(&r.model.id).unwrap_or_default();
            (r, g)
        })
        .collect();
    Ok((rows, total))
}

/// The fields of a model's owner the workspace list shows (`id`, `name`, `role`, `email`) and
/// searches (`username` too).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OwnerRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
    pub username: Option<String>,
}

/// The owners with these ids (`None` for an id without a user): from `Caches::model_owners`
/// while fresh, the others in one statement (per 500 ids) and kept.
async fn owners<'a>(
    db: &Db,
    ids: impl IntoIterator<Item = &'a str>,
) -> AppResult<HashMap<String, Option<OwnerRow>>> {
    let cache = &db.caches().model_owners;
    let mut out: HashMap<String, Option<OwnerRow>> = HashMap::new();
    let mut missing: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            continue;
        }
        match cache.get(id, "") {
            Some(owner) => {
                out.insert(id.to_string(), owner);
            }
            None => missing.push(id.to_string()),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let ticket = cache.ticket();
    for chunk in missing.chunks(500) {
        let sql = format!(
            "select id, name, role, email, username from users where id in ({})",
            placeholders(1, chunk.len())
        );
        let found: Vec<OwnerRow> = run!(db, e => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(e).await
        })?;
        let mut found: HashMap<String, OwnerRow> = found.into_iter().map(|o| (o.id.clone(), o)).collect();
        for id in chunk {
            let owner = found.remove(id);
            if let Some(ticket) = ticket {
                cache.put(ticket, id, String::new(), owner.clone());
            }
            out.insert(id.clone(), owner);
        }
    }
    Ok(out)
}

/// Whether the database compares and orders text as `list_cached` does: SQLite always (binary
/// collation, ASCII-only `lower`); PostgreSQL when the database's collation and character
/// classes are `C` or `C.UTF-8` (code point order, which is byte order) and it sorts a sample as
/// Rust does. Probed once per handle (one statement on PostgreSQL).
async fn text_bytewise(db: &Db) -> AppResult<bool> {
    let caches = db.caches();
    if let Some(known) = caches.text_bytewise.get() {
        return Ok(*known);
    }
    let bytewise = match db.backend() {
        Backend::Sqlite => true,
        Backend::Postgres => {
            const SAMPLE: [&str; 12] =
                ["a", "B", "_", "-a", "a-", "ab", "a b", "Z", "é", "\u{212a}", "aa", "A"];
            let values: Vec<String> = SAMPLE.iter().map(|s| format!("('{s}')")).collect();
            let sql = format!(
                "select (select datcollate::text from pg_database where datname = current_database()), \
                 (select datctype::text from pg_database where datname = current_database()), \
                 (select string_agg(x, '|' order by x) from (values {}) as v(x))",
                values.join(", ")
            );
            let (collate, ctype, sorted): (String, String, String) =
                run!(db, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_one(e).await)?;
            let mut expected = SAMPLE.to_vec();
            expected.sort_unstable();
            let c_like = |name: &str| matches!(name, "C" | "POSIX" | "C.UTF-8" | "C.utf8");
            c_like(&collate) && c_like(&ctype) && sorted == expected.join("|")
        }
    };
    Ok(*caches.text_bytewise.get_or_init(|| bytewise))
}

/// `text` contains `needle` (already lower-cased), ASCII letters of `text` compared without case:
/// SQLite's `lower(text) like '%needle%'`, and PostgreSQL's for ASCII text.
fn contains_folded(text: &str, needle: &str) -> bool {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || text.windows(needle.len()).any(|w| w.iter().zip(needle).all(|(t, n)| t.to_ascii_lowercase() == *n))
}

/// Whether `tag` (folded) can be matched on the parsed `meta` exactly as the list's statement
/// matches `"tag"` inside the JSON text: not empty, without a quote, backslash or control
/// character (written escaped), and not starting with what may follow a closing quote. Then
/// `"tag"` occurs in the text exactly where a string (key or value) is `tag` or ends with `"tag`.
fn tag_matchable(tag: &str) -> bool {
    !tag.is_empty()
        && !tag.chars().any(|c| c == '"' || c == '\\' || c.is_control())
        && !tag.starts_with([':', ',', '}', ']', ' ', '\t', '\n', '\r'])
}

/// Whether PostgreSQL's `lower` may fold a letter of `text` to ASCII (the Kelvin sign, the
/// dotted capital I) where SQLite's and this module's comparisons keep it: then only the
/// database can decide a match. Other letters fold to letters outside ASCII, one for one.
fn folds_into_ascii(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(|c| !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()))
}

/// Whether one of the strings of `value` (object keys included) is `tag`, or ends with `"tag`,
/// ASCII letters compared without case. `None` on PostgreSQL (`pg`) when a string
/// `folds_into_ascii`.
fn has_tag(value: &Value, tag: &str, pg: bool) -> Option<bool> {
    let matches = |s: &str| -> Option<bool> {
        if pg && folds_into_ascii(s) {
            return None;
        }
        let (s, t) = (s.as_bytes(), tag.as_bytes());
        Some(
            s.eq_ignore_ascii_case(t)
                || (s.len() > t.len()
                    && s[s.len() - t.len() - 1] == b'"'
                    && s[s.len() - t.len()..].eq_ignore_ascii_case(t)),
        )
    };
    let mut found = false;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => found |= matches(s)?,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                for (k, v) in map {
                    found |= matches(k)?;
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    Some(found)
}

/// `list` answered from the cached stored models (`stored`) and owners: the same rows, order
/// and count as the statement, or `None` when the caches are off or the database may compare
/// this search's text differently (a collation other than byte order; on PostgreSQL a search
/// or tag outside ASCII, or text that `folds_into_ascii`; a tag the parsed `meta` cannot
/// decide). SQLite's `lower` and `like` fold ASCII letters only; PostgreSQL's `like` keeps case
/// and its `lower` folds every letter, outside ASCII to letters outside ASCII. No statement once
/// warm but the reader's groups when a grant names a group.
async fn list_cached(
    db: &Db,
    filter: &ListFilter,
    order: Order,
    ascending: bool,
    limit: i64,
    offset: i64,
) -> AppResult<Option<ListPage>> {
    if !db.caches().models.serving() || !text_bytewise(db).await? {
        return Ok(None);
    }
    let pg = db.backend() == Backend::Postgres;
    let query = match filter.query.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => {
            let q = q.to_lowercase();
            if pg && !q.is_ascii() {
                return Ok(None);
            }
            Some(q)
        }
        None => None,
    };
    let tag = match filter.tag.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => {
            // SQLite matches a non-ASCII tag as given and ASCII letters without case anyway.
            let t = if pg { t.to_lowercase() } else { t.to_ascii_lowercase() };
            if (pg && !t.is_ascii()) || !tag_matchable(&t) {
                return Ok(None);
            }
            Some(t)
        }
        None => None,
    };
    let set = stored(db).await?;
    let mut rows: Vec<&ModelRow> = Vec::new();
    for r in &set.rows {
        let Some(base) = r.base_model_id.as_deref() else { continue };
        let own = r.user_id == filter.caller;
        if filter.own.is_some_and(|want| want != own)
            || filter.owner.as_ref().is_some_and(|o| *o != r.user_id)
        {
            continue;
        }
        if let Some(tag) = &tag {
            match has_tag(&r.meta.0, tag, pg) {
                Some(true) => {}
                Some(false) => continue,
                None => return Ok(None),
            }
        }
        if query.is_some() && pg && (folds_into_ascii(&r.name) || folds_into_ascii(base)) {
            return Ok(None);
        }
        rows.push(r);
    }
    let mut reader_groups = None;
    if let Some(reader) = &filter.reader {
        // The reader's groups are read when a grant names a group (then the caller's write
        // access needs them too).
        let named = rows.iter().any(|r| set.grants_of(&r.id).iter().any(|g| g.principal_type == "group"));
        let groups = if named { super::groups::ids_of_member(db, reader).await? } else { HashSet::new() };
        rows.retain(|r| {
            r.user_id == *reader
                || set.grants_of(&r.id).iter().any(|g| {
                    g.permission == "read"
                        && match g.principal_type.as_str() {
                            "user" => g.principal_id == "*" || g.principal_id == *reader,
                            "group" => groups.contains(&g.principal_id),
                            _ => false,
                        }
                })
        });
        reader_groups = named.then_some(groups);
    }
    let mut people = HashMap::new();
    if let Some(q) = &query {
        people = owners(db, rows.iter().map(|r| r.user_id.as_str())).await?;
        let mut matched = Vec::with_capacity(rows.len());
        for r in rows {
            let owner = people.get(&r.user_id).and_then(Option::as_ref);
            let mut fields = vec![r.name.as_str(), r.base_model_id.as_deref().unwrap_or_default()];
            if let Some(o) = owner {
                fields.extend([o.name.as_str(), o.email.as_str(), o.username.as_deref().unwrap_or_default()]);
            }
            if pg && fields.iter().any(|f| folds_into_ascii(f)) {
                return Ok(None);
            }
            if fields.iter().any(|f| contains_folded(f, q)) {
                matched.push(r);
            }
        }
        rows = matched;
    }
    rows.sort_by(|a, b| {
        let key = match order {
            Order::Name => a.name.cmp(&b.name),
            Order::CreatedAt => a.created_at.cmp(&b.created_at),
            Order::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        };
        (if ascending { key } else { key.reverse() }).then_with(|| a.id.cmp(&b.id))
    });
    let total = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let start = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
    let count = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
    let page: Vec<&ModelRow> = rows.into_iter().skip(start).take(count).collect();
    let missing: Vec<&str> =
        page.iter().map(|r| r.user_id.as_str()).filter(|id| !people.contains_key(*id)).collect();
    if !missing.is_empty() {
        people.extend(owners(db, missing).await?);
    }
    let rows = page
        .into_iter()
        .map(|r| {
            let owner = people.get(&r.user_id).cloned().flatten();
            let row = ListRow {
                model: r.clone(),
                owner_id: owner.as_ref().map(|o| o.id.clone()),
                owner_name: owner.as_ref().map(|o| o.name.clone()),
                owner_role: owner.as_ref().map(|o| o.role.clone()),
                owner_email: owner.map(|o| o.email),
            };
            (row, set.grants_of(&r.id).to_vec())
        })
        .collect();
    Ok(Some(ListPage { rows, total, reader_groups }))
}

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
type EncodedGrant = (String, String, String, String, String, String, i64);

fn grant_row(g: EncodedGrant) -> GrantRow {
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
fn grants_json_sql(id_column: &str) -> String {
    format!(
        "(select coalesce(json_group_array(json_array(g.id, g.resource_type, g.resource_id, g.principal_type, \
         g.principal_id, g.permission, g.created_at) order by g.created_at asc, g.id asc), '[]') \
         from access_grants g where g.resource_type = 'model' and g.resource_id = {id_column})"
    )
}

fn grants_by_model(grants: Vec<GrantRow>) -> HashMap<String, Vec<GrantRow>> {
    let mut out: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for g in grants {
        out.entry(g.resource_id.clone()).or_default().push(g);
    }
    out
}

fn decode_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> AppResult<T> {
    serde_json::from_str(text)
        .map_err(|e| crate::error::AppError::internal(format!("{what} from the database: {e}")))
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
