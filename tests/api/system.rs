//! Service routes (`/health`, `/health/db`, `/api/version`, `/api/config`) and what every route
//! shares: 404/405 answers, the body-size limit, strict JSON content types, request ids.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp};
use crate::users::reference_tree;

const INVALID_AUTH_REQUEST: &str = "Invalid authentication request.";

backend_tests!(
    health_is_status_true,
    health_db_is_status_true_after_a_query,
    version_reports_the_reference_version_and_deployment_id,
    version_carries_the_configured_deployment_id,
    config_before_any_user_is_onboarding,
    config_after_the_first_signup_has_signup_off_and_no_onboarding,
    config_for_an_admin_reports_only_what_duet_serves,
    config_for_a_pending_user_has_features_but_no_permissions,
    config_with_a_deleted_users_token_is_401,
    config_with_a_garbage_token_or_api_key_is_anonymous,
    unknown_path_is_404_not_found,
    wrong_method_on_a_known_path_is_405,
    oversized_body_is_413_with_json_detail,
    json_sent_as_text_plain_is_422_in_fastapi_shape,
    every_answer_carries_a_request_id,
);

/// The anonymous `features` object of transcript §1, except that duet has no websocket.
fn anonymous_features(enable_signup: bool) -> Value {
    json!({
        "slim": false,
        "auth": true,
        "auth_trusted_header": false,
        "enable_signup_password_confirmation": false,
        "enable_ldap": false,
        "enable_signup": enable_signup,
        "enable_login_form": true,
        "enable_websocket": false
    })
}

/// The whole anonymous `/api/config` answer.
fn anonymous_config(enable_signup: bool) -> Value {
    json!({
        "status": true,
        "name": "Open WebUI",
        "version": "0.12.4",
        "default_locale": "",
        "i18n": {},
        "oauth": {"providers": {}, "auto_redirect": false},
        "features": anonymous_features(enable_signup)
    })
}

/// The keys of a JSON object, in order.
fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

async fn health_is_status_true(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.get("/health", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({"status": true}));
    assert_eq!(a.headers["content-type"], "application/json");
    // A token, good or bad, changes nothing.
    assert_eq!(app.get("/health", Some("not-a-jwt")).await.body, json!({"status": true}));
}

async fn health_db_is_status_true_after_a_query(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.get("/health/db", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!({"status": true}));
    let (admin, _) = app.admin().await;
    assert_eq!(app.get("/health/db", Some(&admin)).await.body, json!({"status": true}));
}

async fn version_reports_the_reference_version_and_deployment_id(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.get("/api/version", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({"version": "0.12.4", "deployment_id": ""}));
}

async fn version_carries_the_configured_deployment_id(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("DEPLOYMENT_ID", "blue-7")]).await else { return };
    let a = app.get("/api/version", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({"version": "0.12.4", "deployment_id": "blue-7"}));
}

