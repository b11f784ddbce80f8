//! One cell of a row as it travels between databases: the value read (`Value`), the kind of the
//! column it is read from or written to (`Kind`), the conversion to a typed bind for the target
//! column (`Bound`), and a canonical encoding that is equal across backends for equal data (used
//! to compare rows and to checksum tables).

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// What a column holds, whatever its declared type is called on its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Int,
    Real,
    Bool,
    Json,
    Blob,
}

impl Kind {
    /// The kind two columns (source and target) agree on for comparing their values: JSON wins
    /// over text (SQLite keeps JSON as text), a boolean over an integer (SQLite keeps 0/1).
    pub fn logical(a: Kind, b: Kind) -> Kind {
        use Kind::*;
        match (a, b) {
            (Json, _) | (_, Json) => Json,
            (Bool, _) | (_, Bool) => Bool,
            (Int, Int) => Int,
            (Real, Int | Real) | (Int, Real) => Real,
            (Blob, Blob) => Blob,
            _ => Text,
        }
    }
}

/// A value as read from a database.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    Json(Json),
    Blob(Vec<u8>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "t" => Some(true),
                "0" | "false" | "f" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// A short text naming the value in a report (the key of a row).
    pub fn display(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Real(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Json(j) => j.to_string(),
            Value::Blob(b) => format!("<{} bytes>", b.len()),
        }
    }
}

/// A value converted for a bind to a column of a known kind (NULLs keep the column's type, which
/// PostgreSQL needs).
#[derive(Debug, Clone)]
pub enum Bound {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Bool(Option<bool>),
    Blob(Option<Vec<u8>>),
}

impl Bound {
    /// Bytes this bind sends (to cut statements to a sane size).
    pub fn weight(&self) -> usize {
        match self {
            Bound::Text(Some(s)) => s.len(),
            Bound::Blob(Some(b)) => b.len(),
            _ => 8,
        }
    }
}

/// Converts `v` for a column of kind `kind`; `pg` says the target is PostgreSQL, whose text and
/// JSON cannot hold NUL characters. The error names what is wrong, for the report.
pub fn bind(kind: Kind, v: &Value, pg: bool) -> Result<Bound, String> {
    let text = |s: String| -> Result<Option<String>, String> {
        if pg && s.contains('\0') {
            return Err("contains a NUL byte, which PostgreSQL cannot store".into());
        }
        Ok(Some(s))
    };
    Ok(match (kind, v) {
        (Kind::Text, Value::Null) | (Kind::Json, Value::Null) => Bound::Text(None),
        (Kind::Int, Value::Null) => Bound::Int(None),
        (Kind::Real, Value::Null) => Bound::Real(None),
        (Kind::Bool, Value::Null) => Bound::Bool(None),
        (Kind::Blob, Value::Null) => Bound::Blob(None),
        (Kind::Text, Value::Text(s)) => Bound::Text(text(s.clone())?),
        (Kind::Text, Value::Json(j)) => Bound::Text(text(j.to_string())?),
        (Kind::Text, Value::Int(i)) => Bound::Text(Some(i.to_string())),
        (Kind::Text, Value::Real(f)) => Bound::Text(Some(f.to_string())),
        (Kind::Text, Value::Bool(b)) => Bound::Text(Some(b.to_string())),
        (Kind::Text, Value::Blob(b)) => match String::from_utf8(b.clone()) {
            Ok(s) => Bound::Text(text(s)?),
            Err(_) => return Err("is binary, not text".into()),
        },
        (Kind::Json, Value::Json(j)) => Bound::Text(text(json_text(j, pg)?)?),
        (Kind::Json, Value::Text(s)) => match serde_json::from_str::<Json>(s) {
            Ok(j) => Bound::Text(text(json_text(&j, pg)?)?),
            Err(e) => return Err(format!("is not JSON ({e})")),
        },
        (Kind::Json, other) => Bound::Text(Some(json_of_scalar(other).to_string())),
        (Kind::Int, v) => {
            Bound::Int(Some(v.as_i64().ok_or_else(|| format!("is not an integer: {}", short(v)))?))
        }
        (Kind::Bool, v) => {
            Bound::Bool(Some(v.as_bool().ok_or_else(|| format!("is not a boolean: {}", short(v)))?))
        }
        (Kind::Real, Value::Real(f)) => Bound::Real(Some(*f)),
        (Kind::Real, v) => Bound::Real(Some(
            v.as_i64().map(|i| i as f64).ok_or_else(|| format!("is not a number: {}", short(v)))?,
        )),
        (Kind::Blob, Value::Blob(b)) => Bound::Blob(Some(b.clone())),
        (Kind::Blob, Value::Text(s)) => Bound::Blob(Some(s.clone().into_bytes())),
        (Kind::Blob, v) => return Err(format!("is not binary: {}", short(v))),
    })
}

