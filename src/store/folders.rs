//! Table `folders`, and the chat statements that read or move chats by folder: a folder's chat
//! lists, unread counts, marking chats read, moving a chat, and emptying deleted folders.
//!
//! Every statement that writes `chats` declares it to the chat-list cache (`Change::Chats`).

use serde_json::Value;
use sqlx::types::Json;

use super::cache::Change;
use super::chats::{ChatRow, TitleRow};
use super::{Backend, Exec, Tx, placeholders};
use crate::error::AppResult;
use crate::run;

macro_rules! folder_columns {
    () => {
        "id, parent_id, user_id, name, items, meta, data, is_expanded, created_at, updated_at"
    };
}

/// The chat columns a list reads (those of `chats::TitleRow`).
macro_rules! title_columns {
    () => {
        "id, user_id, title, updated_at, created_at, last_read_at, archived, pinned, share_id, folder_id"
    };
}

/// A folder row (the reference's `FolderModel`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FolderRow {
    pub id: String,
    pub parent_id: Option<String>,
    pub user_id: String,
    pub name: String,
    pub items: Option<Json<Value>>,
    pub meta: Option<Json<Value>>,
    pub data: Option<Json<Value>>,
    pub is_expanded: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A folder to insert.
#[derive(Debug, Clone)]
pub struct FolderWrite<'a> {
    pub id: &'a str,
    pub parent_id: Option<&'a str>,
    pub user_id: &'a str,
    pub name: &'a str,
    pub meta: Option<&'a Value>,
    pub data: Option<&'a Value>,
    pub now: i64,
}

/// The order of a folder's chat list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatOrder {
    /// Unread chats first (changed after they were last read), then newest change first.
    Unread,
    UpdatedAt {
        ascending: bool,
    },
    Title {
        ascending: bool,
    },
}

impl ChatOrder {
    fn sql(self) -> &'static str {
        match self {
            ChatOrder::Unread => {
                "case when updated_at > coalesce(last_read_at, 0) then 1 else 0 end desc, updated_at desc, id asc"
            }
            ChatOrder::UpdatedAt { ascending: true } => "updated_at asc, id asc",
            ChatOrder::UpdatedAt { ascending: false } => "updated_at desc, id asc",
            ChatOrder::Title { ascending: true } => "title asc, id asc",
            ChatOrder::Title { ascending: false } => "title desc, id asc",
        }
    }
}

fn ids_sql(first: usize, ids: &[String]) -> String {
    placeholders(first, ids.len())
}

// ---- folders ----

pub async fn get(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Option<FolderRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", folder_columns!(), " from folders where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// Folders by id, newest change first (unknown ids skipped). One statement.
pub async fn get_many(ex: impl Into<Exec<'_>>, ids: &[String]) -> AppResult<Vec<FolderRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {} from folders where id in ({}) order by updated_at desc, id asc",
        folder_columns!(),
        ids_sql(1, ids)
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Every folder of a user, oldest first.
pub async fn of_user(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<Vec<FolderRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!(
        "select ", folder_columns!(), " from folders where user_id = $1 order by created_at asc, id asc"))
        .bind(user_id)
        .fetch_all(e)
        .await)?)
}

/// The folders of `user_id` directly under `parent_id` (the root for `None`), newest change first.
pub async fn children(
    ex: impl Into<Exec<'_>>,
    user_id: &str,
    parent_id: Option<&str>,
) -> AppResult<Vec<FolderRow>> {
    let sql = concat!(
        "select ",
        folder_columns!(),
        " from folders where user_id = $1 and ",
        "((cast($2 as text) is null and parent_id is null) or parent_id = $2) order by updated_at desc, id asc"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(user_id).bind(parent_id).fetch_all(e).await)?)
}

/// A folder and every folder above it (each once, also when the parents loop). One statement.
pub async fn ancestors(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Vec<FolderRow>> {
    let sql = concat!(
        "with recursive up(id) as (select cast($1 as text) union ",
        "select f.parent_id from folders f join up on f.id = up.id where f.parent_id is not null) ",
        "select ",
        folder_columns!(),
        " from folders where id in (select id from up)"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(id).fetch_all(e).await)?)
}

/// A folder of `user_id` and every folder of theirs below it (each once, also when the parents
/// loop); empty when the folder is not theirs. One statement.
pub async fn subtree(ex: impl Into<Exec<'_>>, id: &str, user_id: &str) -> AppResult<Vec<FolderRow>> {
    let sql = concat!(
        "with recursive down(id) as (select id from folders where id = $1 and user_id = $2 union ",
        "select f.id from folders f join down on f.parent_id = down.id where f.user_id = $2) ",
        "select ",
        folder_columns!(),
        " from folders where id in (select id from down) order by created_at asc, id asc"
    );
    Ok(run!(ex, e => sqlx::query_as(sql).bind(id).bind(user_id).fetch_all(e).await)?)
}

