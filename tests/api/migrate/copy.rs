//! `duet copy` between backends: every row arrives as it was, the copy serves the same accounts
//! and chats, it copies back, and an interrupted copy completes when run again.

use reqwest::StatusCode;
use serde_json::json;

use duet::migrate::CopyOptions;
use duet::migrate::copy::run;

use super::{
    PgSchema, app_sqlite_url, assert_same_rows, count, duet, duet_json, dump, entry, fill, sqlite_url,
};
use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, Process, TestApp, gql};

/// Tables of duet's schema and the rows `fill` leaves in each.
const FILLED: &[(&str, u64)] = &[
    ("users", 4),
    ("auths", 4),
    ("api_keys", 1),
    ("revoked_tokens", 1),
    ("chats", 7),
    ("shared_chats", 1),
    ("tags", 2),
    ("chat_tags", 2),
    ("models", 1),
    ("model_history", 2),
    ("access_grants", 2),
    ("groups", 2),
    ("group_members", 2),
    ("folders", 2),
];

#[tokio::test]
#[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
async fn sqlite_to_postgres_and_back_keeps_every_row_and_the_copy_serves() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let f = fill(&app).await;
    let src = app_sqlite_url(&app).await;
    let pg = PgSchema::new().await;

    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &pg.url()]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&report["ok"], &report["mode"], &report["dry_run"]),
        (&json!(true), &json!("fresh"), &json!(false))
    );
    for (table, rows) in FILLED {
        let e = entry(&report, table);
        assert_eq!((e["read"].as_u64(), e["written"].as_u64()), (Some(*rows), Some(*rows)), "{table}: {e}");
        assert_eq!(e["target_rows"].as_u64(), Some(*rows), "{table}");
        assert_eq!(e["checksum"]["matches"], json!(true), "{table}: {e}");
        assert_eq!(e["checksum"]["source"], e["checksum"]["target"]);
    }
    assert!(entry(&report, "config")["read"].as_u64().unwrap_or(0) > 10, "{report}");
    assert_eq!(report["issues"], json!([]));
    assert_same_rows(&dump(&src).await, &dump(&pg.url()).await);

    // The copy serves: the same passwords, tokens, API key, chats, share, folder and grants.
    let p = Process::start(&[("DATABASE_URL", &pg.url())]).await;
    let c = p.client().await;
    let signin = c.signin("bob@example.com", PASSWORD).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.text);
    assert_eq!(signin.body["id"], json!(f.bob_id));
    let old_token = c.get("/api/v1/auths/", Some(&f.bob)).await;
    assert_eq!((old_token.status, &old_token.body["email"]), (StatusCode::OK, &json!("bob@example.com")));
    let chat = c.get(&format!("/api/v1/chats/{}", f.chat), Some(&f.bob)).await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    assert_eq!(chat.body["title"], json!("Rust"));
    assert_eq!(chat.body["folder_id"], json!(f.folder));
    assert_eq!(chat.body["pinned"], json!(true));
    assert_eq!(chat.body["chat"]["history"]["messages"]["m2"]["content"], json!("Ünïcødé ✓ \"quoted\""));
    let tags = c.get(&format!("/api/v1/chats/{}/tags", f.chat), Some(&f.bob)).await;
    let mut names: Vec<&str> =
        tags.body.as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Help Me", "rust"]);
    let shared = c.get(&format!("/api/v1/chats/share/{}", f.share_id), Some(&f.admin)).await;
    assert_eq!((shared.status, &shared.body["title"]), (StatusCode::OK, &json!("Rust")), "{}", shared.text);
    let archived = c.get("/api/v1/chats/archived", Some(&f.bob)).await;
    assert_eq!(archived.body.as_array().map(Vec::len), Some(1), "{}", archived.text);
    let by_key = c.get("/api/v1/chats/", Some(&f.api_key)).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.text);
    assert_eq!(by_key.body[0]["title"], json!("Admin's"), "{}", by_key.text);
    let carol = c.signin("carol@example.com", PASSWORD).await;
    let carol = carol.body["token"].as_str().expect("token").to_string();
    let model = c.get("/api/v1/models/model?id=team-helper", Some(&carol)).await;
    assert_eq!(
        (model.status, &model.body["name"]),
        (StatusCode::OK, &json!("Team Helper 2")),
        "{}",
        model.text
    );
    let g =
        gql(&c, Some(&f.bob), "{ me { email } chats(first: 20) { totalCount } folders { name } }", json!({}))
            .await;
    assert_eq!(g.body["data"]["me"]["email"], json!("bob@example.com"), "{}", g.text);
    assert_eq!(g.body["data"]["chats"]["totalCount"], json!(5), "{}", g.text);
    drop(p);

    // And back, into a new SQLite file (with what using the copy changed: sign-ins, the key's use).
    let dir = tempfile::tempdir().expect("dir");
    let back = sqlite_url(dir.path(), "back.db");
    let report = run(&CopyOptions::new(&pg.url(), &back)).await.expect("copy back");
    assert!(report.ok, "{}", report.summary());
    assert_same_rows(&dump(&pg.url()).await, &dump(&back).await);
}

