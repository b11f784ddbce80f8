//! System prompts as the reference applies them (`utils/payload.py`, `utils/task.py`,
//! `utils/misc.py`): `{{…}}` variables rendered (the request's `variables`, then the date, time
//! and the user's fields), a model's prompt put in front of the first system message, and the
//! messages normalised before they leave (empty text blocks dropped, system messages merged into
//! one at the top).

use serde_json::{Map, Value, json};

use crate::store::users::User;

/// What `{{…}}` variables are rendered from.
pub struct PromptContext<'a> {
    pub user: &'a User,
    /// The names of the user's groups, `, `-separated (`{{USER_GROUPS}}`).
    pub groups: String,
    /// The request's `variables`: each key replaced by its text.
    pub variables: &'a Map<String, Value>,
    /// Epoch seconds (the date and time variables, in UTC).
    pub now: i64,
}

/// Days since 1970-01-01 as (year, month, day) (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const WEEKDAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];

/// A user's age on the date `(y, m, d)` from a `YYYY-MM-DD` birth date.
fn age(birth: &str, (y, m, d): (i64, i64, i64)) -> Option<i64> {
    let mut parts = birth.get(..10)?.split('-').map(|p| p.parse::<i64>().ok());
    let (by, bm, bd) = (parts.next()??, parts.next()??, parts.next()??);
    Some(y - by - i64::from((m, d) < (bm, bd)))
}

/// `resolve_system_prompt` for one text: the request's variables, then `prompt_template`.
pub fn render(template: &str, ctx: &PromptContext<'_>) -> String {
    let mut text = template.to_string();
    for (key, value) in ctx.variables {
        if let Some(value) = value.as_str() {
            text = text.replace(key.as_str(), value);
        }
    }
    let days = ctx.now.div_euclid(86_400);
    let secs = ctx.now.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let (h, min, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let time = format!(
        "{:02}:{min:02}:{s:02} {}",
        if h % 12 == 0 { 12 } else { h % 12 },
        if h < 12 { "AM" } else { "PM" }
    );
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let user = ctx.user;
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".to_string());
    let location = user
        .info
        .as_ref()
        .and_then(|i| i.0.get("location"))
        .map(|l| l.as_str().map(str::to_string).unwrap_or_else(|| crate::upstream::pyjson::dumps(l)))
        .unwrap_or_else(|| "None".to_string());
    let age = user.date_of_birth.as_deref().and_then(|b| age(b, (y, m, d)));
    for (key, value) in [
        ("{{CURRENT_DATE}}", date.clone()),
        ("{{CURRENT_TIME}}", time.clone()),
        ("{{CURRENT_DATETIME}}", format!("{date} {time}")),
        ("{{CURRENT_WEEKDAY}}", weekday.to_string()),
        ("{{USER_NAME}}", user.name.clone()),
        ("{{USER_EMAIL}}", user.email.clone()),
        ("{{USER_BIO}}", or_none(&user.bio)),
        ("{{USER_GENDER}}", or_none(&user.gender)),
        ("{{USER_BIRTH_DATE}}", or_none(&user.date_of_birth)),
        ("{{USER_AGE}}", age.map(|a| a.to_string()).unwrap_or_else(|| "None".into())),
        ("{{USER_LOCATION}}", location),
        ("{{USER_GROUPS}}", ctx.groups.clone()),
    ] {
        text = text.replace(key, &value);
    }
    text
}

fn python_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "None".into(),
        Some(other) => crate::upstream::pyjson::dumps(other),
    }
}

/// `add_or_update_system_message`: `content` goes in front of the first message when that is a
/// system message (every text part of a list), else a system message is inserted first.
pub fn add_system(messages: &mut Vec<Value>, content: &str) {
    match messages.first_mut() {
        Some(first) if first.get("role").and_then(Value::as_str) == Some("system") => {
            match first.get_mut("content") {
                Some(Value::Array(parts)) => {
                    for part in
                        parts.iter_mut().filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                    {
                        let text = python_text(part.get("text"));
                        part["text"] = json!(format!("{content}\n{text}"));
                    }
                }
                other => {
                    let text = python_text(other.as_deref());
                    first["content"] = json!(format!("{content}\n{text}"));
                }
            }
        }
        _ => messages.insert(0, json!({"role": "system", "content": content})),
    }
}

