//! Chat stats: `GET /chats/stats/usage` (per-chat usage of the caller's chats) and the stats
//! export (`/chats/stats/export`, paged or as NDJSON, and one chat). Computed from each chat's
//! messages as the reference computes them; a chat (or, in the export, a message) whose values
//! do not have the reference's types is left out, as the reference leaves it out.

use serde_json::{Map, Value};

use super::admin_access;
use super::stats_view::{
    AggregateStatsView, ChatBodyView, ChatStatsPage, ChatStatsView, ChatUsagePage, ChatUsageView,
    HistoryStatsView, MessageStatsMap, MessageStatsView, ModelCounts,
};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::store;
use crate::store::chats::ChatRow;

/// Chats per page of the export (the reference's `CHAT_EXPORT_PAGE_ITEM_COUNT`).
pub const EXPORT_PAGE: i64 = 10;
/// Chats read per statement while computing a long list.
const BATCH: i64 = 50;

/// The messages along the parent chain ending at `id`, root first (`get_message_list`).
pub(super) fn message_list<'a>(messages: &'a Map<String, Value>, id: &str) -> Vec<&'a Map<String, Value>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut next = Some(id.to_string());
    while let Some(key) = next.take() {
        let Some(m) = messages.get(&key).and_then(Value::as_object).filter(|m| !m.is_empty()) else { break };
        if !seen.insert(key) {
            break;
        }
        out.push(m);
        next = m.get("parentId").and_then(Value::as_str).filter(|p| !p.is_empty()).map(str::to_string);
    }
    out.reverse();
    out
}

fn role(m: &Map<String, Value>) -> &str {
    m.get("role").and_then(Value::as_str).unwrap_or("")
}

fn model(m: &Map<String, Value>) -> Option<&str> {
    m.get("model").and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn tags(meta: &Value) -> Option<Vec<String>> {
    match meta.get("tags") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|t| t.as_str().map(str::to_string)).collect(),
        Some(_) => None,
    }
}

/// pydantic's lax integer: integers, integral floats, integer texts.
fn lax_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// A number as Python adds it (booleans count as 0 and 1).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn average(sum: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Models of the assistant messages of `messages`, in the order given.
fn count_models<'a>(messages: impl Iterator<Item = &'a Map<String, Value>>) -> ModelCounts {
    let mut counts = ModelCounts::default();
    for m in messages.filter(|m| role(m) == "assistant") {
        if let Some(model) = model(m) {
            counts.add(model);
        }
    }
    counts
}

/// One chat's usage; `None` for a chat without messages or a current message, or with values
/// the reference cannot add up.
pub(super) fn usage_of(row: &ChatRow) -> Option<ChatUsageView> {
    let history = row.chat.0.get("history")?;
    let messages = history.get("messages").and_then(Value::as_object).filter(|m| !m.is_empty())?;
    let current = history.get("currentId").and_then(Value::as_str).filter(|c| !c.is_empty())?;
    let all: Vec<&Map<String, Value>> = messages.values().map(Value::as_object).collect::<Option<_>>()?;
    let users: Vec<_> = all.iter().copied().filter(|m| role(m) == "user").collect();
    let assistants: Vec<_> = all.iter().copied().filter(|m| role(m) == "assistant").collect();
    let length = |m: &Map<String, Value>| -> Option<f64> {
        match m.get("content") {
            None => Some(0.0),
            Some(Value::String(s)) => Some(s.chars().count() as f64),
            Some(Value::Array(a)) => Some(a.len() as f64),
            Some(Value::Object(o)) => Some(o.len() as f64),
            Some(_) => None,
        }
    };
    let user_sum: f64 = users.iter().map(|m| length(m)).sum::<Option<f64>>()?;
    let assistant_sum: f64 = assistants.iter().map(|m| length(m)).sum::<Option<f64>>()?;
    let mut times = Vec::new();
    for m in &assistants {
        let Some(parent) = m.get("parentId").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
            continue;
        };
        let Some(user) = messages.get(parent) else { continue };
        let at = |v: Option<&Value>| v.map_or(Some(0.0), number);
        times.push(at(m.get("timestamp"))? - at(user.get("timestamp"))?);
    }
    let branch = message_list(messages, current);
    let last = branch.last()?;
    Some(ChatUsageView {
        id: row.id.clone(),
        models: count_models(branch.iter().rev().copied()),
        message_count: branch.len() as i64,
        history_models: count_models(all.iter().copied()),
        history_message_count: all.len() as i64,
        history_user_message_count: users.len() as i64,
        history_assistant_message_count: assistants.len() as i64,
        average_response_time: average(times.iter().sum(), times.len()),
        average_user_message_content_length: average(user_sum, users.len()),
        average_assistant_message_content_length: average(assistant_sum, assistants.len()),
        tags: tags(&row.meta.0)?,
        last_message_at: last.get("timestamp").and_then(lax_int)?,
        updated_at: row.updated_at,
        created_at: row.created_at,
    })
}

