//! `/api/v1/groups` (create, list, read, export, update, membership, delete, the member list and
//! the preview), the group routes of `/api/v1/users` (`/users/groups`, `/users/permissions`,
//! `/users/{user_id}/groups`), group grants on models and group permissions merged into their
//! members' permissions.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const GROUP_NOT_FOUND: &str = "Group not found.";
const NOT_AUTHENTICATED: &str = "Not authenticated";
const UNAUTHORIZED: &str = "401 Unauthorized";
const SHARING: &str = "You do not have permission to share with the requested audience";

/// Every field of the reference's `GroupResponse`, in its order.
const GROUP_FIELDS: &[&str] = &[
    "parent_group_id",
    "id",
    "user_id",
    "name",
    "description",
    "data",
    "meta",
    "permissions",
    "created_at",
    "updated_at",
    "member_count",
];

backend_tests!(
    create_read_export_and_list_answer_the_reference_shapes,
    routes_refuse_anonymous_pending_and_non_admin_callers,
    unknown_group_ids_get_the_reference_texts,
    bad_bodies_and_parameters_are_422_in_fastapi_shape,
    members_are_added_and_removed_and_counted,
    deleting_a_group_or_a_user_removes_their_memberships,
    updates_merge_data_replace_permissions_and_move_parents_without_cycles,
    non_admins_list_their_groups_and_the_groups_they_may_share_with,
    user_group_routes_win_over_the_user_id_route,
    member_list_pages_and_marks_inherited_members,
    a_group_grant_gives_its_members_access_to_a_model,
    group_permissions_merge_into_the_users_permissions_and_are_obeyed,
    sessions_and_api_keys_carry_group_permissions_through_the_session_cache,
    user_answers_name_their_groups_and_new_accounts_join_the_default_group,
    new_groups_take_the_configured_default_share,
    preview_shows_what_members_reach_and_the_permission_layers,
    long_searches_and_long_user_lists_are_bounded_or_batched,
);

fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("list").iter().map(|g| g["id"].as_str().expect("id").to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Creates a group as the admin; its answer.
async fn create(app: &TestApp, admin: &str, body: Value) -> Value {
    let a = app.post("/api/v1/groups/create", Some(admin), body).await;
    assert_eq!(a.status, StatusCode::OK, "create: {}", a.text);
    a.body
}

async fn named(app: &TestApp, admin: &str, name: &str) -> String {
    let g = create(app, admin, json!({"name": name, "description": ""})).await;
    g["id"].as_str().expect("id").to_string()
}

async fn add(app: &TestApp, admin: &str, group: &str, users: &[&str]) -> Answer {
    app.post(&format!("/api/v1/groups/id/{group}/users/add"), Some(admin), json!({"user_ids": users})).await
}

async fn remove(app: &TestApp, admin: &str, group: &str, users: &[&str]) -> Answer {
    app.post(&format!("/api/v1/groups/id/{group}/users/remove"), Some(admin), json!({"user_ids": users}))
        .await
}

async fn memberships(app: &TestApp, group: &str) -> i64 {
    app.scalar_count("select count(*) from group_members where group_id = $1", group).await
}

async fn memberships_of(app: &TestApp, user: &str) -> i64 {
    app.scalar_count("select count(*) from group_members where user_id = $1", user).await
}

async fn group_rows(app: &TestApp, id: &str) -> i64 {
    app.scalar_count("select count(*) from groups where id = $1", id).await
}

async fn create_read_export_and_list_answer_the_reference_shapes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let g = create(
        &app,
        &admin,
        json!({"name": "Research", "description": "The lab", "permissions": {"workspace": {"models": true}},
               "data": {"config": {"default_models": [" gpt-4o ", "gpt-4o"]}}, "ignored": 1}),
    )
    .await;
    assert_eq!(keys(&g), GROUP_FIELDS);
    let id = g["id"].as_str().expect("id").to_string();
    assert_eq!(g["parent_group_id"], Value::Null);
    assert_eq!(g["user_id"], admin_id.as_str());
    assert_eq!(g["name"], "Research");
    assert_eq!(g["description"], "The lab");
    // The default share setting is added; default models are trimmed and each kept once.
    assert_eq!(g["data"], json!({"config": {"default_models": ["gpt-4o"], "share": "members"}}));
    assert_eq!(g["meta"], Value::Null);
    assert_eq!(g["permissions"], json!({"workspace": {"models": true}}));
    assert_eq!(g["member_count"], 0);
    assert_eq!(g["created_at"], g["updated_at"]);
    assert_eq!(group_rows(&app, &id).await, 1);

    let one = app.get(&format!("/api/v1/groups/id/{id}"), Some(&admin)).await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &g));
    let info = app.get(&format!("/api/v1/groups/id/{id}/info"), Some(&admin)).await;
    assert_eq!(
        info.body,
        json!({"parent_group_id": null, "id": id, "user_id": admin_id, "name": "Research",
               "description": "The lab", "member_count": 0, "created_at": g["created_at"],
               "updated_at": g["updated_at"]})
    );
    let export = app.get(&format!("/api/v1/groups/id/{id}/export"), Some(&admin)).await;
    let mut expected = g.clone();
    expected["user_ids"] = json!([]);
    assert_eq!(export.body, expected);

    let second = named(&app, &admin, "Second").await;
    app.exec("update groups set updated_at = updated_at + 10 where id = $1", &[&second]).await;
    for path in ["/api/v1/groups/", "/api/v1/groups"] {
        let list = app.get(path, Some(&admin)).await;
        assert_eq!(list.status, StatusCode::OK, "{path}: {}", list.text);
        // Newest change first.
        assert_eq!(ids(&list.body), [second.clone(), id.clone()], "{path}");
        assert_eq!(list.body[1], g);
    }
}

