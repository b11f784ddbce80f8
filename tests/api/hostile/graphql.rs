//! Hostile GraphQL input: deep nesting, exponential fragments, list fan-out, password-hashing
//! aliases, NUL characters, forged cursors, API keys on account mutations, the check order,
//! content types, time limits — each refused with its exact error while `/health` keeps answering.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::assert_health;
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, error_of, gql};

backend_tests!(
    nested_values_are_refused_before_parsing,
    exponential_fragments_are_refused_without_expanding_them,
    list_fields_cost_their_page_size,
    one_password_mutation_per_request,
    nul_characters_are_refused_and_nothing_is_written,
    forged_cursors_are_refused,
    api_keys_cannot_change_the_password_or_the_keys,
    the_caller_is_checked_before_the_input,
    post_needs_a_json_content_type,
    model_owners_are_shown_as_rest_shows_them,
    the_standard_introspection_query_passes_the_limits,
    request_timeout_bounds_graphql,
    long_search_texts_are_refused_on_every_search_field,
);

const NESTING_LIMIT: usize = 64;
const NOT_AUTHENTICATED: &str = "Not authenticated";

async fn nested_values_are_refused_before_parsing(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("GRAPHQL_MAX_QUERY_BYTES", "1048576")]).await else { return };
    let refused =
        format!("The query nests brackets more than {NESTING_LIMIT} levels deep (GRAPHQL_MAX_NESTING).");
    // At the limit (`{`, `(` and 62 brackets): parsed and answered (the argument does not exist).
    let at_limit = format!("{{ me(x: {}1{}) {{ id }} }}", "[".repeat(62), "]".repeat(62));
    let a = gql(&app, None, &at_limit, json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(error_of(&a).0.contains("Unknown argument \"x\""), "{}", a.text);
    // One past it, then 10×, 100× and 1,000× the limit: lists, objects, and unclosed brackets.
    for levels in [NESTING_LIMIT - 1, NESTING_LIMIT * 10, NESTING_LIMIT * 100, NESTING_LIMIT * 1000] {
        let lists = format!("{{ me(x: {}1{}) {{ id }} }}", "[".repeat(levels), "]".repeat(levels));
        let objects = format!("{{ me(x: {}1{}) {{ id }} }}", "{a:".repeat(levels), "}".repeat(levels));
        let open = format!("{{ me(x: {}", "[".repeat(levels));
        for query in [&lists, &objects, &open] {
            let a = gql(&app, None, query, json!({})).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{levels} levels");
            assert_eq!(error_of(&a), (refused.clone(), "VALIDATION_ERROR".into()), "{levels} levels");
            assert_health(&app).await;
        }
        if levels <= NESTING_LIMIT * 10 {
            let url = format!("/graphql?query={}", urlencode(&lists));
            let a = app.get(&url, None).await;
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "GET, {levels} levels");
            assert_eq!(error_of(&a).0, refused, "GET");
        }
    }
    // Nested selections too (the parser recurses on them as well).
    let selections = format!("{}{}", "{ me ".repeat(NESTING_LIMIT * 100), "}".repeat(NESTING_LIMIT * 100));
    let a = gql(&app, None, &selections, json!({})).await;
    assert_eq!(error_of(&a).0, refused);
    // The report's request: ~1,750 levels, 3.5 KB, default limits, no credential.
    let Some(default) = TestApp::spawn(b).await else { return };
    let report = format!("{{ me(x: {}) {{ id }} }}", "[".repeat(1750) + &"]".repeat(1750));
    let a = gql(&default, None, &report, json!({})).await;
    assert_eq!((a.status, error_of(&a).0), (StatusCode::BAD_REQUEST, refused.clone()));
    let a = default.get(&format!("/graphql?query={}", urlencode(&report)), None).await;
    assert_eq!((a.status, error_of(&a).0), (StatusCode::BAD_REQUEST, refused));
    assert_health(&default).await;
}

/// Percent-encodes everything but unreserved characters.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `fragment Fi on User { ...F(i+1) ...F(i+1) }` for `levels` levels.
fn doubling_fragments(levels: usize) -> String {
    let mut q = String::from("query { me { ...F0 } }\n");
    for i in 0..levels {
        q.push_str(&format!("fragment F{i} on User {{ ...F{n} ...F{n} }}\n", n = i + 1));
    }
    q.push_str(&format!("fragment F{levels} on User {{ id }}\n"));
    q
}

