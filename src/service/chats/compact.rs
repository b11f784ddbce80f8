//! `POST /chats/{id}/compact`: context compaction of the current branch. Everything the reference
//! decides without a model is answered as it answers it (compaction switched off, nothing or too
//! little to compact, with the estimated context usage); a branch that would need a model to
//! write its summary is refused with 400 `COMPACTION_UNAVAILABLE`, since duet does not call one.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::config::ChatConfig;
use super::document::current_message_id;
use super::not_found_401;
use super::stats::message_list;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::admin_config::Settings;
use crate::service::form::{Fields, Loc, Source};
use crate::store;

/// `CompactChatForm`: the model to summarise with (default: the branch's last, then the chat's).
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = CompactChatForm)]
pub struct CompactForm {
    pub model: Option<String>,
}

impl CompactForm {
    pub fn from_json(body: &Value) -> AppResult<CompactForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let model = f.opt_string(map, Loc::root(), "model");
        f.finish()?;
        Ok(CompactForm { model })
    }
}

/// How full the model's context is, estimated (the reference's `context_usage`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ContextUsage)]
pub struct ContextUsageView {
    pub tokens: i64,
    pub estimated_tokens: i64,
    pub threshold: i64,
    pub percent: i64,
    pub source: &'static str,
}

/// The answer of a compaction that did not compact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ChatCompactionResult)]
pub struct CompactView {
    pub ok: bool,
    pub compacted: bool,
    /// `disabled`, `empty` or `too_short`.
    pub reason: &'static str,
    pub context_usage: Option<ContextUsageView>,
}

/// A text's tokens as the reference estimates them: a quarter of its characters, at least one.
fn estimate_text(text: &str) -> i64 {
    let n = text.chars().count() as i64;
    if n == 0 { 0 } else { (n / 4).max(1) }
}

fn estimate(v: Option<&Value>) -> i64 {
    match v {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) => estimate_text(s),
        Some(other) => estimate_text(&other.to_string()),
    }
}

fn estimate_messages(messages: &[&Map<String, Value>]) -> i64 {
    let mut total = 0;
    for m in messages {
        total += 4;
        match m.get("content") {
            Some(Value::Array(items)) => {
                for item in items {
                    total += match item.as_object() {
                        None => estimate(Some(item)),
                        Some(i)
                            if matches!(
                                i.get("type").and_then(Value::as_str),
                                Some("image" | "image_url")
                            ) =>
                        {
                            1000
                        }
                        Some(i) => estimate(Some(i.get("text").or_else(|| i.get("content")).unwrap_or(item))),
                    };
                }
            }
            other => total += estimate(other),
        }
        total += estimate(m.get("output")) + estimate(m.get("tool_calls"));
        if m.get("files").is_some_and(|f| !matches!(f, Value::Null | Value::Bool(false))) {
            total += estimate(m.get("files"));
        }
    }
    total
}

/// The prompt and completion tokens a reply's `usage` reports (0 when it reports none).
fn usage_tokens(usage: &Map<String, Value>) -> i64 {
    let n = |k: &str| usage.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut prompt = [n("prompt_tokens"), n("prompt_eval_count")].into_iter().find(|v| *v != 0).unwrap_or(0);
    if prompt == 0 && (usage.contains_key("prompt_n") || usage.contains_key("cache_n")) {
        prompt = n("prompt_n") + n("cache_n");
    }
    if prompt == 0 {
        prompt = n("input_tokens");
    }
    let completion = ["completion_tokens", "output_tokens", "eval_count", "predicted_n"]
        .into_iter()
        .map(n)
        .find(|v| *v != 0)
        .unwrap_or(0);
    prompt + completion
}

