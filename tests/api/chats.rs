//! `/api/v1/chats`: create, list and paging, read, merge updates, delete, pin, archive, tags, shares,
//! clone, message edits, search, import, admin views, the NDJSON export, and isolation between users.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp, futures_join};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const DEFAULT: &str = "Something went wrong :/";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";
const TOO_LARGE: &str = "The request body is too large.";

/// Every field of the reference's `ChatResponse`.
const CHAT_FIELDS: &[&str] = &[
    "id",
    "user_id",
    "title",
    "chat",
    "updated_at",
    "created_at",
    "share_id",
    "archived",
    "pinned",
    "meta",
    "variables",
    "folder_id",
    "tasks",
    "summary",
    "current_message_id",
    "context_usage",
];

/// Every field of the reference's `ChatTitleIdResponse`.
const TITLE_ID_FIELDS: &[&str] =
    &["id", "title", "updated_at", "created_at", "last_read_at", "snippet", "active", "archived"];

backend_tests!(
    clone_of_a_share_copies_the_snapshot_for_the_reader,
    create_answers_the_full_chat_response_and_stamps_messages,
    create_without_a_title_is_new_chat,
    create_with_a_bad_body_is_422_in_fastapi_shape,
    body_over_the_limit_is_413_and_writes_nothing,
    megabyte_chat_is_stored_and_read_back_intact,
    routes_need_a_verified_user,
    list_has_title_id_items_newest_first_without_pinned_or_archived,
    list_pages_sixty_chats_and_archived_pages_too,
    non_numeric_page_is_422_in_fastapi_shape,
    list_sorts_by_title_and_rejects_unknown_sort_fields,
    read_answers_own_chat_and_hides_others,
    update_merges_top_level_keys_and_keeps_the_rest,
    update_merges_history_and_bumps_updated_at_only_with_history,
    update_of_someone_elses_chat_is_401_and_changes_nothing,
    delete_removes_the_chat_its_share_and_its_tags,
    delete_all_removes_only_the_callers_chats,
    chat_delete_permission_off_stops_users_but_not_admins,
    pin_toggles_and_pinned_chats_leave_the_default_list,
    archive_toggles_and_archived_views_list_them,
    archive_all_and_unarchive_all_move_every_own_chat,
    tags_are_added_listed_filtered_and_removed,
    tag_named_none_is_400_and_others_chats_are_401,
    share_creates_a_snapshot_with_its_own_id_and_keeps_it,
    share_is_readable_only_by_owner_and_admin,
    unshare_and_unshare_all_remove_the_snapshots,
    clone_copies_the_chat_with_origin_fields,
    clone_of_a_chat_without_history_is_200,
    message_content_is_edited_and_unknown_message_is_404,
    deleting_a_leaf_message_removes_it_from_its_parent,
    deleting_a_message_takes_its_replies_and_reparents_the_rest,
    search_matches_content_and_title_case_insensitively,
    search_filters_by_tag_pinned_and_archived,
    search_with_empty_text_lists_own_chats,
    import_keeps_timestamps_and_flags,
    admin_views_list_every_users_chats,
    admin_access_switches_turn_admin_views_off,
    export_is_ndjson_newest_first_with_archived,
    isolation_between_users,
    concurrent_updates_keep_every_key,
);

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// The `id` of every item of a JSON array answer, in order.
fn ids(a: &Answer) -> Vec<String> {
    a.body
        .as_array()
        .unwrap_or_else(|| panic!("array: {}", a.text))
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

fn sorted_ids(a: &Answer) -> Vec<String> {
    let mut v = ids(a);
    v.sort();
    v
}

/// Owned copies of `list`, in order.
fn owned(list: &[&String]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sorted_of(list: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The transcript's "Create chat" document: a user message `m1` ("hello banana") and an
/// assistant answer `m2`, current message `m2`.
fn sample_chat(title: &str) -> Value {
    json!({
        "title": title,
        "models": ["gpt-x"],
        "history": {
            "currentId": "m2",
            "messages": {
                "m1": {"id": "m1", "parentId": null, "childrenIds": ["m2"], "role": "user", "content": "hello banana"},
                "m2": {"id": "m2", "parentId": "m1", "childrenIds": [], "role": "assistant", "content": "hi there",
                       "model": "gpt-x", "done": true}
            }
        },
        "messages": []
    })
}

/// A chat with a plain title and one user message of `content`.
fn simple_chat(title: &str, content: &str) -> Value {
    json!({
        "title": title,
        "history": {
            "currentId": "u1",
            "messages": {"u1": {"id": "u1", "parentId": null, "childrenIds": [], "role": "user", "content": content}}
        }
    })
}

/// Creates a chat through the API; returns the whole `ChatResponse`.
async fn create(app: &TestApp, token: &str, chat: Value) -> Value {
    let a = app.post("/api/v1/chats/new", Some(token), json!({"chat": chat})).await;
    assert_eq!(a.status, StatusCode::OK, "create: {}", a.text);
    a.body
}

/// Creates a chat and returns its id.
async fn create_id(app: &TestApp, token: &str, chat: Value) -> String {
    create(app, token, chat).await["id"].as_str().expect("id").to_string()
}

/// A bodiless POST (pin, archive, share).
async fn bare_post(app: &TestApp, path: &str, token: Option<&str>) -> Answer {
    app.send("POST", path, token, None).await
}

/// Sets a chat's `updated_at` (epoch seconds) directly in the database.
async fn set_updated_at(app: &TestApp, id: &str, secs: i64) {
    let secs = secs.to_string();
    app.exec("update chats set updated_at = cast($2 as bigint) where id = $1", &[id, &secs]).await;
}

async fn chat_count(app: &TestApp, user_id: &str) -> i64 {
    app.scalar_count("select count(*) from chats where user_id = $1", user_id).await
}

async fn read(app: &TestApp, token: &str, id: &str) -> Answer {
    app.get(&format!("/api/v1/chats/{id}"), Some(token)).await
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

async fn create_answers_the_full_chat_response_and_stamps_messages(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let before = now();
    let a = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": sample_chat("First chat")})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), sorted(CHAT_FIELDS), "{}", a.text);
    let id = a.body["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(a.body["user_id"], alice_id.as_str());
    assert_eq!(a.body["title"], "First chat");
    assert_eq!(a.body["share_id"], Value::Null);
    assert_eq!(a.body["archived"], json!(false));
    assert_eq!(a.body["pinned"], json!(false));
    assert_eq!(a.body["meta"], json!({}));
    assert_eq!(a.body["variables"], json!({}));
    assert_eq!(a.body["folder_id"], Value::Null);
    assert_eq!(a.body["tasks"], Value::Null);
    assert_eq!(a.body["summary"], Value::Null);
    assert_eq!(a.body["current_message_id"], "m2");
    assert_eq!(a.body["context_usage"], Value::Null);
    let created = a.body["created_at"].as_i64().expect("created_at in seconds");
    assert!((created - before).abs() <= 5, "created_at {created} vs now {before}");
    assert_eq!(a.body["updated_at"], json!(created));

    // The document is stored as sent, with every message stamped with the caller.
    let mut expected = sample_chat("First chat");
    expected["history"]["messages"]["m1"]["user_id"] = json!(alice_id);
    expected["history"]["messages"]["m1"]["user"] = json!({"id": alice_id, "name": "Alice A."});
    expected["history"]["messages"]["m2"]["user_id"] = json!(alice_id);
    assert_eq!(a.body["chat"], expected);
    assert!(a.body["chat"]["history"]["messages"]["m2"].get("user").is_none(), "assistant has no user");

    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &id).await, 1);
    assert_eq!(
        app.scalar_text("select user_id from chats where id = $1", &id).await.as_deref(),
        Some(&*alice_id)
    );
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", &id).await.as_deref(),
        Some("First chat")
    );
    assert_eq!(
        app.scalar_text("select current_message_id from chats where id = $1", &id).await.as_deref(),
        Some("m2")
    );
    // Client-supplied user stamps are overwritten with the caller's.
    let mut forged = simple_chat("Forged", "x");
    forged["history"]["messages"]["u1"]["user_id"] = json!("someone-else");
    forged["history"]["messages"]["u1"]["user"] = json!({"id": "someone-else", "name": "Mallory"});
    let f = create(&app, &alice, forged).await;
    assert_eq!(f["chat"]["history"]["messages"]["u1"]["user_id"], alice_id.as_str());
    assert_eq!(f["chat"]["history"]["messages"]["u1"]["user"], json!({"id": alice_id, "name": "Alice A."}));
}

async fn create_without_a_title_is_new_chat(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let a = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": {}})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), sorted(CHAT_FIELDS));
    assert_eq!(a.body["title"], "New Chat");
    assert_eq!(a.body["chat"], json!({}));
    assert_eq!(a.body["current_message_id"], Value::Null);
    assert_eq!(a.body["user_id"], admin_id.as_str());
    let id = a.body["id"].as_str().expect("id");
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", id).await.as_deref(),
        Some("New Chat")
    );
    // Variables are kept; tags inside the document are not copied into meta.
    let v = app
        .post(
            "/api/v1/chats/new",
            Some(&admin),
            json!({"chat": {"title": "Vars", "tags": ["x"]}, "variables": {"{{CITY}}": "Paris"}}),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["variables"], json!({"{{CITY}}": "Paris"}));
    assert_eq!(v.body["meta"], json!({}));
    assert_eq!(v.body["title"], "Vars");
}

async fn create_with_a_bad_body_is_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let missing = app.post("/api/v1/chats/new", Some(&admin), json!({"title": "x"})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text);
    assert_eq!(
        missing.body,
        json!({"detail": [{"type": "missing", "loc": ["body", "chat"], "msg": "Field required", "input": {"title": "x"}}]})
    );
    let wrong = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": "x"})).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.text);
    assert_eq!(
        wrong.body,
        json!({"detail": [{"type": "dict_type", "loc": ["body", "chat"], "msg": "Input should be a valid dictionary", "input": "x"}]})
    );
    let bearer = format!("Bearer {admin}");
    let broken = app
        .raw(
            "POST",
            "/api/v1/chats/new",
            &[("authorization", &bearer), ("content-type", "application/json")],
            Some(r#"{"chat": "#),
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", broken.text);
    assert_eq!(broken.body["detail"][0]["type"], "json_invalid", "{}", broken.text);
    assert_eq!(broken.body["detail"][0]["loc"][0], "body", "{}", broken.text);
    assert_eq!(chat_count(&app, &admin_id).await, 0);
}

async fn body_over_the_limit_is_413_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("REQUEST_BODY_LIMIT", "65536")]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let big = simple_chat("Big", &"y".repeat(100_000));
    let a = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": big})).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert_eq!(a.body, json!({"detail": TOO_LARGE}));
    assert_eq!(chat_count(&app, &admin_id).await, 0);
    // The same limit holds for updates; the stored chat is untouched.
    let id = create_id(&app, &admin, simple_chat("Small", "tiny")).await;
    let u = app
        .post(
            &format!("/api/v1/chats/{id}"),
            Some(&admin),
            json!({"chat": simple_chat("Big", &"y".repeat(100_000))}),
        )
        .await;
    assert_eq!(u.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", u.text);
    assert_eq!(u.body, json!({"detail": TOO_LARGE}));
    assert_eq!(app.scalar_text("select title from chats where id = $1", &id).await.as_deref(), Some("Small"));
}

async fn megabyte_chat_is_stored_and_read_back_intact(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let content: String = (0..1_000_000u32).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let id = create_id(&app, &admin, simple_chat("Huge", &content)).await;
    let r = read(&app, &admin, &id).await;
    assert_eq!(r.status, StatusCode::OK);
    let got = r.body["chat"]["history"]["messages"]["u1"]["content"].as_str().expect("content");
    assert_eq!(got.len(), content.len());
    assert!(got == content, "the megabyte message came back changed");
    assert_eq!(r.body["title"], "Huge");
}

async fn routes_need_a_verified_user(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, pending_id) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let id = create_id(&app, &admin, sample_chat("Admin's")).await;
    let paths = [
        ("GET", "/api/v1/chats/".to_string()),
        ("GET", "/api/v1/chats/list".to_string()),
        ("GET", format!("/api/v1/chats/{id}")),
        ("GET", "/api/v1/chats/pinned".to_string()),
        ("GET", "/api/v1/chats/archived".to_string()),
        ("GET", "/api/v1/chats/all/tags".to_string()),
        ("GET", "/api/v1/chats/search?text=banana".to_string()),
        ("DELETE", "/api/v1/chats/".to_string()),
    ];
    for (method, path) in &paths {
        let none = app.send(method, path, None, None).await;
        assert_eq!(
            (none.status, none.detail()),
            (StatusCode::UNAUTHORIZED, "Not authenticated"),
            "{method} {path}"
        );
        let p = app.send(method, path, Some(&pending), None).await;
        assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{method} {path}");
    }
    let none = app.post("/api/v1/chats/new", None, json!({"chat": {}})).await;
    assert_eq!((none.status, none.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
    let p = app.post("/api/v1/chats/new", Some(&pending), json!({"chat": {}})).await;
    assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(chat_count(&app, &pending_id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &id).await, 1);
}

async fn list_has_title_id_items_newest_first_without_pinned_or_archived(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let c1 = create_id(&app, &alice, simple_chat("One", "a")).await;
    let c2 = create_id(&app, &alice, simple_chat("Two", "b")).await;
    let c3 = create_id(&app, &alice, simple_chat("Three", "c")).await;
    let pinned = create_id(&app, &alice, simple_chat("Pinned", "d")).await;
    let archived = create_id(&app, &alice, simple_chat("Archived", "e")).await;
    let _admins = create_id(&app, &admin, simple_chat("Admin's", "f")).await;
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{pinned}/pin"), Some(&alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{archived}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    set_updated_at(&app, &c1, 300).await;
    set_updated_at(&app, &c2, 200).await;
    set_updated_at(&app, &c3, 200).await;
    let (lo, hi) = if c2 < c3 { (&c2, &c3) } else { (&c3, &c2) };
    for path in ["/api/v1/chats/", "/api/v1/chats/list", "/api/v1/chats"] {
        let a = app.get(path, Some(&alice)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        // updated_at desc, then id asc; pinned, archived and other users' chats left out.
        assert_eq!(ids(&a), owned(&[&c1, lo, hi]), "{path}: {}", a.text);
        for item in a.body.as_array().expect("array") {
            assert_eq!(keys(item), sorted(TITLE_ID_FIELDS), "{item}");
            assert_eq!(item["snippet"], Value::Null);
            assert_eq!(item["active"], json!(false));
            assert_eq!(item["archived"], json!(false));
            assert!(item["created_at"].is_i64() && item["last_read_at"].is_i64(), "{item}");
        }
        assert_eq!(a.body[0]["title"], "One");
        assert_eq!(a.body[0]["updated_at"], json!(300));
    }
    let with = app.get("/api/v1/chats/?include_pinned=true", Some(&alice)).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.text);
    assert_eq!(sorted_ids(&with), sorted_of(&[&c1, &c2, &c3, &pinned]));
    // page=0 and page=-1 are the same as no page.
    for q in ["page=0", "page=-1"] {
        let a = app.get(&format!("/api/v1/chats/?{q}"), Some(&alice)).await;
        assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
        assert_eq!(ids(&a), owned(&[&c1, lo, hi]), "{q}");
    }
}

async fn list_pages_sixty_chats_and_archived_pages_too(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    for batch in 0..7 {
        let futures: Vec<_> = (0..9)
            .map(|i| {
                app.post(
                    "/api/v1/chats/new",
                    Some(&admin),
                    json!({"chat": {"title": format!("Chat {:02}", batch * 9 + i)}}),
                )
            })
            .collect();
        for a in futures_join(futures).await {
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        }
    }
    assert_eq!(chat_count(&app, &admin_id).await, 63);
    let all = app.get("/api/v1/chats/", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK);
    let every = ids(&all);
    assert_eq!(every.len(), 63, "no page: the whole list");
    let p1 = app.get("/api/v1/chats/?page=1", Some(&admin)).await;
    assert_eq!(p1.status, StatusCode::OK, "{}", p1.text);
    assert_eq!(ids(&p1), every[..60]);
    let p2 = app.get("/api/v1/chats/?page=2", Some(&admin)).await;
    assert_eq!(ids(&p2), every[60..]);
    let p3 = app.get("/api/v1/chats/?page=3", Some(&admin)).await;
    assert_eq!((p3.status, p3.body.clone()), (StatusCode::OK, json!([])));

    // The archived list pages the same way.
    let arch = bare_post(&app, "/api/v1/chats/archive/all", Some(&admin)).await;
    assert_eq!((arch.status, arch.body.clone()), (StatusCode::OK, json!(true)), "{}", arch.text);
    let count = app.get("/api/v1/chats/archived/count", Some(&admin)).await;
    assert_eq!((count.status, count.body.clone()), (StatusCode::OK, json!(63)));
    let a1 = app.get("/api/v1/chats/archived", Some(&admin)).await;
    assert_eq!(a1.status, StatusCode::OK, "{}", a1.text);
    assert_eq!(ids(&a1).len(), 60, "archived defaults to page 1");
    let a2 = app.get("/api/v1/chats/archived?page=2", Some(&admin)).await;
    assert_eq!(ids(&a2).len(), 3);
    let mut both = ids(&a1);
    both.extend(ids(&a2));
    both.sort();
    let mut expected = every.clone();
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(app.get("/api/v1/chats/", Some(&admin)).await.body, json!([]));
}

async fn non_numeric_page_is_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.get("/api/v1/chats/?page=abc", Some(&admin)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"detail": [{
            "type": "int_parsing",
            "loc": ["query", "page"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "abc"
        }]})
    );
    let l = app.get("/api/v1/chats/list?page=abc", Some(&admin)).await;
    assert_eq!(l.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(l.body["detail"][0]["type"], "int_parsing");
}

async fn list_sorts_by_title_and_rejects_unknown_sort_fields(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let bravo = create_id(&app, &admin, json!({"title": "Bravo"})).await;
    let alpha = create_id(&app, &admin, json!({"title": "Alpha"})).await;
    let charlie = create_id(&app, &admin, json!({"title": "Charlie"})).await;
    let asc = app.get("/api/v1/chats/?sort_by=title&sort_dir=asc", Some(&admin)).await;
    assert_eq!(asc.status, StatusCode::OK, "{}", asc.text);
    assert_eq!(ids(&asc), owned(&[&alpha, &bravo, &charlie]));
    let desc = app.get("/api/v1/chats/?sort_by=title&sort_dir=desc", Some(&admin)).await;
    assert_eq!(ids(&desc), owned(&[&charlie, &bravo, &alpha]));
    let paged = app.get("/api/v1/chats/?sort_by=title&sort_dir=asc&page=1", Some(&admin)).await;
    assert_eq!(ids(&paged), owned(&[&alpha, &bravo, &charlie]));
    let by_updated = app.get("/api/v1/chats/?sort_by=updated_at&sort_dir=desc", Some(&admin)).await;
    assert_eq!(by_updated.status, StatusCode::OK);
    for (q, field) in [("sort_by=colour", "sort_by"), ("sort_by=title&sort_dir=sideways", "sort_dir")] {
        let a = app.get(&format!("/api/v1/chats/?{q}"), Some(&admin)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {}", a.text);
        assert_eq!(a.body["detail"][0]["loc"], json!(["query", field]), "{q}: {}", a.text);
    }
}

async fn read_answers_own_chat_and_hides_others(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let created = create(&app, &alice, sample_chat("First chat")).await;
    let id = created["id"].as_str().expect("id");
    let r = read(&app, &alice, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys(&r.body), sorted(CHAT_FIELDS));
    for field in CHAT_FIELDS.iter().filter(|f| **f != "chat") {
        assert_eq!(r.body[field], created[field], "{field}");
    }
    let mut chat = r.body["chat"].clone();
    let share_mode = chat.as_object_mut().expect("object").remove("share_mode");
    assert_eq!(chat, created["chat"]);
    assert_eq!(r.body["user_id"], alice_id.as_str());

    let other = read(&app, &bob, id).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    assert!(!other.text.contains("banana") && !other.text.contains("First chat"), "{}", other.text);
    let unknown = read(&app, &alice, "00000000-0000-0000-0000-000000000000").await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    let by_admin = read(&app, &admin, id).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.text);
    assert_eq!(by_admin.body["title"], "First chat");
    assert_eq!(by_admin.body["chat"]["history"]["messages"]["m1"]["content"], "hello banana");
    // Checked last: the reference adds `chat.share_mode = "continue"` for a caller with write access.
    assert_eq!(share_mode, Some(json!("continue")), "the owner reads share_mode \"continue\"");
}

async fn update_merges_top_level_keys_and_keeps_the_rest(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let mut doc = sample_chat("First chat");
    doc["params"] = json!({"temperature": 0.5});
    let created = create(&app, &alice, doc).await;
    let id = created["id"].as_str().expect("id");
    let a = app
        .post(
            &format!("/api/v1/chats/{id}"),
            Some(&alice),
            json!({"chat": {"title": "Renamed", "tags": ["t"]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), sorted(CHAT_FIELDS));
    assert_eq!(a.body["title"], "Renamed");
    let chat = &a.body["chat"];
    assert_eq!(chat["title"], "Renamed");
    assert_eq!(chat["tags"], json!(["t"]));
    assert_eq!(chat["models"], json!(["gpt-x"]));
    assert_eq!(chat["params"], json!({"temperature": 0.5}));
    assert_eq!(chat["messages"], json!([]));
    assert_eq!(chat["history"], created["chat"]["history"]);
    assert_eq!(a.body["current_message_id"], "m2");
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", id).await.as_deref(),
        Some("Renamed")
    );
    let r = read(&app, &alice, id).await;
    assert_eq!(r.body["title"], "Renamed");
    assert_eq!(r.body["chat"]["params"], json!({"temperature": 0.5}));
    assert_eq!(r.body["chat"]["history"], created["chat"]["history"]);

    // Variables replace the column; a chat without a title falls back to "New Chat" only when the
    // merged document has none, so an update without `title` keeps "Renamed".
    let v = app
        .post(
            &format!("/api/v1/chats/{id}"),
            Some(&alice),
            json!({"chat": {"models": ["gpt-y"]}, "variables": {"{{CITY}}": "Paris"}}),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["variables"], json!({"{{CITY}}": "Paris"}));
    assert_eq!(v.body["title"], "Renamed");
    assert_eq!(v.body["chat"]["models"], json!(["gpt-y"]));
    assert_eq!(v.body["chat"]["tags"], json!(["t"]));
}

async fn update_merges_history_and_bumps_updated_at_only_with_history(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    set_updated_at(&app, &id, 100).await;
    let t =
        app.post(&format!("/api/v1/chats/{id}"), Some(&alice), json!({"chat": {"title": "Renamed"}})).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(t.body["updated_at"], json!(100), "a rename does not bump updated_at");
    assert_eq!(read(&app, &alice, &id).await.body["updated_at"], json!(100));

    let before = now();
    let h = app
        .post(
            &format!("/api/v1/chats/{id}"),
            Some(&alice),
            json!({"chat": {"history": {"currentId": "m3", "messages": {
                "m2": {"id": "m2", "parentId": "m1", "childrenIds": [], "role": "assistant", "content": "hi again", "done": true},
                "m3": {"id": "m3", "parentId": "m2", "childrenIds": [], "role": "user", "content": "more"}
            }}}}),
        )
        .await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let updated = h.body["updated_at"].as_i64().expect("updated_at");
    assert!(updated >= before - 5, "history bumps updated_at: {updated}");
    let history = &h.body["chat"]["history"];
    let messages = history["messages"].as_object().expect("messages");
    let mut message_ids: Vec<&String> = messages.keys().collect();
    message_ids.sort();
    assert_eq!(message_ids, ["m1", "m2", "m3"], "a union of stored and incoming messages");
    assert_eq!(history["messages"]["m1"]["content"], "hello banana", "stored message kept");
    assert_eq!(history["messages"]["m2"]["content"], "hi again", "incoming wins");
    assert_eq!(history["messages"]["m2"]["childrenIds"], json!(["m3"]), "children rebuilt from parentId");
    assert_eq!(history["messages"]["m3"]["content"], "more");
    assert_eq!(history["messages"]["m3"]["user_id"], alice_id.as_str());
    assert_eq!(history["messages"]["m3"]["user"], json!({"id": alice_id, "name": "Alice A."}));
    assert_eq!(history["currentId"], "m3");
    assert_eq!(h.body["current_message_id"], "m3");
    assert_eq!(h.body["title"], "Renamed");
    assert_eq!(h.body["chat"]["models"], json!(["gpt-x"]));
    assert_eq!(
        app.scalar_text("select current_message_id from chats where id = $1", &id).await.as_deref(),
        Some("m3")
    );
    let r = read(&app, &alice, &id).await;
    assert_eq!(r.body["chat"]["history"]["messages"]["m2"]["content"], "hi again");
    assert_eq!(r.body["updated_at"], json!(updated));

    // A currentId that is not in the merged set keeps the stored one.
    let stale = app
        .post(
            &format!("/api/v1/chats/{id}"),
            Some(&alice),
            json!({"chat": {"history": {"currentId": "nope", "messages": {}}}}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK, "{}", stale.text);
    assert_eq!(stale.body["chat"]["history"]["currentId"], "m3");
    assert_eq!(stale.body["chat"]["history"]["messages"].as_object().expect("messages").len(), 3);
}

async fn update_of_someone_elses_chat_is_401_and_changes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let before = read(&app, &alice, &id).await;
    for body in [
        json!({"chat": {"title": "pwned"}}),
        json!({"chat": {"history": {"currentId": "x", "messages": {"x": {"id": "x", "role": "user", "content": "pwned"}}}}}),
    ] {
        let a = app.post(&format!("/api/v1/chats/{id}"), Some(&bob), body.clone()).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{body}");
    }
    let unknown = app
        .post(
            "/api/v1/chats/00000000-0000-0000-0000-000000000000",
            Some(&bob),
            json!({"chat": {"title": "x"}}),
        )
        .await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", &id).await.as_deref(),
        Some("First chat")
    );
    assert_eq!(read(&app, &alice, &id).await.text, before.text);
    assert_eq!(chat_count(&app, &bob_id).await, 0);
}

async fn delete_removes_the_chat_its_share_and_its_tags(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let keep = create_id(&app, &alice, sample_chat("Keep")).await;
    let t = app.post(&format!("/api/v1/chats/{id}/tags"), Some(&alice), json!({"name": "Doomed"})).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let s = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&alice)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let share_id = s.body["share_id"].as_str().expect("share_id").to_string();

    // Someone else's chat is 404 and stays.
    let other = app.delete(&format!("/api/v1/chats/{id}"), Some(&bob)).await;
    assert_eq!((other.status, other.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &id).await, 1);

    let d = app.delete(&format!("/api/v1/chats/{id}"), Some(&alice)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)), "{}", d.text);
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", &id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", &id).await, 0);
    assert_eq!(
        app.scalar_count("select count(*) from tags where user_id = $1", &alice_id).await,
        0,
        "orphan tag"
    );
    let g = read(&app, &alice, &id).await;
    assert_eq!((g.status, g.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    let sh = app.get(&format!("/api/v1/chats/share/{share_id}"), Some(&alice)).await;
    assert_eq!((sh.status, sh.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    let again = app.delete(&format!("/api/v1/chats/{id}"), Some(&alice)).await;
    assert_eq!((again.status, again.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
    assert_eq!(read(&app, &alice, &keep).await.status, StatusCode::OK);
    assert_eq!(chat_count(&app, &alice_id).await, 1);
}

async fn delete_all_removes_only_the_callers_chats(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create_id(&app, &alice, sample_chat("A1")).await;
    let archived = create_id(&app, &alice, sample_chat("A2")).await;
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{archived}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    let bobs = create_id(&app, &bob, sample_chat("B1")).await;
    create_id(&app, &admin, sample_chat("Admin's")).await;
    let d = app.delete("/api/v1/chats/", Some(&alice)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)), "{}", d.text);
    assert_eq!(chat_count(&app, &alice_id).await, 0);
    assert_eq!(chat_count(&app, &bob_id).await, 1);
    assert_eq!(chat_count(&app, &admin_id).await, 1);
    assert_eq!(app.get("/api/v1/chats/", Some(&alice)).await.body, json!([]));
    assert_eq!(read(&app, &bob, &bobs).await.status, StatusCode::OK);
}

async fn chat_delete_permission_off_stops_users_but_not_admins(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["chat"]["delete"] = json!(false);
    let p = app.post("/api/v1/users/default/permissions", Some(&admin), perms).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let id = create_id(&app, &alice, sample_chat("Alice's")).await;
    let d = app.delete(&format!("/api/v1/chats/{id}"), Some(&alice)).await;
    assert_eq!((d.status, d.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let all = app.delete("/api/v1/chats/", Some(&alice)).await;
    assert_eq!((all.status, all.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(chat_count(&app, &alice_id).await, 1);

    let mine = create_id(&app, &admin, sample_chat("Admin's")).await;
    let a = app.delete(&format!("/api/v1/chats/{mine}"), Some(&admin)).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!(true)), "{}", a.text);
    create_id(&app, &admin, sample_chat("Admin's again")).await;
    let aa = app.delete("/api/v1/chats/", Some(&admin)).await;
    assert_eq!((aa.status, aa.body.clone()), (StatusCode::OK, json!(true)), "{}", aa.text);
    assert_eq!(chat_count(&app, &admin_id).await, 0);
    assert_eq!(chat_count(&app, &alice_id).await, 1);
}

async fn pin_toggles_and_pinned_chats_leave_the_default_list(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let c1 = create_id(&app, &alice, sample_chat("First chat")).await;
    let c2 = create_id(&app, &alice, json!({})).await;
    set_updated_at(&app, &c1, 100).await;

    let p = bare_post(&app, &format!("/api/v1/chats/{c1}/pin"), Some(&alice)).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(keys(&p.body), sorted(CHAT_FIELDS));
    assert_eq!(p.body["pinned"], json!(true));
    assert_eq!(p.body["id"], c1.as_str());
    assert!(p.body["updated_at"].as_i64().expect("updated_at") > 100, "pinning bumps updated_at");
    let is = app.get(&format!("/api/v1/chats/{c1}/pinned"), Some(&alice)).await;
    assert_eq!((is.status, is.body.clone()), (StatusCode::OK, json!(true)));
    let not = app.get(&format!("/api/v1/chats/{c2}/pinned"), Some(&alice)).await;
    assert_eq!((not.status, not.body.clone()), (StatusCode::OK, json!(false)));
    let list = app.get("/api/v1/chats/pinned", Some(&alice)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(ids(&list), owned(&[&c1]));
    assert_eq!(keys(&list.body[0]), sorted(TITLE_ID_FIELDS));
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&alice)).await), owned(&[&c2]));
    let with = app.get("/api/v1/chats/?include_pinned=true", Some(&alice)).await;
    assert_eq!(sorted_ids(&with), sorted_of(&[&c1, &c2]));
    assert_eq!(read(&app, &alice, &c1).await.body["pinned"], json!(true));

    // Someone else's chat.
    let other = bare_post(&app, &format!("/api/v1/chats/{c1}/pin"), Some(&bob)).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, DEFAULT));
    let other_is = app.get(&format!("/api/v1/chats/{c1}/pinned"), Some(&bob)).await;
    assert_eq!((other_is.status, other_is.detail()), (StatusCode::UNAUTHORIZED, DEFAULT));
    assert_eq!(app.get("/api/v1/chats/pinned", Some(&bob)).await.body, json!([]));

    // A pinned chat that is archived leaves the pinned list.
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{c1}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/v1/chats/pinned", Some(&alice)).await.body, json!([]));
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{c1}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );

    let u = bare_post(&app, &format!("/api/v1/chats/{c1}/pin"), Some(&alice)).await;
    assert_eq!((u.status, u.body["pinned"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(app.get(&format!("/api/v1/chats/{c1}/pinned"), Some(&alice)).await.body, json!(false));
    assert_eq!(app.get("/api/v1/chats/pinned", Some(&alice)).await.body, json!([]));
    assert_eq!(sorted_ids(&app.get("/api/v1/chats/", Some(&alice)).await), sorted_of(&[&c1, &c2]));
}

async fn archive_toggles_and_archived_views_list_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let c1 = create_id(&app, &alice, sample_chat("First chat")).await;
    let c2 = create_id(&app, &alice, json!({})).await;
    set_updated_at(&app, &c2, 100).await;

    let a = bare_post(&app, &format!("/api/v1/chats/{c2}/archive"), Some(&alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), sorted(CHAT_FIELDS));
    assert_eq!(a.body["archived"], json!(true));
    assert_eq!(a.body["title"], "New Chat");
    assert!(a.body["updated_at"].as_i64().expect("updated_at") > 100, "archiving bumps updated_at");
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&alice)).await), owned(&[&c1]));
    let list = app.get("/api/v1/chats/archived", Some(&alice)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(ids(&list), owned(&[&c2]));
    assert_eq!(keys(&list.body[0]), sorted(TITLE_ID_FIELDS));
    let listed_archived = list.body[0]["archived"].clone();
    let count = app.get("/api/v1/chats/archived/count", Some(&alice)).await;
    assert_eq!((count.status, count.body.clone()), (StatusCode::OK, json!(1)));
    let full = app.get("/api/v1/chats/all/archived", Some(&alice)).await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.text);
    assert_eq!(ids(&full), owned(&[&c2]));
    assert_eq!(keys(&full.body[0]), sorted(CHAT_FIELDS));
    assert_eq!(full.body[0]["archived"], json!(true));
    assert_eq!(read(&app, &alice, &c2).await.body["archived"], json!(true));
    assert_eq!(app.get("/api/v1/chats/archived/count", Some(&bob)).await.body, json!(0));
    assert_eq!(app.get("/api/v1/chats/archived", Some(&bob)).await.body, json!([]));

    let other = bare_post(&app, &format!("/api/v1/chats/{c1}/archive"), Some(&bob)).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, DEFAULT));
    assert_eq!(read(&app, &alice, &c1).await.body["archived"], json!(false));

    let back = bare_post(&app, &format!("/api/v1/chats/{c2}/archive"), Some(&alice)).await;
    assert_eq!((back.status, back.body["archived"].clone()), (StatusCode::OK, json!(false)));
    assert_eq!(app.get("/api/v1/chats/archived/count", Some(&alice)).await.body, json!(0));
    assert_eq!(app.get("/api/v1/chats/archived", Some(&alice)).await.body, json!([]));
    assert_eq!(sorted_ids(&app.get("/api/v1/chats/", Some(&alice)).await), sorted_of(&[&c1, &c2]));
    // The reference's `/archived` items say `"archived": false`; duet tells the truth.
    assert_eq!(listed_archived, json!(true));
}

