//! `duet copy` into databases that are not empty (refused, `--merge`, `--replace`), dry runs,
//! sources it refuses, and a reference of a table to itself that arrives before its row.

use serde_json::{Value, json};

use duet::migrate::CopyOptions;
use duet::migrate::copy::run;

use super::{
    PgSchema, app_sqlite_url, assert_same_rows, count, duet, duet_json, dump, entry, fill, sqlite_url,
};
use crate::helpers::{Backend, PASSWORD, TestApp};

/// The issues of a report about `table`, as (key, action, reason).
fn issues(report: &Value, table: &str) -> Vec<(String, String, String)> {
    report["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| i["table"] == table)
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
            (s("key"), s("action"), s("reason"))
        })
        .collect()
}

#[tokio::test]
async fn a_target_holding_data_is_refused_and_left_as_it_was() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("source");
    fill(&source).await;
    let target = TestApp::spawn(Backend::Sqlite).await.expect("target");
    target.admin().await;
    let (src, to) = (app_sqlite_url(&source).await, app_sqlite_url(&target).await);
    let before = dump(&to).await;
    let (code, out, err) = duet(&["copy", "--from", &src, "--to", &to], &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        err.trim(),
        "duet: the target is not empty (users: 1, auths: 1): copy into an empty database, or pass --merge to add \
         only the rows it lacks, or --replace to empty it first"
    );
    assert_eq!(out, "");
    assert_same_rows(&before, &dump(&to).await);
}

#[tokio::test]
async fn merge_adds_what_the_target_lacks_and_reports_what_collides() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("source");
    let f = fill(&source).await;
    let target = TestApp::spawn(Backend::Sqlite).await.expect("target");
    let (_, target_admin) = target.admin().await; // admin@example.com too, with another id
    let (src, to) = (app_sqlite_url(&source).await, app_sqlite_url(&target).await);

    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &to, "--merge"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&report["ok"], &report["mode"]), (&json!(true), &json!("merge")));
    let users = entry(&report, "users");
    assert_eq!(
        (users["read"].as_u64(), users["written"].as_u64(), users["skipped"].as_u64()),
        (Some(4), Some(3), Some(1))
    );
    let source_admin =
        source.scalar_text("select id from users where email = $1", "admin@example.com").await.expect("id");
    assert_eq!(
        issues(&report, "users"),
        [(
            source_admin.clone(),
            "skipped".into(),
            format!("email admin@example.com already belongs to {target_admin}")
        )]
    );
    // What hangs off the skipped account is skipped with it, named.
    let auths = issues(&report, "auths");
    assert_eq!(
        auths,
        [(source_admin.clone(), "skipped".into(), format!("its id {source_admin} is not in users"))]
    );
    assert_eq!(
        entry(&report, "chats")["written"],
        json!(6),
        "bob's chats arrive, the source admin's does not"
    );
    assert!(issues(&report, "config").iter().any(|(k, a, _)| k == "auth.enable_api_keys" && a == "kept"));
    // The checksums are not compared: the target holds rows of its own.
    assert_eq!(entry(&report, "users")["checksum"], Value::Null);

    // The target's own admin is untouched; bob signs in on the target with his password.
    assert_eq!(count(&to, "users").await, 4);
    assert_eq!(
        target.scalar_text("select id from users where email = $1", "admin@example.com").await,
        Some(target_admin)
    );
    let bob = target.signin("bob@example.com", PASSWORD).await;
    assert_eq!(bob.body["id"], json!(f.bob_id), "{}", bob.text);
}

#[tokio::test]
async fn replace_empties_the_target_then_copies() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("source");
    fill(&source).await;
    let target = TestApp::spawn(Backend::Sqlite).await.expect("target");
    let (t_admin, _) = target.admin().await;
    target.post("/api/v1/chats/new", Some(&t_admin), json!({"chat": {"title": "Mine"}})).await;
    let (src, to) = (app_sqlite_url(&source).await, app_sqlite_url(&target).await);
    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &to, "--replace"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&report["ok"], &report["mode"]), (&json!(true), &json!("replace")));
    assert_same_rows(&dump(&src).await, &dump(&to).await);
}

#[tokio::test]
async fn merge_and_replace_together_are_refused_by_the_command_line() {
    let (code, _, err) =
        duet(&["copy", "--from", "sqlite:///a.db", "--to", "sqlite:///b.db", "--merge", "--replace"], &[])
            .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("'--merge' cannot be used with '--replace'"), "{err}");
}

