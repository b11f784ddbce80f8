//! GraphQL object types: `User`, `Chat`, `Tag`, `Session` and the Relay-style connections.

use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::error::Gql;
use super::loaders::{Chats, Tags, Users};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::chats::{self as chats_svc, ChatQuery};
use crate::store::chats::{ChatRow, TagRow, TitleRow};

/// Items per page when `first` is not given, and the most a page may hold.
pub const DEFAULT_PAGE: i32 = 50;
pub const MAX_PAGE: i32 = 200;

/// An opaque cursor for the item at `offset`.
pub fn cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// The offset after `after` (0 without a cursor).
pub fn offset_after(after: Option<&str>) -> async_graphql::Result<i64> {
    let Some(after) = after else { return Ok(0) };
    URL_SAFE_NO_PAD
        .decode(after)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<i64>().ok()))
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
pub struct User(pub crate::store::users::User);

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
        .map(|(i, row)| ChatEdge { cursor: cursor(offset + i as i64), node: Chat::from_title(row) })
        .collect();
    Ok(ChatConnection { edges, page_info: info, total_count: total })
}

/// Loads, in one statement each, the owners, tags and documents a page's selection asks for and
/// feeds them to the request's loaders, so the page costs the same statements at any size.
async fn prime(ctx: &Context<'_>, rows: &[TitleRow]) -> async_graphql::Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let db = &state(ctx).db;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    if node.field("user").exists() {
        let mut owners: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        owners.sort();
        owners.dedup();
        let users = crate::store::users::get_many(db, &owners).await.gql()?;
        let loader = ctx.data_unchecked::<Users>();
        loader.feed_many(users.into_iter().map(|u| (u.id.clone(), u))).await;
    }
    if node.field("tags").exists() {
        let mut by_chat: std::collections::HashMap<String, Vec<TagRow>> =
            ids.iter().map(|id| (id.clone(), Vec::new())).collect();
        for (chat_id, tag) in crate::store::chats::tags_of_chats(db, &ids).await.gql()? {
            by_chat.entry(chat_id).or_default().push(tag);
        }
        ctx.data_unchecked::<Tags>().feed_many(by_chat).await;
    }
    if node.field("chat").exists() {
        let chats = crate::store::chats::get_many(db, &ids).await.gql()?;
        let loader = ctx.data_unchecked::<Chats>();
        loader.feed_many(chats.into_iter().map(|c| (c.id.clone(), c))).await;
    }
    Ok(())
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
    pub fn new(users: Vec<crate::store::users::User>, offset: i64, total: i64) -> Self {
        let info = page_info(offset, users.len(), total);
        let edges = users
            .into_iter()
            .enumerate()
            .map(|(i, u)| UserEdge { cursor: cursor(offset + i as i64), node: User(u) })
            .collect();
        UserConnection { edges, page_info: info, total_count: total }
    }
}

/// The summary columns of a chat; the document, owner and tags load on demand, batched.
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
    /// The whole row when the resolver already has it.
    pub row: Option<ChatRow>,
}

impl Chat {
    pub fn from_title(r: TitleRow) -> Self {
        Chat {
            id: r.id,
            user_id: r.user_id,
            title: r.title,
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived: r.archived,
            pinned: r.pinned,
            share_id: r.share_id,
            row: None,
        }
    }

    pub fn from_row(r: ChatRow) -> Self {
        Chat {
            id: r.id.clone(),
            user_id: r.user_id.clone(),
            title: r.title.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived: r.archived,
            pinned: r.pinned,
            share_id: r.share_id.clone(),
            row: Some(r),
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
    /// The whole client document (`title`, `models`, `history`, …).
    async fn chat(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Value>> {
        if let Some(row) = &self.row {
            return Ok(Json(row.chat.0.clone()));
        }
        let loader = ctx.data_unchecked::<Chats>();
        let row = loader.load_one(self.id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(Json(row.map(|r| r.chat.0).unwrap_or(Value::Null)))
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
    /// The owner.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let loader = ctx.data_unchecked::<Users>();
        let user = loader.load_one(self.user_id.clone()).await.map_err(|e| e.as_ref().extend())?;
        user.map(User).ok_or_else(|| AppError::bad_request(ErrorCode::NotFound).extend())
    }
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

/// A tag (`id` is the normalised name).
#[derive(SimpleObject, Clone)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

impl From<TagRow> for Tag {
    fn from(t: TagRow) -> Self {
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
