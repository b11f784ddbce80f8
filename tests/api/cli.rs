//! The `duet` binary: help, start-up configuration errors, `migrate`, `create-admin`, and `serve`
//! from cold start to a graceful stop.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn duet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_duet"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("RUST_LOG", "warn");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn help_documents_every_command() {
    let out = duet().arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "migrate", "create-admin"] {
        assert!(text.contains(word), "{text}");
    }
    let serve = duet().args(["serve", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&serve.stdout);
    assert!(text.contains("--host") && text.contains("--port"), "{text}");
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    for (var, value) in [
        ("ENABLE_SIGNUP", "maybe"),
        ("PORT", "http"),
        ("JWT_EXPIRES_IN", "soon"),
        ("DATABASE_URL", "mysql://x"),
    ] {
        let out = duet().env("DATA_DIR", dir.path()).env(var, value).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("duet: invalid configuration: {var}: ")), "{err}");
    }
}

#[test]
fn migrate_creates_the_database_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("dir");
    for _ in 0..2 {
        let out = duet().arg("migrate").env("DATA_DIR", dir.path()).output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "migrations applied");
    }
    assert!(dir.path().join("webui.db").exists());
}

#[test]
fn create_admin_adds_an_admin_once() {
    let dir = tempfile::tempdir().expect("dir");
    let run = || {
        duet()
            .args(["create-admin", "--email", "Root@Example.com", "--name", "Root"])
            .env("DATA_DIR", dir.path())
            .env("DUET_ADMIN_PASSWORD", "Passw0rd!")
            .output()
            .expect("run")
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "admin root@example.com created");
    let again = run();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("This email is already registered"));
}

#[tokio::test]
async fn serve_answers_health_signs_in_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let started = Instant::now();
    let mut child = duet()
        .args(["serve", "--port", &port.to_string()])
        .env("DATA_DIR", dir.path())
        .env("WEBUI_ADMIN_EMAIL", "boot@example.com")
        .env("WEBUI_ADMIN_PASSWORD", "Passw0rd!")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/health");
    let mut ok = false;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = client.get(&health).send().await
            && r.status() == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "no /health within 30 s");
    // The bootstrap admin exists and the generated key is private.
    let signin = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auths/signin"))
        .json(&serde_json::json!({"email": "boot@example.com", "password": "Passw0rd!"}))
        .send()
        .await
        .expect("signin");
    assert_eq!(signin.status(), 200);
    let body: serde_json::Value = signin.json().await.expect("json");
    assert_eq!(body["role"], "admin");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir.path().join(".webui_secret_key")).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // SIGTERM: a clean exit.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = child.try_wait().expect("wait") {
            assert!(code.success(), "exit {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "duet did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