/// A message's length for the export: its text, or the text parts of a list; `None` for parts
/// the reference cannot measure.
fn export_length(m: &Map<String, Value>) -> Option<i64> {
    match m.get("content") {
        Some(Value::String(s)) => Some(s.chars().count() as i64),
        Some(Value::Array(items)) => {
            let mut n = 0;
            for item in items {
                let item = item.as_object()?;
                if item.get("type").and_then(Value::as_str) == Some("text") {
                    match item.get("text") {
                        None => {}
                        Some(Value::String(t)) => n += t.chars().count() as i64,
                        Some(Value::Array(a)) => n += a.len() as i64,
                        Some(_) => return None,
                    }
                }
            }
            Some(n)
        }
        _ => Some(0),
    }
}

fn opt<T>(v: Option<&Value>, read: impl Fn(&Value) -> Option<T>) -> Result<Option<T>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v).map(Some).ok_or(()),
    }
}

/// A message's export entry; `None` for one the reference skips.
fn message_stats(m: &Map<String, Value>) -> Option<MessageStatsView> {
    let annotation = match m.get("annotation") {
        None => None,
        Some(Value::Object(a)) => Some(a),
        Some(_) => return None,
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    Some(MessageStatsView {
        id: m.get("id").and_then(Value::as_str)?.to_string(),
        role: m.get("role").and_then(Value::as_str)?.to_string(),
        model: opt(m.get("model"), text).ok()?,
        content_length: export_length(m)?,
        token_count: None,
        timestamp: opt(m.get("timestamp"), lax_int).ok()?,
        rating: opt(annotation.and_then(|a| a.get("rating")), lax_int).ok()?,
        tags: opt(annotation.and_then(|a| a.get("tags")), |v| {
            v.as_array()?.iter().map(|t| t.as_str().map(str::to_string)).collect()
        })
        .ok()?,
    })
}

/// One chat's export entry; `None` for a chat the reference cannot process.
pub(super) fn export_of(row: &ChatRow) -> Option<ChatStatsView> {
    let empty = Map::new();
    let history = match row.chat.0.get("history") {
        None => None,
        Some(Value::Object(h)) => Some(h),
        Some(_) => return None,
    };
    let messages = match history.and_then(|h| h.get("messages")) {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return None,
    };
    let current = opt(history.and_then(|h| h.get("currentId")), |v| v.as_str().map(str::to_string)).ok()?;
    let mut exported = MessageStatsMap::default();
    let (mut users, mut assistants) = (Vec::new(), Vec::new());
    let mut history_models = ModelCounts::default();
    for (key, m) in messages {
        let Some(m) = m.as_object() else { continue };
        let Some(stats) = message_stats(m) else { continue };
        match stats.role.as_str() {
            "user" => users.push(m),
            "assistant" => {
                assistants.push(m);
                if let Some(model) = model(m) {
                    history_models.add(model);
                }
            }
            _ => {}
        }
        exported.0.push((key.clone(), stats));
    }
    let sum = |list: &[&Map<String, Value>]| list.iter().map(|m| export_length(m)).sum::<Option<i64>>();
    let (user_sum, assistant_sum) = (sum(&users)?, sum(&assistants)?);
    let mut times = Vec::new();
    for m in &assistants {
        let Some(parent) = m.get("parentId").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
            continue;
        };
        let Some(user) = messages.get(parent) else { continue };
        let (t1, t0) = (m.get("timestamp"), user.get("timestamp"));
        let set = |v: Option<&Value>| {
            v.is_some_and(|v| {
                !matches!(v, Value::Null | Value::Bool(false))
                    && number(v) != Some(0.0)
                    && v.as_str() != Some("")
            })
        };
        if set(t1) && set(t0) {
            times.push(t1.and_then(number)? - t0.and_then(number)?);
        }
    }
    let branch = current.as_deref().map(|c| message_list(messages, c)).unwrap_or_default();
    Some(ChatStatsView {
        id: row.id.clone(),
        user_id: row.user_id.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        tags: tags(&row.meta.0)?,
        stats: AggregateStatsView {
            average_response_time: average(times.iter().sum(), times.len()),
            average_user_message_content_length: average(user_sum as f64, users.len()),
            average_assistant_message_content_length: average(assistant_sum as f64, assistants.len()),
            models: count_models(branch.iter().rev().copied()),
            message_count: branch.len() as i64,
            history_models,
            history_message_count: messages.len() as i64,
            history_user_message_count: users.len() as i64,
            history_assistant_message_count: assistants.len() as i64,
        },
        chat: ChatBodyView { history: HistoryStatsView { messages: exported, current_id: current } },
    })
}

