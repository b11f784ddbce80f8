//! The request forms of the models API: `ModelForm` (create, update, each import item),
//! `AccessForm`, `ModelIdForm`, `ModelsImportForm` (and, in `sync`, the sync and version forms),
//! validated in FastAPI's 422 shape and named in the OpenAPI document as the reference's pydantic
//! forms, and the id rule.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::service::form::{Fields, Loc, Source};

mod check;
mod meta;
mod params;
mod sync;

use check::{dict_list, id, loc};
use meta::check_meta;
use params::check_params;
pub use sync::{SyncForm, SyncedModel, VersionForm};

/// The longest model id, in characters.
pub const MAX_ID_CHARS: usize = 256;

/// The form's rule for ids (and voice names): no whitespace, at least one character.
const ID_PATTERN: &str = r"^\S+$";

/// A model id as the forms accept it: non-empty and without whitespace (`ID_PATTERN`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(String);

impl ModelId {
    /// `None` when `text` does not match `ID_PATTERN`.
    pub fn parse(text: &str) -> Option<ModelId> {
        (!text.is_empty() && !text.chars().any(char::is_whitespace)).then(|| ModelId(text.to_string()))
    }

    /// Whether the id is within `MAX_ID_CHARS` (the reference's `is_valid_model_id`, checked
    /// after the caller's permission, as a 400 `MODEL_ID_TOO_LONG`).
    pub fn fits(&self) -> bool {
        self.0.chars().count() <= MAX_ID_CHARS
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `ModelForm`: the body of create and update (and each item of an import).
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[schema(as = ModelForm)]
pub struct ModelForm {
    /// 1 to 256 characters without whitespace.
    pub id: String,
    pub base_model_id: Option<String>,
    /// Whether the body named `base_model_id` (an update keeps the stored one otherwise).
    #[schema(ignore)]
    pub base_model_id_given: bool,
    pub name: String,
    /// The reference's `ModelMeta`.
    // Held in its canonical form.
    #[schema(value_type = Object)]
    pub meta: Map<String, Value>,
    /// The keys the body's `meta` named.
    #[schema(ignore)]
    pub meta_given: Vec<String>,
    /// The reference's `ModelParams`.
    // Held in its canonical form.
    #[schema(value_type = Object)]
    pub params: Map<String, Value>,
    /// Whether the body's `params` named `model_controls`.
    #[schema(ignore)]
    pub model_controls_given: bool,
    #[schema(value_type = Option<Vec<AccessGrantForm>>)]
    pub access_grants: Option<Vec<Value>>,
    /// Without it: true on create, unchanged on update (`null` is refused).
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<bool>,
    pub commit_message: Option<String>,
}

/// An access grant of a request. Any object is accepted; one that is not a grant of this shape
/// is ignored.
// The forms hold grants as JSON objects; this is their documented shape.
#[derive(ToSchema)]
#[schema(as = AccessGrantForm)]
pub struct AccessGrantForm {
    /// `user` or `group`.
    pub principal_type: String,
    /// A user id, or `*` for every signed-in user.
    pub principal_id: String,
    /// `read` or `write`.
    pub permission: String,
}

impl ModelForm {
    /// Validates a JSON body; every problem is reported at once in FastAPI's 422 shape.
    pub fn from_json(body: &Value) -> AppResult<ModelForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let form = ModelForm::read(&mut c, map, &[]);
        c.finish()?;
        form.ok_or_else(|| AppError::internal("model form checked without errors but incomplete"))
    }

    /// Reads the form from `map`, which sits at `base` in the request body; problems are
    /// recorded in `c` (`None` when any was).
    pub(crate) fn read(c: &mut Fields, map: &Map<String, Value>, base: &[Value]) -> Option<ModelForm> {
        let before = c.count();
        let commit_message = c.opt_string(map, base, "commit_message");
        let id = id(c, map, base, "id");
        let base_model_id = c.opt_string(map, base, "base_model_id");
        let name = c.string(map, base, "name");
        let meta = match map.get("meta") {
            None => {
                c.missing_in(loc(base, &[json!("meta")]), map);
                None
            }
            Some(v) => check_meta(c, v, &loc(base, &[json!("meta")])),
        };
        let params = match map.get("params") {
            None => {
                c.missing_in(loc(base, &[json!("params")]), map);
                None
            }
            Some(v) => check_params(c, v, &loc(base, &[json!("params")])),
        };
        let access_grants = dict_list(c, map, base, "access_grants", false);
        let is_active = match map.get("is_active") {
            None => None,
            Some(v) => c.lax_bool(v, loc(base, &[json!("is_active")])),
        };
        if c.count() > before {
            return None;
        }
        let (Some(id), Some(name), Some(meta), Some(params)) = (id, name, meta, params) else {
            return None;
        };
        let meta_given = map
            .get("meta")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let model_controls_given =
            map.get("params").and_then(Value::as_object).is_some_and(|p| p.contains_key("model_controls"));
        Some(ModelForm {
            id,
            base_model_id,
            base_model_id_given: map.contains_key("base_model_id"),
            name,
            meta,
            meta_given,
            params,
            model_controls_given,
            access_grants,
            is_active,
            commit_message,
        })
    }
}

/// `ModelAccessGrantsForm`: the grants replacing a model's.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[schema(as = ModelAccessGrantsForm)]
pub struct AccessForm {
    pub id: String,
    pub name: Option<String>,
    #[schema(value_type = Vec<AccessGrantForm>)]
    pub access_grants: Vec<Value>,
}

impl AccessForm {
    pub fn from_json(body: &Value) -> AppResult<AccessForm> {
        let base: [Value; 0] = [];
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let id = id(&mut c, map, &base, "id");
        let name = c.opt_string(map, &base, "name");
        let grants = dict_list(&mut c, map, &base, "access_grants", true);
        c.finish()?;
        match (id, grants) {
            (Some(id), Some(access_grants)) => Ok(AccessForm { id, name, access_grants }),
            _ => Err(AppError::internal("access form checked without errors but incomplete")),
        }
    }
}

/// `ModelIdForm`: the model a request names.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[schema(as = ModelIdForm)]
pub struct ModelIdForm {
    pub id: String,
}

impl ModelIdForm {
    pub fn from_json(body: &Value) -> AppResult<ModelIdForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let id = c.string(map, Loc::root(), "id");
        c.finish()?;
        let id = id.ok_or_else(|| AppError::internal("id form checked without errors but incomplete"))?;
        Ok(ModelIdForm { id })
    }
}

