//! Shared folders: the folders shared with or by the caller (and those below them), a shared
//! folder's chats whoever wrote them, and marking a folder's chats read.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::form::{FolderChatParams, chat_order, check_page};
use super::view::{ParticipantView, SharedFolderChatView, SharedFolderChatsView, SharedFolderView};
use super::{FolderReadView, access, folder_user, not_found, prohibited, unread_counts};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::store;
use crate::store::folders::{self as db, ChatOrder};

/// `GET /folders/shared`: folders with a grant reaching the caller, and the caller's own folders
/// that have grants, newest change first, each with its owner's name and the caller's permission
/// (`write` on their own; the highest grant otherwise); then the folders below each of them,
/// which inherit it.
pub async fn shared(app: &App, caller: &Caller) -> AppResult<Vec<SharedFolderView>> {
    let p = folder_user(app, caller).await?;
    let mut perms: HashMap<String, String> = HashMap::new();
    for (folder_id, permission) in db::grants_reaching(&app.db, p.id()).await? {
        if perms.get(&folder_id).map(String::as_str) != Some("write") {
            perms.insert(folder_id, permission);
        }
    }
    let ids: Vec<String> = perms.keys().cloned().collect();
    let folders = db::get_many(&app.db, &ids).await?;
    let mut owners: Vec<String> = folders.iter().map(|f| f.user_id.clone()).collect();
    owners.sort();
    owners.dedup();
    let names: HashMap<String, String> =
        store::users::get_many(&app.db, &owners).await?.into_iter().map(|u| (u.id, u.name)).collect();
    let owner_name = |id: &str| names.get(id).cloned().unwrap_or_else(|| "Unknown".into());
    let permission_of = |owner: &str, folder_id: &str| {
        if owner == p.id() { "write".to_string() } else { perms.get(folder_id).cloned().unwrap_or_default() }
    };
    let mut out: Vec<SharedFolderView> = folders
        .iter()
        .map(|f| SharedFolderView {
            folder: f.clone().into(),
            owner_name: owner_name(&f.user_id),
            permission: permission_of(&f.user_id, &f.id),
        })
        .collect();
    for f in &folders {
        let inherited = permission_of(&f.user_id, &f.id);
        for child in db::subtree(&app.db, &f.id, &f.user_id).await?.into_iter().filter(|c| c.id != f.id) {
            let permission = if child.user_id == p.id() { "write".to_string() } else { inherited.clone() };
            match out.iter_mut().find(|o| o.folder.id == child.id) {
                // A weaker direct grant must not hide inherited write access.
                Some(known) if permission == "write" => known.permission = permission,
                Some(_) => {}
                None => out.push(SharedFolderView {
                    owner_name: owner_name(&child.user_id),
                    folder: child.into(),
                    permission,
                }),
            }
        }
    }
    Ok(out)
}

