//! `/api/v1/users`: the admin list (paging, filter, order), one user, admin updates (roles, email,
//! password reset, the primary-admin guard), deletion, and the default permission tree.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, PASSWORD, TestApp};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const ACTION_PROHIBITED: &str = "The requested action has been restricted as a security measure.";
const USER_NOT_FOUND: &str = "We could not find what you're looking for :/";
const EMAIL_TAKEN: &str = "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew.";
const INVALID_EMAIL_FORMAT: &str = "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com).";
const INVALID_CRED: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";

/// Every field of the reference's `UserModel`, in its order.
const USER_FIELDS: &[&str] = &[
    "id",
    "email",
    "username",
    "role",
    "name",
    "profile_image_url",
    "profile_banner_image_url",
    "bio",
    "gender",
    "date_of_birth",
    "timezone",
    "presence_state",
    "status_emoji",
    "status_message",
    "status_expires_at",
    "info",
    "settings",
    "oauth",
    "scim",
    "last_active_at",
    "updated_at",
    "created_at",
];

backend_tests!(
    list_answers_every_user_field_with_group_ids_and_no_password,
    list_pages_thirty_users_and_counts_the_total,
    page_below_one_is_the_first_page,
    non_numeric_page_is_422_in_fastapi_shape,
    query_filters_name_or_email_case_insensitively,
    order_by_and_direction_sort_the_list,
    list_is_admin_only,
    admin_reads_one_user_with_groups_and_activity,
    unknown_user_id_is_400_not_found,
    non_admin_reads_only_their_own_user,
    update_promotes_pending_user_who_can_then_use_verified_routes,
    update_lowercases_email_in_users_and_auths_for_sign_in,
    update_to_a_taken_email_is_400_email_taken,
    update_to_an_invalid_email_is_400_invalid_email_format,
    update_with_an_invalid_role_is_422_in_fastapi_shape,
    update_with_a_bad_profile_image_url_is_422,
    password_reset_ends_the_targets_sessions,
    primary_admin_cannot_be_changed_by_others_or_demoted,
    update_changes_only_the_given_fields,
    update_of_an_unknown_user_is_400_and_non_admins_get_401,
    delete_removes_user_credentials_and_api_key,
    deleting_self_or_the_primary_admin_is_403,
    delete_is_admin_only_and_unknown_id_is_true,
    default_permissions_match_the_reference_tree,
    posting_default_permissions_stores_the_whole_tree,
    invalid_permission_forms_are_422_and_store_nothing,
    stored_permissions_reach_later_sign_ins,
    default_permissions_are_admin_only,
);

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

/// `USER_FIELDS` plus `extra`, sorted.
fn user_keys_with(extra: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = USER_FIELDS.iter().chain(extra).map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// The `field` of every listed user, in order.
fn column(a: &Answer, field: &str) -> Vec<String> {
    a.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u[field].as_str().expect("text").to_string())
        .collect()
}

/// Inserts a bare `user` row created one second after the newest user (no credentials).
async fn insert_user(app: &TestApp, id: &str, email: &str, name: &str) {
    app.exec(
        "insert into users (id, email, role, name, last_active_at, updated_at, created_at) \
         select $1, $2, 'user', $3, m, m, m from (select max(created_at) + 1 as m from users) t",
        &[id, email, name],
    )
    .await;
}

/// Moves a user's creation time `secs` seconds later.
async fn later(app: &TestApp, id: &str, secs: u32) {
    let secs = secs.to_string();
    app.exec("update users set created_at = created_at + cast($2 as integer) where id = $1", &[id, &secs])
        .await;
}

