//! `ModelVersion`: one entry of a model's history (`GET /models/model/history…`).

use async_graphql::{Context, Json, Object};
use serde_json::Value;

use super::{caller, state};
use crate::graphql::error::Gql;
use crate::service::models::{self as models_svc, VersionEntryView, VersionView};

/// A version of a model's configuration; `snapshot` is read when asked for.
#[derive(Clone)]
pub struct ModelVersion {
    pub version: VersionView,
    pub snapshot: Option<Value>,
}

impl From<VersionView> for ModelVersion {
    fn from(version: VersionView) -> Self {
        ModelVersion { version, snapshot: None }
    }
}

impl From<VersionEntryView> for ModelVersion {
    fn from(e: VersionEntryView) -> Self {
        ModelVersion { version: e.version, snapshot: Some(e.snapshot) }
    }
}

#[Object]
impl ModelVersion {
    async fn id(&self) -> &str {
        &self.version.id
    }
    async fn model_id(&self) -> &str {
        &self.version.model_id
    }
    /// The version this one followed (`null` for the first).
    async fn parent_id(&self) -> Option<&str> {
        self.version.parent_id.as_deref()
    }
    /// Who wrote it.
    async fn user_id(&self) -> &str {
        &self.version.user_id
    }
    /// The author's name, as REST's `user.name` (`null` when the account is gone).
    async fn author_name(&self) -> Option<&str> {
        self.version.user.as_ref().map(|u| u.name.as_str())
    }
    async fn commit_message(&self) -> Option<&str> {
        self.version.commit_message.as_deref()
    }
    async fn created_at(&self) -> i64 {
        self.version.created_at
    }
    /// `{name, base_model_id, params, meta}` as the model was then.
    async fn snapshot(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Value>> {
        if let Some(s) = &self.snapshot {
            return Ok(Json(s.clone()));
        }
        let v = &self.version;
        let entry = models_svc::history_entry(state(ctx), caller(ctx), &v.model_id, &v.id).await.gql()?;
        Ok(Json(entry.snapshot))
    }
}
