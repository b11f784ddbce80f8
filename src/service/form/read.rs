//! Reading the fields of a JSON object into typed values, recording pydantic's error for each
//! field that is absent or of the wrong type. `at` is where the object sits in the form
//! (`Loc::root()` for the form itself); every error is located at `at` + the field's name.

use serde_json::{Map, Value};

use super::{Fields, Loc, Source};
use crate::error::AppResult;

impl Fields {
    /// The form as a JSON object; 422 `model_attributes_type` otherwise.
    pub fn object_form(source: Source, value: &Value) -> AppResult<&Map<String, Value>> {
        value
            .as_object()
            .ok_or_else(|| Fields::error(source, |f| f.model_attributes_type(Loc::root(), value)))
    }

    /// A required string.
    pub fn string(&mut self, map: &Map<String, Value>, at: impl Into<Loc>, name: &str) -> Option<String> {
        self.field(map, at.into(), name, true, |v| v.as_str().map(str::to_owned), Fields::string_type)
    }

    /// An optional string (absent or null ⇒ `None`).
    pub fn opt_string(&mut self, map: &Map<String, Value>, at: impl Into<Loc>, name: &str) -> Option<String> {
        self.field(map, at.into(), name, false, |v| v.as_str().map(str::to_owned), Fields::string_type)
    }

    /// A required JSON object.
    pub fn object(
        &mut self,
        map: &Map<String, Value>,
        at: impl Into<Loc>,
        name: &str,
    ) -> Option<Map<String, Value>> {
        self.field(map, at.into(), name, true, |v| v.as_object().cloned(), Fields::dict_type)
    }

    /// An optional JSON object (absent or null ⇒ `None`).
    pub fn opt_object(
        &mut self,
        map: &Map<String, Value>,
        at: impl Into<Loc>,
        name: &str,
    ) -> Option<Map<String, Value>> {
        self.field(map, at.into(), name, false, |v| v.as_object().cloned(), Fields::dict_type)
    }

    /// A required JSON array.
    pub fn array(&mut self, map: &Map<String, Value>, at: impl Into<Loc>, name: &str) -> Option<Vec<Value>> {
        self.field(map, at.into(), name, true, |v| v.as_array().cloned(), Fields::list_type)
    }

    /// An optional strict boolean (absent or null ⇒ `None`).
    pub fn opt_bool(&mut self, map: &Map<String, Value>, at: impl Into<Loc>, name: &str) -> Option<bool> {
        self.field(map, at.into(), name, false, Value::as_bool, Fields::bool_type)
    }

    /// An optional strict integer (absent or null ⇒ `None`).
    pub fn opt_int(&mut self, map: &Map<String, Value>, at: impl Into<Loc>, name: &str) -> Option<i64> {
        self.field(map, at.into(), name, false, |v| v.as_i64().filter(|_| v.is_i64()), Fields::int_type)
    }

    /// Field `name` of `map` read by `pick`; a value `pick` refuses is reported by `wrong`. An
    /// absent field is `missing` when `required`; otherwise absent and null are `None`.
    fn field<T>(
        &mut self,
        map: &Map<String, Value>,
        at: Loc,
        name: &str,
        required: bool,
        pick: impl FnOnce(&Value) -> Option<T>,
        wrong: impl FnOnce(&mut Fields, Loc, &Value),
    ) -> Option<T> {
        match map.get(name) {
            None if required => {
                self.missing_in(at.at(name), map);
                None
            }
            None => None,
            Some(Value::Null) if !required => None,
            Some(value) => {
                let picked = pick(value);
                if picked.is_none() {
                    wrong(self, at.at(name), value);
                }
                picked
            }
        }
    }

    /// pydantic's lax boolean: `true`/`false`, `0`/`1`, and the texts `0 off f false n no` /
    /// `1 on t true y yes` (any case, trimmed).
    pub fn lax_bool(&mut self, value: &Value, loc: impl Into<Loc>) -> Option<bool> {
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
                self.bool_parsing(loc, value);
            } else {
                self.bool_type(loc, value);
            }
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_read_or_reported() {
        let form = json!({"s": "x", "n": 3, "o": {}, "b": "yes"});
        let map = form.as_object().expect("object");
        let mut f = Fields::body();
        assert_eq!(f.string(map, Loc::root(), "s").as_deref(), Some("x"));
        assert_eq!(f.opt_string(map, Loc::root(), "absent"), None);
        assert!(f.is_empty());
        assert_eq!(f.string(map, Loc::root(), "n"), None);
        assert_eq!(f.object(map, Loc::from("outer"), "absent"), None);
        assert_eq!(f.opt_bool(map, Loc::root(), "b"), None);
        assert_eq!(f.lax_bool(&json!("yes"), "b"), Some(true));
        assert_eq!(f.lax_bool(&json!([]), "b"), None);
        let d = f.into_error().body()["detail"].clone();
        let kinds: Vec<&str> =
            d.as_array().expect("list").iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(kinds, ["string_type", "missing", "bool_type", "bool_type"]);
        assert_eq!(d[1]["loc"], json!(["body", "outer", "absent"]));
        assert_eq!(d[1]["input"], form);
        assert!(Fields::object_form(Source::Body, &json!([1])).is_err());
    }
}
