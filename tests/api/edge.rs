//! The HTTP edge: CORS (reference §9.1 and the recorded preflight at the end of the transcript) and
//! the opt-in security headers (reference §8).

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, Process, TestApp};

backend_tests!(
    preflight_from_a_foreign_origin_matches_the_recording,
    preflight_is_answered_for_any_path_before_authentication_and_mirrors_requested_headers,
    preflight_with_an_unknown_method_or_a_private_network_request_is_400,
    simple_request_with_origin_gets_credentials_and_the_origin_back_when_it_sends_cookies,
    every_answer_varies_on_origin,
    a_listed_origin_is_echoed_and_another_gets_no_allow_origin,
    each_security_header_passes_a_valid_value_through_verbatim,
    security_headers_are_absent_by_default_and_when_empty,
    invalid_security_header_values_get_the_fallback,
    cache_control_overrides_no_store_on_auth_routes,
    security_headers_are_on_error_answers_but_not_on_preflights,
);

const FOREIGN: &str = "http://elsewhere.example";

/// Every security-header variable with a valid value and the header it sets.
const VALID: [(&str, &str, &str); 14] = [
    ("CACHE_CONTROL", "cache-control", "private, max-age=60"),
    ("HSTS", "strict-transport-security", "max-age=63072000;includeSubDomains;preload"),
    ("PERMISSIONS_POLICY", "permissions-policy", "camera=(),microphone=(self)"),
    ("REFERRER_POLICY", "referrer-policy", "Strict-Origin-When-Cross-Origin"),
    ("XCONTENT_TYPE", "x-content-type-options", "nosniff"),
    ("XDOWNLOAD_OPTIONS", "x-download-options", "noopen"),
    ("XFRAME_OPTIONS", "x-frame-options", "SAMEORIGIN"),
    ("XPERMITTED_CROSS_DOMAIN_POLICIES", "x-permitted-cross-domain-policies", "master-only"),
    ("CONTENT_SECURITY_POLICY", "content-security-policy", "default-src 'self'; img-src * data:"),
    ("CONTENT_SECURITY_POLICY_REPORT_ONLY", "content-security-policy-report-only", "script-src 'none'"),
    ("CROSS_ORIGIN_EMBEDDER_POLICY", "cross-origin-embedder-policy", "credentialless"),
    ("CROSS_ORIGIN_OPENER_POLICY", "cross-origin-opener-policy", "same-origin-allow-popups"),
    ("CROSS_ORIGIN_RESOURCE_POLICY", "cross-origin-resource-policy", "cross-origin"),
    ("REPORTING_ENDPOINTS", "reporting-endpoints", "csp=\"https://reports.example/csp\""),
];

fn header<'a>(a: &'a crate::helpers::Answer, name: &str) -> Option<&'a str> {
    a.headers.get(name).map(|v| v.to_str().expect("text header"))
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    extra: &[(&str, &str)],
) -> crate::helpers::Answer {
    let mut headers = vec![("Origin", origin), ("Access-Control-Request-Method", "GET")];
    headers.extend_from_slice(extra);
    app.raw("OPTIONS", path, &headers, None).await
}

async fn preflight_from_a_foreign_origin_matches_the_recording(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = preflight(&app, "/api/v1/chats/", FOREIGN, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text, "OK");
    assert_eq!(header(&a, "access-control-allow-origin"), Some(FOREIGN));
    assert_eq!(header(&a, "access-control-allow-credentials"), Some("true"));
    assert_eq!(
        header(&a, "access-control-allow-methods"),
        Some("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY")
    );
    assert_eq!(header(&a, "access-control-max-age"), Some("600"));
    assert_eq!(
        header(&a, "vary"),
        Some(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network"
        )
    );
    assert_eq!(header(&a, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(header(&a, "content-length"), Some("2"));
    // Nothing else but the request id every answer carries (no `allow`, no security headers).
    let mut names: Vec<&str> = a.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "access-control-allow-credentials",
            "access-control-allow-methods",
            "access-control-allow-origin",
            "access-control-max-age",
            "content-length",
            "content-type",
            "date",
            "vary",
            "x-request-id"
        ]
    );
}

