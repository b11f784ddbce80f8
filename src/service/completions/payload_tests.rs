//! Unit tests of the request building: params merged as the reference merges them, model
//! controls, the provider shaping.

use serde_json::json;
use sqlx::types::Json;

use super::*;
use crate::store::models::ModelRow;
use crate::upstream::Connection;

fn row(params: Value) -> ModelRow {
    ModelRow {
        id: "preset".into(),
        user_id: "u".into(),
        base_model_id: Some("gpt-4o".into()),
        name: "Preset".into(),
        params: Json(params),
        meta: Json(json!({})),
        version_id: None,
        is_active: true,
        updated_at: 0,
        created_at: 0,
    }
}

fn resolved(kind: Kind, upstream_id: &str, params: Option<Value>, capabilities: Value) -> Resolved {
    Resolved {
        id: "preset".into(),
        entry: json!({"id": "preset", "info": {"meta": {"capabilities": capabilities}}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        row: params.map(row),
        kind,
        connection: Connection { prefix_id: Some("p".into()), ..Connection::new("http://up/v1", "k") },
        upstream_id: upstream_id.into(),
    }
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn user() -> crate::store::users::User {
    crate::store::users::User {
        id: "u".into(),
        email: "e@x".into(),
        username: None,
        role: "user".into(),
        name: "N".into(),
        profile_image_url: String::new(),
        profile_banner_image_url: None,
        bio: None,
        gender: None,
        date_of_birth: None,
        timezone: None,
        presence_state: None,
        status_emoji: None,
        status_message: None,
        status_expires_at: None,
        info: None,
        settings: None,
        oauth: None,
        scim: None,
        last_active_at: 0,
        updated_at: 0,
        created_at: 0,
    }
}

#[test]
fn request_params_win_over_the_models_and_fields_win_over_both() {
    let model = resolved(
        Kind::OpenAi,
        "p.gpt-4o",
        Some(json!({"temperature": 0.9, "top_p": 0.5, "system": "S", "stream_response": false,
                    "custom_params": {"a": 1}, "model_controls": {}})),
        json!({"usage": true}),
    );
    let mut body = map(json!({"model": "preset", "stream": true, "max_tokens": 5,
        "params": {"temperature": 0.2, "seed": null, "max_tokens": 99, "custom_params": {"b": "{\"x\": 1}"}}}));
    let controls = merge_request_params(&mut body, &map(json!({"seed": 7})), &model, false).expect("merge");
    assert!(controls.is_empty());
    assert_eq!(body["stream"], json!(false), "stream_response decides");
    assert_eq!(body.get("stream_options"), None, "no usage option without a stream");
    apply_params(&mut body, Kind::OpenAi);
    assert_eq!(body["temperature"], json!(0.2));
    assert_eq!(body["top_p"], json!(0.5));
    assert_eq!(body["seed"], json!(7));
    assert_eq!(body["max_tokens"], json!(5), "a field of the request itself wins");
    assert_eq!((body["a"].clone(), body["b"].clone()), (json!(1), json!({"x": 1})));
    assert!(
        !body.contains_key("system") && !body.contains_key("params") && !body.contains_key("stream_response")
    );
}

#[test]
fn a_model_reporting_usage_asks_for_it_when_streaming() {
    let model = resolved(Kind::OpenAi, "gpt-4o", None, json!({"usage": true}));
    let mut body = map(json!({"stream": true, "stream_options": {"x": 1}}));
    merge_request_params(&mut body, &Map::new(), &model, false).expect("merge");
    assert_eq!(body["stream_options"], json!({"x": 1, "include_usage": true}));
    let mut body = map(json!({"params": {"model_controls": [1]}}));
    let e = merge_request_params(&mut body, &Map::new(), &model, false).expect_err("controls");
    assert_eq!(e.message(), "Model control options must be keyed by model.");
}

#[test]
fn model_controls_add_their_options_params() {
    let controls = json!({"effort": {"default": "low", "options": {
        "low": {"params": {"reasoning_effort": "low"}}, "high": {"params": {"reasoning_effort": "high"}}}}});
    let model = resolved(Kind::OpenAi, "gpt-4o", Some(json!({"model_controls": controls})), json!({}));
    let mut body = map(json!({}));
    apply_model_controls(&mut body, &model, &Map::new()).expect("default");
    assert_eq!(body["params"]["custom_params"], json!({"reasoning_effort": "low"}));
    let mut body = map(json!({}));
    apply_model_controls(&mut body, &model, &map(json!({"preset": {"effort": "high"}}))).expect("chosen");
    assert_eq!(body["params"]["custom_params"], json!({"reasoning_effort": "high"}));
    let e = apply_model_controls(&mut body, &model, &map(json!({"preset": {"effort": "max"}})))
        .expect_err("gone");
    assert_eq!(e.message(), "Model control effort: the selected option is no longer available.");
    let e = apply_model_controls(&mut body, &model, &map(json!({"preset": 3}))).expect_err("not an object");
    assert_eq!(e.message(), "Model control options must be an object.");
}

#[test]
fn openai_requests_get_the_base_model_system_prompt_and_reasoning_fields() {
    let u = user();
    let vars = Map::new();
    let ctx = PromptContext { user: &u, groups: String::new(), variables: &vars, now: 0 };
    let model = resolved(Kind::OpenAi, "p.o3-mini", Some(json!({"system": "Be {{USER_NAME}}"})), json!({}));
    let body = map(json!({"model": "preset", "max_tokens": 10, "stream_options": {"include_usage": true},
        "metadata": {}, "logit_bias": "50256:-200, 11:5",
        "messages": [{"role": "system", "content": "chat"}, {"role": "tool", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "input_text", "text": "b"}]}]}));
    let out = for_openai(body, &model, &ctx);
    assert_eq!(out["model"], "o3-mini", "the connection's prefix is taken off");
    assert_eq!(out["max_completion_tokens"], 10);
    assert_eq!(out.get("max_tokens"), None);
    assert_eq!(out["messages"][0], json!({"role": "developer", "content": "Be N\nchat"}));
    assert_eq!(out["messages"][1]["content"], "ab");
    assert_eq!(out["logit_bias"], json!({"50256": -100, "11": 5}));
    assert_eq!(out.get("stream_options"), None);
    assert_eq!(out.get("metadata"), None);
    for (id, reasoning) in
        [("gpt-5.1", true), ("gpt-4.1", false), ("us.openai.gpt-6-sol", true), ("o1", true), ("oss", false)]
    {
        assert_eq!(is_reasoning_model(id), reasoning, "{id}");
    }
}

#[test]
fn ollama_requests_are_converted_with_the_rows_root_params() {
    let u = user();
    let vars = Map::new();
    let ctx = PromptContext { user: &u, groups: String::new(), variables: &vars, now: 0 };
    let model = resolved(
        Kind::Ollama,
        "p.llama3:latest",
        Some(json!({"think": true, "keep_alive": "\"10m\"", "system": "S"})),
        json!({}),
    );
    let mut body = map(json!({"model": "preset", "stream": true, "tools": null,
        "params": {"temperature": 0.3, "max_tokens": 7, "think": false}, "options": {"top_k": 3},
        "messages": [{"role": "user", "content": "hi"}]}));
    apply_params(&mut body, Kind::Ollama);
    let out = for_ollama(body, &model, &ctx);
    assert_eq!(
        out,
        json!({"model": "llama3:latest",
               "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
               "options": {"temperature": 0.3, "num_predict": 7, "top_k": 3},
               "stream": true, "think": true, "keep_alive": "10m"})
    );
}
