//! CORS, as Open WebUI 0.12.4 answers it (Starlette's `CORSMiddleware` with the origins of
//! `CORS_ALLOW_ORIGIN`, credentials allowed, every method and header allowed).
//!
//! * A request without `Origin` passes through; its answer gains `Vary: Origin`.
//! * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here, for
//!   any path and before authentication: `200 OK` (body `OK`) with the allowed origin echoed,
//!   `Access-Control-Allow-Credentials: true`, the method list, `Access-Control-Max-Age: 600` and the
//!   requested headers mirrored; a refused origin, an unknown method or a private-network request
//!   is `400 Disallowed CORS <what>` without `Access-Control-Allow-Origin`. These answers never reach
//!   the security-headers layer.
//! * Any other request with `Origin` reaches the route; its answer gains
//!   `Access-Control-Allow-Credentials: true` and `Vary: Origin`, plus `Access-Control-Allow-Origin`:
//!   with `*`, `*` — or the request's origin when the request carries a cookie; with a list, the
//!   request's origin when it is listed, nothing otherwise.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::config::ConfigError;

/// The methods a preflight may ask for (Starlette's list for `allow_methods=["*"]`).
pub const ALLOWED_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY";
/// `Access-Control-Max-Age` of a preflight answer, in seconds.
pub const MAX_AGE: &str = "600";
/// `Vary` of every preflight answer.
pub const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

const REQUEST_PRIVATE_NETWORK: &str = "access-control-request-private-network";

/// The origins `CORS_ALLOW_ORIGIN` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*` (the default): every origin, credentials included.
    Any,
    /// Exactly these origins (compared with the request's `Origin` as written).
    List(Vec<String>),
}

impl CorsOrigins {
    /// Parses `CORS_ALLOW_ORIGIN` (`None` = unset or empty ⇒ `*`): `*` alone, or a `;`-separated list
    /// whose every entry is a URL with a host and the scheme `http`, `https` or one listed in
    /// `CORS_ALLOW_CUSTOM_SCHEME` (`;`-separated). Anything else stops start-up.
    pub fn parse(origins: Option<&str>, custom_schemes: Option<&str>) -> Result<Self, ConfigError> {
        const VAR: &str = "CORS_ALLOW_ORIGIN";
        let Some(origins) = origins else { return Ok(CorsOrigins::Any) };
        if origins.trim() == "*" {
            return Ok(CorsOrigins::Any);
        }
        let custom: Vec<String> = custom_schemes
            .unwrap_or("")
            .split(';')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        let mut list = Vec::new();
        for entry in origins.split(';').map(str::trim) {
            if entry == "*" {
                return Err(ConfigError::new(
                    VAR,
                    format!("'*' must be used alone, not in a list of origins ({origins:?})"),
                ));
            }
            let (scheme, host) = split_origin(entry);
            let scheme = scheme.to_ascii_lowercase();
            if !(scheme == "http" || scheme == "https" || custom.contains(&scheme)) {
                return Err(ConfigError::new(
                    VAR,
                    format!(
                        "invalid scheme in {entry:?}: only http, https and the schemes listed in CORS_ALLOW_CUSTOM_SCHEME are allowed"
                    ),
                ));
            }
            if host.is_empty() {
                return Err(ConfigError::new(VAR, format!("invalid URL structure in {entry:?}: no host")));
            }
            list.push(entry.to_string());
        }
        Ok(CorsOrigins::List(list))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            CorsOrigins::Any => true,
            CorsOrigins::List(list) => list.iter().any(|o| o.as_bytes() == origin.as_bytes()),
        }
    }
}

/// Splits `scheme://host…` as Python's `urlsplit` does: the scheme (empty when there is none) and
/// the network location (empty when there is none).
fn split_origin(url: &str) -> (&str, &str) {
    let Some((scheme, rest)) = url.split_once(':') else { return ("", "") };
    let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return ("", "");
    }
    let host = rest.strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or("")).unwrap_or("");
    (scheme, host)
}

/// What CORS needs to know about a request before it is handled.
pub enum Seen {
    /// A preflight, answered here without running the route.
    Preflight(Response),
    /// Any other request: its `Origin` and whether it carries cookies.
    Request { origin: Option<HeaderValue>, has_cookie: bool },
}

/// Looks at a request on its way in (see the module documentation).
pub fn inbound(origins: &CorsOrigins, method: &Method, headers: &HeaderMap) -> Seen {
    let origin = headers.get(header::ORIGIN).cloned();
    if let Some(origin) = &origin
        && method == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Seen::Preflight(preflight(origins, headers, origin.clone()));
    }
    Seen::Request { origin, has_cookie: headers.contains_key(header::COOKIE) }
}