/// `ModelsImportForm`: the models to create or update, each checked as a `ModelForm` when
/// imported.
#[derive(Debug, Clone, PartialEq, ToSchema)]
#[schema(as = ModelsImportForm)]
pub struct ModelsImportForm {
    #[schema(value_type = Vec<Object>)]
    pub models: Vec<Value>,
}

impl ModelsImportForm {
    pub fn from_json(body: &Value) -> AppResult<ModelsImportForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut c = Fields::body();
        let models = dict_list(&mut c, map, &[], "models", true);
        c.finish()?;
        let models =
            models.ok_or_else(|| AppError::internal("import form checked without errors but incomplete"))?;
        Ok(ModelsImportForm { models })
    }
}

/// The reference's `is_valid_model_id`: 1–256 characters, no whitespace.
pub fn is_valid_id(id: &str) -> bool {
    ModelId::parse(id).is_some_and(|id| id.fits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_to_256_characters_without_whitespace() {
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"é".repeat(256)));
        assert!(!is_valid_id(&"a".repeat(257)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(ModelId::parse(&"a".repeat(257)).is_some_and(|id| !id.fits()));
        assert_eq!(ModelId::parse("\t"), None);
    }

    #[test]
    fn form_reports_every_bad_field_in_order() {
        let e = ModelForm::from_json(&json!({"id": "bad id", "name": 3, "meta": "x", "params": [1]}))
            .expect_err("422");
        let crate::error::Detail::Fields(f) = &e.detail else { panic!("fields") };
        let kinds: Vec<&str> = f.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, ["string_pattern_mismatch", "string_type", "model_type", "model_type"]);
        assert_eq!(f[2].msg, "Input should be a valid dictionary or instance of ModelMeta");
        assert_eq!(f[2].ctx, Some(json!({"class_name": "ModelMeta"})));
    }
}
