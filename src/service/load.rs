//! Batched reads for GraphQL's per-request loaders: one statement per batch, answered as views.
//! What a field may show of them is decided where they are resolved (`Chat.user` for the owner
//! and admins, `Model.user` as a summary, models through `models::get`).

use std::collections::{HashMap, HashSet};

use crate::app::App;
use crate::error::AppResult;
use crate::service::chats::{ChatView, TagView};
use crate::service::users::UserView;
use crate::store;

/// Users by id (unknown ids are absent).
pub async fn users(app: &App, ids: &[String]) -> AppResult<HashMap<String, UserView>> {
    let rows = store::users::get_many(&app.db, ids).await?;
    Ok(rows.into_iter().map(|u| (u.id.clone(), UserView::from(u))).collect())
}

/// The direct groups of each user as `(id, name)`, newest change first (users without groups map
/// to an empty list).
pub async fn groups_of_users(app: &App, ids: &[String]) -> AppResult<HashMap<String, Vec<(String, String)>>> {
    let mut out: HashMap<String, Vec<(String, String)>> =
        ids.iter().map(|i| (i.clone(), Vec::new())).collect();
    for (user, id, name) in store::groups::direct_of_members(&app.db, ids).await? {
        out.entry(user).or_default().push((id, name));
    }
    Ok(out)
}

/// Whole chats by id (unknown ids are absent).
pub async fn chats(app: &App, ids: &[String]) -> AppResult<HashMap<String, ChatView>> {
    let rows = store::chats::get_many(&app.db, ids).await?;
    Ok(rows.into_iter().map(|c| (c.id.clone(), ChatView::from(c))).collect())
}

/// The tags of each chat (chats without tags map to an empty list).
pub async fn tags_of_chats(app: &App, ids: &[String]) -> AppResult<HashMap<String, Vec<TagView>>> {
    let mut out: HashMap<String, Vec<TagView>> = ids.iter().map(|k| (k.clone(), Vec::new())).collect();
    for (chat_id, tag) in store::chats::tags_of_chats(&app.db, ids).await? {
        out.entry(chat_id).or_default().push(tag.into());
    }
    Ok(out)
}

/// Which of `ids` name stored models (readable or not: what a caller sees goes through
/// `models::get`).
pub async fn existing_models(app: &App, ids: &[String]) -> AppResult<HashSet<String>> {
    Ok(store::models::by_ids(&app.db, ids).await?.into_iter().map(|r| r.id).collect())
}
