//! `POST /api/chat/completions` against fake providers (`fake_upstream`): OpenAI-compatible answers
//! passed through (whole and streamed, byte for byte), Ollama's converted (golden files), the
//! model lookup and its access rule, presets and params, the providers' errors, the time
//! limits, and a client that disconnects. Saved turns are `completions_saved`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::fake_upstream::{Api, Fake, Script, WORDS, openai_chunks, openai_whole};
use crate::helpers::{Backend, TestApp};

backend_tests!(
    openai_whole_answer_is_passed_through_with_the_key,
    openai_stream_is_forwarded_byte_for_byte,
    both_paths_and_api_keys_are_served,
    callers_without_a_verified_role_are_refused,
    unknown_and_unreadable_models_are_one_400,
    bad_bodies_are_422_in_fastapis_shape,
    presets_run_on_their_base_model_with_their_params_and_system_prompt,
    request_params_merge_over_the_models,
    upstream_errors_keep_status_body_and_retry_after,
    an_upstream_that_is_not_listening_is_a_server_connection_error,
    a_stream_cut_midway_ends_with_the_error_frame_and_done,
    a_hanging_upstream_is_cut_by_the_completion_timeout,
    a_silent_stream_is_cut_by_the_idle_timeout,
    completions_are_not_cut_by_request_timeout,
    a_client_that_disconnects_closes_the_upstream_connection,
    a_slow_client_slows_the_reading_of_the_provider,
    streamed_requests_reuse_a_kept_provider_connection,
    a_kept_connection_the_provider_closed_is_replaced,
    ollama_stream_converts_to_the_golden_bytes,
    ollama_reasoning_and_tool_calls_convert_to_the_golden_bytes,
    ollama_whole_answer_converts_to_the_golden_object,
    ollama_errors_are_passed_on_as_detail,
);

pub const OPENAI_MODEL: &str = "gpt-fake";
pub const OLLAMA_MODEL: &str = "llama3:latest";
pub const KEY: &str = "sk-fake-upstream";
const FIXED_ID: &str = "00000000-0000-4000-8000-000000000000";

/// A duet with a fake OpenAI-compatible and a fake Ollama provider, and its admin.
pub struct Setup {
    pub app: TestApp,
    pub openai: Fake,
    pub ollama: Fake,
    pub admin: String,
    pub admin_id: String,
}

pub async fn setup(backend: Backend, env: &[(&str, &str)]) -> Setup {
    let openai = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let ollama = Fake::start(Api::Ollama, &[OLLAMA_MODEL]).await;
    let (openai_url, ollama_url) = (openai.url(), ollama.url());
    let mut vars: Vec<(&str, &str)> = vec![
        ("OPENAI_API_BASE_URLS", &openai_url),
        ("OPENAI_API_KEYS", KEY),
        ("OLLAMA_BASE_URLS", &ollama_url),
        ("MODELS_CACHE_TTL", "3600"),
    ];
    vars.extend_from_slice(env);
    let app = TestApp::spawn_with(backend, &vars).await.expect("app");
    let (admin, admin_id) = app.admin().await;
    Setup { app, openai, ollama, admin, admin_id }
}

pub fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Say hello"}]})
}

pub async fn complete(app: &TestApp, token: &str, body: Value) -> crate::helpers::Answer {
    app.post("/api/chat/completions", Some(token), body).await
}

fn words() -> Vec<String> {
    WORDS.iter().map(|w| w.to_string()).collect()
}

/// duet's random `chatcmpl-` id and clock put back to the golden files' fixed ones.
fn masked(text: &str) -> String {
    let mut out = text.to_string();
    for prefix in ["chatcmpl-", "llama3:latest-"] {
        if let Some(at) = out.find(&format!("\"{prefix}")) {
            let id = out[at + 1 + prefix.len()..].split('"').next().unwrap_or("").to_string();
            if !id.is_empty() {
                out = out.replace(&format!("{prefix}{id}"), &format!("{prefix}{FIXED_ID}"));
            }
        }
    }
    let mut result = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("\"created\": ") {
        let (before, after) = rest.split_at(at + "\"created\": ".len());
        result.push_str(before);
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        result.push_str("1700000000");
        rest = &after[digits..];
    }
    result.push_str(rest);
    result
}

