//! `/api/v1/users`: the admin user list, the search, one user (info, activity, avatar, OAuth
//! sessions, preview), admin update, session revocation and delete, the caller's own settings,
//! status, info, variables and usage, and the default permission tree. Fixed paths
//! (`/users/all`, `/users/user/settings`, …) win over `/users/{user_id}`.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::extract::{Body, Form, FormReader, Params};
use crate::app::AppState;
use crate::auth::{Admin, Caller, Verified};
use crate::error::AppResult;
use crate::service::admin_config as settings;
use crate::service::permissions::PermissionTree;
use crate::service::users::{
    self as svc, ActiveView, ListParams, ProfileImage, StatusInput, UpdateInput, UsageQuery, UsageView,
    UserDetail, UserInfoList, UserInfoView, UserPage, UserPreview, UserView, VariablesView,
};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/users";
    Router::new()
        .route(P, get(list))
        .route(&format!("{P}/"), get(list))
        .route(&format!("{P}/all"), get(all))
        .route(&format!("{P}/search"), get(search))
        .route(&format!("{P}/usage"), get(usage))
        .route(&format!("{P}/default/permissions"), get(default_permissions).post(set_default_permissions))
        .route(&format!("{P}/default/permissions/defaults"), get(default_permissions_defaults))
        .route(&format!("{P}/user/settings"), get(own_settings))
        .route(&format!("{P}/user/settings/update"), post(update_settings))
        .route(&format!("{P}/user/status"), get(own_status))
        .route(&format!("{P}/user/status/update"), post(update_status))
        .route(&format!("{P}/user/info"), get(own_info))
        .route(&format!("{P}/user/info/update"), post(update_info))
        .route(&format!("{P}/user/variables"), get(own_variables))
        .route(&format!("{P}/user/variables/update"), post(update_variables))
        .route(&format!("{P}/{{user_id}}"), get(get_user).delete(delete_user))
        .route(&format!("{P}/{{user_id}}/update"), post(update_user))
        .route(&format!("{P}/{{user_id}}/info"), get(user_info))
        .route(&format!("{P}/{{user_id}}/active"), get(user_active))
        .route(&format!("{P}/{{user_id}}/oauth/sessions"), get(oauth_sessions))
        .route(&format!("{P}/{{user_id}}/profile/image"), get(profile_image))
        .route(&format!("{P}/{{user_id}}/sessions/revoke"), post(revoke_sessions))
        .route(&format!("{P}/{{user_id}}/preview"), get(preview))
}

fn list_params(params: &Params) -> AppResult<ListParams> {
    Ok(ListParams {
        query: params.string("query")?,
        order_by: params.string("order_by")?,
        direction: params.string("direction")?,
        page: params.int("page")?,
    })
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", summary = "Users, 30 per page (admin)", params(("query" = Option<String>, Query, description = "Matches name or email"), ("order_by" = Option<String>, Query, description = "name, email, created_at, last_active_at, updated_at or role"), ("direction" = Option<String>, Query, description = "asc or desc"), ("page" = Option<i64>, Query, description = "1-based page")), responses((status = 200, description = "OK", body = UserPage)))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
    params: Params,
) -> AppResult<Json<UserPage>> {
    Ok(Json(svc::list(&state, &caller, list_params(&params)?).await?))
}

