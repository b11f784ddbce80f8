//! Canonical JSON of a model's `meta` and `params`, as Open WebUI's `ModelMeta` / `ModelParams`
//! dump them, and the normalised tag list.

use serde_json::{Map, Value, json};

/// The fields `ModelMeta` declares, in its order; other keys follow them.
pub(super) const META_FIELDS: [&str; 8] = [
    "profile_image_url",
    "background_image_url",
    "description",
    "i18n",
    "capabilities",
    "knowledge",
    "voice",
    "voice_avatar",
];

/// `meta` as `ModelMeta` dumps it: the declared fields first (null when absent), then the rest.
pub fn canonical_meta(meta: &Value) -> Value {
    let empty = Map::new();
    let map = meta.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in META_FIELDS {
        out.insert(key.to_string(), map.get(key).cloned().unwrap_or(Value::Null));
    }
    for (k, v) in map {
        if !META_FIELDS.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// `params` as `ModelParams` dumps it: `model_controls` first and only when not empty.
pub fn canonical_params(params: &Value) -> Value {
    let empty = Map::new();
    let map = params.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    if let Some(controls) = map.get("model_controls").filter(|c| c.as_object().is_some_and(|m| !m.is_empty()))
    {
        out.insert("model_controls".into(), controls.clone());
    }
    for (k, v) in map {
        if k != "model_controls" {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The tags of a `meta` as `[{"name": …}]`: strings or `{name}` objects, trimmed, blanks dropped.
pub fn normalize_tags(tags: &Value) -> Value {
    let Some(list) = tags.as_array() else { return json!([]) };
    Value::Array(
        list.iter()
            .filter_map(|t| match t {
                Value::Object(o) => o.get("name").and_then(Value::as_str),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| json!({"name": n}))
            .collect(),
    )
}
