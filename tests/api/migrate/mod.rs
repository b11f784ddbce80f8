//! The move-in tools: `duet copy` (SQLite ⇄ PostgreSQL) and `duet import-openwebui`, driven through
//! the binary and the library, with every row of source and target compared by a reader of the
//! test's own (not the tool's).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::helpers::{PASSWORD, TestApp, required_postgres_url};

mod copy;
mod copy_modes;
mod openwebui;
mod openwebui_bad;
mod openwebui_connections;

/// Tables of a duet database that are bookkeeping, not data.
const BOOKKEEPING: &[&str] = &["_sqlx_migrations", "migrate_runs"];

/// A PostgreSQL schema of its own for one test, dropped at the end.
pub struct PgSchema {
    pub base: String,
    pub name: String,
}

impl PgSchema {
    pub async fn new() -> PgSchema {
        let base = required_postgres_url();
        let name = format!("duet_mig_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&base).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("create schema \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("schema");
        PgSchema { base, name }
    }

    /// The URL of a session whose search path is this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.name)
    }

    /// Tables in the schema.
    pub async fn table_count(&self) -> i64 {
        let mut conn = sqlx::PgConnection::connect(&self.base).await.expect("postgres");
        sqlx::query_scalar("select count(*) from information_schema.tables where table_schema = $1")
            .bind(&self.name)
            .fetch_one(&mut conn)
            .await
            .expect("count")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let sql = format!("drop schema if exists \"{name}\" cascade");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// The URL of a SQLite file in `dir`.
pub fn sqlite_url(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// The SQLite database of a test server.
pub async fn app_sqlite_url(app: &TestApp) -> String {
    use duet::run;
    let db = &app.db;
    let path: String =
        run!(db, e => sqlx::query_scalar("select file from pragma_database_list where name = 'main'")
        .fetch_one(e)
        .await)
        .expect("sqlite file");
    format!("sqlite://{path}")
}

/// Runs the `duet` binary with `args`; (exit code, stdout, stderr).
pub async fn duet(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("dir");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_duet"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .args(&args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run duet");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

/// Runs the binary with `--json` added; the parsed report (panics with the output otherwise).
pub async fn duet_json(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let (code, out, err) = duet(&all, &[]).await;
    let report =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
    (code, report, err)
}

/// The report's entry for `table`.
pub fn entry<'a>(report: &'a Value, table: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["name"] == table))
        .unwrap_or_else(|| panic!("no {table} in {report:#}"))
}

/// Every row of every data table, as JSON objects keyed by table, sorted by key. JSON columns are
/// parsed, booleans are booleans, whatever the backend stores.
pub async fn dump(url: &str) -> BTreeMap<String, Vec<Value>> {
    if url.starts_with("postgres") { dump_pg(url).await } else { dump_sqlite(url).await }
}

async fn dump_sqlite(url: &str) -> BTreeMap<String, Vec<Value>> {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).expect("url").read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.expect("sqlite");
    let tables: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for t in tables.into_iter().filter(|t| !BOOKKEEPING.contains(&t.as_str())) {
        let cols: Vec<(String, String)> =
            sqlx::query_as("select name, lower(type) from pragma_table_info($1) order by cid")
                .bind(&t)
                .fetch_all(&mut conn)
                .await
                .expect("columns");
        let pairs: Vec<String> = cols.iter().map(|(c, _)| format!("'{c}', \"{c}\"")).collect();
        let sql = format!("select json_object({}) from \"{t}\"", pairs.join(", "));
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.expect("rows");
        let mut parsed: Vec<Value> = rows.iter().map(|r| serde_json::from_str(r).expect("json")).collect();
        let json_cols = json_columns();
        for row in &mut parsed {
            for (c, ty) in &cols {
                let v = row.get_mut(c).expect("column");
                if ty == "boolean" && v.is_i64() {
                    *v = json!(v.as_i64() != Some(0));
                }
                if json_cols.contains(&(t.clone(), c.clone()))
                    && let Some(s) = v.as_str()
                {
                    *v = serde_json::from_str(s).unwrap_or_else(|_| v.clone());
                }
            }
        }
        out.insert(t, sorted(parsed));
    }
    out
}

