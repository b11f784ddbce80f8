//! Folders (`/api/v1/folders`): a user's tree of chat folders — list (with unread counts),
//! create, read, rename and change `meta`/`data`, move, expand, share (access grants), mark read,
//! delete — and the chats side (`chats`: move a chat, a folder's chat lists). Every rule and the
//! order of its checks follow the reference's folders router.
//!
//! A folder belongs to one user. A grant on a folder reaches everything below it (`access`): a
//! reader sees the folder and the chats in it, a writer may also rename it, add subfolders (made
//! as the owner's) and move chats into it. Only the owner (or an admin) shares or deletes it.
//!
//! This file holds the use cases on folders; `shared` the shared views (shared folders, a shared
//! folder's chats, marking a folder read); `form` the forms; `view` what callers are shown.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{Caller, Principal, Role};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::grants::{self as grant_rules, Shared};
use crate::service::models::AccessGrantView;
use crate::store::folders::{self as db, FolderRow, FolderWrite};
use crate::store::{self, Exec, Tx};

mod access;
mod chats;
mod form;
mod shared;
mod view;

pub use access::{Reach, chat_reachable, writable};
pub use chats::{
    ChatPages, FolderChatList, chat_page, chat_pages, folder_chat_list, folder_chats, folders_of_chats,
    keep_writable, move_chat,
};
pub use form::{
    ChatFolderIdForm, FolderAccessGrantsForm, FolderChatParams, FolderForm, FolderIsExpandedForm,
    FolderParentIdForm, FolderUpdateForm, MAX_NAME_CHARS, chat_order,
};
pub use shared::{mark_read, shared, shared_chats};
pub use view::{
    FolderAccessView, FolderDetailView, FolderMetaView, FolderNameIdView, FolderReadView, FolderView,
    ParticipantView, SharedFolderChatView, SharedFolderChatsView, SharedFolderView, UnreadCounts,
};

fn not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound)
}

fn prohibited() -> AppError {
    AppError::forbidden(ErrorCode::AccessProhibited)
}

/// The verified caller, with folders switched on for them.
async fn folder_user<'a>(app: &App, caller: &'a Caller) -> AppResult<&'a Principal> {
    let p = caller.require_verified()?;
    access::check_enabled(app, p).await?;
    Ok(p)
}

