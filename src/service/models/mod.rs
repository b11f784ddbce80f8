//! Workspace models: the `ModelForm` rules, create/read/update/delete, toggling, access grants,
//! the workspace list and tag lists, export/import, and the chat model list (`GET /api/models`)
//! that merges upstream providers with the stored models. Every ownership, permission and
//! validation rule lives here.
//!
//! This file holds loading models with their grants as views, and the single-model use cases
//! (create, get, update, toggle, delete); the rest lives in the submodules and is re-exported:
//! `form` (request forms and their validation), `canonical` (canonical `meta`/`params`),
//! `access` (who may read and write, grants), `write` (the writes inside a transaction),
//! `list` (the workspace and tag lists), `transfer` (export, import, delete all), `catalog`
//! (`/api/models`), `view` (what callers are shown), `history` and `history_view` (versions),
//! `dependencies` (what a restored version must be able to use), `sync`, `profile_image`.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store;
use crate::store::grants::GrantRow;
use crate::store::models::{self as db_models, ModelRow};

mod access;
mod canonical;
mod catalog;
mod dependencies;
mod form;
mod history;
mod history_view;
mod list;
mod profile_image;
mod sync;
mod transfer;
mod view;
mod write;

pub use access::update_access;
pub use canonical::{canonical_meta, canonical_params, normalize_tags};
pub use catalog::{chat_models, chat_models_from, upstream_models};
pub use form::{
    AccessForm, AccessGrantForm, MAX_ID_CHARS, ModelForm, ModelIdForm, ModelsImportForm, SyncForm,
    SyncedModel, VersionForm, is_valid_id,
};
pub use history::{
    HISTORY_PAGE_SIZE, delete_history_entry, history, history_entries, history_entry, restore_version,
};
pub use history_view::{VersionAuthor, VersionEntryView, VersionView};
pub use list::{ListParams, PAGE_SIZE, all, base, base_tags, list, list_range, tags};
pub use profile_image::{DEFAULT_MODEL_IMAGE, ModelImage, profile_image};
pub use sync::sync;
pub use transfer::{delete_all, export, import};
pub use view::{
    AccessGrantView, ChatModelList, ModelAccessView, ModelExportView, ModelPageView, ModelView, Owner,
};

use crate::service::grants::{self, Shared};
use crate::service::policy;
use access::{bypass_admin, check_files, may_change, permission};
use catalog::upstream_ids;
use write::{insert_in, update_in};

async fn with_grants(ex: &store::Db, rows: Vec<ModelRow>) -> AppResult<Vec<ModelView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut grants: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for g in crate::store::grants::grants_for(ex, crate::store::grants::MODEL, &ids).await? {
        grants.entry(g.resource_id.clone()).or_default().push(g);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let g = grants.remove(&row.id).unwrap_or_default();
            ModelView::new(row, g)
        })
        .collect())
}

async fn load(ex: &store::Db, id: &str) -> AppResult<Option<ModelView>> {
    match db_models::get(ex, id).await? {
        Some(row) => Ok(with_grants(ex, vec![row]).await?.pop()),
        None => Ok(None),
    }
}

/// `POST /models/create`.
pub async fn create(app: &App, caller: &Caller, form: ModelForm) -> AppResult<ModelView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "workspace.models").await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    if !is_valid_id(&form.id) {
        return Err(AppError::bad_request(ErrorCode::ModelIdTooLong));
    }
    // A model cannot be based on itself.
    let base_model_id = form.base_model_id.clone().filter(|b| *b != form.id);
    if db_models::get(&app.db, &form.id).await?.is_some() {
        return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
    }
    if !p.role.is_admin() {
        if base_model_id.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::unauthorized(ErrorCode::Unauthorized));
        }
        if upstream_ids(app).await.contains(&form.id) {
            return Err(AppError::unauthorized(ErrorCode::ModelIdTaken));
        }
    }
    check_files(p, &form.meta, None)?;
    let grants = grants::normalize(form.access_grants.as_deref().unwrap_or_default());
    let grants = grants::allowed(app, p, Shared::Model, grants).await?;
    grants::refuse_unknown_principals(app, &grants).await?;
    let mut tx = app.db.begin().await?;
    insert_in(&mut tx, p.id(), p.id(), &form, base_model_id.as_deref(), &grants, store::now()).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::internal("model vanished after insert"))
}