/// The names of the admin list for query string `q`.
async fn names(app: &TestApp, admin: &str, q: &str) -> Vec<String> {
    let a = app.get(&format!("/api/v1/users/?{q}"), Some(admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
    column(&a, "name")
}

/// The reference's default permission tree (transcript §5, "User permissions (defaults)").
pub(crate) fn reference_tree() -> Value {
    json!({
        "workspace": {
            "models": false, "knowledge": false, "prompts": false, "tools": false, "skills": false,
            "models_import": false, "models_export": false, "models_hidden": false,
            "prompts_import": false, "prompts_export": false, "tools_import": false,
            "tools_export": false, "skills_import": false, "skills_export": false
        },
        "sharing": {
            "models": false, "public_models": false, "knowledge": false, "public_knowledge": false,
            "prompts": false, "public_prompts": false, "tools": false, "public_tools": false,
            "skills": false, "public_skills": false, "notes": false, "public_notes": false,
            "folders": false, "public_chats": false, "open_chats": false, "public_calendars": false
        },
        "access_grants": {"allow_users": true, "allow_groups": true},
        "chat": {
            "controls": true, "valves": true, "system_prompt": true, "params": true,
            "file_upload": true, "web_upload": true, "delete": true, "delete_message": true,
            "continue_response": true, "regenerate_response": true, "rate_response": true,
            "edit": true, "share": true, "export": true, "import": true, "stt": true, "tts": true,
            "call": true, "multiple_models": true, "temporary": true, "temporary_enforced": false
        },
        "features": {
            "api_keys": false, "notes": true, "folders": true, "channels": true,
            "encrypted_channels": false, "direct_tool_servers": false, "web_search": true,
            "image_generation": true, "code_interpreter": true, "memories": true,
            "automations": false, "calendar": true, "webhooks": false
        },
        "settings": {"interface": true}
    })
}

/// The stored `user.permissions` config row as JSON.
async fn stored_permissions(app: &TestApp) -> Value {
    let text = app.scalar_config("user.permissions").await.expect("user.permissions row");
    serde_json::from_str(&text).expect("json")
}

async fn list_answers_every_user_field_with_group_ids_and_no_password(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    for path in ["/api/v1/users/", "/api/v1/users"] {
        let a = app.get(path, Some(&admin)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(keys(&a.body), ["total", "users"], "{path}");
        assert_eq!(a.body["total"], json!(2), "{path}");
        let users = a.body["users"].as_array().expect("users");
        assert_eq!(users.len(), 2);
        for u in users {
            assert_eq!(keys(u), user_keys_with(&["group_ids"]), "{u}");
            assert_eq!(u["group_ids"], json!([]));
        }
        assert!(!a.text.contains("password"), "{}", a.text);
        let bob = users.iter().find(|u| u["id"] == bob_id.as_str()).expect("bob listed");
        assert_eq!(bob["email"], "bob@example.com");
        assert_eq!(bob["name"], "Bob");
        assert_eq!(bob["role"], "user");
        assert_eq!(bob["profile_image_url"], "/user.png");
        assert_eq!(bob["username"], Value::Null);
        assert_eq!(bob["settings"], Value::Null);
        assert!(bob["created_at"].is_i64() && bob["updated_at"].is_i64() && bob["last_active_at"].is_i64());
        let admin_row = users.iter().find(|u| u["id"] == admin_id.as_str()).expect("admin listed");
        assert_eq!(admin_row["role"], "admin");
    }
}

async fn list_pages_thirty_users_and_counts_the_total(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    for i in 1..=33 {
        insert_user(&app, &format!("member-{i:02}"), &format!("m{i:02}@example.com"), &format!("M{i:02}"))
            .await;
    }
    // The default order is newest first: M33 … M04 on page 1, M03 … M01 and the admin on page 2.
    let first = app.get("/api/v1/users/?page=1", Some(&admin)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["total"], json!(34));
    let names = column(&first, "name");
    assert_eq!(names.len(), 30);
    assert_eq!(names[0], "M33");
    assert_eq!(names[29], "M04");
    let default = app.get("/api/v1/users/", Some(&admin)).await;
    assert_eq!(column(&default, "name"), names, "no page is page 1");
    let second = app.get("/api/v1/users/?page=2", Some(&admin)).await;
    assert_eq!(second.body["total"], json!(34));
    assert_eq!(column(&second, "name"), ["M03", "M02", "M01", "Admin"]);
    assert_eq!(column(&second, "id")[3], admin_id);
    let beyond = app.get("/api/v1/users/?page=3", Some(&admin)).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert_eq!(beyond.body, json!({"users": [], "total": 34}));
}

async fn page_below_one_is_the_first_page(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for i in 1..=31 {
        insert_user(&app, &format!("member-{i:02}"), &format!("m{i:02}@example.com"), &format!("M{i:02}"))
            .await;
    }
    let first = column(&app.get("/api/v1/users/?page=1", Some(&admin)).await, "id");
    assert_eq!(first.len(), 30);
    for page in ["0", "-3"] {
        let a = app.get(&format!("/api/v1/users/?page={page}"), Some(&admin)).await;
        assert_eq!(a.status, StatusCode::OK, "page={page}: {}", a.text);
        assert_eq!(a.body["total"], json!(32));
        assert_eq!(column(&a, "id"), first, "page={page}");
    }
}

async fn non_numeric_page_is_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.get("/api/v1/users/?page=abc", Some(&admin)).await;
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
    let float = app.get("/api/v1/users/?page=1.5", Some(&admin)).await;
    assert_eq!(float.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(float.body["detail"][0]["type"], "int_parsing");
    assert_eq!(float.body["detail"][0]["loc"], json!(["query", "page"]));
}

async fn query_filters_name_or_email_case_insensitively(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice) = app.user(&admin, "Alice Smith", "alice@example.com", "user").await;
    let (_, bob) = app.user(&admin, "Bob", "bob@corp.io", "pending").await;
    let (_, carol) = app.user(&admin, "Carol", "carol@example.com", "user").await;

    let by_name = app.get("/api/v1/users/?query=sMITH", Some(&admin)).await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    assert_eq!(by_name.body["total"], json!(1));
    assert_eq!(column(&by_name, "id"), [alice]);

    let by_email = app.get("/api/v1/users/?query=CORP.IO", Some(&admin)).await;
    assert_eq!(by_email.body["total"], json!(1));
    assert_eq!(column(&by_email, "id"), [bob]);

    let both = app.get("/api/v1/users/?query=example&order_by=name&direction=asc", Some(&admin)).await;
    assert_eq!(both.body["total"], json!(3));
    assert_eq!(column(&both, "name"), ["Admin", "Alice Smith", "Carol"]);
    assert!(column(&both, "id").contains(&carol));

    let none = app.get("/api/v1/users/?query=nobody", Some(&admin)).await;
    assert_eq!(none.body, json!({"users": [], "total": 0}));
    // An empty query filters nothing.
    assert_eq!(app.get("/api/v1/users/?query=", Some(&admin)).await.body["total"], json!(4));
}

async fn order_by_and_direction_sort_the_list(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, carol) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    let (_, alice) = app.user(&admin, "Alice", "zed.alice@example.com", "pending").await;
    let (_, bob) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    // Distinct creation times (accounts made within one second share one).
    later(&app, &carol, 10).await;
    later(&app, &alice, 20).await;
    later(&app, &bob, 30).await;
    assert_eq!(names(&app, &admin, "order_by=name&direction=asc").await, ["Admin", "Alice", "Bob", "Carol"]);
    assert_eq!(names(&app, &admin, "order_by=name&direction=desc").await, ["Carol", "Bob", "Alice", "Admin"]);
    assert_eq!(
        names(&app, &admin, "order_by=name").await,
        ["Carol", "Bob", "Alice", "Admin"],
        "desc unless asc"
    );
    assert_eq!(names(&app, &admin, "order_by=email&direction=asc").await, ["Admin", "Bob", "Carol", "Alice"]);
    assert_eq!(
        names(&app, &admin, "order_by=created_at&direction=asc").await,
        ["Admin", "Carol", "Alice", "Bob"]
    );
    let roles = column(&app.get("/api/v1/users/?order_by=role&direction=asc", Some(&admin)).await, "role");
    assert_eq!(roles, ["admin", "pending", "user", "user"]);
    // No order, or an unknown one, is newest first whatever the direction.
    assert_eq!(names(&app, &admin, "").await, ["Bob", "Alice", "Carol", "Admin"]);
    assert_eq!(
        names(&app, &admin, "order_by=password&direction=asc").await,
        ["Bob", "Alice", "Carol", "Admin"]
    );
}

async fn list_is_admin_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let (pending, _) = app.user(&admin, "P", "p@example.com", "pending").await;
    for token in [&user, &pending] {
        for path in ["/api/v1/users/", "/api/v1/users"] {
            let a = app.get(path, Some(token)).await;
            assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}");
        }
    }
    let anon = app.get("/api/v1/users/", None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
}

