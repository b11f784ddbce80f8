//! `/api/v1/models`: routes of the reference's models router, and the app-level chat model
//! list `GET /api/models` (also `GET /api/v1/models`, exactly) with `GET /api/models/base`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Body, Params};
use crate::app::AppState;
use crate::auth::{Admin, Caller, Verified};
use crate::error::AppResult;
use crate::service::models::{
    self as svc, AccessForm, ChatModelList, ListParams, ModelAccessView, ModelExportView, ModelForm,
    ModelIdForm, ModelImage, ModelPageView, ModelView, ModelsImportForm, SyncForm, VersionEntryView,
    VersionForm, VersionView,
};

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/models";
    let r = |path: &str| format!("{P}{path}");
    Router::new()
        .route("/api/models", get(chat_models))
        .route(P, get(chat_models))
        .route("/api/models/base", get(upstream_models))
        .route(&r("/list"), get(list))
        .route(&r("/all"), get(all))
        .route(&r("/base"), get(base))
        .route(&r("/base/tags"), get(base_tags))
        .route(&r("/tags"), get(tags))
        .route(&r("/create"), post(create))
        .route(&r("/export"), get(export))
        .route(&r("/import"), post(import))
        .route(&r("/model"), get(get_model))
        .route(&r("/model/update"), post(update))
        .route(&r("/model/delete"), post(delete_model))
        .route(&r("/model/toggle"), post(toggle))
        .route(&r("/model/access/update"), post(update_access))
        .route(&r("/delete/all"), delete(delete_all))
        .route(&r("/sync"), post(sync))
        .route(&r("/model/history"), get(history))
        .route(&r("/model/history/{history_id}"), get(history_entry).delete(delete_history_entry))
        .route(&r("/model/update/version"), post(restore_version))
        .route(&r("/model/profile/image"), get(profile_image))
}

