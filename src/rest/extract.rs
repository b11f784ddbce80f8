//! REST request bodies read field by field (`Form`, `FormReader`, `Body`), failing in FastAPI's
//! shapes; the extractors shared with GraphQL (`Params`, `read_json`, the `Caller`, the role
//! proofs) live in `http::extract` and are re-exported here.

use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::error::{AppError, FieldError};
use crate::http::extract::body_error;
pub use crate::http::extract::{Params, read_json};

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
