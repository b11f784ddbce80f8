//! Tables `tags` and `chat_tags`: a user's tags and the tags each chat carries.

use serde_json::Value;
use sqlx::types::Json;

use super::cache::Change;
use super::{Db, Exec, Tx};
use crate::error::AppResult;
use crate::run;

/// A tag row (`TagModel`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub meta: Option<Json<Value>>,
}

/// Creates the tag if the user has none with that id.
pub async fn ensure_tag(ex: impl Into<Exec<'_>>, user_id: &str, id: &str, name: &str) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    run!(ex, e => sqlx::query("insert into tags (id, user_id, name) values ($1, $2, $3) on conflict (id, user_id) do nothing")
        .bind(id)
        .bind(user_id)
        .bind(name)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces the tag links of a chat with `tag_ids`.
pub async fn set_chat_tags(tx: &mut Tx, chat_id: &str, user_id: &str, tag_ids: &[String]) -> AppResult<()> {
    tx.changes(Change::Chats(Some(user_id.to_string())));
    run!(&mut *tx, e => sqlx::query("delete from chat_tags where chat_id = $1").bind(chat_id).execute(e).await.map(|r| r.rows_affected()))?;
    for tag in tag_ids {
        run!(&mut *tx, e => sqlx::query("insert into chat_tags (chat_id, user_id, tag_id) values ($1, $2, $3) on conflict do nothing")
            .bind(chat_id)
            .bind(user_id)
            .bind(tag)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// The user's tags with these ids, in the given order.
pub async fn tags_by_ids(db: &Db, user_id: &str, ids: &[String]) -> AppResult<Vec<TagRow>> {
    let all = user_tags(db, user_id).await?;
    Ok(ids.iter().filter_map(|id| all.iter().find(|t| &t.id == id).cloned()).collect())
}

pub async fn user_tags(db: &Db, user_id: &str) -> AppResult<Vec<TagRow>> {
    Ok(
        run!(db, e => sqlx::query_as("select id, name, user_id, meta from tags where user_id = $1 order by id")
        .bind(user_id)
        .fetch_all(e)
        .await)?,
    )
}

/// Deletes the user's tags no chat carries any more.
pub async fn delete_unused_tags(ex: impl Into<Exec<'_>>, user_id: &str) -> AppResult<()> {
    let mut ex = ex.into();
    let _after = ex.changes(Change::Chats(Some(user_id.to_string()))).await;
    run!(ex, e => sqlx::query("delete from tags where user_id = $1 and not exists (select 1 from chat_tags t where t.user_id = tags.user_id and t.tag_id = tags.id)")
        .bind(user_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The tags of several chats: `(chat id, tag)` pairs, by tag id. One statement (on SQLite one row:
/// its worker thread hands rows over one at a time, and a page of chats carries tens of tags).
pub async fn tags_of_chats(db: &Db, chat_ids: &[String]) -> AppResult<Vec<(String, TagRow)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        chat_id: String,
        #[sqlx(flatten)]
        tag: TagRow,
    }
    if chat_ids.is_empty() {
        return Ok(Vec::new());
    }
    let from = format!(
        "from chat_tags ct join tags t on t.id = ct.tag_id and t.user_id = ct.user_id where ct.chat_id in ({})",
        super::placeholders(1, chat_ids.len())
    );
    if db.backend() == super::Backend::Sqlite {
        let sql = format!(
            "select coalesce(json_group_array(json_array(ct.chat_id, t.id, t.name, t.user_id, json(t.meta)) \
             order by t.id, ct.chat_id), '[]') {from}"
        );
        let page: String = run!(db, e => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
            for id in chat_ids {
                q = q.bind(id);
            }
            q.fetch_one(e).await
        })?;
        type Encoded = (String, String, String, String, Option<Value>);
        let rows: Vec<Encoded> = serde_json::from_str(&page)
            .map_err(|e| crate::error::AppError::internal(format!("chat tags from the database: {e}")))?;
        return Ok(rows
            .into_iter()
            .map(|(chat, id, name, user_id, meta)| (chat, TagRow { id, name, user_id, meta: meta.map(Json) }))
            .collect());
    }
    let sql = format!("select ct.chat_id, t.id, t.name, t.user_id, t.meta {from} order by t.id, ct.chat_id");
    let rows: Vec<Row> = run!(db, e => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in chat_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().map(|r| (r.chat_id, r.tag)).collect())
}
