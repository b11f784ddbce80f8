//! The workspace list (paged, filtered, ordered), the admin lists of all and base models, and the
//! tag lists.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::access::bypass_admin;
use super::view::{ModelAccessView, ModelPageView, ModelView, Owner};
use super::with_grants;
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::validate;
use crate::store::models::{self as db_models, ListFilter, Order};

/// Presets per page of the workspace list.
pub const PAGE_SIZE: i64 = 30;

/// Query parameters of the workspace list.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub query: Option<String>,
    pub view_option: Option<String>,
    pub tag: Option<String>,
    pub order_by: Option<String>,
    pub direction: Option<String>,
    /// Only the models this user owns.
    pub owner: Option<String>,
}

/// `GET /models/list?page=`: presets the caller can read, 30 per page (page 1 without `page`),
/// each with its owner, `write_access`, `params` only with write access, and no
/// `meta.profile_image_url`.
pub async fn list(
    app: &App,
    caller: &Caller,
    params: ListParams,
    page: Option<i64>,
) -> AppResult<ModelPageView> {
    let page = page.unwrap_or(1).max(1);
    list_range(app, caller, params, PAGE_SIZE, (page - 1).saturating_mul(PAGE_SIZE)).await
}

/// The workspace list from `offset`, at most `limit` presets: what `list` shows, in the same
/// order (newest first unless `order_by` says otherwise), with the number of matches: from the
/// cached stored models while the caches serve, otherwise in one query.
pub async fn list_range(
    app: &App,
    caller: &Caller,
    params: ListParams,
    limit: i64,
    offset: i64,
) -> AppResult<ModelPageView> {
    let p = caller.require_verified()?;
    for (name, text) in [("query", &params.query), ("tag", &params.tag)] {
        if let Some(text) = text {
            validate::check_search(&["query", name], text)?;
        }
    }
    let sees_all = bypass_admin(app, p);
    let filter = ListFilter {
        query: params.query.filter(|q| !q.is_empty()),
        own: match params.view_option.as_deref() {
            Some("created") => Some(true),
            Some("shared") => Some(false),
            _ => None,
        },
        owner: params.owner,
        reader: (!sees_all).then(|| p.user.id.clone()),
        caller: p.user.id.clone(),
        tag: params.tag.filter(|t| !t.is_empty()),
    };
    let order = match params.order_by.as_deref() {
        Some("name") => Order::Name,
        Some("updated_at") => Order::UpdatedAt,
        _ => Order::CreatedAt,
    };
    let ascending = params.order_by.is_some() && params.direction.as_deref() == Some("asc");
    let page = db_models::list(&app.db, &filter, order, ascending, limit.max(0), offset.max(0)).await?;
    let mut models = Vec::with_capacity(page.rows.len());
    let mut owners = Vec::with_capacity(page.rows.len());
    for (r, grants) in page.rows {
        owners.push(match (r.owner_id, r.owner_name, r.owner_role, r.owner_email) {
            (Some(id), Some(name), Some(role), Some(email)) => Some(Owner { id, name, role, email }),
            _ => None,
        });
        models.push(ModelView::new(r.model, grants));
    }
    let groups = match page.reader_groups {
        Some(groups) => groups,
        None => super::groups_for_grants(app, p, &models).await?,
    };
    let items = models
        .into_iter()
        .zip(owners)
        .map(|(mut m, user)| {
            let write_access = sees_all || m.user_id == p.user.id || super::holds(&m, p, "write", &groups);
            if !write_access {
                m.params = json!({});
            }
            if let Some(meta) = m.meta.as_object_mut() {
                meta.remove("profile_image_url");
            }
            ModelAccessView { model: m, user, write_access }
        })
        .collect();
    Ok(ModelPageView { items, total: page.total })
}

/// `GET /models/all` (admin): every model row.
pub async fn all(app: &App, caller: &Caller) -> AppResult<Vec<ModelView>> {
    caller.require_admin()?;
    with_grants(&app.db, db_models::all(&app.db).await?).await
}

/// `GET /models/base?tag=` (admin): rows without a base model, optionally with tag `tag`.
pub async fn base(app: &App, caller: &Caller, tag: Option<&str>) -> AppResult<Vec<ModelView>> {
    caller.require_admin()?;
    let mut rows = db_models::base(&app.db).await?;
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        rows.retain(|r| tag_names(&r.meta.0).iter().any(|n| n == tag));
    }
    with_grants(&app.db, rows).await
}

fn sorted_tags(metas: Vec<sqlx::types::Json<Value>>) -> Vec<String> {
    let mut set: Vec<String> =
        metas.iter().flat_map(|m| tag_names(&m.0)).collect::<HashSet<_>>().into_iter().collect();
    set.sort();
    set
}

/// Tag names of a stored `meta` (objects' `name`, anything else as text).
fn tag_names(meta: &Value) -> Vec<String> {
    let Some(list) = meta.get("tags").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|t| match t {
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// `GET /models/base/tags` (admin).
pub async fn base_tags(app: &App, caller: &Caller) -> AppResult<Vec<String>> {
    caller.require_admin()?;
    Ok(sorted_tags(db_models::metas(&app.db, true, None).await?))
}

/// `GET /models/tags`: tags of the presets the caller can read, sorted.
pub async fn tags(app: &App, caller: &Caller) -> AppResult<Vec<String>> {
    let p = caller.require_verified()?;
    let reader = (!bypass_admin(app, p)).then(|| p.id());
    Ok(sorted_tags(db_models::metas(&app.db, false, reader).await?))
}
