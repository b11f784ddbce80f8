//! Value rules shared by every interface: email format (`Email`), profile image URLs
//! (`ImageUrl`), password policy, roles, dates, time zones, search-text length and text without
//! NUL characters. Field errors are recorded with `service::form::Fields`.

use serde_json::{Value, json};

use crate::auth::Role;
use crate::config::PasswordPolicy;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Source};

/// The reference's loose check: anything at `@localhost`, or `x@y.z` at the start of the text.
pub fn email_format_ok(email: &str) -> bool {
    if email.ends_with("@localhost") {
        return true;
    }
    let Some(at) = email.find('@') else {
        return false;
    };
    if at == 0 {
        return false;
    }
    let domain = &email[at + 1..];
    let domain = domain.split('@').next().unwrap_or("");
    domain.char_indices().any(|(i, c)| c == '.' && i >= 1 && i + 1 < domain.len())
}

/// The longest email accepted, in bytes (RFC 5321's 64-byte local part, `@`, 255-byte domain).
pub const MAX_EMAIL_BYTES: usize = 320;

/// The longest password a sign-in or a password check verifies, in bytes. New passwords are held
/// to 72 bytes (`check_password`); this bound only keeps a huge text away from the hash function.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// An email as accounts store it: trimmed, lower-cased, in the reference's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Normalises and checks `text`; 400 `INVALID_EMAIL_FORMAT` otherwise (also for emails over
    /// `MAX_EMAIL_BYTES`, refused before any other work).
    pub fn parse(text: &str) -> AppResult<Email> {
        let email = text.trim();
        if email.len() > MAX_EMAIL_BYTES {
            return Err(AppError::bad_request(ErrorCode::InvalidEmailFormat));
        }
        let email = email.to_lowercase();
        if email_format_ok(&email) {
            Ok(Email(email))
        } else {
            Err(AppError::bad_request(ErrorCode::InvalidEmailFormat))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const IMAGE_URL_ERROR: &str = "Invalid profile image URL: must be a known internal path, an HTTP(S) URL with a host, or a data:image URI (png/jpeg/gif/webp).";

/// A profile image URL of an allowed form (`image_url_ok`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// The image a new account gets when none is given.
    pub const DEFAULT: &str = "/user.png";

    /// 422 `value_error` at `body.profile_image_url` for a URL outside the allowed forms.
    pub fn parse(url: &str) -> AppResult<ImageUrl> {
        if image_url_ok(url) {
            Ok(ImageUrl(url.to_string()))
        } else {
            Err(Fields::error(Source::Body, |f| {
                f.value_error("profile_image_url", &json!(url), IMAGE_URL_ERROR)
            }))
        }
    }

    /// The given URL, or `DEFAULT` when none was sent.
    pub fn or_default(url: Option<&str>) -> AppResult<ImageUrl> {
        ImageUrl::parse(url.unwrap_or(ImageUrl::DEFAULT))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Default for ImageUrl {
    fn default() -> ImageUrl {
        ImageUrl(ImageUrl::DEFAULT.to_string())
    }
}

/// Whether `url` may be stored as a profile image.
pub fn image_url_ok(url: &str) -> bool {
    if url.is_empty() || matches!(url, "/user.png" | "/favicon.png" | "/static/favicon.png") {
        return true;
    }
    if let Some(rest) = url.strip_prefix("/api/v1/users/")
        && let Some(id) = rest.strip_suffix("/profile/image")
    {
        return !id.is_empty() && !id.contains(['/', '?', '#']);
    }
    let lower = url.to_ascii_lowercase();
    for scheme in ["http://", "https://"] {
        if let Some(rest) = lower.strip_prefix(scheme) {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            let host = host.split(':').next().unwrap_or("");
            return !host.is_empty() && !url.chars().any(char::is_whitespace);
        }
    }
    ["png", "jpeg", "gif", "webp"].iter().any(|t| lower.starts_with(&format!("data:image/{t};base64,")))
}

/// New-password rules: at most 72 bytes; with a policy, 8+ characters with a lower-case letter,
/// an upper-case letter, a digit and a symbol.
pub fn check_password(password: &str, policy: Option<&PasswordPolicy>) -> AppResult<()> {
    if password.len() > 72 {
        return Err(AppError::bad_request(ErrorCode::PasswordTooLong));
    }
    if let Some(policy) = policy {
        let ok = password.chars().count() >= 8
            && password.chars().any(|c| c.is_lowercase())
            && password.chars().any(|c| c.is_uppercase())
            && password.chars().any(|c| c.is_ascii_digit())
            && password.chars().any(|c| !c.is_alphanumeric() && c != '_' && !c.is_whitespace());
        if !ok {
            return Err(match &policy.hint {
                Some(hint) => AppError::bad_request_with(ErrorCode::InvalidPassword, hint.clone()),
                None => AppError::bad_request(ErrorCode::InvalidPassword),
            });
        }
    }
    Ok(())
}

/// A role given on input; 422 unless `pending`, `user` or `admin`.
pub fn parse_role(role: &str) -> AppResult<Role> {
    Role::parse(role).ok_or_else(|| {
        Fields::error(Source::Body, |f| f.literal_error("role", &json!(role), &["pending", "user", "admin"]))
    })
}

/// A `YYYY-MM-DD` calendar date; 422 otherwise.
pub fn check_date(field: &str, text: &str) -> AppResult<()> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && {
            let y: u32 = parts[0].parse().unwrap_or(0);
            let m: u32 = parts[1].parse().unwrap_or(0);
            let d: u32 = parts[2].parse().unwrap_or(0);
            let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 0,
            };
            y >= 1 && d >= 1 && d <= days
        };
    if ok { Ok(()) } else { Err(Fields::error(Source::Body, |f| f.date_parsing(field, &json!(text)))) }
}

/// Why a text containing NUL is refused (a `value_error`: `Value error, text may not …`).
pub const NUL_TEXT: &str = "text may not contain NUL (\\u0000) characters";

/// The location, below the root, of the first JSON string (object key or value, at any depth)
/// that contains a NUL character: object keys and array indexes in order. `Some(vec![])` when
/// `value` itself is such a string.
pub fn find_nul(value: &Value) -> Option<Vec<Value>> {
    fn walk(value: &Value, path: &mut Vec<Value>) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                path.push(json!(i));
                let found = walk(item, path);
                if !found {
                    path.pop();
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                path.push(Value::String(key.clone()));
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = Vec::new();
    walk(value, &mut path).then_some(path)
}

/// 422 when any string in `value` (keys included) contains NUL, located at
/// `[source, …path to the string]`; the input shown is the offending key or string.
pub fn check_no_nul(source: Source, value: &Value) -> AppResult<()> {
    let Some(path) = find_nul(value) else { return Ok(()) };
    let input = match path.last() {
        Some(Value::String(key)) if key.contains('\0') => Value::String(key.clone()),
        _ => path
            .iter()
            .try_fold(value, |v, step| match step {
                Value::String(k) => v.get(k.as_str()),
                Value::Number(n) => n.as_u64().and_then(|i| v.get(i as usize)),
                _ => None,
            })
            .cloned()
            .unwrap_or(Value::Null),
    };
    Err(Fields::error(source, |f| f.value_error(path, &input, NUL_TEXT)))
}

/// 422 for a query parameter `name` whose text contains NUL.
pub fn check_query_text(name: &str, text: &str) -> AppResult<()> {
    if text.contains('\0') {
        Err(Fields::error(Source::Query, |f| f.value_error(name, &json!(text), NUL_TEXT)))
    } else {
        Ok(())
    }
}

/// The longest search text accepted, in characters (chat search, model and user filters, title
/// filters). It also bounds every word of a search, far below SQLite's 50,000-byte limit on a
/// `LIKE` pattern.
pub const SEARCH_MAX_LENGTH: usize = 1000;

/// 422 `string_too_long` for a search text over `SEARCH_MAX_LENGTH` characters, located at `loc`
/// (written in full: `["query", "text"]`).
pub fn check_search(loc: &[&str], text: &str) -> AppResult<()> {
    if text.len() <= SEARCH_MAX_LENGTH || text.chars().count() <= SEARCH_MAX_LENGTH {
        return Ok(());
    }
    let (source, at) = Source::split(loc);
    Err(Fields::error(source, |f| f.string_too_long(at, &json!(text), SEARCH_MAX_LENGTH)))
}

/// The longest time-zone name accepted, in characters (the longest IANA name has 32).
pub const TIMEZONE_MAX_LENGTH: usize = 64;

/// The IANA time-zone names (zones and links), sorted byte-wise, one per line after `#` comments.
const TIMEZONES: &str = include_str!("timezones.txt");

/// Whether `name` is an IANA time-zone name (a zone or a link, e.g. `Asia/Calcutta`, `UTC`).
pub fn is_timezone(name: &str) -> bool {
    use std::sync::LazyLock;
    static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        TIMEZONES.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
    });
    NAMES.binary_search(&name).is_ok()
}