/// The context usage of `branch` (after its latest summary, if any) against `threshold`.
fn context_usage(branch: &[&Map<String, Value>], threshold: i64) -> ContextUsageView {
    let start = branch.iter().rposition(|m| {
        ["contextSummary", "context_summary"]
            .iter()
            .any(|k| m.get(*k).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty()))
    });
    let (messages, summary) = match start {
        Some(i) => {
            let s = ["contextSummary", "context_summary"]
                .iter()
                .find_map(|k| branch[i].get(*k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()));
            (&branch[i..], s)
        }
        None => (branch, None),
    };
    let mut tokens = None;
    for (i, m) in messages.iter().enumerate().rev() {
        let usage = m.get("usage").or_else(|| m.get("info").and_then(|info| info.get("usage")));
        if let Some(u) = usage.and_then(Value::as_object).map(usage_tokens).filter(|t| *t != 0) {
            tokens = Some(u + estimate_messages(&messages[i + 1..]));
            break;
        }
    }
    let tokens = tokens.unwrap_or_else(|| summary.map_or(0, estimate_text) + estimate_messages(messages));
    let percent = if threshold > 0 { (tokens as f64 / threshold as f64 * 100.0).round() as i64 } else { 0 };
    ContextUsageView { tokens, estimated_tokens: tokens, threshold, percent, source: "estimated" }
}

/// `POST /chats/{id}/compact`: the owner's chat (401 `NOT_FOUND` otherwise); 400 `No model found
/// for context compaction.` when no model is named, used or listed.
pub async fn compact(app: &App, caller: &Caller, id: &str, form: CompactForm) -> AppResult<CompactView> {
    let p = caller.require_verified()?;
    let row = match store::chats::get(&app.db, id).await? {
        Some(row) if row.user_id == p.user.id => row,
        _ => return Err(not_found_401()),
    };
    let doc = &row.chat.0;
    let empty = Map::new();
    let messages =
        doc.get("history").and_then(|h| h.get("messages")).and_then(Value::as_object).unwrap_or(&empty);
    let current =
        row.current_message_id.clone().filter(|c| !c.is_empty()).or_else(|| current_message_id(doc));
    let branch = current.as_deref().map(|c| message_list(messages, c)).unwrap_or_default();
    let model = form
        .model
        .filter(|m| !m.is_empty())
        .or_else(|| {
            branch.iter().rev().find_map(|m| m.get("model").and_then(Value::as_str)).map(str::to_string)
        })
        .filter(|m| !m.is_empty())
        .or_else(|| {
            doc.get("models")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|m| !m.is_empty());
    if model.is_none() {
        return Err(AppError::bad_request(ErrorCode::NoCompactionModel));
    }
    let config = ChatConfig::of(&Settings::load(&app.db).await?);
    if !config.ENABLE_CONTEXT_COMPACTION {
        return Ok(CompactView { ok: true, compacted: false, reason: "disabled", context_usage: None });
    }
    let global = config.CONTEXT_COMPACTION_TOKEN_THRESHOLD.unwrap_or(super::config::DEFAULT_THRESHOLD);
    let cap = config.CONTEXT_COMPACTION_TOKEN_CAP.unwrap_or(global);
    let own = doc
        .get("params")
        .and_then(|p| p.get("compact_token_threshold"))
        .and_then(Value::as_i64)
        .filter(|t| *t > 0);
    let threshold = own.unwrap_or(global).min(cap);
    let usage = (!branch.is_empty()).then(|| context_usage(&branch, threshold));
    match current {
        None => Ok(CompactView { ok: true, compacted: false, reason: "empty", context_usage: usage }),
        Some(_) if branch.len() < 2 => {
            Ok(CompactView { ok: true, compacted: false, reason: "too_short", context_usage: usage })
        }
        Some(_) => Err(AppError::bad_request(ErrorCode::CompactionUnavailable)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_is_estimated_from_the_text_or_read_from_the_last_report() {
        let a = json!({"role": "user", "content": "x".repeat(40)});
        let b = json!({"role": "assistant", "content": "y".repeat(8), "usage": {"prompt_tokens": 100, "completion_tokens": 20}});
        let (a, b) = (a.as_object().expect("a"), b.as_object().expect("b"));
        let u = context_usage(&[a], 100);
        assert_eq!((u.tokens, u.percent), (14, 14));
        assert_eq!(context_usage(&[a, b], 1000).tokens, 120);
        assert_eq!(context_usage(&[b, a], 1000).tokens, 134);
    }
}
