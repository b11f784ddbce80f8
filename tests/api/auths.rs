//! `/api/v1/auths`: sign-up, sign-in, sessions and tokens, sign-out, profile and password, admin
//! users and config, API keys, the sign-in limiter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, SECRET, TestApp, futures_join};

const ACCESS_PROHIBITED: &str =
    "You do not have permission to access this resource. Please contact your administrator for assistance.";
const INVALID_CRED: &str =
    "The email or password provided is incorrect. Please check for typos and try logging in again.";
const EMAIL_TAKEN: &str = "Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew.";
const INVALID_TOKEN: &str = "Your session has expired or the token is invalid. Please sign in again.";

backend_tests!(
    first_signup_is_admin_and_switches_signup_off,
    concurrent_first_signups_make_exactly_one_admin,
    second_signup_is_refused_while_signup_is_off,
    later_signups_get_the_default_role,
    duplicate_email_in_any_case_is_400_email_taken,
    bad_email_and_long_password_are_400,
    malformed_or_incomplete_bodies_are_422_with_the_plain_text,
    signin_checks_credentials_case_insensitively,
    session_user_reads_bearer_cookie_and_other_schemes,
    bad_tokens_are_401_with_the_reference_texts,
    token_of_a_deleted_user_is_401_invalid_auth_request,
    signout_revokes_the_token_and_expires_cookies,
    password_change_ends_every_session,
    profile_update_validates_and_stores,
    timezone_is_stored,
    pending_user_reads_session_but_not_verified_routes,
    admin_adds_users_and_non_admins_cannot,
    admin_details_follow_show_admin_details,
    admin_config_is_persisted_and_admin_only,
    api_keys_lifecycle_and_permissions,
    api_key_endpoint_restrictions_limit_paths,
    sixteenth_signin_in_the_window_is_429,
    open_webui_minted_token_is_accepted,
    legacy_bcrypt_hash_signs_in_and_is_upgraded,
);