async fn archive_all_and_unarchive_all_move_every_own_chat(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let c1 = create_id(&app, &alice, sample_chat("One")).await;
    let c2 = create_id(&app, &alice, sample_chat("Two")).await;
    let bobs = create_id(&app, &bob, sample_chat("Bob's")).await;
    let a = bare_post(&app, "/api/v1/chats/archive/all", Some(&alice)).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!(true)), "{}", a.text);
    assert_eq!(app.get("/api/v1/chats/archived/count", Some(&alice)).await.body, json!(2));
    assert_eq!(app.get("/api/v1/chats/", Some(&alice)).await.body, json!([]));
    assert_eq!(sorted_ids(&app.get("/api/v1/chats/archived", Some(&alice)).await), sorted_of(&[&c1, &c2]));
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&bob)).await), owned(&[&bobs]), "others untouched");
    let u = bare_post(&app, "/api/v1/chats/unarchive/all", Some(&alice)).await;
    assert_eq!((u.status, u.body.clone()), (StatusCode::OK, json!(true)), "{}", u.text);
    assert_eq!(app.get("/api/v1/chats/archived/count", Some(&alice)).await.body, json!(0));
    assert_eq!(sorted_ids(&app.get("/api/v1/chats/", Some(&alice)).await), sorted_of(&[&c1, &c2]));
}

