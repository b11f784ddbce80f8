//! `Check`: the collector of pydantic-style validation errors (FastAPI's 422 shape) the forms use.

use serde_json::{Map, Value, json};

use super::ID_PATTERN;
use crate::error::{AppError, AppResult, FieldError};

/// Collects pydantic-style errors located under `body`.
pub(super) struct Check {
    pub(super) errors: Vec<FieldError>,
}

pub(super) fn loc(base: &[Value], more: &[Value]) -> Vec<Value> {
    base.iter().chain(more).cloned().collect()
}

impl Check {
    pub(super) fn new() -> Self {
        Check { errors: Vec::new() }
    }

    pub(super) fn push(
        &mut self,
        kind: &'static str,
        loc: Vec<Value>,
        msg: impl Into<String>,
        input: &Value,
        ctx: Option<Value>,
    ) {
        self.errors.push(FieldError { kind, loc, msg: msg.into(), input: input.clone(), ctx });
    }

    pub(super) fn missing(&mut self, loc: Vec<Value>, parent: &Map<String, Value>) {
        self.push("missing", loc, "Field required", &Value::Object(parent.clone()), None);
    }

    pub(super) fn string_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("string_type", loc, "Input should be a valid string", input, None);
    }

    pub(super) fn dict_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("dict_type", loc, "Input should be a valid dictionary", input, None);
    }

    pub(super) fn list_type(&mut self, loc: Vec<Value>, input: &Value) {
        self.push("list_type", loc, "Input should be a valid list", input, None);
    }

    pub(super) fn model_type(&mut self, loc: Vec<Value>, input: &Value, class: &str) {
        self.push(
            "model_type",
            loc,
            format!("Input should be a valid dictionary or instance of {class}"),
            input,
            Some(json!({"class_name": class})),
        );
    }

    pub(super) fn pattern(&mut self, loc: Vec<Value>, input: &Value, pattern: &str) {
        self.push(
            "string_pattern_mismatch",
            loc,
            format!("String should match pattern '{pattern}'"),
            input,
            Some(json!({"pattern": pattern})),
        );
    }

    pub(super) fn value_error(&mut self, loc: Vec<Value>, input: &Value, error: &str) {
        self.push("value_error", loc, format!("Value error, {error}"), input, Some(json!({"error": error})));
    }

    /// A required string.
    pub(super) fn string(&mut self, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
        match map.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            None => {
                self.missing(loc(base, &[json!(name)]), map);
                None
            }
            Some(other) => {
                self.string_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    /// An optional string or null.
    pub(super) fn opt_string(
        &mut self,
        map: &Map<String, Value>,
        base: &[Value],
        name: &str,
    ) -> Option<String> {
        match map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.string_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    /// A string matching `^\S+$` (`id` fields).
    pub(super) fn id(&mut self, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
        let id = self.string(map, base, name)?;
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            self.pattern(loc(base, &[json!(name)]), &json!(id), ID_PATTERN);
            return None;
        }
        Some(id)
    }

    /// pydantic's lax boolean.
    pub(super) fn lax_bool(&mut self, value: &Value, at: Vec<Value>) -> Option<bool> {
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
            Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
                "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            if matches!(value, Value::String(_) | Value::Number(_)) {
                self.push(
                    "bool_parsing",
                    at,
                    "Input should be a valid boolean, unable to interpret input",
                    value,
                    None,
                );
            } else {
                self.push("bool_type", at, "Input should be a valid boolean", value, None);
            }
        }
        parsed
    }

    /// `list[dict] | None`.
    pub(super) fn dict_list(
        &mut self,
        map: &Map<String, Value>,
        base: &[Value],
        name: &str,
        required: bool,
    ) -> Option<Vec<Value>> {
        match map.get(name) {
            None if required => {
                self.missing(loc(base, &[json!(name)]), map);
                None
            }
            None => None,
            Some(Value::Null) if !required => None,
            Some(Value::Array(list)) => {
                let mut ok = true;
                for (i, item) in list.iter().enumerate() {
                    if !item.is_object() {
                        self.dict_type(loc(base, &[json!(name), json!(i)]), item);
                        ok = false;
                    }
                }
                ok.then(|| list.clone())
            }
            Some(other) => {
                self.list_type(loc(base, &[json!(name)]), other);
                None
            }
        }
    }

    pub(super) fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::validation(self.errors)) }
    }
}
