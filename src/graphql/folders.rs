//! Folder queries and mutations: the caller's folder tree, one folder, and the writes of the
//! REST folders routes (create, update, move, expand, share, delete, mark read) and of the chats
//! side (move a chat, mark chats read or unread). Each calls the service function its REST twin
//! calls; JSON arguments go through the same forms, so errors read as REST's (`body.…`).

use async_graphql::{Context, Json, MaybeUndefined, Object};
use serde_json::{Map, Value, json};

use super::error::Gql;
use super::types::{
    Chat, ChatUnread, ChatsRead, Folder, FolderRead, caller, folder_list, state, unpaged_list_cost,
};
use crate::error::ErrorCode;
use crate::service::chats::read as read_svc;
use crate::service::folders::{self as folders_svc, FolderAccessGrantsForm, FolderForm, FolderUpdateForm};

#[derive(Default)]
pub struct FolderQuery;

#[derive(Default)]
pub struct FolderMutation;

fn counts(c: folders_svc::UnreadCounts) -> Json<Value> {
    Json(serde_json::to_value(c).unwrap_or_else(|_| json!({})))
}

/// The given arguments as a JSON body (a `MaybeUndefined` null stays null).
fn body(fields: Vec<(&str, MaybeUndefined<Value>)>) -> Value {
    let mut map = Map::new();
    for (name, value) in fields {
        match value {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                map.insert(name.into(), Value::Null);
            }
            MaybeUndefined::Value(v) => {
                map.insert(name.into(), v);
            }
        }
    }
    Value::Object(map)
}

fn json_arg(v: MaybeUndefined<Json<Value>>) -> MaybeUndefined<Value> {
    v.map_value(|j| j.0)
}

fn text_arg(v: MaybeUndefined<String>) -> MaybeUndefined<Value> {
    v.map_value(Value::String)
}

