//! Reading one Open WebUI row: its cells by column name (a column an older or newer 0.12 release
//! lacks reads as empty), and typed readers that repair what they can — NUL characters removed,
//! JSON stored as text parsed — noting each repair for the report.

use serde_json::{Map, Value as Json};

use crate::migrate::value::{Value, strip_nul, strip_nul_json};

/// One source row: its columns' names and values.
pub struct Row<'r> {
    pub columns: &'r [String],
    pub values: &'r [Value],
}

const EMPTY: Value = Value::Null;

impl Row<'_> {
    pub fn get(&self, name: &str) -> &Value {
        self.columns.iter().position(|c| c == name).map(|i| &self.values[i]).unwrap_or(&EMPTY)
    }

    /// The row's `id` as text (for reports).
    pub fn id(&self) -> String {
        self.get("id").display()
    }
}

/// What was changed in a row to make it fit, in words.
#[derive(Default)]
pub struct Fixes(pub Vec<String>);

impl Fixes {
    pub fn note(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn text(&self) -> String {
        self.0.join("; ")
    }
}

/// A text cell, NUL characters removed (noted).
pub fn text(row: &Row, col: &str, fixes: &mut Fixes) -> Option<String> {
    let mut s = match row.get(col) {
        Value::Null => return None,
        Value::Text(s) => s.clone(),
        Value::Blob(b) => {
            fixes.note(format!("{col} was not valid UTF-8 (invalid bytes replaced)"));
            String::from_utf8_lossy(b).into_owned()
        }
        Value::Json(Json::String(s)) => s.clone(),
        other => other.display(),
    };
    if strip_nul(&mut s) {
        fixes.note(format!("NUL characters removed from {col}"));
    }
    Some(s)
}

pub fn int(row: &Row, col: &str) -> Option<i64> {
    row.get(col).as_i64()
}

pub fn boolean(row: &Row, col: &str) -> Option<bool> {
    row.get(col).as_bool()
}

/// A JSON cell (stored as JSON, or as JSON text), NUL characters removed; JSON `null` reads as
/// empty. `Err` when the text is not JSON.
pub fn json(row: &Row, col: &str, fixes: &mut Fixes) -> Result<Option<Json>, String> {
    let mut j = match row.get(col) {
        Value::Null => return Ok(None),
        Value::Json(j) => j.clone(),
        Value::Text(s) => match serde_json::from_str::<Json>(s) {
            Ok(j) => j,
            Err(e) => return Err(format!("{col} is not JSON ({e})")),
        },
        Value::Blob(b) => match serde_json::from_slice::<Json>(b) {
            Ok(j) => j,
            Err(e) => return Err(format!("{col} is not JSON ({e})")),
        },
        other => return Err(format!("{col} is not JSON ({})", other.display())),
    };
    if strip_nul_json(&mut j) {
        fixes.note(format!("NUL characters removed from {col}"));
    }
    Ok(if j.is_null() { None } else { Some(j) })
}

/// A JSON cell that should be an object: not JSON, or not an object, becomes `{}` (noted).
pub fn object(row: &Row, col: &str, fixes: &mut Fixes) -> Map<String, Json> {
    match json(row, col, fixes) {
        Ok(Some(Json::Object(m))) => m,
        Ok(None) => Map::new(),
        Ok(Some(_)) => {
            fixes.note(format!("{col} was not a JSON object (emptied)"));
            Map::new()
        }
        Err(e) => {
            fixes.note(format!("{e} (emptied)"));
            Map::new()
        }
    }
}

/// A JSON cell that may be empty: not JSON becomes empty (noted).
pub fn optional_json(row: &Row, col: &str, fixes: &mut Fixes) -> Value {
    match json(row, col, fixes) {
        Ok(Some(j)) => Value::Json(j),
        Ok(None) => Value::Null,
        Err(e) => {
            fixes.note(format!("{e} (emptied)"));
            Value::Null
        }
    }
}

pub fn opt_text(v: Option<String>) -> Value {
    v.map(Value::Text).unwrap_or(Value::Null)
}

pub fn opt_int(v: Option<i64>) -> Value {
    v.map(Value::Int).unwrap_or(Value::Null)
}
