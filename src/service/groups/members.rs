//! Reading groups from the members' side: a group's member list (direct and inherited), a user's
//! groups, a user's merged permissions, and what a group's members can reach (the preview).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::form::{MEMBERS_PAGE_SIZE, MembersParams, check_members_params};
use super::view::{
    GroupDefaultModels, GroupMemberView, GroupMembersView, GroupModelView, GroupPreviewView, IdName,
    MemberCounts, ReachedResources, UserGroupView, brief_info,
};
use super::{found, group_not_found};
use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::admin_config::Settings;
use crate::service::permissions::{self, PermissionTree};
use crate::store::groups::{self as db_groups, GroupRow};
use crate::store::{self, models as db_models};

/// `GET /groups/id/{id}/members` (admin): 30 members per page by name, with how each belongs
/// (`direct`, or `inherited` through the subgroups in `via_group_ids`) and the group's counts.
pub async fn members(
    app: &App,
    caller: &Caller,
    id: &str,
    params: MembersParams,
) -> AppResult<GroupMembersView> {
    caller.require_admin()?;
    let (membership, query, page) = check_members_params(&params)?;
    if db_groups::get(&app.db, id).await?.is_none() {
        return Err(group_not_found());
    }
    let direct = db_groups::direct_count(&app.db, id).await?;
    let effective = db_groups::effective_count(&app.db, id).await?;
    let pattern = query.map(|q| format!("%{}%", store::users::escape_like(&q)));
    let offset = (page - 1).saturating_mul(MEMBERS_PAGE_SIZE);
    let (users, total) =
        db_groups::members_page(&app.db, id, membership, pattern.as_deref(), MEMBERS_PAGE_SIZE, offset)
            .await?;
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut sources: HashMap<String, Vec<String>> = HashMap::new();
    for (user, group) in db_groups::memberships_below(&app.db, id, &ids).await? {
        sources.entry(user).or_default().push(group);
    }
    let items = users
        .into_iter()
        .map(|u| {
            let groups = sources.remove(&u.id).unwrap_or_default();
            let direct = groups.iter().any(|g| g == id);
            let mut via: Vec<String> = groups.into_iter().filter(|g| g != id).collect();
            via.sort();
            GroupMemberView {
                user: brief_info(u),
                membership_type: if direct { "direct" } else { "inherited" }.to_string(),
                via_group_ids: via,
            }
        })
        .collect();
    Ok(GroupMembersView {
        items,
        total,
        counts: MemberCounts { direct, effective, inherited: effective - direct },
    })
}

/// A user's groups: direct ones, or with `inherited` also the groups above them, each marked
/// `direct` or `inherited`.
async fn groups_of(app: &App, user_id: &str, inherited: bool) -> AppResult<Vec<UserGroupView>> {
    let direct = db_groups::of_member(&app.db, user_id, false).await?;
    if !inherited {
        return Ok(direct
            .into_iter()
            .map(|g| UserGroupView { group: g.into(), membership_type: None })
            .collect());
    }
    let direct: HashSet<String> = direct.into_iter().map(|g| g.id).collect();
    Ok(db_groups::of_member(&app.db, user_id, true)
        .await?
        .into_iter()
        .map(|g| {
            let kind = if direct.contains(&g.id) { "direct" } else { "inherited" };
            UserGroupView { group: GroupModelView::from(g), membership_type: Some(kind.to_string()) }
        })
        .collect())
}

/// `GET /users/groups?include_inherited=`: the caller's groups.
pub async fn user_groups(
    app: &App,
    caller: &Caller,
    include_inherited: bool,
) -> AppResult<Vec<UserGroupView>> {
    let p = caller.require_verified()?;
    groups_of(app, p.id(), include_inherited).await
}

/// `GET /users/{user_id}/groups?include_inherited=` (admin): that user's groups (none for an
/// unknown id).
pub async fn groups_of_user(
    app: &App,
    caller: &Caller,
    user_id: &str,
    include_inherited: bool,
) -> AppResult<Vec<UserGroupView>> {
    caller.require_admin()?;
    groups_of(app, user_id, include_inherited).await
}