async fn routes_refuse_anonymous_pending_and_non_admin_callers(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (user, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let id = named(&app, &admin, "Team").await;
    let body = json!({"name": "x", "description": "y", "user_ids": []});
    let admin_only = [
        ("POST", "/api/v1/groups/create".to_string()),
        ("GET", format!("/api/v1/groups/id/{id}")),
        ("GET", format!("/api/v1/groups/id/{id}/export")),
        ("POST", format!("/api/v1/groups/id/{id}/users")),
        ("POST", format!("/api/v1/groups/id/{id}/update")),
        ("POST", format!("/api/v1/groups/id/{id}/users/add")),
        ("POST", format!("/api/v1/groups/id/{id}/users/remove")),
        ("DELETE", format!("/api/v1/groups/id/{id}/delete")),
        ("GET", format!("/api/v1/groups/id/{id}/preview")),
        ("GET", format!("/api/v1/groups/id/{id}/members")),
        ("GET", format!("/api/v1/users/{admin_id}/groups")),
    ];
    let verified = [
        ("GET", "/api/v1/groups/".to_string()),
        ("GET", "/api/v1/groups".to_string()),
        ("GET", format!("/api/v1/groups/id/{id}/info")),
        ("GET", "/api/v1/users/groups".to_string()),
        ("GET", "/api/v1/users/permissions".to_string()),
    ];
    for (method, path) in admin_only.iter().chain(verified.iter()) {
        let none = app.send(method, path, None, Some(body.clone())).await;
        assert_eq!(
            (none.status, none.detail()),
            (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED),
            "{method} {path}"
        );
        let p = app.send(method, path, Some(&pending), Some(body.clone())).await;
        assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{method} {path}");
    }
    for (method, path) in &admin_only {
        let u = app.send(method, path, Some(&user), Some(body.clone())).await;
        assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{method} {path}");
    }
    for (method, path) in &verified {
        let u = app.send(method, path, Some(&user), None).await;
        assert_eq!(u.status, StatusCode::OK, "{method} {path}: {}", u.text);
    }
    // Nothing was written by the refused calls.
    assert_eq!(app.scalar_count("select count(*) from groups where name <> $1", "Team").await, 0);
    assert_eq!(group_rows(&app, &id).await, 1);
}

async fn unknown_group_ids_get_the_reference_texts(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    for (token, path) in [
        (&admin, "/api/v1/groups/id/nope"),
        (&admin, "/api/v1/groups/id/nope/export"),
        (&admin, "/api/v1/groups/id/nope/preview"),
        (&admin, "/api/v1/groups/id/nope/info"),
        (&user, "/api/v1/groups/id/nope/info"),
    ] {
        let a = app.get(path, Some(token)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, NOT_FOUND), "{path}");
    }
    let form = json!({"name": "x", "description": "", "user_ids": ["u"]});
    for (method, path) in [
        ("POST", "/api/v1/groups/id/nope/update"),
        ("POST", "/api/v1/groups/id/nope/users/add"),
        ("POST", "/api/v1/groups/id/nope/users/remove"),
        ("DELETE", "/api/v1/groups/id/nope/delete"),
        ("GET", "/api/v1/groups/id/nope/members"),
    ] {
        let a = app.send(method, path, Some(&admin), Some(form.clone())).await;
        assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, GROUP_NOT_FOUND), "{method} {path}");
    }
    // The member rows of an unknown group: none.
    let a = app.post("/api/v1/groups/id/nope/users", Some(&admin), json!({})).await;
    assert_eq!((a.status, a.body), (StatusCode::OK, json!([])));
    // A parent that does not exist, or an empty one, and nothing is stored.
    let a = app
        .post(
            "/api/v1/groups/create",
            Some(&admin),
            json!({"name": "x", "description": "", "parent_group_id": "nope"}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::NOT_FOUND, "Parent group not found."));
    let a = app
        .post(
            "/api/v1/groups/create",
            Some(&admin),
            json!({"name": "x", "description": "", "parent_group_id": ""}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, "Parent group must be a group ID or null."));
    assert_eq!(app.scalar_count("select count(*) from groups where name = $1", "x").await, 0);
}

async fn bad_bodies_and_parameters_are_422_in_fastapi_shape(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app.post("/api/v1/groups/create", Some(&admin), json!({"name": "x"})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.body,
        json!({"detail": [{"type": "missing", "loc": ["body", "description"], "msg": "Field required",
                           "input": {"name": "x"}}]})
    );
    let a = app
        .post(
            "/api/v1/groups/create",
            Some(&admin),
            json!({"name": "x", "description": "", "data": {"config": []}}),
        )
        .await;
    assert_eq!(
        a.body["detail"][0],
        json!({"type": "value_error", "loc": ["body", "data"], "msg": "Value error, Group config must be an object.",
               "input": {"config": []}, "ctx": {"error": {}}})
    );
    let a = app
        .post(
            "/api/v1/groups/create",
            Some(&admin),
            json!({"name": "x", "description": "", "data": {"config": {"default_models": ["a", ""]}}}),
        )
        .await;
    assert_eq!(
        a.body["detail"][0]["msg"],
        "Value error, Default models must be a list of non-empty model IDs."
    );
    let a = app
        .post(
            "/api/v1/groups/create",
            Some(&admin),
            json!({"name": "x", "description": "", "permissions": true}),
        )
        .await;
    assert_eq!(a.body["detail"][0]["type"], "dict_type");
    assert_eq!(app.scalar_count("select count(*) from groups where name = $1", "x").await, 0);

    let id = named(&app, &admin, "Team").await;
    let a = app.post(&format!("/api/v1/groups/id/{id}/update"), Some(&admin), json!({"name": "only"})).await;
    assert_eq!(
        (a.status, a.body["detail"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "description"]))
    );
    let a =
        app.post(&format!("/api/v1/groups/id/{id}/users/add"), Some(&admin), json!({"user_ids": "u1"})).await;
    assert_eq!(
        a.body,
        json!({"detail": [{"type": "list_type", "loc": ["body", "user_ids"], "msg": "Input should be a valid list",
                           "input": "u1"}]})
    );
    let a = app
        .post(&format!("/api/v1/groups/id/{id}/users/remove"), Some(&admin), json!({"user_ids": [7]}))
        .await;
    assert_eq!(a.body["detail"][0]["loc"], json!(["body", "user_ids", 0]));
    let a = app.get(&format!("/api/v1/groups/id/{id}/members?membership=all&page=0"), Some(&admin)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.body,
        json!({"detail": [
            {"type": "literal_error", "loc": ["query", "membership"],
             "msg": "Input should be 'direct', 'inherited' or 'effective'", "input": "all",
             "ctx": {"expected": "'direct', 'inherited' or 'effective'"}},
            {"type": "greater_than_equal", "loc": ["query", "page"], "msg": "Input should be greater than or equal to 1",
             "input": "0", "ctx": {"ge": 1}}
        ]})
    );
    let a = app.get("/api/v1/users/groups?include_inherited=maybe", Some(&admin)).await;
    assert_eq!(
        (a.status, a.body["detail"][0]["type"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("bool_parsing"))
    );
    let a = app.get("/api/v1/groups/?share=perhaps", Some(&admin)).await;
    assert_eq!(a.body["detail"][0]["loc"], json!(["query", "share"]));
}

