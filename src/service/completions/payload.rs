//! The request sent upstream, built in the reference's order: the model's stored params (over the
//! admin's `models.default_params`) merged with the request's `params`, the model's controls, the
//! params set as request fields (or Ollama `options`), the system prompts, the messages
//! normalised, and the provider's own shaping (a preset's base model, the connection's prefix
//! taken off, reasoning models' fields, the Ollama conversion).

use serde_json::{Map, Value, json};

use super::prompt::{PromptContext, add_system, normalize, render};
use super::resolve::Resolved;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::upstream::Kind;
use crate::upstream::convert::{payload_to_ollama, truthy};

/// Params that are Open WebUI's own and never become request fields.
const OPEN_WEBUI_PARAMS: &[&str] = &[
    "stream_response",
    "stream_delta_chunk_size",
    "function_calling",
    "reasoning_tags",
    "compact_token_threshold",
    "system",
    "note_id",
    "tool_approval_mode",
    "model_controls",
];

fn object(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `deep_update`: nested objects merged key by key, anything else replaced.
fn deep_update(target: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (k, v) in source {
        match v {
            Value::Object(inner) => {
                let mut merged = object(target.get(k));
                deep_update(&mut merged, inner);
                target.insert(k.clone(), Value::Object(merged));
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// `merge_model_params`: `over` wins, `custom_params` merged one level deep.
fn merge_params(base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    let mut params = base.clone();
    params.extend(over.clone());
    if let Some(Value::Object(base_custom)) = base.get("custom_params") {
        match over.get("custom_params") {
            None | Some(Value::Null) => {
                params.insert("custom_params".into(), Value::Object(base_custom.clone()));
            }
            Some(Value::Object(over_custom)) => {
                let mut custom = base_custom.clone();
                custom.extend(over_custom.clone());
                params.insert("custom_params".into(), Value::Object(custom));
            }
            Some(_) => {}
        }
    }
    params
}

/// The row's params (minus `model_controls`) over the defaults, merged with the request's
/// non-null params into `params`; `stream_response` decides `stream`; a model reporting usage
/// gets `stream_options.include_usage`. Returns the request's model control choices.
pub fn merge_request_params(
    body: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    model: &Resolved,
    automation: bool,
) -> AppResult<Map<String, Value>> {
    let row_params = object(model.row.as_ref().map(|r| &r.params.0));
    let mut model_params = merge_params(defaults, &row_params);
    model_params.remove("model_controls");
    let mut request: Map<String, Value> =
        object(body.get("params")).into_iter().filter(|(_, v)| !v.is_null()).collect();
    let controls = match request.remove("model_controls") {
        None => Map::new(),
        Some(Value::Object(c)) => c,
        Some(_) => return Err(AppError::bad_request(ErrorCode::InvalidModelControls)),
    };
    let controls = if automation { Map::new() } else { controls };
    if !model_params.is_empty() || !request.is_empty() {
        body.insert("params".into(), Value::Object(merge_params(&model_params, &request)));
    }
    if let Some(stream) = model_params.get("stream_response").filter(|s| !s.is_null()) {
        body.insert("stream".into(), stream.clone());
    }
    let usage = model
        .entry
        .get("info")
        .and_then(|i| i.get("meta"))
        .and_then(|m| m.get("capabilities"))
        .and_then(|c| c.get("usage"));
    if truthy(body.get("stream")) && truthy(usage) {
        let mut options = object(body.get("stream_options"));
        options.insert("include_usage".into(), json!(true));
        body.insert("stream_options".into(), Value::Object(options));
    }
    Ok(controls)
}

/// `apply_model_controls`: the chosen (or default) option of each of the row's model controls
/// merged into `params.custom_params`.
pub fn apply_model_controls(
    body: &mut Map<String, Value>,
    model: &Resolved,
    choices: &Map<String, Value>,
) -> AppResult<()> {
    let controls = object(model.row.as_ref().and_then(|r| r.params.0.get("model_controls")));
    let chosen = match choices.get(&model.id) {
        None => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => {
            return Err(AppError::bad_request_with(
                ErrorCode::InvalidModelControls,
                "Model control options must be an object.",
            ));
        }
    };
    let options_of = |control: &Value| object(control.get("options"));
    for (key, choice) in &chosen {
        if let Some(control) = controls.get(key)
            && !choice.as_str().is_some_and(|c| options_of(control).contains_key(c))
        {
            return Err(AppError::bad_request_with(
                ErrorCode::InvalidModelControls,
                format!("Model control {key}: the selected option is no longer available."),
            ));
        }
    }
    if controls.is_empty() {
        return Ok(());
    }
    let mut params = object(body.get("params"));
    for (key, control) in &controls {
        let choice = chosen.get(key).or_else(|| control.get("default")).and_then(Value::as_str);
        let Some(option) = choice.and_then(|c| options_of(control).get(c).cloned()) else { continue };
        let mut custom = object(params.get("custom_params"));
        deep_update(&mut custom, &object(option.get("params")));
        params.insert("custom_params".into(), Value::Object(custom));
    }
    body.insert("params".into(), Value::Object(params));
    Ok(())
}

/// `remove_open_webui_params` and the `custom_params` merge (texts that are JSON parsed).
pub(super) fn request_params(mut params: Map<String, Value>) -> Map<String, Value> {
    let custom = params.remove("custom_params");
    for key in OPEN_WEBUI_PARAMS {
        params.remove(*key);
    }
    if let Some(Value::Object(mut custom)) = custom.filter(|c| truthy(Some(c))) {
        for value in custom.values_mut() {
            if let Value::String(text) = value
                && let Ok(parsed) = serde_json::from_str::<Value>(text)
            {
                *value = parsed;
            }
        }
        deep_update(&mut params, &custom);
    }
    params
}

/// `apply_params_to_form_data`: `params` taken out and set as request fields the request does
/// not set itself (Ollama: under `options`, the request's own options winning).
pub fn apply_params(body: &mut Map<String, Value>, kind: Kind) {
    let params = request_params(object(body.remove("params").as_ref()));
    match kind {
        Kind::Ollama => {
            let mut options = params;
            options.extend(object(body.get("options")));
            body.insert("options".into(), Value::Object(options));
        }
        Kind::OpenAi => {
            for (k, v) in params {
                if !v.is_null() && !body.contains_key(&k) {
                    body.insert(k, v);
                }
            }
        }
    }
}

/// The messages of the request (an empty list when there are none or they are no list).
pub fn messages_mut(body: &mut Map<String, Value>) -> &mut Vec<Value> {
    if !body.get("messages").is_some_and(Value::is_array) {
        body.insert("messages".into(), json!([]));
    }
    body.get_mut("messages").and_then(Value::as_array_mut).expect("messages is a list")
}

/// The messages normalised (after the system prompts).
pub fn normalize_messages(body: &mut Map<String, Value>) {
    if let Some(Value::Array(messages)) = body.remove("messages") {
        body.insert("messages".into(), Value::Array(normalize(messages)));
    }
}

/// The model's own system prompt (`params.system` of its row), rendered.
fn model_system(model: &Resolved, ctx: &PromptContext<'_>) -> Option<String> {
    let system = model.row.as_ref()?.params.0.get("system")?.as_str()?;
    Some(render(system, ctx)).filter(|s| !s.is_empty())
}

/// Whether OpenAI treats `model` as a reasoning model (`o1`…, `gpt-5` and later, Bedrock's
/// `…openai.` prefixes too).
fn is_reasoning_model(model: &str) -> bool {
    let lower = model.to_lowercase();
    let bare = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    let name = match lower.strip_prefix("openai.") {
        Some(rest) => rest,
        None => match lower.split_once('.') {
            Some((vendor, rest)) if bare(vendor) => rest.strip_prefix("openai.").unwrap_or(&lower),
            _ => &lower,
        },
    };
    let mut chars = name.chars();
    if chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit()) {
        return true;
    }
    name.strip_prefix("gpt-").is_some_and(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().is_ok_and(|n| n >= 5)
    })
}

/// `convert_logit_bias_input_to_json`: `"token:bias,…"` (biases clamped to ±100) or an object.
fn logit_bias(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => {
            let mut out = Map::new();
            for pair in s.split(',') {
                let (token, bias) = pair.split_once(':')?;
                let bias: i64 = bias.trim().parse().ok()?;
                out.insert(token.trim().to_string(), json!(bias.clamp(-100, 100)));
            }
            Some(Value::Object(out))
        }
        _ => None,
    }
}

/// The OpenAI-compatible request: the model's system prompt first, the upstream model id, and
/// the router's shaping of reasoning models, `max_tokens`, `logit_bias`, tool results and
/// `stream_options`.
pub fn for_openai(mut body: Map<String, Value>, model: &Resolved, ctx: &PromptContext<'_>) -> Value {
    if let Some(system) = model_system(model, ctx) {
        add_system(messages_mut(&mut body), &system);
    }
    let id = model.connection.strip_prefix(&model.upstream_id).to_string();
    body.insert("model".into(), json!(id));
    if is_reasoning_model(&id) {
        if let Some(v) = body.remove("max_tokens") {
            body.insert("max_completion_tokens".into(), v);
        }
        let lower = id.to_lowercase();
        if let Some(first) = messages_mut(&mut body).first_mut()
            && first.get("role").and_then(Value::as_str) == Some("system")
        {
            let legacy = lower.starts_with("o1-mini") || lower.starts_with("o1-preview");
            first["role"] = json!(if legacy { "user" } else { "developer" });
        }
    } else if !model.connection.url.contains("api.openai.com")
        && let Some(v) = body.remove("max_completion_tokens")
    {
        body.insert("max_tokens".into(), v);
    }
    if body.contains_key("max_tokens") && body.contains_key("max_completion_tokens") {
        body.remove("max_tokens");
    }
    if let Some(bias) = body.get("logit_bias").filter(|b| truthy(Some(b))).and_then(logit_bias) {
        body.insert("logit_bias".into(), bias);
    }
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        for m in messages.iter_mut().filter(|m| m.get("role").and_then(Value::as_str) == Some("tool")) {
            if let Some(Value::Array(parts)) = m.get("content") {
                let text: String = parts
                    .iter()
                    .filter(|p| matches!(p.get("type").and_then(Value::as_str), Some("input_text" | "text")))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect();
                m["content"] = json!(text);
            }
        }
    }
    if !truthy(body.get("stream")) {
        body.remove("stream_options");
    }
    body.remove("metadata");
    Value::Object(body)
}

/// The keys Ollama's form declares, in its order (pydantic dumps those first, then the rest).
pub(super) const OLLAMA_FIELDS: &[&str] =
    &["model", "messages", "format", "options", "template", "stream", "keep_alive", "tools"];
pub(super) const OLLAMA_MESSAGE_FIELDS: &[&str] = &["role", "content", "tool_calls", "images"];

/// `model_dump(exclude_none=True)`: declared keys first, nulls left out (of messages too).
pub(super) fn dump(map: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for key in fields {
        if let Some(v) = map.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_string(), v.clone());
        }
    }
    for (k, v) in map {
        if !v.is_null() && !out.contains_key(&k) {
            out.insert(k, v);
        }
    }
    out
}