async fn config_before_any_user_is_onboarding(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.get("/api/config", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = json!({"onboarding": true});
    for (k, v) in anonymous_config(true).as_object().expect("object") {
        expected[k] = v.clone();
    }
    assert_eq!(a.body, expected);
    assert_eq!(keys(&a.body)[0], "onboarding", "the reference sends onboarding first");
    assert_eq!(
        keys(&a.body["features"]),
        [
            "slim",
            "auth",
            "auth_trusted_header",
            "enable_signup_password_confirmation",
            "enable_ldap",
            "enable_signup",
            "enable_login_form",
            "enable_websocket"
        ]
    );
}

async fn config_after_the_first_signup_has_signup_off_and_no_onboarding(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    app.admin().await;
    let a = app.get("/api/config", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, anonymous_config(false));
    assert!(a.body.get("onboarding").is_none());
    assert_eq!(app.scalar_config("ui.enable_signup").await.as_deref(), Some("false"));
}

/// The flags a signed-in caller sees on a fresh server: on only for what duet serves.
fn signed_in_features(enable_signup: bool, enable_api_keys: bool) -> Value {
    let mut f = anonymous_features(enable_signup);
    let more: [(&str, Value); 44] = [
        ("enable_api_keys", json!(enable_api_keys)),
        ("enable_password_change_form", json!(true)),
        ("enable_version_update_check", json!(false)),
        ("enable_pyodide_file_persistence", json!(false)),
        ("enable_public_active_users_count", json!(true)),
        ("enable_easter_eggs", json!(true)),
        ("enable_direct_connections", json!(false)),
        ("enable_direct_integrations", json!(false)),
        ("enable_plugins", json!(false)),
        ("enable_tools", json!(false)),
        ("enable_functions", json!(false)),
        ("enable_tool_servers", json!(false)),
        ("enable_terminal_servers", json!(false)),
        ("enable_folders", json!(true)),
        ("folder_max_file_count", json!("")),
        ("enable_channels", json!(false)),
        ("enable_encrypted_channels", json!(false)),
        ("enable_apps", json!(false)),
        ("enable_calendar", json!(false)),
        ("enable_automations", json!(false)),
        ("enable_notes", json!(false)),
        ("enable_context_compaction", json!(false)),
        ("enable_tool_permissions", json!(false)),
        ("enable_web_search", json!(false)),
        ("enable_web_search_confirmation", json!(false)),
        ("web_search_confirmation_content", json!("")),
        ("enable_code_execution", json!(false)),
        ("enable_code_interpreter", json!(false)),
        ("enable_image_generation", json!(false)),
        ("enable_autocomplete_generation", json!(false)),
        ("enable_title_generation", json!(false)),
        ("enable_follow_up_generation", json!(false)),
        ("enable_tags_generation", json!(false)),
        ("enable_community_sharing", json!(true)),
        ("enable_message_rating", json!(false)),
        ("enable_user_webhooks", json!(false)),
        ("enable_user_status", json!(true)),
        ("enable_admin_export", json!(true)),
        ("enable_admin_chat_access", json!(true)),
        ("enable_admin_analytics", json!(false)),
        ("enable_google_drive_integration", json!(false)),
        ("enable_onedrive_integration", json!(false)),
        ("enable_memories", json!(false)),
        ("enable_subagents", json!(false)),
    ];
    for (k, v) in more {
        f[k] = v;
    }
    f
}

/// The part of a verified caller's answer after `features` on a fresh server.
fn member_part() -> Value {
    json!({
        "default_models": null,
        "default_pinned_models": null,
        "default_prompt_suggestions": null,
        "default_prompt_suggestions_i18n": {},
        "code": {"engine": "pyodide", "interpreter_engine": "pyodide"},
        "audio": {
            "realtime": {"enabled": false, "model": "", "voice": ""},
            "tts": {"engine": "", "voice": "", "split_on": "punctuation"},
            "stt": {"engine": "web"}
        },
        "file": {"max_size": null, "max_count": null, "image_compression": {"width": null, "height": null}},
        "permissions": reference_tree(),
        "google_drive": {"client_id": "", "api_key": ""},
        "onedrive": {"client_id_personal": "", "client_id_business": "", "sharepoint_url": "", "sharepoint_tenant_id": ""},
        "ui": {
            "default_interface_settings": {},
            "visibility": {},
            "pending_user_overlay_title": "",
            "pending_user_overlay_content": "",
            "response_watermark": "",
            "iframe_csp": ""
        },
        "license_metadata": null
    })
}

async fn config_for_an_admin_reports_only_what_duet_serves(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.get("/api/config", Some(&admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = anonymous_config(false);
    expected["features"] = signed_in_features(false, false);
    for (k, v) in member_part().as_object().expect("object") {
        expected[k] = v.clone();
    }
    assert_eq!(a.body, expected);
    assert_eq!(keys(&a.body), keys(&expected), "the reference's key order");
    assert_eq!(keys(&a.body["features"]), keys(&expected["features"]));
    // Features duet serves follow the stored configuration; those it does not serve stay off
    // whatever the admin config says (so the web app never calls their routes).
    app.set_admin_config(
        &admin,
        json!({"ENABLE_API_KEYS": true, "ENABLE_FOLDERS": false, "ENABLE_USER_STATUS": false,
               "ENABLE_CHANNELS": true, "ENABLE_NOTES": true, "ENABLE_MESSAGE_RATING": true,
               "ENABLE_CALENDAR": true, "ENABLE_AUTOMATIONS": true, "ENABLE_MEMORIES": true,
               "ENABLE_USER_WEBHOOKS": true, "RESPONSE_WATERMARK": "AI", "DEFAULT_INTERFACE_SETTINGS": {"a": 1}}),
    )
    .await;
    let mut tree = reference_tree();
    tree["workspace"]["models"] = json!(true);
    let p = app.post("/api/v1/users/default/permissions", Some(&admin), tree.clone()).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let after = app.get("/api/config", Some(&admin)).await.body;
    let f = &after["features"];
    for (k, v) in [("enable_api_keys", true), ("enable_folders", false), ("enable_user_status", false)] {
        assert_eq!(f[k], json!(v), "{k}");
    }
    for k in [
        "enable_channels",
        "enable_notes",
        "enable_message_rating",
        "enable_calendar",
        "enable_automations",
        "enable_memories",
        "enable_user_webhooks",
    ] {
        assert_eq!(f[k], json!(false), "{k}");
    }
    assert_eq!(after["ui"]["response_watermark"], "AI");
    assert_eq!(after["ui"]["default_interface_settings"], json!({"a": 1}));
    assert_eq!(after["permissions"], tree);
    // The notes the web app would load are not served, and not asked for (`enable_notes`).
    assert_eq!(app.get("/api/v1/notes/pinned", Some(&admin)).await.status, StatusCode::NOT_FOUND);
    // The token cookie works as well as the header.
    let cookie = format!("token={admin}");
    let c = app.raw("GET", "/api/config", &[("cookie", &cookie)], None).await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(c.body["permissions"], tree);
}

async fn config_for_a_pending_user_has_features_but_no_permissions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let a = app.get("/api/config", Some(&pending)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = anonymous_config(false);
    expected["features"] = signed_in_features(false, false);
    expected["ui"] = json!({"pending_user_overlay_title": "", "pending_user_overlay_content": ""});
    assert_eq!(a.body, expected);
    assert_eq!(keys(&a.body), keys(&expected));
    // The waiting screen's texts are the stored ones.
    app.set_admin_config(&admin, json!({"PENDING_USER_OVERLAY_TITLE": "Hold on"})).await;
    assert_eq!(
        app.get("/api/config", Some(&pending)).await.body["ui"]["pending_user_overlay_title"],
        "Hold on"
    );
    // Once promoted, the same token sees the permissions.
    let id = app.get("/api/v1/auths/", Some(&pending)).await.body["id"].as_str().expect("id").to_string();
    let u = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"role": "user"})).await;
    assert_eq!(u.status, StatusCode::OK);
    let promoted = app.get("/api/config", Some(&pending)).await.body;
    assert_eq!(promoted["permissions"], reference_tree());
    assert_eq!(promoted["ui"]["pending_user_overlay_title"], "Hold on");
    assert_eq!(promoted["audio"]["stt"]["engine"], "web");
}

