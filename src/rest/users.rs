//! `/api/v1/users`: the admin user list, one user, admin update and delete, and the default
//! permission tree.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Body, Form, FormReader, Params};
use crate::app::AppState;
use crate::auth::{Admin, Caller};
use crate::error::AppResult;
use crate::service::admin_config as settings;
use crate::service::permissions::PermissionTree;
use crate::service::users::{self as svc, ListParams, UpdateInput, UserDetail, UserPage, UserView};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/users";
    Router::new()
        .route(P, get(list))
        .route(&format!("{P}/"), get(list))
        .route(&format!("{P}/default/permissions"), get(default_permissions).post(set_default_permissions))
        .route(&format!("{P}/{{user_id}}"), get(get_user).delete(delete_user))
        .route(&format!("{P}/{{user_id}}/update"), post(update_user))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", summary = "Users, 30 per page (admin)", params(("query" = Option<String>, Query, description = "Matches name or email"), ("order_by" = Option<String>, Query, description = "name, email, created_at, last_active_at, updated_at or role"), ("direction" = Option<String>, Query, description = "asc or desc"), ("page" = Option<i64>, Query, description = "1-based page")), responses((status = 200, description = "OK", body = UserPage)))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
    params: Params,
) -> AppResult<Json<UserPage>> {
    let list = ListParams {
        query: params.string("query")?,
        order_by: params.string("order_by")?,
        direction: params.string("direction")?,
        page: params.int("page")?,
    };
    Ok(Json(svc::list(&state, &caller, list).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users", summary = "One user (admin, or the user themself)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = UserDetail)))]
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

#[utoipa::path(post, path = "/api/v1/users/{user_id}/update", tag = "users", summary = "Update a user (admin)", params(("user_id" = String, Path, description = "The user id")), request_body = super::openapi::UserUpdateRequest, responses((status = 200, description = "OK", body = UserView)))]
async fn update_user(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    body: Body<UpdateInput>,
) -> AppResult<Json<UserView>> {
    let Body(form) = body;
    Ok(Json(svc::update(&state, &caller, &id, form).await?))
}

#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users", summary = "Delete a user (admin)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/default/permissions", tag = "users", summary = "The default permission tree (admin)", responses((status = 200, description = "OK", body = Object)))]
async fn default_permissions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(settings::default_permissions(&state.db, &caller).await?.to_value()))
}

#[utoipa::path(post, path = "/api/v1/users/default/permissions", tag = "users", summary = "Replace the default permission tree (admin)", request_body = Object, responses((status = 200, description = "OK", body = Object)))]
async fn set_default_permissions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<Json<Value>> {
    let Body(form) = body;
    let tree: PermissionTree = settings::set_default_permissions(&state.db, &caller, &form).await?;
    Ok(Json(tree.to_value()))
}