/// Whether `owner` has another folder named `name` (case-insensitively) under `parent`.
async fn name_taken(
    ex: impl Into<Exec<'_>>,
    owner: &str,
    parent: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> AppResult<bool> {
    let wanted = name.to_lowercase();
    let siblings = db::children(ex, owner, parent).await?;
    Ok(siblings.iter().any(|f| f.name.to_lowercase() == wanted && Some(f.id.as_str()) != except))
}

fn exists_error() -> AppError {
    AppError::bad_request(ErrorCode::FolderExists)
}

/// The folder after a write, or 404 when it went in the meantime.
async fn reload(app: &App, id: &str) -> AppResult<FolderView> {
    db::get(&app.db, id).await?.map(FolderView::from).ok_or_else(not_found)
}

// ---- the tree ----

/// `GET /folders/`: the caller's folders with their unread counts. A folder whose parent is gone
/// or whose parents loop goes back to the root (written), and `data.files` entries the caller can
/// no longer read are dropped (written), as the reference repairs them.
pub async fn list(app: &App, caller: &Caller) -> AppResult<Vec<FolderNameIdView>> {
    Ok(tree(app, caller).await?.iter().map(|(f, unread)| FolderNameIdView::new(f, *unread)).collect())
}

/// The caller's folders whole, each with its unread count (`list` before it is cut to
/// `FolderNameIdResponse`).
pub async fn tree(app: &App, caller: &Caller) -> AppResult<Vec<(FolderView, i64)>> {
    let p = folder_user(app, caller).await?;
    let mut folders = db::of_user(&app.db, p.id()).await?;
    repair(app, p, &mut folders).await?;
    let unread = rolled_up(&folders, db::unread_counts(&app.db, p.id()).await?);
    Ok(folders
        .into_iter()
        .map(|f| {
            let n = unread.get(&f.id).copied().unwrap_or(0);
            (FolderView::from(f), n)
        })
        .collect())
}

/// Whether following parents from `id` comes back to it.
fn in_cycle(parent_by_id: &HashMap<String, Option<String>>, id: &str) -> bool {
    let mut seen = std::collections::HashSet::from([id.to_string()]);
    let mut current = parent_by_id.get(id).cloned().flatten();
    while let Some(c) = current.clone() {
        if !seen.insert(c.clone()) {
            break;
        }
        current = parent_by_id.get(&c).cloned().flatten();
    }
    current.as_deref() == Some(id)
}

/// The folders whose parent is gone or loops (each is put at the root, in order, so one break
/// per loop), as indexes into `folders`.
fn orphans(folders: &[FolderRow]) -> Vec<usize> {
    let mut parent_by_id: HashMap<String, Option<String>> =
        folders.iter().map(|f| (f.id.clone(), f.parent_id.clone())).collect();
    let mut out = Vec::new();
    for (i, f) in folders.iter().enumerate() {
        let Some(parent) = &f.parent_id else { continue };
        if !parent_by_id.contains_key(parent) || in_cycle(&parent_by_id, &f.id) {
            parent_by_id.insert(f.id.clone(), None);
            out.push(i);
        }
    }
    out
}

async fn repair(app: &App, p: &Principal, folders: &mut [FolderRow]) -> AppResult<()> {
    let orphans = orphans(folders);
    let admin = p.role.is_admin();
    let mut files: Vec<(usize, Vec<Value>)> = Vec::new();
    for (i, f) in folders.iter().enumerate() {
        let Some(entries) = f.data.as_ref().and_then(|d| d.0.get("files")) else { continue };
        let readable = access::readable_files(entries, admin);
        let held = entries.as_array().map_or(usize::from(!entries.is_null()), Vec::len);
        if readable.len() != held {
            files.push((i, readable));
        }
    }
    if orphans.is_empty() && files.is_empty() {
        return Ok(());
    }
    let now = store::now();
    let mut tx = app.db.begin().await?;
    for i in orphans {
        db::set_parent(&mut tx, &folders[i].id, None, now).await?;
        folders[i].parent_id = None;
        folders[i].updated_at = now;
    }
    for (i, readable) in files {
        let f = &mut folders[i];
        let mut data = f.data.as_ref().and_then(|d| d.0.as_object().cloned()).unwrap_or_default();
        data.insert("files".into(), Value::Array(readable));
        let data = Value::Object(data);
        db::update(&mut tx, &f.id, &f.name, f.meta.as_ref().map(|m| &m.0), Some(&data), now).await?;
        f.data = Some(sqlx::types::Json(data));
        f.updated_at = now;
    }
    tx.commit().await
}

/// Each folder's unread chats counted in it and in every folder above it.
fn rolled_up(folders: &[FolderRow], direct: Vec<(String, i64)>) -> UnreadCounts {
    let parent_by_id: HashMap<&str, Option<&str>> =
        folders.iter().map(|f| (f.id.as_str(), f.parent_id.as_deref())).collect();
    let mut counts: UnreadCounts = folders.iter().map(|f| (f.id.clone(), 0)).collect();
    for (folder_id, n) in direct {
        let mut seen = std::collections::HashSet::new();
        let mut current = Some(folder_id.as_str());
        while let Some(id) = current.filter(|id| seen.insert(*id)) {
            if let Some(count) = counts.get_mut(id) {
                *count += n;
            }
            current = parent_by_id.get(id).copied().flatten();
        }
    }
    counts
}

/// Unread chats per folder of `user_id` (each counting the folders below it). Two statements.
pub async fn unread_counts(app: &App, user_id: &str) -> AppResult<UnreadCounts> {
    let folders = db::of_user(&app.db, user_id).await?;
    Ok(rolled_up(&folders, db::unread_counts(&app.db, user_id).await?))
}

// ---- one folder ----

/// `POST /folders/`: a folder of the caller's, or — in a folder shared with them for writing —
/// a subfolder of the owner's. 400 `[ERROR: Folder already exists]` for a name taken under the
/// same parent (any case); a parent that is not a folder is 404.
pub async fn create(app: &App, caller: &Caller, form: FolderForm) -> AppResult<FolderView> {
    let p = folder_user(app, caller).await?;
    let parent = form.parent_id.as_deref();
    if name_taken(&app.db, p.id(), parent, &form.name, None).await? {
        return Err(exists_error());
    }
    let files = form.data.as_ref().and_then(|d| d.get("files"));
    if files.is_some_and(|f| !access::reads_all_files(f, p.role.is_admin())) {
        return Err(prohibited());
    }
    let mut owner = p.id().to_string();
    if let Some(parent_id) = parent {
        let parent = db::get(&app.db, parent_id).await?.ok_or_else(not_found)?;
        if parent.user_id != p.id() {
            if !p.role.is_admin() && !access::reach(app, p, &parent).await?.write {
                return Err(prohibited());
            }
            if let Some(files) = files {
                let owner_row = store::users::get(&app.db, &parent.user_id).await?.ok_or_else(not_found)?;
                if !access::reads_all_files(files, Role::from_stored(&owner_row.role).is_admin()) {
                    return Err(prohibited());
                }
            }
            owner = parent.user_id;
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let (meta, data) = (form.meta.map(Value::Object), form.data.map(Value::Object));
    let mut tx = app.db.begin().await?;
    db::lock_owner(&mut tx, &owner).await?;
    if name_taken(&mut tx, &owner, parent, &form.name, None).await? {
        return Err(exists_error());
    }
    let write = FolderWrite {
        id: &id,
        parent_id: parent,
        user_id: &owner,
        name: &form.name,
        meta: meta.as_ref(),
        data: data.as_ref(),
        now: store::now(),
    };
    db::insert(&mut tx, &write).await?;
    tx.commit().await?;
    reload(app, &id).await
}

fn grant_views(grants: Vec<store::grants::GrantRow>) -> Vec<AccessGrantView> {
    grants.into_iter().map(AccessGrantView::from).collect()
}

/// `GET /folders/{id}`: the caller's folder, or one shared with them (any folder for an admin),
/// with its grants and whether they may change it; 404 otherwise.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<FolderDetailView> {
    let p = folder_user(app, caller).await?;
    let row = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    let write = if row.user_id == p.id() {
        true
    } else {
        let reach = access::reach(app, p, &row).await?;
        if !p.role.is_admin() && !reach.read {
            return Err(not_found());
        }
        p.role.is_admin() || reach.write
    };
    let grants = store::grants::grants_for(&app.db, store::grants::FOLDER, &[id.to_string()]).await?;
    Ok(FolderDetailView { folder: row.into(), access_grants: grant_views(grants), write_access: write })
}

/// The caller's folder, or one they may write (any for an admin); 404 otherwise.
async fn writable_folder(app: &App, p: &Principal, id: &str) -> AppResult<FolderRow> {
    let row = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    if row.user_id == p.id() || p.role.is_admin() || access::reach(app, p, &row).await?.write {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// `{**old, **new}`: the stored object with the sent keys over it.
fn merged(old: Option<&Value>, new: Map<String, Value>) -> Value {
    let mut out = old.and_then(Value::as_object).cloned().unwrap_or_default();
    out.extend(new);
    Value::Object(out)
}

/// `POST /folders/{id}/update`: rename (400 for a name taken beside it), and merge `meta` and
/// `data` key by key. Writers of a shared folder may not change its `share_mode` (403), nor add
/// `files` they cannot read.
pub async fn update(app: &App, caller: &Caller, id: &str, form: FolderUpdateForm) -> AppResult<FolderView> {
    let p = folder_user(app, caller).await?;
    let row = writable_folder(app, p, id).await?;
    let own = row.user_id == p.id();
    let stored_mode = access::share_mode(&row).map(str::to_string);
    if !p.role.is_admin()
        && !own
        && let Some(mode) = form.data.as_ref().and_then(|d| d.get("share_mode"))
        && mode.as_str() != stored_mode.as_deref()
    {
        return Err(prohibited());
    }
    if let Some(name) = &form.name
        && name_taken(&app.db, &row.user_id, row.parent_id.as_deref(), name, Some(id)).await?
    {
        return Err(exists_error());
    }
    if let Some(files) = form.data.as_ref().and_then(|d| d.get("files")) {
        let owner_admin = if own {
            p.role.is_admin()
        } else {
            let owner = store::users::get(&app.db, &row.user_id).await?.ok_or_else(not_found)?;
            Role::from_stored(&owner.role).is_admin()
        };
        if !access::reads_all_files(files, owner_admin) {
            return Err(prohibited());
        }
        let held = row.data.as_ref().and_then(|d| d.0.get("files")).and_then(Value::as_array);
        let added: Vec<Value> = files
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| !held.is_some_and(|h| h.contains(e)))
            .cloned()
            .collect();
        if !access::reads_all_files(&Value::Array(added), p.role.is_admin()) {
            return Err(prohibited());
        }
    }
    let mut tx = app.db.begin().await?;
    db::lock_owner(&mut tx, &row.user_id).await?;
    let row = db::get(&mut tx, id).await?.ok_or_else(not_found)?;
    if let Some(name) = &form.name
        && name_taken(&mut tx, &row.user_id, row.parent_id.as_deref(), name, Some(id)).await?
    {
        return Err(exists_error());
    }
    let name = form.name.as_deref().unwrap_or(&row.name);
    let meta = match form.meta {
        Some(new) => Some(merged(row.meta.as_ref().map(|m| &m.0), new)),
        None => row.meta.as_ref().map(|m| m.0.clone()),
    };
    let data = match form.data {
        Some(new) => Some(merged(row.data.as_ref().map(|d| &d.0), new)),
        None => row.data.as_ref().map(|d| d.0.clone()),
    };
    db::update(&mut tx, id, name, meta.as_ref(), data.as_ref(), store::now()).await?;
    tx.commit().await?;
    reload(app, id).await
}

/// `POST /folders/{id}/update/parent`: moves one of the caller's folders under another of theirs
/// (or to the root). 400 for a name taken there, 400 for a move into itself or below itself; a
/// parent that is not one of the caller's folders is 404.
pub async fn move_to(
    app: &App,
    caller: &Caller,
    id: &str,
    parent_id: Option<String>,
) -> AppResult<FolderView> {
    let p = folder_user(app, caller).await?;
    let mut tx = app.db.begin().await?;
    db::lock_owner(&mut tx, p.id()).await?;
    let row = own_folder(&mut tx, p, id).await?;
    if name_taken(&mut tx, p.id(), parent_id.as_deref(), &row.name, Some(id)).await? {
        return Err(exists_error());
    }
    if let Some(parent) = &parent_id {
        let below = db::subtree(&mut tx, id, p.id()).await?;
        if below.iter().any(|f| &f.id == parent) {
            return Err(AppError::bad_request(ErrorCode::FolderCycle));
        }
        own_folder(&mut tx, p, parent).await?;
    }
    db::set_parent(&mut tx, id, parent_id.as_deref(), store::now()).await?;
    tx.commit().await?;
    reload(app, id).await
}

async fn own_folder(tx: &mut Tx, p: &Principal, id: &str) -> AppResult<FolderRow> {
    db::get(tx, id).await?.filter(|f| f.user_id == p.id()).ok_or_else(not_found)
}

/// `POST /folders/{id}/update/expanded`: the caller's own folder is set; a folder shared with
/// them (any for an admin) is answered unchanged; 404 otherwise.
pub async fn set_expanded(app: &App, caller: &Caller, id: &str, expanded: bool) -> AppResult<FolderView> {
    let p = folder_user(app, caller).await?;
    let row = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    if row.user_id != p.id() {
        if p.role.is_admin() || access::reach(app, p, &row).await?.read {
            return Ok(row.into());
        }
        return Err(not_found());
    }
    db::set_expanded(&app.db, id, expanded, store::now()).await?;
    reload(app, id).await
}

/// `POST /folders/{id}/access/update`: the owner (or an admin) replaces the folder's grants
/// (sharing folders needs `sharing.folders`; 403 `SHARING_NOT_ALLOWED` otherwise) and, when sent,
/// its `share_mode`. 404 for an unknown folder, 403 for anyone else.
pub async fn update_access(
    app: &App,
    caller: &Caller,
    id: &str,
    form: FolderAccessGrantsForm,
) -> AppResult<FolderAccessView> {
    let p = folder_user(app, caller).await?;
    let row = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    if !p.role.is_admin() && row.user_id != p.id() {
        return Err(prohibited());
    }
    let grants = grant_rules::validate(app, p, Shared::Folder, &form.access_grants).await?;
    let now = store::now();
    let mut tx = app.db.begin().await?;
    store::grants::replace_grants(&mut tx, store::grants::FOLDER, id, &grants, now).await?;
    if let Some(mode) = form.share_mode {
        let row = db::get(&mut tx, id).await?.ok_or_else(not_found)?;
        let mut change = Map::new();
        change.insert("share_mode".into(), mode.map(Value::String).unwrap_or(Value::Null));
        let data = merged(row.data.as_ref().map(|d| &d.0), change);
        db::update(&mut tx, id, &row.name, row.meta.as_ref().map(|m| &m.0), Some(&data), now).await?;
    }
    tx.commit().await?;
    let folder = reload(app, id).await?;
    let stored = store::grants::grants_for(&app.db, store::grants::FOLDER, &[id.to_string()]).await?;
    Ok(FolderAccessView { folder, access_grants: grant_views(stored) })
}

/// `DELETE /folders/{id}?delete_contents=`: the owner (or an admin: 403 for anyone else whose
/// folder it is not, 404 for an unknown one) deletes the folder and every folder below it, and
/// their grants. With `delete_contents` (the default) the owner's chats in them are deleted —
/// which needs `chat.delete` when there are any (403) — otherwise they move to the root; other
/// users' chats in them always move to the root. All in one transaction.
pub async fn delete(app: &App, caller: &Caller, id: &str, delete_contents: bool) -> AppResult<bool> {
    let p = folder_user(app, caller).await?;
    let row = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    if row.user_id != p.id() && !p.role.is_admin() {
        return Err(prohibited());
    }
    let may_delete_chats = access::holds(app, p, "chat.delete").await?;
    let owner = row.user_id;
    let mut tx = app.db.begin().await?;
    db::lock_owner(&mut tx, &owner).await?;
    let ids: Vec<String> = db::subtree(&mut tx, id, &owner).await?.into_iter().map(|f| f.id).collect();
    if ids.is_empty() {
        return Err(not_found());
    }
    if delete_contents && !may_delete_chats && db::count_owned_in(&mut tx, &owner, &ids).await? > 0 {
        return Err(prohibited());
    }
    if delete_contents {
        db::delete_chats_in(&mut tx, &owner, &ids).await?;
        store::chats::delete_unused_tags(&mut tx, &owner).await?;
    }
    db::empty_folders(&mut tx, &ids).await?;
    db::delete_many(&mut tx, &ids).await?;
    tx.commit().await?;
    tracing::info!(folder_id = %id, folders = ids.len(), delete_contents, "folder deleted");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn folder(id: &str, parent: Option<&str>) -> FolderRow {
        FolderRow {
            id: id.into(),
            parent_id: parent.map(str::to_string),
            user_id: "u".into(),
            name: id.into(),
            items: None,
            meta: None,
            data: None,
            is_expanded: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn missing_parents_and_loops_go_back_to_the_root_one_break_per_loop() {
        let folders = [
            folder("a", None),
            folder("b", Some("a")),
            folder("c", Some("gone")),
            folder("d", Some("e")),
            folder("e", Some("d")),
            folder("f", Some("f")),
        ];
        assert_eq!(orphans(&folders), [2, 3, 5]);
    }

    #[test]
    fn unread_counts_roll_up_to_every_folder_above() {
        let folders =
            [folder("a", None), folder("b", Some("a")), folder("c", Some("b")), folder("x", Some("y"))];
        let counts = rolled_up(&folders, vec![("c".into(), 2), ("b".into(), 1), ("gone".into(), 5)]);
        assert_eq!(
            counts,
            BTreeMap::from([("a".into(), 3), ("b".into(), 3), ("c".into(), 2), ("x".into(), 0)])
        );
        let looped = [folder("p", Some("q")), folder("q", Some("p"))];
        assert_eq!(
            rolled_up(&looped, vec![("p".into(), 1)]),
            BTreeMap::from([("p".into(), 1), ("q".into(), 1)])
        );
    }

    #[test]
    fn updates_merge_the_sent_keys_over_the_stored_ones() {
        let new = json!({"b": 2, "c": null}).as_object().cloned().expect("object");
        assert_eq!(merged(Some(&json!({"a": 1, "b": 1})), new), json!({"a": 1, "b": 2, "c": null}));
        assert_eq!(merged(None, Map::new()), json!({}));
    }
}
