//! Security headers, as Open WebUI 0.12.4 sets them (`utils/security_headers.py`): each variable
//! that is set and not empty adds one header to every answer, overwriting a header of the same
//! name set by the route. A value outside the allowed forms is replaced by that header's fallback
//! (matching is case-insensitive and anchored; a valid value is sent as written). CORS preflight
//! answers never get them (the CORS layer answers those before this layer).

use axum::http::{HeaderName, HeaderValue};

use crate::config::ConfigError;

/// How a variable's value is checked.
#[derive(Clone, Copy)]
enum Rule {
    /// Valid when the predicate holds; otherwise the fallback is sent.
    Check(fn(&str) -> bool, &'static str),
    /// Any value other than exactly this one is replaced by it.
    Coerce(&'static str),
    /// Sent as written.
    Verbatim,
}

/// Variable, header, rule — in the reference's order.
const HEADERS: [(&str, &str, Rule); 14] = [
    ("CACHE_CONTROL", "cache-control", Rule::Check(cache_control, "no-store, max-age=0")),
    ("HSTS", "strict-transport-security", Rule::Check(hsts, "max-age=31536000;includeSubDomains")),
    ("PERMISSIONS_POLICY", "permissions-policy", Rule::Check(permissions_policy, "none")),
    ("REFERRER_POLICY", "referrer-policy", Rule::Check(referrer_policy, "no-referrer")),
    ("XCONTENT_TYPE", "x-content-type-options", Rule::Coerce("nosniff")),
    ("XDOWNLOAD_OPTIONS", "x-download-options", Rule::Coerce("noopen")),
    ("XFRAME_OPTIONS", "x-frame-options", Rule::Check(xframe_options, "DENY")),
    (
        "XPERMITTED_CROSS_DOMAIN_POLICIES",
        "x-permitted-cross-domain-policies",
        Rule::Check(xpermitted_cross_domain_policies, "none"),
    ),
    ("CONTENT_SECURITY_POLICY", "content-security-policy", Rule::Verbatim),
    ("CONTENT_SECURITY_POLICY_REPORT_ONLY", "content-security-policy-report-only", Rule::Verbatim),
    (
        "CROSS_ORIGIN_EMBEDDER_POLICY",
        "cross-origin-embedder-policy",
        Rule::Check(cross_origin_embedder_policy, "require-corp"),
    ),
    (
        "CROSS_ORIGIN_OPENER_POLICY",
        "cross-origin-opener-policy",
        Rule::Check(cross_origin_opener_policy, "same-origin"),
    ),
    (
        "CROSS_ORIGIN_RESOURCE_POLICY",
        "cross-origin-resource-policy",
        Rule::Check(cross_origin_resource_policy, "same-origin"),
    ),
    ("REPORTING_ENDPOINTS", "reporting-endpoints", Rule::Verbatim),
];

/// A value that was replaced by its header's fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub var: &'static str,
    pub value: String,
    pub fallback: &'static str,
}

/// The configured security headers.
#[derive(Debug, Clone, Default)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
    replaced: Vec<Replaced>,
}

impl SecurityHeaders {
    /// Reads the variables through `get` (which returns `None` for unset or empty). A value that
    /// cannot be an HTTP header value at all (a control character in a verbatim one) stops start-up.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut out = SecurityHeaders::default();
        for (var, name, rule) in HEADERS {
            let Some(value) = get(var) else { continue };
            let sent = match rule {
                Rule::Check(valid, _) if valid(&value) => value.clone(),
                Rule::Coerce(only) if value == only => value.clone(),
                Rule::Verbatim => value.clone(),
                Rule::Check(_, fallback) | Rule::Coerce(fallback) => {
                    out.replaced.push(Replaced { var, value: value.clone(), fallback });
                    fallback.to_string()
                }
            };
            let header_value = HeaderValue::from_str(&sent).map_err(|_| {
                ConfigError::new(var, "not a valid HTTP header value (control characters are not allowed)")
            })?;
            out.headers.push((HeaderName::from_static(name), header_value));
        }
        Ok(out)
    }

    /// The headers, in the reference's order.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The values that were replaced by a fallback.
    pub fn replaced(&self) -> &[Replaced] {
        &self.replaced
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// Logs one warning per replaced value.
    pub fn warn_replaced(&self) {
        for r in &self.replaced {
            tracing::warn!(
                var = r.var,
                value = %r.value,
                fallback = r.fallback,
                "{}: invalid value {:?}; sending {:?} instead",
                r.var,
                r.value,
                r.fallback
            );
        }
    }
}