/// A user's time zone: at most `TIMEZONE_MAX_LENGTH` characters and an IANA name; 422 at
/// `body.timezone` otherwise.
pub fn check_timezone(name: &str) -> AppResult<()> {
    if name.len() > TIMEZONE_MAX_LENGTH && name.chars().count() > TIMEZONE_MAX_LENGTH {
        return Err(Fields::error(Source::Body, |f| {
            f.string_too_long("timezone", &json!(name), TIMEZONE_MAX_LENGTH)
        }));
    }
    if is_timezone(name) {
        return Ok(());
    }
    let text = "not an IANA time zone name (e.g. Europe/Berlin, UTC)";
    Err(Fields::error(Source::Body, |f| f.value_error("timezone", &json!(name), text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check_is_as_loose_as_the_reference() {
        assert!(email_format_ok("a@b.co"));
        assert!(email_format_ok("admin@localhost"));
        assert!(email_format_ok("a b@c.d"));
        assert!(!email_format_ok("not-an-email"));
        assert!(!email_format_ok("@b.co"));
        assert!(!email_format_ok("a@b."));
        assert!(!email_format_ok("a@.b"));
        assert!(!email_format_ok("a@bc"));
    }

    #[test]
    fn image_urls() {
        for ok in [
            "",
            "/user.png",
            "/api/v1/users/abc/profile/image",
            "https://x.io/a.png",
            "data:image/PNG;base64,AAAA",
        ] {
            assert!(image_url_ok(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "/user2.png",
            "//host/x",
            "data:image/svg+xml;base64,AA",
            "http:///x",
            "/api/v1/users/a/b/profile/image",
        ] {
            assert!(!image_url_ok(bad), "{bad}");
        }
    }

    #[test]
    fn image_urls_are_checked_once_and_default_to_the_user_image() {
        assert_eq!(ImageUrl::or_default(None).expect("default").as_str(), "/user.png");
        assert_eq!(ImageUrl::default(), ImageUrl::parse("/user.png").expect("allowed"));
        let err = ImageUrl::parse("javascript:alert(1)").expect_err("refused");
        let detail = &err.body()["detail"][0];
        assert_eq!(detail["loc"], json!(["body", "profile_image_url"]));
        assert_eq!(detail["ctx"], json!({"error": {}}));
        assert!(
            detail["msg"].as_str().is_some_and(|m| m.starts_with("Value error, Invalid profile image URL"))
        );
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Ada@Example.COM ").expect("email").as_str(), "ada@example.com");
        assert_eq!(Email::parse("nope").err().map(|e| e.code), Some(ErrorCode::InvalidEmailFormat));
    }

    #[test]
    fn password_rules() {
        assert!(check_password("", None).is_ok());
        assert_eq!(
            check_password(&"a".repeat(73), None).err().map(|e| e.code),
            Some(ErrorCode::PasswordTooLong)
        );
        let policy = PasswordPolicy { hint: None };
        assert!(check_password("Passw0rd!", Some(&policy)).is_ok());
        assert!(check_password("password", Some(&policy)).is_err());
    }

    #[test]
    fn dates() {
        assert!(check_date("d", "2000-02-29").is_ok());
        assert!(check_date("d", "2001-02-29").is_err());
        assert!(check_date("d", "20-1-1").is_err());
    }

    #[test]
    fn nul_is_found_in_keys_and_values_at_any_depth() {
        assert_eq!(find_nul(&json!({"a": [1, {"b": "ok"}], "c": "fine"})), None);
        assert_eq!(find_nul(&json!("x\0")), Some(vec![]));
        assert_eq!(find_nul(&json!({"a": [1, {"b": "x\0y"}]})), Some(vec![json!("a"), json!(1), json!("b")]));
        assert_eq!(find_nul(&json!({"ok": 1, "k\0": 2})), Some(vec![json!("k\0")]));
        let err = check_no_nul(Source::Body, &json!({"chat": {"title": "a\0"}})).expect_err("refused");
        assert_eq!(
            err.body(),
            json!({"detail": [{"type": "value_error", "loc": ["body", "chat", "title"],
                               "msg": r"Value error, text may not contain NUL (\u0000) characters",
                               "input": "a\0", "ctx": {"error": {}}}]})
        );
        let err = check_no_nul(Source::Body, &json!({"chat": {"k\0": 1}})).expect_err("refused");
        assert_eq!(err.body()["detail"][0]["input"], json!("k\0"));
    }

    #[test]
    fn search_text_is_bounded_in_characters() {
        assert!(check_search(&["query", "text"], &"é".repeat(SEARCH_MAX_LENGTH)).is_ok());
        let err = check_search(&["query", "text"], &"a".repeat(SEARCH_MAX_LENGTH + 1)).expect_err("long");
        assert_eq!(err.body()["detail"][0]["type"], "string_too_long");
        assert_eq!(err.body()["detail"][0]["msg"], "String should have at most 1000 characters");
        assert_eq!(err.body()["detail"][0]["ctx"], json!({"max_length": 1000}));
        // The worst word at the limit (4-byte characters, every one escaped) stays far below
        // SQLite's LIKE pattern limit of 50,000 bytes.
        let pattern = format!("%{}%", crate::store::users::escape_like(&"%".repeat(SEARCH_MAX_LENGTH)));
        assert!(pattern.len() < 50_000 && "😀".repeat(SEARCH_MAX_LENGTH).len() * 2 + 2 < 50_000);
    }

    #[test]
    fn time_zones_are_iana_names() {
        let names: Vec<&str> = TIMEZONES.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted byte-wise, no duplicates");
        for ok in [
            "Europe/Berlin",
            "UTC",
            "Asia/Calcutta",
            "Asia/Kolkata",
            "Etc/GMT+5",
            "America/Argentina/Buenos_Aires",
        ] {
            assert!(check_timezone(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Mars/Olympus", "europe/berlin", "UTC ", "Europe/Berlin\u{0}"] {
            assert_eq!(
                check_timezone(bad).expect_err(bad).body()["detail"][0]["type"],
                "value_error",
                "{bad}"
            );
        }
        let long = check_timezone(&"A".repeat(1 << 20)).expect_err("long");
        assert_eq!(long.body()["detail"][0]["type"], "string_too_long");
    }

    #[test]
    fn absurd_emails_are_refused_before_any_work() {
        let long = format!("{}@x.io", "a".repeat(MAX_EMAIL_BYTES));
        assert_eq!(Email::parse(&long).err().map(|e| e.code), Some(ErrorCode::InvalidEmailFormat));
        let fits = format!("{}@x.io", "a".repeat(MAX_EMAIL_BYTES - 5));
        assert!(Email::parse(&fits).is_ok());
    }
}
