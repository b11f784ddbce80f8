//! Scale-out: several instances on one database and one Redis (shared sign-in window, sessions
//! ended everywhere), Redis and PostgreSQL going away and coming back, the exact window edge of
//! both limiters, and graceful shutdown of the real binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use duet::kv::Redis;
use duet::limit::{Decision, ManualClock, MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Process, TestApp, required_redis_url, unique_prefix};

const INVALID_CRED: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
const RATE_LIMITED: &str = "API rate limit exceeded";

fn token_of(a: &crate::helpers::Answer) -> String {
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["token"].as_str().expect("token").to_string()
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).expect("redis url").get_multiplexed_async_connection().await.expect("redis")
}

async fn zcard(url: &str, key: &str) -> i64 {
    let mut c = redis_conn(url).await;
    redis::cmd("ZCARD").arg(key).query_async(&mut c).await.expect("zcard")
}

// ---- the window edge, both limiters, driven by a manual clock ----

/// 15 allowed one second apart, the 16th refused with the exact wait, refused one second before
/// the edge, allowed exactly at the edge (one slot), then refused again.
async fn window_edge_is_exact(limiter: &dyn RateLimiter, clock: &ManualClock) {
    for i in 0..15 {
        assert_eq!(limiter.hit("a@x.io").await, Decision::Allowed { remaining: 14 - i });
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(limiter.hit("a@x.io").await, Decision::Limited { retry_after: 165 });
    // A refused attempt is not counted, and other keys have their own window.
    assert_eq!(limiter.hit("a@x.io").await, Decision::Limited { retry_after: 165 });
    assert_eq!(limiter.hit("b@x.io").await, Decision::Allowed { remaining: 14 });
    clock.advance(Duration::from_millis(164_500));
    assert_eq!(limiter.hit("a@x.io").await, Decision::Limited { retry_after: 1 });
    clock.advance(Duration::from_millis(499));
    assert_eq!(limiter.hit("a@x.io").await, Decision::Limited { retry_after: 1 });
    clock.advance(Duration::from_millis(1));
    assert_eq!(limiter.hit("a@x.io").await, Decision::Allowed { remaining: 0 });
    assert_eq!(limiter.hit("a@x.io").await, Decision::Limited { retry_after: 1 });
}

#[tokio::test]
async fn memory_limiter_window_edge_is_exact() {
    let clock = Arc::new(ManualClock::new());
    let limiter = MemoryRateLimiter::with_clock(15, Duration::from_secs(180), clock.clone());
    window_edge_is_exact(&limiter, &clock).await;
}

#[tokio::test]
#[cfg_attr(duet_no_redis, ignore = "DUET_TEST_REDIS_URL is not set")]
async fn redis_limiter_window_edge_is_exact() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let redis = Arc::new(Redis::new(&url, &prefix, Duration::from_secs(2)).expect("redis"));
    let clock = Arc::new(ManualClock::new());
    let limiter =
        RedisRateLimiter::with_clock(redis.clone(), "signin", 15, Duration::from_secs(180), clock.clone());
    window_edge_is_exact(&limiter, &clock).await;
    assert!(redis.is_up(), "every decision came from Redis");
    // The log is in Redis: after the edge the key holds the 15 attempts still in the window.
    let key = format!("{prefix}:ratelimit:signin:a@x.io");
    assert_eq!(limiter.redis_key("a@x.io"), key);
    assert_eq!(zcard(&url, &key).await, 15);
    let mut c = redis_conn(&url).await;
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut c).await.expect("pttl");
    assert!(ttl > 170_000 && ttl <= 180_000, "the key expires with the window: {ttl}");
    // A second limiter (another instance) on the same Redis sees the same window.
    let other = RedisRateLimiter::with_clock(redis, "signin", 15, Duration::from_secs(180), clock.clone());
    assert_eq!(other.hit("a@x.io").await, Decision::Limited { retry_after: 1 });
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .arg(format!("{prefix}:ratelimit:signin:b@x.io"))
        .query_async(&mut c)
        .await
        .expect("del");
}

// ---- two instances on one database ----