async fn members_are_added_and_removed_and_counted(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let id = named(&app, &admin, "Team").await;
    // Unknown ids are skipped, repeats count once.
    let a = add(&app, &admin, &id, &[&alice, "ghost", &bob, &alice]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), GROUP_FIELDS);
    assert_eq!(a.body["member_count"], 2);
    assert_eq!(memberships(&app, &id).await, 2);
    // Adding again changes nothing.
    let again = add(&app, &admin, &id, &[&alice]).await;
    assert_eq!(again.body["member_count"], 2);
    assert_eq!(memberships(&app, &id).await, 2);
    // No list at all is no user.
    let none = app.post(&format!("/api/v1/groups/id/{id}/users/add"), Some(&admin), json!({})).await;
    assert_eq!((none.status, none.body["member_count"].clone()), (StatusCode::OK, json!(2)));

    let users = app.post(&format!("/api/v1/groups/id/{id}/users"), Some(&admin), json!({})).await;
    assert_eq!(users.status, StatusCode::OK);
    assert_eq!(sorted(ids(&users.body)), sorted(vec![alice.clone(), bob.clone()]));
    let first = users
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|u| u["id"] == alice.as_str())
        .expect("alice")
        .clone();
    assert_eq!(
        keys(&first),
        [
            "status_emoji",
            "status_message",
            "status_expires_at",
            "id",
            "name",
            "email",
            "role",
            "bio",
            "last_active_at",
            "timezone",
            "groups",
            "is_active"
        ]
    );
    assert_eq!(
        (first["name"].clone(), first["email"].clone(), first["role"].clone()),
        (json!("Alice"), json!("alice@example.com"), json!("user"))
    );
    assert_eq!((first["groups"].clone(), first["is_active"].clone()), (json!([]), json!(false)));
    assert!(first["last_active_at"].is_i64());
    let export = app.get(&format!("/api/v1/groups/id/{id}/export"), Some(&admin)).await;
    assert_eq!(
        sorted(serde_json::from_value(export.body["user_ids"].clone()).expect("ids")),
        sorted(vec![alice.clone(), bob.clone()])
    );
    let info = app.get(&format!("/api/v1/groups/id/{id}/info"), Some(&admin)).await;
    assert_eq!(info.body["member_count"], 2);

    let r = remove(&app, &admin, &id, &[&bob, "ghost"]).await;
    assert_eq!((r.status, r.body["member_count"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(memberships(&app, &id).await, 1);
    assert_eq!(memberships_of(&app, &bob).await, 0);
    assert_eq!(memberships_of(&app, &alice).await, 1);
}

async fn deleting_a_group_or_a_user_removes_their_memberships(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let parent = named(&app, &admin, "Parent").await;
    let doomed =
        create(&app, &admin, json!({"name": "Doomed", "description": "", "parent_group_id": parent})).await;
    let doomed = doomed["id"].as_str().expect("id").to_string();
    let child =
        create(&app, &admin, json!({"name": "Child", "description": "", "parent_group_id": doomed})).await;
    let child = child["id"].as_str().expect("id").to_string();
    let keep = named(&app, &admin, "Keep").await;
    add(&app, &admin, &doomed, &[&alice, &bob]).await;
    add(&app, &admin, &keep, &[&alice, &bob]).await;
    let grant = json!({"id": "m1", "name": "M1", "base_model_id": "base", "meta": {}, "params": {},
                       "access_grants": [{"principal_type": "group", "principal_id": doomed, "permission": "read"},
                                         {"principal_type": "group", "principal_id": keep, "permission": "read"}]});
    let m = app.post("/api/v1/models/create", Some(&admin), grant).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where principal_id = $1", &doomed).await,
        1
    );

    let d = app.delete(&format!("/api/v1/groups/id/{doomed}/delete"), Some(&admin)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(group_rows(&app, &doomed).await, 0);
    assert_eq!(memberships(&app, &doomed).await, 0);
    assert_eq!(memberships(&app, &keep).await, 2);
    // The grant naming the group went; the other stays.
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where principal_id = $1", &doomed).await,
        0
    );
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where principal_id = $1", &keep).await,
        1
    );
    // Its child moved up to its parent.
    let c = app.get(&format!("/api/v1/groups/id/{child}"), Some(&admin)).await;
    assert_eq!(c.body["parent_group_id"], parent.as_str());
    let again = app.delete(&format!("/api/v1/groups/id/{doomed}/delete"), Some(&admin)).await;
    assert_eq!((again.status, again.detail()), (StatusCode::NOT_FOUND, GROUP_NOT_FOUND));

    // Deleting a user deletes their memberships.
    assert_eq!(app.delete(&format!("/api/v1/users/{bob}"), Some(&admin)).await.status, StatusCode::OK);
    assert_eq!(memberships_of(&app, &bob).await, 0);
    assert_eq!(memberships(&app, &keep).await, 1);
    let g = app.get(&format!("/api/v1/groups/id/{keep}"), Some(&admin)).await;
    assert_eq!(g.body["member_count"], 1);
}