#[Object]
impl FolderQuery {
    /// The caller's folders (a tree by `parentId`) with their unread counts, as
    /// `GET /api/v1/folders/`. Asking every folder for the same `chats` window reads all those
    /// pages at once.
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn folders(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Folder>> {
        folder_list(ctx).await
    }

    /// A folder the caller owns or that is shared with them (any folder for an admin), as
    /// `GET /api/v1/folders/{id}`; `null` otherwise.
    async fn folder(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Folder>> {
        match folders_svc::get(state(ctx), caller(ctx), &id).await {
            Ok(d) => Ok(Some(Folder::from_detail(d))),
            Err(e) if e.code == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(async_graphql::ErrorExtensions::extend(&e)),
        }
    }
}

#[Object]
impl FolderMutation {
    /// `POST /api/v1/folders/`: `meta` and `data` are objects.
    async fn create_folder(
        &self,
        ctx: &Context<'_>,
        name: String,
        parent_id: MaybeUndefined<String>,
        meta: MaybeUndefined<Json<Value>>,
        data: MaybeUndefined<Json<Value>>,
    ) -> async_graphql::Result<Folder> {
        let form = FolderForm::from_json(&body(vec![
            ("name", MaybeUndefined::Value(Value::String(name))),
            ("parent_id", text_arg(parent_id)),
            ("meta", json_arg(meta)),
            ("data", json_arg(data)),
        ]))
        .gql()?;
        Ok(Folder::from_view(folders_svc::create(state(ctx), caller(ctx), form).await.gql()?))
    }

    /// `POST /api/v1/folders/{id}/update`: a new name; `meta` and `data` merged key by key.
    async fn update_folder(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: MaybeUndefined<String>,
        meta: MaybeUndefined<Json<Value>>,
        data: MaybeUndefined<Json<Value>>,
    ) -> async_graphql::Result<Folder> {
        let form = FolderUpdateForm::from_json(&body(vec![
            ("name", text_arg(name)),
            ("meta", json_arg(meta)),
            ("data", json_arg(data)),
        ]))
        .gql()?;
        Ok(Folder::from_view(folders_svc::update(state(ctx), caller(ctx), &id, form).await.gql()?))
    }

    /// `POST /api/v1/folders/{id}/update/parent`: under `parentId`, or at the root without it.
    async fn move_folder(
        &self,
        ctx: &Context<'_>,
        id: String,
        parent_id: Option<String>,
    ) -> async_graphql::Result<Folder> {
        Ok(Folder::from_view(folders_svc::move_to(state(ctx), caller(ctx), &id, parent_id).await.gql()?))
    }

    /// `POST /api/v1/folders/{id}/update/expanded`.
    async fn expand_folder(
        &self,
        ctx: &Context<'_>,
        id: String,
        is_expanded: bool,
    ) -> async_graphql::Result<Folder> {
        Ok(Folder::from_view(
            folders_svc::set_expanded(state(ctx), caller(ctx), &id, is_expanded).await.gql()?,
        ))
    }

    /// `POST /api/v1/folders/{id}/access/update`: `accessGrants` is a list of
    /// `{principal_type, principal_id, permission}` objects; `shareMode` `"continue"` or null.
    async fn update_folder_access(
        &self,
        ctx: &Context<'_>,
        id: String,
        access_grants: Json<Value>,
        share_mode: MaybeUndefined<String>,
    ) -> async_graphql::Result<Folder> {
        let form = FolderAccessGrantsForm::from_json(&body(vec![
            ("access_grants", MaybeUndefined::Value(access_grants.0)),
            ("share_mode", text_arg(share_mode)),
        ]))
        .gql()?;
        let done = folders_svc::update_access(state(ctx), caller(ctx), &id, form).await.gql()?;
        let mut folder = Folder::from_view(done.folder);
        folder.grants = Some(serde_json::to_value(done.access_grants).unwrap_or(Value::Null));
        Ok(folder)
    }

    /// `DELETE /api/v1/folders/{id}?delete_contents=` (`deleteContents` defaults to true: the
    /// owner's chats in it go too; false moves them to the root).
    async fn delete_folder(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default = true)] delete_contents: bool,
    ) -> async_graphql::Result<bool> {
        folders_svc::delete(state(ctx), caller(ctx), &id, delete_contents).await.gql()
    }

    /// `POST /api/v1/folders/{id}/read`.
    async fn mark_folder_read(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<FolderRead> {
        let r = folders_svc::mark_read(state(ctx), caller(ctx), &id).await.gql()?;
        Ok(FolderRead {
            folder_id: r.folder_id,
            folder_ids: r.folder_ids,
            updated_count: r.updated_count,
            folder_unread_counts: counts(r.folder_unread_counts),
        })
    }

    /// `POST /api/v1/chats/{id}/folder`: into `folderId`, or out of any folder without it.
    async fn move_chat(
        &self,
        ctx: &Context<'_>,
        id: String,
        folder_id: Option<String>,
    ) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(folders_svc::move_chat(state(ctx), caller(ctx), &id, folder_id).await.gql()?))
    }

    /// `POST /api/v1/chats/read`.
    async fn mark_chats_read(&self, ctx: &Context<'_>) -> async_graphql::Result<ChatsRead> {
        let r = read_svc::mark_all_read(state(ctx), caller(ctx)).await.gql()?;
        Ok(ChatsRead { updated_count: r.updated_count, folder_unread_counts: counts(r.folder_unread_counts) })
    }

    /// `POST /api/v1/chats/{id}/unread`.
    async fn mark_chat_unread(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<ChatUnread> {
        let r = read_svc::mark_unread(state(ctx), caller(ctx), &id).await.gql()?;
        Ok(ChatUnread {
            chat_id: r.chat_id,
            last_read_at: r.last_read_at,
            folder_id: r.folder_id,
            folder_unread_counts: counts(r.folder_unread_counts),
        })
    }
}
