//! What the reference's web app calls on every load besides chats and models: banners (read and
//! set), the tool, function and skill lists, the changelog, a chat's tasks, stopping a task, and
//! usage — who may call each and what an empty server answers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_AUTHENTICATED: &str = "Not authenticated";

backend_tests!(
    banners_are_empty_until_an_admin_sets_them,
    banner_forms_are_checked_and_a_refused_one_stores_nothing,
    tools_functions_and_skills_are_empty_lists_for_verified_users,
    changelog_is_public_and_empty,
    chat_tasks_are_an_empty_list_for_any_chat,
    stopping_a_task_is_for_admins_and_every_id_is_unknown,
    usage_counts_the_users_active_in_the_last_three_minutes,
);

/// Admin, user and pending tokens.
async fn accounts(app: &TestApp) -> (String, String, String) {
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "Uma", "uma@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    (admin, user, pending)
}

/// Anonymous and pending callers are refused as on every verified route.
async fn assert_verified_only(app: &TestApp, method: &str, path: &str, pending: &str) {
    let a = app.send(method, path, None, None).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED), "{path}: {}", a.text);
    let p = app.send(method, path, Some(pending), None).await;
    assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}: {}", p.text);
}

async fn banners_are_empty_until_an_admin_sets_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, pending) = accounts(&app).await;
    assert_verified_only(&app, "GET", "/api/v1/configs/banners", &pending).await;
    for token in [&admin, &user] {
        let a = app.get("/api/v1/configs/banners", Some(token)).await;
        assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!([])), "{}", a.text);
    }
    let banners = json!({"banners": [
        {"id": "b1", "type": "info", "content": "Maintenance at noon", "dismissible": true, "timestamp": 1700000000},
        {"id": "b2", "type": "warning", "title": "Heads up", "content": "New models", "dismissible": "false",
         "timestamp": "1700000001", "i18n": {"de": {"content": "Neue Modelle"}}, "extra": "dropped"}
    ]});
    let stored = json!([
        {"i18n": null, "id": "b1", "type": "info", "title": null, "content": "Maintenance at noon",
         "dismissible": true, "timestamp": 1700000000},
        {"i18n": {"de": {"content": "Neue Modelle"}}, "id": "b2", "type": "warning", "title": "Heads up",
         "content": "New models", "dismissible": false, "timestamp": 1700000001}
    ]);
    // Only an admin sets them.
    let u = app.post("/api/v1/configs/banners", Some(&user), banners.clone()).await;
    assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let anon = app.post("/api/v1/configs/banners", None, banners.clone()).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED));
    assert_eq!(app.scalar_config("ui.banners").await, None, "refused: nothing stored");
    let a = app.post("/api/v1/configs/banners", Some(&admin), banners).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, stored.clone()), "{}", a.text);
    let read = app.get("/api/v1/configs/banners", Some(&user)).await;
    assert_eq!((read.status, read.body.clone()), (StatusCode::OK, stored.clone()));
    let raw: Value =
        serde_json::from_str(&app.scalar_config("ui.banners").await.expect("stored")).expect("json");
    assert_eq!(raw, stored);
    // A second instance sees them too (they live in the database).
    let twin = app.twin().await;
    assert_eq!(twin.get("/api/v1/configs/banners", Some(&user)).await.body, stored);
    // An empty list clears them.
    let c = app.post("/api/v1/configs/banners", Some(&admin), json!({"banners": []})).await;
    assert_eq!((c.status, c.body.clone()), (StatusCode::OK, json!([])));
    assert_eq!(app.get("/api/v1/configs/banners", Some(&user)).await.body, json!([]));
}

