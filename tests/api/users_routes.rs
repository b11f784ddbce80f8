//! The rest of `/api/v1/users`: fixed paths before `/{user_id}`, the full list and the search,
//! the default tree's defaults, the caller's settings, status, info, variables and usage, and per
//! user: public info, activity, OAuth sessions, the avatar, session revocation and the preview.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, PASSWORD, TestApp, error_of, gql};

const NOT_AUTHENTICATED: &str = "Not authenticated";
const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const ACTION_PROHIBITED: &str = "The requested action has been restricted as a security measure.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";

/// The keys of the reference's `UserInfoResponse`, in its order.
const INFO_FIELDS: &[&str] = &[
    "status_emoji",
    "status_message",
    "status_expires_at",
    "id",
    "name",
    "email",
    "role",
    "bio",
    "last_active_at",
    "timezone",
    "groups",
    "is_active",
];

/// The default avatar as committed.
const AVATAR: &[u8] = include_bytes!("../../assets/user.png");

/// Long session-cache lifetimes: every answer below must still follow this server's writes.
const READ_CACHES: [(&str, &str); 2] = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000")];

backend_tests!(
    fixed_paths_are_not_taken_for_user_ids,
    all_lists_every_users_public_info_for_admins_only,
    search_is_for_verified_users_with_the_lists_filter_and_pages,
    default_permission_defaults_ignore_stored_changes,
    settings_update_merges_and_shows_in_the_next_read,
    settings_forms_that_are_not_objects_are_422_and_store_nothing,
    default_interface_settings_fill_in_unless_raw,
    settings_a_caller_may_not_change_are_dropped,
    status_routes_follow_the_user_status_switch,
    info_update_merges_shallowly,
    variables_are_checked_and_replaced,
    usage_counts_the_messages_of_stored_chats,
    usage_query_is_checked,
    user_info_by_id_is_public_info_for_verified_callers,
    active_by_id_reads_the_last_three_minutes,
    oauth_sessions_are_admin_only_and_there_are_none,
    profile_image_decodes_data_urls_with_their_type,
    profile_image_redirects_to_external_urls,
    profile_image_is_the_default_avatar_otherwise_and_works_with_the_cookie,
    profile_image_forwarding_and_types_follow_the_configuration,
    profile_image_refusals,
    signup_answers_a_profile_image_url_that_is_served,
    revoking_sessions_ends_every_token_of_the_user,
    revoking_sessions_refusals,
    preview_lists_the_active_models_a_user_can_read,
    graphql_settings_follow_the_rest_rules,
);

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().expect("object").keys().map(String::as_str).collect()
}

fn assert_refused(a: &Answer, status: u16, detail: &str, what: &str) {
    assert_eq!((a.status.as_u16(), a.detail()), (status, detail), "{what}: {}", a.text);
}

/// Admin, a pending user, and two users (Alice, Bob): tokens and ids.
struct People {
    admin: String,
    admin_id: String,
    pending: String,
    alice: String,
    alice_id: String,
    bob: String,
    bob_id: String,
}

async fn people(app: &TestApp) -> People {
    let (admin, admin_id) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    People { admin, admin_id, pending, alice, alice_id, bob, bob_id }
}

/// Anonymous, pending and (for admin routes) user callers get their refusals.
async fn refusals(
    app: &TestApp,
    p: &People,
    method: &str,
    path: &str,
    body: Option<Value>,
    admin_only: bool,
) {
    let a = app.send(method, path, None, body.clone()).await;
    assert_refused(&a, 401, NOT_AUTHENTICATED, &format!("anonymous {method} {path}"));
    let a = app.send(method, path, Some(&p.pending), body.clone()).await;
    assert_refused(&a, 401, ACCESS_PROHIBITED, &format!("pending {method} {path}"));
    if admin_only {
        let a = app.send(method, path, Some(&p.alice), body).await;
        assert_refused(&a, 401, ACCESS_PROHIBITED, &format!("user {method} {path}"));
    }
}

