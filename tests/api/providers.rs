//! The provider routers (`/openai/...`, `/ollama/...`) against fake providers: completions passed
//! through (Ollama's NDJSON and JSON unconverted), the reference's texts for unknown and
//! forbidden models, the disabled-provider 503s, the providers' model lists with the access rule,
//! one connection's own answer (admins), and the time limits.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{KEY, OLLAMA_MODEL, OPENAI_MODEL, Setup, ask, setup};
use crate::fake_upstream::{
    Script, WORDS, lines_text, ollama_final, ollama_lines, openai_chunks, openai_whole,
};
use crate::helpers::{Answer, Backend};

backend_tests!(
    openai_router_passes_answers_through_on_both_paths,
    openai_router_model_rules_follow_the_reference,
    ollama_router_answers_as_ollama_does,
    ollama_router_model_rules_follow_the_reference,
    ollama_router_bad_bodies_are_422,
    an_ollama_stream_cut_midway_ends_with_an_error_line,
    provider_errors_keep_their_status,
    disabled_providers_answer_503,
    callers_without_a_verified_role_are_refused,
    model_lists_follow_the_access_rule,
    one_connections_list_is_its_own_answer_for_admins,
    provider_completions_are_not_cut_by_request_timeout,
);

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const OLLAMA_DISABLED: &str = "The Ollama API is disabled. Please enable it to use this feature.";

fn words() -> Vec<String> {
    WORDS.iter().map(|w| w.to_string()).collect()
}

fn ollama_ask(model: &str, stream: Option<bool>) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]});
    if let Some(stream) = stream {
        body["stream"] = json!(stream);
    }
    body
}

