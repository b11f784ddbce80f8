//! GraphQL models: the `model`/`models` queries, the four mutations, `Chat.models`,
//! `User.models`, `Model.user`/`Model.baseModel`, the GraphQL twin of each REST model rule (same
//! text, `extensions.code`), and constant statements for a page of chats with their models.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, error_of, gql};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const UNAUTHORIZED: &str = "401 Unauthorized";
const MODEL_ID_TAKEN: &str =
    "Uh-oh! This model id is already registered. Please choose another model id string.";
const MODEL_ID_TOO_LONG: &str =
    "The model id is too long. Please make sure your model id is less than 256 characters long.";

backend_tests!(
    model_queries_and_mutations,
    model_rules_match_rest,
    models_connection_pages_across_service_pages,
    chat_and_user_models,
    chat_models_load_with_constant_statements,
);

/// No upstream provider is configured (nothing leaves the test machine).
const NO_UPSTREAM: &[(&str, &str)] = &[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")];

async fn spawn(b: Backend) -> Option<TestApp> {
    TestApp::spawn_with(b, NO_UPSTREAM).await
}

const CREATE: &str =
    "mutation($i: ModelInput!) { createModel(input: $i) { id name baseModelId writeAccess } }";
const UPDATE: &str =
    "mutation($i: ModelInput!) { updateModel(input: $i) { id name baseModelId isActive meta params } }";

/// Creates a model through GraphQL and returns its id.
async fn create(app: &TestApp, token: &str, input: Value) -> String {
    let a = gql(app, Some(token), CREATE, json!({"i": input})).await;
    a.body["data"]["createModel"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createModel: {}", a.text))
        .to_string()
}

fn preset(id: &str, base: &str) -> Value {
    json!({"id": id, "name": format!("Model {id}"), "baseModelId": base, "meta": {}, "params": {}})
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("array: {list}"))
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect()
}

fn edge_ids(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("edges: {conn}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_string())
        .collect()
}

async fn grant(app: &TestApp, token: &str, id: &str, grants: Value) {
    let a = app
        .post("/api/v1/models/model/access/update", Some(token), json!({"id": id, "access_grants": grants}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "grant: {}", a.text);
}

fn read_by(user_id: &str) -> Value {
    json!({"principal_type": "user", "principal_id": user_id, "permission": "read"})
}

async fn new_chat(app: &TestApp, token: &str, title: &str, models: Value) -> String {
    let a = gql(
        app,
        Some(token),
        "mutation($c: JSON!) { createChat(chat: $c) { id } }",
        json!({"c": {"title": title, "models": models}}),
    )
    .await;
    a.body["data"]["createChat"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createChat: {}", a.text))
        .to_string()
}

async fn model_queries_and_mutations(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let created = gql(
        &app,
        Some(&admin),
        CREATE,
        json!({"i": {"id": "anchor", "name": "Anchor", "baseModelId": null, "meta": {"description": "base"},
                     "params": {"temperature": 0.5}}}),
    )
    .await;
    assert_eq!(
        created.body["data"]["createModel"],
        json!({"id": "anchor", "name": "Anchor", "baseModelId": null, "writeAccess": true})
    );
    create(
        &app,
        &admin,
        json!({"id": "helper", "name": "Helper", "baseModelId": "anchor",
               "meta": {"description": "A helper", "tags": ["work"]}, "params": {"system": "Be brief."}}),
    )
    .await;
    // The REST twin reads the same stored model.
    let rest = app.get("/api/v1/models/model?id=helper", Some(&admin)).await;
    assert_eq!(rest.body["base_model_id"], "anchor");

    let one = gql(
        &app,
        Some(&admin),
        "{ model(id: \"helper\") { id name baseModelId meta params isActive createdAt updatedAt userId
            writeAccess accessGrants user { id name } baseModel { id name params } } }",
        json!({}),
    )
    .await;
    let m = &one.body["data"]["model"];
    assert_eq!(m["id"], "helper");
    assert_eq!(m["name"], "Helper");
    assert_eq!(m["baseModelId"], "anchor");
    assert_eq!(m["meta"], rest.body["meta"]);
    assert_eq!(m["meta"]["tags"], json!([{"name": "work"}]));
    assert_eq!(m["params"], json!({"system": "Be brief."}));
    assert_eq!(m["isActive"], json!(true));
    assert_eq!(m["createdAt"], rest.body["created_at"]);
    assert_eq!(m["updatedAt"], rest.body["updated_at"]);
    assert_eq!(m["userId"], admin_id.as_str());
    assert_eq!(m["writeAccess"], json!(true));
    assert_eq!(m["accessGrants"], json!([]));
    assert_eq!(m["user"], json!({"id": admin_id, "name": "Admin"}));
    assert_eq!(m["baseModel"], json!({"id": "anchor", "name": "Anchor", "params": {"temperature": 0.5}}));
    let missing = gql(&app, Some(&admin), "{ model(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(missing.body["data"]["model"], Value::Null);
    assert!(missing.body["errors"].is_null(), "{}", missing.text);

    // Update: omitted `baseModelId` and `isActive` keep their values, as REST.
    let up = gql(
        &app,
        Some(&admin),
        UPDATE,
        json!({"i": {"id": "helper", "name": "Helper 2", "meta": {"description": "changed"}, "params": {}}}),
    )
    .await;
    let u = &up.body["data"]["updateModel"];
    assert_eq!(u["name"], "Helper 2", "{}", up.text);
    assert_eq!(u["baseModelId"], "anchor");
    assert_eq!(u["isActive"], json!(true));
    assert_eq!(u["meta"]["description"], "changed");
    assert_eq!(u["params"], json!({}));
    assert_eq!(
        app.scalar_text("select name from models where id = $1", "helper").await.as_deref(),
        Some("Helper 2")
    );

    let t =
        gql(&app, Some(&admin), "mutation { toggleModel(id: \"helper\") { id isActive } }", json!({})).await;
    assert_eq!(t.body["data"]["toggleModel"], json!({"id": "helper", "isActive": false}));
    let t = gql(&app, Some(&admin), "mutation { toggleModel(id: \"helper\") { isActive } }", json!({})).await;
    assert_eq!(t.body["data"]["toggleModel"], json!({"isActive": true}));

    // The workspace list holds presets only, with query and tag filters.
    create(
        &app,
        &admin,
        json!({"id": "coder", "name": "Coder", "baseModelId": "anchor",
        "meta": {"tags": [{"name": "Code"}]}, "params": {}}),
    )
    .await;
    let all = gql(
        &app,
        Some(&admin),
        "{ models { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id user { name } baseModel { id } } } } }",
        json!({}),
    )
    .await;
    let c = &all.body["data"]["models"];
    assert_eq!(edge_ids(c), ["coder", "helper"], "{}", all.text);
    assert_eq!(c["totalCount"], json!(2));
    assert_eq!(c["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(c["edges"][0]["node"]["user"]["name"], "Admin");
    assert_eq!(c["edges"][1]["node"]["baseModel"]["id"], "anchor");
    let by_query = gql(
        &app,
        Some(&admin),
        "{ models(query: \"HELP\") { totalCount edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(edge_ids(&by_query.body["data"]["models"]), ["helper"]);
    let by_tag =
        gql(&app, Some(&admin), "{ models(tag: \"code\") { totalCount edges { node { id } } } }", json!({}))
            .await;
    assert_eq!(edge_ids(&by_tag.body["data"]["models"]), ["coder"]);
    assert_eq!(by_tag.body["data"]["models"]["totalCount"], json!(1));

    let d = gql(&app, Some(&admin), "mutation { deleteModel(id: \"coder\") }", json!({})).await;
    assert_eq!(d.body["data"]["deleteModel"], json!(true));
    assert_eq!(app.scalar_count("select count(*) from models where id = $1", "coder").await, 0);
    let gone = gql(&app, Some(&admin), "{ model(id: \"coder\") { id } }", json!({})).await;
    assert_eq!(gone.body["data"]["model"], Value::Null);
    // Deleting an unknown id is the REST 401 NOT_FOUND.
    let again = gql(&app, Some(&admin), "mutation { deleteModel(id: \"coder\") }", json!({})).await;
    let rest = app.post("/api/v1/models/model/delete", Some(&admin), json!({"id": "coder"})).await;
    assert_eq!(rest.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&again), (rest.detail().to_string(), "NOT_FOUND".into()));
    assert_eq!(again.body["errors"][0]["extensions"]["status"], json!(401));
}

async fn model_rules_match_rest(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;

    // Without `workspace.models`: the REST 401 text and code, nothing stored.
    let a = gql(&app, Some(&alice), CREATE, json!({"i": preset("alice-model", "anchor")})).await;
    let rest = app
        .post(
            "/api/v1/models/create",
            Some(&alice),
            json!({"id": "alice-model", "name": "x", "base_model_id": "anchor", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::UNAUTHORIZED, UNAUTHORIZED));
    assert_eq!(error_of(&a), (UNAUTHORIZED.into(), "UNAUTHORIZED".into()));
    assert_eq!(a.body["errors"][0]["extensions"]["status"], json!(401));
    assert_eq!(app.scalar_count("select count(*) from models where id = $1", "alice-model").await, 0);

    // Duplicate id and too-long id.
    create(&app, &admin, json!({"id": "anchor", "name": "Anchor", "meta": {}, "params": {"temperature": 1}}))
        .await;
    let dup = gql(&app, Some(&admin), CREATE, json!({"i": preset("anchor", "x")})).await;
    assert_eq!(error_of(&dup), (MODEL_ID_TAKEN.into(), "MODEL_ID_TAKEN".into()));
    let long = gql(&app, Some(&admin), CREATE, json!({"i": preset(&"x".repeat(300), "anchor")})).await;
    assert_eq!(error_of(&long), (MODEL_ID_TOO_LONG.into(), "MODEL_ID_TOO_LONG".into()));
    assert_eq!(long.body["errors"][0]["extensions"]["status"], json!(400));
    // The form rules of REST (here: `meta` must be an object), with the REST text.
    let bad =
        gql(&app, Some(&admin), CREATE, json!({"i": {"id": "m", "name": "M", "meta": "x", "params": {}}}))
            .await;
    let (text, code) = error_of(&bad);
    assert_eq!(code, "VALIDATION_ERROR");
    assert!(text.contains("body.meta"), "{text}");
    assert_eq!(app.scalar_count("select count(*) from models where id = $1", "m").await, 0);

    // No access: null, never the model.
    let none = gql(&app, Some(&alice), "{ model(id: \"anchor\") { id name } }", json!({})).await;
    assert_eq!(none.body["data"]["model"], Value::Null);
    assert!(none.body["errors"].is_null(), "{}", none.text);
    let rest = app.get("/api/v1/models/model?id=anchor", Some(&alice)).await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));

    // A read grant: the model without params, no write access; updating is the REST denial.
    grant(&app, &admin, "anchor", json!([read_by(&alice_id)])).await;
    let r = gql(&app, Some(&alice), "{ model(id: \"anchor\") { id params writeAccess } }", json!({})).await;
    assert_eq!(r.body["data"]["model"], json!({"id": "anchor", "params": {}, "writeAccess": false}));
    let u = gql(
        &app,
        Some(&alice),
        UPDATE,
        json!({"i": {"id": "anchor", "name": "hacked", "meta": {}, "params": {}}}),
    )
    .await;
    let rest = app
        .post(
            "/api/v1/models/model/update",
            Some(&alice),
            json!({"id": "anchor", "name": "hacked", "meta": {}, "params": {}}),
        )
        .await;
    assert_eq!((rest.status, rest.detail()), (StatusCode::BAD_REQUEST, ACCESS_PROHIBITED));
    assert_eq!(error_of(&u), (ACCESS_PROHIBITED.into(), "ACCESS_PROHIBITED".into()));
    assert_eq!(u.body["errors"][0]["extensions"]["status"], json!(400));
    let t = gql(&app, Some(&alice), "mutation { toggleModel(id: \"anchor\") { id } }", json!({})).await;
    assert_eq!(error_of(&t), (UNAUTHORIZED.into(), "UNAUTHORIZED".into()));
    let d = gql(&app, Some(&alice), "mutation { deleteModel(id: \"anchor\") }", json!({})).await;
    assert_eq!(error_of(&d), (UNAUTHORIZED.into(), "UNAUTHORIZED".into()));
    assert_eq!(
        app.scalar_text("select name from models where id = $1", "anchor").await.as_deref(),
        Some("Anchor")
    );
    // Without a credential: the REST authentication error.
    let anon = gql(&app, None, "{ models { totalCount } }", json!({})).await;
    let rest = app.get("/api/v1/models/list", None).await;
    assert_eq!(error_of(&anon).0, rest.detail());
    assert_eq!(error_of(&anon).1, "NOT_AUTHENTICATED");
}

async fn models_connection_pages_across_service_pages(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for i in 0..35 {
        create(&app, &admin, preset(&format!("p{i:02}"), "base")).await;
    }
    let q = "query($first: Int, $after: String) { models(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } } } }";
    let rest_ids: Vec<String> = {
        let one = app.get("/api/v1/models/list?page=1", Some(&admin)).await;
        let two = app.get("/api/v1/models/list?page=2", Some(&admin)).await;
        ids(&one.body["items"]).into_iter().chain(ids(&two.body["items"])).collect()
    };
    assert_eq!(rest_ids.len(), 35);

    let first = gql(&app, Some(&admin), q, json!({"first": 20})).await;
    let c = &first.body["data"]["models"];
    assert_eq!(c["totalCount"], json!(35));
    assert_eq!(c["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(c["pageInfo"]["hasPreviousPage"], json!(false));
    assert_eq!(c["pageInfo"]["startCursor"], c["edges"][0]["cursor"]);
    assert_eq!(c["pageInfo"]["endCursor"], c["edges"][19]["cursor"]);
    assert_eq!(edge_ids(c), rest_ids[..20]);
    let after = c["pageInfo"]["endCursor"].as_str().expect("cursor").to_string();
    let next = gql(&app, Some(&admin), q, json!({"first": 20, "after": after})).await;
    let c = &next.body["data"]["models"];
    assert_eq!(edge_ids(c), rest_ids[20..]);
    assert_eq!(c["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(c["pageInfo"]["hasPreviousPage"], json!(true));
    assert_eq!(c["pageInfo"]["startCursor"], c["edges"][0]["cursor"]);
    // One GraphQL page spanning both service pages, and an empty page with the total.
    let wide = gql(&app, Some(&admin), q, json!({"first": 40})).await;
    assert_eq!(edge_ids(&wide.body["data"]["models"]), rest_ids);
    let none = gql(&app, Some(&admin), q, json!({"first": 0})).await;
    assert_eq!(none.body["data"]["models"]["totalCount"], json!(35));
    assert_eq!(edge_ids(&none.body["data"]["models"]), Vec::<String>::new());
}

async fn chat_and_user_models(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    create(&app, &admin, preset("m1", "base")).await;
    create(&app, &admin, preset("m2", "base")).await;
    create(&app, &admin, preset("secret", "base")).await;
    let chat = new_chat(&app, &admin, "Two models", json!(["m2", "unknown-model", "m1"])).await;

    let q = "query($id: String!) { chat(id: $id) { models { id name writeAccess } } }";
    let a = gql(&app, Some(&admin), q, json!({"id": chat})).await;
    assert_eq!(
        a.body["data"]["chat"]["models"],
        json!([{"id": "m2", "name": "Model m2", "writeAccess": true}, {"id": "m1", "name": "Model m1", "writeAccess": true}]),
        "{}",
        a.text
    );
    // In a connection too.
    let list = gql(&app, Some(&admin), "{ chats { edges { node { id models { id } } } } }", json!({})).await;
    assert_eq!(list.body["data"]["chats"]["edges"][0]["node"]["models"], json!([{"id": "m2"}, {"id": "m1"}]));

    // Alice's chat lists a model she cannot read: skipped.
    grant(&app, &admin, "m1", json!([read_by(&alice_id)])).await;
    let hers = new_chat(&app, &alice, "Hers", json!(["secret", "m1"])).await;
    let a = gql(&app, Some(&alice), q, json!({"id": hers})).await;
    assert_eq!(
        a.body["data"]["chat"]["models"],
        json!([{"id": "m1", "name": "Model m1", "writeAccess": false}]),
        "{}",
        a.text
    );

    // User.models: the user's models the caller can read.
    let mine = gql(&app, Some(&admin), "{ me { models { id } } }", json!({})).await;
    let mut got = ids(&mine.body["data"]["me"]["models"]);
    got.sort();
    assert_eq!(got, ["m1", "m2", "secret"]);
    let alice_models = gql(&app, Some(&alice), "{ me { models { id } } }", json!({})).await;
    assert_eq!(alice_models.body["data"]["me"]["models"], json!([]));
    // A model's owner is what REST shows of it: id, name, role, email, nothing more.
    let owner =
        gql(&app, Some(&alice), "{ model(id: \"m1\") { user { id name role email } } }", json!({})).await;
    assert_eq!(
        owner.body["data"]["model"]["user"],
        json!({"id": admin_id, "name": "Admin", "role": "admin", "email": "admin@example.com"})
    );
    let more = gql(&app, Some(&alice), "{ model(id: \"m1\") { user { lastActiveAt } } }", json!({})).await;
    assert!(error_of(&more).0.contains("Unknown field \"lastActiveAt\""), "{}", more.text);
    let user = gql(
        &app,
        Some(&admin),
        "query($id: String!) { user(id: $id) { models { id } } }",
        json!({"id": alice_id}),
    )
    .await;
    assert_eq!(user.body["data"]["user"]["models"], json!([]));
}

/// A page of `n` chats, each listing two stored models and an unknown one, with their models.
async fn chat_page_statements(b: Backend, n: usize) -> Option<u64> {
    let env = [NO_UPSTREAM, crate::helpers::STEADY_CACHES].concat();
    let app = TestApp::spawn_with(b, &env).await?;
    let (admin, _) = app.admin().await;
    create(&app, &admin, preset("m1", "base")).await;
    create(&app, &admin, preset("m2", "base")).await;
    for i in 0..n {
        new_chat(&app, &admin, &format!("Chat {i}"), json!(["m1", "nope", "m2"])).await;
    }
    let query = "{ chats(first: 60) { totalCount edges { node { id title models { id name } } } } }";
    let before = app.db.statement_count();
    let a = gql(&app, Some(&admin), query, json!({})).await;
    let used = app.db.statement_count() - before;
    let edges = a.body["data"]["chats"]["edges"].as_array().unwrap_or_else(|| panic!("edges: {}", a.text));
    assert_eq!(edges.len(), n);
    assert!(
        edges.iter().all(|e| e["node"]["models"]
            == json!([{"id": "m1", "name": "Model m1"}, {"id": "m2", "name": "Model m2"}])),
        "{}",
        a.text
    );
    Some(used)
}

async fn chat_models_load_with_constant_statements(b: Backend) {
    let Some(five) = chat_page_statements(b, 5).await else { return };
    let sixty = chat_page_statements(b, 60).await.expect("second run");
    assert_eq!(five, sixty, "5 chats took {five} statements, 60 took {sixty}");
    assert!(five <= 10, "{five} statements");
}
