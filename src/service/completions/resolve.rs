//! Which model a completion runs on: the requested id looked up in the list `/api/models` serves
//! the caller (so the same access rule applies), then the reference's `check_model_access` (a
//! stored model the caller owns or may read, and every base model below it readable), then the
//! provider connection behind it (a preset's base model, the provider's index). Unknown and
//! unreadable models get one answer, 400 `Model not found`, so existence does not leak.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::policy;
use crate::store;
use crate::store::models::{ModelRow, StoredModels};
use crate::upstream::{Connection, Kind};

/// How many presets a chain of base models may pass through.
const MAX_PRESET_DEPTH: usize = 8;

/// The model a completion runs on.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The id the caller asked for.
    pub id: String,
    /// Its entry of the caller's model list (`info`, `owned_by`, …).
    pub entry: Map<String, Value>,
    /// Its stored row (a preset, or settings given to an upstream model).
    pub row: Option<ModelRow>,
    /// The provider's API.
    pub kind: Kind,
    /// The connection the request goes to.
    pub connection: Connection,
    /// The model id as the provider lists it (a preset's base model, prefix included).
    pub upstream_id: String,
}

fn not_found() -> AppError {
    AppError::bad_request(ErrorCode::ModelNotFound)
}

/// Whether the caller may read a stored model: its owner, or a read grant (to them, to every
/// user, or to one of their groups).
async fn may_read(app: &App, p: &Principal, row: &ModelRow, stored: &StoredModels) -> AppResult<bool> {
    if row.user_id == p.user.id {
        return Ok(true);
    }
    let grants: Vec<_> = stored.grants_of(&row.id).iter().filter(|g| g.permission == "read").collect();
    let groups = if grants.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await?
    } else {
        HashSet::new()
    };
    Ok(grants.iter().any(|g| policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), &groups)))
}

/// `check_model_access`: a stored model the caller may read, with every base model below it
/// readable too (a base model without a row is for admins only).
pub(super) async fn check_access(app: &App, p: &Principal, row: Option<&ModelRow>) -> AppResult<()> {
    let stored = store::models::stored(&app.db).await?;
    check_stored(app, p, row, &stored).await
}

async fn check_stored(
    app: &App,
    p: &Principal,
    row: Option<&ModelRow>,
    stored: &StoredModels,
) -> AppResult<()> {
    let Some(row) = row else { return Err(not_found()) };
    if !may_read(app, p, row, stored).await? {
        return Err(not_found());
    }
    let mut seen = HashSet::from([row.id.clone()]);
    let mut base = row.base_model_id.clone();
    while let Some(id) = base.filter(|b| seen.insert(b.clone())) {
        match stored.get(&id) {
            None if p.role.is_admin() => break,
            None => return Err(not_found()),
            Some(b) if !may_read(app, p, b, stored).await? => return Err(not_found()),
            Some(b) => base = b.base_model_id.clone(),
        }
    }
    Ok(())
}

/// The upstream entry of `id`: exact, else an Ollama model named `id` without its `:tag`.
fn upstream_entry<'a>(upstream: &'a [Value], id: &str) -> Option<&'a Value> {
    upstream.iter().find(|m| m.get("id").and_then(Value::as_str) == Some(id)).or_else(|| {
        upstream.iter().find(|m| {
            m.get("owned_by").and_then(Value::as_str) == Some("ollama")
                && m.get("id").and_then(Value::as_str).and_then(|i| i.split(':').next()) == Some(id)
        })
    })
}

/// Resolves `model` for `caller`.
pub async fn resolve(app: &App, caller: &Caller, p: &Principal, model: Option<&str>) -> AppResult<Resolved> {
    let id = model.ok_or_else(not_found)?;
    // The stored models are read once (none while the cached copy is fresh) for the list, the
    // access check and the base model chain.
    let stored = store::models::stored(&app.db).await?;
    let list = crate::service::models::chat_models_from(app, caller, false, &stored).await?;
    let entry = list
        .data
        .into_iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(id))
        .and_then(|m| m.as_object().cloned())
        .ok_or_else(not_found)?;
    let row = stored.get(id).cloned();
    let bypass = app.config.bypass_model_access_control
        || (p.role.is_admin() && app.config.bypass_admin_access_control);
    if !bypass {
        check_stored(app, p, row.as_ref(), &stored).await?;
    }

    // A preset runs on its base model (through further presets if need be).
    let upstream = app.upstream.models(false).await;
    let mut target = row.as_ref().and_then(|r| r.base_model_id.clone()).unwrap_or_else(|| id.to_string());
    let mut seen = HashSet::new();
    let found = loop {
        if let Some(found) = upstream_entry(&upstream, &target) {
            break found;
        }
        if !seen.insert(target.clone()) || seen.len() > MAX_PRESET_DEPTH {
            return Err(not_found());
        }
        match stored.get(&target).and_then(|r| r.base_model_id.clone()) {
            Some(base) => target = base,
            None => return Err(not_found()),
        }
    };
    let upstream_id = found.get("id").and_then(Value::as_str).unwrap_or(&target).to_string();
    let (kind, index) = match found.get("owned_by").and_then(Value::as_str) {
        Some("ollama") => {
            let urls: Vec<usize> = found
                .get("ollama")
                .and_then(|o| o.get("urls"))
                .and_then(Value::as_array)
                .map(|u| u.iter().filter_map(Value::as_u64).map(|i| i as usize).collect())
                .unwrap_or_default();
            let index = urls.choose(&mut rand::rng()).copied().ok_or_else(not_found)?;
            (Kind::Ollama, index)
        }
        _ => (Kind::OpenAi, found.get("urlIdx").and_then(Value::as_u64).unwrap_or(0) as usize),
    };
    let connection = app.upstream.connection(kind, index).ok_or_else(|| match kind {
        Kind::OpenAi => AppError::unavailable(ErrorCode::OpenAiDisabled),
        Kind::Ollama => AppError::unavailable(ErrorCode::OllamaDisabled),
    })?;
    Ok(Resolved { id: id.to_string(), entry, row, kind, connection, upstream_id })
}
