//! The chat model list behind `/api/models`: the upstream providers' models merged with the
//! stored ones, and the ids upstream models reserve.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::access::bypass_admin;
use super::normalize_tags;
use super::view::{ChatModelList, ModelView, public_params};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::admin_config::Settings;
use crate::service::policy;
use crate::store;
use crate::store::models::{self as db_models, ModelRow, StoredModels};

/// `GET /api/models/base` (admin): the upstream models as fetched.
pub async fn upstream_models(app: &App, caller: &Caller) -> AppResult<ChatModelList> {
    caller.require_admin()?;
    Ok(ChatModelList { data: app.upstream.models(false).await.as_ref().clone() })
}

/// `GET /api/models`: upstream models merged with the stored ones, as Open WebUI builds its
/// chat list: a row without a base model and the id of an upstream model renames it (and carries
/// its settings as `info`; an inactive one hides it); an active preset whose base model is listed
/// is added. Non-admins see models they own or can read; upstream models without a row are for
/// admins only. No upstream models ⇒ an empty list.
pub async fn chat_models(app: &App, caller: &Caller, refresh: bool) -> AppResult<ChatModelList> {
    caller.require_verified()?;
    let stored = db_models::stored(&app.db).await?;
    chat_models_from(app, caller, refresh, &stored).await
}

