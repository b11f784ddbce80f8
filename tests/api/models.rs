//! `/api/v1/models` (workspace models: create, read, update, toggle, delete, access grants, the
//! paged list, tag lists, export/import) and the chat model list `GET /api/models`, merged from
//! small OpenAI and Ollama servers started by the tests (including ones that hang, answer HTML,
//! broken JSON or 500).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Answer, Backend, TestApp};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const NOT_FOUND: &str = "We could not find what you're looking for :/";
const UNAUTHORIZED: &str = "401 Unauthorized";
const MODEL_ID_TAKEN: &str =
    "Uh-oh! This model id is already registered. Please choose another model id string.";
const MODEL_ID_TOO_LONG: &str =
    "The model id is too long. Please make sure your model id is less than 256 characters long.";
const SHARING: &str = "You do not have permission to share with the requested audience";

/// Every field of the reference's `ModelModel`.
const MODEL_FIELDS: &[&str] = &[
    "version_id",
    "id",
    "user_id",
    "base_model_id",
    "name",
    "params",
    "meta",
    "access_grants",
    "is_active",
    "updated_at",
    "created_at",
];

/// `ModelMeta` as the reference answers it when only a description and tags were sent.
fn meta_with(description: &str, tags: Value) -> Value {
    json!({
        "profile_image_url": null, "background_image_url": null, "description": description, "i18n": null,
        "capabilities": null, "knowledge": null, "voice": null, "voice_avatar": null, "tags": tags
    })
}

backend_tests!(
    create_answers_the_model_as_the_reference_and_stores_it,
    create_with_a_taken_id_is_401_model_id_taken,
    create_body_errors_are_422_in_fastapi_shape,
    id_longer_than_256_characters_is_400_model_id_too_long,
    model_based_on_itself_is_stored_without_a_base,
    create_needs_the_workspace_models_permission,
    user_with_permission_creates_presets_only,
    routes_need_a_verified_user_and_admin_routes_an_admin,
    get_model_answers_the_access_response_and_hides_others,
    read_grant_shows_the_model_without_params_and_allows_no_change,
    write_grant_allows_update_toggle_and_delete,
    public_read_grant_reaches_every_user,
    update_replaces_meta_and_params_and_keeps_omitted_fields,
    update_ignores_grants_and_versions_only_real_changes,
    owner_without_admin_cannot_clear_the_base_model,
    unknown_ids_are_401_not_found_on_update_toggle_and_delete,
    toggle_flips_is_active,
    delete_removes_the_model_its_grants_and_history,
    deleting_a_user_removes_grants_naming_them_and_keeps_their_models,
    access_update_replaces_grants_and_refuses_unknown_principals,
    access_update_creates_a_row_for_an_upstream_model,
    sharing_permissions_filter_create_and_refuse_access_updates,
    list_pages_thirty_presets_with_owner_and_write_access,
    list_filters_by_query_tag_view_and_orders,
    list_shows_users_their_own_and_readable_models_only,
    tags_and_base_lists,
    export_and_import_round_trip,
    import_respects_permissions_and_ownership,
    delete_all_is_admin_only_and_empties_the_tables,
    chat_list_is_empty_without_upstream_models,
    chat_list_merges_upstreams_with_overrides_and_presets,
    chat_list_hides_models_users_cannot_read,
    users_cannot_take_upstream_model_ids,
    chat_list_answers_within_the_timeout_when_providers_hang_or_fail,
    stale_list_is_served_while_one_background_fetch_replaces_it,
    concurrent_first_requests_share_one_fetch,
);

// ---- helpers ----

/// No upstream provider is configured (nothing leaves the test machine).
const NO_UPSTREAM: &[(&str, &str)] = &[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")];

async fn spawn(b: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let env: Vec<(&str, &str)> = NO_UPSTREAM.iter().chain(extra).copied().collect();
    TestApp::spawn_with(b, &env).await
}

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

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("array: {list}"))
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// A preset body (`base_model_id` set).
fn preset(id: &str, base: &str) -> Value {
    json!({"id": id, "name": format!("Model {id}"), "base_model_id": base, "meta": {}, "params": {}})
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let a = app.post("/api/v1/models/create", Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "create: {}", a.text);
    a.body
}

async fn model(app: &TestApp, token: &str, id: &str) -> Answer {
    app.get(&format!("/api/v1/models/model?id={id}"), Some(token)).await
}

async fn grant(app: &TestApp, token: &str, id: &str, grants: Value) -> Answer {
    app.post("/api/v1/models/model/access/update", Some(token), json!({"id": id, "access_grants": grants}))
        .await
}

fn read_by(user_id: &str) -> Value {
    json!({"principal_type": "user", "principal_id": user_id, "permission": "read"})
}

fn write_by(user_id: &str) -> Value {
    json!({"principal_type": "user", "principal_id": user_id, "permission": "write"})
}

async fn count(app: &TestApp, sql: &'static str, id: &str) -> i64 {
    app.scalar_count(sql, id).await
}

async fn model_rows(app: &TestApp, id: &str) -> i64 {
    count(app, "select count(*) from models where id = $1", id).await
}

