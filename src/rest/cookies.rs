//! `Set-Cookie` values for the session cookie, as the reference writes them.
//!
//! `Secure` is added when `WEBUI_AUTH_COOKIE_SECURE` is on (as the reference) and also when the
//! client reached the server over HTTPS (`X-Forwarded-Proto: https` from a trusted proxy), so a
//! deployment behind a TLS-terminating proxy gets secure cookies without extra configuration.

use std::time::{Duration, UNIX_EPOCH};

use crate::config::Config;
use crate::http::ClientInfo;

fn attributes(config: &Config, client: &ClientInfo) -> String {
    let mut attrs = format!("Path=/; SameSite={}", config.cookie_same_site.as_str());
    if config.cookie_secure || client.is_https() {
        attrs.push_str("; Secure");
    }
    attrs
}

/// `token=<jwt>; [expires=…;] HttpOnly; [Max-Age=…;] Path=/; SameSite=…[; Secure]`.
/// Without `max_age` it is a session cookie.
pub fn token_cookie(
    config: &Config,
    client: &ClientInfo,
    token: &str,
    max_age: Option<u64>,
    expires_at: Option<i64>,
) -> String {
    let mut cookie = format!("token={token}; ");
    if let Some(exp) = expires_at {
        let when = UNIX_EPOCH + Duration::from_secs(exp.max(0) as u64);
        cookie.push_str(&format!("expires={}; ", httpdate::fmt_http_date(when)));
    }
    cookie.push_str("HttpOnly; ");
    if let Some(age) = max_age {
        cookie.push_str(&format!("Max-Age={age}; "));
    }
    cookie.push_str(&attributes(config, client));
    cookie
}

/// A cookie that tells the browser to drop `name` now.
pub fn expired_cookie(config: &Config, client: &ClientInfo, name: &str) -> String {
    format!(
        "{name}=\"\"; expires={}; Max-Age=0; {}",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        attributes(config, client)
    )
}
