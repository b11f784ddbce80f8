//! Tables `groups` and `group_members`, and the group side of access grants.
//!
//! Groups form a hierarchy through `parent_group_id`: a member of a group is an (inherited) member
//! of every group above it, so "a user's groups" is their direct groups and all their ancestors,
//! and "a group's members" is the direct members of the group and of every group below it. Both
//! walks are recursive CTEs with `union`, which ends even on a cycle written behind our back.

use std::collections::HashSet;

use serde_json::Value;
use sqlx::types::Json;

use super::cache::Change;
use super::users::{User, user_columns_in_join};
use super::{Backend, Db, Exec, Tx, placeholders};
use crate::error::AppResult;
use crate::run;

macro_rules! group_columns {
    () => {
        "groups.id, groups.user_id, groups.parent_group_id, groups.name, groups.description, groups.data, \
         groups.meta, groups.permissions, groups.created_at, groups.updated_at"
    };
}

/// `chain(group_id)`: the groups of the user bound at `$1` and every group above them.
macro_rules! user_chain {
    () => {
        "with recursive chain(group_id) as (select group_id from group_members where user_id = $1 \
         union select g.parent_group_id from groups g join chain c on g.id = c.group_id \
         where g.parent_group_id is not null) "
    };
}

/// `below(group_id)`: the group bound at `$1` and every group under it.
macro_rules! group_subtree {
    () => {
        "with recursive below(group_id) as (select cast($1 as text) \
         union select g.id from groups g join below b on g.parent_group_id = b.group_id) "
    };
}

/// A subquery of the ids of the groups the user bound at `param` belongs to, directly or
/// through a subgroup (for `principal_id in …` inside other statements).
pub fn member_groups_sql(param: &str) -> String {
    format!(
        "(with recursive member_chain(group_id) as (select group_id from group_members where user_id = {param} \
         union select mg.parent_group_id from groups mg join member_chain mc on mg.id = mc.group_id \
         where mg.parent_group_id is not null) select group_id from member_chain)"
    )
}

/// How many values one `in (…)` list binds at most.
const CHUNK: usize = 500;

/// The transaction-scoped lock every group write takes on PostgreSQL, so two writers cannot
/// build a cycle of parents between them (SQLite's single writer serialises them already).
const HIERARCHY_LOCK: i64 = 727_310_004;

/// A group row (the reference's `GroupModel`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GroupRow {
    pub id: String,
    pub user_id: String,
    pub parent_group_id: Option<String>,
    pub name: String,
    pub description: String,
    pub data: Option<Json<Value>>,
    pub meta: Option<Json<Value>>,
    pub permissions: Option<Json<Value>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A group with the number of its direct members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CountedGroup {
    #[sqlx(flatten)]
    pub group: GroupRow,
    pub member_count: i64,
}

/// The writable columns of a group (insert, or replace on update).
#[derive(Debug, Clone)]
pub struct GroupWrite<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub parent_group_id: Option<&'a str>,
    pub name: &'a str,
    pub description: &'a str,
    pub data: Option<&'a Value>,
    pub permissions: Option<&'a Value>,
    pub now: i64,
}