/// Two instances on PostgreSQL and Redis: the sign-in window, accounts and sign-outs are shared.
#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn two_instances_share_the_signin_window_accounts_and_signouts() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let Some(a) = TestApp::spawn_with(Backend::Postgres, &env).await else { return };
    let b = a.twin_with(&env).await;
    let (admin, _) = a.admin().await;
    a.set_admin_config(&admin, json!({"ENABLE_SIGNUP": true, "DEFAULT_USER_ROLE": "user"})).await;

    // A user signed up on A signs in on B.
    let alice = a.signup("Alice", "alice@example.com", PASSWORD).await;
    assert_eq!(alice.status, StatusCode::OK, "{}", alice.text);
    let alice_on_b = token_of(&b.signin("alice@example.com", PASSWORD).await);

    // 15 failures spread over both instances, then the 16th is refused on either.
    for i in 0..15 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app.signin("victim@example.com", "wrong").await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED), "attempt {i}");
    }
    for app in [&a, &b] {
        let r = app.signin("victim@example.com", "wrong").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.body, json!({"detail": RATE_LIMITED}));
        let retry: u64 = r.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((170..=180).contains(&retry), "Retry-After {retry}");
    }
    assert_eq!(
        zcard(&url, &format!("{prefix}:ratelimit:signin:{}", duet::limit::key_digest("victim@example.com")))
            .await,
        15
    );

    // A token signed out on A is refused on B, and the revocation is in Redis with the token's
    // remaining life as TTL.
    assert_eq!(b.get("/api/v1/auths/", Some(&alice_on_b)).await.status, StatusCode::OK);
    let out = a.post("/api/v1/auths/signout", Some(&alice_on_b), json!({})).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    let refused = b.get("/api/v1/auths/", Some(&alice_on_b)).await;
    assert_eq!((refused.status, refused.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    let claims = jti_and_exp(&alice_on_b);
    let mut c = redis_conn(&url).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:auth:token:{}:revoked", claims.0))
        .query_async(&mut c)
        .await
        .expect("ttl");
    let remaining = claims.1 - duet::store::now();
    assert!((remaining - 5..=remaining).contains(&ttl), "TTL {ttl}, token lives {remaining} s more");
}

/// The token's `jti` and `exp` (read without checking, for assertions).
fn jti_and_exp(token: &str) -> (String, i64) {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("jwt");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    (v["jti"].as_str().expect("jti").to_string(), v["exp"].as_i64().expect("exp"))
}

/// A token revoked only in Redis (as an Open WebUI instance sharing the Redis does at sign-out)
/// is refused too.
#[tokio::test]
#[cfg_attr(duet_no_redis, ignore = "DUET_TEST_REDIS_URL is not set")]
async fn token_flagged_revoked_in_redis_is_refused() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &env).await else { return };
    let (token, _) = app.admin().await;
    assert_eq!(app.get("/api/v1/auths/", Some(&token)).await.status, StatusCode::OK);
    let (jti, _) = jti_and_exp(&token);
    let mut c = redis_conn(&url).await;
    let key = format!("{prefix}:auth:token:{jti}:revoked");
    let _: () =
        redis::cmd("SET").arg(&key).arg("1").arg("EX").arg(60).query_async(&mut c).await.expect("set");
    let a = app.get("/api/v1/auths/", Some(&token)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut c).await.expect("del");
    assert_eq!(app.get("/api/v1/auths/", Some(&token)).await.status, StatusCode::OK);
}

