//! Ollama providers: `GET {base}/api/tags`, answered `{"models": [{"name": …, "model": …}, …]}`.

use serde_json::{Value, json};

use super::{Connection, RawModel};

/// The model objects of an `/api/tags` answer.
pub fn parse(body: Value) -> Result<Vec<RawModel>, String> {
    match body {
        Value::Object(mut map) => match map.remove("models") {
            Some(Value::Array(list)) => Ok(list
                .into_iter()
                .filter_map(|m| match m {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect()),
            _ => Err("the answer has no `models` list".into()),
        },
        _ => Err("the answer is not a model list".into()),
    }
}

/// Open WebUI's Ollama list: one entry per `model` across providers (with the indexes of the
/// providers serving it in `urls`), shaped `{id, name, object, created, owned_by: "ollama",
/// ollama: <raw>, loaded, connection_type, tags}`. A connection with a `prefix_id` lists its
/// models as `{prefix}.{model}` (names too).
pub fn merge(lists: Vec<(usize, &Connection, Vec<RawModel>)>) -> Vec<Value> {
    let mut merged: Vec<RawModel> = Vec::new();
    for (idx, connection, models) in lists {
        for mut raw in models {
            if connection.prefix_id.as_deref().is_some_and(|p| !p.is_empty()) {
                for key in ["model", "name"] {
                    if let Some(Value::String(v)) =
                        raw.get(key).filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    {
                        let v = connection.prefixed(v);
                        raw.insert(key.into(), json!(v));
                    }
                }
            }
            let Some(id) = raw.get("model").and_then(Value::as_str).map(str::to_string) else { continue };
            raw.insert("connection_type".into(), json!("local"));
            match merged.iter_mut().find(|m| m.get("model").and_then(Value::as_str) == Some(id.as_str())) {
                Some(existing) => {
                    if let Some(Value::Array(urls)) = existing.get_mut("urls") {
                        urls.push(json!(idx));
                    }
                }
                None => {
                    raw.insert("urls".into(), json!([idx]));
                    merged.push(raw);
                }
            }
        }
    }
    merged
        .into_iter()
        .map(|raw| {
            let id = raw.get("model").cloned().unwrap_or(Value::Null);
            let name = raw.get("name").filter(|n| n.is_string()).cloned().unwrap_or_else(|| id.clone());
            let tags = raw.get("tags").filter(|t| t.is_array()).cloned().unwrap_or_else(|| json!([]));
            let loaded = raw.contains_key("expires_at");
            json!({
                "id": id,
                "name": name,
                "object": "model",
                "created": 0,
                "owned_by": "ollama",
                "ollama": Value::Object(raw),
                "loaded": loaded,
                "connection_type": "local",
                "tags": tags,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_merged_across_providers() {
        let a = parse(json!({"models": [{"name": "llama3:latest", "model": "llama3:latest", "size": 1}]}))
            .expect("a");
        let b = parse(
            json!({"models": [{"name": "llama3:latest", "model": "llama3:latest"}, {"model": "qwen"}]}),
        )
        .expect("b");
        let (c0, c1) = (Connection::new("http://o0", ""), Connection::new("http://o1", ""));
        let merged = merge(vec![(0, &c0, a), (1, &c1, b)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0]["id"], "llama3:latest");
        assert_eq!(merged[0]["owned_by"], "ollama");
        assert_eq!(merged[0]["ollama"]["urls"], json!([0, 1]));
        assert_eq!(merged[0]["ollama"]["size"], 1);
        assert_eq!(merged[0]["loaded"], false);
        assert_eq!(merged[1]["name"], "qwen");
        assert!(parse(json!({"error": "x"})).is_err());
        assert!(parse(json!([1])).is_err());
    }
}
