//! What a GraphQL chat page reads about its chats beyond their titles: the number of matches, the
//! owners, the tags and the models their documents list. Each is one statement for the whole
//! page, and what a page from the chat-list cache reads is kept with it (`TitlePage`), so a
//! repeated sidebar reads none of it again: every write that could change it declares the chats'
//! owner, which drops the page with all it holds.

use std::collections::HashMap;
use std::sync::Arc;

use super::document::model_ids_in;
use super::view::{ChatPage, TagView};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::users::UserView;
use crate::store;
use crate::store::chats::{ChatModels, ChatTags, Filter};

/// How many chats `filter` matches: counted once per cached page.
pub(super) async fn total(app: &App, owner_id: &str, filter: &Filter, page: &ChatPage) -> AppResult<i64> {
    if let Some(total) = page.0.total.get() {
        return Ok(*total);
    }
    let total = store::chats::count(&app.db, owner_id, filter).await?;
    let _ = page.0.total.set(total);
    Ok(total)
}

/// The tags of each chat of the page (chats without tags map to an empty list).
pub async fn page_tags(app: &App, page: &ChatPage) -> AppResult<HashMap<String, Vec<TagView>>> {
    let tags = match page.0.tags.get() {
        Some(tags) => tags.clone(),
        None => {
            let ids: Vec<String> = page.0.rows.iter().map(|r| r.id.clone()).collect();
            let mut tags = ChatTags::new();
            for (chat_id, tag) in store::chats::tags_of_chats(&app.db, &ids).await? {
                tags.entry(chat_id).or_default().push(tag);
            }
            let tags = Arc::new(tags);
            let _ = page.0.tags.set(tags.clone());
            tags
        }
    };
    Ok(page
        .0
        .rows
        .iter()
        .map(|r| {
            let of_chat = tags.get(&r.id).map(|t| t.iter().cloned().map(TagView::from).collect());
            (r.id.clone(), of_chat.unwrap_or_default())
        })
        .collect())
}

/// The model ids each chat of the page lists in its document (`chat.models`).
pub async fn page_models(app: &App, page: &ChatPage) -> AppResult<Arc<ChatModels>> {
    if let Some(models) = page.0.models.get() {
        return Ok(models.clone());
    }
    let ids: Vec<String> = page.0.rows.iter().map(|r| r.id.clone()).collect();
    let models = Arc::new(models_of(app, &ids).await?);
    let _ = page.0.models.set(models.clone());
    Ok(models)
}

/// The model ids each of these chats lists in its document (unknown chats are absent), read
/// without loading the documents.
pub async fn models_of(app: &App, ids: &[String]) -> AppResult<ChatModels> {
    Ok(store::chats::models_of(&app.db, ids)
        .await?
        .into_iter()
        .map(|(id, m)| (id, model_ids_in(&m)))
        .collect())
}

/// The accounts with these ids (unknown ids are absent): the caller's own as their session read
/// it (what `me` answers), the others in one statement.
pub async fn owners(app: &App, caller: &Caller, ids: &[String]) -> AppResult<HashMap<String, UserView>> {
    let mut out = HashMap::with_capacity(ids.len());
    let me = caller.principal().filter(|p| ids.contains(&p.user.id));
    if let Some(p) = me {
        out.insert(p.user.id.clone(), UserView::from(p.user.clone()));
    }
    let others: Vec<String> = ids.iter().filter(|id| !out.contains_key(*id)).cloned().collect();
    if !others.is_empty() {
        for user in store::users::get_many(&app.db, &others).await? {
            out.insert(user.id.clone(), UserView::from(user));
        }
    }
    Ok(out)
}