async fn tags_are_added_listed_filtered_and_removed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let c1 = create_id(&app, &alice, sample_chat("Tagged")).await;
    let c2 = create_id(&app, &alice, sample_chat("Untagged")).await;
    let tag = json!({"id": "work_stuff", "name": "Work Stuff", "user_id": alice_id, "meta": null});

    let a = app.post(&format!("/api/v1/chats/{c1}/tags"), Some(&alice), json!({"name": "Work Stuff"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, json!([tag]));
    // Adding it again changes nothing.
    let again =
        app.post(&format!("/api/v1/chats/{c1}/tags"), Some(&alice), json!({"name": "Work Stuff"})).await;
    assert_eq!((again.status, again.body.clone()), (StatusCode::OK, json!([tag])));
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &alice_id).await, 1);
    assert_eq!(
        app.scalar_text("select name from tags where user_id = $1", &alice_id).await.as_deref(),
        Some("Work Stuff")
    );
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", &c1).await, 1);
    assert_eq!(read(&app, &alice, &c1).await.body["meta"]["tags"], json!(["work_stuff"]));

    let listed = app.get(&format!("/api/v1/chats/{c1}/tags"), Some(&alice)).await;
    assert_eq!((listed.status, listed.body.clone()), (StatusCode::OK, json!([tag])));
    assert_eq!(app.get(&format!("/api/v1/chats/{c2}/tags"), Some(&alice)).await.body, json!([]));
    let all = app.get("/api/v1/chats/all/tags", Some(&alice)).await;
    assert_eq!((all.status, all.body.clone()), (StatusCode::OK, json!([tag])));
    assert_eq!(app.get("/api/v1/chats/all/tags", Some(&bob)).await.body, json!([]));
    let by_tag = app.post("/api/v1/chats/tags", Some(&alice), json!({"name": "work_stuff"})).await;
    assert_eq!(by_tag.status, StatusCode::OK, "{}", by_tag.text);
    assert_eq!(ids(&by_tag), owned(&[&c1]));
    assert_eq!(keys(&by_tag.body[0]), sorted(TITLE_ID_FIELDS));
    assert_eq!(by_tag.body[0]["title"], "Tagged");
    // Bob's chat with the same tag name stays Bob's.
    let bobs = create_id(&app, &bob, sample_chat("Bob's")).await;
    let bt = app.post(&format!("/api/v1/chats/{bobs}/tags"), Some(&bob), json!({"name": "Work Stuff"})).await;
    assert_eq!(bt.body[0]["user_id"], bob_id.as_str());
    assert_eq!(
        ids(&app.post("/api/v1/chats/tags", Some(&alice), json!({"name": "work_stuff"})).await),
        owned(&[&c1])
    );

    // A second tag, then removal of the first one.
    let second = app.post(&format!("/api/v1/chats/{c1}/tags"), Some(&alice), json!({"name": "Home"})).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body.as_array().expect("tags").len(), 2);
    let r = app
        .send(
            "DELETE",
            &format!("/api/v1/chats/{c1}/tags"),
            Some(&alice),
            Some(json!({"name": "Work Stuff"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!([{"id": "home", "name": "Home", "user_id": alice_id, "meta": null}]));
    assert_eq!(read(&app, &alice, &c1).await.body["meta"]["tags"], json!(["home"]));
    assert_eq!(
        app.scalar_count("select count(*) from tags where user_id = $1 and id = 'work_stuff'", &alice_id)
            .await,
        0,
        "the unused tag row is gone"
    );
    assert_eq!(
        app.scalar_count("select count(*) from tags where user_id = $1 and id = 'work_stuff'", &bob_id).await,
        1,
        "Bob's tag stays"
    );
    assert_eq!(
        app.post("/api/v1/chats/tags", Some(&alice), json!({"name": "work_stuff"})).await.body,
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/chats/all/tags", Some(&alice)).await.body,
        json!([{"id": "home", "name": "Home", "user_id": alice_id, "meta": null}])
    );
}

async fn tag_named_none_is_400_and_others_chats_are_401(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let n = app.post(&format!("/api/v1/chats/{id}/tags"), Some(&alice), json!({"name": "None"})).await;
    assert_eq!((n.status, n.detail()), (StatusCode::BAD_REQUEST, "[ERROR: Tag name cannot be 'None']"));
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &alice_id).await, 0);

    let other = app.post(&format!("/api/v1/chats/{id}/tags"), Some(&bob), json!({"name": "x"})).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, DEFAULT));
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &bob_id).await, 0);
    let list = app.get(&format!("/api/v1/chats/{id}/tags"), Some(&bob)).await;
    assert_eq!((list.status, list.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    let ok = app.post(&format!("/api/v1/chats/{id}/tags"), Some(&alice), json!({"name": "Keep"})).await;
    assert_eq!(ok.status, StatusCode::OK);
    let del = app
        .send("DELETE", &format!("/api/v1/chats/{id}/tags"), Some(&bob), Some(json!({"name": "Keep"})))
        .await;
    assert_eq!((del.status, del.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    assert_eq!(read(&app, &alice, &id).await.body["meta"]["tags"], json!(["keep"]));
}

async fn share_creates_a_snapshot_with_its_own_id_and_keeps_it(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let created = create(&app, &alice, sample_chat("First chat")).await;
    let id = created["id"].as_str().expect("id");
    let s = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&alice)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(keys(&s.body), sorted(CHAT_FIELDS));
    assert_eq!(s.body["id"], id);
    let share_id = s.body["share_id"].as_str().expect("share_id").to_string();
    assert_ne!(share_id, id, "the share token is not the chat id");
    assert_eq!(share_id.len(), 36);
    assert_eq!(
        app.scalar_text("select share_id from chats where id = $1", id).await.as_deref(),
        Some(&*share_id)
    );
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", id).await, 1);
    assert_eq!(
        app.scalar_text("select chat_id from shared_chats where id = $1", &share_id).await.as_deref(),
        Some(id)
    );
    assert_eq!(read(&app, &alice, id).await.body["share_id"], share_id.as_str());

    // The owner reads the snapshot: id = the share token.
    let r = app.get(&format!("/api/v1/chats/share/{share_id}"), Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys(&r.body), sorted(CHAT_FIELDS));
    assert_eq!(r.body["id"], share_id.as_str());
    assert_eq!(r.body["share_id"], share_id.as_str());
    assert_eq!(r.body["user_id"], alice_id.as_str());
    assert_eq!(r.body["title"], "First chat");
    assert_eq!(r.body["chat"]["history"], created["chat"]["history"]);

    // Sharing again refreshes the same snapshot.
    let renamed =
        app.post(&format!("/api/v1/chats/{id}"), Some(&alice), json!({"chat": {"title": "Renamed"}})).await;
    assert_eq!(renamed.status, StatusCode::OK);
    let again = app.post(&format!("/api/v1/chats/{id}/share"), Some(&alice), json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["share_id"], share_id.as_str());
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", id).await, 1);
    let r2 = app.get(&format!("/api/v1/chats/share/{share_id}"), Some(&alice)).await;
    assert_eq!(r2.body["title"], "Renamed");

    // The shared list names the chat, its title and the token.
    let list = app.get("/api/v1/chats/shared", Some(&alice)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let items = list.body.as_array().expect("array");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["title"], "Renamed");
    assert_eq!(items[0]["share_id"], share_id.as_str());
    assert!(items[0]["updated_at"].is_i64() && items[0]["created_at"].is_i64(), "{}", items[0]);
}

async fn share_is_readable_only_by_owner_and_admin(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let s = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&alice)).await;
    let share_id = s.body["share_id"].as_str().expect("share_id").to_string();
    let path = format!("/api/v1/chats/share/{share_id}");
    let other = app.get(&path, Some(&bob)).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert!(!other.text.contains("banana"), "{}", other.text);
    let anon = app.get(&path, None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    assert!(!anon.text.contains("banana"), "{}", anon.text);
    let by_admin = app.get(&path, Some(&admin)).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.text);
    assert_eq!(by_admin.body["id"], share_id.as_str());
    let unknown = app.get("/api/v1/chats/share/00000000-0000-0000-0000-000000000000", Some(&alice)).await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    // Bob cannot share or unshare Alice's chat.
    let bs = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&bob)).await;
    assert_eq!((bs.status, bs.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let bu = app.delete(&format!("/api/v1/chats/{id}/share"), Some(&bob)).await;
    assert_eq!((bu.status, bu.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(app.get(&path, Some(&alice)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/chats/shared", Some(&bob)).await.body, json!([]));
}

async fn unshare_and_unshare_all_remove_the_snapshots(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let share_id = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&alice)).await.body["share_id"]
        .as_str()
        .expect("share_id")
        .to_string();
    let u = app.delete(&format!("/api/v1/chats/{id}/share"), Some(&alice)).await;
    assert_eq!((u.status, u.body.clone()), (StatusCode::OK, json!(true)), "{}", u.text);
    assert_eq!(read(&app, &alice, &id).await.body["share_id"], Value::Null);
    assert_eq!(app.scalar_text("select share_id from chats where id = $1", &id).await, None);
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", &id).await, 0);
    let gone = app.get(&format!("/api/v1/chats/share/{share_id}"), Some(&alice)).await;
    assert_eq!((gone.status, gone.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    assert_eq!(app.get("/api/v1/chats/shared", Some(&alice)).await.body, json!([]));
    // Sharing again makes a fresh token.
    let fresh = bare_post(&app, &format!("/api/v1/chats/{id}/share"), Some(&alice)).await;
    let fresh_id = fresh.body["share_id"].as_str().expect("share_id").to_string();
    assert_ne!(fresh_id, share_id);

    // Unshare all: every snapshot of the caller goes, others' stay.
    let second = create_id(&app, &alice, sample_chat("Second")).await;
    let second_share =
        bare_post(&app, &format!("/api/v1/chats/{second}/share"), Some(&alice)).await.body["share_id"]
            .as_str()
            .expect("share_id")
            .to_string();
    let bobs = create_id(&app, &bob, sample_chat("Bob's")).await;
    let bob_share =
        bare_post(&app, &format!("/api/v1/chats/{bobs}/share"), Some(&bob)).await.body["share_id"]
            .as_str()
            .expect("share_id")
            .to_string();
    assert_eq!(app.get("/api/v1/chats/shared", Some(&alice)).await.body.as_array().expect("array").len(), 2);
    let all = app.delete("/api/v1/chats/share/all", Some(&alice)).await;
    assert_eq!((all.status, all.body.clone()), (StatusCode::OK, json!(true)), "{}", all.text);
    assert_eq!(app.get("/api/v1/chats/shared", Some(&alice)).await.body, json!([]));
    assert_eq!(app.scalar_count("select count(*) from shared_chats where user_id = $1", &alice_id).await, 0);
    for token in [&fresh_id, &second_share] {
        let g = app.get(&format!("/api/v1/chats/share/{token}"), Some(&alice)).await;
        assert_eq!((g.status, g.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    }
    assert_eq!(app.get(&format!("/api/v1/chats/share/{bob_share}"), Some(&bob)).await.status, StatusCode::OK);
    assert_eq!(ids(&app.get("/api/v1/chats/shared", Some(&bob)).await), owned(&[&bobs]));
}

async fn clone_copies_the_chat_with_origin_fields(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let created = create(&app, &alice, sample_chat("Renamed")).await;
    let id = created["id"].as_str().expect("id");
    let t = app.post(&format!("/api/v1/chats/{id}/tags"), Some(&alice), json!({"name": "Work"})).await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{id}/pin"), Some(&alice)).await.status,
        StatusCode::OK
    );

    let c = app.post(&format!("/api/v1/chats/{id}/clone"), Some(&alice), json!({})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(keys(&c.body), sorted(CHAT_FIELDS));
    let clone_id = c.body["id"].as_str().expect("id").to_string();
    assert_ne!(clone_id, id);
    assert_eq!(c.body["user_id"], alice_id.as_str());
    assert_eq!(c.body["title"], "Clone of Renamed");
    assert_eq!(c.body["chat"]["title"], "Clone of Renamed");
    assert_eq!(c.body["chat"]["originalChatId"], id);
    assert_eq!(c.body["chat"]["branchPointMessageId"], "m2");
    assert_eq!(c.body["chat"]["history"], created["chat"]["history"]);
    assert_eq!(c.body["chat"]["models"], json!(["gpt-x"]));
    assert_eq!(c.body["current_message_id"], "m2");
    assert_eq!(c.body["share_id"], Value::Null);
    assert_eq!(c.body["meta"]["tags"], json!(["work"]), "meta is copied");
    assert_eq!(c.body["pinned"], json!(true), "pinned is copied");
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &clone_id).await, 1);
    assert_eq!(
        app.scalar_text("select title from chats where id = $1", &clone_id).await.as_deref(),
        Some("Clone of Renamed")
    );
    let named =
        app.post(&format!("/api/v1/chats/{id}/clone"), Some(&alice), json!({"title": "My copy"})).await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.text);
    assert_eq!(named.body["title"], "My copy");
    assert_eq!(named.body["chat"]["title"], "My copy");
    assert_eq!(chat_count(&app, &alice_id).await, 3);
    // The source is unchanged.
    let src = read(&app, &alice, id).await;
    assert_eq!(src.body["title"], "Renamed");
    assert!(src.body["chat"].get("originalChatId").is_none());
}

async fn clone_of_a_chat_without_history_is_200(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &admin, json!({})).await;
    let c = app.post(&format!("/api/v1/chats/{id}/clone"), Some(&admin), json!({})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(c.body["title"], "Clone of New Chat");
    assert_eq!(c.body["chat"]["originalChatId"], id.as_str());
    assert_ne!(c.body["id"], id.as_str());
    assert_eq!(chat_count(&app, &admin_id).await, 2);
    let other = app.post(&format!("/api/v1/chats/{id}/clone"), Some(&bob), json!({})).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, DEFAULT));
    assert_eq!(chat_count(&app, &bob_id).await, 0);
}

async fn message_content_is_edited_and_unknown_message_is_404(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let created = create(&app, &alice, sample_chat("First chat")).await;
    let id = created["id"].as_str().expect("id");
    let e = app
        .post(&format!("/api/v1/chats/{id}/messages/m2"), Some(&alice), json!({"content": "edited"}))
        .await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    assert_eq!(keys(&e.body), sorted(CHAT_FIELDS));
    assert_eq!(e.body["chat"]["history"]["messages"]["m2"]["content"], "edited");
    assert_eq!(e.body["chat"]["history"]["messages"]["m1"], created["chat"]["history"]["messages"]["m1"]);
    assert_eq!(e.body["chat"]["history"]["messages"]["m2"]["role"], "assistant");
    let r = read(&app, &alice, id).await;
    assert_eq!(r.body["chat"]["history"]["messages"]["m2"]["content"], "edited");

    let unknown =
        app.post(&format!("/api/v1/chats/{id}/messages/nope"), Some(&alice), json!({"content": "x"})).await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
    let other =
        app.post(&format!("/api/v1/chats/{id}/messages/m1"), Some(&bob), json!({"content": "pwned"})).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let other_del = app.delete(&format!("/api/v1/chats/{id}/messages/m1"), Some(&bob)).await;
    assert_eq!((other_del.status, other_del.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(
        read(&app, &alice, id).await.body["chat"]["history"]["messages"]["m1"]["content"],
        "hello banana"
    );
}

async fn deleting_a_leaf_message_removes_it_from_its_parent(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let created = create(&app, &admin, sample_chat("First chat")).await;
    let id = created["id"].as_str().expect("id");
    let d = app.delete(&format!("/api/v1/chats/{id}/messages/m2"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(keys(&d.body), sorted(CHAT_FIELDS));
    let messages = d.body["chat"]["history"]["messages"].as_object().expect("messages");
    assert_eq!(messages.keys().collect::<Vec<_>>(), ["m1"]);
    assert_eq!(d.body["chat"]["history"]["messages"]["m1"]["childrenIds"], json!([]));
    let r = read(&app, &admin, id).await;
    assert!(r.body["chat"]["history"]["messages"].get("m2").is_none(), "{}", r.text);
    assert_eq!(r.body["chat"]["history"]["messages"]["m1"]["content"], "hello banana");
}

async fn deleting_a_message_takes_its_replies_and_reparents_the_rest(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    // m1 (user) → m2 (assistant) → m3 (user) → m4 (assistant).
    let doc = json!({
        "title": "Chain",
        "history": {"currentId": "m4", "messages": {
            "m1": {"id": "m1", "parentId": null, "childrenIds": ["m2"], "role": "user", "content": "one"},
            "m2": {"id": "m2", "parentId": "m1", "childrenIds": ["m3"], "role": "assistant", "content": "two", "done": true},
            "m3": {"id": "m3", "parentId": "m2", "childrenIds": ["m4"], "role": "user", "content": "three"},
            "m4": {"id": "m4", "parentId": "m3", "childrenIds": [], "role": "assistant", "content": "four", "done": true}
        }}
    });
    let id = create_id(&app, &admin, doc).await;
    // Reference: the message and its direct children go; grandchildren move up to its parent.
    let d = app.delete(&format!("/api/v1/chats/{id}/messages/m2"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let messages = &d.body["chat"]["history"]["messages"];
    let mut left: Vec<&String> = messages.as_object().expect("messages").keys().collect();
    left.sort();
    assert_eq!(left, ["m1", "m4"], "{}", d.text);
    assert_eq!(messages["m4"]["parentId"], "m1");
    assert_eq!(messages["m1"]["childrenIds"], json!(["m4"]));
    let r = read(&app, &admin, &id).await;
    assert_eq!(r.body["chat"]["history"]["messages"], *messages);
}

async fn search_matches_content_and_title_case_insensitively(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let by_content = create_id(&app, &alice, sample_chat("First chat")).await;
    let by_title = create_id(&app, &alice, simple_chat("Banana Bread", "flour and sugar")).await;
    let _neither = create_id(&app, &alice, simple_chat("Apples", "pears")).await;
    let bobs = create_id(&app, &bob, simple_chat("Bob's banana", "banana too")).await;

    let a = app.get("/api/v1/chats/search?text=banana", Some(&alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(sorted_ids(&a), sorted_of(&[&by_content, &by_title]));
    for item in a.body.as_array().expect("array") {
        assert_eq!(keys(item), sorted(TITLE_ID_FIELDS), "{item}");
        assert_eq!(item["archived"], json!(false));
    }
    let upper = app.get("/api/v1/chats/search?text=BaNaNa", Some(&alice)).await;
    assert_eq!(sorted_ids(&upper), sorted_of(&[&by_content, &by_title]));
    let content_only = app.get("/api/v1/chats/search?text=HELLO%20BANANA", Some(&alice)).await;
    assert_eq!(ids(&content_only), owned(&[&by_content]));
    let title_only = app.get("/api/v1/chats/search?text=bread", Some(&alice)).await;
    assert_eq!(ids(&title_only), owned(&[&by_title]));
    assert_eq!(app.get("/api/v1/chats/search?text=kiwi", Some(&alice)).await.body, json!([]));
    let b2 = app.get("/api/v1/chats/search?text=banana", Some(&bob)).await;
    assert_eq!(ids(&b2), owned(&[&bobs]), "never another user's chats");
    let missing = app.get("/api/v1/chats/search", Some(&alice)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text);
    assert_eq!(missing.body["detail"][0]["type"], "missing");
    assert_eq!(missing.body["detail"][0]["loc"], json!(["query", "text"]));
}

async fn search_filters_by_tag_pinned_and_archived(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let tagged = create_id(&app, &alice, simple_chat("Tagged", "banana split")).await;
    let pinned = create_id(&app, &alice, simple_chat("Pinned", "banana boat")).await;
    let archived = create_id(&app, &alice, simple_chat("Archived", "banana peel")).await;
    let plain = create_id(&app, &alice, simple_chat("Plain", "banana bread")).await;
    let t =
        app.post(&format!("/api/v1/chats/{tagged}/tags"), Some(&alice), json!({"name": "Work Stuff"})).await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{pinned}/pin"), Some(&alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{archived}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    let all = app.get("/api/v1/chats/search?text=banana", Some(&alice)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(sorted_ids(&all), sorted_of(&[&tagged, &pinned, &plain]), "archived left out by default");
    for (q, expected) in [
        ("tag:work_stuff", vec![&tagged]),
        ("banana%20tag:work_stuff", vec![&tagged]),
        ("pinned:true", vec![&pinned]),
        ("banana%20pinned:true", vec![&pinned]),
        ("archived:true", vec![&archived]),
        ("banana%20archived:true", vec![&archived]),
    ] {
        let a = app.get(&format!("/api/v1/chats/search?text={q}"), Some(&alice)).await;
        assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
        assert_eq!(sorted_ids(&a), sorted_of(&expected), "{q}: {}", a.text);
    }
    let not_pinned = app.get("/api/v1/chats/search?text=banana%20pinned:false", Some(&alice)).await;
    assert_eq!(sorted_ids(&not_pinned), sorted_of(&[&tagged, &plain]));
    assert_eq!(app.get("/api/v1/chats/search?text=tag:nothing", Some(&alice)).await.body, json!([]));
}

async fn search_with_empty_text_lists_own_chats(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let c1 = create_id(&app, &alice, sample_chat("One")).await;
    let c2 = create_id(&app, &alice, simple_chat("Two", "x")).await;
    create_id(&app, &admin, sample_chat("Admin's")).await;
    let a = app.get("/api/v1/chats/search?text=", Some(&alice)).await;
    assert_eq!(a.status, StatusCode::OK, "no 500 for empty text: {}", a.text);
    assert_eq!(sorted_ids(&a), sorted_of(&[&c1, &c2]));
}

async fn import_keeps_timestamps_and_flags(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let a = app
        .post(
            "/api/v1/chats/import",
            Some(&alice),
            json!({"chats": [
                {"chat": sample_chat("Imported"), "meta": {}, "pinned": true, "archived": false,
                 "created_at": 1700000000, "updated_at": 1700000001},
                {"chat": {"title": "Old archive"}, "meta": {"note": "x"}, "pinned": false, "archived": true,
                 "created_at": 1600000000, "updated_at": 1600000002}
            ]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let list = a.body.as_array().expect("array");
    assert_eq!(list.len(), 2);
    for c in list {
        assert_eq!(keys(c), sorted(CHAT_FIELDS), "{c}");
        assert_eq!(c["user_id"], alice_id.as_str());
    }
    let first = &list[0];
    assert_eq!(first["title"], "Imported");
    assert_eq!(first["pinned"], json!(true));
    assert_eq!(first["archived"], json!(false));
    assert_eq!(first["created_at"], json!(1700000000));
    assert_eq!(first["updated_at"], json!(1700000001));
    assert_eq!(first["current_message_id"], "m2");
    assert_eq!(first["chat"]["history"]["messages"]["m1"]["content"], "hello banana");
    let second = &list[1];
    assert_eq!(second["title"], "Old archive");
    assert_eq!(second["archived"], json!(true));
    assert_eq!(second["meta"], json!({"note": "x"}));
    assert_eq!(second["created_at"], json!(1600000000));
    assert_eq!(second["updated_at"], json!(1600000002));
    assert_eq!(chat_count(&app, &alice_id).await, 2);
    let first_id = first["id"].as_str().expect("id");
    let r = read(&app, &alice, first_id).await;
    assert_eq!((r.status, r.body["created_at"].clone()), (StatusCode::OK, json!(1700000000)));
    assert_eq!(ids(&app.get("/api/v1/chats/pinned", Some(&alice)).await), [first_id]);
    assert_eq!(
        ids(&app.get("/api/v1/chats/archived", Some(&alice)).await),
        [second["id"].as_str().expect("id")]
    );
    assert_eq!(app.get("/api/v1/chats/", Some(&alice)).await.body, json!([]));
}

async fn admin_views_list_every_users_chats(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a1 = create_id(&app, &alice, sample_chat("A1")).await;
    let a2 = create_id(&app, &alice, sample_chat("A2")).await;
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{a2}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    let b1 = create_id(&app, &bob, sample_chat("B1")).await;
    let m1 = create_id(&app, &admin, sample_chat("M1")).await;

    let db = app.get("/api/v1/chats/all/db", Some(&admin)).await;
    assert_eq!(db.status, StatusCode::OK, "{}", db.text);
    assert_eq!(sorted_ids(&db), sorted_of(&[&a1, &a2, &b1, &m1]));
    for c in db.body.as_array().expect("array") {
        assert_eq!(keys(c), sorted(CHAT_FIELDS), "{c}");
    }
    let denied = app.get("/api/v1/chats/all/db", Some(&alice)).await;
    assert_eq!((denied.status, denied.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));

    let user_list = app.get(&format!("/api/v1/chats/list/user/{alice_id}"), Some(&admin)).await;
    assert_eq!(user_list.status, StatusCode::OK, "{}", user_list.text);
    assert_eq!(sorted_ids(&user_list), sorted_of(&[&a1, &a2]), "archived included");
    for item in user_list.body.as_array().expect("array") {
        assert_eq!(keys(item), sorted(TITLE_ID_FIELDS), "{item}");
    }
    let not_admin = app.get(&format!("/api/v1/chats/list/user/{alice_id}"), Some(&bob)).await;
    assert_eq!((not_admin.status, not_admin.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let own = app.get(&format!("/api/v1/chats/list/user/{alice_id}"), Some(&alice)).await;
    assert_eq!((own.status, own.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
}

async fn admin_access_switches_turn_admin_views_off(b: Backend) {
    let Some(app) =
        TestApp::spawn_with(b, &[("ENABLE_ADMIN_CHAT_ACCESS", "false"), ("ENABLE_ADMIN_EXPORT", "false")])
            .await
    else {
        return;
    };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("Alice's")).await;
    let r = read(&app, &admin, &id).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
    let l = app.get(&format!("/api/v1/chats/list/user/{alice_id}"), Some(&admin)).await;
    assert_eq!((l.status, l.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let db = app.get("/api/v1/chats/all/db", Some(&admin)).await;
    assert_eq!((db.status, db.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let d = app.delete(&format!("/api/v1/chats/{id}"), Some(&admin)).await;
    assert_eq!((d.status, d.detail()), (StatusCode::NOT_FOUND, NOT_FOUND));
    assert_eq!(chat_count(&app, &alice_id).await, 1);
}

async fn export_is_ndjson_newest_first_with_archived(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let old = create_id(&app, &alice, sample_chat("Old")).await;
    let mid = create_id(&app, &alice, sample_chat("Mid")).await;
    let new = create_id(&app, &alice, sample_chat("New")).await;
    create_id(&app, &admin, sample_chat("Admin's")).await;
    assert_eq!(
        bare_post(&app, &format!("/api/v1/chats/{mid}/archive"), Some(&alice)).await.status,
        StatusCode::OK
    );
    set_updated_at(&app, &old, 1000).await;
    set_updated_at(&app, &mid, 2000).await;
    set_updated_at(&app, &new, 3000).await;
    let a = app.get("/api/v1/chats/all", Some(&alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let ct = a.headers["content-type"].to_str().expect("content-type");
    assert!(ct.starts_with("application/x-ndjson"), "{ct}");
    let lines: Vec<Value> = a
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{}", a.text);
    let order: Vec<&str> = lines.iter().map(|c| c["id"].as_str().expect("id")).collect();
    assert_eq!(order, [new.as_str(), mid.as_str(), old.as_str()]);
    for c in &lines {
        assert_eq!(keys(c), sorted(CHAT_FIELDS), "{c}");
    }
    assert_eq!(lines[1]["archived"], json!(true));
    assert_eq!(lines[0]["chat"]["history"]["messages"]["m1"]["content"], "hello banana");
    let empty =
        app.get("/api/v1/chats/all", Some(&app.user(&admin, "Eve", "eve@example.com", "user").await.0)).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text.trim().is_empty(), "{}", empty.text);
}

async fn isolation_between_users(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice A.", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = create_id(&app, &alice, sample_chat("First chat")).await;
    let before = read(&app, &alice, &id).await;
    assert_eq!(before.status, StatusCode::OK);
    let p = |suffix: &str| format!("/api/v1/chats/{id}{suffix}");
    let attempts: Vec<(&str, String, Option<Value>, StatusCode, &str)> = vec![
        ("GET", p(""), None, StatusCode::UNAUTHORIZED, NOT_FOUND),
        (
            "POST",
            p(""),
            Some(json!({"chat": {"title": "pwned"}})),
            StatusCode::UNAUTHORIZED,
            ACCESS_PROHIBITED,
        ),
        ("DELETE", p(""), None, StatusCode::NOT_FOUND, NOT_FOUND),
        ("POST", p("/pin"), None, StatusCode::UNAUTHORIZED, DEFAULT),
        ("GET", p("/pinned"), None, StatusCode::UNAUTHORIZED, DEFAULT),
        ("POST", p("/archive"), None, StatusCode::UNAUTHORIZED, DEFAULT),
        ("POST", p("/clone"), Some(json!({})), StatusCode::UNAUTHORIZED, DEFAULT),
        ("POST", p("/share"), None, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED),
        ("DELETE", p("/share"), None, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED),
        ("POST", p("/tags"), Some(json!({"name": "x"})), StatusCode::UNAUTHORIZED, DEFAULT),
        ("GET", p("/tags"), None, StatusCode::UNAUTHORIZED, NOT_FOUND),
        ("DELETE", p("/tags"), Some(json!({"name": "x"})), StatusCode::UNAUTHORIZED, NOT_FOUND),
        (
            "POST",
            p("/messages/m1"),
            Some(json!({"content": "pwned"})),
            StatusCode::UNAUTHORIZED,
            ACCESS_PROHIBITED,
        ),
        ("DELETE", p("/messages/m1"), None, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED),
    ];
    for (method, path, body, status, detail) in attempts {
        let a = app.send(method, &path, Some(&bob), body).await;
        assert_eq!((a.status, a.detail()), (status, detail), "{method} {path}: {}", a.text);
        assert!(!a.text.contains("banana"), "{method} {path} leaked content: {}", a.text);
    }
    // Nothing Bob did shows up anywhere.
    let after = read(&app, &alice, &id).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.text, before.text, "Alice's chat changed");
    assert_eq!(chat_count(&app, &bob_id).await, 0);
    assert_eq!(chat_count(&app, &alice_id).await, 1);
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", &id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &bob_id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from chat_tags where chat_id = $1", &id).await, 0);
    for path in ["/api/v1/chats/", "/api/v1/chats/pinned", "/api/v1/chats/archived", "/api/v1/chats/shared"] {
        assert_eq!(app.get(path, Some(&bob)).await.body, json!([]), "{path}");
    }
    assert_eq!(app.get("/api/v1/chats/search?text=banana", Some(&bob)).await.body, json!([]));
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&alice)).await), owned(&[&id]));
}

async fn concurrent_updates_keep_every_key(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let id = create_id(&app, &admin, sample_chat("First chat")).await;
    let path = format!("/api/v1/chats/{id}");
    let futures: Vec<_> =
        (0..8).map(|i| app.post(&path, Some(&admin), json!({"chat": {format!("key{i}"): i}}))).collect();
    for a in futures_join(futures).await {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let r = read(&app, &admin, &id).await;
    for i in 0..8 {
        assert_eq!(r.body["chat"][format!("key{i}")], json!(i), "key{i} lost: {}", r.text);
    }
    assert_eq!(r.body["chat"]["title"], "First chat");
    assert_eq!(r.body["chat"]["history"]["messages"]["m1"]["content"], "hello banana");
    // Concurrent history updates keep every message too.
    let futures: Vec<_> = (0..6)
        .map(|i| {
            let mid = format!("x{i}");
            app.post(
                &path,
                Some(&admin),
                json!({"chat": {"history": {"messages": {mid.clone(): {"id": mid, "parentId": "m2", "childrenIds": [], "role": "user", "content": format!("c{i}")}}}}}),
            )
        })
        .collect();
    for a in futures_join(futures).await {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let r = read(&app, &admin, &id).await;
    let messages = r.body["chat"]["history"]["messages"].as_object().expect("messages");
    assert_eq!(messages.len(), 8, "{}", r.text);
    let mut children: Vec<String> = r.body["chat"]["history"]["messages"]["m2"]["childrenIds"]
        .as_array()
        .expect("children")
        .iter()
        .map(|v| v.as_str().expect("id").to_string())
        .collect();
    children.sort();
    assert_eq!(children, ["x0", "x1", "x2", "x3", "x4", "x5"]);
}

async fn clone_of_a_share_copies_the_snapshot_for_the_reader(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let created = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": {"title": "Plan", "history": {"currentId": "m1",
        "messages": {"m1": {"id": "m1", "parentId": null, "childrenIds": [], "role": "user", "content": "hi"}}}}})).await;
    let chat_id = created.body["id"].as_str().expect("id").to_string();
    let shared = app.post(&format!("/api/v1/chats/{chat_id}/share"), Some(&alice), json!({})).await;
    let share_id = shared.body["share_id"].as_str().expect("share id").to_string();

    let copy = app.post(&format!("/api/v1/chats/{share_id}/clone/shared"), Some(&alice), json!({})).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.text);
    assert_eq!(copy.body["title"], "Clone of Plan");
    assert_eq!(copy.body["user_id"], alice_id.as_str());
    assert_eq!(copy.body["chat"]["originalChatId"], chat_id.as_str());
    assert_eq!(copy.body["chat"]["branchPointMessageId"], "m1");
    assert!(copy.body["chat"].get("share_mode").is_none());
    assert_ne!(copy.body["id"], chat_id.as_str());
    assert_eq!(app.scalar_count("select count(*) from chats where user_id = $1", &alice_id).await, 2);

    // Someone without access to the share, and an unknown share.
    let denied = app.post(&format!("/api/v1/chats/{share_id}/clone/shared"), Some(&bob), json!({})).await;
    assert_eq!((denied.status, denied.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let unknown = app.post("/api/v1/chats/nope/clone/shared", Some(&alice), json!({})).await;
    assert_eq!(
        (unknown.status, unknown.detail()),
        (StatusCode::UNAUTHORIZED, "We could not find what you're looking for :/")
    );
}