async fn preflight_is_answered_for_any_path_before_authentication_and_mirrors_requested_headers(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for path in ["/api/v1/does-not-exist", "/api/v1/auths/admin/config", "/health"] {
        let a = app
            .raw(
                "OPTIONS",
                path,
                &[
                    ("Origin", FOREIGN),
                    ("Access-Control-Request-Method", "DELETE"),
                    ("Access-Control-Request-Headers", "authorization, content-type, x-custom"),
                ],
                None,
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        assert_eq!(a.text, "OK");
        assert_eq!(header(&a, "access-control-allow-origin"), Some(FOREIGN), "{path}");
        assert_eq!(
            header(&a, "access-control-allow-headers"),
            Some("authorization, content-type, x-custom"),
            "{path}"
        );
    }
    // OPTIONS that is not a preflight (no Origin, or no requested method) reaches the routes.
    let a = app.raw("OPTIONS", "/health", &[("Access-Control-Request-Method", "GET")], None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    let a = app.raw("OPTIONS", "/health", &[("Origin", FOREIGN)], None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&a, "access-control-allow-origin"), Some("*"));
}

async fn preflight_with_an_unknown_method_or_a_private_network_request_is_400(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app
        .raw(
            "OPTIONS",
            "/api/v1/chats/",
            &[("Origin", FOREIGN), ("Access-Control-Request-Method", "PURGE")],
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.text, "Disallowed CORS method");
    // The origin is still allowed, so it is still echoed.
    assert_eq!(header(&a, "access-control-allow-origin"), Some(FOREIGN));
    assert_eq!(header(&a, "access-control-max-age"), Some("600"));
    // Methods are compared as written.
    let a = app
        .raw(
            "OPTIONS",
            "/api/v1/chats/",
            &[("Origin", FOREIGN), ("Access-Control-Request-Method", "get")],
            None,
        )
        .await;
    assert_eq!(a.text, "Disallowed CORS method");
    let a = preflight(&app, "/api/v1/chats/", FOREIGN, &[("Access-Control-Request-Private-Network", "true")])
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.text, "Disallowed CORS private-network");
}

async fn simple_request_with_origin_gets_credentials_and_the_origin_back_when_it_sends_cookies(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    // Without cookies the reference answers `*` (with credentials allowed).
    let a = app.raw("GET", "/health", &[("Origin", FOREIGN)], None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({"status": true}));
    assert_eq!(header(&a, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&a, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&a, "vary"), Some("Origin"));
    assert_eq!(header(&a, "access-control-allow-methods"), None);

    // A cookie-carrying request (the browser's credentialed fetch) gets its own origin back, and the
    // cookie still authenticates it.
    let (token, _) = app.admin().await;
    let a = app
        .raw("GET", "/api/v1/auths/", &[("Origin", FOREIGN), ("Cookie", &format!("token={token}"))], None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["email"], "admin@example.com");
    assert_eq!(header(&a, "access-control-allow-origin"), Some(FOREIGN));
    assert_eq!(header(&a, "access-control-allow-credentials"), Some("true"));
    assert_eq!(header(&a, "vary"), Some("Origin"));

    // Same for a POST with a body (a sign-in from another site).
    let a = app
        .raw(
            "POST",
            "/api/v1/auths/signin",
            &[("Origin", FOREIGN), ("Cookie", "x=1"), ("Content-Type", "application/json")],
            Some(&json!({"email": "admin@example.com", "password": PASSWORD}).to_string()),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(header(&a, "access-control-allow-origin"), Some(FOREIGN));
}

async fn every_answer_varies_on_origin(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for path in ["/health", "/api/v1/nope", "/api/v1/auths/"] {
        let a = app.raw("GET", path, &[], None).await;
        assert_eq!(header(&a, "vary"), Some("Origin"), "{path}");
        assert_eq!(header(&a, "access-control-allow-origin"), None, "{path}");
        assert_eq!(header(&a, "access-control-allow-credentials"), None, "{path}");
    }
}

async fn a_listed_origin_is_echoed_and_another_gets_no_allow_origin(b: Backend) {
    let Some(app) =
        TestApp::spawn_with(b, &[("CORS_ALLOW_ORIGIN", "http://a.example;http://b.example")]).await
    else {
        return;
    };
    for origin in ["http://a.example", "http://b.example"] {
        let a = app.raw("GET", "/health", &[("Origin", origin)], None).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(header(&a, "access-control-allow-origin"), Some(origin));
        assert_eq!(header(&a, "access-control-allow-credentials"), Some("true"));
        assert_eq!(header(&a, "vary"), Some("Origin"));
        let p = preflight(&app, "/api/v1/chats/", origin, &[]).await;
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(header(&p, "access-control-allow-origin"), Some(origin));
    }

    // Refused: the route still answers, but without Access-Control-Allow-Origin the browser keeps
    // the answer from the page. (The reference still sends `allow-credentials: true`.)
    for origin in [FOREIGN, "http://a.example:8080", "https://a.example", "http://A.example"] {
        let a = app.raw("GET", "/health", &[("Origin", origin), ("Cookie", "x=1")], None).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(header(&a, "access-control-allow-origin"), None, "{origin}");
        assert_eq!(header(&a, "access-control-allow-credentials"), Some("true"));
        assert_eq!(header(&a, "vary"), Some("Origin"));
        let p = preflight(&app, "/api/v1/chats/", origin, &[]).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{origin}");
        assert_eq!(p.text, "Disallowed CORS origin");
        assert_eq!(header(&p, "access-control-allow-origin"), None);
    }
    let p = app
        .raw(
            "OPTIONS",
            "/api/v1/chats/",
            &[("Origin", FOREIGN), ("Access-Control-Request-Method", "PURGE")],
            None,
        )
        .await;
    assert_eq!(p.text, "Disallowed CORS origin, method");
}

async fn each_security_header_passes_a_valid_value_through_verbatim(b: Backend) {
    let env: Vec<(&str, &str)> = VALID.iter().map(|(var, _, value)| (*var, *value)).collect();
    let Some(app) = TestApp::spawn_with(b, &env).await else { return };
    let (token, _) = app.admin().await;
    for (path, token) in
        [("/health", None), ("/api/v1/auths/", Some(token.as_str())), ("/api/v1/chats/", Some(&token))]
    {
        let a = app.get(path, token).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        for (var, name, value) in VALID {
            assert_eq!(header(&a, name), Some(value), "{var} on {path}");
            assert_eq!(a.headers.get_all(name).iter().count(), 1, "{name} on {path}");
        }
    }
    // One at a time: each variable adds exactly its own header.
    for (var, name, value) in VALID {
        let Some(app) = TestApp::spawn_with(b, &[(var, value)]).await else { return };
        let a = app.get("/health", None).await;
        for (_, other, _) in VALID {
            let expected = (other == name).then_some(value);
            assert_eq!(header(&a, other), expected, "{var} set, {other}");
        }
    }
}

async fn security_headers_are_absent_by_default_and_when_empty(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.get("/health", None).await;
    for (var, name, _) in VALID {
        assert_eq!(header(&a, name), None, "{var}");
    }
    // The auth routes keep their own `Cache-Control: no-store`.
    let a = app.get("/api/v1/auths/", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&a, "cache-control"), Some("no-store"));

    let empty: Vec<(&str, &str)> = VALID.iter().map(|(var, _, _)| (*var, "")).collect();
    let Some(app) = TestApp::spawn_with(b, &empty).await else { return };
    let a = app.get("/health", None).await;
    for (var, name, _) in VALID {
        assert_eq!(header(&a, name), None, "{var}");
    }
}

