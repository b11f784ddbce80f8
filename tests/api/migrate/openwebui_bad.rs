//! `duet import-openwebui` and what real databases hold: bad rows (reported one by one, repaired
//! or skipped, never half-imported), running it again or after an interruption, merging into a
//! duet that is in use, dry runs, and databases it refuses.

use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use duet::migrate::ImportOptions;
use duet::migrate::openwebui::run;

use super::openwebui::{fixture, fixture_copy, issues, s};
use super::{app_sqlite_url, assert_same_rows, count, duet, duet_json, dump, entry, sqlite_url};
use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, Process, TestApp};

/// The issues about one key, as (table, action, reason).
fn about(report: &serde_json::Value, key: &str) -> Vec<(String, String, String)> {
    issues(report).into_iter().filter(|i| i.1 == key).map(|(t, _, a, r)| (t, a, r)).collect()
}

fn triple(t: &str, a: &str, r: &str) -> (String, String, String) {
    (t.into(), a.into(), r.into())
}

#[tokio::test]
async fn each_bad_row_is_named_with_what_was_done_about_it() {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        about(&report, "bad-json"),
        [triple(
            "chat → chats",
            "skipped",
            "its document is not JSON (EOF while parsing a value at line 1 column 31)"
        )]
    );
    assert_eq!(
        about(&report, "bad-orphan"),
        [triple("chat → chats", "skipped", "its owner no-such-user is not in duet")]
    );
    assert_eq!(
        about(&report, "bad-nul"),
        [triple(
            "chat → chats",
            "repaired",
            "NUL characters removed from chat; NUL characters removed from title"
        )]
    );
    assert_eq!(
        about(&report, "bad-folder"),
        [triple("chat → chats", "repaired", "its folder gone-folder is not in duet: moved out of folders")]
    );
    assert_eq!(
        about(&report, "ghost"),
        [triple(
            "auth → auths",
            "repaired",
            "no credentials in Open WebUI: created without a password (an admin must set one)"
        )]
    );
    assert_eq!(
        about(&report, "mallory"),
        [triple(
            "user → users",
            "repaired",
            "email lower-cased (duet matches emails in lower case); role \"superuser\" is not one duet knows: made \
             pending (an admin can change it)"
        )]
    );
    assert_eq!(
        about(&report, "g-knowledge"),
        [triple(
            "access_grant → access_grants",
            "skipped",
            "a grant on a knowledge, which duet does not have"
        )]
    );
    assert_eq!(
        about(&report, "rag.top_k"),
        [triple("config → config", "skipped", "a setting duet does not use")]
    );

    // Repaired rows are what the report says; skipped ones are wholly absent (no tag links).
    let p = Process::start(&[("DATABASE_URL", &to)]).await;
    let app = p.client().await;
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", "bad-nul").await.as_deref(),
        Some("Nultitle")
    );
    assert_eq!(app.scalar_text("select folder_id from chats where id = $1", "bad-folder").await, None);
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", "bad-json").await, 0);
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", "bad-orphan").await, 0);
    let mallory = app.signin("mallory@example.com", s(&fixture()["users"]["mallory"]["password"])).await;
    assert_eq!(
        (mallory.status, &mallory.body["role"]),
        (StatusCode::OK, &json!("pending")),
        "{}",
        mallory.text
    );
    let ghost = app.signin("ghost@example.com", "").await;
    assert_eq!(ghost.status, StatusCode::BAD_REQUEST, "an account without credentials cannot sign in");
}

