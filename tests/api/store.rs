//! Storage: migrations are idempotent and safe when several instances start at once; two server
//! instances over one database see each other's writes and revocations.

use reqwest::StatusCode;
use serde_json::json;

use std::time::Duration;

use duet::run;
use duet::store::Db;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";

backend_tests!(
    fresh_database_migrates_once_under_concurrent_start_ups,
    two_instances_share_one_database,
    hot_paths_run_few_statements,
    cached_hot_paths_skip_the_database,
    cached_reads_follow_every_write_of_this_server,
    another_process_sees_changes_within_the_cache_ttl,
    settings_changes_apply_at_once_here_and_within_the_ttl_elsewhere,
    a_failed_write_takes_back_only_its_own_rows,
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
    let Some(app) = TestApp::spawn_with(b, &NO_READ_CACHES).await else { return };
    let (token, _) = app.admin().await;
    let chat = app.post("/api/v1/chats/new", Some(&token), json!({"chat": {"title": "One"}})).await;
    let id = chat.body["id"].as_str().expect("id").to_string();
    for path in ["/api/v1/auths/", "/api/v1/chats/?page=1", "/api/v1/models/list"] {
        statements_for(&app, path, &token).await; // warms the configuration cache
    }
    assert_eq!(statements_for(&app, "/api/v1/auths/", &token).await, 1);
    assert_eq!(statements_for(&app, "/api/v1/chats/?page=1", &token).await, 2);
    assert_eq!(statements_for(&app, &format!("/api/v1/chats/{id}"), &token).await, 2);

    // The GraphQL sidebar — folders with a page of their chats, pinned chats and the chats
    // outside folders, with owners, tags and folders — costs the same statements at any size.
    fill_sidebar(&app, &token, 2, 1).await;
    let small = sidebar_statements(&app, &token, 2, 2).await;
    fill_sidebar(&app, &token, 6, 4).await;
    let large = sidebar_statements(&app, &token, 2 + 6, 3).await;
    assert_eq!(small, large, "a small sidebar took {small} statements, a large one {large}");
    assert!(small <= 14, "{small} statements");
}

/// Adds `folders` folders of `per_folder` chats each (one tagged), a pinned chat in the first of
/// them, and a root chat.
async fn fill_sidebar(app: &TestApp, token: &str, folders: usize, per_folder: usize) {
    let new_chat = |title: String, folder: Option<String>| async move {
        let c = app
            .post("/api/v1/chats/new", Some(token), json!({"chat": {"title": title}, "folder_id": folder}))
            .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
        c.body["id"].as_str().expect("id").to_string()
    };
    let mut first = None;
    for i in 0..folders {
        let name = format!("Folder {}", uuid::Uuid::new_v4());
        let f = app.post("/api/v1/folders/", Some(token), json!({"name": name})).await;
        assert_eq!(f.status, StatusCode::OK, "{}", f.text);
        let folder = f.body["id"].as_str().expect("id").to_string();
        for j in 0..per_folder {
            let id = new_chat(format!("In {i}.{j}"), Some(folder.clone())).await;
            if j == 0 {
                app.post(&format!("/api/v1/chats/{id}/tags"), Some(token), json!({"name": "work"})).await;
            }
        }
        first.get_or_insert(folder);
    }
    let pinned = new_chat("Pinned".into(), first).await;
    app.send("POST", &format!("/api/v1/chats/{pinned}/pin"), Some(token), None).await;
    new_chat("Root".into(), None).await;
}

/// Statements of one sidebar request, checking it holds `folders` folders and `root` chats
/// outside them.
async fn sidebar_statements(app: &TestApp, token: &str, folders: usize, root: i64) -> u64 {
    let query = "{ me { id name }
        folders { id name unreadCount chats(first: 10) { totalCount edges { node { id title updatedAt user { name } tags { name } } } } }
        pinned: chats(pinned: true, first: 20) { edges { node { id title folder { id name } } } }
        chats(first: 60, pinned: false, includeFolders: false) { totalCount edges { node { id title user { name } tags { name } folder { name } } } } }";
    let before = app.db.statement_count();
    let a = gql(app, Some(token), query, json!({})).await;
    let used = app.db.statement_count() - before;
    assert!(a.body["errors"].is_null(), "{}", a.text);
    let data = &a.body["data"];
    assert_eq!(data["folders"].as_array().expect("folders").len(), folders);
    assert_eq!(data["chats"]["totalCount"], root, "{}", a.text);
    let tagged = data["folders"].as_array().expect("folders").iter().filter(|f| {
        f["chats"]["edges"]
            .as_array()
            .is_some_and(|e| e.iter().any(|c| c["node"]["tags"] == json!([{"name": "work"}])))
    });
    assert!(tagged.count() + 1 >= folders, "{}", a.text);
    assert!(
        data["pinned"]["edges"]
            .as_array()
            .is_some_and(|p| p.iter().all(|c| c["node"]["folder"]["name"].is_string()))
    );
    used
}

