//! `Chat` (a summary whose document, owner, models and tags load on demand, batched), chat pages
//! with their loaders primed from the selection, and `Tag`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Json, Lookahead, Object, SimpleObject};
use serde_json::Value;

use super::folder::{Folder, folder_of_chat, prime_folders};
use super::model::{Model, readable_models};
use super::page::{Page, Window, page, unpaged_list_cost};
use super::user::User;
use super::{caller, state};
use crate::error::{AppError, ErrorCode};
use crate::graphql::error::Gql;
use crate::graphql::loaders::{ChatModels, Chats, Tags, Users, readable_map};
use crate::service::chats::ChatModels as ChatModelIds;
use crate::service::chats::document::model_ids;
use crate::service::chats::{self as chats_svc, ChatPage, ChatQuery, ChatSummary, ChatView, TagView};
use crate::service::load;
use crate::service::models::ModelAccessView;
use crate::service::users::UserView;

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
    /// What the page this chat came in read for its chats (see `Links`).
    pub links: Option<Arc<Links>>,
}

/// What the selection of a page's chats asks for — owners, tags, the models their documents list
/// and what the caller may read of those, documents — read once for the whole page and shared by
/// its chats (`prime_selection`), so their fields resolve from it without a loader round. A chat
/// without it (or a part it lacks) reads through the request's loaders.
#[derive(Default)]
pub struct Links {
    owners: Option<HashMap<String, UserView>>,
    tags: Option<HashMap<String, Vec<TagView>>>,
    models: Option<Arc<ChatModelIds>>,
    readable: Option<HashMap<String, Arc<ModelAccessView>>>,
    docs: Option<HashMap<String, ChatView>>,
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
            links: None,
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
            links: None,
        }
    }

    /// A chat of a page whose selection `links` was read for.
    pub fn linked(r: ChatSummary, links: &Arc<Links>) -> Self {
        Chat { links: Some(links.clone()), ..Chat::from_summary(r) }
    }

    fn link<T>(&self, part: impl Fn(&Links) -> Option<&T>) -> Option<&T> {
        self.links.as_deref().and_then(part)
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
        if let Some(docs) = self.link(|l| l.docs.as_ref()) {
            return Ok(Json(docs.get(&self.id).map(|c| c.chat.clone()).unwrap_or(Value::Null)));
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
        let user = match self.link(|l| l.owners.as_ref()) {
            Some(owners) => owners.get(&self.user_id).cloned(),
            None => {
                let loader = ctx.data_unchecked::<Users>();
                loader.load_one(self.user_id.clone()).await.map_err(|e| e.as_ref().extend())?
            }
        };
        user.map(User).ok_or_else(|| AppError::bad_request(ErrorCode::NotFound).extend())
    }
    /// The stored models the chat document lists (`chat.models`) that the caller may read;
    /// unknown ids are skipped.
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn models(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Model>> {
        let ids = match (&self.doc, self.link(|l| l.models.as_ref())) {
            (Some(doc), _) => model_ids(doc),
            (None, Some(models)) => models.get(&self.id).cloned().unwrap_or_default(),
            (None, None) => {
                let loader = ctx.data_unchecked::<ChatModels>();
                loader.load_one(self.id.clone()).await.map_err(|e| e.as_ref().extend())?.unwrap_or_default()
            }
        };
        match self.link(|l| l.readable.as_ref()) {
            Some(readable) => Ok(ids.iter().filter_map(|id| readable.get(id)).cloned().map(Model).collect()),
            None => readable_models(ctx, ids).await,
        }
    }
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tag>> {
        if let Some(tags) = self.link(|l| l.tags.as_ref()) {
            return Ok(tags.get(&self.id).into_iter().flatten().cloned().map(Tag::from).collect());
        }
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
        // Only `totalCount` and `pageInfo` show the number of matches.
        count: ctx.look_ahead().field("totalCount").exists() || ctx.look_ahead().field("pageInfo").exists(),
    };
    let (found, total) = chats_svc::query(state(ctx), caller(ctx), owner_id, q).await.gql()?;
    let total = total.unwrap_or_default();
    let rows = found.summaries();
    let links =
        prime_selection(ctx, ctx.look_ahead().field("edges").field("node"), &rows, Some(&found)).await?;
    Ok(page(window, rows.into_iter().map(|r| Chat::linked(r, &links)).collect(), total))
}

/// Reads, in one statement each, the owners, tags, models and documents the selection `node` of
/// a page's chats asks for (a page's `edges { node }`, wherever it sits), for its chats to share
/// (`Links`), so the page costs the same statements at any size. With the `page` they came from,
/// the tags and models are read once per cached page (`chats::page_tags`).
pub(super) async fn prime_selection(
    ctx: &Context<'_>,
    node: Lookahead<'_>,
    rows: &[ChatSummary],
    page: Option<&ChatPage>,
) -> async_graphql::Result<Arc<Links>> {
    let mut links = Links::default();
    if rows.is_empty() {
        return Ok(Arc::new(links));
    }
    let (app, me) = (state(ctx), caller(ctx));
    if node.field("folder").exists() {
        prime_folders(ctx, rows).await?;
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    if node.field("user").exists() {
        let mut owners: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        owners.sort();
        owners.dedup();
        links.owners = Some(chats_svc::owners(app, me, &owners).await.gql()?);
    }
    if node.field("tags").exists() {
        links.tags = Some(match page {
            Some(page) => chats_svc::page_tags(app, page).await.gql()?,
            None => load::tags_of_chats(app, &ids).await.gql()?,
        });
    }
    if node.field("models").exists() {
        let models = match page {
            Some(page) => chats_svc::page_models(app, page).await.gql()?,
            None => Arc::new(chats_svc::models_of(app, &ids).await.gql()?),
        };
        let mut wanted: Vec<String> = models.values().flatten().cloned().collect();
        wanted.sort();
        wanted.dedup();
        links.readable = Some(readable_map(app, me, &wanted).await.map_err(|e| e.as_ref().extend())?);
        links.models = Some(models);
    }
    if node.field("chat").exists() {
        links.docs = Some(load::chats(app, &ids).await.gql()?);
    }
    Ok(Arc::new(links))
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
