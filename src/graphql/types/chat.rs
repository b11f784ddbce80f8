//! `Chat` (a summary whose document, owner, models and tags load on demand, batched), chat pages
//! with their loaders primed from the selection, and `Tag`.

use async_graphql::{Context, ErrorExtensions, Json, Lookahead, Object, SimpleObject};
use serde_json::Value;

use super::folder::{Folder, folder_of_chat, prime_folders};
use super::model::{Model, prime_models, readable_models};
use super::page::{Page, Window, page, unpaged_list_cost};
use super::user::User;
use super::{caller, state};
use crate::error::{AppError, ErrorCode};
use crate::graphql::error::Gql;
use crate::graphql::loaders::{Chats, Tags, Users};
use crate::service::chats::{self as chats_svc, ChatQuery, ChatSummary, ChatView, TagView};
use crate::service::load;

/// The cost of a chat's whole document (`Chat.chat`; its doc comment gives the figure).
pub const CHAT_DOCUMENT_COST: usize = 20;

/// The summary of a chat; the document, owner and tags load on demand, batched.
#[derive(Clone)]
pub struct Chat {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived: bool,
    pub pinned: bool,
    pub share_id: Option<String>,
    pub folder_id: Option<String>,
    /// The document when the resolver already has it.
    pub doc: Option<Value>,
}

impl Chat {
    pub fn from_summary(r: ChatSummary) -> Self {
        Chat {
            id: r.id,
            user_id: r.user_id,
            title: r.title,
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived: r.archived,
            pinned: r.pinned,
            share_id: r.share_id,
            folder_id: r.folder_id,
            doc: None,
        }
    }

    pub fn from_view(v: ChatView) -> Self {
        Chat {
            id: v.id,
            user_id: v.user_id,
            title: v.title,
            created_at: v.created_at,
            updated_at: v.updated_at,
            archived: v.archived,
            pinned: v.pinned,
            share_id: v.share_id,
            folder_id: v.folder_id,
            doc: Some(v.chat),
        }
    }
}

