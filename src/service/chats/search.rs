//! Chat search: the search text's filter tokens, the search list with snippets, and the
//! filtered window of the GraphQL chat connection.

use super::document::message_texts;
use super::form::ChatQuery;
use super::tags::normalize_tag;
use super::view::{ChatPage, SearchHits};
use super::{PAGE_SIZE, admin_access};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::validate;
use crate::store::chats::{Filter, Sort};
use crate::store::{self, Db};

/// `GET /chats/search?text=`: words match the title or any message (all must occur);
/// `tag:`, `folder:`, `pinned:`, `archived:`, `shared:` tokens filter. 60 per page.
pub async fn search(app: &App, caller: &Caller, text: &str, page: Option<i64>) -> AppResult<SearchHits> {
    let p = caller.require_verified()?;
    validate::check_search(&["query", "text"], text)?;
    let filter = search_filter(text, Filter { archived: Some(false), ..Default::default() });
    let filter = with_folders(app, &p.user.id, filter).await?;
    let page = page.unwrap_or(1).max(1);
    let rows = store::chats::list(
        &app.db,
        &p.user.id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(PAGE_SIZE),
        (page - 1).saturating_mul(PAGE_SIZE),
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let snippet =
            if filter.words.is_empty() { None } else { snippet(&app.db, &row.id, &filter.words).await? };
        out.push((row.clone(), snippet));
    }
    Ok(SearchHits(out))
}

/// Adds the search text's words and `tag:`, `folder:`, `pinned:`, `archived:`, `shared:` tokens
/// to `filter` (folder names still to be resolved by `with_folders`).
pub fn search_filter(text: &str, mut filter: Filter) -> Filter {
    let bool_of = |v: &str| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    for token in text.to_lowercase().split_whitespace() {
        if let Some(tag) = token.strip_prefix("tag:") {
            if tag == "none" {
                filter.untagged = true;
            } else if !tag.is_empty() {
                filter.tags.push(normalize_tag(tag));
            }
        } else if let Some(v) = token.strip_prefix("pinned:") {
            filter.pinned = bool_of(v);
        } else if let Some(v) = token.strip_prefix("archived:") {
            filter.archived = bool_of(v);
        } else if let Some(v) = token.strip_prefix("shared:") {
            filter.shared = bool_of(v);
        } else if let Some(name) = token.strip_prefix("folder:") {
            filter.folder_names.push(normalize_folder_name(name));
        } else {
            filter.words.push(token.to_string());
        }
    }
    filter
}

/// A folder name as `folder:` matches it: `_` and spaces alike, runs of them one space,
/// lower-cased.
fn normalize_folder_name(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c == '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `filter` with its `folder:` names resolved against `owner_id`'s folders: the chats of the
/// named folders and of every folder below them (no folder of that name: nothing matches).
async fn with_folders(app: &App, owner_id: &str, mut filter: Filter) -> AppResult<Filter> {
    if filter.folder_names.is_empty() {
        return Ok(filter);
    }
    let folders = store::folders::of_user(&app.db, owner_id).await?;
    let mut ids: Vec<String> = folders
        .iter()
        .filter(|f| filter.folder_names.contains(&normalize_folder_name(&f.name)))
        .map(|f| f.id.clone())
        .collect();
    let mut children: std::collections::HashMap<&str, Vec<&str>> = std::collections::HashMap::new();
    for f in &folders {
        if let Some(parent) = f.parent_id.as_deref() {
            children.entry(parent).or_default().push(f.id.as_str());
        }
    }
    let mut seen: std::collections::HashSet<String> = ids.iter().cloned().collect();
    let mut i = 0;
    while i < ids.len() {
        for child in children.get(ids[i].as_str()).into_iter().flatten() {
            if seen.insert(child.to_string()) {
                ids.push(child.to_string());
            }
        }
        i += 1;
    }
    filter.folders = Some(ids);
    Ok(filter)
}

/// A window of `owner_id`'s chats and, when `q.count` asks for it, the number matching (the
/// caller's own, or any user's for an admin with admin chat access), as a page of the chat-list
/// cache when it is on. Archived chats
/// are left out unless asked for.
pub async fn query(
    app: &App,
    caller: &Caller,
    owner_id: &str,
    q: ChatQuery,
) -> AppResult<(ChatPage, Option<i64>)> {
    let p = caller.require_verified()?;
    if p.user.id != owner_id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    if let Some(search) = &q.search {
        validate::check_search(&["query", "search"], search)?;
    }
    if let Some(tag) = &q.tag {
        validate::check_search(&["query", "tag"], tag)?;
    }
    let base = Filter {
        archived: Some(q.archived.unwrap_or(false)),
        pinned: q.pinned,
        tags: q.tag.as_deref().map(normalize_tag).into_iter().collect(),
        without_folder: q.include_folders == Some(false),
        ..Default::default()
    };
    let filter = match q.search.as_deref() {
        Some(text) => with_folders(app, owner_id, search_filter(text, base)).await?,
        None => base,
    };
    let (limit, offset) = (q.limit.clamp(0, 1000), q.offset.max(0));
    let rows =
        store::chats::list(&app.db, owner_id, &filter, Sort::UpdatedAt, false, Some(limit), offset).await?;
    let page = ChatPage(rows);
    let total = match q.count {
        true => Some(super::links::total(app, owner_id, &filter, &page).await?),
        false => None,
    };
    Ok((page, total))
}

/// About 200 characters of the first message (or title) containing the first word.
async fn snippet(db: &Db, id: &str, words: &[String]) -> AppResult<Option<String>> {
    let Some(row) = store::chats::get(db, id).await? else { return Ok(None) };
    let word = &words[0];
    let texts = message_texts(&row.chat.0);
    let hit = texts.into_iter().find(|t| t.to_lowercase().contains(word.as_str()));
    Ok(hit.map(|t| {
        let lower = t.to_lowercase();
        let at = lower.find(word.as_str()).unwrap_or(0);
        let chars: Vec<char> = t.chars().collect();
        let at_char = t[..at.min(t.len())].chars().count();
        let start = at_char.saturating_sub(100);
        let end = (at_char + 100).min(chars.len());
        chars[start..end].iter().collect()
    }))
}
