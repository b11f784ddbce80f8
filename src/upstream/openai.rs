//! OpenAI-compatible providers: `GET {base}/models` with `Authorization: Bearer {key}`, answered
//! `{"data": [{"id": …}, …]}` (a bare list is accepted too).

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Connection, RawModel};

/// Model ids from api.openai.com that cannot chat (as Open WebUI leaves them out).
const UNSUPPORTED_OPENAI_KEYWORDS: &[&str] = &["babbage", "dall-e", "davinci", "embedding", "tts", "whisper"];

/// The model objects of a `/models` answer.
pub fn parse(body: Value) -> Result<Vec<RawModel>, String> {
    let list = match body {
        Value::Object(mut map) => match map.remove("data") {
            Some(Value::Array(list)) => list,
            _ => return Err("the answer has no `data` list".into()),
        },
        Value::Array(list) => list,
        _ => return Err("the answer is not a model list".into()),
    };
    Ok(list
        .into_iter()
        .filter_map(|m| match m {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect())
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    host.split(':').next().unwrap_or("")
}

/// Open WebUI's merged OpenAI list: the first provider listing an id wins; each entry is the
/// upstream object plus `name`, `owned_by: "openai"`, the raw object under `openai`,
/// `connection_type`, `provider` and the provider's index `urlIdx`. A connection with a
/// `prefix_id` lists its models as `{prefix}.{id}` (names too).
pub fn merge(lists: Vec<(usize, &Connection, Vec<RawModel>)>) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (idx, connection, models) in lists {
        let official = host_of(&connection.url).eq_ignore_ascii_case("api.openai.com");
        for mut raw in models {
            if raw.get("name").is_some_and(Value::is_null) {
                raw.remove("name");
            }
            if connection.prefix_id.as_deref().is_some_and(|p| !p.is_empty()) {
                let id = match raw.get("id").or_else(|| raw.get("name")) {
                    Some(Value::String(s)) => s.clone(),
                    _ => String::new(),
                };
                raw.insert("id".into(), json!(connection.prefixed(&id)));
                if let Some(Value::String(name)) =
                    raw.get("name").filter(|n| n.as_str().is_some_and(|s| !s.is_empty()))
                {
                    let name = connection.prefixed(name);
                    raw.insert("name".into(), json!(name));
                }
            }
            raw.insert("connection_type".into(), json!("external"));
            let id = match (raw.get("id"), raw.get("name")) {
                (Some(Value::String(id)), _) if !id.is_empty() => id.clone(),
                (_, Some(Value::String(name))) if !name.is_empty() => name.clone(),
                _ => continue,
            };
            if official && UNSUPPORTED_OPENAI_KEYWORDS.iter().any(|k| id.contains(k)) {
                continue;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            let mut merged = raw.clone();
            merged.insert("id".into(), json!(id));
            let name = raw.get("name").cloned().unwrap_or_else(|| json!(id));
            merged.insert("name".into(), name);
            merged.insert("owned_by".into(), json!("openai"));
            merged.insert("openai".into(), Value::Object(raw));
            merged.insert("connection_type".into(), json!("external"));
            merged.insert("provider".into(), json!(""));
            merged.insert("urlIdx".into(), json!(idx));
            out.push(Value::Object(merged));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_lists_and_bare_lists() {
        let m = parse(json!({"object": "list", "data": [{"id": "a"}, 3]})).expect("list");
        assert_eq!(m.len(), 1);
        assert_eq!(parse(json!([{"id": "b"}])).expect("bare").len(), 1);
        assert!(parse(json!({"error": {"message": "no key"}})).is_err());
        assert!(parse(json!("x")).is_err());
    }

    #[test]
    fn merge_keeps_the_first_provider_of_an_id_and_wraps_the_raw_object() {
        let a =
            parse(json!({"data": [{"id": "gpt-4o", "object": "model", "owned_by": "system"}]})).expect("a");
        let b = parse(json!({"data": [{"id": "gpt-4o"}, {"id": "local", "name": null}]})).expect("b");
        let (ca, cb) = (Connection::new("http://a/v1", ""), Connection::new("http://b/v1", ""));
        let merged = merge(vec![(0, &ca, a), (1, &cb, b)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0],
            json!({"id": "gpt-4o", "object": "model", "owned_by": "openai", "connection_type": "external",
                   "name": "gpt-4o",
                   "openai": {"id": "gpt-4o", "object": "model", "owned_by": "system", "connection_type": "external"},
                   "provider": "", "urlIdx": 0})
        );
        assert_eq!(merged[1]["name"], "local");
        assert_eq!(merged[1]["urlIdx"], 1);
    }

    #[test]
    fn official_api_drops_non_chat_models() {
        let m = parse(json!({"data": [{"id": "whisper-1"}, {"id": "gpt-4o"}]})).expect("m");
        let c = Connection::new("https://api.openai.com/v1", "");
        let merged = merge(vec![(0, &c, m)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0]["id"], "gpt-4o");
    }

    #[test]
    fn a_prefix_id_prefixes_ids_and_names() {
        let m = parse(json!({"data": [{"id": "gpt-4o", "name": "GPT"}, {"id": "mini"}]})).expect("m");
        let c = Connection { prefix_id: Some("work".into()), ..Connection::new("http://a/v1", "") };
        let merged = merge(vec![(0, &c, m)]);
        assert_eq!(
            (merged[0]["id"].as_str(), merged[0]["name"].as_str()),
            (Some("work.gpt-4o"), Some("work.GPT"))
        );
        assert_eq!(merged[0]["openai"]["id"], "work.gpt-4o");
        assert_eq!(
            (merged[1]["id"].as_str(), merged[1]["name"].as_str()),
            (Some("work.mini"), Some("work.mini"))
        );
    }
}
