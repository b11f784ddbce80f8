//! Tables `chats` and `shared_chats` (tags are in `store::tags`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::types::Json;

use super::cache::{Change, Ticket};
use super::{Db, Exec, Tx};
use crate::error::AppResult;
use crate::run;

macro_rules! chat_columns {
    () => {
        "id, user_id, title, chat, created_at, updated_at, share_id, archived, pinned, meta, variables, \
         folder_id, current_message_id, last_read_at"
    };
}

macro_rules! title_columns {
    () => {
        "id, user_id, title, updated_at, created_at, last_read_at, archived, pinned, share_id, folder_id"
    };
}

/// A whole chat row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatRow {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub chat: Json<Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub share_id: Option<String>,
    pub archived: bool,
    pub pinned: bool,
    pub meta: Json<Value>,
    pub variables: Option<Json<Value>>,
    pub folder_id: Option<String>,
    pub current_message_id: Option<String>,
    pub last_read_at: Option<i64>,
}

/// The columns a chat list needs (never the chat document).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TitleRow {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub updated_at: i64,
    pub created_at: i64,
    pub last_read_at: Option<i64>,
    pub archived: bool,
    pub pinned: bool,
    pub share_id: Option<String>,
    pub folder_id: Option<String>,
}

/// An entry of the chat-list cache: a page of a chat list as read, shared by the requests the cache
/// serves it to, with the JSON a REST list route made of it (made once per page, not once per
/// request) — or, without rows, one chat as its owner opens it (`keep_opened`) — and what a GraphQL page
/// reads about its chats (read on first use, kept with the page: any write that could change them
/// drops the page too, as it declares `Change::Chats` for the chats' owner).
#[derive(Debug, Default)]
pub struct TitlePage {
    pub rows: Vec<TitleRow>,
    pub rendered: OnceLock<bytes::Bytes>,
    /// How many chats the whole list holds (see `list_total`).
    pub total: OnceLock<i64>,
    /// The tags of the page's chats (see `page_tags`).
    pub tags: OnceLock<Arc<ChatTags>>,
    /// The model ids the page's chat documents list (see `page_models`).
    pub models: OnceLock<Arc<ChatModels>>,
}

/// Tags by chat id (chats without tags are absent).
pub type ChatTags = HashMap<String, Vec<TagRow>>;

/// The model ids a chat document lists (`chat.models`), by chat id, in order, without repeats.
pub type ChatModels = HashMap<String, Vec<String>>;

impl std::ops::Deref for TitlePage {
    type Target = Vec<TitleRow>;
    fn deref(&self) -> &Vec<TitleRow> {
        &self.rows
    }
}

/// A row to write (insert or full replace).
#[derive(Debug, Clone)]
pub struct ChatWrite<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub title: &'a str,
    pub chat: &'a Value,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived: bool,
    pub pinned: bool,
    pub meta: &'a Value,
    pub variables: &'a Value,
    pub folder_id: Option<&'a str>,
    pub current_message_id: Option<&'a str>,
    pub last_read_at: Option<i64>,
    pub search_text: &'a str,
}

impl ChatWrite<'_> {
    /// The row as it reads back once this is written, with `share_id` (which a write leaves as
    /// it is): what a writer answers without reading the row again.
    pub fn row(&self, share_id: Option<String>) -> ChatRow {
        ChatRow {
            id: self.id.to_string(),
            user_id: self.user_id.to_string(),
            title: self.title.to_string(),
            chat: Json(self.chat.clone()),
            created_at: self.created_at,
            updated_at: self.updated_at,
            share_id,
            archived: self.archived,
            pinned: self.pinned,
            meta: Json(self.meta.clone()),
            variables: Some(Json(self.variables.clone())),
            folder_id: self.folder_id.map(str::to_string),
            current_message_id: self.current_message_id.map(str::to_string),
            last_read_at: self.last_read_at,
        }
    }
}