/// Adds the CORS headers to the answer of a request that was not a preflight.
pub fn outbound(
    origins: &CorsOrigins,
    origin: Option<HeaderValue>,
    has_cookie: bool,
    headers: &mut HeaderMap,
) {
    if let Some(origin) = origin {
        if matches!(*origins, CorsOrigins::Any) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        let echo = match *origins {
            // With credentials allowed, a request carrying cookies needs its own origin back.
            CorsOrigins::Any => has_cookie,
            CorsOrigins::List(_) => origins.allows(&origin),
        };
        if echo {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
    }
    add_vary_origin(headers);
}

/// The answer to a preflight.
fn preflight(origins: &CorsOrigins, request: &HeaderMap, origin: HeaderValue) -> Response {
    let mut failures = Vec::new();
    let mut res = Response::new(Body::empty());
    let headers = res.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    if origins.allows(&origin) {
        // Credentials are allowed, so the origin is echoed even for `*`.
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    } else {
        failures.push("origin");
    }
    let method = request.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|m| m.to_str().ok());
    if !method.is_some_and(|m| ALLOWED_METHODS.split(", ").any(|allowed| allowed == m)) {
        failures.push("method");
    }
    if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        // Every header is allowed: mirror the request.
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    if request.contains_key(REQUEST_PRIVATE_NETWORK) {
        failures.push("private-network");
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if failures.is_empty() {
        *res.body_mut() = Body::from("OK");
    } else {
        *res.status_mut() = StatusCode::BAD_REQUEST;
        *res.body_mut() = Body::from(format!("Disallowed CORS {}", failures.join(", ")));
    }
    res
}

/// Adds `Origin` to `Vary` unless it (or `*`) is already there, keeping the other values.
fn add_vary_origin(headers: &mut HeaderMap) {
    let present = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("origin") || t.trim() == "*")
    });
    if present {
        return;
    }
    let existing: Vec<HeaderValue> = headers.get_all(header::VARY).iter().cloned().collect();
    match existing.as_slice() {
        [] => {
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        [one] => {
            let joined = format!("{}, Origin", one.to_str().unwrap_or(""));
            match HeaderValue::from_str(&joined) {
                Ok(v) => {
                    headers.insert(header::VARY, v);
                }
                Err(_) => {
                    headers.append(header::VARY, HeaderValue::from_static("Origin"));
                }
            }
        }
        _ => {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(origins: &str) -> Result<CorsOrigins, ConfigError> {
        CorsOrigins::parse(Some(origins), None)
    }

    #[test]
    fn star_or_unset_allows_every_origin() {
        assert_eq!(CorsOrigins::parse(None, None), Ok(CorsOrigins::Any));
        assert_eq!(parse("*"), Ok(CorsOrigins::Any));
    }

    #[test]
    fn a_list_keeps_each_origin_as_written() {
        assert_eq!(
            parse("http://a.example;https://b.example:8443; HTTP://C.example"),
            Ok(CorsOrigins::List(vec![
                "http://a.example".into(),
                "https://b.example:8443".into(),
                "HTTP://C.example".into()
            ]))
        );
    }

    #[test]
    fn bad_entries_name_the_variable() {
        for bad in
            ["ftp://x", "not a url", "http://", "localhost:3000", "*;http://a.example", "http://a.example;"]
        {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.var, "CORS_ALLOW_ORIGIN", "{bad}");
        }
        assert!(parse("ftp://x").expect_err("error").message.contains("invalid scheme"));
        assert!(parse("http://").expect_err("error").message.contains("invalid URL structure"));
    }

    #[test]
    fn custom_schemes_are_allowed_when_listed() {
        assert!(parse("app://local").is_err());
        assert_eq!(
            CorsOrigins::parse(Some("app://local;http://a.example"), Some("tauri;APP")),
            Ok(CorsOrigins::List(vec!["app://local".into(), "http://a.example".into()]))
        );
        assert!(CorsOrigins::parse(Some("app:local"), Some("app")).is_err());
    }

    #[test]
    fn vary_gains_origin_once() {
        let mut h = HeaderMap::new();
        add_vary_origin(&mut h);
        assert_eq!(h[header::VARY], "Origin");
        add_vary_origin(&mut h);
        assert_eq!(h.get_all(header::VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        add_vary_origin(&mut h);
        assert_eq!(h[header::VARY], "Accept-Encoding, Origin");
    }
}
