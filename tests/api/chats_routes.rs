//! The further `/api/v1/chats` routes: chat params, forks (of chats and of shares), who may open a
//! share (grants, `continue` mode) and what readers see, message events, compaction, the admin's
//! chat settings, usage stats and the stats export, and the fixed paths that win over `/{id}`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const NOT_AUTHENTICATED: &str = "Not authenticated";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";
const SHARING_NOT_ALLOWED: &str = "You do not have permission to share with the requested audience";
const DEFAULT: &str = "Something went wrong :/";

backend_tests!(
    params_merge_into_the_owners_chat_without_moving_it,
    fork_copies_one_branch_with_the_owners_settings,
    fork_refusals_write_nothing,
    fork_of_a_share_gives_the_reader_the_snapshot_as_their_own,
    share_grants_decide_who_opens_a_share,
    share_access_updates_are_checked_and_all_or_nothing,
    continue_mode_shares_the_live_chat_with_grant_holders,
    chat_config_is_admins_only_and_read_by_every_instance,
    chat_config_bad_bodies_are_422_and_change_nothing,
    usage_stats_describe_each_chat_with_messages,
    stats_export_pages_streams_and_exports_one_chat,
    message_events_store_what_they_carry,
    compaction_answers_what_needs_no_model_and_refuses_the_rest,
    fixed_paths_win_over_chat_ids,
);

// ---- fixtures ----

struct Fx {
    app: TestApp,
    admin: String,
    alice: String,
    alice_id: String,
    bob: String,
    bob_id: String,
    carol: String,
    carol_id: String,
    pending: String,
}

async fn fixtures(b: Backend) -> Option<Fx> {
    let app = TestApp::spawn(b).await?;
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (carol, carol_id) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    Some(Fx { app, admin, alice, alice_id, bob, bob_id, carol, carol_id, pending })
}

/// A chat with two replies to one question: `a1` unfinished (model m1), `a2` current (m2).
fn trip(alice_id: &str) -> Value {
    json!({
        "title": "Trip", "models": ["m1"], "params": {"temperature": 0.2},
        "history": {"currentId": "a2", "messages": {
            "u1": {"id": "u1", "parentId": null, "childrenIds": ["a1", "a2"], "role": "user",
                   "content": "plan a trip", "timestamp": 100, "meta": {"private": true}},
            "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "draft",
                   "model": "m1", "timestamp": 103, "done": false, "user_id": alice_id},
            "a2": {"id": "a2", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "final plan",
                   "model": "m2", "timestamp": 107, "done": true}}},
        "messages": []
    })
}

async fn create(app: &TestApp, token: &str, chat: Value, variables: Option<Value>) -> String {
    let mut body = json!({"chat": chat});
    if let Some(v) = variables {
        body["variables"] = v;
    }
    let a = app.post("/api/v1/chats/new", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "create: {}", a.text);
    a.body["id"].as_str().expect("id").to_string()
}

async fn read(app: &TestApp, token: &str, id: &str) -> Answer {
    app.get(&format!("/api/v1/chats/{id}"), Some(token)).await
}

async fn share(app: &TestApp, token: &str, id: &str) -> String {
    let a = app.send("POST", &format!("/api/v1/chats/{id}/share"), Some(token), None).await;
    assert_eq!(a.status, StatusCode::OK, "share: {}", a.text);
    a.body["share_id"].as_str().expect("share_id").to_string()
}

async fn grant(app: &TestApp, token: &str, chat: &str, body: Value) -> Answer {
    app.post(&format!("/api/v1/chats/shared/{chat}/access/update"), Some(token), body).await
}

fn to(kind: &str, id: &str) -> Value {
    json!({"principal_type": kind, "principal_id": id, "permission": "read"})
}

fn refused(a: &Answer, status: StatusCode, detail: &str) {
    assert_eq!((a.status, a.detail()), (status, detail), "{}", a.text);
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("list").iter().map(|c| c["id"].as_str().expect("id").to_string()).collect()
}

async fn chat_count(app: &TestApp, user_id: &str) -> i64 {
    app.scalar_count("select count(*) from chats where user_id = $1", user_id).await
}

async fn set_permissions(app: &TestApp, admin: &str, changes: &[(&str, &str, bool)]) {
    let mut tree = app.get("/api/v1/users/default/permissions", Some(admin)).await.body;
    for (section, key, value) in changes {
        tree[*section][*key] = json!(value);
    }
    let a = app.post("/api/v1/users/default/permissions", Some(admin), tree).await;
    assert_eq!(a.status, StatusCode::OK, "permissions: {}", a.text);
}

/// The GraphQL sidebar: titles of the caller's chats (pinned ones with `pinned: true`).
async fn sidebar(app: &TestApp, token: &str, pinned: bool) -> Vec<(String, String)> {
    let q = "query($p: Boolean) { chats(first: 50, pinned: $p) { edges { node { id title } } } }";
    let a = gql(app, Some(token), q, json!({"p": pinned})).await;
    assert!(a.body["errors"].is_null(), "{}", a.text);
    a.body["data"]["chats"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["node"]["id"].as_str().expect("id").to_string(),
                e["node"]["title"].as_str().expect("t").to_string(),
            )
        })
        .collect()
}

// ---- params ----