async fn admin_reads_one_user_with_groups_and_activity(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a = app.get(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), user_keys_with(&["groups", "is_active"]));
    assert_eq!(a.body["id"], bob_id.as_str());
    assert_eq!(a.body["name"], "Bob");
    assert_eq!(a.body["email"], "bob@example.com");
    assert_eq!(a.body["role"], "user");
    assert_eq!(a.body["groups"], json!([]));
    assert_eq!(a.body["is_active"], json!(true), "Bob signed in just now");
    assert!(!a.text.contains("password"));

    // Someone not seen for longer than three minutes is not active.
    app.exec("update users set last_active_at = 1000 where id = $1", &[&bob_id]).await;
    let idle = app.get(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await;
    assert_eq!(idle.body["is_active"], json!(false));
    assert_eq!(idle.body["last_active_at"], json!(1000));
}

async fn unknown_user_id_is_400_not_found(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.get("/api/v1/users/00000000-0000-0000-0000-000000000000", Some(&admin)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body, json!({"detail": USER_NOT_FOUND}));
}

async fn non_admin_reads_only_their_own_user(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (user, user_id) = app.user(&admin, "U", "u@example.com", "user").await;
    let (pending, pending_id) = app.user(&admin, "P", "p@example.com", "pending").await;
    let own = app.get(&format!("/api/v1/users/{user_id}"), Some(&user)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(own.body["id"], user_id.as_str());
    assert_eq!(own.body["email"], "u@example.com");
    for other in [&admin_id, &pending_id] {
        let a = app.get(&format!("/api/v1/users/{other}"), Some(&user)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    }
    // A pending user is not verified, not even for their own row.
    let p = app.get(&format!("/api/v1/users/{pending_id}"), Some(&pending)).await;
    assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let anon = app.get(&format!("/api/v1/users/{user_id}"), None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
}

async fn update_promotes_pending_user_who_can_then_use_verified_routes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, id) = app.user(&admin, "Alice", "alice@example.com", "pending").await;
    let profile = json!({"name": "Alice", "profile_image_url": "/user.png"});
    let before = app.post("/api/v1/auths/update/profile", Some(&pending), profile.clone()).await;
    assert_eq!((before.status, before.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));

    let a = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"role": "user"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), user_keys_with(&[]));
    assert_eq!(a.body["id"], id.as_str());
    assert_eq!(a.body["role"], "user");
    assert_eq!(a.body["name"], "Alice");
    assert_eq!(a.body["email"], "alice@example.com");
    assert_eq!(a.body["profile_image_url"], "/user.png");
    assert_eq!(app.scalar_text("select role from users where id = $1", &id).await.as_deref(), Some("user"));

    // A role change does not end the session: the same token now passes verified routes.
    let after = app.post("/api/v1/auths/update/profile", Some(&pending), profile).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
    assert_eq!(after.body["role"], "user");
    assert_eq!(app.get(&format!("/api/v1/users/{id}"), Some(&pending)).await.status, StatusCode::OK);
}

