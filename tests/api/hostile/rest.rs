//! Hostile REST input: NUL characters in bodies, paths and queries, search texts far beyond their
//! limit, huge emails and passwords, the sign-in limiter's keys, API keys on account routes,
//! time zones and tokens missing claims — each refused with its exact answer on both backends,
//! while `/health` keeps answering.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::assert_health;
use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, SECRET, TestApp, redis_url, unique_prefix};

backend_tests!(
    nul_in_signin_and_signup_bodies_is_the_auths_422,
    nul_in_json_bodies_is_422_at_the_string_and_nothing_is_stored,
    nul_in_paths_is_404_and_in_query_strings_422,
    search_texts_are_bounded_on_every_search_route,
    signin_limiter_counts_a_digest_of_the_email,
    absurd_emails_and_passwords_are_refused_fast,
    api_keys_cannot_change_the_password_or_the_keys,
    timezones_are_iana_names,
    tokens_need_a_jti_and_while_tokens_expire_an_exp,
    nul_refused_by_the_database_is_400_not_500,
);

const AUTHS_422: &str = "Invalid authentication request.";
const NUL_MSG: &str = r"Value error, text may not contain NUL (\u0000) characters";
const INVALID_CRED: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
const INVALID_EMAIL: &str = "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com).";
const PASSWORD_TOO_LONG: &str =
    "Uh-oh! The password you entered is too long. Please make sure your password is less than 72 bytes long.";
const INCORRECT_PASSWORD: &str = "The password provided is incorrect. Please check for typos and try again.";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";
const HUMAN_ONLY: &str = "A human session is required.";
const RATE_LIMITED: &str = "API rate limit exceeded";
const SEARCH_LIMIT: usize = 1000;

/// The 422 body for a NUL character in the string at `loc`.
fn nul_detail(loc: Value, input: &str) -> Value {
    json!({"detail": [{"type": "value_error", "loc": loc, "msg": NUL_MSG, "input": input, "ctx": {"error": {}}}]})
}

/// The 422 body for a search text over the limit.
fn too_long_detail(name: &str, input: &str) -> Value {
    json!({"detail": [{
        "type": "string_too_long",
        "loc": ["query", name],
        "msg": format!("String should have at most {SEARCH_LIMIT} characters"),
        "input": input,
        "ctx": {"max_length": SEARCH_LIMIT},
    }]})
}

