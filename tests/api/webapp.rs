//! The reference's own web app on duet, in a real browser: the built frontend of the
//! `open-webui==0.12.4` wheel (downloaded from PyPI at test time, its SHA-256 checked against the
//! index and the pinned value, cached under `target/webapp-cache/`, never committed) served from
//! `FRONTEND_BUILD_DIR`, with a fake OpenAI-compatible upstream streaming a deterministic reply.
//! `tests/browser/webapp.mjs` drives headless chromium through sign-up, the sidebar, opening a
//! chat, sending a message, a reload, rename, delete and sign-out; every 404/5xx answer the page
//! gets fails the test. Afterwards the server's own state is checked through the API.
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
const STEPS: [&str; 8] =
    ["sign-up", "sidebar", "open-chat", "send-message", "reload", "rename", "delete", "sign-out"];

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

/// Ignored unless the tests are built with `DUET_TEST_BROWSER=1` (or under CI); then a missing
/// chromium, node, python3, `tests/browser/node_modules` or PyPI fails it.
#[tokio::test]
#[cfg_attr(duet_no_browser, ignore = "DUET_TEST_BROWSER is not set")]
async fn the_reference_web_app_signs_up_lists_opens_streams_renames_deletes_and_signs_out() {
    crate::helpers::required_env("DUET_TEST_BROWSER", "1");
    let (chromium, dir) =
        browser_setup().unwrap_or_else(|why| panic!("the web app browser test cannot run: {why}"));
    let build = frontend_build().await.unwrap_or_else(|why| panic!("the web app's build: {why}"));

    let upstream = Fake::start(Api::OpenAi, &[MODEL]).await;
    let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    upstream.set(Script::Words { words, delay: Duration::from_millis(300) });
    let build_dir = build.display().to_string();
    let upstream_url = upstream.url();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("FRONTEND_BUILD_DIR", &build_dir),
            ("OPENAI_API_BASE_URLS", &upstream_url),
            ("OPENAI_API_KEYS", "sk-fake"),
            ("ENABLE_OLLAMA_API", "false"),
        ],
    )
    .await
    .expect("server");

    let shots = target_dir().join("webapp-shots");
    let _ = std::fs::remove_dir_all(&shots);
    let shots_shown = shots.display().to_string();
    let base = format!("http://{}", app.addr);
    let reply = WORDS.concat();
    let script_reply = reply.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(dir.join("webapp.mjs"))
            .args([base.as_str(), NAME, EMAIL, PASSWORD, TYPED, script_reply.as_str()])
            .env("CHROMIUM", chromium)
            .env("WEBAPP_SHOTS", shots)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
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

    // What the browser did is what the server holds.
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
    assert_eq!(answer["content"], reply.as_str(), "{}", typed.text);
    assert_eq!(answer["done"], true, "{}", typed.text);
    let asked = upstream
        .chats()
        .iter()
        .any(|c| c.body["messages"].as_array().and_then(|m| m.last()).is_some_and(|m| m["content"] == TYPED));
    assert!(asked, "no completion request with the typed message reached the upstream");
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