async fn exponential_fragments_are_refused_without_expanding_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    // The report's document: 30 levels, 2^30 spreads, 1.3 KB, anonymous.
    let a = gql(&app, None, &doubling_fragments(30), json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&a),
        (
            "The query selects 1073741825 fields once its fragments are expanded; the limit is 5000 (GRAPHQL_MAX_COMPLEXITY)."
                .into(),
            "VALIDATION_ERROR".into()
        )
    );
    // 40 levels: deeper than the expanded nesting allows.
    let a = gql(&app, None, &doubling_fragments(40), json!({})).await;
    assert_eq!(
        error_of(&a).0,
        "The query nests selections more than 64 levels deep once its fragments are expanded (GRAPHQL_MAX_NESTING)."
    );
    // 2^25 spreads fit the nesting; their expanded size does not. Two at once, signed in, while
    // `/health` is polled.
    let twenty_five = doubling_fragments(25);
    let attacks: Vec<_> = (0..2).map(|_| gql(&app, Some(&admin), &twenty_five, json!({}))).collect();
    let polls = async {
        for _ in 0..5 {
            assert_health(&app).await;
        }
    };
    let (answers, ()) = tokio::join!(crate::helpers::futures_join(attacks), polls);
    for a in answers {
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            error_of(&a),
            (
                "The query selects 33554433 fields once its fragments are expanded; the limit is 5000 (GRAPHQL_MAX_COMPLEXITY)."
                    .into(),
                "VALIDATION_ERROR".into()
            )
        );
    }
    // A cycle is named, not followed.
    let cycle = "{ me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }";
    let a = gql(&app, Some(&admin), cycle, json!({})).await;
    assert_eq!(error_of(&a).0, "Cannot spread fragment \"A\" within itself.");
    // Ordinary fragments still work.
    let fine = "{ me { ...Who } } fragment Who on User { name role }";
    let a = gql(&app, Some(&admin), fine, json!({})).await;
    assert_eq!(a.body["data"]["me"], json!({"name": "Admin", "role": "admin"}));
    assert_health(&app).await;
}

async fn list_fields_cost_their_page_size(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let chats: Vec<Value> = (0..100).map(|i| json!({"chat": {"title": format!("Chat {i}")}})).collect();
    let imported = app.post("/api/v1/chats/import", Some(&admin), json!({"chats": chats})).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
    // Three levels of 200: 8,000,000 nodes if it ran.
    let fan_out = "{ chats(first: 200) { edges { node { id user { chats(first: 200) { edges { node { id user { chats(first: 200) { edges { node { id } } } } } } } } } } } }";
    let a = gql(&app, Some(&admin), fan_out, json!({})).await;
    assert_eq!(error_of(&a), ("Query is too complex.".into(), String::new()), "{}", a.text);
    assert!(a.body["data"].is_null());
    // The same through a variable page size.
    let vars = "query($n: Int) { chats(first: $n) { edges { node { user { chats(first: $n) { edges { node { id title } } } } } } } }";
    let a = gql(&app, Some(&admin), vars, json!({"n": 100})).await;
    assert_eq!(error_of(&a).0, "Query is too complex.");
    let a = gql(&app, Some(&admin), vars, json!({"n": 5})).await;
    assert_eq!(a.body["data"]["chats"]["edges"].as_array().map(Vec::len), Some(5), "{}", a.text);
    // A sidebar of 60 and a plain page of 200 are well within the limit.
    let sidebar = "{ me { name } chats(first: 60) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title updatedAt pinned tags { name } models { id name } } } } }";
    let a = gql(&app, Some(&admin), sidebar, json!({})).await;
    assert_eq!(a.body["data"]["chats"]["edges"].as_array().map(Vec::len), Some(60), "{}", a.text);
    let page = "{ chats(first: 200) { edges { node { id title } } } }";
    let a = gql(&app, Some(&admin), page, json!({})).await;
    assert_eq!(a.body["data"]["chats"]["edges"].as_array().map(Vec::len), Some(100), "{}", a.text);
    assert_health(&app).await;
}

