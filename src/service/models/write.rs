//! The writes inside a transaction that create, update, access and import share: history
//! snapshots, inserting a model with its grants, updating one.

use serde_json::{Value, json};

use super::access::check_files;
use super::{ModelForm, canonical_meta, canonical_params};
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::grants::NewGrant;
use crate::store::models::{self as db_models, ModelRow, ModelWrite};
use crate::store::{self, Tx};

/// What a history entry records of a model.
fn snapshot(name: &str, base_model_id: Option<&str>, params: &Value, meta: &Value) -> Value {
    let mut meta = meta.clone();
    if let Some(m) = meta.as_object_mut() {
        m.remove("hidden");
        m.remove("chat_variables_schema");
    }
    json!({"name": name, "base_model_id": base_model_id, "params": params, "meta": meta})
}

/// Inserts a model, its first history entry and its grants inside `tx`.
pub(super) async fn insert_in(
    tx: &mut Tx,
    owner: &str,
    author: &str,
    form: &ModelForm,
    base_model_id: Option<&str>,
    grants: &[NewGrant],
    now: i64,
) -> AppResult<()> {
    let meta = Value::Object(form.meta.clone());
    let params = Value::Object(form.params.clone());
    let version = uuid::Uuid::new_v4().to_string();
    let snap = snapshot(&form.name, base_model_id, &params, &meta);
    db_models::insert_history(
        &mut *tx,
        &db_models::HistoryWrite {
            id: &version,
            model_id: &form.id,
            parent_id: None,
            snapshot: &snap,
            user_id: author,
            commit_message: form.commit_message.as_deref(),
            created_at: now,
        },
    )
    .await?;
    let write = ModelWrite {
        id: &form.id,
        user_id: owner,
        base_model_id,
        name: &form.name,
        params: &params,
        meta: &meta,
        version_id: Some(&version),
        is_active: form.is_active.unwrap_or(true),
        updated_at: now,
        created_at: now,
    };
    db_models::insert(&mut *tx, &write).await.map_err(taken_on_conflict)?;
    if !grants.is_empty() {
        crate::store::grants::replace_grants(tx, crate::store::grants::MODEL, &form.id, grants, now).await?;
    }
    Ok(())
}

/// A unique-key collision on insert is a taken id.
fn taken_on_conflict(e: AppError) -> AppError {
    e.on_conflict(|| AppError::unauthorized(ErrorCode::ModelIdTaken))
}

/// Writes an update of `row` from `form` inside `tx` (a history entry when the configuration
/// changed); `access_grants` of the form are ignored.
pub(super) async fn update_in(
    tx: &mut Tx,
    p: &Principal,
    row: &ModelRow,
    form: &ModelForm,
    base_model_id: Option<&str>,
) -> AppResult<()> {
    let mut meta = form.meta.clone();
    let stored_meta = canonical_meta(&row.meta.0);
    for key in ["profile_image_url", "voice_avatar", "background_image_url"] {
        if !form.meta_given.iter().any(|k| k == key) {
            meta.insert(key.into(), stored_meta.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    check_files(p, &meta, Some(&stored_meta))?;
    let mut params = form.params.clone();
    if !form.model_controls_given
        && let Some(controls) =
            row.params.0.get("model_controls").filter(|c| c.as_object().is_some_and(|m| !m.is_empty()))
    {
        params.insert("model_controls".into(), controls.clone());
    }
    let meta = canonical_meta(&Value::Object(meta));
    let params = canonical_params(&Value::Object(params));
    let now = store::now();
    let before =
        snapshot(&row.name, row.base_model_id.as_deref(), &canonical_params(&row.params.0), &stored_meta);
    let after = snapshot(&form.name, base_model_id, &params, &meta);
    let version = if before == after {
        row.version_id.clone()
    } else {
        let id = uuid::Uuid::new_v4().to_string();
        db_models::insert_history(
            &mut *tx,
            &db_models::HistoryWrite {
                id: &id,
                model_id: &row.id,
                parent_id: row.version_id.as_deref(),
                snapshot: &after,
                user_id: p.id(),
                commit_message: form.commit_message.as_deref(),
                created_at: now,
            },
        )
        .await?;
        Some(id)
    };
    let write = ModelWrite {
        id: &row.id,
        user_id: &row.user_id,
        base_model_id,
        name: &form.name,
        params: &params,
        meta: &meta,
        version_id: version.as_deref(),
        is_active: form.is_active.unwrap_or(row.is_active),
        updated_at: now,
        created_at: row.created_at,
    };
    db_models::update(tx, &write).await?;
    Ok(())
}