fn token_of(a: &crate::helpers::Answer) -> String {
    a.body["token"].as_str().expect("token").to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// A JWT signed with the test secret, built by hand from `claims`.
fn mint(claims: Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode")
}

async fn nul_in_signin_and_signup_bodies_is_the_auths_422(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let s = app.signin("a\u{0}@x.io", "x").await;
    assert_eq!((s.status, s.body.clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": AUTHS_422})));
    let s = app.signin("a@x.io", "pass\u{0}word").await;
    assert_eq!((s.status, s.body.clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": AUTHS_422})));
    let raw = app
        .raw(
            "POST",
            "/api/v1/auths/signin",
            &[("content-type", "application/json")],
            Some(r#"{"email": "a@x.io", "pass\u0000word": "x", "password": "x"}"#),
        )
        .await;
    assert_eq!((raw.status, raw.detail()), (StatusCode::UNPROCESSABLE_ENTITY, AUTHS_422));
    let up = app.signup("N\u{0}", "first@example.com", PASSWORD).await;
    assert_eq!((up.status, up.detail()), (StatusCode::UNPROCESSABLE_ENTITY, AUTHS_422));
    // Nothing was created: the next sign-up is still the first account (the admin).
    let admin = app.signup("Admin", "first@example.com", PASSWORD).await;
    assert_eq!(
        (admin.status, admin.body["role"].clone()),
        (StatusCode::OK, json!("admin")),
        "{}",
        admin.text
    );
    assert_health(&app).await;
}

async fn nul_in_json_bodies_is_422_at_the_string_and_nothing_is_stored(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let message = |content: &str| {
        json!({"title": "T", "history": {"currentId": "u1", "messages": {"u1": {
            "id": "u1", "parentId": null, "childrenIds": [], "role": "user", "content": content}}}})
    };
    let cases = [
        (json!({"chat": {"title": "a\u{0}b"}}), json!(["body", "chat", "title"]), "a\u{0}b"),
        (
            json!({"chat": message("hi\u{0}")}),
            json!(["body", "chat", "history", "messages", "u1", "content"]),
            "hi\u{0}",
        ),
        (json!({"chat": {"title": "T", "k\u{0}": 1}}), json!(["body", "chat", "k\u{0}"]), "k\u{0}"),
        (json!({"chat": {"tags": ["ok", "\u{0}"]}}), json!(["body", "chat", "tags", 1]), "\u{0}"),
    ];
    for (body, loc, input) in &cases {
        let a = app.post("/api/v1/chats/new", Some(&admin), body.clone()).await;
        assert_eq!(
            (a.status, a.body.clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, nul_detail(loc.clone(), input))
        );
    }
    let listed = app.get("/api/v1/chats/", Some(&admin)).await;
    assert_eq!((listed.status, listed.body.clone()), (StatusCode::OK, json!([])), "nothing was stored");

    // An update is refused the same way and leaves the chat as it was.
    let created = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": message("hello")})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_string();
    let u = app.post(&format!("/api/v1/chats/{id}"), Some(&admin), json!({"chat": {"title": "\u{0}"}})).await;
    assert_eq!(
        (u.status, u.body.clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, nul_detail(json!(["body", "chat", "title"]), "\u{0}"))
    );
    assert_eq!(app.get(&format!("/api/v1/chats/{id}"), Some(&admin)).await.body["title"], "T");

    // A profile name (an /auths route: the plain text) and an admin's user update (the list).
    let p = app
        .post(
            "/api/v1/auths/update/profile",
            Some(&admin),
            json!({"name": "Ad\u{0}min", "profile_image_url": "/user.png"}),
        )
        .await;
    assert_eq!((p.status, p.body.clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": AUTHS_422})));
    let u = app
        .post(
            &format!("/api/v1/users/{admin_id}/update"),
            Some(&admin),
            json!({"name": "\u{0}", "role": "admin"}),
        )
        .await;
    assert_eq!(
        (u.status, u.body.clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, nul_detail(json!(["body", "name"]), "\u{0}"))
    );
    assert_eq!(app.get("/api/v1/auths/", Some(&admin)).await.body["name"], "Admin");

    // A model id, then an access grant's principal id.
    let preset = |id: &str| json!({"id": id, "name": "M", "base_model_id": "gpt", "meta": {}, "params": {}});
    let m = app.post("/api/v1/models/create", Some(&admin), preset("m\u{0}")).await;
    assert_eq!(
        (m.status, m.body.clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, nul_detail(json!(["body", "id"]), "m\u{0}"))
    );
    let m = app.post("/api/v1/models/create", Some(&admin), preset("m1")).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let grants = json!([{"principal_type": "user", "principal_id": "u\u{0}", "permission": "read"}]);
    let g = app
        .post(
            "/api/v1/models/model/access/update",
            Some(&admin),
            json!({"id": "m1", "access_grants": grants}),
        )
        .await;
    assert_eq!(
        (g.status, g.body.clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            nul_detail(json!(["body", "access_grants", 0, "principal_id"]), "u\u{0}")
        )
    );
    let model = app.get("/api/v1/models/model?id=m1", Some(&admin)).await;
    assert_eq!(model.body["access_grants"], json!([]), "{}", model.text);
    let all = app.get("/api/v1/models/all", Some(&admin)).await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(1), "{}", all.text);
    assert_health(&app).await;
}

async fn nul_in_paths_is_404_and_in_query_strings_422(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let not_found = json!({"detail": "Not Found"});
    for (method, path, token) in [
        ("GET", "/api/v1/chats/%00", Some(admin.as_str())),
        ("GET", "/api/v1/chats/abc%00def", Some(admin.as_str())),
        ("DELETE", "/api/v1/chats/%00", Some(admin.as_str())),
        ("POST", "/api/v1/chats/%00/pin", Some(admin.as_str())),
        ("GET", "/api/v1/chats/share/%00", Some(admin.as_str())),
        ("GET", "/api/v1/users/%00", Some(admin.as_str())),
        ("GET", "/api/v1/users/%00/profile/image", Some(admin.as_str())),
        ("POST", "/api/v1/users/%00/update", Some(admin.as_str())),
        ("GET", "/api/v1/chats/%00", None),
        ("GET", "/api/v1/%00", None),
    ] {
        let a = app.send(method, path, token, None).await;
        assert_eq!((a.status, a.body.clone()), (StatusCode::NOT_FOUND, not_found.clone()), "{method} {path}");
    }

    for (path, name) in [
        ("/api/v1/chats/search?text=a%00b", "text"),
        ("/api/v1/chats/archived?query=a%00b", "query"),
        ("/api/v1/chats/shared?query=a%00b", "query"),
        ("/api/v1/chats/?sort_by=a%00b", "sort_by"),
        ("/api/v1/models/list?query=a%00b", "query"),
        ("/api/v1/models/list?tag=a%00b", "tag"),
        ("/api/v1/models/model?id=a%00b", "id"),
        ("/api/v1/models/base?tag=a%00b", "tag"),
        ("/api/v1/users/?query=a%00b", "query"),
        ("/api/v1/users/?order_by=a%00b", "order_by"),
    ] {
        let a = app.get(path, Some(&admin)).await;
        assert_eq!(
            (a.status, a.body.clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, nul_detail(json!(["query", name]), "a\u{0}b")),
            "{path}"
        );
    }
    // The caller is checked before the query.
    let anon = app.get("/api/v1/chats/search?text=%00", None).await;
    assert_eq!((anon.status, anon.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let low = app.get("/api/v1/users/?query=%00", Some(&user)).await;
    assert_eq!(low.status, StatusCode::UNAUTHORIZED, "{}", low.text);
    let low = app.get("/api/v1/models/base?tag=%00", Some(&user)).await;
    assert_eq!(low.status, StatusCode::UNAUTHORIZED, "{}", low.text);
    assert_health(&app).await;
}

async fn search_texts_are_bounded_on_every_search_route(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let created = app.post("/api/v1/chats/new", Some(&admin), json!({"chat": {"title": "needle"}})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let routes = [
        ("/api/v1/chats/search?text=", "text"),
        ("/api/v1/models/list?query=", "query"),
        ("/api/v1/users/?query=", "query"),
        ("/api/v1/chats/archived?query=", "query"),
        ("/api/v1/chats/shared?query=", "query"),
        ("/api/v1/models/list?tag=", "tag"),
    ];
    // At the limit: one long word, and as many words as fit (each a LIKE condition).
    let one_word = "a".repeat(SEARCH_LIMIT);
    let many_words = "a ".repeat(SEARCH_LIMIT / 2);
    let wide = "é".repeat(SEARCH_LIMIT);
    for (route, _) in routes {
        for text in [&one_word, &many_words, &wide] {
            let a = app.get(&format!("{route}{}", urlencode(text)), Some(&admin)).await;
            assert_eq!(a.status, StatusCode::OK, "{route} {} chars: {}", text.chars().count(), a.text);
        }
    }
    let found = app.get("/api/v1/chats/search?text=NEEDLE", Some(&admin)).await;
    assert_eq!(found.body.as_array().map(Vec::len), Some(1), "{}", found.text);
    // One over, 10× and 60× the limit (the longest request line the HTTP layer takes is 64 KiB).
    for len in [SEARCH_LIMIT + 1, SEARCH_LIMIT * 10, SEARCH_LIMIT * 60] {
        let text = "a".repeat(len);
        for (route, name) in routes {
            let started = Instant::now();
            let a = app.get(&format!("{route}{text}"), Some(&admin)).await;
            assert_eq!(
                (a.status, a.body.clone()),
                (StatusCode::UNPROCESSABLE_ENTITY, too_long_detail(name, &text)),
                "{route} {len}"
            );
            assert!(started.elapsed() < Duration::from_secs(1), "{route} {len}: {:?}", started.elapsed());
        }
    }
    // 100× the limit does not fit in a request line: 414 before any route.
    for (route, _) in routes {
        let line = format!(
            "GET {route}{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "a".repeat(SEARCH_LIMIT * 100)
        );
        assert_eq!(raw_status_line(&app, &line).await, "HTTP/1.1 414 URI Too Long", "{route}");
    }
    assert_health(&app).await;
}

/// Sends `request` as bytes on a new connection; the status line of the answer.
async fn raw_status_line(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or("").to_string()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn signin_limiter_counts_a_digest_of_the_email(b: Backend) {
    // Without Redis: the window is per lower-cased email, and an email over 320 bytes is refused
    // without being counted.
    let Some(app) = TestApp::spawn_with(b, &[("SIGNIN_RATE_LIMIT", "3")]).await else { return };
    let longest = format!("{}@x.io", "v".repeat(320 - 5));
    for email in [longest.to_uppercase(), longest.clone(), longest.to_uppercase()] {
        let r = app.signin(&email, "wrong").await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    }
    let r = app.signin(&longest, "wrong").await;
    assert_eq!((r.status, r.detail()), (StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED), "one window per email");
    let over = format!("{}@x.io", "o".repeat(320 - 4));
    for _ in 0..6 {
        let r = app.signin(&over, "wrong").await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED), "never counted");
    }
    assert_health(&app).await;

    // With Redis: the key is `<prefix>:ratelimit:signin:<sha256 hex of the lower-cased email>`.
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix();
    let env =
        [("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str()), ("SIGNIN_RATE_LIMIT", "3")];
    let Some(app) = TestApp::spawn_with(b, &env).await else { return };
    let r = app.signin("  Victim@Example.COM ", "wrong").await;
    assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    let huge = format!("{}@x.io", "h".repeat(8 << 20));
    let started = Instant::now();
    let r = app.signin(&huge, "wrong").await;
    assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());

    let mut c = redis::Client::open(url.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let mut keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut c).await.expect("keys");
    keys.retain(|k| k.contains(":ratelimit:"));
    let digest = duet::limit::key_digest("victim@example.com");
    assert_eq!(digest.len(), 64);
    assert_eq!(
        keys,
        vec![format!("{prefix}:ratelimit:signin:{digest}")],
        "one short key, the huge email not counted"
    );
    let count: i64 = redis::cmd("ZCARD").arg(&keys[0]).query_async(&mut c).await.expect("zcard");
    assert_eq!(count, 1);
    let _: i64 = redis::cmd("DEL").arg(&keys[0]).query_async(&mut c).await.expect("del");
    assert_health(&app).await;
}

async fn absurd_emails_and_passwords_are_refused_fast(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let huge_email = format!("{}@x.io", "e".repeat(8 << 20));
    let huge_password = "p".repeat(8 << 20);
    let timed = |what: &'static str| {
        let started = Instant::now();
        move || assert!(started.elapsed() < Duration::from_secs(1), "{what}: {:?}", started.elapsed())
    };
    // Sign-up while no account exists: refused, and nothing is created.
    let done = timed("signup email");
    let a = app.signup("E", &huge_email, PASSWORD).await;
    done();
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_EMAIL));
    let a = app.signup("E", &format!("{}@x.io", "e".repeat(316)), PASSWORD).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_EMAIL), "321 bytes");
    let done = timed("signup password");
    let a = app.signup("E", "e@example.com", &huge_password).await;
    done();
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, PASSWORD_TOO_LONG));
    let (admin, _) = app.admin().await;

    // Sign-in: a huge email or password is refused without hashing.
    let done = timed("signin email");
    let a = app.signin(&huge_email, PASSWORD).await;
    done();
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    let done = timed("signin password");
    let a = app.signin("admin@example.com", &huge_password).await;
    done();
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    let a = app.signin("admin@example.com", &format!("{PASSWORD}{}", "x".repeat(1024))).await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED), "just over 1024 bytes");
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.status, StatusCode::OK);

    // An admin adding a user, and a password change.
    let a = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "N", "email": huge_email, "password": PASSWORD, "role": "user"}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INVALID_EMAIL));
    let done = timed("current password");
    let a = app
        .post(
            "/api/v1/auths/update/password",
            Some(&admin),
            json!({"password": huge_password, "new_password": "New-passw0rd!"}),
        )
        .await;
    done();
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, INCORRECT_PASSWORD));
    let a = app
        .post(
            "/api/v1/auths/update/password",
            Some(&admin),
            json!({"password": PASSWORD, "new_password": huge_password}),
        )
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::BAD_REQUEST, PASSWORD_TOO_LONG));
    assert_eq!(app.get("/api/v1/auths/", Some(&admin)).await.status, StatusCode::OK, "the session lives on");
    assert_health(&app).await;
}

