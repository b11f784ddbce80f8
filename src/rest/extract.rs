//! REST request bodies read field by field (`Form`, `FormReader`, `Body`), failing in FastAPI's
//! shapes; the extractors shared with GraphQL (`Params`, `read_json`, the `Caller`, the role
//! proofs) live in `http::extract` and are re-exported here.

use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::AppError;
pub use crate::http::extract::{Params, read_json};
use crate::service::form::{Fields, Loc, Source};

/// Reads the fields of a JSON body object, collecting pydantic-style errors for every bad field
/// (a `Fields` collector for the body).
pub struct FormReader<'a> {
    map: &'a Map<String, Value>,
    at: Loc,
    fields: Fields,
}

impl<'a> FormReader<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        FormReader { map, at: Loc::root(), fields: Fields::new(Source::Body) }
    }

    /// A reader for an object nested at `path` inside the body (errors are located there).
    pub fn nested(map: &'a Map<String, Value>, path: Vec<Value>) -> Self {
        FormReader { map, at: Loc::from(path), fields: Fields::new(Source::Body) }
    }

    /// Errors of a nested reader become this reader's.
    pub fn absorb(&mut self, other: FormReader<'_>) {
        self.fields.absorb(other.fields);
    }

    /// An optional JSON object (absent or null ⇒ `None`).
    pub fn opt_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        self.fields.opt_object(self.map, &self.at, name)
    }

    /// An optional boolean (absent or null ⇒ `None`).
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        self.fields.opt_bool(self.map, &self.at, name)
    }

    /// An optional integer (absent or null ⇒ `None`).
    pub fn opt_int(&mut self, name: &str) -> Option<i64> {
        self.fields.opt_int(self.map, &self.at, name)
    }

    /// A required JSON array.
    pub fn array(&mut self, name: &str) -> Vec<Value> {
        self.fields.array(self.map, &self.at, name).unwrap_or_default()
    }

    /// Records that the element at `index` of array `name` is not an object.
    pub fn not_an_object(&mut self, name: &str, index: usize, input: Value) {
        self.fields.model_type_unnamed(self.at.at(name).at(index), &input);
    }

    /// The raw value of a field.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    /// A required string.
    pub fn string(&mut self, name: &str) -> String {
        self.fields.string(self.map, &self.at, name).unwrap_or_default()
    }

    /// An optional string (absent or null ⇒ `None`).
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        self.fields.opt_string(self.map, &self.at, name)
    }

    /// A required JSON object.
    pub fn object(&mut self, name: &str) -> Map<String, Value> {
        self.fields.object(self.map, &self.at, name).unwrap_or_default()
    }

    /// `Ok` when every field read well, else the 422 listing every bad one.
    pub fn finish(self) -> Result<(), AppError> {
        self.fields.finish()
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
        crate::service::validate::check_no_nul(Source::Body, &value)?;
        let map = Fields::object_form(Source::Body, &value)?;
        let mut reader = FormReader::new(map);
        let form = T::read(&mut reader);
        reader.finish()?;
        Ok(Body(form))
    }
}
