//! Settings: the rows of Open WebUI's per-key `config` table whose key is one duet's admin
//! configuration has (the same dotted keys: `ui.enable_signup`, `auth.jwt_expiry`,
//! `user.permissions`, …, and the provider connections `openai.*` / `ollama.*`: base URLs, API
//! keys, per-connection configs, enable flags), each checked against the kind of value duet keeps
//! there. Other keys (retrieval, audio, image generation, OAuth, LDAP, …) are skipped, named. A
//! report never shows an API key's value.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::fields::{Fixes, Row, int, json, text};
use super::step::{Part, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;

pub const CONFIG: &[&str] = &["key", "value", "updated_at"];
const LABEL: &str = "config → config";
const MFA_KEYS: &[&str] =
    &["auth.mfa.enable", "auth.mfa.allow_oauth_bypass", "auth.mfa.allow_trusted_header_bypass"];

/// The keys duet keeps, with the value each starts with (its kind).
fn known() -> Result<HashMap<&'static str, Json>, Error> {
    let config = crate::config::Config::from_map(&HashMap::new()).map_err(|e| Error::new(e.to_string()))?;
    let mut known: HashMap<&'static str, Json> =
        crate::service::admin_config::seed_values(&config.seeds).into_iter().collect();
    known.extend(crate::service::connections::seed_values(&config.upstream));
    Ok(known)
}

/// Keys whose values are secrets: a report names the key and the kind of the value, never it.
const SECRET_KEYS: &[&str] = &[crate::service::connections::OPENAI_KEYS];

/// The kind of a JSON value, for reports about secrets.
fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a text",
        Json::Object(_) => "an object",
        Json::Array(_) => "a list",
    }
}

/// Why duet cannot keep `value` under `key` (whose default is `seed`), if it cannot.
fn unfit(key: &str, value: &Json, seed: &Json) -> Option<String> {
    if MFA_KEYS.contains(&key) && value != &Json::Bool(false) {
        return Some("two-step sign-in, which duet does not have".into());
    }
    let fits = match seed {
        Json::Bool(_) => value.is_boolean(),
        Json::Object(_) => value.is_object(),
        // Counts are stored as a number or a numeric string ("" when unset).
        Json::String(s) if s.is_empty() => value.is_string() || value.is_number(),
        Json::String(_) => value.is_string(),
        Json::Null => value.is_null() || value.is_number(),
        // Lists of texts (base URLs, API keys): one text per connection.
        Json::Array(_) => value.as_array().is_some_and(|items| items.iter().all(Json::is_string)),
        _ => true,
    };
    if !fits && SECRET_KEYS.contains(&key) {
        return Some(match value {
            Json::Array(_) => "its value is a list with something other than texts in it".into(),
            other => format!("its value ({}) is not a list of texts", kind(other)),
        });
    }
    if !fits {
        return Some(format!("its value {value} is not the kind duet keeps there (like {seed})"));
    }
    match (key, value.as_str()) {
        ("ui.default_user_role", Some(r)) if !matches!(r, "pending" | "user" | "admin") => {
            Some(format!("{r:?} is not a role duet knows"))
        }
        ("auth.jwt_expiry", Some(d)) if crate::config::parse_duration(d).is_err() => {
            Some(format!("{d:?} is not a duration duet understands"))
        }
        _ => None,
    }
}

pub async fn config<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let Some(source) = run.source("config") else { return Ok(()) };
    if !source.has("key") {
        // Before 0.12 the configuration was one JSON blob (`config.data`), which duet does not read.
        return Ok(());
    }
    let known = known()?;
    let Some((mut pager, cols, bar)) = run.pages("config", CONFIG, LABEL).await? else { return Ok(()) };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        let mut part = Part::new("config", LABEL, CONFIG);
        for values in &page {
            let row = Row { columns: &cols, values };
            let mut fixes = Fixes::default();
            let key = text(&row, "key", &mut fixes).unwrap_or_default();
            let Some(seed) = known.get(key.as_str()) else {
                run.skip(LABEL, &key, "a setting duet does not use");
                continue;
            };
            let value = match json(&row, "value", &mut fixes) {
                Ok(v) => v.unwrap_or(Json::Null),
                Err(e) => {
                    run.skip(LABEL, &key, e);
                    continue;
                }
            };
            if let Some(why) = unfit(&key, &value, seed) {
                run.skip(LABEL, &key, why);
                continue;
            }
            part.push(
                vec![
                    Value::Text(key.clone()),
                    Value::Json(value),
                    Value::Int(int(&row, "updated_at").unwrap_or(0)),
                ],
                &key,
                &fixes,
            );
        }
        bar.inc(page.len() as u64);
        run.write(&mut writers, vec![part]).await?;
    }
    bar.done();
    Ok(())
}