/// Takes the hierarchy lock inside `tx` (PostgreSQL; a no-op on SQLite).
pub async fn lock_hierarchy(tx: &mut Tx) -> AppResult<()> {
    if tx.backend() == Backend::Postgres {
        run!(tx, e => sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(HIERARCHY_LOCK)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn insert(tx: &mut Tx, g: &GroupWrite<'_>) -> AppResult<()> {
    let sql = concat!(
        "insert into groups (id, user_id, parent_group_id, name, description, data, meta, permissions, ",
        "created_at, updated_at) values ($1, $2, $3, $4, $5, $6, null, $7, $8, $8)"
    );
    run!(tx, e => sqlx::query(sql)
        .bind(g.id)
        .bind(g.user_id)
        .bind(g.parent_group_id)
        .bind(g.name)
        .bind(g.description)
        .bind(g.data.map(Json))
        .bind(g.permissions.map(Json))
        .bind(g.now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites name, description, parent, data and permissions (owner and creation time stay).
pub async fn update(tx: &mut Tx, g: &GroupWrite<'_>) -> AppResult<u64> {
    let sql = concat!(
        "update groups set parent_group_id = $2, name = $3, description = $4, data = $5, ",
        "permissions = $6, updated_at = $7 where id = $1"
    );
    Ok(run!(tx, e => sqlx::query(sql)
        .bind(g.id)
        .bind(g.parent_group_id)
        .bind(g.name)
        .bind(g.description)
        .bind(g.data.map(Json))
        .bind(g.permissions.map(Json))
        .bind(g.now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?)
}

pub async fn get(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Option<GroupRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", group_columns!(), " from groups where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Groups with these ids (unknown ids skipped), in no particular order. One statement.
pub async fn get_many(ex: impl Into<Exec<'_>>, ids: &[String]) -> AppResult<Vec<GroupRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("select {} from groups where id in ({})", group_columns!(), placeholders(1, ids.len()));
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Of `ids`, the ones that name a group.
pub async fn existing_ids(ex: impl Into<Exec<'_>>, ids: &[String]) -> AppResult<HashSet<String>> {
    super::ids_in(ex, "groups", ids).await
}

/// Every group with its direct member count (`member` unset), or the groups `member` belongs to
/// directly or through a subgroup; newest change first.
pub async fn list_counted(ex: impl Into<Exec<'_>>, member: Option<&str>) -> AppResult<Vec<CountedGroup>> {
    let count = "(select count(*) from group_members m where m.group_id = groups.id) as member_count";
    let sql = match member {
        None => format!(
            "select {}, {count} from groups order by groups.updated_at desc, groups.id",
            group_columns!()
        ),
        Some(_) => format!(
            "{}select {}, {count} from groups where groups.id in (select group_id from chain) \
             order by groups.updated_at desc, groups.id",
            user_chain!(),
            group_columns!()
        ),
    };
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        if let Some(m) = member {
            q = q.bind(m);
        }
        q.fetch_all(e).await
    })?)
}

/// The groups of a user: direct ones, or (`inherited`) also every group above them; newest
/// change first.
pub async fn of_member(ex: impl Into<Exec<'_>>, user_id: &str, inherited: bool) -> AppResult<Vec<GroupRow>> {
    let sql = if inherited {
        concat!(
            user_chain!(),
            "select ",
            group_columns!(),
            " from groups where groups.id in (select group_id from chain) order by groups.updated_at desc, groups.id"
        )
    } else {
        concat!(
            "select ",
            group_columns!(),
            " from groups where groups.id in (select group_id from group_members where user_id = $1) ",
            "order by groups.updated_at desc, groups.id"
        )
    };
    Ok(run!(ex, e => sqlx::query_as(sql).bind(user_id).fetch_all(e).await)?)
}

/// The direct groups of each of these users as `(user id, group id, group name)`, each user's
/// newest change first (the admin list's `group_ids`, a user's `groups`). One statement per 500
/// users.
pub async fn direct_of_members(db: &Db, user_ids: &[String]) -> AppResult<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(CHUNK) {
        let sql = format!(
            "select gm.user_id, groups.id, groups.name from group_members gm join groups on groups.id = gm.group_id \
             where gm.user_id in ({}) order by groups.updated_at desc, groups.id",
            placeholders(1, chunk.len())
        );
        let rows: Vec<(String, String, String)> = run!(db, e => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for u in chunk {
                q = q.bind(u);
            }
            q.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// The ids of a user's groups, direct and inherited.
pub async fn ids_of_member(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<HashSet<String>> {
    let sql = concat!(user_chain!(), "select distinct group_id from chain");
    let ids: Vec<String> = run!(ex, e => sqlx::query_scalar(sql).bind(user_id).fetch_all(e).await)?;
    Ok(ids.into_iter().collect())
}

/// The `permissions` of every group a user belongs to, directly or inherited (groups without
/// any are skipped).
pub async fn permissions_of_member(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<Vec<Value>> {
    let sql = concat!(
        user_chain!(),
        "select groups.permissions from groups where groups.id in (select group_id from chain) ",
        "and groups.permissions is not null order by groups.updated_at desc, groups.id"
    );
    let rows: Vec<Json<Value>> = run!(ex, e => sqlx::query_scalar(sql).bind(user_id).fetch_all(e).await)?;
    Ok(rows.into_iter().map(|j| j.0).collect())
}

/// The group and every group above it (ids, the group's own included).
pub async fn ancestor_ids(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Vec<String>> {
    let sql = concat!(
        "with recursive above(group_id) as (select cast($1 as text) ",
        "union select g.parent_group_id from groups g join above a on g.id = a.group_id ",
        "where g.parent_group_id is not null) select group_id from above"
    );
    Ok(run!(ex, e => sqlx::query_scalar(sql).bind(id).fetch_all(e).await)?)
}

/// Deletes a group: its children move up to `parent`, its memberships and the access grants
/// naming it go.
pub async fn delete(tx: &mut Tx, id: &str, parent: Option<&str>, now: i64) -> AppResult<bool> {
    tx.changes(Change::Memberships);
    run!(&mut *tx, e => sqlx::query("update groups set parent_group_id = $2, updated_at = $3 where parent_group_id = $1")
        .bind(id).bind(parent).bind(now).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from access_grants where principal_type = 'group' and principal_id = $1")
        .bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from group_members where group_id = $1")
        .bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    let n = run!(tx, e => sqlx::query("delete from groups where id = $1")
        .bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn touch(ex: impl Into<Exec<'_>>, id: &str, now: i64) -> AppResult<()> {
    run!(ex, e => sqlx::query("update groups set updated_at = $2 where id = $1")
        .bind(id)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

// ---- members ----

/// Direct members of a group.
pub async fn direct_count(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<i64> {
    Ok(run!(ex, e => sqlx::query_scalar("select count(*) from group_members where group_id = $1")
        .bind(id)
        .fetch_one(e)
        .await)?)
}

/// Members of a group and of the groups under it, each once.
pub async fn effective_count(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<i64> {
    let sql = concat!(
        group_subtree!(),
        "select count(distinct user_id) from group_members where group_id in (select group_id from below)"
    );
    Ok(run!(ex, e => sqlx::query_scalar(sql).bind(id).fetch_one(e).await)?)
}

/// The ids of a group's direct members, oldest membership first.
pub async fn member_ids(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Vec<String>> {
    Ok(run!(ex, e => sqlx::query_scalar(
        "select user_id from group_members where group_id = $1 order by created_at asc, user_id asc")
        .bind(id)
        .fetch_all(e)
        .await)?)
}

/// A group's direct members as user rows, oldest membership first.
pub async fn member_users(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Vec<User>> {
    let sql = concat!(
        "select ",
        user_columns_in_join!(),
        " from users join group_members m on m.user_id = users.id where m.group_id = $1 ",
        "order by m.created_at asc, users.id asc"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(id).fetch_all(e).await)?)
}

/// Which members a page of the member list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Direct members only.
    Direct,
    /// Members of a subgroup who are not direct members.
    Inherited,
    /// Both.
    Effective,
}

/// A page of a group's members (direct and through subgroups, narrowed by `membership`) whose
/// name or email contains `pattern` (a lower-cased `like` pattern), by name; and how many match.
pub async fn members_page(
    ex: &super::Db,
    id: &str,
    membership: Membership,
    pattern: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<User>, i64)> {
    let narrow = match membership {
        Membership::Direct => " and users.id in (select user_id from group_members where group_id = $1)",
        Membership::Inherited => {
            " and users.id not in (select user_id from group_members where group_id = $1)"
        }
        Membership::Effective => "",
    };
    let filter = format!(
        " from users where users.id in (select user_id from group_members where group_id in \
         (select group_id from below)){narrow} and ($2 is null or lower(users.name) like $2 escape '\\' \
         or lower(users.email) like $2 escape '\\')"
    );
    let select = format!(
        "{}select {}{filter} order by users.name asc, users.id asc limit $3 offset $4",
        group_subtree!(),
        user_columns_in_join!()
    );
    let count = format!("{}select count(*){filter}", group_subtree!());
    let users: Vec<User> = run!(ex, e => sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
        .bind(id)
        .bind(pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await)?;
    let total: i64 = run!(ex, e => sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()))
        .bind(id)
        .bind(pattern)
        .fetch_one(e)
        .await)?;
    Ok((users, total))
}

/// For these users, the groups in the subtree of `id` (itself included) they are direct members
/// of: `(user id, group id)` pairs.
pub async fn memberships_below(
    ex: impl Into<Exec<'_>>,
    id: &str,
    user_ids: &[String],
) -> AppResult<Vec<(String, String)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{}select user_id, group_id from group_members where group_id in (select group_id from below) \
         and user_id in ({}) order by user_id, group_id",
        group_subtree!(),
        placeholders(2, user_ids.len())
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id);
        for u in user_ids {
            q = q.bind(u);
        }
        q.fetch_all(e).await
    })?)
}

/// Adds the users among `user_ids` that exist and are not members yet; their number.
pub async fn add_members(tx: &mut Tx, id: &str, user_ids: &[String], now: i64) -> AppResult<u64> {
    tx.changes(Change::Memberships);
    let mut wanted: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for u in user_ids {
        if seen.insert(u.as_str()) {
            wanted.push(u.clone());
        }
    }
    let mut new: Vec<String> = Vec::new();
    for chunk in wanted.chunks(CHUNK) {
        let sql = format!(
            "select id from users where id in ({}) and id not in \
             (select user_id from group_members where group_id = $1) order by id",
            placeholders(2, chunk.len())
        );
        let found: Vec<String> = run!(&mut *tx, e => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(id);
            for u in chunk {
                q = q.bind(u);
            }
            q.fetch_all(e).await
        })?;
        new.extend(found);
    }
    let mut added = 0;
    // Two values per row ($1 the group, $2 the time are shared), well under either bind limit.
    for chunk in new.chunks(CHUNK / 2) {
        let rows: Vec<String> =
            (0..chunk.len()).map(|i| format!("(${}, $1, ${}, $2, $2)", 3 + 2 * i, 4 + 2 * i)).collect();
        let sql = format!(
            "insert into group_members (id, group_id, user_id, created_at, updated_at) values {} \
             on conflict (group_id, user_id) do nothing",
            rows.join(", ")
        );
        added += run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id).bind(now);
            for u in chunk {
                q = q.bind(uuid::Uuid::new_v4().to_string()).bind(u);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(added)
}

/// Removes these users from the group; how many memberships went.
pub async fn remove_members(tx: &mut Tx, id: &str, user_ids: &[String]) -> AppResult<u64> {
    tx.changes(Change::Memberships);
    let mut removed = 0;
    for chunk in user_ids.chunks(CHUNK) {
        let sql = format!(
            "delete from group_members where group_id = $1 and user_id in ({})",
            placeholders(2, chunk.len())
        );
        removed += run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(id);
            for u in chunk {
                q = q.bind(u);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(removed)
}

// ---- access grants naming groups ----

/// Of `ids`, the resources `user_id` holds `permission` on through a grant to one of their
/// groups (direct or inherited).
pub async fn granted_via_groups(
    ex: impl Into<Exec<'_>>,
    resource_type: &str,
    ids: &[String],
    user_id: &str,
    permission: &str,
) -> AppResult<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "{}select distinct resource_id from access_grants where resource_type = $2 and permission = $3 \
         and principal_type = 'group' and principal_id in (select group_id from chain) and resource_id in ({})",
        user_chain!(),
        placeholders(4, ids.len())
    );
    let found: Vec<String> = run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_id)
            .bind(resource_type)
            .bind(permission);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(found.into_iter().collect())
}

/// Resources of `resource_type` that members of any of `group_ids` hold `permission` on without
/// further grants: through a grant to one of these groups, or to every user (`user:*`).
pub async fn granted_to_groups(
    ex: impl Into<Exec<'_>>,
    resource_type: &str,
    group_ids: &[String],
    permission: &str,
) -> AppResult<HashSet<String>> {
    let groups = if group_ids.is_empty() {
        String::new()
    } else {
        format!(" or (principal_type = 'group' and principal_id in ({}))", placeholders(3, group_ids.len()))
    };
    let sql = format!(
        "select distinct resource_id from access_grants where resource_type = $1 and permission = $2 \
         and ((principal_type = 'user' and principal_id = '*'){groups})"
    );
    let found: Vec<String> = run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(resource_type).bind(permission);
        for g in group_ids {
            q = q.bind(g);
        }
        q.fetch_all(e).await
    })?;
    Ok(found.into_iter().collect())
}
