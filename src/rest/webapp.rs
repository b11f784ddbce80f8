//! What the reference's web app calls on every load besides chats and models:
//! `/api/v1/configs/banners`, `/api/v1/tools/`, `/api/v1/functions/`, `/api/v1/skills/`,
//! `/api/changelog`, `/api/tasks/chat/{chat_id}` (and `…/stop`), `/api/tasks/stop/{task_id}`,
//! `/api/tasks`, `/api/usage`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::Body;
use crate::app::AppState;
use crate::auth::{Admin, Verified};
use crate::error::AppResult;
use crate::service::webapp::{
    self as svc, BannerView, BannersForm, Changelog, FunctionView, SkillView, TaskIdsView, TaskListView,
    TaskStopView, ToolView, UsageView,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/configs/banners", get(banners).post(set_banners))
        .route("/api/v1/tools", get(tools))
        .route("/api/v1/tools/", get(tools))
        .route("/api/v1/functions", get(functions))
        .route("/api/v1/functions/", get(functions))
        .route("/api/v1/skills", get(skills))
        .route("/api/v1/skills/", get(skills))
        .route("/api/changelog", get(changelog))
        .route("/api/tasks/chat/{*chat_id}", get(chat_tasks).post(stop_chat_tasks))
        .route("/api/tasks/stop/{task_id}", post(stop_task))
        .route("/api/tasks", get(all_tasks))
        .route("/api/usage", get(usage))
}

#[utoipa::path(get, path = "/api/v1/configs/banners", tag = "web app", summary = "The banners above the chat", responses((status = 200, description = "OK", body = Vec<BannerView>)))]
async fn banners(State(s): State<AppState>, Verified(caller): Verified) -> AppResult<Json<Vec<BannerView>>> {
    Ok(Json(svc::banners(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/configs/banners", tag = "web app", summary = "Replace the banners (admin)", request_body = BannersForm, responses((status = 200, description = "The banners as stored", body = Vec<BannerView>)))]
async fn set_banners(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<Json<Vec<BannerView>>> {
    let form = BannersForm::from_json(&body.0)?;
    Ok(Json(svc::set_banners(&s, &caller, form).await?))
}

#[utoipa::path(get, path = "/api/v1/tools", tag = "web app", summary = "The tools the caller may use (duet has none)", params(("query" = Option<String>, Query, description = "Part of a tool's name")), responses((status = 200, description = "Always empty", body = Vec<ToolView>)))]
async fn tools(Verified(caller): Verified) -> AppResult<Json<Vec<ToolView>>> {
    Ok(Json(svc::tools(&caller)?))
}

#[utoipa::path(get, path = "/api/v1/functions", tag = "web app", summary = "The functions (duet has none)", responses((status = 200, description = "Always empty", body = Vec<FunctionView>)))]
async fn functions(Verified(caller): Verified) -> AppResult<Json<Vec<FunctionView>>> {
    Ok(Json(svc::functions(&caller)?))
}

#[utoipa::path(get, path = "/api/v1/skills", tag = "web app", summary = "The skills the caller may use (duet has none)", params(("query" = Option<String>, Query, description = "Part of a skill's name")), responses((status = 200, description = "Always empty", body = Vec<SkillView>)))]
async fn skills(Verified(caller): Verified) -> AppResult<Json<Vec<SkillView>>> {
    Ok(Json(svc::skills(&caller)?))
}

#[utoipa::path(get, path = "/api/changelog", tag = "web app", summary = "Release notes by version (duet ships none)", responses((status = 200, description = "Always `{}`", body = Object)), security(()))]
async fn changelog() -> Json<Changelog> {
    Json(svc::changelog())
}

#[utoipa::path(get, path = "/api/tasks/chat/{chat_id}", tag = "web app", summary = "The chat's running replies that the caller runs (empty for a chat the caller may not continue)", params(("chat_id" = String, Path, description = "The chat id (may contain `/`)")), responses((status = 200, description = "OK", body = TaskIdsView)))]
async fn chat_tasks(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(chat_id): Path<String>,
) -> AppResult<Json<TaskIdsView>> {
    Ok(Json(svc::chat_tasks(&s, &caller, &chat_id).await?))
}

#[utoipa::path(post, path = "/api/tasks/chat/{chat_id}/stop", tag = "web app", summary = "Stop the caller's running replies of a chat (the text so far is stored); with none running, finish its unfinished replies", params(("chat_id" = String, Path, description = "The chat id (may contain `/`)")), responses((status = 200, description = "What was stopped", body = TaskStopView), (status = 404, description = "A chat the caller may not continue", body = super::openapi::ErrorBody)))]
async fn stop_chat_tasks(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(path): Path<String>,
) -> AppResult<Response> {
    // `{chat_id}` may hold `/`: the route is `…/{chat_id}/stop`; any other POST path here is
    // served by GET only.
    let Some(chat_id) = path.strip_suffix("/stop") else {
        return Ok(super::method_not_allowed().await.into_response());
    };
    Ok(Json(svc::stop_chat_tasks(&s, &caller, chat_id).await?).into_response())
}

#[utoipa::path(post, path = "/api/tasks/stop/{task_id}", tag = "web app", summary = "Stop a running task (admin); its reply is stored with the text so far", params(("task_id" = String, Path, description = "The task id")), responses((status = 200, description = "`status: false` for an unknown task (without Redis)", body = TaskStopView)))]
async fn stop_task(
    State(s): State<AppState>,
    Admin(caller): Admin,
    Path(task_id): Path<String>,
) -> AppResult<Json<TaskStopView>> {
    Ok(Json(svc::stop_task(&s, &caller, &task_id).await?))
}

#[utoipa::path(get, path = "/api/tasks", tag = "web app", summary = "Every running task (admin)", responses((status = 200, description = "OK", body = TaskListView)))]
async fn all_tasks(State(s): State<AppState>, Admin(caller): Admin) -> AppResult<Json<TaskListView>> {
    Ok(Json(svc::all_tasks(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/usage", tag = "web app", summary = "Models in use and users active in the last three minutes", responses((status = 200, description = "OK", body = UsageView)))]
async fn usage(State(s): State<AppState>, Verified(caller): Verified) -> AppResult<Json<UsageView>> {
    Ok(Json(svc::usage(&s, &caller).await?))
}
