//! `Folder` (a folder as the caller may see it, with its chats as a page), the per-request loader
//! behind `Chat.folder`, and the answers of the read-state mutations. The folder tree's chat
//! pages are read for every folder at once when the selection asks for them (`prime_pages`), so
//! a sidebar with folders costs the same statements however many folders it shows.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use serde_json::Value;

use super::chat::{Chat, Links, prime_selection};
use super::page::{Page, Window, list_cost, page};
use super::{caller, state};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::graphql::error::Gql;
use crate::service::chats::ChatSummary;
use crate::service::folders::{self as folders_svc, ChatPages, FolderDetailView, FolderView};

/// The chat pages of a whole folder list, read at once for one window, with what their
/// selection asks for.
pub struct Preloaded {
    window: Window,
    pages: ChatPages,
    links: Arc<Links>,
}

/// A folder: its fields, and what the query that found it already knows (unread count, write
/// access, grants, its chat page).
#[derive(Clone)]
pub struct Folder {
    pub view: FolderView,
    pub unread_count: Option<i64>,
    pub write_access: Option<bool>,
    pub grants: Option<Value>,
    pub pages: Option<Arc<Preloaded>>,
}

impl Folder {
    pub fn from_view(view: FolderView) -> Self {
        Folder { view, unread_count: None, write_access: None, grants: None, pages: None }
    }

    /// A folder of the caller's list (their own), with its unread count.
    pub fn from_entry(view: FolderView, unread_count: i64) -> Self {
        Folder { view, unread_count: Some(unread_count), write_access: Some(true), grants: None, pages: None }
    }

    pub fn from_detail(d: FolderDetailView) -> Self {
        let grants = serde_json::to_value(&d.access_grants).unwrap_or(Value::Null);
        Folder {
            view: d.folder,
            unread_count: None,
            write_access: Some(d.write_access),
            grants: Some(grants),
            pages: None,
        }
    }
}

/// A chat folder: the caller's own, or one shared with them.
#[Object]
impl Folder {
    async fn id(&self) -> &str {
        &self.view.id
    }
    async fn name(&self) -> &str {
        &self.view.name
    }
    /// The folder above (null at the root).
    async fn parent_id(&self) -> Option<&str> {
        self.view.parent_id.as_deref()
    }
    /// The owner's id.
    async fn user_id(&self) -> &str {
        &self.view.user_id
    }
    /// Free-form (`icon`, …).
    async fn meta(&self) -> Option<Json<Value>> {
        self.view.meta.clone().map(Json)
    }
    /// Free-form (`share_mode`, `files`, …).
    async fn data(&self) -> Option<Json<Value>> {
        self.view.data.clone().map(Json)
    }
    async fn is_expanded(&self) -> bool {
        self.view.is_expanded
    }
    async fn created_at(&self) -> i64 {
        self.view.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.view.updated_at
    }
    /// The caller's unread chats in the folder and every folder below it.
    async fn unread_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        if let Some(n) = self.unread_count {
            return Ok(n);
        }
        let me = caller(ctx).require_verified().gql()?;
        let counts = folders_svc::unread_counts(state(ctx), me.id()).await.gql()?;
        Ok(counts.get(&self.view.id).copied().unwrap_or(0))
    }
    /// Whether the caller may rename the folder, change it and move chats into it.
    async fn write_access(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        match self.write_access {
            Some(w) => Ok(w),
            None => Ok(self.detail(ctx).await?.write_access),
        }
    }
    /// Who the folder is shared with: `AccessGrantModel` objects.
    async fn access_grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Value>> {
        if let Some(g) = &self.grants {
            return Ok(Json(g.clone()));
        }
        let grants = self.detail(ctx).await?.access_grants;
        Ok(Json(serde_json::to_value(grants).unwrap_or(Value::Null)))
    }
    /// The caller's chats in this folder (not pinned, not archived), unread first, then newest
    /// change first: `GET /api/v1/chats/folder/{id}/list` as a connection.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn chats(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Page<Chat>> {
        let window = Window::new(first, after.as_deref())?;
        let ((rows, total), links) = match &self.pages {
            Some(pre) if pre.window == window => {
                (pre.pages.get(&self.view.id).cloned().unwrap_or_default(), pre.links.clone())
            }
            _ => {
                let found = folders_svc::chat_page(
                    state(ctx),
                    caller(ctx),
                    &self.view.id,
                    window.limit,
                    window.offset,
                )
                .await
                .gql()?;
                let node = ctx.look_ahead().field("edges").field("node");
                let links = prime_selection(ctx, node, &found.0, None).await?;
                (found, links)
            }
        };
        Ok(page(window, rows.into_iter().map(|r| Chat::linked(r, &links)).collect(), total))
    }
}

