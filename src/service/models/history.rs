//! A model's version history (`/models/model/history…`, `/models/model/update/version`): the
//! versions newest first, one version with its snapshot, deleting one, and making one the live
//! configuration. Every use case needs the owner, an admin with `BYPASS_ADMIN_ACCESS_CONTROL`,
//! or a write grant (403 `ACCESS_PROHIBITED`; 404 `NOT_FOUND` for an unknown model).

use serde_json::{Map, Value};

use super::access::{bypass_admin, check_files, has_grant};
use super::dependencies::check_dependencies;
use super::history_view::{VersionEntryView, VersionView};
use super::{ModelForm, ModelView, VersionForm, canonical_meta, canonical_params, load};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;
use crate::store::models::{self as db_models, ModelRow, ModelWrite};

/// Versions per page of `GET /models/model/history`.
pub const HISTORY_PAGE_SIZE: i64 = 20;

/// Where page `page` starts (pages below 1 are the first).
fn offset_of(page: Option<i64>) -> i64 {
    (page.unwrap_or(1).max(1) - 1).saturating_mul(HISTORY_PAGE_SIZE)
}

fn version_not_found() -> AppError {
    AppError::not_found(ErrorCode::ModelVersionNotFound)
}

/// Model `id`, when the caller may see and change its history.
async fn authorized(app: &App, p: &Principal, id: &str) -> AppResult<ModelRow> {
    let row = db_models::get(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    if row.user_id == p.user.id || bypass_admin(app, p) || has_grant(app, p, id, "write").await? {
        Ok(row)
    } else {
        Err(AppError::forbidden(ErrorCode::AccessProhibited))
    }
}

/// `GET /models/model/history?id=&page=`: 20 versions per page (pages below 1 are the first),
/// newest first.
pub async fn history(app: &App, caller: &Caller, id: &str, page: Option<i64>) -> AppResult<Vec<VersionView>> {
    let p = caller.require_verified()?;
    authorized(app, p, id).await?;
    let rows = db_models::history(&app.db, id, HISTORY_PAGE_SIZE, offset_of(page)).await?;
    Ok(rows.into_iter().map(VersionView::from).collect())
}

/// `history` with each version's snapshot (one statement for the page).
pub async fn history_entries(
    app: &App,
    caller: &Caller,
    id: &str,
    page: Option<i64>,
) -> AppResult<Vec<VersionEntryView>> {
    let p = caller.require_verified()?;
    authorized(app, p, id).await?;
    let rows = db_models::history_entries(&app.db, id, HISTORY_PAGE_SIZE, offset_of(page)).await?;
    Ok(rows.into_iter().map(VersionEntryView::from).collect())
}

/// `GET /models/model/history/{version}?id=`: one version with its snapshot; 404 `Model version
/// not found`.
pub async fn history_entry(
    app: &App,
    caller: &Caller,
    id: &str,
    version_id: &str,
) -> AppResult<VersionEntryView> {
    let p = caller.require_verified()?;
    authorized(app, p, id).await?;
    let entry = db_models::history_entry(&app.db, id, version_id).await?.ok_or_else(version_not_found)?;
    Ok(entry.into())
}

/// `DELETE /models/model/history/{version}?id=`: removes a version that is not the live one (400
/// `Cannot delete the current version`); the versions that followed it follow its parent.
pub async fn delete_history_entry(app: &App, caller: &Caller, id: &str, version_id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    authorized(app, p, id).await?;
    let mut tx = app.db.begin().await?;
    // Locked, so that the version cannot become the live one meanwhile.
    let row = db_models::get_for_update(&mut tx, id).await?.ok_or_else(version_not_found)?;
    if row.version_id.as_deref() == Some(version_id) {
        return Err(AppError::bad_request(ErrorCode::CurrentModelVersion));
    }
    let entry = db_models::history_entry(&mut tx, id, version_id).await?.ok_or_else(version_not_found)?;
    db_models::delete_history_entry(&mut tx, id, version_id, entry.entry.parent_id.as_deref()).await?;
    tx.commit().await?;
    Ok(true)
}

/// `POST /models/model/update/version?id=` `{version_id}`: the model takes the version's name,
/// base model, params and meta (its `is_active`, owner and `meta.hidden` stay) and points at
/// that version; no new version is written. A non-admin may not go back to a version without a
/// base model (403 `ACCESS_PROHIBITED`); what the version refers to must be usable (400, see
/// `check_dependencies`).
pub async fn restore_version(
    app: &App,
    caller: &Caller,
    id: &str,
    form: VersionForm,
) -> AppResult<ModelView> {
    let p = caller.require_verified()?;
    let row = authorized(app, p, id).await?;
    let entry =
        db_models::history_entry(&app.db, id, &form.version_id).await?.ok_or_else(version_not_found)?;
    let version = version_form(id, &entry.snapshot.0)?;
    if !p.role.is_admin()
        && row.base_model_id.is_some()
        && version.base_model_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    check_dependencies(app, &version).await?;
    check_files(p, &version.meta, Some(&canonical_meta(&row.meta.0)))?;

    let mut tx = app.db.begin().await?;
    let current = db_models::get_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    // Read again under the lock: the version may have been deleted since.
    db_models::history_entry(&mut tx, id, &entry.entry.id).await?.ok_or_else(version_not_found)?;
    let mut meta = version.meta.clone();
    meta.remove("hidden");
    meta.remove("chat_variables_schema");
    // Whether a model is hidden belongs to the live model, not to a version.
    if let Some(hidden) = current.meta.0.get("hidden") {
        meta.insert("hidden".into(), hidden.clone());
    }
    let meta = canonical_meta(&Value::Object(meta));
    let params = canonical_params(&Value::Object(version.params.clone()));
    let write = ModelWrite {
        id,
        user_id: &current.user_id,
        base_model_id: version.base_model_id.as_deref().filter(|b| *b != id),
        name: &version.name,
        params: &params,
        meta: &meta,
        version_id: Some(&entry.entry.id),
        is_active: current.is_active,
        updated_at: store::now(),
        created_at: current.created_at,
    };
    db_models::update(&mut tx, &write).await?;
    tx.commit().await?;
    load(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))
}

/// A stored snapshot read as the `ModelForm` of model `id` (a snapshot without
/// `params.model_controls` has none).
fn version_form(id: &str, snapshot: &Value) -> AppResult<ModelForm> {
    let mut body: Map<String, Value> = snapshot.as_object().cloned().unwrap_or_default();
    body.insert("id".into(), Value::String(id.to_string()));
    let mut form = ModelForm::from_json(&Value::Object(body)).map_err(|e| {
        AppError::bad_request_with(
            ErrorCode::ValidationError,
            format!("The stored version is not a valid model: {}", e.message()),
        )
    })?;
    form.model_controls_given = true;
    Ok(form)
}