async fn fixed_paths_are_not_taken_for_user_ids(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for path in [
        "/api/v1/users/all",
        "/api/v1/users/search",
        "/api/v1/users/usage",
        "/api/v1/users/user/settings",
        "/api/v1/users/user/status",
        "/api/v1/users/user/info",
        "/api/v1/users/user/variables",
        "/api/v1/users/default/permissions/defaults",
    ] {
        let a = app.get(path, Some(&admin)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    }
    // The same words are still user ids below them.
    let a = app.get("/api/v1/users/all/info", Some(&admin)).await;
    assert_refused(&a, 400, NOT_FOUND, "an unknown id named all");
}

async fn all_lists_every_users_public_info_for_admins_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    // Distinct creation times, newest last created.
    for (i, id) in [&p.alice_id, &p.bob_id].iter().enumerate() {
        let at = (now() + 10 + i as i64).to_string();
        app.exec("update users set created_at = cast($2 as bigint) where id = $1", &[id, &at]).await;
    }
    let a = app.get("/api/v1/users/all", Some(&p.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["total"], json!(4));
    let users = a.body["users"].as_array().expect("users");
    assert_eq!(users.len(), 4);
    assert_eq!(users[0]["name"], "Bob", "newest first");
    assert_eq!(users[1]["name"], "Alice");
    assert_eq!(keys(&users[0]), INFO_FIELDS);
    assert_eq!(users[0]["email"], "bob@example.com");
    assert_eq!(users[0]["role"], "user");
    assert_eq!(users[0]["groups"], json!([]));
    assert_eq!(users[0]["is_active"], json!(false), "not computed, as the reference");
    assert!(users[0]["last_active_at"].is_i64());
    assert!(!a.text.contains("password") && !a.text.contains("settings"));
    refusals(&app, &p, "GET", "/api/v1/users/all", None, true).await;
}

async fn search_is_for_verified_users_with_the_lists_filter_and_pages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/search?query=ALI", Some(&p.bob)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["total"], json!(1));
    assert_eq!(a.body["users"][0]["id"], json!(p.alice_id));
    assert_eq!(keys(&a.body["users"][0]), INFO_FIELDS);
    let a = app.get("/api/v1/users/search?order_by=name&direction=asc", Some(&p.bob)).await;
    let names: Vec<&str> = a.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Admin", "Alice", "Bob", "Pat"]);
    let a = app.get("/api/v1/users/search?page=2", Some(&p.bob)).await;
    assert_eq!((a.body["users"].clone(), a.body["total"].clone()), (json!([]), json!(4)));
    let a = app.get("/api/v1/users/search?page=x", Some(&p.bob)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["loc"], json!(["query", "page"]));
    refusals(&app, &p, "GET", "/api/v1/users/search", None, false).await;
}

async fn default_permission_defaults_ignore_stored_changes(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("USER_PERMISSIONS_CHAT_EDIT", "false")]).await else { return };
    let p = people(&app).await;
    let mut tree = app.get("/api/v1/users/default/permissions", Some(&p.admin)).await.body;
    tree["chat"]["delete"] = json!(false);
    let a = app.post("/api/v1/users/default/permissions", Some(&p.admin), tree).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app.get("/api/v1/users/default/permissions/defaults", Some(&p.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = crate::users::reference_tree();
    expected["chat"]["edit"] = json!(false);
    assert_eq!(a.body, expected, "the environment's tree, not the stored one");
    refusals(&app, &p, "GET", "/api/v1/users/default/permissions/defaults", None, true).await;
}

async fn settings_update_merges_and_shows_in_the_next_read(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/user/settings", Some(&p.alice)).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, Value::Null), "{}", a.text);

    let form = json!({"ui": {"theme": "dark", "x": 1, "gone": null}, "foo": {"a": 1}});
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.alice), form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"ui": {"theme": "dark", "x": 1}, "foo": {"a": 1}}));
    assert_eq!(
        app.get("/api/v1/users/user/settings", Some(&p.alice)).await.body,
        a.body,
        "the session cache follows"
    );

    // `ui` is patched key by key (null removes); other keys are replaced whole.
    let form = json!({"ui": {"x": null, "lang": "de"}, "foo": {"b": 2}, "bar": true});
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.alice), form).await;
    let expected = json!({"ui": {"theme": "dark", "lang": "de"}, "foo": {"b": 2}, "bar": true});
    assert_eq!(a.body, expected, "{}", a.text);
    assert_eq!(keys(&a.body)[0], "ui");
    // Without `ui` (or with `ui: null`) the stored `ui` stays.
    let a = app
        .post("/api/v1/users/user/settings/update", Some(&p.alice), json!({"ui": null, "bar": false}))
        .await;
    assert_eq!(a.body["ui"], json!({"theme": "dark", "lang": "de"}), "{}", a.text);
    assert_eq!(a.body["bar"], json!(false));
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.bob), json!({"only": 1})).await;
    assert_eq!(a.body, json!({"ui": {}, "only": 1}), "{}", a.text);
    // The admin's view of the user shows the same object, and only this user changed.
    let u = app.get(&format!("/api/v1/users/{}", p.alice_id), Some(&p.admin)).await;
    assert_eq!(u.body["settings"], app.get("/api/v1/users/user/settings", Some(&p.alice)).await.body);
    assert_eq!(app.get("/api/v1/users/user/settings", Some(&p.admin)).await.body, Value::Null);

    refusals(&app, &p, "GET", "/api/v1/users/user/settings", None, false).await;
    refusals(&app, &p, "POST", "/api/v1/users/user/settings/update", Some(json!({"ui": {}})), false).await;
}

