//! Storage: migrations are idempotent and safe when several instances start at once; two server
//! instances over one database see each other's writes and revocations.

use reqwest::StatusCode;
use serde_json::json;

use std::time::Duration;

use duet::run;
use duet::store::Db;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    fresh_database_migrates_once_under_concurrent_start_ups,
    two_instances_share_one_database,
    hot_paths_run_few_statements,
    settings_changes_apply_at_once_here_and_within_the_ttl_elsewhere,
);

/// Statements one request runs, counted by the server's own handle.
async fn statements_for(app: &TestApp, path: &str, token: &str) -> u64 {
    let before = app.db.statement_count();
    let a = app.get(path, Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    app.db.statement_count() - before
}

/// The requests clients send most: the session check is one statement, and the stored
/// configuration is read once per `SETTINGS_CACHE_TTL`, not once per request.
async fn hot_paths_run_few_statements(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (token, _) = app.admin().await;
    let chat = app.post("/api/v1/chats/new", Some(&token), json!({"chat": {"title": "One"}})).await;
    let id = chat.body["id"].as_str().expect("id").to_string();
    for path in ["/api/v1/auths/", "/api/v1/chats/?page=1", "/api/v1/models/list"] {
        statements_for(&app, path, &token).await; // warms the configuration cache
    }
    assert_eq!(statements_for(&app, "/api/v1/auths/", &token).await, 1);
    assert_eq!(statements_for(&app, "/api/v1/chats/?page=1", &token).await, 2);
    assert_eq!(statements_for(&app, &format!("/api/v1/chats/{id}"), &token).await, 2);
}

/// A configuration change made through one server applies to its next request; a second
/// server on the same database (its own handle and cache) sees it once its cache expires.
async fn settings_changes_apply_at_once_here_and_within_the_ttl_elsewhere(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (token, _) = app.admin().await;
    let other = app.separate_instance(&[("SETTINGS_CACHE_TTL", "2000")]).await;
    let signup_open = |a: &crate::helpers::Answer| a.body["features"]["enable_signup"].clone();
    assert_eq!(signup_open(&other.get("/api/config", None).await), json!(false));
    assert_eq!(signup_open(&app.get("/api/config", None).await), json!(false));

    let mut form = app.get("/api/v1/auths/admin/config", Some(&token)).await.body;
    form["ENABLE_SIGNUP"] = json!(true);
    let saved = app.post("/api/v1/auths/admin/config", Some(&token), form).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    // At once on the server that wrote it.
    assert_eq!(signup_open(&app.get("/api/config", None).await), json!(true));
    // The other one still has its copy, then reads the new value after the TTL.
    assert_eq!(signup_open(&other.get("/api/config", None).await), json!(false));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(signup_open(&other.get("/api/config", None).await), json!(true));
}

/// Three handles with pools of their own on a fresh database, migrating at the same time.
async fn fresh_database_migrates_once_under_concurrent_start_ups(b: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let (url, schema) = match b {
        Backend::Sqlite => (format!("sqlite://{}/fresh.db", dir.path().display()), None),
        Backend::Postgres => match std::env::var("DUET_TEST_DATABASE_URL") {
            Ok(url) => (url, Some(format!("duet_test_{}", uuid::Uuid::new_v4().simple()))),
            Err(_) => return,
        },
    };
    let connect = || async {
        match &schema {
            None => Db::connect(&url, 2, Duration::from_secs(10)).await.expect("connect"),
            Some(s) => Db::connect_postgres_schema(&url, s, 2).await.expect("connect"),
        }
    };
    let (d1, d2, d3) = (connect().await, connect().await, connect().await);
    let (r1, r2, r3) = tokio::join!(d1.migrate(), d2.migrate(), d3.migrate());
    r1.expect("first");
    r2.expect("second");
    r3.expect("third");
    d1.migrate().await.expect("again");
    let db = &d1;
    let applied: i64 =
        run!(db, e => sqlx::query_scalar("select count(*) from _sqlx_migrations").fetch_one(e).await)
            .expect("count");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations")
        .count();
    assert_eq!(applied, files as i64, "one row per migration");
    let users: i64 =
        run!(db, e => sqlx::query_scalar("select count(*) from users").fetch_one(e).await).expect("users");
    assert_eq!(users, 0);
    if let Some(s) = schema {
        let drop = format!("drop schema \"{s}\" cascade");
        run!(db, e => sqlx::query(sqlx::AssertSqlSafe(drop.clone())).execute(e).await.map(|r| r.rows_affected()))
            .expect("drop");
    }
}

async fn two_instances_share_one_database(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };

    // A second server over the same database: a user signed up on one signs in on the other.
    let other = app.twin().await;
    let (token, _) = app.admin().await;
    let s = other.signin("admin@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    // A token signed out on one is refused by the other.
    assert_eq!(other.get("/api/v1/auths/", Some(&token)).await.status, StatusCode::OK);
    assert_eq!(app.post("/api/v1/auths/signout", Some(&token), json!({})).await.status, StatusCode::OK);
    let refused = other.get("/api/v1/auths/", Some(&token)).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
}