async fn grant(s: &Setup, model: &str, user_id: &str) {
    let g = s
        .app
        .post(
            "/api/v1/models/model/access/update",
            Some(&s.admin),
            json!({"id": model, "access_grants": [{"principal_type": "user", "principal_id": user_id, "permission": "read"}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
}

async fn preset(s: &Setup, id: &str, base: &str, params: Value) {
    let body = json!({"id": id, "name": id, "base_model_id": base, "meta": {}, "params": params});
    let c = s.app.post("/api/v1/models/create", Some(&s.admin), body).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
}

fn refused(a: &Answer, status: StatusCode, detail: &str) {
    assert_eq!((a.status, a.detail()), (status, detail), "{}", a.text);
}

async fn openai_router_passes_answers_through_on_both_paths(backend: Backend) {
    let s = setup(backend, &[]).await;
    for path in ["/openai/chat/completions", "/openai/v1/chat/completions"] {
        let a = s.app.post(path, Some(&s.admin), ask(OPENAI_MODEL, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(a.body, openai_whole(OPENAI_MODEL, &words()));
        let a = s.app.post(path, Some(&s.admin), ask(OPENAI_MODEL, true)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert!(a.headers["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
        assert_eq!(a.text, openai_chunks(OPENAI_MODEL, &words(), false).concat());
    }
    let seen = s.openai.chats();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|r| r.path == "/v1/chat/completions"));
    assert_eq!(seen[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    // `metadata` stays here; everything else goes on as sent.
    let body = json!({"model": OPENAI_MODEL, "messages": [], "metadata": {"x": 1}, "user": "u1"});
    let a = s.app.post("/openai/chat/completions", Some(&s.admin), body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(s.openai.last_body(), json!({"model": OPENAI_MODEL, "messages": [], "user": "u1"}));
    assert!(s.ollama.chats().is_empty());
}

async fn openai_router_model_rules_follow_the_reference(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (user, user_id) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    let path = "/openai/chat/completions";
    // Unknown to the OpenAI-compatible providers (an Ollama model too): the reference's 404.
    for model in [json!("no-such-model"), json!(OLLAMA_MODEL), json!(7)] {
        let a = s.app.post(path, Some(&s.admin), json!({"model": model, "messages": []})).await;
        refused(&a, StatusCode::NOT_FOUND, "Model '' was not found");
    }
    let a = s.app.post(path, Some(&s.admin), json!({"messages": []})).await;
    refused(&a, StatusCode::NOT_FOUND, "Model '' was not found");
    // A user needs a stored model they may read: an upstream model without a row is refused.
    let a = s.app.post(path, Some(&user), ask(OPENAI_MODEL, false)).await;
    refused(&a, StatusCode::FORBIDDEN, "Model not found");
    let a = s.app.post(path, Some(&user), ask("no-such-model", false)).await;
    refused(&a, StatusCode::FORBIDDEN, "Model not found");
    // A preset runs on its base model with its params (cast) and system prompt.
    preset(
        &s,
        "brief",
        OPENAI_MODEL,
        json!({"temperature": "0.25", "max_tokens": 9, "system": "Be brief, {{USER_NAME}}."}),
    )
    .await;
    grant(&s, "brief", &user_id).await;
    let a = s.app.post(path, Some(&user), ask("brief", false)).await;
    refused(&a, StatusCode::FORBIDDEN, "Model not found");
    grant(&s, OPENAI_MODEL, &user_id).await;
    let a = s
        .app
        .post(
            path,
            Some(&user),
            json!({"model": "brief", "max_tokens": 3,
        "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        s.openai.last_body(),
        json!({"model": OPENAI_MODEL, "max_tokens": 3, "temperature": 0.25,
               "messages": [{"role": "system", "content": "Be brief, U."}, {"role": "user", "content": "Hi"}]})
    );
    // With BYPASS_MODEL_ACCESS_CONTROL anyone may use any listed model.
    let bypass = setup(backend, &[("BYPASS_MODEL_ACCESS_CONTROL", "true")]).await;
    let (user, _) = bypass.app.user(&bypass.admin, "U", "u@example.com", "user").await;
    let a = bypass.app.post(path, Some(&user), ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

async fn ollama_router_answers_as_ollama_does(backend: Backend) {
    let s = setup(backend, &[]).await;
    // Streamed unless told otherwise: Ollama's NDJSON lines as they came.
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/x-ndjson");
    assert_eq!(a.text, lines_text(&ollama_lines(OLLAMA_MODEL, &words())).concat());
    let seen = s.ollama.chats();
    assert_eq!(seen[0].path, "/api/chat");
    assert_eq!(
        seen[0].body,
        json!({"model": OLLAMA_MODEL, "messages": [{"role": "user", "content": "Say hello"}], "stream": true})
    );
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, ollama_final(OLLAMA_MODEL, "Hello world!"));
    // On a connection named by index (admins may name any).
    let a = s.app.post("/ollama/api/chat/0", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s.app.post("/ollama/api/chat/3", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    refused(&a, StatusCode::NOT_FOUND, "Connection not found");
    assert!(s.openai.chats().is_empty());
}

async fn ollama_router_model_rules_follow_the_reference(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (user, user_id) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask("nope", Some(false))).await;
    refused(&a, StatusCode::BAD_REQUEST, "Model 'nope' was not found");
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OPENAI_MODEL, Some(false))).await;
    refused(&a, StatusCode::BAD_REQUEST, &format!("Model '{OPENAI_MODEL}' was not found"));
    let a = s.app.post("/ollama/api/chat", Some(&user), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    refused(&a, StatusCode::FORBIDDEN, "Model not found");
    // A preset: its base model, its params as options (`max_tokens` is `num_predict`), `keep_alive`
    // at the top, its system prompt first.
    preset(
        &s,
        "kind",
        OLLAMA_MODEL,
        json!({"max_tokens": 5, "top_k": "4", "keep_alive": "5m", "system": "Be kind."}),
    )
    .await;
    grant(&s, "kind", &user_id).await;
    grant(&s, OLLAMA_MODEL, &user_id).await;
    let a = s.app.post("/ollama/api/chat", Some(&user), ollama_ask("kind", Some(false))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        s.ollama.last_body(),
        json!({"model": OLLAMA_MODEL, "messages": [{"role": "system", "content": "Be kind."},
               {"role": "user", "content": "Say hello"}], "options": {"num_predict": 5, "top_k": 4},
               "stream": false, "keep_alive": "5m"})
    );
    // A user may name only a connection that serves the model.
    let a = s.app.post("/ollama/api/chat/0", Some(&user), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s.app.post("/ollama/api/chat/1", Some(&user), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    refused(&a, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    let a = s.app.post("/ollama/api/chat/x", Some(&user), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["loc"], json!(["path", "url_idx"]));
}

async fn ollama_router_bad_bodies_are_422(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), json!([1])).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["type"], "dict_type");
    let a = s
        .app
        .post("/ollama/api/chat", Some(&s.admin), json!({"model": 1, "messages": [{"content": "x"}]}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let errors: Vec<(&str, &Value)> = a.body["detail"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["type"].as_str().unwrap_or(""), &e["loc"]))
        .collect();
    assert_eq!(
        errors,
        [("string_type", &json!(["body", "model"])), ("missing", &json!(["body", "messages", 0, "role"]))]
    );
    assert!(s.ollama.chats().is_empty());
}

async fn an_ollama_stream_cut_midway_ends_with_an_error_line(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.ollama.set(Script::CloseMidStream { chunks: 2 });
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(true))).await;
    assert_eq!(a.status, StatusCode::OK);
    let lines = lines_text(&ollama_lines(OLLAMA_MODEL, &words()));
    assert_eq!(a.text, format!("{}{}{{\"error\": \"Chat completion stream failed\"}}\n", lines[0], lines[1]));
}

async fn provider_errors_keep_their_status(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.ollama.set(Script::Status {
        status: 404,
        headers: vec![("retry-after".into(), "3".into())],
        body: json!({"error": "model not loaded"}).to_string(),
    });
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!((a.status, &a.body), (StatusCode::NOT_FOUND, &json!({"detail": "model not loaded"})));
    assert_eq!(a.headers["retry-after"], "3");
    let body = json!({"error": {"message": "slow down", "type": "rate_limit"}});
    s.openai.set(Script::Status { status: 429, headers: vec![], body: body.to_string() });
    let a = s.app.post("/openai/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!((a.status, &a.body), (StatusCode::TOO_MANY_REQUESTS, &body));
    s.openai.stop();
    s.ollama.stop();
    let a = s.app.post("/openai/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    refused(&a, StatusCode::INTERNAL_SERVER_ERROR, "Open WebUI: Server Connection Error");
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", a.text);
    assert!(a.detail().starts_with("Ollama: "), "{}", a.text);
}

async fn disabled_providers_answer_503(backend: Backend) {
    let s = setup(backend, &[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")]).await;
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    refused(&s.app.get("/openai/models", Some(&s.admin)).await, unavailable, "OpenAI API is disabled");
    refused(&s.app.get("/openai/models/0", Some(&s.admin)).await, unavailable, "OpenAI API is disabled");
    let a = s.app.post("/openai/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    refused(&a, unavailable, "OpenAI API is disabled");
    refused(&s.app.get("/ollama/api/tags", Some(&s.admin)).await, unavailable, OLLAMA_DISABLED);
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, None)).await;
    refused(&a, unavailable, OLLAMA_DISABLED);
    // The main route names the provider the model would have used: none is listed now.
    let a = s.app.post("/api/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    refused(&a, StatusCode::BAD_REQUEST, "Model not found");
    assert!(s.openai.chats().is_empty() && s.ollama.chats().is_empty());
}

async fn callers_without_a_verified_role_are_refused(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (pending, _) = s.app.user(&s.admin, "P", "p@example.com", "pending").await;
    for (method, path, body) in [
        ("GET", "/openai/models", None),
        ("GET", "/ollama/api/tags", None),
        ("POST", "/openai/chat/completions", Some(ask(OPENAI_MODEL, false))),
        ("POST", "/ollama/api/chat", Some(ollama_ask(OLLAMA_MODEL, None))),
    ] {
        let a = s.app.send(method, path, None, body.clone()).await;
        refused(&a, StatusCode::UNAUTHORIZED, "Not authenticated");
        let a = s.app.send(method, path, Some(&pending), body).await;
        refused(&a, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    }
    assert!(s.openai.chats().is_empty() && s.ollama.chats().is_empty());
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|l| l.iter().filter_map(|m| m[key].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn model_lists_follow_the_access_rule(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = s.app.get("/openai/models", Some(&s.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(ids(&a.body["data"], "id"), [OPENAI_MODEL]);
    let m = &a.body["data"][0];
    assert_eq!(
        (m["owned_by"].as_str(), m["urlIdx"].as_u64(), m["openai"]["id"].as_str()),
        (Some("openai"), Some(0), Some(OPENAI_MODEL))
    );
    let a = s.app.get("/ollama/api/tags", Some(&s.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(ids(&a.body["models"], "model"), [OLLAMA_MODEL]);
    assert_eq!(a.body["models"][0]["urls"], json!([0]));
    assert_eq!(a.body["models"][0]["size"], 1);
    // A user sees only the models with a row they may read.
    let (user, user_id) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    assert_eq!(s.app.get("/openai/models", Some(&user)).await.body, json!({"data": []}));
    assert_eq!(s.app.get("/ollama/api/tags", Some(&user)).await.body, json!({"models": []}));
    grant(&s, OPENAI_MODEL, &user_id).await;
    grant(&s, OLLAMA_MODEL, &user_id).await;
    assert_eq!(ids(&s.app.get("/openai/models", Some(&user)).await.body["data"], "id"), [OPENAI_MODEL]);
    assert_eq!(
        ids(&s.app.get("/ollama/api/tags", Some(&user)).await.body["models"], "model"),
        [OLLAMA_MODEL]
    );
    let bypass = setup(backend, &[("BYPASS_MODEL_ACCESS_CONTROL", "true")]).await;
    let (user, _) = bypass.app.user(&bypass.admin, "U", "u@example.com", "user").await;
    assert_eq!(ids(&bypass.app.get("/openai/models", Some(&user)).await.body["data"], "id"), [OPENAI_MODEL]);
}

async fn one_connections_list_is_its_own_answer_for_admins(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (user, _) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    let a = s.app.get("/openai/models/0", Some(&s.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"object": "list", "data": [{"id": OPENAI_MODEL, "object": "model", "created": 1, "owned_by": "fake"}]})
    );
    let a = s.app.get("/ollama/api/tags/0", Some(&s.admin)).await;
    assert_eq!(a.body, json!({"models": [{"name": OLLAMA_MODEL, "model": OLLAMA_MODEL, "size": 1}]}));
    refused(&s.app.get("/openai/models/0", Some(&user)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    refused(&s.app.get("/ollama/api/tags/0", Some(&user)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    refused(
        &s.app.get("/openai/models/4", Some(&s.admin)).await,
        StatusCode::NOT_FOUND,
        "Connection not found",
    );
    let a = s.app.get("/ollama/api/tags/zero", Some(&s.admin)).await;
    assert_eq!(
        (a.status, &a.body["detail"][0]["type"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("int_parsing"))
    );
    // A provider's refusal, in the reference's words.
    s.openai.set_list(401, r#"{"error": {"message": "bad key"}}"#);
    let a = s.app.get("/openai/models/0", Some(&s.admin)).await;
    refused(
        &a,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Unexpected error: External Error: {'message': 'bad key'}",
    );
    s.openai.set_list(502, "<html>down</html>");
    let a = s.app.get("/openai/models/0", Some(&s.admin)).await;
    refused(&a, StatusCode::INTERNAL_SERVER_ERROR, "Unexpected error: HTTP Error: 502");
    s.ollama.set_list(403, r#"{"error": "forbidden"}"#);
    refused(&s.app.get("/ollama/api/tags/0", Some(&s.admin)).await, StatusCode::FORBIDDEN, "forbidden");
    s.openai.stop();
    let a = s.app.get("/openai/models/0", Some(&s.admin)).await;
    refused(&a, StatusCode::INTERNAL_SERVER_ERROR, "Open WebUI: Server Connection Error");
}

async fn provider_completions_are_not_cut_by_request_timeout(backend: Backend) {
    let s = setup(backend, &[("REQUEST_TIMEOUT", "1")]).await;
    s.openai.set(Script::Slow { delay: Duration::from_millis(1500) });
    s.ollama.set(Script::Slow { delay: Duration::from_millis(1500) });
    let a = s.app.post("/openai/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = s.app.post("/ollama/api/chat", Some(&s.admin), ollama_ask(OLLAMA_MODEL, Some(false))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["message"]["content"], "Hello world!");
}