/// Applies `each` to the caller's chats in the window, reading them `BATCH` at a time.
async fn each_chat<T>(
    app: &App,
    p: &Principal,
    updated_after: Option<i64>,
    ascending: bool,
    (offset, limit): (i64, Option<i64>),
    each: impl Fn(&ChatRow) -> Option<T>,
) -> AppResult<Vec<T>> {
    let mut out = Vec::new();
    let mut read = 0i64;
    loop {
        let want = limit.map_or(BATCH, |l| (l - read).min(BATCH));
        if want <= 0 {
            break;
        }
        let rows =
            store::chat_stats::window(&app.db, p.id(), updated_after, ascending, want, offset + read).await?;
        read += rows.len() as i64;
        out.extend(rows.iter().filter_map(&each));
        if (rows.len() as i64) < want {
            break;
        }
    }
    Ok(out)
}

/// `GET /chats/stats/usage?items_per_page=50&page=1`: the caller's chats, newest update first.
/// A page below 1 is the first; a negative page size is 400 `DEFAULT`.
pub async fn usage(
    app: &App,
    caller: &Caller,
    items_per_page: Option<i64>,
    page: Option<i64>,
) -> AppResult<ChatUsagePage> {
    let p = caller.require_verified()?;
    let per_page = items_per_page.unwrap_or(50);
    if per_page < 0 {
        return Err(AppError::bad_request(ErrorCode::Default));
    }
    let skip = (page.unwrap_or(1).max(1) - 1).saturating_mul(per_page);
    let items = each_chat(app, p, None, false, (skip, Some(per_page)), usage_of).await?;
    let total = store::chat_stats::count(&app.db, p.id(), None).await?;
    Ok(ChatUsagePage { items, total })
}

/// Non-admins export only with community sharing on (401 `ACCESS_PROHIBITED`).
async fn may_export(app: &App, p: &Principal) -> AppResult<()> {
    if p.role.is_admin() || Settings::load(&app.db).await?.flag("ui.enable_community_sharing", true) {
        Ok(())
    } else {
        Err(AppError::unauthorized(ErrorCode::AccessProhibited))
    }
}

/// `GET /chats/stats/export?updated_at=&page=1`: ten of the caller's chats updated after
/// `updated_at` (0 or none: all), oldest update first.
pub async fn export_stats(
    app: &App,
    caller: &Caller,
    updated_at: Option<i64>,
    page: Option<i64>,
) -> AppResult<ChatStatsPage> {
    let p = caller.require_verified()?;
    may_export(app, p).await?;
    let page = page.unwrap_or(1);
    let after = updated_at.filter(|t| *t != 0);
    let skip = (page.max(1) - 1).saturating_mul(EXPORT_PAGE);
    let items = each_chat(app, p, after, true, (skip, Some(EXPORT_PAGE)), export_of).await?;
    let total = store::chat_stats::count(&app.db, p.id(), after).await?;
    Ok(ChatStatsPage { kind: "chats", items, total, page })
}

