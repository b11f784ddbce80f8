//! The stored models and their grants as a completion and `/api/models` read them (cached in the
//! store, `Caches::models`): every write to a model, its grants, a group named by a grant or a
//! user named by one shows at once on the instance that made it and, on PostgreSQL with Redis, on
//! another instance as soon as its invalidation arrives; a warm completion for a known model runs
//! no statement at all.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{OPENAI_MODEL, Setup, ask, complete, setup};
use crate::helpers::{Backend, TestApp, required_redis_url, unique_prefix};

backend_tests!(model_writes_show_at_once_in_the_list_and_in_completions);

/// Caches that would keep a stale entry far longer than any test.
const CACHED_FOR_A_MINUTE: [(&str, &str); 3] =
    [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000"), ("SETTINGS_CACHE_TTL", "60000")];
const PRESET: &str = "tutor";

async fn listed(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let a = app.get("/api/models", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| (m["id"].as_str().unwrap_or("").to_string(), m["name"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// The preset's name as `/api/models` lists it for `token`, `None` when it is not listed.
async fn preset_name(app: &TestApp, token: &str) -> Option<String> {
    listed(app, token).await.into_iter().find(|(id, _)| id == PRESET).map(|(_, name)| name)
}

/// The principals of the preset's grants as `/api/models` shows them (`info.access_grants`),
/// sorted (grants made in the same second are ordered by their random ids).
async fn preset_grantees(app: &TestApp, token: &str) -> Vec<String> {
    let a = app.get("/api/models", Some(token)).await;
    let m = a.body["data"].as_array().expect("data").iter().find(|m| m["id"] == PRESET).cloned();
    let grants = m.map(|m| m["info"]["access_grants"].clone()).unwrap_or(Value::Null);
    grants
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| g["principal_id"].as_str().unwrap_or("").to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The status of a (whole) completion on the preset.
async fn completion_status(app: &TestApp, token: &str) -> StatusCode {
    let a = complete(app, token, ask(PRESET, false)).await;
    a.status
}

fn preset(name: &str) -> Value {
    json!({"id": PRESET, "name": name, "base_model_id": OPENAI_MODEL, "meta": {}, "params": {}})
}

fn read_by(kind: &str, id: &str) -> Value {
    json!({"principal_type": kind, "principal_id": id, "permission": "read"})
}

async fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    a.body
}

/// Settings for the upstream model, readable by every user (a non-admin's preset needs its base
/// model readable).
async fn open_base_model(app: &TestApp, admin: &str) {
    let base = json!({"id": OPENAI_MODEL, "name": "GPT", "base_model_id": null, "meta": {}, "params": {}});
    ok(app, admin, "/api/v1/models/create", base).await;
    let grants = json!({"id": OPENAI_MODEL, "access_grants": [read_by("user", "*")]});
    ok(app, admin, "/api/v1/models/model/access/update", grants).await;
}

async fn model_writes_show_at_once_in_the_list_and_in_completions(backend: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } =
        setup(backend, &CACHED_FOR_A_MINUTE).await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    open_base_model(&app, &admin).await;
    // Warm: the lists are read (and kept) before each write below.
    assert_eq!(preset_name(&app, &admin).await, None);
    ok(&app, &admin, "/api/v1/models/create", preset("Tutor")).await;
    assert_eq!(preset_name(&app, &admin).await.as_deref(), Some("Tutor"), "a new model");
    assert_eq!(completion_status(&app, &admin).await, StatusCode::OK);
    assert_eq!(preset_name(&app, &alice).await, None, "no grant yet");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);

    let grants = json!([read_by("user", &alice_id), read_by("user", &bob_id)]);
    ok(&app, &admin, "/api/v1/models/model/access/update", json!({"id": PRESET, "access_grants": grants}))
        .await;
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor"), "a grant");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK);
    assert_eq!(preset_grantees(&app, &admin).await, {
        let mut both = vec![alice_id.clone(), bob_id.clone()];
        both.sort();
        both
    });

    ok(&app, &admin, "/api/v1/models/model/update", preset("Tutor 2")).await;
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor 2"), "a rename");

    let deleted = app.delete(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(
        preset_grantees(&app, &admin).await,
        std::slice::from_ref(&alice_id),
        "a user's deletion drops their grants"
    );

    let toggled =
        app.send("POST", &format!("/api/v1/models/model/toggle?id={PRESET}"), Some(&admin), None).await;
    assert_eq!(toggled.status, StatusCode::OK, "{}", toggled.text);
    assert_eq!(preset_name(&app, &alice).await, None, "deactivated");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);
    let toggled =
        app.send("POST", &format!("/api/v1/models/model/toggle?id={PRESET}"), Some(&admin), None).await;
    assert_eq!(toggled.status, StatusCode::OK);
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK, "active again");

    // A grant to a group: membership is read with each request, the grant from the cached copy.
    let group =
        ok(&app, &admin, "/api/v1/groups/create", json!({"name": "Readers", "description": ""})).await;
    let group_id = group["id"].as_str().expect("group id").to_string();
    ok(
        &app,
        &admin,
        "/api/v1/models/model/access/update",
        json!({"id": PRESET, "access_grants": [read_by("group", &group_id)]}),
    )
    .await;
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST, "not a member");
    ok(&app, &admin, &format!("/api/v1/groups/id/{group_id}/users/add"), json!({"user_ids": [alice_id]}))
        .await;
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK, "a member");
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor 2"));
    let gone = app.delete(&format!("/api/v1/groups/id/{group_id}/delete"), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    assert_eq!(
        preset_grantees(&app, &admin).await,
        Vec::<String>::new(),
        "a group's deletion drops its grants"
    );
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);

    ok(&app, &admin, "/api/v1/models/model/delete", json!({"id": PRESET})).await;
    assert_eq!(preset_name(&app, &admin).await, None, "deleted");
    assert_eq!(completion_status(&app, &admin).await, StatusCode::BAD_REQUEST);
}