async fn one_password_mutation_per_request(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let too_many = (
        "A request may run at most one sign-in, sign-up or password change (aliases and batches included)."
            .to_string(),
        "TOO_MANY_PASSWORD_OPERATIONS".to_string(),
    );
    let aliases: String = (0..100)
        .map(|i| format!("a{i}: signin(email: \"admin@example.com\", password: \"wrong\") {{ token }} "))
        .collect();
    let started = std::time::Instant::now();
    let a = gql(&app, None, &format!("mutation {{ {aliases} }}"), json!({})).await;
    assert_eq!((a.status, error_of(&a)), (StatusCode::BAD_REQUEST, too_many.clone()));
    assert!(started.elapsed() < Duration::from_secs(1), "refused before hashing: {:?}", started.elapsed());
    // Through a fragment, mixed kinds, and across a batch.
    let mixed = "mutation { signin(email: \"a@b.co\", password: \"x\") { token } ...M } fragment M on Mutation { updatePassword(password: \"a\", newPassword: \"b\") }";
    assert_eq!(error_of(&gql(&app, Some(&admin), mixed, json!({})).await), too_many);
    let one =
        json!({"query": "mutation { signin(email: \"admin@example.com\", password: \"wrong\") { token } }"});
    let batch = app.post("/graphql", None, json!([one.clone(), one.clone()])).await;
    assert_eq!((batch.status, error_of(&batch)), (StatusCode::BAD_REQUEST, too_many.clone()));
    let reset = "mutation($i: UserUpdateInput!) { a: updateUser(id: \"x\", input: $i) { id } b: updateUser(id: \"y\", input: $i) { id } }";
    let a = gql(&app, Some(&admin), reset, json!({"i": {"password": "N3w-pass!"}})).await;
    assert_eq!(error_of(&a), too_many);
    // Two role changes hash nothing and run.
    let roles = "mutation($i: UserUpdateInput!) { a: updateUser(id: \"x\", input: $i) { id } b: updateUser(id: \"y\", input: $i) { id } }";
    let a = gql(&app, Some(&admin), roles, json!({"i": {"role": "user"}})).await;
    assert_ne!(error_of(&a).1, too_many.1);
    // None of the refused attempts reached the sign-in limiter: one sign-in still works.
    let a = app.post("/graphql", None, one).await;
    assert_eq!(error_of(&a).1, "INVALID_CRED");
    let ok = gql(
        &app,
        None,
        "mutation { signin(email: \"admin@example.com\", password: \"Passw0rd!\") { user { role } } }",
        json!({}),
    )
    .await;
    assert_eq!(ok.body["data"]["signin"]["user"]["role"], "admin", "{}", ok.text);
    assert_health(&app).await;
}

async fn nul_characters_are_refused_and_nothing_is_written(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let refused = (
        "Text in a GraphQL request may not contain NUL (\\u0000) characters.".to_string(),
        "VALIDATION_ERROR".to_string(),
    );
    let cases: Vec<(Option<&str>, &str, Value)> = vec![
        (None, "mutation { signin(email: \"a\\u0000@x.io\", password: \"p\") { token } }", json!({})),
        (
            None,
            "mutation($e: String!) { signin(email: $e, password: \"p\") { token } }",
            json!({"e": "a\u{0}@x.io"}),
        ),
        (
            Some(&admin),
            "mutation($c: JSON!) { createChat(chat: $c) { id } }",
            json!({"c": {"title": "a\u{0}b"}}),
        ),
        (Some(&admin), "mutation($c: JSON!) { createChat(chat: $c) { id } }", json!({"c": {"k\u{0}": "v"}})),
        (Some(&admin), "mutation { createChat(chat: {title: \"x\\u0000\"}) { id } }", json!({})),
        (Some(&admin), "{ chat(id: \"\\u0000\") { id } }", json!({})),
        (Some(&admin), "{ chats(search: \"a\\u0000\") { totalCount } }", json!({})),
        (Some(&admin), "{ users(query: \"\\u0000\") { totalCount } }", json!({})),
        (Some(&admin), "{ models(query: \"\\u0000\") { totalCount } }", json!({})),
        (
            Some(&admin),
            "mutation { updateProfile(name: \"A\\u0000\", profileImageUrl: \"/user.png\") { id } }",
            json!({}),
        ),
    ];
    for (token, query, vars) in cases {
        let a = gql(&app, token, query, vars).await;
        assert_eq!((a.status, error_of(&a)), (StatusCode::BAD_REQUEST, refused.clone()), "{query}");
    }
    assert_eq!(app.scalar_count("select count(*) from chats where user_id <> $1", "").await, 0);
    assert_eq!(
        app.scalar_text("select name from users where role = $1", "admin").await.as_deref(),
        Some("Admin")
    );
    assert_health(&app).await;
}