async fn dump_pg(url: &str) -> BTreeMap<String, Vec<Value>> {
    let opts = sqlx::postgres::PgConnectOptions::from_str(url).expect("url");
    let mut conn = sqlx::PgConnection::connect_with(&opts).await.expect("postgres");
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = current_schema() order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for t in tables.into_iter().filter(|t| !BOOKKEEPING.contains(&t.as_str())) {
        let sql = format!("select to_jsonb(t)::text from \"{t}\" t");
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.expect("rows");
        out.insert(t, sorted(rows.iter().map(|r| serde_json::from_str(r).expect("json")).collect()));
    }
    out
}

/// The JSON columns of duet's schema (`jsonb` on PostgreSQL, text on SQLite), read from the
/// PostgreSQL migrations: `create table t (… c jsonb …)` and `alter table t add column c jsonb`.
fn json_columns() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut out = BTreeSet::new();
    let mut files: Vec<_> =
        std::fs::read_dir(dir).expect("migrations").map(|e| e.expect("entry").path()).collect();
    files.sort();
    for f in files {
        let mut table = String::new();
        for line in std::fs::read_to_string(f).expect("read").lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["create", "table", name, ..] => table = name.trim_matches('"').to_string(),
                ["alter", "table", name, "add", "column", col, ty, ..] if ty.starts_with("jsonb") => {
                    out.insert((name.to_string(), col.to_string()));
                }
                [col, ty, ..] if ty.starts_with("jsonb") && !table.is_empty() => {
                    out.insert((table.clone(), col.to_string()));
                }
                _ => {}
            }
        }
    }
    out
}

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(canonical);
    rows
}

/// JSON with object keys sorted (rows compare equal whatever order a backend keeps keys in).
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: BTreeSet<&String> = m.keys().collect();
            let parts: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", json!(k), canonical(&m[k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Asserts that two dumps hold the same rows in every table of `a`.
pub fn assert_same_rows(a: &BTreeMap<String, Vec<Value>>, b: &BTreeMap<String, Vec<Value>>) {
    for (table, rows) in a {
        let other = b.get(table).unwrap_or_else(|| panic!("no table {table} in the copy"));
        let left: Vec<String> = rows.iter().map(canonical).collect();
        let right: Vec<String> = other.iter().map(canonical).collect();
        assert_eq!(left, right, "table {table} differs");
    }
}

/// What `fill` made.
#[allow(dead_code)]
pub struct Filled {
    pub admin: String,
    pub bob: String,
    pub bob_id: String,
    pub chat: String,
    pub share_id: String,
    pub folder: String,
    pub group: String,
    pub api_key: String,
}