/// A JWT signed with `secret`, built by hand from `claims` (as Open WebUI's PyJWT would).
fn mint(secret: &str, claims: Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn token_of(a: &crate::helpers::Answer) -> String {
    a.body["token"].as_str().expect("token").to_string()
}

async fn first_signup_is_admin_and_switches_signup_off(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let before = app.get("/api/config", None).await;
    assert_eq!(before.body["onboarding"], json!(true));
    assert_eq!(before.body["features"]["enable_signup"], json!(true));

    let a = app.signup("Admin", "Admin.One@Example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let id = a.body["id"].as_str().expect("id").to_string();
    assert_eq!(a.body["role"], "admin");
    assert_eq!(a.body["name"], "Admin");
    assert_eq!(a.body["email"], "admin.one@example.com");
    assert_eq!(a.body["profile_image_url"], format!("/api/v1/users/{id}/profile/image"));
    assert_eq!(a.body["token_type"], "Bearer");
    let expires = a.body["expires_at"].as_i64().expect("expires_at");
    assert!((expires - (now() + 28 * 86400)).abs() <= 5, "expires_at {expires}");
    assert_eq!(a.body["permissions"]["chat"]["delete"], json!(true));
    assert_eq!(a.body["permissions"]["workspace"]["models"], json!(false));
    assert_eq!(a.headers["cache-control"], "no-store");
    let cookie = a.set_cookies().into_iter().find(|c| c.starts_with("token=")).expect("cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Max-Age=2419200"), "{cookie}");
    assert!(cookie.contains("SameSite=lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    // The JWT carries the reference's claims.
    let token = token_of(&a);
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    assert_eq!(claims["id"], id.as_str());
    assert_eq!(claims["typ"], "session");
    assert_eq!(claims["auth_method"], "password");
    assert_eq!(claims["mfa_verified"], json!(false));
    assert_eq!(claims["exp"], json!(expires));
    assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["session_stamp"].is_string());

    assert_eq!(app.scalar_text("select role from users where id = $1", &id).await.as_deref(), Some("admin"));
    let stored = app.scalar_text("select password from auths where id = $1", &id).await.expect("hash");
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
    let after = app.get("/api/config", None).await;
    assert!(after.body.get("onboarding").is_none());
    assert_eq!(after.body["features"]["enable_signup"], json!(false));
}

async fn concurrent_first_signups_make_exactly_one_admin(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let people: Vec<(String, String)> =
        (0..6).map(|i| (format!("U{i}"), format!("u{i}@example.com"))).collect();
    let futures: Vec<_> = people.iter().map(|(name, email)| app.signup(name, email, PASSWORD)).collect();
    let answers = futures_join(futures).await;
    let admins = answers.iter().filter(|a| a.status == StatusCode::OK && a.body["role"] == "admin").count();
    assert_eq!(admins, 1, "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
    for a in &answers {
        match a.status {
            StatusCode::OK => assert!(a.body["role"] == "admin" || a.body["role"] == "pending", "{}", a.text),
            StatusCode::FORBIDDEN => assert_eq!(a.detail(), ACCESS_PROHIBITED),
            other => panic!("unexpected {other}: {}", a.text),
        }
    }
    assert_eq!(app.scalar_count("select count(*) from users where role = $1", "admin").await, 1);
}

async fn second_signup_is_refused_while_signup_is_off(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    app.admin().await;
    let a = app.signup("Alice", "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.detail(), ACCESS_PROHIBITED);
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(app.scalar_count("select count(*) from users where email = $1", "alice@example.com").await, 0);
}

async fn later_signups_get_the_default_role(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("DEFAULT_USER_ROLE", "user")]).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_SIGNUP": true})).await;
    let a = app.signup("Alice", "alice@example.com", PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["role"], "user");
    // The admin switches the default to pending: the next account is pending.
    app.set_admin_config(&admin, json!({"DEFAULT_USER_ROLE": "pending"})).await;
    let p = app.signup("Bob", "bob@example.com", PASSWORD).await;
    assert_eq!(p.body["role"], "pending");
    assert_eq!(
        app.scalar_text("select role from users where email = $1", "bob@example.com").await.as_deref(),
        Some("pending")
    );
}

async fn duplicate_email_in_any_case_is_400_email_taken(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("ENABLE_SIGNUP", "true")]).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(&admin, json!({"ENABLE_SIGNUP": true})).await;
    assert_eq!(app.signup("A", "alice@example.com", PASSWORD).await.status, StatusCode::OK);
    for email in ["alice@example.com", "ALICE@EXAMPLE.COM"] {
        let a = app.signup("A2", email, PASSWORD).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.detail(), EMAIL_TAKEN);
    }
    assert_eq!(app.scalar_count("select count(*) from users where email = $1", "alice@example.com").await, 1);
}

async fn bad_email_and_long_password_are_400(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.signup("X", "not-an-email", PASSWORD).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.detail(),
        "The email format you entered is invalid. Please double-check and make sure you're using a valid email address (e.g., yourname@example.com)."
    );
    let a = app.signup("X", "long@example.com", &"a".repeat(73)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.detail(),
        "Uh-oh! The password you entered is too long. Please make sure your password is less than 72 bytes long."
    );
    assert_eq!(app.scalar_count("select count(*) from users where $1 = $1", "x").await, 0);
}

async fn malformed_or_incomplete_bodies_are_422_with_the_plain_text(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let json_ct = [("content-type", "application/json")];
    for body in [
        r#"{"name":"X","email":"x@example.com"}"#,
        r#"{"name": "X", "#,
        r#"[1,2]"#,
        r#"{"name":1,"email":"x@example.com","password":"p"}"#,
    ] {
        let a = app.raw("POST", "/api/v1/auths/signup", &json_ct, Some(body)).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(a.body, json!({"detail": "Invalid authentication request."}), "{body}");
        assert_eq!(a.headers["cache-control"], "no-store");
    }
    let a = app.raw("POST", "/api/v1/auths/signin", &json_ct, Some(r#"{"email":"x@example.com"}"#)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.detail(), "Invalid authentication request.");
    assert_eq!(app.scalar_count("select count(*) from users where $1 = $1", "x").await, 0);
}

async fn signin_checks_credentials_case_insensitively(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, id) = app.admin().await;
    let ok = app.signin("ADMIN@EXAMPLE.COM", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["id"], id.as_str());
    assert_eq!(ok.body["profile_image_url"], format!("/api/v1/users/{id}/profile/image"));
    assert!(ok.set_cookies().iter().any(|c| c.starts_with("token=ey")));
    for (email, password) in [("admin@example.com", "nope"), ("nobody@example.com", PASSWORD)] {
        let a = app.signin(email, password).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.detail(), INVALID_CRED);
        assert!(a.set_cookies().is_empty());
    }
}