async fn banner_forms_are_checked_and_a_refused_one_stores_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, _) = accounts(&app).await;
    let keep = json!({"banners": [{"id": "k", "type": "info", "content": "Keep", "dismissible": true, "timestamp": 1}]});
    assert_eq!(app.post("/api/v1/configs/banners", Some(&admin), keep).await.status, StatusCode::OK);
    let bad = json!({"banners": [
        {"id": 7, "type": "info", "content": "x", "dismissible": true, "timestamp": 1},
        {"type": "info", "content": "y", "dismissible": "maybe", "timestamp": 1.5},
        "not a banner"
    ]});
    let a = app.post("/api/v1/configs/banners", Some(&admin), bad).await;
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
            (json!("string_type"), json!(["body", "banners", 0, "id"])),
            (json!("missing"), json!(["body", "banners", 1, "id"])),
            (json!("bool_parsing"), json!(["body", "banners", 1, "dismissible"])),
            (json!("int_type"), json!(["body", "banners", 1, "timestamp"])),
            (json!("model_type"), json!(["body", "banners", 2])),
        ]
    );
    for body in [
        json!({}),
        json!({"banners": "x"}),
        json!([1]),
        json!({"banners": [{"id": "a", "type": "t",
        "content": "c", "dismissible": true, "timestamp": 1, "i18n": {"de": "Hallo"}}]}),
    ] {
        let a = app.post("/api/v1/configs/banners", Some(&admin), body.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.text);
    }
    let a = app
        .post(
            "/api/v1/configs/banners",
            Some(&admin),
            json!({"banners": [{"id": "n", "type": "info", "content": "nul \u{0}", "dismissible": true, "timestamp": 1}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    // Refused forms left the stored banner alone.
    assert_eq!(app.get("/api/v1/configs/banners", Some(&user)).await.body[0]["content"], "Keep");
    // Long texts are kept whole.
    let long = "x".repeat(200_000);
    let a = app
        .post(
            "/api/v1/configs/banners",
            Some(&admin),
            json!({"banners": [{"id": "h", "type": "info", "content": long, "dismissible": true, "timestamp": 1}]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", &a.text[..a.text.len().min(300)]);
    let after = app.get("/api/v1/configs/banners", Some(&user)).await.body;
    assert_eq!(after[0]["content"].as_str().map(str::len), Some(200_000));
}

async fn tools_functions_and_skills_are_empty_lists_for_verified_users(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, pending) = accounts(&app).await;
    for path in [
        "/api/v1/tools/",
        "/api/v1/tools",
        "/api/v1/tools/?query=search",
        "/api/v1/functions/",
        "/api/v1/functions",
        "/api/v1/skills/",
        "/api/v1/skills",
        "/api/v1/skills/?query=x",
    ] {
        assert_verified_only(&app, "GET", path, &pending).await;
        for token in [&admin, &user] {
            let a = app.get(path, Some(token)).await;
            assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!([])), "{path}: {}", a.text);
            assert_eq!(a.headers["content-type"], "application/json");
        }
    }
}

async fn changelog_is_public_and_empty(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for token in [None, Some("not-a-jwt")] {
        let a = app.get("/api/changelog", token).await;
        assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({})), "{}", a.text);
    }
    let (admin, _) = app.admin().await;
    assert_eq!(app.get("/api/changelog", Some(&admin)).await.body, json!({}));
}

async fn chat_tasks_are_an_empty_list_for_any_chat(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, pending) = accounts(&app).await;
    let chat = app.post("/api/v1/chats/new", Some(&user), json!({"chat": {"title": "T"}})).await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    let id = chat.body["id"].as_str().expect("id").to_string();
    let own = format!("/api/tasks/chat/{id}");
    assert_verified_only(&app, "GET", &own, &pending).await;
    // The owner, an admin, another user's id, an unknown id, an id with slashes: no task runs.
    for (path, token) in [
        (own.as_str(), &user),
        (own.as_str(), &admin),
        ("/api/tasks/chat/no-such-chat", &user),
        ("/api/tasks/chat/local:abc/def", &user),
    ] {
        let a = app.get(path, Some(token)).await;
        assert_eq!(
            (a.status, a.body.clone()),
            (StatusCode::OK, json!({"task_ids": []})),
            "{path}: {}",
            a.text
        );
    }
}

async fn stopping_a_task_is_for_admins_and_every_id_is_unknown(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, pending) = accounts(&app).await;
    let anon = app.send("POST", "/api/tasks/stop/t1", None, None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED));
    for token in [&user, &pending] {
        let a = app.send("POST", "/api/tasks/stop/t1", Some(token), None).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{}", a.text);
    }
    let a = app.send("POST", "/api/tasks/stop/t1", Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"status": false, "message": "Task with ID t1 not found."}));
    // Only POST stops.
    assert_eq!(app.get("/api/tasks/stop/t1", Some(&admin)).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn usage_counts_the_users_active_in_the_last_three_minutes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, user, pending) = accounts(&app).await;
    let (_, idle_id) = app.user(&admin, "Ida", "ida@example.com", "user").await;
    assert_verified_only(&app, "GET", "/api/usage", &pending).await;
    let a = app.get("/api/usage", Some(&user)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"model_ids": [], "user_count": 4}), "every account was just active");
    // Ida was last seen an hour ago, the pending user four minutes ago.
    let hour_ago = (chrono_now() - 3600).to_string();
    app.exec("update users set last_active_at = cast($1 as bigint) where id = $2", &[&hour_ago, &idle_id])
        .await;
    let four_minutes = (chrono_now() - 240).to_string();
    app.exec(
        "update users set last_active_at = cast($1 as bigint) where email = $2",
        &[&four_minutes, "pat@example.com"],
    )
    .await;
    let a = app.get("/api/usage", Some(&admin)).await;
    assert_eq!(a.body, json!({"model_ids": [], "user_count": 2}), "{}", a.text);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}
