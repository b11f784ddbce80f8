//! What callers are shown of folders: the reference's `FolderModel`, `FolderNameIdResponse`,
//! `FolderResponse` (with grants and write access), shared folders, a shared folder's chats, and
//! the answers of marking chats read.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::service::models::AccessGrantView;
use crate::store::folders::FolderRow;

/// A folder, as the reference's `FolderModel`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderModel)]
pub struct FolderView {
    pub id: String,
    pub parent_id: Option<String>,
    pub user_id: String,
    pub name: String,
    #[schema(value_type = Option<Object>)]
    pub items: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    pub is_expanded: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<FolderRow> for FolderView {
    fn from(r: FolderRow) -> Self {
        FolderView {
            id: r.id,
            parent_id: r.parent_id,
            user_id: r.user_id,
            name: r.name,
            items: r.items.map(|v| v.0),
            meta: r.meta.map(|v| v.0),
            data: r.data.map(|v| v.0),
            is_expanded: r.is_expanded,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The part of `meta` the folder list shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderMetadataResponse)]
pub struct FolderMetaView {
    pub icon: Option<String>,
}

/// An entry of the caller's folder tree, as the reference's `FolderNameIdResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderNameIdResponse)]
pub struct FolderNameIdView {
    pub id: String,
    pub name: String,
    pub meta: Option<FolderMetaView>,
    pub parent_id: Option<String>,
    pub is_expanded: bool,
    /// Unread chats in the folder and every folder below it.
    pub unread_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FolderNameIdView {
    pub(super) fn new(r: &FolderView, unread_count: i64) -> Self {
        let meta = r
            .meta
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| FolderMetaView { icon: m.get("icon").and_then(Value::as_str).map(str::to_string) });
        FolderNameIdView {
            id: r.id.clone(),
            name: r.name.clone(),
            meta,
            parent_id: r.parent_id.clone(),
            is_expanded: r.is_expanded,
            unread_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `GET /folders/{id}`: the folder, its grants, and whether the caller may change it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderResponse)]
pub struct FolderDetailView {
    #[serde(flatten)]
    pub folder: FolderView,
    pub access_grants: Vec<AccessGrantView>,
    pub write_access: bool,
}

/// `POST /folders/{id}/access/update`: the folder and its grants as stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderAccessResponse)]
pub struct FolderAccessView {
    #[serde(flatten)]
    pub folder: FolderView,
    pub access_grants: Vec<AccessGrantView>,
}

/// An entry of `GET /folders/shared`: a folder shared with or by the caller (or below one).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = SharedFolderResponse)]
pub struct SharedFolderView {
    #[serde(flatten)]
    pub folder: FolderView,
    /// The owner's name (`Unknown` for an account that is gone).
    pub owner_name: String,
    /// `read` or `write`.
    pub permission: String,
}

/// Someone who wrote in a chat.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ChatParticipant)]
pub struct ParticipantView {
    pub id: String,
    pub name: Option<String>,
}

/// A chat of a shared folder.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = SharedFolderChat)]
pub struct SharedFolderChatView {
    pub id: String,
    pub title: String,
    pub user_id: String,
    pub updated_at: i64,
    pub created_at: i64,
    /// Another user's chat reads as read (`updated_at`).
    pub last_read_at: Option<i64>,
    pub owner_name: String,
    /// The authors of its user messages, the owner first.
    pub participants: Vec<ParticipantView>,
    pub active: bool,
    /// Whether the chat is another user's.
    pub readonly: bool,
}

/// `GET /folders/{id}/shared/chats`: `total` and `has_more` only with `page`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = SharedFolderChats)]
pub struct SharedFolderChatsView {
    pub chats: Vec<SharedFolderChatView>,
    /// `read` or `write`.
    pub folder_permission: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// Unread chats per folder of the caller (each counting the folders below it).
pub type UnreadCounts = BTreeMap<String, i64>;

/// `POST /folders/{id}/read`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FolderReadResponse)]
pub struct FolderReadView {
    pub folder_id: String,
    /// The folders whose chats were marked read.
    pub folder_ids: Vec<String>,
    pub updated_count: u64,
    pub folder_unread_counts: UnreadCounts,
}