/// The security-headers middleware: sets every configured header on the answer.
/// Writes the configured headers into an answer (replacing any the route set).
pub fn apply(headers: &SecurityHeaders, map: &mut axum::http::HeaderMap) {
    for (name, value) in headers.headers() {
        map.insert(name.clone(), value.clone());
    }
}

/// `value` is one of `options`, ignoring ASCII case.
fn one_of(value: &str, options: &[&str]) -> bool {
    options.iter().any(|o| value.eq_ignore_ascii_case(o))
}

/// At least one ASCII digit and nothing else.
fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A comma-separated list (`, ` allowed) of cache directives.
fn cache_control(value: &str) -> bool {
    fn directive(d: &str) -> bool {
        let lower = d.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("max-age=").or_else(|| lower.strip_prefix("s-maxage=")) {
            return digits(n);
        }
        one_of(
            &lower,
            &[
                "public",
                "private",
                "no-cache",
                "no-store",
                "must-revalidate",
                "proxy-revalidate",
                "no-transform",
                "immutable",
            ],
        )
    }
    let mut parts = value.split(',');
    let first = parts.next().unwrap_or("");
    directive(first) && parts.all(|p| directive(p.trim_start_matches([' ', '\t'])))
}

/// `max-age=<n>`, optionally `;includeSubDomains`, then optionally `;preload` (no spaces).
fn hsts(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("max-age=") else { return false };
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (n, tail) = rest.split_at(end);
    digits(n) && matches!(tail, "" | ";includesubdomains" | ";preload" | ";includesubdomains;preload")
}

/// `<feature>=()` or `<feature>=(self)` terms, each optionally followed by a comma (no spaces).
fn permissions_policy(value: &str) -> bool {
    const FEATURES: [&str; 16] = [
        "accelerometer",
        "autoplay",
        "camera",
        "clipboard-read",
        "clipboard-write",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "sync-xhr",
        "usb",
        "xr-spatial-tracking",
    ];
    let lower = value.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while !rest.is_empty() {
        let Some(after) =
            FEATURES.iter().find_map(|f| rest.strip_prefix(f).and_then(|r| r.strip_prefix("=(")))
        else {
            return false;
        };
        let after = after.strip_prefix("self").unwrap_or(after);
        let Some(after) = after.strip_prefix(')') else { return false };
        rest = after.strip_prefix(',').unwrap_or(after);
    }
    true
}

fn referrer_policy(value: &str) -> bool {
    one_of(
        value,
        &[
            "no-referrer",
            "no-referrer-when-downgrade",
            "origin",
            "origin-when-cross-origin",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
            "unsafe-url",
        ],
    )
}

fn xframe_options(value: &str) -> bool {
    one_of(value, &["DENY", "SAMEORIGIN"])
}

fn xpermitted_cross_domain_policies(value: &str) -> bool {
    one_of(value, &["none", "master-only", "by-content-type", "by-ftp-filename"])
}

fn cross_origin_embedder_policy(value: &str) -> bool {
    one_of(value, &["unsafe-none", "require-corp", "credentialless"])
}

fn cross_origin_opener_policy(value: &str) -> bool {
    one_of(value, &["unsafe-none", "same-origin-allow-popups", "same-origin"])
}