/// The first system message's content rendered (the reference re-renders it in place).
pub fn render_system_message(messages: &mut [Value], ctx: &PromptContext<'_>) {
    if let Some(system) =
        messages.iter_mut().find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        && let Some(text) = system.get("content").and_then(Value::as_str).filter(|t| !t.is_empty())
    {
        let rendered = render(text, ctx);
        system["content"] = json!(rendered);
    }
}

/// `get_content_from_message`: a text, or the first text part of a list.
fn content_of(message: &Value) -> Option<String> {
    match message.get("content") {
        Some(Value::Array(parts)) => parts
            .iter()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .and_then(|p| p.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `normalize_messages_for_model`: empty text parts dropped from lists (unless nothing is left),
/// and every system message merged into one at the top (their texts joined by newlines).
pub fn normalize(messages: Vec<Value>) -> Vec<Value> {
    let mut system = Vec::new();
    let mut others = Vec::new();
    for mut message in messages {
        if let Some(Value::Array(parts)) = message.get("content") {
            let kept: Vec<Value> = parts
                .iter()
                .filter(|p| {
                    !(p.get("type").and_then(Value::as_str) == Some("text")
                        && p.get("text").and_then(Value::as_str).unwrap_or("").trim().is_empty())
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                message["content"] = Value::Array(kept);
            }
        }
        if message.get("role").and_then(Value::as_str) == Some("system") {
            if let Some(text) = content_of(&message).filter(|t| !t.is_empty()) {
                system.push(text);
            }
        } else {
            others.push(message);
        }
    }
    if system.is_empty() {
        return others;
    }
    let mut out = vec![json!({"role": "system", "content": system.join("\n")})];
    out.extend(others);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            email: "ada@example.com".into(),
            username: None,
            role: "user".into(),
            name: "Ada".into(),
            profile_image_url: String::new(),
            profile_banner_image_url: None,
            bio: None,
            gender: None,
            date_of_birth: Some("1990-06-15".into()),
            timezone: None,
            presence_state: None,
            status_emoji: None,
            status_message: None,
            status_expires_at: None,
            info: Some(sqlx::types::Json(json!({"location": "Basel"}))),
            settings: None,
            oauth: None,
            scim: None,
            last_active_at: 0,
            updated_at: 0,
            created_at: 0,
        }
    }

    #[test]
    fn variables_render_like_the_reference() {
        let u = user();
        let vars = Map::from_iter([("{{TOPIC}}".to_string(), json!("rust"))]);
        // 2024-03-10 15:04:05 UTC, a Sunday.
        let ctx = PromptContext { user: &u, groups: "a, b".into(), variables: &vars, now: 1_710_083_045 };
        let text = render(
            "{{TOPIC}} {{CURRENT_DATETIME}} {{CURRENT_WEEKDAY}} {{USER_NAME}} {{USER_AGE}} {{USER_LOCATION}} {{USER_BIO}} {{USER_GROUPS}}",
            &ctx,
        );
        assert_eq!(text, "rust 2024-03-10 03:04:05 PM Sunday Ada 33 Basel None a, b");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }

    #[test]
    fn system_prompts_go_first_and_merge() {
        let mut m =
            vec![json!({"role": "system", "content": "chat"}), json!({"role": "user", "content": "hi"})];
        add_system(&mut m, "model");
        assert_eq!(m[0]["content"], "model\nchat");
        let mut m = vec![json!({"role": "user", "content": "hi"})];
        add_system(&mut m, "model");
        assert_eq!(m[0], json!({"role": "system", "content": "model"}));
        let out = normalize(vec![
            json!({"role": "system", "content": "a"}),
            json!({"role": "user", "content": [{"type": "text", "text": " "}, {"type": "image_url", "image_url": {"url": "x"}}]}),
            json!({"role": "system", "content": [{"type": "text", "text": "b"}]}),
            json!({"role": "system", "content": ""}),
        ]);
        assert_eq!(
            out,
            vec![
                json!({"role": "system", "content": "a\nb"}),
                json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}),
            ]
        );
    }
}