pub async fn insert(ex: impl Into<Exec<'_>>, c: &ChatWrite<'_>) -> AppResult<()> {
    let sql = concat!(
        "insert into chats (id, user_id, title, chat, created_at, updated_at, archived, pinned, meta, variables, ",
        "folder_id, current_message_id, last_read_at, search_text) ",
        "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(c.user_id.to_string()))).await;
    run!(ex, e => sqlx::query(sql)
        .bind(c.id)
        .bind(c.user_id)
        .bind(c.title)
        .bind(Json(c.chat))
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.archived)
        .bind(c.pinned)
        .bind(Json(c.meta))
        .bind(Json(c.variables))
        .bind(c.folder_id)
        .bind(c.current_message_id)
        .bind(c.last_read_at)
        .bind(c.search_text)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites the document-derived columns of a chat.
pub async fn update_content(ex: impl Into<Exec<'_>>, c: &ChatWrite<'_>) -> AppResult<()> {
    let sql = concat!(
        "update chats set title = $2, chat = $3, updated_at = $4, meta = $5, variables = $6, ",
        "current_message_id = $7, search_text = $8 where id = $1"
    );
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(c.user_id.to_string()))).await;
    run!(ex, e => sqlx::query(sql)
        .bind(c.id)
        .bind(c.title)
        .bind(Json(c.chat))
        .bind(c.updated_at)
        .bind(Json(c.meta))
        .bind(Json(c.variables))
        .bind(c.current_message_id)
        .bind(c.search_text)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A whole chat row with its document as read (checked to be JSON, not parsed into a tree).
#[derive(Debug, sqlx::FromRow)]
pub struct RawChatRow {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub chat: Json<Box<RawValue>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub share_id: Option<String>,
    pub archived: bool,
    pub pinned: bool,
    pub meta: Json<Value>,
    pub variables: Option<Json<Value>>,
    pub folder_id: Option<String>,
    pub current_message_id: Option<String>,
    pub last_read_at: Option<i64>,
}

impl RawChatRow {
    /// The row with its document parsed.
    pub fn parsed(self) -> AppResult<ChatRow> {
        let chat = serde_json::from_str(self.chat.0.get())
            .map_err(|e| crate::error::AppError::internal(format!("chat document from the database: {e}")))?;
        let (mut row, _) = self.split();
        row.chat = Json(chat);
        Ok(row)
    }

    /// The row with `null` for its document, and the document.
    pub fn split(self) -> (ChatRow, Box<RawValue>) {
        let row = ChatRow {
            id: self.id,
            user_id: self.user_id,
            title: self.title,
            chat: Json(Value::Null),
            created_at: self.created_at,
            updated_at: self.updated_at,
            share_id: self.share_id,
            archived: self.archived,
            pinned: self.pinned,
            meta: self.meta,
            variables: self.variables,
            folder_id: self.folder_id,
            current_message_id: self.current_message_id,
            last_read_at: self.last_read_at,
        };
        (row, self.chat.0)
    }
}

/// `get` with the document left as read.
pub async fn get_raw(db: &Db, id: &str) -> AppResult<Option<RawChatRow>> {
    Ok(run!(db, e => sqlx::query_as(concat!("select ", chat_columns!(), " from chats where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// The key of one chat in its owner's part of the chat-list cache.
fn opened_key(id: &str) -> String {
    format!("chat:{id}")
}

/// What the chat-list cache holds of chat `id` as its owner `owner_id` opens it (see `keep_opened`).
pub fn opened(db: &Db, owner_id: &str, id: &str) -> Option<bytes::Bytes> {
    db.caches().chat_lists.get(owner_id, &opened_key(id)).and_then(|e| e.rendered.get().cloned())
}

/// Permission to keep an opened chat, taken before it is read (`None` with the cache off).
pub fn opened_ticket(db: &Db) -> Option<Ticket> {
    db.caches().chat_lists.ticket()
}

/// Keeps what chat `id` answers its owner, with the owner's pages in the chat-list cache (an entry
/// without rows): the writes that drop those pages drop it too, as they declare `Change::Chats`
/// for the owner (or for everyone) whatever column of the chat they change.
pub fn keep_opened(db: &Db, ticket: Ticket, owner_id: &str, id: &str, rendered: bytes::Bytes) {
    let entry = TitlePage { rendered: OnceLock::from(rendered), ..Default::default() };
    db.caches().chat_lists.put(ticket, owner_id, opened_key(id), Arc::new(entry));
}

pub async fn get(ex: impl Into<Exec<'_>>, id: &str) -> AppResult<Option<ChatRow>> {
    Ok(run!(ex, e => sqlx::query_as(concat!("select ", chat_columns!(), " from chats where id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// The chat locked for an update inside `tx` (`for update` on PostgreSQL; SQLite's writer lock
/// is taken by the transaction's first write).
pub async fn get_for_update(tx: &mut Tx, id: &str) -> AppResult<Option<ChatRow>> {
    let row = match tx.backend() {
        super::Backend::Postgres => {
            run!(tx, e => sqlx::query_as(concat!("select ", chat_columns!(), " from chats where id = $1 for update"))
                .bind(id)
                .fetch_optional(e)
                .await)?
        }
        // A SQLite transaction holds the database's write lock from its start (`begin immediate`,
        // one writer at a time), so the row cannot change under it.
        super::Backend::Sqlite => get(tx, id).await?,
    };
    Ok(row)
}

/// Sort keys of chat lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    UpdatedAt,
    CreatedAt,
    Title,
}

impl Sort {
    pub(super) fn column(self) -> &'static str {
        match self {
            Sort::UpdatedAt => "updated_at",
            Sort::CreatedAt => "created_at",
            Sort::Title => "title",
        }
    }
}

/// Which of a user's chats a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub without_folder: bool,
    /// Case-insensitive substring of the title.
    pub title: Option<String>,
    /// Lower-cased words that must all occur in the title or a message.
    pub words: Vec<String>,
    /// Tag ids that must all be on the chat; `Some(vec![])` never matches.
    pub tags: Vec<String>,
    /// Only chats without tags.
    pub untagged: bool,
    pub shared: Option<bool>,
    /// `folder:` names of a search (spaces and `_` alike, lower-cased); resolved into `folders`.
    pub folder_names: Vec<String>,
    /// Only chats in these folders; `Some(vec![])` never matches.
    pub folders: Option<Vec<String>>,
}

/// A page of a user's chats (`limit` `None` = all), newest first by default.
pub async fn list(
    db: &Db,
    user_id: &str,
    filter: &Filter,
    sort: Sort,
    ascending: bool,
    limit: Option<i64>,
    offset: i64,
) -> AppResult<Arc<TitlePage>> {
    let cache = &db.caches().chat_lists;
    let key = format!("{filter:?}|{sort:?}|{ascending}|{limit:?}|{offset}");
    if let Some(rows) = cache.get(user_id, &key) {
        return Ok(rows);
    }
    let ticket = cache.ticket();
    let rows = list_uncached(db, user_id, filter, sort, ascending, limit, offset).await?;
    let rows = Arc::new(TitlePage { rows, ..Default::default() });
    if let Some(ticket) = ticket {
        cache.put(ticket, user_id, key, rows.clone());
    }
    Ok(rows)
}

async fn list_uncached(
    db: &Db,
    user_id: &str,
    filter: &Filter,
    sort: Sort,
    ascending: bool,
    limit: Option<i64>,
    offset: i64,
) -> AppResult<Vec<TitleRow>> {
    let (mut sql, args) = filtered(concat!("select ", title_columns!(), " from chats"), filter);
    let direction = if ascending { "asc" } else { "desc" };
    sql.push_str(&format!(" order by {} {direction}, id asc", sort.column()));
    if let Some(limit) = limit {
        sql.push_str(&format!(" limit {limit} offset {offset}"));
    }
    if db.backend() == super::Backend::Sqlite {
        // One row holding the page as a JSON array: SQLite hands rows from its worker thread one
        // message at a time, so a 60-row page would cost 60 hand-overs.
        let sql = format!(
            "select coalesce(json_group_array(json_array({}) order by {} {direction}, id asc), '[]') from ({sql})",
            title_columns!(),
            sort.column()
        );
        let page: String = run!(db, e => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(user_id);
            for a in &args {
                q = q.bind(a);
            }
            q.fetch_one(e).await
        })?;
        return title_rows_from_json(&page);
    }
    let rows: Vec<TitleRow> = run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
        for a in &args {
            q = q.bind(a);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows)
}

/// Rows of `title_columns!()` encoded by SQLite's `json_array` (booleans as 0/1).
fn title_rows_from_json(page: &str) -> AppResult<Vec<TitleRow>> {
    type Encoded = (String, String, String, i64, i64, Option<i64>, i64, i64, Option<String>, Option<String>);
    let rows: Vec<Encoded> = serde_json::from_str(page)
        .map_err(|e| crate::error::AppError::internal(format!("chat page from the database: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|r| TitleRow {
            id: r.0,
            user_id: r.1,
            title: r.2,
            updated_at: r.3,
            created_at: r.4,
            last_read_at: r.5,
            archived: r.6 != 0,
            pinned: r.7 != 0,
            share_id: r.8,
            folder_id: r.9,
        })
        .collect())
}

/// How many of a user's chats match `filter`.
pub async fn count(db: &Db, user_id: &str, filter: &Filter) -> AppResult<i64> {
    let (sql, args) = filtered("select count(*) from chats", filter);
    Ok(run!(db, e => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(user_id);
        for a in &args {
            q = q.bind(a);
        }
        q.fetch_one(e).await
    })?)
}

/// `select_from` with the `where` clause of `filter`; `$1` is the user id, then the returned
/// arguments in order.
fn filtered(select_from: &str, filter: &Filter) -> (String, Vec<String>) {
    let mut sql = format!("{select_from} where user_id = $1");
    let mut args: Vec<String> = Vec::new();
    let mut arg = |value: String, sql: &mut String, template: &str| {
        args.push(value);
        sql.push_str(&template.replace('?', &format!("${}", args.len() + 1)));
    };
    match filter.archived {
        Some(true) => sql.push_str(" and archived = true"),
        Some(false) => sql.push_str(" and archived = false"),
        None => {}
    }
    match filter.pinned {
        Some(true) => sql.push_str(" and pinned = true"),
        Some(false) => sql.push_str(" and pinned = false"),
        None => {}
    }
    match filter.shared {
        Some(true) => sql.push_str(" and share_id is not null"),
        Some(false) => sql.push_str(" and share_id is null"),
        None => {}
    }
    if filter.without_folder {
        sql.push_str(" and folder_id is null");
    }
    if let Some(title) = &filter.title {
        let pattern = format!("%{}%", super::users::escape_like(&title.to_lowercase()));
        arg(pattern, &mut sql, " and lower(title) like ? escape '\\'");
    }
    for word in &filter.words {
        let pattern = format!("%{}%", super::users::escape_like(word));
        arg(pattern, &mut sql, " and search_text like ? escape '\\'");
    }
    for tag in &filter.tags {
        arg(
            tag.clone(),
            &mut sql,
            " and exists (select 1 from chat_tags t where t.chat_id = chats.id and t.user_id = chats.user_id and t.tag_id = ?)",
        );
    }
    if filter.untagged {
        sql.push_str(" and not exists (select 1 from chat_tags t where t.chat_id = chats.id)");
    }
    match &filter.folders {
        Some(ids) if ids.is_empty() => sql.push_str(" and 1 = 0"),
        Some(ids) => {
            sql.push_str(" and folder_id in (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                arg(id.clone(), &mut sql, "?");
            }
            sql.push(')');
        }
        None => {}
    }
    (sql, args)
}

/// Whole chats by id (unknown ids skipped). One statement.
pub async fn get_many(db: &Db, ids: &[String]) -> AppResult<Vec<ChatRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql =
        format!("select {} from chats where id in ({})", chat_columns!(), super::placeholders(1, ids.len()));
    Ok(run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?)
}

/// The `models` member of each chat document (`Null` when absent), read by the database rather
/// than by loading the documents. One statement (one row on SQLite). Unknown ids are skipped.
pub async fn models_of(db: &Db, ids: &[String]) -> AppResult<Vec<(String, Value)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::placeholders(1, ids.len());
    if db.backend() == super::Backend::Sqlite {
        let sql = format!(
            "select coalesce(json_group_array(json_array(id, json_extract(chat, '$.models'))), '[]') \
             from chats where id in ({list})"
        );
        let page: String = run!(db, e => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_one(e).await
        })?;
        return serde_json::from_str(&page)
            .map_err(|e| crate::error::AppError::internal(format!("chat models from the database: {e}")));
    }
    let sql = format!("select id, chat -> 'models' from chats where id in ({list})");
    let rows: Vec<(String, Option<Json<Value>>)> = run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().map(|(id, m)| (id, m.map(|m| m.0).unwrap_or(Value::Null))).collect())
}

/// Whole chats of a user (or of everyone with `user_id` `None`), newest first.
pub async fn all(db: &Db, user_id: Option<&str>, archived: Option<bool>) -> AppResult<Vec<ChatRow>> {
    let sql = concat!(
        "select ",
        chat_columns!(),
        " from chats where ($1 is null or user_id = $1) ",
        "and ($2 is null or archived = $2) order by updated_at desc, id asc"
    );
    Ok(run!(db, e => sqlx::query_as(sql).bind(user_id).bind(archived).fetch_all(e).await)?)
}

pub async fn count_archived(db: &Db, user_id: &str) -> AppResult<i64> {
    Ok(run!(db, e => sqlx::query_scalar("select count(*) from chats where user_id = $1 and archived = true")
        .bind(user_id)
        .fetch_one(e)
        .await)?)
}

/// Sets the pin/archive state (and optionally the folder) and bumps `updated_at`/`last_read_at`.
pub async fn set_flags(
    ex: impl Into<Exec<'_>>,
    id: &str,
    pinned: bool,
    archived: bool,
    clear_folder: bool,
    now: i64,
) -> AppResult<()> {
    let sql = "update chats set pinned = $2, archived = $3, folder_id = case when $4 then null else folder_id end, \
               updated_at = $5, last_read_at = $5 where id = $1";
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(None)).await;
    run!(ex, e => sqlx::query(sql)
        .bind(id)
        .bind(pinned)
        .bind(archived)
        .bind(clear_folder)
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Archives (clearing folders) or unarchives every chat of a user.
pub async fn set_archived_all(db: &Db, user_id: &str, archived: bool) -> AppResult<u64> {
    let sql = "update chats set archived = $2, folder_id = case when $2 then null else folder_id end where user_id = $1";
    let mut ex = Exec::from(db);
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    Ok(
        run!(ex, e => sqlx::query(sql).bind(user_id).bind(archived).execute(e).await.map(|r| r.rows_affected()))?,
    )
}

pub async fn set_meta(ex: impl Into<Exec<'_>>, id: &str, meta: &Value) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(None)).await;
    run!(ex, e => sqlx::query("update chats set meta = $2 where id = $1")
        .bind(id)
        .bind(Json(meta))
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: &str) -> AppResult<bool> {
    tx.changes(Change::Chats(None));
    run!(&mut *tx, e => sqlx::query("delete from chat_tags where chat_id = $1").bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from shared_chats where chat_id = $1").bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    super::grants::delete_for(tx, super::grants::SHARED_CHAT, id).await?;
    let n = run!(tx, e => sqlx::query("delete from chats where id = $1").bind(id).execute(e).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes every chat of a user with their tags links and snapshots.
pub async fn delete_for_user(tx: &mut Tx, user_id: &str) -> AppResult<u64> {
    tx.changes(Change::Chats(Some(user_id.to_string())));
    run!(&mut *tx, e => sqlx::query("delete from chat_tags where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    run!(&mut *tx, e => sqlx::query("delete from shared_chats where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?;
    super::chat_shares::delete_share_grants_of_user(tx, user_id).await?;
    Ok(
        run!(tx, e => sqlx::query("delete from chats where user_id = $1").bind(user_id).execute(e).await.map(|r| r.rows_affected()))?,
    )
}

// ---- shares: `chat_shares` ----

pub use super::chat_shares::{
    SharedRow, delete_shares, delete_shares_for_user, get_share, list_shares, set_share_document,
    upsert_share,
};

// ---- tags: `tags` ----

pub use super::tags::{
    TagRow, delete_unused_tags, ensure_tag, set_chat_tags, tags_by_ids, tags_of_chats, user_tags,
};