/// `GET /users/permissions`: the caller's permission tree, their groups' merged into the
/// defaults.
pub async fn user_permissions(app: &App, caller: &Caller) -> AppResult<Value> {
    let p = caller.require_verified()?;
    Ok(permissions::of(&app.db, p).await?.to_value())
}

/// The groups from `group` up through its parents, nearest first, each once.
fn chain_up<'a>(group: &'a GroupRow, by_id: &'a HashMap<String, GroupRow>) -> Vec<&'a GroupRow> {
    let mut out = vec![group];
    let mut seen = HashSet::from([group.id.as_str()]);
    let mut next = group.parent_group_id.as_deref();
    while let Some(id) = next {
        match by_id.get(id) {
            Some(g) if seen.insert(g.id.as_str()) => {
                out.push(g);
                next = g.parent_group_id.as_deref();
            }
            _ => break,
        }
    }
    out
}

/// A group's own `data.config.default_models`, when it sets any.
fn default_models_of(group: &GroupRow) -> Option<Vec<String>> {
    let models = group.data.as_ref()?.0.get("config")?.get("default_models")?.as_array()?;
    let ids: Vec<String> = models.iter().filter_map(Value::as_str).map(str::to_string).collect();
    (!ids.is_empty()).then_some(ids)
}

/// `GET /groups/id/{id}/preview` (admin): the active models a member reaches through grants to
/// the group, a group above it or every user; the default models they get; and the permissions
/// the group adds to the defaults and to what the groups above it give.
pub async fn preview(app: &App, caller: &Caller, id: &str) -> AppResult<GroupPreviewView> {
    caller.require_admin()?;
    let group = found(app, id).await?;
    let chain_ids = db_groups::ancestor_ids(&app.db, id).await?;
    let models = db_models::all(&app.db).await?;
    let reachable =
        db_groups::granted_to_groups(&app.db, crate::store::grants::MODEL, &chain_ids, "read").await?;
    let active: Vec<_> = models.into_iter().filter(|m| m.is_active).collect();
    let items = active
        .iter()
        .filter(|m| reachable.contains(&m.id))
        .map(|m| IdName { id: m.id.clone(), name: m.name.clone() })
        .collect();
    let above: Vec<String> = chain_ids.into_iter().filter(|g| g != id).collect();
    let by_id: HashMap<String, GroupRow> =
        db_groups::get_many(&app.db, &above).await?.into_iter().map(|g| (g.id.clone(), g)).collect();
    let chain = chain_up(&group, &by_id);

    let settings = Settings::load(&app.db).await?;
    let mut inherited = PermissionTree::clone(&settings.permissions());
    for g in chain.iter().skip(1) {
        if let Some(p) = &g.permissions {
            inherited.combine(&p.0);
        }
    }
    let mut effective = inherited.clone();
    let own = group.permissions.as_ref().map(|p| p.0.clone()).unwrap_or_else(|| json!({}));
    effective.combine(&own);

    let (effective_models, source) = match chain.iter().find_map(|g| default_models_of(g).map(|m| (m, g))) {
        Some((models, g)) => (models, Some(g.id.clone())),
        None => {
            let configured = settings.text("ui.default_models");
            (
                configured.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect(),
                None,
            )
        }
    };
    Ok(GroupPreviewView {
        group: IdName { id: group.id.clone(), name: group.name.clone() },
        default_models: GroupDefaultModels {
            local: default_models_of(&group),
            effective: effective_models,
            source_group_id: source,
        },
        models: ReachedResources { items, total: active.len() as i64 },
        knowledge: ReachedResources { items: Vec::new(), total: 0 },
        tools: ReachedResources { items: Vec::new(), total: 0 },
        permissions: own,
        inherited_permissions: inherited.to_value(),
        effective_permissions: effective.to_value(),
    })
}