const NO_READ_CACHES: [(&str, &str); 2] = [("SESSION_CACHE_TTL", "0"), ("CHAT_LIST_CACHE_TTL", "0")];
const READ_CACHES: [(&str, &str); 2] = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000")];

/// With the session and chat-list caches on, a repeated session check and chat list page run no
/// statement; a chat still is read from the database.
async fn cached_hot_paths_skip_the_database(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let (token, _) = app.admin().await;
    let chat = app.post("/api/v1/chats/new", Some(&token), json!({"chat": {"title": "One"}})).await;
    let id = chat.body["id"].as_str().expect("id").to_string();
    for path in ["/api/v1/auths/", "/api/v1/chats/?page=1", "/api/v1/models/list"] {
        statements_for(&app, path, &token).await;
    }
    assert_eq!(statements_for(&app, "/api/v1/auths/", &token).await, 0);
    assert_eq!(statements_for(&app, "/api/v1/chats/?page=1", &token).await, 0);
    assert_eq!(statements_for(&app, &format!("/api/v1/chats/{id}"), &token).await, 1);
    // SQLite turns both caches on by default; PostgreSQL (several instances) leaves them off.
    let Some(default) = TestApp::spawn(b).await else { return };
    let (token, _) = default.admin().await;
    statements_for(&default, "/api/v1/auths/", &token).await;
    let expected = if b == Backend::Sqlite { 0 } else { 1 };
    assert_eq!(statements_for(&default, "/api/v1/auths/", &token).await, expected);
}