#[tokio::test]
async fn a_dry_run_counts_and_checks_everything_and_writes_nothing() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("source");
    fill(&source).await;
    let src = app_sqlite_url(&source).await;
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "new.db");
    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &to, "--dry-run"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (&report["ok"], &report["dry_run"], &report["mode"]),
        (&json!(true), &json!(true), &json!("fresh"))
    );
    assert_eq!(entry(&report, "chats")["written"], json!(7));
    assert_eq!(entry(&report, "chats")["checksum"]["matches"], json!(true));
    assert!(!dir.path().join("new.db").exists(), "a dry run creates no file");

    // Into a database holding data, with --merge: the conflicts are found, nothing changes.
    let target = TestApp::spawn(Backend::Sqlite).await.expect("target");
    target.admin().await;
    let to = app_sqlite_url(&target).await;
    let before = dump(&to).await;
    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &to, "--merge", "--dry-run"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(entry(&report, "users")["skipped"], json!(1));
    assert_same_rows(&before, &dump(&to).await);
    let (_, again, _) = duet_json(&["copy", "--from", &src, "--to", &to, "--merge"]).await;
    assert_eq!(again["mode"], json!("merge"), "the dry run left no record of a run");
}

#[tokio::test]
#[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
async fn a_dry_run_into_postgres_leaves_the_schema_empty() {
    let source = TestApp::spawn(Backend::Sqlite).await.expect("source");
    fill(&source).await;
    let src = app_sqlite_url(&source).await;
    let pg = PgSchema::new().await;
    let (code, report, err) = duet_json(&["copy", "--from", &src, "--to", &pg.url(), "--dry-run"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(entry(&report, "users")["checksum"]["matches"], json!(true), "{report}");
    assert_eq!(pg.table_count().await, 0, "no table was created");
}

#[tokio::test]
async fn sources_that_cannot_be_copied_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "t.db");
    let owui = format!("sqlite://{}/tests/fixtures/openwebui/webui.db", env!("CARGO_MANIFEST_DIR"));
    let cases = [
        (
            owui.clone(),
            "duet: the source is not a duet database (it has no migration record); for an Open WebUI database use \
             `duet import-openwebui`"
                .to_string(),
        ),
        (
            sqlite_url(dir.path(), "missing.db"),
            format!("duet: {}: no such database file", dir.path().join("missing.db").display()),
        ),
        (
            "mysql://x/y".into(),
            "duet: mysql://x/y: not a database URL (sqlite:///path/to/file.db or postgres://user@host/db)".into(),
        ),
        (to.clone(), "duet: the source and the target are the same database".into()),
    ];
    for (from, expected) in cases {
        let (code, out, err) = duet(&["copy", "--from", &from, "--to", &to], &[]).await;
        assert_eq!((code, err.trim()), (Some(1), expected.as_str()), "{from}: {out}");
    }
}

#[tokio::test]
async fn a_group_listed_before_its_parent_gets_its_parent_once_the_parent_arrives() {
    let dir = tempfile::tempdir().expect("dir");
    let src = sqlite_url(dir.path(), "src.db");
    let (code, _, err) = duet(&["migrate"], &[("DATABASE_URL", &src)]).await;
    assert_eq!(code, Some(0), "{err}");
    let source = duet::migrate::conn::Conn::open_target(&src).await.expect("open");
    let mut tx = source.begin().await.expect("tx");
    for (id, parent) in [("z-parent", None), ("a-child", Some("z-parent")), ("m-grandchild", Some("a-child"))]
    {
        let parent = parent.map(|p| format!("'{p}'")).unwrap_or_else(|| "null".into());
        tx.execute(
            format!("insert into groups (id, user_id, parent_group_id, name, created_at, updated_at) values ('{id}', 'u', {parent}, '{id}', 1, 1)"),
            &[],
        )
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    source.close().await;

    // One row per batch; stopped right after the first (the child, written without its parent).
    let to = sqlite_url(dir.path(), "copy.db");
    let mut opts = CopyOptions { batch_rows: 1, stop_after_batches: Some(1), ..CopyOptions::new(&src, &to) };
    run(&opts).await.expect_err("stopped");
    let parents = |url: String| async move {
        let d = dump(&url).await;
        d["groups"]
            .iter()
            .map(|g| (g["id"].as_str().unwrap_or("").to_string(), g["parent_group_id"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(parents(to.clone()).await, [("a-child".to_string(), Value::Null)]);
    opts.stop_after_batches = None;
    let report = run(&opts).await.expect("resumed");
    assert!(report.ok, "{}", report.summary());
    assert_eq!(
        parents(to.clone()).await,
        [
            ("a-child".to_string(), json!("z-parent")),
            ("m-grandchild".to_string(), json!("a-child")),
            ("z-parent".to_string(), Value::Null)
        ]
    );
    assert_same_rows(&dump(&src).await, &dump(&to).await);
}
