//! The models forms' own field readers over `Fields` (the id rule, `list[dict]`), and `loc`.

use serde_json::{Map, Value, json};

use super::{ID_PATTERN, ModelId};
use crate::service::form::Fields;

pub(super) fn loc(base: &[Value], more: &[Value]) -> Vec<Value> {
    base.iter().chain(more).cloned().collect()
}

/// A required string matching `^\S+$` (`id` fields).
pub(super) fn id(c: &mut Fields, map: &Map<String, Value>, base: &[Value], name: &str) -> Option<String> {
    let id = c.string(map, base, name)?;
    match ModelId::parse(&id) {
        Some(id) => Some(id.into_string()),
        None => {
            c.pattern_mismatch(loc(base, &[json!(name)]), &json!(id), ID_PATTERN);
            None
        }
    }
}

/// `list[dict] | None` (or `list[dict]` when `required`).
pub(super) fn dict_list(
    c: &mut Fields,
    map: &Map<String, Value>,
    base: &[Value],
    name: &str,
    required: bool,
) -> Option<Vec<Value>> {
    match map.get(name) {
        None if required => {
            c.missing_in(loc(base, &[json!(name)]), map);
            None
        }
        None => None,
        Some(Value::Null) if !required => None,
        Some(Value::Array(list)) => {
            let mut ok = true;
            for (i, item) in list.iter().enumerate() {
                if !item.is_object() {
                    c.dict_type(loc(base, &[json!(name), json!(i)]), item);
                    ok = false;
                }
            }
            ok.then(|| list.clone())
        }
        Some(other) => {
            c.list_type(loc(base, &[json!(name)]), other);
            None
        }
    }
}
