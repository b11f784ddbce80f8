//! Table `access_grants`: who may read or write a resource (models, folders, shared chats), to a
//! user, every user (`user:*`), a group or anyone.

use std::collections::HashSet;

use super::{Exec, Tx, placeholders};
use crate::error::AppResult;
use crate::run;

macro_rules! grant_columns {
    () => {
        "id, resource_type, resource_id, principal_type, principal_id, permission, created_at"
    };
}

/// The resource type of model grants.
pub const MODEL: &str = "model";
/// The resource type of folder grants.
pub const FOLDER: &str = "folder";
/// The resource type of a chat's share link grants (who may open the share).
pub const SHARED_CHAT: &str = "shared_chat";

/// An access grant (`AccessGrantModel`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub permission: String,
    pub created_at: i64,
}

/// A grant to store (already normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub permission: String,
}

/// The grants of these resources, oldest first. One statement.
pub async fn grants_for(
    ex: impl Into<Exec<'_>>,
    resource_type: &str,
    ids: &[String],
) -> AppResult<Vec<GrantRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {} from access_grants where resource_type = $1 and resource_id in ({}) \
         order by created_at asc, id asc",
        grant_columns!(),
        placeholders(2, ids.len())
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(resource_type);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Every grant of a resource type.
pub async fn all_grants(ex: impl Into<Exec<'_>>, resource_type: &str) -> AppResult<Vec<GrantRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!(
        "select ", grant_columns!(), " from access_grants where resource_type = $1 order by created_at asc, id asc"))
        .bind(resource_type)
        .fetch_all(e)
        .await)?)
}

/// Replaces every grant of a resource.
pub async fn replace_grants(
    tx: &mut Tx,
    resource_type: &str,
    resource_id: &str,
    grants: &[NewGrant],
    now: i64,
) -> AppResult<()> {
    declare(tx, resource_type);
    run!(&mut *tx, e => sqlx::query("delete from access_grants where resource_type = $1 and resource_id = $2")
        .bind(resource_type).bind(resource_id).execute(e).await.map(|r| r.rows_affected()))?;
    for g in grants {
        let sql = concat!(
            "insert into access_grants (id, resource_type, resource_id, principal_type, principal_id, permission, ",
            "created_at) values ($1, $2, $3, $4, $5, $6, $7)"
        );
        run!(&mut *tx, e => sqlx::query(sql)
            .bind(&g.id)
            .bind(resource_type)
            .bind(resource_id)
            .bind(&g.principal_type)
            .bind(&g.principal_id)
            .bind(&g.permission)
            .bind(now)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Of `ids`, those `user_id` holds `permission` on through a user grant (their own or `*`).
pub async fn granted_ids(
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
        "select distinct resource_id from access_grants where resource_type = $1 and permission = $2 \
         and ((principal_type = 'user' and (principal_id = '*' or principal_id = $3)) \
         or (principal_type = 'group' and principal_id in {})) and resource_id in ({})",
        super::groups::member_groups_sql("$3"),
        placeholders(4, ids.len())
    );
    let found: Vec<String> = run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(resource_type).bind(permission).bind(user_id);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(found.into_iter().collect())
}

/// Deletes every grant of a resource.
pub async fn delete_for(tx: &mut Tx, resource_type: &str, resource_id: &str) -> AppResult<u64> {
    declare(tx, resource_type);
    Ok(
        run!(&mut *tx, e => sqlx::query("delete from access_grants where resource_type = $1 and resource_id = $2")
        .bind(resource_type).bind(resource_id).execute(e).await.map(|r| r.rows_affected()))?,
    )
}

/// Model grants are part of the cached stored models (`models::stored`).
fn declare(tx: &mut Tx, resource_type: &str) {
    if resource_type == MODEL {
        tx.changes(super::cache::Change::Models);
    }
}
