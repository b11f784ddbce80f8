//! Per-request dataloaders: users by id, whole chats by id, tags by chat id, model rows by id (each
//! batch one SQL statement, so a page of chats with owners and tags costs a constant number of
//! statements), and models as the caller may read them (through the models service).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::models::{self as models_svc, ModelAccess};
use crate::store::chats::{ChatRow, TagRow};
use crate::store::models::ModelRow;
use crate::store::users::User;
use crate::store::{self, Db};

/// The per-request loaders, with a cache so a list can prime them.
pub type Users = DataLoader<UserLoader, HashMapCache>;
pub type Chats = DataLoader<ChatLoader, HashMapCache>;
pub type Tags = DataLoader<TagLoader, HashMapCache>;
pub type Models = DataLoader<ModelLoader, HashMapCache>;
pub type Readable = DataLoader<ReadableModelLoader, HashMapCache>;

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

/// Stored model rows by id, `None` for unknown ids (cached too, so a list can prime them): one
/// `store::models::by_ids` statement per batch. Rows only say which ids exist; what a caller
/// sees goes through `Readable`.
pub struct ModelLoader(pub Db);

impl Loader<String> for ModelLoader {
    type Value = Option<ModelRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Option<ModelRow>>, Self::Error> {
        let rows = store::models::by_ids(&self.0, keys).await.map_err(Arc::new)?;
        let mut out: HashMap<String, Option<ModelRow>> = keys.iter().map(|k| (k.clone(), None)).collect();
        for r in rows {
            out.insert(r.id.clone(), Some(r));
        }
        Ok(out)
    }
}

/// Models as the request's caller reads them, by id: `service::models::get` (the REST
/// `GET /models/model` rule) once per distinct id per request; ids that are unknown or that the
/// caller may not read are absent.
pub struct ReadableModelLoader {
    pub state: AppState,
    pub caller: Caller,
}

impl Loader<String> for ReadableModelLoader {
    type Value = ModelAccess;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, ModelAccess>, Self::Error> {
        let mut out = HashMap::new();
        for id in keys {
            match models_svc::get(&self.state, &self.caller, id).await {
                Ok(m) => {
                    out.insert(id.clone(), m);
                }
                Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::AccessProhibited) => {}
                Err(e) => return Err(Arc::new(e)),
            }
        }
        Ok(out)
    }
}
