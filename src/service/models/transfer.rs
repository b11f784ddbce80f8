//! Moving models in bulk: export, import (all in one transaction) and deleting every model.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::access::{bypass_admin, check_files, permission};
use super::catalog::upstream_ids;
use super::view::ModelExportView;
use super::write::{insert_in, update_in};
use super::{ModelForm, canonical_meta, is_valid_id, with_grants};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::grants::{self, Shared};
use crate::store;
use crate::store::models::{self as db_models, ModelRow};

/// `GET /models/export?ids=…`: presets the caller may write (admins: all), needs
/// `workspace.models_export` for non-admins; 403 when a named id is not exportable.
pub async fn export(app: &App, caller: &Caller, ids: Option<Vec<String>>) -> AppResult<Vec<ModelExportView>> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models_export").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let rows = match &ids {
        Some(ids) => db_models::by_ids(&app.db, ids).await?,
        None => db_models::all(&app.db).await?,
    };
    let mut rows: Vec<ModelRow> = rows.into_iter().filter(|r| r.base_model_id.is_some()).collect();
    if !bypass_admin(app, p) {
        let all_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let writable = crate::store::grants::granted_ids(
            &app.db,
            crate::store::grants::MODEL,
            &all_ids,
            p.id(),
            "write",
        )
        .await?;
        rows.retain(|r| r.user_id == p.user.id || writable.contains(&r.id));
    }
    if let Some(ids) = &ids {
        let requested: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let found: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        if requested != found {
            return Err(AppError::forbidden(ErrorCode::AccessProhibited));
        }
    }
    let models = with_grants(&app.db, rows).await?;
    Ok(models.into_iter().map(|model| ModelExportView { model, background_image_data: None }).collect())
}

/// `POST /models/import`: creates or updates each model (all in one transaction); non-admins
/// need `workspace.models_import`, may only overwrite models they may write (401
/// `MODEL_ID_TAKEN`), and skip models without a base model.
pub async fn import(app: &App, caller: &Caller, models: Vec<Value>) -> AppResult<bool> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models_import").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let ids: Vec<String> = models
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .filter(|id| is_valid_id(id))
        .map(str::to_string)
        .collect();
    let existing: HashMap<String, ModelRow> =
        db_models::by_ids(&app.db, &ids).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let existing_ids: Vec<String> = existing.keys().cloned().collect();
    let writable = if p.role.is_admin() {
        existing_ids.iter().cloned().collect()
    } else {
        crate::store::grants::granted_ids(
            &app.db,
            crate::store::grants::MODEL,
            &existing_ids,
            p.id(),
            "write",
        )
        .await?
    };
    // Asked before the transaction so a slow provider never holds a write lock.
    let taken = if p.role.is_admin() { HashSet::new() } else { upstream_ids(app).await };
    let now = store::now();
    let mut tx = app.db.begin().await?;
    let mut done: HashSet<String> = HashSet::new();
    for data in models {
        let Some(mut data) = data.as_object().cloned() else { continue };
        let Some(id) =
            data.get("id").and_then(Value::as_str).filter(|id| is_valid_id(id)).map(str::to_string)
        else {
            continue;
        };
        if data.get("base_model_id").and_then(Value::as_str) == Some(id.as_str()) {
            data.insert("base_model_id".into(), Value::Null);
        }
        // A model is read back in this transaction when an import names it twice.
        let stored =
            if done.contains(&id) { db_models::get(&mut tx, &id).await? } else { existing.get(&id).cloned() };
        match stored {
            Some(row) => {
                if !p.role.is_admin() && row.user_id != p.user.id && !writable.contains(&id) {
                    return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
                }
                let base = match data.get("base_model_id") {
                    Some(v) => v.as_str().map(str::to_string),
                    None => row.base_model_id.clone(),
                };
                if !p.role.is_admin()
                    && row.base_model_id.is_some()
                    && base.as_deref().is_none_or(str::is_empty)
                {
                    tracing::warn!(model = %id, "import: cannot clear the base model; skipped");
                    continue;
                }
                let mut meta = canonical_meta(&row.meta.0).as_object().cloned().unwrap_or_default();
                if let Some(Value::Object(m)) = data.get("meta") {
                    meta.extend(m.clone());
                }
                let mut merged = Map::new();
                merged.insert("id".into(), json!(row.id));
                merged.insert("base_model_id".into(), json!(row.base_model_id));
                merged.insert("name".into(), json!(row.name));
                merged.insert("is_active".into(), json!(row.is_active));
                merged.extend(data.clone());
                merged.insert("meta".into(), Value::Object(meta));
                merged.insert("params".into(), data.get("params").cloned().unwrap_or_else(|| json!({})));
                let form = import_form(&id, &Value::Object(merged))?;
                if check_files(p, &form.meta, Some(&canonical_meta(&row.meta.0))).is_err() {
                    tracing::warn!(model = %id, "import: references a file that cannot be read; skipped");
                    continue;
                }
                let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
                update_in(&mut tx, p, &row, &form, base_model_id.as_deref()).await?;
            }
            None => {
                if !data.contains_key("meta") {
                    data.insert("meta".into(), json!({}));
                }
                if !data.contains_key("params") {
                    data.insert("params".into(), json!({}));
                }
                let form = import_form(&id, &Value::Object(data))?;
                let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
                if !p.role.is_admin() {
                    if base_model_id.as_deref().is_none_or(str::is_empty) {
                        tracing::warn!(model = %id, "import: no base model set; skipped");
                        continue;
                    }
                    if taken.contains(&id) {
                        return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
                    }
                }
                if check_files(p, &form.meta, None).is_err() {
                    tracing::warn!(model = %id, "import: references a file that cannot be read; skipped");
                    continue;
                }
                let grants = grants::normalize(form.access_grants.as_deref().unwrap_or_default());
                let mut grants = grants::allowed(app, p, Shared::Model, grants).await?;
                let unknown = grants::unknown_principals(app, &grants).await?;
                if !unknown.is_empty() {
                    tracing::warn!(model = %id, dropped = unknown.len(), "import: grants naming nobody dropped");
                    grants.retain(|g| !unknown.contains(&(g.principal_type.clone(), g.principal_id.clone())));
                }
                insert_in(&mut tx, p.id(), p.id(), &form, base_model_id.as_deref(), &grants, now).await?;
            }
        }
        done.insert(id);
    }
    tx.commit().await?;
    Ok(true)
}

/// An imported model's form; a validation failure is 400 naming the model.
fn import_form(id: &str, value: &Value) -> AppResult<ModelForm> {
    ModelForm::from_json(value).map_err(|e| {
        AppError::bad_request_with(ErrorCode::ValidationError, format!("Invalid model {id}: {}", e.message()))
    })
}

/// `DELETE /models/delete/all` (admin): every model, grant and history entry.
pub async fn delete_all(app: &App, caller: &Caller) -> AppResult<bool> {
    caller.require_admin()?;
    let mut tx = app.db.begin().await?;
    db_models::delete_all(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}