async fn api_keys_cannot_change_the_password_or_the_keys(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let created = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let key = created.body["api_key"].as_str().expect("key").to_string();

    let refused = json!({"detail": HUMAN_ONLY});
    let pw = app
        .post(
            "/api/v1/auths/update/password",
            Some(&key),
            json!({"password": PASSWORD, "new_password": "Other-passw0rd!"}),
        )
        .await;
    assert_eq!((pw.status, pw.body.clone()), (StatusCode::FORBIDDEN, refused.clone()));
    // The credential is checked before the body.
    let bad = app.post("/api/v1/auths/update/password", Some(&key), json!({"password": 1})).await;
    assert_eq!((bad.status, bad.body.clone()), (StatusCode::FORBIDDEN, refused.clone()));
    let mint = app.post("/api/v1/auths/api_key", Some(&key), json!({})).await;
    assert_eq!((mint.status, mint.body.clone()), (StatusCode::FORBIDDEN, refused.clone()));
    let x = app.raw("POST", "/api/v1/auths/api_key", &[("x-api-key", &key)], None).await;
    assert_eq!((x.status, x.body.clone()), (StatusCode::FORBIDDEN, refused.clone()));
    let del = app.delete("/api/v1/auths/api_key", Some(&key)).await;
    assert_eq!((del.status, del.body.clone()), (StatusCode::FORBIDDEN, refused));

    // Nothing changed: the password, the key (readable with the key itself) and the session.
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/auths/api_key", Some(&key)).await.body, json!({"api_key": key}));
    assert_eq!(app.get("/api/v1/users/", Some(&key)).await.status, StatusCode::OK);
    // A session still may.
    let d = app.delete("/api/v1/auths/api_key", Some(&admin)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_health(&app).await;
}

async fn timezones_are_iana_names(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let stored = || app.scalar_text("select timezone from users where id = $1", &id);
    for tz in ["Asia/Calcutta", "Etc/GMT+5", "UTC", "America/Argentina/Buenos_Aires", "Europe/Berlin"] {
        let a = app.post("/api/v1/auths/update/timezone", Some(&admin), json!({"timezone": tz})).await;
        assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({"status": true})), "{tz}");
        assert_eq!(stored().await.as_deref(), Some(tz));
    }
    let mega = "A".repeat(1 << 20);
    for tz in
        ["Mars/Olympus", "", "europe/berlin", "Europe/Berlin ", "../../etc/passwd", &"Z".repeat(65), &mega]
    {
        let started = Instant::now();
        let a = app.post("/api/v1/auths/update/timezone", Some(&admin), json!({"timezone": tz})).await;
        assert_eq!(
            (a.status, a.body.clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": AUTHS_422}))
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
    assert_eq!(stored().await.as_deref(), Some("Europe/Berlin"), "unchanged");
    assert_health(&app).await;
}

async fn tokens_need_a_jti_and_while_tokens_expire_an_exp(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let stamp = app.scalar_text("select session_stamp from auths where id = $1", &id).await.expect("stamp");
    let t = now();
    let claims = |extra: Value| {
        let mut c = json!({"id": id, "typ": "session", "session_stamp": stamp});
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        mint(c)
    };
    // The shape Open WebUI 0.12.4 mints (jti, iat, exp) is accepted.
    let owui = claims(json!({"auth_method": "password", "auth_time": t, "mfa_verified": false,
                             "exp": t + 3600, "jti": uuid::Uuid::new_v4().to_string(), "iat": t}));
    let a = app.get("/api/v1/auths/", Some(&owui)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // Expiry is on (JWT_EXPIRES_IN 4w): a token without exp, and one without jti, are refused.
    let no_exp = claims(json!({"jti": "j-no-exp", "iat": t}));
    let no_jti = claims(json!({"exp": t + 3600, "iat": t}));
    let empty_jti = claims(json!({"exp": t + 3600, "iat": t, "jti": ""}));
    for token in [&no_exp, &no_jti, &empty_jti] {
        for path in ["/api/v1/auths/", "/api/v1/users/", "/api/v1/chats/"] {
            let a = app.get(path, Some(token)).await;
            assert_eq!(
                (a.status, a.body.clone()),
                (StatusCode::UNAUTHORIZED, json!({"detail": INVALID_TOKEN})),
                "{path}"
            );
        }
    }
    // With expiry switched off (-1), a token without exp is valid; one without jti still is not.
    app.set_admin_config(&admin, json!({"JWT_EXPIRES_IN": "-1"})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/api/v1/auths/", Some(&no_exp)).await.status, StatusCode::OK);
    let a = app.get("/api/v1/auths/", Some(&no_jti)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    let never = claims(json!({"iat": t}));
    assert_eq!(app.get("/api/v1/auths/", Some(&never)).await.detail(), INVALID_TOKEN);
    // A session issued now (no exp) signs out like any other.
    let s = app.signin("admin@example.com", PASSWORD).await;
    let session = token_of(&s);
    assert_eq!(s.body["expires_at"], Value::Null);
    assert_eq!(app.post("/api/v1/auths/signout", Some(&session), json!({})).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/auths/", Some(&session)).await.detail(), "Invalid token");
    assert_health(&app).await;
}

/// Behind the HTTP checks: text the database refuses (PostgreSQL: a NUL in text, `\u0000` in
/// `jsonb`) becomes 400 `VALIDATION_ERROR`, never a 500; SQLite stores it.
async fn nul_refused_by_the_database_is_400_not_500(b: Backend) {
    use duet::error::{AppError, ErrorCode, UNSTORABLE_TEXT};
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, id) = app.admin().await;
    let text = duet::store::users::set_timezone(&app.db, &id, "a\u{0}").await;
    let json = duet::store::settings::set(&app.db, "hostile.nul", &json!({"k": "\u{0}"}), now()).await;
    let refused = |r: Result<(), AppError>| {
        let e = r.expect_err("refused by PostgreSQL");
        (e.status.as_u16(), e.code, e.message())
    };
    match b {
        Backend::Postgres => {
            let expected = (400, ErrorCode::ValidationError, UNSTORABLE_TEXT.to_string());
            assert_eq!(refused(text), expected);
            assert_eq!(refused(json), expected);
        }
        Backend::Sqlite => {
            assert!(text.is_ok() && json.is_ok());
        }
    }
    assert_health(&app).await;
}