/// Statements a completion for the admin runs, the second time.
async fn warm_statements(env: &[(&str, &str)]) -> u64 {
    let s = setup(Backend::Sqlite, env).await;
    ok(&s.app, &s.admin, "/api/v1/models/create", preset("Tutor")).await;
    for model in [OPENAI_MODEL, PRESET] {
        let warm = complete(&s.app, &s.admin, ask(model, true)).await;
        assert_eq!(warm.status, StatusCode::OK, "{}", warm.text);
    }
    let mut most = 0;
    for model in [OPENAI_MODEL, PRESET] {
        let before = s.app.db.statement_count();
        let a = complete(&s.app, &s.admin, ask(model, true)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert!(a.text.ends_with("data: [DONE]\n\n"), "{}", a.text);
        most = most.max(s.app.db.statement_count() - before);
    }
    most
}

#[tokio::test]
async fn a_warm_completion_for_a_known_model_runs_no_statement() {
    assert_eq!(warm_statements(&CACHED_FOR_A_MINUTE).await, 0);
    // The same with the model cache off: the models and their grants are read each time.
    let off = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "0"), ("SETTINGS_CACHE_TTL", "60000")];
    assert_eq!(warm_statements(&off).await, 2);
}

async fn within(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not seen within 5 s");
}

#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn a_model_write_on_one_instance_reaches_the_other() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHED_FOR_A_MINUTE);
    let s = setup(Backend::Postgres, &env).await;
    let openai_url = s.openai.url();
    let ollama_url = s.ollama.url();
    let mut b_env = env.clone();
    b_env.extend([
        ("OPENAI_API_BASE_URLS", openai_url.as_str()),
        ("OPENAI_API_KEYS", crate::completions::KEY),
        ("OLLAMA_BASE_URLS", ollama_url.as_str()),
        ("MODELS_CACHE_TTL", "3600"),
    ]);
    let (a, admin) = (&s.app, &s.admin);
    let b = a.separate_instance(&b_env).await;
    within("both serve", async || a.db.read_caches_serving() && b.db.read_caches_serving()).await;
    let (alice, alice_id) = a.user(admin, "Alice", "alice@example.com", "user").await;
    open_base_model(a, admin).await;

    // Each instance holds its copy before each write.
    for app in [a, &b] {
        assert_eq!(preset_name(app, admin).await, None);
    }
    ok(a, admin, "/api/v1/models/create", preset("Tutor")).await;
    assert_eq!(preset_name(a, admin).await.as_deref(), Some("Tutor"), "at once where written");
    within("created, on B", async || preset_name(&b, admin).await.as_deref() == Some("Tutor")).await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::BAD_REQUEST);

    ok(
        &b,
        admin,
        "/api/v1/models/model/access/update",
        json!({"id": PRESET, "access_grants": [read_by("user", &alice_id)]}),
    )
    .await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::OK, "at once where written");
    within("granted, on A", async || completion_status(a, &alice).await == StatusCode::OK).await;
    assert_eq!(preset_name(a, &alice).await.as_deref(), Some("Tutor"));

    ok(a, admin, "/api/v1/models/model/update", preset("Tutor 2")).await;
    within("renamed, on B", async || preset_name(&b, &alice).await.as_deref() == Some("Tutor 2")).await;

    ok(&b, admin, "/api/v1/models/model/delete", json!({"id": PRESET})).await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::BAD_REQUEST);
    within("deleted, on A", async || completion_status(a, &alice).await == StatusCode::BAD_REQUEST).await;
    assert_eq!(preset_name(a, admin).await, None);
}
