//! The stored models and their grants as a completion and `/api/models` read them (cached in the
//! store, `Caches::models`): every write to a model, its grants, a group named by a grant or a
//! user named by one shows at once on the instance that made it and, on PostgreSQL with Redis, on
//! another instance as soon as its invalidation arrives; a warm completion for a known model runs
//! no statement at all. The workspace list (`/api/v1/models/list`) answers from the same copy
//! (with its owners' names, roles and emails) exactly what its statement answers.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::completions::{OPENAI_MODEL, Setup, ask, complete, setup};
use crate::helpers::{Backend, TestApp, required_redis_url, unique_prefix};

backend_tests!(
    model_writes_show_at_once_in_the_list_and_in_completions,
    the_cached_workspace_list_is_the_statements_list,
    workspace_list_writes_show_at_once,
);

/// Caches that would keep a stale entry far longer than any test.
const CACHED_FOR_A_MINUTE: [(&str, &str); 3] =
    [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "60000"), ("SETTINGS_CACHE_TTL", "60000")];
const PRESET: &str = "tutor";

async fn listed(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let a = app.get("/api/models", Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    a.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| (m["id"].as_str().unwrap_or("").to_string(), m["name"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// The preset's name as `/api/models` lists it for `token`, `None` when it is not listed.
async fn preset_name(app: &TestApp, token: &str) -> Option<String> {
    listed(app, token).await.into_iter().find(|(id, _)| id == PRESET).map(|(_, name)| name)
}

/// The principals of the preset's grants as `/api/models` shows them (`info.access_grants`),
/// sorted (grants made in the same second are ordered by their random ids).
async fn preset_grantees(app: &TestApp, token: &str) -> Vec<String> {
    let a = app.get("/api/models", Some(token)).await;
    let m = a.body["data"].as_array().expect("data").iter().find(|m| m["id"] == PRESET).cloned();
    let grants = m.map(|m| m["info"]["access_grants"].clone()).unwrap_or(Value::Null);
    grants
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| g["principal_id"].as_str().unwrap_or("").to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The status of a (whole) completion on the preset.
async fn completion_status(app: &TestApp, token: &str) -> StatusCode {
    let a = complete(app, token, ask(PRESET, false)).await;
    a.status
}

fn preset(name: &str) -> Value {
    json!({"id": PRESET, "name": name, "base_model_id": OPENAI_MODEL, "meta": {}, "params": {}})
}

fn read_by(kind: &str, id: &str) -> Value {
    json!({"principal_type": kind, "principal_id": id, "permission": "read"})
}

async fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, Some(token), body).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    a.body
}

/// Settings for the upstream model, readable by every user (a non-admin's preset needs its base
/// model readable).
async fn open_base_model(app: &TestApp, admin: &str) {
    let base = json!({"id": OPENAI_MODEL, "name": "GPT", "base_model_id": null, "meta": {}, "params": {}});
    ok(app, admin, "/api/v1/models/create", base).await;
    let grants = json!({"id": OPENAI_MODEL, "access_grants": [read_by("user", "*")]});
    ok(app, admin, "/api/v1/models/model/access/update", grants).await;
}

async fn model_writes_show_at_once_in_the_list_and_in_completions(backend: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } =
        setup(backend, &CACHED_FOR_A_MINUTE).await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (_, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    open_base_model(&app, &admin).await;
    // Warm: the lists are read (and kept) before each write below.
    assert_eq!(preset_name(&app, &admin).await, None);
    ok(&app, &admin, "/api/v1/models/create", preset("Tutor")).await;
    assert_eq!(preset_name(&app, &admin).await.as_deref(), Some("Tutor"), "a new model");
    assert_eq!(completion_status(&app, &admin).await, StatusCode::OK);
    assert_eq!(preset_name(&app, &alice).await, None, "no grant yet");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);

    let grants = json!([read_by("user", &alice_id), read_by("user", &bob_id)]);
    ok(&app, &admin, "/api/v1/models/model/access/update", json!({"id": PRESET, "access_grants": grants}))
        .await;
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor"), "a grant");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK);
    assert_eq!(preset_grantees(&app, &admin).await, {
        let mut both = vec![alice_id.clone(), bob_id.clone()];
        both.sort();
        both
    });

    ok(&app, &admin, "/api/v1/models/model/update", preset("Tutor 2")).await;
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor 2"), "a rename");

    let deleted = app.delete(&format!("/api/v1/users/{bob_id}"), Some(&admin)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(
        preset_grantees(&app, &admin).await,
        std::slice::from_ref(&alice_id),
        "a user's deletion drops their grants"
    );

    let toggled =
        app.send("POST", &format!("/api/v1/models/model/toggle?id={PRESET}"), Some(&admin), None).await;
    assert_eq!(toggled.status, StatusCode::OK, "{}", toggled.text);
    assert_eq!(preset_name(&app, &alice).await, None, "deactivated");
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);
    let toggled =
        app.send("POST", &format!("/api/v1/models/model/toggle?id={PRESET}"), Some(&admin), None).await;
    assert_eq!(toggled.status, StatusCode::OK);
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK, "active again");

    // A grant to a group: membership is read with each request, the grant from the cached copy.
    let group =
        ok(&app, &admin, "/api/v1/groups/create", json!({"name": "Readers", "description": ""})).await;
    let group_id = group["id"].as_str().expect("group id").to_string();
    ok(
        &app,
        &admin,
        "/api/v1/models/model/access/update",
        json!({"id": PRESET, "access_grants": [read_by("group", &group_id)]}),
    )
    .await;
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST, "not a member");
    ok(&app, &admin, &format!("/api/v1/groups/id/{group_id}/users/add"), json!({"user_ids": [alice_id]}))
        .await;
    assert_eq!(completion_status(&app, &alice).await, StatusCode::OK, "a member");
    assert_eq!(preset_name(&app, &alice).await.as_deref(), Some("Tutor 2"));
    let gone = app.delete(&format!("/api/v1/groups/id/{group_id}/delete"), Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    assert_eq!(
        preset_grantees(&app, &admin).await,
        Vec::<String>::new(),
        "a group's deletion drops its grants"
    );
    assert_eq!(completion_status(&app, &alice).await, StatusCode::BAD_REQUEST);

    ok(&app, &admin, "/api/v1/models/model/delete", json!({"id": PRESET})).await;
    assert_eq!(preset_name(&app, &admin).await, None, "deleted");
    assert_eq!(completion_status(&app, &admin).await, StatusCode::BAD_REQUEST);
}

/// Statements a completion for the admin runs, the second time.
async fn warm_statements(env: &[(&str, &str)]) -> u64 {
    let s = setup(Backend::Sqlite, env).await;
    ok(&s.app, &s.admin, "/api/v1/models/create", preset("Tutor")).await;
    for model in [OPENAI_MODEL, PRESET] {
        let warm = complete(&s.app, &s.admin, ask(model, true)).await;
        assert_eq!(warm.status, StatusCode::OK, "{}", warm.text);
    }
    let mut most = 0;
    for model in [OPENAI_MODEL, PRESET] {
        let before = s.app.db.statement_count();
        let a = complete(&s.app, &s.admin, ask(model, true)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert!(a.text.ends_with("data: [DONE]\n\n"), "{}", a.text);
        most = most.max(s.app.db.statement_count() - before);
    }
    most
}

#[tokio::test]
async fn a_warm_completion_for_a_known_model_runs_no_statement() {
    assert_eq!(warm_statements(&CACHED_FOR_A_MINUTE).await, 0);
    // The same with the model cache off: the models and their grants are read each time.
    let off = [("SESSION_CACHE_TTL", "60000"), ("CHAT_LIST_CACHE_TTL", "0"), ("SETTINGS_CACHE_TTL", "60000")];
    assert_eq!(warm_statements(&off).await, 2);
}

async fn within(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not seen within 5 s");
}

#[tokio::test]
#[cfg_attr(
    any(duet_no_pg, duet_no_redis),
    ignore = "DUET_TEST_DATABASE_URL or DUET_TEST_REDIS_URL is not set"
)]
async fn a_model_write_on_one_instance_reaches_the_other() {
    let url = required_redis_url();
    let prefix = unique_prefix();
    let mut env = vec![("REDIS_URL", url.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    env.extend(CACHED_FOR_A_MINUTE);
    let s = setup(Backend::Postgres, &env).await;
    let openai_url = s.openai.url();
    let ollama_url = s.ollama.url();
    let mut b_env = env.clone();
    b_env.extend([
        ("OPENAI_API_BASE_URLS", openai_url.as_str()),
        ("OPENAI_API_KEYS", crate::completions::KEY),
        ("OLLAMA_BASE_URLS", ollama_url.as_str()),
        ("MODELS_CACHE_TTL", "3600"),
    ]);
    let (a, admin) = (&s.app, &s.admin);
    let b = a.separate_instance(&b_env).await;
    within("both serve", async || a.db.read_caches_serving() && b.db.read_caches_serving()).await;
    let (alice, alice_id) = a.user(admin, "Alice", "alice@example.com", "user").await;
    open_base_model(a, admin).await;

    // Each instance holds its copy before each write.
    for app in [a, &b] {
        assert_eq!(preset_name(app, admin).await, None);
    }
    ok(a, admin, "/api/v1/models/create", preset("Tutor")).await;
    assert_eq!(preset_name(a, admin).await.as_deref(), Some("Tutor"), "at once where written");
    within("created, on B", async || preset_name(&b, admin).await.as_deref() == Some("Tutor")).await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::BAD_REQUEST);

    ok(
        &b,
        admin,
        "/api/v1/models/model/access/update",
        json!({"id": PRESET, "access_grants": [read_by("user", &alice_id)]}),
    )
    .await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::OK, "at once where written");
    within("granted, on A", async || completion_status(a, &alice).await == StatusCode::OK).await;
    assert_eq!(preset_name(a, &alice).await.as_deref(), Some("Tutor"));

    ok(a, admin, "/api/v1/models/model/update", preset("Tutor 2")).await;
    within("renamed, on B", async || preset_name(&b, &alice).await.as_deref() == Some("Tutor 2")).await;

    // The owner's fields in B's workspace list follow a rename on A.
    let admin_id = s.admin_id.clone();
    let owner_name = async |app: &TestApp| {
        listed_owner(app, &alice, "").await.map(|m| m["user"]["name"].as_str().unwrap_or("").to_string())
    };
    let before = owner_name(&b).await.expect("listed on B");
    let renamed = a
        .post(
            &format!("/api/v1/users/{admin_id}/update"),
            Some(admin),
            json!({"name": format!("{before} II")}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    within("the owner renamed, on B", async || {
        owner_name(&b).await.as_deref() == Some(format!("{before} II").as_str())
    })
    .await;

    ok(&b, admin, "/api/v1/models/model/delete", json!({"id": PRESET})).await;
    assert_eq!(completion_status(&b, &alice).await, StatusCode::BAD_REQUEST);
    within("deleted, on A", async || completion_status(a, &alice).await == StatusCode::BAD_REQUEST).await;
    assert_eq!(preset_name(a, admin).await, None);
}

/// Caches off: what the workspace list's statement answers.
const NO_READ_CACHES: [(&str, &str); 2] = [("SESSION_CACHE_TTL", "0"), ("CHAT_LIST_CACHE_TTL", "0")];

/// `/api/v1/models/list` with these parameters, as `token` reads it.
async fn workspace_list(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Value {
    let query: String =
        form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter().copied()).finish();
    let a = app.get(&format!("/api/v1/models/list?{query}"), Some(token)).await;
    assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.text);
    a.body
}

/// The workspace list answered from the cached models (and owners) is the statement's answer:
/// the same items in the same order (ties included), the same `total`, for searches on names,
/// base models and owners (ASCII and not), views, tags, orders, directions and pages, for an
/// admin, a grouped user, an ungrouped one and a user who owns nothing.
async fn the_cached_workspace_list_is_the_statements_list(backend: Backend) {
    let env: Vec<(&str, &str)> = CACHED_FOR_A_MINUTE
        .iter()
        .chain(&[("ENABLE_OPENAI_API", "false"), ("ENABLE_OLLAMA_API", "false")])
        .copied()
        .collect();
    let Some(app) = TestApp::spawn_with(backend, &env).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice Émile", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "BOB_1", "bob@Example.org", "user").await;
    let (carol, _) = app.user(&admin, "Zoë", "carol@example.net", "user").await;
    let group =
        ok(&app, &admin, "/api/v1/groups/create", json!({"name": "Readers", "description": ""})).await;
    let group_id = group["id"].as_str().expect("group id").to_string();
    ok(&app, &admin, &format!("/api/v1/groups/id/{group_id}/users/add"), json!({"user_ids": [alice_id]}))
        .await;
    let names = [
        "Alpha",
        "alpha",
        "Alpha",
        "ÉCOLE",
        "école",
        "Beta_1",
        "Beta%",
        "100% sure",
        "zeta",
        "Émile's",
        "Kelvin \u{212a}",
        "a b",
        "-dash",
        "Zed",
        "ÿ",
        "Omega",
    ];
    let tags = [
        json!([{"name": "Coding"}]),
        json!(["ai"]),
        json!([{"name": "Écrire"}, {"name": "my tag"}]),
        json!([]),
        json!(null),
        json!([{"name": "AI"}, "misc"]),
    ];
    let mut ids = Vec::new();
    for i in 0..34 {
        let id = format!("m{i:02}");
        let name = names[i % names.len()];
        let base = ["base", "GPT-4o", "llama_3", "Ünïcode"][i % 4];
        let mut meta = json!({"description": if i % 5 == 0 { "about \"ai" } else { "ai" }});
        if !tags[i % tags.len()].is_null() {
            meta["tags"] = tags[i % tags.len()].clone();
        }
        let grants = match i % 6 {
            0 => json!([read_by("user", "*")]),
            1 => json!([read_by("user", &bob_id)]),
            2 => json!([read_by("group", &group_id)]),
            3 => json!([{"principal_type": "group", "principal_id": group_id, "permission": "write"}]),
            4 => json!([{"principal_type": "user", "principal_id": bob_id, "permission": "write"}]),
            _ => json!([]),
        };
        let form = json!({"id": id, "name": name, "base_model_id": base, "meta": meta, "params": {"temperature": i},
            "access_grants": grants});
        ok(&app, &admin, "/api/v1/models/create", form).await;
        ids.push(id);
    }
    // Settings of an upstream model (not a preset), and a preset with the admin's id as base.
    let base_row = json!({"id": "base", "name": "Base", "base_model_id": null, "meta": {}, "params": {}});
    ok(&app, &admin, "/api/v1/models/create", base_row).await;
    // Owners, times and ties the API would not give at once (each `exec` drops the caches).
    for (i, id) in ids.iter().enumerate() {
        let owner = match i % 5 {
            0 | 1 => alice_id.as_str(),
            2 => bob_id.as_str(),
            3 => "no-such-user",
            _ => "",
        };
        if !owner.is_empty() {
            app.exec("update models set user_id = $1 where id = $2", &[owner, id.as_str()]).await;
        }
        let created = format!("{}", 1_700_000_000 + (i as i64 % 7));
        let updated = format!("{}", 1_700_000_000 + (i as i64 % 3));
        app.exec(
            "update models set created_at = cast($1 as bigint), updated_at = cast($2 as bigint) where id = $3",
            &[created.as_str(), updated.as_str(), id.as_str()],
        )
        .await;
    }
    let direct = app.separate_instance(&NO_READ_CACHES).await;
    let callers = [("admin", &admin), ("alice", &alice), ("bob", &bob), ("carol", &carol)];
    let queries = [
        "",
        "a",
        "ALPHA",
        "école",
        "ÉCOLE",
        "émile",
        "zoë",
        "example.com",
        "bob_",
        "%",
        "_",
        "1",
        "gpt",
        "k",
        "none",
    ];
    let views = ["", "created", "shared", "other"];
    let tag_names = ["", "coding", "AI", "écrire", "Écrire", "my tag", "misc", "ai\"", "nothing"];
    let orders = ["", "name", "created_at", "updated_at"];
    let directions = ["", "asc", "desc"];
    let pages = ["", "1", "2", "0"];
    let mut combos: Vec<[usize; 7]> = Vec::new();
    // Every value of each parameter on its own, then a spread of combinations.
    let sizes = [
        callers.len(),
        queries.len(),
        views.len(),
        tag_names.len(),
        orders.len(),
        directions.len(),
        pages.len(),
    ];
    for (p, size) in sizes.iter().enumerate() {
        for v in 0..*size {
            let mut c = [0; 7];
            c[p] = v;
            for caller in 0..callers.len() {
                c[0] = if p == 0 { v } else { caller };
                combos.push(c);
            }
        }
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..600 {
        let mut c = [0; 7];
        for (p, size) in sizes.iter().enumerate() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            c[p] = (seed % *size as u64) as usize;
        }
        combos.push(c);
    }
    let mut nonempty = 0;
    for c in combos {
        let mut params: Vec<(&str, &str)> = Vec::new();
        for (name, value) in [
            ("query", queries[c[1]]),
            ("view_option", views[c[2]]),
            ("tag", tag_names[c[3]]),
            ("order_by", orders[c[4]]),
            ("direction", directions[c[5]]),
            ("page", pages[c[6]]),
        ] {
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let (who, token) = callers[c[0]];
        let cached = workspace_list(&app, token, &params).await;
        let read = workspace_list(&direct, token, &params).await;
        assert_eq!(cached, read, "{who} {params:?}");
        nonempty += usize::from(cached["items"].as_array().is_some_and(|i| !i.is_empty()));
    }
    assert!(nonempty > 100, "{nonempty} lists with items");
    // The cached answers came from memory: warm, a list runs no statement (no grant names a
    // group among these presets, so no caller's groups are read).
    let warm: [&[(&str, &str)]; 3] = [
        &[("tag", "coding")],
        &[("tag", "coding"), ("query", "a"), ("order_by", "name")],
        &[("tag", "misc"), ("view_option", "shared")],
    ];
    for (who, token) in callers {
        for params in warm {
            workspace_list(&app, token, params).await;
            let before = app.db.statement_count();
            workspace_list(&app, token, params).await;
            assert_eq!(app.db.statement_count() - before, 0, "{who} {params:?}");
        }
    }
}

/// The owner, of a preset, as the workspace list shows it to `token` (`None`: not listed).
async fn listed_owner(app: &TestApp, token: &str, query: &str) -> Option<Value> {
    let list = workspace_list(app, token, &[("query", query)]).await;
    let items = list["items"].as_array().expect("items").clone();
    items.into_iter().find(|m| m["id"] == PRESET).map(|m| {
        json!({"name": m["name"], "user": m["user"], "write_access": m["write_access"], "total": list["total"]})
    })
}

/// With the caches on, every write behind the workspace list shows in the next read: a model
/// write, a grant, a membership, the owner's rename and role change.
async fn workspace_list_writes_show_at_once(backend: Backend) {
    let Setup { app, admin, openai: _openai, ollama: _ollama, .. } =
        setup(backend, &CACHED_FOR_A_MINUTE).await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let (bob, bob_id) = app.user(&admin, "Bob", "bob@example.com", "user").await;
    open_base_model(&app, &admin).await;
    ok(&app, &admin, "/api/v1/models/create", preset("Tutor")).await;
    app.exec("update models set user_id = $1 where id = $2", &[&alice_id, PRESET]).await;
    let owner = |name: &str, role: &str| json!({"id": alice_id, "name": name, "role": role, "email": "alice@example.com"});
    let seen = json!({"name": "Tutor", "user": owner("Alice", "user"), "write_access": true, "total": 1});
    assert_eq!(listed_owner(&app, &alice, "").await, Some(seen));
    assert_eq!(listed_owner(&app, &bob, "").await, None, "no grant yet");

    ok(&app, &admin, "/api/v1/models/model/update", preset("Tutor 2")).await;
    assert_eq!(
        listed_owner(&app, &alice, "tutor 2").await.map(|m| m["name"].clone()),
        Some(json!("Tutor 2"))
    );

    ok(
        &app,
        &admin,
        "/api/v1/models/model/access/update",
        json!({"id": PRESET, "access_grants": [read_by("user", &bob_id)]}),
    )
    .await;
    let read_only =
        json!({"name": "Tutor 2", "user": owner("Alice", "user"), "write_access": false, "total": 1});
    assert_eq!(listed_owner(&app, &bob, "").await, Some(read_only), "a grant");

    let group =
        ok(&app, &admin, "/api/v1/groups/create", json!({"name": "Writers", "description": ""})).await;
    let group_id = group["id"].as_str().expect("group id").to_string();
    let grants = json!([read_by("user", &bob_id), {"principal_type": "group", "principal_id": group_id, "permission": "write"}]);
    ok(&app, &admin, "/api/v1/models/model/access/update", json!({"id": PRESET, "access_grants": grants}))
        .await;
    assert_eq!(listed_owner(&app, &bob, "").await.map(|m| m["write_access"].clone()), Some(json!(false)));
    ok(&app, &admin, &format!("/api/v1/groups/id/{group_id}/users/add"), json!({"user_ids": [bob_id]})).await;
    assert_eq!(
        listed_owner(&app, &bob, "").await.map(|m| m["write_access"].clone()),
        Some(json!(true)),
        "a membership"
    );

    // The owner's rename and role change: shown, and searched, at once.
    assert_eq!(listed_owner(&app, &bob, "alicia").await, None);
    let renamed = app
        .post(
            &format!("/api/v1/users/{alice_id}/update"),
            Some(&admin),
            json!({"name": "Alicia", "role": "admin"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let seen = json!({"name": "Tutor 2", "user": owner("Alicia", "admin"), "write_access": true, "total": 1});
    assert_eq!(listed_owner(&app, &bob, "alicia").await, Some(seen), "the owner's rename");
    assert_eq!(
        listed_owner(&app, &bob, "alice").await.map(|m| m["user"]["name"].clone()),
        Some(json!("Alicia")),
        "by email"
    );

    ok(&app, &admin, "/api/v1/models/model/delete", json!({"id": PRESET})).await;
    assert_eq!(listed_owner(&app, &bob, "").await, None, "deleted");
}
