//! Who may open a chat's share: its grants (`shared_chat`, keyed by the chat's id), read and
//! replaced by the owner or an admin with admin chat access, and the rules that read them. An
//! `anyone` grant opens the share to everyone, signed in or not; the owner and admins with admin
//! chat access always may; other users need a read grant to them, to every user (`user:*`) or to
//! one of their groups. A share without grants is the owner's and the admins' alone. In
//! `continue` mode the holders of a grant read the live chat instead of the snapshot.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::admin_access;
use super::view::ChatView;
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Loc, Source};
use crate::service::grants::{self, Shared};
use crate::service::policy;
use crate::store::chats::{ChatRow, SharedRow};
use crate::store::{self, grants::SHARED_CHAT};

/// The share mode in which grant holders read (and continue) the live chat.
pub const CONTINUE: &str = "continue";

/// `POST /chats/shared/{id}/access/update`: the grants replacing the share's, and optionally its
/// mode (`continue` or null).
#[derive(Debug, Clone, ToSchema)]
#[schema(as = ChatAccessGrantsForm)]
pub struct ShareAccessForm {
    #[schema(value_type = Vec<crate::service::models::AccessGrantForm>)]
    pub access_grants: Vec<Value>,
    /// `continue`, or null for none; left out, the share keeps its mode.
    #[schema(value_type = Option<String>)]
    pub share_mode: Option<Option<String>>,
}

impl ShareAccessForm {
    /// The form read from a JSON body, or the 422 of its field errors.
    pub fn from_json(body: &Value) -> AppResult<ShareAccessForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let mut access_grants = Vec::new();
        match map.get("access_grants") {
            None => f.missing_in("access_grants", map),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if item.is_object() {
                        access_grants.push(item.clone());
                    } else {
                        f.dict_type(Loc::from("access_grants").at(i), item);
                    }
                }
            }
            Some(other) => f.list_type("access_grants", other),
        }
        let share_mode = share_mode_of(&mut f, map.get("share_mode"));
        f.finish()?;
        Ok(ShareAccessForm { access_grants, share_mode })
    }
}

/// A form's `share_mode`: absent (`None`), null (`Some(None)`) or `continue`.
fn share_mode_of(f: &mut Fields, value: Option<&Value>) -> Option<Option<String>> {
    match value {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s == CONTINUE => Some(Some(s.clone())),
        Some(other) => {
            f.literal_error("share_mode", other, &[CONTINUE]);
            None
        }
    }
}

/// `ShareChatForm` (`POST /chats/{id}/share`, body optional): the mode of the share.
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = ShareChatForm)]
pub struct ShareForm {
    /// `continue`, or null for none; left out, a refreshed share keeps its mode.
    #[schema(value_type = Option<String>)]
    pub share_mode: Option<Option<String>>,
}

impl ShareForm {
    /// The form read from a JSON body, or the 422 of its field errors.
    pub fn from_json(body: &Value) -> AppResult<ShareForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let share_mode = share_mode_of(&mut f, map.get("share_mode"));
        f.finish()?;
        Ok(ShareForm { share_mode })
    }
}

/// One grant of a share, as `GET /chats/shared/{id}/access` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SharedChatAccessGrant)]
pub struct ShareGrantView {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub permission: String,
}

/// How a share's read grants reach a reader.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Reach {
    /// An `anyone` grant: everyone may open it, signed in or not.
    pub open: bool,
    /// A grant to the reader, to every user or to one of their groups.
    pub granted: bool,
}

/// The read grants of chat `chat_id`'s share as they reach `reader` (no one for `None`).
pub(super) async fn reach(app: &App, reader: Option<&Principal>, chat_id: &str) -> AppResult<Reach> {
    let grants = store::grants::grants_for(&app.db, SHARED_CHAT, &[chat_id.to_string()]).await?;
    let read: Vec<_> = grants.into_iter().filter(|g| g.permission == "read").collect();
    let open = read.iter().any(|g| g.principal_type == "anyone" && g.principal_id == "*");
    let Some(p) = reader else { return Ok(Reach { open, granted: false }) };
    let groups = if read.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await?
    } else {
        HashSet::new()
    };
    let granted =
        read.iter().any(|g| policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), &groups));
    Ok(Reach { open, granted })
}