#[tokio::test]
async fn more_bad_rows_never_stop_the_import_nor_leave_half_a_row() {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    // Open WebUI's SQLite connections do not enforce foreign keys; neither does this one.
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&from).expect("url").foreign_keys(false);
    let mut owui = sqlx::SqliteConnection::connect_with(&opts).await.expect("open");
    for sql in [
        // Emails that differ only in case (the reference's unique index is dropped first).
        "drop index if exists uq_user_email_lower",
        "insert into user (id, name, email, role, created_at, updated_at, last_active_at) values ('bob-2', 'Bob again', 'BOB@example.com', 'user', 5, 5, 5)",
        "insert into user (id, name, email, role, created_at, updated_at, last_active_at) values ('no-mail', 'Nobody', null, 'user', 5, 5, 5)",
        "insert into user (id, name, email, role, created_at, updated_at, last_active_at, settings) values ('bad-settings', 'Odd', 'odd@example.com', 'user', 5, 5, 5, '{nope')",
        "insert into chat (id, user_id, title, chat, created_at, updated_at, meta) values ('list-doc', 'bad-settings', 'List', '[1, 2]', 5, 5, '{\"tags\": [\"Odd Tag\"]}')",
        "insert into chat (id, user_id, title, chat, created_at, updated_at, meta) values ('odd-tags', 'bad-settings', 'Tagged', '{}', 5, 5, '{\"tags\": [\"Odd Tag\", \"odd tag\"]}')",
        "insert into api_key (id, user_id, key, created_at, updated_at) values ('key-2', 'no-mail', 'sk-nomail', 5, 5)",
        "insert into group_member (id, group_id, user_id, created_at) values ('gm-x', 'no-group', 'bad-settings', 5)",
    ] {
        sqlx::query(sql).execute(&mut owui).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    owui.close().await.expect("close");

    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    let bob = s(&fixture()["users"]["bob"]["id"]).to_string();
    assert_eq!(
        about(&report, "bob-2"),
        [
            triple("user → users", "skipped", &format!("email bob@example.com already belongs to {bob}")),
            triple("auth → auths", "skipped", "its id bob-2 is not in users"),
        ]
    );
    assert_eq!(
        about(&report, "no-mail")[0],
        triple("user → users", "skipped", "it has no email, which duet needs to sign in")
    );
    assert_eq!(
        about(&report, "key-2"),
        [triple("api_key → api_keys", "skipped", "its user_id no-mail is not in users")]
    );
    assert_eq!(
        about(&report, "bad-settings"),
        [
            triple(
                "user → users",
                "repaired",
                "settings is not JSON (key must be a string at line 1 column 2) (emptied)"
            ),
            triple(
                "auth → auths",
                "repaired",
                "no credentials in Open WebUI: created without a password (an admin must set one)"
            )
        ]
    );
    assert_eq!(
        about(&report, "list-doc"),
        [triple("chat → chats", "skipped", "its document is not a JSON object")]
    );
    assert_eq!(
        about(&report, "gm-x"),
        [triple("group_member → group_members", "skipped", "its group_id no-group is not in groups")]
    );
    // One tag row and one link for the two spellings of the same tag.
    let p = Process::start(&[("DATABASE_URL", &to)]).await;
    let app = p.client().await;
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", "odd-tags").await, 1);
    assert_eq!(
        app.scalar_text("select name from tags where id = $1", "odd_tag").await.as_deref(),
        Some("odd_tag")
    );
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", "list-doc").await, 0);
    assert_eq!(app.scalar_count("select count(*) from users where id = $1", "bob-2").await, 0);
    assert_eq!(app.scalar_count("select count(*) from auths where id = $1", "bob-2").await, 0);
}

backend_tests!(an_import_run_again_or_after_an_interruption_completes_with_nothing_doubled);

async fn an_import_run_again_or_after_an_interruption_completes_with_nothing_doubled(b: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    let pg = match b {
        Backend::Postgres => Some(super::PgSchema::new().await),
        Backend::Sqlite => None,
    };
    let to = pg.as_ref().map(super::PgSchema::url).unwrap_or_else(|| sqlite_url(dir.path(), "duet.db"));
    // Two rows per batch: users (3 batches, each with their credentials), then stop.
    let mut opts =
        ImportOptions { batch_rows: 2, stop_after_batches: Some(3), ..ImportOptions::new(&from, &to) };
    let err = run(&opts).await.expect_err("stopped");
    assert_eq!(err.message(), "stopped after 3 batches");
    assert_eq!((count(&to, "users").await, count(&to, "auths").await, count(&to, "chats").await), (6, 6, 0));

    opts.stop_after_batches = None;
    let report = run(&opts).await.expect("completed");
    assert!(report.ok, "{}", report.summary());
    assert_eq!(report.mode, "resume");
    let users = report.tables.iter().find(|t| t.name == "user → users").expect("users");
    assert_eq!((users.read, users.written, users.already_there), (6, 0, 6));
    let chats = report.tables.iter().find(|t| t.name == "chat → chats").expect("chats");
    assert_eq!((chats.read, chats.written, chats.skipped), (8, 6, 2));
    let first = dump(&to).await;

    let again = run(&opts).await.expect("again");
    assert!(
        again.tables.iter().all(|t| t.written == 0 && t.updated == 0 && t.kept == 0),
        "{}",
        again.summary()
    );
    assert_same_rows(&first, &dump(&to).await);
    for (table, rows) in [("users", 6), ("chats", 6), ("chat_tags", 3), ("access_grants", 3), ("config", 6)] {
        assert_eq!(count(&to, table).await, rows, "{table}");
    }
}