async fn update_lowercases_email_in_users_and_auths_for_sign_in(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a = app
        .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"email": "New.Bob@Example.COM"}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["email"], "new.bob@example.com");
    assert_eq!(
        app.scalar_text("select email from users where id = $1", &id).await.as_deref(),
        Some("new.bob@example.com")
    );
    assert_eq!(
        app.scalar_text("select email from auths where id = $1", &id).await.as_deref(),
        Some("new.bob@example.com")
    );
    let s = app.signin("NEW.BOB@example.com", PASSWORD).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.body["id"], id.as_str());
    assert_eq!(s.body["email"], "new.bob@example.com");
    assert_eq!(app.signin("bob@example.com", PASSWORD).await.detail(), INVALID_CRED);
}

async fn update_to_a_taken_email_is_400_email_taken(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    app.user(&admin, "Carol", "carol@example.com", "user").await;
    for email in ["carol@example.com", "ADMIN@example.com"] {
        let a = app
            .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"email": email, "name": "B"}))
            .await;
        assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, EMAIL_TAKEN), "{email}");
    }
    assert_eq!(
        app.scalar_text("select email from users where id = $1", &id).await.as_deref(),
        Some("bob@example.com")
    );
    assert_eq!(app.scalar_text("select name from users where id = $1", &id).await.as_deref(), Some("Bob"));
    assert_eq!(
        app.scalar_text("select email from auths where id = $1", &id).await.as_deref(),
        Some("bob@example.com")
    );
    // Their own address, in another case, is not "taken".
    let same = app
        .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"email": "BOB@example.com"}))
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(same.body["email"], "bob@example.com");
}

