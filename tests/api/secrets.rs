//! No response or log line ever contains a password, a password hash, a token or an API key.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp};

backend_tests!(no_response_or_log_line_contains_a_secret);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn no_response_or_log_line_contains_a_secret(b: Backend) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The test runtime is single-threaded, so the server's tasks log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let Some(app) = TestApp::spawn(b).await else { return };
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
    secrets.push(key);

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

    let captured = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf8");
    assert!(captured.contains("sign-in") || captured.contains("request"), "logs were captured");
    assert!(captured.lines().count() > 20, "expected trace output");
    for s in &secrets {
        assert!(!captured.contains(s.as_str()), "a secret reached the logs: {}…", &s[..s.len().min(12)]);
    }
    assert!(!captured.contains("$argon2"));
}
