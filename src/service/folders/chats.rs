//! The chats side of folders: moving a chat into or out of a folder, a folder's chats (whole, and
//! the title list), pages of several folders' chats at once (GraphQL), and the folders of chats.

use std::collections::HashMap;

use super::form::{FolderChatParams, chat_order};
use super::view::FolderView;
use super::{Reach, access};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::chats::{ChatSummary, ChatTitleView, ChatView};
use crate::store;
use crate::store::chats::TitleRow;
use crate::store::folders::{self as db, ChatOrder};

/// Chats per page of a folder's title list.
pub const FOLDER_PAGE_SIZE: i64 = 10;

/// A page of a folder's chats (titles).
#[derive(Debug, Clone, Default)]
pub struct FolderChatList(pub(super) Vec<TitleRow>);

impl FolderChatList {
    /// The page as `ChatTitleIdResponse` entries.
    pub fn views(&self) -> Vec<ChatTitleView<'_>> {
        self.0
            .iter()
            .map(|r| ChatTitleView {
                id: &r.id,
                title: &r.title,
                updated_at: r.updated_at,
                created_at: r.created_at,
                last_read_at: r.last_read_at,
                snippet: None,
                active: false,
                archived: r.archived,
            })
            .collect()
    }

    pub fn summaries(&self) -> Vec<ChatSummary> {
        self.0.iter().map(ChatSummary::from).collect()
    }
}

/// `POST /chats/{id}/folder`: the owner moves their chat into a folder they may write (404
/// otherwise) or out of any (`None`); the chat is unpinned, and unarchived when moved into one.
/// Someone else's chat only moves between folders of one tree of the caller's; 401 `DEFAULT` for
/// others' chats and unknown ids.
pub async fn move_chat(
    app: &App,
    caller: &Caller,
    id: &str,
    folder_id: Option<String>,
) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let default_401 = || AppError::unauthorized(ErrorCode::Default);
    let chat = store::chats::get(&app.db, id).await?.ok_or_else(default_401)?;
    let owner = chat.user_id == p.id();
    if !owner
        && !access::may_move_others_chat(app, p, chat.folder_id.as_deref(), folder_id.as_deref()).await?
    {
        return Err(default_401());
    }
    if let Some(target) = &folder_id
        && !access::writable(app, p, target).await?
    {
        return Err(AppError::not_found(ErrorCode::NotFound));
    }
    db::move_chat(&app.db, id, &chat.user_id, folder_id.as_deref(), owner, store::now()).await?;
    let moved = store::chats::get(&app.db, id).await?.ok_or_else(default_401)?;
    crate::service::chats::for_reader(app, ChatView::from(moved), p.id()).await
}

/// Clears the folder ids the caller may not write (unknown ones included), as an import or a
/// copy of chats does: each distinct folder is checked once.
pub async fn keep_writable(app: &App, p: &Principal, folder_ids: Vec<&mut Option<String>>) -> AppResult<()> {
    let mut checked: HashMap<String, bool> = HashMap::new();
    for folder_id in folder_ids {
        let Some(id) = folder_id.clone() else { continue };
        let ok = match checked.get(&id) {
            Some(ok) => *ok,
            None => {
                let ok = access::writable(app, p, &id).await?;
                checked.insert(id, ok);
                ok
            }
        };
        if !ok {
            *folder_id = None;
        }
    }
    Ok(())
}

/// `GET /chats/folder/{folder_id}`: the caller's chats (whole, newest first; not pinned, not
/// archived) in the folder and, when it is theirs, in every folder below it.
pub async fn folder_chats(app: &App, caller: &Caller, folder_id: &str) -> AppResult<Vec<ChatView>> {
    let p = caller.require_verified()?;
    let mut ids: Vec<String> =
        db::subtree(&app.db, folder_id, p.id()).await?.into_iter().map(|f| f.id).collect();
    if ids.is_empty() {
        ids.push(folder_id.to_string());
    }
    Ok(db::chats_in(&app.db, p.id(), &ids).await?.into_iter().map(ChatView::from).collect())
}

/// `GET /chats/folder/{folder_id}/list?page=&sort_by=&sort_dir=`: the caller's chats in the
/// folder (titles; not pinned, not archived), 10 per page, unread first unless sorted otherwise.
pub async fn folder_chat_list(
    app: &App,
    caller: &Caller,
    folder_id: &str,
    params: FolderChatParams,
) -> AppResult<FolderChatList> {
    let p = caller.require_verified()?;
    let page = params.page.unwrap_or(1).max(1);
    let order = chat_order(params.sort_by.as_deref(), params.sort_dir.as_deref());
    let offset = (page - 1).saturating_mul(FOLDER_PAGE_SIZE);
    Ok(FolderChatList(db::chat_page(&app.db, p.id(), folder_id, order, FOLDER_PAGE_SIZE, offset).await?))
}

/// A window of the caller's chats in one folder (unread first) and how many it holds.
pub async fn chat_page(
    app: &App,
    caller: &Caller,
    folder_id: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ChatSummary>, i64)> {
    let p = caller.require_verified()?;
    let rows = db::chat_page(&app.db, p.id(), folder_id, ChatOrder::Unread, limit, offset).await?;
    let total = db::chat_count(&app.db, p.id(), folder_id).await?;
    Ok((rows.iter().map(ChatSummary::from).collect(), total))
}

/// The same window of the caller's chats in each of several folders, with each folder's count.
pub type ChatPages = HashMap<String, (Vec<ChatSummary>, i64)>;

/// `chat_page` for many folders in two statements.
pub async fn chat_pages(
    app: &App,
    caller: &Caller,
    folder_ids: &[String],
    limit: i64,
    offset: i64,
) -> AppResult<ChatPages> {
    let p = caller.require_verified()?;
    let (rows, counts) =
        db::chat_pages(&app.db, p.id(), folder_ids, ChatOrder::Unread, limit, offset).await?;
    let mut out: ChatPages = folder_ids.iter().map(|id| (id.clone(), (Vec::new(), 0))).collect();
    for (folder_id, n) in counts {
        if let Some(entry) = out.get_mut(&folder_id) {
            entry.1 = n;
        }
    }
    for row in &rows {
        if let Some(entry) = row.folder_id.as_ref().and_then(|f| out.get_mut(f)) {
            entry.0.push(ChatSummary::from(row));
        }
    }
    Ok(out)
}

/// The folders of `ids` the caller may read (their own, shared with them, any for an admin), by
/// id. One statement when they are the caller's own.
pub async fn folders_of_chats(
    app: &App,
    caller: &Caller,
    ids: &[String],
) -> AppResult<HashMap<String, FolderView>> {
    let p = caller.require_verified()?;
    let mut out = HashMap::new();
    for folder in db::get_many(&app.db, ids).await? {
        if readable(app, p, &folder).await? {
            out.insert(folder.id.clone(), FolderView::from(folder));
        }
    }
    Ok(out)
}

async fn readable(app: &App, p: &Principal, folder: &store::folders::FolderRow) -> AppResult<bool> {
    if folder.user_id == p.id() || p.role.is_admin() {
        return Ok(true);
    }
    let Reach { read, .. } = access::reach(app, p, folder).await?;
    Ok(read)
}
