//! `/api/v1/users`: the admin user list, one user, admin update and delete, and the default
//! permission tree.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Body, Form, FormReader, Params};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::permissions::PermissionTree;
use crate::service::settings;
use crate::service::users::{self as svc, ListParams, UpdateInput, UserDetail, UserPage};
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/users";
    Router::new()
        .route(P, get(list))
        .route(&format!("{P}/"), get(list))
        .route(&format!("{P}/default/permissions"), get(default_permissions).post(set_default_permissions))
        .route(&format!("{P}/{{user_id}}"), get(get_user).delete(delete_user))
        .route(&format!("{P}/{{user_id}}/update"), post(update_user))
}

async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> AppResult<Json<UserPage>> {
    caller.require_admin()?;
    let list = ListParams {
        query: params.text("query"),
        order_by: params.text("order_by"),
        direction: params.text("direction"),
        page: params.int("page")?,
    };
    Ok(Json(svc::list(&state, &caller, list).await?))
}

async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<UserDetail>> {
    Ok(Json(svc::get(&state, &caller, &id).await?))
}

impl Form for UpdateInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        UpdateInput {
            role: r.opt_string("role"),
            name: r.opt_string("name"),
            email: r.opt_string("email"),
            profile_image_url: r.opt_string("profile_image_url"),
            password: r.opt_string("password"),
        }
    }
}

async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Body<UpdateInput>, crate::error::AppError>,
) -> AppResult<Json<User>> {
    caller.require_admin()?;
    let Body(form) = body?;
    Ok(Json(svc::update(&state, &caller, &id, form).await?))
}

async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete(&state, &caller, &id).await?))
}

async fn default_permissions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(settings::default_permissions(&state.db, &caller).await?.to_value()))
}

async fn set_default_permissions(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Body<Value>, crate::error::AppError>,
) -> AppResult<Json<Value>> {
    caller.require_admin()?;
    let Body(form) = body?;
    let tree: PermissionTree = settings::set_default_permissions(&state.db, &caller, &form).await?;
    Ok(Json(tree.to_value()))
}
