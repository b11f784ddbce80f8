//! Per-request dataloaders: users by id, whole chats by id, tags by chat id. Each batch is one SQL
//! statement, so a page of chats with owners and tags costs a constant number of statements.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::error::AppError;
use crate::store::chats::{ChatRow, TagRow};
use crate::store::users::User;
use crate::store::{self, Db};

/// The per-request loaders, with a cache so a list can prime them.
pub type Users = DataLoader<UserLoader, HashMapCache>;
pub type Chats = DataLoader<ChatLoader, HashMapCache>;
pub type Tags = DataLoader<TagLoader, HashMapCache>;

pub struct UserLoader(pub Db);

impl Loader<String> for UserLoader {
    type Value = User;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, User>, Self::Error> {
        let users = store::users::get_many(&self.0, keys).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|u| (u.id.clone(), u)).collect())
    }
}

pub struct ChatLoader(pub Db);

impl Loader<String> for ChatLoader {
    type Value = ChatRow;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, ChatRow>, Self::Error> {
        let chats = store::chats::get_many(&self.0, keys).await.map_err(Arc::new)?;
        Ok(chats.into_iter().map(|c| (c.id.clone(), c)).collect())
    }
}

/// Tags of a chat, keyed by chat id (chats without tags map to an empty list).
pub struct TagLoader(pub Db);

impl Loader<String> for TagLoader {
    type Value = Vec<TagRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Vec<TagRow>>, Self::Error> {
        let pairs = store::chats::tags_of_chats(&self.0, keys).await.map_err(Arc::new)?;
        let mut out: HashMap<String, Vec<TagRow>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for (chat_id, tag) in pairs {
            out.entry(chat_id).or_default().push(tag);
        }
        Ok(out)
    }
}
