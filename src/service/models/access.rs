//! Who may read and write a model: admin bypass, grants (to the user, to every user, or to a
//! group the user belongs to), workspace permissions (the user's own tree, their groups'
//! included), the grants a caller may give (`update_access`), and the files a model may refer to.

use serde_json::{Map, Value, json};

use super::write::insert_in;
use super::{AccessForm, ModelForm, ModelView, canonical_meta, load};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::grants::{self, Shared};
use crate::service::{permissions, policy};
use crate::store;
use crate::store::models::{self as db_models, ModelRow};

pub(super) fn bypass_admin(app: &App, p: &Principal) -> bool {
    policy::admin_bypasses_model_grants(&p.role, app.config.bypass_admin_access_control)
}

/// Whether the caller holds `permission` on model `id` through a grant (see `service::grants`).
pub(super) async fn has_grant(app: &App, p: &Principal, id: &str, permission: &str) -> AppResult<bool> {
    grants::holds(app, p, store::grants::MODEL, id, permission).await
}

/// Owner, any admin, or a write grant: who may change or delete a model.
pub(super) async fn may_change(app: &App, p: &Principal, row: &ModelRow) -> AppResult<bool> {
    Ok(p.role.is_admin() || row.user_id == p.user.id || has_grant(app, p, &row.id, "write").await?)
}

pub(super) async fn permission(app: &App, p: &Principal, path: &str) -> AppResult<bool> {
    if p.role.is_admin() {
        return Ok(true);
    }
    let tree = permissions::of(&app.db, p).await?;
    Ok(policy::holds(&p.role, &tree, path))
}

/// Files a model refers to must be readable; duet stores no files yet, so a non-admin's
/// knowledge file, and anyone's new background image or voice avatar, is refused as the
/// reference refuses a file that does not exist.
pub(super) fn check_files(
    p: &Principal,
    meta: &Map<String, Value>,
    previous: Option<&Value>,
) -> AppResult<()> {
    if !p.role.is_admin()
        && let Some(items) = meta.get("knowledge").and_then(Value::as_array)
        && items.iter().any(|i| {
            i.get("type").and_then(Value::as_str) == Some("file")
                && i.get("id").and_then(Value::as_str).is_some_and(|id| !id.is_empty())
        })
    {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let prev = |k: &str| previous.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    let background = meta.get("background_image_url").cloned().unwrap_or(Value::Null);
    if !background.is_null() && background != prev("background_image_url") {
        return Err(AppError::forbidden(ErrorCode::FileNotAccessible));
    }
    let avatar = meta.get("voice_avatar").cloned().unwrap_or(Value::Null);
    if !avatar.is_null() && avatar != prev("voice_avatar") {
        return Err(AppError::forbidden_with(
            ErrorCode::FileNotAccessible,
            "Avatar or animation file is not accessible. Upload it again.",
        ));
    }
    Ok(())
}

/// `POST /models/model/access/update`: replaces the grants. An admin naming an id without a row
/// creates a minimal one (how upstream models get restricted). Non-admins need the sharing
/// permissions for every grant (403 otherwise); grants naming nobody are 400.
pub async fn update_access(app: &App, caller: &Caller, form: AccessForm) -> AppResult<ModelView> {
    let p = caller.require_verified()?;
    let row = db_models::get(&app.db, &form.id).await?;
    match &row {
        None if !p.role.is_admin() => return Err(AppError::forbidden(ErrorCode::AccessProhibited)),
        Some(row) if !may_change(app, p, row).await? => {
            return Err(AppError::bad_request(ErrorCode::AccessProhibited));
        }
        _ => {}
    }
    let allowed = grants::validate(app, p, Shared::Model, &form.access_grants).await?;
    let now = store::now();
    let mut tx = app.db.begin().await?;
    if row.is_none() {
        let minimal = ModelForm {
            id: form.id.clone(),
            base_model_id: None,
            base_model_id_given: false,
            name: form.name.clone().unwrap_or_else(|| form.id.clone()),
            meta: canonical_meta(&json!({})).as_object().cloned().unwrap_or_default(),
            meta_given: Vec::new(),
            params: Map::new(),
            model_controls_given: false,
            access_grants: None,
            is_active: None,
            commit_message: None,
        };
        insert_in(&mut tx, p.id(), p.id(), &minimal, None, &[], now).await?;
    }
    crate::store::grants::replace_grants(&mut tx, crate::store::grants::MODEL, &form.id, &allowed, now)
        .await?;
    db_models::touch(&mut tx, &form.id, now).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}