fn golden(name: &str) -> String {
    let path = format!("{}/tests/api/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn openai_whole_answer_is_passed_through_with_the_key(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, openai_whole(OPENAI_MODEL, &words()));
    let seen = s.openai.chats();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(
        seen[0].body,
        json!({"model": OPENAI_MODEL, "stream": false, "messages": [{"role": "user", "content": "Say hello"}]})
    );
    assert!(a.headers.get("x-chat-id").is_none(), "nothing saved without a chat");
}

async fn openai_stream_is_forwarded_byte_for_byte(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(a.headers["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    assert_eq!(a.text, openai_chunks(OPENAI_MODEL, &words(), false).concat());
    assert_eq!(s.openai.finished(), 1);
}

async fn both_paths_and_api_keys_are_served(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = s.app.post("/api/v1/chat/completions", Some(&s.admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["choices"][0]["message"]["content"], "Hello world!");
    s.app.set_admin_config(&s.admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = s.app.post("/api/v1/auths/api_key", Some(&s.admin), json!({})).await;
    let key = key.body["api_key"].as_str().expect("api key").to_string();
    let a = complete(&s.app, &key, ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["choices"][0]["message"]["content"], "Hello world!");
}

async fn callers_without_a_verified_role_are_refused(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = s.app.post("/api/chat/completions", None, ask(OPENAI_MODEL, false)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
    let (pending, _) = s.app.user(&s.admin, "P", "p@example.com", "pending").await;
    let a = complete(&s.app, &pending, ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.detail(),
        "You do not have permission to access this resource. Please contact your administrator for assistance."
    );
    let a = complete(&s.app, "not-a-token", ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(s.openai.chats().is_empty(), "nothing reached the provider");
}

async fn unknown_and_unreadable_models_are_one_400(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (user, user_id) = s.app.user(&s.admin, "U", "u@example.com", "user").await;
    let not_found = json!({"detail": "Model not found"});
    for (token, body) in [
        (&s.admin, ask("no-such-model", false)),
        (&s.admin, json!({"messages": []})),
        (&s.admin, json!({"model": 7, "messages": []})),
        // An upstream model without a row is the admins' only.
        (&user, ask(OPENAI_MODEL, false)),
    ] {
        let a = complete(&s.app, token, body.clone()).await;
        assert_eq!((a.status, &a.body), (StatusCode::BAD_REQUEST, &not_found), "{body}");
    }
    // A preset the user may read, on a base model without a row: still refused (the base model
    // must be readable too).
    let preset = json!({"id": "helper", "name": "Helper", "base_model_id": OPENAI_MODEL, "meta": {}, "params": {},
                        "access_grants": [{"principal_type": "user", "principal_id": user_id, "permission": "read"}]});
    let c = s.app.post("/api/v1/models/create", Some(&s.admin), preset).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let a = complete(&s.app, &user, ask("helper", false)).await;
    assert_eq!((a.status, &a.body), (StatusCode::BAD_REQUEST, &not_found));
    // Once the base model is shared with the user, both work.
    let g = s
        .app
        .post(
            "/api/v1/models/model/access/update",
            Some(&s.admin),
            json!({"id": OPENAI_MODEL,
        "access_grants": [{"principal_type": "user", "principal_id": user_id, "permission": "read"}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    for model in ["helper", OPENAI_MODEL] {
        let a = complete(&s.app, &user, ask(model, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{model}: {}", a.text);
    }
    // Another user sees neither.
    let (other, _) = s.app.user(&s.admin, "O", "o@example.com", "user").await;
    for model in ["helper", OPENAI_MODEL] {
        let a = complete(&s.app, &other, ask(model, false)).await;
        assert_eq!((a.status, &a.body), (StatusCode::BAD_REQUEST, &not_found), "{model}");
    }
    assert_eq!(s.openai.chats().len(), 2, "only the allowed requests reached the provider");
}

async fn bad_bodies_are_422_in_fastapis_shape(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = complete(&s.app, &s.admin, json!([1, 2])).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.body,
        json!({"detail": [{"type": "dict_type", "loc": ["body"], "msg": "Input should be a valid dictionary", "input": [1, 2]}]})
    );
    let a = s
        .app
        .raw(
            "POST",
            "/api/chat/completions",
            &[("authorization", &format!("Bearer {}", s.admin)), ("content-type", "application/json")],
            Some("{\"model\":"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["detail"][0]["type"], "json_invalid");
    let a = complete(
        &s.app,
        &s.admin,
        json!({"model": OPENAI_MODEL, "chat_id": 5, "params": "hot", "user_message": [1]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let locs: Vec<Value> =
        a.body["detail"].as_array().expect("list").iter().map(|e| e["loc"].clone()).collect();
    assert_eq!(
        locs,
        vec![json!(["body", "user_message"]), json!(["body", "chat_id"]), json!(["body", "params"])]
    );
    let huge = "x".repeat(200_000);
    let a = complete(
        &s.app,
        &s.admin,
        json!({"model": OPENAI_MODEL, "messages": [{"role": "user", "content": huge}]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "a long prompt goes through");
    assert_eq!(s.openai.last_body()["messages"][0]["content"].as_str().map(str::len), Some(200_000));
    assert_eq!(s.openai.chats().len(), 1, "bad bodies never reached the provider");
}

async fn presets_run_on_their_base_model_with_their_params_and_system_prompt(backend: Backend) {
    let s = setup(backend, &[]).await;
    let preset = json!({"id": "tutor", "name": "Tutor", "base_model_id": OPENAI_MODEL, "meta": {},
                        "params": {"temperature": 0.3, "system": "You teach {{USER_NAME}}.", "custom_params": {"top_k": "5"}}});
    let c = s.app.post("/api/v1/models/create", Some(&s.admin), preset).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let body = json!({"model": "tutor", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let sent = s.openai.last_body();
    assert_eq!(sent["model"], OPENAI_MODEL, "the preset runs on its base model");
    assert_eq!(sent["temperature"], json!(0.3));
    assert_eq!(sent["top_k"], json!(5), "custom params (JSON texts parsed) become fields");
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You teach Admin.\nBe brief."}));
    assert_eq!(sent["messages"][1], json!({"role": "user", "content": "hi"}));
    assert!(sent.get("params").is_none() && sent.get("system").is_none());
}

async fn request_params_merge_over_the_models(backend: Backend) {
    let s = setup(backend, &[]).await;
    let preset = json!({"id": "p", "name": "P", "base_model_id": OPENAI_MODEL, "meta": {},
                        "params": {"temperature": 0.9, "top_p": 0.4, "stream_response": false}});
    assert_eq!(s.app.post("/api/v1/models/create", Some(&s.admin), preset).await.status, StatusCode::OK);
    let body = json!({"model": "p", "stream": true, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}],
                      "params": {"temperature": 0.1, "max_tokens": 50, "seed": null, "system": "Extra"},
                      "chat_id": "", "session_id": "s1", "tool_ids": ["t"], "variables": {"{{A}}": "b"}});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["object"], "chat.completion", "stream_response: false makes it whole");
    let sent = s.openai.last_body();
    assert_eq!(sent["temperature"], json!(0.1), "the request's params win over the model's");
    assert_eq!(sent["top_p"], json!(0.4));
    assert_eq!(sent["max_tokens"], json!(3), "the request's own field wins over params");
    assert_eq!(sent["stream"], json!(false));
    for key in ["seed", "params", "chat_id", "session_id", "tool_ids", "variables", "stream_options"] {
        assert!(sent.get(key).is_none(), "{key} is not sent upstream: {sent}");
    }
    let a =
        complete(&s.app, &s.admin, json!({"model": "p", "messages": [], "params": {"model_controls": 3}}))
            .await;
    assert_eq!(
        (a.status, a.detail()),
        (StatusCode::BAD_REQUEST, "Model control options must be keyed by model.")
    );
}

async fn upstream_errors_keep_status_body_and_retry_after(backend: Backend) {
    let s = setup(backend, &[]).await;
    let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    s.openai.set(Script::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "7".into()), ("x-other".into(), "no".into())],
        body: body.to_string(),
    });
    for stream in [false, true] {
        let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, stream)).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.body, body);
        assert_eq!(a.headers["retry-after"], "7");
        assert!(a.headers.get("x-other").is_none());
    }
    s.openai.set(Script::Status { status: 500, headers: vec![], body: "upstream exploded".into() });
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await;
    assert_eq!((a.status, a.text.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded"));
    assert!(a.headers["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
}

async fn an_upstream_that_is_not_listening_is_a_server_connection_error(backend: Backend) {
    let s = setup(backend, &[]).await;
    // The model list is fetched (and cached) while the provider still listens.
    assert_eq!(complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await.status, StatusCode::OK);
    s.openai.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for stream in [false, true] {
        let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, stream)).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", a.text);
        assert_eq!(a.body, json!({"detail": "Open WebUI: Server Connection Error"}));
    }
    assert_eq!(complete(&s.app, &s.admin, ask(OLLAMA_MODEL, false)).await.status, StatusCode::OK);
    s.ollama.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", a.text);
    assert!(a.detail().starts_with("Ollama: "), "{}", a.text);
    assert!(!a.detail().contains("127.0.0.1:"), "no URL in the text: {}", a.text);
}

async fn a_stream_cut_midway_ends_with_the_error_frame_and_done(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.openai.set(Script::CloseMidStream { chunks: 2 });
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert_eq!(a.status, StatusCode::OK);
    let chunks = openai_chunks(OPENAI_MODEL, &words(), false);
    let expected = format!(
        "{}{}\n\ndata: {{\"error\": {{\"message\": \"Chat completion stream failed\"}}}}\n\ndata: [DONE]\n\n",
        chunks[0], chunks[1]
    );
    assert_eq!(a.text, expected);
    s.ollama.set(Script::CloseMidStream { chunks: 1 });
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, true)).await;
    assert!(a.text.starts_with("data: {\"id\": \"chatcmpl-"), "{}", a.text);
    assert!(a.text.ends_with(
        "\n\ndata: {\"error\": {\"message\": \"Chat completion stream failed\"}}\n\ndata: [DONE]\n\n"
    ));
    assert_eq!(a.text.matches("[DONE]").count(), 1);
}

async fn a_hanging_upstream_is_cut_by_the_completion_timeout(backend: Backend) {
    let s = setup(backend, &[("AIOHTTP_CLIENT_TIMEOUT", "1")]).await;
    s.openai.set(Script::Hang);
    let started = Instant::now();
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.detail(), "Open WebUI: Server Connection Error");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
    // The limit covers a streamed answer as a whole.
    s.openai.set(Script::Words { words: vec!["a".into(); 20], delay: Duration::from_millis(100) });
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert!(a.text.ends_with("Chat completion stream failed\"}}\n\ndata: [DONE]\n\n"), "{}", a.text);
    // Meanwhile another request is not held up by the hanging one.
    s.openai.set(Script::Hang);
    let app = &s.app;
    let hanging = complete(app, &s.admin, ask(OPENAI_MODEL, false));
    let quick = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let m = app.get("/api/models", Some(&s.admin)).await;
        (m.status, started.elapsed())
    };
    let (_, (status, took)) = tokio::join!(hanging, quick);
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_millis(500), "{took:?}");
}

async fn a_silent_stream_is_cut_by_the_idle_timeout(backend: Backend) {
    let s = setup(backend, &[("AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT", "0.5")]).await;
    s.openai.set(Script::Stall);
    let started = Instant::now();
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    let first = &openai_chunks(OPENAI_MODEL, &words(), false)[0];
    assert_eq!(
        a.text,
        format!(
            "{first}\n\ndata: {{\"error\": {{\"message\": \"Chat completion stream failed\"}}}}\n\ndata: [DONE]\n\n"
        )
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // A slow but steady stream is not cut: each gap is shorter than the limit.
    s.openai.set(Script::Words { words: vec!["a".into(); 8], delay: Duration::from_millis(150) });
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert!(a.text.ends_with("data: [DONE]\n\n") && !a.text.contains("stream failed"), "{}", a.text);
    // A whole answer has no idle limit.
    s.openai.set(Script::Slow { delay: Duration::from_millis(900) });
    assert_eq!(complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await.status, StatusCode::OK);
}

async fn completions_are_not_cut_by_request_timeout(backend: Backend) {
    let s = setup(backend, &[("REQUEST_TIMEOUT", "1")]).await;
    s.openai.set(Script::Slow { delay: Duration::from_millis(1500) });
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["choices"][0]["message"]["content"], "Hello world!");
}

async fn a_client_that_disconnects_closes_the_upstream_connection(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.openai.set(Script::Words { words: vec!["tick ".into(); 200], delay: Duration::from_millis(20) });
    let mut res = s
        .app
        .client
        .post(s.app.url("/api/chat/completions"))
        .bearer_auth(&s.admin)
        .json(&ask(OPENAI_MODEL, true))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let first = res.chunk().await.expect("chunk").expect("a first chunk");
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(res);
    let deadline = Instant::now() + Duration::from_secs(3);
    while s.openai.closed_early() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.openai.closed_early(), 1, "the provider saw its connection closed");
    assert_eq!(s.openai.finished(), 0);
}

async fn a_slow_client_slows_the_reading_of_the_provider(backend: Backend) {
    let s = setup(backend, &[]).await;
    let (count, size) = (600, 64 * 1024);
    s.openai.set(Script::Big { count, size });
    let total = count * (size + "data: \n\n".len());
    let mut res = s
        .app
        .client
        .post(s.app.url("/api/chat/completions"))
        .bearer_auth(&s.admin)
        .json(&ask(OPENAI_MODEL, true))
        .send()
        .await
        .expect("send");
    let mut read = res.chunk().await.expect("chunk").map(|c| c.len()).unwrap_or(0);
    // The client stops reading: the provider's writes stop too, well before the end.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stalled = s.openai.written();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.openai.written(), stalled, "nothing more is read from the provider");
    assert!(stalled < total / 2, "{stalled} of {total} bytes");
    while let Some(c) = res.chunk().await.expect("chunk") {
        read += c.len();
    }
    assert_eq!(read, total, "every byte arrives once the client reads again");
    assert_eq!(s.openai.finished(), 1);
}

async fn streamed_requests_reuse_a_kept_provider_connection(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.openai.keep_alive();
    let expected = openai_chunks(OPENAI_MODEL, &words(), false).concat();
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.text, expected);
    // The model list (asked by the first request) and the first answer.
    let opened = s.openai.connections();
    for _ in 0..3 {
        let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.text, expected);
    }
    assert_eq!(s.openai.connections(), opened, "the next answers came over the kept connection");
    assert_eq!(s.openai.finished(), 4);
    assert_eq!(s.openai.chats().len(), 4);
}

async fn a_kept_connection_the_provider_closed_is_replaced(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.openai.keep_alive();
    let expected = openai_chunks(OPENAI_MODEL, &words(), false).concat();
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert_eq!(a.text, expected);
    let opened = s.openai.connections();
    // The provider closes the kept connection as the next request arrives on it, unanswered:
    // the request is sent again on a new connection and answered whole.
    s.openai.drop_next_on_reuse();
    let a = complete(&s.app, &s.admin, ask(OPENAI_MODEL, true)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.text, expected);
    assert_eq!(s.openai.connections(), opened + 1);
    assert_eq!(s.openai.chats().len(), 3, "the first answer, the dropped request, its second sending");
    assert_eq!(s.openai.finished(), 2);
}

async fn ollama_stream_converts_to_the_golden_bytes(backend: Backend) {
    let s = setup(backend, &[]).await;
    let body = json!({"model": OLLAMA_MODEL, "stream": true, "max_tokens": 20, "stop": ["\n"],
                      "messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]}]});
    let a = complete(&s.app, &s.admin, body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.headers["content-type"], "text/event-stream");
    assert_eq!(masked(&a.text), golden("ollama_stream.sse"));
    let ids: std::collections::HashSet<&str> =
        a.text.match_indices("\"chatcmpl-").map(|(i, _)| &a.text[i + 1..i + 1 + 9 + 36]).collect();
    assert_eq!(ids.len(), 1, "one id for the whole answer");
    let seen = s.ollama.chats();
    assert_eq!(seen[0].path, "/api/chat");
    assert_eq!(
        seen[0].body,
        json!({"model": OLLAMA_MODEL, "stream": true, "options": {"stop": ["\n"], "num_predict": 20},
               "messages": [{"role": "user", "content": "What is this?", "images": ["iVBOR"]}]})
    );
}

async fn ollama_reasoning_and_tool_calls_convert_to_the_golden_bytes(backend: Backend) {
    let s = setup(backend, &[]).await;
    let lines: Vec<Value> = serde_json::from_str(&golden("ollama_stream_tools.input.json")).expect("input");
    s.ollama.set(Script::Lines(lines));
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, true)).await;
    assert_eq!(masked(&a.text), golden("ollama_stream_tools.sse"));
}

async fn ollama_whole_answer_converts_to_the_golden_object(backend: Backend) {
    let s = setup(backend, &[]).await;
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let id = a.body["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("llama3:latest-"), "{id}");
    let mut got = a.body.clone();
    got["id"] = json!(format!("llama3:latest-{FIXED_ID}"));
    got["created"] = json!(1700000000);
    let expected: Value = serde_json::from_str(&golden("ollama_whole.json")).expect("golden");
    assert_eq!(got, expected);
    assert_eq!(s.ollama.last_body()["stream"], json!(false));
}

async fn ollama_errors_are_passed_on_as_detail(backend: Backend) {
    let s = setup(backend, &[]).await;
    s.ollama.set(Script::Status {
        status: 404,
        headers: vec![("retry-after".into(), "3".into())],
        body: json!({"error": "model 'llama3:latest' not found"}).to_string(),
    });
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, true)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body, json!({"detail": "model 'llama3:latest' not found"}));
    assert_eq!(a.headers["retry-after"], "3");
    s.ollama.set(Script::Status { status: 502, headers: vec![], body: "<html>bad gateway</html>".into() });
    let a = complete(&s.app, &s.admin, ask(OLLAMA_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert_eq!(a.body, json!({"detail": "Open WebUI: Server Connection Error"}));
}