async fn forged_cursors_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let q = "query($a: String) { chats(first: 5, after: $a) { totalCount pageInfo { endCursor } } }";
    let invalid = ("Invalid cursor.".to_string(), "VALIDATION_ERROR".to_string());
    for forged in [
        "o:9223372036854775807",
        "o:9223372036854775806",
        "o:-1",
        "o:-9223372036854775808",
        "o:1e3",
        "o:",
        "o:+5",
        "x:1",
        "o:1000000000001",
    ] {
        let cursor = URL_SAFE_NO_PAD.encode(forged);
        let a = gql(&app, Some(&admin), q, json!({"a": cursor})).await;
        assert_eq!(error_of(&a), invalid, "{forged}");
    }
    for forged in ["%%%", "", "o:1", "b:1="] {
        let a = gql(&app, Some(&admin), q, json!({"a": forged})).await;
        assert_eq!(error_of(&a), invalid, "{forged:?}");
    }
    // The largest offset a cursor may name is an empty page, not an error.
    let last = URL_SAFE_NO_PAD.encode("o:1000000000000");
    let a = gql(&app, Some(&admin), q, json!({"a": last})).await;
    assert_eq!(
        a.body["data"]["chats"],
        json!({"totalCount": 0, "pageInfo": {"endCursor": null}}),
        "{}",
        a.text
    );
    let users = "query($a: String) { users(after: $a) { totalCount } }";
    let a =
        gql(&app, Some(&admin), users, json!({"a": URL_SAFE_NO_PAD.encode("o:9223372036854775807")})).await;
    assert_eq!(error_of(&a), invalid);
    let models = "query($a: String) { models(after: $a) { totalCount } }";
    let a =
        gql(&app, Some(&admin), models, json!({"a": URL_SAFE_NO_PAD.encode("o:9223372036854775807")})).await;
    assert_eq!(error_of(&a), invalid);
}

async fn api_keys_cannot_change_the_password_or_the_keys(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let created = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    let key = created.body["api_key"].as_str().expect("key").to_string();
    let human = ("A human session is required.".to_string(), "HUMAN_SESSION_REQUIRED".to_string());
    let pw = "mutation { updatePassword(password: \"Passw0rd!\", newPassword: \"N3w-pass!\") }";
    assert_eq!(error_of(&gql(&app, Some(&key), pw, json!({})).await), human);
    assert_eq!(error_of(&gql(&app, Some(&key), "mutation { createApiKey }", json!({})).await), human);
    assert_eq!(error_of(&gql(&app, Some(&key), "mutation { deleteApiKey }", json!({})).await), human);
    // Nothing changed: the key still works, the password too.
    assert_eq!(app.get("/api/v1/auths/api_key", Some(&admin)).await.body, json!({"api_key": key}));
    assert_eq!(app.signin("admin@example.com", crate::helpers::PASSWORD).await.status, StatusCode::OK);
    let me = gql(&app, Some(&key), "{ me { role } }", json!({})).await;
    assert_eq!(me.body["data"]["me"]["role"], "admin");
    // A session may.
    let a = gql(&app, Some(&admin), "mutation { createApiKey }", json!({})).await;
    assert!(a.body["data"]["createApiKey"].as_str().is_some_and(|k| k.starts_with("sk-")), "{}", a.text);
}

