//! Serving behind proxies and under slow or stuck clients: the client address and scheme from
//! trusted proxies (`FORWARDED_ALLOW_IPS`), the handler time limit (`REQUEST_TIMEOUT`), the header
//! deadline (`HEADER_READ_TIMEOUT`) of the accept loop, and the per-request log lines.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Answer, Backend, PASSWORD, Process, TestApp};

async fn signin_with(app: &TestApp, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = json!({"email": "admin@example.com", "password": PASSWORD}).to_string();
    let a = app.raw("POST", "/api/v1/auths/signin", &all, Some(&body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a
}

fn token_cookie(a: &Answer) -> String {
    let cookies = a.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    cookies[0].clone()
}

#[tokio::test]
async fn https_from_a_trusted_proxy_makes_the_session_cookie_secure() {
    // The default FORWARDED_ALLOW_IPS trusts 127.0.0.1, where the test client connects from.
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    app.admin().await;
    let plain = token_cookie(&signin_with(&app, &[]).await);
    assert!(plain.ends_with("Path=/; SameSite=lax"), "{plain}");
    let https = token_cookie(&signin_with(&app, &[("x-forwarded-proto", "https")]).await);
    assert!(https.ends_with("Path=/; SameSite=lax; Secure"), "{https}");
    // The nearest proxy's value (the last one) counts.
    let last_http = token_cookie(&signin_with(&app, &[("x-forwarded-proto", "https, http")]).await);
    assert!(!last_http.contains("Secure"), "{last_http}");
    // The session refresh (`GET /auths/`) and sign-out cookies follow the same rule.
    let token = signin_with(&app, &[]).await.body["token"].as_str().expect("token").to_string();
    let bearer = format!("Bearer {token}");
    let me = app
        .raw("GET", "/api/v1/auths/", &[("authorization", &bearer), ("x-forwarded-proto", "https")], None)
        .await;
    assert!(token_cookie(&me).ends_with("; Secure"), "{:?}", me.set_cookies());
    let out = app
        .raw(
            "POST",
            "/api/v1/auths/signout",
            &[("authorization", &bearer), ("x-forwarded-proto", "https")],
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    let expired = out.set_cookies();
    assert_eq!(expired.len(), 4);
    assert!(expired.iter().all(|c| c.ends_with("SameSite=lax; Secure")), "{expired:?}");
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let Some(app) =
        TestApp::spawn_with(Backend::Sqlite, &[("FORWARDED_ALLOW_IPS", "10.0.0.1, 192.168.0.0/16")]).await
    else {
        return;
    };
    app.admin().await;
    let cookie = token_cookie(&signin_with(&app, &[("x-forwarded-proto", "https")]).await);
    assert!(cookie.ends_with("Path=/; SameSite=lax"), "{cookie}");
    // WEBUI_AUTH_COOKIE_SECURE still makes every cookie secure, as in Open WebUI.
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[("FORWARDED_ALLOW_IPS", "10.0.0.1"), ("WEBUI_AUTH_COOKIE_SECURE", "true")],
    )
    .await
    else {
        return;
    };
    app.admin().await;
    assert!(token_cookie(&signin_with(&app, &[]).await).ends_with("; Secure"));
}

/// The JSON log lines of a stopped process.
fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The `request finished` line of the request with `id`.
fn access_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<&Value> =
        lines.iter().filter(|l| l["target"] == "duet::access" && l["span"]["request_id"] == id).collect();
    assert_eq!(found.len(), 1, "one access line for {id}: {lines:#?}");
    found[0]
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    app.raw("GET", path, headers, None).await
}

#[tokio::test]
async fn client_ip_in_the_log_comes_from_trusted_proxies_only() {
    let server =
        Process::start(&[("LOG_FORMAT", "json"), ("FORWARDED_ALLOW_IPS", "127.0.0.1,10.0.0.0/8")]).await;
    let app = server.client().await;
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("direct", &[]),
        // A forged entry left of what the proxies appended is ignored.
        ("chain", &[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3")]),
        ("every-hop-trusted", &[("x-forwarded-for", "10.9.9.9, 10.1.2.3")]),
        ("real-ip", &[("x-real-ip", "198.51.100.4")]),
        ("ipv6", &[("x-forwarded-for", "2001:db8::7")]),
    ];
    for (id, headers) in cases {
        let mut all = vec![("x-request-id", id)];
        all.extend_from_slice(headers);
        assert_eq!(get_with(&app, "/health", &all).await.status, StatusCode::OK);
    }
    let lines = json_lines(&server.stop_and_read_logs());
    for (id, ip) in [
        ("direct", "127.0.0.1"),
        ("chain", "203.0.113.7"),
        ("every-hop-trusted", "10.9.9.9"),
        ("real-ip", "198.51.100.4"),
        ("ipv6", "2001:db8::7"),
    ] {
        assert_eq!(access_line(&lines, id)["span"]["client_ip"], ip, "{id}");
    }

    // The same headers from a peer that is not trusted: the peer's own address.
    let server = Process::start(&[("LOG_FORMAT", "json"), ("FORWARDED_ALLOW_IPS", "10.0.0.1")]).await;
    let app = server.client().await;
    let h = [("x-request-id", "spoof"), ("x-forwarded-for", "203.0.113.7"), ("x-real-ip", "198.51.100.4")];
    assert_eq!(get_with(&app, "/health", &h).await.status, StatusCode::OK);
    let lines = json_lines(&server.stop_and_read_logs());
    assert_eq!(access_line(&lines, "spoof")["span"]["client_ip"], "127.0.0.1");
}

#[tokio::test]
async fn json_logs_have_one_request_line_with_method_path_status_latency_and_user() {
    let server = Process::start(&[("LOG_FORMAT", "json")]).await;
    let app = server.client().await;
    let (token, id) = app.admin().await;
    let bearer = format!("Bearer {token}");
    let ok =
        get_with(&app, "/api/v1/auths/?secret=hidden", &[("authorization", &bearer), ("x-request-id", "me")])
            .await;
    assert_eq!(ok.status, StatusCode::OK);
    let denied = get_with(&app, "/api/v1/users/", &[("x-request-id", "anonymous")]).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let lines = json_lines(&server.stop_and_read_logs());

    let me = access_line(&lines, "me");
    assert_eq!(me["level"], "INFO");
    assert_eq!(me["fields"]["message"], "request finished");
    let span = &me["span"];
    assert_eq!(span["name"], "request");
    assert_eq!(span["method"], "GET");
    assert_eq!(span["path"], "/api/v1/auths/", "the query string is never logged");
    assert_eq!(span["status"], 200);
    assert!(span["latency_ms"].is_u64(), "{span}");
    assert_eq!(span["client_ip"], "127.0.0.1");
    assert_eq!(span["user_id"], id.as_str());
    assert!(me["timestamp"].is_string());

    let anonymous = &access_line(&lines, "anonymous")["span"];
    assert_eq!(
        (anonymous["status"].as_u64(), anonymous["path"].as_str()),
        (Some(401), Some("/api/v1/users/"))
    );
    assert!(anonymous.get("user_id").is_none(), "{anonymous}");
}

#[tokio::test]
async fn rust_log_filters_the_request_lines_and_text_is_the_default_format() {
    let server = Process::start(&[]).await;
    let app = server.client().await;
    get_with(&app, "/health", &[("x-request-id", "text-line")]).await;
    let logs = server.stop_and_read_logs();
    let line = logs.lines().find(|l| l.contains("text-line")).unwrap_or_else(|| panic!("{logs}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("request_id=text-line") && line.contains("path=/health"), "{line}");
    assert!(line.contains("status=200") && line.contains("request finished"), "{line}");
    assert!(serde_json::from_str::<Value>(line).is_err(), "text, not JSON: {line}");

    let server = Process::start(&[("RUST_LOG", "info,duet::access=off")]).await;
    let app = server.client().await;
    get_with(&app, "/health", &[("x-request-id", "filtered")]).await;
    let logs = server.stop_and_read_logs();
    assert!(logs.contains("duet listening"), "{logs}");
    assert!(!logs.contains("filtered"), "{logs}");
}

/// A model provider that accepts connections and never answers.
async fn hanging_provider() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_handler_past_request_timeout_is_504_json() {
    let (url, _provider) = hanging_provider().await;
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("OPENAI_API_BASE_URLS", url.as_str()),
        // The provider timeout is far longer than the request's.
        ("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "30"),
        ("REQUEST_TIMEOUT", "1"),
        ("XFRAME_OPTIONS", "DENY"),
    ];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    let started = Instant::now();
    let a = app.get("/api/models", Some(&admin)).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT, "{}", a.text);
    assert_eq!(a.body, json!({"detail": "The request timed out. Please try again later."}));
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.headers["x-frame-options"], "DENY", "edge headers are on the 504 too");
    assert!(a.headers.contains_key("x-request-id"));
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(5), "{took:?}");
    // Fast routes are untouched.
    let h = app.get("/health", None).await;
    assert_eq!(h.status, StatusCode::OK);

    // `REQUEST_TIMEOUT=0` turns the limit off: the same request waits for the provider timeout.
    let env = [
        ("ENABLE_OPENAI_API", "true"),
        ("OPENAI_API_BASE_URLS", url.as_str()),
        ("AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST", "2"),
        ("REQUEST_TIMEOUT", "0"),
    ];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (admin, _) = app.admin().await;
    let started = Instant::now();
    let a = app.get("/api/models", Some(&admin)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["data"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read and
/// whether the connection was closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one whole answer to `GET /health` (its body is `{"status":true}`).
async fn read_health_answer(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).ends_with("{\"status\":true}") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off_and_keep_alive_still_works() {
    let server = Process::start(&[("HEADER_READ_TIMEOUT", "1")]).await;
    let app = server.client().await;
    let addr = app.addr;

    // Slow-loris: half a request line, then one byte every 200 ms.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /health HT").await.expect("write");
    let trickle = async {
        for b in b"TP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(&[*b]).await.is_err() {
                return started.elapsed();
            }
        }
        started.elapsed()
    };
    let stopped = trickle.await;
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(closed, "the connection stayed open");
    assert!(stopped < Duration::from_secs(4), "writes kept succeeding for {stopped:?}");
    assert!(!answer.contains("200 OK"), "{answer}");

    // A silent connection is closed too.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed && answer.is_empty(), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());

    // A normal client: two requests on one kept-alive connection, then idle past the deadline.
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    for _ in 0..2 {
        conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let answer = read_health_answer(&mut conn).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (rest, closed) = read_until_closed(&mut conn, Duration::from_secs(5)).await;
    assert!(closed && rest.is_empty(), "idle keep-alive connection: {rest:?}");
    // The server keeps serving.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}
