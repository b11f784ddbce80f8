//! What a version must be able to use before it goes live (`POST /models/model/update/version`,
//! the reference's `_verify_version_dependencies`): its base model is in the chat model list, and
//! the knowledge, notes, skills, tools, functions and terminal its `meta` names exist. Duet
//! stores none of those, so a version naming any is refused with the reference's text for a
//! missing one.

use std::collections::HashSet;

use serde_json::Value;

use super::ModelForm;
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::models as db_models;

fn refused(text: String) -> AppError {
    AppError::bad_request_with(ErrorCode::VersionDependencyUnavailable, text)
}

/// A JSON value as Python's truth test sees it.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// An id as the reference's messages print it.
fn shown(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The items of list `key` of `meta` (nothing when it is not a list).
fn items<'a>(meta: &'a serde_json::Map<String, Value>, key: &str) -> &'a [Value] {
    meta.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// 400 with the reference's text for the first thing the version cannot use.
pub(super) async fn check_dependencies(app: &App, form: &ModelForm) -> AppResult<()> {
    if let Some(base) = form.base_model_id.as_deref().filter(|b| !b.is_empty())
        && !listed_ids(app).await?.contains(base)
    {
        return Err(AppError::bad_request(ErrorCode::VersionDependencyUnavailable));
    }
    let meta = &form.meta;
    for item in items(meta, "knowledge") {
        let Some(item) = item.as_object() else { continue };
        let id = item.get("id").unwrap_or(&Value::Null);
        if !truthy(id) || item.get("legacy").is_some_and(truthy) {
            continue;
        }
        return Err(match item.get("type").and_then(Value::as_str) {
            Some("file") => refused("A referenced knowledge file is missing or inaccessible.".into()),
            Some("note") => refused(format!("Referenced note is unavailable: {}", shown(id))),
            _ => refused(format!("Referenced knowledge is unavailable: {}", shown(id))),
        });
    }
    if let Some(skill) = items(meta, "skillIds").first() {
        return Err(refused(format!("Referenced skill is unavailable: {}", shown(skill))));
    }
    if !items(meta, "toolIds").is_empty() {
        return Err(refused("A referenced tool is missing or inaccessible.".into()));
    }
    for key in ["filterIds", "defaultFilterIds", "actionIds"] {
        if let Some(function) = items(meta, key).first() {
            return Err(refused(format!("A referenced function is unavailable: {}", shown(function))));
        }
    }
    if meta.get("terminalId").is_some_and(truthy) {
        return Err(refused("The referenced terminal is missing or inaccessible.".into()));
    }
    Ok(())
}

/// The ids of the chat model list before any access rule (as `GET /api/models` builds it):
/// upstream models not hidden by an inactive settings row, and the active presets that reach one
/// (directly, by Ollama name without `:tag`, or through another preset).
async fn listed_ids(app: &App) -> AppResult<HashSet<String>> {
    let upstream = app.upstream.models(false).await;
    let rows = db_models::all(&app.db).await?;
    let mut reachable: HashSet<String> = HashSet::new();
    let mut listed: HashSet<String> = HashSet::new();
    for m in upstream.iter() {
        let Some(id) = m.get("id").and_then(Value::as_str) else { continue };
        reachable.insert(id.to_string());
        if m.get("owned_by").and_then(Value::as_str) == Some("ollama") {
            reachable.insert(id.split(':').next().unwrap_or(id).to_string());
        }
        listed.insert(id.to_string());
    }
    for row in rows.iter().filter(|r| r.base_model_id.is_none() && !r.is_active) {
        listed.remove(&row.id);
    }
    let mut presets: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.is_active && !listed.contains(&r.id))
        .filter_map(|r| r.base_model_id.as_deref().map(|b| (r.id.as_str(), b)))
        .collect();
    loop {
        let before = presets.len();
        presets.retain(|(id, base)| {
            let short = base.split(':').next().unwrap_or(base);
            if reachable.contains(*base) || reachable.contains(short) {
                reachable.insert(id.to_string());
                listed.insert(id.to_string());
                false
            } else {
                true
            }
        });
        if presets.len() == before {
            break;
        }
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truth_and_ids_read_as_in_python() {
        for v in [json!(null), json!(false), json!(0), json!(""), json!([]), json!({})] {
            assert!(!truthy(&v), "{v}");
        }
        for v in [json!(true), json!(2), json!("t"), json!([0]), json!({"a": 1})] {
            assert!(truthy(&v), "{v}");
        }
        assert_eq!(shown(&json!("k1")), "k1");
        assert_eq!(shown(&json!(7)), "7");
    }
}
