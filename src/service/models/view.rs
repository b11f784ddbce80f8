//! Rendering models as JSON: `ModelModel`, and the part of `params` every reader may see.

use serde_json::{Map, Value, json};

use super::Model;

/// `ModelModel` as JSON.
pub fn model_value(m: &Model) -> Value {
    let r = &m.row;
    json!({
        "version_id": r.version_id,
        "id": r.id,
        "user_id": r.user_id,
        "base_model_id": r.base_model_id,
        "name": r.name,
        "params": r.params.0,
        "meta": r.meta.0,
        "access_grants": m.grants,
        "is_active": r.is_active,
        "updated_at": r.updated_at,
        "created_at": r.created_at,
    })
}

/// What callers without write access may see of `params` in the chat list: control labels and
/// options, and the compaction threshold.
pub(super) fn public_params(params: &Value) -> Value {
    let mut out = Map::new();
    if let Some(controls) = params.get("model_controls").and_then(Value::as_object).filter(|c| !c.is_empty())
    {
        let mut public = Map::new();
        for (key, control) in controls {
            let mut c = Map::new();
            for field in ["label", "description", "default", "display"] {
                if let Some(v) = control.get(field) {
                    c.insert(field.into(), v.clone());
                }
            }
            let mut options = Map::new();
            if let Some(opts) = control.get("options").and_then(Value::as_object) {
                for (k, o) in opts {
                    options
                        .insert(k.clone(), json!({"label": o.get("label").cloned().unwrap_or(Value::Null)}));
                }
            }
            c.insert("options".into(), Value::Object(options));
            public.insert(key.clone(), Value::Object(c));
        }
        out.insert("model_controls".into(), Value::Object(public));
    }
    if let Some(t) = params.get("compact_token_threshold") {
        out.insert("compact_token_threshold".into(), t.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_params_keep_labels_only() {
        let p = json!({"system": "secret", "compact_token_threshold": 5, "model_controls": {
            "e": {"label": "E", "default": "a", "options": {"a": {"label": "A", "params": {"x": 1}}}}}});
        assert_eq!(
            public_params(&p),
            json!({"model_controls": {"e": {"label": "E", "default": "a", "options": {"a": {"label": "A"}}}},
                   "compact_token_threshold": 5})
        );
    }
}