/// Serialises the folder writes of one owner until `tx` ends (PostgreSQL; SQLite's single writer
/// serialises every transaction already), so two requests cannot both take a name or build a
/// loop of parents between them.
pub async fn lock_owner(tx: &mut Tx, user_id: &str) -> AppResult<()> {
    if tx.backend() == Backend::Postgres {
        run!(tx, e => sqlx::query("select pg_advisory_xact_lock(727310006, hashtext($1))")
            .bind(user_id)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

pub async fn insert(ex: impl Into<Exec<'_>>, f: &FolderWrite<'_>) -> AppResult<()> {
    let sql = concat!(
        "insert into folders (id, parent_id, user_id, name, items, meta, data, is_expanded, created_at, updated_at) ",
        "values ($1, $2, $3, $4, null, $5, $6, false, $7, $7)"
    );
    run!(ex, e => sqlx::query(sql)
        .bind(f.id)
        .bind(f.parent_id)
        .bind(f.user_id)
        .bind(f.name)
        .bind(f.meta.map(Json))
        .bind(f.data.map(Json))
        .bind(f.now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites a folder's name, `meta` and `data`.
pub async fn update(
    ex: impl Into<Exec<'_>>,
    id: &str,
    name: &str,
    meta: Option<&Value>,
    data: Option<&Value>,
    now: i64,
) -> AppResult<()> {
    run!(ex, e => sqlx::query("update folders set name = $2, meta = $3, data = $4, updated_at = $5 where id = $1")
        .bind(id)
        .bind(name)
        .bind(meta.map(Json))
        .bind(data.map(Json))
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_parent(
    ex: impl Into<Exec<'_>>,
    id: &str,
    parent_id: Option<&str>,
    now: i64,
) -> AppResult<()> {
    run!(ex, e => sqlx::query("update folders set parent_id = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(parent_id)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_expanded(ex: impl Into<Exec<'_>>, id: &str, expanded: bool, now: i64) -> AppResult<()> {
    run!(ex, e => sqlx::query("update folders set is_expanded = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(expanded)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the folders and every grant on them.
pub async fn delete_many(tx: &mut Tx, ids: &[String]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let grants = format!(
        "delete from access_grants where resource_type = '{}' and resource_id in ({})",
        super::grants::FOLDER,
        ids_sql(1, ids)
    );
    let folders = format!("delete from folders where id in ({})", ids_sql(1, ids));
    for sql in [grants, folders] {
        run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(id);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Of `ids`, the folders that have at least one grant. One statement.
pub async fn with_grants(ex: impl Into<Exec<'_>>, ids: &[String]) -> AppResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select distinct resource_id from access_grants where resource_type = '{}' and resource_id in ({})",
        super::grants::FOLDER,
        ids_sql(1, ids)
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// Folder grants a user may hold or hand out: on the user's own folders, to every user, to the
/// user, or to one of their groups (direct or inherited). `(folder id, permission)` pairs.
pub async fn grants_reaching(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<Vec<(String, String)>> {
    let sql = format!(
        "select resource_id, permission from access_grants where resource_type = '{}' and \
         (resource_id in (select id from folders where user_id = $1) \
         or (principal_type = 'user' and (principal_id = '*' or principal_id = $1)) \
         or (principal_type = 'group' and principal_id in {})) order by created_at asc, id asc",
        super::grants::FOLDER,
        super::groups::member_groups_sql("$1")
    );
    Ok(run!(ex, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user_id).fetch_all(e).await)?)
}

// ---- chats by folder ----

/// A page of `user_id`'s chats in one folder (not pinned, not archived).
pub async fn chat_page(
    ex: impl Into<Exec<'_>>,
    user_id: &str,
    folder_id: &str,
    order: ChatOrder,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<TitleRow>> {
    let sql = format!(
        "select {} from chats where user_id = $1 and folder_id = $2 and archived = false and pinned = false \
         order by {} limit {} offset {}",
        title_columns!(),
        order.sql(),
        limit.max(0),
        offset.max(0)
    );
    Ok(
        run!(ex, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user_id).bind(folder_id).fetch_all(e).await)?,
    )
}

/// The first `limit` chats after `offset` of `user_id` in each of `folder_ids` (not pinned, not
/// archived), in `order`, with how many each folder holds. Two statements for any number of
/// folders.
pub async fn chat_pages(
    ex: &super::Db,
    user_id: &str,
    folder_ids: &[String],
    order: ChatOrder,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<TitleRow>, Vec<(String, i64)>)> {
    if folder_ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let filter = format!(
        "user_id = $1 and archived = false and pinned = false and folder_id in ({})",
        ids_sql(2, folder_ids)
    );
    let page = format!(
        "select {cols} from (select {cols}, row_number() over (partition by folder_id order by {order}) as n \
         from chats where {filter}) ranked where n > {from} and n <= {to} order by folder_id, n",
        cols = title_columns!(),
        order = order.sql(),
        from = offset.max(0),
        to = offset.max(0).saturating_add(limit.max(0)),
    );
    let rows: Vec<TitleRow> = run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(page.clone())).bind(user_id);
        for id in folder_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    let counted = format!("select folder_id, count(*) from chats where {filter} group by folder_id");
    let counts: Vec<(String, i64)> = run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(counted.clone())).bind(user_id);
        for id in folder_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok((rows, counts))
}

/// How many chats of `user_id` one folder holds (not pinned, not archived).
pub async fn chat_count(ex: impl Into<Exec<'_>>, user_id: &str, folder_id: &str) -> AppResult<i64> {
    let sql = "select count(*) from chats where user_id = $1 and folder_id = $2 and archived = false and pinned = false";
    Ok(run!(ex, e => sqlx::query_scalar(sql).bind(user_id).bind(folder_id).fetch_one(e).await)?)
}

/// A page of one folder's chats whoever owns them (not pinned, not archived).
pub async fn shared_chat_page(
    ex: impl Into<Exec<'_>>,
    folder_id: &str,
    order: ChatOrder,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<TitleRow>> {
    let sql = format!(
        "select {} from chats where folder_id = $1 and archived = false and pinned = false \
         order by {} limit {} offset {}",
        title_columns!(),
        order.sql(),
        limit.max(0),
        offset.max(0)
    );
    Ok(run!(ex, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(folder_id).fetch_all(e).await)?)
}

/// A page of one folder's chats whoever owns them, `user_id`'s unread ones first.
pub async fn shared_chat_page_unread_first(
    ex: impl Into<Exec<'_>>,
    folder_id: &str,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<TitleRow>> {
    let sql = format!(
        "select {} from chats where folder_id = $1 and archived = false and pinned = false order by \
         case when updated_at > coalesce(last_read_at, 0) and user_id = $2 then 1 else 0 end desc, \
         updated_at desc, id asc limit {} offset {}",
        title_columns!(),
        limit.max(0),
        offset.max(0)
    );
    Ok(
        run!(ex, e => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(folder_id).bind(user_id).fetch_all(e).await)?,
    )
}

/// How many chats one folder holds whoever owns them (not pinned, not archived).
pub async fn shared_chat_count(ex: impl Into<Exec<'_>>, folder_id: &str) -> AppResult<i64> {
    let sql = "select count(*) from chats where folder_id = $1 and archived = false and pinned = false";
    Ok(run!(ex, e => sqlx::query_scalar(sql).bind(folder_id).fetch_one(e).await)?)
}

/// Whole chats of `user_id` in any of `folder_ids` (not pinned, not archived), newest change first.
pub async fn chats_in(
    ex: impl Into<Exec<'_>>,
    user_id: &str,
    folder_ids: &[String],
) -> AppResult<Vec<ChatRow>> {
    if folder_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select id, user_id, title, chat, created_at, updated_at, share_id, archived, pinned, meta, variables, \
         folder_id, current_message_id, last_read_at from chats where user_id = $1 and folder_id in ({}) \
         and archived = false and pinned = false order by updated_at desc, id asc",
        ids_sql(2, folder_ids)
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
        for id in folder_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// How many chats of `user_id` are in any of `folder_ids` (archived and pinned ones too).
pub async fn count_owned_in(ex: impl Into<Exec<'_>>, user_id: &str, folder_ids: &[String]) -> AppResult<i64> {
    if folder_ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "select count(*) from chats where user_id = $1 and folder_id in ({})",
        ids_sql(2, folder_ids)
    );
    Ok(run!(ex, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
        for id in folder_ids {
            q = q.bind(id);
        }
        q.fetch_one(e).await
    })?)
}

/// Per folder, how many of `user_id`'s chats in it are unread: not archived and changed after
/// they were last read. One statement, served from an index.
pub async fn unread_counts(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<Vec<(String, i64)>> {
    let sql = "select folder_id, count(*) from chats where user_id = $1 and folder_id is not null \
               and archived = false and updated_at > coalesce(last_read_at, 0) group by folder_id";
    Ok(run!(ex, e => sqlx::query_as(sql).bind(user_id).fetch_all(e).await)?)
}

/// Marks `user_id`'s chats read (`last_read_at` = `updated_at`): the ones not archived, in any of
/// `folder_ids` (every one for `None`). How many chats that covered.
pub async fn mark_read(
    ex: impl Into<Exec<'_>>,
    user_id: &str,
    folder_ids: Option<&[String]>,
) -> AppResult<u64> {
    let mut sql =
        String::from("update chats set last_read_at = updated_at where user_id = $1 and archived = false");
    if let Some(ids) = folder_ids {
        if ids.is_empty() {
            return Ok(0);
        }
        sql.push_str(&format!(" and folder_id in ({})", ids_sql(2, ids)));
    }
    let ids = folder_ids.unwrap_or_default();
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    Ok(run!(ex, e => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
        for id in ids {
            q = q.bind(id);
        }
        q.execute(e).await.map(|r| r.rows_affected())
    })?)
}

/// Marks one chat of `user_id` unread (`last_read_at` = 0); whether it is theirs.
pub async fn mark_unread(ex: impl Into<Exec<'_>>, id: &str, user_id: &str) -> AppResult<bool> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    let n = run!(ex, e => sqlx::query("update chats set last_read_at = 0 where id = $1 and user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Marks one chat of `user_id` read at `at` (`last_read_at` = `at`); whether it is theirs.
pub async fn mark_chat_read(ex: impl Into<Exec<'_>>, id: &str, user_id: &str, at: i64) -> AppResult<bool> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    let n = run!(ex, e => sqlx::query("update chats set last_read_at = $3 where id = $1 and user_id = $2")
        .bind(id)
        .bind(user_id)
        .bind(at)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Puts a chat into a folder (or at the root for `None`): it is no longer pinned, a chat moved
/// into a folder is no longer archived, `updated_at` moves, and `last_read_at` too when the owner
/// moves it.
pub async fn move_chat(
    ex: impl Into<Exec<'_>>,
    id: &str,
    owner_id: &str,
    folder_id: Option<&str>,
    by_owner: bool,
    now: i64,
) -> AppResult<()> {
    let sql = "update chats set folder_id = $2, pinned = false, \
               archived = case when cast($2 as text) is null then archived else false end, updated_at = $3, \
               last_read_at = case when $4 then $3 else last_read_at end where id = $1";
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(owner_id.to_string()))).await;
    run!(ex, e => sqlx::query(sql)
        .bind(id)
        .bind(folder_id)
        .bind(now)
        .bind(by_owner)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes `user_id`'s chats in any of `folder_ids`, with their tag links and share snapshots.
pub async fn delete_chats_in(tx: &mut Tx, user_id: &str, folder_ids: &[String]) -> AppResult<u64> {
    if folder_ids.is_empty() {
        return Ok(0);
    }
    tx.changes(Change::Chats(Some(user_id.to_string())));
    let chosen =
        format!("select id from chats where user_id = $1 and folder_id in ({})", ids_sql(2, folder_ids));
    let tags = format!("delete from chat_tags where chat_id in ({chosen})");
    let shares = format!("delete from shared_chats where chat_id in ({chosen})");
    let chats = format!("delete from chats where user_id = $1 and folder_id in ({})", ids_sql(2, folder_ids));
    let mut deleted = 0;
    for sql in [tags, shares, chats] {
        deleted = run!(&mut *tx, e => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
            for id in folder_ids {
                q = q.bind(id);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(deleted)
}

/// Moves every chat (whoever owns it) out of `folder_ids` to the root.
pub async fn empty_folders(tx: &mut Tx, folder_ids: &[String]) -> AppResult<u64> {
    if folder_ids.is_empty() {
        return Ok(0);
    }
    tx.changes(Change::Chats(None));
    let sql = format!("update chats set folder_id = null where folder_id in ({})", ids_sql(1, folder_ids));
    Ok(run!(tx, e => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for id in folder_ids {
            q = q.bind(id);
        }
        q.execute(e).await.map(|r| r.rows_affected())
    })?)
}

/// Before user `user_id` is deleted: other users' chats in their folders move to the root (the
/// folders go with the user), and the grants on those folders go.
pub async fn release_for_user(tx: &mut Tx, user_id: &str) -> AppResult<()> {
    tx.changes(Change::Chats(None));
    run!(&mut *tx, e => sqlx::query(
        "update chats set folder_id = null where user_id <> $1 and folder_id in (select id from folders where user_id = $1)")
        .bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query(
        "delete from access_grants where resource_type = 'folder' and resource_id in (select id from folders where user_id = $1)")
        .bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(())
}
