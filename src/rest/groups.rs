//! `/api/v1/groups` (the reference's groups router), and the group routes of its users router:
//! `GET /api/v1/users/groups`, `/api/v1/users/permissions` and `/api/v1/users/{user_id}/groups`
//! (the fixed paths win over `/api/v1/users/{user_id}`).

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Body, Params};
use crate::app::AppState;
use crate::auth::{Admin, Verified};
use crate::error::AppResult;
use crate::service::groups::{
    self as svc, GroupExportView, GroupForm, GroupInfoView, GroupMembersView, GroupPreviewView, GroupView,
    MembersParams, UserGroupView, UserIdsForm,
};
use crate::service::users::UserInfoView;

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/groups";
    let r = |path: &str| format!("{P}{path}");
    Router::new()
        .route(P, get(list_bare))
        .route(&r("/"), get(list))
        .route(&r("/create"), post(create))
        .route(&r("/id/{id}"), get(get_group))
        .route(&r("/id/{id}/info"), get(info))
        .route(&r("/id/{id}/export"), get(export))
        .route(&r("/id/{id}/users"), post(users))
        .route(&r("/id/{id}/update"), post(update))
        .route(&r("/id/{id}/users/add"), post(add_users))
        .route(&r("/id/{id}/users/remove"), post(remove_users))
        .route(&r("/id/{id}/delete"), delete(delete_group))
        .route(&r("/id/{id}/preview"), get(preview))
        .route(&r("/id/{id}/members"), get(members))
        .route("/api/v1/users/groups", get(user_groups))
        .route("/api/v1/users/permissions", get(user_permissions))
        .route("/api/v1/users/{user_id}/groups", get(groups_of_user))
}

