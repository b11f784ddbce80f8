//! GraphQL object types: `User`, `Chat`, `Model`, `Tag`, `Session`, and their pages
//! (`async_graphql::connection`, with `totalCount`). Each wraps a service view; batched reads go
//! through `service::load`.

use async_graphql::Context;

use crate::app::AppState;
use crate::auth::Caller;

mod chat;
mod chat_more;
mod folder;
mod group;
mod model;
mod model_version;
mod page;
mod user;

pub use chat::{CHAT_DOCUMENT_COST, Chat, ChatFilter, Tag, chat_connection};
pub use chat_more::{ChatSettings, ChatUsage, ChatUsagePage, ShareGrant};
pub use folder::{ChatUnread, ChatsRead, Folder, FolderLoader, FolderRead, Folders, folder_list};
pub use group::{Group, GroupRef};
pub use model::{Model, model_connection};
pub use model_version::ModelVersion;
pub use page::{
    DEFAULT_PAGE, MAX_CURSOR_OFFSET, MAX_PAGE, Page, UNPAGED_LIST_COST, Window, cursor, list_cost, page,
    unpaged_list_cost,
};
pub use user::{Session, User, UserSummary};

pub fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}
