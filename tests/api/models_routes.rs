//! The rest of the models router: version history (list, one version, delete, restore), sync,
//! and a model's profile image — who may call each, exact texts, and that refused writes change
//! nothing. Restores check base models against a small OpenAI-style provider started here.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp, error_of, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const NOT_AUTHENTICATED: &str = "Not authenticated";
const VERSION_NOT_FOUND: &str = "Model version not found";
const CURRENT_VERSION: &str = "Cannot delete the current version";
const BASE_UNAVAILABLE: &str = "The base model is unavailable.";

backend_tests!(
    history_lists_versions_newest_first_twenty_per_page,
    history_routes_need_the_owner_an_admin_or_a_write_grant,
    one_version_answers_its_snapshot,
    deleting_a_version_relinks_its_successor_and_never_the_live_one,
    restoring_a_version_makes_it_live_without_writing_a_new_one,
    restoring_refuses_versions_naming_what_duet_cannot_use,
    sync_makes_the_stored_models_exactly_the_list,
    sync_refusals_change_nothing,
    profile_image_serves_data_urls_redirects_and_the_default,
    graphql_history_pages_and_snapshots_match_rest,
);

// ---- helpers ----

const NO_UPSTREAM: &[(&str, &str)] = &[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")];

/// An OpenAI-style provider listing `ids` on 127.0.0.1; returns its base URL.
async fn provider(ids: &[&str]) -> String {
    let data: Vec<Value> =
        ids.iter().map(|id| json!({"id": id, "object": "model", "owned_by": "system"})).collect();
    let body = json!({"object": "list", "data": data});
    let router = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { axum::Json(body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/v1")
}

/// A server whose chat model list holds `gpt-4o`.
async fn spawn_with_gpt(b: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let url = provider(&["gpt-4o"]).await;
    let mut env = vec![
        ("ENABLE_OPENAI_API", "true"),
        ("ENABLE_OLLAMA_API", "false"),
        ("OPENAI_API_BASE_URLS", url.as_str()),
        ("OPENAI_API_KEYS", "sk-test"),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn_with(b, &env).await
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("object: {v}")).keys().cloned().collect()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/models/create", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "create: {}", a.text);
    a.body
}

async fn update(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/models/model/update", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "update: {}", a.text);
    a.body
}

async fn grant(app: &TestApp, admin: &str, id: &str, user_id: &str, permission: &str) {
    let g = app
        .post(
            "/api/v1/models/model/access/update",
            Some(admin),
            json!({"id": id, "access_grants": [
                {"principal_type": "user", "principal_id": user_id, "permission": permission}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "grant: {}", g.text);
}

fn version_of(model: &Value) -> String {
    model["version_id"].as_str().unwrap_or_else(|| panic!("version_id: {model}")).to_string()
}

async fn history(app: &TestApp, token: &str, query: &str) -> Answer {
    app.get(&format!("/api/v1/models/model/history?{query}"), Some(token)).await
}

async fn versions(app: &TestApp, id: &str) -> i64 {
    app.scalar_count("select count(*) from model_history where model_id = $1", id).await
}

/// Moves a version's time (versions written in one second would otherwise tie).
async fn set_created(app: &TestApp, version: &str, at: i64) {
    app.exec(
        "update model_history set created_at = cast($1 as bigint) where id = $2",
        &[&at.to_string(), version],
    )
    .await;
}

fn restore_path(id: &str) -> String {
    format!("/api/v1/models/model/update/version?id={id}")
}

/// What the model row holds now.
async fn stored(app: &TestApp, admin: &str, id: &str) -> Value {
    let a = app.get(&format!("/api/v1/models/model?id={id}"), Some(admin)).await;
    assert_eq!(a.status, StatusCode::OK, "model: {}", a.text);
    a.body
}

// ---- history ----

async fn history_lists_versions_newest_first_twenty_per_page(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let first = create(
        &app,
        &admin,
        json!({"id": "h", "name": "H", "base_model_id": "gpt-4o", "meta": {}, "params": {},
               "commit_message": "first"}),
    )
    .await;
    grant(&app, &admin, "h", &bob_id, "write").await;
    let second = update(
        &app,
        &bob,
        json!({"id": "h", "name": "H2", "meta": {}, "params": {"temperature": 0.2}, "commit_message": "by bob"}),
    )
    .await;
    set_created(&app, &version_of(&first), 1_000).await;
    set_created(&app, &version_of(&second), 2_000).await;

    let a = history(&app, &admin, "id=h").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body,
        json!([
            {"id": version_of(&second), "model_id": "h", "parent_id": version_of(&first), "user_id": bob_id,
             "commit_message": "by bob", "created_at": 2_000, "user": {"name": "Bob"}},
            {"id": version_of(&first), "model_id": "h", "parent_id": null, "user_id": admin_id,
             "commit_message": "first", "created_at": 1_000, "user": {"name": "Admin"}},
        ])
    );
    // An update that changes nothing writes no version.
    update(&app, &admin, json!({"id": "h", "name": "H2", "meta": {}, "params": {"temperature": 0.2}})).await;
    assert_eq!(versions(&app, "h").await, 2);

    // 25 versions: pages of 20, newest first; pages below 1 are the first page.
    for n in 0..23 {
        let v =
            update(&app, &admin, json!({"id": "h", "name": format!("H{n}"), "meta": {}, "params": {}})).await;
        set_created(&app, &version_of(&v), 3_000 + n).await;
    }
    assert_eq!(versions(&app, "h").await, 25);
    let page1 = history(&app, &admin, "id=h").await.body;
    let times: Vec<i64> =
        page1.as_array().expect("list").iter().map(|v| v["created_at"].as_i64().expect("t")).collect();
    assert_eq!(times, (3_003..3_023).rev().collect::<Vec<i64>>());
    assert_eq!(history(&app, &admin, "id=h&page=1").await.body, page1);
    assert_eq!(history(&app, &admin, "id=h&page=0").await.body, page1);
    assert_eq!(history(&app, &admin, "id=h&page=-4").await.body, page1);
    let page2 = history(&app, &admin, "id=h&page=2").await.body;
    let times: Vec<i64> =
        page2.as_array().expect("list").iter().map(|v| v["created_at"].as_i64().expect("t")).collect();
    assert_eq!(times, [3_002, 3_001, 3_000, 2_000, 1_000]);
    assert_eq!(history(&app, &admin, "id=h&page=3").await.body, json!([]));
    assert_eq!(history(&app, &admin, "id=h&page=9223372036854775807").await.body, json!([]));
    // A page that is not an integer is 422 in FastAPI's shape.
    let bad = history(&app, &admin, "id=h&page=two").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["type"], "int_parsing");
    assert_eq!(bad.body["detail"][0]["loc"], json!(["query", "page"]));
    let huge = history(&app, &admin, "id=h&page=99999999999999999999").await;
    assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", huge.text);
    // An author whose account is gone has no `user`.
    let d = app.delete(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let last = history(&app, &admin, "id=h&page=2").await.body;
    assert_eq!(last[3]["user_id"], bob_id.as_str());
    assert_eq!(last[3]["user"], Value::Null);
}

async fn history_routes_need_the_owner_an_admin_or_a_write_grant(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, _) = app.admin().await;
    let (reader, reader_id) = app.user(&admin, "Rita", "rita@example.com", "user").await;
    let (writer, writer_id) = app.user(&admin, "Wes", "wes@example.com", "user").await;
    let (other, _) = app.user(&admin, "Olga", "olga@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let m = create(
        &app,
        &admin,
        json!({"id": "g", "name": "G", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    let v2 = update(&app, &admin, json!({"id": "g", "name": "G2", "meta": {}, "params": {}})).await;
    let (old, live) = (version_of(&m), version_of(&v2));
    grant(&app, &admin, "g", &reader_id, "read").await;
    let g = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin),
            json!({"id": "g", "access_grants": [
                {"principal_type": "user", "principal_id": reader_id, "permission": "read"},
                {"principal_type": "user", "principal_id": writer_id, "permission": "write"}]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);

    let calls = |token: Option<String>| {
        let app = &app;
        let (old, live) = (old.clone(), live.clone());
        async move {
            let t = token.as_deref();
            vec![
                app.get("/api/v1/models/model/history?id=g", t).await,
                app.get(&format!("/api/v1/models/model/history/{live}?id=g"), t).await,
                app.send("DELETE", &format!("/api/v1/models/model/history/{old}?id=g"), t, None).await,
                app.send("POST", &restore_path("g"), t, Some(json!({"version_id": old}))).await,
            ]
        }
    };
    for a in calls(None).await {
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED), "{}", a.text);
    }
    for a in calls(Some(pending.clone())).await {
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{}", a.text);
    }
    for token in [&reader, &other] {
        for a in calls(Some(token.clone())).await {
            assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED), "{}", a.text);
        }
    }
    assert_eq!(versions(&app, "g").await, 2, "refused deletes removed nothing");
    assert_eq!(version_of(&stored(&app, &admin, "g").await), live, "refused restores changed nothing");
    // A write grant reaches every route (restore of a preset needs its base model listed: none is).
    let w = calls(Some(writer.clone())).await;
    assert_eq!(w[0].status, StatusCode::OK, "{}", w[0].text);
    assert_eq!(w[0].body.as_array().map(Vec::len), Some(2));
    assert_eq!(w[1].status, StatusCode::OK, "{}", w[1].text);
    assert_eq!((w[2].status, w[2].body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(
        (w[3].status, w[3].detail()),
        (StatusCode::NOT_FOUND, VERSION_NOT_FOUND),
        "deleted just before"
    );
    // Unknown models are 404 NOT_FOUND; a missing `id` is 422.
    for a in [
        app.get("/api/v1/models/model/history?id=nope", Some(&admin)).await,
        app.get(&format!("/api/v1/models/model/history/{live}?id=nope"), Some(&admin)).await,
        app.send("DELETE", &format!("/api/v1/models/model/history/{live}?id=nope"), Some(&admin), None).await,
        app.send("POST", &restore_path("nope"), Some(&admin), Some(json!({"version_id": live}))).await,
    ] {
        assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, NOT_FOUND), "{}", a.text);
    }
    for a in [
        app.get("/api/v1/models/model/history", Some(&admin)).await,
        app.get(&format!("/api/v1/models/model/history/{live}"), Some(&admin)).await,
        app.send(
            "POST",
            "/api/v1/models/model/update/version",
            Some(&admin),
            Some(json!({"version_id": live})),
        )
        .await,
    ] {
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(a.body["detail"][0]["type"], "missing");
        assert_eq!(a.body["detail"][0]["loc"], json!(["query", "id"]));
    }

    // Without BYPASS_ADMIN_ACCESS_CONTROL an admin needs ownership or a write grant too.
    let Some(strict) =
        TestApp::spawn_with(b, &[NO_UPSTREAM[0], NO_UPSTREAM[1], ("BYPASS_ADMIN_ACCESS_CONTROL", "false")])
            .await
    else {
        return;
    };
    let (first, _) = strict.admin().await;
    let (second, _) = strict.user(&first, "Second", "second@example.com", "admin").await;
    create(
        &strict,
        &first,
        json!({"id": "s", "name": "S", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    let a = strict.get("/api/v1/models/model/history?id=s", Some(&second)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED), "{}", a.text);
    assert_eq!(strict.get("/api/v1/models/model/history?id=s", Some(&first)).await.status, StatusCode::OK);
}

async fn one_version_answers_its_snapshot(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, admin_id) = app.admin().await;
    let m = create(
        &app,
        &admin,
        json!({"id": "s", "name": "Snap", "base_model_id": "gpt-4o",
               "meta": {"description": "d", "hidden": true, "tags": ["t"]}, "params": {"system": "be brief"},
               "commit_message": "c1"}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"id": "other", "name": "O", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    let v = version_of(&m);
    let a = app.get(&format!("/api/v1/models/model/history/{v}?id=s"), Some(&admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        keys(&a.body),
        ["id", "model_id", "parent_id", "user_id", "commit_message", "created_at", "user", "snapshot"]
    );
    assert_eq!(a.body["id"], v.as_str());
    assert_eq!(a.body["user_id"], admin_id.as_str());
    assert_eq!(a.body["user"], json!({"name": "Admin"}));
    assert_eq!(a.body["commit_message"], "c1");
    // The snapshot is the configuration as it was; `hidden` belongs to the live model only.
    assert_eq!(
        a.body["snapshot"],
        json!({"name": "Snap", "base_model_id": "gpt-4o", "params": {"system": "be brief"},
               "meta": {"profile_image_url": null, "background_image_url": null, "description": "d", "i18n": null,
                        "capabilities": null, "knowledge": null, "voice": null, "voice_avatar": null,
                        "tags": [{"name": "t"}]}})
    );
    for path in [
        "/api/v1/models/model/history/nope?id=s".to_string(),
        format!("/api/v1/models/model/history/{v}?id=other"),
    ] {
        let a = app.get(&path, Some(&admin)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, VERSION_NOT_FOUND), "{path}");
    }
}

async fn deleting_a_version_relinks_its_successor_and_never_the_live_one(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, _) = app.admin().await;
    let v1 =
        version_of(&create(&app, &admin, json!({"id": "d", "name": "D1", "meta": {}, "params": {}})).await);
    let v2 =
        version_of(&update(&app, &admin, json!({"id": "d", "name": "D2", "meta": {}, "params": {}})).await);
    let v3 =
        version_of(&update(&app, &admin, json!({"id": "d", "name": "D3", "meta": {}, "params": {}})).await);
    let del = |v: &str| format!("/api/v1/models/model/history/{v}?id=d");

    let live = app.send("DELETE", &del(&v3), Some(&admin), None).await;
    assert_eq!((live.status, live.detail()), (StatusCode::BAD_REQUEST, CURRENT_VERSION), "{}", live.text);
    assert_eq!(versions(&app, "d").await, 3);

    let a = app.send("DELETE", &del(&v2), Some(&admin), None).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!(true)), "{}", a.text);
    assert_eq!(versions(&app, "d").await, 2);
    assert_eq!(
        app.scalar_text("select parent_id from model_history where id = $1", &v3).await.as_deref(),
        Some(v1.as_str()),
        "the successor now follows the deleted version's parent"
    );
    let again = app.send("DELETE", &del(&v2), Some(&admin), None).await;
    assert_eq!((again.status, again.detail()), (StatusCode::NOT_FOUND, VERSION_NOT_FOUND));
    // Deleting the first version leaves its successor without a parent.
    let a = app.send("DELETE", &del(&v1), Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(app.scalar_text("select parent_id from model_history where id = $1", &v3).await, None);
    assert_eq!(versions(&app, "d").await, 1);
    // The model itself is untouched.
    let m = stored(&app, &admin, "d").await;
    assert_eq!((m["name"].clone(), version_of(&m)), (json!("D3"), v3));
}

async fn restoring_a_version_makes_it_live_without_writing_a_new_one(b: Backend) {
    let Some(app) = spawn_with_gpt(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (wes, wes_id) = app.user(&admin, "Wes", "wes@example.com", "user").await;
    let v1 = version_of(
        &create(
            &app,
            &admin,
            json!({"id": "r", "name": "One", "base_model_id": "gpt-4o",
                   "meta": {"description": "first", "profile_image_url": "https://example.com/1.png"},
                   "params": {"system": "one"}}),
        )
        .await,
    );
    grant(&app, &admin, "r", &wes_id, "write").await;
    let v2 = version_of(
        &update(
            &app,
            &admin,
            json!({"id": "r", "name": "Two", "meta": {"description": "second", "profile_image_url": null},
                   "params": {"system": "two", "temperature": 0.3}}),
        )
        .await,
    );
    // Live state the version does not own: hidden and inactive.
    update(
        &app,
        &admin,
        json!({"id": "r", "name": "Two", "meta": {"description": "second", "hidden": true},
                                 "params": {"system": "two", "temperature": 0.3}}),
    )
    .await;
    let t = app.send("POST", "/api/v1/models/model/toggle?id=r", Some(&admin), None).await;
    assert_eq!(t.body["is_active"], json!(false), "{}", t.text);
    assert_eq!(versions(&app, "r").await, 2);
    let before = stored(&app, &admin, "r").await;
    assert_eq!(version_of(&before), v2);

    let a = app.post(&restore_path("r"), Some(&wes), json!({"version_id": v1})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["version_id"], v1.as_str());
    assert_eq!(a.body["name"], "One");
    assert_eq!(a.body["params"], json!({"system": "one"}));
    assert_eq!(a.body["meta"]["description"], "first");
    assert_eq!(a.body["meta"]["profile_image_url"], "https://example.com/1.png");
    assert_eq!(a.body["meta"]["hidden"], json!(true), "hidden stays as it was");
    assert_eq!(a.body["is_active"], json!(false), "is_active stays as it was");
    assert_eq!(a.body["user_id"], admin_id.as_str(), "the owner stays");
    assert_eq!(a.body["access_grants"].as_array().map(Vec::len), Some(1));
    assert_eq!(versions(&app, "r").await, 2, "restoring writes no version");
    let now = stored(&app, &admin, "r").await;
    assert_eq!(version_of(&now), v1);
    assert!(now["updated_at"].as_i64() >= before["updated_at"].as_i64());
    // The live version cannot be deleted now; the other one can.
    let d = app.send("DELETE", &format!("/api/v1/models/model/history/{v1}?id=r"), Some(&admin), None).await;
    assert_eq!((d.status, d.detail()), (StatusCode::BAD_REQUEST, CURRENT_VERSION));
    // And back.
    let back = app.post(&restore_path("r"), Some(&admin), json!({"version_id": v2})).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!((back.body["name"].clone(), back.body["version_id"].clone()), (json!("Two"), json!(v2)));
    assert_eq!(back.body["meta"]["profile_image_url"], Value::Null);

    // Unknown versions and bad bodies.
    let a = app.post(&restore_path("r"), Some(&admin), json!({"version_id": "nope"})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, VERSION_NOT_FOUND));
    for (body, kind) in [(json!({}), "missing"), (json!({"version_id": 5}), "string_type")] {
        let a = app.post(&restore_path("r"), Some(&admin), body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
        assert_eq!(a.body["detail"][0]["type"], kind);
        assert_eq!(a.body["detail"][0]["loc"], json!(["body", "version_id"]));
    }
    let a = app.post(&restore_path("r"), Some(&admin), json!([1])).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(version_of(&stored(&app, &admin, "r").await), v2, "refused restores changed nothing");
}

async fn restoring_refuses_versions_naming_what_duet_cannot_use(b: Backend) {
    let Some(app) = spawn_with_gpt(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (wes, wes_id) = app.user(&admin, "Wes", "wes@example.com", "user").await;
    let plain = json!({"id": "x", "name": "X", "base_model_id": "gpt-4o", "meta": {}, "params": {}});
    create(&app, &admin, plain.clone()).await;
    grant(&app, &admin, "x", &wes_id, "write").await;
    let cases = [
        (
            json!({"knowledge": [{"id": "k1", "type": "collection"}]}),
            "Referenced knowledge is unavailable: k1",
        ),
        (json!({"knowledge": [{"id": "n1", "type": "note"}]}), "Referenced note is unavailable: n1"),
        (
            json!({"knowledge": [{"id": "f1", "type": "file"}]}),
            "A referenced knowledge file is missing or inaccessible.",
        ),
        (json!({"skillIds": ["s1"]}), "Referenced skill is unavailable: s1"),
        (json!({"toolIds": ["t1"]}), "A referenced tool is missing or inaccessible."),
        (json!({"filterIds": ["f1"]}), "A referenced function is unavailable: f1"),
        (json!({"actionIds": ["a1"]}), "A referenced function is unavailable: a1"),
        (json!({"terminalId": "term"}), "The referenced terminal is missing or inaccessible."),
    ];
    for (meta, text) in cases {
        let mut body = plain.clone();
        body["meta"] = meta.clone();
        let v = version_of(&update(&app, &admin, body).await);
        let live = version_of(&update(&app, &admin, plain.clone()).await);
        let a = app.post(&restore_path("x"), Some(&admin), json!({"version_id": v})).await;
        assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, text), "{meta}: {}", a.text);
        assert_eq!(version_of(&stored(&app, &admin, "x").await), live, "{meta}: nothing changed");
    }
    // Legacy and id-less knowledge entries are not checked.
    let mut body = plain.clone();
    body["meta"] = json!({"knowledge": [{"id": "old", "legacy": true}, {"name": "no id"}]});
    let v = version_of(&update(&app, &admin, body).await);
    update(&app, &admin, plain.clone()).await;
    let a = app.post(&restore_path("x"), Some(&admin), json!({"version_id": v})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    // A version whose base model is not listed.
    let mut body = plain.clone();
    body["base_model_id"] = json!("gone-model");
    let v = version_of(&update(&app, &admin, body).await);
    let live = version_of(&update(&app, &admin, plain.clone()).await);
    let a = app.post(&restore_path("x"), Some(&admin), json!({"version_id": v})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, BASE_UNAVAILABLE));
    assert_eq!(version_of(&stored(&app, &admin, "x").await), live);
    // A version without a base model: an admin may go back to it, a user may not.
    let mut body = plain.clone();
    body["base_model_id"] = Value::Null;
    let bare = version_of(&update(&app, &admin, body).await);
    update(&app, &admin, plain.clone()).await;
    let a = app.post(&restore_path("x"), Some(&wes), json!({"version_id": bare})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED), "{}", a.text);
    assert_ne!(version_of(&stored(&app, &admin, "x").await), bare);
    let a = app.post(&restore_path("x"), Some(&admin), json!({"version_id": bare})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["base_model_id"], Value::Null);

    // With no provider at all, no preset version can be restored.
    let Some(bare_app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin2, _) = bare_app.admin().await;
    let v = version_of(&create(&bare_app, &admin2, plain.clone()).await);
    let a = bare_app.post(&restore_path("x"), Some(&admin2), json!({"version_id": v})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, BASE_UNAVAILABLE));
}

// ---- sync ----

/// A `ModelModel` as an export from another server carries it.
fn exported(id: &str, name: &str, base: Option<&str>) -> Value {
    json!({"version_id": "elsewhere-v1", "id": id, "user_id": "someone-elsewhere", "base_model_id": base,
           "name": name, "params": {"system": format!("{name} prompt")}, "meta": {"description": name},
           "access_grants": [], "is_active": true, "updated_at": 1, "created_at": 1})
}

async fn sync_makes_the_stored_models_exactly_the_list(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (_, uma_id) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    // Presets A and B (Uma may read both) and a settings row C for an upstream model.
    create(
        &app,
        &admin,
        json!({"id": "a", "name": "A", "base_model_id": "gpt-4o",
                                 "meta": {"profile_image_url": "https://example.com/a.png"}, "params": {}}),
    )
    .await;
    grant(&app, &admin, "a", &uma_id, "read").await;
    create(
        &app,
        &admin,
        json!({"id": "b", "name": "B", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    grant(&app, &admin, "b", &uma_id, "read").await;
    create(&app, &admin, json!({"id": "c", "name": "C", "meta": {}, "params": {}})).await;
    let a_before = stored(&app, &admin, "a").await;

    let mut a = exported("a", "A synced", Some("gpt-4o"));
    a["access_grants"] = json!([{"id": "g1", "resource_type": "model", "resource_id": "a",
                                  "principal_type": "user", "principal_id": "*", "permission": "read", "created_at": 1}]);
    let mut d = exported("d", "D", Some("gpt-4o"));
    d["access_grants"] = json!([
        {"id": "g2", "resource_type": "model", "resource_id": "d", "principal_type": "user",
         "principal_id": uma_id, "permission": "write", "created_at": 1},
        {"id": "g3", "resource_type": "model", "resource_id": "d", "principal_type": "user",
         "principal_id": "nobody-here", "permission": "read", "created_at": 1}]);
    let s = app.post("/api/v1/models/sync", Some(&admin), json!({"models": [a, d.clone(), d]})).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let list = s.body.as_array().expect("list");
    assert_eq!(list.iter().map(|m| m["id"].clone()).collect::<Vec<_>>(), [json!("a"), json!("d")]);
    assert_eq!(
        keys(&list[0]),
        [
            "version_id",
            "id",
            "user_id",
            "base_model_id",
            "name",
            "params",
            "meta",
            "access_grants",
            "is_active",
            "updated_at",
            "created_at"
        ]
    );
    // A is updated in place: its owner, creation time and grants stay; a new version is written;
    // the profile image the list omits is gone.
    let a = &list[0];
    assert_eq!(a["name"], "A synced");
    assert_eq!(a["user_id"], a_before["user_id"]);
    assert_eq!(a["created_at"], a_before["created_at"]);
    assert_eq!(a["params"], json!({"system": "A synced prompt"}));
    assert_eq!(a["meta"]["profile_image_url"], Value::Null);
    assert_eq!(a["access_grants"][0]["principal_id"], uma_id.as_str());
    assert_eq!(a["access_grants"].as_array().map(Vec::len), Some(1));
    assert_ne!(a["version_id"], a_before["version_id"]);
    assert_eq!(versions(&app, "a").await, 2);
    // D is new: the caller owns it, it starts its own history and times, grants naming nobody go.
    let d = &list[1];
    assert_eq!(d["user_id"], admin_id.as_str());
    assert_ne!(d["version_id"], "elsewhere-v1");
    assert!(d["created_at"].as_i64().unwrap_or(0) > 1_000_000_000);
    assert_eq!(d["access_grants"].as_array().map(Vec::len), Some(1));
    assert_eq!(d["access_grants"][0]["principal_id"], uma_id.as_str());
    assert_eq!(d["access_grants"][0]["permission"], "write");
    assert_eq!(versions(&app, "d").await, 1, "named twice, written once: the second write changed nothing");
    // B and C are gone with their grants and history.
    for id in ["b", "c"] {
        assert_eq!(app.scalar_count("select count(*) from models where id = $1", id).await, 0, "{id}");
        assert_eq!(versions(&app, id).await, 0, "{id}");
        assert_eq!(
            app.scalar_count("select count(*) from access_grants where resource_id = $1", id).await,
            0
        );
    }
    assert_eq!(app.scalar_count("select count(*) from models where $1 = $1", "x").await, 2);

    // An empty list (or none) empties the table, as the reference does.
    let e = app.post("/api/v1/models/sync", Some(&admin), json!({})).await;
    assert_eq!((e.status, e.body.clone()), (StatusCode::OK, json!([])), "{}", e.text);
    assert_eq!(app.scalar_count("select count(*) from models where $1 = $1", "x").await, 0);
    assert_eq!(app.scalar_count("select count(*) from model_history where $1 = $1", "x").await, 0);
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where resource_type = $1", "model").await,
        0
    );
}

async fn sync_refusals_change_nothing(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, _) = app.admin().await;
    let (uma, _) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    create(
        &app,
        &admin,
        json!({"id": "keep", "name": "Keep", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    let models = || app.scalar_count("select count(*) from models where id = $1", "keep");
    let body = json!({"models": [exported("new", "New", Some("gpt-4o"))]});

    let anon = app.post("/api/v1/models/sync", None, body.clone()).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED));
    let user = app.post("/api/v1/models/sync", Some(&uma), body.clone()).await;
    assert_eq!((user.status, user.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // A role too low is refused before the body is read.
    let user = app.post("/api/v1/models/sync", Some(&uma), json!({"models": 3})).await;
    assert_eq!(user.status, StatusCode::UNAUTHORIZED);

    // Every bad model is reported, located inside the list.
    let mut bad = exported("bad", "Bad", None);
    bad.as_object_mut().expect("object").remove("user_id");
    bad["updated_at"] = json!("later");
    bad["id"] = json!("has space");
    let a = app
        .post("/api/v1/models/sync", Some(&admin), json!({"models": [exported("ok", "Ok", None), bad, "x"]}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let found: Vec<(Value, Value)> = a.body["detail"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["type"].clone(), e["loc"].clone()))
        .collect();
    assert_eq!(
        found,
        [
            (json!("string_pattern_mismatch"), json!(["body", "models", 1, "id"])),
            (json!("missing"), json!(["body", "models", 1, "user_id"])),
            (json!("int_parsing"), json!(["body", "models", 1, "updated_at"])),
            (json!("model_type"), json!(["body", "models", 2])),
        ]
    );
    let a = app.post("/api/v1/models/sync", Some(&admin), json!({"models": {"id": "x"}})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["type"], "list_type");
    // A model naming a background image duet does not hold stops the whole sync.
    let mut img = exported("img", "Img", Some("gpt-4o"));
    img["meta"]["background_image_url"] = json!("/api/v1/files/0b0e4a6e-0000-4000-8000-000000000000/content");
    let a = app
        .post("/api/v1/models/sync", Some(&admin), json!({"models": [exported("first", "First", None), img]}))
        .await;
    assert_eq!(
        (a.status, a.detail()),
        (StatusCode::FORBIDDEN, "Background image is not accessible."),
        "{}",
        a.text
    );

    assert_eq!(models().await, 1, "the stored model is still there");
    for id in ["new", "ok", "first", "img"] {
        assert_eq!(app.scalar_count("select count(*) from models where id = $1", id).await, 0, "{id}");
    }
}

// ---- profile image ----

/// `GET` without following redirects; the cookie instead of a bearer token when `cookie`.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: &str,
    cookie: bool,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let req = client.get(app.url(path));
    let req = if cookie { req.header("cookie", format!("token={token}")) } else { req.bearer_auth(token) };
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn default_image() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/model.png")).expect("assets/model.png")
}

async fn profile_image_serves_data_urls_redirects_and_the_default(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, _) = app.admin().await;
    let (uma, uma_id) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    let (olga, _) = app.user(&admin, "Olga", "olga@example.com", "user").await;
    // A 1×1 PNG.
    let png =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    create(
        &app,
        &admin,
        json!({"id": "data", "name": "Data", "base_model_id": "gpt-4o",
               "meta": {"profile_image_url": format!("data:image/png;base64,{png}")}, "params": {}}),
    )
    .await;
    grant(&app, &admin, "data", &uma_id, "read").await;
    let updated_at = stored(&app, &admin, "data").await["updated_at"].as_i64().expect("updated_at");
    create(&app, &admin, json!({"id": "far", "name": "Far", "base_model_id": "gpt-4o",
                                 "meta": {"profile_image_url": "https://images.example.com/a.png?s=96"}, "params": {}}))
    .await;
    create(
        &app,
        &admin,
        json!({"id": "plain", "name": "Plain", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"id": "static", "name": "Static", "base_model_id": "gpt-4o",
                                 "meta": {"profile_image_url": "/static/favicon.png"}, "params": {}}),
    )
    .await;
    let path = |id: &str| format!("/api/v1/models/model/profile/image?id={id}");

    let (status, headers, body) = fetch(&app, &path("data"), &uma, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["etag"], format!("\"{updated_at}\"").as_str());
    assert!(body.starts_with(b"\x89PNG\r\n\x1a\n") && body.len() > 60 && body != default_image());
    // The session cookie works as an `<img>` sends it.
    let (status, _, cookie_body) = fetch(&app, &path("data"), &uma, true).await;
    assert_eq!((status, cookie_body), (StatusCode::OK, body.clone()));

    let (status, headers, _) = fetch(&app, &path("far"), &admin, false).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://images.example.com/a.png?s=96");

    // No image, a web-app static path, an unknown id, and a model the caller may not read: the
    // default image, never an error.
    for (id, token) in [("plain", &admin), ("static", &admin), ("no-such-model", &uma), ("data", &olga)] {
        let (status, headers, body) = fetch(&app, &path(id), token, false).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        assert_eq!(headers["content-type"], "image/png", "{id}");
        assert_eq!(body, default_image(), "{id}");
    }
    let anon = app.get(&path("data"), None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED));
    let missing = app.get("/api/v1/models/model/profile/image", Some(&uma)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["detail"][0]["loc"], json!(["query", "id"]));

    // Without URL forwarding no `<img>` is sent to another origin: the default image instead.
    let env = [NO_UPSTREAM[0], NO_UPSTREAM[1], ("ENABLE_PROFILE_IMAGE_URL_FORWARDING", "false")];
    let Some(closed) = TestApp::spawn_with(b, &env).await else { return };
    let (admin, _) = closed.admin().await;
    create(&closed, &admin, json!({"id": "far", "name": "Far", "base_model_id": "gpt-4o",
                                    "meta": {"profile_image_url": "https://images.example.com/a.png"}, "params": {}}))
    .await;
    let (status, _, body) = fetch(&closed, &path("far"), &admin, false).await;
    assert_eq!((status, body), (StatusCode::OK, default_image()));
}

// ---- GraphQL ----

async fn graphql_history_pages_and_snapshots_match_rest(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, NO_UPSTREAM).await else { return };
    let (admin, _) = app.admin().await;
    let (reader, reader_id) = app.user(&admin, "Rita", "rita@example.com", "user").await;
    let q0 = create(&app, &admin, json!({"id": "q", "name": "Q0", "meta": {}, "params": {}})).await;
    set_created(&app, &version_of(&q0), 10_000).await;
    grant(&app, &admin, "q", &reader_id, "read").await;
    for n in 1..22 {
        let v =
            update(&app, &admin, json!({"id": "q", "name": format!("Q{n}"), "meta": {}, "params": {}})).await;
        set_created(&app, &version_of(&v), 10_000 + n).await;
    }
    let doc = "query($p: Int) { model(id: \"q\") { history(page: $p) { id parentId authorName createdAt snapshot } } }";
    for page in [1, 2] {
        let g = gql(&app, Some(&admin), doc, json!({"p": page})).await;
        assert!(g.body["errors"].is_null(), "{}", g.text);
        let list = g.body["data"]["model"]["history"].as_array().expect("list").clone();
        let rest = history(&app, &admin, &format!("id=q&page={page}")).await.body;
        let rest = rest.as_array().expect("list");
        assert_eq!(list.len(), rest.len());
        assert_eq!(list.len(), if page == 1 { 20 } else { 2 });
        for (g, r) in list.iter().zip(rest) {
            assert_eq!(g["id"], r["id"]);
            assert_eq!(g["parentId"], r["parent_id"]);
            assert_eq!(g["authorName"], r["user"]["name"]);
            let entry = app
                .get(
                    &format!("/api/v1/models/model/history/{}?id=q", r["id"].as_str().expect("id")),
                    Some(&admin),
                )
                .await;
            assert_eq!(g["snapshot"], entry.body["snapshot"]);
        }
    }
    // Snapshots through `modelVersion` too; a reader of the model may not see its history.
    let first = history(&app, &admin, "id=q&page=2").await.body[1]["id"].as_str().expect("id").to_string();
    let g = gql(
        &app,
        Some(&admin),
        "query($v: String!) { modelVersion(id: \"q\", versionId: $v) { snapshot } }",
        json!({"v": first}),
    )
    .await;
    assert_eq!(g.body["data"]["modelVersion"]["snapshot"]["name"], "Q0", "{}", g.text);
    let g = gql(&app, Some(&reader), doc, json!({"p": 1})).await;
    assert_eq!(error_of(&g), (ACCESS_PROHIBITED.to_string(), "ACCESS_PROHIBITED".to_string()));
    assert_eq!(g.body["data"]["model"], Value::Null);
    // Mutations answer the model as REST does.
    let g = gql(
        &app,
        Some(&admin),
        "mutation($v: String!) { restoreModelVersion(id: \"q\", versionId: $v) { name versionId } }",
        json!({"v": first}),
    )
    .await;
    assert_eq!(
        g.body["data"]["restoreModelVersion"],
        json!({"name": "Q0", "versionId": first}),
        "{}",
        g.text
    );
    let g = gql(
        &app,
        Some(&admin),
        "mutation($v: String!) { deleteModelVersion(id: \"q\", versionId: $v) }",
        json!({"v": first}),
    )
    .await;
    assert_eq!(error_of(&g), (CURRENT_VERSION.to_string(), "CURRENT_MODEL_VERSION".to_string()));
}
