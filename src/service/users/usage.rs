//! `GET /users/usage`: the caller's activity — messages, chats, tokens and models per day, week
//! and in total, streaks and the most used models and tools — read from the messages of their
//! stored chats (`chat.history.messages`: `role`, `timestamp`, `model`, `usage`, `output`, `meta`).
//! Days are UTC days (duet has no time-zone database).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::store::{self, chats::ChatRow};

const DAY: i64 = 86_400;
/// Gaps between two messages of a chat up to this long count as time spent in it.
const ACTIVE_CHAT_GAP: i64 = 30 * 60;
/// 2020-01-01: earlier message times are taken as "now" for their day, as the reference does.
const EARLIEST_VALID: i64 = 1_577_836_800;
/// How many models and tools the top lists hold.
const TOP: usize = 5;

/// The query of `GET /users/usage`.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// 7 to 732; the period's length when `start_date` is not given (default 730).
    pub days: Option<i64>,
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UsageTotals {
    pub lifetime_tokens: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub peak_daily_tokens: i64,
    pub longest_chat_seconds: i64,
    pub current_streak: i64,
    pub longest_streak: i64,
    pub total_chats: i64,
    pub active_days: i64,
    pub models_used: i64,
    pub messages: i64,
    pub user_messages: i64,
    pub assistant_messages: i64,
}