async fn update_to_an_invalid_email_is_400_invalid_email_format(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a =
        app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"email": "not-an-email"})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_EMAIL_FORMAT));
    assert_eq!(
        app.scalar_text("select email from users where id = $1", &id).await.as_deref(),
        Some("bob@example.com")
    );
}

async fn update_with_an_invalid_role_is_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let a = app
        .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"role": "root", "name": "Root"}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let detail = a.body["detail"].as_array().expect("FastAPI's list");
    assert_eq!(detail.len(), 1);
    assert_eq!(detail[0]["loc"], json!(["body", "role"]));
    assert_eq!(detail[0]["type"], "literal_error");
    assert_eq!(detail[0]["input"], "root");
    assert_eq!(app.scalar_text("select role from users where id = $1", &id).await.as_deref(), Some("user"));
    assert_eq!(app.scalar_text("select name from users where id = $1", &id).await.as_deref(), Some("Bob"));
    // A role of the wrong type is a field error as well.
    let t = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"role": 1})).await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.body["detail"][0]["type"], "string_type");
    assert_eq!(t.body["detail"][0]["loc"], json!(["body", "role"]));
}

async fn update_with_a_bad_profile_image_url_is_422(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (_, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (second, _) = app.user(&admin, "Second", "second@example.com", "admin").await;
    // The form is validated before anything else: an unknown user or the primary admin (whom a
    // second admin may not change) still gets the 422.
    for (token, target) in [(&admin, "00000000-0000-0000-0000-000000000000"), (&second, admin_id.as_str())] {
        let a = app
            .post(
                &format!("/api/v1/users/{target}/update"),
                Some(token),
                json!({"profile_image_url": "javascript:alert(1)"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{target}: {}", a.text);
        assert_eq!(a.body["detail"][0]["loc"], json!(["body", "profile_image_url"]));
    }
    for url in ["javascript:alert(1)", "data:image/svg+xml;base64,AA", "/etc/passwd"] {
        let a = app
            .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"profile_image_url": url}))
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", a.text);
        assert_eq!(a.body["detail"][0]["loc"], json!(["body", "profile_image_url"]), "{url}");
        assert_eq!(a.body["detail"][0]["type"], "value_error");
        assert_eq!(a.body["detail"][0]["input"], url);
    }
    assert_eq!(
        app.scalar_text("select profile_image_url from users where id = $1", &id).await.as_deref(),
        Some("/user.png")
    );
    let ok = app
        .post(
            &format!("/api/v1/users/{id}/update"),
            Some(&admin),
            json!({"profile_image_url": "/static/favicon.png"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["profile_image_url"], "/static/favicon.png");
}

async fn password_reset_ends_the_targets_sessions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (bob, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let stamp = app.scalar_text("select session_stamp from auths where id = $1", &id).await;
    let hash = app.scalar_text("select password from auths where id = $1", &id).await;
    let long = app
        .post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"password": "a".repeat(73)}))
        .await;
    assert_eq!(
        (long.status, long.detail()),
        (
            StatusCode::BAD_REQUEST,
            "Uh-oh! The password you entered is too long. Please make sure your password is less than 72 bytes long."
        )
    );
    assert_eq!(app.scalar_text("select session_stamp from auths where id = $1", &id).await, stamp);
    assert_eq!(app.get("/api/v1/auths/", Some(&bob)).await.status, StatusCode::OK);
    let a =
        app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({"password": "N3w-pass!"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!a.text.contains("N3w-pass!") && !a.text.contains("password"), "{}", a.text);
    assert_ne!(app.scalar_text("select session_stamp from auths where id = $1", &id).await, stamp);
    let new_hash = app.scalar_text("select password from auths where id = $1", &id).await.expect("hash");
    assert_ne!(Some(new_hash.clone()), hash);
    assert!(new_hash.starts_with("$argon2id$"), "{new_hash}");

    let old = app.get("/api/v1/auths/", Some(&bob)).await;
    assert_eq!((old.status, old.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    assert_eq!(app.signin("bob@example.com", PASSWORD).await.detail(), INVALID_CRED);
    let s = app.signin("bob@example.com", "N3w-pass!").await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(app.get("/api/v1/auths/", s.body["token"].as_str()).await.status, StatusCode::OK);
    // The admin's own session is untouched.
    assert_eq!(app.get("/api/v1/users/", Some(&admin)).await.status, StatusCode::OK);
}

async fn primary_admin_cannot_be_changed_by_others_or_demoted(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (primary, primary_id) = app.admin().await;
    let (second, _) = app.user(&primary, "Second", "second@example.com", "admin").await;
    // `created_at` has one-second resolution: make the order of creation explicit.
    let path = format!("/api/v1/users/{primary_id}/update");
    for body in [json!({"name": "Hijacked"}), json!({"password": "Other-1!"}), json!({"role": "user"})] {
        let a = app.post(&path, Some(&second), body.clone()).await;
        assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACTION_PROHIBITED), "{body}");
    }
    for role in ["user", "pending"] {
        let a = app.post(&path, Some(&primary), json!({"role": role})).await;
        assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACTION_PROHIBITED), "{role}");
    }
    assert_eq!(
        app.scalar_text("select role from users where id = $1", &primary_id).await.as_deref(),
        Some("admin")
    );
    assert_eq!(
        app.scalar_text("select name from users where id = $1", &primary_id).await.as_deref(),
        Some("Admin")
    );
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.status, StatusCode::OK);
    // The primary admin may change their own other fields and keep the admin role.
    let own = app.post(&path, Some(&primary), json!({"name": "Chief", "role": "admin"})).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!((own.body["name"].clone(), own.body["role"].clone()), (json!("Chief"), json!("admin")));
}

