//! `FRONTEND_BUILD_DIR`: a built web app served at `/` — files with their content types and
//! caching, `HEAD` and conditional requests, the SPA fallback for client routes but never for
//! duet's own paths, no way out of the directory (raw `..` sent over a plain TCP connection, since
//! reqwest normalises it), the start-up checks, and the JSON 404 when the variable is unset.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp};

const INDEX: &str = "<!doctype html><html><head><title>the app</title></head><body>app shell</body></html>";
const SECRET: &str = "top secret outside the build";

/// A build directory inside a temporary folder that also holds files the server must never
/// send (`secret.txt` beside the build, `outside/` with its own `index.html`).
struct Build {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// Every file of the build: (path, bytes, content type, cache control).
const FILES: &[(&str, &[u8], &str, &str)] = &[
    (
        "_app/immutable/entry/start.BxT3aZ9q.js",
        b"export const x = 1;",
        "text/javascript; charset=utf-8",
        IMMUTABLE,
    ),
    ("_app/immutable/assets/0.CxYz12Ab.css", b"body{margin:0}", "text/css; charset=utf-8", IMMUTABLE),
    ("_app/immutable/workers/w.wasm", b"\0asm\x01\0\0\0", "application/wasm", IMMUTABLE),
    ("_app/version.json", b"{\"version\":\"1\"}", "application/json", NO_CACHE),
    ("static/favicon.png", b"\x89PNG\r\n\x1a\n", "image/png", NO_CACHE),
    ("static/favicon.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "image/svg+xml", NO_CACHE),
    ("static/site.webmanifest", b"{}", "application/manifest+json", NO_CACHE),
    ("static/custom.css", b"", "text/css; charset=utf-8", NO_CACHE),
    ("favicon.ico", b"\0\0\x01\0", "image/vnd.microsoft.icon", NO_CACHE),
    ("manifest.json", b"{\"name\":\"app\"}", "application/json", NO_CACHE),
    ("robots.txt", b"User-agent: *\nDisallow: /\n", "text/plain; charset=utf-8", NO_CACHE),
    ("assets/fonts/Inter.woff2", b"wOF2", "font/woff2", NO_CACHE),
    ("assets/images/bg.webp", b"RIFF0000WEBP", "image/webp", NO_CACHE),
    ("opensearch.xml", b"<OpenSearchDescription/>", "application/xml", NO_CACHE),
    ("docs-page.html", b"<p>another page</p>", "text/html; charset=utf-8", NO_CACHE),
];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

impl Build {
    fn new() -> Build {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("build");
        write(&dir, "index.html", INDEX.as_bytes());
        for (rel, bytes, _, _) in FILES {
            write(&dir, rel, bytes);
        }
        write(tmp.path(), "secret.txt", SECRET.as_bytes());
        write(tmp.path(), "outside/index.html", SECRET.as_bytes());
        Build { _tmp: tmp, dir }
    }

    fn outside(&self) -> PathBuf {
        self._tmp.path().to_path_buf()
    }

    async fn serve(&self, extra: &[(&str, &str)]) -> TestApp {
        let dir = self.dir.display().to_string();
        let mut env = vec![("FRONTEND_BUILD_DIR", dir.as_str())];
        env.extend_from_slice(extra);
        TestApp::spawn_with(Backend::Sqlite, &env).await.expect("server")
    }
}

/// A request sent byte for byte (the path is not normalised); returns the status and the body.
async fn raw_request(app: &TestApp, request_line: &str) -> (u16, String) {
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let text = format!("{request_line}\r\nhost: {}\r\nconnection: close\r\n\r\n", app.addr);
    socket.write_all(text.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn header<'a>(a: &'a crate::helpers::Answer, name: &str) -> &'a str {
    a.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn assert_page(a: &crate::helpers::Answer, path: &str) {
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    assert_eq!(a.text, INDEX, "{path}");
    assert_eq!(header(a, "content-type"), "text/html; charset=utf-8", "{path}");
    assert_eq!(header(a, "cache-control"), NO_CACHE, "{path}");
}

fn assert_json_404(a: &crate::helpers::Answer, path: &str) {
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.text);
    assert_eq!(a.body, json!({"detail": "Not Found"}), "{path}");
}

#[tokio::test]
async fn files_are_served_with_their_content_type_and_caching() {
    let build = Build::new();
    let app = build.serve(&[]).await;
    for (rel, bytes, content_type, cache) in FILES {
        let path = format!("/{rel}");
        let res = app.client.get(app.url(&path)).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], *content_type, "{path}");
        assert_eq!(h["cache-control"], *cache, "{path}");
        assert_eq!(h["content-length"], bytes.len().to_string().as_str(), "{path}");
        assert!(h.contains_key("etag") && h.contains_key("last-modified"), "{path}: {h:?}");
        assert_eq!(&res.bytes().await.expect("body")[..], *bytes, "{path}");
    }
    // `/` and a folder's `index.html` are the page, revalidated on every use.
    for path in ["/", "/index.html"] {
        assert_page(&app.get(path, None).await, path);
    }
}