#[utoipa::path(get, path = "/api/v1/groups/", tag = "groups", summary = "Groups: every group for an admin, the caller's otherwise", params(("share" = Option<bool>, Query, description = "Non-admins: the groups they may (true) or may not (false) share with")), responses((status = 200, description = "OK", body = Vec<GroupView>)))]
async fn list(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<GroupView>>> {
    Ok(Json(svc::list(&s, &caller, params.bool("share")?).await?))
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", summary = "Groups (the same list without the trailing slash)", params(("share" = Option<bool>, Query, description = "Non-admins: the groups they may (true) or may not (false) share with")), responses((status = 200, description = "OK", body = Vec<GroupView>)))]
async fn list_bare(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<GroupView>>> {
    Ok(Json(svc::list(&s, &caller, params.bool("share")?).await?))
}

#[utoipa::path(post, path = "/api/v1/groups/create", tag = "groups", summary = "Create a group (admin)", request_body = GroupForm, responses((status = 200, description = "OK", body = GroupView)))]
async fn create(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<Json<GroupView>> {
    let form = GroupForm::from_json(&body.0)?;
    Ok(Json(svc::create(&s, &caller, form).await?))
}

#[utoipa::path(get, path = "/api/v1/groups/id/{id}", tag = "groups", summary = "One group (admin)", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = GroupView)))]
async fn get_group(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<GroupView>> {
    Ok(Json(svc::get(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/groups/id/{id}/info", tag = "groups", summary = "A group's name, description and member count", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = GroupInfoView)))]
async fn info(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(id): Path<String>,
) -> AppResult<Json<GroupInfoView>> {
    Ok(Json(svc::info(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/groups/id/{id}/export", tag = "groups", summary = "A group with its members' ids (admin)", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = GroupExportView)))]
async fn export(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<GroupExportView>> {
    Ok(Json(svc::export(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/groups/id/{id}/users", tag = "groups", summary = "A group's direct members (admin)", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = Vec<UserInfoView>)))]
async fn users(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<UserInfoView>>> {
    Ok(Json(svc::users(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/groups/id/{id}/update", tag = "groups", summary = "Update a group (admin)", params(("id" = String, Path, description = "The group id")), request_body = GroupForm, responses((status = 200, description = "OK", body = GroupView)))]
async fn update(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<GroupView>> {
    let form = GroupForm::from_json(&body.0)?;
    Ok(Json(svc::update(&s, &caller, &id, form).await?))
}

#[utoipa::path(post, path = "/api/v1/groups/id/{id}/users/add", tag = "groups", summary = "Add users to a group (admin)", params(("id" = String, Path, description = "The group id")), request_body = UserIdsForm, responses((status = 200, description = "OK", body = GroupView)))]
async fn add_users(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<GroupView>> {
    let form = UserIdsForm::from_json(&body.0)?;
    Ok(Json(svc::add_users(&s, &caller, &id, form).await?))
}

#[utoipa::path(post, path = "/api/v1/groups/id/{id}/users/remove", tag = "groups", summary = "Remove users from a group (admin)", params(("id" = String, Path, description = "The group id")), request_body = UserIdsForm, responses((status = 200, description = "OK", body = GroupView)))]
async fn remove_users(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    body: Body<Value>,
) -> AppResult<Json<GroupView>> {
    let form = UserIdsForm::from_json(&body.0)?;
    Ok(Json(svc::remove_users(&s, &caller, &id, form).await?))
}

#[utoipa::path(delete, path = "/api/v1/groups/id/{id}/delete", tag = "groups", summary = "Delete a group (admin)", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_group(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/groups/id/{id}/preview", tag = "groups", summary = "What a group's members can reach (admin)", params(("id" = String, Path, description = "The group id")), responses((status = 200, description = "OK", body = GroupPreviewView)))]
async fn preview(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AppResult<Json<GroupPreviewView>> {
    Ok(Json(svc::preview(&s, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/groups/id/{id}/members", tag = "groups", summary = "A group's members, 30 per page (admin)", params(("id" = String, Path, description = "The group id"), ("membership" = Option<String>, Query, description = "direct, inherited or effective (default)"), ("query" = Option<String>, Query, description = "Part of a name or email"), ("page" = Option<i64>, Query, description = "1-based page")), responses((status = 200, description = "OK", body = GroupMembersView)))]
async fn members(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    params: Params,
) -> AppResult<Json<GroupMembersView>> {
    let list = MembersParams {
        membership: params.string("membership")?,
        query: params.string("query")?,
        page: params.string("page")?,
    };
    Ok(Json(svc::members(&s, &caller, &id, list).await?))
}

#[utoipa::path(get, path = "/api/v1/users/groups", tag = "users", summary = "The caller's groups", params(("include_inherited" = Option<bool>, Query, description = "Also the groups above the caller's, each marked direct or inherited")), responses((status = 200, description = "OK", body = Vec<UserGroupView>)))]
async fn user_groups(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<UserGroupView>>> {
    let inherited = params.bool("include_inherited")?.unwrap_or(false);
    Ok(Json(svc::user_groups(&s, &caller, inherited).await?))
}

#[utoipa::path(get, path = "/api/v1/users/permissions", tag = "users", summary = "The caller's permissions: the defaults merged with their groups'", responses((status = 200, description = "OK", body = Object)))]
async fn user_permissions(State(s): State<AppState>, Verified(caller): Verified) -> AppResult<Json<Value>> {
    Ok(Json(svc::user_permissions(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/groups", tag = "users", summary = "A user's groups (admin)", params(("user_id" = String, Path, description = "The user id"), ("include_inherited" = Option<bool>, Query, description = "Also the groups above theirs, each marked direct or inherited")), responses((status = 200, description = "OK", body = Vec<UserGroupView>)))]
async fn groups_of_user(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(user_id): Path<String>,
    params: Params,
) -> AppResult<Json<Vec<UserGroupView>>> {
    let inherited = params.bool("include_inherited")?.unwrap_or(false);
    Ok(Json(svc::groups_of_user(&s, &caller, &user_id, inherited).await?))
}