async fn settings_forms_that_are_not_objects_are_422_and_store_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a =
        app.post("/api/v1/users/user/settings/update", Some(&p.alice), json!({"ui": "dark", "x": 1})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["type"], "dict_type");
    assert_eq!(a.body["detail"][0]["loc"], json!(["body", "ui"]));
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.alice), json!([1])).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        app.scalar_count("select count(*) from users where id = $1 and settings is not null", &p.alice_id)
            .await,
        0
    );
}

async fn default_interface_settings_fill_in_unless_raw(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let defaults = json!({"theme": "light", "title": {"auto": true, "size": 1}, "chatBubble": true});
    app.set_admin_config(&p.admin, json!({"DEFAULT_INTERFACE_SETTINGS": defaults})).await;
    let a = app.get("/api/v1/users/user/settings", Some(&p.bob)).await;
    assert_eq!(a.body, json!({"ui": defaults}), "no settings of their own: {}", a.text);

    let form = json!({"ui": {"theme": "dark", "title": {"auto": false}}, "k": 1});
    app.post("/api/v1/users/user/settings/update", Some(&p.alice), form).await;
    let a = app.get("/api/v1/users/user/settings", Some(&p.alice)).await;
    let merged =
        json!({"ui": {"theme": "dark", "title": {"auto": false, "size": 1}, "chatBubble": true}, "k": 1});
    assert_eq!(a.body, merged, "{}", a.text);
    let raw = app.get("/api/v1/users/user/settings?raw=true", Some(&p.alice)).await;
    assert_eq!(raw.body, json!({"ui": {"theme": "dark", "title": {"auto": false}}, "k": 1}), "{}", raw.text);
    let a = app.get("/api/v1/users/user/settings?raw=maybe", Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
}

async fn settings_a_caller_may_not_change_are_dropped(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let mut tree = app.get("/api/v1/users/default/permissions", Some(&p.admin)).await.body;
    tree["settings"]["interface"] = json!(false);
    tree["chat"]["system_prompt"] = json!(false);
    let a = app.post("/api/v1/users/default/permissions", Some(&p.admin), tree).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let form = json!({
        "ui": {"chatBubble": false, "widescreenMode": true, "theme": "dark", "system": "Be terse",
               "toolServers": [{"url": "http://tools"}], "notifications": {"webhook_url": "http://hook", "sound": true}},
        "notifications": {"webhook_url": "http://hook"},
        "other": 1
    });
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.alice), form.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"ui": {"theme": "dark", "notifications": {"sound": true}}, "other": 1}));
    // Admins hold every permission.
    let a = app.post("/api/v1/users/user/settings/update", Some(&p.admin), form.clone()).await;
    assert_eq!(a.body["ui"], form["ui"], "{}", a.text);
    assert_eq!(a.body["notifications"], form["notifications"]);
}