#[tokio::test]
async fn a_file_larger_than_one_chunk_arrives_whole() {
    let build = Build::new();
    let big: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    write(&build.dir, "wasm/big.wasm", &big);
    let app = build.serve(&[]).await;
    let res = app.client.get(app.url("/wasm/big.wasm")).send().await.expect("request");
    assert_eq!(res.headers()["content-length"], "1000003");
    assert_eq!(res.headers()["content-type"], "application/wasm");
    let body = res.bytes().await.expect("body");
    assert!(body[..] == big[..], "the body differs from the file ({} bytes)", body.len());
}

#[tokio::test]
async fn client_routes_get_the_page_and_duet_paths_keep_their_json_404() {
    let build = Build::new();
    let app = build.serve(&[]).await;
    for path in [
        "/auth",
        "/c/5e4b1e0c-1f3a-4a59-9d3e-0c6f8d1a2b3c",
        "/admin/settings",
        "/admin/settings/",
        "/s/abc?x=1",
    ] {
        assert_page(&app.get(path, None).await, path);
    }
    // duet's own paths are never the page: unrouted ones keep the JSON 404, and whatever a route
    // under them answers (e.g. a provider proxy's 401) stays that route's JSON.
    for path in [
        "/api",
        "/api/",
        "/api/v1/nope",
        "/api/v1/chats/nope/extra/segments",
        "/graphql/x",
        "/docs/nope",
        "/openapi.json/x",
        "/health/nope",
    ] {
        assert_json_404(&app.get(path, None).await, path);
    }
    for path in ["/ws/nope", "/ws/", "/playground/assets/nope.js", "/openai/nope", "/ollama/nope"] {
        let a = app.get(path, None).await;
        assert!(a.status.is_client_error(), "{path}: {} {}", a.status, a.text);
        assert_ne!(a.text, INDEX, "{path}");
        assert!(a.body["detail"].is_string(), "{path}: {}", a.text);
    }
    // Missing assets are not the page either.
    for path in ["/_app/immutable/chunks/gone.js", "/_app/nope", "/static/nope.png", "/gone.js", "/gone.css"]
    {
        assert_json_404(&app.get(path, None).await, path);
    }
    // duet's own routes answer as before.
    assert_eq!(app.get("/health", None).await.body, json!({"status": true}));
    let config = app.get("/api/config", None).await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.body["status"], true);
    assert_eq!(app.get("/openapi.json", None).await.status, StatusCode::OK);
    let playground = app.raw("GET", "/playground", &[("accept", "text/html")], None).await;
    assert!(playground.text.contains("GraphQL playground"), "{}", playground.text);
    // The build is read-only.
    let post = app.post("/c/abc", None, json!({})).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.body, json!({"detail": "Method Not Allowed"}));
    assert_eq!(header(&post, "allow"), "GET, HEAD");
    assert_json_404(&app.post("/api/v1/nope", None, json!({})).await, "POST /api/v1/nope");
}