#[tokio::test]
async fn merging_into_a_duet_in_use_reports_conflicts_and_overwrites_only_when_told() {
    let fx = fixture();
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let (admin, admin_id) = app.admin().await;
    // bob@example.com is already someone here; the hello chat's id is taken by another chat.
    let (_, local_bob) = app.user(&admin, "Local Bob", "bob@example.com", "user").await;
    let hello = s(&fx["chats"]["hello"]["id"]).to_string();
    let c = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": {"title": "Mine"}})).await;
    app.exec("update chats set id = $1 where id = $2", &[&hello, s(&c.body["id"])]).await;
    let to = app_sqlite_url(&app).await;

    let (code, _, err) = duet(&["import-openwebui", "--from", &from, "--to", &to], &[]).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        "duet: the target already holds data (users: 2, auths: 2, chats: 1): import into an empty duet database, \
         or pass --merge to add Open WebUI's data to it"
    );

    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to, "--merge"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["mode"], json!("merge"));
    let bob = s(&fx["users"]["bob"]["id"]).to_string();
    assert_eq!(
        about(&report, &bob)[0],
        triple("user → users", "skipped", &format!("email bob@example.com already belongs to {local_bob}"))
    );
    assert_eq!(
        about(&report, &hello),
        [triple("chat → chats", "kept", "already in the target with other values (kept)")]
    );
    // Settings differing from this duet's are kept too (sign-up was switched off by its first user).
    assert!(
        issues(&report)
            .iter()
            .any(|i| i.0 == "config → config" && i.1 == "auth.enable_api_keys" && i.2 == "kept")
    );
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", &hello).await.as_deref(),
        Some("Mine")
    );
    assert_eq!(
        app.scalar_text("select id from users where email = $1", "bob@example.com").await,
        Some(local_bob)
    );
    let alice = app.signin("alice@example.com", s(&fx["users"]["alice"]["password"])).await;
    assert_eq!(alice.status, StatusCode::OK, "{}", alice.text);
    let chats = entry(&report, "chat → chats");
    assert_eq!(
        (&chats["written"], &chats["kept"]),
        (&json!(0), &json!(1)),
        "alice's one chat is kept out; bob's have no owner here"
    );

    let (code, report, err) =
        duet_json(&["import-openwebui", "--from", &from, "--to", &to, "--merge", "--overwrite"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["mode"], json!("resume"));
    assert_eq!(entry(&report, "chat → chats")["updated"], json!(1));
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", &hello).await.as_deref(),
        Some("Hello there")
    );
    assert_eq!(
        app.scalar_text("select user_id from chats where id = $1", &hello).await,
        fx["users"]["alice"]["id"].as_str().map(str::to_string)
    );
    // This duet's own admin is untouched.
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.body["id"], json!(admin_id));
}

#[tokio::test]
async fn a_dry_run_import_reports_everything_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) =
        duet_json(&["import-openwebui", "--from", &from, "--to", &to, "--dry-run"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&report["dry_run"], &report["ok"]), (&json!(true), &json!(true)));
    assert_eq!(entry(&report, "chat → chats")["written"], json!(6));
    assert_eq!(about(&report, "bad-json").len(), 1);
    assert!(!dir.path().join("duet.db").exists());
}

#[tokio::test]
async fn databases_that_are_not_open_webui_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "duet.db");
    let duet_db = sqlite_url(dir.path(), "other.db");
    let (code, _, err) = duet(&["migrate"], &[("DATABASE_URL", &duet_db)]).await;
    assert_eq!(code, Some(0), "{err}");
    let empty = sqlite_url(dir.path(), "empty.db");
    duet::migrate::conn::Conn::open_target(&empty).await.expect("create").close().await;
    for (from, expected) in [
        (duet_db, "duet: the source is a duet database: use `duet copy` to move it"),
        (empty, "duet: the source is not an Open WebUI database (it has no user, auth and chat tables)"),
    ] {
        let (code, out, err) = duet(&["import-openwebui", "--from", &from, "--to", &to], &[]).await;
        assert_eq!((code, err.trim()), (Some(1), expected), "{out}");
    }
    let (code, _, err) = duet(&["import-openwebui", "--from", "sqlite:///x.db", "--overwrite"], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--merge"), "--overwrite needs --merge: {err}");
}