async fn status_routes_follow_the_user_status_switch(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/user/status", Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["id"], json!(p.alice_id));
    assert_eq!(a.body["email"], "alice@example.com");
    assert_eq!(a.body["status_message"], Value::Null);
    assert!(a.body.get("variables").is_none());

    let form = json!({"status_emoji": "🌴", "status_message": "Away", "status_expires_at": 1_900_000_000});
    let a = app.post("/api/v1/users/user/status/update", Some(&p.alice), form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (
            a.body["id"].clone(),
            a.body["status_emoji"].clone(),
            a.body["status_message"].clone(),
            a.body["status_expires_at"].clone()
        ),
        (json!(p.alice_id), json!("🌴"), json!("Away"), json!(1_900_000_000))
    );
    // Null or absent keeps a field.
    let a = app
        .post(
            "/api/v1/users/user/status/update",
            Some(&p.alice),
            json!({"status_message": null, "status_emoji": "🏠"}),
        )
        .await;
    assert_eq!(
        (a.body["status_emoji"].clone(), a.body["status_message"].clone()),
        (json!("🏠"), json!("Away"))
    );
    assert_eq!(app.get("/api/v1/users/user/status", Some(&p.alice)).await.body["status_emoji"], json!("🏠"));
    let info = app.get(&format!("/api/v1/users/{}/info", p.alice_id), Some(&p.bob)).await;
    assert_eq!(info.body["status_message"], json!("Away"));

    let a = app
        .post("/api/v1/users/user/status/update", Some(&p.alice), json!({"status_expires_at": "soon"}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["loc"], json!(["body", "status_expires_at"]));
    refusals(&app, &p, "GET", "/api/v1/users/user/status", None, false).await;
    refusals(&app, &p, "POST", "/api/v1/users/user/status/update", Some(json!({})), false).await;

    app.set_admin_config(&p.admin, json!({"ENABLE_USER_STATUS": false})).await;
    let a = app.get("/api/v1/users/user/status", Some(&p.alice)).await;
    assert_refused(&a, 403, ACTION_PROHIBITED, "status off");
    let a =
        app.post("/api/v1/users/user/status/update", Some(&p.alice), json!({"status_message": "Back"})).await;
    assert_refused(&a, 403, ACTION_PROHIBITED, "status off");
    assert_eq!(
        app.scalar_text("select status_message from users where id = $1", &p.alice_id).await.as_deref(),
        Some("Away")
    );
}

async fn info_update_merges_shallowly(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/user/info", Some(&p.alice)).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, Value::Null), "{}", a.text);
    let a = app.post("/api/v1/users/user/info/update", Some(&p.alice), json!({"a": 1, "b": {"c": 1}})).await;
    assert_eq!(a.body, json!({"a": 1, "b": {"c": 1}}), "{}", a.text);
    let a =
        app.post("/api/v1/users/user/info/update", Some(&p.alice), json!({"b": {"d": 2}, "e": null})).await;
    assert_eq!(a.body, json!({"a": 1, "b": {"d": 2}, "e": null}), "{}", a.text);
    assert_eq!(app.get("/api/v1/users/user/info", Some(&p.alice)).await.body, a.body);
    assert_eq!(app.get("/api/v1/users/user/info", Some(&p.bob)).await.body, Value::Null);
    let a = app.post("/api/v1/users/user/info/update", Some(&p.alice), json!("text")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    refusals(&app, &p, "GET", "/api/v1/users/user/info", None, false).await;
    refusals(&app, &p, "POST", "/api/v1/users/user/info/update", Some(json!({})), false).await;
}

async fn variables_are_checked_and_replaced(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let get = || app.get("/api/v1/users/user/variables", Some(&p.alice));
    assert_eq!(get().await.body, json!({"variables": {}}));
    let form = json!({"variables": {"name": "Ada", "city": "a\r\nb"}});
    let a = app.post("/api/v1/users/user/variables/update", Some(&p.alice), form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"variables": {"name": "Ada", "city": "a\nb"}}));
    assert_eq!(get().await.body, a.body);
    assert_eq!(app.get("/api/v1/users/user/variables", Some(&p.bob)).await.body, json!({"variables": {}}));
    // Never part of a user answer.
    let u = app.get(&format!("/api/v1/users/{}", p.alice_id), Some(&p.admin)).await;
    assert!(u.body.get("variables").is_none(), "{}", u.text);

    for (variables, text) in [
        (json!({"Name": "x"}), "Invalid user variable key: Name"),
        (json!({"9lives": "x"}), "Invalid user variable key: 9lives"),
        (json!({"age": 3}), "User variable must be a string: age"),
        (json!({"bio": "x".repeat(20_001)}), "User variable is too long: bio"),
        (
            json!({"a": "x".repeat(20_000), "b": "x".repeat(20_000), "c": "x".repeat(20_000),
                "d": "x".repeat(20_000), "e": "x".repeat(20_000)}),
            "User variables are too large.",
        ),
    ] {
        let a = app
            .post("/api/v1/users/user/variables/update", Some(&p.alice), json!({"variables": variables}))
            .await;
        assert_refused(&a, 400, text, "bad variables");
    }
    for form in [json!({"variables": "x"}), json!({"variables": null}), json!([])] {
        let a = app.post("/api/v1/users/user/variables/update", Some(&p.alice), form.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}: {}", a.text);
    }
    assert_eq!(
        get().await.body,
        json!({"variables": {"name": "Ada", "city": "a\nb"}}),
        "refusals store nothing"
    );
    // An absent `variables` clears them.
    let a = app.post("/api/v1/users/user/variables/update", Some(&p.alice), json!({})).await;
    assert_eq!(a.body, json!({"variables": {}}), "{}", a.text);
    assert_eq!(get().await.body, json!({"variables": {}}));
    refusals(&app, &p, "GET", "/api/v1/users/user/variables", None, false).await;
    refusals(&app, &p, "POST", "/api/v1/users/user/variables/update", Some(json!({})), false).await;
}

