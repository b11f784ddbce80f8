//! GraphQL object types: `User`, `Chat`, `Model`, `Tag`, `Session` and the Relay-style connections.

use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::error::Gql;
use super::loaders::{Chats, Models, Readable, Tags, Users};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::chats::{self as chats_svc, ChatQuery, ChatSummary, ChatView, TagView};
use crate::service::load;
use crate::service::models::{self as models_svc, ListParams, ModelAccess};
use crate::service::users::UserView;

/// Items per page when `first` is not given, and the most a page may hold.
pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 200;

/// The cost of a chat's whole document (`Chat.chat`; its doc comment gives the figure).
pub const CHAT_DOCUMENT_COST: usize = 20;

/// An opaque cursor for the item at `offset`.
pub fn cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// The highest offset a cursor may name: far beyond any list, far below where arithmetic on it
/// could overflow.
pub const MAX_CURSOR_OFFSET: i64 = 1_000_000_000_000;

/// What an unpaged list field (`Chat.tags`, `Chat.models`, `User.models`) is assumed to hold
/// when its cost is estimated.
pub const UNPAGED_LIST_COST: usize = 10;

/// The cost of a paged list field: its page size (`first`, or the default page) times the cost of
/// what each item selects, plus one. Saturates far below `usize::MAX`, so sums cannot overflow.
pub fn list_cost(first: Option<i32>, child: usize) -> usize {
    let page = first.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    page.saturating_mul(child).saturating_add(1).min(u32::MAX as usize)
}

/// The cost of an unpaged list field.
pub fn unpaged_list_cost(child: usize) -> usize {
    UNPAGED_LIST_COST.saturating_mul(child).saturating_add(1).min(u32::MAX as usize)
}

/// The offset after `after` (0 without a cursor). Only cursors this server could have made are
/// accepted: `o:<n>` with `0 <= n <= MAX_CURSOR_OFFSET`, in unpadded URL-safe base64.
pub fn offset_after(after: Option<&str>) -> async_graphql::Result<i64> {
    let Some(after) = after else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(after)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let digits = s.strip_prefix("o:")?;
            if digits.is_empty() || digits.len() > 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i64>().ok()
        })
        .filter(|n| (0..=MAX_CURSOR_OFFSET).contains(n))
        .map(|n| n + 1)
        .ok_or_else(|| {
            AppError::with_text(
                axum::http::StatusCode::BAD_REQUEST,
                ErrorCode::ValidationError,
                "Invalid cursor.",
            )
            .extend()
        })
}

/// `first` validated against `MAX_PAGE`.
pub fn page_size(first: Option<i32>) -> async_graphql::Result<i64> {
    match first {
        None => Ok(DEFAULT_PAGE as i64),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(n as i64),
        Some(_) => Err(AppError::with_text(
            axum::http::StatusCode::BAD_REQUEST,
            ErrorCode::ValidationError,
            format!("`first` must be between 0 and {MAX_PAGE}."),
        )
        .extend()),
    }
}

pub fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn caller<'a>(ctx: &'a Context<'_>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

#[derive(SimpleObject, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

fn page_info(offset: i64, len: usize, total: i64) -> PageInfo {
    let end = offset + len as i64;
    PageInfo { has_next_page: end < total, end_cursor: if len == 0 { None } else { Some(cursor(end - 1)) } }
}

/// A user account.
#[derive(Clone)]
pub struct User(pub UserView);

#[Object]
impl User {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> &str {
        &self.0.role
    }
    async fn profile_image_url(&self) -> &str {
        &self.0.profile_image_url
    }
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    async fn last_active_at(&self) -> i64 {
        self.0.last_active_at
    }
    /// This user's chats (their own, or any user's for an admin), newest first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn chats(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        archived: Option<bool>,
        pinned: Option<bool>,
        search: Option<String>,
        tag: Option<String>,
    ) -> async_graphql::Result<ChatConnection> {
        chat_connection(ctx, &self.0.id, first, after, archived, pinned, search, tag).await
    }
    /// The workspace models this user owns that the caller can read (the `models` list, newest
    /// first, narrowed to this owner).
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn models(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Model>> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let params = ListParams { page: Some(page), ..Default::default() };
            let got = models_svc::list(state(ctx), caller(ctx), params).await.gql()?;
            let n = got.items.len();
            out.extend(got.items.into_iter().filter(|m| m.model.row.user_id == self.0.id).map(Model));
            if n < models_svc::PAGE_SIZE as usize || page * models_svc::PAGE_SIZE >= got.total {
                break;
            }
            page += 1;
        }
        Ok(out)
    }
}

