//! The provider connections as admin settings (`/openai/config`, `/ollama/config` and their
//! updates): admin only, seeded from the environment, checked and normalised as the reference
//! does, stored, and applied at once — completions and model lists move to the new connections
//! without a restart, on this instance and on another one sharing the database.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{KEY, OPENAI_MODEL, ask};
use crate::fake_upstream::{Api, Fake};
use crate::helpers::{Backend, TestApp};

backend_tests!(
    config_routes_are_for_admins_only,
    the_environment_seeds_the_settings,
    an_update_is_normalised_stored_and_kept_across_restarts,
    invalid_forms_are_422_and_change_nothing,
    an_update_moves_completions_to_another_provider_at_once,
    another_instance_follows_the_stored_connections,
    switching_a_kind_off_in_the_settings_is_503,
    per_connection_settings_shape_the_list,
);

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";

/// A duet whose only provider is `fake` (an OpenAI-compatible one), with `env`.
async fn with_openai(backend: Backend, fake: &Fake, env: &[(&str, &str)]) -> TestApp {
    let url = fake.url();
    let mut vars: Vec<(&str, &str)> = vec![
        ("OPENAI_API_BASE_URLS", &url),
        ("OPENAI_API_KEYS", KEY),
        ("ENABLE_OLLAMA_API", "false"),
        ("MODELS_CACHE_TTL", "3600"),
    ];
    vars.extend_from_slice(env);
    TestApp::spawn_with(backend, &vars).await.expect("app")
}

fn openai_form(urls: &[&str], keys: &[&str], configs: Value) -> Value {
    json!({"ENABLE_OPENAI_API": true, "OPENAI_API_BASE_URLS": urls, "OPENAI_API_KEYS": keys, "OPENAI_API_CONFIGS": configs})
}

async fn update(app: &TestApp, admin: &str, form: Value) -> Value {
    let a = app.post("/openai/config/update", Some(admin), form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body
}

async fn config_routes_are_for_admins_only(backend: Backend) {
    let fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(backend, &fake, &[]).await;
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let form = openai_form(&["http://127.0.0.1:9/v1"], &[], json!({}));
    for (method, path, body) in [
        ("GET", "/openai/config", None),
        ("POST", "/openai/config/update", Some(form)),
        ("GET", "/ollama/config", None),
        ("POST", "/ollama/config/update", Some(json!({"OLLAMA_BASE_URLS": [], "OLLAMA_API_CONFIGS": {}}))),
    ] {
        let a = app.send(method, path, None, body.clone()).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"), "{path}");
        let a = app.send(method, path, Some(&user), body).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}");
    }
    // Nothing changed: completions still go to the fake.
    assert_eq!(
        app.get("/openai/config", Some(&admin)).await.body["OPENAI_API_BASE_URLS"],
        json!([fake.url()])
    );
}