/// `GET /chats/stats/export?stream=true`: every such chat (the NDJSON lines of the download).
pub async fn export_stats_all(
    app: &App,
    caller: &Caller,
    updated_at: Option<i64>,
) -> AppResult<Vec<ChatStatsView>> {
    let p = caller.require_verified()?;
    may_export(app, p).await?;
    each_chat(app, p, updated_at.filter(|t| *t != 0), true, (0, None), export_of).await
}

/// `GET /chats/stats/export/{chat_id}`: 404 `NOT_FOUND`; 401 `ACCESS_PROHIBITED` for others'
/// chats (admins with admin chat access excepted); 400 `Failed to process chat stats`.
pub async fn export_chat_stats(app: &App, caller: &Caller, chat_id: &str) -> AppResult<ChatStatsView> {
    let p = caller.require_verified()?;
    may_export(app, p).await?;
    let row =
        store::chats::get(&app.db, chat_id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    if row.user_id != p.user.id && !admin_access(app, p) {
        return Err(AppError::unauthorized(ErrorCode::AccessProhibited));
    }
    export_of(&row).ok_or_else(|| AppError::bad_request(ErrorCode::ChatStatsFailed))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::types::Json;

    use super::*;

    fn row(chat: Value) -> ChatRow {
        ChatRow {
            id: "c".into(),
            user_id: "u".into(),
            title: "t".into(),
            chat: Json(chat),
            created_at: 1,
            updated_at: 2,
            share_id: None,
            archived: false,
            pinned: false,
            meta: Json(json!({"tags": ["x"]})),
            variables: None,
            folder_id: None,
            current_message_id: None,
            last_read_at: None,
        }
    }

    fn chat() -> Value {
        json!({"history": {"currentId": "a2", "messages": {
            "u1": {"id": "u1", "parentId": null, "role": "user", "content": "hello", "timestamp": 100},
            "a1": {"id": "a1", "parentId": "u1", "role": "assistant", "content": "hi", "model": "m1", "timestamp": 103},
            "a2": {"id": "a2", "parentId": "u1", "role": "assistant", "content": "hey you", "model": "m2",
                   "timestamp": 107, "annotation": {"rating": 1, "tags": ["good"]}}
        }}})
    }

    #[test]
    fn usage_counts_the_branch_and_the_history() {
        let u = usage_of(&row(chat())).expect("usage");
        assert_eq!(u.message_count, 2);
        assert_eq!(u.models.0, [("m2".to_string(), 1)]);
        assert_eq!(u.history_models.0.len(), 2);
        assert_eq!(u.history_message_count, 3);
        assert_eq!(u.average_response_time, 5.0);
        assert_eq!(u.average_user_message_content_length, 5.0);
        assert_eq!(u.average_assistant_message_content_length, 4.5);
        assert_eq!(u.last_message_at, 107);
        assert_eq!(u.tags, ["x"]);
        assert!(usage_of(&row(json!({"history": {"messages": {}}}))).is_none());
        let mut bad = chat();
        bad["history"]["messages"]["u1"]["timestamp"] = json!("soon");
        assert!(usage_of(&row(bad)).is_none());
    }

    #[test]
    fn the_export_lists_message_facts_and_skips_what_it_cannot_read() {
        let mut c = chat();
        c["history"]["messages"]["bad"] = json!({"role": "user", "content": "no id"});
        let e = export_of(&row(c)).expect("export");
        assert_eq!(e.chat.history.messages.0.len(), 3);
        let a2 = &e.chat.history.messages.0.iter().find(|(k, _)| k == "a2").expect("a2").1;
        assert_eq!((a2.rating, a2.content_length), (Some(1), 7));
        assert_eq!(a2.tags.as_deref(), Some(&["good".to_string()][..]));
        assert_eq!(e.stats.history_message_count, 4);
        assert_eq!(e.stats.history_user_message_count, 1);
        assert_eq!(e.stats.message_count, 2);
        let empty = export_of(&row(json!({}))).expect("export");
        assert_eq!(empty.stats.message_count, 0);
        assert!(export_of(&row(json!({"history": {"currentId": 5}}))).is_none());
    }
}
