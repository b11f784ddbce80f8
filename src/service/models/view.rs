//! What callers are shown of models: the reference's `ModelModel` and `AccessGrantModel`, a model
//! as one caller sees it (`ModelAccessResponse`) and pages of those, an exported model, the chat
//! model list, and the part of `params` every reader may see. REST serialises these, the OpenAPI
//! document describes them, GraphQL wraps them.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{canonical_meta, canonical_params};
use crate::store::grants::GrantRow;
use crate::store::models::ModelRow;

/// A stored model as the reference's `ModelModel` answers it; `meta` and `params` in canonical
/// form.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ModelModel)]
pub struct ModelView {
    pub version_id: Option<String>,
    pub id: String,
    pub user_id: String,
    pub base_model_id: Option<String>,
    pub name: String,
    /// `ModelParams`.
    #[schema(value_type = Object)]
    pub params: Value,
    /// `ModelMeta` (description, tags, capabilities, …).
    #[schema(value_type = Object)]
    pub meta: Value,
    pub access_grants: Vec<AccessGrantView>,
    pub is_active: bool,
    pub updated_at: i64,
    pub created_at: i64,
}

impl ModelView {
    /// The view of a stored row and its grants.
    pub(super) fn new(row: ModelRow, grants: Vec<GrantRow>) -> Self {
        ModelView {
            version_id: row.version_id,
            id: row.id,
            user_id: row.user_id,
            base_model_id: row.base_model_id,
            name: row.name,
            params: canonical_params(&row.params.0),
            meta: canonical_meta(&row.meta.0),
            access_grants: grants.into_iter().map(AccessGrantView::from).collect(),
            is_active: row.is_active,
            updated_at: row.updated_at,
            created_at: row.created_at,
        }
    }

    /// The view as a JSON object.
    pub(super) fn to_value(&self) -> Value {
        // Strings, numbers and JSON values: serialising them cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// An access grant, as the reference's `AccessGrantModel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = AccessGrantModel)]
pub struct AccessGrantView {
    pub id: String,
    /// `model`.
    pub resource_type: String,
    /// The model id.
    pub resource_id: String,
    /// `user` or `group`.
    pub principal_type: String,
    /// A user id, or `*` for every signed-in user.
    pub principal_id: String,
    /// `read` or `write`.
    pub permission: String,
    pub created_at: i64,
}

impl From<GrantRow> for AccessGrantView {
    fn from(g: GrantRow) -> Self {
        AccessGrantView {
            id: g.id,
            resource_type: g.resource_type,
            resource_id: g.resource_id,
            principal_type: g.principal_type,
            principal_id: g.principal_id,
            permission: g.permission,
            created_at: g.created_at,
        }
    }
}

/// A model's owner as the workspace list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ModelOwner)]
pub struct Owner {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
}

/// A model as one caller sees it: `ModelModel`, its owner (`null` when not looked up or the
/// account is gone) and whether the caller may change it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ModelAccessResponse)]
pub struct ModelAccessView {
    #[serde(flatten)]
    pub model: ModelView,
    pub user: Option<Owner>,
    pub write_access: bool,
}

/// A page of the workspace list and the number of matches.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ModelAccessListResponse)]
pub struct ModelPageView {
    pub items: Vec<ModelAccessView>,
    pub total: i64,
}

/// An exported model: `ModelModel` and `background_image_data` (always `null`: duet stores no
/// files).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ModelExport)]
pub struct ModelExportView {
    #[serde(flatten)]
    pub model: ModelView,
    pub background_image_data: Option<String>,
}

/// `{"data": [...]}`: the chat model list (entries are open-ended provider objects).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatModelList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
}

/// What callers without write access may see of `params` in the chat list: control labels and
/// options, and the compaction threshold.
pub(super) fn public_params(params: &Value) -> Value {
    let mut out = Map::new();
    if let Some(controls) = params.get("model_controls").and_then(Value::as_object).filter(|c| !c.is_empty())
    {
        let mut public = Map::new();
        for (key, control) in controls {
            let mut c = Map::new();
            for field in ["label", "description", "default", "display"] {
                if let Some(v) = control.get(field) {
                    c.insert(field.into(), v.clone());
                }
            }
            let mut options = Map::new();
            if let Some(opts) = control.get("options").and_then(Value::as_object) {
                for (k, o) in opts {
                    options
                        .insert(k.clone(), json!({"label": o.get("label").cloned().unwrap_or(Value::Null)}));
                }
            }
            c.insert("options".into(), Value::Object(options));
            public.insert(key.clone(), Value::Object(c));
        }
        out.insert("model_controls".into(), Value::Object(public));
    }
    if let Some(t) = params.get("compact_token_threshold") {
        out.insert("compact_token_threshold".into(), t.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_params_keep_labels_only() {
        let p = json!({"system": "secret", "compact_token_threshold": 5, "model_controls": {
            "e": {"label": "E", "default": "a", "options": {"a": {"label": "A", "params": {"x": 1}}}}}});
        assert_eq!(
            public_params(&p),
            json!({"model_controls": {"e": {"label": "E", "default": "a", "options": {"a": {"label": "A"}}}},
                   "compact_token_threshold": 5})
        );
    }
}
