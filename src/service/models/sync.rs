//! `POST /models/sync` (admin): makes the stored models exactly the given list, in one
//! transaction — each model is created (owned by the caller, with its grants) or updated (its
//! grants stay), and every stored model the list does not name is deleted with its grants and
//! history, as the reference does. An empty list deletes every model.

use std::collections::{HashMap, HashSet};

use super::access::check_files;
use super::write::{insert_in, update_in};
use super::{ModelView, SyncForm, canonical_meta, with_grants};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::grants::{self, Shared};
use crate::store;
use crate::store::models::{self as db_models, ModelRow};

/// The models as stored afterwards, once each, in the order the list first names them.
pub async fn sync(app: &App, caller: &Caller, form: SyncForm) -> AppResult<Vec<ModelView>> {
    let p = caller.require_admin()?;
    let existing: HashMap<String, ModelRow> =
        db_models::all(&app.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    // Every file a model refers to is checked before anything is written.
    for m in &form.models {
        let previous = existing.get(&m.form.id).map(|r| canonical_meta(&r.meta.0));
        check_files(p, &m.form.meta, previous.as_ref())?;
    }
    let mut new_grants = Vec::with_capacity(form.models.len());
    for m in &form.models {
        let mut g = grants::allowed(app, p, Shared::Model, grants::normalize(&m.access_grants)).await?;
        let unknown = grants::unknown_principals(app, &g).await?;
        if !unknown.is_empty() {
            tracing::warn!(model = %m.form.id, dropped = unknown.len(), "sync: grants naming nobody dropped");
            g.retain(|g| !unknown.contains(&(g.principal_type.clone(), g.principal_id.clone())));
        }
        new_grants.push(g);
    }

    let now = store::now();
    let mut tx = app.db.begin().await?;
    let mut order: Vec<String> = Vec::new();
    let mut written: HashSet<String> = HashSet::new();
    for (m, g) in form.models.iter().zip(&new_grants) {
        let form = &m.form;
        let base_model_id = form.base_model_id.as_deref().filter(|b| *b != form.id);
        // A model named twice is read back in this transaction the second time.
        let stored = if written.contains(&form.id) {
            db_models::get(&mut tx, &form.id).await?
        } else {
            existing.get(&form.id).cloned()
        };
        match stored {
            Some(row) => update_in(&mut tx, p, &row, form, base_model_id).await?,
            None => insert_in(&mut tx, p.id(), p.id(), form, base_model_id, g, now).await?,
        }
        if written.insert(form.id.clone()) {
            order.push(form.id.clone());
        }
    }
    let gone: Vec<String> = existing.keys().filter(|id| !written.contains(*id)).cloned().collect();
    db_models::delete_many(&mut tx, &gone).await?;
    tx.commit().await?;

    let rows = db_models::by_ids(&app.db, &order).await?;
    let mut views: HashMap<String, ModelView> =
        with_grants(&app.db, rows).await?.into_iter().map(|v| (v.id.clone(), v)).collect();
    Ok(order.iter().filter_map(|id| views.remove(id)).collect())
}