/// A duet database with some of everything, made through the server: users of each role, an API
/// key, groups (one inside another), folders (one inside another), chats with tags, pinned,
/// archived, in folders and shared, models with access grants and a version history, a revoked
/// token and the seeded configuration.
pub async fn fill(app: &TestApp) -> Filled {
    let (admin, _) = app.admin().await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (_carol, carol_id) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    app.user(&admin, "Pending Pat", "pat@example.com", "pending").await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    assert_eq!(key.status, StatusCode::OK, "{}", key.text);
    let api_key = key.body["api_key"].as_str().expect("key").to_string();

    let post = |path: String, token: String, body: Value| async move {
        let a = app.post(&path, Some(&token), body).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        a.body
    };
    let eng = post(
        "/api/v1/groups/create".into(),
        admin.clone(),
        json!({"name": "Engineering", "description": "All"}),
    )
    .await;
    let eng = eng["id"].as_str().expect("id").to_string();
    let backend = post(
        "/api/v1/groups/create".into(),
        admin.clone(),
        json!({"name": "Backend", "description": "", "parent_group_id": eng, "permissions": {"workspace": {"models": true}}}),
    )
    .await;
    let backend = backend["id"].as_str().expect("id").to_string();
    post(format!("/api/v1/groups/id/{backend}/users/add"), admin.clone(), json!({"user_ids": [bob_id]}))
        .await;
    post(format!("/api/v1/groups/id/{eng}/users/add"), admin.clone(), json!({"user_ids": [carol_id]})).await;

    let work =
        post("/api/v1/folders/".into(), bob.clone(), json!({"name": "Work", "meta": {"icon": "💼"}})).await;
    let work = work["id"].as_str().expect("id").to_string();
    post("/api/v1/folders/".into(), bob.clone(), json!({"name": "Reports", "parent_id": work})).await;

    let doc = |title: &str| {
        json!({"title": title, "models": ["llama3"], "history": {"currentId": "m2", "messages": {
            "m1": {"id": "m1", "parentId": null, "childrenIds": ["m2"], "role": "user", "content": format!("about {title}")},
            "m2": {"id": "m2", "parentId": "m1", "childrenIds": [], "role": "assistant", "content": "Ünïcødé ✓ \"quoted\"",
                   "model": "llama3", "done": true}}}})
    };
    let chat =
        post("/api/v1/chats/new".into(), bob.clone(), json!({"chat": doc("Rust"), "folder_id": work})).await;
    let chat = chat["id"].as_str().expect("id").to_string();
    post(format!("/api/v1/chats/{chat}/tags"), bob.clone(), json!({"name": "Help Me"})).await;
    post(format!("/api/v1/chats/{chat}/tags"), bob.clone(), json!({"name": "rust"})).await;
    post(format!("/api/v1/chats/{chat}/pin"), bob.clone(), json!({})).await;
    let share = post(format!("/api/v1/chats/{chat}/share"), bob.clone(), json!({})).await;
    let share_id = share["share_id"].as_str().expect("share").to_string();
    for i in 0..5 {
        let c =
            post("/api/v1/chats/new".into(), bob.clone(), json!({"chat": doc(&format!("Chat {i}"))})).await;
        if i == 0 {
            post(format!("/api/v1/chats/{}/archive", c["id"].as_str().expect("id")), bob.clone(), json!({}))
                .await;
        }
    }
    post("/api/v1/chats/new".into(), admin.clone(), json!({"chat": doc("Admin's")})).await;

    let model = json!({"id": "team-helper", "name": "Team Helper", "base_model_id": "llama3",
        "meta": {"description": "Helps", "tags": [{"name": "team"}]}, "params": {"temperature": 0.25, "system": "Be kind"},
        "access_grants": [{"principal_type": "group", "principal_id": eng, "permission": "read"},
                          {"principal_type": "user", "principal_id": bob_id, "permission": "write"}]});
    post("/api/v1/models/create".into(), admin.clone(), model.clone()).await;
    let mut changed = model;
    changed["name"] = json!("Team Helper 2");
    post("/api/v1/models/model/update".into(), admin.clone(), changed).await;

    // A signed-out session leaves a revoked token behind.
    let s = app.signin("carol@example.com", PASSWORD).await;
    let t = s.body["token"].as_str().expect("token").to_string();
    assert_eq!(app.post("/api/v1/auths/signout", Some(&t), json!({})).await.status, StatusCode::OK);

    Filled { admin, bob, bob_id, chat, share_id, folder: work, group: eng, api_key }
}

/// Rows of `table` in a database (through a connection of the test's own).
pub async fn count(url: &str, table: &str) -> i64 {
    let sql = format!("select count(*) from \"{table}\"");
    if url.starts_with("postgres") {
        let opts = sqlx::postgres::PgConnectOptions::from_str(url).expect("url");
        let mut c = sqlx::PgConnection::connect_with(&opts).await.expect("pg");
        sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.expect("count").get::<i64, _>(0)
    } else {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).expect("url");
        let mut c = sqlx::SqliteConnection::connect_with(&opts).await.expect("sqlite");
        sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.expect("count").get::<i64, _>(0)
    }
}