/// Sets permissions in the stored default tree (`[("workspace", "models", true)]`).
async fn set_permissions(app: &TestApp, admin: &str, changes: &[(&str, &str, bool)]) {
    let mut tree = app.get("/api/v1/users/default/permissions", Some(admin)).await.body;
    for (section, key, value) in changes {
        tree[*section][*key] = json!(value);
    }
    let a = app.post("/api/v1/users/default/permissions", Some(admin), tree).await;
    assert_eq!(a.status, StatusCode::OK, "permissions: {}", a.text);
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let a = app.get(&format!("/api/v1/models/list{query}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "list{query}: {}", a.text);
    a.body
}

fn item_ids(page: &Value) -> Vec<String> {
    ids_of(&page["items"])
}

async fn chat_list(app: &TestApp, token: &str) -> Value {
    let a = app.get("/api/models", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "/api/models: {}", a.text);
    a.body["data"].clone()
}

// ---- a fake provider ----

/// What a fake provider answers.
#[derive(Clone)]
enum Reply {
    Json(Value),
    /// Status, content type, body.
    Raw(u16, &'static str, &'static str),
    /// Accepts the request and never answers.
    Hang,
    /// Answers after a delay.
    Slow(Duration, Value),
}

/// `(path, Authorization header)` of one request a fake provider received.
type Seen = (String, Option<String>);

#[derive(Clone)]
struct FakeState {
    reply: Arc<Mutex<Reply>>,
    hits: Arc<AtomicUsize>,
    /// `(path, authorization header)` of every request.
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A model-list server on 127.0.0.1.
struct Fake {
    addr: std::net::SocketAddr,
    state: FakeState,
}

async fn fake_handler(State(s): State<FakeState>, req: Request) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    s.seen.lock().expect("seen").push((req.uri().path().to_string(), auth));
    let reply = s.reply.lock().expect("reply").clone();
    match reply {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Raw(status, content_type, body) => {
            let mut r = (axum::http::StatusCode::from_u16(status).expect("status"), body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "late".into_response()
        }
        Reply::Slow(delay, v) => {
            tokio::time::sleep(delay).await;
            axum::Json(v).into_response()
        }
    }
}

impl Fake {
    async fn start(reply: Reply) -> Fake {
        let state = FakeState {
            reply: Arc::new(Mutex::new(reply)),
            hits: Arc::new(AtomicUsize::new(0)),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let router = axum::Router::new().fallback(fake_handler).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Fake { addr, state }
    }

    /// An OpenAI-style base URL.
    fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn set(&self, reply: Reply) {
        *self.state.reply.lock().expect("reply") = reply;
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("seen").clone()
    }
}

fn openai_models(ids: &[&str]) -> Value {
    json!({"object": "list", "data": ids.iter().map(|id| json!({"id": id, "object": "model", "created": 1, "owned_by": "system"})).collect::<Vec<_>>()})
}

fn ollama_models(names: &[&str]) -> Value {
    json!({"models": names.iter().map(|n| json!({"name": n, "model": n, "size": 42, "details": {"family": "llama"}})).collect::<Vec<_>>()})
}

/// Sends `count` concurrent `GET /api/models` and returns each answer's ids with the time the
/// whole burst took.
async fn burst(app: &TestApp, token: &str, count: usize) -> (Vec<Vec<String>>, Duration) {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..count {
        let req = app.client.get(app.url("/api/models")).bearer_auth(token);
        set.spawn(async move {
            let res = req.send().await.expect("request");
            assert_eq!(res.status(), StatusCode::OK);
            let body: Value = res.json().await.expect("json");
            ids_of(&body["data"])
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    (out, started.elapsed())
}

// ---- create ----

async fn create_answers_the_model_as_the_reference_and_stores_it(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let before = now();
    // The transcript's "Admin creates a model".
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "anchor-model", "name": "Anchor Model", "base_model_id": null,
                   "meta": {"description": "A test model", "tags": [{"name": "test"}]}, "params": {"temperature": 0.5}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(keys(&a.body), sorted(MODEL_FIELDS), "{}", a.text);
    assert_eq!(a.body["id"], "anchor-model");
    assert_eq!(a.body["user_id"], admin_id.as_str());
    assert_eq!(a.body["base_model_id"], Value::Null);
    assert_eq!(a.body["name"], "Anchor Model");
    assert_eq!(a.body["params"], json!({"temperature": 0.5}));
    assert_eq!(a.body["meta"], meta_with("A test model", json!([{"name": "test"}])));
    let meta_keys: Vec<&String> = a.body["meta"].as_object().expect("meta").keys().collect();
    assert_eq!(meta_keys[0], "profile_image_url", "declared meta fields come first");
    assert_eq!(meta_keys[8], "tags");
    assert_eq!(a.body["access_grants"], json!([]));
    assert_eq!(a.body["is_active"], json!(true));
    let version = a.body["version_id"].as_str().expect("version_id");
    assert_eq!(version.len(), 36, "a UUID: {version}");
    let created = a.body["created_at"].as_i64().expect("created_at");
    assert!((created - before).abs() <= 5, "created_at {created} vs {before}");
    assert_eq!(a.body["updated_at"], json!(created));

    assert_eq!(model_rows(&app, "anchor-model").await, 1);
    assert_eq!(
        app.scalar_text("select user_id from models where id = $1", "anchor-model").await.as_deref(),
        Some(admin_id.as_str())
    );
    assert_eq!(
        app.scalar_text("select version_id from models where id = $1", "anchor-model").await.as_deref(),
        Some(version)
    );
    assert_eq!(
        count(&app, "select count(*) from model_history where model_id = $1", "anchor-model").await,
        1
    );
    // Tags given as strings are normalised; unknown meta keys are kept; a bad profile image URL
    // is dropped silently.
    let t = create(
        &app,
        &admin,
        json!({"id": "tagged", "name": "T", "meta": {"tags": ["a", " b ", ""], "toolIds": ["x"],
               "profile_image_url": "javascript:alert(1)"}, "params": {}, "is_active": false, "extra": 1}),
    )
    .await;
    assert_eq!(t["meta"]["tags"], json!([{"name": "a"}, {"name": "b"}]));
    assert_eq!(t["meta"]["toolIds"], json!(["x"]));
    assert_eq!(t["meta"]["profile_image_url"], Value::Null);
    assert_eq!(t["is_active"], json!(false));
}

async fn create_with_a_taken_id_is_401_model_id_taken(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let body = json!({"id": "anchor-model", "name": "Anchor Model", "base_model_id": null,
                      "meta": {"description": "A test model"}, "params": {"temperature": 0.5}});
    create(&app, &admin, body.clone()).await;
    let again = app.post("/api/v1/models/create", Some(&admin), body).await;
    assert_eq!((again.status, again.detail()), (StatusCode::UNAUTHORIZED, MODEL_ID_TAKEN));
    assert_eq!(again.body, json!({"detail": MODEL_ID_TAKEN}));
    assert_eq!(model_rows(&app, "anchor-model").await, 1);
    assert_eq!(
        count(&app, "select count(*) from model_history where model_id = $1", "anchor-model").await,
        1
    );
}

async fn create_body_errors_are_422_in_fastapi_shape(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    // The transcript's "Id with whitespace".
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "bad id", "name": "x", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"detail": [{"type": "string_pattern_mismatch", "loc": ["body", "id"],
               "msg": "String should match pattern '^\\S+$'", "input": "bad id", "ctx": {"pattern": "^\\S+$"}}]})
    );
    // meta and params of the wrong type.
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "m", "name": "x", "meta": "x", "params": [1]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"detail": [
            {"type": "model_type", "loc": ["body", "meta"], "msg": "Input should be a valid dictionary or instance of ModelMeta",
             "input": "x", "ctx": {"class_name": "ModelMeta"}},
            {"type": "model_type", "loc": ["body", "params"], "msg": "Input should be a valid dictionary or instance of ModelParams",
             "input": [1], "ctx": {"class_name": "ModelParams"}}]})
    );
    // Missing fields, in the form's order.
    let a = app.post("/api/v1/models/create", Some(&admin), json!({})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let locs: Vec<Value> =
        a.body["detail"].as_array().expect("list").iter().map(|e| e["loc"].clone()).collect();
    assert_eq!(
        locs,
        vec![
            json!(["body", "id"]),
            json!(["body", "name"]),
            json!(["body", "meta"]),
            json!(["body", "params"])
        ]
    );
    assert!(
        a.body["detail"]
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["type"] == "missing" && e["msg"] == "Field required")
    );
    // Nested fields of meta, grants and the flag.
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "m", "name": "x", "meta": {"description": 3, "capabilities": "x", "background_image_url": "/x.png"},
                   "params": {}, "access_grants": {"a": 1}, "is_active": "maybe"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(
        a.body["detail"],
        json!([
            {"type": "value_error", "loc": ["body", "meta", "background_image_url"],
             "msg": "Value error, Invalid background image URL: must reference an internal file.", "input": "/x.png",
             "ctx": {"error": "Invalid background image URL: must reference an internal file."}},
            {"type": "string_type", "loc": ["body", "meta", "description"], "msg": "Input should be a valid string", "input": 3},
            {"type": "dict_type", "loc": ["body", "meta", "capabilities"], "msg": "Input should be a valid dictionary", "input": "x"},
            {"type": "list_type", "loc": ["body", "access_grants"], "msg": "Input should be a valid list", "input": {"a": 1}},
            {"type": "bool_parsing", "loc": ["body", "is_active"],
             "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"}
        ])
    );
    // Broken model controls.
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "m", "name": "x", "meta": {}, "params": {"model_controls": {"effort": {"display": "slider", "label": "E",
                   "options": {"low": {"label": "Low", "params": {}}}}}}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["loc"], json!(["body", "params", "model_controls", "effort"]));
    assert_eq!(a.body["detail"][0]["msg"], "Value error, A slider needs at least two options.");
    // A body that is not an object, and one that is not JSON.
    let a = app.post("/api/v1/models/create", Some(&admin), json!([1])).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["type"], "model_attributes_type");
    let bearer = format!("Bearer {admin}");
    let a = app
        .raw(
            "POST",
            "/api/v1/models/create",
            &[("authorization", &bearer), ("content-type", "application/json")],
            Some("{"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["detail"][0]["type"], "json_invalid");
    assert_eq!(count(&app, "select count(*) from models where id <> $1", "").await, 0);
}

async fn id_longer_than_256_characters_is_400_model_id_too_long(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let long = "m".repeat(257);
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": long, "name": "x", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, MODEL_ID_TOO_LONG));
    assert_eq!(model_rows(&app, &long).await, 0);
    let fits = "m".repeat(256);
    create(&app, &admin, json!({"id": fits, "name": "x", "meta": {}, "params": {}})).await;
    assert_eq!(model_rows(&app, &fits).await, 1);
    // Ids may carry slashes and colons (the id travels in the query string).
    create(&app, &admin, json!({"id": "org/model:7b", "name": "x", "meta": {}, "params": {}})).await;
    let m = model(&app, &admin, "org%2Fmodel%3A7b").await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["id"], "org/model:7b");
}

async fn model_based_on_itself_is_stored_without_a_base(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let m = create(&app, &admin, preset("loop", "loop")).await;
    assert_eq!(m["base_model_id"], Value::Null);
    assert_eq!(
        count(&app, "select count(*) from models where id = $1 and base_model_id is null", "loop").await,
        1
    );
    // The same on update.
    create(&app, &admin, preset("p", "base")).await;
    let u = app.post("/api/v1/models/model/update", Some(&admin), preset("p", "p")).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["base_model_id"], Value::Null);
}

