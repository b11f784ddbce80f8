//! The GraphQL playground: the page and its embedded assets over HTTP, and a real browser
//! (headless chromium driven by `tests/browser/playground.mjs`) checking what a person sees: no
//! error once the page has loaded, the docs explorer listing `Query`'s fields, and
//! `{ me { email } }` run with a sign-in cookie and with a pasted bearer token, and so is a
//! `messageStream` subscription of a reply the fake provider streams.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

const ASSETS: &[(&str, &str)] = &[
    ("graphiql.min.js", "vendor/graphiql.min.js"),
    ("graphiql.min.css", "vendor/graphiql.min.css"),
    ("react.production.min.js", "vendor/react.production.min.js"),
    ("react-dom.production.min.js", "vendor/react-dom.production.min.js"),
    ("playground.js", "playground.js"),
    ("playground.css", "playground.css"),
];

#[tokio::test]
async fn the_page_and_every_asset_are_served_from_the_binary() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let page = app.raw("GET", "/playground", &[("accept", "text/html")], None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.text.contains("<title>duet · GraphQL playground</title>"), "{}", page.text);
    assert!(!page.text.contains("http://") && !page.text.contains("https://"), "external URL in the page");
    for (name, file) in ASSETS {
        assert!(page.text.contains(&format!("/playground/assets/{name}")), "{name} not referenced");
        let res = app.client.get(app.url(&format!("/playground/assets/{name}"))).send().await.expect("asset");
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let content_type = res.headers()["content-type"].to_str().expect("ascii").to_string();
        let wanted = if name.ends_with(".js") { "text/javascript" } else { "text/css" };
        assert!(content_type.starts_with(wanted), "{name}: {content_type}");
        let bytes = res.bytes().await.expect("bytes");
        let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("playground").join(file))
            .expect("vendored file");
        assert_eq!(bytes.len(), on_disk.len(), "{name}");
        assert!(bytes[..] == on_disk[..], "{name} differs from playground/{file}");
    }
    let missing = app.get("/playground/assets/secret.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body, json!({"detail": "Not Found"}));
    let traversal = app.get("/playground/assets/..%2F..%2FCargo.toml", None).await;
    assert_eq!(traversal.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_navigating_to_graphql_gets_the_page_and_clients_get_graphql() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let browser =
        app.raw("GET", "/graphql", &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")], None).await;
    assert_eq!(browser.status, StatusCode::OK);
    assert!(browser.text.contains("/playground/assets/graphiql.min.js"));

    let client = app.raw("GET", "/graphql", &[("accept", "application/json")], None).await;
    assert_eq!(client.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        client.body["errors"][0]["message"],
        "Missing `query` parameter; send the operation with POST or as `?query=`."
    );
    // A query in the URL is executed even when a browser asks for HTML.
    let query = app.raw("GET", "/graphql?query=%7B__typename%7D", &[("accept", "text/html")], None).await;
    assert_eq!(query.status, StatusCode::OK);
    assert_eq!(query.body, json!({"data": {"__typename": "Query"}}));
}

#[tokio::test]
async fn the_playground_can_be_switched_off() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &[("GRAPHQL_PLAYGROUND", "false")]).await else {
        return;
    };
    for path in ["/playground", "/playground/assets/graphiql.min.js"] {
        let a = app.raw("GET", path, &[("accept", "text/html")], None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.body, json!({"detail": "Not Found"}));
    }
    let a = app.raw("GET", "/graphql", &[("accept", "text/html")], None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // GraphQL itself still answers.
    let q = app.post("/graphql", None, json!({"query": "{ __typename }"})).await;
    assert_eq!(q.body, json!({"data": {"__typename": "Query"}}));
}

/// What the browser test needs, or why it cannot run here.
fn browser_setup() -> Result<(String, std::path::PathBuf), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!("{chromium} is missing (apt-get install chromium)"));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("tests/browser/node_modules is missing (cd tests/browser && npm ci)".into());
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    Ok((chromium, dir))
}

