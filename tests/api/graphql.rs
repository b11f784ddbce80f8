//! GraphQL: every query and mutation, the GraphQL twin of each REST rule (same denial, same
//! text, `extensions.code`), batching, dataloaders (constant statements), limits and the SDL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp, error_of, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";

backend_tests!(
    signup_signin_me_and_signout,
    signin_shares_the_rest_rate_limit,
    wrong_credentials_and_roles_fail_like_rest,
    chat_mutations_follow_the_rest_rules,
    other_users_chats_are_null_or_refused,
    chats_connection_pages_and_filters,
    chat_links_load_with_constant_statements,
    users_queries_and_admin_mutations,
    profile_password_and_api_keys,
    shared_chat_query,
    batches_answer_in_order,
    limits_and_transport_errors,
    introspection_can_be_switched_off,
);

async fn new_chat(app: &TestApp, token: &str, title: &str) -> String {
    let a = gql(
        app,
        Some(token),
        "mutation($c: JSON!) { createChat(chat: $c) { id } }",
        json!({"c": {"title": title}}),
    )
    .await;
    a.body["data"]["createChat"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createChat: {}", a.text))
        .to_string()
}

async fn signup_signin_me_and_signout(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let up = gql(
        &app,
        None,
        "mutation { signup(name: \"Ada\", email: \"Ada@Example.com\", password: \"Passw0rd!\") { token tokenType expiresAt user { id email role } } }",
        json!({}),
    )
    .await;
    assert_eq!(up.status, StatusCode::OK);
    let s = &up.body["data"]["signup"];
    assert_eq!(s["tokenType"], "Bearer");
    assert_eq!(s["user"]["email"], "ada@example.com");
    assert_eq!(s["user"]["role"], "admin");
    assert!(s["expiresAt"].is_i64());
    let id = s["user"]["id"].as_str().expect("id").to_string();
    assert_eq!(app.scalar_text("select role from users where id = $1", &id).await.as_deref(), Some("admin"));

    let sign = gql(
        &app,
        None,
        "mutation { signin(email: \"ada@example.com\", password: \"Passw0rd!\") { token user { id } } }",
        json!({}),
    )
    .await;
    let token = sign.body["data"]["signin"]["token"].as_str().expect("token").to_string();
    // The GraphQL token works for REST and the other way round.
    assert_eq!(app.get("/api/v1/auths/", Some(&token)).await.body["id"], id.as_str());
    let me = gql(
        &app,
        Some(&token),
        "{ me { id name email role profileImageUrl createdAt updatedAt lastActiveAt } }",
        json!({}),
    )
    .await;
    assert_eq!(me.body["data"]["me"]["id"], id.as_str());
    assert_eq!(me.body["data"]["me"]["profileImageUrl"], "/user.png");

    let out = gql(&app, Some(&token), "mutation { signout }", json!({})).await;
    assert_eq!(out.body["data"]["signout"], json!(true));
    let after = gql(&app, Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(error_of(&after), ("Invalid token".into(), "TOKEN_REVOKED".into()));
    let rest = app.get("/api/v1/auths/", Some(&token)).await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));

    // Sign-up is now off, with the REST text and code.
    let again = gql(
        &app,
        None,
        "mutation { signup(name: \"B\", email: \"b@example.com\", password: \"x\") { token } }",
        json!({}),
    )
    .await;
    assert_eq!(error_of(&again), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    assert_eq!(again.body["errors"][0]["extensions"]["status"], json!(403));
}

async fn signin_shares_the_rest_rate_limit(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    app.admin().await;
    for _ in 0..8 {
        assert_eq!(app.signin("admin@example.com", "wrong").await.status, StatusCode::BAD_REQUEST);
    }
    let q = "mutation { signin(email: \"ADMIN@example.com\", password: \"wrong\") { token } }";
    for _ in 0..7 {
        assert_eq!(error_of(&gql(&app, None, q, json!({})).await).1, "INVALID_CRED");
    }
    // 15 attempts across both interfaces: the 16th is refused on both.
    let limited = gql(&app, None, q, json!({})).await;
    assert_eq!(error_of(&limited), ("API rate limit exceeded".into(), "RATE_LIMIT_EXCEEDED".into()));
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn wrong_credentials_and_roles_fail_like_rest(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let (user, _) = app.user(&admin, "Uma", "uma@example.com", "user").await;

    let bad = gql(
        &app,
        None,
        "mutation { signin(email: \"admin@example.com\", password: \"nope\") { token } }",
        json!({}),
    )
    .await;
    assert_eq!(
        error_of(&bad),
        (
            "The email or password provided is incorrect. Please check for typos and try logging in again."
                .into(),
            "INVALID_CRED".into()
        )
    );
    // Pending users: refused on chats in both interfaces with the same text.
    let g = gql(&app, Some(&pending), "{ chats { totalCount } }", json!({})).await;
    assert_eq!(error_of(&g), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    let r = app.get("/api/v1/chats/", Some(&pending)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // …but they can read themselves.
    assert_eq!(
        gql(&app, Some(&pending), "{ me { role } }", json!({})).await.body["data"]["me"]["role"],
        "pending"
    );
    // Non-admins: the user list.
    let g = gql(&app, Some(&user), "{ users { totalCount } }", json!({})).await;
    assert_eq!(error_of(&g), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    assert_eq!(app.get("/api/v1/users/", Some(&user)).await.detail(), ACCESS_PROHIBITED);
    // Bad tokens.
    let g = gql(&app, Some("not-a-jwt"), "{ me { id } }", json!({})).await;
    assert_eq!(error_of(&g), ("401 Unauthorized".into(), "UNAUTHORIZED".into()));
    let g = gql(&app, None, "{ me { id } }", json!({})).await;
    assert_eq!(error_of(&g), ("Not authenticated".into(), "NOT_AUTHENTICATED".into()));
}

async fn chat_mutations_follow_the_rest_rules(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let id = new_chat(&app, &admin, "First").await;

    let upd = gql(
        &app,
        Some(&admin),
        "mutation($id: String!, $c: JSON!) { updateChat(id: $id, chat: $c) { title chat } }",
        json!({"id": id, "c": {"title": "Renamed", "models": ["m"]}}),
    )
    .await;
    assert_eq!(upd.body["data"]["updateChat"]["title"], "Renamed");
    assert_eq!(upd.body["data"]["updateChat"]["chat"], json!({"title": "Renamed", "models": ["m"]}));
    // The same merge through REST keeps the GraphQL keys.
    app.post(&format!("/api/v1/chats/{id}"), Some(&admin), json!({"chat": {"params": {"t": 1}}})).await;
    let read =
        gql(&app, Some(&admin), "query($id: String!) { chat(id: $id) { chat } }", json!({"id": id})).await;
    assert_eq!(
        read.body["data"]["chat"]["chat"],
        json!({"title": "Renamed", "models": ["m"], "params": {"t": 1}})
    );

    let pin =
        gql(&app, Some(&admin), "mutation($id: String!) { pinChat(id: $id) { pinned } }", json!({"id": id}))
            .await;
    assert_eq!(pin.body["data"]["pinChat"]["pinned"], json!(true));
    let arc = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { archiveChat(id: $id) { archived } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(arc.body["data"]["archiveChat"]["archived"], json!(true));
    assert_eq!(app.get("/api/v1/chats/archived/count", Some(&admin)).await.body, json!(1));

    let tags = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { addChatTag(id: $id, name: \"Work Stuff\") { id name } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(tags.body["data"]["addChatTag"], json!([{"id": "work_stuff", "name": "Work Stuff"}]));
    let none = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { addChatTag(id: $id, name: \"None\") { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(error_of(&none).0, "[ERROR: Tag name cannot be 'None']");
    let removed = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { removeChatTag(id: $id, name: \"work stuff\") { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(removed.body["data"]["removeChatTag"], json!([]));
    assert_eq!(app.scalar_count("select count(*) from tags where user_id = $1", &admin_id).await, 0);

    let share = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { shareChat(id: $id) { shareId } }",
        json!({"id": id}),
    )
    .await;
    let share_id = share.body["data"]["shareChat"]["shareId"].as_str().expect("share id").to_string();
    assert_ne!(share_id, id);
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", &id).await, 1);
    let unshare =
        gql(&app, Some(&admin), "mutation($id: String!) { unshareChat(id: $id) }", json!({"id": id})).await;
    assert_eq!(unshare.body["data"]["unshareChat"], json!(true));
    assert_eq!(app.scalar_count("select count(*) from shared_chats where chat_id = $1", &id).await, 0);

    let clone = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { cloneChat(id: $id) { id title chat } }",
        json!({"id": id}),
    )
    .await;
    let c = &clone.body["data"]["cloneChat"];
    assert_eq!(c["title"], "Clone of Renamed");
    assert_eq!(c["chat"]["originalChatId"], id.as_str());

    let del =
        gql(&app, Some(&admin), "mutation($id: String!) { deleteChat(id: $id) }", json!({"id": id})).await;
    assert_eq!(del.body["data"]["deleteChat"], json!(true));
    assert_eq!(app.scalar_count("select count(*) from chats where id = $1", &id).await, 0);
    let again =
        gql(&app, Some(&admin), "mutation($id: String!) { deleteChat(id: $id) }", json!({"id": id})).await;
    assert_eq!(error_of(&again), ("We could not find what you're looking for :/".into(), "NOT_FOUND".into()));

    // A non-object document is refused and writes nothing.
    let bad = gql(&app, Some(&admin), "mutation { createChat(chat: \"x\") { id } }", json!({})).await;
    assert_eq!(error_of(&bad).1, "VALIDATION_ERROR");
    assert_eq!(app.scalar_count("select count(*) from chats where user_id = $1", &admin_id).await, 1);
}

async fn other_users_chats_are_null_or_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = new_chat(&app, &alice, "Secret").await;
    let vars = json!({"id": id});

    let read =
        gql(&app, Some(&bob), "query($id: String!) { chat(id: $id) { title chat } }", vars.clone()).await;
    assert_eq!(read.body["data"]["chat"], Value::Null);
    assert!(!read.text.contains("Secret"));
    let cases = [
        (
            "mutation($id: String!) { updateChat(id: $id, chat: {title: \"x\"}) { id } }",
            ACCESS_PROHIBITED,
            "ACCESS_PROHIBITED",
        ),
        (
            "mutation($id: String!) { deleteChat(id: $id) }",
            "We could not find what you're looking for :/",
            "NOT_FOUND",
        ),
        ("mutation($id: String!) { pinChat(id: $id) { id } }", "Something went wrong :/", "DEFAULT"),
        ("mutation($id: String!) { archiveChat(id: $id) { id } }", "Something went wrong :/", "DEFAULT"),
        ("mutation($id: String!) { cloneChat(id: $id) { id } }", "Something went wrong :/", "DEFAULT"),
        (
            "mutation($id: String!) { addChatTag(id: $id, name: \"t\") { id } }",
            "Something went wrong :/",
            "DEFAULT",
        ),
        ("mutation($id: String!) { shareChat(id: $id) { id } }", ACCESS_PROHIBITED, "ACCESS_PROHIBITED"),
        ("mutation($id: String!) { unshareChat(id: $id) }", ACCESS_PROHIBITED, "ACCESS_PROHIBITED"),
    ];
    for (q, text, code) in cases {
        assert_eq!(
            error_of(&gql(&app, Some(&bob), q, vars.clone()).await),
            (text.to_string(), code.to_string()),
            "{q}"
        );
    }
    // Bob's `chats` of Alice (through `user`) is refused; his own list is empty.
    let mine = gql(&app, Some(&bob), "{ chats { totalCount } }", json!({})).await;
    assert_eq!(mine.body["data"]["chats"]["totalCount"], json!(0));
    let alice_chat = app.get(&format!("/api/v1/chats/{id}"), Some(&alice)).await;
    assert_eq!(alice_chat.body["title"], "Secret");
    assert_eq!(alice_chat.body["pinned"], json!(false));
    // Admins read any chat, as in REST.
    assert_eq!(
        gql(&app, Some(&admin), "query($id: String!) { chat(id: $id) { title } }", vars).await.body["data"]["chat"]
            ["title"],
        "Secret"
    );
}

async fn chats_connection_pages_and_filters(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(new_chat(&app, &admin, &format!("Chat {i} banana")).await);
    }
    // Make the order deterministic: chat i updated at 1000 + i.
    for (i, id) in ids.iter().enumerate() {
        let ts = (1000 + i).to_string();
        app.exec("update chats set updated_at = cast($1 as bigint) where id = $2", &[&ts, id]).await;
    }
    let page = |after: Option<String>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            gql(app, Some(&admin), "query($a: String) { chats(first: 2, after: $a) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }", json!({"a": after})).await
        }
    };
    let p1 = page(None).await;
    let c = &p1.body["data"]["chats"];
    assert_eq!(c["totalCount"], json!(5));
    assert_eq!(c["edges"][0]["node"]["id"], ids[4].as_str());
    assert_eq!(c["edges"][1]["node"]["id"], ids[3].as_str());
    assert_eq!(c["pageInfo"]["hasNextPage"], json!(true));
    let p2 = page(c["pageInfo"]["endCursor"].as_str().map(str::to_string)).await;
    let c2 = &p2.body["data"]["chats"];
    assert_eq!(c2["edges"][0]["node"]["id"], ids[2].as_str());
    let p3 = page(c2["pageInfo"]["endCursor"].as_str().map(str::to_string)).await;
    assert_eq!(p3.body["data"]["chats"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(p3.body["data"]["chats"]["pageInfo"]["hasNextPage"], json!(false));

    gql(&app, Some(&admin), "mutation($id: String!) { pinChat(id: $id) { id } }", json!({"id": ids[0]}))
        .await;
    gql(&app, Some(&admin), "mutation($id: String!) { archiveChat(id: $id) { id } }", json!({"id": ids[1]}))
        .await;
    gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { addChatTag(id: $id, name: \"Red\") { id } }",
        json!({"id": ids[2]}),
    )
    .await;
    let count = |filter: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let args = if filter.is_empty() { String::new() } else { format!("({filter})") };
            let q = format!("{{ chats{args} {{ totalCount edges {{ node {{ id }} }} }} }}");
            gql(app, Some(&admin), &q, json!({})).await.body["data"]["chats"].clone()
        }
    };
    assert_eq!(count("pinned: true").await["edges"], json!([{"node": {"id": ids[0]}}]));
    assert_eq!(count("archived: true").await["edges"], json!([{"node": {"id": ids[1]}}]));
    assert_eq!(count("tag: \"red\"").await["edges"], json!([{"node": {"id": ids[2]}}]));
    assert_eq!(count("search: \"chat 3\"").await["edges"], json!([{"node": {"id": ids[3]}}]));
    assert_eq!(count("search: \"banana tag:red\"").await["totalCount"], json!(1));
    assert_eq!(count("").await["totalCount"], json!(4), "archived chats are left out by default");
    let bad = gql(&app, Some(&admin), "{ chats(first: 100000) { totalCount } }", json!({})).await;
    assert_eq!(error_of(&bad).1, "VALIDATION_ERROR");
    let bad = gql(&app, Some(&admin), "{ chats(after: \"garbage\") { totalCount } }", json!({})).await;
    assert_eq!(error_of(&bad), ("Invalid cursor.".into(), "VALIDATION_ERROR".into()));
}

/// The sidebar query for `n` chats, each with its owner, tags and document.
async fn sidebar_statements(b: Backend, n: usize) -> Option<u64> {
    let app = TestApp::spawn_with(b, crate::helpers::STEADY_CACHES).await?;
    let (admin, _) = app.admin().await;
    for i in 0..n {
        let id = new_chat(&app, &admin, &format!("Chat {i}")).await;
        if i % 2 == 0 {
            gql(
                &app,
                Some(&admin),
                "mutation($id: String!) { addChatTag(id: $id, name: \"even\") { id } }",
                json!({"id": id}),
            )
            .await;
        }
    }
    let query = "{ chats(first: 60) { totalCount edges { node { id title updatedAt user { name } tags { name } chat } } } }";
    let before = app.db.statement_count();
    let a = gql(&app, Some(&admin), query, json!({})).await;
    let used = app.db.statement_count() - before;
    let edges = a.body["data"]["chats"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), n);
    assert!(edges.iter().all(|e| e["node"]["user"]["name"] == "Admin"));
    assert_eq!(
        edges.iter().filter(|e| e["node"]["tags"] == json!([{"name": "even"}])).count(),
        n.div_ceil(2)
    );
    Some(used)
}

async fn chat_links_load_with_constant_statements(b: Backend) {
    let Some(five) = sidebar_statements(b, 5).await else { return };
    let sixty = sidebar_statements(b, 60).await.expect("second run");
    assert_eq!(five, sixty, "5 chats took {five} statements, 60 took {sixty}");
    assert!(five <= 8, "{five} statements");
}

async fn users_queries_and_admin_mutations(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (pat, pat_id) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let (_, uma_id) = app.user(&admin, "Uma", "uma@example.com", "user").await;

    let all = gql(
        &app,
        Some(&admin),
        "{ users(first: 2) { totalCount edges { node { email } } pageInfo { hasNextPage } } }",
        json!({}),
    )
    .await;
    assert_eq!(all.body["data"]["users"]["totalCount"], json!(3));
    assert_eq!(all.body["data"]["users"]["pageInfo"]["hasNextPage"], json!(true));
    let q = gql(&app, Some(&admin), "{ users(query: \"UMA\") { edges { node { id } } } }", json!({})).await;
    assert_eq!(q.body["data"]["users"]["edges"], json!([{"node": {"id": uma_id}}]));
    let one =
        gql(&app, Some(&admin), "query($id: String!) { user(id: $id) { name role } }", json!({"id": pat_id}))
            .await;
    assert_eq!(one.body["data"]["user"], json!({"name": "Pat", "role": "pending"}));
    let missing = gql(&app, Some(&admin), "{ user(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(missing.body["data"]["user"], Value::Null);

    let promote = gql(&app, Some(&admin), "mutation($id: String!) { updateUser(id: $id, input: {role: \"user\", name: \"Patricia\"}) { role name } }", json!({"id": pat_id})).await;
    assert_eq!(promote.body["data"]["updateUser"], json!({"role": "user", "name": "Patricia"}));
    assert_eq!(app.get("/api/v1/chats/", Some(&pat)).await.status, StatusCode::OK, "the promotion is live");
    let bad_role = gql(
        &app,
        Some(&admin),
        "mutation($id: String!) { updateUser(id: $id, input: {role: \"root\"}) { role } }",
        json!({"id": pat_id}),
    )
    .await;
    assert_eq!(error_of(&bad_role).1, "VALIDATION_ERROR");
    let self_delete =
        gql(&app, Some(&admin), "mutation($id: String!) { deleteUser(id: $id) }", json!({"id": admin_id}))
            .await;
    assert_eq!(
        error_of(&self_delete),
        (
            "The requested action has been restricted as a security measure.".into(),
            "ACTION_PROHIBITED".into()
        )
    );
    let del =
        gql(&app, Some(&admin), "mutation($id: String!) { deleteUser(id: $id) }", json!({"id": uma_id}))
            .await;
    assert_eq!(del.body["data"]["deleteUser"], json!(true));
    assert_eq!(app.scalar_count("select count(*) from users where id = $1", &uma_id).await, 0);
    // A non-admin may read themself but not others, and may not update users.
    let own =
        gql(&app, Some(&pat), "query($id: String!) { user(id: $id) { name } }", json!({"id": pat_id})).await;
    assert_eq!(own.body["data"]["user"]["name"], "Patricia");
    let other =
        gql(&app, Some(&pat), "query($id: String!) { user(id: $id) { name } }", json!({"id": admin_id}))
            .await;
    assert_eq!(error_of(&other).1, "ACCESS_PROHIBITED");
    let denied = gql(
        &app,
        Some(&pat),
        "mutation($id: String!) { updateUser(id: $id, input: {name: \"x\"}) { name } }",
        json!({"id": admin_id}),
    )
    .await;
    assert_eq!(error_of(&denied), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    // User.chats: own chats through the user object.
    new_chat(&app, &pat, "Pat's").await;
    let via_user =
        gql(&app, Some(&pat), "{ me { chats { totalCount edges { node { title } } } } }", json!({})).await;
    assert_eq!(via_user.body["data"]["me"]["chats"]["edges"], json!([{"node": {"title": "Pat's"}}]));
}

async fn profile_password_and_api_keys(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let p = gql(
        &app,
        Some(&admin),
        "mutation { updateProfile(name: \"Ada L.\", profileImageUrl: \"/user.png\", bio: \"hi\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(p.body["data"]["updateProfile"]["name"], "Ada L.");
    assert_eq!(
        app.scalar_text("select bio from users where id = $1", &admin_id).await.as_deref(),
        Some("hi")
    );
    let bad = gql(
        &app,
        Some(&admin),
        "mutation { updateProfile(name: \"x\", profileImageUrl: \"javascript:alert(1)\") { name } }",
        json!({}),
    )
    .await;
    assert_eq!(error_of(&bad).1, "VALIDATION_ERROR");

    let off = gql(&app, Some(&admin), "mutation { createApiKey }", json!({})).await;
    assert_eq!(
        error_of(&off),
        ("API key creation is not allowed in the environment.".into(), "API_KEY_CREATION_NOT_ALLOWED".into())
    );
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let key = gql(&app, Some(&admin), "mutation { createApiKey }", json!({})).await;
    let key = key.body["data"]["createApiKey"].as_str().expect("key").to_string();
    assert!(key.starts_with("sk-"));
    // The key authenticates GraphQL requests too.
    assert_eq!(
        gql(&app, Some(&key), "{ me { id } }", json!({})).await.body["data"]["me"]["id"],
        admin_id.as_str()
    );
    assert_eq!(
        gql(&app, Some(&admin), "mutation { deleteApiKey }", json!({})).await.body["data"]["deleteApiKey"],
        json!(true)
    );
    assert_eq!(app.scalar_count("select count(*) from api_keys where user_id = $1", &admin_id).await, 0);

    let wrong = gql(
        &app,
        Some(&admin),
        "mutation { updatePassword(password: \"wrong\", newPassword: \"N3w-pass!\") }",
        json!({}),
    )
    .await;
    assert_eq!(error_of(&wrong).1, "INCORRECT_PASSWORD");
    let ok = gql(
        &app,
        Some(&admin),
        "mutation { updatePassword(password: \"Passw0rd!\", newPassword: \"N3w-pass!\") }",
        json!({}),
    )
    .await;
    assert_eq!(ok.body["data"]["updatePassword"], json!(true));
    assert_eq!(error_of(&gql(&app, Some(&admin), "{ me { id } }", json!({})).await).1, "TOKEN_REVOKED");
    assert_eq!(app.signin("admin@example.com", "N3w-pass!").await.status, StatusCode::OK);
}

async fn shared_chat_query(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = new_chat(&app, &bob, "To share").await;
    let share =
        gql(&app, Some(&bob), "mutation($id: String!) { shareChat(id: $id) { shareId } }", json!({"id": id}))
            .await;
    let share_id = share.body["data"]["shareChat"]["shareId"].as_str().expect("share").to_string();
    let q = "query($s: String!) { sharedChat(shareId: $s) { id title shareId user { name } } }";
    let own = gql(&app, Some(&bob), q, json!({"s": share_id})).await;
    assert_eq!(
        own.body["data"]["sharedChat"],
        json!({"id": share_id, "title": "To share", "shareId": share_id, "user": {"name": "Bob"}})
    );
    let (carol, _) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    let other = gql(&app, Some(&carol), q, json!({"s": share_id})).await;
    assert_eq!(error_of(&other), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    let anon = gql(&app, None, q, json!({"s": share_id})).await;
    assert_eq!(error_of(&anon).1, "INVALID_TOKEN");
    let gone = gql(&app, Some(&bob), q, json!({"s": "missing"})).await;
    assert_eq!(gone.body["data"]["sharedChat"], Value::Null);
}

async fn batches_answer_in_order(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    new_chat(&app, &admin, "One").await;
    let batch = json!([
        {"query": "{ me { name } }"},
        {"query": "{ chats { totalCount } }"},
        {"query": "{ user(id: \"nope\") { id } }"},
        {"query": "mutation { signin(email: \"admin@example.com\", password: \"bad\") { token } }"},
    ]);
    let a = app.post("/graphql", Some(&admin), batch).await;
    assert_eq!(a.status, StatusCode::OK);
    let items = a.body.as_array().expect("array");
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["data"]["me"]["name"], "Admin");
    assert_eq!(items[1]["data"]["chats"]["totalCount"], json!(1));
    assert_eq!(items[2]["data"]["user"], Value::Null);
    assert_eq!(items[3]["errors"][0]["extensions"]["code"], "INVALID_CRED");
}

async fn limits_and_transport_errors(b: Backend) {
    let Some(app) = TestApp::spawn_with(
        b,
        &[("GRAPHQL_MAX_DEPTH", "4"), ("GRAPHQL_MAX_BATCH", "2"), ("GRAPHQL_MAX_QUERY_BYTES", "300")],
    )
    .await
    else {
        return;
    };
    let (admin, _) = app.admin().await;
    let deep =
        gql(&app, Some(&admin), "{ me { chats { edges { node { user { name } } } } } }", json!({})).await;
    assert_eq!(deep.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&deep),
        (
            "The query is nested 6 fields deep; the limit is 4 (GRAPHQL_MAX_DEPTH).".into(),
            "VALIDATION_ERROR".into()
        ),
        "{}",
        deep.text
    );
    let big = format!("{{ me {{ name }} }} # {}", "x".repeat(400));
    let a = gql(&app, Some(&admin), &big, json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(error_of(&a).0.contains("GRAPHQL_MAX_QUERY_BYTES"), "{}", a.text);
    let batch =
        json!([{"query": "{ me { name } }"}, {"query": "{ me { name } }"}, {"query": "{ me { name } }"}]);
    let a = app.post("/graphql", Some(&admin), batch).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(error_of(&a).0.contains("GRAPHQL_MAX_BATCH"));
    let a = app.raw("POST", "/graphql", &[("content-type", "application/json")], Some("{\"query\": ")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&a), ("The body is not valid JSON.".into(), "VALIDATION_ERROR".into()));
    let a = gql(&app, Some(&admin), "{ me { nope } }", json!({})).await;
    assert!(error_of(&a).0.contains("Unknown field"), "{}", a.text);
    // GET runs queries, never mutations.
    let get = app.get("/graphql?query=%7B%20me%20%7B%20name%20%7D%20%7D", Some(&admin)).await;
    assert_eq!(get.body["data"]["me"]["name"], "Admin");
    let m = app.get("/graphql?query=mutation%20%7B%20signout%20%7D", Some(&admin)).await;
    assert_eq!(m.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        app.get("/api/v1/auths/", Some(&admin)).await.status,
        StatusCode::OK,
        "the mutation did not run"
    );
}

async fn introspection_can_be_switched_off(b: Backend) {
    let Some(on) = TestApp::spawn(b).await else { return };
    let a = gql(&on, None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(a.body["data"]["__schema"]["queryType"]["name"], "Query");
    let off = TestApp::spawn_with(b, &[("GRAPHQL_INTROSPECTION", "false")]).await.expect("spawn");
    let a = gql(&off, None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(
        error_of(&a),
        (
            "Introspection is disabled on this server (GRAPHQL_INTROSPECTION=false).".into(),
            "VALIDATION_ERROR".into()
        )
    );
    assert!(a.body.get("data").is_none_or(Value::is_null), "{}", a.text);
    // Ordinary queries still run.
    assert_eq!(
        gql(&off, None, "{ me { id } }", json!({})).await.body["errors"][0]["extensions"]["code"],
        "NOT_AUTHENTICATED"
    );
}

#[test]
fn checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql");
    let file = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        file == duet::graphql::sdl(),
        "schema/schema.graphql is out of date: run `cargo run -- export-schema > schema/schema.graphql`"
    );
}
