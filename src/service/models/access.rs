//! Who may read and write a model: admin bypass, grants (to the user, to every user, or to a
//! group the user belongs to), workspace permissions (the user's own tree, their groups'
//! included), the grants a caller may give (`update_access`), and the files a model may refer to.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::write::insert_in;
use super::{AccessForm, ModelForm, ModelView, canonical_meta, load};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::{permissions, policy};
use crate::store;
use crate::store::models::{self as db_models, ModelRow, NewGrant};

pub(super) fn bypass_admin(app: &App, p: &Principal) -> bool {
    policy::admin_bypasses_model_grants(&p.role, app.config.bypass_admin_access_control)
}

/// Whether the caller holds `permission` on model `id` through a grant to them, to every user,
/// or to one of their groups, direct or inherited (their groups are looked up only when the
/// model has a group grant).
pub(super) async fn has_grant(app: &App, p: &Principal, id: &str, permission: &str) -> AppResult<bool> {
    let grants = db_models::grants_for(&app.db, db_models::MODEL, &[id.to_string()]).await?;
    let grants: Vec<_> = grants.into_iter().filter(|g| g.permission == permission).collect();
    let groups = if grants.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await?
    } else {
        HashSet::new()
    };
    Ok(grants.iter().any(|g| policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), &groups)))
}

/// Owner, any admin, or a write grant: who may change or delete a model.
pub(super) async fn may_change(app: &App, p: &Principal, row: &ModelRow) -> AppResult<bool> {
    Ok(p.role.is_admin() || row.user_id == p.user.id || has_grant(app, p, &row.id, "write").await?)
}

pub(super) async fn permission(app: &App, p: &Principal, path: &str) -> AppResult<bool> {
    if p.role.is_admin() {
        return Ok(true);
    }
    let tree = permissions::of_user(&app.db, p.id()).await?;
    Ok(policy::holds(&p.role, &tree, path))
}

/// Grants of a request: valid entries only, one per (type, id, permission).
pub(super) fn normalize_grants(list: &[Value]) -> Vec<NewGrant> {
    let mut out: Vec<NewGrant> = Vec::new();
    for g in list {
        let text = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (kind, principal, permission) =
            (text("principal_type"), text("principal_id"), text("permission"));
        if !matches!(kind.as_str(), "user" | "group" | "anyone")
            || !matches!(permission.as_str(), "read" | "write")
        {
            continue;
        }
        if principal.is_empty() || (kind == "anyone" && (principal != "*" || permission != "read")) {
            continue;
        }
        let grant = NewGrant {
            id: uuid::Uuid::new_v4().to_string(),
            principal_type: kind,
            principal_id: principal,
            permission,
        };
        match out.iter_mut().find(|o| {
            o.principal_type == grant.principal_type
                && o.principal_id == grant.principal_id
                && o.permission == grant.permission
        }) {
            Some(existing) => *existing = grant,
            None => out.push(grant),
        }
    }
    out
}

/// The grants a caller may give when sharing a model: `anyone` never; for non-admins only with
/// `sharing.models`, `user:*` only with `sharing.public_models`, users with
/// `access_grants.allow_users`, groups with `access_grants.allow_groups`.
pub(super) async fn allowed_grants(
    app: &App,
    p: &Principal,
    grants: Vec<NewGrant>,
) -> AppResult<Vec<NewGrant>> {
    let grants: Vec<NewGrant> = grants.into_iter().filter(|g| g.principal_type != "anyone").collect();
    if p.role.is_admin() || grants.is_empty() {
        return Ok(grants);
    }
    let perms = permissions::of_user(&app.db, p.id()).await?;
    if !perms.allows("sharing.models") {
        return Ok(Vec::new());
    }
    Ok(grants
        .into_iter()
        .filter(|g| match (g.principal_type.as_str(), g.principal_id.as_str()) {
            ("user", "*") => perms.allows("sharing.public_models"),
            ("user", _) => perms.allows("access_grants.allow_users"),
            ("group", _) => perms.allows("access_grants.allow_groups"),
            _ => false,
        })
        .collect())
}

/// The grants that name nobody: users and groups that do not exist.
pub(super) async fn unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<Vec<(String, String)>> {
    let named = |kind: &str| -> Vec<String> {
        grants
            .iter()
            .filter(|g| g.principal_type == kind && g.principal_id != "*")
            .map(|g| g.principal_id.clone())
            .collect()
    };
    let users = db_models::existing_user_ids(&app.db, &named("user")).await?;
    let groups = store::groups::existing_ids(&app.db, &named("group")).await?;
    Ok(grants
        .iter()
        .filter(|g| match g.principal_type.as_str() {
            "user" => g.principal_id != "*" && !users.contains(&g.principal_id),
            "group" => !groups.contains(&g.principal_id),
            _ => false,
        })
        .map(|g| (g.principal_type.clone(), g.principal_id.clone()))
        .collect())
}

/// 400 `UNKNOWN_PRINCIPAL` naming the first grant that names nobody.
pub(super) async fn refuse_unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<()> {
    match unknown_principals(app, grants).await?.first() {
        None => Ok(()),
        Some((kind, id)) => Err(AppError::bad_request_with(
            ErrorCode::UnknownPrincipal,
            format!("An access grant names a {kind} that does not exist: {id}"),
        )),
    }
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
    let grants = normalize_grants(&form.access_grants);
    let allowed = allowed_grants(app, p, grants.clone()).await?;
    if allowed.len() != grants.len() {
        return Err(AppError::forbidden(ErrorCode::SharingNotAllowed));
    }
    refuse_unknown_principals(app, &allowed).await?;
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
    db_models::replace_grants(&mut tx, db_models::MODEL, &form.id, &allowed, now).await?;
    db_models::touch(&mut tx, &form.id, now).await?;
    tx.commit().await?;
    load(&app.db, &form.id).await?.ok_or_else(|| AppError::unauthorized(ErrorCode::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_normalised_and_deduplicated() {
        let g = normalize_grants(&[
            json!({"principal_type": "user", "principal_id": "u1", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "u1", "permission": "read"}),
            json!({"principal_type": "anyone", "principal_id": "*", "permission": "write"}),
            json!({"principal_type": "robot", "principal_id": "r", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "", "permission": "read"}),
            json!({"principal_type": "user", "principal_id": "*", "permission": "read"}),
        ]);
        let keys: Vec<(&str, &str)> =
            g.iter().map(|g| (g.principal_type.as_str(), g.principal_id.as_str())).collect();
        assert_eq!(keys, [("user", "u1"), ("user", "*")]);
    }
}
