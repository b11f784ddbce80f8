//! Chat search: the search text's filter tokens, the search list with snippets, and the
//! filtered window of the GraphQL chat connection.

use super::document::message_texts;
use super::form::ChatQuery;
use super::tags::normalize_tag;
use super::view::{ChatSummary, SearchHits};
use super::{PAGE_SIZE, admin_access};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::validate;
use crate::store::chats::{Filter, Sort};
use crate::store::{self, Db};

/// `GET /chats/search?text=`: words match the title or any message (all must occur);
/// `tag:`, `pinned:`, `archived:`, `shared:` tokens filter. 60 per page.
pub async fn search(app: &App, caller: &Caller, text: &str, page: Option<i64>) -> AppResult<SearchHits> {
    let p = caller.require_verified()?;
    validate::check_search(&["query", "text"], text)?;
    let Some(filter) = search_filter(text, Filter { archived: Some(false), ..Default::default() }) else {
        return Ok(SearchHits(Vec::new()));
    };
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

/// Adds the search text's words and `tag:`, `pinned:`, `archived:`, `shared:` tokens to `filter`;
/// `None` when nothing can match (a `folder:` token: folders are not supported).
pub fn search_filter(text: &str, mut filter: Filter) -> Option<Filter> {
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
        } else if token.starts_with("folder:") {
            return None;
        } else {
            filter.words.push(token.to_string());
        }
    }
    Some(filter)
}

/// A window of `owner_id`'s chats and the number matching (the caller's own, or any user's for an
/// admin with admin chat access). Archived chats are left out unless asked for.
pub async fn query(
    app: &App,
    caller: &Caller,
    owner_id: &str,
    q: ChatQuery,
) -> AppResult<(Vec<ChatSummary>, i64)> {
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
        Some(text) => match search_filter(text, base) {
            Some(f) => f,
            None => return Ok((Vec::new(), 0)),
        },
        None => base,
    };
    let rows = store::chats::list(
        &app.db,
        owner_id,
        &filter,
        Sort::UpdatedAt,
        false,
        Some(q.limit.clamp(0, 1000)),
        q.offset.max(0),
    )
    .await?;
    let total = store::chats::count(&app.db, owner_id, &filter).await?;
    Ok((rows.rows.iter().map(ChatSummary::from).collect(), total))
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
