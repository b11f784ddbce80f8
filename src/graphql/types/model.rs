//! `Model` (a workspace model as the caller sees it), model pages, and the batched reads behind
//! `Chat.models` and `Model.baseModel`.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Json, Object};
use serde_json::Value;

use super::page::{Page, Window, page};
use super::user::UserSummary;
use super::{caller, state};
use crate::graphql::error::Gql;
use crate::graphql::loaders::{Readable, Users};
use crate::service::load;
use crate::service::models::{self as models_svc, ListParams, ModelAccessView, ModelView};

/// A workspace model as the caller sees it (`ModelAccessResponse`): `params` are `{}` for
/// read-only callers.
#[derive(Clone)]
pub struct Model(pub Arc<ModelAccessView>);

impl From<ModelAccessView> for Model {
    fn from(m: ModelAccessView) -> Self {
        Model(Arc::new(m))
    }
}

impl Model {
    /// A model the caller has just written (the service accepted the change, so they may write).
    pub fn written(model: ModelView) -> Self {
        Model::from(ModelAccessView { model, user: None, write_access: true })
    }
}

#[Object]
impl Model {
    async fn id(&self) -> &str {
        &self.0.model.id
    }
    async fn name(&self) -> &str {
        &self.0.model.name
    }
    async fn base_model_id(&self) -> Option<&str> {
        self.0.model.base_model_id.as_deref()
    }
    /// `ModelMeta` (description, tags, capabilities, …).
    async fn meta(&self) -> Json<Value> {
        Json(self.0.model.meta.clone())
    }
    /// `ModelParams`; `{}` without write access.
    async fn params(&self) -> Json<Value> {
        Json(self.0.model.params.clone())
    }
    async fn is_active(&self) -> bool {
        self.0.model.is_active
    }
    async fn created_at(&self) -> i64 {
        self.0.model.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.model.updated_at
    }
    async fn user_id(&self) -> &str {
        &self.0.model.user_id
    }
    async fn version_id(&self) -> Option<&str> {
        self.0.model.version_id.as_deref()
    }
    /// The access grants, as REST answers them (`access_grants`).
    async fn access_grants(&self) -> Json<Value> {
        Json(serde_json::to_value(&self.0.model.access_grants).unwrap_or_default())
    }
    /// Whether the caller may change this model.
    async fn write_access(&self) -> bool {
        self.0.write_access
    }
    /// The owner as every reader sees it, as REST's `user` (`null` when the account is gone).
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserSummary>> {
        let loader = ctx.data_unchecked::<Users>();
        let user = loader.load_one(self.0.model.user_id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(user.map(UserSummary::from))
    }
    /// The model's versions, newest first, 20 per `page` (default 1), as
    /// `GET /api/v1/models/model/history`: the owner, an admin or a write grant
    /// (`ACCESS_PROHIBITED` otherwise).
    #[graphql(
        complexity = "super::list_cost(Some(crate::service::models::HISTORY_PAGE_SIZE as i32), child_complexity)"
    )]
    async fn history(
        &self,
        ctx: &Context<'_>,
        page: Option<i64>,
    ) -> async_graphql::Result<Vec<super::ModelVersion>> {
        crate::graphql::models_history::history(ctx, &self.0.model.id, page).await
    }
    /// The stored base model, when there is one and the caller may read it (upstream-only base
    /// models have no row: `null`, `baseModelId` still names them).
    async fn base_model(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Model>> {
        let Some(base) = self.0.model.base_model_id.clone() else { return Ok(None) };
        Ok(readable_models(ctx, vec![base]).await?.pop())
    }
}

/// A page of the caller's workspace list (`GET /models/list`, newest first).
pub async fn model_connection(
    ctx: &Context<'_>,
    window: Window,
    query: Option<String>,
    tag: Option<String>,
) -> async_graphql::Result<Page<Model>> {
    let params = ListParams { query, tag, ..Default::default() };
    let got =
        models_svc::list_range(state(ctx), caller(ctx), params, window.limit, window.offset).await.gql()?;
    prime_model_page(ctx, &got.items).await?;
    Ok(page(window, got.items.into_iter().map(Model::from).collect(), got.total))
}

/// The workspace models `owner_id` owns that the caller can read (the `models` list, newest
/// first, narrowed to this owner).
pub async fn owned_models(ctx: &Context<'_>, owner_id: &str) -> async_graphql::Result<Vec<Model>> {
    let params = ListParams { owner: Some(owner_id.to_string()), ..Default::default() };
    let got = models_svc::list_range(state(ctx), caller(ctx), params, i64::MAX, 0).await.gql()?;
    Ok(got.items.into_iter().map(Model::from).collect())
}

/// Feeds the owners and base models a page of models asks for to the loaders.
async fn prime_model_page(ctx: &Context<'_>, items: &[ModelAccessView]) -> async_graphql::Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    if node.field("user").exists() {
        let mut owners: Vec<String> = items.iter().map(|m| m.model.user_id.clone()).collect();
        owners.sort();
        owners.dedup();
        let users = load::users(state(ctx), &owners).await.gql()?;
        ctx.data_unchecked::<Users>().feed_many(users).await;
    }
    if node.field("baseModel").exists() {
        let mut bases: Vec<String> = items.iter().filter_map(|m| m.model.base_model_id.clone()).collect();
        bases.sort();
        bases.dedup();
        prime_models(ctx, bases).await?;
    }
    Ok(())
}

/// Loads what the caller may read of these models into the `Readable` loader in one batch, so
/// the fields that follow cost nothing however many items mention them.
pub(super) async fn prime_models(ctx: &Context<'_>, ids: Vec<String>) -> async_graphql::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    ctx.data_unchecked::<Readable>().load_many(ids).await.map_err(|e| e.as_ref().extend())?;
    Ok(())
}

/// The models with these ids the caller may read, in the order given; unknown or unreadable ids
/// are skipped.
pub(super) async fn readable_models(
    ctx: &Context<'_>,
    ids: Vec<String>,
) -> async_graphql::Result<Vec<Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut readable =
        ctx.data_unchecked::<Readable>().load_many(ids.clone()).await.map_err(|e| e.as_ref().extend())?;
    Ok(ids.iter().filter_map(|id| readable.remove(id)).map(Model).collect())
}