fn cross_origin_resource_policy(value: &str) -> bool {
    one_of(value, &["same-site", "same-origin", "cross-origin"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(var: &str, value: &str) -> Option<String> {
        let h = SecurityHeaders::from_lookup(&|v| (v == var).then(|| value.to_string())).expect("headers");
        h.headers().first().map(|(_, v)| v.to_str().expect("text").to_string())
    }

    #[test]
    fn valid_values_pass_through_as_written() {
        for (var, value) in [
            ("CACHE_CONTROL", "no-store, max-age=0"),
            ("CACHE_CONTROL", "Private,No-Cache,  s-maxage=5"),
            ("HSTS", "max-age=63072000;includeSubDomains;preload"),
            ("HSTS", "MAX-AGE=1;PRELOAD"),
            ("PERMISSIONS_POLICY", "camera=(),microphone=(self),"),
            ("PERMISSIONS_POLICY", "Geolocation=(SELF)usb=()"),
            ("REFERRER_POLICY", "Strict-Origin-When-Cross-Origin"),
            ("XCONTENT_TYPE", "nosniff"),
            ("XDOWNLOAD_OPTIONS", "noopen"),
            ("XFRAME_OPTIONS", "sameorigin"),
            ("XPERMITTED_CROSS_DOMAIN_POLICIES", "by-ftp-filename"),
            ("CONTENT_SECURITY_POLICY", "default-src 'self'; img-src *"),
            ("CROSS_ORIGIN_EMBEDDER_POLICY", "credentialless"),
            ("CROSS_ORIGIN_OPENER_POLICY", "same-origin-allow-popups"),
            ("CROSS_ORIGIN_RESOURCE_POLICY", "cross-origin"),
            ("REPORTING_ENDPOINTS", "default=\"https://r.example/\""),
        ] {
            assert_eq!(sent(var, value).as_deref(), Some(value), "{var}={value}");
        }
    }

    #[test]
    fn invalid_values_get_the_fallback_and_are_reported() {
        for (var, value, fallback) in [
            ("CACHE_CONTROL", "no-store,", "no-store, max-age=0"),
            ("CACHE_CONTROL", "max-age=abc", "no-store, max-age=0"),
            ("CACHE_CONTROL", " no-store", "no-store, max-age=0"),
            ("HSTS", "max-age=1; includeSubDomains", "max-age=31536000;includeSubDomains"),
            ("HSTS", "max-age=1;preload;includeSubDomains", "max-age=31536000;includeSubDomains"),
            ("PERMISSIONS_POLICY", "camera=*", "none"),
            ("PERMISSIONS_POLICY", "camera=(), usb=()", "none"),
            ("REFERRER_POLICY", "bogus", "no-referrer"),
            ("XCONTENT_TYPE", "NOSNIFF", "nosniff"),
            ("XDOWNLOAD_OPTIONS", "yes", "noopen"),
            ("XFRAME_OPTIONS", "ALLOW-FROM https://x", "DENY"),
            ("XPERMITTED_CROSS_DOMAIN_POLICIES", "all", "none"),
            ("CROSS_ORIGIN_EMBEDDER_POLICY", "x", "require-corp"),
            ("CROSS_ORIGIN_OPENER_POLICY", "x", "same-origin"),
            ("CROSS_ORIGIN_RESOURCE_POLICY", "x", "same-origin"),
        ] {
            assert_eq!(sent(var, value).as_deref(), Some(fallback), "{var}={value}");
            let h =
                SecurityHeaders::from_lookup(&|v| (v == var).then(|| value.to_string())).expect("headers");
            let r = h.replaced();
            assert_eq!((r.len(), r[0].var, r[0].value.as_str(), r[0].fallback), (1, var, value, fallback));
        }
    }

    #[test]
    fn unset_adds_nothing_and_control_characters_stop_start_up() {
        assert!(SecurityHeaders::from_lookup(&|_| None).expect("headers").is_empty());
        let e =
            SecurityHeaders::from_lookup(&|v| (v == "CONTENT_SECURITY_POLICY").then(|| "a\nb".to_string()))
                .expect_err("error");
        assert_eq!(e.var, "CONTENT_SECURITY_POLICY");
    }
}