async fn invalid_security_header_values_get_the_fallback(b: Backend) {
    let cases = [
        ("CACHE_CONTROL", "cache-control", "forever", "no-store, max-age=0"),
        ("HSTS", "strict-transport-security", "junk", "max-age=31536000;includeSubDomains"),
        ("PERMISSIONS_POLICY", "permissions-policy", "camera=*", "none"),
        ("REFERRER_POLICY", "referrer-policy", "bogus", "no-referrer"),
        ("XCONTENT_TYPE", "x-content-type-options", "whatever", "nosniff"),
        ("XDOWNLOAD_OPTIONS", "x-download-options", "open", "noopen"),
        ("XFRAME_OPTIONS", "x-frame-options", "ALLOWALL", "DENY"),
        ("XPERMITTED_CROSS_DOMAIN_POLICIES", "x-permitted-cross-domain-policies", "all", "none"),
        ("CROSS_ORIGIN_EMBEDDER_POLICY", "cross-origin-embedder-policy", "anything", "require-corp"),
        ("CROSS_ORIGIN_OPENER_POLICY", "cross-origin-opener-policy", "anything", "same-origin"),
        ("CROSS_ORIGIN_RESOURCE_POLICY", "cross-origin-resource-policy", "anything", "same-origin"),
    ];
    let env: Vec<(&str, &str)> = cases.iter().map(|(var, _, value, _)| (*var, *value)).collect();
    let Some(app) = TestApp::spawn_with(b, &env).await else { return };
    let a = app.get("/health", None).await;
    assert_eq!(a.status, StatusCode::OK);
    for (var, name, value, fallback) in cases {
        assert_eq!(header(&a, name), Some(fallback), "{var}={value}");
    }
}

async fn cache_control_overrides_no_store_on_auth_routes(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("CACHE_CONTROL", "no-cache")]).await else { return };
    let a = app.get("/api/v1/auths/", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&a, "cache-control"), Some("no-cache"));
    assert_eq!(a.headers.get_all("cache-control").iter().count(), 1);
    let s = app.signup("Admin", "admin@example.com", PASSWORD).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    assert_eq!(header(&s, "cache-control"), Some("no-cache"));
    let token = s.body["token"].as_str().expect("token").to_string();
    let a = app.get("/api/v1/auths/", Some(&token)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(header(&a, "cache-control"), Some("no-cache"));
    // Routes that set nothing get it too.
    assert_eq!(header(&app.get("/health", None).await, "cache-control"), Some("no-cache"));
}

