//! Chat tags: tag ids, a chat's tags (add, remove), the caller's tags and chats by tag.

use serde_json::{Value, json};

use super::view::{ChatPage, TagView};
use super::{default_401, not_found_401, own_chat};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;
use crate::store::chats::{ChatRow, Filter, Sort};

/// The reference's tag id: spaces to `_`, lower-case.
pub fn normalize_tag(name: &str) -> String {
    name.trim().replace(' ', "_").to_lowercase()
}

pub(super) fn tag_ids_of(meta: &Value) -> Vec<String> {
    meta.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            let mut ids: Vec<String> = Vec::new();
            for id in a.iter().filter_map(Value::as_str).map(normalize_tag) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        })
        .unwrap_or_default()
}

/// `GET /chats/{id}/tags`.
pub async fn chat_tags(app: &App, caller: &Caller, id: &str) -> AppResult<Vec<TagView>> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, not_found_401).await?;
    let tags = store::chats::tags_by_ids(&app.db, &p.user.id, &tag_ids_of(&row.meta.0)).await?;
    Ok(tags.into_iter().map(TagView::from).collect())
}

/// `POST /chats/{id}/tags`: adds a tag (created on first use).
pub async fn add_tag(app: &App, caller: &Caller, id: &str, name: &str) -> AppResult<Vec<TagView>> {
    let p = caller.require_verified()?;
    if name == "None" {
        return Err(AppError::bad_request(ErrorCode::TagNameNone));
    }
    let tag = normalize_tag(name);
    if tag.is_empty() {
        return Err(AppError::bad_request(ErrorCode::TagNameEmpty));
    }
    let row = own_chat(&app.db, p, id, default_401).await?;
    let mut ids = tag_ids_of(&row.meta.0);
    if !ids.contains(&tag) {
        ids.push(tag.clone());
    }
    write_tags(app, &row, &ids, Some((&tag, name))).await?;
    chat_tags(app, caller, id).await
}

/// `DELETE /chats/{id}/tags`: removes a tag; an unused tag row is deleted.
pub async fn remove_tag(app: &App, caller: &Caller, id: &str, name: &str) -> AppResult<Vec<TagView>> {
    let p = caller.require_verified()?;
    let row = own_chat(&app.db, p, id, not_found_401).await?;
    let tag = normalize_tag(name);
    let ids: Vec<String> = tag_ids_of(&row.meta.0).into_iter().filter(|t| *t != tag).collect();
    write_tags(app, &row, &ids, None).await?;
    chat_tags(app, caller, id).await
}

async fn write_tags(app: &App, row: &ChatRow, ids: &[String], new: Option<(&str, &str)>) -> AppResult<()> {
    let mut meta = row.meta.0.as_object().cloned().unwrap_or_default();
    meta.insert("tags".into(), json!(ids));
    let mut tx = app.db.begin().await?;
    if let Some((id, name)) = new {
        store::chats::ensure_tag(&mut tx, &row.user_id, id, name).await?;
    }
    store::chats::set_meta(&mut tx, &row.id, &Value::Object(meta)).await?;
    store::chats::set_chat_tags(&mut tx, &row.id, &row.user_id, ids).await?;
    store::chats::delete_unused_tags(&mut tx, &row.user_id).await?;
    tx.commit().await
}

/// `GET /chats/all/tags`.
pub async fn user_tags(app: &App, caller: &Caller) -> AppResult<Vec<TagView>> {
    let p = caller.require_verified()?;
    Ok(store::chats::user_tags(&app.db, &p.user.id).await?.into_iter().map(TagView::from).collect())
}

/// `POST /chats/tags`: the caller's chats with a tag.
pub async fn chats_by_tag(
    app: &App,
    caller: &Caller,
    name: &str,
    skip: i64,
    limit: i64,
) -> AppResult<ChatPage> {
    let p = caller.require_verified()?;
    let filter = Filter { archived: Some(false), tags: vec![normalize_tag(name)], ..Default::default() };
    let rows = store::chats::list(
        &app.db,
        &p.user.id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(limit.clamp(0, 1000)),
        skip.max(0),
    )
    .await?;
    Ok(ChatPage(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_tag_replaces_spaces_and_lower_cases() {
        assert_eq!(normalize_tag("Work Stuff"), "work_stuff");
    }
}
