//! Per-request dataloaders, each a batch of one service call (one statement per batch, so a page
//! of chats with owners, tags and models costs a constant number of statements), and models as
//! the caller may read them (the models service's `GET /models/model` rule, batched).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Request;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::chats::{self as chats_svc, ChatView, TagView};
use crate::service::load;
use crate::service::models::{self as models_svc, ModelAccessView};
use crate::service::users::UserView;

/// The per-request loaders, with a cache so a list can prime them.
pub type Users = DataLoader<UserLoader, HashMapCache>;
pub type Chats = DataLoader<ChatLoader, HashMapCache>;
pub type Tags = DataLoader<TagLoader, HashMapCache>;
pub type ChatModels = DataLoader<ChatModelsLoader, HashMapCache>;
pub type Readable = DataLoader<ReadableModelLoader, HashMapCache>;
pub type UserGroups = DataLoader<UserGroupsLoader, HashMapCache>;

/// How long a dataloader waits to gather keys into one batch. Lists also prime the loaders with
/// what their selection asks for (`types::prime`), so a page never depends on this timing.
const BATCH_DELAY: Duration = Duration::from_micros(50);

fn loader<T: Loader<String>>(inner: T) -> DataLoader<T, HashMapCache> {
    DataLoader::with_cache(inner, tokio::spawn, HashMapCache::default()).delay(BATCH_DELAY)
}

/// Attaches fresh loaders for one operation of `caller`.
pub fn attach(request: Request, state: &AppState, caller: &Caller) -> Request {
    request
        .data(loader(UserLoader(state.clone())))
        .data(loader(ChatLoader(state.clone())))
        .data(loader(TagLoader(state.clone())))
        .data(loader(ChatModelsLoader(state.clone())))
        .data(loader(UserGroupsLoader(state.clone())))
        .data(loader(super::types::FolderLoader { state: state.clone(), caller: caller.clone() }))
        .data(loader(ReadableModelLoader { state: state.clone(), caller: caller.clone() }))
}

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

/// The model ids a chat's document lists (`chat.models`), keyed by chat id, read without loading
/// the documents.
pub struct ChatModelsLoader(pub AppState);

impl Loader<String> for ChatModelsLoader {
    type Value = Vec<String>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Vec<String>>, Self::Error> {
        chats_svc::models_of(&self.0, keys).await.map_err(Arc::new)
    }
}

/// Models as the request's caller reads them, by id (`service::models::readable`, one batch);
/// ids that are unknown or that the caller may not read are absent.
pub struct ReadableModelLoader {
    pub state: AppState,
    pub caller: Caller,
}

impl Loader<String> for ReadableModelLoader {
    type Value = Arc<ModelAccessView>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Arc<ModelAccessView>>, Self::Error> {
        readable_map(&self.state, &self.caller, keys).await
    }
}

/// What `caller` may read of these models, by id (`service::models::readable`); a caller who may
/// read no model at all sees none.
pub async fn readable_map(
    state: &AppState,
    caller: &Caller,
    ids: &[String],
) -> Result<HashMap<String, Arc<ModelAccessView>>, Arc<AppError>> {
    match models_svc::readable(state, caller, ids).await {
        Ok(found) => Ok(found.into_iter().map(|(id, m)| (id, Arc::new(m))).collect()),
        Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::AccessProhibited) => Ok(HashMap::new()),
        Err(e) => Err(Arc::new(e)),
    }
}
