//! `duet import-openwebui` and the provider connections an Open WebUI admin set up (`openai.*` and
//! `ollama.*` config keys): they arrive as duet's connection settings, the API keys included,
//! and a malformed one is skipped with a reason that never shows the key.

use std::str::FromStr;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use super::openwebui::{fixture, fixture_copy, issues, s};
use super::{duet_json, entry, sqlite_url};
use crate::helpers::Process;

/// Adds config rows to the Open WebUI database at `url`.
async fn add_config(url: &str, rows: &[(&str, &str)]) {
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).expect("url");
    let mut owui = sqlx::SqliteConnection::connect_with(&opts).await.expect("open");
    for (key, value) in rows {
        sqlx::query("insert into config (key, value, updated_at) values ($1, $2, 1765000000)")
            .bind(key)
            .bind(value)
            .execute(&mut owui)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    owui.close().await.expect("close");
}

#[tokio::test]
async fn the_provider_connections_arrive_with_their_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    add_config(
        &from,
        &[
            ("openai.enable", "true"),
            ("openai.api_base_urls", r#"["https://llm.example.com/v1", "https://other.example.com/v1"]"#),
            ("openai.api_keys", r#"["sk-first-secret", "sk-second-secret"]"#),
            ("openai.api_configs", r#"{"1": {"enable": false, "prefix_id": "other"}}"#),
            ("ollama.enable", "false"),
            ("ollama.base_urls", r#"["http://ollama.example.com:11434"]"#),
            ("ollama.api_configs", "{}"),
        ],
    )
    .await;
    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    let e = entry(&report, "config → config");
    assert_eq!((e["read"].as_u64(), e["written"].as_u64()), (Some(14), Some(13)), "{e}");

    let fx = fixture();
    let alice = &fx["users"]["alice"];
    let p = Process::start(&[("DATABASE_URL", &to), ("WEBUI_SECRET_KEY", s(&fx["secret_key"]))]).await;
    let c = p.client().await;
    let signin = c.signin(s(&alice["email"]), s(&alice["password"])).await;
    assert_eq!(signin.status, StatusCode::OK, "{}", signin.text);
    let token = s(&signin.body["token"]).to_string();
    let openai = c.get("/openai/config", Some(&token)).await;
    assert_eq!(openai.status, StatusCode::OK, "{}", openai.text);
    assert_eq!(
        (
            &openai.body["ENABLE_OPENAI_API"],
            &openai.body["OPENAI_API_BASE_URLS"],
            &openai.body["OPENAI_API_KEYS"],
            &openai.body["OPENAI_API_CONFIGS"]
        ),
        (
            &json!(true),
            &json!(["https://llm.example.com/v1", "https://other.example.com/v1"]),
            &json!(["sk-first-secret", "sk-second-secret"]),
            &json!({"1": {"enable": false, "prefix_id": "other"}})
        ),
        "{}",
        openai.text
    );
    let ollama = c.get("/ollama/config", Some(&token)).await;
    assert_eq!(ollama.status, StatusCode::OK, "{}", ollama.text);
    assert_eq!(
        (&ollama.body["ENABLE_OLLAMA_API"], &ollama.body["OLLAMA_BASE_URLS"]),
        (&json!(false), &json!(["http://ollama.example.com:11434"])),
        "{}",
        ollama.text
    );
}

#[tokio::test]
async fn a_malformed_connection_setting_is_skipped_and_a_key_never_shows_in_the_report() {
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    add_config(
        &from,
        &[
            ("openai.api_keys", r#"["sk-visible-nowhere", 7]"#),
            ("ollama.base_urls", r#""http://not-a-list:11434""#),
            ("openai.enable", r#""yes""#),
        ],
    )
    .await;
    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(!report.to_string().contains("sk-visible-nowhere"), "{report:#}");
    assert!(!err.contains("sk-visible-nowhere"), "{err}");
    let mut got: Vec<(String, String, String)> = issues(&report)
        .into_iter()
        .filter(|i| i.1.starts_with("openai.") || i.1.starts_with("ollama."))
        .map(|(_, k, a, r)| (k, a, r))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "ollama.base_urls".to_string(),
                "skipped".to_string(),
                r#"its value "http://not-a-list:11434" is not the kind duet keeps there (like ["http://localhost:11434"])"#
                    .to_string()
            ),
            (
                "openai.api_keys".into(),
                "skipped".into(),
                "its value is a list with something other than texts in it".into()
            ),
            (
                "openai.enable".into(),
                "skipped".into(),
                r#"its value "yes" is not the kind duet keeps there (like true)"#.into()
            ),
        ]
    );
    // What was skipped keeps the value duet started with.
    let p = Process::start(&[("DATABASE_URL", &to)]).await;
    let c = p.client().await;
    let stored = c.scalar_text("select value from config where key = $1", "openai.api_keys").await;
    assert!(stored.as_deref().is_none_or(|v| !v.contains("sk-visible-nowhere")), "{stored:?}");
}