impl Folder {
    /// The folder as `GET /folders/{id}` answers it.
    async fn detail(&self, ctx: &Context<'_>) -> async_graphql::Result<FolderDetailView> {
        folders_svc::get(state(ctx), caller(ctx), &self.view.id).await.gql()
    }
}

/// The caller's folder list, with the chat pages its selection asks for read at once when every
/// `chats` field of the selection asks for the same window.
pub async fn folder_list(ctx: &Context<'_>) -> async_graphql::Result<Vec<Folder>> {
    let entries = folders_svc::tree(state(ctx), caller(ctx)).await.gql()?;
    let mut folders: Vec<Folder> = entries.into_iter().map(|(f, n)| Folder::from_entry(f, n)).collect();
    if let Some(pre) = prime_pages(ctx, &folders).await? {
        for f in &mut folders {
            f.pages = Some(pre.clone());
        }
    }
    Ok(folders)
}

/// The one window every `chats` field under the current field asks for, if there is exactly one.
fn chats_window(ctx: &Context<'_>) -> async_graphql::Result<Option<Window>> {
    let mut windows: Vec<Window> = Vec::new();
    for field in ctx.field().selection_set().filter(|f| f.name() == "chats") {
        let args = field.arguments()?;
        let arg = |name: &str| args.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone());
        let first = match arg("first") {
            Some(async_graphql::Value::Number(n)) => n.as_i64().map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            _ => None,
        };
        let after = match arg("after") {
            Some(async_graphql::Value::String(s)) => Some(s),
            _ => None,
        };
        // A bad window is the field's own error, reported where it is resolved.
        let Ok(window) = Window::new(first, after.as_deref()) else { return Ok(None) };
        if !windows.contains(&window) {
            windows.push(window);
        }
    }
    Ok(if windows.len() == 1 { windows.pop() } else { None })
}

async fn prime_pages(ctx: &Context<'_>, folders: &[Folder]) -> async_graphql::Result<Option<Arc<Preloaded>>> {
    let Some(window) = chats_window(ctx)? else { return Ok(None) };
    let ids: Vec<String> = folders.iter().map(|f| f.view.id.clone()).collect();
    let pages =
        folders_svc::chat_pages(state(ctx), caller(ctx), &ids, window.limit, window.offset).await.gql()?;
    let rows: Vec<ChatSummary> = pages.values().flat_map(|(rows, _)| rows.iter().cloned()).collect();
    let links =
        prime_selection(ctx, ctx.look_ahead().field("chats").field("edges").field("node"), &rows, None)
            .await?;
    Ok(Some(Arc::new(Preloaded { window, pages, links })))
}

/// Folders by id as the request's caller may read them (`Chat.folder`); the others are absent.
pub struct FolderLoader {
    pub state: AppState,
    pub caller: Caller,
}

impl Loader<String> for FolderLoader {
    type Value = FolderView;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, FolderView>, Self::Error> {
        folders_svc::folders_of_chats(&self.state, &self.caller, keys).await.map_err(Arc::new)
    }
}

pub type Folders = DataLoader<FolderLoader, HashMapCache>;

/// The folder a chat is in, when the caller may read it.
pub async fn folder_of_chat(
    ctx: &Context<'_>,
    folder_id: Option<&str>,
) -> async_graphql::Result<Option<Folder>> {
    let Some(id) = folder_id else { return Ok(None) };
    let loader = ctx.data_unchecked::<Folders>();
    let found = loader.load_one(id.to_string()).await.map_err(|e| e.as_ref().extend())?;
    Ok(found.map(Folder::from_view))
}

/// Feeds the folders of a page of chats to the request's loader in one read.
pub async fn prime_folders(ctx: &Context<'_>, rows: &[ChatSummary]) -> async_graphql::Result<()> {
    let mut ids: Vec<String> = rows.iter().filter_map(|r| r.folder_id.clone()).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let found = folders_svc::folders_of_chats(state(ctx), caller(ctx), &ids).await.gql()?;
    ctx.data_unchecked::<Folders>().feed_many(found).await;
    Ok(())
}

/// `markChatsRead`.
#[derive(SimpleObject)]
pub struct ChatsRead {
    pub updated_count: u64,
    /// `{folder id: unread chats}` (each counting the folders below it).
    pub folder_unread_counts: Json<Value>,
}

/// `markChatUnread`.
#[derive(SimpleObject)]
pub struct ChatUnread {
    pub chat_id: String,
    pub last_read_at: i64,
    pub folder_id: Option<String>,
    pub folder_unread_counts: Json<Value>,
}

/// `markFolderRead`.
#[derive(SimpleObject)]
pub struct FolderRead {
    pub folder_id: String,
    pub folder_ids: Vec<String>,
    pub updated_count: u64,
    pub folder_unread_counts: Json<Value>,
}