async fn params_merge_into_the_owners_chat_without_moving_it(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id =
        create(app, &fx.alice, json!({"title": "Params", "params": {"temperature": 0.5, "seed": 1}}), None)
            .await;
    create(app, &fx.alice, json!({"title": "Another"}), None).await;
    let before = read(app, &fx.alice, &id).await.body;
    let list_before = ids(&app.get("/api/v1/chats/", Some(&fx.alice)).await.body);
    let path = format!("/api/v1/chats/{id}/params");

    let a = app.send("PATCH", &path, Some(&fx.alice), Some(json!({"seed": 2, "top_k": 40}))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let merged = json!({"temperature": 0.5, "seed": 2, "top_k": 40});
    assert_eq!(a.body, merged);
    let after = read(app, &fx.alice, &id).await.body;
    assert_eq!(after["chat"]["params"], merged);
    assert_eq!(after["updated_at"], before["updated_at"], "params do not move the chat");
    assert_eq!(after["title"], "Params");
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&fx.alice)).await.body), list_before);
    assert_eq!(list_before.len(), 2);
    let g =
        gql(app, Some(&fx.alice), "query($id: String!) { chat(id: $id) { chat } }", json!({"id": id})).await;
    assert_eq!(g.body["data"]["chat"]["chat"]["params"], merged, "{}", g.text);

    // The GraphQL twin merges the same way.
    let m = "mutation($id: String!, $p: JSON!) { updateChatParams(id: $id, params: $p) }";
    let g = gql(app, Some(&fx.alice), m, json!({"id": id, "p": {"seed": 3}})).await;
    assert_eq!(
        g.body["data"]["updateChatParams"],
        json!({"temperature": 0.5, "seed": 3, "top_k": 40}),
        "{}",
        g.text
    );

    // Callers who may not, unknown ids, bad bodies: 401/422, and nothing changes.
    let body = Some(json!({"seed": 99}));
    refused(
        &app.send("PATCH", &path, Some(&fx.bob), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(
        &app.send("PATCH", &path, Some(&fx.admin), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(
        &app.send("PATCH", &path, Some(&fx.pending), body.clone()).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(&app.send("PATCH", &path, None, body.clone()).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    let unknown = app.send("PATCH", "/api/v1/chats/nope/params", Some(&fx.alice), body).await;
    refused(&unknown, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    let list = app.send("PATCH", &path, Some(&fx.alice), Some(json!([1]))).await;
    assert_eq!(list.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        list.body["detail"],
        json!([{"type": "dict_type", "loc": ["body"], "msg": "Input should be a valid dictionary", "input": [1]}])
    );
    let none = app.send("PATCH", &path, Some(&fx.alice), None).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(none.body["detail"][0]["type"], "missing");
    assert_eq!(none.body["detail"][0]["loc"], json!(["body"]));
    let nul = app.send("PATCH", &path, Some(&fx.alice), Some(json!({"seed": "a\u{0}b"}))).await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nul.text);
    assert_eq!(read(app, &fx.alice, &id).await.body["chat"]["params"]["seed"], 3);
}

// ---- fork ----

async fn fork_copies_one_branch_with_the_owners_settings(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), Some(json!({"{{CITY}}": "Paris"}))).await;
    assert_eq!(
        app.post(&format!("/api/v1/chats/{id}/tags"), Some(&fx.alice), json!({"name": "Travel"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send("POST", &format!("/api/v1/chats/{id}/pin"), Some(&fx.alice), None).await.status,
        StatusCode::OK
    );
    let pinned_before = ids(&app.get("/api/v1/chats/pinned", Some(&fx.alice)).await.body);
    assert_eq!(pinned_before, std::slice::from_ref(&id));
    assert_eq!(sidebar(app, &fx.alice, true).await.len(), 1);

    let f = app.post(&format!("/api/v1/chats/{id}/fork"), Some(&fx.alice), json!({"message_id": "a1"})).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    let fork = &f.body;
    let fork_id = fork["id"].as_str().expect("id").to_string();
    assert_ne!(fork_id, id);
    assert_eq!(fork["title"], "Trip (fork)");
    assert_eq!(fork["user_id"], fx.alice_id.as_str());
    assert_eq!(fork["pinned"], true);
    assert_eq!(fork["archived"], false);
    assert_eq!(fork["variables"], json!({"{{CITY}}": "Paris"}));
    assert_eq!(fork["current_message_id"], "a1");
    assert_eq!(fork["meta"]["forked_from"], id.as_str());
    assert_eq!(fork["meta"]["forked_from_message_id"], "a1");
    assert_eq!(fork["meta"]["tags"], json!(["travel"]));
    let doc = &fork["chat"];
    assert_eq!(doc["title"], "Trip (fork)");
    assert_eq!(doc["originalChatId"], id.as_str());
    assert_eq!(doc["branchPointMessageId"], "a1");
    assert_eq!(doc["params"], json!({"temperature": 0.2}), "the owner keeps the params");
    assert_eq!(doc["history"]["currentId"], "a1");
    let messages = doc["history"]["messages"].as_object().expect("messages");
    let mut keys: Vec<&String> = messages.keys().collect();
    keys.sort();
    assert_eq!(keys, ["a1", "u1"]);
    assert_eq!(messages["u1"]["childrenIds"], json!(["a1"]));
    assert_eq!(messages["a1"]["parentId"], "u1");
    assert_eq!(messages["a1"]["done"], true, "an unfinished reply is finished in the fork");
    assert_eq!(messages["u1"]["meta"], json!({"private": true}), "the owner keeps message meta");
    assert_eq!(ids(&doc["messages"]), ["u1", "a1"]);
    assert!(doc.get("share_mode").is_none());

    // Stored as answered; the tag link, the lists and the sidebar know the fork.
    let stored = read(app, &fx.alice, &fork_id).await.body;
    assert_eq!(stored["chat"]["history"], doc["history"]);
    let tags = app.get(&format!("/api/v1/chats/{fork_id}/tags"), Some(&fx.alice)).await.body;
    assert_eq!(tags[0]["id"], "travel");
    let pinned = ids(&app.get("/api/v1/chats/pinned", Some(&fx.alice)).await.body);
    assert!(pinned.contains(&fork_id) && pinned.len() == 2, "{pinned:?}");
    let bar = sidebar(app, &fx.alice, true).await;
    assert!(bar.contains(&(fork_id.clone(), "Trip (fork)".to_string())), "{bar:?}");
    // The source is untouched.
    assert_eq!(read(app, &fx.alice, &id).await.body["chat"]["history"]["messages"]["a1"]["done"], false);

    // Without a body (or with `{}`), the fork ends at the current message.
    let d = app.send("POST", &format!("/api/v1/chats/{id}/fork"), Some(&fx.alice), None).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let mut keys: Vec<&String> =
        d.body["chat"]["history"]["messages"].as_object().expect("m").keys().collect();
    keys.sort();
    assert_eq!(keys, ["a2", "u1"]);
    assert_eq!(d.body["chat"]["branchPointMessageId"], "a2");

    // GraphQL's twin.
    let m =
        "mutation($id: String!, $m: String) { forkChat(id: $id, messageId: $m) { id title pinned chat } }";
    let g = gql(app, Some(&fx.alice), m, json!({"id": id, "m": "u1"})).await;
    assert_eq!(g.body["data"]["forkChat"]["title"], "Trip (fork)", "{}", g.text);
    assert_eq!(g.body["data"]["forkChat"]["chat"]["history"]["currentId"], "u1");

    // An admin (admin chat access) forks as a reader: no params, variables, tags or pin; the
    // owner's messages become the admin's.
    let a = app.post(&format!("/api/v1/chats/{id}/fork"), Some(&fx.admin), json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_ne!(a.body["user_id"], fx.alice_id.as_str());
    assert_eq!(a.body["pinned"], false);
    assert_eq!(a.body["variables"], json!({}));
    assert!(a.body["meta"].get("tags").is_none(), "{}", a.body["meta"]);
    assert!(a.body["chat"].get("params").is_none());
    let u1 = &a.body["chat"]["history"]["messages"]["u1"];
    assert_eq!(u1["user_id"], a.body["user_id"]);
    assert_eq!(u1["user"]["name"], "Admin");
    assert!(u1.get("meta").is_none(), "another author's message meta is not copied");
}

async fn fork_refusals_write_nothing(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), None).await;
    let empty = create(app, &fx.alice, json!({"title": "Empty"}), None).await;
    let path = format!("/api/v1/chats/{id}/fork");
    let n = chat_count(app, &fx.alice_id).await;

    let unknown = app.post(&path, Some(&fx.alice), json!({"message_id": "zz"})).await;
    refused(&unknown, StatusCode::NOT_FOUND, "message not found");
    let nothing = app.post(&format!("/api/v1/chats/{empty}/fork"), Some(&fx.alice), json!({})).await;
    refused(&nothing, StatusCode::BAD_REQUEST, "chat has no messages to fork");
    let bad = app.post(&path, Some(&fx.alice), json!({"message_id": 5})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["detail"][0]["type"], "string_type");
    assert_eq!(bad.body["detail"][0]["loc"], json!(["body", "message_id"]));
    let not_object = app.post(&path, Some(&fx.alice), json!([1])).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&app.post(&path, Some(&fx.bob), json!({})).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    refused(
        &app.post("/api/v1/chats/nope/fork", Some(&fx.alice), json!({})).await,
        StatusCode::UNAUTHORIZED,
        NOT_FOUND,
    );
    refused(
        &app.post(&path, Some(&fx.pending), json!({})).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(&app.post(&path, None, json!({})).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    set_permissions(app, &fx.admin, &[("chat", "import", false)]).await;
    refused(&app.post(&path, Some(&fx.alice), json!({})).await, StatusCode::FORBIDDEN, ACCESS_PROHIBITED);
    assert_eq!(chat_count(app, &fx.alice_id).await, n, "no refusal wrote a chat");
    // A cycle in the parents.
    set_permissions(app, &fx.admin, &[("chat", "import", true)]).await;
    let looped = create(
        app,
        &fx.alice,
        json!({"title": "Loop", "history": {"currentId": "x", "messages": {
            "x": {"id": "x", "parentId": "y", "role": "user", "content": "1"},
            "y": {"id": "y", "parentId": "x", "role": "assistant", "content": "2"}}}}),
        None,
    )
    .await;
    let c = app.post(&format!("/api/v1/chats/{looped}/fork"), Some(&fx.alice), json!({})).await;
    refused(&c, StatusCode::BAD_REQUEST, "message branch contains a cycle");
    let g = gql(
        app,
        Some(&fx.alice),
        "mutation($id: String!) { forkChat(id: $id, messageId: \"zz\") { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(g.body["errors"][0]["message"], "message not found", "{}", g.text);
    assert_eq!(g.body["errors"][0]["extensions"]["code"], "MESSAGE_NOT_FOUND");
    assert_eq!(chat_count(app, &fx.alice_id).await, n + 1);
}

async fn fork_of_a_share_gives_the_reader_the_snapshot_as_their_own(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), Some(json!({"{{CITY}}": "Paris"}))).await;
    let share_id = share(app, &fx.alice, &id).await;
    // Without a grant the share is the owner's.
    let denied = app.post(&format!("/api/v1/chats/{share_id}/fork"), Some(&fx.bob), json!({})).await;
    refused(&denied, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    assert_eq!(
        grant(app, &fx.alice, &id, json!({"access_grants": [to("user", &fx.bob_id)]})).await.status,
        StatusCode::OK
    );

    let f =
        app.post(&format!("/api/v1/chats/{share_id}/fork"), Some(&fx.bob), json!({"message_id": "a2"})).await;
    assert_eq!(f.status, StatusCode::OK, "{}", f.text);
    let fork = &f.body;
    assert_eq!(fork["user_id"], fx.bob_id.as_str());
    assert_eq!(fork["title"], "Trip (fork)");
    assert_eq!(fork["chat"]["originalChatId"], share_id.as_str(), "the snapshot is what was forked");
    assert_eq!(fork["meta"], json!({"forked_from": share_id, "forked_from_message_id": "a2"}));
    assert_eq!(fork["variables"], json!({}));
    assert_eq!(fork["pinned"], false);
    assert!(fork["chat"].get("params").is_none(), "the owner's params stay theirs");
    let u1 = &fork["chat"]["history"]["messages"]["u1"];
    assert_eq!(u1["user_id"], fx.bob_id.as_str());
    assert_eq!(u1["user"], json!({"id": fx.bob_id, "name": "Bob"}));
    assert!(u1.get("meta").is_none());
    assert_eq!(fork["chat"]["history"]["messages"]["a2"]["user_id"], fx.bob_id.as_str());
    let bob_list = ids(&app.get("/api/v1/chats/", Some(&fx.bob)).await.body);
    assert_eq!(bob_list, [fork["id"].as_str().expect("id").to_string()]);
    // Alice's chat itself is not Bob's to fork by its id.
    refused(
        &app.post(&format!("/api/v1/chats/{id}/fork"), Some(&fx.bob), json!({})).await,
        StatusCode::UNAUTHORIZED,
        NOT_FOUND,
    );
    // Carol has no grant.
    let carol = app.post(&format!("/api/v1/chats/{share_id}/fork"), Some(&fx.carol), json!({})).await;
    refused(&carol, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    assert_eq!(chat_count(app, &fx.carol_id).await, 0);
}

// ---- share access ----

async fn share_grants_decide_who_opens_a_share(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), Some(json!({"{{CITY}}": "Paris"}))).await;
    let share_id = share(app, &fx.alice, &id).await;
    let path = format!("/api/v1/chats/share/{share_id}");
    let access = format!("/api/v1/chats/shared/{id}/access");
    assert_eq!(app.get(&access, Some(&fx.alice)).await.body, json!([]));

    // No grants: the owner and admins only.
    refused(&app.get(&path, Some(&fx.bob)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    refused(&app.get(&path, None).await, StatusCode::UNAUTHORIZED, INVALID_TOKEN);
    refused(&app.get(&path, Some(&fx.pending)).await, StatusCode::UNAUTHORIZED, INVALID_TOKEN);
    refused(&app.get("/api/v1/chats/share/nope", None).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    assert_eq!(app.get(&path, Some(&fx.admin)).await.status, StatusCode::OK);

    // A grant to Bob: he reads the snapshot as a reader (no variables, params or others' meta,
    // authors named) and may clone it; Carol still may not.
    let g = grant(app, &fx.alice, &id, json!({"access_grants": [to("user", &fx.bob_id)]})).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["id"], id.as_str());
    let listed = app.get(&access, Some(&fx.alice)).await.body;
    assert_eq!(listed.as_array().expect("list").len(), 1);
    assert_eq!(listed[0]["principal_type"], "user");
    assert_eq!(listed[0]["principal_id"], fx.bob_id.as_str());
    assert_eq!(listed[0]["permission"], "read");
    assert!(listed[0]["id"].is_string());
    assert_eq!(listed[0].as_object().expect("grant").len(), 4);
    let seen = app.get(&path, Some(&fx.bob)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert_eq!(seen.body["id"], share_id.as_str());
    assert_eq!(seen.body["variables"], json!({}));
    assert!(seen.body["chat"].get("params").is_none());
    assert_eq!(seen.body["chat"]["share_mode"], Value::Null);
    let u1 = &seen.body["chat"]["history"]["messages"]["u1"];
    assert!(u1.get("meta").is_none());
    assert_eq!(u1["user"], json!({"id": fx.alice_id, "name": "Alice"}));
    let own = app.get(&path, Some(&fx.alice)).await.body;
    assert_eq!(own["chat"]["params"], json!({"temperature": 0.2}), "the owner sees everything");
    let clone = app.post(&format!("/api/v1/chats/{share_id}/clone/shared"), Some(&fx.bob), json!({})).await;
    assert_eq!(clone.status, StatusCode::OK, "{}", clone.text);
    assert_eq!(clone.body["user_id"], fx.bob_id.as_str());
    assert_eq!(clone.body["chat"]["history"]["messages"]["u1"]["user_id"], fx.bob_id.as_str());
    assert!(clone.body["chat"].get("params").is_none());
    refused(&app.get(&path, Some(&fx.carol)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    let carol_clone =
        app.post(&format!("/api/v1/chats/{share_id}/clone/shared"), Some(&fx.carol), json!({})).await;
    refused(&carol_clone, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);

    // A group grant reaches its members.
    let group = app
        .post("/api/v1/groups/create", Some(&fx.admin), json!({"name": "Readers", "description": ""}))
        .await;
    let group_id = group.body["id"].as_str().expect("group").to_string();
    let add = app
        .post(
            &format!("/api/v1/groups/id/{group_id}/users/add"),
            Some(&fx.admin),
            json!({"user_ids": [fx.carol_id]}),
        )
        .await;
    assert_eq!(add.status, StatusCode::OK, "{}", add.text);
    let g = grant(
        app,
        &fx.alice,
        &id,
        json!({"access_grants": [to("user", &fx.bob_id), to("group", &group_id)]}),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(app.get(&path, Some(&fx.carol)).await.status, StatusCode::OK);

    // `anyone` (given by an admin): no sign-in needed, and the reader sees no private parts.
    let g = grant(
        app,
        &fx.admin,
        &id,
        json!({"access_grants": [{"principal_type": "anyone", "principal_id": "*", "permission": "read"}]}),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let anon = app.get(&path, None).await;
    assert_eq!(anon.status, StatusCode::OK, "{}", anon.text);
    assert_eq!(anon.body["variables"], json!({}));
    assert!(anon.body["chat"]["history"]["messages"]["u1"].get("meta").is_none());
    assert_eq!(app.get(&path, Some(&fx.pending)).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&path, Some(&fx.carol)).await.status,
        StatusCode::OK,
        "an open share is open to everyone"
    );
    let g =
        gql(app, None, "query($s: String!) { sharedChat(shareId: $s) { id title } }", json!({"s": share_id}))
            .await;
    assert_eq!(g.body["data"]["sharedChat"]["title"], "Trip", "{}", g.text);

    // Unsharing drops the snapshot and its grants.
    assert_eq!(
        app.delete(&format!("/api/v1/chats/{id}/share"), Some(&fx.alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.scalar_count("select count(*) from access_grants where resource_id = $1", &id).await, 0);
    refused(&app.get(&path, None).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
}

async fn share_access_updates_are_checked_and_all_or_nothing(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), None).await;
    share(app, &fx.alice, &id).await;
    let access = format!("/api/v1/chats/shared/{id}/access");
    let bob_only = json!({"access_grants": [to("user", &fx.bob_id)]});
    assert_eq!(grant(app, &fx.alice, &id, bob_only.clone()).await.status, StatusCode::OK);
    let before = app.get(&access, Some(&fx.alice)).await.body;

    // Audiences the caller may not give, and grants naming nobody, change nothing.
    let public =
        grant(app, &fx.alice, &id, json!({"access_grants": [to("user", &fx.bob_id), to("user", "*")]})).await;
    refused(&public, StatusCode::FORBIDDEN, SHARING_NOT_ALLOWED);
    let open =
        json!({"access_grants": [{"principal_type": "anyone", "principal_id": "*", "permission": "read"}]});
    refused(&grant(app, &fx.alice, &id, open.clone()).await, StatusCode::FORBIDDEN, SHARING_NOT_ALLOWED);
    let nobody = grant(app, &fx.alice, &id, json!({"access_grants": [to("user", "nope")]})).await;
    refused(&nobody, StatusCode::BAD_REQUEST, "An access grant names a user that does not exist: nope");
    assert_eq!(app.get(&access, Some(&fx.alice)).await.body, before);
    // With the sharing permissions they may.
    set_permissions(app, &fx.admin, &[("sharing", "public_chats", true), ("sharing", "open_chats", true)])
        .await;
    let g = grant(app, &fx.alice, &id, json!({"access_grants": [to("user", "*")]})).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(grant(app, &fx.alice, &id, open).await.status, StatusCode::OK);
    set_permissions(app, &fx.admin, &[("access_grants", "allow_users", false)]).await;
    refused(&grant(app, &fx.alice, &id, bob_only.clone()).await, StatusCode::FORBIDDEN, SHARING_NOT_ALLOWED);
    set_permissions(app, &fx.admin, &[("access_grants", "allow_users", true)]).await;
    assert_eq!(grant(app, &fx.alice, &id, bob_only.clone()).await.status, StatusCode::OK);

    // Only the owner (or an admin with admin chat access) manages the share.
    refused(&app.get(&access, Some(&fx.bob)).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(&grant(app, &fx.bob, &id, json!({"access_grants": []})).await, StatusCode::NOT_FOUND, NOT_FOUND);
    refused(
        &app.get("/api/v1/chats/shared/nope/access", Some(&fx.alice)).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    );
    refused(&app.get(&access, Some(&fx.pending)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    refused(&app.get(&access, None).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    refused(
        &grant(app, &fx.pending, &id, bob_only.clone()).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    assert_eq!(app.get(&access, Some(&fx.admin)).await.body.as_array().expect("list").len(), 1);

    // Bad bodies are 422 in FastAPI's shape.
    let missing = grant(app, &fx.alice, &id, json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["detail"][0]["type"], "missing");
    assert_eq!(missing.body["detail"][0]["loc"], json!(["body", "access_grants"]));
    let not_list = grant(app, &fx.alice, &id, json!({"access_grants": "x"})).await;
    assert_eq!(not_list.body["detail"][0]["type"], "list_type");
    let not_dict = grant(app, &fx.alice, &id, json!({"access_grants": [1]})).await;
    assert_eq!(not_dict.body["detail"][0]["loc"], json!(["body", "access_grants", 0]));
    assert_eq!(not_dict.body["detail"][0]["type"], "dict_type");
    let mode = grant(app, &fx.alice, &id, json!({"access_grants": [], "share_mode": "forever"})).await;
    assert_eq!(mode.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mode.body["detail"][0]["type"], "literal_error");
    assert_eq!(mode.body["detail"][0]["msg"], "Input should be 'continue'");
    let all = app.get(&access, Some(&fx.alice)).await.body;
    assert_eq!(all.as_array().expect("list").len(), 1, "{all}");
    assert_eq!(all[0]["principal_id"], fx.bob_id.as_str());

    // GraphQL: the same rule and text.
    let q = "query($c: String!) { sharedChatAccess(chatId: $c) { principalType principalId permission } }";
    let g = gql(app, Some(&fx.alice), q, json!({"c": id})).await;
    assert_eq!(
        g.body["data"]["sharedChatAccess"],
        json!([{"principalType": "user", "principalId": fx.bob_id, "permission": "read"}])
    );
    let m =
        "mutation($c: String!, $g: JSON!) { updateSharedChatAccess(chatId: $c, accessGrants: $g) { id } }";
    set_permissions(app, &fx.admin, &[("sharing", "public_chats", false)]).await;
    let g = gql(app, Some(&fx.alice), m, json!({"c": id, "g": [to("user", "*")]})).await;
    assert_eq!(g.body["errors"][0]["message"], SHARING_NOT_ALLOWED, "{}", g.text);
    assert_eq!(g.body["errors"][0]["extensions"]["code"], "SHARING_NOT_ALLOWED");
    let g = gql(app, Some(&fx.bob), q, json!({"c": id})).await;
    assert_eq!(g.body["errors"][0]["message"], NOT_FOUND, "{}", g.text);
    // Deleting the chat deletes its grants.
    assert_eq!(app.delete(&format!("/api/v1/chats/{id}"), Some(&fx.alice)).await.status, StatusCode::OK);
    assert_eq!(app.scalar_count("select count(*) from access_grants where resource_id = $1", &id).await, 0);
}

async fn continue_mode_shares_the_live_chat_with_grant_holders(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), Some(json!({"{{CITY}}": "Paris"}))).await;
    let share_id = share(app, &fx.alice, &id).await;
    let path = format!("/api/v1/chats/share/{share_id}");
    let g = grant(
        app,
        &fx.alice,
        &id,
        json!({"access_grants": [to("user", &fx.bob_id)], "share_mode": "continue"}),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    // Alice writes on after sharing.
    let more = json!({"chat": {"history": {"currentId": "u2", "messages": {
        "u2": {"id": "u2", "parentId": "a2", "childrenIds": [], "role": "user", "content": "and back?"}}}}});
    assert_eq!(app.post(&format!("/api/v1/chats/{id}"), Some(&fx.alice), more).await.status, StatusCode::OK);

    let live = app.get(&path, Some(&fx.bob)).await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text);
    assert_eq!(live.body["id"], id.as_str(), "the live chat, not the snapshot");
    assert_eq!(live.body["chat"]["share_mode"], "continue");
    assert!(live.body["chat"]["history"]["messages"].get("u2").is_some());
    assert_eq!(live.body["variables"], json!({}));
    assert_eq!(app.get(&path, Some(&fx.alice)).await.body["chat"]["share_mode"], "continue");
    // An admin without a grant reads the snapshot.
    let admin = app.get(&path, Some(&fx.admin)).await.body;
    assert_eq!(admin["id"], share_id.as_str());
    assert!(admin["chat"]["history"]["messages"].get("u2").is_none());
    // Bob may open the chat itself, as a reader; Carol may not.
    let chat = read(app, &fx.bob, &id).await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    assert_eq!(chat.body["variables"], json!({}));
    assert!(chat.body["chat"].get("params").is_none());
    refused(&read(app, &fx.carol, &id).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    refused(&app.get(&path, Some(&fx.carol)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    let g = gql(app, Some(&fx.bob), "query($id: String!) { chat(id: $id) { id title } }", json!({"id": id}))
        .await;
    assert_eq!(g.body["data"]["chat"]["title"], "Trip", "{}", g.text);
    // His clone of the share is of the live chat.
    let c = app.post(&format!("/api/v1/chats/{share_id}/clone/shared"), Some(&fx.bob), json!({})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert!(c.body["chat"]["history"]["messages"].get("u2").is_some());

    // Leaving `continue` mode snapshots the chat as it is now.
    let g =
        grant(app, &fx.alice, &id, json!({"access_grants": [to("user", &fx.bob_id)], "share_mode": null}))
            .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let snap = app.get(&path, Some(&fx.bob)).await.body;
    assert_eq!(snap["id"], share_id.as_str());
    assert_eq!(snap["chat"]["share_mode"], Value::Null);
    assert!(snap["chat"]["history"]["messages"].get("u2").is_some(), "a fresh snapshot");
    refused(&read(app, &fx.bob, &id).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    // Re-sharing keeps the mode unless the body names one.
    let m = app
        .post(&format!("/api/v1/chats/{id}/share"), Some(&fx.alice), json!({"share_mode": "continue"}))
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(share(app, &fx.alice, &id).await, share_id);
    assert_eq!(app.get(&path, Some(&fx.bob)).await.body["chat"]["share_mode"], "continue");
    let bad = app.post(&format!("/api/v1/chats/{id}/share"), Some(&fx.alice), json!({"share_mode": 1})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
}

// ---- the admin's chat settings ----

fn default_config() -> Value {
    json!({
        "CONTEXT_COMPACTION_MODEL": "", "ENABLE_CONTEXT_COMPACTION": false,
        "CONTEXT_COMPACTION_TOKEN_THRESHOLD": 80000, "CONTEXT_COMPACTION_TOKEN_CAP": 80000,
        "CONTEXT_COMPACTION_RETENTION_PERCENTAGE": 40, "CONTEXT_COMPACTION_PROMPT_TEMPLATE": "",
        "ENABLE_TOOL_PERMISSIONS": false, "ENABLE_TOOL_SEARCH": false, "TOOL_SEARCH_DEFER_THRESHOLD": 400,
        "TOOL_SEARCH_ALWAYS_LOADED": [], "TOOL_SEARCH_DEFER_BUILTIN_TOOLS": true
    })
}

async fn chat_config_is_admins_only_and_read_by_every_instance(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let other = app.separate_instance(&[]).await;
    let got = app.get("/api/v1/chats/config", Some(&fx.admin)).await;
    assert_eq!((got.status, got.body.clone()), (StatusCode::OK, default_config()), "{}", got.text);
    let keys: Vec<&String> = got.body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        default_config().as_object().expect("object").keys().collect::<Vec<_>>(),
        "the form's order"
    );
    assert_eq!(other.get("/api/v1/chats/config", Some(&fx.admin)).await.body, default_config());

    let form = json!({"ENABLE_CONTEXT_COMPACTION": true, "CONTEXT_COMPACTION_PROMPT_TEMPLATE": "Sum up",
        "CONTEXT_COMPACTION_TOKEN_THRESHOLD": 5000, "CONTEXT_COMPACTION_RETENTION_PERCENTAGE": 5,
        "TOOL_SEARCH_ALWAYS_LOADED": [" web ", ""], "ENABLE_TOOL_SEARCH": "yes"});
    let saved = app.post("/api/v1/chats/config", Some(&fx.admin), form).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let mut want = default_config();
    for (k, v) in [
        ("ENABLE_CONTEXT_COMPACTION", json!(true)),
        ("CONTEXT_COMPACTION_PROMPT_TEMPLATE", json!("Sum up")),
        ("CONTEXT_COMPACTION_TOKEN_THRESHOLD", json!(5000)),
        ("CONTEXT_COMPACTION_TOKEN_CAP", json!(5000)),
        ("CONTEXT_COMPACTION_RETENTION_PERCENTAGE", json!(10)),
        ("TOOL_SEARCH_ALWAYS_LOADED", json!(["web"])),
        ("ENABLE_TOOL_SEARCH", json!(true)),
    ] {
        want[k] = v;
    }
    assert_eq!(saved.body, want);
    assert_eq!(app.get("/api/v1/chats/config", Some(&fx.admin)).await.body, want);
    assert_eq!(
        app.scalar_config("chat.context_compaction.retention_percentage").await.as_deref(),
        Some("10")
    );
    // The other instance reads it once its short configuration cache expires.
    let mut seen = Value::Null;
    for _ in 0..40 {
        seen = other.get("/api/v1/chats/config", Some(&fx.admin)).await.body;
        if seen == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, want, "every instance applies the saved settings");

    // Only admins.
    for token in [Some(fx.alice.as_str()), Some(fx.pending.as_str())] {
        refused(&app.get("/api/v1/chats/config", token).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
        refused(
            &app.post("/api/v1/chats/config", token, want.clone()).await,
            StatusCode::UNAUTHORIZED,
            ACCESS_PROHIBITED,
        );
    }
    refused(&app.get("/api/v1/chats/config", None).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    let g = gql(
        app,
        Some(&fx.admin),
        "{ chatConfig { enableContextCompaction contextCompactionTokenCap toolSearchAlwaysLoaded } }",
        json!({}),
    )
    .await;
    assert_eq!(
        g.body["data"]["chatConfig"],
        json!({"enableContextCompaction": true, "contextCompactionTokenCap": 5000, "toolSearchAlwaysLoaded": ["web"]}),
        "{}",
        g.text
    );
    let g = gql(app, Some(&fx.alice), "{ chatConfig { enableContextCompaction } }", json!({})).await;
    assert_eq!(g.body["errors"][0]["extensions"]["code"], "ACCESS_PROHIBITED", "{}", g.text);
    let m = "mutation($c: JSON!) { updateChatConfig(config: $c) { enableContextCompaction contextCompactionTokenThreshold } }";
    let g = gql(app, Some(&fx.admin), m, json!({"c": default_config()})).await;
    assert_eq!(
        g.body["data"]["updateChatConfig"],
        json!({"enableContextCompaction": false, "contextCompactionTokenThreshold": 80000}),
        "{}",
        g.text
    );
    assert_eq!(app.get("/api/v1/chats/config", Some(&fx.admin)).await.body, default_config());
}

async fn chat_config_bad_bodies_are_422_and_change_nothing(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let post = |body: Value| app.post("/api/v1/chats/config", Some(&fx.admin), body);
    let empty = post(json!({})).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kinds: Vec<(Value, Value)> = empty.body["detail"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| (e["type"].clone(), e["loc"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("missing"), json!(["body", "ENABLE_CONTEXT_COMPACTION"])),
            (json!("missing"), json!(["body", "CONTEXT_COMPACTION_PROMPT_TEMPLATE"]))
        ]
    );
    let base = json!({"ENABLE_CONTEXT_COMPACTION": true, "CONTEXT_COMPACTION_PROMPT_TEMPLATE": "p"});
    for (field, value, kind) in [
        ("ENABLE_CONTEXT_COMPACTION", json!("maybe"), "bool_parsing"),
        ("ENABLE_TOOL_SEARCH", json!([]), "bool_type"),
        ("CONTEXT_COMPACTION_PROMPT_TEMPLATE", json!(5), "string_type"),
        ("CONTEXT_COMPACTION_MODEL", json!(5), "string_type"),
        ("CONTEXT_COMPACTION_TOKEN_THRESHOLD", json!("lots"), "int_parsing"),
        ("CONTEXT_COMPACTION_TOKEN_CAP", json!(1e20), "int_type"),
        ("CONTEXT_COMPACTION_RETENTION_PERCENTAGE", json!(1.5), "int_type"),
        ("TOOL_SEARCH_DEFER_THRESHOLD", Value::Null, "int_type"),
        ("TOOL_SEARCH_ALWAYS_LOADED", json!("web"), "list_type"),
        ("TOOL_SEARCH_ALWAYS_LOADED", json!([1]), "string_type"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let a = post(body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", a.text);
        assert_eq!(a.body["detail"][0]["type"], kind, "{field}: {}", a.text);
        assert_eq!(a.body["detail"][0]["loc"][1], field, "{}", a.text);
    }
    let not_object = post(json!([1])).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    let none = app.send("POST", "/api/v1/chats/config", Some(&fx.admin), None).await;
    assert_eq!(none.body["detail"][0]["type"], "missing");
    assert_eq!(app.get("/api/v1/chats/config", Some(&fx.admin)).await.body, default_config());
    assert_eq!(app.scalar_config("chat.context_compaction.enable").await, None, "nothing was written");
    let g = gql(
        app,
        Some(&fx.admin),
        "mutation($c: JSON!) { updateChatConfig(config: $c) { enableContextCompaction } }",
        json!({"c": {}}),
    )
    .await;
    assert_eq!(g.body["errors"][0]["extensions"]["code"], "VALIDATION_ERROR", "{}", g.text);
}

// ---- stats ----

/// Imports chats with set times (the stats order by `updated_at`); their ids in order.
async fn import(app: &TestApp, token: &str, chats: Vec<(Value, i64)>) -> Vec<String> {
    let items: Vec<Value> = chats
        .into_iter()
        .map(|(chat, at)| json!({"chat": chat, "created_at": at, "updated_at": at}))
        .collect();
    let a = app.post("/api/v1/chats/import", Some(token), json!({"chats": items})).await;
    assert_eq!(a.status, StatusCode::OK, "import: {}", a.text);
    ids(&a.body)
}

fn one_message() -> Value {
    json!({"title": "One", "history": {"currentId": "u", "messages": {
        "u": {"id": "u", "parentId": null, "childrenIds": [], "role": "user", "content": "hello", "timestamp": 300}}}})
}

async fn usage_stats_describe_each_chat_with_messages(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let chats = import(
        app,
        &fx.alice,
        vec![(trip(&fx.alice_id), 1000), (json!({"title": "Empty"}), 2000), (one_message(), 3000)],
    )
    .await;
    let (trip_id, one) = (chats[0].clone(), chats[2].clone());
    assert_eq!(
        app.post(&format!("/api/v1/chats/{trip_id}/tags"), Some(&fx.alice), json!({"name": "Travel"}))
            .await
            .status,
        StatusCode::OK
    );

    let a = app.get("/api/v1/chats/stats/usage", Some(&fx.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["total"], 3);
    assert_eq!(
        ids(&a.body["items"]),
        [one.clone(), trip_id.clone()],
        "newest first, chats without messages left out"
    );
    let t = &a.body["items"][1];
    let updated_at = t["updated_at"].clone();
    assert_eq!(
        *t,
        json!({
            "id": trip_id, "models": {"m2": 1}, "message_count": 2, "history_models": {"m1": 1, "m2": 1},
            "history_message_count": 3, "history_user_message_count": 1, "history_assistant_message_count": 2,
            "average_response_time": 5.0, "average_user_message_content_length": 11.0,
            "average_assistant_message_content_length": 7.5, "tags": ["travel"], "last_message_at": 107,
            "updated_at": updated_at, "created_at": 1000
        })
    );
    assert_eq!(a.body["items"][0]["average_response_time"], 0.0);
    assert_eq!(a.body["items"][0]["models"], json!({}));

    let p = app.get("/api/v1/chats/stats/usage?items_per_page=1&page=3", Some(&fx.alice)).await.body;
    assert_eq!((ids(&p["items"]), p["total"].clone()), (vec![trip_id.clone()], json!(3)));
    let p = app.get("/api/v1/chats/stats/usage?items_per_page=1&page=2", Some(&fx.alice)).await.body;
    assert_eq!(p["items"], json!([]));
    let p = app.get("/api/v1/chats/stats/usage?items_per_page=0", Some(&fx.alice)).await.body;
    assert_eq!((p["items"].clone(), p["total"].clone()), (json!([]), json!(3)));
    let bad = app.get("/api/v1/chats/stats/usage?page=abc", Some(&fx.alice)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["query", "page"]));
    assert_eq!(bad.body["detail"][0]["type"], "int_parsing");
    let huge =
        app.get("/api/v1/chats/stats/usage?items_per_page=99999999999999999999", Some(&fx.alice)).await;
    assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(
        &app.get("/api/v1/chats/stats/usage?items_per_page=-1", Some(&fx.alice)).await,
        StatusCode::BAD_REQUEST,
        DEFAULT,
    );
    let bob = app.get("/api/v1/chats/stats/usage", Some(&fx.bob)).await.body;
    assert_eq!(bob, json!({"items": [], "total": 0}));
    refused(
        &app.get("/api/v1/chats/stats/usage", Some(&fx.pending)).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(&app.get("/api/v1/chats/stats/usage", None).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);

    let q = "{ chatUsageStats(itemsPerPage: 10) { total items { id messageCount averageResponseTime models tags lastMessageAt } } }";
    let g = gql(app, Some(&fx.alice), q, json!({})).await;
    let page = &g.body["data"]["chatUsageStats"];
    assert_eq!(page["total"], 3, "{}", g.text);
    assert_eq!(
        page["items"][1],
        json!({"id": trip_id, "messageCount": 2, "averageResponseTime": 5.0, "models": {"m2": 1}, "tags": ["travel"], "lastMessageAt": 107})
    );
    let g = gql(app, Some(&fx.alice), "{ chatUsageStats(itemsPerPage: 5000) { total } }", json!({})).await;
    assert!(!g.body["errors"].is_null(), "GraphQL pages are bounded: {}", g.text);
}

async fn stats_export_pages_streams_and_exports_one_chat(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let chats = import(
        app,
        &fx.alice,
        vec![(trip(&fx.alice_id), 1000), (json!({"title": "Empty"}), 2000), (one_message(), 3000)],
    )
    .await;
    let a = app.get("/api/v1/chats/stats/export", Some(&fx.alice)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["type"], "chats");
    assert_eq!((a.body["total"].clone(), a.body["page"].clone()), (json!(3), json!(1)));
    assert_eq!(ids(&a.body["items"]), chats, "oldest update first");
    let t = &a.body["items"][0];
    assert_eq!(t["user_id"], fx.alice_id.as_str());
    assert_eq!(
        (t["created_at"].clone(), t["updated_at"].clone(), t["tags"].clone()),
        (json!(1000), json!(1000), json!([]))
    );
    assert_eq!(
        t["stats"],
        json!({"average_response_time": 5.0, "average_user_message_content_length": 11.0,
               "average_assistant_message_content_length": 7.5, "models": {"m2": 1}, "message_count": 2,
               "history_models": {"m1": 1, "m2": 1}, "history_message_count": 3, "history_user_message_count": 1,
               "history_assistant_message_count": 2})
    );
    assert_eq!(t["chat"]["history"]["currentId"], "a2");
    assert_eq!(
        t["chat"]["history"]["messages"]["u1"],
        json!({"id": "u1", "role": "user", "model": null, "content_length": 11, "token_count": null,
               "timestamp": 100, "rating": null, "tags": null})
    );
    assert!(!a.text.contains("plan a trip"), "the export has no message text");
    let empty = &a.body["items"][1];
    assert_eq!(empty["chat"], json!({"history": {"messages": {}, "currentId": null}}));
    assert_eq!(empty["stats"]["message_count"], 0);

    let after = app.get("/api/v1/chats/stats/export?updated_at=1500", Some(&fx.alice)).await.body;
    assert_eq!((ids(&after["items"]), after["total"].clone()), (chats[1..].to_vec(), json!(2)));
    let page2 = app.get("/api/v1/chats/stats/export?page=2", Some(&fx.alice)).await.body;
    assert_eq!(
        (page2["items"].clone(), page2["page"].clone(), page2["total"].clone()),
        (json!([]), json!(2), json!(3))
    );
    let bad = app.get("/api/v1/chats/stats/export?stream=perhaps", Some(&fx.alice)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let s = app.get("/api/v1/chats/stats/export?stream=true&updated_at=1500", Some(&fx.alice)).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.headers["content-type"], "application/x-ndjson");
    assert_eq!(
        s.headers["content-disposition"].to_str().expect("header"),
        format!("attachment; filename=chat-stats-export-{}.jsonl", fx.alice_id)
    );
    let lines: Vec<Value> = s.text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(
        lines.iter().map(|l| l["id"].as_str().expect("id").to_string()).collect::<Vec<_>>(),
        chats[1..]
    );
    let all = app.get("/api/v1/chats/stats/export?stream=true", Some(&fx.alice)).await;
    assert_eq!(all.text.lines().count(), 3);

    let one = app.get(&format!("/api/v1/chats/stats/export/{}", chats[0]), Some(&fx.alice)).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body, a.body["items"][0]);
    assert_eq!(
        app.get(&format!("/api/v1/chats/stats/export/{}", chats[0]), Some(&fx.admin)).await.status,
        StatusCode::OK
    );
    refused(
        &app.get(&format!("/api/v1/chats/stats/export/{}", chats[0]), Some(&fx.bob)).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(
        &app.get("/api/v1/chats/stats/export/nope", Some(&fx.alice)).await,
        StatusCode::NOT_FOUND,
        NOT_FOUND,
    );
    refused(
        &app.get("/api/v1/chats/stats/export", Some(&fx.pending)).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    let broken =
        import(app, &fx.alice, vec![(json!({"title": "Broken", "history": {"currentId": 5}}), 4000)]).await;
    let b2 = app.get(&format!("/api/v1/chats/stats/export/{}", broken[0]), Some(&fx.alice)).await;
    refused(&b2, StatusCode::BAD_REQUEST, "Failed to process chat stats");
    let listed = app.get("/api/v1/chats/stats/export", Some(&fx.alice)).await.body;
    assert_eq!((listed["items"].as_array().expect("items").len(), listed["total"].clone()), (3, json!(4)));

    // Without community sharing only admins export.
    app.set_admin_config(&fx.admin, json!({"ENABLE_COMMUNITY_SHARING": false})).await;
    for path in [
        "/api/v1/chats/stats/export".to_string(),
        "/api/v1/chats/stats/export?stream=true".into(),
        format!("/api/v1/chats/stats/export/{}", chats[0]),
    ] {
        refused(&app.get(&path, Some(&fx.alice)).await, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    }
    assert_eq!(app.get("/api/v1/chats/stats/export", Some(&fx.admin)).await.status, StatusCode::OK);
}

// ---- message events ----

async fn message_events_store_what_they_carry(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let chats =
        import(app, &fx.alice, vec![(trip(&fx.alice_id), 1000), (json!({"title": "Later"}), 2000)]).await;
    let id = chats[0].clone();
    let event = |m: &str, body: Value, token: Option<String>| {
        let path = format!("/api/v1/chats/{id}/messages/{m}/event");
        async move { app.post(&path, token.as_deref(), body).await }
    };
    let alice = Some(fx.alice.clone());
    let doc = |a: Answer| a.body["chat"]["history"]["messages"].clone();

    let s = event(
        "a2",
        json!({"type": "status", "data": {"description": "Searching", "done": false}}),
        alice.clone(),
    )
    .await;
    assert_eq!((s.status, s.body.clone()), (StatusCode::OK, json!(true)), "{}", s.text);
    let r = read(app, &fx.alice, &id).await;
    assert_eq!(r.body["updated_at"], 1000, "a status does not move the chat");
    assert_eq!(doc(r)["a2"]["statusHistory"], json!([{"description": "Searching", "done": false}]));

    assert_eq!(
        event("a2", json!({"type": "message", "data": {"content": ", day 1"}}), alice.clone()).await.body,
        json!(true)
    );
    assert_eq!(
        event("a2", json!({"type": "files", "data": {"files": [{"id": "f1"}]}}), alice.clone()).await.body,
        json!(true)
    );
    assert_eq!(
        event("a2", json!({"type": "files", "data": {"files": [{"id": "f2"}]}}), alice.clone()).await.body,
        json!(true)
    );
    assert_eq!(
        event("a2", json!({"type": "citation", "data": {"source": {"name": "guide"}}}), alice.clone())
            .await
            .body,
        json!(true)
    );
    assert_eq!(
        event("a2", json!({"type": "embeds", "data": {"embeds": ["e1"]}}), alice.clone()).await.body,
        json!(true)
    );
    let r = read(app, &fx.alice, &id).await;
    assert_ne!(r.body["updated_at"], 1000, "new content moves the chat");
    let m = doc(r);
    assert_eq!(m["a2"]["content"], "final plan, day 1");
    assert_eq!(m["a2"]["files"], json!([{"id": "f2"}, {"id": "f1"}]));
    assert_eq!(m["a2"]["sources"], json!([{"source": {"name": "guide"}}]));
    assert_eq!(m["a2"]["embeds"], json!(["e1"]));
    // The edit shows in search, the list and the sidebar (it is now the newest chat).
    let found = app.get("/api/v1/chats/search?text=day%201", Some(&fx.alice)).await.body;
    assert_eq!(ids(&found), std::slice::from_ref(&id));
    assert_eq!(ids(&app.get("/api/v1/chats/", Some(&fx.alice)).await.body)[0], id);
    assert_eq!(sidebar(app, &fx.alice, false).await[0].0, id);

    // `replace` sets the content; on an unknown message it makes it, current.
    assert_eq!(
        event("a1", json!({"type": "replace", "data": {"content": "rewritten"}}), alice.clone()).await.body,
        json!(true)
    );
    assert_eq!(
        event("a9", json!({"type": "replace", "data": {"content": "new"}}), alice.clone()).await.body,
        json!(true)
    );
    let r = read(app, &fx.alice, &id).await;
    assert_eq!(r.body["current_message_id"], "a9");
    let m = doc(r);
    assert_eq!(m["a1"]["content"], "rewritten");
    assert_eq!((m["a9"]["role"].clone(), m["a9"]["content"].clone()), (json!("assistant"), json!("new")));

    // Events that store nothing, and one that does not fit.
    let before = read(app, &fx.alice, &id).await.body["chat"].clone();
    assert_eq!(
        event("a2", json!({"type": "chat:active", "data": {"active": true}}), alice.clone()).await.body,
        json!(true)
    );
    assert_eq!(event("zz", json!({"type": "status", "data": {}}), alice.clone()).await.body, json!(true));
    assert_eq!(
        event("a2", json!({"type": "message", "data": {"content": 5}}), alice.clone()).await.body,
        json!(false)
    );
    assert_eq!(read(app, &fx.alice, &id).await.body["chat"], before);

    // Who may send: the owner and admins (admin chat access).
    assert_eq!(
        event("a2", json!({"type": "status", "data": {}}), Some(fx.admin.clone())).await.body,
        json!(true)
    );
    refused(
        &event("a2", json!({"type": "status", "data": {}}), Some(fx.bob.clone())).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(
        &event("a2", json!({"type": "status", "data": {}}), Some(fx.pending.clone())).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(
        &event("a2", json!({"type": "status", "data": {}}), None).await,
        StatusCode::UNAUTHORIZED,
        NOT_AUTHENTICATED,
    );
    let unknown = app
        .post("/api/v1/chats/nope/messages/m/event", Some(&fx.alice), json!({"type": "status", "data": {}}))
        .await;
    refused(&unknown, StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED);
    let bad = event("a2", json!({"type": 1, "data": []}), alice.clone()).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kinds: Vec<&str> =
        bad.body["detail"].as_array().expect("list").iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["string_type", "dict_type"]);
    let missing = event("a2", json!({}), alice).await;
    assert_eq!(missing.body["detail"].as_array().expect("list").len(), 2);
}

// ---- compaction ----

async fn compaction_answers_what_needs_no_model_and_refuses_the_rest(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), None).await;
    let path = format!("/api/v1/chats/{id}/compact");
    let off = app.post(&path, Some(&fx.alice), json!({})).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(
        off.body,
        json!({"ok": true, "compacted": false, "reason": "disabled", "context_usage": null})
    );
    let no_model = create(
        app,
        &fx.alice,
        json!({"title": "Plain", "history": {"currentId": "u", "messages": {
        "u": {"id": "u", "parentId": null, "childrenIds": [], "role": "user", "content": "hi"}}}}),
        None,
    )
    .await;
    let n = app.post(&format!("/api/v1/chats/{no_model}/compact"), Some(&fx.alice), json!({})).await;
    refused(&n, StatusCode::BAD_REQUEST, "No model found for context compaction.");
    refused(&app.post(&path, Some(&fx.bob), json!({})).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    refused(&app.post(&path, Some(&fx.admin), json!({})).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    refused(
        &app.post("/api/v1/chats/nope/compact", Some(&fx.alice), json!({})).await,
        StatusCode::UNAUTHORIZED,
        NOT_FOUND,
    );
    refused(
        &app.post(&path, Some(&fx.pending), json!({})).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    refused(&app.post(&path, None, json!({})).await, StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    let bad = app.post(&path, Some(&fx.alice), json!({"model": 5})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let on = app
        .post(
            "/api/v1/chats/config",
            Some(&fx.admin),
            json!({"ENABLE_CONTEXT_COMPACTION": true, "CONTEXT_COMPACTION_PROMPT_TEMPLATE": ""}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    let short =
        app.post(&format!("/api/v1/chats/{no_model}/compact"), Some(&fx.alice), json!({"model": "m1"})).await;
    assert_eq!(short.status, StatusCode::OK, "{}", short.text);
    assert_eq!(
        short.body,
        json!({"ok": true, "compacted": false, "reason": "too_short", "context_usage":
            {"tokens": 5, "estimated_tokens": 5, "threshold": 80000, "percent": 0, "source": "estimated"}})
    );
    let blank = create(app, &fx.alice, json!({"title": "Blank", "models": ["m1"]}), None).await;
    let e = app.send("POST", &format!("/api/v1/chats/{blank}/compact"), Some(&fx.alice), None).await;
    assert_eq!(
        e.body,
        json!({"ok": true, "compacted": false, "reason": "empty", "context_usage": null}),
        "{}",
        e.text
    );
    let before = read(app, &fx.alice, &id).await.body;
    let long = app.post(&path, Some(&fx.alice), json!({})).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.text);
    assert!(long.detail().starts_with("Compacting this chat needs a model"), "{}", long.text);
    assert_eq!(read(app, &fx.alice, &id).await.body, before, "nothing was written");
}

// ---- route order ----

async fn fixed_paths_win_over_chat_ids(b: Backend) {
    let Some(fx) = fixtures(b).await else { return };
    let app = &fx.app;
    let id = create(app, &fx.alice, trip(&fx.alice_id), None).await;
    // `/chats/config` is the settings, not a chat called `config`.
    refused(
        &app.get("/api/v1/chats/config", Some(&fx.alice)).await,
        StatusCode::UNAUTHORIZED,
        ACCESS_PROHIBITED,
    );
    let as_update = app.post("/api/v1/chats/config", Some(&fx.admin), json!({"chat": {"title": "x"}})).await;
    assert_eq!(as_update.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", as_update.text);
    assert_eq!(as_update.body["detail"][0]["loc"], json!(["body", "ENABLE_CONTEXT_COMPACTION"]));
    let usage = app.get("/api/v1/chats/stats/usage", Some(&fx.alice)).await;
    assert_eq!((usage.status, usage.body["total"].clone()), (StatusCode::OK, json!(1)));
    let export = app.get("/api/v1/chats/stats/export", Some(&fx.alice)).await;
    assert_eq!((export.status, export.body["type"].clone()), (StatusCode::OK, json!("chats")));
    refused(&app.get("/api/v1/chats/stats", Some(&fx.alice)).await, StatusCode::UNAUTHORIZED, NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/chats/shared/{id}/access"), Some(&fx.alice)).await.body, json!([]));
    assert_eq!(app.get("/api/v1/chats/shared", Some(&fx.alice)).await.body, json!([]));
    // The chat routes still answer beside them.
    assert_eq!(read(app, &fx.alice, &id).await.status, StatusCode::OK);
    assert_eq!(
        app.send("PATCH", &format!("/api/v1/chats/{id}/params"), Some(&fx.alice), Some(json!({})))
            .await
            .status,
        StatusCode::OK
    );
}
