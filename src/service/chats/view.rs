//! What callers are shown of chats: the reference's `ChatResponse` and `ChatTitleIdResponse`,
//! chat summaries (what a list reads), pages of them with their JSON made once, tags and shared
//! items. REST serialises these, the OpenAPI document describes them, GraphQL wraps them.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::store::chats::{ChatRow, SharedRow, TagRow, TitlePage, TitleRow};

/// A whole chat, as the reference's `ChatResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ChatResponse)]
pub struct ChatView {
    pub id: String,
    pub user_id: String,
    pub title: String,
    /// The chat document (`title`, `models`, `history`, `messages`, …), open-ended.
    #[schema(value_type = Object)]
    pub chat: Value,
    pub updated_at: i64,
    pub created_at: i64,
    pub share_id: Option<String>,
    pub archived: bool,
    pub pinned: bool,
    #[schema(value_type = Value)]
    pub meta: Value,
    #[schema(value_type = Object)]
    pub variables: Value,
    pub folder_id: Option<String>,
    #[schema(value_type = Value)]
    pub tasks: Option<Value>,
    #[schema(value_type = Value)]
    pub summary: Option<Value>,
    pub current_message_id: Option<String>,
    #[schema(value_type = Value)]
    pub context_usage: Option<Value>,
}

impl From<ChatRow> for ChatView {
    fn from(r: ChatRow) -> Self {
        ChatView {
            id: r.id,
            user_id: r.user_id,
            title: r.title,
            chat: r.chat.0,
            updated_at: r.updated_at,
            created_at: r.created_at,
            share_id: r.share_id,
            archived: r.archived,
            pinned: r.pinned,
            meta: r.meta.0,
            variables: r.variables.map(|v| v.0).filter(Value::is_object).unwrap_or_else(|| json!({})),
            folder_id: r.folder_id,
            tasks: None,
            summary: None,
            current_message_id: r.current_message_id,
            context_usage: None,
        }
    }
}

impl From<SharedRow> for ChatView {
    /// A share snapshot: its own id is both `id` and `share_id`; it is never archived or pinned.
    fn from(s: SharedRow) -> Self {
        ChatView {
            share_id: Some(s.id.clone()),
            id: s.id,
            user_id: s.user_id,
            title: s.title,
            chat: s.chat.0,
            updated_at: s.updated_at,
            created_at: s.created_at,
            archived: false,
            pinned: false,
            meta: json!({}),
            variables: json!({}),
            folder_id: None,
            tasks: None,
            summary: None,
            current_message_id: None,
            context_usage: None,
        }
    }
}

/// What a chat list knows of a chat (never its document).
#[derive(Debug, Clone)]
pub struct ChatSummary {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub updated_at: i64,
    pub created_at: i64,
    pub last_read_at: Option<i64>,
    pub archived: bool,
    pub pinned: bool,
    pub share_id: Option<String>,
    pub folder_id: Option<String>,
}

impl From<&TitleRow> for ChatSummary {
    fn from(r: &TitleRow) -> Self {
        ChatSummary {
            id: r.id.clone(),
            user_id: r.user_id.clone(),
            title: r.title.clone(),
            updated_at: r.updated_at,
            created_at: r.created_at,
            last_read_at: r.last_read_at,
            archived: r.archived,
            pinned: r.pinned,
            share_id: r.share_id.clone(),
            folder_id: r.folder_id.clone(),
        }
    }
}

/// A chat list entry, as the reference's `ChatTitleIdResponse` (`snippet` only from a search).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ChatTitleIdResponse)]
pub struct ChatTitleView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub updated_at: i64,
    pub created_at: i64,
    pub last_read_at: Option<i64>,
    pub snippet: Option<&'a str>,
    pub active: bool,
    pub archived: bool,
}

impl<'a> ChatTitleView<'a> {
    fn of(r: &'a TitleRow, snippet: Option<&'a str>) -> Self {
        ChatTitleView {
            id: &r.id,
            title: &r.title,
            updated_at: r.updated_at,
            created_at: r.created_at,
            last_read_at: r.last_read_at,
            snippet,
            active: false,
            archived: r.archived,
        }
    }
}

/// A page of a chat list, shared by every request the list cache serves it to.
#[derive(Debug, Clone)]
pub struct ChatPage(pub(super) Arc<TitlePage>);

impl ChatPage {
    /// The page as a JSON array of `ChatTitleIdResponse`, made once per page.
    pub fn json(&self) -> bytes::Bytes {
        self.0
            .rendered
            .get_or_init(|| {
                let body: Vec<ChatTitleView<'_>> =
                    self.0.rows.iter().map(|r| ChatTitleView::of(r, None)).collect();
                // Plain structs of strings and numbers: serialising them cannot fail.
                serde_json::to_vec(&body).unwrap_or_default().into()
            })
            .clone()
    }

    /// The page's chats.
    pub fn summaries(&self) -> Vec<ChatSummary> {
        self.0.rows.iter().map(ChatSummary::from).collect()
    }

    pub fn len(&self) -> usize {
        self.0.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.rows.is_empty()
    }
}

/// Search results: chats with the text around the first match.
#[derive(Debug, Clone)]
pub struct SearchHits(pub(super) Vec<(TitleRow, Option<String>)>);

impl SearchHits {
    /// The hits as `ChatTitleIdResponse` entries.
    pub fn views(&self) -> Vec<ChatTitleView<'_>> {
        self.0.iter().map(|(r, snippet)| ChatTitleView::of(r, snippet.as_deref())).collect()
    }
}

/// A tag of a chat or a user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TagModel)]
pub struct TagView {
    pub id: String,
    pub name: String,
    pub user_id: String,
    #[schema(value_type = Value)]
    pub meta: Option<Value>,
}

impl From<TagRow> for TagView {
    fn from(t: TagRow) -> Self {
        TagView { id: t.id, name: t.name, user_id: t.user_id, meta: t.meta.map(|m| m.0) }
    }
}

/// An item of `GET /chats/shared`: the chat's id and title with its share id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SharedItemView {
    pub id: String,
    pub chat_id: String,
    pub title: String,
    pub share_id: String,
    pub updated_at: i64,
    pub created_at: i64,
}

impl From<SharedRow> for SharedItemView {
    fn from(s: SharedRow) -> Self {
        SharedItemView {
            id: s.chat_id.clone(),
            chat_id: s.chat_id,
            title: s.title,
            share_id: s.id,
            updated_at: s.updated_at,
            created_at: s.created_at,
        }
    }
}