/// One day (or the week starting that Monday, or everything up to that day).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub messages: i64,
    pub chats: i64,
    pub tokens: i64,
    /// Assistant messages per model.
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub models: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageInsights {
    pub most_used_model: Option<String>,
    pub average_tokens_per_chat: f64,
    pub average_messages_per_active_day: f64,
    pub user_message_share: f64,
    pub assistant_message_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ModelUsage {
    pub model_id: String,
    pub messages: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ToolUsage {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsagePeriod {
    pub start_date: i64,
    pub end_date: i64,
    pub days: i64,
}

/// The reference's `UserUsageResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = UserUsageResponse)]
pub struct UsageView {
    pub totals: UsageTotals,
    pub heatmap: Vec<UsageDay>,
    pub weekly_heatmap: Vec<UsageDay>,
    pub cumulative_heatmap: Vec<UsageDay>,
    pub insights: UsageInsights,
    pub top_models: Vec<ModelUsage>,
    pub top_tools: Vec<ToolUsage>,
    pub period: UsagePeriod,
}

/// One stored message, as the usage figures need it.
#[derive(Debug, Clone)]
struct Message {
    chat: usize,
    role: String,
    /// Epoch seconds.
    at: i64,
    model: Option<String>,
    /// (input, output) tokens, when the message carries usage.
    tokens: Option<(i64, i64)>,
    tools: Vec<String>,
}

/// `days` out of 7..=732 is 422 in FastAPI's shape.
fn check_days(days: i64) -> AppResult<()> {
    let error = |kind: &'static str, msg: String, ctx: Value| {
        AppError::validation(vec![FieldError {
            kind,
            loc: vec![json!("query"), json!("days")],
            msg,
            input: json!(days.to_string()),
            ctx: Some(ctx),
        }])
    };
    if days < 7 {
        return Err(error(
            "greater_than_equal",
            "Input should be greater than or equal to 7".into(),
            json!({"ge": 7}),
        ));
    }
    if days > 732 {
        let msg = "Input should be less than or equal to 732".into();
        return Err(error("less_than_equal", msg, json!({"le": 732})));
    }
    Ok(())
}

/// `GET /users/usage` (verified).
pub async fn usage(app: &App, caller: &Caller, query: UsageQuery) -> AppResult<UsageView> {
    let p = caller.require_verified()?;
    if let Some(days) = query.days {
        check_days(days)?;
    }
    let now = store::now();
    let end = query.end_date.filter(|e| *e != 0).unwrap_or(now);
    let start = query.start_date.unwrap_or_else(|| end.saturating_sub((query.days.unwrap_or(730) - 1) * DAY));
    if start > end {
        return Err(AppError::bad_request_with(
            ErrorCode::ValidationError,
            "start_date must be before end_date",
        ));
    }
    let chats = store::chats::all(&app.db, Some(p.id()), None).await?;
    Ok(compute(&chats, start, end, now))
}

/// The figures for chats `chats` over the period `start..=end` (epoch seconds), at time `now`.
fn compute(chats: &[ChatRow], start: i64, end: i64, now: i64) -> UsageView {
    let messages = messages(chats);
    let in_period: Vec<&Message> = messages.iter().filter(|m| m.at >= start && m.at <= end).collect();
    let day_of = |at: i64| valid_time(at, now).div_euclid(DAY);

    // Lifetime: tokens and models of every assistant message.
    let assistant = |m: &&Message| m.role == "assistant";
    let (input_tokens, output_tokens) = messages
        .iter()
        .filter(assistant)
        .filter_map(|m| m.tokens)
        .fold((0, 0), |(i, o), (mi, mo)| (i + mi, o + mo));
    let models_used =
        messages.iter().filter(assistant).filter_map(|m| m.model.as_deref()).collect::<HashSet<_>>().len();

    // The period: counts per role and active days.
    let count_role = |role: &str| in_period.iter().filter(|m| m.role == role).count() as i64;
    let active_days = in_period.iter().map(|m| day_of(m.at)).collect::<HashSet<_>>().len() as i64;
    let total_messages = in_period.len() as i64;

    // Chats: how many (internal ones aside) and the longest time spent in one.
    let counted: Vec<bool> =
        chats.iter().map(|c| c.meta.0.get("internal") != Some(&Value::Bool(true))).collect();
    let total_chats = counted.iter().filter(|c| **c).count() as i64;
    let mut times: HashMap<usize, Vec<i64>> = HashMap::new();
    for m in messages.iter().filter(|m| counted[m.chat]) {
        times.entry(m.chat).or_default().push(m.at);
    }
    let longest_chat_seconds = times
        .into_values()
        .map(|mut t| {
            t.sort_unstable();
            t.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0 && *d <= ACTIVE_CHAT_GAP).sum::<i64>()
        })
        .max()
        .unwrap_or(0);

    let heatmap =
        daily(&in_period, valid_time(start, now).div_euclid(DAY), valid_time(end, now).div_euclid(DAY), now);
    let (current_streak, longest_streak) = streaks(&heatmap);
    let top_models = top_models(&in_period);
    let lifetime_tokens = input_tokens + output_tokens;
    let user_messages = count_role("user");
    let assistant_messages = count_role("assistant");
    let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { round1(a as f64 / b as f64) };
    UsageView {
        totals: UsageTotals {
            lifetime_tokens,
            input_tokens,
            output_tokens,
            peak_daily_tokens: heatmap.iter().map(|d| d.tokens).max().unwrap_or(0),
            longest_chat_seconds,
            current_streak,
            longest_streak,
            total_chats,
            active_days,
            models_used: models_used as i64,
            messages: total_messages,
            user_messages,
            assistant_messages,
        },
        weekly_heatmap: weekly(&heatmap),
        cumulative_heatmap: cumulative(&heatmap),
        insights: UsageInsights {
            most_used_model: top_models.first().map(|m| m.model_id.clone()),
            average_tokens_per_chat: ratio(lifetime_tokens, total_chats),
            average_messages_per_active_day: ratio(total_messages, active_days),
            user_message_share: ratio(user_messages * 100, total_messages),
            assistant_message_share: ratio(assistant_messages * 100, total_messages),
        },
        top_models,
        top_tools: top_tools(&in_period),
        heatmap,
        period: UsagePeriod {
            start_date: start,
            end_date: end,
            days: (end.saturating_sub(start) / DAY + 1).max(1),
        },
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Seconds (millisecond times divided down).
fn seconds(t: i64) -> i64 {
    if t > 10_000_000_000 { t / 1000 } else { t }
}

/// A time fit to name a day: before 2020 or more than a day ahead means "now".
fn valid_time(t: i64, now: i64) -> i64 {
    let t = seconds(t);
    if t < EARLIEST_VALID || t > now + DAY { now } else { t }
}

/// Every message of every chat (`chat.history.messages`); a message without a time takes its
/// chat's creation time.
fn messages(chats: &[ChatRow]) -> Vec<Message> {
    let mut out = Vec::new();
    for (i, chat) in chats.iter().enumerate() {
        let Some(Value::Object(all)) = chat.chat.0.get("history").and_then(|h| h.get("messages")) else {
            continue;
        };
        for m in all.values().filter(|m| m.is_object()) {
            let at = m.get("timestamp").and_then(|t| t.as_i64().or_else(|| t.as_f64().map(|f| f as i64)));
            let model = ["model_id", "model"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(str::to_string);
            let usage =
                m.get("usage").filter(|u| truthy(u)).or_else(|| m.get("info").and_then(|i| i.get("usage")));
            out.push(Message {
                chat: i,
                role: m.get("role").and_then(Value::as_str).unwrap_or("user").to_string(),
                at: seconds(at.filter(|t| *t != 0).unwrap_or(chat.created_at)),
                model,
                tokens: usage.filter(|u| truthy(u)).and_then(tokens),
                tools: ["output", "meta"].iter().filter_map(|k| m.get(*k)).flat_map(tool_names).collect(),
            });
        }
    }
    out
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

/// (input, output) tokens of a usage object in any of the OpenAI, Ollama or llama.cpp shapes.
fn tokens(usage: &Value) -> Option<(i64, i64)> {
    let Value::Object(u) = usage else { return None };
    let int = |k: &str| u.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
    let first = |keys: &[&str]| keys.iter().find_map(|k| int(k).filter(|n| *n != 0));
    let input = first(&["input_tokens", "prompt_tokens", "prompt_eval_count"])
        .unwrap_or_else(|| int("prompt_n").unwrap_or(0) + int("cache_n").unwrap_or(0));
    let output = first(&["output_tokens", "completion_tokens", "eval_count", "predicted_n"]).unwrap_or(0);
    Some((input, output))
}

/// Tool names in a message's `output` or `meta`: items whose `type` names a tool or a function
/// call, searched through `tool_calls`, `tools`, `output` and `meta`.
fn tool_names(value: &Value) -> Vec<String> {
    fn walk(item: &Value, out: &mut Vec<String>) {
        match item {
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => {
                let kind = match map.get("type") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                if kind.contains("tool") || kind == "function_call" || kind == "function_call_output" {
                    let mut add = |name: Option<&Value>| {
                        if let Some(Value::String(n)) = name {
                            let n = n.trim();
                            if !n.is_empty() && n.chars().count() <= 128 {
                                out.push(n.to_string());
                            }
                        }
                    };
                    add(map.get("name").filter(|n| truthy_text(n)).or_else(|| map.get("tool_name")));
                    add(map.get("function").and_then(|f| f.get("name")));
                }
                for key in ["tool_calls", "tools", "output", "meta"] {
                    if let Some(child) = map.get(key) {
                        walk(child, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

fn truthy_text(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false)) && v.as_str() != Some("")
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn date(day: i64) -> String {
    // Howard Hinnant's civil-from-days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Per day of the period (every day from `first` to `last`, and any day a message falls on).
fn daily(messages: &[&Message], first: i64, last: i64, now: i64) -> Vec<UsageDay> {
    struct Day {
        messages: i64,
        chats: HashSet<usize>,
        tokens: i64,
        models: Map<String, Value>,
    }
    let mut days: BTreeMap<i64, Day> = BTreeMap::new();
    let empty = || Day { messages: 0, chats: HashSet::new(), tokens: 0, models: Map::new() };
    for m in messages {
        let day = days.entry(valid_time(m.at, now).div_euclid(DAY)).or_insert_with(empty);
        day.messages += 1;
        day.chats.insert(m.chat);
        if m.role == "assistant"
            && let Some(model) = &m.model
        {
            add(&mut day.models, model, 1);
        }
        if let Some((i, o)) = m.tokens {
            day.tokens += i + o;
        }
    }
    for d in first..=last {
        days.entry(d).or_insert_with(empty);
    }
    days.into_iter()
        .map(|(d, day)| UsageDay {
            date: date(d),
            messages: day.messages,
            chats: day.chats.len() as i64,
            tokens: day.tokens,
            models: day.models,
        })
        .collect()
}

fn add(counts: &mut Map<String, Value>, key: &str, n: i64) {
    let now = counts.get(key).and_then(Value::as_i64).unwrap_or(0);
    counts.insert(key.to_string(), json!(now + n));
}

fn merge_counts(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        add(into, k, v.as_i64().unwrap_or(0));
    }
}

/// Day number of a `YYYY-MM-DD` date made by `date` (inverse, for weeks).
fn day_number(date: &str) -> i64 {
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap_or(0));
    let (y, m, d) = (parts.next().unwrap_or(1970), parts.next().unwrap_or(1), parts.next().unwrap_or(1));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Sums per week, keyed by the week's Monday.
fn weekly(days: &[UsageDay]) -> Vec<UsageDay> {
    let mut weeks: BTreeMap<i64, UsageDay> = BTreeMap::new();
    for day in days {
        let n = day_number(&day.date);
        let monday = n - (n + 3).rem_euclid(7);
        let week = weeks.entry(monday).or_insert_with(|| UsageDay {
            date: date(monday),
            messages: 0,
            chats: 0,
            tokens: 0,
            models: Map::new(),
        });
        week.messages += day.messages;
        week.chats += day.chats;
        week.tokens += day.tokens;
        merge_counts(&mut week.models, &day.models);
    }
    weeks.into_values().collect()
}

/// Running totals, day by day.
fn cumulative(days: &[UsageDay]) -> Vec<UsageDay> {
    let mut total = UsageDay { date: String::new(), messages: 0, chats: 0, tokens: 0, models: Map::new() };
    days.iter()
        .map(|day| {
            total.messages += day.messages;
            total.chats += day.chats;
            total.tokens += day.tokens;
            merge_counts(&mut total.models, &day.models);
            UsageDay { date: day.date.clone(), ..total.clone() }
        })
        .collect()
}

/// (current, longest) runs of days with messages; the current run ends on the last day.
fn streaks(days: &[UsageDay]) -> (i64, i64) {
    let (mut longest, mut run) = (0, 0);
    for day in days {
        run = if day.messages > 0 { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let current = days.iter().rev().take_while(|d| d.messages > 0).count() as i64;
    (current, longest)
}

/// The models of the most assistant messages (ties by name).
fn top_models(messages: &[&Message]) -> Vec<ModelUsage> {
    let mut by_model: BTreeMap<&str, ModelUsage> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.role == "assistant") {
        let Some(model) = m.model.as_deref() else { continue };
        let entry = by_model.entry(model).or_insert_with(|| ModelUsage {
            model_id: model.to_string(),
            messages: 0,
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
        });
        let (i, o) = m.tokens.unwrap_or((0, 0));
        entry.messages += 1;
        entry.input_tokens += i;
        entry.output_tokens += o;
        entry.total_tokens += i + o;
    }
    let mut list: Vec<ModelUsage> = by_model.into_values().collect();
    list.sort_by_key(|m| std::cmp::Reverse(m.messages));
    list.truncate(TOP);
    list
}

/// The most called tools (ties in order of first call).
fn top_tools(messages: &[&Message]) -> Vec<ToolUsage> {
    let mut counts: Vec<ToolUsage> = Vec::new();
    for name in messages.iter().flat_map(|m| m.tools.iter()) {
        match counts.iter_mut().find(|t| &t.name == name) {
            Some(t) => t.count += 1,
            None => counts.push(ToolUsage { name: name.clone(), count: 1 }),
        }
    }
    counts.sort_by_key(|t| std::cmp::Reverse(t.count));
    counts.truncate(TOP);
    counts
}

#[cfg(test)]
mod tests {
    use sqlx::types::Json;

    use super::*;

    fn chat(messages: Value, meta: Value) -> ChatRow {
        ChatRow {
            id: "c".into(),
            user_id: "u".into(),
            title: "t".into(),
            chat: Json(json!({"history": {"messages": messages}})),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
            share_id: None,
            archived: false,
            pinned: false,
            meta: Json(meta),
            variables: None,
            folder_id: None,
            current_message_id: None,
            last_read_at: None,
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(19_723), "2024-01-01");
        assert_eq!(date(day_number("2024-02-29")), "2024-02-29");
        // 2024-01-01 was a Monday.
        assert_eq!((19_723 + 3) % 7, 0);
    }

    #[test]
    fn figures_come_from_the_chat_messages() {
        let t = 1_704_067_200; // 2024-01-01 00:00 UTC, a Monday
        let a = chat(
            json!({
                "m1": {"role": "user", "timestamp": t},
                "m2": {"role": "assistant", "timestamp": t + 60, "model": "gpt",
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                       "output": [{"type": "function_call", "name": "search"}]},
                "m3": {"role": "user", "timestamp": (t + DAY) * 1000},
                "m4": {"role": "assistant", "timestamp": t + DAY + 30, "model": "llama",
                       "info": {"usage": {"input_tokens": 1, "output_tokens": 2}}},
            }),
            json!({}),
        );
        let internal =
            chat(json!({"x": {"role": "user", "timestamp": t + 2 * DAY}}), json!({"internal": true}));
        let v = compute(&[a, internal], t, t + 3 * DAY - 1, t + 3 * DAY);
        assert_eq!(v.totals.total_chats, 1);
        assert_eq!(v.totals.messages, 5);
        assert_eq!((v.totals.user_messages, v.totals.assistant_messages), (3, 2));
        assert_eq!((v.totals.input_tokens, v.totals.output_tokens, v.totals.lifetime_tokens), (11, 7, 18));
        assert_eq!(v.totals.models_used, 2);
        assert_eq!(v.totals.active_days, 3);
        assert_eq!((v.totals.current_streak, v.totals.longest_streak), (3, 3));
        assert_eq!(v.totals.peak_daily_tokens, 15);
        assert_eq!(v.totals.longest_chat_seconds, 60 + 30);
        let dates: Vec<&str> = v.heatmap.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2024-01-01", "2024-01-02", "2024-01-03"]);
        assert_eq!(v.heatmap[0].models, *json!({"gpt": 1}).as_object().expect("object"));
        assert_eq!(v.weekly_heatmap.len(), 1);
        assert_eq!(v.weekly_heatmap[0].date, "2024-01-01");
        assert_eq!(v.weekly_heatmap[0].messages, 5);
        assert_eq!(v.cumulative_heatmap[2].tokens, 18);
        assert_eq!(v.top_models[0].model_id, "gpt");
        assert_eq!(v.top_tools, [ToolUsage { name: "search".into(), count: 1 }]);
        assert_eq!(v.insights.average_tokens_per_chat, 18.0);
        assert_eq!(v.insights.user_message_share, 60.0);
        assert_eq!(v.period.days, 3);
    }

    #[test]
    fn no_chats_is_all_zeros_with_a_day_per_day() {
        let now = 1_704_067_200 + 10 * DAY;
        let v = compute(&[], now - 6 * DAY, now, now);
        assert_eq!(v.heatmap.len(), 7);
        assert!(v.heatmap.iter().all(|d| d.messages == 0 && d.models.is_empty()));
        assert_eq!(v.totals.messages, 0);
        assert_eq!(v.insights.most_used_model, None);
        assert_eq!(v.period.days, 7);
    }
}
