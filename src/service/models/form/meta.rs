//! Validation of a form's `meta` (`ModelMeta`): image and file URLs, voice, knowledge, tags.

use serde_json::{Map, Value, json};

use super::ID_PATTERN;
use super::check::loc;
use crate::service::form::Fields;
use crate::service::models::canonical::{META_FIELDS, normalize_tags};
use crate::service::validate::image_url_ok;

/// The longest voice name, in characters.
const MAX_VOICE_CHARS: usize = 200;

/// `ModelMeta`: validates and returns the canonical map.
pub(super) fn check_meta(c: &mut Fields, value: &Value, at: &[Value]) -> Option<Map<String, Value>> {
    let Some(input) = value.as_object() else {
        c.model_type(at.to_vec(), value, "ModelMeta");
        return None;
    };
    let before = c.count();
    let field = |name: &str| loc(at, &[json!(name)]);
    let mut out = Map::new();
    // An unusable profile image URL is dropped silently, as the reference does.
    let profile = match input.get("profile_image_url") {
        Some(Value::String(s)) if image_url_ok(s) => json!(s),
        _ => Value::Null,
    };
    out.insert("profile_image_url".into(), profile);
    let background = match input.get("background_image_url") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if is_file_url(s) => json!(s),
        Some(v @ Value::String(_)) => {
            c.value_error_citing(
                field("background_image_url"),
                v,
                "Invalid background image URL: must reference an internal file.",
            );
            Value::Null
        }
        Some(v) => {
            c.value_error_citing(field("background_image_url"), v, "Invalid image URL.");
            Value::Null
        }
    };
    out.insert("background_image_url".into(), background);
    let description = match input.get("description") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::String(_)) => v.clone(),
        Some(v) => {
            c.string_type(field("description"), v);
            Value::Null
        }
    };
    out.insert("description".into(), description);
    for name in ["i18n", "capabilities"] {
        let v = match input.get(name) {
            None | Some(Value::Null) => Value::Null,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(v) => {
                c.dict_type(field(name), v);
                Value::Null
            }
        };
        out.insert(name.into(), v);
    }
    let knowledge = match input.get("knowledge") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Array(items)) => Value::Array(items.iter().map(strip_knowledge_content).collect()),
        Some(v) => {
            c.list_type(field("knowledge"), v);
            Value::Null
        }
    };
    out.insert("knowledge".into(), knowledge);
    let voice = match input.get("voice") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(v)) => {
            let at = loc(at, &[json!("voice"), json!("voice")]);
            match v.get("voice") {
                None | Some(Value::Null) => json!({"voice": null}),
                Some(Value::String(s)) => {
                    let n = s.chars().count();
                    if n < 1 {
                        c.string_too_short(at, &json!(s), 1);
                    } else if n > MAX_VOICE_CHARS {
                        c.string_too_long(at, &json!(s), MAX_VOICE_CHARS);
                    } else if s.chars().any(char::is_whitespace) {
                        c.pattern_mismatch(at, &json!(s), ID_PATTERN);
                    }
                    json!({"voice": s})
                }
                Some(other) => {
                    c.string_type(at, other);
                    Value::Null
                }
            }
        }
        Some(v) => {
            c.model_type(field("voice"), v, "ModelVoice");
            Value::Null
        }
    };
    out.insert("voice".into(), voice);
    let avatar = match input.get("voice_avatar") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(v)) => Value::Object(
            v.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "preset" | "movement" | "mouth" | "gaze"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Some(v) => {
            c.model_type(field("voice_avatar"), v, "ModelVoiceAvatar");
            Value::Null
        }
    };
    out.insert("voice_avatar".into(), avatar);
    for (k, v) in input {
        if META_FIELDS.contains(&k.as_str()) || k == "chat_variables_schema" {
            continue;
        }
        let v = if k == "tags" { normalize_tags(v) } else { v.clone() };
        out.insert(k.clone(), v);
    }
    (c.count() == before).then_some(out)
}

/// Drops the extracted text a knowledge item may carry (`data.content`, `file.data.content`).
fn strip_knowledge_content(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(obj) = item.as_object_mut() {
        if let Some(Value::Object(data)) = obj.get_mut("data") {
            data.remove("content");
        }
        if let Some(Value::Object(file)) = obj.get_mut("file")
            && let Some(Value::Object(data)) = file.get_mut("data")
        {
            data.remove("content");
        }
    }
    item
}

fn is_file_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("/api/v1/files/").and_then(|r| r.strip_suffix("/content")) else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::models::ModelForm;

    #[test]
    fn meta_is_canonical_with_tags_normalised() {
        let f = ModelForm::from_json(&json!({"id": "m", "name": "M", "meta": {
            "x": 1, "tags": ["a", {"name": " b "}, "", 3], "profile_image_url": "javascript:x",
            "knowledge": [{"data": {"content": "long", "k": 1}}]}, "params": {"model_controls": {}}}))
        .expect("form");
        assert_eq!(
            Value::Object(f.meta.clone()),
            json!({"profile_image_url": null, "background_image_url": null, "description": null, "i18n": null,
                   "capabilities": null, "knowledge": [{"data": {"k": 1}}], "voice": null, "voice_avatar": null,
                   "x": 1, "tags": [{"name": "a"}, {"name": "b"}]})
        );
        let keys: Vec<&String> = f.meta.keys().collect();
        assert_eq!(keys[0], "profile_image_url");
        assert_eq!(Value::Object(f.params), json!({}));
        assert!(f.model_controls_given);
        assert_eq!(f.is_active, None);
    }

    #[test]
    fn background_urls_must_name_a_file() {
        assert!(is_file_url("/api/v1/files/0123abcd-0000-4000-8000-00000000abcd/content"));
        assert!(!is_file_url("/api/v1/files/0123ABCD-0000-4000-8000-00000000abcd/content"));
        assert!(!is_file_url("https://x/y.png"));
    }
}