/// Sign-out, password change, admin password reset, role change and deletion done on one
/// instance take effect on the other at its next request, with and without Redis.
async fn sessions_end_on_every_instance(backend: Backend, with_redis: bool) {
    let url = with_redis.then(required_redis_url);
    let prefix = unique_prefix();
    let mut env: Vec<(&str, &str)> = Vec::new();
    if let Some(u) = &url {
        env.push(("REDIS_URL", u.as_str()));
        env.push(("REDIS_KEY_PREFIX", prefix.as_str()));
    }
    let Some(a) = TestApp::spawn_with(backend, &env).await else { return };
    let b = a.twin_with(&env).await;
    let (admin, _) = a.admin().await;
    let (bob, bob_id) = a.user(&admin, "Bob", "bob@example.com", "user").await;
    let (carol, carol_id) = a.user(&admin, "Carol", "carol@example.com", "user").await;
    let (dave, dave_id) = a.user(&admin, "Dave", "dave@example.com", "user").await;
    for t in [&bob, &carol, &dave] {
        assert_eq!(b.get("/api/v1/chats/", Some(t)).await.status, StatusCode::OK);
    }

    // Sign-out on A.
    let second_bob = token_of(&b.signin("bob@example.com", PASSWORD).await);
    assert_eq!(a.post("/api/v1/auths/signout", Some(&bob), json!({})).await.status, StatusCode::OK);
    let r = b.get("/api/v1/chats/", Some(&bob)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    // Only that token: Bob's other session lives.
    assert_eq!(b.get("/api/v1/chats/", Some(&second_bob)).await.status, StatusCode::OK);

    // Password change on A ends every session of Bob on B.
    let r = a
        .post(
            "/api/v1/auths/update/password",
            Some(&second_bob),
            json!({"password": PASSWORD, "new_password": "N3w-pass!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = b.get("/api/v1/chats/", Some(&second_bob)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));

    // An admin's password reset on A ends Carol's sessions on B.
    let r = a
        .post(
            &format!("/api/v1/users/{carol_id}/update"),
            Some(&admin),
            json!({"name": "Carol", "email": "carol@example.com", "profile_image_url": "/user.png", "password": "An0ther-pass!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = b.get("/api/v1/chats/", Some(&carol)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));

    // A role change on A applies on B at once: demoted to pending, Dave's token loses access.
    let r = a
        .post(
            &format!("/api/v1/users/{dave_id}/update"),
            Some(&admin),
            json!({"role": "pending", "name": "Dave", "email": "dave@example.com", "profile_image_url": "/user.png"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = b.get("/api/v1/chats/", Some(&dave)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.detail(),
        "You do not have permission to access this resource. Please contact your administrator for assistance."
    );
    assert_eq!(b.get("/api/v1/auths/", Some(&dave)).await.body["role"], "pending");

    // Deletion on A: Dave's token is refused on B.
    let r = a.delete(&format!("/api/v1/users/{dave_id}"), Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = b.get("/api/v1/auths/", Some(&dave)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, "Invalid authentication request."));
    let _ = bob_id;
}

mod sessions_end_on_every_instance {
    use super::*;

    #[tokio::test]
    async fn sqlite_without_redis() {
        sessions_end_on_every_instance(Backend::Sqlite, false).await
    }
    #[tokio::test]
    #[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
    async fn postgres_without_redis() {
        sessions_end_on_every_instance(Backend::Postgres, false).await
    }
    #[tokio::test]
    #[cfg_attr(
        any(duet_no_pg, duet_no_redis),
        ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
    )]
    async fn postgres_with_redis() {
        sessions_end_on_every_instance(Backend::Postgres, true).await
    }
}

// ---- Redis going away ----

/// A `redis-server` of this test's own on a spare port (never the shared one).
struct OwnRedis {
    child: std::process::Child,
}

impl OwnRedis {
    fn spare_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
    }

    /// Panics when `redis-server` is not installed: the test that needs it is not run without
    /// `DUET_TEST_REDIS_URL` (ignored), and with it must not pass without having run.
    async fn start(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        // Owned at once, so that a panic below stops (and reaps) the process too.
        let redis = OwnRedis {
            child: child
                .unwrap_or_else(|e| panic!("redis-server does not start ({e}): install redis-server")),
        };
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..250 {
            if let Ok(client) = redis::Client::open(url.as_str())
                && let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server on port {port} did not start");
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sign-in attempts for `email` until its key shows up in the Redis at `url` (the instance has
/// reconnected); returns how many attempts that took. Until then the in-memory fallback decides
/// (400, or 429 once its own window is full); the first attempt counted in Redis is a 400.
async fn until_counted_in_redis(app: &TestApp, url: &str, key: &str, email: &str) -> usize {
    let start = Instant::now();
    let mut attempts = 0;
    while start.elapsed() < Duration::from_secs(15) {
        let r = app.signin(email, "wrong").await;
        assert!(
            [(StatusCode::BAD_REQUEST, INVALID_CRED), (StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED)]
                .contains(&(r.status, r.detail())),
            "{} {}",
            r.status,
            r.text
        );
        attempts += 1;
        if zcard(url, key).await > 0 {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "counted in Redis, so allowed");
            return attempts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("duet did not go back to Redis within 15 s");
}

/// duet started while its Redis is down, Redis appearing, Redis dying mid-run and coming back:
/// sign-in always answers 400/429 correctly (never 500, never unlimited), sessions keep working,
/// each outage is logged once, and the shared window is used again after each recovery.
#[tokio::test]
#[cfg_attr(duet_no_redis, ignore = "DUET_TEST_REDIS_URL is not set")]
async fn redis_outages_fall_back_to_memory_and_recover() {
    // This test runs a `redis-server` of its own; it is a Redis test all the same.
    required_redis_url();
    let port = OwnRedis::spare_port();
    let url = format!("redis://127.0.0.1:{port}");
    let prefix = unique_prefix();
    let process = Process::start(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("REDIS_TIMEOUT", "200ms"),
        ("SIGNIN_RATE_LIMIT", "5"),
    ])
    .await;
    let app = process.client().await;
    // Redis down from the start: sign-up, sign-in and the limit work from memory.
    let admin = app.admin().await.0;
    for _ in 0..5 {
        let r = app.signin("early@example.com", "wrong").await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED));
    }
    let r = app.signin("early@example.com", "wrong").await;
    assert_eq!((r.status, r.detail()), (StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED));

    // Redis appears: duet connects by itself and counts there.
    let redis = OwnRedis::start(port).await;
    let key = format!("{prefix}:ratelimit:signin:{}", duet::limit::key_digest("victim@example.com"));
    let n = until_counted_in_redis(&app, &url, &key, "victim@example.com").await;
    assert_eq!(zcard(&url, &key).await, 1, "only the attempts after reconnection are in Redis ({n} tried)");
    for _ in 0..2 {
        assert_eq!(app.signin("victim@example.com", "wrong").await.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(zcard(&url, &key).await, 3);
    let session = token_of(&app.signin("admin@example.com", PASSWORD).await);

    // Redis dies mid-run: the memory fallback (same limits) decides; no 500; sessions work.
    redis.kill();
    for i in 0..5 {
        let r = app.signin("during@example.com", "wrong").await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, INVALID_CRED), "attempt {i}");
    }
    let r = app.signin("during@example.com", "wrong").await;
    assert_eq!((r.status, r.detail()), (StatusCode::TOO_MANY_REQUESTS, RATE_LIMITED));
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(app.get("/api/v1/auths/", Some(&session)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/chats/", Some(&admin)).await.status, StatusCode::OK);
    // Sign-out during the outage still revokes (in the database).
    assert_eq!(app.post("/api/v1/auths/signout", Some(&session), json!({})).await.status, StatusCode::OK);
    let r = app.get("/api/v1/auths/", Some(&session)).await;
    assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));

    // Redis is back on the same port (empty): the shared window is used again.
    let redis = OwnRedis::start(port).await;
    let key = format!("{prefix}:ratelimit:signin:{}", duet::limit::key_digest("after@example.com"));
    until_counted_in_redis(&app, &url, &key, "after@example.com").await;
    assert_eq!(app.signin("after@example.com", "wrong").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(zcard(&url, &key).await, 2);
    drop(redis);

    let logs = process.stop_and_read_logs();
    assert!(!logs.contains("panicked"), "{logs}");
    let warnings = logs.matches("Redis is unavailable").count();
    let recoveries = logs.matches("Redis is reachable again").count();
    assert_eq!((warnings, recoveries), (2, 2), "one warning and one recovery per outage:\n{logs}");
}

// ---- graceful shutdown ----

/// SIGTERM in the middle of a burst of chat writes: every write that was answered 2xx is stored
/// whole, nothing unanswered is stored, and the process exits 0 after closing its pool.
#[tokio::test]
async fn sigterm_mid_burst_loses_no_answered_write() {
    let mut process = Process::start(&[("SHUTDOWN_TIMEOUT", "20")]).await;
    let app = process.client().await;
    let (token, _) = app.admin().await;
    let url = app.url("/api/v1/chats/new");
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..80 {
        let client = reqwest::Client::new();
        let (url, token, done) = (url.clone(), token.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let title = format!("Burst chat {i}");
            let chat = json!({"title": title, "messages": [{"id": format!("m{i}"), "role": "user", "content": format!("needle {i}")}]});
            let res = client.post(&url).bearer_auth(&token).json(&json!({"chat": chat})).send().await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let res = res.ok()?;
            let status = res.status();
            let body: serde_json::Value = res.json().await.ok()?;
            Some((i, status, body))
        }));
    }
    // SIGTERM once the first answers are back, while the others are still in flight.
    let start = Instant::now();
    while done.load(std::sync::atomic::Ordering::SeqCst) < 3 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &process.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let in_flight = 80 - done.load(std::sync::atomic::Ordering::SeqCst);
    let mut answered = Vec::new();
    for h in handles {
        if let Some((i, status, body)) = h.await.expect("task") {
            assert!(status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE, "{status} {body}");
            if status.is_success() {
                answered.push((i, body["id"].as_str().expect("id").to_string()));
            }
        }
    }
    let status = process.wait_exit(Duration::from_secs(30)).await.expect("duet exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let logs = process.logs();
    assert!(logs.contains("shutdown requested") && logs.contains("duet stopped"), "{logs}");
    assert!(in_flight > 0, "the signal came mid-burst");
    assert!(answered.len() > 3, "writes in flight at the signal were finished: {} answered", answered.len());
    for (i, id) in &answered {
        let title = app.scalar_text("select title from chats where id = $1", id).await;
        assert_eq!(title.as_deref(), Some(format!("Burst chat {i}").as_str()), "chat {id}");
        let text =
            app.scalar_text("select search_text from chats where id = $1", id).await.unwrap_or_default();
        assert!(text.contains(&format!("needle {i}")), "search text of {id}: {text:?}");
    }
    let stored = app.scalar_count("select count(*) from chats where user_id <> $1", "").await;
    assert_eq!(stored, answered.len() as i64, "every stored chat was answered");
}

// ---- PostgreSQL going away ----

/// A PostgreSQL cluster of this test's own (initdb into a temporary directory, a spare port),
/// run as the `postgres` user when the tests run as root. Never the shared server.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
    as_root: bool,
}

impl OwnPostgres {
    fn command(&self, program: &str) -> std::process::Command {
        let path = self.bin.join(program);
        if self.as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        }
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Panics when no PostgreSQL server binaries are installed: the test is a PostgreSQL test,
    /// ignored without `DUET_TEST_DATABASE_URL`, and with it must not pass without having run.
    fn create() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect(
                "no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin: install postgresql",
            );
        let uid = std::process::Command::new("id").arg("-u").output().expect("id");
        let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = tempfile::tempdir().expect("dir");
        if as_root {
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success());
        }
        let pg = OwnPostgres { dir, bin, port: OwnRedis::spare_port(), as_root };
        let out = pg
            .command("initdb")
            .args([
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ])
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let out = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-l", &log, "-o", &options, "-w", "-t", "60", "start"])
            .output()
            .expect("pg_ctl start");
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn stop(&self) {
        let out = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "fast", "-w", "-t", "60", "stop"])
            .output()
            .expect("pg_ctl stop");
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
    }
}

/// PostgreSQL stops under a running duet: requests are 503 with a JSON detail (never 500), the
/// process stays up, and once PostgreSQL is back requests succeed without restarting duet.
#[tokio::test]
#[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
async fn postgres_restart_is_503_then_recovers_without_restart() {
    // This test runs a PostgreSQL cluster of its own; it is a PostgreSQL test all the same.
    crate::helpers::required_postgres_url();
    let pg = OwnPostgres::create();
    pg.start();
    let url = pg.url();
    let process = Process::start(&[("DATABASE_URL", url.as_str()), ("DATABASE_POOL_TIMEOUT", "2")]).await;
    let app = process.client().await;
    let (token, _) = app.admin().await;
    let chat = app.post("/api/v1/chats/new", Some(&token), json!({"chat": {"title": "Survives"}})).await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    let id = chat.body["id"].as_str().expect("id").to_string();

    pg.stop();
    let r = app.get(&format!("/api/v1/chats/{id}"), Some(&token)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.detail(), "Authentication is temporarily unavailable.");
    let r = app.signin("admin@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.detail(), "Authentication is temporarily unavailable.");
    let r = app.get("/api/v1/users/", Some(&token)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    let r = app.get("/health/db", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);

    pg.start();
    let start = Instant::now();
    let back = loop {
        let r = app.get(&format!("/api/v1/chats/{id}"), Some(&token)).await;
        if r.status == StatusCode::OK || start.elapsed() > Duration::from_secs(20) {
            break r;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(back.body["title"], "Survives");
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.status, StatusCode::OK);
    let logs = process.stop_and_read_logs();
    assert!(!logs.contains("panicked"), "{logs}");
}