backend_tests!(a_copy_stopped_midway_resumes_with_nothing_lost_or_doubled);

/// Stopped after some batches (as a kill between two commits leaves it; a kill within a batch
/// rolls that batch back), the same copy run again completes it.
async fn a_copy_stopped_midway_resumes_with_nothing_lost_or_doubled(b: Backend) {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    fill(&app).await;
    let src = app_sqlite_url(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let pg = match b {
        Backend::Postgres => Some(PgSchema::new().await),
        Backend::Sqlite => None,
    };
    let to = pg.as_ref().map(PgSchema::url).unwrap_or_else(|| sqlite_url(dir.path(), "copy.db"));
    let mut opts = CopyOptions { batch_rows: 3, stop_after_batches: Some(4), ..CopyOptions::new(&src, &to) };
    let err = run(&opts).await.expect_err("stopped");
    assert_eq!(err.message(), "stopped after 4 batches");
    // Users (2 batches) and credentials (2 batches) are in; nothing after them.
    assert_eq!((count(&to, "users").await, count(&to, "auths").await, count(&to, "chats").await), (4, 4, 0));

    opts.stop_after_batches = None;
    let report = run(&opts).await.expect("resumed");
    assert!(report.ok, "{}", report.summary());
    assert_eq!(report.mode, "resume");
    let users = report.tables.iter().find(|t| t.name == "users").expect("users");
    assert_eq!((users.read, users.written, users.already_there), (4, 0, 4));
    let chats = report.tables.iter().find(|t| t.name == "chats").expect("chats");
    assert_eq!((chats.read, chats.written, chats.already_there), (7, 7, 0));
    assert_same_rows(&dump(&src).await, &dump(&to).await);

    // Once more: nothing to write, nothing doubled.
    let again = run(&opts).await.expect("again");
    assert!(again.ok, "{}", again.summary());
    assert!(again.tables.iter().all(|t| t.written == 0 && t.already_there == t.read), "{}", again.summary());
    for (table, rows) in [("users", 4), ("chats", 7), ("chat_tags", 2)] {
        assert_eq!(count(&to, table).await, rows, "{table}");
    }
}

#[tokio::test]
async fn a_killed_copy_process_completes_when_run_again() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let f = fill(&app).await;
    app.exec(
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000) \
         insert into chats (id, user_id, title, chat, created_at, updated_at, meta, search_text) \
         select 'bulk-' || i, $1, 'Bulk ' || i, '{\"title\": \"Bulk\"}', i, i, '{}', 'bulk' from n",
        &[&f.bob_id],
    )
    .await;
    let src = app_sqlite_url(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "copy.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_duet"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .args(["copy", "--from", &src, "--to", &to, "--batch-size", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut copied = 0;
    for _ in 0..3000 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        if dir.path().join("copy.db").exists() {
            copied = chats_in(&to).await;
            if copied > 0 {
                break;
            }
        }
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the copy finished before it could be killed");
    let copied_at_kill = chats_in(&to).await;
    assert!(copied > 0 && copied_at_kill < 3007, "copied {copied_at_kill} of 3007 chats before the kill");

    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&report["ok"], &report["mode"]), (&json!(true), &json!("resume")));
    let chats = entry(&report, "chats");
    assert_eq!(chats["read"], json!(3007));
    assert_eq!(chats["written"].as_i64().unwrap_or(0) + chats["already_there"].as_i64().unwrap_or(0), 3007);
    assert_eq!(chats["already_there"].as_i64(), Some(copied_at_kill), "{chats}");
    assert_same_rows(&dump(&src).await, &dump(&to).await);
}

/// Chats in a SQLite file another process is writing (0 while its tables do not exist yet).
async fn chats_in(url: &str) -> i64 {
    use sqlx::Connection;
    use std::str::FromStr;
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).expect("url").read_only(true);
    let Ok(mut c) = sqlx::SqliteConnection::connect_with(&opts).await else { return 0 };
    sqlx::query_scalar::<_, i64>("select count(*) from chats").fetch_one(&mut c).await.unwrap_or(0)
}

#[tokio::test]
async fn the_summary_has_one_line_per_table_and_no_progress_bar_off_a_terminal() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    fill(&app).await;
    let src = app_sqlite_url(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "copy.db");
    let (code, out, err) = duet(&["copy", "--from", &src, "--to", &to], &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "", "nothing on stderr when it is not a terminal");
    let lines: Vec<&str> = out.lines().collect();
    let users = lines.iter().find(|l| l.starts_with("users ")).unwrap_or_else(|| panic!("{out}"));
    let words: Vec<&str> = users.split_whitespace().collect();
    assert_eq!(words, ["users", "4", "read", "4", "written", "0", "already", "there,", "checksum", "ok"]);
    for (table, _) in FILLED {
        assert_eq!(
            lines.iter().filter(|l| l.split_whitespace().next() == Some(table)).count(),
            1,
            "{table}: {out}"
        );
    }
    let last = lines.last().expect("last line");
    assert!(last.starts_with("done (") && last.ends_with(" s)"), "{last}");
}