async fn usage_counts_the_messages_of_stored_chats(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let t = now() - 3600;
    let chat = json!({
        "title": "Usage",
        "history": {"currentId": "m2", "messages": {
            "m1": {"id": "m1", "parentId": null, "childrenIds": ["m2"], "role": "user", "content": "hi", "timestamp": t},
            "m2": {"id": "m2", "parentId": "m1", "childrenIds": [], "role": "assistant", "content": "hello",
                   "model": "gpt-x", "timestamp": t + 20, "usage": {"prompt_tokens": 12, "completion_tokens": 30}}
        }}
    });
    let c = app.post("/api/v1/chats/new", Some(&p.alice), json!({"chat": chat})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    app.post("/api/v1/chats/new", Some(&p.alice), json!({"chat": {"title": "Empty"}})).await;

    let a = app.get("/api/v1/users/usage?days=7", Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let totals = &a.body["totals"];
    assert_eq!(totals["total_chats"], json!(2));
    assert_eq!(
        (totals["messages"].clone(), totals["user_messages"].clone(), totals["assistant_messages"].clone()),
        (json!(2), json!(1), json!(1))
    );
    assert_eq!(
        (totals["input_tokens"].clone(), totals["output_tokens"].clone(), totals["lifetime_tokens"].clone()),
        (json!(12), json!(30), json!(42))
    );
    assert_eq!((totals["models_used"].clone(), totals["active_days"].clone()), (json!(1), json!(1)));
    assert_eq!(totals["longest_chat_seconds"], json!(20));
    assert_eq!(totals["peak_daily_tokens"], json!(42));
    assert_eq!(
        a.body["top_models"],
        json!([{"model_id": "gpt-x", "messages": 1, "input_tokens": 12, "output_tokens": 30, "total_tokens": 42}])
    );
    assert_eq!(a.body["insights"]["most_used_model"], json!("gpt-x"));
    assert_eq!(a.body["insights"]["average_tokens_per_chat"], json!(21.0));
    assert_eq!(a.body["insights"]["user_message_share"], json!(50.0));
    assert_eq!(a.body["top_tools"], json!([]));
    let heatmap = a.body["heatmap"].as_array().expect("heatmap");
    assert!((7..=8).contains(&heatmap.len()), "{} days", heatmap.len());
    let busy: Vec<&Value> = heatmap.iter().filter(|d| d["messages"] != json!(0)).collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(
        (
            busy[0]["messages"].clone(),
            busy[0]["chats"].clone(),
            busy[0]["tokens"].clone(),
            busy[0]["models"].clone()
        ),
        (json!(2), json!(1), json!(42), json!({"gpt-x": 1}))
    );
    assert_eq!(
        a.body["cumulative_heatmap"].as_array().expect("cumulative").last().expect("day")["messages"],
        json!(2)
    );
    assert_eq!(a.body["period"]["days"], json!(7));
    // Another user sees only their own (nothing).
    let a = app.get("/api/v1/users/usage", Some(&p.bob)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        (a.body["totals"]["messages"].clone(), a.body["totals"]["total_chats"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(a.body["insights"]["most_used_model"], Value::Null);
    assert_eq!(a.body["period"]["days"], json!(730));
    refusals(&app, &p, "GET", "/api/v1/users/usage", None, false).await;
}

async fn usage_query_is_checked(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/usage?days=6", Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body["detail"][0],
        json!({"type": "greater_than_equal", "loc": ["query", "days"], "msg": "Input should be greater than or equal to 7", "input": "6", "ctx": {"ge": 7}})
    );
    let a = app.get("/api/v1/users/usage?days=733", Some(&p.alice)).await;
    assert_eq!(a.body["detail"][0]["type"], "less_than_equal", "{}", a.text);
    let a = app.get("/api/v1/users/usage?days=a", Some(&p.alice)).await;
    assert_eq!(a.body["detail"][0]["type"], "int_parsing", "{}", a.text);
    let a = app.get("/api/v1/users/usage?start_date=2000000000&end_date=1900000000", Some(&p.alice)).await;
    assert_refused(&a, 400, "start_date must be before end_date", "start after end");
    let extreme = format!("/api/v1/users/usage?start_date={}&end_date={}", i64::MIN, i64::MAX);
    let a = app.get(&extreme, Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = app.get("/api/v1/users/usage?start_date=1700000000&end_date=1700086400", Some(&p.alice)).await;
    assert_eq!(a.body["period"], json!({"start_date": 1_700_000_000, "end_date": 1_700_086_400, "days": 2}));
    let dates: Vec<&str> = a.body["heatmap"]
        .as_array()
        .expect("heatmap")
        .iter()
        .map(|d| d["date"].as_str().expect("date"))
        .collect();
    assert_eq!(dates, ["2023-11-14", "2023-11-15"]);
}

async fn user_info_by_id_is_public_info_for_verified_callers(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a = app.get(&format!("/api/v1/users/{}/info", p.admin_id), Some(&p.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), INFO_FIELDS);
    assert_eq!(
        (a.body["id"].clone(), a.body["name"].clone(), a.body["role"].clone()),
        (json!(p.admin_id), json!("Admin"), json!("admin"))
    );
    assert_eq!(a.body["is_active"], json!(true));
    assert_eq!(a.body["groups"], json!([]));
    let a = app.get("/api/v1/users/no-such-user/info", Some(&p.alice)).await;
    assert_refused(&a, 400, NOT_FOUND, "unknown id");
    refusals(&app, &p, "GET", &format!("/api/v1/users/{}/info", p.admin_id), None, false).await;
}

async fn active_by_id_reads_the_last_three_minutes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let path = format!("/api/v1/users/{}/active", p.bob_id);
    assert_eq!(app.get(&path, Some(&p.alice)).await.body, json!({"active": true}));
    let long_ago = (now() - 181).to_string();
    app.exec("update users set last_active_at = cast($2 as bigint) where id = $1", &[&p.bob_id, &long_ago])
        .await;
    assert_eq!(app.get(&path, Some(&p.alice)).await.body, json!({"active": false}));
    assert_eq!(
        app.get("/api/v1/users/no-such-user/active", Some(&p.alice)).await.body,
        json!({"active": false})
    );
    refusals(&app, &p, "GET", &path, None, false).await;
}

async fn oauth_sessions_are_admin_only_and_there_are_none(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let path = format!("/api/v1/users/{}/oauth/sessions", p.alice_id);
    assert_refused(&app.get(&path, Some(&p.admin)).await, 400, NOT_FOUND, "no OAuth sessions");
    assert_refused(
        &app.get("/api/v1/users/nobody/oauth/sessions", Some(&p.admin)).await,
        400,
        NOT_FOUND,
        "unknown",
    );
    refusals(&app, &p, "GET", &path, None, true).await;
}

/// A GET answering raw bytes; `cookie` sends the token as the `token` cookie instead of a header.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: &str,
    cookie: bool,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let req = client.get(app.url(path));
    let req = if cookie {
        req.header("cookie", format!("theme=dark; token={token}"))
    } else {
        req.bearer_auth(token)
    };
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body").to_vec())
}

async fn set_image(app: &TestApp, admin: &str, id: &str, url: &str) {
    let a =
        app.post(&format!("/api/v1/users/{id}/update"), Some(admin), json!({"profile_image_url": url})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

async fn profile_image_decodes_data_urls_with_their_type(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let path = format!("/api/v1/users/{}/profile/image", p.alice_id);
    let bytes = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    set_image(&app, &p.admin, &p.alice_id, &format!("data:image/png;base64,{b64}")).await;
    let (status, headers, body) = fetch(&app, &path, &p.bob, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-disposition"], "inline");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(body, bytes);

    let jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    set_image(&app, &p.admin, &p.alice_id, &format!("data:image/jpeg;base64,{b64}")).await;
    let (status, headers, body) = fetch(&app, &path, &p.alice, false).await;
    assert_eq!((status, headers["content-type"].to_str().expect("type")), (StatusCode::OK, "image/jpeg"));
    assert_eq!(body, jpeg);

    // Types outside the allowed list and undecodable data are the default avatar.
    for url in ["data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", "data:image/png;base64,!!!"] {
        app.exec("update users set profile_image_url = $2 where id = $1", &[&p.alice_id, url]).await;
        let (status, headers, body) = fetch(&app, &path, &p.bob, false).await;
        assert_eq!(
            (status, headers["content-type"].to_str().expect("type")),
            (StatusCode::OK, "image/png"),
            "{url}"
        );
        assert_eq!(body, AVATAR, "{url}");
    }
}

async fn profile_image_redirects_to_external_urls(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    set_image(&app, &p.admin, &p.alice_id, "https://images.example.com/alice.png?size=64").await;
    let (status, headers, _) =
        fetch(&app, &format!("/api/v1/users/{}/profile/image", p.alice_id), &p.bob, false).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://images.example.com/alice.png?size=64");
    set_image(&app, &p.admin, &p.alice_id, "https://bilder.example.com/ä.png").await;
    let (status, headers, _) =
        fetch(&app, &format!("/api/v1/users/{}/profile/image", p.alice_id), &p.bob, false).await;
    assert_eq!(
        (status, headers["location"].to_str().expect("ascii")),
        (StatusCode::FOUND, "https://bilder.example.com/%C3%A4.png")
    );
}

async fn profile_image_is_the_default_avatar_otherwise_and_works_with_the_cookie(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    assert!(AVATAR.starts_with(b"\x89PNG\r\n\x1a\n"), "the committed avatar is a PNG");
    let path = format!("/api/v1/users/{}/profile/image", p.alice_id);
    for cookie in [false, true] {
        let (status, headers, body) = fetch(&app, &path, &p.bob, cookie).await;
        assert_eq!(status, StatusCode::OK, "cookie: {cookie}");
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(body, AVATAR);
    }
    let bobs = format!("/api/v1/users/{}/profile/image", p.bob_id);
    for url in ["/static/favicon.png", bobs.as_str(), ""] {
        set_image(&app, &p.admin, &p.alice_id, url).await;
        assert_eq!(fetch(&app, &path, &p.bob, true).await.2, AVATAR, "{url:?}");
    }
    // An empty stored URL is answered as the avatar's route.
    let u = app.get(&format!("/api/v1/users/{}", p.alice_id), Some(&p.admin)).await;
    assert_eq!(u.body["profile_image_url"], json!(path));
}

/// `ENABLE_PROFILE_IMAGE_URL_FORWARDING=false` serves the default avatar for an external URL (no
/// redirect to another origin); `PROFILE_IMAGE_ALLOWED_MIME_TYPES` narrows what a stored data URL
/// is served as.
async fn profile_image_forwarding_and_types_follow_the_configuration(b: Backend) {
    let env = [
        ("ENABLE_PROFILE_IMAGE_URL_FORWARDING", "false"),
        ("PROFILE_IMAGE_ALLOWED_MIME_TYPES", " image/JPEG "),
    ];
    let Some(app) = TestApp::spawn_with(b, &env).await else { return };
    let p = people(&app).await;
    let path = format!("/api/v1/users/{}/profile/image", p.alice_id);
    set_image(&app, &p.admin, &p.alice_id, "https://images.example.com/alice.png").await;
    let (status, headers, body) = fetch(&app, &path, &p.bob, false).await;
    assert_eq!((status, headers.get("location")), (StatusCode::OK, None));
    assert_eq!(body, AVATAR);
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nx");
    set_image(&app, &p.admin, &p.alice_id, &format!("data:image/png;base64,{png}")).await;
    assert_eq!(fetch(&app, &path, &p.bob, false).await.2, AVATAR, "png is not allowed here");
    let jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 9];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    set_image(&app, &p.admin, &p.alice_id, &format!("data:image/jpeg;base64,{b64}")).await;
    let (status, headers, body) = fetch(&app, &path, &p.bob, false).await;
    assert_eq!((status, headers["content-type"].to_str().expect("type")), (StatusCode::OK, "image/jpeg"));
    assert_eq!(body, jpeg);
}

async fn profile_image_refusals(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a = app.get("/api/v1/users/no-such-user/profile/image", Some(&p.alice)).await;
    assert_refused(&a, 400, NOT_FOUND, "unknown id");
    let path = format!("/api/v1/users/{}/profile/image", p.alice_id);
    refusals(&app, &p, "GET", &path, None, false).await;
    let (status, _, body) = fetch(&app, &path, &p.pending, true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a pending user's cookie");
    assert_eq!(serde_json::from_slice::<Value>(&body).expect("json")["detail"], ACCESS_PROHIBITED);
}

async fn signup_answers_a_profile_image_url_that_is_served(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.signup("Admin", "admin@example.com", PASSWORD).await;
    let id = a.body["id"].as_str().expect("id");
    let token = a.body["token"].as_str().expect("token");
    let url = a.body["profile_image_url"].as_str().expect("url");
    assert_eq!(url, format!("/api/v1/users/{id}/profile/image"));
    let (status, headers, body) = fetch(&app, url, token, true).await;
    assert_eq!((status, headers["content-type"].to_str().expect("type")), (StatusCode::OK, "image/png"));
    assert_eq!(body, AVATAR);
}

async fn revoking_sessions_ends_every_token_of_the_user(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let p = people(&app).await;
    let second =
        app.signin("alice@example.com", PASSWORD).await.body["token"].as_str().expect("token").to_string();
    for t in [&p.alice, &second] {
        assert_eq!(app.get("/api/v1/auths/", Some(t)).await.status, StatusCode::OK);
    }
    let a = app
        .send("POST", &format!("/api/v1/users/{}/sessions/revoke", p.alice_id), Some(&p.admin), None)
        .await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!(true)), "{}", a.text);
    for t in [&p.alice, &second] {
        assert_refused(&app.get("/api/v1/auths/", Some(t)).await, 401, "Invalid token", "revoked token");
    }
    assert_eq!(
        app.get("/api/v1/auths/", Some(&p.bob)).await.status,
        StatusCode::OK,
        "other users keep theirs"
    );
    let fresh = app.signin("alice@example.com", PASSWORD).await;
    assert_eq!(fresh.status, StatusCode::OK, "the password still works");
    let fresh = fresh.body["token"].as_str().expect("token").to_string();
    assert_eq!(app.get("/api/v1/users/user/settings", Some(&fresh)).await.status, StatusCode::OK);
    // The primary admin may end their own sessions.
    let a = app
        .send("POST", &format!("/api/v1/users/{}/sessions/revoke", p.admin_id), Some(&p.admin), None)
        .await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!(true)), "{}", a.text);
    assert_refused(&app.get("/api/v1/auths/", Some(&p.admin)).await, 401, "Invalid token", "own sessions");
}

async fn revoking_sessions_refusals(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let a = app.send("POST", "/api/v1/users/no-such-user/sessions/revoke", Some(&p.admin), None).await;
    assert_refused(&a, 404, "User not found.", "unknown id");
    let (other_admin, _) = app.user(&p.admin, "Second", "second@example.com", "admin").await;
    let a = app
        .send("POST", &format!("/api/v1/users/{}/sessions/revoke", p.admin_id), Some(&other_admin), None)
        .await;
    assert_refused(&a, 403, ACTION_PROHIBITED, "the primary admin by another admin");
    assert_eq!(app.get("/api/v1/auths/", Some(&p.admin)).await.status, StatusCode::OK);
    let path = format!("/api/v1/users/{}/sessions/revoke", p.bob_id);
    refusals(&app, &p, "POST", &path, None, true).await;
    assert_eq!(
        app.get("/api/v1/auths/", Some(&p.bob)).await.status,
        StatusCode::OK,
        "refusals revoke nothing"
    );
}

async fn preview_lists_the_active_models_a_user_can_read(b: Backend) {
    let env = [("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")];
    let Some(app) = TestApp::spawn_with(b, &env).await else { return };
    let p = people(&app).await;
    for (id, name) in [("granted", "Granted"), ("hidden", "Hidden"), ("public", "Public"), ("off", "Off")] {
        let form = json!({"id": id, "name": name, "base_model_id": "gpt-4o", "meta": {}, "params": {}});
        let a = app.post("/api/v1/models/create", Some(&p.admin), form).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    for (id, principal) in [("granted", p.alice_id.as_str()), ("public", "*"), ("off", p.alice_id.as_str())] {
        let grants = json!([{"principal_type": "user", "principal_id": principal, "permission": "read"}]);
        let a = app
            .post(
                "/api/v1/models/model/access/update",
                Some(&p.admin),
                json!({"id": id, "access_grants": grants}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let a = app.send("POST", "/api/v1/models/model/toggle?id=off", Some(&p.admin), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);

    let a = app.get(&format!("/api/v1/users/{}/preview", p.alice_id), Some(&p.admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["user"], json!({"id": p.alice_id, "name": "Alice"}));
    assert_eq!(a.body["groups"], json!([]));
    let mut items: Vec<Value> = a.body["models"]["items"].as_array().expect("items").clone();
    items.sort_by_key(|m| m["id"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        items,
        [json!({"id": "granted", "name": "Granted"}), json!({"id": "public", "name": "Public"})]
    );
    assert_eq!(a.body["models"]["total"], json!(3), "active models");
    assert_eq!(a.body["knowledge"], json!({"items": [], "total": 0}));
    assert_eq!(a.body["tools"], json!({"items": [], "total": 0}));
    let own = app.get(&format!("/api/v1/users/{}/preview", p.admin_id), Some(&p.admin)).await;
    assert_eq!(own.body["models"]["items"].as_array().map(Vec::len), Some(3), "an owner reaches their own");

    let a = app.get("/api/v1/users/no-such-user/preview", Some(&p.admin)).await;
    assert_refused(&a, 404, NOT_FOUND, "unknown id");
    refusals(&app, &p, "GET", &format!("/api/v1/users/{}/preview", p.alice_id), None, true).await;
}

async fn graphql_settings_follow_the_rest_rules(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let p = people(&app).await;
    let me = "{ me { settings } }";
    assert_eq!(gql(&app, Some(&p.alice), me, json!({})).await.body["data"]["me"]["settings"], Value::Null);
    let update = "mutation($s: JSON!) { updateSettings(settings: $s) }";
    let a = gql(&app, Some(&p.alice), update, json!({"s": {"ui": {"theme": "dark"}, "k": 1}})).await;
    assert_eq!(a.body["data"]["updateSettings"], json!({"ui": {"theme": "dark"}, "k": 1}), "{}", a.text);
    let rest = app.get("/api/v1/users/user/settings", Some(&p.alice)).await;
    assert_eq!(gql(&app, Some(&p.alice), me, json!({})).await.body["data"]["me"]["settings"], rest.body);

    app.set_admin_config(&p.admin, json!({"DEFAULT_INTERFACE_SETTINGS": {"lang": "fr"}})).await;
    let q = "query($id: String!) { user(id: $id) { merged: settings raw: settings(raw: true) } }";
    let a = gql(&app, Some(&p.admin), q, json!({"id": p.alice_id})).await;
    assert_eq!(
        a.body["data"]["user"]["merged"],
        json!({"ui": {"lang": "fr", "theme": "dark"}, "k": 1}),
        "{}",
        a.text
    );
    assert_eq!(a.body["data"]["user"]["raw"], json!({"ui": {"theme": "dark"}, "k": 1}));

    let a = gql(&app, Some(&p.pending), me, json!({})).await;
    assert_eq!(error_of(&a), (ACCESS_PROHIBITED.to_string(), "ACCESS_PROHIBITED".to_string()), "{}", a.text);
    let a = gql(&app, Some(&p.pending), update, json!({"s": {"k": 2}})).await;
    assert_eq!(error_of(&a), (ACCESS_PROHIBITED.to_string(), "ACCESS_PROHIBITED".to_string()), "{}", a.text);
    let a = gql(&app, None, update, json!({"s": {"k": 2}})).await;
    assert_eq!(error_of(&a).0, NOT_AUTHENTICATED, "{}", a.text);
    for bad in [json!({"ui": 3}), json!([1])] {
        let a = gql(&app, Some(&p.alice), update, json!({"s": bad})).await;
        assert_eq!(error_of(&a).1, "VALIDATION_ERROR", "{}", a.text);
    }
    assert_eq!(
        rest.body,
        app.get("/api/v1/users/user/settings?raw=true", Some(&p.alice)).await.body,
        "refusals store nothing"
    );
}
