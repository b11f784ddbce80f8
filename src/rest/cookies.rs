//! `Set-Cookie` values for the session cookie, as the reference writes them.

use std::time::{Duration, UNIX_EPOCH};

use crate::config::Config;

fn attributes(config: &Config) -> String {
    let mut attrs = format!("Path=/; SameSite={}", config.cookie_same_site.as_str());
    if config.cookie_secure {
        attrs.push_str("; Secure");
    }
    attrs
}

/// `token=<jwt>; [expires=…;] HttpOnly; [Max-Age=…;] Path=/; SameSite=…[; Secure]`.
/// Without `max_age` it is a session cookie.
pub fn token_cookie(config: &Config, token: &str, max_age: Option<u64>, expires_at: Option<i64>) -> String {
    let mut cookie = format!("token={token}; ");
    if let Some(exp) = expires_at {
        let when = UNIX_EPOCH + Duration::from_secs(exp.max(0) as u64);
        cookie.push_str(&format!("expires={}; ", httpdate::fmt_http_date(when)));
    }
    cookie.push_str("HttpOnly; ");
    if let Some(age) = max_age {
        cookie.push_str(&format!("Max-Age={age}; "));
    }
    cookie.push_str(&attributes(config));
    cookie
}

/// A cookie that tells the browser to drop `name` now.
pub fn expired_cookie(config: &Config, name: &str) -> String {
    format!(
        "{name}=\"\"; expires={}; Max-Age=0; {}",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        attributes(config)
    )
}