async fn update_changes_only_the_given_fields(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (bob, id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let before = app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await.body;
    let a = app
        .post(
            &format!("/api/v1/users/{id}/update"),
            Some(&admin),
            json!({"name": "Bobby", "email": null, "role": null, "password": ""}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["name"], "Bobby");
    for field in ["email", "role", "profile_image_url", "created_at", "bio"] {
        assert_eq!(a.body[field], before[field], "{field}");
    }
    // An empty password is not a reset: the session survives and the old password still works.
    assert_eq!(app.get("/api/v1/auths/", Some(&bob)).await.status, StatusCode::OK);
    assert_eq!(app.signin("bob@example.com", PASSWORD).await.status, StatusCode::OK);
    // An empty form changes nothing and answers the user.
    let empty = app.post(&format!("/api/v1/users/{id}/update"), Some(&admin), json!({})).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["name"], "Bobby");
    assert_eq!(empty.body["email"], "bob@example.com");
    assert_eq!(app.scalar_text("select name from users where id = $1", &id).await.as_deref(), Some("Bobby"));
    assert_eq!(app.scalar_text("select role from users where id = $1", &id).await.as_deref(), Some("user"));
}

async fn update_of_an_unknown_user_is_400_and_non_admins_get_401(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (user, user_id) = app.user(&admin, "U", "u@example.com", "user").await;
    let a = app
        .post("/api/v1/users/00000000-0000-0000-0000-000000000000/update", Some(&admin), json!({"name": "X"}))
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, USER_NOT_FOUND));
    for target in [&user_id, &admin_id] {
        let d =
            app.post(&format!("/api/v1/users/{target}/update"), Some(&user), json!({"role": "admin"})).await;
        assert_eq!((d.status, d.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    }
    assert_eq!(
        app.scalar_text("select role from users where id = $1", &user_id).await.as_deref(),
        Some("user")
    );
}

async fn delete_removes_user_credentials_and_api_key(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (victim, id) = app.user(&admin, "Vic", "vic@example.com", "user").await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["features"]["api_keys"] = json!(true);
    let p = app.post("/api/v1/users/default/permissions", Some(&admin), perms).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let k = app.post("/api/v1/auths/api_key", Some(&victim), json!({})).await;
    assert_eq!(k.status, StatusCode::OK, "{}", k.text);
    let key = k.body["api_key"].as_str().expect("key").to_string();
    assert_eq!(app.scalar_count("select count(*) from api_keys where user_id = $1", &id).await, 1);
    // A signed-out token leaves a revocation row behind.
    let spare =
        app.signin("vic@example.com", PASSWORD).await.body["token"].as_str().expect("token").to_string();
    assert_eq!(app.post("/api/v1/auths/signout", Some(&spare), json!({})).await.status, StatusCode::OK);
    assert_eq!(app.scalar_count("select count(*) from revoked_tokens where user_id = $1", &id).await, 1);

    let d = app.delete(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)), "{}", d.text);
    for sql in [
        "select count(*) from users where id = $1",
        "select count(*) from auths where id = $1",
        "select count(*) from api_keys where user_id = $1",
        "select count(*) from revoked_tokens where user_id = $1",
    ] {
        assert_eq!(app.scalar_count(sql, &id).await, 0, "{sql}");
    }
    let t = app.get("/api/v1/auths/", Some(&victim)).await;
    assert_eq!((t.status, t.detail()), (StatusCode::UNAUTHORIZED, "Invalid authentication request."));
    let u = app.get(&format!("/api/v1/users/{id}"), Some(&victim)).await;
    assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, "Invalid authentication request."));
    let gone_key = app.get("/api/v1/users/", Some(&key)).await;
    assert_eq!((gone_key.status, gone_key.detail()), (StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    assert_eq!(app.signin("vic@example.com", PASSWORD).await.detail(), INVALID_CRED);
    let list = app.get("/api/v1/users/", Some(&admin)).await;
    assert_eq!(list.body["total"], json!(1));
}

async fn deleting_self_or_the_primary_admin_is_403(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (primary, primary_id) = app.admin().await;
    let (second, second_id) = app.user(&primary, "Second", "second@example.com", "admin").await;
    // `created_at` has one-second resolution: make the order of creation explicit.
    for (token, target) in [(&primary, &primary_id), (&second, &primary_id), (&second, &second_id)] {
        let a = app.delete(&format!("/api/v1/users/{target}"), Some(token)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACTION_PROHIBITED));
    }
    for id in [&primary_id, &second_id] {
        assert_eq!(app.scalar_count("select count(*) from users where id = $1", id).await, 1);
        assert_eq!(app.scalar_count("select count(*) from auths where id = $1", id).await, 1);
    }
    assert_eq!(app.get("/api/v1/users/", Some(&second)).await.status, StatusCode::OK);
    // The primary admin may delete the second admin.
    let d = app.delete(&format!("/api/v1/users/{second_id}"), Some(&primary)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(app.scalar_count("select count(*) from users where id = $1", &second_id).await, 0);
}

async fn delete_is_admin_only_and_unknown_id_is_true(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, user_id) = app.user(&admin, "U", "u@example.com", "user").await;
    let (_, other_id) = app.user(&admin, "O", "o@example.com", "user").await;
    for target in [&other_id, &user_id] {
        let a = app.delete(&format!("/api/v1/users/{target}"), Some(&user)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    }
    let anon = app.delete(&format!("/api/v1/users/{other_id}"), None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
    assert_eq!(app.scalar_count("select count(*) from users where id = $1", &other_id).await, 1);
    let unknown = app.delete("/api/v1/users/00000000-0000-0000-0000-000000000000", Some(&admin)).await;
    assert_eq!((unknown.status, unknown.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(app.get("/api/v1/users/", Some(&admin)).await.body["total"], json!(3));
}

async fn default_permissions_match_the_reference_tree(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.get("/api/v1/users/default/permissions", Some(&admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body, reference_tree());
    assert_eq!(a.body["chat"]["delete"], json!(true));
    assert_eq!(a.body["workspace"]["models"], json!(false));
    assert_eq!(a.body["features"]["api_keys"], json!(false));
    // The sections come in the reference's order.
    let sections: Vec<&String> = a.body.as_object().expect("object").keys().collect();
    assert_eq!(sections, ["workspace", "sharing", "access_grants", "chat", "features", "settings"]);
    assert_eq!(stored_permissions(&app).await, reference_tree(), "seeded at start-up");
}

async fn posting_default_permissions_stores_the_whole_tree(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let form = json!({
        "workspace": {"models": true},
        "sharing": {},
        "access_grants": {"allow_users": false},
        "chat": {"delete": false, "bogus": true},
        "features": {"api_keys": true},
        "settings": {},
        "extra_section": {"x": true}
    });
    let a = app.post("/api/v1/users/default/permissions", Some(&admin), form).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = reference_tree();
    expected["workspace"]["models"] = json!(true);
    expected["access_grants"]["allow_users"] = json!(false);
    expected["chat"]["delete"] = json!(false);
    expected["features"]["api_keys"] = json!(true);
    assert_eq!(a.body, expected);
    assert!(a.body["chat"].get("bogus").is_none() && a.body.get("extra_section").is_none());
    assert_eq!(stored_permissions(&app).await, expected);
    assert_eq!(app.get("/api/v1/users/default/permissions", Some(&admin)).await.body, expected);

    // A later post replaces the whole tree: keys left out go back to their defaults.
    let again = json!({"workspace": {}, "sharing": {}, "access_grants": {}, "chat": {}, "features": {}, "settings": {"interface": false}});
    let b2 = app.post("/api/v1/users/default/permissions", Some(&admin), again).await;
    assert_eq!(b2.status, StatusCode::OK, "{}", b2.text);
    let mut expected2 = reference_tree();
    expected2["settings"]["interface"] = json!(false);
    assert_eq!(b2.body, expected2);
    assert_eq!(stored_permissions(&app).await, expected2);
}

async fn invalid_permission_forms_are_422_and_store_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let missing = json!({"workspace": {"models": true}, "access_grants": {}, "chat": {}, "features": {}, "settings": {}});
    let a = app.post("/api/v1/users/default/permissions", Some(&admin), missing).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let detail = a.body["detail"].as_array().expect("FastAPI's list");
    assert_eq!(detail.len(), 1);
    assert_eq!(detail[0]["type"], "missing");
    assert_eq!(detail[0]["loc"], json!(["body", "sharing"]));
    assert_eq!(detail[0]["msg"], "Field required");

    let not_bool = json!({"workspace": {"models": [true]}, "sharing": {}, "access_grants": {}, "chat": {}, "features": {}, "settings": {}});
    let t = app.post("/api/v1/users/default/permissions", Some(&admin), not_bool).await;
    assert_eq!(t.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", t.text);
    assert_eq!(t.body["detail"][0]["type"], "bool_type");
    assert_eq!(t.body["detail"][0]["loc"], json!(["body", "workspace", "models"]));
    assert_eq!(t.body["detail"][0]["msg"], "Input should be a valid boolean");

    let not_object = json!({"workspace": true, "sharing": {}, "access_grants": {}, "chat": {}, "features": {}, "settings": {}});
    let o = app.post("/api/v1/users/default/permissions", Some(&admin), not_object).await;
    assert_eq!(o.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(o.body["detail"][0]["loc"], json!(["body", "workspace"]));

    let array = app.post("/api/v1/users/default/permissions", Some(&admin), json!([1])).await;
    assert_eq!(array.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(array.body["detail"][0]["loc"], json!(["body"]));

    assert_eq!(stored_permissions(&app).await, reference_tree());
}

async fn stored_permissions_reach_later_sign_ins(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let mut tree = reference_tree();
    tree["workspace"]["models"] = json!(true);
    tree["chat"]["delete"] = json!(false);
    let p = app.post("/api/v1/users/default/permissions", Some(&admin), tree.clone()).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let s = app.signin("u@example.com", PASSWORD).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.body["permissions"], tree);
    let session = app.get("/api/v1/auths/", Some(&user)).await;
    assert_eq!(session.body["permissions"], tree);
    let config = app.get("/api/config", Some(&user)).await;
    assert_eq!(config.body["permissions"], tree);
}

async fn default_permissions_are_admin_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let (pending, _) = app.user(&admin, "P", "p@example.com", "pending").await;
    let mut tree = reference_tree();
    tree["workspace"]["models"] = json!(true);
    for token in [&user, &pending] {
        let g = app.get("/api/v1/users/default/permissions", Some(token)).await;
        assert_eq!((g.status, g.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
        let p = app.post("/api/v1/users/default/permissions", Some(token), tree.clone()).await;
        assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    }
    let anon = app.get("/api/v1/users/default/permissions", None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
    assert_eq!(stored_permissions(&app).await, reference_tree());
}