async fn create_needs_the_workspace_models_permission(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    // The transcript's "User creates a model (no workspace.models permission)".
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&alice),
            json!({"id": "alice-model", "name": "x", "base_model_id": "anchor-model", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": UNAUTHORIZED})));
    assert_eq!(model_rows(&app, "alice-model").await, 0);
    // The permission is checked before the id.
    let long = app.post("/api/v1/models/create", Some(&alice), preset(&"x".repeat(300), "b")).await;
    assert_eq!((long.status, long.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));

    set_permissions(&app, &admin, &[("workspace", "models", true)]).await;
    let m = create(&app, &alice, preset("alice-model", "anchor-model")).await;
    assert_eq!(m["user_id"], alice_id.as_str());
    assert_eq!(m["base_model_id"], "anchor-model");
    // Switched off again: refused again.
    set_permissions(&app, &admin, &[("workspace", "models", false)]).await;
    let a = app.post("/api/v1/models/create", Some(&alice), preset("alice-2", "anchor-model")).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
}

async fn user_with_permission_creates_presets_only(b: Backend) {
    let Some(app) = spawn(b, &[("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    // Without a base model a user would be overriding an upstream model: 401.
    let a = app
        .post(
            "/api/v1/models/create",
            Some(&alice),
            json!({"id": "raw", "name": "x", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    let a = app.post("/api/v1/models/create", Some(&alice), preset("self", "self")).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED), "based on itself = no base");
    // A knowledge file reference a user cannot read (duet stores no files yet).
    let mut with_file = preset("with-file", "base");
    with_file["meta"] = json!({"knowledge": [{"type": "file", "id": "f1"}]});
    let a = app.post("/api/v1/models/create", Some(&alice), with_file).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED));
    // A background image naming a file nobody can read.
    let mut bg = preset("bg", "base");
    bg["meta"] =
        json!({"background_image_url": "/api/v1/files/0123abcd-0000-4000-8000-00000000abcd/content"});
    let a = app.post("/api/v1/models/create", Some(&admin), bg).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, "Background image is not accessible."));
    create(&app, &alice, preset("fine", "base")).await;
    assert_eq!(count(&app, "select count(*) from models where id <> $1", "fine").await, 0);
}

async fn routes_need_a_verified_user_and_admin_routes_an_admin(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(&app, &admin, preset("p", "base")).await;
    let gets = [
        "/api/v1/models/list",
        "/api/v1/models/tags",
        "/api/v1/models/model?id=p",
        "/api/v1/models/export",
        "/api/models",
        "/api/v1/models",
    ];
    for path in gets {
        let none = app.get(path, None).await;
        assert_eq!((none.status, none.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"), "{path}");
        let p = app.get(path, Some(&pending)).await;
        assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}");
    }
    let posts = [
        ("/api/v1/models/create", preset("q", "base")),
        ("/api/v1/models/model/update", preset("p", "base")),
        ("/api/v1/models/model/delete", json!({"id": "p"})),
        ("/api/v1/models/model/access/update", json!({"id": "p", "access_grants": []})),
        ("/api/v1/models/import", json!({"models": []})),
    ];
    for (path, body) in &posts {
        let p = app.post(path, Some(&pending), body.clone()).await;
        assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}");
    }
    let t = app.send("POST", "/api/v1/models/model/toggle?id=p", Some(&pending), None).await;
    assert_eq!((t.status, t.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // The transcript's "All model records (user → admin only)", and the other admin routes.
    for path in ["/api/v1/models/all", "/api/v1/models/base", "/api/v1/models/base/tags", "/api/models/base"]
    {
        let u = app.get(path, Some(&alice)).await;
        assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED), "{path}");
    }
    let d = app.delete("/api/v1/models/delete/all", Some(&alice)).await;
    assert_eq!((d.status, d.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    assert_eq!(model_rows(&app, "p").await, 1);
    assert_eq!(model_rows(&app, "q").await, 0);
    // A missing `id` query parameter is 422 in FastAPI's shape.
    let m = app.get("/api/v1/models/model", Some(&admin)).await;
    assert_eq!(m.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", m.text);
    assert_eq!(
        m.body,
        json!({"detail": [{"type": "missing", "loc": ["query", "id"], "msg": "Field required", "input": null}]})
    );
}

// ---- read, update, toggle, delete ----

async fn get_model_answers_the_access_response_and_hides_others(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let created = create(
        &app,
        &admin,
        json!({"id": "anchor-model", "name": "Anchor Model", "base_model_id": null,
               "meta": {"description": "A test model", "tags": [{"name": "test"}]}, "params": {"temperature": 0.5}}),
    )
    .await;
    // The transcript's "Model by id (admin)": the model, `user: null`, `write_access: true`.
    let a = model(&app, &admin, "anchor-model").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let mut expected = created.clone();
    expected["user"] = Value::Null;
    expected["write_access"] = json!(true);
    assert_eq!(a.body, expected);
    // "Model by id (user, no grant)".
    let u = model(&app, &alice, "anchor-model").await;
    assert_eq!((u.status, u.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": ACCESS_PROHIBITED})));
    // "Unknown model id".
    let n = model(&app, &admin, "nope").await;
    assert_eq!((n.status, n.body.clone()), (StatusCode::NOT_FOUND, json!({"detail": NOT_FOUND})));
}

async fn read_grant_shows_the_model_without_params_and_allows_no_change(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(
        &app,
        &admin,
        json!({"id": "anchor-model", "name": "Anchor Model", "base_model_id": null,
               "meta": {"description": "A test model", "tags": [{"name": "test"}]}, "params": {"temperature": 0.5}}),
    )
    .await;
    // The transcript's "Grant Alice read access".
    let before = now();
    let g = grant(&app, &admin, "anchor-model", json!([read_by(&alice_id)])).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(keys(&g.body), sorted(MODEL_FIELDS));
    let grants = g.body["access_grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1);
    let gr = &grants[0];
    assert_eq!(
        keys(gr),
        sorted(&[
            "id",
            "resource_type",
            "resource_id",
            "principal_type",
            "principal_id",
            "permission",
            "created_at"
        ])
    );
    assert_eq!(gr["resource_type"], "model");
    assert_eq!(gr["resource_id"], "anchor-model");
    assert_eq!(gr["principal_type"], "user");
    assert_eq!(gr["principal_id"], alice_id.as_str());
    assert_eq!(gr["permission"], "read");
    assert_eq!(gr["id"].as_str().expect("id").len(), 36);
    assert!(g.body["updated_at"].as_i64().expect("updated_at") >= before);
    assert_eq!(g.body["user_id"], admin_id.as_str());

    // "Model by id (user with read grant: params stripped, write_access false)".
    let r = model(&app, &alice, "anchor-model").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["params"], json!({}));
    assert_eq!(r.body["write_access"], json!(false));
    assert_eq!(r.body["user"], Value::Null);
    assert_eq!(r.body["meta"], meta_with("A test model", json!([{"name": "test"}])));
    assert_eq!(r.body["access_grants"], g.body["access_grants"]);

    // "User with read grant updates" (400), "deletes" (401 UNAUTHORIZED); toggle is 401 too.
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&alice),
            json!({"id": "anchor-model", "name": "hacked", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((u.status, u.body.clone()), (StatusCode::BAD_REQUEST, json!({"detail": ACCESS_PROHIBITED})));
    let d = app.post("/api/v1/models/model/delete", Some(&alice), json!({"id": "anchor-model"})).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": UNAUTHORIZED})));
    let t = app.send("POST", "/api/v1/models/model/toggle?id=anchor-model", Some(&alice), None).await;
    assert_eq!((t.status, t.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    let au = grant(&app, &alice, "anchor-model", json!([])).await;
    assert_eq!((au.status, au.detail()), (StatusCode::BAD_REQUEST, ACCESS_PROHIBITED));
    assert_eq!(
        app.scalar_text("select name from models where id = $1", "anchor-model").await.as_deref(),
        Some("Anchor Model")
    );
    assert_eq!(
        count(&app, "select count(*) from access_grants where resource_id = $1", "anchor-model").await,
        1
    );
    assert_eq!(
        count(&app, "select count(*) from models where id = $1 and is_active = true", "anchor-model").await,
        1
    );
}

async fn write_grant_allows_update_toggle_and_delete(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create(
        &app,
        &admin,
        json!({"id": "w", "name": "W", "base_model_id": "base", "meta": {}, "params": {"system": "s"}}),
    )
    .await;
    let g = grant(&app, &admin, "w", json!([write_by(&bob_id)])).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    // A write grant reads the model with params and write access.
    let r = model(&app, &bob, "w").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["write_access"], json!(true));
    assert_eq!(r.body["params"], json!({"system": "s"}));
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&bob),
            json!({"id": "w", "name": "By Bob", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["name"], "By Bob");
    assert_eq!(u.body["user_id"], admin_id.as_str(), "the owner stays");
    let t = app.send("POST", "/api/v1/models/model/toggle?id=w", Some(&bob), None).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(t.body["is_active"], json!(false));
    // A writer may change the grants too (admins need no sharing permission; users do).
    let a = grant(&app, &bob, "w", json!([write_by(&bob_id), read_by("*")])).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, SHARING));
    let d = app.post("/api/v1/models/model/delete", Some(&bob), json!({"id": "w"})).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(model_rows(&app, "w").await, 0);
}

async fn public_read_grant_reaches_every_user(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create(&app, &admin, preset("public", "base")).await;
    create(&app, &admin, preset("private", "base")).await;
    let g = grant(&app, &admin, "public", json!([read_by("*")])).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["access_grants"][0]["principal_id"], "*");
    for token in [&alice, &bob] {
        assert_eq!(model(&app, token, "public").await.status, StatusCode::OK);
        assert_eq!(model(&app, token, "private").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(item_ids(&list(&app, token, "").await), ["public"]);
    }
    // No grants: private again.
    let g = grant(&app, &admin, "public", json!([])).await;
    assert_eq!(g.body["access_grants"], json!([]));
    assert_eq!(model(&app, &alice, "public").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(list(&app, &alice, "").await, json!({"items": [], "total": 0}));
}

async fn update_replaces_meta_and_params_and_keeps_omitted_fields(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let created = create(
        &app,
        &admin,
        json!({"id": "anchor-model", "name": "Anchor Model", "base_model_id": null,
               "meta": {"description": "A test model", "tags": [{"name": "test"}], "profile_image_url": "https://x.io/a.png"},
               "params": {"temperature": 0.5, "model_controls": {"effort": {"label": "Effort", "options": {
                   "low": {"label": "Low", "params": {"reasoning_effort": "low"}}}}}}}),
    )
    .await;
    let t = app.send("POST", "/api/v1/models/model/toggle?id=anchor-model", Some(&admin), None).await;
    assert_eq!(t.body["is_active"], json!(false));
    // The transcript's "Admin updates": meta and params replaced wholesale.
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&admin),
            json!({"id": "anchor-model", "name": "Anchor Model v2", "meta": {"description": "updated"}, "params": {}}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(keys(&u.body), sorted(MODEL_FIELDS));
    assert_eq!(u.body["name"], "Anchor Model v2");
    let mut meta = meta_with("updated", json!(null));
    meta.as_object_mut().expect("meta").remove("tags");
    // Omitted: the profile image stays; tags are gone.
    meta["profile_image_url"] = json!("https://x.io/a.png");
    assert_eq!(u.body["meta"], meta);
    // Omitted `model_controls` stay; everything else in params is replaced.
    assert_eq!(
        u.body["params"],
        json!({"model_controls": {"effort": {"label": "Effort", "options": {"low": {"label": "Low", "params": {"reasoning_effort": "low"}}}}}})
    );
    // Omitted `is_active` and `base_model_id` keep their stored values.
    assert_eq!(u.body["is_active"], json!(false));
    assert_eq!(u.body["base_model_id"], Value::Null);
    assert_eq!(u.body["created_at"], created["created_at"]);
    assert_ne!(u.body["version_id"], created["version_id"]);
    assert_eq!(
        count(&app, "select count(*) from model_history where model_id = $1", "anchor-model").await,
        2
    );
    // Sent explicitly, they change.
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&admin),
            json!({"id": "anchor-model", "name": "N", "meta": {"profile_image_url": null}, "params": {"model_controls": {}},
                   "is_active": true, "base_model_id": "other"}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["meta"]["profile_image_url"], Value::Null);
    assert_eq!(u.body["params"], json!({}));
    assert_eq!(u.body["is_active"], json!(true));
    assert_eq!(u.body["base_model_id"], "other");
    // The database holds what was answered.
    let stored = model(&app, &admin, "anchor-model").await;
    assert_eq!(stored.body["name"], "N");
    assert_eq!(stored.body["base_model_id"], "other");
    // Update validates like create.
    let bad = app
        .post(
            "/api/v1/models/model/update",
            Some(&admin),
            json!({"id": "anchor-model", "name": "x", "meta": [], "params": {}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["body", "meta"]));
}

async fn update_ignores_grants_and_versions_only_real_changes(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let created = create(&app, &admin, preset("p", "base")).await;
    let mut same = preset("p", "base");
    same["access_grants"] = json!([read_by(&alice_id)]);
    let u = app.post("/api/v1/models/model/update", Some(&admin), same).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["access_grants"], json!([]), "grants in an update body are ignored");
    assert_eq!(u.body["version_id"], created["version_id"], "nothing changed: no new version");
    assert_eq!(count(&app, "select count(*) from model_history where model_id = $1", "p").await, 1);
    let mut renamed = preset("p", "base");
    renamed["name"] = json!("Renamed");
    renamed["commit_message"] = json!("rename");
    let u = app.post("/api/v1/models/model/update", Some(&admin), renamed).await;
    assert_ne!(u.body["version_id"], created["version_id"]);
    assert_eq!(count(&app, "select count(*) from model_history where model_id = $1", "p").await, 2);
    let version = u.body["version_id"].as_str().expect("version").to_string();
    assert_eq!(
        app.scalar_text("select parent_id from model_history where id = $1", &version).await.as_deref(),
        created["version_id"].as_str()
    );
    assert_eq!(
        app.scalar_text("select commit_message from model_history where id = $1", &version).await.as_deref(),
        Some("rename")
    );
}

async fn owner_without_admin_cannot_clear_the_base_model(b: Backend) {
    let Some(app) = spawn(b, &[("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(&app, &alice, preset("mine", "base")).await;
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&alice),
            json!({"id": "mine", "name": "x", "base_model_id": null, "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    assert_eq!(
        app.scalar_text("select base_model_id from models where id = $1", "mine").await.as_deref(),
        Some("base")
    );
    // The owner may rename it; an admin may clear the base.
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&alice),
            json!({"id": "mine", "name": "Mine", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["base_model_id"], "base");
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&admin),
            json!({"id": "mine", "name": "x", "base_model_id": null, "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["base_model_id"], Value::Null);
}

async fn unknown_ids_are_401_not_found_on_update_toggle_and_delete(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    // The transcript's "Update unknown model" and "Delete again".
    let u = app
        .post(
            "/api/v1/models/model/update",
            Some(&admin),
            json!({"id": "nope", "name": "x", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((u.status, u.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": NOT_FOUND})));
    let d = app.post("/api/v1/models/model/delete", Some(&admin), json!({"id": "nope"})).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": NOT_FOUND})));
    let t = app.send("POST", "/api/v1/models/model/toggle?id=nope", Some(&admin), None).await;
    assert_eq!((t.status, t.body.clone()), (StatusCode::UNAUTHORIZED, json!({"detail": NOT_FOUND})));
    let missing = app.post("/api/v1/models/model/delete", Some(&admin), json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text);
    assert_eq!(missing.body["detail"][0]["loc"], json!(["body", "id"]));
    assert_eq!(model_rows(&app, "nope").await, 0);
}

async fn toggle_flips_is_active(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let created = create(&app, &admin, preset("t", "base")).await;
    // The transcript's "Toggle active": the whole model, `is_active` false.
    let t = app.send("POST", "/api/v1/models/model/toggle?id=t", Some(&admin), None).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(keys(&t.body), sorted(MODEL_FIELDS));
    assert_eq!(t.body["is_active"], json!(false));
    assert_eq!(t.body["version_id"], created["version_id"], "toggling is not a new version");
    assert_eq!(count(&app, "select count(*) from models where id = $1 and is_active = false", "t").await, 1);
    let t = app.send("POST", "/api/v1/models/model/toggle?id=t", Some(&admin), None).await;
    assert_eq!(t.body["is_active"], json!(true));
    assert_eq!(count(&app, "select count(*) from models where id = $1 and is_active = true", "t").await, 1);
}

async fn delete_removes_the_model_its_grants_and_history(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(&app, &admin, preset("gone", "base")).await;
    create(&app, &admin, preset("kept", "base")).await;
    grant(&app, &admin, "gone", json!([read_by(&alice_id)])).await;
    grant(&app, &admin, "kept", json!([read_by(&alice_id)])).await;
    // The transcript's "Delete": `true`.
    let d = app.post("/api/v1/models/model/delete", Some(&admin), json!({"id": "gone"})).await;
    assert_eq!((d.status, d.text.as_str()), (StatusCode::OK, "true"));
    assert_eq!(model_rows(&app, "gone").await, 0);
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "gone").await, 0);
    assert_eq!(count(&app, "select count(*) from model_history where model_id = $1", "gone").await, 0);
    assert_eq!(model_rows(&app, "kept").await, 1);
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "kept").await, 1);
    let again = app.post("/api/v1/models/model/delete", Some(&admin), json!({"id": "gone"})).await;
    assert_eq!((again.status, again.detail()), (StatusCode::UNAUTHORIZED, NOT_FOUND));
}

async fn deleting_a_user_removes_grants_naming_them_and_keeps_their_models(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create(&app, &admin, preset("shared", "base")).await;
    grant(&app, &admin, "shared", json!([read_by(&alice_id), read_by(&bob_id)])).await;
    let d = app.delete(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(count(&app, "select count(*) from access_grants where principal_id = $1", &alice_id).await, 0);
    assert_eq!(count(&app, "select count(*) from access_grants where principal_id = $1", &bob_id).await, 1);
    assert_eq!(model_rows(&app, "shared").await, 1);
}

// ---- access grants ----

async fn access_update_replaces_grants_and_refuses_unknown_principals(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create(&app, &admin, preset("m", "base")).await;
    // Duplicates collapse, invalid entries and `anyone` are dropped… for admins `anyone` is
    // refused like any audience the model cannot have.
    let g = grant(
        &app,
        &admin,
        "m",
        json!([read_by(&alice_id), read_by(&alice_id), write_by(&bob_id),
               {"principal_type": "robot", "principal_id": "r", "permission": "read"},
               {"principal_type": "user", "principal_id": "x", "permission": "admin"}]),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let got: Vec<(String, String)> = g.body["access_grants"]
        .as_array()
        .expect("grants")
        .iter()
        .map(|g| {
            (
                g["principal_id"].as_str().expect("p").to_string(),
                g["permission"].as_str().expect("p").to_string(),
            )
        })
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&(alice_id.clone(), "read".into())));
    assert!(got.contains(&(bob_id.clone(), "write".into())));
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "m").await, 2);
    let anyone = grant(
        &app,
        &admin,
        "m",
        json!([{"principal_type": "anyone", "principal_id": "*", "permission": "read"}]),
    )
    .await;
    assert_eq!((anyone.status, anyone.detail()), (StatusCode::FORBIDDEN, SHARING));
    // Grants naming nobody are refused and nothing changes.
    let unknown = grant(&app, &admin, "m", json!([read_by("no-such-user")])).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert_eq!(unknown.detail(), "An access grant names a user that does not exist: no-such-user");
    let group = grant(
        &app,
        &admin,
        "m",
        json!([{"principal_type": "group", "principal_id": "g1", "permission": "read"}]),
    )
    .await;
    assert_eq!(
        (group.status, group.detail()),
        (StatusCode::BAD_REQUEST, "An access grant names a group that does not exist: g1")
    );
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "m").await, 2);
    // Replacing with an empty list removes them.
    let cleared = grant(&app, &admin, "m", json!([])).await;
    assert_eq!(cleared.body["access_grants"], json!([]));
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "m").await, 0);
    // The form: `id` without whitespace, `access_grants` a list of objects.
    let bad = app
        .post("/api/v1/models/model/access/update", Some(&admin), json!({"id": "a b", "access_grants": [1]}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["type"], "string_pattern_mismatch");
    assert_eq!(
        bad.body["detail"][1],
        json!({"type": "dict_type", "loc": ["body", "access_grants", 0],
        "msg": "Input should be a valid dictionary", "input": 1})
    );
    let missing = app.post("/api/v1/models/model/access/update", Some(&admin), json!({"id": "m"})).await;
    assert_eq!(missing.body["detail"][0]["loc"], json!(["body", "access_grants"]));
}

async fn access_update_creates_a_row_for_an_upstream_model(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    // A non-admin cannot create the row.
    let u = grant(&app, &alice, "gpt-4o", json!([])).await;
    assert_eq!((u.status, u.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED));
    assert_eq!(model_rows(&app, "gpt-4o").await, 0);
    // An admin restricting a raw upstream model creates a minimal row.
    let a = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin),
            json!({"id": "gpt-4o", "name": "GPT-4o", "access_grants": [read_by(&alice_id)]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["name"], "GPT-4o");
    assert_eq!(a.body["base_model_id"], Value::Null);
    assert_eq!(a.body["user_id"], admin_id.as_str());
    assert_eq!(a.body["params"], json!({}));
    assert_eq!(a.body["meta"]["description"], Value::Null);
    assert_eq!(a.body["access_grants"][0]["principal_id"], alice_id.as_str());
    assert_eq!(model_rows(&app, "gpt-4o").await, 1);
    // Without a name the id is the name.
    let b2 = grant(&app, &admin, "llama3", json!([])).await;
    assert_eq!(b2.body["name"], "llama3");
}

async fn sharing_permissions_filter_create_and_refuse_access_updates(b: Backend) {
    let Some(app) = spawn(b, &[("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    // Without `sharing.models` every grant of a create is dropped silently.
    let mut body = preset("a1", "base");
    body["access_grants"] = json!([read_by(&bob_id), read_by("*")]);
    let m = create(&app, &alice, body).await;
    assert_eq!(m["access_grants"], json!([]));
    // …and an access update asking for any is 403.
    let g = grant(&app, &alice, "a1", json!([read_by(&bob_id)])).await;
    assert_eq!((g.status, g.detail()), (StatusCode::FORBIDDEN, SHARING));
    assert_eq!(count(&app, "select count(*) from access_grants where resource_id = $1", "a1").await, 0);
    // With `sharing.models` but not `sharing.public_models`: users yes, everyone no.
    set_permissions(&app, &admin, &[("sharing", "models", true)]).await;
    let mut body = preset("a2", "base");
    body["access_grants"] = json!([read_by(&bob_id), read_by("*")]);
    let m = create(&app, &alice, body).await;
    let principals: Vec<&str> = m["access_grants"]
        .as_array()
        .expect("g")
        .iter()
        .map(|g| g["principal_id"].as_str().expect("p"))
        .collect();
    assert_eq!(principals, [bob_id.as_str()]);
    let g = grant(&app, &alice, "a2", json!([read_by("*")])).await;
    assert_eq!((g.status, g.detail()), (StatusCode::FORBIDDEN, SHARING));
    set_permissions(&app, &admin, &[("sharing", "public_models", true)]).await;
    let g = grant(&app, &alice, "a2", json!([read_by("*")])).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    // Unknown users on create are refused, not stored.
    let mut body = preset("a3", "base");
    body["access_grants"] = json!([read_by("ghost")]);
    let a = app.post("/api/v1/models/create", Some(&alice), body).await;
    assert_eq!(
        (a.status, a.detail()),
        (StatusCode::BAD_REQUEST, "An access grant names a user that does not exist: ghost")
    );
    assert_eq!(model_rows(&app, "a3").await, 0);
}

// ---- lists ----

async fn list_pages_thirty_presets_with_owner_and_write_access(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, admin_id) = app.admin().await;
    // The transcript's empty lists.
    assert_eq!(list(&app, &admin, "").await, json!({"items": [], "total": 0}));
    for i in 0..35 {
        let id = format!("p{i:02}");
        create(
            &app,
            &admin,
            json!({"id": id, "name": format!("Preset {i:02}"), "base_model_id": "base",
                   "meta": {"profile_image_url": "https://x.io/a.png", "description": "d"}, "params": {"system": "s"}}),
        )
        .await;
        app.exec(
            "update models set created_at = cast($2 as bigint) where id = $1",
            &[&id, &(1000 + i).to_string()],
        )
        .await;
    }
    // Rows without a base model are not in the workspace list.
    create(&app, &admin, json!({"id": "gpt-4o", "name": "GPT", "meta": {}, "params": {}})).await;
    let page1 = list(&app, &admin, "").await;
    assert_eq!(page1["total"], json!(35));
    let ids = item_ids(&page1);
    assert_eq!(ids.len(), 30);
    // Newest first by default.
    assert_eq!(ids[0], "p34");
    assert_eq!(ids[29], "p05");
    let item = &page1["items"][0];
    let mut fields = sorted(MODEL_FIELDS);
    fields.extend(["user".to_string(), "write_access".to_string()]);
    fields.sort();
    assert_eq!(keys(item), fields);
    assert_eq!(
        item["user"],
        json!({"id": admin_id, "name": "Admin", "role": "admin", "email": "admin@example.com"})
    );
    assert_eq!(item["write_access"], json!(true));
    assert_eq!(item["params"], json!({"system": "s"}));
    assert!(
        item["meta"].get("profile_image_url").is_none(),
        "the list leaves the image out: {}",
        item["meta"]
    );
    assert_eq!(item["meta"]["description"], "d");
    let page2 = list(&app, &admin, "?page=2").await;
    assert_eq!(page2["total"], json!(35));
    assert_eq!(item_ids(&page2), ["p04", "p03", "p02", "p01", "p00"]);
    assert_eq!(list(&app, &admin, "?page=3").await["items"], json!([]));
    assert_eq!(item_ids(&list(&app, &admin, "?page=0").await), ids, "page 0 is page 1");
    let bad = app.get("/api/v1/models/list?page=x", Some(&admin)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["query", "page"]));
}

async fn list_filters_by_query_tag_view_and_orders(b: Backend) {
    let Some(app) = spawn(b, &[("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice Liddell", "alice@example.com", "user").await;
    create(
        &app,
        &admin,
        json!({"id": "zeta", "name": "Zeta Writer", "base_model_id": "gpt-4o",
        "meta": {"tags": [{"name": "Writing"}]}, "params": {}}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"id": "alpha", "name": "Alpha Coder", "base_model_id": "llama3:8b",
        "meta": {"tags": ["code", "fair"]}, "params": {}}),
    )
    .await;
    create(
        &app,
        &alice,
        json!({"id": "mid", "name": "Mid", "base_model_id": "gpt-4o",
        "meta": {"tags": ["Writing"], "description": "coding help"}, "params": {}}),
    )
    .await;
    for (id, t) in [("zeta", "100"), ("alpha", "200"), ("mid", "300")] {
        app.exec("update models set created_at = cast($2 as bigint), updated_at = cast($2 as bigint) where id = $1", &[id, t]).await;
    }
    app.exec("update models set updated_at = 50 where id = $1", &["mid"]).await;
    let q = |s: &'static str| list(&app, &admin, s);
    // query: name, base model id, owner name/email, case-insensitive.
    assert_eq!(item_ids(&q("?query=CODER").await), ["alpha"]);
    assert_eq!(item_ids(&q("?query=llama3").await), ["alpha"]);
    assert_eq!(item_ids(&q("?query=liddell").await), ["mid"]);
    assert_eq!(item_ids(&q("?query=alice%40example").await), ["mid"]);
    assert_eq!(q("?query=%25").await["total"], json!(0), "LIKE wildcards are literal");
    // tag: case-insensitive, a whole JSON string ("ai" does not match "fair").
    let mut writing = item_ids(&q("?tag=writing").await);
    writing.sort();
    assert_eq!(writing, ["mid", "zeta"]);
    assert_eq!(item_ids(&q("?tag=code").await), ["alpha"]);
    assert_eq!(q("?tag=ai").await["total"], json!(0));
    // view_option.
    let mut created = item_ids(&q("?view_option=created").await);
    created.sort();
    assert_eq!(created, ["alpha", "zeta"]);
    assert_eq!(item_ids(&q("?view_option=shared").await), ["mid"]);
    // order_by / direction.
    assert_eq!(item_ids(&q("?order_by=name&direction=asc").await), ["alpha", "mid", "zeta"]);
    assert_eq!(item_ids(&q("?order_by=name").await), ["zeta", "mid", "alpha"]);
    assert_eq!(item_ids(&q("?order_by=created_at&direction=asc").await), ["zeta", "alpha", "mid"]);
    assert_eq!(item_ids(&q("?order_by=updated_at&direction=asc").await), ["mid", "zeta", "alpha"]);
    assert_eq!(item_ids(&q("?order_by=updated_at").await), ["alpha", "zeta", "mid"]);
    // Filters combine.
    assert_eq!(item_ids(&q("?tag=writing&view_option=created").await), ["zeta"]);
    // Alice's own model is in her list with write access; the owner's fields are hers.
    let mine = list(&app, &alice, "?view_option=created").await;
    assert_eq!(item_ids(&mine), ["mid"]);
    assert_eq!(mine["items"][0]["user"]["id"], alice_id.as_str());
    assert_eq!(mine["items"][0]["write_access"], json!(true));
}

async fn list_shows_users_their_own_and_readable_models_only(b: Backend) {
    let Some(app) = spawn(b, &[("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    create(&app, &admin, json!({"id": "shared-read", "name": "R", "base_model_id": "b", "meta": {}, "params": {"system": "secret"}})).await;
    create(&app, &admin, preset("shared-write", "b")).await;
    create(&app, &admin, preset("public", "b")).await;
    create(&app, &admin, preset("private", "b")).await;
    create(&app, &alice, preset("alices", "b")).await;
    grant(&app, &admin, "shared-read", json!([read_by(&alice_id)])).await;
    grant(&app, &admin, "shared-write", json!([write_by(&alice_id)])).await;
    grant(&app, &admin, "public", json!([read_by("*")])).await;
    let page = list(&app, &alice, "?order_by=name&direction=asc").await;
    // A write grant alone does not list a model (the list checks read grants).
    let mut ids = item_ids(&page);
    ids.sort();
    assert_eq!(ids, ["alices", "public", "shared-read"]);
    assert_eq!(page["total"], json!(3));
    for item in page["items"].as_array().expect("items") {
        let own = item["id"] == "alices";
        assert_eq!(item["write_access"], json!(own), "{}", item["id"]);
        if !own {
            assert_eq!(item["params"], json!({}), "read-only callers get no params");
        }
    }
    assert_eq!(item_ids(&list(&app, &bob, "").await), ["public"]);
    // Admins see everything.
    assert_eq!(list(&app, &admin, "").await["total"], json!(5));
    // `/tags` follows the same access.
    assert_eq!(app.get("/api/v1/models/tags", Some(&bob)).await.body, json!([]));
}

async fn tags_and_base_lists(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    // The transcript's empty tag list.
    assert_eq!(app.get("/api/v1/models/tags", Some(&alice)).await.body, json!([]));
    let base = create(&app, &admin, json!({"id": "anchor-model", "name": "Anchor", "meta": {"tags": [{"name": "test"}, {"name": "b"}]}, "params": {}})).await;
    create(&app, &admin, json!({"id": "other-base", "name": "O", "meta": {"tags": ["z"]}, "params": {}}))
        .await;
    create(&app, &admin, json!({"id": "p1", "name": "P1", "base_model_id": "anchor-model", "meta": {"tags": ["zeta", "alpha"]}, "params": {}})).await;
    create(&app, &admin, json!({"id": "p2", "name": "P2", "base_model_id": "anchor-model", "meta": {"tags": ["alpha", "beta"]}, "params": {}})).await;
    grant(&app, &admin, "p2", json!([read_by(&alice_id)])).await;
    assert_eq!(app.get("/api/v1/models/tags", Some(&admin)).await.body, json!(["alpha", "beta", "zeta"]));
    assert_eq!(app.get("/api/v1/models/tags", Some(&alice)).await.body, json!(["alpha", "beta"]));
    assert_eq!(app.get("/api/v1/models/base/tags", Some(&admin)).await.body, json!(["b", "test", "z"]));
    // The transcript's "Base models (admin)": rows without a base model, as `ModelResponse`.
    let bases = app.get("/api/v1/models/base", Some(&admin)).await;
    assert_eq!(bases.status, StatusCode::OK, "{}", bases.text);
    assert_eq!(ids_of(&bases.body), ["anchor-model", "other-base"]);
    assert_eq!(bases.body[0], base);
    assert_eq!(ids_of(&app.get("/api/v1/models/base?tag=test", Some(&admin)).await.body), ["anchor-model"]);
    assert_eq!(app.get("/api/v1/models/base?tag=nope", Some(&admin)).await.body, json!([]));
    // `/all`: every row with its grants.
    let all = app.get("/api/v1/models/all", Some(&admin)).await;
    assert_eq!(ids_of(&all.body), ["anchor-model", "other-base", "p1", "p2"]);
    assert_eq!(keys(&all.body[3]), sorted(MODEL_FIELDS));
    assert_eq!(all.body[3]["access_grants"][0]["principal_id"], alice_id.as_str());
}

// ---- export, import, delete all ----

async fn export_and_import_round_trip(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    create(&app, &admin, json!({"id": "base-row", "name": "B", "meta": {}, "params": {}})).await;
    create(&app, &admin, json!({"id": "e1", "name": "E1", "base_model_id": "gpt-4o", "meta": {"description": "one"}, "params": {"temperature": 0.1}})).await;
    create(
        &app,
        &admin,
        json!({"id": "e2", "name": "E2", "base_model_id": "gpt-4o", "meta": {}, "params": {}}),
    )
    .await;
    let all = app.get("/api/v1/models/export", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    // Presets only, each `ModelModel` + `background_image_data`.
    assert_eq!(ids_of(&all.body), ["e1", "e2"]);
    let mut fields = sorted(MODEL_FIELDS);
    fields.push("background_image_data".into());
    fields.sort();
    assert_eq!(keys(&all.body[0]), fields);
    assert_eq!(all.body[0]["background_image_data"], Value::Null);
    let one = app.get("/api/v1/models/export?ids=e2", Some(&admin)).await;
    assert_eq!(ids_of(&one.body), ["e2"]);
    let both = app.get("/api/v1/models/export?ids=e1&ids=e2", Some(&admin)).await;
    assert_eq!(ids_of(&both.body), ["e1", "e2"]);
    let unknown = app.get("/api/v1/models/export?ids=e1&ids=nope", Some(&admin)).await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED));

    // Import the export into a fresh server: same models.
    let Some(other) = spawn(b, &[]).await else { return };
    let (admin2, admin2_id) = other.admin().await;
    let i = other.post("/api/v1/models/import", Some(&admin2), json!({"models": all.body})).await;
    assert_eq!((i.status, i.body.clone()), (StatusCode::OK, json!(true)), "{}", i.text);
    let e1 = model(&other, &admin2, "e1").await;
    assert_eq!(e1.body["name"], "E1");
    assert_eq!(e1.body["meta"]["description"], "one");
    assert_eq!(e1.body["params"], json!({"temperature": 0.1}));
    assert_eq!(e1.body["user_id"], admin2_id.as_str(), "imports belong to the importer");
    // Importing again updates in place: meta merges, params are replaced.
    let i = other
        .post(
            "/api/v1/models/import",
            Some(&admin2),
            json!({"models": [{"id": "e1", "name": "E1 v2", "meta": {"tags": ["t"]}}, {"id": "bad id"}, {"no": "id"}]}),
        )
        .await;
    assert_eq!(i.status, StatusCode::OK, "{}", i.text);
    let e1 = model(&other, &admin2, "e1").await;
    assert_eq!(e1.body["name"], "E1 v2");
    assert_eq!(e1.body["meta"]["description"], "one");
    assert_eq!(e1.body["meta"]["tags"], json!([{"name": "t"}]));
    assert_eq!(e1.body["params"], json!({}));
    assert_eq!(e1.body["base_model_id"], "gpt-4o");
    assert_eq!(count(&other, "select count(*) from models where id <> $1", "").await, 2);
    // The form: `models` must be a list of objects.
    let bad = other.post("/api/v1/models/import", Some(&admin2), json!({"models": {"id": "x"}})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["body", "models"]));
    // A model that fails validation is 400 naming it, and the whole import is undone.
    let bad = other
        .post(
            "/api/v1/models/import",
            Some(&admin2),
            json!({"models": [{"id": "new-one", "name": "N"}, {"id": "e3", "name": 5}]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.detail().starts_with("Invalid model e3: "), "{}", bad.text);
    assert_eq!(model_rows(&other, "new-one").await, 0);
}

async fn import_respects_permissions_and_ownership(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(&app, &admin, preset("admins", "base")).await;
    // Without `workspace.models_import` / `models_export`: 401.
    let i = app.post("/api/v1/models/import", Some(&alice), json!({"models": [preset("a", "b")]})).await;
    assert_eq!((i.status, i.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    let e = app.get("/api/v1/models/export", Some(&alice)).await;
    assert_eq!((e.status, e.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    set_permissions(
        &app,
        &admin,
        &[("workspace", "models_import", true), ("workspace", "models_export", true)],
    )
    .await;
    // Someone else's model: 401 MODEL_ID_TAKEN, and nothing of the import is kept.
    let i = app
        .post(
            "/api/v1/models/import",
            Some(&alice),
            json!({"models": [preset("hers", "b"), preset("admins", "b")]}),
        )
        .await;
    assert_eq!((i.status, i.detail()), (StatusCode::UNAUTHORIZED, MODEL_ID_TAKEN));
    assert_eq!(model_rows(&app, "hers").await, 0);
    // Models without a base model are skipped for users.
    let i = app
        .post(
            "/api/v1/models/import",
            Some(&alice),
            json!({"models": [preset("hers", "b"), {"id": "raw", "name": "R", "meta": {}, "params": {}}]}),
        )
        .await;
    assert_eq!((i.status, i.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(
        app.scalar_text("select user_id from models where id = $1", "hers").await.as_deref(),
        Some(alice_id.as_str())
    );
    assert_eq!(model_rows(&app, "raw").await, 0);
    // A write grant lets her overwrite; export then includes it.
    grant(&app, &admin, "admins", json!([write_by(&alice_id)])).await;
    let mut changed = preset("admins", "b");
    changed["name"] = json!("Changed by Alice");
    let i = app.post("/api/v1/models/import", Some(&alice), json!({"models": [changed]})).await;
    assert_eq!(i.status, StatusCode::OK, "{}", i.text);
    assert_eq!(
        app.scalar_text("select name from models where id = $1", "admins").await.as_deref(),
        Some("Changed by Alice")
    );
    let mut exported = ids_of(&app.get("/api/v1/models/export", Some(&alice)).await.body);
    exported.sort();
    assert_eq!(exported, ["admins", "hers"]);
}

async fn delete_all_is_admin_only_and_empties_the_tables(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    let (_, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    for id in ["a", "b", "c"] {
        create(&app, &admin, preset(id, "base")).await;
        grant(&app, &admin, id, json!([read_by(&alice_id)])).await;
    }
    let d = app.delete("/api/v1/models/delete/all", Some(&admin)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(count(&app, "select count(*) from models where id <> $1", "").await, 0);
    assert_eq!(count(&app, "select count(*) from access_grants where resource_type = $1", "model").await, 0);
    assert_eq!(count(&app, "select count(*) from model_history where model_id <> $1", "").await, 0);
    assert_eq!(list(&app, &admin, "").await, json!({"items": [], "total": 0}));
}

// ---- GET /api/models ----

async fn chat_list_is_empty_without_upstream_models(b: Backend) {
    let Some(app) = spawn(b, &[]).await else { return };
    let (admin, _) = app.admin().await;
    create(&app, &admin, preset("p", "base")).await;
    create(&app, &admin, json!({"id": "gpt-4o", "name": "G", "meta": {}, "params": {}})).await;
    // The transcript's "GET /api/v1/models (OpenAI-style list; no upstream connections here)".
    for path in ["/api/v1/models", "/api/models"] {
        let a = app.get(path, Some(&admin)).await;
        assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({"data": []})), "{path}");
    }
    let base = app.get("/api/models/base", Some(&admin)).await;
    assert_eq!(base.body, json!({"data": []}));
    let r = app.get("/api/models?refresh=maybe", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "refresh"]));
}

async fn chat_list_merges_upstreams_with_overrides_and_presets(b: Backend) {
    let openai = Fake::start(Reply::Json(openai_models(&["gpt-4o", "gpt-3.5-turbo"]))).await;
    let ollama = Fake::start(Reply::Json(ollama_models(&["llama3:latest"]))).await;
    let (urls, ollama_url) = (openai.openai_url(), ollama.url());
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("ENABLE_OLLAMA_API", "true"),
        ("OPENAI_API_BASE_URLS", urls.as_str()),
        ("OPENAI_API_KEYS", "sk-test-key"),
        ("OLLAMA_BASE_URLS", ollama_url.as_str()),
    ];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, admin_id) = app.admin().await;

    let data = chat_list(&app, &admin).await;
    assert_eq!(ids_of(&data), ["gpt-4o", "gpt-3.5-turbo", "llama3:latest"]);
    // The OpenAI provider was asked for `{base}/models` with its key; Ollama for `/api/tags`.
    assert_eq!(openai.seen()[0], ("/v1/models".to_string(), Some("Bearer sk-test-key".to_string())));
    assert_eq!(ollama.seen()[0], ("/api/tags".to_string(), None));
    assert_eq!(
        data[0],
        json!({"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai", "connection_type": "external",
               "name": "gpt-4o",
               "openai": {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "system", "connection_type": "external"},
               "provider": "", "urlIdx": 0, "actions": [], "filters": [], "tags": []})
    );
    assert_eq!(data[2]["owned_by"], "ollama");
    assert_eq!(data[2]["name"], "llama3:latest");
    assert_eq!(data[2]["object"], "model");
    assert_eq!(data[2]["created"], json!(0));
    assert_eq!(data[2]["connection_type"], "local");
    assert_eq!(data[2]["loaded"], json!(false));
    assert_eq!(data[2]["ollama"]["size"], json!(42));
    assert_eq!(data[2]["ollama"]["urls"], json!([0]));

    // An override renames an upstream model and carries its settings; an inactive one hides it.
    create(
        &app,
        &admin,
        json!({"id": "gpt-4o", "name": "GPT Four", "meta": {"tags": ["work"], "profile_image_url": "https://x.io/i.png",
               "description": "fast"}, "params": {"system": "secret", "compact_token_threshold": 9}}),
    )
    .await;
    create(
        &app,
        &admin,
        json!({"id": "gpt-3.5-turbo", "name": "Old", "meta": {}, "params": {}, "is_active": false}),
    )
    .await;
    // Presets: on an Ollama model by its name without `:tag`, on another preset, on nothing
    // listed (left out), and an inactive one (left out).
    create(&app, &admin, json!({"id": "helper", "name": "Helper", "base_model_id": "llama3", "meta": {"tags": ["x"]}, "params": {"system": "s"}})).await;
    create(&app, &admin, preset("helper-2", "helper")).await;
    create(&app, &admin, preset("orphan", "no-such-model")).await;
    create(&app, &admin, json!({"id": "off", "name": "Off", "base_model_id": "gpt-4o", "meta": {}, "params": {}, "is_active": false})).await;

    let data = chat_list(&app, &admin).await;
    assert_eq!(ids_of(&data), ["gpt-4o", "llama3:latest", "helper", "helper-2"]);
    let four = &data[0];
    assert_eq!(four["name"], "GPT Four");
    assert_eq!(four["owned_by"], "openai");
    assert_eq!(four["info"]["id"], "gpt-4o");
    assert_eq!(four["info"]["user_id"], admin_id.as_str());
    assert_eq!(four["info"]["meta"]["description"], "fast");
    assert!(four["info"]["meta"].get("profile_image_url").is_none(), "{}", four["info"]["meta"]);
    assert_eq!(
        four["info"]["params"],
        json!({"compact_token_threshold": 9}),
        "params are reduced to the public subset"
    );
    assert_eq!(four["tags"], json!([{"name": "work"}]));
    let helper = &data[2];
    assert_eq!(helper["preset"], json!(true));
    assert_eq!(helper["owned_by"], "ollama");
    assert_eq!(helper["connection_type"], "local");
    assert_eq!(helper["object"], "model");
    assert_eq!(helper["loaded"], json!(false));
    assert_eq!(
        helper["created"],
        json!(app.scalar_count("select created_at from models where id = $1", "helper").await)
    );
    assert_eq!(helper["info"]["base_model_id"], "llama3");
    assert_eq!(helper["info"]["params"], json!({}));
    assert_eq!(helper["tags"], json!([{"name": "x"}]));
    assert_eq!(data[3]["owned_by"], "ollama", "a preset on a preset inherits the provider");

    // `/api/v1/models` answers the same list; `/api/models/base` the upstream one.
    let v1 = app.get("/api/v1/models", Some(&admin)).await;
    assert_eq!(ids_of(&v1.body["data"]), ids_of(&data));
    let base = app.get("/api/models/base", Some(&admin)).await;
    assert_eq!(ids_of(&base.body["data"]), ["gpt-4o", "gpt-3.5-turbo", "llama3:latest"]);
    // Toggling the hidden override back on shows the model again at once (the database is read
    // on every request; only the upstream lists are cached).
    let t = app.send("POST", "/api/v1/models/model/toggle?id=gpt-3.5-turbo", Some(&admin), None).await;
    assert_eq!(t.body["is_active"], json!(true));
    assert_eq!(
        ids_of(&chat_list(&app, &admin).await),
        ["gpt-4o", "gpt-3.5-turbo", "llama3:latest", "helper", "helper-2"]
    );
}

async fn chat_list_hides_models_users_cannot_read(b: Backend) {
    let openai = Fake::start(Reply::Json(openai_models(&["gpt-4o", "gpt-4o-mini"]))).await;
    let ollama = Fake::start(Reply::Json(ollama_models(&["llama3:latest"]))).await;
    let (urls, ollama_url) = (openai.openai_url(), ollama.url());
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("ENABLE_OLLAMA_API", "true"),
        ("OPENAI_API_BASE_URLS", urls.as_str()),
        ("OLLAMA_BASE_URLS", ollama_url.as_str()),
        ("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true"),
    ];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, _) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    // Upstream models without a row are for admins only.
    assert_eq!(chat_list(&app, &alice).await, json!([]));
    assert_eq!(ids_of(&chat_list(&app, &admin).await).len(), 3);
    // A public override, a preset shared with Alice, and Bob's own preset.
    create(&app, &admin, json!({"id": "gpt-4o", "name": "GPT", "meta": {}, "params": {}})).await;
    grant(&app, &admin, "gpt-4o", json!([read_by("*")])).await;
    create(&app, &admin, preset("for-alice", "gpt-4o-mini")).await;
    grant(&app, &admin, "for-alice", json!([read_by(&alice_id)])).await;
    create(&app, &bob, preset("bobs", "llama3:latest")).await;
    assert_eq!(ids_of(&chat_list(&app, &alice).await), ["gpt-4o", "for-alice"]);
    assert_eq!(ids_of(&chat_list(&app, &bob).await), ["gpt-4o", "bobs"]);
    let v1 = app.get("/api/v1/models", Some(&bob)).await;
    assert_eq!(ids_of(&v1.body["data"]), ["gpt-4o", "bobs"]);
    let mut all = ids_of(&chat_list(&app, &admin).await);
    all[3..].sort();
    assert_eq!(all, ["gpt-4o", "gpt-4o-mini", "llama3:latest", "bobs", "for-alice"]);
    // A write grant alone does not list a model.
    create(&app, &admin, preset("write-only", "gpt-4o")).await;
    grant(&app, &admin, "write-only", json!([write_by(&alice_id)])).await;
    assert_eq!(ids_of(&chat_list(&app, &alice).await), ["gpt-4o", "for-alice"]);
}

async fn users_cannot_take_upstream_model_ids(b: Backend) {
    let openai = Fake::start(Reply::Json(openai_models(&["gpt-4o"]))).await;
    let ollama = Fake::start(Reply::Json(ollama_models(&["llama3:latest"]))).await;
    let (urls, ollama_url) = (openai.openai_url(), ollama.url());
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("ENABLE_OLLAMA_API", "true"),
        ("OPENAI_API_BASE_URLS", urls.as_str()),
        ("OLLAMA_BASE_URLS", ollama_url.as_str()),
        ("USER_PERMISSIONS_WORKSPACE_MODELS_ACCESS", "true"),
    ];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, _) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    for id in ["gpt-4o", "llama3", "llama3:latest"] {
        let a = app.post("/api/v1/models/create", Some(&alice), preset(id, "some-base")).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, MODEL_ID_TAKEN), "{id}");
        assert_eq!(model_rows(&app, id).await, 0);
    }
    create(&app, &alice, preset("my-llama", "llama3:latest")).await;
    // The same holds for imports.
    set_permissions(&app, &admin, &[("workspace", "models_import", true)]).await;
    let i = app.post("/api/v1/models/import", Some(&alice), json!({"models": [preset("llama3", "x")]})).await;
    assert_eq!((i.status, i.detail()), (StatusCode::UNAUTHORIZED, MODEL_ID_TAKEN));
    assert_eq!(model_rows(&app, "llama3").await, 0);
    // Admins may override upstream ids.
    create(&app, &admin, json!({"id": "llama3", "name": "Llama", "meta": {}, "params": {}})).await;
}

async fn chat_list_answers_within_the_timeout_when_providers_hang_or_fail(b: Backend) {
    let good = Fake::start(Reply::Json(openai_models(&["gpt-4o", "gpt-4o-mini"]))).await;
    let hang = Fake::start(Reply::Hang).await;
    let garbage = Fake::start(Reply::Raw(200, "application/json", "{\"data\": [oops")).await;
    let failing = Fake::start(Reply::Raw(500, "application/json", "{\"error\": \"boom\"}")).await;
    let ollama = Fake::start(Reply::Json(ollama_models(&["llama3:latest"]))).await;
    let html =
        Fake::start(Reply::Raw(200, "text/html", "<!doctype html><html><body>login</body></html>")).await;
    let openai_urls = [&good, &hang, &garbage, &failing].map(Fake::openai_url).join(";");
    let ollama_urls = [&ollama, &html].map(Fake::url).join(";");
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("ENABLE_OLLAMA_API", "true"),
        ("OPENAI_API_BASE_URLS", openai_urls.as_str()),
        ("OPENAI_API_KEYS", "sk-good;sk-hang;;sk-500"),
        ("OLLAMA_BASE_URLS", ollama_urls.as_str()),
        ("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "1"),
        // Every request finds the list stale and starts a background fetch.
        ("MODELS_CACHE_TTL", "0"),
    ];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, _) = app.admin().await;
    let started = Instant::now();
    let data = chat_list(&app, &admin).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "the first list took {took:?} with a 1 s timeout");
    assert_eq!(ids_of(&data), ["gpt-4o", "gpt-4o-mini", "llama3:latest"]);
    assert_eq!(good.seen()[0].1.as_deref(), Some("Bearer sk-good"));
    assert_eq!(garbage.seen()[0].1, None, "no key, no Authorization header");
    for fake in [&good, &hang, &garbage, &failing, &ollama, &html] {
        assert_eq!(fake.hits(), 1);
    }
    // Later requests are served from the cache at once; the background fetch leaves the failed
    // providers out while they cool down.
    let started = Instant::now();
    let data = chat_list(&app, &admin).await;
    assert!(started.elapsed() < Duration::from_secs(1), "a cached list took {:?}", started.elapsed());
    assert_eq!(ids_of(&data), ["gpt-4o", "gpt-4o-mini", "llama3:latest"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while good.hits() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((good.hits(), ollama.hits()), (2, 2), "the healthy providers were asked again");
    for fake in [&hang, &garbage, &failing, &html] {
        assert_eq!(fake.hits(), 1, "a failed provider is not asked again during its cooldown");
    }
    let data = chat_list(&app, &admin).await;
    assert_eq!(ids_of(&data), ["gpt-4o", "gpt-4o-mini", "llama3:latest"]);
}

async fn stale_list_is_served_while_one_background_fetch_replaces_it(b: Backend) {
    let provider = Fake::start(Reply::Json(openai_models(&["a"]))).await;
    let url = provider.openai_url();
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("OPENAI_API_BASE_URLS", url.as_str()),
        ("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "10"),
        ("MODELS_CACHE_TTL", "0"),
    ];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, _) = app.admin().await;
    assert_eq!(ids_of(&chat_list(&app, &admin).await), ["a"]);
    assert_eq!(provider.hits(), 1);
    // The provider becomes slow and lists a new model.
    provider.set(Reply::Slow(Duration::from_secs(3), openai_models(&["a", "b"])));
    let (answers, took) = burst(&app, &admin, 20).await;
    assert!(took < Duration::from_secs(2), "20 page loads took {took:?} against a provider answering in 3 s");
    assert!(answers.iter().all(|ids| ids == &["a"]), "every page load got the cached list: {answers:?}");
    assert_eq!(provider.hits(), 2, "the burst started exactly one background fetch");
    // Once that fetch is done, the new list is served.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let ids = ids_of(&chat_list(&app, &admin).await);
        if ids == ["a", "b"] {
            break;
        }
        assert!(Instant::now() < deadline, "the background fetch never landed: {ids:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn concurrent_first_requests_share_one_fetch(b: Backend) {
    let provider = Fake::start(Reply::Slow(Duration::from_millis(500), openai_models(&["a"]))).await;
    let url = provider.openai_url();
    let env = [("ENABLE_OPENAI_API", "true"), ("OPENAI_API_BASE_URLS", url.as_str())];
    let Some(app) = spawn(b, &env).await else { return };
    let (admin, _) = app.admin().await;
    let (answers, _) = burst(&app, &admin, 10).await;
    assert!(answers.iter().all(|ids| ids == &["a"]), "{answers:?}");
    assert_eq!(provider.hits(), 1, "ten cold requests, one upstream fetch");
    // `refresh=true` fetches again and waits for it.
    let r = app.get("/api/models?refresh=true", Some(&admin)).await;
    assert_eq!(ids_of(&r.body["data"]), ["a"]);
    assert_eq!(provider.hits(), 2);
}
