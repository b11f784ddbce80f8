//! Extractors both interfaces use: the `Caller` (resolved once per request and kept in its
//! extensions), the role proofs, query parameters with typed accessors, and the JSON body reader
//! (size limit, content type). Their failures are duet's own errors in FastAPI's shapes.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::service::form::{Fields, Loc, Source};

impl FromRequestParts<AppState> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let caller = crate::auth::caller::resolve(
            &state.db,
            &state.keys,
            state.redis.as_deref(),
            &parts.headers,
            parts.uri.path(),
        )
        .await;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The role proofs as extractors: they resolve the `Caller` and refuse with its error before any
/// later extractor (the body) runs.
macro_rules! proof_extractor {
    ($($proof:ident),*) => {$(
        impl FromRequestParts<AppState> for crate::auth::$proof {
            type Rejection = AppError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
                let Ok(caller) = Caller::from_request_parts(parts, state).await;
                crate::auth::$proof::of(&caller)
            }
        }
    )*};
}

proof_extractor!(SignedIn, Verified, Admin, Human);

/// Reads and parses a JSON body within the configured size limit.
pub async fn read_json(req: Request, limit: usize) -> Result<Value, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit")
        {
            AppError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
        } else {
            AppError::with_text(
                axum::http::StatusCode::BAD_REQUEST,
                ErrorCode::ValidationError,
                "The request body could not be read.",
            )
        }
    })?;
    let is_json = match &content_type {
        None => true,
        Some(ct) => ct == "application/json" || ct.ends_with("+json"),
    };
    if !is_json || bytes.is_empty() {
        return Err(Fields::error(Source::Body, |f| f.missing(Loc::root(), &Value::Null)));
    }
    serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| Fields::error(Source::Body, |f| f.json_invalid(Loc::root(), &e.to_string())))
}

/// Query parameters as text, read with typed accessors that fail in FastAPI's shape.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let map = parts
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
            })
            .unwrap_or_default();
        Ok(Params(map))
    }
}

impl Params {
    /// The raw text of a parameter, as sent (NUL characters included).
    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// An optional text parameter; text containing NUL is 422 at `["query", name]`.
    pub fn string(&self, name: &str) -> Result<Option<String>, AppError> {
        match self.0.get(name) {
            Some(v) => crate::service::validate::check_query_text(name, v).map(|()| Some(v.clone())),
            None => Ok(None),
        }
    }

    /// A required text parameter; absent is 422 `missing`, text containing NUL 422 too.
    pub fn required_text(&self, name: &str) -> Result<String, AppError> {
        self.string(name)?.ok_or_else(|| Fields::error(Source::Query, |f| f.missing(name, &Value::Null)))
    }

    /// An optional boolean (`true/false/1/0/yes/no/on/off`); anything else is 422 `bool_parsing`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(Fields::error(Source::Query, |f| f.bool_parsing(name, &json!(v)))),
            },
        }
    }

    /// An optional integer; text that is not one is 422 `int_parsing`.
    pub fn int(&self, name: &str) -> Result<Option<i64>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Fields::error(Source::Query, |f| f.int_parsing(name, &json!(v)))),
        }
    }
}
