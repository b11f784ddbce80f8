//! A stored model's params applied the provider routers' way (`apply_model_params_to_body_openai`
//! and `_ollama`): Open WebUI's own params dropped, `custom_params` merged in, and each param the
//! request does not set itself written as a request field (OpenAI) or an Ollama option (`format`,
//! `keep_alive` and `think` at the top), cast to the type the provider expects.

use serde_json::{Map, Number, Value, json};

use super::payload::request_params;

/// How a param is cast before it is sent.
#[derive(Clone, Copy)]
enum Cast {
    Float,
    Int,
    Bool,
    Text,
    /// `stop`: each text with its backslash escapes decoded.
    Stop,
    /// Sent as it is.
    Same,
    /// An object (`response_format`).
    Dict,
}

const OPENAI: &[(&str, Cast)] = &[
    ("temperature", Cast::Float),
    ("top_p", Cast::Float),
    ("min_p", Cast::Float),
    ("max_tokens", Cast::Int),
    ("frequency_penalty", Cast::Float),
    ("presence_penalty", Cast::Float),
    ("reasoning_effort", Cast::Text),
    ("seed", Cast::Same),
    ("stop", Cast::Stop),
    ("logit_bias", Cast::Same),
    ("response_format", Cast::Dict),
];

const OLLAMA: &[(&str, Cast)] = &[
    ("temperature", Cast::Float),
    ("top_p", Cast::Float),
    ("seed", Cast::Same),
    ("mirostat", Cast::Int),
    ("mirostat_eta", Cast::Float),
    ("mirostat_tau", Cast::Float),
    ("num_ctx", Cast::Int),
    ("num_batch", Cast::Int),
    ("num_keep", Cast::Int),
    ("num_predict", Cast::Int),
    ("repeat_last_n", Cast::Int),
    ("top_k", Cast::Int),
    ("min_p", Cast::Float),
    ("repeat_penalty", Cast::Float),
    ("presence_penalty", Cast::Float),
    ("frequency_penalty", Cast::Float),
    ("stop", Cast::Stop),
    ("num_gpu", Cast::Int),
    ("use_mmap", Cast::Bool),
    ("use_mlock", Cast::Bool),
    ("num_thread", Cast::Int),
];

/// Python's `unicode_escape` decoding of the common escapes.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other @ ('\\' | '\'' | '"')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `cast(value)` as Python would; a value that does not cast is sent as it is.
fn cast(how: Cast, v: &Value) -> Value {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    let cast = match how {
        Cast::Float => number(v).and_then(Number::from_f64).map(Value::Number),
        Cast::Int => match v {
            Value::String(s) => s.trim().parse::<i64>().ok().map(|i| json!(i)),
            other => number(other).filter(|f| f.is_finite()).map(|f| json!(f.trunc() as i64)),
        },
        Cast::Bool => Some(json!(crate::upstream::convert::truthy(Some(v)))),
        Cast::Text => Some(match v {
            Value::String(_) => v.clone(),
            other => json!(crate::upstream::pyjson::dumps(other)),
        }),
        Cast::Stop => v.as_array().map(|items| {
            Value::Array(
                items.iter().map(|s| s.as_str().map_or_else(|| s.clone(), |t| json!(unescape(t)))).collect(),
            )
        }),
        Cast::Same => Some(v.clone()),
        Cast::Dict => v.is_object().then(|| v.clone()),
    };
    cast.unwrap_or_else(|| v.clone())
}

/// `apply_model_params_to_body`: each non-null param `target` lacks, cast when it is listed.
fn apply(params: Map<String, Value>, target: &mut Map<String, Value>, casts: &[(&str, Cast)]) {
    for (key, value) in params {
        if value.is_null() || target.contains_key(&key) {
            continue;
        }
        let value = match casts.iter().find(|(k, _)| *k == key) {
            Some((_, how)) => cast(*how, &value),
            None => value,
        };
        target.insert(key, value);
    }
}

fn params_of(stored: &Value) -> Map<String, Value> {
    request_params(stored.as_object().cloned().unwrap_or_default())
}

/// `apply_model_params_to_body_openai`.
pub fn apply_openai(stored: &Value, body: &mut Map<String, Value>) {
    apply(params_of(stored), body, OPENAI);
}

/// `apply_model_params_to_body_ollama`: `max_tokens` is `num_predict`; `format`, `keep_alive`
/// (JSON texts parsed) and `think` replace the request's own; the rest join `options`.
pub fn apply_ollama(stored: &Value, body: &mut Map<String, Value>) {
    let mut params = params_of(stored);
    if let Some(v) = params.remove("max_tokens").filter(|v| !v.is_null()) {
        params.insert("num_predict".into(), v);
    }
    for key in ["format", "keep_alive", "think"] {
        let Some(v) = params.remove(key).filter(|v| !v.is_null()) else { continue };
        let v = match &v {
            Value::String(s) if key != "think" => serde_json::from_str(s).unwrap_or(v),
            _ => v,
        };
        body.insert(key.into(), v);
    }
    let mut options = body.get("options").and_then(Value::as_object).cloned().unwrap_or_default();
    apply(params, &mut options, OLLAMA);
    body.insert("options".into(), Value::Object(options));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_params_fill_what_the_request_lacks_cast() {
        let mut body = json!({"model": "m", "temperature": 0.1}).as_object().cloned().expect("object");
        let stored = json!({"temperature": 0.9, "max_tokens": "12", "top_p": "0.5", "stop": ["a\\nb"],
            "system": "s", "stream_response": true, "custom_params": {"seed": "7", "extra": "{\"k\": 1}"}});
        apply_openai(&stored, &mut body);
        assert_eq!(
            Value::Object(body),
            json!({"model": "m", "temperature": 0.1, "max_tokens": 12, "top_p": 0.5, "stop": ["a\nb"],
                   "seed": 7, "extra": {"k": 1}})
        );
    }

    #[test]
    fn ollama_params_become_options_and_root_fields() {
        let mut body = json!({"model": "m", "options": {"top_k": 3}}).as_object().cloned().expect("object");
        let stored = json!({"max_tokens": 50, "top_k": 9, "num_ctx": 2048.0, "use_mmap": 0,
            "format": "{\"type\": \"object\"}", "keep_alive": "5m", "think": true, "mystery": "x"});
        apply_ollama(&stored, &mut body);
        assert_eq!(
            Value::Object(body),
            json!({"model": "m", "options": {"top_k": 3, "num_predict": 50, "num_ctx": 2048, "use_mmap": false,
                   "mystery": "x"}, "format": {"type": "object"}, "keep_alive": "5m", "think": true})
        );
    }
}