#[utoipa::path(get, path = "/api/v1/users/all", tag = "users", summary = "Every user's public info, newest first (admin)", responses((status = 200, description = "OK", body = UserInfoList)))]
async fn all(State(state): State<AppState>, Admin(caller): Admin) -> AppResult<Json<UserInfoList>> {
    Ok(Json(svc::all(&state, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/users/search", tag = "users", summary = "Search users' public info, 30 per page", params(("query" = Option<String>, Query, description = "Matches name or email"), ("order_by" = Option<String>, Query, description = "name, email, created_at, last_active_at, updated_at or role"), ("direction" = Option<String>, Query, description = "asc or desc"), ("page" = Option<i64>, Query, description = "1-based page")), responses((status = 200, description = "OK", body = UserInfoList)))]
async fn search(
    State(state): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<UserInfoList>> {
    Ok(Json(svc::search(&state, &caller, list_params(&params)?).await?))
}

#[utoipa::path(get, path = "/api/v1/users/usage", tag = "users", summary = "The caller's activity from their stored chats (UTC days)", params(("days" = Option<i64>, Query, description = "7 to 732: the period's length when start_date is not given (730)"), ("start_date" = Option<i64>, Query, description = "Epoch seconds"), ("end_date" = Option<i64>, Query, description = "Epoch seconds (default now)")), responses((status = 200, description = "OK", body = UsageView)))]
async fn usage(
    State(state): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<UsageView>> {
    let query = UsageQuery {
        days: params.int("days")?,
        start_date: params.int("start_date")?,
        end_date: params.int("end_date")?,
    };
    Ok(Json(svc::usage(&state, &caller, query).await?))
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

#[utoipa::path(get, path = "/api/v1/users/{user_id}/info", tag = "users", summary = "A user's public info and activity", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = UserInfoView)))]
async fn user_info(
    State(state): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<UserInfoView>> {
    Ok(Json(svc::user_info(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/active", tag = "users", summary = "Whether a user was active in the last three minutes", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = ActiveView)))]
async fn user_active(
    State(state): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<ActiveView>> {
    Ok(Json(svc::active(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/oauth/sessions", tag = "users", summary = "A user's OAuth sessions (admin; duet has none, so always 400)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = Vec<Object>)))]
async fn oauth_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<Value>>> {
    Ok(Json(svc::oauth_sessions(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/profile/image", tag = "users", summary = "A user's avatar (the session cookie suffices, as `<img>` sends it)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "The stored image, or the default avatar", content_type = "image/png"), (status = 302, description = "The stored image is at an external URL (`Location`)")))]
async fn profile_image(
    State(state): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let default = || ([(header::CONTENT_TYPE, "image/png")], svc::DEFAULT_AVATAR).into_response();
    Ok(match svc::profile_image(&state, &caller, &id).await? {
        ProfileImage::Elsewhere(url) => match HeaderValue::from_str(&header_safe(&url)) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => default(),
        },
        ProfileImage::Image { media_type, bytes } => match HeaderValue::from_str(&media_type) {
            Ok(content_type) => (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
                    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                ],
                bytes,
            )
                .into_response(),
            Err(_) => default(),
        },
        ProfileImage::Default => default(),
    })
}

/// `url` with every byte a header value cannot hold (controls, non-ASCII) percent-encoded.
fn header_safe(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        if (0x21..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/sessions/revoke", tag = "users", summary = "End every session of a user (admin)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn revoke_sessions(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::revoke_sessions(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/preview", tag = "users", summary = "What a user can reach: groups, models, knowledge, tools (admin)", params(("user_id" = String, Path, description = "The user id")), responses((status = 200, description = "OK", body = UserPreview)))]
async fn preview(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<UserPreview>> {
    Ok(Json(svc::preview(&state, &caller, &id).await?))
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

#[utoipa::path(get, path = "/api/v1/users/default/permissions/defaults", tag = "users", summary = "The permission tree before any admin change (admin)", responses((status = 200, description = "OK", body = Object)))]
async fn default_permissions_defaults(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> AppResult<Json<Value>> {
    Ok(Json(svc::default_permissions_defaults(&state, &caller)?.to_value()))
}

/// A JSON body's object (the `Body` extractor has refused anything else).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[utoipa::path(get, path = "/api/v1/users/user/settings", tag = "users", summary = "The caller's settings, the admin's default interface settings filled in", params(("raw" = Option<bool>, Query, description = "The stored settings alone")), responses((status = 200, description = "The settings (`ui` and more), or null", body = Object)))]
async fn own_settings(
    State(state): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Option<Value>>> {
    let raw = params.bool("raw")?.unwrap_or(false);
    Ok(Json(svc::own_settings(&state, &caller, raw).await?))
}

#[utoipa::path(post, path = "/api/v1/users/user/settings/update", tag = "users", summary = "Merge into the caller's settings (`ui` key by key)", request_body = Object, responses((status = 200, description = "The stored settings", body = Object)))]
async fn update_settings(
    State(state): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<Value>> {
    let Body(form) = body;
    Ok(Json(svc::update_settings(&state, &caller, object(form)).await?))
}

#[utoipa::path(get, path = "/api/v1/users/user/status", tag = "users", summary = "The caller's user record (403 while user status is off)", responses((status = 200, description = "OK", body = UserView)))]
async fn own_status(State(state): State<AppState>, Verified(caller): Verified) -> AppResult<Json<UserView>> {
    Ok(Json(svc::status(&state, &caller).await?))
}

impl Form for StatusInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        StatusInput {
            status_emoji: r.opt_string("status_emoji"),
            status_message: r.opt_string("status_message"),
            status_expires_at: r.opt_int("status_expires_at"),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/users/user/status/update", tag = "users", summary = "Set the caller's status (null keeps a field)", request_body = StatusInput, responses((status = 200, description = "OK", body = UserView)))]
async fn update_status(
    State(state): State<AppState>,
    Verified(caller): Verified,
    body: Body<StatusInput>,
) -> AppResult<Json<UserView>> {
    let Body(form) = body;
    Ok(Json(svc::update_status(&state, &caller, form).await?))
}

#[utoipa::path(get, path = "/api/v1/users/user/info", tag = "users", summary = "The caller's info object", responses((status = 200, description = "The object, or null", body = Object)))]
async fn own_info(Verified(caller): Verified) -> AppResult<Json<Option<Value>>> {
    Ok(Json(svc::info(&caller)?))
}

#[utoipa::path(post, path = "/api/v1/users/user/info/update", tag = "users", summary = "Merge keys into the caller's info object", request_body = Object, responses((status = 200, description = "The stored object", body = Object)))]
async fn update_info(
    State(state): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<Option<Value>>> {
    let Body(form) = body;
    Ok(Json(svc::update_info(&state, &caller, object(form)).await?))
}

#[utoipa::path(get, path = "/api/v1/users/user/variables", tag = "users", summary = "The caller's template variables", responses((status = 200, description = "OK", body = VariablesView)))]
async fn own_variables(
    State(state): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<Json<VariablesView>> {
    Ok(Json(svc::variables(&state, &caller).await?))
}

/// `UserVariablesForm`.
#[derive(Serialize, ToSchema)]
pub struct VariablesRequest {
    /// Names (`[a-z][a-z0-9_]*`) to texts (at most 20,000 characters).
    #[schema(value_type = Option<std::collections::HashMap<String, String>>)]
    pub variables: Option<Value>,
}

#[utoipa::path(post, path = "/api/v1/users/user/variables/update", tag = "users", summary = "Replace the caller's template variables", request_body = VariablesRequest, responses((status = 200, description = "OK", body = VariablesView)))]
async fn update_variables(
    State(state): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<VariablesView>> {
    let Body(form) = body;
    Ok(Json(svc::update_variables(&state, &caller, object(form)).await?))
}
