//! The OpenAPI document (`GET /openapi.json`, `schema/openapi.json`) and the Swagger UI page
//! (`GET /docs`).

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    openapi_json_is_the_checked_in_document,
    every_documented_operation_is_served_by_the_router,
    docs_page_uses_only_same_origin_assets,
    docs_assets_are_served_with_their_types_and_long_caching,
);

/// Every REST route of the router (src/rest/*.rs `router()`), checked by hand: a route added
/// there without an annotation fails `every_route_is_documented`.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/db"),
    ("get", "/api/version"),
    ("get", "/api/config"),
    ("get", "/api/v1/auths"),
    ("get", "/api/v1/auths/"),
    ("post", "/api/v1/auths/signin"),
    ("post", "/api/v1/auths/signup"),
    ("post", "/api/v1/auths/signout"),
    ("post", "/api/v1/auths/update/profile"),
    ("post", "/api/v1/auths/update/timezone"),
    ("post", "/api/v1/auths/update/password"),
    ("post", "/api/v1/auths/add"),
    ("get", "/api/v1/auths/admin/details"),
    ("get", "/api/v1/auths/admin/config"),
    ("post", "/api/v1/auths/admin/config"),
    ("get", "/api/v1/auths/api_key"),
    ("post", "/api/v1/auths/api_key"),
    ("delete", "/api/v1/auths/api_key"),
    ("get", "/api/v1/users"),
    ("get", "/api/v1/users/"),
    ("get", "/api/v1/users/default/permissions"),
    ("post", "/api/v1/users/default/permissions"),
    ("get", "/api/v1/users/{user_id}"),
    ("delete", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/users/{user_id}/update"),
    ("get", "/api/v1/users/all"),
    ("get", "/api/v1/users/search"),
    ("get", "/api/v1/users/usage"),
    ("get", "/api/v1/users/default/permissions/defaults"),
    ("get", "/api/v1/users/user/settings"),
    ("post", "/api/v1/users/user/settings/update"),
    ("get", "/api/v1/users/user/status"),
    ("post", "/api/v1/users/user/status/update"),
    ("get", "/api/v1/users/user/info"),
    ("post", "/api/v1/users/user/info/update"),
    ("get", "/api/v1/users/user/variables"),
    ("post", "/api/v1/users/user/variables/update"),
    ("get", "/api/v1/users/{user_id}/info"),
    ("get", "/api/v1/users/{user_id}/active"),
    ("get", "/api/v1/users/{user_id}/oauth/sessions"),
    ("get", "/api/v1/users/{user_id}/profile/image"),
    ("post", "/api/v1/users/{user_id}/sessions/revoke"),
    ("get", "/api/v1/users/{user_id}/preview"),
    ("get", "/api/v1/chats"),
    ("delete", "/api/v1/chats"),
    ("get", "/api/v1/chats/"),
    ("delete", "/api/v1/chats/"),
    ("get", "/api/v1/chats/list"),
    ("post", "/api/v1/chats/new"),
    ("post", "/api/v1/chats/import"),
    ("get", "/api/v1/chats/search"),
    ("get", "/api/v1/chats/pinned"),
    ("get", "/api/v1/chats/all"),
    ("get", "/api/v1/chats/all/archived"),
    ("get", "/api/v1/chats/all/tags"),
    ("get", "/api/v1/chats/all/db"),
    ("get", "/api/v1/chats/archived"),
    ("get", "/api/v1/chats/archived/count"),
    ("post", "/api/v1/chats/archive/all"),
    ("post", "/api/v1/chats/unarchive/all"),
    ("delete", "/api/v1/chats/share/all"),
    ("get", "/api/v1/chats/share/{share_id}"),
    ("get", "/api/v1/chats/shared"),
    ("post", "/api/v1/chats/tags"),
    ("get", "/api/v1/chats/list/user/{user_id}"),
    ("get", "/api/v1/chats/{id}"),
    ("post", "/api/v1/chats/{id}"),
    ("delete", "/api/v1/chats/{id}"),
    ("get", "/api/v1/chats/{id}/pinned"),
    ("post", "/api/v1/chats/{id}/pin"),
    ("post", "/api/v1/chats/{id}/archive"),
    ("post", "/api/v1/chats/{id}/share"),
    ("delete", "/api/v1/chats/{id}/share"),
    ("post", "/api/v1/chats/{id}/clone"),
    ("post", "/api/v1/chats/{id}/clone/shared"),
    ("get", "/api/v1/chats/{id}/tags"),
    ("post", "/api/v1/chats/{id}/tags"),
    ("delete", "/api/v1/chats/{id}/tags"),
    ("post", "/api/v1/chats/{id}/messages/{message_id}"),
    ("delete", "/api/v1/chats/{id}/messages/{message_id}"),
    ("get", "/api/v1/chats/config"),
    ("post", "/api/v1/chats/config"),
    ("get", "/api/v1/chats/stats/usage"),
    ("get", "/api/v1/chats/stats/export"),
    ("get", "/api/v1/chats/stats/export/{chat_id}"),
    ("get", "/api/v1/chats/shared/{id}/access"),
    ("post", "/api/v1/chats/shared/{id}/access/update"),
    ("patch", "/api/v1/chats/{id}/params"),
    ("post", "/api/v1/chats/{id}/fork"),
    ("post", "/api/v1/chats/{id}/compact"),
    ("post", "/api/v1/chats/{id}/messages/{message_id}/event"),
    ("get", "/api/models"),
    ("post", "/api/chat/completions"),
    ("post", "/api/v1/chat/completions"),
    ("get", "/openai/config"),
    ("post", "/openai/config/update"),
    ("get", "/openai/models"),
    ("get", "/openai/models/{url_idx}"),
    ("post", "/openai/chat/completions"),
    ("post", "/openai/v1/chat/completions"),
    ("get", "/ollama/config"),
    ("post", "/ollama/config/update"),
    ("get", "/ollama/api/tags"),
    ("get", "/ollama/api/tags/{url_idx}"),
    ("post", "/ollama/api/chat"),
    ("post", "/ollama/api/chat/{url_idx}"),
    ("get", "/api/v1/models"),
    ("get", "/api/models/base"),
    ("get", "/api/v1/models/list"),
    ("get", "/api/v1/models/all"),
    ("get", "/api/v1/models/base"),
    ("get", "/api/v1/models/base/tags"),
    ("get", "/api/v1/models/tags"),
    ("post", "/api/v1/models/create"),
    ("get", "/api/v1/models/export"),
    ("post", "/api/v1/models/import"),
    ("get", "/api/v1/models/model"),
    ("post", "/api/v1/models/model/update"),
    ("post", "/api/v1/models/model/delete"),
    ("post", "/api/v1/models/model/toggle"),
    ("post", "/api/v1/models/model/access/update"),
    ("delete", "/api/v1/models/delete/all"),
    ("post", "/api/v1/models/sync"),
    ("get", "/api/v1/models/model/history"),
    ("get", "/api/v1/models/model/history/{history_id}"),
    ("delete", "/api/v1/models/model/history/{history_id}"),
    ("post", "/api/v1/models/model/update/version"),
    ("get", "/api/v1/models/model/profile/image"),
    ("get", "/api/v1/configs/banners"),
    ("post", "/api/v1/configs/banners"),
    ("get", "/api/v1/tools"),
    ("get", "/api/v1/tools/"),
    ("get", "/api/v1/functions"),
    ("get", "/api/v1/functions/"),
    ("get", "/api/v1/skills"),
    ("get", "/api/v1/skills/"),
    ("get", "/api/changelog"),
    ("get", "/api/tasks/chat/{chat_id}"),
    ("post", "/api/tasks/stop/{task_id}"),
    ("post", "/api/tasks/chat/{chat_id}/stop"),
    ("get", "/api/tasks"),
    ("get", "/api/usage"),
    ("get", "/api/v1/channels"),
    ("get", "/api/v1/groups"),
    ("get", "/api/v1/groups/"),
    ("post", "/api/v1/groups/create"),
    ("get", "/api/v1/groups/id/{id}"),
    ("get", "/api/v1/groups/id/{id}/info"),
    ("get", "/api/v1/groups/id/{id}/export"),
    ("post", "/api/v1/groups/id/{id}/users"),
    ("post", "/api/v1/groups/id/{id}/update"),
    ("post", "/api/v1/groups/id/{id}/users/add"),
    ("post", "/api/v1/groups/id/{id}/users/remove"),
    ("delete", "/api/v1/groups/id/{id}/delete"),
    ("get", "/api/v1/groups/id/{id}/preview"),
    ("get", "/api/v1/groups/id/{id}/members"),
    ("get", "/api/v1/users/groups"),
    ("get", "/api/v1/users/permissions"),
    ("get", "/api/v1/users/{user_id}/groups"),
    ("get", "/api/v1/folders"),
    ("post", "/api/v1/folders"),
    ("get", "/api/v1/folders/"),
    ("post", "/api/v1/folders/"),
    ("get", "/api/v1/folders/shared"),
    ("get", "/api/v1/folders/{id}"),
    ("delete", "/api/v1/folders/{id}"),
    ("post", "/api/v1/folders/{id}/update"),
    ("post", "/api/v1/folders/{id}/update/parent"),
    ("post", "/api/v1/folders/{id}/update/expanded"),
    ("post", "/api/v1/folders/{id}/access/update"),
    ("get", "/api/v1/folders/{id}/shared/chats"),
    ("post", "/api/v1/folders/{id}/read"),
    ("post", "/api/v1/chats/read"),
    ("post", "/api/v1/chats/{id}/unread"),
    ("post", "/api/v1/chats/{id}/folder"),
    ("get", "/api/v1/chats/folder/{folder_id}"),
    ("get", "/api/v1/chats/folder/{folder_id}/list"),
];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_documented() {
    let doc = serde_json::to_value(duet::rest::openapi::document()).expect("document");
    let documented = operations(&doc);
    let routed: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
    assert!(unrouted.is_empty(), "documented operations missing from ROUTES: {unrouted:?}");
    assert_eq!(documented.len(), ROUTES.len());
}

