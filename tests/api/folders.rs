//! `/api/v1/folders` (the tree, create, read, update, move, expand, share, shared chats, read
//! state, delete) and the chats side of folders (`POST /chats/{id}/folder`, `/chats/folder/{id}`,
//! `/list`, `/chats/read`, `/chats/{id}/unread`, the chat list's `include_folders`, import and
//! clone), on both backends, with the chat-list cache on so a stale list would show.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const DEFAULT: &str = "Something went wrong :/";
const NOT_AUTHENTICATED: &str = "Not authenticated";
const EXISTS: &str = "[ERROR: Folder already exists]";
const CYCLE: &str = "[ERROR: Cannot move a folder into itself or one of its subfolders]";
const SHARING: &str = "You do not have permission to share with the requested audience";

/// The chat-list cache on for a minute: every write must drop what it changes.
const CACHES: [(&str, &str); 2] = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000")];

/// The reference's `FolderModel`, in its order.
const FOLDER_FIELDS: &[&str] = &[
    "id",
    "parent_id",
    "user_id",
    "name",
    "items",
    "meta",
    "data",
    "is_expanded",
    "created_at",
    "updated_at",
];

backend_tests!(
    create_list_and_get_answer_the_reference_shapes,
    callers_and_other_users_ids_get_the_reference_texts,
    bad_bodies_and_parameters_are_422_in_fastapi_shape,
    updates_merge_meta_and_data_and_refuse_taken_names,
    moves_refuse_cycles_taken_names_and_unknown_parents,
    expanded_state_is_the_owners_and_tree_repairs_are_written,
    folders_switched_off_or_not_permitted_are_403,
    a_chat_moved_into_a_folder_leaves_the_root_list_and_appears_in_the_folder,
    deleting_a_folder_deletes_or_frees_its_chats_as_the_reference,
    unread_counts_follow_read_state_up_the_tree,
    a_shared_folder_is_read_and_written_by_its_grantees_only,
    import_and_clone_keep_writable_folders_only,
    graphql_folders_and_mutations_follow_the_rest_rules,
    deleting_a_user_moves_other_users_chats_out_of_their_folders,
    the_folder_search_token_finds_the_chats_of_a_folder_and_below,
);

fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn ids(list: &Value) -> Vec<String> {
    let mut out: Vec<String> =
        list.as_array().expect("list").iter().map(|c| c["id"].as_str().expect("id").to_string()).collect();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/folders/", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "create folder: {}", a.text);
    a.body
}

async fn folder(app: &TestApp, token: &str, name: &str, parent: Option<&str>) -> String {
    let f = create(app, token, json!({"name": name, "parent_id": parent})).await;
    f["id"].as_str().expect("id").to_string()
}

async fn chat(app: &TestApp, token: &str, title: &str) -> String {
    let a = app.post("/api/v1/chats/new", Some(token), json!({"chat": {"title": title}})).await;
    assert_eq!(a.status, StatusCode::OK, "new chat: {}", a.text);
    a.body["id"].as_str().expect("id").to_string()
}

async fn move_chat(app: &TestApp, token: &str, chat: &str, folder: Value) -> Answer {
    app.post(&format!("/api/v1/chats/{chat}/folder"), Some(token), json!({"folder_id": folder})).await
}