async fn session_user_reads_bearer_cookie_and_other_schemes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (token, id) = app.admin().await;
    let cookie = format!("token={token}");
    let scheme = format!("Token {token}");
    for headers in [
        vec![("authorization", format!("Bearer {token}"))],
        vec![("cookie", cookie)],
        vec![("authorization", scheme)],
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = app.raw("GET", "/api/v1/auths/", &h, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(a.body["id"], id.as_str());
        assert_eq!(a.body["role"], "admin");
        assert_eq!(a.body["profile_image_url"], "/user.png");
        assert_eq!(a.body["token"], token.as_str());
        assert_eq!(a.body["token_type"], "Bearer");
        assert!(a.body["expires_at"].is_i64());
        assert_eq!(a.body["permissions"]["chat"]["share"], json!(true));
        assert!(a.body.as_object().expect("object").contains_key("status_emoji"));
        let refreshed =
            a.set_cookies().into_iter().find(|c| c.starts_with("token=")).expect("cookie refresh");
        assert!(refreshed.contains("expires=") && refreshed.contains("Max-Age="), "{refreshed}");
    }
    // The same path without the trailing slash.
    assert_eq!(app.get("/api/v1/auths", Some(&token)).await.status, StatusCode::OK);
}

async fn bad_tokens_are_401_with_the_reference_texts(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (token, id) = app.admin().await;
    let none = app.get("/api/v1/auths/", None).await;
    assert_eq!((none.status, none.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));

    let stamp = app.scalar_text("select session_stamp from auths where id = $1", &id).await.expect("stamp");
    let expired = mint(
        SECRET,
        json!({"id": id, "typ": "session", "session_stamp": stamp, "exp": now() - 10, "jti": "j1", "iat": now() - 100}),
    );
    let forged = mint(
        "another-secret",
        json!({"id": id, "typ": "session", "session_stamp": stamp, "exp": now() + 100, "jti": "j2"}),
    );
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] =
        URL_SAFE_NO_PAD.encode(format!(r#"{{"id":"{id}","typ":"session","session_stamp":"{stamp}"}}"#));
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(format!(r#"{{"id":"{id}","session_stamp":"{stamp}"}}"#))
    );
    for bad in ["not-a-jwt", &expired, &forged, &tampered, &alg_none] {
        let a = app.get("/api/v1/auths/", Some(bad)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(a.detail(), "401 Unauthorized", "{bad}");
        let u = app.get("/api/v1/users/", Some(bad)).await;
        assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, "401 Unauthorized"));
    }
    // A garbage bearer header is not rescued by a good cookie.
    let cookie = format!("token={token}");
    let a = app
        .raw("GET", "/api/v1/auths/", &[("authorization", "Bearer not-a-jwt"), ("cookie", &cookie)], None)
        .await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "401 Unauthorized"));
    // A signed token whose session stamp is not the account's.
    let stale = mint(
        SECRET,
        json!({"id": id, "typ": "session", "session_stamp": "old", "exp": now() + 100, "jti": "j3"}),
    );
    let a = app.get("/api/v1/auths/", Some(&stale)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    // An unknown token type.
    let odd = mint(
        SECRET,
        json!({"id": id, "typ": "robot", "session_stamp": stamp, "exp": now() + 100, "jti": "j4"}),
    );
    assert_eq!(app.get("/api/v1/auths/", Some(&odd)).await.detail(), "Invalid token");
}