/// `chat_models` over stored models already read (a completion reads them once for its list and
/// its access check).
pub async fn chat_models_from(
    app: &App,
    caller: &Caller,
    refresh: bool,
    stored: &StoredModels,
) -> AppResult<ChatModelList> {
    let p = caller.require_verified()?;
    let upstream = app.upstream.models(refresh).await;
    if upstream.is_empty() {
        return Ok(ChatModelList { data: Vec::new() });
    }
    let mut models: Vec<Map<String, Value>> =
        upstream.iter().filter_map(|m| m.as_object().cloned()).collect();
    let (rows, grants) = (&stored.rows, &stored.grants);
    let info = |row: &ModelRow| -> Value {
        let m = ModelView::new(row.clone(), stored.grants_of(&row.id).to_vec());
        let mut info = m.to_value();
        info["params"] = public_params(&m.params);
        info
    };

    // Ollama names without their `:tag` first, then exact ids (exact wins).
    let mut lookup: HashMap<String, usize> = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("");
        if m.get("owned_by").and_then(Value::as_str) == Some("ollama") {
            lookup.entry(id.split(':').next().unwrap_or(id).to_string()).or_insert(i);
        }
    }
    for (i, m) in models.iter().enumerate() {
        lookup.insert(m.get("id").and_then(Value::as_str).unwrap_or("").to_string(), i);
    }
    let upstream_ids: HashSet<String> =
        models.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string)).collect();
    let mut hidden = vec![false; models.len()];
    let mut presets: Vec<&ModelRow> = Vec::new();
    for row in rows {
        match &row.base_model_id {
            None => {
                if let Some(&i) = lookup.get(&row.id) {
                    if row.is_active {
                        models[i].insert("name".into(), json!(row.name));
                        models[i].insert("info".into(), info(row));
                    } else {
                        hidden[i] = true;
                    }
                }
            }
            Some(_) if row.is_active && !upstream_ids.contains(&row.id) => presets.push(row),
            Some(_) => {}
        }
    }
    // Presets whose base model is listed (directly, by Ollama name, or through another preset).
    let mut added: Vec<Map<String, Value>> = Vec::new();
    let mut added_ids: HashMap<String, usize> = HashMap::new();
    loop {
        let mut progress = false;
        for row in &presets {
            if added_ids.contains_key(&row.id) {
                continue;
            }
            let base_id = row.base_model_id.as_deref().unwrap_or("");
            let base = lookup
                .get(base_id)
                .or_else(|| lookup.get(base_id.split(':').next().unwrap_or(base_id)))
                .map(|&i| &models[i])
                .or_else(|| added_ids.get(base_id).map(|&i| &added[i]));
            let Some(base) = base else { continue };
            let mut m = Map::new();
            m.insert("id".into(), json!(row.id));
            m.insert("name".into(), json!(row.name));
            m.insert("object".into(), json!("model"));
            m.insert("created".into(), json!(row.created_at));
            m.insert("owned_by".into(), base.get("owned_by").cloned().unwrap_or_else(|| json!("unknown")));
            m.insert("connection_type".into(), base.get("connection_type").cloned().unwrap_or(Value::Null));
            m.insert("preset".into(), json!(true));
            if let Some(provider) = base.get("provider").filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                m.insert("provider".into(), provider.clone());
            }
            if let Some(loaded) = base.get("loaded").filter(|v| !v.is_null()) {
                m.insert("loaded".into(), loaded.clone());
            }
            m.insert("info".into(), info(row));
            added_ids.insert(row.id.clone(), added.len());
            added.push(m);
            progress = true;
        }
        if !progress {
            break;
        }
    }
    // Presets keep the stored order (oldest first), whatever pass added them.
    added.sort_by_key(|m| {
        rows.iter().position(|r| Some(r.id.as_str()) == m.get("id").and_then(Value::as_str))
    });
    let mut all: Vec<Map<String, Value>> =
        models.into_iter().zip(hidden).filter(|(_, h)| !h).map(|(m, _)| m).chain(added).collect();
    for m in &mut all {
        m.insert("actions".into(), json!([]));
        m.insert("filters".into(), json!([]));
    }

    // One entry per id: the first one's position, the last one's content.
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, Map<String, Value>> = HashMap::new();
    for m in all {
        let id = m.get("id").and_then(Value::as_str).unwrap_or("").to_string();
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        by_id.insert(id, m);
    }
    let all: Vec<Map<String, Value>> = order.into_iter().filter_map(|id| by_id.remove(&id)).collect();

    let filtered = (p.role.as_str() == "user"
        || (p.role.is_admin() && !app.config.bypass_admin_access_control))
        && !app.config.bypass_model_access_control;
    let groups = if filtered { store::groups::ids_of_member(&app.db, p.id()).await? } else { HashSet::new() };
    let mut visible: Vec<Map<String, Value>> = if filtered {
        all.into_iter()
            .filter(|m| match m.get("info").filter(|i| i.is_object()) {
                Some(info) => {
                    let id = m.get("id").and_then(Value::as_str).unwrap_or("");
                    bypass_admin(app, p)
                        || info.get("user_id").and_then(Value::as_str) == Some(p.id())
                        || grants.get(id).is_some_and(|gs| {
                            gs.iter().any(|g| {
                                g.permission == "read"
                                    && policy::grant_reaches(
                                        &g.principal_type,
                                        &g.principal_id,
                                        p.id(),
                                        &groups,
                                    )
                            })
                        })
                }
                None => p.role.is_admin(),
            })
            .collect()
    } else {
        all
    };

    for m in &mut visible {
        let mut tags: Vec<Value> = Vec::new();
        if let Some(meta) = m.get_mut("info").and_then(|i| i.get_mut("meta")).and_then(Value::as_object_mut) {
            meta.remove("profile_image_url");
            if let Some(t) = meta.get("tags").cloned() {
                let normalized = normalize_tags(&t);
                tags.extend(normalized.as_array().cloned().unwrap_or_default());
                meta.insert("tags".into(), normalized);
            }
        }
        tags.extend(
            normalize_tags(m.get("tags").unwrap_or(&Value::Null)).as_array().cloned().unwrap_or_default(),
        );
        let mut unique: Vec<Value> = Vec::new();
        for t in tags {
            match unique.iter_mut().find(|u| u["name"] == t["name"]) {
                Some(u) => *u = t,
                None => unique.push(t),
            }
        }
        m.insert("tags".into(), Value::Array(unique));
    }

    let settings = Settings::load(&app.db).await?;
    if let Some(list) =
        settings.get("ui.model_order_list").and_then(Value::as_array).filter(|l| !l.is_empty())
    {
        let position: HashMap<&str, usize> =
            list.iter().enumerate().filter_map(|(i, v)| v.as_str().map(|s| (s, i))).collect();
        visible.sort_by(|a, b| {
            let key = |m: &Map<String, Value>| {
                let id = m.get("id").and_then(Value::as_str).unwrap_or("");
                (
                    position.get(id).copied().unwrap_or(usize::MAX),
                    m.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
    }
    Ok(ChatModelList { data: visible.into_iter().map(Value::Object).collect() })
}

/// The ids a user's model may not take: every upstream model's, and Ollama models' names
/// without their `:tag`.
pub(super) async fn upstream_ids(app: &App) -> HashSet<String> {
    let upstream = app.upstream.models(false).await;
    let mut ids = HashSet::new();
    for m in upstream.iter().filter(|m| m.get("preset").is_none()) {
        let Some(id) = m.get("id").and_then(Value::as_str) else { continue };
        ids.insert(id.to_string());
        if m.get("owned_by").and_then(Value::as_str) == Some("ollama") {
            ids.insert(id.split(':').next().unwrap_or(id).to_string());
        }
    }
    ids
}