#[Object]
impl Chat {
    async fn id(&self) -> &str {
        &self.id
    }
    async fn title(&self) -> &str {
        &self.title
    }
    /// The whole client document (`title`, `models`, `history`, …). It can be large: it costs
    /// as much as 20 fields.
    #[graphql(complexity = "CHAT_DOCUMENT_COST")]
    async fn chat(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Value>> {
        if let Some(doc) = &self.doc {
            return Ok(Json(doc.clone()));
        }
        let loader = ctx.data_unchecked::<Chats>();
        let chat = loader.load_one(self.id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(Json(chat.map(|c| c.chat).unwrap_or(Value::Null)))
    }
    async fn created_at(&self) -> i64 {
        self.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.updated_at
    }
    async fn archived(&self) -> bool {
        self.archived
    }
    async fn pinned(&self) -> bool {
        self.pinned
    }
    async fn share_id(&self) -> Option<&str> {
        self.share_id.as_deref()
    }
    /// The id of the folder the chat is in (null outside folders).
    async fn folder_id(&self) -> Option<&str> {
        self.folder_id.as_deref()
    }
    /// The folder the chat is in, when the caller may read it.
    async fn folder(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Folder>> {
        folder_of_chat(ctx, self.folder_id.as_deref()).await
    }
    /// The owner's id.
    async fn user_id(&self) -> &str {
        &self.user_id
    }
    /// The owner: visible to the owner and to admins (a shared chat's readers get `userId`, as
    /// REST gives them `user_id`).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let me = caller(ctx).require_user().gql()?;
        if me.user.id != self.user_id && !me.role.is_admin() {
            return Err(AppError::unauthorized(ErrorCode::AccessProhibited).extend());
        }
        let loader = ctx.data_unchecked::<Users>();
        let user = loader.load_one(self.user_id.clone()).await.map_err(|e| e.as_ref().extend())?;
        user.map(User).ok_or_else(|| AppError::bad_request(ErrorCode::NotFound).extend())
    }
    /// The stored models the chat document lists (`chat.models`) that the caller may read;
    /// unknown ids are skipped.
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn models(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Model>> {
        let ids = match &self.doc {
            Some(doc) => model_ids(doc),
            None => {
                let loader = ctx.data_unchecked::<Chats>();
                let chat = loader.load_one(self.id.clone()).await.map_err(|e| e.as_ref().extend())?;
                chat.map(|c| model_ids(&c.chat)).unwrap_or_default()
            }
        };
        readable_models(ctx, ids).await
    }
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tag>> {
        let loader = ctx.data_unchecked::<Tags>();
        let tags = loader.load_one(self.id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(tags.unwrap_or_default().into_iter().map(Tag::from).collect())
    }
}

/// What a chat list is narrowed to: the arguments `Query.chats` and `User.chats` share.
#[derive(Debug, Clone, Default)]
pub struct ChatFilter {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub search: Option<String>,
    pub tag: Option<String>,
    /// `Some(false)`: only chats outside folders.
    pub include_folders: Option<bool>,
}

/// A page of chats of `owner_id`.
pub async fn chat_connection(
    ctx: &Context<'_>,
    owner_id: &str,
    window: Window,
    filter: ChatFilter,
) -> async_graphql::Result<Page<Chat>> {
    let ChatFilter { archived, pinned, search, tag, include_folders } = filter;
    let q = ChatQuery {
        archived,
        pinned,
        search,
        tag,
        include_folders,
        limit: window.limit,
        offset: window.offset,
    };
    let (rows, total) = chats_svc::query(state(ctx), caller(ctx), owner_id, q).await.gql()?;
    prime(ctx, &rows).await?;
    Ok(page(window, rows.into_iter().map(Chat::from_summary).collect(), total))
}

/// Loads, in one statement each, the owners, tags and documents a page's selection asks for and
/// feeds them to the request's loaders, so the page costs the same statements at any size.
async fn prime(ctx: &Context<'_>, rows: &[ChatSummary]) -> async_graphql::Result<()> {
    prime_selection(ctx, ctx.look_ahead().field("edges").field("node"), rows).await
}

/// `prime` for chats selected by `node` (a page's `edges { node }`, wherever it sits).
pub(super) async fn prime_selection(
    ctx: &Context<'_>,
    node: Lookahead<'_>,
    rows: &[ChatSummary],
) -> async_graphql::Result<()> {
    let app = state(ctx);
    if node.field("folder").exists() {
        prime_folders(ctx, rows).await?;
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    if node.field("user").exists() {
        let mut owners: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        owners.sort();
        owners.dedup();
        let users = load::users(app, &owners).await.gql()?;
        ctx.data_unchecked::<Users>().feed_many(users).await;
    }
    if node.field("tags").exists() {
        let tags = load::tags_of_chats(app, &ids).await.gql()?;
        ctx.data_unchecked::<Tags>().feed_many(tags).await;
    }
    if node.field("chat").exists() || node.field("models").exists() {
        let chats = load::chats(app, &ids).await.gql()?;
        if node.field("models").exists() {
            let mut model_ids: Vec<String> = chats.values().flat_map(|c| model_ids(&c.chat)).collect();
            model_ids.sort();
            model_ids.dedup();
            prime_models(ctx, model_ids).await?;
        }
        ctx.data_unchecked::<Chats>().feed_many(chats).await;
    }
    Ok(())
}

/// The model ids a chat document lists (`chat.models`), in order, without repeats.
fn model_ids(doc: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in doc.get("models").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// A tag (`id` is the normalised name).
#[derive(SimpleObject, Clone)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

impl From<TagView> for Tag {
    fn from(t: TagView) -> Self {
        Tag { id: t.id, name: t.name }
    }
}