/// The Ollama request: the model's system prompt first, the conversion, the row's `format`,
/// `keep_alive` and `think`, and the upstream model id.
pub fn for_ollama(mut body: Map<String, Value>, model: &Resolved, ctx: &PromptContext<'_>) -> Value {
    if let Some(system) = model_system(model, ctx) {
        add_system(messages_mut(&mut body), &system);
    }
    let mut out = payload_to_ollama(&body);
    if let Some(Value::Array(messages)) = out.remove("messages") {
        let messages = messages
            .into_iter()
            .map(|m| match m {
                Value::Object(m) => Value::Object(dump(m, OLLAMA_MESSAGE_FIELDS)),
                other => other,
            })
            .collect();
        out.insert("messages".into(), Value::Array(messages));
    }
    let mut out = dump(out, OLLAMA_FIELDS);
    if let Some(row) = &model.row {
        let params = request_params(object(Some(&row.params.0)));
        for key in ["format", "keep_alive", "think"] {
            if let Some(v) = params.get(key).filter(|v| !v.is_null()) {
                let v = match v {
                    Value::String(s) if key != "think" => {
                        serde_json::from_str(s).unwrap_or_else(|_| v.clone())
                    }
                    other => other.clone(),
                };
                out.insert(key.into(), v);
            }
        }
    }
    out.insert("model".into(), json!(model.connection.strip_prefix(&model.upstream_id)));
    out.remove("metadata");
    Value::Object(out)
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
