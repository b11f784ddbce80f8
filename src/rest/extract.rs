//! Request extractors whose failures are duet's own errors in FastAPI's shapes: JSON bodies read
//! field by field (`Form`), query parameters, and the `Caller`.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode, FieldError};

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

/// Reads the fields of a JSON object, collecting pydantic-style errors for every bad field.
pub struct FormReader<'a> {
    map: &'a Map<String, Value>,
    prefix: Vec<Value>,
    errors: Vec<FieldError>,
}

impl<'a> FormReader<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        FormReader { map, prefix: vec![json!("body")], errors: Vec::new() }
    }

    /// A reader for an object nested at `path` inside the body (errors are located there).
    pub fn nested(map: &'a Map<String, Value>, path: Vec<Value>) -> Self {
        let mut prefix = vec![json!("body")];
        prefix.extend(path);
        FormReader { map, prefix, errors: Vec::new() }
    }

    fn push(&mut self, kind: &'static str, name: &str, msg: &str, input: Value) {
        let mut loc = self.prefix.clone();
        loc.push(json!(name));
        self.errors.push(FieldError { kind, loc, msg: msg.to_string(), input, ctx: None });
    }

    /// Errors of a nested reader become this reader's.
    pub fn absorb(&mut self, other: FormReader<'_>) {
        self.errors.extend(other.errors);
    }

    /// An optional JSON object (absent or null ⇒ `None`).
    pub fn opt_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                self.push("dict_type", name, "Input should be a valid dictionary", other.clone());
                None
            }
        }
    }

    /// An optional boolean (absent or null ⇒ `None`).
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.push("bool_type", name, "Input should be a valid boolean", other.clone());
                None
            }
        }
    }

    /// An optional integer (absent or null ⇒ `None`).
    pub fn opt_int(&mut self, name: &str) -> Option<i64> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) if v.is_i64() => v.as_i64(),
            Some(other) => {
                self.push("int_type", name, "Input should be a valid integer", other.clone());
                None
            }
        }
    }

    /// A required JSON array.
    pub fn array(&mut self, name: &str) -> Vec<Value> {
        match self.map.get(name) {
            Some(Value::Array(a)) => a.clone(),
            None => {
                self.missing(name);
                Vec::new()
            }
            Some(other) => {
                self.push("list_type", name, "Input should be a valid list", other.clone());
                Vec::new()
            }
        }
    }

    /// Records that the element at `index` of array `name` is not an object.
    pub fn not_an_object(&mut self, name: &str, index: usize, input: Value) {
        let mut loc = self.prefix.clone();
        loc.push(json!(name));
        loc.push(json!(index));
        self.errors.push(FieldError {
            kind: "model_type",
            loc,
            msg: "Input should be a valid dictionary or instance of the model".into(),
            input,
            ctx: None,
        });
    }

    fn missing(&mut self, name: &str) {
        let input = Value::Object(self.map.clone());
        self.push("missing", name, "Field required", input);
    }

    /// The raw value of a field.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    /// A required string.
    pub fn string(&mut self, name: &str) -> String {
        match self.map.get(name) {
            Some(Value::String(s)) => s.clone(),
            None => {
                self.missing(name);
                String::new()
            }
            Some(other) => {
                self.push("string_type", name, "Input should be a valid string", other.clone());
                String::new()
            }
        }
    }

    /// An optional string (absent or null ⇒ `None`).
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.push("string_type", name, "Input should be a valid string", other.clone());
                None
            }
        }
    }

    /// A required JSON object.
    pub fn object(&mut self, name: &str) -> Map<String, Value> {
        match self.map.get(name) {
            Some(Value::Object(m)) => m.clone(),
            None => {
                self.missing(name);
                Map::new()
            }
            Some(other) => {
                self.push("dict_type", name, "Input should be a valid dictionary", other.clone());
                Map::new()
            }
        }
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

/// A request form read from a JSON object.
pub trait Form: Sized {
    fn read(r: &mut FormReader<'_>) -> Self;
}

/// A whole JSON value (for forms validated in the service layer).
impl Form for Value {
    fn read(r: &mut FormReader<'_>) -> Self {
        Value::Object(r.map.clone())
    }
}

/// A JSON body parsed into `T`; failures are 422 in FastAPI's shape, an oversized body 413, and
/// a body with a NUL character in any string (key or value) 422 located at that string.
pub struct Body<T>(pub T);

fn body_error(kind: &'static str, msg: &str, input: Value, ctx: Option<Value>) -> AppError {
    AppError::validation(vec![FieldError {
        kind,
        loc: vec![json!("body")],
        msg: msg.to_string(),
        input,
        ctx,
    }])
}

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
        return Err(body_error("missing", "Field required", Value::Null, None));
    }
    serde_json::from_slice::<Value>(&bytes).map_err(|e| {
        body_error("json_invalid", "JSON decode error", json!({}), Some(json!({"error": e.to_string()})))
    })
}

impl<T: Form> FromRequest<AppState> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = read_json(req, state.config.request_body_limit).await?;
        crate::service::validate::check_no_nul("body", &value)?;
        let Value::Object(map) = &value else {
            return Err(body_error(
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
                value.clone(),
                None,
            ));
        };
        let mut reader = FormReader::new(map);
        let form = T::read(&mut reader);
        reader.finish().map_err(AppError::validation)?;
        Ok(Body(form))
    }
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
        self.string(name)?.ok_or_else(|| {
            AppError::validation(vec![FieldError {
                kind: "missing",
                loc: vec![json!("query"), json!(name)],
                msg: "Field required".into(),
                input: Value::Null,
                ctx: None,
            }])
        })
    }

    /// An optional boolean (`true/false/1/0/yes/no/on/off`); anything else is 422 `bool_parsing`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(AppError::validation(vec![FieldError {
                    kind: "bool_parsing",
                    loc: vec![json!("query"), json!(name)],
                    msg: "Input should be a valid boolean, unable to interpret input".into(),
                    input: Value::String(v.clone()),
                    ctx: None,
                }])),
            },
        }
    }

    /// An optional integer; text that is not one is 422 `int_parsing`.
    pub fn int(&self, name: &str) -> Result<Option<i64>, AppError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                AppError::validation(vec![FieldError {
                    kind: "int_parsing",
                    loc: vec![json!("query"), json!(name)],
                    msg: "Input should be a valid integer, unable to parse string as an integer".into(),
                    input: Value::String(v.clone()),
                    ctx: None,
                }])
            }),
        }
    }
}