#[test]
fn document_is_openapi_3_1_with_the_error_shape_and_security_schemes() {
    let doc = serde_json::to_value(duet::rest::openapi::document()).expect("document");
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "token");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["detail"]));
    let signin = &doc["paths"]["/api/v1/auths/signin"]["post"];
    assert_eq!(signin["security"], serde_json::json!([{}]));
    assert_eq!(
        signin["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    // Plain `true` and counts are JSON answers too (schemathesis' content-type check).
    for (path, method) in [("/api/v1/chats/archived/count", "get"), ("/api/v1/chats/{id}", "delete")] {
        let content = &doc["paths"][path][method]["responses"]["200"]["content"];
        assert!(content["application/json"]["schema"]["type"].is_string(), "{method} {path}: {content}");
        assert!(content.get("text/plain").is_none(), "{method} {path}: {content}");
    }
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(_, item)| item.as_object().into_iter().flatten())
        .filter_map(|(_, op)| op["operationId"].as_str())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "operation ids repeat");
}

#[test]
fn checked_in_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/openapi.json");
    let file = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        file == duet::rest::openapi::json(),
        "schema/openapi.json is out of date: run `cargo run -q -- export-openapi > schema/openapi.json`"
    );
}

async fn openapi_json_is_the_checked_in_document(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = app.get("/openapi.json", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.text, duet::rest::openapi::json());
    assert_eq!(a.body["info"]["title"], "duet");
}