/// `GET /models/model?id=`: the model with `write_access`; `params` are `{}` for read-only
/// callers. 404 `NOT_FOUND`; 401 `ACCESS_PROHIBITED` without read access.
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<ModelAccessView> {
    let p = caller.require_verified()?;
    let m = load(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let groups = groups_for_grants(app, p, std::slice::from_ref(&m)).await?;
    as_reader(app, p, m, &groups).ok_or_else(|| AppError::unauthorized(ErrorCode::AccessProhibited))
}

/// What the caller may read of each of these models, by id, under `get`'s rule (unknown ids and
/// models the caller may not read are absent), in one read of the models with their grants (and
/// of the caller's groups when a grant names a group).
pub async fn readable(
    app: &App,
    caller: &Caller,
    ids: &[String],
) -> AppResult<HashMap<String, ModelAccessView>> {
    let p = caller.require_verified()?;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db_models::by_ids_with_grants(&app.db, ids).await?;
    let models: Vec<ModelView> = rows.into_iter().map(|(row, grants)| ModelView::new(row, grants)).collect();
    let groups = groups_for_grants(app, p, &models).await?;
    Ok(models
        .into_iter()
        .filter_map(|m| as_reader(app, p, m, &groups))
        .map(|v| (v.model.id.clone(), v))
        .collect())
}

/// The caller's groups (direct or inherited) when one of the models' grants names a group: only
/// then do they matter.
pub(super) async fn groups_for_grants(
    app: &App,
    p: &Principal,
    models: &[ModelView],
) -> AppResult<HashSet<String>> {
    if models.iter().any(|m| m.access_grants.iter().any(|g| g.principal_type == "group")) {
        store::groups::ids_of_member(&app.db, p.id()).await
    } else {
        Ok(HashSet::new())
    }
}

/// Whether one of `m`'s grants of `permission` reaches `p` (to them, to every user, or to one of
/// `groups`, the caller's groups).
pub(super) fn holds(m: &ModelView, p: &Principal, permission: &str, groups: &HashSet<String>) -> bool {
    m.access_grants.iter().any(|g| {
        g.permission == permission
            && policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), groups)
    })
}

/// `m` as `p` reads it (see `get`): write access for an admin who bypasses grants, the owner or a
/// write grant; otherwise a read grant is needed, and `params` are hidden. `None` without access.
fn as_reader(
    app: &App,
    p: &Principal,
    mut m: ModelView,
    groups: &HashSet<String>,
) -> Option<ModelAccessView> {
    let write = bypass_admin(app, p) || m.user_id == p.user.id || holds(&m, p, "write", groups);
    if !write && !holds(&m, p, "read", groups) {
        return None;
    }
    if !write {
        m.params = json!({});
    }
    Some(ModelAccessView { model: m, user: None, write_access: write })
}

/// `POST /models/model/update`: owner, admin or write grant. Omitted `base_model_id`,
/// `is_active`, `meta.profile_image_url`, `meta.voice_avatar`, `meta.background_image_url` and
/// `params.model_controls` keep their stored values; the rest of `meta`/`params` is replaced.
pub async fn update(app: &App, caller: &Caller, form: ModelForm) -> AppResult<ModelView> {
    let p = caller.require_verified()?;
    let mut tx = app.db.begin().await?;
    let row = db_models::get_for_update(&mut tx, &form.id)
        .await?
        .ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::bad_request(ErrorCode::AccessProhibited));
    }
    let base_model_id =
        if form.base_model_id_given { form.base_model_id.clone() } else { row.base_model_id.clone() };
    let base_model_id = base_model_id.filter(|b| *b != form.id);
    if !p.role.is_admin() && row.base_model_id.is_some() && base_model_id.as_deref().is_none_or(str::is_empty)
    {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    update_in(&mut tx, p, &row, &form, base_model_id.as_deref()).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

/// `POST /models/model/toggle?id=`: flips `is_active`.
pub async fn toggle(app: &App, caller: &Caller, id: &str) -> AppResult<ModelView> {
    let p = caller.require_verified()?;
    let row =
        db_models::get(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    if db_models::toggle(&app.db, id, store::now()).await? == 0 {
        return Err(AppError::bad_request(ErrorCode::ModelUpdateFailed));
    }
    load(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

/// `POST /models/model/delete`: the model, its grants and its history.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    let p = caller.require_verified()?;
    let row =
        db_models::get(&app.db, id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))?;
    if !may_change(app, p, &row).await? {
        return Err(AppError::unauthorized(ErrorCode::Unauthorized));
    }
    let mut tx = app.db.begin().await?;
    db_models::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(true)
}