/// Titles of the first page of a user's chat list.
async fn titles(app: &TestApp, token: &str) -> Vec<String> {
    let a = app.get("/api/v1/chats/?page=1", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut titles: Vec<String> =
        a.body.as_array().expect("list").iter().map(|c| c["title"].as_str().expect("title").into()).collect();
    titles.sort();
    titles
}

/// Every kind of write made through the server shows in its next answer, although the session
/// check and the chat list are served from caches with a minute to live.
async fn cached_reads_follow_every_write_of_this_server(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &READ_CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let name = |a: &crate::helpers::Answer| a.body["name"].as_str().unwrap_or_default().to_string();
    assert_eq!(name(&app.get("/api/v1/auths/", Some(&alice)).await), "Alice");
    assert_eq!(statements_for(&app, "/api/v1/auths/", &alice).await, 0, "served from the cache");

    // Account: an admin's edit, the user's own edit, role changes.
    let u = app
        .post(&format!("/api/v1/users/{alice_id}/update"), Some(&admin), json!({"name": "Alice B."}))
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(name(&app.get("/api/v1/auths/", Some(&alice)).await), "Alice B.");
    let p = app
        .post(
            "/api/v1/auths/update/profile",
            Some(&alice),
            json!({"name": "Alice C.", "profile_image_url": ""}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(name(&app.get("/api/v1/auths/", Some(&alice)).await), "Alice C.");
    let demote =
        app.post(&format!("/api/v1/users/{alice_id}/update"), Some(&admin), json!({"role": "pending"})).await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.text);
    let refused = app.get("/api/v1/chats/?page=1", Some(&alice)).await;
    assert_eq!(
        (refused.status, refused.body["detail"].as_str()),
        (StatusCode::UNAUTHORIZED, Some(ACCESS_PROHIBITED))
    );
    app.post(&format!("/api/v1/users/{alice_id}/update"), Some(&admin), json!({"role": "user"})).await;

    // Chats: create, rename, archive, clone, import, archive all, delete, delete all.
    assert!(titles(&app, &alice).await.is_empty());
    let c = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": {"title": "First"}})).await;
    let id = c.body["id"].as_str().expect("id").to_string();
    assert_eq!(titles(&app, &alice).await, ["First"]);
    assert_eq!(statements_for(&app, "/api/v1/chats/?page=1", &alice).await, 0, "served from the cache");
    app.post(&format!("/api/v1/chats/{id}"), Some(&alice), json!({"chat": {"title": "Renamed"}})).await;
    assert_eq!(titles(&app, &alice).await, ["Renamed"]);
    // The same cache behind GraphQL: a rename there shows in both interfaces.
    let gql_titles = || async {
        let q = gql(&app, Some(&alice), "{ chats(first: 10) { edges { node { title } } } }", json!({})).await;
        let edges = q.body["data"]["chats"]["edges"].as_array().expect("edges").clone();
        edges.iter().map(|e| e["node"]["title"].as_str().expect("title").to_string()).collect::<Vec<_>>()
    };
    assert_eq!(gql_titles().await, ["Renamed"]);
    let m = gql(
        &app,
        Some(&alice),
        "mutation($id: String!) { updateChat(id: $id, chat: {title: \"Via GraphQL\"}) { title } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(m.body["data"]["updateChat"]["title"], "Via GraphQL", "{}", m.text);
    assert_eq!(gql_titles().await, ["Via GraphQL"]);
    assert_eq!(titles(&app, &alice).await, ["Via GraphQL"]);
    app.post(&format!("/api/v1/chats/{id}"), Some(&alice), json!({"chat": {"title": "Renamed"}})).await;
    assert_eq!(gql_titles().await, ["Renamed"]);
    app.send("POST", &format!("/api/v1/chats/{id}/archive"), Some(&alice), None).await;
    assert!(titles(&app, &alice).await.is_empty());
    app.send("POST", &format!("/api/v1/chats/{id}/archive"), Some(&alice), None).await;
    assert_eq!(titles(&app, &alice).await, ["Renamed"]);
    let copy = app.post(&format!("/api/v1/chats/{id}/clone"), Some(&alice), json!({"title": "Copy"})).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.text);
    assert_eq!(titles(&app, &alice).await, ["Copy", "Renamed"]);
    let import =
        json!({"chats": [{"chat": {"title": "Imported"}, "meta": {}, "pinned": false, "archived": false}]});
    assert_eq!(app.post("/api/v1/chats/import", Some(&alice), import).await.status, StatusCode::OK);
    assert_eq!(titles(&app, &alice).await, ["Copy", "Imported", "Renamed"]);
    app.send("POST", "/api/v1/chats/archive/all", Some(&alice), None).await;
    assert!(titles(&app, &alice).await.is_empty());
    app.send("POST", "/api/v1/chats/unarchive/all", Some(&alice), None).await;
    assert_eq!(titles(&app, &alice).await, ["Copy", "Imported", "Renamed"]);
    assert_eq!(app.delete(&format!("/api/v1/chats/{id}"), Some(&alice)).await.status, StatusCode::OK);
    assert_eq!(titles(&app, &alice).await, ["Copy", "Imported"]);
    assert_eq!(app.delete("/api/v1/chats/", Some(&alice)).await.status, StatusCode::OK);
    assert!(titles(&app, &alice).await.is_empty());

    // Sessions: sign-out, password change, deletion.
    let second = app.signin("alice@example.com", crate::helpers::PASSWORD).await.body["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(app.get("/api/v1/auths/", Some(&second)).await.status, StatusCode::OK);
    assert_eq!(app.post("/api/v1/auths/signout", Some(&second), json!({})).await.status, StatusCode::OK);
    let out = app.get("/api/v1/auths/", Some(&second)).await;
    assert_eq!((out.status, out.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    assert_eq!(app.get("/api/v1/auths/", Some(&alice)).await.status, StatusCode::OK);
    let change = json!({"password": crate::helpers::PASSWORD, "new_password": "N3w-pass!"});
    assert_eq!(app.post("/api/v1/auths/update/password", Some(&alice), change).await.status, StatusCode::OK);
    let stale = app.get("/api/v1/auths/", Some(&alice)).await;
    assert_eq!((stale.status, stale.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    assert_eq!(app.get("/api/v1/auths/", Some(&bob)).await.status, StatusCode::OK);
    assert_eq!(app.delete(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await.status, StatusCode::OK);
    let gone = app.get("/api/v1/auths/", Some(&bob)).await;
    assert_eq!((gone.status, gone.detail()), (StatusCode::UNAUTHORIZED, "Invalid authentication request."));
}

/// Another process on the same database (which the deployment guide rules out for SQLite and
/// which is why PostgreSQL leaves the caches off by default) sees this server's writes once its
/// cached copies expire.
async fn another_process_sees_changes_within_the_cache_ttl(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let other =
        app.separate_instance(&[("SESSION_CACHE_TTL", "3000"), ("CHAT_LIST_CACHE_TTL", "3000")]).await;
    assert_eq!(other.get("/api/v1/auths/", Some(&admin)).await.status, StatusCode::OK);
    assert!(titles(&other, &alice).await.is_empty());

    assert_eq!(app.post("/api/v1/auths/signout", Some(&admin), json!({})).await.status, StatusCode::OK);
    app.post("/api/v1/chats/new", Some(&alice), json!({"chat": {"title": "New"}})).await;
    assert_eq!(
        other.get("/api/v1/auths/", Some(&admin)).await.status,
        StatusCode::OK,
        "its copy, still fresh"
    );
    assert!(titles(&other, &alice).await.is_empty());

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let out = other.get("/api/v1/auths/", Some(&admin)).await;
    assert_eq!((out.status, out.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    assert_eq!(titles(&other, &alice).await, ["New"]);
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

/// Writes that queue behind one another commit together on SQLite, each in a savepoint of its
/// own: one that fails halfway takes back only its own rows, and every other write queued with
/// it is kept and answered (on PostgreSQL the same writes run side by side).
async fn a_failed_write_takes_back_only_its_own_rows(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (token, admin_id) = app.admin().await;
    // A transaction holds the writer turn with an account it has not committed yet; the writes
    // below queue behind it, in this order.
    let mut held = app.db.begin().await.expect("begin");
    let account = duet::store::users::NewUser {
        id: "held-account".into(),
        email: "taken@example.com".into(),
        name: "Held".into(),
        profile_image_url: String::new(),
        role: "user".into(),
        now: duet::store::now(),
    };
    duet::store::users::insert(&mut held, &account, false).await.expect("insert the held account");
    let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
    let create = |title: &'static str, after: u64| {
        let (app, token) = (&app, &token);
        async move {
            pause(after).await;
            app.post("/api/v1/chats/new", Some(token), json!({"chat": {"title": title}})).await
        }
    };
    // Writes a chat, then fails on its second statement (the same id again).
    let failing = async {
        pause(150).await;
        let mut tx = app.db.begin().await.expect("begin");
        let insert = "insert into chats (id, user_id, title, chat, created_at, updated_at) values ($1, $2, $3, '{}', 0, 0)";
        let first = run!(&mut tx, e => sqlx::query(insert).bind("doomed").bind(&admin_id).bind("Doomed")
            .execute(e).await.map(|r| r.rows_affected()));
        assert_eq!(first.expect("the first row"), 1);
        let second = run!(&mut tx, e => sqlx::query(insert).bind("doomed").bind(&admin_id).bind("Doomed again")
            .execute(e).await.map(|r| r.rows_affected()));
        assert!(second.is_err(), "a second row with the same id");
        // Dropped without a commit.
    };
    // Fails at its first statement: the held account has the email (not visible outside its
    // transaction, so the check before it passes).
    let taken = async {
        pause(200).await;
        app.post(
            "/api/v1/auths/add",
            Some(&token),
            json!({"name": "Second", "email": "taken@example.com", "password": PASSWORD, "role": "user"}),
        )
        .await
    };
    let commit_held = async {
        pause(1200).await;
        held.commit().await.expect("commit the held transaction");
    };
    let (early, (), taken, late, ()) = tokio::join!(
        futures_util::future::join_all([create("Kept 0", 50), create("Kept 1", 60), create("Kept 2", 70)]),
        failing,
        taken,
        futures_util::future::join_all([create("Kept 3", 400), create("Kept 4", 410), create("Kept 5", 420)]),
        commit_held,
    );
    for a in early.iter().chain(&late) {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    assert_eq!(
        (taken.status, taken.detail()),
        (
            StatusCode::BAD_REQUEST,
            "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew."
        )
    );

    // Every kept write is there, read back over the API; nothing of the failed ones is.
    let list = app.get("/api/v1/chats/?page=1", Some(&token)).await;
    let mut titles: Vec<&str> =
        list.body.as_array().expect("chats").iter().filter_map(|c| c["title"].as_str()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["Kept 0", "Kept 1", "Kept 2", "Kept 3", "Kept 4", "Kept 5"]);
    for a in early.iter().chain(&late) {
        let id = a.body["id"].as_str().expect("id");
        let chat = app.get(&format!("/api/v1/chats/{id}"), Some(&token)).await;
        assert_eq!((chat.status, &chat.body["title"]), (StatusCode::OK, &a.body["title"]));
    }
    assert_eq!(app.get("/api/v1/chats/doomed", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", "doomed").await, 0);
    // The held account, committed with the rest; the second account left no user and no
    // credential.
    assert_eq!(
        app.scalar_text("select id from users where email = $1", "taken@example.com").await.as_deref(),
        Some("held-account")
    );
    assert_eq!(app.scalar_count("select count(*) from users where name = $1", "Second").await, 0);
    assert_eq!(app.scalar_count("select count(*) from auths where email = $1", "taken@example.com").await, 0);
    let users = app.get("/api/v1/users/", Some(&token)).await;
    assert!(users.text.contains("taken@example.com") && !users.text.contains("Second"), "{}", users.text);

    // The writer goes on.
    let after = app.post("/api/v1/chats/new", Some(&token), json!({"chat": {"title": "After"}})).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
}