async fn token_of_a_deleted_user_is_401_invalid_auth_request(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (alice, alice_id) = app.user(&admin, "Alice", "alice@example.com", "user").await;
    let d = app.delete(&format!("/api/v1/users/{alice_id}"), Some(&admin)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let a = app.get("/api/v1/auths/", Some(&alice)).await;
    assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Invalid authentication request."));
}

async fn signout_revokes_the_token_and_expires_cookies(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let second = token_of(&app.signin("admin@example.com", PASSWORD).await);
    let a = app.post("/api/v1/auths/signout", Some(&admin), json!({})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, json!({"status": true}));
    let cookies = a.set_cookies();
    for name in ["token", "owui-session", "oui-session", "oauth_id_token"] {
        let c = cookies.iter().find(|c| c.starts_with(&format!("{name}="))).expect(name);
        assert!(c.contains("Max-Age=0"), "{c}");
    }
    let after = app.get("/api/v1/auths/", Some(&admin)).await;
    assert_eq!((after.status, after.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    // Only that token: another session of the same account still works.
    assert_eq!(app.get("/api/v1/auths/", Some(&second)).await.status, StatusCode::OK);
    // Signing out without any token is fine too.
    let anon = app.post("/api/v1/auths/signout", None, json!({})).await;
    assert_eq!((anon.status, anon.body.clone()), (StatusCode::OK, json!({"status": true})));
}

async fn password_change_ends_every_session(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let other = token_of(&app.signin("admin@example.com", PASSWORD).await);
    let wrong = app
        .post(
            "/api/v1/auths/update/password",
            Some(&admin),
            json!({"password": "wrong", "new_password": "N3w-pass!"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.detail(), "The password provided is incorrect. Please check for typos and try again.");
    let before = app.scalar_text("select session_stamp from auths where id = $1", &id).await;
    let ok = app
        .post(
            "/api/v1/auths/update/password",
            Some(&admin),
            json!({"password": PASSWORD, "new_password": "N3w-pass!"}),
        )
        .await;
    assert_eq!((ok.status, ok.body.clone()), (StatusCode::OK, json!(true)));
    assert_ne!(app.scalar_text("select session_stamp from auths where id = $1", &id).await, before);
    for t in [&admin, &other] {
        let a = app.get("/api/v1/auths/", Some(t)).await;
        assert_eq!((a.status, a.detail()), (StatusCode::UNAUTHORIZED, "Invalid token"));
    }
    assert_eq!(app.signin("admin@example.com", PASSWORD).await.detail(), INVALID_CRED);
    assert_eq!(app.signin("admin@example.com", "N3w-pass!").await.status, StatusCode::OK);
}

async fn profile_update_validates_and_stores(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let a = app
        .post(
            "/api/v1/auths/update/profile",
            Some(&admin),
            json!({"name": "Admin A.", "profile_image_url": "/user.png", "bio": "hi", "date_of_birth": "1990-05-17"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.body,
        json!({"id": id, "name": "Admin A.", "role": "admin", "email": "admin@example.com", "profile_image_url": "/user.png"})
    );
    assert_eq!(
        app.scalar_text("select name from users where id = $1", &id).await.as_deref(),
        Some("Admin A.")
    );
    assert_eq!(app.scalar_text("select bio from users where id = $1", &id).await.as_deref(), Some("hi"));
    assert_eq!(
        app.scalar_text("select date_of_birth from users where id = $1", &id).await.as_deref(),
        Some("1990-05-17")
    );
    for body in [
        json!({"name": "X", "profile_image_url": "javascript:alert(1)"}),
        json!({"name": "X", "profile_image_url": "/user.png", "date_of_birth": "17.05.1990"}),
        json!({"profile_image_url": "/user.png"}),
    ] {
        let bad = app.post("/api/v1/auths/update/profile", Some(&admin), body.clone()).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(bad.detail(), "Invalid authentication request.");
    }
    assert_eq!(
        app.scalar_text("select name from users where id = $1", &id).await.as_deref(),
        Some("Admin A.")
    );
    // Omitted optional fields are cleared, as the reference does.
    let c = app
        .post("/api/v1/auths/update/profile", Some(&admin), json!({"name": "Admin", "profile_image_url": ""}))
        .await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(app.scalar_text("select bio from users where id = $1", &id).await, None);
}

async fn timezone_is_stored(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, id) = app.admin().await;
    let a =
        app.post("/api/v1/auths/update/timezone", Some(&admin), json!({"timezone": "Europe/Berlin"})).await;
    assert_eq!((a.status, a.body.clone()), (StatusCode::OK, json!({"status": true})));
    assert_eq!(
        app.scalar_text("select timezone from users where id = $1", &id).await.as_deref(),
        Some("Europe/Berlin")
    );
    let none = app.post("/api/v1/auths/update/timezone", None, json!({"timezone": "UTC"})).await;
    assert_eq!((none.status, none.detail()), (StatusCode::UNAUTHORIZED, "Not authenticated"));
}

async fn pending_user_reads_session_but_not_verified_routes(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let s = app.get("/api/v1/auths/", Some(&pending)).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.body["role"], "pending");
    let p = app
        .post("/api/v1/auths/update/profile", Some(&pending), json!({"name": "P", "profile_image_url": ""}))
        .await;
    assert_eq!((p.status, p.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    let u = app.get("/api/v1/users/", Some(&pending)).await;
    assert_eq!((u.status, u.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // Pending users may still change their password and sign out.
    let pw = app
        .post(
            "/api/v1/auths/update/password",
            Some(&pending),
            json!({"password": PASSWORD, "new_password": "Other-1!"}),
        )
        .await;
    assert_eq!(pw.status, StatusCode::OK);
}

async fn admin_adds_users_and_non_admins_cannot(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let a = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "Bob", "email": "Bob@Example.com", "password": PASSWORD, "role": "user"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let id = a.body["id"].as_str().expect("id").to_string();
    assert_eq!(a.body["email"], "bob@example.com");
    assert_eq!(a.body["role"], "user");
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["profile_image_url"], format!("/api/v1/users/{id}/profile/image"));
    // The returned token is the new user's.
    let me = app.get("/api/v1/auths/", a.body["token"].as_str()).await;
    assert_eq!(me.body["id"], id.as_str());
    // Default role is pending; an unknown role is refused.
    let p = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "C", "email": "c@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(p.body["role"], "pending");
    let bad = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "D", "email": "d@example.com", "password": "x", "role": "root"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.detail()),
        (StatusCode::UNPROCESSABLE_ENTITY, "Invalid authentication request.")
    );
    assert_eq!(app.scalar_count("select count(*) from users where email = $1", "d@example.com").await, 0);
    let dup = app
        .post(
            "/api/v1/auths/add",
            Some(&admin),
            json!({"name": "B2", "email": "BOB@example.com", "password": "x"}),
        )
        .await;
    assert_eq!((dup.status, dup.detail()), (StatusCode::BAD_REQUEST, EMAIL_TAKEN));
    let bob = token_of(&app.signin("bob@example.com", PASSWORD).await);
    let denied = app
        .post(
            "/api/v1/auths/add",
            Some(&bob),
            json!({"name": "E", "email": "e@example.com", "password": "x"}),
        )
        .await;
    assert_eq!((denied.status, denied.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    // Adding users does not switch sign-up on or off.
    assert_eq!(app.get("/api/config", None).await.body["features"]["enable_signup"], json!(false));
}

async fn admin_details_follow_show_admin_details(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (pending, _) = app.user(&admin, "Pat", "pat@example.com", "pending").await;
    let a = app.get("/api/v1/auths/admin/details", Some(&pending)).await;
    assert_eq!(
        (a.status, a.body.clone()),
        (StatusCode::OK, json!({"name": "Admin", "email": "admin@example.com"}))
    );
    app.set_admin_config(&admin, json!({"ADMIN_EMAIL": "pat@example.com"})).await;
    let a = app.get("/api/v1/auths/admin/details", Some(&pending)).await;
    assert_eq!(a.body, json!({"name": "Pat", "email": "pat@example.com"}));
    app.set_admin_config(&admin, json!({"SHOW_ADMIN_DETAILS": false})).await;
    let a = app.get("/api/v1/auths/admin/details", Some(&pending)).await;
    assert_eq!(
        (a.status, a.detail()),
        (StatusCode::BAD_REQUEST, "The requested action has been restricted as a security measure.")
    );
}

async fn admin_config_is_persisted_and_admin_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, _) = app.user(&admin, "U", "u@example.com", "user").await;
    let g = app.get("/api/v1/auths/admin/config", Some(&admin)).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["ENABLE_SIGNUP"], json!(false));
    assert_eq!(g.body["DEFAULT_USER_ROLE"], "pending");
    assert_eq!(g.body["JWT_EXPIRES_IN"], "4w");
    assert_eq!(g.body["ENABLE_API_KEYS"], json!(false));
    assert_eq!(g.body.as_object().expect("object").len(), 39);

    let mut form = g.body.clone();
    form["ENABLE_SIGNUP"] = json!(true);
    form["JWT_EXPIRES_IN"] = json!("2h");
    form["DEFAULT_USER_ROLE"] = json!("superuser");
    let p = app.post("/api/v1/auths/admin/config", Some(&admin), form).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["ENABLE_SIGNUP"], json!(true));
    assert_eq!(p.body["JWT_EXPIRES_IN"], "2h");
    assert_eq!(p.body["DEFAULT_USER_ROLE"], "pending", "an invalid role is not saved");
    assert_eq!(p.body["sessions_revoked"], json!(false));
    assert_eq!(app.scalar_config("ui.enable_signup").await.as_deref(), Some("true"));
    assert_eq!(app.scalar_config("auth.jwt_expiry").await.as_deref(), Some("\"2h\""));
    // New tokens follow the stored lifetime.
    let s = app.signin("admin@example.com", PASSWORD).await;
    let exp = s.body["expires_at"].as_i64().expect("exp");
    assert!((exp - (now() + 7200)).abs() <= 5);

    let missing = app.post("/api/v1/auths/admin/config", Some(&admin), json!({"ENABLE_SIGNUP": false})).await;
    assert_eq!(
        (missing.status, missing.detail()),
        (StatusCode::UNPROCESSABLE_ENTITY, "Invalid authentication request.")
    );
    assert_eq!(app.scalar_config("ui.enable_signup").await.as_deref(), Some("true"));
    for r in [
        app.get("/api/v1/auths/admin/config", Some(&user)).await,
        app.post("/api/v1/auths/admin/config", Some(&user), g.body.clone()).await,
    ] {
        assert_eq!((r.status, r.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
    }
}

async fn api_keys_lifecycle_and_permissions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    let (user, user_id) = app.user(&admin, "U", "u@example.com", "user").await;
    let not_allowed = "API key creation is not allowed in the environment.";
    let a = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    assert_eq!((a.status, a.detail()), (StatusCode::FORBIDDEN, not_allowed));

    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;
    let u = app.post("/api/v1/auths/api_key", Some(&user), json!({})).await;
    assert_eq!((u.status, u.detail()), (StatusCode::FORBIDDEN, not_allowed), "users need features.api_keys");

    let created = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let key = created.body["api_key"].as_str().expect("key").to_string();
    assert!(key.starts_with("sk-") && key.len() == 35 && key[3..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(app.get("/api/v1/auths/api_key", Some(&admin)).await.body, json!({"api_key": key}));

    // The key works as a bearer token and in x-api-key, on admin routes too.
    assert_eq!(app.get("/api/v1/users/", Some(&key)).await.status, StatusCode::OK);
    let x = app.raw("GET", "/api/v1/users/", &[("x-api-key", &key)], None).await;
    assert_eq!(x.status, StatusCode::OK);
    // …but not for the session endpoint.
    let h = app.get("/api/v1/auths/", Some(&key)).await;
    assert_eq!((h.status, h.detail()), (StatusCode::FORBIDDEN, "A human session is required."));
    let unknown = app.get("/api/v1/users/", Some("sk-00000000000000000000000000000000")).await;
    assert_eq!((unknown.status, unknown.detail()), (StatusCode::UNAUTHORIZED, INVALID_TOKEN));

    // Regenerating replaces the key.
    let again = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await;
    let key2 = again.body["api_key"].as_str().expect("key").to_string();
    assert_ne!(key, key2);
    assert_eq!(app.get("/api/v1/users/", Some(&key)).await.detail(), INVALID_TOKEN);

    // Switching the feature off makes existing keys 403.
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": false})).await;
    let off = app.get("/api/v1/users/", Some(&key2)).await;
    assert_eq!(
        (off.status, off.detail()),
        (StatusCode::FORBIDDEN, "Use of API key is not enabled in the environment.")
    );
    app.set_admin_config(&admin, json!({"ENABLE_API_KEYS": true})).await;

    let d = app.delete("/api/v1/auths/api_key", Some(&admin)).await;
    assert_eq!((d.status, d.body.clone()), (StatusCode::OK, json!(true)));
    assert_eq!(app.get("/api/v1/users/", Some(&key2)).await.detail(), INVALID_TOKEN);
    let gone = app.get("/api/v1/auths/api_key", Some(&admin)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.detail(),
        "Oops! It looks like there's a hiccup. The API key is missing. Please make sure to provide a valid API key to access this feature."
    );

    // Granting features.api_keys lets users create keys; their keys keep their role.
    let mut perms = app.get("/api/v1/users/default/permissions", Some(&admin)).await.body;
    perms["features"]["api_keys"] = json!(true);
    assert_eq!(
        app.post("/api/v1/users/default/permissions", Some(&admin), perms).await.status,
        StatusCode::OK
    );
    let uk = app.post("/api/v1/auths/api_key", Some(&user), json!({})).await;
    assert_eq!(uk.status, StatusCode::OK, "{}", uk.text);
    let ukey = uk.body["api_key"].as_str().expect("key");
    assert_eq!(app.scalar_count("select count(*) from api_keys where user_id = $1", &user_id).await, 1);
    let denied = app.get("/api/v1/users/", Some(ukey)).await;
    assert_eq!((denied.status, denied.detail()), (StatusCode::UNAUTHORIZED, ACCESS_PROHIBITED));
}

async fn api_key_endpoint_restrictions_limit_paths(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (admin, _) = app.admin().await;
    app.set_admin_config(
        &admin,
        json!({"ENABLE_API_KEYS": true, "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": true, "API_KEYS_ALLOWED_ENDPOINTS": "/api/v1/users"}),
    )
    .await;
    let key = app.post("/api/v1/auths/api_key", Some(&admin), json!({})).await.body["api_key"]
        .as_str()
        .expect("key")
        .to_string();
    assert_eq!(app.get("/api/v1/users/", Some(&key)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/users/default/permissions", Some(&key)).await.status, StatusCode::OK);
    let off = app.get("/api/v1/auths/admin/config", Some(&key)).await;
    assert_eq!((off.status, off.detail()), (StatusCode::FORBIDDEN, ACCESS_PROHIBITED));
}

async fn sixteenth_signin_in_the_window_is_429(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    app.admin().await;
    for i in 0..15 {
        let a = app.signin("admin@example.com", "wrong").await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "attempt {}", i + 1);
    }
    for (email, password) in
        [("admin@example.com", "wrong"), ("admin@example.com", PASSWORD), ("ADMIN@example.com", PASSWORD)]
    {
        let a = app.signin(email, password).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.body, json!({"detail": "API rate limit exceeded"}));
        let retry: u64 = a.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert!((1..=180).contains(&retry), "{retry}");
    }
    // Other emails are unaffected.
    assert_eq!(app.signin("other@example.com", "x").await.status, StatusCode::BAD_REQUEST);
}

async fn open_webui_minted_token_is_accepted(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, id) = app.admin().await;
    let stamp = app.scalar_text("select session_stamp from auths where id = $1", &id).await.expect("stamp");
    let t = now();
    let token = mint(
        SECRET,
        json!({"id": id, "typ": "session", "auth_method": "password", "auth_time": t, "session_stamp": stamp,
               "mfa_verified": false, "exp": t + 3600, "jti": uuid::Uuid::new_v4().to_string(), "iat": t}),
    );
    let a = app.get("/api/v1/auths/", Some(&token)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["id"], id.as_str());
    assert_eq!(a.body["expires_at"], json!(t + 3600));
    // The `/auths/add` form of the reference's tokens (no auth_method) works as well.
    let short = mint(
        SECRET,
        json!({"id": id, "typ": "session", "session_stamp": stamp, "exp": t + 60, "jti": "x", "iat": t}),
    );
    assert_eq!(app.get("/api/v1/users/", Some(&short)).await.status, StatusCode::OK);
}

async fn legacy_bcrypt_hash_signs_in_and_is_upgraded(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, id) = app.admin().await;
    let legacy = bcrypt::hash("Legacy-pass1", 4).expect("bcrypt");
    app.exec("update auths set password = $1 where id = $2", &[&legacy, &id]).await;
    assert_eq!(app.signin("admin@example.com", "wrong").await.detail(), INVALID_CRED);
    let a = app.signin("admin@example.com", "Legacy-pass1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let stored = app.scalar_text("select password from auths where id = $1", &id).await.expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(app.signin("admin@example.com", "Legacy-pass1").await.status, StatusCode::OK);
}