async fn the_environment_seeds_the_settings(backend: Backend) {
    let fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(
        backend,
        &fake,
        &[
            ("ENABLE_OLLAMA_API", "true"),
            ("OLLAMA_BASE_URLS", "http://127.0.0.1:9/"),
            ("OLLAMA_API_CONFIGS", r#"{"0": {"key": "ollama-key", "enable": false}}"#),
            ("OPENAI_API_CONFIGS", r#"{"0": {"prefix_id": "f"}}"#),
        ],
    )
    .await;
    let (admin, _) = app.admin().await;
    let a = app.get("/openai/config", Some(&admin)).await;
    assert_eq!(
        a.body,
        json!({"ENABLE_OPENAI_API": true, "OPENAI_API_BASE_URLS": [fake.url()], "OPENAI_API_KEYS": [KEY],
               "OPENAI_API_CONFIGS": {"0": {"prefix_id": "f"}}})
    );
    let a = app.get("/ollama/config", Some(&admin)).await;
    assert_eq!(
        a.body,
        json!({"ENABLE_OLLAMA_API": true, "OLLAMA_BASE_URLS": ["http://127.0.0.1:9"],
               "OLLAMA_API_CONFIGS": {"0": {"key": "ollama-key", "enable": false}}})
    );
    assert_eq!(app.scalar_config("openai.api_keys").await.map(|t| t.contains(KEY)), Some(true));
}

async fn an_update_is_normalised_stored_and_kept_across_restarts(backend: Backend) {
    let fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(backend, &fake, &[]).await;
    let (admin, _) = app.admin().await;
    let configs = json!({"0": {"prefix_id": "a"}, "1": {"enable": true}, "5": {}, "http://b/v1": {}});
    let answer =
        update(&app, &admin, openai_form(&["http://a/v1", "http://b/v1"], &["k1", "k2", "k3"], configs))
            .await;
    let stored = json!({"ENABLE_OPENAI_API": true, "OPENAI_API_BASE_URLS": ["http://a/v1", "http://b/v1"],
                        "OPENAI_API_KEYS": ["k1", "k2"], "OPENAI_API_CONFIGS": {"0": {"prefix_id": "a"}, "1": {"enable": true}}});
    assert_eq!(answer, stored);
    assert_eq!(app.get("/openai/config", Some(&admin)).await.body, stored);
    // Fewer keys than URLs are padded; a form without the switch stores null (off).
    let answer = update(
        &app,
        &admin,
        json!({"OPENAI_API_BASE_URLS": ["http://a/v1", "http://b/v1"], "OPENAI_API_KEYS": ["k1"], "OPENAI_API_CONFIGS": {}}),
    )
    .await;
    assert_eq!(
        (&answer["OPENAI_API_KEYS"], &answer["ENABLE_OPENAI_API"]),
        (&json!(["k1", ""]), &Value::Null)
    );
    let ollama = json!({"ENABLE_OLLAMA_API": false, "OLLAMA_BASE_URLS": ["http://o:11434"],
                        "OLLAMA_API_CONFIGS": {"0": {"key": "ok"}, "1": {"key": "dropped"}}});
    let a = app.post("/ollama/config/update", Some(&admin), ollama).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ollama_stored = json!({"ENABLE_OLLAMA_API": false, "OLLAMA_BASE_URLS": ["http://o:11434"],
                               "OLLAMA_API_CONFIGS": {"0": {"key": "ok"}}});
    assert_eq!(a.body, ollama_stored);

    // Another process over the same database (its own pool and caches) reads the stored values,
    // not its environment's.
    let restarted = app.separate_instance(&[("OPENAI_API_BASE_URLS", "http://env/v1")]).await;
    assert_eq!(
        restarted.get("/openai/config", Some(&admin)).await.body["OPENAI_API_KEYS"],
        json!(["k1", ""])
    );
    assert_eq!(restarted.get("/ollama/config", Some(&admin)).await.body, ollama_stored);
    // Unless the environment is to win.
    let env_wins = app
        .separate_instance(&[
            ("OPENAI_API_BASE_URLS", "http://env/v1"),
            ("ENABLE_PERSISTENT_CONFIG", "false"),
        ])
        .await;
    let a = env_wins.get("/openai/config", Some(&admin)).await;
    assert_eq!(
        (&a.body["OPENAI_API_BASE_URLS"], &a.body["ENABLE_OPENAI_API"]),
        (&json!(["http://env/v1"]), &json!(true))
    );
}

async fn invalid_forms_are_422_and_change_nothing(backend: Backend) {
    let fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(backend, &fake, &[]).await;
    let (admin, _) = app.admin().await;
    let before = app.get("/openai/config", Some(&admin)).await.body;
    for (form, kind, loc) in [
        (
            json!({"OPENAI_API_KEYS": [], "OPENAI_API_CONFIGS": {}}),
            "missing",
            json!(["body", "OPENAI_API_BASE_URLS"]),
        ),
        (
            json!({"OPENAI_API_BASE_URLS": "http://a", "OPENAI_API_KEYS": [], "OPENAI_API_CONFIGS": {}}),
            "list_type",
            json!(["body", "OPENAI_API_BASE_URLS"]),
        ),
        (
            json!({"OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": [1], "OPENAI_API_CONFIGS": {}}),
            "string_type",
            json!(["body", "OPENAI_API_KEYS", 0]),
        ),
        (
            json!({"OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": [], "OPENAI_API_CONFIGS": []}),
            "dict_type",
            json!(["body", "OPENAI_API_CONFIGS"]),
        ),
        (
            json!({"ENABLE_OPENAI_API": "maybe", "OPENAI_API_BASE_URLS": [], "OPENAI_API_KEYS": [], "OPENAI_API_CONFIGS": {}}),
            "bool_parsing",
            json!(["body", "ENABLE_OPENAI_API"]),
        ),
        (json!([]), "model_attributes_type", json!(["body"])),
    ] {
        let a = app.post("/openai/config/update", Some(&admin), form.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}: {}", a.text);
        assert_eq!(
            (&a.body["detail"][0]["type"], &a.body["detail"][0]["loc"]),
            (&json!(kind), &loc),
            "{form}"
        );
    }
    let a = app.post("/ollama/config/update", Some(&admin), json!({"OLLAMA_BASE_URLS": [3]})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"].as_array().map(Vec::len), Some(2), "{}", a.text);
    assert_eq!(app.get("/openai/config", Some(&admin)).await.body, before);
}

async fn an_update_moves_completions_to_another_provider_at_once(backend: Backend) {
    let a_fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let b_fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL, "only-on-b"]).await;
    let app = with_openai(backend, &a_fake, &[]).await;
    let (admin, _) = app.admin().await;
    let a = app.post("/api/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!((a_fake.chats().len(), b_fake.chats().len()), (1, 0));
    let models = app.get("/api/models", Some(&admin)).await;
    assert!(!models.text.contains("only-on-b"));

    update(&app, &admin, openai_form(&[&b_fake.url()], &["sk-b"], json!({}))).await;
    // The cached list (kept an hour here) is dropped: the next one is B's.
    let models = app.get("/api/models", Some(&admin)).await;
    assert!(models.text.contains("only-on-b"), "{}", models.text);
    for path in ["/api/chat/completions", "/openai/chat/completions"] {
        let a = app.post(path, Some(&admin), ask(OPENAI_MODEL, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    }
    assert_eq!((a_fake.chats().len(), b_fake.chats().len()), (1, 2));
    assert!(b_fake.chats().iter().all(|c| c.authorization.as_deref() == Some("Bearer sk-b")));
    let a = app.post("/openai/chat/completions", Some(&admin), ask("only-on-b", false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

async fn another_instance_follows_the_stored_connections(backend: Backend) {
    let a_fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let b_fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(backend, &a_fake, &[]).await;
    let (admin, _) = app.admin().await;
    // A second process (own pool, own caches; settings read without a cache) and a twin on the
    // same handle.
    let other = app.separate_instance(&[("SETTINGS_CACHE_TTL", "0"), ("MODELS_CACHE_TTL", "3600")]).await;
    let twin = app.twin_with(&[("MODELS_CACHE_TTL", "3600")]).await;
    for instance in [&other, &twin] {
        let a = instance.post("/api/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert_eq!((a_fake.chats().len(), b_fake.chats().len()), (2, 0));

    update(&app, &admin, openai_form(&[&b_fake.url()], &["sk-b"], json!({}))).await;
    for instance in [&other, &twin] {
        let a = instance.post("/api/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let a = instance.post("/openai/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert_eq!((a_fake.chats().len(), b_fake.chats().len()), (2, 4));
    assert_eq!(other.get("/openai/config", Some(&admin)).await.body["OPENAI_API_KEYS"], json!(["sk-b"]));
}

async fn switching_a_kind_off_in_the_settings_is_503(backend: Backend) {
    let fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let app = with_openai(backend, &fake, &[]).await;
    let (admin, _) = app.admin().await;
    assert_eq!(app.get("/openai/models", Some(&admin)).await.status, StatusCode::OK);
    let mut form = openai_form(&[&fake.url()], &[KEY], json!({}));
    form["ENABLE_OPENAI_API"] = json!(false);
    update(&app, &admin, form).await;
    let a = app.get("/openai/models", Some(&admin)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::SERVICE_UNAVAILABLE, "OpenAI API is disabled"));
    let a = app.post("/openai/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::SERVICE_UNAVAILABLE, "OpenAI API is disabled"));
    assert_eq!(app.get("/api/models", Some(&admin)).await.body["data"], json!([]));
    let a = app.post("/api/chat/completions", Some(&admin), ask(OPENAI_MODEL, false)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, "Model not found"));
    assert!(fake.chats().is_empty());
}

async fn per_connection_settings_shape_the_list(backend: Backend) {
    let a_fake = Fake::start(Api::OpenAi, &[OPENAI_MODEL]).await;
    let b_fake = Fake::start(Api::OpenAi, &["b-model"]).await;
    let app = with_openai(backend, &a_fake, &[]).await;
    let (admin, _) = app.admin().await;
    let configs = json!({"0": {"prefix_id": "a", "tags": [{"name": "work"}]}, "1": {"enable": false}});
    update(&app, &admin, openai_form(&[&a_fake.url(), &b_fake.url()], &[KEY], configs)).await;
    let list = app.get("/openai/models", Some(&admin)).await.body;
    let ids: Vec<&str> =
        list["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["a.gpt-fake"]);
    assert_eq!(list["data"][0]["tags"], json!([{"name": "work"}]));
    assert_eq!(b_fake.lists(), 0, "a switched-off connection is not asked");
    let a = app.post("/openai/chat/completions", Some(&admin), ask("a.gpt-fake", false)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a_fake.last_body()["model"], OPENAI_MODEL);
    // A fixed model list is used without asking the provider.
    let lists = b_fake.lists();
    update(
        &app,
        &admin,
        openai_form(&[&b_fake.url()], &[], json!({"0": {"model_ids": ["fixed-1", "fixed-2"]}})),
    )
    .await;
    let list = app.get("/openai/models", Some(&admin)).await.body;
    let ids: Vec<&str> =
        list["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["fixed-1", "fixed-2"]);
    assert_eq!(b_fake.lists(), lists);
}
