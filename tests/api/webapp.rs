//! The reference's own web app on duet, in a real browser: the built frontend of the
//! `open-webui==0.12.4` wheel (downloaded from PyPI at test time, its SHA-256 checked against the
//! index and the pinned value, cached under `target/webapp-cache/`, never committed) served from
//! `FRONTEND_BUILD_DIR`, with a fake OpenAI-compatible upstream streaming a deterministic reply.
//! `tests/browser/webapp.mjs` drives headless chromium through sign-up, the sidebar, opening a
//! chat, sending a message, a reload, stopping a reply, rename, delete and sign-out; every 404/5xx
//! answer the page gets fails the test. Afterwards the server's own state is checked through the
//! API. The same flow runs on two instances sharing PostgreSQL and Redis behind a local balancer
//! that puts the page's socket on one instance and its API calls on the other.
//!
//! Also here: the answers the web app needs that the browser flow found missing (the channel
//! list it asks for whenever its socket connects).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sha2::Digest;

use crate::fake_upstream::{Api, Fake, Script};
use crate::helpers::{Backend, TestApp};

/// The pinned release.
const VERSION: &str = "0.12.4";
const WHEEL: &str = "open_webui-0.12.4-py3-none-any.whl";
/// The wheel's SHA-256 as PyPI lists it (a release file never changes).
const WHEEL_SHA256: &str = "02e9caba96234db3fa17a92e56163b3f7f2b8ca8227fa886b85c178d696483f6";

const MODEL: &str = "fake-model";
const NAME: &str = "Ada Admin";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "Passw0rd!";
/// What the person types into a new chat.
const TYPED: &str = "Please say something in reply.";
/// What the fake model streams, word by word.
const WORDS: [&str; 10] = ["The", " fake", " model", " answers", " one", " word", " at", " a", " time", "."];

/// Every step the browser script reports.
const STEPS: [&str; 9] =
    ["sign-up", "sidebar", "open-chat", "send-message", "reload", "stop", "rename", "delete", "sign-out"];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// What the browser test needs, or why it cannot run here.
fn browser_setup() -> Result<(String, PathBuf), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!("{chromium} is missing (apt-get install chromium)"));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("tests/browser/node_modules is missing (cd tests/browser && npm ci)".into());
    }
    for (tool, install) in [("node", "nodejs"), ("python3", "python3")] {
        let ok = std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        if !ok {
            return Err(format!("{tool} is not installed (apt-get install {install})"));
        }
    }
    Ok((chromium, dir))
}