#[utoipa::path(get, path = "/api/models", tag = "models", summary = "The chat model list", params(("refresh" = Option<bool>, Query, description = "Wait for a new upstream fetch")), responses((status = 200, description = "OK", body = ChatModelList)))]
async fn chat_models(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<ChatModelList>> {
    let refresh = params.bool("refresh")?.unwrap_or(false);
    Ok(Json(svc::chat_models(&s, &caller, refresh).await?))
}

#[utoipa::path(get, path = "/api/models/base", tag = "models", summary = "The upstream models alone (admin)", responses((status = 200, description = "OK", body = ChatModelList)))]
async fn upstream_models(State(s): State<AppState>, caller: Caller) -> AppResult<Json<ChatModelList>> {
    Ok(Json(svc::upstream_models(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/models/list", tag = "models", summary = "Presets the caller can read, 30 per page", params(("query" = Option<String>, Query, description = "Name, base model or owner"), ("view_option" = Option<String>, Query, description = "created or shared"), ("tag" = Option<String>, Query, description = "A tag name"), ("order_by" = Option<String>, Query, description = "name, created_at or updated_at"), ("direction" = Option<String>, Query, description = "asc or desc"), ("page" = Option<i64>, Query, description = "1-based page; every item without it")), responses((status = 200, description = "OK", body = ModelPageView)))]
async fn list(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<ModelPageView>> {
    let list = ListParams {
        query: params.string("query")?,
        view_option: params.string("view_option")?,
        tag: params.string("tag")?,
        order_by: params.string("order_by")?,
        direction: params.string("direction")?,
        owner: None,
    };
    let page = params.int("page")?;
    Ok(Json(svc::list(&s, &caller, list, page).await?))
}

#[utoipa::path(get, path = "/api/v1/models/all", tag = "models", summary = "Every model row (admin)", responses((status = 200, description = "OK", body = Vec<ModelView>)))]
async fn all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<ModelView>>> {
    Ok(Json(svc::all(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/models/base", tag = "models", summary = "Rows without a base model (admin)", params(("tag" = Option<String>, Query, description = "A tag name")), responses((status = 200, description = "OK", body = Vec<ModelView>)))]
async fn base(
    State(s): State<AppState>,
    Admin(caller): Admin,
    params: Params,
) -> AppResult<Json<Vec<ModelView>>> {
    Ok(Json(svc::base(&s, &caller, params.string("tag")?.as_deref()).await?))
}

#[utoipa::path(get, path = "/api/v1/models/base/tags", tag = "models", summary = "Tags of the rows without a base model (admin)", responses((status = 200, description = "OK", body = Vec<String>)))]
async fn base_tags(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<String>>> {
    Ok(Json(svc::base_tags(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/models/tags", tag = "models", summary = "Tags of the presets the caller can read", responses((status = 200, description = "OK", body = Vec<String>)))]
async fn tags(State(s): State<AppState>, caller: Caller) -> AppResult<Json<Vec<String>>> {
    Ok(Json(svc::tags(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/models/create", tag = "models", summary = "Create a model", request_body = ModelForm, responses((status = 200, description = "OK", body = ModelView)))]
async fn create(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<ModelView>> {
    let form = ModelForm::from_json(&body.0)?;
    Ok(Json(svc::create(&s, &caller, form).await?))
}

/// `ids` may repeat (`?ids=a&ids=b`); without it every exportable model is exported.
#[utoipa::path(get, path = "/api/v1/models/export", tag = "models", summary = "Export presets the caller may write", params(("ids" = Option<Vec<String>>, Query, description = "Model ids (repeatable)")), responses((status = 200, description = "OK", body = Vec<ModelExportView>)))]
async fn export(
    State(s): State<AppState>,
    Verified(caller): Verified,
    RawQuery(query): RawQuery,
) -> AppResult<Json<Vec<ModelExportView>>> {
    let ids: Vec<String> = query
        .as_deref()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "ids")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let ids = (!ids.is_empty()).then_some(ids);
    Ok(Json(svc::export(&s, &caller, ids).await?))
}

#[utoipa::path(post, path = "/api/v1/models/import", tag = "models", summary = "Create or update models in one transaction", request_body = ModelsImportForm, responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn import(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<bool>> {
    let form = ModelsImportForm::from_json(&body.0)?;
    Ok(Json(svc::import(&s, &caller, form.models).await?))
}

#[utoipa::path(get, path = "/api/v1/models/model", tag = "models", summary = "One model", params(("id" = String, Query, description = "The model id")), responses((status = 200, description = "OK", body = ModelAccessView)))]
async fn get_model(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<ModelAccessView>> {
    let id = params.required_text("id")?;
    Ok(Json(svc::get(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/models/model/update", tag = "models", summary = "Update a model", request_body = ModelForm, responses((status = 200, description = "OK", body = ModelView)))]
async fn update(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<ModelView>> {
    let form = ModelForm::from_json(&body.0)?;
    Ok(Json(svc::update(&s, &caller, form).await?))
}

#[utoipa::path(post, path = "/api/v1/models/model/delete", tag = "models", summary = "Delete a model", request_body = ModelIdForm, responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_model(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<bool>> {
    let form = ModelIdForm::from_json(&body.0)?;
    Ok(Json(svc::delete(&s, &caller, &form.id).await?))
}

#[utoipa::path(post, path = "/api/v1/models/model/toggle", tag = "models", summary = "Flip a model's is_active", params(("id" = String, Query, description = "The model id")), responses((status = 200, description = "OK", body = ModelView)))]
async fn toggle(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<ModelView>> {
    let id = params.required_text("id")?;
    Ok(Json(svc::toggle(&s, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/models/model/access/update", tag = "models", summary = "Replace a model's access grants", request_body = AccessForm, responses((status = 200, description = "OK", body = ModelView)))]
async fn update_access(
    State(s): State<AppState>,
    Verified(caller): Verified,
    body: Body<Value>,
) -> AppResult<Json<ModelView>> {
    let form = AccessForm::from_json(&body.0)?;
    Ok(Json(svc::update_access(&s, &caller, form).await?))
}

#[utoipa::path(delete, path = "/api/v1/models/delete/all", tag = "models", summary = "Delete every model (admin)", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_all(State(s): State<AppState>, caller: Caller) -> AppResult<Json<bool>> {
    Ok(Json(svc::delete_all(&s, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/models/sync", tag = "models", summary = "Make the stored models exactly this list (admin)", description = "Creates or updates each model in one transaction and deletes every stored model the list does not name (an empty list deletes them all).", request_body = SyncForm, responses((status = 200, description = "The models as stored", body = Vec<ModelView>)))]
async fn sync(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<Json<Vec<ModelView>>> {
    let form = SyncForm::from_json(&body.0)?;
    Ok(Json(svc::sync(&s, &caller, form).await?))
}

#[utoipa::path(get, path = "/api/v1/models/model/history", tag = "models", summary = "A model's versions, newest first, 20 per page", params(("id" = String, Query, description = "The model id"), ("page" = Option<i64>, Query, description = "1-based page (default 1)")), responses((status = 200, description = "OK", body = Vec<VersionView>)))]
async fn history(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Json<Vec<VersionView>>> {
    let id = params.required_text("id")?;
    let page = params.int("page")?;
    Ok(Json(svc::history(&s, &caller, &id, page).await?))
}

#[utoipa::path(get, path = "/api/v1/models/model/history/{history_id}", tag = "models", summary = "One version of a model, with its snapshot", params(("history_id" = String, Path, description = "The version id"), ("id" = String, Query, description = "The model id")), responses((status = 200, description = "OK", body = VersionEntryView)))]
async fn history_entry(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(version_id): Path<String>,
    params: Params,
) -> AppResult<Json<VersionEntryView>> {
    let id = params.required_text("id")?;
    Ok(Json(svc::history_entry(&s, &caller, &id, &version_id).await?))
}

#[utoipa::path(delete, path = "/api/v1/models/model/history/{history_id}", tag = "models", summary = "Delete a version that is not the live one", params(("history_id" = String, Path, description = "The version id"), ("id" = String, Query, description = "The model id")), responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_history_entry(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(version_id): Path<String>,
    params: Params,
) -> AppResult<Json<bool>> {
    let id = params.required_text("id")?;
    Ok(Json(svc::delete_history_entry(&s, &caller, &id, &version_id).await?))
}

#[utoipa::path(post, path = "/api/v1/models/model/update/version", tag = "models", summary = "Make a version the model's live configuration", params(("id" = String, Query, description = "The model id")), request_body = VersionForm, responses((status = 200, description = "OK", body = ModelView)))]
async fn restore_version(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
    body: Body<Value>,
) -> AppResult<Json<ModelView>> {
    let id = params.required_text("id")?;
    let form = VersionForm::from_json(&body.0)?;
    Ok(Json(svc::restore_version(&s, &caller, &id, form).await?))
}

#[utoipa::path(get, path = "/api/v1/models/model/profile/image", tag = "models", summary = "A model's avatar (the session cookie suffices, as `<img>` sends it)", params(("id" = String, Query, description = "The model id")), responses((status = 200, description = "The stored image, or the default model image", content_type = "image/png"), (status = 302, description = "The stored image is at an external URL (`Location`)")))]
async fn profile_image(
    State(s): State<AppState>,
    Verified(caller): Verified,
    params: Params,
) -> AppResult<Response> {
    let id = params.required_text("id")?;
    let default = || ([(header::CONTENT_TYPE, "image/png")], svc::DEFAULT_MODEL_IMAGE).into_response();
    Ok(match svc::profile_image(&s, &caller, &id).await? {
        ModelImage::Elsewhere(url) => match HeaderValue::from_str(&header_safe(&url)) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => default(),
        },
        ModelImage::Image { media_type, bytes, version } => {
            match (HeaderValue::from_str(&media_type), HeaderValue::from_str(&format!("\"{version}\""))) {
                (Ok(content_type), Ok(etag)) => (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
                        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                        (header::ETAG, etag),
                    ],
                    bytes,
                )
                    .into_response(),
                _ => default(),
            }
        }
        ModelImage::Default => default(),
    })
}

/// `url` with every byte a header value cannot hold (controls, space, non-ASCII) percent-encoded.
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