/// The authors of a chat's user messages: each message's `user_id`, else its `user.id`, else the
/// owner; from `history.messages` when it is an object (even empty), else the `messages` list.
fn author_ids(doc: &Value, owner: &str) -> Vec<String> {
    let history = doc.get("history").and_then(|h| h.get("messages"));
    let messages: Vec<&Value> = match (history, doc.get("messages")) {
        (Some(Value::Object(m)), _) => m.values().collect(),
        (_, Some(Value::Array(list))) => list.iter().collect(),
        _ => Vec::new(),
    };
    let text =
        |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string);
    let mut out: Vec<String> = messages
        .into_iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .filter_map(|m| {
            text(m.get("user_id"))
                .or_else(|| text(m.get("user").and_then(|u| u.get("id"))))
                .or_else(|| Some(owner.to_string()).filter(|o| !o.trim().is_empty()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Participants as the reference orders them: the owner first, then named ones by name.
fn participants(ids: Vec<String>, owner: &str, names: &HashMap<String, String>) -> Vec<ParticipantView> {
    let mut out: Vec<ParticipantView> =
        ids.into_iter().map(|id| ParticipantView { name: names.get(&id).cloned(), id }).collect();
    out.sort_by_key(|a| {
        (a.id != owner, a.name.is_none(), a.name.clone().unwrap_or_default().to_lowercase(), a.id.clone())
    });
    out
}

/// `GET /folders/{id}/shared/chats?page=&sort_by=&sort_dir=`: a folder's chats whoever owns
/// them (not pinned, not archived), 10 per page with `page` (with `total` and `has_more`), the
/// first 60 without; each with its owner's name, its participants and whether it is read-only
/// for the caller. The owner, an admin, or a reader of the folder; 404 for an unknown folder,
/// 403 for anyone else.
pub async fn shared_chats(
    app: &App,
    caller: &Caller,
    id: &str,
    params: FolderChatParams,
) -> AppResult<SharedFolderChatsView> {
    let p = folder_user(app, caller).await?;
    let page = check_page(params.page)?;
    let folder = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    let reach = if folder.user_id == p.id() || p.role.is_admin() {
        access::Reach { read: true, write: true }
    } else {
        access::reach(app, p, &folder).await?
    };
    let write = reach.write;
    if !write && !reach.read {
        return Err(prohibited());
    }
    let limit = if page.is_some() { 10 } else { 60 };
    let offset = page.map_or(0, |n| (n - 1).saturating_mul(10));
    let order = chat_order(params.sort_by.as_deref(), params.sort_dir.as_deref());
    let rows = match order {
        ChatOrder::Unread => db::shared_chat_page_unread_first(&app.db, id, p.id(), limit, offset).await?,
        other => db::shared_chat_page(&app.db, id, other, limit, offset).await?,
    };
    let total = match page {
        Some(_) => db::shared_chat_count(&app.db, id).await?,
        None => rows.len() as i64,
    };
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let docs: HashMap<String, Value> =
        store::chats::get_many(&app.db, &ids).await?.into_iter().map(|c| (c.id, c.chat.0)).collect();
    let authors: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|r| (r.id.clone(), docs.get(&r.id).map(|d| author_ids(d, &r.user_id)).unwrap_or_default()))
        .collect();
    let mut people: HashSet<String> = rows.iter().map(|r| r.user_id.clone()).collect();
    people.extend(authors.values().flatten().cloned());
    let people: Vec<String> = people.into_iter().collect();
    let names: HashMap<String, String> =
        store::users::get_many(&app.db, &people).await?.into_iter().map(|u| (u.id, u.name)).collect();
    let chats = rows
        .into_iter()
        .map(|r| {
            let mine = r.user_id == p.id();
            SharedFolderChatView {
                participants: participants(
                    authors.get(&r.id).cloned().unwrap_or_default(),
                    &r.user_id,
                    &names,
                ),
                owner_name: names.get(&r.user_id).cloned().unwrap_or_else(|| "Unknown".into()),
                last_read_at: if mine { r.last_read_at } else { Some(r.updated_at) },
                active: false,
                readonly: !mine,
                id: r.id,
                title: r.title,
                user_id: r.user_id,
                updated_at: r.updated_at,
                created_at: r.created_at,
            }
        })
        .collect();
    Ok(SharedFolderChatsView {
        chats,
        folder_permission: if write { "write" } else { "read" }.into(),
        total: page.map(|_| total),
        has_more: page.map(|_| offset + limit < total),
    })
}

/// `POST /folders/{id}/read`: marks the caller's chats in the folder read — and in every folder
/// below it for its owner or an admin; answered with the caller's unread counts after. 404 for an
/// unknown folder, 403 without read access.
pub async fn mark_read(app: &App, caller: &Caller, id: &str) -> AppResult<FolderReadView> {
    let p = folder_user(app, caller).await?;
    let folder = db::get(&app.db, id).await?.ok_or_else(not_found)?;
    let owner = folder.user_id == p.id();
    if !owner && !p.role.is_admin() && !access::reach(app, p, &folder).await?.read {
        return Err(prohibited());
    }
    let folder_ids: Vec<String> = if owner || p.role.is_admin() {
        db::subtree(&app.db, id, &folder.user_id).await?.into_iter().map(|f| f.id).collect()
    } else {
        vec![id.to_string()]
    };
    let updated_count = db::mark_read(&app.db, p.id(), Some(&folder_ids)).await?;
    Ok(FolderReadView {
        folder_id: id.to_string(),
        folder_ids,
        updated_count,
        folder_unread_counts: unread_counts(app, p.id()).await?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn authors_come_from_user_messages_with_the_owner_as_fallback() {
        let doc = json!({"history": {"messages": {
            "1": {"role": "user", "user_id": "u2"},
            "2": {"role": "assistant", "user_id": "bot"},
            "3": {"role": "user", "user": {"id": "u3"}},
            "4": {"role": "user", "user_id": "  "},
            "5": {"role": "user", "user_id": "u2"}
        }}, "messages": [{"role": "user", "user_id": "ignored"}]});
        assert_eq!(author_ids(&doc, "owner"), ["owner", "u2", "u3"]);
        let listed = json!({"messages": [{"role": "user"}]});
        assert_eq!(author_ids(&listed, "owner"), ["owner"]);
        assert!(
            author_ids(&json!({"history": {"messages": {}}, "messages": [{"role": "user"}]}), "o").is_empty()
        );
    }

    #[test]
    fn participants_start_with_the_owner_then_names() {
        let names: HashMap<String, String> =
            [("o".into(), "Zed".into()), ("a".into(), "bob".into()), ("b".into(), "Al".into())].into();
        let ids = vec!["a".into(), "b".into(), "c".into(), "o".into()];
        let order: Vec<String> = participants(ids, "o", &names).into_iter().map(|p| p.id).collect();
        assert_eq!(order, ["o", "b", "a", "c"]);
    }
}