async fn config_with_a_deleted_users_token_is_401(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    assert_eq!(app.get("/api/config", Some(&alice)).await.status, StatusCode::OK);
    let d = app.delete(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let a = app.get("/api/config", Some(&alice)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(a.body, json!({"detail": INVALID_AUTH_REQUEST}));
    let cookie = format!("token={alice}");
    let c = app.raw("GET", "/api/config", &[("cookie", &cookie)], None).await;
    assert_eq!((c.status, c.detail()), (StatusCode::UNAUTHORIZED, INVALID_AUTH_REQUEST));
    // Anonymous callers are unaffected.
    assert_eq!(app.get("/api/config", None).await.status, StatusCode::OK);
}

async fn config_with_a_garbage_token_or_api_key_is_anonymous(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let before = app.get("/api/config", Some("not-a-jwt")).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(before.body["onboarding"], json!(true));

    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    let garbage_cookie = "token=garbage";
    let x_api_key = [("x-api-key", key.as_str())];
    for a in [
        app.get("/api/config", Some("not-a-jwt")).await,
        app.get("/api/config", Some("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")).await,
        app.raw("GET", "/api/config", &[("cookie", garbage_cookie)], None).await,
        app.get("/api/config", Some(&key)).await,
        app.raw("GET", "/api/config", &x_api_key, None).await,
    ] {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.body, anonymous_config(false));
    }
}

async fn unknown_path_is_404_not_found(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for path in ["/nope", "/api/v1/nope", "/api/v1/users/a/b/c", "/api/v1/users/update/role/x"] {
        for token in [None, Some(admin.as_str())] {
            let a = app.get(path, token).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(a.body, json!({"detail": "Not Found"}), "{path}");
            assert_eq!(a.headers["content-type"], "application/json");
        }
    }
}

async fn wrong_method_on_a_known_path_is_405(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for (method, path) in [
        ("DELETE", "/health"),
        ("POST", "/api/version"),
        ("PUT", "/api/config"),
        ("GET", "/api/v1/auths/signin"),
        ("DELETE", "/api/v1/users/default/permissions"),
    ] {
        let a = app.send(method, path, Some(&admin), None).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(a.body, json!({"detail": "Method Not Allowed"}), "{method} {path}");
    }
    // Nothing was deleted by the refused request.
    assert_eq!(
        serde_json::from_str::<Value>(&app.scalar_config("user.permissions").await.expect("row"))
            .expect("json"),
        reference_tree()
    );
}

async fn oversized_body_is_413_with_json_detail(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("REQUEST_BODY_LIMIT", "1024")]).await else { return };
    let big = "x".repeat(2000);
    let a = app.signup(&big, "big@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.body, json!({"detail": "The request body is too large."}));
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(app.scalar_count("select count(*) from users where $1 = $1", "x").await, 0);
    // Small bodies pass; the limit holds on the other routers too.
    let (admin, id) = app.admin().await;
    let u = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"name": big})).await;
    assert_eq!(u.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", u.text);
    assert_eq!(u.body, json!({"detail": "The request body is too large."}));
    assert_eq!(app.scalar_text("select name from users where id = $1", &id).await.as_deref(), Some("Admin"));
    let ok = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"name": "Chief"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

async fn json_sent_as_text_plain_is_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let bearer = format!("Bearer {admin}");
    let a = app
        .raw(
            "POST",
            &format!("/api/v1/users/{id}/update"),
            &[("authorization", &bearer), ("content-type", "text/plain")],
            Some(r#"{"name":"Plain"}"#),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]})
    );
    assert_eq!(app.scalar_text("select name from users where id = $1", &id).await.as_deref(), Some("Admin"));
    // The same text as application/json is accepted.
    let ok = app
        .raw(
            "POST",
            &format!("/api/v1/users/{id}/update"),
            &[("authorization", &bearer), ("content-type", "application/json")],
            Some(r#"{"name":"Plain"}"#),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["name"], "Plain");
    // Broken JSON is a json_invalid field error.
    let broken = app
        .raw(
            "POST",
            &format!("/api/v1/users/{id}/update"),
            &[("authorization", &bearer), ("content-type", "application/json")],
            Some(r#"{"name": "#),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(broken.body["detail"][0]["type"], "json_invalid");
    assert_eq!(broken.body["detail"][0]["loc"], json!(["body"]));
}

async fn every_answer_carries_a_request_id(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let mut seen = Vec::new();
    for a in [
        app.get("/health", None).await,
        app.get("/api/config", None).await,
        app.get("/nope", None).await,
        app.get("/api/v1/users/", None).await,
        app.signin("nobody@example.com", "x").await,
    ] {
        let id = a.headers.get("x-request-id").expect("x-request-id").to_str().expect("ascii").to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "each answer has its own id");
    for path in ["/health", "/nope"] {
        let a = app.raw("GET", path, &[("x-request-id", "client-chosen-42")], None).await;
        assert_eq!(a.headers["x-request-id"], "client-chosen-42", "{path}");
    }
}