async fn updates_merge_data_replace_permissions_and_move_parents_without_cycles(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let top = named(&app, &admin, "Top").await;
    let g = create(
        &app,
        &admin,
        json!({"name": "Mid", "description": "d", "parent_group_id": top, "permissions": {"chat": {"share": false}},
               "data": {"config": {"share": false}, "color": "red"}}),
    )
    .await;
    let mid = g["id"].as_str().expect("id").to_string();
    let low = create(&app, &admin, json!({"name": "Low", "description": "", "parent_group_id": mid})).await;
    let low = low["id"].as_str().expect("id").to_string();
    let update = |id: String, body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move { app.post(&format!("/api/v1/groups/id/{id}/update"), Some(&admin), body).await }
    };
    // Without `parent_group_id` the parent stays; data merges; permissions stay when not given.
    let u = update(
        mid.clone(),
        json!({"name": "Middle", "description": "", "data": {"config": {"default_models": ["m"]}}}),
    )
    .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(keys(&u.body), GROUP_FIELDS);
    assert_eq!(u.body["name"], "Middle");
    assert_eq!(u.body["parent_group_id"], top.as_str());
    assert_eq!(u.body["data"], json!({"config": {"share": false, "default_models": ["m"]}, "color": "red"}));
    assert_eq!(u.body["permissions"], json!({"chat": {"share": false}}));
    // Given permissions replace the stored ones.
    let u = update(
        mid.clone(),
        json!({"name": "Middle", "description": "", "permissions": {"sharing": {"models": true}}}),
    )
    .await;
    assert_eq!(u.body["permissions"], json!({"sharing": {"models": true}}));
    // A group cannot go under itself or under a group below it; nothing changes.
    for parent in [&mid, &low] {
        let c =
            update(mid.clone(), json!({"name": "Loop", "description": "", "parent_group_id": parent})).await;
        assert_eq!(
            (c.status, c.detail()),
            (StatusCode::BAD_REQUEST, "A group cannot be its own parent or a descendant of itself.")
        );
    }
    let c = update(mid.clone(), json!({"name": "Lost", "description": "", "parent_group_id": "nope"})).await;
    assert_eq!((c.status, c.detail()), (StatusCode::NOT_FOUND, "Parent group not found."));
    let now = app.get(&format!("/api/v1/groups/id/{mid}"), Some(&admin)).await;
    assert_eq!(
        (now.body["name"].clone(), now.body["parent_group_id"].clone()),
        (json!("Middle"), json!(top))
    );
    // `null` detaches; a group may go under another branch.
    let u = update(mid.clone(), json!({"name": "Middle", "description": "", "parent_group_id": null})).await;
    assert_eq!(u.body["parent_group_id"], Value::Null);
    let u = update(top.clone(), json!({"name": "Top", "description": "", "parent_group_id": low})).await;
    assert_eq!(u.body["parent_group_id"], low.as_str());
}

async fn non_admins_list_their_groups_and_the_groups_they_may_share_with(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let share = |v: Value| json!({"config": {"share": v}});
    let mine = create(&app, &admin, json!({"name": "Mine", "description": ""})).await;
    let mine = mine["id"].as_str().expect("id").to_string();
    let theirs = named(&app, &admin, "Theirs").await;
    let open =
        create(&app, &admin, json!({"name": "Open", "description": "", "data": share(json!(true))})).await;
    let open = open["id"].as_str().expect("id").to_string();
    let closed =
        create(&app, &admin, json!({"name": "Closed", "description": "", "data": share(json!(false))})).await;
    let closed = closed["id"].as_str().expect("id").to_string();
    let above = named(&app, &admin, "Above").await;
    app.post(
        &format!("/api/v1/groups/id/{mine}/update"),
        Some(&admin),
        json!({"name": "Mine", "description": "", "parent_group_id": above}),
    )
    .await;
    add(&app, &admin, &mine, &[&alice_id]).await;
    let list = |q: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let a = app.get(&format!("/api/v1/groups/{q}"), Some(&alice)).await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
            sorted(ids(&a.body))
        }
    };
    // Their group and the group above it.
    assert_eq!(list("").await, sorted(vec![mine.clone(), above.clone()]));
    // Groups anyone may share with, and members-only groups they belong to.
    assert_eq!(list("?share=true").await, sorted(vec![mine.clone(), above.clone(), open.clone()]));
    assert_eq!(list("?share=false").await, vec![closed.clone()]);
    let all = app.get("/api/v1/groups/?share=false", Some(&admin)).await;
    assert_eq!(ids(&all.body).len(), 5, "admins see every group");
    assert!(!list("?share=true").await.contains(&theirs));
    // The member count in a user's list is the direct one.
    let a = app.get("/api/v1/groups/", Some(&alice)).await;
    let mine_entry =
        a.body.as_array().expect("list").iter().find(|g| g["id"] == mine.as_str()).expect("mine").clone();
    assert_eq!(mine_entry["member_count"], 1);
    // Any verified user may read a group's public info.
    let info = app.get(&format!("/api/v1/groups/id/{theirs}/info"), Some(&alice)).await;
    assert_eq!((info.status, info.body["name"].clone()), (StatusCode::OK, json!("Theirs")));
    assert!(info.body.get("permissions").is_none() && info.body.get("data").is_none());
}

