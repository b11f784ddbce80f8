//! The body of `POST /ollama/api/chat` checked as the reference's `GenerateChatCompletionForm`
//! checks it (every field error at once, in FastAPI's 422 shape), and dumped as pydantic's
//! `model_dump(exclude_none=True)` dumps it: declared fields first, nulls left out, `stream`
//! `true` when not given, unknown fields kept.

use serde_json::{Map, Value, json};

use super::payload::{OLLAMA_FIELDS, OLLAMA_MESSAGE_FIELDS, dump};
use crate::error::AppResult;
use crate::service::form::{Fields, Loc};

/// A checked request.
#[derive(Debug, Clone)]
pub struct OllamaChatForm {
    /// The request as it goes on (before the model's params and the prefix).
    pub payload: Map<String, Value>,
    /// `stream` (default `true`; an explicit `null` is `false`).
    pub stream: bool,
}

/// An optional field of one of the given JSON kinds (`null` allowed).
fn optional(
    f: &mut Fields,
    form: &Map<String, Value>,
    loc: &Loc,
    name: &str,
    ok: fn(&Value) -> bool,
    wrong: fn(&mut Fields, Loc, &Value),
) {
    if let Some(v) = form.get(name).filter(|v| !v.is_null())
        && !ok(v)
    {
        wrong(f, loc.at(name), v);
    }
}

fn message(f: &mut Fields, i: usize, m: &Value) -> Option<Map<String, Value>> {
    let loc = Loc::from("messages").at(i);
    let Some(map) = m.as_object() else {
        f.model_type(&loc, m, "ChatMessage");
        return None;
    };
    f.string(map, &loc, "role");
    match map.get("content") {
        // The reference's validator runs on a given `content` and sees no `tool_calls` yet.
        Some(Value::Null) => f.value_error_bare(
            loc.at("content"),
            &Value::Null,
            "Value error, At least one of 'content' or 'tool_calls' must be provided",
        ),
        Some(Value::String(_)) | None => {}
        Some(other) => f.string_type(loc.at("content"), other),
    }
    optional(
        f,
        map,
        &loc,
        "tool_calls",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        |f, l, v| f.list_type(l, v),
    );
    optional(
        f,
        map,
        &loc,
        "images",
        |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        |f, l, v| f.list_type(l, v),
    );
    Some(map.clone())
}

impl OllamaChatForm {
    pub fn read(body: Map<String, Value>) -> AppResult<OllamaChatForm> {
        let mut f = Fields::body();
        let root = Loc::root();
        f.string(&body, &root, "model");
        let messages = f.array(&body, &root, "messages").unwrap_or_default();
        let messages: Vec<Value> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| message(&mut f, i, m))
            .map(|m| Value::Object(dump(m, OLLAMA_MESSAGE_FIELDS)))
            .collect();
        optional(
            &mut f,
            &body,
            &root,
            "format",
            |v| v.is_object() || v.is_string(),
            |f, l, v| f.string_type(l, v),
        );
        optional(&mut f, &body, &root, "options", Value::is_object, |f, l, v| f.dict_type(l, v));
        optional(&mut f, &body, &root, "template", Value::is_string, |f, l, v| f.string_type(l, v));
        optional(
            &mut f,
            &body,
            &root,
            "keep_alive",
            |v| v.is_i64() || v.is_string(),
            |f, l, v| f.string_type(l, v),
        );
        optional(
            &mut f,
            &body,
            &root,
            "tools",
            |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
            |f, l, v| f.list_type(l, v),
        );
        let stream = match body.get("stream") {
            None => Some(true),
            Some(Value::Null) => Some(false),
            Some(v) => f.lax_bool(v, "stream"),
        };
        f.finish()?;
        let mut body = body;
        body.insert("messages".into(), Value::Array(messages));
        // An explicit `null` is sent as `false` (the reference would read a streamed answer
        // whole and answer `null`).
        let stream = stream.unwrap_or(true);
        body.insert("stream".into(), json!(stream));
        Ok(OllamaChatForm { payload: dump(body, OLLAMA_FIELDS), stream })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> AppResult<OllamaChatForm> {
        OllamaChatForm::read(v.as_object().cloned().expect("object"))
    }

    #[test]
    fn the_form_is_dumped_in_pydantics_order_with_stream_on() {
        let f = read(json!({"extra": 1, "messages": [{"content": "hi", "role": "user", "images": null}],
            "model": "llama3", "options": null}))
        .expect("form");
        assert!(f.stream);
        assert_eq!(
            serde_json::to_string(&f.payload).expect("json"),
            r#"{"model":"llama3","messages":[{"role":"user","content":"hi"}],"stream":true,"extra":1}"#
        );
        let f = read(json!({"model": "m", "messages": [], "stream": "false"})).expect("form");
        assert_eq!((f.stream, &f.payload["stream"]), (false, &json!(false)));
    }

    #[test]
    fn every_field_error_is_reported() {
        let e = read(json!({"messages": [{"role": 1, "content": null}, 3], "options": [], "stream": "x"}))
            .expect_err("invalid");
        let detail = e.body()["detail"].clone();
        let got: Vec<(String, Value)> = detail
            .as_array()
            .expect("list")
            .iter()
            .map(|d| (d["type"].as_str().unwrap_or("").to_string(), d["loc"].clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("missing".to_string(), json!(["body", "model"])),
                ("string_type".to_string(), json!(["body", "messages", 0, "role"])),
                ("value_error".to_string(), json!(["body", "messages", 0, "content"])),
                ("model_type".to_string(), json!(["body", "messages", 1])),
                ("dict_type".to_string(), json!(["body", "options"])),
                ("bool_parsing".to_string(), json!(["body", "stream"])),
            ]
        );
    }
}