#[tokio::test]
async fn head_and_conditional_requests_are_answered_without_the_body() {
    let build = Build::new();
    let app = build.serve(&[]).await;
    let path = "/_app/immutable/entry/start.BxT3aZ9q.js";
    let head = app.raw("HEAD", path, &[], None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.text, "");
    assert_eq!(header(&head, "content-length"), "19");
    assert_eq!(header(&head, "content-type"), "text/javascript; charset=utf-8");
    let page = app.raw("HEAD", "/c/123", &[], None).await;
    assert_eq!((page.status, page.text.as_str()), (StatusCode::OK, ""));
    assert_eq!(header(&page, "content-length"), INDEX.len().to_string());

    let first = app.get(path, None).await;
    let etag = header(&first, "etag").to_string();
    let modified = header(&first, "last-modified").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = app.raw("GET", path, &[("if-none-match", &etag)], None).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.text, "");
    assert_eq!(header(&again, "etag"), etag);
    assert_eq!(header(&again, "cache-control"), IMMUTABLE);
    let since = app.raw("GET", path, &[("if-modified-since", &modified)], None).await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
    let other = app.raw("GET", path, &[("if-none-match", "\"something-else\"")], None).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.text, "export const x = 1;");
    // The page's validator works for client routes too.
    let shell = app.get("/", None).await;
    let revalidated = app.raw("GET", "/c/1", &[("if-none-match", header(&shell, "etag"))], None).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn no_path_leaves_the_build_directory() {
    let build = Build::new();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(build.outside().join("secret.txt"), build.dir.join("leak.txt"))
            .expect("link");
        std::os::unix::fs::symlink(build.outside().join("outside"), build.dir.join("elsewhere"))
            .expect("link");
        std::os::unix::fs::symlink(build.dir.join("robots.txt"), build.dir.join("robots-link.txt"))
            .expect("link");
    }
    let app = build.serve(&[]).await;
    for path in [
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2fetc%2fpasswd",
        "/a/..%5c..%5csecret.txt",
        "/leak.txt",
        "/elsewhere/",
        "/elsewhere/index.html",
        "/elsewhere",
    ] {
        let a = app.get(path, None).await;
        assert_json_404(&a, path);
        assert!(!a.text.contains(SECRET), "{path}");
    }
    // Sent as written: hyper and the router pass these paths through unchanged.
    for line in [
        "GET /../secret.txt HTTP/1.1",
        "GET /_app/../../secret.txt HTTP/1.1",
        "GET /static/../../outside/index.html HTTP/1.1",
        "GET /./../secret.txt HTTP/1.1",
        "GET //etc/passwd HTTP/1.1",
        "GET /c/../../secret.txt HTTP/1.1",
    ] {
        let (status, body) = raw_request(&app, line).await;
        assert_eq!(status, 404, "{line}: {body}");
        assert_eq!(body, r#"{"detail":"Not Found"}"#, "{line}");
    }
    // A symlink that stays inside is followed.
    #[cfg(unix)]
    assert_eq!(app.get("/robots-link.txt", None).await.text, "User-agent: *\nDisallow: /\n");
    let (status, body) = raw_request(&app, "GET /robots.txt HTTP/1.1").await;
    assert_eq!((status, body.as_str()), (200, "User-agent: *\nDisallow: /\n"));
}

#[tokio::test]
async fn configured_security_headers_apply_to_files_and_the_page() {
    let build = Build::new();
    let csp = "default-src 'self'; img-src 'self' data:";
    let app = build.serve(&[("CONTENT_SECURITY_POLICY", csp), ("XFRAME_OPTIONS", "DENY")]).await;
    for path in ["/", "/c/1", "/_app/immutable/entry/start.BxT3aZ9q.js", "/nope.js"] {
        let a = app.get(path, None).await;
        assert_eq!(header(&a, "content-security-policy"), csp, "{path}");
        assert_eq!(header(&a, "x-frame-options"), "DENY", "{path}");
    }
}

#[tokio::test]
async fn without_the_variable_every_unrouted_path_is_the_json_404() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    for path in ["/", "/index.html", "/c/123", "/auth", "/_app/version.json", "/api/v1/nope"] {
        assert_json_404(&app.get(path, None).await, path);
    }
    let post = app.post("/c/abc", None, json!({})).await;
    assert_json_404(&post, "POST /c/abc");
}

#[test]
fn a_missing_directory_or_one_without_index_html_stops_start_up() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = |dir: &Path| {
        let vars = [("FRONTEND_BUILD_DIR".to_string(), dir.display().to_string())].into_iter().collect();
        duet::Config::from_map(&vars)
    };
    let missing = tmp.path().join("nope");
    let e = config(&missing).expect_err("missing directory");
    assert_eq!(e.var, "FRONTEND_BUILD_DIR");
    assert!(
        e.message.starts_with(&format!(
            "cannot open the web app's build directory {:?}",
            missing.display().to_string()
        )),
        "{}",
        e.message
    );

    let e = config(tmp.path()).expect_err("no index.html");
    assert_eq!(e.var, "FRONTEND_BUILD_DIR");
    assert!(e.message.ends_with("has no index.html; point it at a built web app (the open_webui/frontend folder of the open-webui wheel)"), "{}", e.message);

    write(tmp.path(), "file", b"x");
    let e = config(&tmp.path().join("file")).expect_err("a file");
    assert!(e.message.ends_with("is not a directory"), "{}", e.message);

    write(tmp.path(), "index.html", b"<p>");
    let c = config(tmp.path()).expect("a build directory");
    let root = c.frontend.expect("frontend");
    assert_eq!(root.root(), std::fs::canonicalize(tmp.path()).expect("canonical"));
}