/// The wheel's URL and SHA-256 from the package index's JSON page (PEP 691).
async fn wheel_from_index(client: &reqwest::Client) -> Result<(String, String), String> {
    let index = std::env::var("PIP_INDEX_URL").unwrap_or_else(|_| "https://pypi.org/simple".into());
    let url = format!("{}/open-webui/", index.trim_end_matches('/'));
    let res = client
        .get(&url)
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if res.status() != StatusCode::OK {
        return Err(format!("{url}: {}", res.status()));
    }
    let page: serde_json::Value = res.json().await.map_err(|e| format!("{url}: {e}"))?;
    let file = page["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["filename"] == WHEEL))
        .ok_or_else(|| format!("{url} does not list {WHEEL}"))?;
    let sha = file["hashes"]["sha256"].as_str().ok_or_else(|| format!("{url}: no sha256 for {WHEEL}"))?;
    let href = file["url"].as_str().ok_or_else(|| format!("{url}: no URL for {WHEEL}"))?;
    // The URL may be relative to the page.
    let href = reqwest::Url::parse(&url).and_then(|base| base.join(href)).map_err(|e| e.to_string())?;
    Ok((href.to_string(), sha.to_string()))
}

/// Downloads the wheel to `path`, hashing it on the way; returns the hex SHA-256.
async fn download(client: &reqwest::Client, url: &str, path: &Path) -> Result<String, String> {
    let mut res = client.get(url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if res.status() != StatusCode::OK {
        return Err(format!("{url}: {}", res.status()));
    }
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hash = sha2::Sha256::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        hash.update(&chunk);
        file.write_all(&chunk).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    file.sync_all().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Extracts only `open_webui/frontend/` of the wheel into `dest` (Python's `zipfile`, which
/// keeps every member inside `dest`).
fn extract_frontend(wheel: &Path, dest: &Path) -> Result<(), String> {
    const SCRIPT: &str = "import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.startswith('open_webui/frontend/')]
    if not members:
        sys.exit('the wheel has no open_webui/frontend/')
    z.extractall(dest, members)
";
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(wheel)
        .arg(dest)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!("extracting {}: {}", wheel.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// The built web app of the pinned release: from the cache, or downloaded, checked and extracted.
async fn frontend_build() -> Result<PathBuf, String> {
    let cache = target_dir().join("webapp-cache");
    let home = cache.join(format!("open-webui-{VERSION}"));
    let frontend = home.join("frontend");
    // Written last: its presence means the extraction finished.
    let marker = home.join("SHA256");
    if std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == WHEEL_SHA256)
        && frontend.join("index.html").is_file()
    {
        return Ok(frontend);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(900))
        .build()
        .map_err(|e| e.to_string())?;
    let (url, listed) = wheel_from_index(&client).await?;
    if listed != WHEEL_SHA256 {
        return Err(format!("the index lists {WHEEL} with sha256 {listed}, expected {WHEEL_SHA256}"));
    }
    let wheel = cache.join(format!("{WHEEL}.{}.part", std::process::id()));
    let got = download(&client, &url, &wheel).await;
    let got = match got {
        Ok(sha) => sha,
        Err(e) => {
            let _ = std::fs::remove_file(&wheel);
            return Err(e);
        }
    };
    if got != WHEEL_SHA256 {
        let _ = std::fs::remove_file(&wheel);
        return Err(format!("{url} has sha256 {got}, expected {WHEEL_SHA256}"));
    }
    let scratch = cache.join(format!("extract.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let extracted = extract_frontend(&wheel, &scratch);
    let _ = std::fs::remove_file(&wheel);
    extracted?;
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    std::fs::rename(scratch.join("open_webui/frontend"), &frontend)
        .map_err(|e| format!("moving the build to {}: {e}", frontend.display()))?;
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::write(&marker, WHEEL_SHA256).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(frontend)
}

/// Serializes the download and extraction of the build between the tests of this run.
static BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the browser flow needs besides the server: the build, chromium and the fake upstream
/// streaming `WORDS`.
struct Flow {
    chromium: String,
    dir: PathBuf,
    build_dir: String,
    upstream: Fake,
}

impl Flow {
    /// Panics naming what is missing (the test is ignored unless its services were configured).
    async fn prepare() -> Flow {
        crate::helpers::required_env("DUET_TEST_BROWSER", "1");
        let (chromium, dir) =
            browser_setup().unwrap_or_else(|why| panic!("the web app browser test cannot run: {why}"));
        let build = {
            let _one = BUILD.lock().await;
            frontend_build().await.unwrap_or_else(|why| panic!("the web app's build: {why}"))
        };
        let upstream = Fake::start(Api::OpenAi, &[MODEL]).await;
        let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
        upstream.set(Script::Words { words, delay: Duration::from_millis(300) });
        Flow { chromium, dir, build_dir: build.display().to_string(), upstream }
    }

    /// The server settings of the flow: the build and the fake upstream, with `extra`.
    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("FRONTEND_BUILD_DIR", self.build_dir.clone()),
            ("OPENAI_API_BASE_URLS", self.upstream.url()),
            ("OPENAI_API_KEYS", "sk-fake".to_string()),
            ("ENABLE_OLLAMA_API", "false".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// Runs `tests/browser/webapp.mjs` against `base` (screenshots into `shots`, emptied first)
    /// and asserts that every step passed with no 404/5xx answer; returns its output.
    async fn run(&self, base: &str, shots: PathBuf) -> String {
        if let Ok(entries) = std::fs::read_dir(&shots) {
            for entry in entries.flatten() {
                if entry.path().extension().is_some_and(|e| e == "png") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let shots_shown = shots.display().to_string();
        let (script, chromium) = (self.dir.join("webapp.mjs"), self.chromium.clone());
        let args =
            [base.to_string(), NAME.into(), EMAIL.into(), PASSWORD.into(), TYPED.into(), WORDS.concat()];
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .arg(script)
                .args(args)
                .env("CHROMIUM", chromium)
                .env("WEBAPP_SHOTS", shots)
                .output()
        })
        .await
        .expect("join")
        .expect("node runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let failed: Vec<&str> =
            STEPS.iter().copied().filter(|s| !stdout.contains(&format!("PASS {s}:"))).collect();
        let bad: Vec<&str> = stdout.lines().filter(|l| l.starts_with("BAD ")).collect();
        assert!(
            output.status.success() && failed.is_empty() && bad.is_empty(),
            "the web app flow failed (steps not passed: {failed:?}; answers 404/5xx: {}; screenshots in \
             {shots_shown})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            bad.len()
        );
        stdout
    }

    /// What the browser did (`stdout` of `run`) is what `app` holds, and the typed message
    /// reached the upstream.
    async fn check_server(&self, app: &TestApp, stdout: &str) {
        let signin = app.signin(EMAIL, PASSWORD).await;
        assert_eq!(signin.status, StatusCode::OK, "{}", signin.text);
        assert_eq!(signin.body["role"], "admin");
        let token = signin.body["token"].as_str().expect("token").to_string();
        let ids = stdout.lines().find_map(|l| l.strip_prefix("chats: ")).expect("the chat ids line");
        let id = |name: &str| {
            ids.split(' ').find_map(|kv| kv.strip_prefix(&format!("{name}="))).expect("an id").to_string()
        };
        let kept = app.get(&format!("/api/v1/chats/{}", id("kept")), Some(&token)).await;
        assert_eq!(kept.body["title"], "Lisbon pastries", "{}", kept.text);
        let gone = app.get(&format!("/api/v1/chats/{}", id("deleted")), Some(&token)).await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "{}", gone.text);
        let typed = app.get(&format!("/api/v1/chats/{}", id("typed")), Some(&token)).await;
        let messages = typed.body["chat"]["history"]["messages"].as_object().expect("messages").clone();
        let answer = messages.values().find(|m| m["role"] == "assistant").expect("an assistant message");
        assert_eq!(answer["content"], WORDS.concat().as_str(), "{}", typed.text);
        assert_eq!(answer["done"], true, "{}", typed.text);
        // The first reply names the chat after its message (no model writes titles).
        assert_eq!(typed.body["title"], TYPED, "{}", typed.text);
        // The stopped reply keeps the text it had; a stopped first reply does not name the chat.
        let stopped = app.get(&format!("/api/v1/chats/{}", id("stopped")), Some(&token)).await;
        let messages = stopped.body["chat"]["history"]["messages"].as_object().expect("messages").clone();
        let part = messages.values().find(|m| m["role"] == "assistant").expect("an assistant message");
        let part_text = part["content"].as_str().expect("text");
        assert!(!part_text.is_empty() && WORDS.concat().starts_with(part_text), "{}", stopped.text);
        assert_ne!(part_text, WORDS.concat(), "{}", stopped.text);
        assert_eq!(part["done"], true, "{}", stopped.text);
        assert_eq!(stopped.body["title"], "New Chat", "{}", stopped.text);
        let asked = self.upstream.chats().iter().any(|c| {
            c.body["messages"].as_array().and_then(|m| m.last()).is_some_and(|m| m["content"] == TYPED)
        });
        assert!(asked, "no completion request with the typed message reached the upstream");
    }
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Ignored unless the tests are built with `DUET_TEST_BROWSER=1` (or under CI); then a missing
/// chromium, node, python3, `tests/browser/node_modules` or PyPI fails it.
#[tokio::test]
#[cfg_attr(duet_no_browser, ignore = "DUET_TEST_BROWSER is not set")]
async fn the_reference_web_app_signs_up_lists_opens_streams_renames_deletes_and_signs_out() {
    let flow = Flow::prepare().await;
    let env = flow.env(&[]);
    let app = TestApp::spawn_with(Backend::Sqlite, &borrowed(&env)).await.expect("server");
    let stdout = flow.run(&format!("http://{}", app.addr), target_dir().join("webapp-shots")).await;
    flow.check_server(&app, &stdout).await;
}

/// The same flow on two instances sharing PostgreSQL and Redis behind a local balancer that
/// sends the web app's socket.io requests to instance B and everything else to instance A: the
/// reply that A produces streams to the page's socket on B. Ignored unless the tests are built
/// with `DUET_TEST_BROWSER`, `DUET_TEST_DATABASE_URL` and `DUET_TEST_REDIS_URL` (or under CI, where
/// a missing one fails it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(duet_no_browser, duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_BROWSER, DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn the_web_app_streams_a_reply_made_on_one_instance_to_its_socket_on_another() {
    crate::helpers::required_postgres_url();
    let redis = crate::helpers::required_redis_url();
    let flow = Flow::prepare().await;
    let prefix = crate::helpers::unique_prefix();
    let env = flow.env(&[("REDIS_URL", &redis), ("REDIS_KEY_PREFIX", &prefix)]);
    let a = TestApp::spawn_with(Backend::Postgres, &borrowed(&env)).await.expect("instance A");
    let b = a.separate_instance(&borrowed(&env)).await;
    let balancer = Balancer::start(a.addr, b.addr).await;
    let shots = target_dir().join("webapp-shots").join("two-instances");
    let stdout = flow.run(&format!("http://{}", balancer.addr), shots).await;
    let (to_a, to_b, completions) = balancer.counts();
    assert!(to_b > 0, "no socket.io request reached instance B");
    assert!(to_a > 0, "no request reached instance A");
    // The typed messages' replies (the one streamed, the one stopped) were asked of A, their
    // socket being on B.
    assert_eq!(completions, 2, "POST /api/chat/completions requests to A");
    flow.check_server(&a, &stdout).await;
    flow.check_server(&b, &stdout).await;
}

/// A small HTTP/1.1 balancer: each connection carries one request (`Connection: close` is put
/// on it, so the browser opens a new one for the next), sent to B when its path is under
/// `/ws/socket.io` and to A otherwise; a WebSocket upgrade stays piped to B.
struct Balancer {
    addr: std::net::SocketAddr,
    counts: std::sync::Arc<[std::sync::atomic::AtomicUsize; 3]>,
}

impl Balancer {
    async fn start(a: std::net::SocketAddr, b: std::net::SocketAddr) -> Balancer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counts: std::sync::Arc<[std::sync::atomic::AtomicUsize; 3]> = Default::default();
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let counts = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = Balancer::relay(conn, a, b, &counts).await {
                        eprintln!("balancer: {e}");
                    }
                });
            }
        });
        Balancer { addr, counts }
    }

    /// Requests sent to A, to B, and `POST /api/chat/completions` requests (all sent to A).
    fn counts(&self) -> (usize, usize, usize) {
        let n = |i: usize| self.counts[i].load(std::sync::atomic::Ordering::SeqCst);
        (n(0), n(1), n(2))
    }

    async fn relay(
        mut client: tokio::net::TcpStream,
        a: std::net::SocketAddr,
        b: std::net::SocketAddr,
        counts: &[std::sync::atomic::AtomicUsize; 3],
    ) -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if buf.len() > 64 * 1024 {
                return Err(std::io::Error::other("request head too long"));
            }
            let mut chunk = [0u8; 8192];
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split(' ').nth(1).unwrap_or("");
        let socket = path.starts_with("/ws/socket.io");
        let upgrade = head.lines().any(|l| l.to_ascii_lowercase().starts_with("upgrade:"));
        let backend = if socket { b } else { a };
        counts[usize::from(socket)].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if head.starts_with("POST /api/chat/completions ") {
            counts[2].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
        if !upgrade {
            lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
            lines.push("Connection: close");
        }
        let mut out = lines.join("\r\n").into_bytes();
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&buf[head_end..]);
        let mut server = tokio::net::TcpStream::connect(backend).await?;
        server.write_all(&out).await?;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        Ok(())
    }
}

#[tokio::test]
async fn the_channel_list_answers_as_the_reference_does_with_channels_off() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "Bo", "bo@example.com", "user").await;
    let (pending, _) = app.user(&admin, "Cy", "cy@example.com", "pending").await;
    for path in ["/api/v1/channels/", "/api/v1/channels"] {
        for token in [&admin, &user] {
            let a = app.get(path, Some(token)).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}: {}", a.text);
            assert_eq!(a.body, json!({"detail": "Channels is disabled"}), "{path}");
        }
        let a = app.get(path, Some(&pending)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}: {}", a.text);
        assert_eq!(
            a.detail(),
            "You do not have permission to access this resource. Please contact your administrator for assistance."
        );
        let a = app.get(path, None).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"), "{path}");
    }
}