async fn the_caller_is_checked_before_the_input(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let rest_anon = app.post("/api/v1/chats/new", None, json!({"chat": 5})).await;
    assert_eq!((rest_anon.status, rest_anon.detail()), (StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED));
    let rest_pending = app.post("/api/v1/chats/new", Some(&pending), json!({"chat": 5})).await;
    assert_eq!(rest_pending.status, StatusCode::UNAUTHORIZED);
    for q in ["mutation { createChat(chat: 5) { id } }", "mutation { updateChat(id: \"x\", chat: 5) { id } }"]
    {
        let anon = gql(&app, None, q, json!({})).await;
        assert_eq!(error_of(&anon).0, rest_anon.detail(), "{q}");
        let p = gql(&app, Some(&pending), q, json!({})).await;
        assert_eq!(error_of(&p), (rest_pending.detail().to_string(), "ACCESS_PROHIBITED".into()), "{q}");
    }
    // A verified caller gets the validation error.
    let v = gql(&app, Some(&admin), "mutation { createChat(chat: 5) { id } }", json!({})).await;
    assert_eq!(error_of(&v).1, "VALIDATION_ERROR");
}

async fn post_needs_a_json_content_type(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let body = r#"{"query":"{ me { name } }"}"#;
    let auth = format!("Bearer {admin}");
    let refused = (
        "POST /graphql needs `Content-Type: application/json`.".to_string(),
        "UNSUPPORTED_MEDIA_TYPE".to_string(),
    );
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        let a = app.raw("POST", "/graphql", &headers, Some(body)).await;
        assert_eq!((a.status, error_of(&a)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, refused.clone()), "{ct:?}");
    }
    for ct in ["application/json", "application/json; charset=utf-8", "application/graphql-response+json"] {
        let a =
            app.raw("POST", "/graphql", &[("authorization", &auth), ("content-type", ct)], Some(body)).await;
        assert_eq!(a.body["data"]["me"]["name"], "Admin", "{ct}: {}", a.text);
    }
}

async fn model_owners_are_shown_as_rest_shows_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, admin_id) = app.admin().await;
    let (reader, reader_id) = app.user(&admin, "Rea", "rea@example.com", "user").await;
    let grant = json!([{"principal_type": "user", "principal_id": reader_id, "permission": "read"}]);
    let created = app
        .post(
            "/api/v1/models/create",
            Some(&admin),
            json!({"id": "shared", "name": "Shared", "meta": {}, "params": {}, "access_grants": grant}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let rest = app.get("/api/v1/models/model?id=shared", Some(&reader)).await;
    let expected = json!({"id": admin_id, "name": "Admin", "role": "admin", "email": "admin@example.com"});
    let q = "{ model(id: \"shared\") { user { id name role email } } }";
    let a = gql(&app, Some(&reader), q, json!({})).await;
    assert_eq!(a.body["data"]["model"]["user"], expected, "{}", a.text);
    if let Some(rest_user) = rest.body.get("user").filter(|u| !u.is_null()) {
        assert_eq!(rest_user, &expected);
    }
    for private in ["lastActiveAt", "createdAt", "updatedAt", "profileImageUrl"] {
        let q = format!("{{ model(id: \"shared\") {{ user {{ {private} }} }} }}");
        let a = gql(&app, Some(&reader), &q, json!({})).await;
        assert!(error_of(&a).0.contains(&format!("Unknown field \"{private}\"")), "{}", a.text);
    }
}

/// graphql-js `getIntrospectionQuery({ descriptions, specifiedByUrl, directiveIsRepeatable,
/// schemaDescription, inputValueDeprecation })`.
const INTROSPECTION: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types { ...FullType }
        directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description specifiedByURL
      fields(includeDeprecated: true) {
        name description
        args(includeDeprecated: true) { ...InputValue }
        type { ...TypeRef }
        isDeprecated deprecationReason
      }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue {
      name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
    }
    fragment TypeRef on __Type {
      kind name
      ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
        ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }
    }
"#;