async fn user_group_routes_win_over_the_user_id_route(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let top = named(&app, &admin, "Top").await;
    let team = create(&app, &admin, json!({"name": "Team", "description": "", "parent_group_id": top})).await;
    let team_id = team["id"].as_str().expect("id").to_string();
    add(&app, &admin, &team_id, &[&alice_id]).await;
    // `/users/groups` is the caller's groups, not the user with id "groups".
    let mine = app.get("/api/v1/users/groups", Some(&alice)).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(ids(&mine.body), vec![team_id.clone()]);
    let mut model = team.clone();
    model.as_object_mut().expect("object").remove("member_count");
    model["updated_at"] = mine.body[0]["updated_at"].clone();
    assert_eq!(mine.body[0], model, "a GroupModel, without member_count or membership_type");
    let inherited = app.get("/api/v1/users/groups?include_inherited=true", Some(&alice)).await;
    let kinds: Vec<(String, String)> = inherited
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|g| (g["name"].as_str().expect("n").into(), g["membership_type"].as_str().expect("t").into()))
        .collect();
    assert_eq!(
        sorted(kinds.iter().map(|(n, t)| format!("{n}:{t}")).collect()),
        ["Team:direct", "Top:inherited"]
    );
    assert_eq!(app.get("/api/v1/users/groups", Some(&admin)).await.body, json!([]));
    // `/users/permissions` is the caller's tree, not a user.
    let perms = app.get("/api/v1/users/permissions", Some(&alice)).await;
    assert_eq!(perms.status, StatusCode::OK);
    assert_eq!(perms.body["chat"]["delete"], true);
    assert_eq!(perms.body["workspace"]["models"], false);
    // `/users/{user_id}/groups` for an admin; an unknown user has none.
    let hers = app.get(&format!("/api/v1/users/{alice_id}/groups"), Some(&admin)).await;
    assert_eq!(hers.body, mine.body);
    let hers = app.get(&format!("/api/v1/users/{alice_id}/groups?include_inherited=1"), Some(&admin)).await;
    assert_eq!(hers.body, inherited.body);
    assert_eq!(app.get("/api/v1/users/ghost/groups", Some(&admin)).await.body, json!([]));
    let refused = app.get(&format!("/api/v1/users/{admin_id}/groups"), Some(&alice)).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // The user route itself still answers.
    let one = app.get(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!((one.status, one.body["id"].clone()), (StatusCode::OK, json!(alice_id)));
}

async fn member_list_pages_and_marks_inherited_members(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let (_, carol) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    let top = named(&app, &admin, "Top").await;
    let sub = create(&app, &admin, json!({"name": "Sub", "description": "", "parent_group_id": top})).await;
    let sub = sub["id"].as_str().expect("id").to_string();
    add(&app, &admin, &top, &[&bob, &carol]).await;
    add(&app, &admin, &sub, &[&alice, &carol]).await;
    let members = |q: String| {
        let app = &app;
        let admin = admin.clone();
        let top = top.clone();
        async move {
            let a = app.get(&format!("/api/v1/groups/id/{top}/members{q}"), Some(&admin)).await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
            a.body
        }
    };
    let all = members(String::new()).await;
    assert_eq!(all["total"], 3);
    assert_eq!(all["counts"], json!({"direct": 2, "effective": 3, "inherited": 1}));
    let names: Vec<&str> =
        all["items"].as_array().expect("items").iter().map(|m| m["name"].as_str().expect("n")).collect();
    assert_eq!(names, ["Alice", "Bob", "Carol"]);
    assert_eq!(
        all["items"][0],
        json!({"status_emoji": null, "status_message": null, "status_expires_at": null, "id": alice,
               "name": "Alice", "email": "alice@example.com", "role": "user", "bio": null, "last_active_at": null,
               "timezone": null, "groups": [], "is_active": false, "membership_type": "inherited",
               "via_group_ids": [sub]})
    );
    assert_eq!(
        (all["items"][1]["membership_type"].clone(), all["items"][1]["via_group_ids"].clone()),
        (json!("direct"), json!([]))
    );
    assert_eq!(
        (all["items"][2]["membership_type"].clone(), all["items"][2]["via_group_ids"].clone()),
        (json!("direct"), json!([sub]))
    );
    let direct = members("?membership=direct".into()).await;
    assert_eq!(ids(&direct["items"]), [bob.clone(), carol.clone()]);
    let inherited = members("?membership=inherited".into()).await;
    assert_eq!((ids(&inherited["items"]), inherited["total"].clone()), (vec![alice.clone()], json!(1)));
    let search = members("?query=CAROL".into()).await;
    assert_eq!(ids(&search["items"]), vec![carol.clone()]);
    let escaped = members("?query=%25".into()).await;
    assert_eq!(escaped["total"], 0, "% is a character, not a wildcard");
    let page2 = members("?page=2".into()).await;
    assert_eq!((page2["items"].clone(), page2["total"].clone()), (json!([]), json!(3)));
    // Thirty per page.
    let mut many = Vec::new();
    for i in 0..30 {
        let body = json!({"name": format!("Zed {i:02}"), "email": format!("z{i}@example.com"),
                          "password": crate::helpers::PASSWORD, "role": "user"});
        let a = app.post("/api/v1/auths/add", Some(&admin), body).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        many.push(a.body["id"].as_str().expect("id").to_string());
    }
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(add(&app, &admin, &top, &many).await.body["member_count"], 32);
    let first = members(String::new()).await;
    assert_eq!((first["items"].as_array().expect("items").len(), first["total"].clone()), (30, json!(33)));
    let second = members("?page=2".into()).await;
    assert_eq!(second["items"].as_array().expect("items").len(), 3);
}

