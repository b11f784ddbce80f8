//! Ollama ⇄ OpenAI, as the reference converts (`utils/payload.py`, `utils/response.py`): an
//! OpenAI chat request becomes an Ollama `/api/chat` request (messages, images, tool calls,
//! options, `num_predict`, root-level `format`/`keep_alive`/`think`/`system`), and Ollama's
//! answers become OpenAI `chat.completion` objects and `chat.completion.chunk` SSE frames, byte
//! for byte (Python's JSON text, one `chatcmpl-` id per answer, the role on the first chunk, the
//! reference's usage fields).

use serde_json::{Map, Value, json};

use super::pyjson;

/// The frame that ends a converted stream.
pub const DONE: &str = "data: [DONE]\n\n";

/// Python's truthiness of an optional JSON value.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// A JSON text parsed, or the value itself (the reference's `parse_json`).
fn parse_json(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

fn openai_message_to_ollama(message: &Value) -> Value {
    let get = |k: &str| message.get(k);
    let mut out = Map::new();
    out.insert("role".into(), get("role").cloned().unwrap_or(Value::Null));
    if let Some(thinking) = get("thinking") {
        out.insert("thinking".into(), thinking.clone());
    } else if truthy(get("reasoning_content")) {
        out.insert("thinking".into(), get("reasoning_content").cloned().unwrap_or(Value::Null));
    } else if truthy(get("reasoning")) {
        out.insert("thinking".into(), get("reasoning").cloned().unwrap_or(Value::Null));
    }
    let tool_calls = get("tool_calls").filter(|t| truthy(Some(t)));
    match (get("content"), tool_calls) {
        (Some(Value::String(text)), None) => {
            out.insert("content".into(), json!(text));
            if truthy(get("tool_call_id")) {
                out.insert("tool_call_id".into(), get("tool_call_id").cloned().unwrap_or(Value::Null));
            }
        }
        (_, Some(calls)) => {
            let calls: Vec<Value> = calls
                .as_array()
                .into_iter()
                .flatten()
                .map(|call| {
                    let function = call.get("function");
                    let arguments = function.and_then(|f| f.get("arguments")).map(parse_json);
                    json!({
                        "index": call.get("index").cloned().unwrap_or(json!(0)),
                        "id": call.get("id").cloned().unwrap_or(Value::Null),
                        "function": {
                            "name": function.and_then(|f| f.get("name")).cloned().unwrap_or(json!("")),
                            "arguments": arguments.unwrap_or_else(|| json!({})),
                        },
                    })
                })
                .collect();
            out.insert("tool_calls".into(), Value::Array(calls));
            out.insert("content".into(), json!(""));
        }
        (content, None) => {
            let mut text = String::new();
            let mut images = Vec::new();
            for item in content.and_then(Value::as_array).into_iter().flatten() {
                match item.get("type").and_then(Value::as_str) {
                    Some("text") => text.push_str(item.get("text").and_then(Value::as_str).unwrap_or("")),
                    Some("image_url") => {
                        let url = item.get("image_url").and_then(|u| u.get("url")).and_then(Value::as_str);
                        if let Some(url) = url.filter(|u| !u.is_empty()) {
                            let url = if url.starts_with("data:") {
                                url.rsplit(',').next().unwrap_or(url)
                            } else {
                                url
                            };
                            images.push(json!(url));
                        }
                    }
                    _ => {}
                }
            }
            if !text.is_empty() {
                out.insert("content".into(), json!(text.trim()));
            }
            if !images.is_empty() {
                out.insert("images".into(), Value::Array(images));
            }
        }
    }
    Value::Object(out)
}

/// `convert_payload_openai_to_ollama`: the Ollama `/api/chat` request for an OpenAI one.
pub fn payload_to_ollama(payload: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("model".into(), payload.get("model").cloned().unwrap_or(Value::Null));
    let messages: Vec<Value> = payload
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(openai_message_to_ollama)
        .collect();
    out.insert("messages".into(), Value::Array(messages));
    out.insert("stream".into(), payload.get("stream").cloned().unwrap_or(json!(false)));
    if let Some(tools) = payload.get("tools") {
        out.insert("tools".into(), tools.clone());
    }
    if let Some(Value::Object(options)) = payload.get("options").filter(|o| truthy(Some(o))) {
        let mut options = options.clone();
        out.insert("options".into(), Value::Object(Map::new()));
        for key in ["format", "keep_alive", "think"] {
            if let Some(v) = options.get(key).filter(|v| !v.is_null()).cloned() {
                out.insert(key.into(), if key == "think" { v } else { parse_json(&v) });
                options.remove(key);
            }
        }
        if let Some(v) = options.remove("max_tokens") {
            options.insert("num_predict".into(), v);
        }
        if let Some(v) = options.remove("system") {
            out.insert("system".into(), v);
        }
        out.insert("options".into(), Value::Object(options));
    }
    let set_option = |out: &mut Map<String, Value>, key: &str, value: Value| {
        let entry = out.entry("options").or_insert_with(|| json!({}));
        if let Some(o) = entry.as_object_mut() {
            o.insert(key.into(), value);
        }
    };
    if let Some(stop) = payload.get("stop") {
        set_option(&mut out, "stop", stop.clone());
    }
    if let Some(max) = payload.get("max_tokens") {
        set_option(&mut out, "num_predict", max.clone());
    }
    if let Some(format) = payload.get("response_format").and_then(Value::as_object) {
        let kind = format.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(schema) = format.get(kind).filter(|s| truthy(Some(s))) {
            out.insert("format".into(), schema.get("schema").cloned().unwrap_or(Value::Null));
        }
    }
    out
}

fn int_of(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)).unwrap_or(0),
        Some(Value::Bool(b)) => i64::from(*b),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn float_of(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

/// `round(x, 2)` as Python rounds (correctly, ties to even on the exact binary value).
fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

/// Tokens per second the reference's way: `round(count / (duration / 10_000_000) * 100, 2)`, or
/// `"N/A"` without a positive duration.
fn rate(count: Option<&Value>, duration: Option<&Value>) -> Value {
    let duration = float_of(duration);
    if duration > 0.0 {
        let r = round2(float_of(count) / (duration / 10_000_000.0) * 100.0);
        serde_json::Number::from_f64(r).map(Value::Number).unwrap_or(json!("N/A"))
    } else {
        json!("N/A")
    }
}

/// `{h}h{m}m{s}s` of `total_duration` nanoseconds.
fn approximate_total(total: Option<&Value>) -> String {
    match total {
        Some(Value::Number(n)) if n.is_f64() => {
            let s = (n.as_f64().unwrap_or(0.0) / 1e9).floor();
            let (h, m, sec) = ((s / 3600.0).floor(), ((s % 3600.0) / 60.0).floor(), s % 60.0);
            let r = pyjson::float_repr;
            format!("{}h{}m{}s", r(h), r(m), r(sec))
        }
        other => {
            let s = int_of(other).div_euclid(1_000_000_000);
            format!("{}h{}m{}s", s.div_euclid(3600), s.rem_euclid(3600).div_euclid(60), s.rem_euclid(60))
        }
    }
}

/// `convert_ollama_usage_to_openai`: standard and OpenAI token counts, rates and Ollama's timings.
pub fn ollama_usage(data: &Map<String, Value>) -> Value {
    let get = |k: &str| data.get(k);
    let or_zero = |k: &str| get(k).cloned().unwrap_or(json!(0));
    let input = int_of(get("prompt_eval_count"));
    let output = int_of(get("eval_count"));
    json!({
        "input_tokens": input,
        "output_tokens": output,
        "total_tokens": input + output,
        "prompt_tokens": input,
        "completion_tokens": output,
        "response_token/s": rate(get("eval_count"), get("eval_duration")),
        "prompt_token/s": rate(get("prompt_eval_count"), get("prompt_eval_duration")),
        "total_duration": or_zero("total_duration"),
        "load_duration": or_zero("load_duration"),
        "prompt_eval_count": or_zero("prompt_eval_count"),
        "prompt_eval_duration": or_zero("prompt_eval_duration"),
        "eval_count": or_zero("eval_count"),
        "eval_duration": or_zero("eval_duration"),
        "approximate_total": approximate_total(get("total_duration").filter(|v| truthy(Some(v)))),
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// Ollama tool calls as OpenAI ones (arguments as Python's JSON text; `call_<uuid>` ids when
/// Ollama gives none).
fn tool_calls_to_openai(calls: &[Value]) -> Vec<Value> {
    calls
        .iter()
        .map(|call| {
            let function = call.get("function").cloned().unwrap_or_else(|| json!({}));
            let index = call.get("index").or_else(|| function.get("index")).cloned().unwrap_or(json!(0));
            let id =
                call.get("id").cloned().unwrap_or_else(|| json!(format!("call_{}", uuid::Uuid::new_v4())));
            let arguments = function.get("arguments").cloned().unwrap_or_else(|| json!({}));
            json!({
                "index": index,
                "id": id,
                "type": "function",
                "function": {
                    "name": function.get("name").cloned().unwrap_or(json!("")),
                    "arguments": pyjson::dumps(&arguments),
                },
            })
        })
        .collect()
}

/// `openai_chat_message_template`: id, created, model, one choice.
fn template(id: String, created: i64, model: Value) -> Map<String, Value> {
    let mut t = Map::new();
    t.insert("id".into(), json!(id));
    t.insert("created".into(), json!(created));
    t.insert("model".into(), model);
    t.insert("choices".into(), json!([{"index": 0, "logprobs": null, "finish_reason": null}]));
    t
}

fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => pyjson::dumps(other),
    }
}

fn choice(t: &mut Map<String, Value>) -> &mut Map<String, Value> {
    t.get_mut("choices")
        .and_then(Value::as_array_mut)
        .and_then(|c| c.first_mut())
        .and_then(Value::as_object_mut)
        .expect("the template has one choice")
}

/// `convert_response_ollama_to_openai`: a whole Ollama answer as a `chat.completion`.
pub fn answer_to_openai(answer: &Map<String, Value>, created: i64) -> Value {
    let model = answer.get("model").cloned().unwrap_or(json!("ollama"));
    let message = answer.get("message").and_then(Value::as_object).cloned().unwrap_or_default();
    let content = message.get("content").cloned().unwrap_or(json!(""));
    let reasoning = message.get("thinking").filter(|r| truthy(Some(r))).cloned();
    let tool_calls = message
        .get("tool_calls")
        .filter(|t| truthy(Some(t)))
        .and_then(Value::as_array)
        .map(|calls| tool_calls_to_openai(calls));
    let id = format!("{}-{}", python_str(&model), uuid::Uuid::new_v4());
    let mut t = template(id, created, model);
    t.insert("object".into(), json!("chat.completion"));
    let c = choice(&mut t);
    if !content.is_null() {
        let mut m = Map::new();
        m.insert("role".into(), json!("assistant"));
        m.insert("content".into(), content);
        if let Some(r) = reasoning {
            m.insert("reasoning_content".into(), r);
        }
        if let Some(calls) = tool_calls.clone().filter(|c| !c.is_empty()) {
            m.insert("tool_calls".into(), Value::Array(calls));
        }
        c.insert("message".into(), Value::Object(m));
    }
    let has_calls = tool_calls.as_ref().is_some_and(|c| !c.is_empty());
    c.insert("finish_reason".into(), json!(if has_calls { "tool_calls" } else { "stop" }));
    if !has_calls && truthy(answer.get("done_reason")) {
        c.insert("finish_reason".into(), answer.get("done_reason").cloned().unwrap_or(Value::Null));
    }
    t.insert("usage".into(), ollama_usage(answer));
    Value::Object(t)
}

/// The state of one streamed answer's conversion (`convert_streaming_response_ollama_to_openai`).
pub struct StreamConverter {
    id: String,
    first: bool,
    has_tool_calls: bool,
}

impl Default for StreamConverter {
    fn default() -> Self {
        Self::with_id(format!("chatcmpl-{}", uuid::Uuid::new_v4()))
    }
}

impl StreamConverter {
    /// A converter whose chunks carry `id` (tests; `default()` makes a `chatcmpl-<uuid>` one).
    pub fn with_id(id: String) -> Self {
        StreamConverter { id, first: true, has_tool_calls: false }
    }

    /// The SSE frame (`data: …\n\n`) for one NDJSON line of Ollama's stream, and its chunk; a line
    /// that is not a JSON object is an error (the reference's conversion fails on it).
    pub fn frame(&mut self, line: &[u8], created: i64) -> Result<(String, Value), String> {
        let data: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
        let data = data.as_object().ok_or("not a JSON object")?;
        let model = data.get("model").cloned().unwrap_or(json!("ollama"));
        let message = data.get("message").filter(|m| truthy(Some(m))).cloned().unwrap_or_else(|| json!({}));
        let content = message.get("content").filter(|c| truthy(Some(c))).cloned();
        let reasoning = message.get("thinking").filter(|r| truthy(Some(r))).cloned();
        let tool_calls = message
            .get("tool_calls")
            .filter(|t| truthy(Some(t)))
            .and_then(Value::as_array)
            .map(|calls| tool_calls_to_openai(calls))
            .filter(|c| !c.is_empty());
        if tool_calls.is_some() {
            self.has_tool_calls = true;
        }
        let done = truthy(data.get("done"));
        let mut t = template(self.id.clone(), created, model);
        t.insert("object".into(), json!("chat.completion.chunk"));
        let c = choice(&mut t);
        let mut delta = Map::new();
        let empty = content.is_none() && reasoning.is_none() && tool_calls.is_none();
        if let Some(content) = content {
            delta.insert("content".into(), content);
        }
        if let Some(r) = reasoning {
            delta.insert("reasoning_content".into(), r);
        }
        if let Some(calls) = tool_calls {
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        if empty {
            c.insert("finish_reason".into(), json!("stop"));
        }
        if self.first {
            delta.insert("role".into(), json!("assistant"));
            self.first = false;
        }
        c.insert("delta".into(), Value::Object(delta));
        if done && self.has_tool_calls {
            c.insert("finish_reason".into(), json!("tool_calls"));
        } else if truthy(data.get("done_reason")) {
            c.insert("finish_reason".into(), data.get("done_reason").cloned().unwrap_or(Value::Null));
        }
        if done {
            t.insert("usage".into(), ollama_usage(data));
        }
        let chunk = Value::Object(t);
        Ok((format!("data: {}\n\n", pyjson::dumps(&chunk)), chunk))
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
