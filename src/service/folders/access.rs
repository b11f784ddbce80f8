//! Who may use folders and reach one: the folders switch and the `features.folders` permission;
//! the owner, or a grant on the folder or any folder above it (a shared folder shares what is
//! below it); who may move another user's chat; and which of a folder's `data.files` a caller
//! can read.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::service::{permissions, policy};
use crate::store;
use crate::store::folders::FolderRow;
use crate::store::grants::GrantRow;

/// 403 `ACCESS_PROHIBITED` while folders are switched off (`ENABLE_FOLDERS`, stored as
/// `folders.enable`), or for a non-admin without `features.folders`.
pub(super) async fn check_enabled(app: &App, p: &Principal) -> AppResult<()> {
    let settings = Settings::load(&app.db).await?;
    if settings.get("folders.enable") == Some(&Value::Bool(false)) {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    if !p.role.is_admin() && !permissions::of(&app.db, p).await?.allows("features.folders") {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    Ok(())
}

/// Whether the caller holds a permission of their tree (admins hold every one).
pub(super) async fn holds(app: &App, p: &Principal, path: &str) -> AppResult<bool> {
    if p.role.is_admin() {
        return Ok(true);
    }
    let tree = permissions::of(&app.db, p).await?;
    Ok(policy::holds(&p.role, &tree, path))
}

/// What the caller may do with a folder through ownership or grants, on it or on any folder
/// above it. (Admins are not special here: the use cases decide where they are.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    pub read: bool,
    pub write: bool,
}

/// What user `me` (a member of `groups`) may do with a folder, from the folders of its chain (it
/// and those above it) and their grants.
pub(super) fn reach_of(
    me: &str,
    chain: &[FolderRow],
    grants: &[GrantRow],
    groups: &HashSet<String>,
) -> Reach {
    if chain.iter().any(|f| f.user_id == me) {
        return Reach { read: true, write: true };
    }
    let holds = |permission: &str| {
        grants.iter().any(|g| {
            g.permission == permission
                && policy::grant_reaches(&g.principal_type, &g.principal_id, me, groups)
        })
    };
    Reach { read: holds("read"), write: holds("write") }
}

/// The caller's groups, looked up only when a grant names a group.
async fn groups_for(app: &App, p: &Principal, grants: &[GrantRow]) -> AppResult<HashSet<String>> {
    if grants.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await
    } else {
        Ok(HashSet::new())
    }
}

/// What the caller may do with `folder` (owner, or a grant on it or above it). At most three
/// statements.
pub(super) async fn reach(app: &App, p: &Principal, folder: &FolderRow) -> AppResult<Reach> {
    if folder.user_id == p.id() {
        return Ok(Reach { read: true, write: true });
    }
    let chain = store::folders::ancestors(&app.db, &folder.id).await?;
    let ids: Vec<String> = chain.iter().map(|f| f.id.clone()).collect();
    let grants = store::grants::grants_for(&app.db, store::grants::FOLDER, &ids).await?;
    let groups = groups_for(app, p, &grants).await?;
    Ok(reach_of(p.id(), &chain, &grants, &groups))
}

/// The reference's `has_folder_write_access`: the folder exists and the caller owns it or holds
/// a write grant on it or above it (admins included: no bypass).
pub async fn writable(app: &App, p: &Principal, folder_id: &str) -> AppResult<bool> {
    match store::folders::get(&app.db, folder_id).await? {
        Some(folder) => Ok(reach(app, p, &folder).await?.write),
        None => Ok(false),
    }
}

/// Whether a non-owner reaches another user's chat through the folder it is in: reading needs a
/// read grant on the folder (or above it); continuing it (`write`) also needs the folder's
/// `data.share_mode` to be `continue`.
pub async fn chat_reachable(
    app: &App,
    p: &Principal,
    folder_id: Option<&str>,
    write: bool,
) -> AppResult<bool> {
    let Some(folder_id) = folder_id else { return Ok(false) };
    let Some(folder) = store::folders::get(&app.db, folder_id).await? else { return Ok(false) };
    let continue_mode = share_mode(&folder) == Some("continue");
    if write && !continue_mode {
        return Ok(false);
    }
    Ok(reach(app, p, &folder).await?.read)
}

/// A folder's `data.share_mode`.
pub(super) fn share_mode(folder: &FolderRow) -> Option<&str> {
    folder.data.as_ref().and_then(|d| d.0.get("share_mode")).and_then(Value::as_str)
}

/// The reference's `has_chat_move_access`: the caller may move another user's chat only between
/// folders of one tree of theirs: both folders must be the caller's, with the same root, where a
/// folder that has grants counts as a root (a move cannot leave a shared subtree).
pub(super) async fn may_move_others_chat(
    app: &App,
    p: &Principal,
    source: Option<&str>,
    target: Option<&str>,
) -> AppResult<bool> {
    let (Some(source), Some(target)) = (source, target) else { return Ok(false) };
    let mut chain = store::folders::ancestors(&app.db, source).await?;
    chain.extend(store::folders::ancestors(&app.db, target).await?);
    let by_id: HashMap<String, FolderRow> = chain.into_iter().map(|f| (f.id.clone(), f)).collect();
    let ids: Vec<String> = by_id.keys().cloned().collect();
    let shared: HashSet<String> = store::folders::with_grants(&app.db, &ids).await?.into_iter().collect();
    let root = |start: &str| owned_root(p.id(), &by_id, &shared, start);
    let source_root = root(source);
    Ok(source_root.is_some() && source_root == root(target))
}