async fn a_group_grant_gives_its_members_access_to_a_model(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let top = named(&app, &admin, "Top").await;
    let readers =
        create(&app, &admin, json!({"name": "Readers", "description": "", "parent_group_id": top})).await;
    let readers = readers["id"].as_str().expect("id").to_string();
    let grant = |group: &str, permission: &str| json!({"principal_type": "group", "principal_id": group, "permission": permission});
    let body = json!({"id": "shared", "name": "Shared", "base_model_id": "base", "meta": {}, "params": {"system": "s"},
                      "access_grants": [grant(&readers, "read")]});
    let m = app.post("/api/v1/models/create", Some(&admin), body).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["access_grants"][0]["principal_type"], "group");
    let get = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/models/model?id=shared", Some(&token)).await }
    };
    // Not a member yet: no access.
    let before = get(alice.clone()).await;
    assert_eq!((before.status, before.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    add(&app, &admin, &readers, &[&alice_id]).await;
    let read = get(alice.clone()).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!((read.body["write_access"].clone(), read.body["params"].clone()), (json!(false), json!({})));
    let other = get(bob.clone()).await;
    assert_eq!((other.status, other.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // The lists agree: the workspace list, its tags and GraphQL show the model to the member only.
    let listed = |token: String| {
        let app = &app;
        async move {
            let list = app.get("/api/v1/models/list", Some(&token)).await;
            assert_eq!(list.status, StatusCode::OK, "{}", list.text);
            let ids: Vec<String> = list.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["id"].as_str().expect("id").to_string())
                .collect();
            let gql = app
                .post(
                    "/graphql",
                    Some(&token),
                    json!({"query": "{ models { totalCount edges { node { id } } } }"}),
                )
                .await;
            assert_eq!(gql.body["data"]["models"]["totalCount"], json!(ids.len()), "{}", gql.text);
            (ids, list.body["total"].clone())
        }
    };
    assert_eq!(listed(alice.clone()).await, (vec!["shared".to_string()], json!(1)));
    assert_eq!(listed(bob.clone()).await, (Vec::<String>::new(), json!(0)));
    // Read access is not write access.
    let change =
        json!({"id": "shared", "name": "Mine now", "base_model_id": "base", "meta": {}, "params": {}});
    let refused = app.post("/api/v1/models/model/update", Some(&alice), change.clone()).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::BAD_REQUEST, ACCESS_PROHIBITED));
    // A write grant to the group above reaches the member of the group below.
    let g = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin),
            json!({"id": "shared", "access_grants": [grant(&readers, "read"), grant(&top, "write")]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let write = get(alice.clone()).await;
    assert_eq!(
        (write.body["write_access"].clone(), write.body["params"].clone()),
        (json!(true), json!({"system": "s"}))
    );
    let u = app.post("/api/v1/models/model/update", Some(&alice), change).await;
    assert_eq!((u.status, u.body["name"].clone()), (StatusCode::OK, json!("Mine now")));
    // Leaving the group ends the access.
    remove(&app, &admin, &readers, &[&alice_id]).await;
    let after = get(alice.clone()).await;
    assert_eq!((after.status, after.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // Grants must name an existing group.
    let bad = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin),
            json!({"id": "shared", "access_grants": [grant("ghost", "read")]}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.detail()),
        (StatusCode::BAD_REQUEST, "An access grant names a group that does not exist: ghost")
    );
    assert_eq!(
        app.scalar_count("select count(*) from access_grants where resource_id = $1", "shared").await,
        2
    );
}

async fn group_permissions_merge_into_the_users_permissions_and_are_obeyed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    let perms = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/users/permissions", Some(&token)).await.body }
    };
    let defaults = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    assert_eq!(perms(alice.clone()).await, defaults, "without groups: the default tree");
    let preset = |id: &str| json!({"id": id, "name": id, "base_model_id": "base", "meta": {}, "params": {}});
    let refused = app.post("/api/v1/models/create", Some(&alice), preset("p0")).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));

    // A group above Alice's allows creating models; hers allows sharing them (and tries to take
    // `chat.delete` away, which a group cannot do).
    let top = create(
        &app,
        &admin,
        json!({"name": "Makers", "description": "", "permissions": {"workspace": {"models": true}}}),
    )
    .await;
    let top = top["id"].as_str().expect("id").to_string();
    let sharers = create(
        &app,
        &admin,
        json!({"name": "Sharers", "description": "", "parent_group_id": top,
               "permissions": {"sharing": {"models": true}, "chat": {"delete": false}}}),
    )
    .await;
    let sharers = sharers["id"].as_str().expect("id").to_string();
    add(&app, &admin, &sharers, &[&alice_id]).await;
    let mine = perms(alice.clone()).await;
    let mut expected = defaults.clone();
    expected["workspace"]["models"] = json!(true);
    expected["sharing"]["models"] = json!(true);
    assert_eq!(mine, expected);
    assert_eq!(perms(admin.clone()).await, defaults, "others keep the defaults");

    let m = app.post("/api/v1/models/create", Some(&alice), preset("p1")).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let share = json!({"id": "p1", "access_grants": [{"principal_type": "user", "principal_id": bob_id, "permission": "read"}]});
    let s = app.post("/api/v1/models/model/access/update", Some(&alice), share.clone()).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(s.body["access_grants"][0]["principal_id"], bob_id.as_str());
    // Sharing with every user still needs `sharing.public_models`.
    let public = json!({"id": "p1", "access_grants": [{"principal_type": "user", "principal_id": "*", "permission": "read"}]});
    let p = app.post("/api/v1/models/model/access/update", Some(&alice), public).await;
    assert_eq!((p.status, p.detail()), (StatusCode::FORBIDDEN, SHARING));

    // Out of the group, the defaults rule again.
    remove(&app, &admin, &sharers, &[&alice_id]).await;
    assert_eq!(perms(alice.clone()).await, defaults);
    let s = app.post("/api/v1/models/model/access/update", Some(&alice), share).await;
    assert_eq!((s.status, s.detail()), (StatusCode::FORBIDDEN, SHARING));
    let refused = app.post("/api/v1/models/create", Some(&alice), preset("p2")).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
}

