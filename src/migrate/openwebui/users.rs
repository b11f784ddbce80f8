//! Accounts: Open WebUI's `user` and `auth` rows become duet's `users` and `auths` (together, in
//! the same transaction), `api_key` rows become `api_keys`. Password hashes are kept as they are:
//! bcrypt and argon2 both verify, and duet re-hashes them with argon2id at the next sign-in.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::fields::{Fixes, Row, boolean, int, json, opt_int, opt_text, optional_json, text};
use super::step::{Part, Run, Writers};
use crate::migrate::Error;
use crate::migrate::value::Value;

const USER_SOURCE: &[&str] = &[
    "id",
    "email",
    "username",
    "role",
    "name",
    "profile_image_url",
    "profile_banner_image_url",
    "bio",
    "gender",
    "date_of_birth",
    "timezone",
    "presence_state",
    "status_emoji",
    "status_message",
    "status_expires_at",
    "info",
    "settings",
    "oauth",
    "scim",
    "variables",
    "last_active_at",
    "updated_at",
    "created_at",
];
pub const USERS: &[&str] = USER_SOURCE;
const AUTH_SOURCE: &[&str] = &["id", "email", "password", "active", "session_stamp", "mfa"];
pub const AUTHS: &[&str] = &["id", "email", "password", "active", "session_stamp"];
const API_KEY_SOURCE: &[&str] =
    &["id", "user_id", "key", "data", "expires_at", "last_used_at", "created_at", "updated_at"];
pub const API_KEYS: &[&str] = API_KEY_SOURCE;

const USERS_LABEL: &str = "user → users";
const AUTHS_LABEL: &str = "auth → auths";
const KEYS_LABEL: &str = "api_key → api_keys";

pub async fn users<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let Some((mut pager, cols, bar)) = run.pages("user", USER_SOURCE, USERS_LABEL).await? else {
        return Err(Error::new("the source has no user table"));
    };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        let ids: Vec<Value> =
            page.iter().map(|v| Row { columns: &cols, values: v }.get("id").clone()).collect();
        let (acols, arows) = run.rows_by("auth", AUTH_SOURCE, "id", &ids).await?;
        let auths: HashMap<String, &Vec<Value>> =
            arows.iter().map(|v| (Row { columns: &acols, values: v }.id(), v)).collect();
        let mut users = Part::new("users", USERS_LABEL, USERS);
        let mut creds = Part::new("auths", AUTHS_LABEL, AUTHS);
        for values in &page {
            let row = Row { columns: &cols, values };
            let key = row.id();
            let mut fixes = Fixes::default();
            let user = match user_row(&row, &mut fixes) {
                Ok(u) => u,
                Err(reason) => {
                    run.skip(USERS_LABEL, &key, reason);
                    continue;
                }
            };
            let auth = auths.get(&key).map(|v| Row { columns: &acols, values: v });
            let mut auth_fixes = Fixes::default();
            let cred = auth_row(&key, &user[1], auth.as_ref(), &mut auth_fixes);
            if let Some(a) = &auth
                && has_mfa(a)
            {
                run.note(
                    USERS_LABEL,
                    &key,
                    "had two-step sign-in in Open WebUI; duet has none, so the password alone signs in",
                );
            }
            users.push(user, &key, &fixes);
            creds.push(cred, &key, &auth_fixes);
        }
        bar.inc(page.len() as u64);
        run.write(&mut writers, vec![users, creds]).await?;
    }
    bar.done();
    Ok(())
}

/// A duet `users` row (values in the order of `USERS`).
fn user_row(row: &Row, fixes: &mut Fixes) -> Result<Vec<Value>, String> {
    let id = text(row, "id", fixes).filter(|s| !s.is_empty()).ok_or("it has no id")?;
    let raw_email = text(row, "email", fixes).map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
    let raw_email = raw_email.ok_or("it has no email, which duet needs to sign in")?;
    let email = raw_email.to_lowercase();
    if email != raw_email {
        fixes.note("email lower-cased (duet matches emails in lower case)");
    }
    let role = match text(row, "role", fixes).as_deref() {
        Some(r @ ("admin" | "user" | "pending")) => r.to_string(),
        other => {
            fixes.note(format!(
                "role {} is not one duet knows: made pending (an admin can change it)",
                other.map(|r| format!("{r:?}")).unwrap_or_else(|| "(none)".into())
            ));
            "pending".into()
        }
    };
    let name = match text(row, "name", fixes).filter(|n| !n.trim().is_empty()) {
        Some(n) => n,
        None => {
            fixes.note("no name: the email's local part is used");
            email.split('@').next().unwrap_or(&email).to_string()
        }
    };
    let image =
        text(row, "profile_image_url", fixes).filter(|u| !u.is_empty()).unwrap_or_else(|| "/user.png".into());
    let created = int(row, "created_at");
    let updated = int(row, "updated_at").or(created);
    let active = int(row, "last_active_at").or(updated);
    if created.is_none() {
        fixes.note("no creation time (0)");
    }
    let t = |c: &str, f: &mut Fixes| opt_text(text(row, c, f));
    Ok(vec![
        Value::Text(id),
        Value::Text(email),
        t("username", fixes),
        Value::Text(role),
        Value::Text(name),
        Value::Text(image),
        t("profile_banner_image_url", fixes),
        t("bio", fixes),
        t("gender", fixes),
        t("date_of_birth", fixes),
        t("timezone", fixes),
        t("presence_state", fixes),
        t("status_emoji", fixes),
        t("status_message", fixes),
        opt_int(int(row, "status_expires_at")),
        optional_json(row, "info", fixes),
        optional_json(row, "settings", fixes),
        optional_json(row, "oauth", fixes),
        optional_json(row, "scim", fixes),
        optional_json(row, "variables", fixes),
        Value::Int(active.unwrap_or(0)),
        Value::Int(updated.unwrap_or(0)),
        Value::Int(created.unwrap_or(0)),
    ])
}