async fn root_list(app: &TestApp, token: &str) -> Vec<String> {
    let a = app.get("/api/v1/chats/", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    ids(&a.body)
}

async fn folder_list(app: &TestApp, token: &str, folder: &str) -> Vec<String> {
    let a = app.get(&format!("/api/v1/chats/folder/{folder}/list"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    ids(&a.body)
}

async fn folder_rows(app: &TestApp, user: &str) -> i64 {
    app.scalar_count("select count(*) from folders where user_id = $1", user).await
}

fn refused(a: &Answer, status: StatusCode, detail: &str) {
    assert_eq!((a.status, a.detail()), (status, detail), "{}", a.text);
}

async fn create_list_and_get_answer_the_reference_shapes(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, admin_id) = app.admin().await;
    let work = create(
        &app,
        &admin,
        json!({"name": "Work", "meta": {"icon": "💼", "color": "red"}, "data": {"share_mode": null}}),
    )
    .await;
    assert_eq!(keys(&work), FOLDER_FIELDS);
    let work_id = work["id"].as_str().expect("id").to_string();
    assert_eq!(work["parent_id"], Value::Null);
    assert_eq!(work["user_id"], admin_id.as_str());
    assert_eq!(work["name"], "Work");
    assert_eq!(work["items"], Value::Null);
    assert_eq!(work["meta"], json!({"icon": "💼", "color": "red"}));
    assert_eq!(work["data"], json!({"share_mode": null}));
    assert_eq!(work["is_expanded"], false);
    assert_eq!(work["created_at"], work["updated_at"]);
    let sub = folder(&app, &admin, "Reports", Some(&work_id)).await;
    // Without the trailing slash too.
    let plain = app.post("/api/v1/folders", Some(&admin), json!({"name": "Plain"})).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.text);
    assert_eq!(plain.body["meta"], Value::Null);

    // The same name under the same parent (any case) is refused; elsewhere it is fine.
    let taken = app.post("/api/v1/folders/", Some(&admin), json!({"name": "WORK"})).await;
    refused(&taken, StatusCode::BAD_REQUEST, EXISTS);
    let taken =
        app.post("/api/v1/folders/", Some(&admin), json!({"name": "reports", "parent_id": work_id})).await;
    refused(&taken, StatusCode::BAD_REQUEST, EXISTS);
    folder(&app, &admin, "Reports", None).await;
    assert_eq!(folder_rows(&app, &admin_id).await, 4);

    for path in ["/api/v1/folders/", "/api/v1/folders"] {
        let list = app.get(path, Some(&admin)).await;
        assert_eq!(list.status, StatusCode::OK, "{path}: {}", list.text);
        let entries = list.body.as_array().expect("list");
        assert_eq!(entries.len(), 4);
        let entry = entries.iter().find(|e| e["id"] == work_id.as_str()).expect("work");
        assert_eq!(
            keys(entry),
            ["id", "name", "meta", "parent_id", "is_expanded", "unread_count", "created_at", "updated_at"]
        );
        // Only the icon of `meta` is listed.
        assert_eq!(entry["meta"], json!({"icon": "💼"}));
        assert_eq!(entry["unread_count"], 0);
        let child = entries.iter().find(|e| e["id"] == sub.as_str()).expect("sub");
        assert_eq!(child["parent_id"], work_id.as_str());
        assert_eq!(child["meta"], Value::Null);
    }

    let one = app.get(&format!("/api/v1/folders/{work_id}"), Some(&admin)).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    let mut expected = work.clone();
    expected["access_grants"] = json!([]);
    expected["write_access"] = json!(true);
    assert_eq!(one.body, expected);
}

async fn callers_and_other_users_ids_get_the_reference_texts(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (pat, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let mine = folder(&app, &alice, "Mine", None).await;
    let alice_chat = chat(&app, &alice, "Alice's").await;
    for (method, path, body) in [
        ("GET", "/api/v1/folders/".to_string(), None),
        ("POST", "/api/v1/folders/".to_string(), Some(json!({"name": "x"}))),
        ("GET", "/api/v1/folders/shared".to_string(), None),
        ("GET", format!("/api/v1/folders/{mine}"), None),
        ("POST", format!("/api/v1/folders/{mine}/update"), Some(json!({"name": "y"}))),
        ("POST", format!("/api/v1/folders/{mine}/update/parent"), Some(json!({}))),
        ("POST", format!("/api/v1/folders/{mine}/update/expanded"), Some(json!({"is_expanded": true}))),
        ("POST", format!("/api/v1/folders/{mine}/access/update"), Some(json!({"access_grants": []}))),
        ("GET", format!("/api/v1/folders/{mine}/shared/chats"), None),
        ("POST", format!("/api/v1/folders/{mine}/read"), None),
        ("DELETE", format!("/api/v1/folders/{mine}"), None),
        ("POST", "/api/v1/chats/read".to_string(), None),
        ("POST", format!("/api/v1/chats/{alice_chat}/unread"), None),
        ("POST", format!("/api/v1/chats/{alice_chat}/folder"), Some(json!({"folder_id": null}))),
        ("GET", format!("/api/v1/chats/folder/{mine}"), None),
        ("GET", format!("/api/v1/chats/folder/{mine}/list"), None),
    ] {
        let a = app.send(method, &path, None, body.clone()).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED), "{method} {path}");
        let a = app.send(method, &path, Some(&pat), body.clone()).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{method} {path}");
    }
    // Another user's folder: the reference's texts, and nothing changes.
    let get = app.get(&format!("/api/v1/folders/{mine}"), Some(&bob)).await;
    refused(&get, StatusCode::NOT_FOUND, NOT_FOUND);
    for (path, body) in [
        (format!("/api/v1/folders/{mine}/update"), json!({"name": "Bob's now"})),
        (format!("/api/v1/folders/{mine}/update/parent"), json!({"parent_id": null})),
        (format!("/api/v1/folders/{mine}/update/expanded"), json!({"is_expanded": true})),
    ] {
        refused(&app.post(&path, Some(&bob), body).await, StatusCode::NOT_FOUND, NOT_FOUND);
    }
    let access = app
        .post(&format!("/api/v1/folders/{mine}/access/update"), Some(&bob), json!({"access_grants": []}))
        .await;
    refused(&access, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    refused(
        &app.get(&format!("/api/v1/folders/{mine}/shared/chats"), Some(&bob)).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    refused(
        &app.send("POST", &format!("/api/v1/folders/{mine}/read"), Some(&bob), None).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    refused(
        &app.delete(&format!("/api/v1/folders/{mine}"), Some(&bob)).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    let sub = app.post("/api/v1/folders/", Some(&bob), json!({"name": "In", "parent_id": mine})).await;
    refused(&sub, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    let stored = app.get(&format!("/api/v1/folders/{mine}"), Some(&alice)).await;
    assert_eq!((stored.body["name"].as_str(), &stored.body["is_expanded"]), (Some("Mine"), &json!(false)));
    // Bob's chat cannot go into Alice's folder; Alice's chat is not Bob's to move or mark.
    let bob_chat = chat(&app, &bob, "Bob's").await;
    refused(&move_chat(&app, &bob, &bob_chat, json!(mine)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(&move_chat(&app, &bob, &alice_chat, json!(null)).await, StatusCode::UNAUTHORIZED, DEFAULT);
    refused(&move_chat(&app, &bob, "no-such-chat", json!(null)).await, StatusCode::UNAUTHORIZED, DEFAULT);
    let unread = app.send("POST", &format!("/api/v1/chats/{alice_chat}/unread"), Some(&bob), None).await;
    refused(&unread, StatusCode::NOT_FOUND, NOT_FOUND);
    assert!(folder_list(&app, &bob, &mine).await.is_empty());
    let whole = app.get(&format!("/api/v1/chats/folder/{mine}"), Some(&bob)).await;
    assert_eq!((whole.status, &whole.body), (StatusCode::OK, &json!([])));
    // Unknown ids.
    for path in ["/api/v1/folders/nope", "/api/v1/folders/nope/shared/chats"] {
        refused(&app.get(path, Some(&alice)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    }
    refused(&app.delete("/api/v1/folders/nope", Some(&alice)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(&app.delete("/api/v1/folders/nope", Some(&admin)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    let unknown_parent =
        app.post("/api/v1/folders/", Some(&alice), json!({"name": "x", "parent_id": "nope"})).await;
    refused(&unknown_parent, StatusCode::NOT_FOUND, NOT_FOUND);
    // An admin reads any folder (not theirs: write access, as the reference) and may delete it.
    let as_admin = app.get(&format!("/api/v1/folders/{mine}"), Some(&admin)).await;
    assert_eq!((as_admin.status, &as_admin.body["write_access"]), (StatusCode::OK, &json!(true)));
    assert_eq!(app.delete(&format!("/api/v1/folders/{mine}"), Some(&admin)).await.body, json!(true));
    refused(
        &app.get(&format!("/api/v1/folders/{mine}"), Some(&alice)).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    );
}

async fn bad_bodies_and_parameters_are_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let id = folder(&app, &admin, "F", None).await;
    let detail = |a: &Answer| a.body["detail"].clone();
    let a = app.post("/api/v1/folders/", Some(&admin), json!({"name": 5, "meta": "x", "owner": "me"})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        detail(&a),
        json!([
            {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string", "input": 5},
            {"type": "dict_type", "loc": ["body", "meta"], "msg": "Input should be a valid dictionary", "input": "x"},
            {"type": "extra_forbidden", "loc": ["body", "owner"], "msg": "Extra inputs are not permitted", "input": "me"}
        ])
    );
    let a = app.post("/api/v1/folders/", Some(&admin), json!({})).await;
    assert_eq!(
        detail(&a)[0],
        json!({"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {}})
    );
    let a = app.post("/api/v1/folders/", Some(&admin), json!(["name"])).await;
    assert_eq!(detail(&a)[0]["type"], "model_attributes_type");
    let huge = app.post("/api/v1/folders/", Some(&admin), json!({"name": "n".repeat(100_000)})).await;
    assert_eq!(
        (huge.status, detail(&huge)[0]["type"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("string_too_long"))
    );
    let nul = app.post("/api/v1/folders/", Some(&admin), json!({"name": "a\u{0}b"})).await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nul.text);
    let a = app.post(&format!("/api/v1/folders/{id}/update"), Some(&admin), json!({"parent_id": "x"})).await;
    assert_eq!(detail(&a)[0]["type"], "extra_forbidden");
    let a = app
        .post(&format!("/api/v1/folders/{id}/update/expanded"), Some(&admin), json!({"is_expanded": "maybe"}))
        .await;
    assert_eq!(detail(&a)[0]["type"], "bool_parsing");
    let a =
        app.post(&format!("/api/v1/folders/{id}/update/parent"), Some(&admin), json!({"parent_id": 3})).await;
    assert_eq!(detail(&a)[0]["loc"], json!(["body", "parent_id"]));
    let a = app
        .post(
            &format!("/api/v1/folders/{id}/access/update"),
            Some(&admin),
            json!({"access_grants": "all", "share_mode": "open"}),
        )
        .await;
    assert_eq!(detail(&a)[0]["type"], "list_type");
    assert_eq!(detail(&a)[1]["msg"], "Input should be 'continue'");
    let a = app.get(&format!("/api/v1/folders/{id}/shared/chats?page=0"), Some(&admin)).await;
    assert_eq!(detail(&a)[0]["type"], "greater_than_equal");
    let a = app.get(&format!("/api/v1/folders/{id}/shared/chats?page=x"), Some(&admin)).await;
    assert_eq!(detail(&a)[0]["type"], "int_parsing");
    let a = app.delete(&format!("/api/v1/folders/{id}?delete_contents=perhaps"), Some(&admin)).await;
    assert_eq!(detail(&a)[0]["loc"], json!(["query", "delete_contents"]));
    let a = app.post("/api/v1/chats/c1/folder", Some(&admin), json!({"folder_id": []})).await;
    assert_eq!(detail(&a)[0]["type"], "string_type");
    // Nothing was written by any of them.
    assert_eq!(folder_rows(&app, &admin_id).await, 1);
    let stored = app.get(&format!("/api/v1/folders/{id}"), Some(&admin)).await;
    assert_eq!((stored.body["name"].as_str(), &stored.body["is_expanded"]), (Some("F"), &json!(false)));
}

async fn updates_merge_meta_and_data_and_refuse_taken_names(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let f =
        create(&app, &admin, json!({"name": "A", "meta": {"icon": "x", "keep": 1}, "data": {"d": 1}})).await;
    let id = f["id"].as_str().expect("id").to_string();
    folder(&app, &admin, "Taken", None).await;
    app.exec("update folders set updated_at = updated_at - 100 where id = $1", &[&id]).await;
    let before = app.get(&format!("/api/v1/folders/{id}"), Some(&admin)).await.body["updated_at"]
        .as_i64()
        .expect("time");
    let u = app
        .post(
            &format!("/api/v1/folders/{id}/update"),
            Some(&admin),
            json!({"name": "B", "meta": {"icon": "y"}, "data": {"e": 2}}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(keys(&u.body), FOLDER_FIELDS);
    assert_eq!(u.body["name"], "B");
    assert_eq!(u.body["meta"], json!({"icon": "y", "keep": 1}));
    assert_eq!(u.body["data"], json!({"d": 1, "e": 2}));
    assert!(u.body["updated_at"].as_i64().expect("time") > before);
    // Renaming to its own name in another case is fine; to a sibling's is not.
    let same = app.post(&format!("/api/v1/folders/{id}/update"), Some(&admin), json!({"name": "b"})).await;
    assert_eq!(same.body["name"], "b");
    let taken =
        app.post(&format!("/api/v1/folders/{id}/update"), Some(&admin), json!({"name": "taken"})).await;
    refused(&taken, StatusCode::BAD_REQUEST, EXISTS);
    // An empty update (and a null name) changes nothing but the time.
    let empty = app.post(&format!("/api/v1/folders/{id}/update"), Some(&admin), json!({"name": null})).await;
    assert_eq!(
        (empty.body["name"].as_str(), &empty.body["meta"]),
        (Some("b"), &json!({"icon": "y", "keep": 1}))
    );
    // Files the caller cannot read (duet stores none) are refused for a user; malformed ones for anyone.
    let files = app
        .post(
            &format!("/api/v1/folders/{id}/update"),
            Some(&admin),
            json!({"data": {"files": [{"type": "web"}]}}),
        )
        .await;
    refused(&files, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
}

async fn moves_refuse_cycles_taken_names_and_unknown_parents(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a = folder(&app, &admin, "A", None).await;
    let child = folder(&app, &admin, "Child", Some(&a)).await;
    let grandchild = folder(&app, &admin, "Grandchild", Some(&child)).await;
    let other = folder(&app, &admin, "Other", None).await;
    folder(&app, &admin, "Child", Some(&other)).await;
    let bobs = folder(&app, &bob, "Bob's", None).await;
    let mv = |id: &str, parent: Value| {
        let path = format!("/api/v1/folders/{id}/update/parent");
        let app = &app;
        let admin = admin.clone();
        async move { app.post(&path, Some(&admin), json!({"parent_id": parent})).await }
    };
    refused(&mv(&a, json!(a)).await, StatusCode::BAD_REQUEST, CYCLE);
    refused(&mv(&a, json!(grandchild)).await, StatusCode::BAD_REQUEST, CYCLE);
    refused(&mv(&child, json!(other)).await, StatusCode::BAD_REQUEST, EXISTS);
    refused(&mv(&child, json!("nope")).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(&mv(&child, json!(bobs)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    let moved = mv(&grandchild, json!(other)).await;
    assert_eq!(
        (moved.status, moved.body["parent_id"].as_str()),
        (StatusCode::OK, Some(other.as_str())),
        "{}",
        moved.text
    );
    let root = app.post(&format!("/api/v1/folders/{child}/update/parent"), Some(&admin), json!({})).await;
    assert_eq!(root.body["parent_id"], Value::Null);
    let list = app.get("/api/v1/folders/", Some(&admin)).await.body;
    let parent_of = |id: &str| {
        list.as_array().expect("list").iter().find(|f| f["id"] == id).expect("folder")["parent_id"].clone()
    };
    assert_eq!((parent_of(&child), parent_of(&grandchild)), (Value::Null, json!(other)));
}

async fn expanded_state_is_the_owners_and_tree_repairs_are_written(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let f = folder(&app, &alice, "F", None).await;
    let e = app
        .post(&format!("/api/v1/folders/{f}/update/expanded"), Some(&alice), json!({"is_expanded": true}))
        .await;
    assert_eq!((e.status, &e.body["is_expanded"]), (StatusCode::OK, &json!(true)), "{}", e.text);
    // An admin's answer is the folder unchanged (it is not theirs to fold).
    let by_admin = app
        .post(&format!("/api/v1/folders/{f}/update/expanded"), Some(&admin), json!({"is_expanded": false}))
        .await;
    assert_eq!(by_admin.body["is_expanded"], true);
    assert_eq!(app.get(&format!("/api/v1/folders/{f}"), Some(&alice)).await.body["is_expanded"], true);

    // A folder whose parent is gone, and two folders whose parents loop, go back to the root.
    let lost = folder(&app, &alice, "Lost", Some(&f)).await;
    let (p, q) = (folder(&app, &alice, "P", None).await, folder(&app, &alice, "Q", None).await);
    app.exec("update folders set parent_id = 'gone' where id = $1", &[&lost]).await;
    app.exec("update folders set parent_id = $2 where id = $1", &[&p, &q]).await;
    app.exec("update folders set parent_id = $2 where id = $1", &[&q, &p]).await;
    let list = app.get("/api/v1/folders/", Some(&alice)).await.body;
    let parent = |id: &str| {
        list.as_array().expect("list").iter().find(|x| x["id"] == id).expect("f")["parent_id"].clone()
    };
    assert_eq!(parent(&lost), Value::Null);
    assert!(parent(&p).is_null() != parent(&q).is_null(), "one break per loop: {list}");
    let stored = app
        .scalar_count("select count(*) from folders where user_id = $1 and parent_id is null", &alice_id)
        .await;
    assert_eq!(stored, 3, "the repairs are written");
}

async fn folders_switched_off_or_not_permitted_are_403(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["features"]["folders"] = json!(false);
    assert_eq!(
        app.post("/api/v1/users/default/permissions", Some(&admin), perms).await.status,
        StatusCode::OK
    );
    refused(&app.get("/api/v1/folders/", Some(&alice)).await, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    refused(
        &app.post("/api/v1/folders/", Some(&alice), json!({"name": "x"})).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    assert_eq!(
        app.get("/api/v1/folders/", Some(&admin)).await.status,
        StatusCode::OK,
        "admins hold every permission"
    );
    app.set_admin_config(&admin, json!({"ENABLE_FOLDERS": false})).await;
    refused(&app.get("/api/v1/folders/", Some(&admin)).await, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    assert_eq!(app.scalar_count("select count(*) from folders where name = $1", "x").await, 0);
}

async fn a_chat_moved_into_a_folder_leaves_the_root_list_and_appears_in_the_folder(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let work = folder(&app, &alice, "Work", None).await;
    let sub = folder(&app, &alice, "Sub", Some(&work)).await;
    let (c1, c2, c3) =
        (chat(&app, &alice, "One").await, chat(&app, &alice, "Two").await, chat(&app, &alice, "Three").await);
    assert_eq!(root_list(&app, &alice).await, sorted(vec![c1.clone(), c2.clone(), c3.clone()]));
    assert!(folder_list(&app, &alice, &work).await.is_empty());

    let moved = move_chat(&app, &alice, &c1, json!(work)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(
        (moved.body["id"].as_str(), moved.body["folder_id"].as_str()),
        (Some(c1.as_str()), Some(work.as_str()))
    );
    assert_eq!(root_list(&app, &alice).await, sorted(vec![c2.clone(), c3.clone()]));
    assert_eq!(folder_list(&app, &alice, &work).await, [c1.as_str()]);
    let with_folders = app.get("/api/v1/chats/?include_folders=true", Some(&alice)).await;
    assert_eq!(ids(&with_folders.body), sorted(vec![c1.clone(), c2.clone(), c3.clone()]));

    // A pinned chat is unpinned, an archived one unarchived, when moved in.
    app.send("POST", &format!("/api/v1/chats/{c2}/pin"), Some(&alice), None).await;
    app.send("POST", &format!("/api/v1/chats/{c3}/archive"), Some(&alice), None).await;
    let pinned = move_chat(&app, &alice, &c2, json!(sub)).await;
    assert_eq!((&pinned.body["pinned"], &pinned.body["folder_id"]), (&json!(false), &json!(sub)));
    let archived = move_chat(&app, &alice, &c3, json!(sub)).await;
    assert_eq!(archived.body["archived"], false);
    assert!(root_list(&app, &alice).await.is_empty());
    assert!(app.get("/api/v1/chats/pinned", Some(&alice)).await.body.as_array().expect("list").is_empty());
    assert_eq!(folder_list(&app, &alice, &sub).await, sorted(vec![c2.clone(), c3.clone()]));
    // The whole-chat list covers the folders below; the title list only the folder itself.
    let whole = app.get(&format!("/api/v1/chats/folder/{work}"), Some(&alice)).await;
    assert_eq!(ids(&whole.body), sorted(vec![c1.clone(), c2.clone(), c3.clone()]));
    assert!(whole.body[0]["chat"]["title"].is_string());
    assert_eq!(folder_list(&app, &alice, &work).await, [c1.as_str()]);
    let page = app.get(&format!("/api/v1/chats/folder/{sub}/list?page=2"), Some(&alice)).await;
    assert_eq!(page.body, json!([]));
    let entry = &app.get(&format!("/api/v1/chats/folder/{sub}/list"), Some(&alice)).await.body[0];
    assert_eq!(
        keys(entry),
        ["id", "title", "updated_at", "created_at", "last_read_at", "snippet", "active", "archived"]
    );

    // Out again: back in the root list, gone from the folder's.
    let out = move_chat(&app, &alice, &c1, json!(null)).await;
    assert_eq!(out.body["folder_id"], Value::Null);
    assert_eq!(root_list(&app, &alice).await, [c1.as_str()]);
    assert!(folder_list(&app, &alice, &work).await.is_empty());
    // Archiving takes a chat out of its folder.
    app.send("POST", &format!("/api/v1/chats/{c2}/archive"), Some(&alice), None).await;
    assert_eq!(folder_list(&app, &alice, &sub).await, [c3.as_str()]);
    let row = app.get(&format!("/api/v1/chats/{c2}"), Some(&alice)).await;
    assert_eq!(row.body["folder_id"], Value::Null);
    // A chat created in a folder is there at once.
    let born = app
        .post("/api/v1/chats/new", Some(&alice), json!({"chat": {"title": "Born"}, "folder_id": work}))
        .await;
    assert_eq!(born.body["folder_id"], work.as_str());
    assert_eq!(folder_list(&app, &alice, &work).await, [born.body["id"].as_str().expect("id").to_string()]);
    let nowhere = app.post("/api/v1/chats/new", Some(&alice), json!({"chat": {}, "folder_id": "nope"})).await;
    refused(&nowhere, StatusCode::NOT_FOUND, NOT_FOUND);
}

async fn deleting_a_folder_deletes_or_frees_its_chats_as_the_reference(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let count_chats = || app.scalar_count("select count(*) from chats where user_id = $1", &alice_id);

    // Default: the owner's chats in the folder and below go with it.
    let top = folder(&app, &alice, "Top", None).await;
    let below = folder(&app, &alice, "Below", Some(&top)).await;
    let (x, y, keep) =
        (chat(&app, &alice, "x").await, chat(&app, &alice, "y").await, chat(&app, &alice, "keep").await);
    move_chat(&app, &alice, &x, json!(top)).await;
    move_chat(&app, &alice, &y, json!(below)).await;
    let tag = app.post(&format!("/api/v1/chats/{y}/tags"), Some(&alice), json!({"name": "Only here"})).await;
    assert_eq!(tag.status, StatusCode::OK, "{}", tag.text);
    app.post(&format!("/api/v1/chats/{y}/share"), Some(&alice), json!({})).await;
    assert_eq!(count_chats().await, 3);
    assert_eq!(app.delete(&format!("/api/v1/folders/{top}"), Some(&alice)).await.body, json!(true));
    assert_eq!(count_chats().await, 1);
    assert_eq!(root_list(&app, &alice).await, [keep.as_str()]);
    assert_eq!(folder_rows(&app, &alice_id).await, 0, "the folders below go too");
    assert_eq!(app.scalar_count("select count(*) from shared_chats where user_id = $1", &alice_id).await, 0);
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &alice_id).await, 0);

    // `delete_contents=false`: the chats move to the root.
    let top = folder(&app, &alice, "Top", None).await;
    let below = folder(&app, &alice, "Below", Some(&top)).await;
    let (x, y) = (chat(&app, &alice, "x").await, chat(&app, &alice, "y").await);
    move_chat(&app, &alice, &x, json!(top)).await;
    move_chat(&app, &alice, &y, json!(below)).await;
    let grant = json!({"access_grants": [{"principal_type": "user", "principal_id": admin_id_of(&app, &admin).await, "permission": "read"}]});
    let shared = app.post(&format!("/api/v1/folders/{below}/access/update"), Some(&admin), grant).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.text);
    assert_eq!(
        app.delete(&format!("/api/v1/folders/{top}?delete_contents=false"), Some(&alice)).await.body,
        json!(true)
    );
    assert_eq!(root_list(&app, &alice).await, sorted(vec![keep.clone(), x.clone(), y.clone()]));
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where resource_id = $1", &below).await,
        0
    );

    // Without `chat.delete` a folder holding chats is refused, and nothing is deleted; an empty
    // one still goes.
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["chat"]["delete"] = json!(false);
    assert_eq!(
        app.post("/api/v1/users/default/permissions", Some(&admin), perms).await.status,
        StatusCode::OK
    );
    let full = folder(&app, &alice, "Full", None).await;
    let inner = folder(&app, &alice, "Inner", Some(&full)).await;
    move_chat(&app, &alice, &x, json!(inner)).await;
    refused(
        &app.delete(&format!("/api/v1/folders/{full}"), Some(&alice)).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    assert_eq!(folder_rows(&app, &alice_id).await, 2);
    assert_eq!(folder_list(&app, &alice, &inner).await, [x.as_str()]);
    assert_eq!(
        app.delete(&format!("/api/v1/folders/{full}?delete_contents=false"), Some(&alice)).await.body,
        json!(true)
    );
    assert_eq!(count_chats().await, 3);
    let empty = folder(&app, &alice, "Empty", None).await;
    assert_eq!(app.delete(&format!("/api/v1/folders/{empty}"), Some(&alice)).await.body, json!(true));
}

async fn admin_id_of(app: &TestApp, admin: &str) -> String {
    app.get("/api/v1/auths/", Some(admin)).await.body["id"].as_str().expect("id").to_string()
}

async fn unread_counts_follow_read_state_up_the_tree(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let top = folder(&app, &alice, "Top", None).await;
    let below = folder(&app, &alice, "Below", Some(&top)).await;
    let (a, bb, c) =
        (chat(&app, &alice, "a").await, chat(&app, &alice, "b").await, chat(&app, &alice, "c").await);
    move_chat(&app, &alice, &a, json!(top)).await;
    move_chat(&app, &alice, &bb, json!(below)).await;
    let unread_of = |list: &Value, id: &str| {
        list.as_array().expect("list").iter().find(|f| f["id"] == id).expect("folder")["unread_count"].clone()
    };
    let list = app.get("/api/v1/folders/", Some(&alice)).await.body;
    assert_eq!(
        (unread_of(&list, &top), unread_of(&list, &below)),
        (json!(0), json!(0)),
        "moved by the owner: read"
    );

    let u = app.send("POST", &format!("/api/v1/chats/{bb}/unread"), Some(&alice), None).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(
        u.body,
        json!({"chat_id": bb, "last_read_at": 0, "folder_id": below, "folder_unread_counts": {top.clone(): 1, below.clone(): 1}})
    );
    app.send("POST", &format!("/api/v1/chats/{a}/unread"), Some(&alice), None).await;
    app.send("POST", &format!("/api/v1/chats/{c}/unread"), Some(&alice), None).await;
    let list = app.get("/api/v1/folders/", Some(&alice)).await.body;
    assert_eq!((unread_of(&list, &top), unread_of(&list, &below)), (json!(2), json!(1)));
    // The lists report `last_read_at` as stored.
    let root = app.get("/api/v1/chats/", Some(&alice)).await.body;
    assert_eq!(root[0]["last_read_at"], 0);
    assert_eq!(
        app.get(&format!("/api/v1/chats/folder/{below}/list"), Some(&alice)).await.body[0]["last_read_at"],
        0
    );

    // A reader of the lower folder marks only it; the owner marks the folder and those below.
    let r = app.send("POST", &format!("/api/v1/folders/{below}/read"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"folder_id": below, "folder_ids": [below], "updated_count": 1,
               "folder_unread_counts": {top.clone(): 1, below.clone(): 0}})
    );
    let all = app.send("POST", "/api/v1/chats/read", Some(&alice), None).await;
    assert_eq!(
        all.body,
        json!({"updated_count": 3, "folder_unread_counts": {top.clone(): 0, below.clone(): 0}})
    );
    let root = app.get("/api/v1/chats/", Some(&alice)).await.body;
    assert_eq!(root[0]["last_read_at"], root[0]["updated_at"]);
    let r = app.send("POST", &format!("/api/v1/folders/{top}/read"), Some(&alice), None).await;
    assert_eq!(
        sorted(serde_json::from_value(r.body["folder_ids"].clone()).expect("ids")),
        sorted(vec![top.clone(), below.clone()])
    );
    assert_eq!(r.body["updated_count"], 2);
}

async fn a_shared_folder_is_read_and_written_by_its_grantees_only(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (carol, _) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    let team = folder(&app, &alice, "Team", None).await;
    let inside = folder(&app, &alice, "Inside", Some(&team)).await;
    let c = app
        .post("/api/v1/chats/new", Some(&alice), json!({"chat": {"title": "Plan", "params": {"seed": 1}, "history": {"messages": {}}}, "variables": {"v": 1}, "folder_id": inside}))
        .await;
    let plan = c.body["id"].as_str().expect("id").to_string();
    let read = |who: &str| json!({"access_grants": [{"principal_type": "user", "principal_id": who, "permission": "read"}]});

    // Sharing folders needs `sharing.folders` (off by default); unknown principals are refused.
    let refused_share =
        app.post(&format!("/api/v1/folders/{team}/access/update"), Some(&alice), read(&bob_id)).await;
    refused(&refused_share, StatusCode::FORBIDDEN, SHARING);
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["sharing"]["folders"] = json!(true);
    assert_eq!(
        app.post("/api/v1/users/default/permissions", Some(&admin), perms).await.status,
        StatusCode::OK
    );
    let nobody =
        app.post(&format!("/api/v1/folders/{team}/access/update"), Some(&alice), read("nobody")).await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST, "{}", nobody.text);
    let shared =
        app.post(&format!("/api/v1/folders/{team}/access/update"), Some(&alice), read(&bob_id)).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.text);
    assert_eq!(shared.body["access_grants"][0]["principal_id"], bob_id.as_str());
    assert_eq!(shared.body["access_grants"][0]["resource_type"], "folder");

    // Bob reads the folder (not writable), the one below it, and the chat in it — as a reader.
    let seen = app.get(&format!("/api/v1/folders/{team}"), Some(&bob)).await;
    assert_eq!((seen.status, &seen.body["write_access"]), (StatusCode::OK, &json!(false)));
    assert_eq!(app.get(&format!("/api/v1/folders/{inside}"), Some(&bob)).await.status, StatusCode::OK);
    let list = app.get("/api/v1/folders/shared", Some(&bob)).await;
    assert_eq!(ids(&list.body), sorted(vec![team.clone(), inside.clone()]));
    assert!(
        list.body
            .as_array()
            .expect("list")
            .iter()
            .all(|f| f["permission"] == "read" && f["owner_name"] == "Alice")
    );
    let mine = app.get("/api/v1/folders/shared", Some(&alice)).await;
    assert!(mine.body.as_array().expect("list").iter().all(|f| f["permission"] == "write"), "{}", mine.text);
    let chats = app.get(&format!("/api/v1/folders/{inside}/shared/chats?page=1"), Some(&bob)).await;
    assert_eq!(chats.status, StatusCode::OK, "{}", chats.text);
    assert_eq!(
        (chats.body["folder_permission"].as_str(), &chats.body["total"], &chats.body["has_more"]),
        (Some("read"), &json!(1), &json!(false))
    );
    let entry = &chats.body["chats"][0];
    assert_eq!(
        (entry["id"].as_str(), entry["owner_name"].as_str(), &entry["readonly"]),
        (Some(plan.as_str()), Some("Alice"), &json!(true))
    );
    assert_eq!(entry["last_read_at"], entry["updated_at"]);
    assert!(
        app.get(&format!("/api/v1/folders/{inside}/shared/chats"), Some(&bob))
            .await
            .body
            .get("total")
            .is_none()
    );
    let opened = app.get(&format!("/api/v1/chats/{plan}"), Some(&bob)).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
    assert_eq!((&opened.body["variables"], opened.body["chat"].get("params")), (&json!({}), None));
    refused(
        &app.get(&format!("/api/v1/chats/{plan}"), Some(&carol)).await,
        StatusCode::UNAUTHORIZED,
        NOT_FOUND,
    );
    refused(
        &app.get(&format!("/api/v1/folders/{team}"), Some(&carol)).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    );
    // A reader may not rename, add below, move chats in, share or delete.
    refused(
        &app.post(&format!("/api/v1/folders/{team}/update"), Some(&bob), json!({"name": "Bob's"})).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    );
    refused(
        &app.post("/api/v1/folders/", Some(&bob), json!({"name": "Sub", "parent_id": team})).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );
    let bob_chat = chat(&app, &bob, "Bob's chat").await;
    refused(&move_chat(&app, &bob, &bob_chat, json!(team)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(
        &app.delete(&format!("/api/v1/folders/{team}"), Some(&bob)).await,
        StatusCode::FORBIDDEN,
        ACCESS_PROHIBITED,
    );

    // With a write grant Bob renames it (not its share mode) and adds a folder, made as Alice's.
    let write = json!({"access_grants": [
        {"principal_type": "user", "principal_id": bob_id, "permission": "read"},
        {"principal_type": "user", "principal_id": bob_id, "permission": "write"}]});
    assert_eq!(
        app.post(&format!("/api/v1/folders/{team}/access/update"), Some(&alice), write).await.status,
        StatusCode::OK
    );
    let renamed =
        app.post(&format!("/api/v1/folders/{team}/update"), Some(&bob), json!({"name": "Team 2"})).await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str()),
        (StatusCode::OK, Some("Team 2")),
        "{}",
        renamed.text
    );
    let mode = app
        .post(
            &format!("/api/v1/folders/{team}/update"),
            Some(&bob),
            json!({"data": {"share_mode": "continue"}}),
        )
        .await;
    refused(&mode, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    let sub = app.post("/api/v1/folders/", Some(&bob), json!({"name": "Sub", "parent_id": team})).await;
    assert_eq!(
        (sub.status, sub.body["user_id"].as_str()),
        (StatusCode::OK, Some(alice_id.as_str())),
        "{}",
        sub.text
    );
    let moved = move_chat(&app, &bob, &bob_chat, json!(inside)).await;
    assert_eq!(moved.body["folder_id"], inside.as_str());
    let both = app.get(&format!("/api/v1/folders/{inside}/shared/chats"), Some(&alice)).await;
    assert_eq!(ids(&both.body["chats"]), sorted(vec![plan.clone(), bob_chat.clone()]));
    assert_eq!(both.body["folder_permission"], "write");
    // Alice may reorganise Bob's chat inside her tree, but not take it out of it.
    let within = move_chat(&app, &alice, &bob_chat, json!(team)).await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.text);
    refused(&move_chat(&app, &alice, &bob_chat, json!(null)).await, StatusCode::UNAUTHORIZED, DEFAULT);
    // The share mode is the owner's to set; deleting the folder frees Bob's chat.
    let mode = app
        .post(
            &format!("/api/v1/folders/{team}/access/update"),
            Some(&alice),
            json!({"access_grants": [], "share_mode": "continue"}),
        )
        .await;
    assert_eq!(
        (mode.body["data"]["share_mode"].as_str(), &mode.body["access_grants"]),
        (Some("continue"), &json!([])),
        "{}",
        mode.text
    );
    refused(&app.get(&format!("/api/v1/folders/{team}"), Some(&bob)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/v1/folders/{team}"), Some(&alice)).await.body, json!(true));
    let bobs = app.get(&format!("/api/v1/chats/{bob_chat}"), Some(&bob)).await;
    assert_eq!((bobs.status, &bobs.body["folder_id"]), (StatusCode::OK, &Value::Null), "{}", bobs.text);
    assert!(root_list(&app, &bob).await.contains(&bob_chat));
    refused(
        &app.get(&format!("/api/v1/chats/{plan}"), Some(&alice)).await,
        StatusCode::UNAUTHORIZED,
        NOT_FOUND,
    );
}

async fn import_and_clone_keep_writable_folders_only(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let own = folder(&app, &alice, "Own", None).await;
    let bobs = folder(&app, &bob, "Bob's", None).await;
    let import = json!({"chats": [
        {"chat": {"title": "kept"}, "folder_id": own},
        {"chat": {"title": "dangling"}, "folder_id": "gone"},
        {"chat": {"title": "not hers"}, "folder_id": bobs}]});
    let a = app.post("/api/v1/chats/import", Some(&alice), import).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let folders: Vec<Value> =
        a.body.as_array().expect("list").iter().map(|c| c["folder_id"].clone()).collect();
    assert_eq!(folders, [json!(own), Value::Null, Value::Null]);
    let kept = a.body[0]["id"].as_str().expect("id").to_string();
    assert_eq!(folder_list(&app, &alice, &own).await, [kept.as_str()]);
    let copy = app.post(&format!("/api/v1/chats/{kept}/clone"), Some(&alice), json!({})).await;
    assert_eq!(
        (copy.status, copy.body["folder_id"].as_str()),
        (StatusCode::OK, Some(own.as_str())),
        "{}",
        copy.text
    );
    assert_eq!(folder_list(&app, &alice, &own).await.len(), 2);
    assert_eq!(root_list(&app, &alice).await.len(), 2);
}

async fn graphql_folders_and_mutations_follow_the_rest_rules(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let made = gql(&app, Some(&alice), "mutation { createFolder(name: \"Work\", meta: {icon: \"w\"}) { id name meta parentId isExpanded unreadCount writeAccess } }", json!({})).await;
    let work = made.body["data"]["createFolder"]["id"].as_str().expect("id").to_string();
    assert_eq!(made.body["data"]["createFolder"]["meta"], json!({"icon": "w"}), "{}", made.text);
    let twice = gql(&app, Some(&alice), "mutation { createFolder(name: \"work\") { id } }", json!({})).await;
    assert_eq!(twice.body["errors"][0]["message"], EXISTS);
    assert_eq!(twice.body["errors"][0]["extensions"]["code"], "FOLDER_EXISTS");
    let extra =
        gql(&app, Some(&alice), "mutation { createFolder(name: \"x\", meta: 5) { id } }", json!({})).await;
    assert_eq!(extra.body["errors"][0]["extensions"]["code"], "VALIDATION_ERROR");
    let sub = gql(
        &app,
        Some(&alice),
        "mutation($p: String) { createFolder(name: \"Sub\", parentId: $p) { id parentId } }",
        json!({"p": work}),
    )
    .await;
    let sub = sub.body["data"]["createFolder"]["id"].as_str().expect("id").to_string();
    let c = chat(&app, &alice, "Chat").await;
    let pinned = chat(&app, &alice, "Pinned").await;
    app.send("POST", &format!("/api/v1/chats/{pinned}/pin"), Some(&alice), None).await;
    let moved = gql(&app, Some(&alice), "mutation($id: String!, $f: String) { moveChat(id: $id, folderId: $f) { id folderId folder { id name } } }", json!({"id": c, "f": sub})).await;
    assert_eq!(
        moved.body["data"]["moveChat"],
        json!({"id": c, "folderId": sub, "folder": {"id": sub, "name": "Sub"}}),
        "{}",
        moved.text
    );

    // The sidebar: folders with their chats, pinned chats, and the chats outside folders.
    let q = "{ folders { id name unreadCount chats(first: 10) { totalCount edges { node { id title folderId } } } }
               pinned: chats(pinned: true) { edges { node { id } } }
               root: chats(includeFolders: false, pinned: false) { totalCount } }";
    let side = gql(&app, Some(&alice), q, json!({})).await;
    let data = &side.body["data"];
    let sub_entry = data["folders"]
        .as_array()
        .expect("folders")
        .iter()
        .find(|f| f["id"] == sub.as_str())
        .expect("sub")
        .clone();
    assert_eq!(
        sub_entry["chats"],
        json!({"totalCount": 1, "edges": [{"node": {"id": c, "title": "Chat", "folderId": sub}}]}),
        "{}",
        side.text
    );
    assert_eq!(data["pinned"]["edges"], json!([{"node": {"id": pinned}}]));
    assert_eq!(data["root"]["totalCount"], 0);

    let one = gql(
        &app,
        Some(&alice),
        "query($id: String!) { folder(id: $id) { name writeAccess accessGrants chats { totalCount } } }",
        json!({"id": work}),
    )
    .await;
    assert_eq!(
        one.body["data"]["folder"],
        json!({"name": "Work", "writeAccess": true, "accessGrants": [], "chats": {"totalCount": 0}})
    );
    let none = gql(&app, Some(&admin), "{ folder(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(none.body["data"]["folder"], Value::Null);
    let cycle = gql(
        &app,
        Some(&alice),
        "mutation($id: String!, $p: String) { moveFolder(id: $id, parentId: $p) { id } }",
        json!({"id": work, "p": sub}),
    )
    .await;
    assert_eq!(cycle.body["errors"][0]["message"], CYCLE);
    let expanded = gql(
        &app,
        Some(&alice),
        "mutation($id: String!) { expandFolder(id: $id, isExpanded: true) { isExpanded } }",
        json!({"id": work}),
    )
    .await;
    assert_eq!(expanded.body["data"]["expandFolder"]["isExpanded"], true);
    let unread = gql(&app, Some(&alice), "mutation($id: String!) { markChatUnread(id: $id) { chatId lastReadAt folderId folderUnreadCounts } }", json!({"id": c})).await;
    assert_eq!(
        unread.body["data"]["markChatUnread"]["folderUnreadCounts"],
        json!({work.clone(): 1, sub.clone(): 1}),
        "{}",
        unread.text
    );
    let read =
        gql(&app, Some(&alice), "mutation { markChatsRead { updatedCount folderUnreadCounts } }", json!({}))
            .await;
    assert_eq!(
        read.body["data"]["markChatsRead"]["folderUnreadCounts"],
        json!({work.clone(): 0, sub.clone(): 0})
    );
    let gone = gql(
        &app,
        Some(&alice),
        "mutation($id: String!) { deleteFolder(id: $id, deleteContents: false) }",
        json!({"id": work}),
    )
    .await;
    assert_eq!(gone.body["data"]["deleteFolder"], true, "{}", gone.text);
    assert_eq!(root_list(&app, &alice).await, [c.as_str()]);
}

/// A user's folders go with the user; another user's chat that sat in one of them (through a
/// write grant) comes back to its owner's root list, and the folder's grants go.
async fn deleting_a_user_moves_other_users_chats_out_of_their_folders(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["sharing"]["folders"] = json!(true);
    assert_eq!(
        app.post("/api/v1/users/default/permissions", Some(&admin), perms).await.status,
        StatusCode::OK
    );
    let team = folder(&app, &alice, "Team", None).await;
    let grant = json!({"access_grants": [
        {"principal_type": "user", "principal_id": bob_id, "permission": "read"},
        {"principal_type": "user", "principal_id": bob_id, "permission": "write"}]});
    let shared = app.post(&format!("/api/v1/folders/{team}/access/update"), Some(&alice), grant).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.text);
    let bobs = chat(&app, &bob, "Bob's notes").await;
    let moved = move_chat(&app, &bob, &bobs, json!(team)).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert!(!root_list(&app, &bob).await.contains(&bobs), "in the folder, out of the root list");

    let d = app.delete(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(root_list(&app, &bob).await, vec![bobs.clone()], "back at the root");
    let opened = app.get(&format!("/api/v1/chats/{bobs}"), Some(&bob)).await;
    assert_eq!(opened.body["folder_id"], Value::Null, "{}", opened.text);
    assert_eq!(app.scalar_count("select count(*) from access_grants where resource_id = $1", &team).await, 0);
    assert_eq!(folder_rows(&app, &alice_id).await, 0);
}

/// `folder:<name>` in a search (REST `/chats/search`, GraphQL `chats(search:)`) keeps the chats of
/// the caller's folders of that name (spaces and `_` alike, any case) and of every folder below;
/// a name no folder has matches nothing, and other users' folders never count.
async fn the_folder_search_token_finds_the_chats_of_a_folder_and_below(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &CACHES).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let team = folder(&app, &alice, "My Team", None).await;
    let below = folder(&app, &alice, "Below", Some(&team)).await;
    let other = folder(&app, &alice, "Other", None).await;
    let (in_team, in_below, in_other, _at_root) = (
        chat(&app, &alice, "Plan one").await,
        chat(&app, &alice, "Plan two").await,
        chat(&app, &alice, "Plan three").await,
        chat(&app, &alice, "Plan four").await,
    );
    for (c, f) in [(&in_team, &team), (&in_below, &below), (&in_other, &other)] {
        assert_eq!(move_chat(&app, &alice, c, json!(f)).await.status, StatusCode::OK);
    }
    let bobs_team = folder(&app, &bob, "My Team", None).await;
    let bobs = chat(&app, &bob, "Plan five").await;
    assert_eq!(move_chat(&app, &bob, &bobs, json!(bobs_team)).await.status, StatusCode::OK);

    let search = |token: String, text: &'static str| {
        let app = &app;
        async move {
            let a = app.get(&format!("/api/v1/chats/search?text={text}"), Some(&token)).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            ids(&a.body)
        }
    };
    assert_eq!(
        search(alice.clone(), "folder:my_team").await,
        sorted(vec![in_team.clone(), in_below.clone()])
    );
    assert_eq!(
        search(alice.clone(), "plan%20FOLDER:My_TEAM").await,
        sorted(vec![in_team.clone(), in_below.clone()])
    );
    assert_eq!(search(alice.clone(), "folder:below").await, vec![in_below.clone()]);
    assert_eq!(search(alice.clone(), "folder:nowhere").await, Vec::<String>::new());
    assert_eq!(search(alice.clone(), "plan").await.len(), 4, "without the token every chat matches");
    assert!(!search(alice.clone(), "plan").await.contains(&bobs));
    assert_eq!(search(bob.clone(), "folder:my_team").await, vec![bobs.clone()]);

    let g = crate::helpers::gql(
        &app,
        Some(&alice),
        "query($s: String) { chats(search: $s) { totalCount edges { node { id } } } }",
        json!({"s": "folder:my_team"}),
    )
    .await;
    assert_eq!(g.body["data"]["chats"]["totalCount"], 2, "{}", g.text);
}
