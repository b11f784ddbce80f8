//! Value rules shared by every interface: email format, profile image URLs, password policy,
//! roles and dates.

use serde_json::{Value, json};

use crate::auth::Role;
use crate::config::PasswordPolicy;
use crate::error::{AppError, AppResult, ErrorCode, FieldError};

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

/// Lower-cases and checks an email; 400 `INVALID_EMAIL_FORMAT` otherwise.
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    if email_format_ok(&email) {
        Ok(email)
    } else {
        Err(AppError::bad_request(ErrorCode::InvalidEmailFormat))
    }
}

const IMAGE_URL_ERROR: &str = "Value error, Invalid profile image URL: must be a known internal path, an HTTP(S) URL with a host, or a data:image URI (png/jpeg/gif/webp).";

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

/// 422 for a profile image URL outside the allowed forms.
pub fn check_image_url(url: &str) -> AppResult<()> {
    if image_url_ok(url) {
        Ok(())
    } else {
        Err(AppError::validation(vec![FieldError {
            kind: "value_error",
            loc: vec![json!("body"), json!("profile_image_url")],
            msg: IMAGE_URL_ERROR.into(),
            input: Value::String(url.to_string()),
            ctx: Some(json!({"error": {}})),
        }]))
    }
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
                Some(hint) => AppError::with_text(
                    axum::http::StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidPassword,
                    hint.clone(),
                ),
                None => AppError::bad_request(ErrorCode::InvalidPassword),
            });
        }
    }
    Ok(())
}

/// A role given on input; 422 unless `pending`, `user` or `admin`.
pub fn parse_role(role: &str) -> AppResult<Role> {
    Role::parse(role).ok_or_else(|| {
        AppError::validation(vec![FieldError {
            kind: "literal_error",
            loc: vec![json!("body"), json!("role")],
            msg: "Input should be 'pending', 'user' or 'admin'".into(),
            input: Value::String(role.to_string()),
            ctx: Some(json!({"expected": "'pending', 'user' or 'admin'"})),
        }])
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
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if leap => 29,
                2 => 28,
                _ => 0,
            };
            y >= 1 && d >= 1 && d <= days
        };
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(vec![FieldError {
            kind: "date_from_datetime_parsing",
            loc: vec![json!("body"), json!(field)],
            msg: "Input should be a valid date or datetime, input is too short".into(),
            input: Value::String(text.to_string()),
            ctx: None,
        }]))
    }
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
}