/// The classic form (graphql-js defaults: no `specifiedByURL`, `isRepeatable`, deprecated inputs).
const INTROSPECTION_CLASSIC: &str = r#"
    query IntrospectionQuery {
      __schema {
        queryType { name } mutationType { name } subscriptionType { name }
        types { ...FullType }
        directives { name description locations args { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description
      fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
      inputFields { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
    fragment TypeRef on __Type {
      kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
    }
"#;

async fn the_standard_introspection_query_passes_the_limits(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    for (name, query) in [("full", INTROSPECTION), ("classic", INTROSPECTION_CLASSIC)] {
        for token in [None, Some(admin.as_str())] {
            let a = gql(&app, token, query, json!({})).await;
            assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.text);
            assert!(a.body["errors"].is_null(), "{name}: {}", a.text);
            let schema = &a.body["data"]["__schema"];
            assert_eq!(schema["queryType"]["name"], "Query", "{name}");
            assert_eq!(schema["mutationType"]["name"], "Mutation", "{name}");
            let types: Vec<&str> = schema["types"]
                .as_array()
                .expect("types")
                .iter()
                .filter_map(|t| t["name"].as_str())
                .collect();
            for wanted in ["Query", "Chat", "User", "Model", "UserSummary", "ChatConnection"] {
                assert!(types.contains(&wanted), "{name}: {wanted} missing");
            }
        }
    }
    // Walking the type graph through introspection is not.
    let walk = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let a = gql(&app, None, walk, json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(error_of(&a).0.starts_with("Introspection may list a type's members"), "{}", a.text);
    // Still off when switched off.
    let Some(off) = TestApp::spawn_with(b, &[("GRAPHQL_INTROSPECTION", "false")]).await else { return };
    let disabled = (
        "Introspection is disabled on this server (GRAPHQL_INTROSPECTION=false).".to_string(),
        "VALIDATION_ERROR".to_string(),
    );
    let a = gql(&off, None, INTROSPECTION, json!({})).await;
    assert_eq!(error_of(&a), disabled);
    // Also when it hides in a fragment or below another field.
    let hidden = "{ ...Q } fragment Q on Query { t: __type(name: \"Chat\") { name } }";
    assert_eq!(error_of(&gql(&off, None, hidden, json!({})).await), disabled);
    let typename = gql(&off, None, "{ __typename }", json!({})).await;
    assert_eq!(typename.body["data"]["__typename"], "Query");
}

async fn request_timeout_bounds_graphql(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("REQUEST_TIMEOUT", "0.5")]).await else { return };
    let (admin, _) = app.admin().await;
    // Another writer holds the chats table: a GraphQL write waits for it.
    let mut tx = app.db.begin().await.expect("begin");
    if b == Backend::Postgres {
        duet::run!(&mut tx, e => sqlx::query("lock table chats in access exclusive mode").execute(e).await.map(|_| ()))
            .expect("lock");
    }
    let started = std::time::Instant::now();
    let q = "mutation { createChat(chat: {title: \"Waits\"}) { id } }";
    let a = gql(&app, Some(&admin), q, json!({})).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT, "{}", a.text);
    assert_eq!(a.detail(), "The request timed out. Please try again later.");
    assert!(took < Duration::from_secs(5), "cut at REQUEST_TIMEOUT: {took:?}");
    assert_health(&app).await;
    drop(tx);
    assert_health(&app).await;
}

async fn long_search_texts_are_refused_on_every_search_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let fields = [
        ("query($t: String) { chats(search: $t) { totalCount } }", "chats", "query.search"),
        ("query($t: String) { chats(tag: $t) { totalCount } }", "chats", "query.tag"),
        ("query($t: String) { models(query: $t) { totalCount } }", "models", "query.query"),
        ("query($t: String) { users(query: $t) { totalCount } }", "users", "query.query"),
    ];
    for (q, field, loc) in fields {
        // At the limit: answered (no match).
        let a = gql(&app, Some(&admin), q, json!({"t": "x".repeat(1000)})).await;
        assert_eq!(a.body["data"][field]["totalCount"], json!(0), "{q}: {}", a.text);
        // Past it, 10× and 100× (one word of 100,000 characters: far past SQLite's LIKE limit).
        for n in [1001, 10_000, 100_000] {
            let a = gql(&app, Some(&admin), q, json!({"t": "x".repeat(n)})).await;
            assert_eq!(
                error_of(&a),
                (
                    format!("{loc}: String should have at most 1000 characters"),
                    "VALIDATION_ERROR".to_string()
                ),
                "{q} with {n} characters"
            );
        }
        assert_health(&app).await;
    }
}
