//! Service routes: `/health`, `/health/db`, `/api/version`, `/api/config`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::AppResult;
use crate::service::system::{self, AppConfigView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/db", get(health_db))
        .route("/api/version", get(version))
        .route("/api/config", get(config))
}

#[utoipa::path(get, path = "/health", tag = "system", summary = "Liveness", responses((status = 200, description = "OK", body = super::openapi::StatusBody)), security(()))]
async fn health() -> Json<Value> {
    Json(json!({"status": true}))
}

#[utoipa::path(get, path = "/health/db", tag = "system", summary = "Database reachability", responses((status = 200, description = "OK", body = super::openapi::StatusBody)), security(()))]
async fn health_db(State(state): State<AppState>) -> AppResult<Json<Value>> {
    system::health_db(&state).await?;
    Ok(Json(json!({"status": true})))
}

#[utoipa::path(get, path = "/api/version", tag = "system", summary = "Server version", responses((status = 200, description = "OK", body = super::openapi::VersionBody)), security(()))]
async fn version(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"version": system::API_VERSION, "deployment_id": state.config.deployment_id}))
}

#[utoipa::path(get, path = "/api/config", tag = "system", summary = "Public configuration (more when signed in)", responses((status = 200, description = "OK", body = AppConfigView)), security(()))]
async fn config(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Json<AppConfigView>> {
    let credential = crate::auth::caller::credential_from_headers(&headers);
    Ok(Json(system::app_config(&state, credential.as_ref().map(|c| c.0.as_str())).await?))
}
