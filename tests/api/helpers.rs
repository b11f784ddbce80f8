//! The test harness: a real duet server on an ephemeral port over a fresh database (a SQLite file
//! in a temporary directory, or a fresh schema in `DUET_TEST_DATABASE_URL`), and a client for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use duet::store::Db;
use duet::{App, Config, build_router};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The secret every test server signs tokens with.
pub const SECRET: &str = "test-secret-key";
pub const PASSWORD: &str = "Passw0rd!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::name` and `postgres::name` tests from `async fn name(backend: Backend)`.
///
/// The PostgreSQL variants are compiled as ignored when `DUET_TEST_DATABASE_URL` was not set at
/// build time (and `CI` was not: under CI they run, and fail without the variable); run anyway
/// (`-- --ignored`, or a test binary run without the variable it was built with), they panic
/// naming the variable instead of passing without having run.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
                async fn $name() {
                    $crate::helpers::required_postgres_url();
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Serves `state` on an ephemeral port with the binary's accept loop; returns the address.
async fn serve(state: duet::AppState) -> SocketAddr {
    let limits = duet::http::server::ConnectionLimits::from_config(&state.config);
    let router = build_router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        duet::http::server::run(listener, router, limits, std::future::pending()).await.expect("serve");
    });
    addr
}

static REDIS_SKIP_NOTICE: AtomicBool = AtomicBool::new(false);

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false` (as `build.rs`
/// decides when it compiles the service tests as ignored).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The value of `var`, which the calling test needs (`example` shows one); panics naming it when
/// it is unset or empty. Tests needing a service are compiled as ignored without their variable
/// (see `build.rs`), so reaching this without it means CI, `-- --ignored`, or a test binary built
/// with the variable and run without it.
pub fn required_env(var: &str, example: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => value,
        _ if is_ci() => {
            panic!("{var} is not set, and CI is: under CI this test must run; set {var} (e.g. {example})")
        }
        _ => panic!(
            "{var} is not set, and this test needs it: set {var} (e.g. {example}), or build and run \
             the tests without it to have this test reported as ignored"
        ),
    }
}

/// `DUET_TEST_DATABASE_URL`, for tests marked `#[cfg_attr(duet_no_pg, ignore = ...)]`; panics when
/// it is missing.
pub fn required_postgres_url() -> String {
    required_env("DUET_TEST_DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
}

/// `DUET_TEST_REDIS_URL`, for tests marked `#[cfg_attr(duet_no_redis, ignore = ...)]`; panics when
/// it is missing.
pub fn required_redis_url() -> String {
    required_env("DUET_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// `DUET_TEST_REDIS_URL` for a test whose Redis part is optional: `None` (that part is skipped,
/// said once on stderr) only when the tests were built without it and without CI (`duet_no_redis`);
/// otherwise the URL, or a panic naming the variable.
pub fn redis_url() -> Option<String> {
    let set = std::env::var("DUET_TEST_REDIS_URL").is_ok_and(|v| !v.trim().is_empty());
    if !set && cfg!(duet_no_redis) {
        if !REDIS_SKIP_NOTICE.swap(true, Ordering::Relaxed) {
            eprintln!("DUET_TEST_REDIS_URL is not set: skipping the Redis parts of tests");
        }
        return None;
    }
    Some(required_redis_url())
}

/// A key prefix no other test uses, so tests can share one Redis.
pub fn unique_prefix() -> String {
    format!("duet-test-{}", uuid::Uuid::new_v4().simple())
}

/// Caches that outlive any test: a test counting statements sees no expiry in between, however
/// slow the machine is.
pub const STEADY_CACHES: &[(&str, &str)] =
    &[("SETTINGS_CACHE_TTL", "600000"), ("SESSION_CACHE_TTL", "600000")];

/// A running server and what tests need to talk to it and to its database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: Db,
    _dir: tempfile::TempDir,
    pg_schema: Option<(String, String)>,
}

/// One answer: status, headers and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    }
}

impl TestApp {
    /// A server with default settings. Always `Some`: PostgreSQL without `DUET_TEST_DATABASE_URL`
    /// panics (such tests are compiled as ignored unless the variable or `CI` is set).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    /// A server with extra environment variables.
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Option<TestApp> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug,sqlx=info"))
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATA_DIR".into(), dir.path().display().to_string());
        vars.insert("WEBUI_SECRET_KEY".into(), SECRET.into());
        vars.insert("DATABASE_POOL_SIZE".into(), "5".into());
        for (k, v) in env {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_map(&vars).expect("test config");
        let (db, pg_schema) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/webui.db", dir.path().display());
                (Db::connect(&url, 5, std::time::Duration::from_secs(10)).await.expect("sqlite"), None)
            }
            Backend::Postgres => {
                let url = required_postgres_url();
                let schema = format!("duet_test_{}", uuid::Uuid::new_v4().simple());
                let db = Db::connect_postgres_schema(&url, &schema, 5).await.expect("postgres");
                (db, Some((url, schema)))
            }
        };
        let app = App::with_db(config, db.clone()).await.expect("app start");
        let state = app.into_state();
        let addr = serve(state).await;
        Some(TestApp {
            addr,
            client: reqwest::Client::builder().build().expect("client"),
            db,
            _dir: dir,
            pg_schema,
        })
    }

    /// Another process's view of the same database: a server with its own pool and caches
    /// (unlike `twin`, which shares this server's handle), the same secret and extra `env`.
    pub async fn separate_instance(&self, env: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATA_DIR".into(), dir.path().display().to_string());
        vars.insert("WEBUI_SECRET_KEY".into(), SECRET.into());
        for (k, v) in env {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_map(&vars).expect("test config");
        let db = match &self.pg_schema {
            Some((url, schema)) => Db::connect_postgres_schema(url, schema, 3).await.expect("postgres"),
            None => {
                let url = format!("sqlite://{}/webui.db", self._dir.path().display());
                Db::connect(&url, 3, std::time::Duration::from_secs(10)).await.expect("sqlite")
            }
        };
        let app = App::with_db(config, db.clone()).await.expect("second instance start");
        let addr = serve(app.into_state()).await;
        TestApp { addr, client: reqwest::Client::new(), db, _dir: dir, pg_schema: None }
    }

    /// A second server over the same database and secret (another instance of a deployment).
    pub async fn twin(&self) -> TestApp {
        self.twin_with(&[]).await
    }

    /// `twin` with extra environment variables (e.g. the same `REDIS_URL`).
    pub async fn twin_with(&self, env: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("DATA_DIR".into(), dir.path().display().to_string());
        vars.insert("WEBUI_SECRET_KEY".into(), SECRET.into());
        for (k, v) in env {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_map(&vars).expect("test config");
        let app = App::with_db(config, self.db.clone()).await.expect("twin start");
        let addr = serve(app.into_state()).await;
        TestApp { addr, client: reqwest::Client::new(), db: self.db.clone(), _dir: dir, pg_schema: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; `token` goes in `Authorization: Bearer`.
    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.expect("request")).await
    }

    pub async fn answer(res: reqwest::Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send("POST", path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.send("DELETE", path, token, None).await
    }

    /// Sends a request with raw headers and an optional raw body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        Self::answer(req.send().await.expect("request")).await
    }

    pub async fn signup(&self, name: &str, email: &str, password: &str) -> Answer {
        self.post("/api/v1/auths/signup", None, json!({"name": name, "email": email, "password": password}))
            .await
    }

    pub async fn signin(&self, email: &str, password: &str) -> Answer {
        self.post("/api/v1/auths/signin", None, json!({"email": email, "password": password})).await
    }

    /// Signs up the first account (the admin); returns (token, id).
    pub async fn admin(&self) -> (String, String) {
        let a = self.signup("Admin", "admin@example.com", PASSWORD).await;
        assert_eq!(a.status, StatusCode::OK, "admin signup: {}", a.text);
        (a.body["token"].as_str().expect("token").to_string(), a.body["id"].as_str().expect("id").to_string())
    }

    /// Creates a user with `role` through the admin API; returns (token, id).
    pub async fn user(&self, admin_token: &str, name: &str, email: &str, role: &str) -> (String, String) {
        let a = self
            .post(
                "/api/v1/auths/add",
                Some(admin_token),
                json!({"name": name, "email": email, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "add user: {}", a.text);
        let id = a.body["id"].as_str().expect("id").to_string();
        let s = self.signin(email, PASSWORD).await;
        assert_eq!(s.status, StatusCode::OK, "signin: {}", s.text);
        (s.body["token"].as_str().expect("token").to_string(), id)
    }

    /// Sets admin-config fields (read-modify-write of the whole object, as the frontend does).
    pub async fn set_admin_config(&self, admin_token: &str, changes: Value) {
        let mut config = self.get("/api/v1/auths/admin/config", Some(admin_token)).await.body;
        for (k, v) in changes.as_object().expect("object") {
            config[k] = v.clone();
        }
        let a = self.post("/api/v1/auths/admin/config", Some(admin_token), config).await;
        assert_eq!(a.status, StatusCode::OK, "admin config: {}", a.text);
    }

    /// One scalar from the database.
    pub async fn scalar_text(&self, sql: &'static str, arg: &str) -> Option<String> {
        use duet::run;
        let db = &self.db;
        let row: Option<Option<String>> =
            run!(db, e => sqlx::query_scalar(sql).bind(arg).fetch_optional(e).await).expect("query");
        row.flatten()
    }

    /// A stored config value as JSON text.
    pub async fn scalar_config(&self, key: &str) -> Option<String> {
        self.scalar_text("select cast(value as text) from config where key = $1", key).await
    }

    pub async fn scalar_count(&self, sql: &'static str, arg: &str) -> i64 {
        use duet::run;
        let db = &self.db;
        run!(db, e => sqlx::query_scalar::<_, i64>(sql).bind(arg).fetch_one(e).await).expect("query")
    }

    /// Runs a statement with text arguments, behind the server's back: its cached reads are
    /// dropped so that the next request sees the change.
    pub async fn exec(&self, sql: &'static str, args: &[&str]) {
        use duet::run;
        let db = &self.db;
        run!(db, e => {
            let mut q = sqlx::query(sql);
            for a in args {
                q = q.bind(*a);
            }
            q.execute(e).await.map(|r| r.rows_affected())
        })
        .expect("exec");
        self.db.forget_cached_reads();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.pg_schema.take() {
            // Drop the test's schema on a separate runtime (Drop cannot await).
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                        let sql = format!("drop schema if exists \"{schema}\" cascade");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// The `duet` binary running as a separate process on a fresh SQLite data directory, its stdout
/// and stderr written to a log file.
pub struct Process {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Process {
    pub async fn start(env: &[(&str, &str)]) -> Process {
        let dir = tempfile::tempdir().expect("dir");
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let log = std::fs::File::create(dir.path().join("duet.log")).expect("log file");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_duet"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", dir.path().join("data"))
            .env("PORT", port.to_string())
            .env("WEBUI_SECRET_KEY", SECRET)
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn duet");
        let database_url = env.iter().find(|(k, _)| *k == "DATABASE_URL").map(|(_, v)| v.to_string());
        let process = Process { child, port, dir, database_url };
        let health = format!("http://127.0.0.1:{port}/health");
        for _ in 0..1500 {
            if reqwest::get(&health).await.is_ok_and(|r| r.status() == StatusCode::OK) {
                return process;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("duet did not answer /health within 30 s");
    }

    /// A `TestApp` talking to this process, with a handle on its SQLite database (or on the
    /// database at `DATABASE_URL` when the process was given one).
    pub async fn client(&self) -> TestApp {
        let url = self.database_url.clone().unwrap_or_else(|| self.sqlite_url());
        let db = Db::connect(&url, 2, std::time::Duration::from_secs(10)).await.expect("db");
        TestApp {
            addr: SocketAddr::from(([127, 0, 0, 1], self.port)),
            client: reqwest::Client::new(),
            db,
            _dir: tempfile::tempdir().expect("dir"),
            pg_schema: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The SQLite database URL of this process.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}/data/webui.db", self.dir.path().display())
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("duet.log")).unwrap_or_default()
    }

    /// Waits up to `limit` for the process to exit by itself; its exit status.
    pub async fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }

    /// Stops the process and returns everything it logged.
    pub fn stop_and_read_logs(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(self.dir.path().join("duet.log")).expect("log")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs request futures concurrently on the test's runtime.
pub async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.expect("done")).collect()
}

/// Posts one GraphQL operation.
pub async fn gql(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Answer {
    app.post("/graphql", token, json!({"query": query, "variables": variables})).await
}

/// The first error's message and code.
pub fn error_of(a: &Answer) -> (String, String) {
    let e = &a.body["errors"][0];
    (
        e["message"].as_str().unwrap_or("").to_string(),
        e["extensions"]["code"].as_str().unwrap_or("").to_string(),
    )
}