async fn preview_shows_what_members_reach_and_the_permission_layers(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let top = create(
        &app,
        &admin,
        json!({"name": "Top", "description": "", "permissions": {"workspace": {"models": true}},
               "data": {"config": {"default_models": ["top-model"]}}}),
    )
    .await;
    let top = top["id"].as_str().expect("id").to_string();
    let low = create(
        &app,
        &admin,
        json!({"name": "Low", "description": "", "parent_group_id": top, "permissions": {"sharing": {"models": true}}}),
    )
    .await;
    let low = low["id"].as_str().expect("id").to_string();
    let other = named(&app, &admin, "Other").await;
    let model = |id: &str, grants: Value| json!({"id": id, "name": id.to_uppercase(), "base_model_id": "base", "meta": {}, "params": {}, "access_grants": grants});
    let read = |kind: &str, principal: &str| json!([{"principal_type": kind, "principal_id": principal, "permission": "read"}]);
    for (id, grants) in [
        ("via-top", read("group", &top)),
        ("via-low", read("group", &low)),
        ("via-other", read("group", &other)),
        ("public", read("user", "*")),
        ("private", json!([])),
    ] {
        let a = app.post("/api/v1/models/create", Some(&admin), model(id, grants)).await;
        assert_eq!(a.status, StatusCode::OK, "{id}: {}", a.text);
    }
    let p = app.get(&format!("/api/v1/groups/id/{low}/preview"), Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["group"], json!({"id": low, "name": "Low"}));
    assert_eq!(
        p.body["default_models"],
        json!({"local": null, "effective": ["top-model"], "source_group_id": top})
    );
    let mut reached: Vec<String> = p.body["models"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["id"].as_str().expect("id").into())
        .collect();
    reached.sort();
    assert_eq!(reached, ["public", "via-low", "via-top"]);
    assert_eq!(p.body["models"]["total"], 5);
    assert_eq!(p.body["models"]["items"][0].as_object().expect("item").len(), 2);
    assert_eq!(p.body["knowledge"], json!({"items": [], "total": 0}));
    assert_eq!(p.body["tools"], json!({"items": [], "total": 0}));
    assert_eq!(p.body["permissions"], json!({"sharing": {"models": true}}));
    assert_eq!(p.body["inherited_permissions"]["workspace"]["models"], true);
    assert_eq!(p.body["inherited_permissions"]["sharing"]["models"], false);
    assert_eq!(p.body["effective_permissions"]["workspace"]["models"], true);
    assert_eq!(p.body["effective_permissions"]["sharing"]["models"], true);
    // An inactive model is not reached, and counts no more.
    app.send("POST", "/api/v1/models/model/toggle?id=via-low", Some(&admin), None).await;
    let p = app.get(&format!("/api/v1/groups/id/{low}/preview"), Some(&admin)).await;
    assert_eq!(p.body["models"]["total"], 4);
    assert_eq!(p.body["models"]["items"].as_array().expect("items").len(), 2);
    // The top group's own view: its local default models.
    let t = app.get(&format!("/api/v1/groups/id/{top}/preview"), Some(&admin)).await;
    assert_eq!(
        t.body["default_models"],
        json!({"local": ["top-model"], "effective": ["top-model"], "source_group_id": top})
    );
    assert_eq!(t.body["inherited_permissions"]["workspace"]["models"], false);
}

async fn long_searches_and_long_user_lists_are_bounded_or_batched(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let id = named(&app, &admin, "Big").await;
    let long = "a".repeat(1001);
    let a = app.get(&format!("/api/v1/groups/id/{id}/members?query={long}"), Some(&admin)).await;
    assert_eq!(
        (a.status, a.body.clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "string_too_long", "loc": ["query", "query"],
                               "msg": "String should have at most 1000 characters", "input": long,
                               "ctx": {"max_length": 1000}}]})
        )
    );
    let nul =
        app.post("/api/v1/groups/create", Some(&admin), json!({"name": "a\u{0}b", "description": ""})).await;
    assert_eq!(
        (nul.status, nul.body["detail"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "name"]))
    );
    // More users than one statement binds: 600 rows added in batches, with 1,400 unknown ids.
    let mut users: Vec<String> = Vec::new();
    for i in 0..600 {
        let uid = format!("bulk-{i:04}");
        app.exec(
            "insert into users (id, email, name, last_active_at, updated_at, created_at) values ($1, $2, $3, 0, 0, 0)",
            &[&uid, &format!("{uid}@example.com"), &uid],
        )
        .await;
        users.push(uid);
    }
    let mut wanted: Vec<String> = (0..1400).map(|i| format!("ghost-{i}")).collect();
    wanted.extend(users.iter().cloned());
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let a = add(&app, &admin, &id, &wanted).await;
    assert_eq!((a.status, a.body["member_count"].clone()), (StatusCode::OK, json!(600)), "{}", a.text);
    assert_eq!(memberships(&app, &id).await, 600);
    let page = app.get(&format!("/api/v1/groups/id/{id}/members?page=20"), Some(&admin)).await;
    assert_eq!(
        (page.body["total"].clone(), page.body["items"].as_array().map(Vec::len)),
        (json!(600), Some(30))
    );
    let r = remove(&app, &admin, &id, &wanted).await;
    assert_eq!((r.status, r.body["member_count"].clone()), (StatusCode::OK, json!(0)));
    assert_eq!(memberships(&app, &id).await, 0);
}