/// A page of chats of `owner_id`.
#[allow(clippy::too_many_arguments)]
pub async fn chat_connection(
    ctx: &Context<'_>,
    owner_id: &str,
    first: Option<i32>,
    after: Option<String>,
    archived: Option<bool>,
    pinned: Option<bool>,
    search: Option<String>,
    tag: Option<String>,
) -> async_graphql::Result<ChatConnection> {
    let limit = page_size(first)?;
    let offset = offset_after(after.as_deref())?;
    let q = ChatQuery { archived, pinned, search, tag, limit, offset };
    let (rows, total) = chats_svc::query(state(ctx), caller(ctx), owner_id, q).await.gql()?;
    prime(ctx, &rows).await?;
    let info = page_info(offset, rows.len(), total);
    let edges = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| ChatEdge { cursor: cursor(offset + i as i64), node: Chat::from_summary(row) })
        .collect();
    Ok(ChatConnection { edges, page_info: info, total_count: total })
}

/// Loads, in one statement each, the owners, tags and documents a page's selection asks for and
/// feeds them to the request's loaders, so the page costs the same statements at any size.
async fn prime(ctx: &Context<'_>, rows: &[ChatSummary]) -> async_graphql::Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let app = state(ctx);
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

/// Records in one statement which of `ids` are stored (the `Models` loader), then loads what the
/// caller may read of those into the `Readable` loader (one service read per distinct model), so
/// the fields that follow cost nothing however many items mention them.
async fn prime_models(ctx: &Context<'_>, ids: Vec<String>) -> async_graphql::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found = load::existing_models(state(ctx), &ids).await.gql()?;
    let existing: Vec<String> = ids.iter().filter(|id| found.contains(*id)).cloned().collect();
    ctx.data_unchecked::<Models>()
        .feed_many(ids.into_iter().map(|id| {
            let f = found.contains(&id);
            (id, f)
        }))
        .await;
    ctx.data_unchecked::<Readable>().load_many(existing).await.map_err(|e| e.as_ref().extend())?;
    Ok(())
}

/// The models with these ids the caller may read, in the order given; unknown or unreadable ids
/// are skipped.
async fn readable_models(ctx: &Context<'_>, ids: Vec<String>) -> async_graphql::Result<Vec<Model>> {
    let rows =
        ctx.data_unchecked::<Models>().load_many(ids.clone()).await.map_err(|e| e.as_ref().extend())?;
    let existing: Vec<String> = ids.into_iter().filter(|id| rows.get(id).copied().unwrap_or(false)).collect();
    let mut readable = ctx
        .data_unchecked::<Readable>()
        .load_many(existing.clone())
        .await
        .map_err(|e| e.as_ref().extend())?;
    Ok(existing.iter().filter_map(|id| readable.remove(id)).map(Model).collect())
}

#[derive(SimpleObject)]
pub struct UserEdge {
    pub cursor: String,
    pub node: User,
}

#[derive(SimpleObject)]
pub struct UserConnection {
    pub edges: Vec<UserEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

impl UserConnection {
    pub fn new(users: Vec<UserView>, offset: i64, total: i64) -> Self {
        let info = page_info(offset, users.len(), total);
        let edges = users
            .into_iter()
            .enumerate()
            .map(|(i, u)| UserEdge { cursor: cursor(offset + i as i64), node: User(u) })
            .collect();
        UserConnection { edges, page_info: info, total_count: total }
    }
}

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

#[derive(SimpleObject)]
pub struct ChatEdge {
    pub cursor: String,
    pub node: Chat,
}

#[derive(SimpleObject)]
pub struct ChatConnection {
    pub edges: Vec<ChatEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

/// A workspace model as the caller sees it (`ModelAccessResponse`): `params` are `{}` for
/// read-only callers.
#[derive(Clone)]
pub struct Model(pub ModelAccess);

impl Model {
    /// A model the caller has just written (the service accepted the change, so they may write).
    pub fn written(model: models_svc::Model) -> Self {
        Model(ModelAccess { model, user: None, write_access: true })
    }
}

#[Object]
impl Model {
    async fn id(&self) -> &str {
        &self.0.model.row.id
    }
    async fn name(&self) -> &str {
        &self.0.model.row.name
    }
    async fn base_model_id(&self) -> Option<&str> {
        self.0.model.row.base_model_id.as_deref()
    }
    /// `ModelMeta` (description, tags, capabilities, …).
    async fn meta(&self) -> Json<Value> {
        Json(self.0.model.row.meta.0.clone())
    }
    /// `ModelParams`; `{}` without write access.
    async fn params(&self) -> Json<Value> {
        Json(self.0.model.row.params.0.clone())
    }
    async fn is_active(&self) -> bool {
        self.0.model.row.is_active
    }
    async fn created_at(&self) -> i64 {
        self.0.model.row.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.model.row.updated_at
    }
    async fn user_id(&self) -> &str {
        &self.0.model.row.user_id
    }
    async fn version_id(&self) -> Option<&str> {
        self.0.model.row.version_id.as_deref()
    }
    /// The access grants, as REST answers them (`access_grants`).
    async fn access_grants(&self) -> Json<Value> {
        Json(models_svc::model_value(&self.0.model)["access_grants"].clone())
    }
    /// Whether the caller may change this model.
    async fn write_access(&self) -> bool {
        self.0.write_access
    }
    /// The owner as every reader sees it, as REST's `user` (`null` when the account is gone).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        let loader = ctx.data_unchecked::<Users>();
        let user =
            loader.load_one(self.0.model.row.user_id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(user.map(UserSummary::from))
    }
    /// The stored base model, when there is one and the caller may read it (upstream-only base
    /// models have no row: `null`, `baseModelId` still names them).
    async fn base_model(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Model>> {
        let Some(base) = self.0.model.row.base_model_id.clone() else { return Ok(None) };
        Ok(readable_models(ctx, vec![base]).await?.pop())
    }
}

#[derive(SimpleObject)]
pub struct ModelEdge {
    pub cursor: String,
    pub node: Model,
}

#[derive(SimpleObject)]
pub struct ModelConnection {
    pub edges: Vec<ModelEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

/// A page of the caller's workspace list (`GET /models/list`, newest first). The service pages by
/// `service::models::PAGE_SIZE`; the pages covering `[offset, offset + first)` are fetched and cut.
pub async fn model_connection(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    query: Option<String>,
    tag: Option<String>,
) -> async_graphql::Result<ModelConnection> {
    let limit = page_size(first)?;
    let offset = offset_after(after.as_deref())?;
    let size = models_svc::PAGE_SIZE;
    let skip = (offset % size) as usize;
    let mut page = offset / size + 1;
    let mut items: Vec<ModelAccess> = Vec::new();
    let total = loop {
        let params =
            ListParams { query: query.clone(), tag: tag.clone(), page: Some(page), ..Default::default() };
        let got = models_svc::list(state(ctx), caller(ctx), params).await.gql()?;
        let n = got.items.len();
        items.extend(got.items);
        if items.len() >= skip + limit as usize || n < size as usize || page * size >= got.total {
            break got.total;
        }
        page += 1;
    };
    let items: Vec<ModelAccess> = items.into_iter().skip(skip).take(limit as usize).collect();
    prime_model_page(ctx, &items).await?;
    let info = page_info(offset, items.len(), total);
    let edges = items
        .into_iter()
        .enumerate()
        .map(|(i, m)| ModelEdge { cursor: cursor(offset + i as i64), node: Model(m) })
        .collect();
    Ok(ModelConnection { edges, page_info: info, total_count: total })
}

/// Feeds the owners and base models a page of models asks for to the loaders.
async fn prime_model_page(ctx: &Context<'_>, items: &[ModelAccess]) -> async_graphql::Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    if node.field("user").exists() {
        let mut owners: Vec<String> = items.iter().map(|m| m.model.row.user_id.clone()).collect();
        owners.sort();
        owners.dedup();
        let users = load::users(state(ctx), &owners).await.gql()?;
        ctx.data_unchecked::<Users>().feed_many(users).await;
    }
    if node.field("baseModel").exists() {
        let mut bases: Vec<String> = items.iter().filter_map(|m| m.model.row.base_model_id.clone()).collect();
        bases.sort();
        bases.dedup();
        prime_models(ctx, bases).await?;
    }
    Ok(())
}

/// What anyone who may read a model sees of its owner (REST's `{id, name, role, email}`).
#[derive(SimpleObject, Clone)]
pub struct UserSummary {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
}

impl From<UserView> for UserSummary {
    fn from(u: UserView) -> Self {
        UserSummary { id: u.id, name: u.name, role: u.role, email: u.email }
    }
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

/// A signed-in session.
#[derive(SimpleObject)]
pub struct Session {
    pub token: String,
    pub token_type: String,
    pub expires_at: Option<i64>,
    pub user: User,
}
