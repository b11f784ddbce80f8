//! Per-request dataloaders, each a batch of a `service::load` call (one statement per batch, so a
//! page of chats with owners and tags costs a constant number of statements), and models as the
//! caller may read them (through the models service, the REST `GET /models/model` rule).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::chats::{ChatView, TagView};
use crate::service::load;
use crate::service::models::{self as models_svc, ModelAccessView};
use crate::service::users::UserView;

/// The per-request loaders, with a cache so a list can prime them.
pub type Users = DataLoader<UserLoader, HashMapCache>;
pub type Chats = DataLoader<ChatLoader, HashMapCache>;
pub type Tags = DataLoader<TagLoader, HashMapCache>;
pub type Models = DataLoader<ModelLoader, HashMapCache>;
pub type Readable = DataLoader<ReadableModelLoader, HashMapCache>;
pub type UserGroups = DataLoader<UserGroupsLoader, HashMapCache>;

/// A user's direct groups `(id, name)`, keyed by user id.
pub struct UserGroupsLoader(pub AppState);

impl Loader<String> for UserGroupsLoader {
    type Value = Vec<(String, String)>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Vec<(String, String)>>, Self::Error> {
        load::groups_of_users(&self.0, keys).await.map_err(Arc::new)
    }
}

pub struct UserLoader(pub AppState);

impl Loader<String> for UserLoader {
    type Value = UserView;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, UserView>, Self::Error> {
        load::users(&self.0, keys).await.map_err(Arc::new)
    }
}

pub struct ChatLoader(pub AppState);

impl Loader<String> for ChatLoader {
    type Value = ChatView;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, ChatView>, Self::Error> {
        load::chats(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Tags of a chat, keyed by chat id (chats without tags map to an empty list).
pub struct TagLoader(pub AppState);

impl Loader<String> for TagLoader {
    type Value = Vec<TagView>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Vec<TagView>>, Self::Error> {
        load::tags_of_chats(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Whether a model id is stored (cached too, so a list can prime it). What a caller sees of a
/// model goes through `Readable`.
pub struct ModelLoader(pub AppState);

impl Loader<String> for ModelLoader {
    type Value = bool;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, bool>, Self::Error> {
        let found = load::existing_models(&self.0, keys).await.map_err(Arc::new)?;
        Ok(keys.iter().map(|k| (k.clone(), found.contains(k))).collect())
    }
}

/// Models as the request's caller reads them, by id: `service::models::get` once per distinct id
/// per request; ids that are unknown or that the caller may not read are absent.
pub struct ReadableModelLoader {
    pub state: AppState,
    pub caller: Caller,
}

impl Loader<String> for ReadableModelLoader {
    type Value = ModelAccessView;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, ModelAccessView>, Self::Error> {
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
