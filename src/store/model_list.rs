//! The workspace list of `models` (`GET /models/list`): one statement with its filter, order
//! and page, or the same answer from the cached stored models and owners while the caches serve.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::types::Json;

use super::grants::{GrantRow, MODEL};
use super::models::*;
use super::{Backend, Db, placeholders};
use crate::error::AppResult;
use crate::run;

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