/// Each documented operation reaches a handler: not the 404 `Not Found` / 405 fallbacks.
async fn every_documented_operation_is_served_by_the_router(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{user_id}", "u1")
            .replace("{share_id}", "s1")
            .replace("{id}", "c1")
            .replace("{message_id}", "m1");
        let a = app.send(&method.to_uppercase(), &concrete, None, None).await;
        let fallback = (a.status == StatusCode::NOT_FOUND && a.detail() == "Not Found")
            || a.status == StatusCode::METHOD_NOT_ALLOWED;
        assert!(!fallback, "{method} {path} is not routed: {} {}", a.status, a.text);
    }
}

async fn docs_page_uses_only_same_origin_assets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let a = app.get("/docs", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "text/html; charset=utf-8");
    let v = duet::rest::docs_ui::SWAGGER_UI_VERSION;
    assert!(a.text.contains(&format!(r#"<script src="/docs/assets/{v}/swagger-ui-bundle.js"></script>"#)));
    assert!(a.text.contains(&format!(r#"<link rel="stylesheet" href="/docs/assets/{v}/swagger-ui.css">"#)));
    assert!(!a.text.contains("http://") && !a.text.contains("https://"), "{}", a.text);
    assert!(!a.text.contains("<script>"), "no inline script: {}", a.text);
    let init = app.get(&format!("/docs/assets/{v}/init.js"), None).await;
    assert!(init.text.contains(r#"url: "/openapi.json""#), "{}", init.text);
}

async fn docs_assets_are_served_with_their_types_and_long_caching(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let v = duet::rest::docs_ui::SWAGGER_UI_VERSION;
    for (name, content_type, min_len) in [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", 1_000_000),
        ("swagger-ui.css", "text/css; charset=utf-8", 100_000),
        ("init.js", "text/javascript; charset=utf-8", 100),
        ("LICENSE", "text/plain; charset=utf-8", 10_000),
    ] {
        let a = app.get(&format!("/docs/assets/{v}/{name}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{name}");
        assert_eq!(a.headers["content-type"], content_type, "{name}");
        assert_eq!(a.headers["cache-control"], "public, max-age=31536000, immutable", "{name}");
        assert!(a.text.len() >= min_len, "{name}: {} bytes", a.text.len());
    }
}