async fn security_headers_are_on_error_answers_but_not_on_preflights(b: Backend) {
    let Some(app) = TestApp::spawn_with(
        b,
        &[("XFRAME_OPTIONS", "DENY"), ("HSTS", "max-age=600"), ("CACHE_CONTROL", "no-cache")],
    )
    .await
    else {
        return;
    };
    for (method, path) in [("GET", "/api/v1/nope"), ("PUT", "/health"), ("GET", "/api/v1/chats/")] {
        let a = app.raw(method, path, &[("Origin", FOREIGN)], None).await;
        assert!(a.status.is_client_error(), "{method} {path}: {}", a.status);
        assert_eq!(header(&a, "x-frame-options"), Some("DENY"), "{method} {path}");
        assert_eq!(header(&a, "strict-transport-security"), Some("max-age=600"));
        assert_eq!(header(&a, "cache-control"), Some("no-cache"));
        assert_eq!(header(&a, "access-control-allow-origin"), Some("*"));
    }
    let p = preflight(&app, "/api/v1/chats/", FOREIGN, &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    for name in ["x-frame-options", "strict-transport-security", "cache-control"] {
        assert_eq!(header(&p, name), None, "{name} on a preflight");
    }
    // An OPTIONS that is not a preflight is an ordinary answer and gets them.
    let a = app.raw("OPTIONS", "/health", &[("Origin", FOREIGN)], None).await;
    assert_eq!(header(&a, "x-frame-options"), Some("DENY"));
}

fn config(pairs: &[(&str, &str)]) -> Result<duet::Config, duet::config::ConfigError> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    duet::Config::from_map(&map)
}

#[test]
fn a_bad_cors_origin_is_a_config_error_naming_the_variable() {
    for bad in
        ["ftp://x", "not a url", "http://", "a.example", "*;http://a.example", "http://a.example;;http://b"]
    {
        let e = config(&[("CORS_ALLOW_ORIGIN", bad)]).expect_err(bad);
        assert_eq!(e.var, "CORS_ALLOW_ORIGIN", "{bad}");
        assert!(e.to_string().starts_with("invalid configuration: CORS_ALLOW_ORIGIN: "), "{e}");
    }
    // A custom scheme is allowed once listed.
    assert!(config(&[("CORS_ALLOW_ORIGIN", "app://desktop")]).is_err());
    let c = config(&[
        ("CORS_ALLOW_ORIGIN", "app://desktop;https://a.example"),
        ("CORS_ALLOW_CUSTOM_SCHEME", "app"),
    ])
    .expect("config");
    assert_eq!(
        c.cors_allow_origin,
        duet::http::cors::CorsOrigins::List(vec!["app://desktop".into(), "https://a.example".into()])
    );
    // Unset, empty and `*` all allow every origin.
    for pairs in [&[][..], &[("CORS_ALLOW_ORIGIN", "")][..], &[("CORS_ALLOW_ORIGIN", "*")][..]] {
        assert_eq!(config(pairs).expect("config").cors_allow_origin, duet::http::cors::CorsOrigins::Any);
    }
    // A verbatim header value that cannot be sent stops start-up too.
    let e = config(&[("CONTENT_SECURITY_POLICY", "default-src 'self'\r\nX-Injected: 1")]).expect_err("error");
    assert_eq!(e.var, "CONTENT_SECURITY_POLICY");
}

#[test]
fn a_bad_cors_origin_stops_the_binary_with_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_duet"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .env("CORS_ALLOW_ORIGIN", "http://a.example;ftp://files.example")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("duet: invalid configuration: CORS_ALLOW_ORIGIN: "), "{err}");
    assert!(err.contains("ftp://files.example"), "{err}");
}

#[tokio::test]
async fn start_up_warns_about_wildcard_cors_and_replaced_header_values() {
    let server = Process::start(&[("HSTS", "junk"), ("XFRAME_OPTIONS", "ALLOWALL")]).await;
    let app = server.client().await;
    let a = app.get("/health", None).await;
    assert_eq!(header(&a, "strict-transport-security"), Some("max-age=31536000;includeSubDomains"));
    assert_eq!(header(&a, "x-frame-options"), Some("DENY"));
    let logs = server.stop_and_read_logs();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.iter().filter(|l| l.contains("CORS_ALLOW_ORIGIN")).count(), 1, "{logs}");
    assert_eq!(warnings.iter().filter(|l| l.contains("HSTS") && l.contains("junk")).count(), 1, "{logs}");
    assert_eq!(
        warnings.iter().filter(|l| l.contains("XFRAME_OPTIONS") && l.contains("ALLOWALL")).count(),
        1,
        "{logs}"
    );

    // A list of origins does not warn.
    let server = Process::start(&[("CORS_ALLOW_ORIGIN", "http://a.example")]).await;
    let logs = server.stop_and_read_logs();
    assert!(!logs.contains("CORS_ALLOW_ORIGIN"), "{logs}");
}