/// Whether a share snapshot is in `continue` mode.
pub(super) fn is_continue(share: &SharedRow) -> bool {
    share.chat.0.get("share_mode").and_then(Value::as_str) == Some(CONTINUE)
}

/// Whether a verified reader may open `share` (the reference's `can_read_shared_chat`).
pub(super) async fn may_read(app: &App, p: &Principal, share: &SharedRow) -> AppResult<bool> {
    if admin_access(app, p) || share.user_id == p.user.id {
        return Ok(true);
    }
    Ok(reach(app, Some(p), &share.chat_id).await?.granted)
}

/// Whether `p` holds a grant on chat `row`'s share and the share is in `continue` mode (what
/// lets someone other than the owner write to it).
pub(super) async fn continues(app: &App, p: &Principal, row: &ChatRow) -> AppResult<bool> {
    let Some(share_id) = row.share_id.as_deref() else { return Ok(false) };
    match store::chats::get_share(&app.db, share_id).await? {
        Some(share) if is_continue(&share) => Ok(reach(app, Some(p), &row.id).await?.granted),
        _ => Ok(false),
    }
}

/// The chat whose share `p` manages: their own, or any with admin chat access; 404 otherwise.
async fn managed_chat(app: &App, p: &Principal, chat_id: &str) -> AppResult<ChatRow> {
    match store::chats::get(&app.db, chat_id).await? {
        Some(row) if row.user_id == p.user.id || admin_access(app, p) => Ok(row),
        _ => Err(AppError::not_found(ErrorCode::NotFound)),
    }
}

/// `GET /chats/shared/{id}/access`: the grants on chat `id`'s share, oldest first.
pub async fn share_access(app: &App, caller: &Caller, chat_id: &str) -> AppResult<Vec<ShareGrantView>> {
    let p = caller.require_verified()?;
    managed_chat(app, p, chat_id).await?;
    let grants = store::grants::grants_for(&app.db, SHARED_CHAT, &[chat_id.to_string()]).await?;
    Ok(grants
        .into_iter()
        .map(|g| ShareGrantView {
            id: g.id,
            principal_type: g.principal_type,
            principal_id: g.principal_id,
            permission: g.permission,
        })
        .collect())
}

/// `POST /chats/shared/{id}/access/update`: replaces the grants (each one the caller may give:
/// 403 otherwise; naming someone: 400 otherwise) and, when the form names one, the share's mode.
/// Leaving `continue` mode takes a fresh snapshot of the chat, as the reference does. Grants and
/// mode are written in one transaction; the answer is the chat.
pub async fn update_share_access(
    app: &App,
    caller: &Caller,
    chat_id: &str,
    form: ShareAccessForm,
) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    let row = managed_chat(app, p, chat_id).await?;
    let allowed = grants::validate(app, p, Shared::SharedChat, &form.access_grants).await?;
    let mut tx = app.db.begin().await?;
    store::grants::replace_grants(&mut tx, SHARED_CHAT, chat_id, &allowed, store::now()).await?;
    if let (Some(mode), Some(share_id)) = (form.share_mode, row.share_id.as_deref())
        && let Some(share) = store::chats::get_share(&mut tx, share_id).await?
    {
        let (title, mut doc) = if mode.is_none() && is_continue(&share) {
            (row.title.clone(), row.chat.0.clone())
        } else {
            (share.title.clone(), share.chat.0.clone())
        };
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("share_mode".into(), mode.map_or(Value::Null, |m| json!(m)));
        }
        store::chats::set_share_document(&mut tx, share_id, &title, &doc).await?;
    }
    tx.commit().await?;
    Ok(ChatView::from(row))
}