/// The session answers (`GET /auths/`, sign-in) and the API-key gate read the group-merged tree;
/// with the session cache on for a minute, joining or leaving a group shows in the next answer.
/// A user in no group pays no statement for it.
async fn sessions_and_api_keys_carry_group_permissions_through_the_session_cache(b: Backend) {
    let caches = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000")];
    let Some(app) = TestApp::spawn_with(b, &caches).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let session_perm = |token: String| {
        let app = &app;
        async move {
            let a = app.get("/api/v1/auths/", Some(&token)).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
            a.body["permissions"]["features"]["api_keys"].clone()
        }
    };
    assert_eq!(session_perm(alice.clone()).await, json!(false));
    let before = app.db.statement_count();
    session_perm(alice.clone()).await;
    assert_eq!(app.db.statement_count() - before, 0, "a cached session of a user in no group");
    let refused = app.post("/api/v1/auths/api_key", Some(&alice), json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    let g = create(
        &app,
        &admin,
        json!({"name": "Keyholders", "description": "", "permissions": {"features": {"api_keys": true}}}),
    )
    .await;
    let g = g["id"].as_str().expect("id").to_string();
    assert_eq!(add(&app, &admin, &g, &[&alice_id]).await.status, StatusCode::OK);
    assert_eq!(session_perm(alice.clone()).await, json!(true), "joining shows at once");
    let signin = app.signin("alice@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(signin.body["permissions"]["features"]["api_keys"], json!(true), "{}", signin.text);
    let before = app.db.statement_count();
    session_perm(alice.clone()).await;
    assert_eq!(app.db.statement_count() - before, 1, "a grouped user: the group tree only");

    let created = app.post("/api/v1/auths/api_key", Some(&alice), json!({})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let key = created.body["api_key"].as_str().expect("key").to_string();
    let used = app.get("/api/v1/chats/", Some(&key)).await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.text);

    // Leaving the group: the session and the key lose the permission at once.
    assert_eq!(remove(&app, &admin, &g, &[&alice_id]).await.status, StatusCode::OK);
    assert_eq!(session_perm(alice.clone()).await, json!(false), "leaving shows at once");
    let used = app.get("/api/v1/chats/", Some(&key)).await;
    assert_eq!(
        (used.status, used.detail()),
        (StatusCode::FORBIDDEN, "Use of API key is not enabled in the environment.")
    );
    // Deleting a group also ends what it gave.
    assert_eq!(add(&app, &admin, &g, &[&alice_id]).await.status, StatusCode::OK);
    assert_eq!(session_perm(alice.clone()).await, json!(true));
    let d = app.delete(&format!("/api/v1/groups/id/{g}/delete"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(session_perm(alice.clone()).await, json!(false), "a deleted group gives nothing");
}

/// `/users/` gives each user's direct group ids, `/users/{id}` and `/users/{id}/info` their
/// direct groups as `{id, name}`, the preview their direct and inherited groups; with
/// `DEFAULT_GROUP_ID` set, sign-up and admin-added accounts join that group (a deleted default
/// group is skipped, the account still made).
async fn user_answers_name_their_groups_and_new_accounts_join_the_default_group(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let top = named(&app, &admin, "Top").await;
    let low = create(&app, &admin, json!({"name": "Low", "description": "", "parent_group_id": top})).await;
    let low = low["id"].as_str().expect("id").to_string();
    assert_eq!(add(&app, &admin, &low, &[&alice_id]).await.status, StatusCode::OK);

    let list = app.get("/api/v1/users/", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let users = list.body["users"].as_array().expect("users");
    let of = |id: &str| users.iter().find(|u| u["id"] == id).expect("listed")["group_ids"].clone();
    assert_eq!(of(&alice_id), json!([low]), "direct groups only");
    assert_eq!(of(&admin_id), json!([]));
    let one = app.get(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!(one.body["groups"], json!([{"id": low, "name": "Low"}]), "{}", one.text);
    let info = app.get(&format!("/api/v1/users/{alice_id}/info"), Some(&alice)).await;
    assert_eq!(info.body["groups"], json!([{"id": low, "name": "Low"}]), "{}", info.text);
    let preview = app.get(&format!("/api/v1/users/{alice_id}/preview"), Some(&admin)).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    let mut names: Vec<&str> = preview.body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(names, ["Low", "Top"], "the preview counts inherited groups");

    // The default group.
    app.set_admin_config(&admin, json!({"DEFAULT_GROUP_ID": top, "ENABLE_SIGNUP": true})).await;
    let bob = app.signup("Bob", "bob@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text);
    let bob_id = bob.body["id"].as_str().expect("id").to_string();
    assert_eq!(memberships_of(&app, &bob_id).await, 1);
    let (_, carol_id) = app.user(&admin, "Carol", "carol@example.com", "user").await;
    assert_eq!(memberships_of(&app, &carol_id).await, 1);
    let members = app.post(&format!("/api/v1/groups/id/{top}/users"), Some(&admin), json!({})).await;
    assert!(members.text.contains(&bob_id) && members.text.contains(&carol_id), "{}", members.text);
    let d = app.delete(&format!("/api/v1/groups/id/{top}/delete"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let dave = app.signup("Dave", "dave@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(dave.status, StatusCode::OK, "a deleted default group is skipped: {}", dave.text);
    assert_eq!(memberships_of(&app, dave.body["id"].as_str().expect("id")).await, 0);
}

/// `DEFAULT_GROUP_SHARE_PERMISSION` is what a new group's `data.config.share` says when the
/// request does not; a given value wins.
async fn new_groups_take_the_configured_default_share(b: Backend) {
    for (env, expected) in [("members", json!("members")), ("TRUE", json!(true)), ("nobody", json!(false))] {
        let Some(app) = TestApp::spawn_with(b, &[("DEFAULT_GROUP_SHARE_PERMISSION", env)]).await else {
            return;
        };
        let (admin, _) = app.admin().await;
        let g = create(&app, &admin, json!({"name": "G", "description": ""})).await;
        assert_eq!(g["data"]["config"]["share"], expected, "{env}");
        let given = create(
            &app,
            &admin,
            json!({"name": "H", "description": "", "data": {"config": {"share": "members"}}}),
        )
        .await;
        assert_eq!(given["data"]["config"]["share"], json!("members"), "{env}");
    }
}
