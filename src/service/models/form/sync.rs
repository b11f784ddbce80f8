//! `SyncModelsForm` (the models `POST /models/sync` makes the whole set, each a `ModelModel`)
//! and `ModelVersionForm` (the version `POST /models/model/update/version` makes live).

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::ModelForm;
use super::check::loc;
use crate::error::{AppError, AppResult};
use crate::service::form::{Fields, Loc, Source};

/// One model of a sync: its configuration (`ModelForm`'s rules) and the grants it starts with
/// when it is new. The owner, version and timestamps it names are not kept: the caller owns the
/// models it creates, and every write gets a version and times of its own, as the reference does.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedModel {
    pub form: ModelForm,
    pub access_grants: Vec<Value>,
}

/// `SyncModelsForm`: `{"models": [ModelModel, …]}` (an absent list is empty).
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[schema(as = SyncModelsForm)]
pub struct SyncForm {
    /// Each a `ModelModel`: `id`, `user_id`, `name`, `meta`, `params`, `is_active`, `updated_at`
    /// and `created_at` are required.
    #[schema(value_type = Vec<super::super::ModelView>)]
    pub models: Vec<SyncedModel>,
}

impl SyncForm {
    pub fn from_json(body: &Value) -> AppResult<SyncForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let mut models = Vec::new();
        match map.get("models") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let at = [json!("models"), json!(i)];
                    match item.as_object() {
                        Some(m) => models.extend(synced(&mut c, m, &at)),
                        None => c.model_type(at.to_vec(), item, "ModelModel"),
                    }
                }
            }
            Some(other) => c.list_type("models", other),
        }
        c.finish()?;
        Ok(SyncForm { models })
    }
}

/// One `ModelModel` at `at`.
fn synced(c: &mut Fields, map: &Map<String, Value>, at: &[Value]) -> Option<SyncedModel> {
    let before = c.count();
    let form = ModelForm::read(c, map, at);
    c.string(map, at, "user_id");
    if !map.contains_key("is_active") {
        c.missing_in(loc(at, &[json!("is_active")]), map);
    }
    for time in ["updated_at", "created_at"] {
        epoch(c, map, at, time);
    }
    if c.count() > before {
        return None;
    }
    let mut form = form?;
    // `ModelModel` has no commit message.
    form.commit_message = None;
    let grants = form.access_grants.take();
    // A synced model's `meta` is its whole `meta`: an omitted profile image is none.
    if !form.meta_given.iter().any(|k| k == "profile_image_url") {
        form.meta_given.push("profile_image_url".into());
    }
    Some(SyncedModel { form, access_grants: grants.unwrap_or_default() })
}

/// A required integer field (pydantic's lax `int`: digits in a string count) read into `c`.
pub(crate) fn epoch(c: &mut Fields, map: &Map<String, Value>, at: &[Value], name: &str) -> Option<i64> {
    let here = loc(at, &[json!(name)]);
    match map.get(name) {
        None => {
            c.missing_in(here, map);
            None
        }
        Some(Value::String(s)) => {
            let parsed = s.trim().parse::<i64>().ok();
            if parsed.is_none() {
                c.int_parsing(here, &json!(s));
            }
            parsed
        }
        Some(v) => {
            let n = v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64));
            if n.is_none() {
                c.int_type(here, v);
            }
            n
        }
    }
}

/// `ModelVersionForm`: `{"version_id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(as = ModelVersionForm)]
pub struct VersionForm {
    /// A history entry of the model.
    pub version_id: String,
}

impl VersionForm {
    pub fn from_json(body: &Value) -> AppResult<VersionForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let version_id = c.string(map, Loc::root(), "version_id");
        c.finish()?;
        let version_id = version_id
            .ok_or_else(|| AppError::internal("version form checked without errors but incomplete"))?;
        Ok(VersionForm { version_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Value {
        json!({"id": "m", "user_id": "u", "name": "M", "meta": {}, "params": {}, "is_active": true,
               "updated_at": 1, "created_at": 1})
    }

    #[test]
    fn a_sync_reads_each_model_and_locates_problems_inside_the_list() {
        let f = SyncForm::from_json(&json!({"models": [item()]})).expect("valid");
        assert_eq!(f.models.len(), 1);
        assert_eq!(f.models[0].form.id, "m");
        assert!(f.models[0].form.meta_given.contains(&"profile_image_url".to_string()));
        assert!(SyncForm::from_json(&json!({})).expect("empty").models.is_empty());

        let mut bad = item();
        bad.as_object_mut().expect("object").remove("user_id");
        bad["created_at"] = json!("soon");
        let e = SyncForm::from_json(&json!({"models": [item(), bad, 3]})).expect_err("422");
        let locs: Vec<Value> = e.field_errors().iter().map(|f| json!(f.loc)).collect();
        assert_eq!(
            locs,
            [
                json!(["body", "models", 1, "user_id"]),
                json!(["body", "models", 1, "created_at"]),
                json!(["body", "models", 2]),
            ]
        );
        assert!(SyncForm::from_json(&json!({"models": {}})).is_err());
    }

    #[test]
    fn a_version_form_needs_a_string_version_id() {
        assert_eq!(VersionForm::from_json(&json!({"version_id": "v"})).expect("ok").version_id, "v");
        let e = VersionForm::from_json(&json!({"version_id": 3})).expect_err("422");
        assert_eq!(e.field_errors()[0].kind, "string_type");
        assert_eq!(VersionForm::from_json(&json!({})).expect_err("422").field_errors()[0].kind, "missing");
    }
}