fn short(v: &Value) -> String {
    let s = v.display();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

fn json_of_scalar(v: &Value) -> Json {
    match v {
        Value::Int(i) => Json::from(*i),
        Value::Real(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        Value::Bool(b) => Json::Bool(*b),
        Value::Blob(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        _ => Json::Null,
    }
}

/// Compact JSON text; PostgreSQL's `jsonb` refuses the `\u0000` escape.
fn json_text(j: &Json, pg: bool) -> Result<String, String> {
    let s = j.to_string();
    if pg && s.contains("\\u0000") {
        return Err("holds a NUL character, which PostgreSQL's JSON cannot store".into());
    }
    Ok(s)
}

/// Removes NUL characters from a text; whether there were any.
pub fn strip_nul(s: &mut String) -> bool {
    if s.contains('\0') {
        s.retain(|c| c != '\0');
        true
    } else {
        false
    }
}

/// Removes NUL characters from every string (keys too) of a JSON document; whether there were any.
pub fn strip_nul_json(j: &mut Json) -> bool {
    match j {
        Json::String(s) => strip_nul(s),
        Json::Array(items) => items.iter_mut().fold(false, |acc, v| strip_nul_json(v) | acc),
        Json::Object(map) => {
            let mut found = false;
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (mut k, v) in old {
                    strip_nul(&mut k);
                    map.insert(k, v);
                }
                found = true;
            }
            map.values_mut().fold(found, |acc, v| strip_nul_json(v) | acc)
        }
        _ => false,
    }
}

/// Appends the canonical encoding of `v`, read as `kind`, to `out`: equal for equal data on
/// either backend (JSON with sorted keys and one spelling per number, booleans whether stored as
/// 0/1 or true/false).
pub fn canonical(kind: Kind, v: &Value, out: &mut Vec<u8>) {
    let mut put = |tag: u8, bytes: &[u8]| {
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match (kind, v) {
        (_, Value::Null) => put(0, &[]),
        (Kind::Json, Value::Json(j)) => put(1, canonical_json(j).as_bytes()),
        (Kind::Json, Value::Text(s)) => match serde_json::from_str::<Json>(s) {
            Ok(j) => put(1, canonical_json(&j).as_bytes()),
            Err(_) => put(2, s.as_bytes()),
        },
        (Kind::Bool, v) if v.as_bool().is_some() => put(3, &[u8::from(v.as_bool() == Some(true))]),
        (Kind::Int, v) if v.as_i64().is_some() => put(4, &v.as_i64().unwrap_or(0).to_le_bytes()),
        (Kind::Real, Value::Real(f)) => put(5, &f.to_bits().to_le_bytes()),
        (Kind::Real, Value::Int(i)) => put(5, &(*i as f64).to_bits().to_le_bytes()),
        (_, Value::Text(s)) => put(2, s.as_bytes()),
        (_, Value::Blob(b)) => put(6, b),
        (_, Value::Json(j)) => put(1, canonical_json(j).as_bytes()),
        (_, other) => put(2, other.display().as_bytes()),
    }
}

/// JSON text with object keys sorted and numbers written one way (an integral number is written
/// as an integer, so `1e3`, `1000.0` and `1000` agree, as PostgreSQL's `jsonb` makes them).
pub fn canonical_json(j: &Json) -> String {
    let mut out = String::new();
    write_json(j, &mut out);
    out
}

fn write_json(j: &Json, out: &mut String) {
    match j {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push(':');
                write_json(&map[k], out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => out.push_str(&(f as i64).to_string()),
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// The SHA-256 of a row's canonical encoding, over `kinds` (one per value).
pub fn row_digest(kinds: &[Kind], values: &[Value]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(256);
    for (k, v) in kinds.iter().zip(values) {
        canonical(*k, v, &mut buf);
    }
    Sha256::digest(&buf).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_compared_by_content_not_spelling() {
        let a = Value::Text(r#"{"b": 1e3, "a": [true, null]}"#.into());
        let b = Value::Json(json!({"a": [true, null], "b": 1000}));
        assert_eq!(row_digest(&[Kind::Json], &[a]), row_digest(&[Kind::Json], &[b]));
    }

    #[test]
    fn booleans_stored_as_integers_equal_real_booleans() {
        assert_eq!(
            row_digest(&[Kind::Bool], &[Value::Int(1)]),
            row_digest(&[Kind::Bool], &[Value::Bool(true)])
        );
        assert_ne!(
            row_digest(&[Kind::Bool], &[Value::Int(0)]),
            row_digest(&[Kind::Bool], &[Value::Bool(true)])
        );
    }

    #[test]
    fn null_differs_from_empty_text() {
        assert_ne!(
            row_digest(&[Kind::Text], &[Value::Null]),
            row_digest(&[Kind::Text], &[Value::Text("".into())])
        );
    }

    #[test]
    fn postgres_binds_refuse_nul_and_typed_nulls_keep_their_kind() {
        assert!(bind(Kind::Text, &Value::Text("a\0b".into()), true).is_err());
        assert!(bind(Kind::Text, &Value::Text("a\0b".into()), false).is_ok());
        assert!(bind(Kind::Json, &Value::Json(json!({"a": "x\u{0}"})), true).is_err());
        assert!(matches!(bind(Kind::Int, &Value::Null, true), Ok(Bound::Int(None))));
        assert!(bind(Kind::Json, &Value::Text("{nope".into()), false).is_err());
    }

    #[test]
    fn nul_bytes_are_stripped_from_json_strings_and_keys() {
        let mut j = json!({"k\u{0}": ["a\u{0}b", {"c": "\u{0}"}]});
        assert!(strip_nul_json(&mut j));
        assert_eq!(j, json!({"k": ["ab", {"c": ""}]}));
        assert!(!strip_nul_json(&mut j));
    }
}