/// A duet `auths` row for user `id` with `email` (the user's, lower-cased). Without an auth row
/// the account gets one with an empty hash, which never verifies — as the reference's own
/// migration (`add missing auth rows`) repairs such accounts.
fn auth_row(id: &str, email: &Value, auth: Option<&Row>, fixes: &mut Fixes) -> Vec<Value> {
    let Some(auth) = auth else {
        fixes.note("no credentials in Open WebUI: created without a password (an admin must set one)");
        return vec![
            Value::Text(id.into()),
            email.clone(),
            Value::Text(String::new()),
            Value::Bool(true),
            stamp(id),
        ];
    };
    let password = text(auth, "password", fixes).unwrap_or_default();
    if password.is_empty() {
        fixes.note("no password: cannot sign in until an admin sets one");
    } else if !(password.starts_with("$2") || password.starts_with("$argon2")) {
        fixes.note("a password hash duet cannot verify (neither bcrypt nor argon2): cannot sign in until an admin sets one");
    }
    let session_stamp = match text(auth, "session_stamp", fixes).filter(|s| !s.is_empty()) {
        Some(s) => Value::Text(s),
        None => {
            fixes.note(
                "no session stamp: one was made, so Open WebUI's tokens for this account no longer work",
            );
            stamp(id)
        }
    };
    vec![
        Value::Text(id.into()),
        email.clone(),
        Value::Text(password),
        Value::Bool(boolean(auth, "active").unwrap_or(true)),
        session_stamp,
    ]
}

/// A session stamp made from the account's id, so that running the import again makes the same.
fn stamp(id: &str) -> Value {
    let digest = Sha256::digest(format!("duet-import:session-stamp:{id}").as_bytes());
    Value::Text(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

fn has_mfa(auth: &Row) -> bool {
    let mut ignore = Fixes::default();
    matches!(json(auth, "mfa", &mut ignore), Ok(Some(m)) if m.get("secret").is_some_and(|s| s.as_str().is_some_and(|s| !s.is_empty())))
}

/// `api_key` rows; a key whose owner was not imported is skipped (reported by the writer).
pub async fn api_keys<'a>(run: &mut Run<'a>) -> Result<(), Error> {
    let Some((mut pager, cols, bar)) = run.pages("api_key", API_KEY_SOURCE, KEYS_LABEL).await? else {
        return Ok(());
    };
    let mut writers = Writers::new();
    loop {
        let page = run.page(&mut pager).await?;
        if page.is_empty() {
            break;
        }
        let mut keys = Part::new("api_keys", KEYS_LABEL, API_KEYS);
        for values in &page {
            let row = Row { columns: &cols, values };
            let id = row.id();
            let mut fixes = Fixes::default();
            let (Some(user), Some(key)) = (text(&row, "user_id", &mut fixes), text(&row, "key", &mut fixes))
            else {
                run.skip(KEYS_LABEL, &id, "it has no owner or no key");
                continue;
            };
            let created = int(&row, "created_at").unwrap_or(0);
            keys.push(
                vec![
                    Value::Text(id.clone()),
                    Value::Text(user),
                    Value::Text(key),
                    optional_json(&row, "data", &mut fixes),
                    opt_int(int(&row, "expires_at")),
                    opt_int(int(&row, "last_used_at")),
                    Value::Int(created),
                    Value::Int(int(&row, "updated_at").unwrap_or(created)),
                ],
                &id,
                &fixes,
            );
        }
        bar.inc(page.len() as u64);
        run.write(&mut writers, vec![keys]).await?;
    }
    bar.done();
    Ok(())
}