/// The top of the caller's tree above `start` (the highest folder with grants, if any); `None`
/// when a folder on the way is missing or not the caller's, or the parents loop.
fn owned_root(
    me: &str,
    by_id: &HashMap<String, FolderRow>,
    shared: &HashSet<String>,
    start: &str,
) -> Option<String> {
    let mut seen = HashSet::new();
    let mut shared_root: Option<String> = None;
    let mut current = start.to_string();
    while seen.insert(current.clone()) {
        let folder = by_id.get(&current).filter(|f| f.user_id == me)?;
        if shared.contains(&folder.id) {
            shared_root = Some(folder.id.clone());
        }
        match &folder.parent_id {
            None => return shared_root.or_else(|| Some(folder.id.clone())),
            Some(parent) => current = parent.clone(),
        }
    }
    None
}

/// The entries of a folder's `data.files` a caller can read. Only well-formed entries count
/// (objects with a `type` of `file`, `collection` or `note` and an `id`); an admin reads every one
/// of those, anyone else none: duet stores no files, collections or notes, so none can be shared
/// with them (the reference answers so for files it does not have).
pub(super) fn readable_files(entries: &Value, admin: bool) -> Vec<Value> {
    let Some(entries) = entries.as_array() else { return Vec::new() };
    if !admin {
        return Vec::new();
    }
    entries
        .iter()
        .filter(|e| {
            matches!(e.get("type").and_then(Value::as_str), Some("file" | "collection" | "note"))
                && e.get("id").is_some_and(truthy)
        })
        .cloned()
        .collect()
}

/// Python's truth of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Whether a caller can read every entry of `files` (null and `[]` are nothing to read).
pub(super) fn reads_all_files(files: &Value, admin: bool) -> bool {
    match files {
        Value::Null => true,
        Value::Array(entries) if entries.is_empty() => true,
        Value::Array(entries) => readable_files(files, admin).len() == entries.len(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::types::Json;

    use super::*;

    fn folder(id: &str, parent: Option<&str>, owner: &str) -> FolderRow {
        FolderRow {
            id: id.into(),
            parent_id: parent.map(str::to_string),
            user_id: owner.into(),
            name: id.into(),
            items: None,
            meta: None,
            data: Some(Json(json!({}))),
            is_expanded: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn grant(resource: &str, kind: &str, who: &str, permission: &str) -> GrantRow {
        GrantRow {
            id: format!("{resource}-{who}-{permission}"),
            resource_type: "folder".into(),
            resource_id: resource.into(),
            principal_type: kind.into(),
            principal_id: who.into(),
            permission: permission.into(),
            created_at: 0,
        }
    }

    #[test]
    fn grants_above_a_folder_reach_it_with_their_own_permission() {
        let me = "me";
        let chain = [folder("child", Some("top"), "owner"), folder("top", None, "owner")];
        let none = HashSet::new();
        assert_eq!(reach_of(me, &chain, &[], &none), Reach::default());
        let read = [grant("top", "user", "me", "read")];
        assert_eq!(reach_of(me, &chain, &read, &none), Reach { read: true, write: false });
        // A write grant alone is no read grant (the reference matches permissions exactly).
        let write = [grant("child", "group", "g1", "write")];
        let groups: HashSet<String> = ["g1".to_string()].into();
        assert_eq!(reach_of(me, &chain, &write, &groups), Reach { read: false, write: true });
        assert_eq!(reach_of(me, &chain, &write, &none), Reach::default());
        assert_eq!(reach_of(me, &[folder("x", None, "me")], &[], &none), Reach { read: true, write: true });
    }

    #[test]
    fn moves_of_others_chats_stay_inside_one_tree_of_the_caller() {
        let me = "me";
        let by_id: HashMap<String, FolderRow> = [
            folder("root", None, "me"),
            folder("shared", Some("root"), "me"),
            folder("a", Some("shared"), "me"),
            folder("b", Some("root"), "me"),
            folder("loop1", Some("loop2"), "me"),
            folder("loop2", Some("loop1"), "me"),
            folder("theirs", None, "other"),
        ]
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
        let shared: HashSet<String> = ["shared".to_string()].into();
        let none = HashSet::new();
        let root = |s: &HashSet<String>, id: &str| owned_root(me, &by_id, s, id);
        assert_eq!(root(&none, "a").as_deref(), Some("root"));
        assert_eq!(root(&shared, "a").as_deref(), Some("shared"));
        assert_eq!(root(&shared, "b").as_deref(), Some("root"));
        assert_eq!(root(&none, "loop1"), None);
        assert_eq!(root(&none, "theirs"), None);
        assert_eq!(root(&none, "missing"), None);
    }

    #[test]
    fn only_admins_read_folder_files_and_only_well_formed_ones() {
        let files = json!([{"type": "file", "id": "f1"}, {"type": "collection", "id": "k1"}, {"type": "web", "id": "w"}]);
        assert_eq!(readable_files(&files, true).len(), 2);
        assert!(readable_files(&files, false).is_empty());
        assert!(!reads_all_files(&files, true));
        assert!(reads_all_files(&json!([{"type": "note", "id": "n"}]), true));
        assert!(!reads_all_files(&json!([{"type": "note", "id": "n"}]), false));
        assert!(reads_all_files(&Value::Null, false));
        assert!(reads_all_files(&json!([]), false));
        assert!(!reads_all_files(&json!("x"), true));
    }
}
