//! `duet import-openwebui` from the fixture database made by the reference (`tests/fixtures/
//! openwebui/make.py`): everything it holds arrives, the people in it sign in with their old
//! passwords (REST and GraphQL), their Open WebUI tokens and API keys still work, and their
//! chats, folders, tags, shares, groups and model grants are there.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PgSchema, duet_json, entry, sqlite_url};
use crate::backend_tests;
use crate::helpers::{Backend, Process, gql};

/// The fixture's facts (`fixture.json`).
pub fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openwebui/fixture.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture.json")).expect("json")
}

/// A copy of the fixture database in `dir` (tests may change their copy); its URL.
pub fn fixture_copy(dir: &std::path::Path) -> String {
    let from = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openwebui/webui.db");
    std::fs::copy(from, dir.join("owui.db")).expect("copy fixture");
    sqlite_url(dir, "owui.db")
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The issues of a report as (table, key, action, reason).
pub fn issues(report: &Value) -> Vec<(String, String, String, String)> {
    report["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| (s(&i["table"]).into(), s(&i["key"]).into(), s(&i["action"]).into(), s(&i["reason"]).into()))
        .collect()
}

backend_tests!(an_open_webui_database_arrives_whole_and_its_people_sign_in_as_before);

async fn an_open_webui_database_arrives_whole_and_its_people_sign_in_as_before(b: Backend) {
    let fx = fixture();
    let dir = tempfile::tempdir().expect("dir");
    let from = fixture_copy(dir.path());
    let pg = match b {
        Backend::Postgres => Some(PgSchema::new().await),
        Backend::Sqlite => None,
    };
    let to = pg.as_ref().map(PgSchema::url).unwrap_or_else(|| sqlite_url(dir.path(), "duet.db"));

    let (code, report, err) = duet_json(&["import-openwebui", "--from", &from, "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!((&report["ok"], &report["mode"]), (&json!(true), &json!("fresh")), "{report:#}");
    for (table, read, written) in [
        ("user → users", 6, 6),
        ("auth → auths", 6, 6),
        ("api_key → api_keys", 1, 1),
        ("group → groups", 2, 2),
        ("group_member → group_members", 2, 2),
        ("folder → folders", 3, 3),
        ("tag → tags", 3, 3),
        ("chat → chats", 8, 6),
        ("chat → chat_tags", 3, 3),
        ("shared_chat → shared_chats", 1, 1),
        ("model → models", 2, 2),
        ("model_history → model_history", 2, 2),
        ("access_grant → access_grants", 4, 3),
        ("config → config", 7, 6),
    ] {
        let e = entry(&report, table);
        assert_eq!((e["read"].as_u64(), e["written"].as_u64()), (Some(read), Some(written)), "{table}: {e}");
    }
    let left: Vec<(String, u64)> = report["not_imported"]
        .as_array()
        .expect("not_imported")
        .iter()
        .filter(|l| l["rows"].as_u64() > Some(0))
        .map(|l| (s(&l["table"]).to_string(), l["rows"].as_u64().unwrap_or(0)))
        .collect();
    for kind in ["file", "memory", "knowledge", "prompt"] {
        assert!(left.contains(&(kind.to_string(), 1)), "{kind} in {left:?}");
    }
    assert!(left.iter().any(|(t, n)| t == "chat_message" && *n == 8), "{left:?}");

    let secret = s(&fx["secret_key"]);
    let p = Process::start(&[("DATABASE_URL", &to), ("WEBUI_SECRET_KEY", secret)]).await;
    let c = p.client().await;
    let users = &fx["users"];

    assert_eq!(
        c.scalar_text("select date_of_birth from users where id = $1", s(&users["bob"]["id"]))
            .await
            .as_deref(),
        Some("1990-05-17")
    );
    // Activity as Open WebUI recorded it (before anyone signs in here).
    assert_eq!(
        c.scalar_count("select last_active_at from users where id = $1", s(&users["bob"]["id"])).await,
        1_765_000_000
    );

    // Old passwords: bcrypt (upgraded to argon2id on the way in) and argon2.
    for who in ["alice", "bob", "erin"] {
        let u = &users[who];
        let a = c.signin(s(&u["email"]), s(&u["password"])).await;
        assert_eq!(a.status, StatusCode::OK, "{who}: {}", a.text);
        assert_eq!((&a.body["id"], &a.body["role"]), (&u["id"], &u["role"]), "{who}");
    }
    let hash = c.scalar_text("select password from auths where id = $1", s(&users["bob"]["id"])).await;
    assert!(hash.is_some_and(|h| h.starts_with("$argon2id$")), "bob's bcrypt hash is upgraded at sign-in");
    let wrong = c.signin("bob@example.com", "not-his-password").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let g = gql(
        &c,
        None,
        "mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { token user { id role } } }",
        json!({"e": users["alice"]["email"], "p": users["alice"]["password"]}),
    )
    .await;
    assert_eq!(g.body["data"]["signin"]["user"]["id"], users["alice"]["id"], "{}", g.text);
    assert_eq!(g.body["data"]["signin"]["user"]["role"], json!("admin"));

    // Tokens Open WebUI issued (same WEBUI_SECRET_KEY, same session stamps) and the API key.
    let bob = s(&users["bob"]["token"]).to_string();
    let me = c.get("/api/v1/auths/", Some(&bob)).await;
    assert_eq!((me.status, &me.body["email"]), (StatusCode::OK, &json!("bob@example.com")), "{}", me.text);
    let by_key = c.get("/api/v1/chats/pinned", Some(s(&users["bob"]["api_key"]))).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.text);
    assert_eq!(by_key.body[0]["title"], json!("Rust lifetimes"), "{}", by_key.text);

    // Profile, settings and activity came along.
    let info = c.get(&format!("/api/v1/users/{}", s(&users["bob"]["id"])), Some(&bob)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let settings = c.get("/api/v1/users/user/settings", Some(&bob)).await;
    assert_eq!(settings.body["ui"]["theme"], json!("dark"), "{}", settings.text);
    assert!(
        c.scalar_text("select profile_image_url from users where id = $1", s(&users["bob"]["id"]))
            .await
            .is_some_and(|u| u.starts_with("data:image/png;base64,"))
    );

    // Chats: the document, pinned, folder, tags, share, archive.
    let rust = &fx["chats"]["rust"];
    let chat = c.get(&format!("/api/v1/chats/{}", s(&rust["id"])), Some(&bob)).await;
    assert_eq!(chat.status, StatusCode::OK, "{}", chat.text);
    assert_eq!((&chat.body["title"], &chat.body["pinned"]), (&json!("Rust lifetimes"), &json!(true)));
    assert_eq!(chat.body["folder_id"], fx["folders"]["work"]);
    assert_eq!(
        chat.body["chat"]["history"]["messages"]["m2"]["content"],
        json!("A region of code where a reference is valid.")
    );
    let tags = c.get(&format!("/api/v1/chats/{}/tags", s(&rust["id"])), Some(&bob)).await;
    let mut names: Vec<&str> =
        tags.body.as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Help Me", "rust"], "{}", tags.text);
    let shared = c
        .get(&format!("/api/v1/chats/share/{}", s(&rust["share_id"])), Some(s(&users["alice"]["token"])))
        .await;
    assert_eq!(
        (shared.status, &shared.body["title"]),
        (StatusCode::OK, &json!("Rust lifetimes")),
        "{}",
        shared.text
    );
    let archived = c.get("/api/v1/chats/archived", Some(&bob)).await;
    assert_eq!(archived.body[0]["title"], json!("Old plans"), "{}", archived.text);
    let found = c.get("/api/v1/chats/search?text=quarterly", Some(&bob)).await;
    assert_eq!(found.body[0]["title"], json!("Quarterly report"), "search text was built: {}", found.text);
    let g = gql(
        &c,
        Some(&bob),
        "{ chats(first: 50, includeFolders: true) { totalCount } folders { name } }",
        json!({}),
    )
    .await;
    // Bob's five chats that arrived (one is not JSON), the archived one apart.
    assert_eq!(g.body["data"]["chats"]["totalCount"], json!(4), "{}", g.text);
    let mut folders: Vec<&str> = g.body["data"]["folders"]
        .as_array()
        .expect("folders")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    folders.sort();
    assert_eq!(folders, ["Reports", "Work"], "{}", g.text);

    // Groups (with their parent) and the model's grants: bob writes it, Engineering (Backend's
    // parent, so bob too) reads it.
    let alice = s(&users["alice"]["token"]).to_string();
    let groups = c.get("/api/v1/groups/", Some(&alice)).await;
    let backend = groups
        .body
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Backend")
        .cloned()
        .expect("Backend");
    assert_eq!(backend["parent_group_id"], fx["groups"]["engineering"], "{}", groups.text);
    let model = c.get("/api/v1/models/model?id=team-helper", Some(&bob)).await;
    assert_eq!(model.status, StatusCode::OK, "{}", model.text);
    assert_eq!(
        (&model.body["name"], &model.body["write_access"]),
        (&json!("Team Helper"), &json!(true)),
        "{}",
        model.text
    );
    let history = c.get("/api/v1/models/model/history?id=team-helper", Some(&alice)).await;
    assert_eq!(history.body.as_array().map(Vec::len), Some(1), "{}", history.text);

    // Settings: sign-up stays off, API keys on, the default role and token lifetime as set.
    let config = c.get("/api/v1/auths/admin/config", Some(&alice)).await;
    assert_eq!(
        (
            &config.body["ENABLE_SIGNUP"],
            &config.body["ENABLE_API_KEYS"],
            &config.body["DEFAULT_USER_ROLE"],
            &config.body["JWT_EXPIRES_IN"]
        ),
        (&json!(false), &json!(true), &json!("user"), &json!("2w")),
        "{}",
        config.text
    );
    let signup = c.signup("New", "new@example.com", "Passw0rd!").await;
    assert_eq!(signup.status, StatusCode::FORBIDDEN, "{}", signup.text);
}

/// The fixture made in PostgreSQL (`make.py --postgres`), loaded into a schema of its own; its
/// facts (`fixture.pg.json`) and the schema.
async fn postgres_fixture() -> (Value, PgSchema) {
    use sqlx::Connection;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openwebui");
    let facts =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/fixture.pg.json")).expect("json"))
            .expect("json");
    let schema = PgSchema {
        base: crate::helpers::required_postgres_url(),
        name: format!("owui_src_{}", uuid::Uuid::new_v4().simple()),
    };
    let dump = std::fs::read_to_string(format!("{dir}/webui.pg.sql"))
        .expect("dump")
        .replace("owui_fixture", &schema.name);
    let mut conn = sqlx::PgConnection::connect(&schema.base).await.expect("postgres");
    sqlx::raw_sql(sqlx::AssertSqlSafe(dump)).execute(&mut conn).await.expect("load the dump");
    (facts, schema)
}

#[tokio::test]
#[cfg_attr(duet_no_pg, ignore = "DUET_TEST_DATABASE_URL is not set")]
async fn an_open_webui_database_on_postgres_imports_the_same_way() {
    let (fx, source) = postgres_fixture().await;
    let dir = tempfile::tempdir().expect("dir");
    let to = sqlite_url(dir.path(), "duet.db");
    let (code, report, err) = duet_json(&["import-openwebui", "--from", &source.url(), "--to", &to]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["ok"], json!(true), "{report:#}");
    for (table, read, written) in [
        ("user → users", 6, 6),
        ("chat → chats", 7, 6),
        ("model → models", 2, 2),
        ("access_grant → access_grants", 4, 3),
    ] {
        let e = entry(&report, table);
        assert_eq!((e["read"].as_u64(), e["written"].as_u64()), (Some(read), Some(written)), "{table}: {e}");
    }
    let nul: Vec<_> = issues(&report).into_iter().filter(|i| i.1 == "bad-nul").collect();
    assert_eq!(
        nul,
        [(
            "chat → chats".to_string(),
            "bad-nul".to_string(),
            "repaired".to_string(),
            "NUL characters removed from chat".to_string()
        )]
    );
    // The import never writes its source.
    assert_eq!(super::count(&source.url(), "user").await, 6);

    let p = Process::start(&[("DATABASE_URL", &to), ("WEBUI_SECRET_KEY", s(&fx["secret_key"]))]).await;
    let c = p.client().await;
    let bob = &fx["users"]["bob"];
    let a = c.signin(s(&bob["email"]), s(&bob["password"])).await;
    assert_eq!((a.status, &a.body["id"]), (StatusCode::OK, &bob["id"]), "{}", a.text);
    assert_eq!(
        c.scalar_text("select date_of_birth from users where id = $1", s(&bob["id"])).await.as_deref(),
        Some("1990-05-17")
    );
    let token = s(&bob["token"]).to_string();
    let chat = c.get(&format!("/api/v1/chats/{}", s(&fx["chats"]["rust"]["id"])), Some(&token)).await;
    assert_eq!((chat.status, &chat.body["pinned"]), (StatusCode::OK, &json!(true)), "{}", chat.text);
    let nul = c.get("/api/v1/chats/bad-nul", Some(&token)).await;
    assert_eq!(nul.body["chat"]["history"]["messages"]["m1"]["content"], json!("ab"), "{}", nul.text);
}
