//! A model's version history over GraphQL: `Model.history` (through `history` here),
//! `modelVersion`, `restoreModelVersion` and `deleteModelVersion`, each calling the service
//! function of its REST twin (`/api/v1/models/model/history…`, `/model/update/version`).

use async_graphql::{Context, Object};

use super::error::Gql;
use super::types::{Model, ModelVersion, caller, state};
use crate::service::models::{self as models_svc, VersionForm};

/// `Model.history(page:)`: 20 versions per page, newest first, as `GET /models/model/history`;
/// the snapshots are read with the page when the selection asks for them.
pub async fn history(
    ctx: &Context<'_>,
    model_id: &str,
    page: Option<i64>,
) -> async_graphql::Result<Vec<ModelVersion>> {
    let (app, who) = (state(ctx), caller(ctx));
    if ctx.look_ahead().field("snapshot").exists() {
        let entries = models_svc::history_entries(app, who, model_id, page).await.gql()?;
        Ok(entries.into_iter().map(ModelVersion::from).collect())
    } else {
        let versions = models_svc::history(app, who, model_id, page).await.gql()?;
        Ok(versions.into_iter().map(ModelVersion::from).collect())
    }
}

#[derive(Default)]
pub struct ModelHistoryQuery;

#[Object]
impl ModelHistoryQuery {
    /// One version of a model with its snapshot, as `GET /api/v1/models/model/history/{id}`:
    /// the owner, an admin or a write grant (`ACCESS_PROHIBITED`); `NOT_FOUND` for an unknown
    /// model, `MODEL_VERSION_NOT_FOUND` for an unknown version.
    async fn model_version(
        &self,
        ctx: &Context<'_>,
        id: String,
        version_id: String,
    ) -> async_graphql::Result<ModelVersion> {
        Ok(models_svc::history_entry(state(ctx), caller(ctx), &id, &version_id).await.gql()?.into())
    }
}

#[derive(Default)]
pub struct ModelHistoryMutation;

#[Object]
impl ModelHistoryMutation {
    /// As `POST /api/v1/models/model/update/version?id=`: the model takes the version's
    /// configuration and points at it; what the version refers to must be usable.
    async fn restore_model_version(
        &self,
        ctx: &Context<'_>,
        id: String,
        version_id: String,
    ) -> async_graphql::Result<Model> {
        let form = VersionForm { version_id };
        Ok(Model::written(models_svc::restore_version(state(ctx), caller(ctx), &id, form).await.gql()?))
    }

    /// As `DELETE /api/v1/models/model/history/{id}?id=`: a version that is not the live one
    /// (`CURRENT_MODEL_VERSION`).
    async fn delete_model_version(
        &self,
        ctx: &Context<'_>,
        id: String,
        version_id: String,
    ) -> async_graphql::Result<bool> {
        models_svc::delete_history_entry(state(ctx), caller(ctx), &id, &version_id).await.gql()
    }
}
