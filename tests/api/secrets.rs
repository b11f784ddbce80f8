//! No response or log line ever contains a password, a password hash, a token (as a bearer header
//! or a cookie) or an API key (duet's own or an upstream provider's).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD};

backend_tests!(no_response_or_log_line_contains_a_secret);

/// Runs the real binary at `RUST_LOG=trace` with JSON logs, so every log line the process writes
/// (its own, axum's, hyper's, sqlx's) is checked.
async fn no_response_or_log_line_contains_a_secret(b: Backend) {
    if b == Backend::Postgres {
        // The log content does not depend on the backend; the SQLite run covers it.
        return;
    }
    // A model provider that wants a key: the key goes out in an `Authorization` header.
    let upstream_key = "sk-upstream-5ecret-0123456789abcdef";
    let provider = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let provider_url = format!("http://{}/v1", provider.local_addr().expect("addr"));
    let models = axum::Router::new().route(
        "/v1/models",
        axum::routing::get(|| async {
            axum::Json(json!({"object": "list", "data": [{"id": "m1", "object": "model", "owned_by": "x"}]}))
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(provider, models).await;
    });
    let server = crate::helpers::Process::start(&[
        ("RUST_LOG", "trace"),
        ("LOG_FORMAT", "json"),
        ("ENABLE_OPENAI_API", "true"),
        ("OPENAI_API_BASE_URLS", provider_url.as_str()),
        ("OPENAI_API_KEYS", upstream_key),
    ])
    .await;
    let app = server.client().await;
    let (admin, admin_id) = app.admin().await;
    let second_password = "S3cond-Secret!";
    let new_password = "N3w-Secret-Pass!";
    let mut secrets =
        vec![PASSWORD.to_string(), second_password.to_string(), new_password.to_string(), admin.clone()];

    let add = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "Bob", "email": "bob@example.com", "password": second_password, "role": "user"}),
        )
        .await;
    assert_eq!(add.status, StatusCode::OK);
    secrets.push(add.body["token"].as_str().expect("token").to_string());
    let bob_id = add.body["id"].as_str().expect("id").to_string();
    assert_eq!(app.signin("bob@example.com", "wrong-password-123").await.status, StatusCode::BAD_REQUEST);
    secrets.push("wrong-password-123".into());
    let signin = app.signin("bob@example.com", second_password).await;
    secrets.push(signin.body["token"].as_str().expect("token").to_string());
    let reset = app
        .post(&format!("/api/v1/users/{bob_id}/update"), Some(&admin), json!({"password": new_password}))
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    let key = key.body["api_key"].as_str().expect("key").to_string();
    assert_eq!(app.get("/api/v1/users/", Some(&key)).await.status, StatusCode::OK);
    let by_header = app
        .raw("GET", "/api/v1/users/", &[("x-api-key", &key), ("x-forwarded-for", "203.0.113.9")], None)
        .await;
    assert_eq!(by_header.status, StatusCode::OK);
    secrets.push(key);

    // The session cookie, a password change by the user, and the upstream key.
    let bob = app.signin("bob@example.com", new_password).await;
    let bob_token = bob.body["token"].as_str().expect("token").to_string();
    let cookie = bob.set_cookies().first().expect("cookie").split(';').next().expect("pair").to_string();
    assert_eq!(cookie, format!("token={bob_token}"));
    let me = app.raw("GET", "/api/v1/auths/", &[("cookie", &cookie)], None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let third_password = "Th1rd-Secret-Pass!";
    let changed = app
        .post(
            "/api/v1/auths/update/password",
            Some(&bob_token),
            json!({"password": new_password, "new_password": third_password}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    secrets.extend([bob_token, third_password.to_string(), upstream_key.to_string()]);
    let listed = app.get("/api/models", Some(&admin)).await;
    assert_eq!(listed.body["data"][0]["id"], "m1", "{}", listed.text);

    for hash_of in [&admin_id, &bob_id] {
        secrets
            .push(app.scalar_text("select password from auths where id = $1", hash_of).await.expect("hash"));
    }

    // Responses that describe users never carry credentials.
    let answers = [
        add.text.clone(),
        reset.text.clone(),
        app.get("/api/v1/users/", Some(&admin)).await.text,
        app.get(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await.text,
        app.get("/api/v1/auths/admin/details", Some(&admin)).await.text,
    ];
    for text in &answers {
        assert!(!text.contains("\"password\""), "{text}");
        assert!(!text.contains("$argon2") && !text.contains("$2b$"), "{text}");
        for s in &secrets[..3] {
            assert!(!text.contains(s.as_str()), "{text}");
        }
    }

    let captured = server.stop_and_read_logs();
    assert!(
        captured.contains("\"message\":\"password changed")
            || captured.contains("password reset by an admin"),
        "{}",
        &captured[..captured.len().min(2000)]
    );
    assert!(captured.lines().count() > 50, "expected trace output");
    for s in &secrets {
        assert!(!captured.contains(s.as_str()), "a secret reached the logs: {}…", &s[..s.len().min(12)]);
    }
    assert!(!captured.contains("$argon2"));
}