/// Ignored unless the tests are built with `DUET_TEST_BROWSER=1` (or under CI); then a missing
/// chromium, node or `tests/browser/node_modules` fails it.
#[tokio::test]
#[cfg_attr(duet_no_browser, ignore = "DUET_TEST_BROWSER is not set")]
async fn a_headless_browser_runs_a_query_with_the_cookie_and_with_a_pasted_token() {
    crate::helpers::required_env("DUET_TEST_BROWSER", "1");
    let (chromium, dir) =
        browser_setup().unwrap_or_else(|why| panic!("the playground browser test cannot run: {why}"));
    let setup = crate::completions::setup(Backend::Sqlite, &[]).await;
    let (app, token) = (&setup.app, setup.admin.clone());
    let doc = json!({"title": "Stored", "history": {"currentId": "a1", "messages": {
        "u1": {"id": "u1", "parentId": null, "childrenIds": ["a1"], "role": "user", "content": "Hi"},
        "a1": {"id": "a1", "parentId": "u1", "childrenIds": [], "role": "assistant", "content": "Hello", "done": true}}}});
    let chat = app.post("/api/v1/chats/new", Some(&token), json!({"chat": doc})).await;
    let chat_id = chat.body["id"].as_str().expect("chat id").to_string();
    let base = format!("http://{}", app.addr);
    // Screenshots of each step (and of a failure), for a person to look at.
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("playground-shots");
    let shots_shown = shots.display().to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(dir.join("playground.mjs"))
            .args([
                &base,
                &token,
                "admin@example.com",
                &chat_id,
                crate::completions::OPENAI_MODEL,
                "Hello world!",
            ])
            .env("CHROMIUM", chromium)
            .env("PLAYGROUND_SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser test failed (screenshots in {shots_shown})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("cookie identity: Signed in as admin@example.com (admin) via the sign-in cookie"),
        "{stdout}"
    );
    // On load (GraphiQL has introspected the schema) nothing shows an error.
    assert!(
        stdout.contains("cookie on load: no error in the response pane or the docs explorer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("anonymous on load: no error in the response pane or the docs explorer"),
        "{stdout}"
    );
    // The docs explorer, opened from the sidebar, lists the root types and Query's fields.
    assert!(
        stdout.contains(
            "docs explorer: root types: query: Query, mutation: Mutation, subscription: Subscription\n"
        ),
        "{stdout}"
    );
    let expected =
        format!("docs explorer: Query fields: {}\n", query_fields(&duet::graphql::sdl()).join(", "));
    assert!(stdout.contains(&expected), "expected {expected:?} in:\n{stdout}");
    assert!(stdout.contains(r#"cookie answer: {"data":{"me":{"email":"admin@example.com"}}}"#), "{stdout}");
    assert!(stdout.contains("anonymous identity: Not signed in"), "{stdout}");
    assert!(
        stdout.contains("token identity: Signed in as admin@example.com (admin) via the pasted token"),
        "{stdout}"
    );
    assert!(stdout.contains(r#"token answer: {"data":{"me":{"email":"admin@example.com"}}}"#), "{stdout}");
    let streamed =
        r#"subscription: {"data":{"messageStream":{"kind":"DONE","content":"Hello world!","done":true}}}"#;
    assert!(stdout.contains(&format!("cookie {streamed}")), "{stdout}");
    assert!(stdout.contains(&format!("token {streamed}")), "{stdout}");
    assert!(stdout.contains("playground ok"), "{stdout}");
}

/// The fields of `type Query` in the SDL, in order (what the docs explorer lists).
fn query_fields(sdl: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut in_query = false;
    let mut in_description = false;
    for line in sdl.lines() {
        let line = line.trim();
        if !in_query {
            in_query = line == "type Query {";
            continue;
        }
        if line.starts_with("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description {
            continue;
        }
        if line == "}" {
            break;
        }
        let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && line[name.len()..].starts_with(['(', ':']) {
            fields.push(name);
        }
    }
    fields
}
