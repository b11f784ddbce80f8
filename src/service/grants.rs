//! Access grants of every shareable resource (models, folders, shared chats): the grants a request
//! names, normalised; the audiences a caller may share with; grants naming nobody; and whether a
//! caller holds a permission through a grant (to them, to every user, or to one of their groups).

use std::collections::HashSet;

use serde_json::Value;

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::{permissions, policy};
use crate::store;
use crate::store::grants::NewGrant;

/// A kind of shareable resource and the permissions that let a non-admin share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Model,
    Folder,
    SharedChat,
}

impl Shared {
    /// The stored `resource_type`.
    pub fn resource_type(self) -> &'static str {
        match self {
            Shared::Model => store::grants::MODEL,
            Shared::Folder => store::grants::FOLDER,
            Shared::SharedChat => store::grants::SHARED_CHAT,
        }
    }

    /// (sharing at all, sharing with every user, sharing with anyone): `None` where the audience
    /// is not offered for this kind (then not even an admin may name it).
    fn keys(self) -> (Option<&'static str>, Option<&'static str>, Option<&'static str>) {
        match self {
            Shared::Model => (Some("sharing.models"), Some("sharing.public_models"), None),
            Shared::Folder => (Some("sharing.folders"), None, None),
            Shared::SharedChat => (None, Some("sharing.public_chats"), Some("sharing.open_chats")),
        }
    }
}

/// Grants of a request: valid entries only, one per (type, id, permission); `anyone` only as
/// `*` with `read`.
pub fn normalize(list: &[Value]) -> Vec<NewGrant> {
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

fn is_public(g: &NewGrant) -> bool {
    g.principal_type == "user" && g.principal_id == "*"
}

/// The grants a caller may give on this kind of resource: audiences the kind does not offer
/// never; for non-admins only with the kind's sharing permission, `user:*` with its public one,
/// `anyone` with its open one, users with `access_grants.allow_users`, groups with
/// `access_grants.allow_groups`.
pub async fn allowed(
    app: &App,
    p: &Principal,
    kind: Shared,
    grants: Vec<NewGrant>,
) -> AppResult<Vec<NewGrant>> {
    let (sharing, public, anyone) = kind.keys();
    let grants: Vec<NewGrant> = grants
        .into_iter()
        .filter(|g| (anyone.is_some() || g.principal_type != "anyone") && (public.is_some() || !is_public(g)))
        .collect();
    if p.role.is_admin() || grants.is_empty() {
        return Ok(grants);
    }
    let perms = permissions::of(&app.db, p).await?;
    let holds = |key: Option<&str>| key.is_some_and(|k| perms.allows(k));
    if sharing.is_some() && !holds(sharing) {
        return Ok(Vec::new());
    }
    Ok(grants
        .into_iter()
        .filter(|g| match g.principal_type.as_str() {
            _ if is_public(g) => holds(public),
            "anyone" => holds(anyone),
            "user" => perms.allows("access_grants.allow_users"),
            "group" => perms.allows("access_grants.allow_groups"),
            _ => false,
        })
        .collect())
}

/// A request replacing a resource's grants: every grant must be one the caller may give (403
/// `SHARING_NOT_ALLOWED` otherwise) and name someone (400 `UNKNOWN_PRINCIPAL`).
pub async fn validate(app: &App, p: &Principal, kind: Shared, list: &[Value]) -> AppResult<Vec<NewGrant>> {
    let grants = normalize(list);
    let allowed = allowed(app, p, kind, grants.clone()).await?;
    if allowed.len() != grants.len() {
        return Err(AppError::forbidden(ErrorCode::SharingNotAllowed));
    }
    refuse_unknown_principals(app, &allowed).await?;
    Ok(allowed)
}

/// The grants that name nobody: users and groups that do not exist.
pub async fn unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<Vec<(String, String)>> {
    let named = |kind: &str| -> Vec<String> {
        grants
            .iter()
            .filter(|g| g.principal_type == kind && g.principal_id != "*")
            .map(|g| g.principal_id.clone())
            .collect()
    };
    let users = store::ids_in(&app.db, "users", &named("user")).await?;
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
pub async fn refuse_unknown_principals(app: &App, grants: &[NewGrant]) -> AppResult<()> {
    match unknown_principals(app, grants).await?.first() {
        None => Ok(()),
        Some((kind, id)) => Err(AppError::bad_request_with(
            ErrorCode::UnknownPrincipal,
            format!("An access grant names a {kind} that does not exist: {id}"),
        )),
    }
}

/// Whether the caller holds `permission` on resource `id` through a grant to them, to every
/// user, or to one of their groups, direct or inherited (their groups are looked up
/// only when the resource has a group grant).
pub async fn holds(
    app: &App,
    p: &Principal,
    resource_type: &str,
    id: &str,
    permission: &str,
) -> AppResult<bool> {
    let grants = store::grants::grants_for(&app.db, resource_type, &[id.to_string()]).await?;
    let grants: Vec<_> = grants.into_iter().filter(|g| g.permission == permission).collect();
    let groups = if grants.iter().any(|g| g.principal_type == "group") {
        store::groups::ids_of_member(&app.db, p.id()).await?
    } else {
        HashSet::new()
    };
    Ok(grants.iter().any(|g| policy::grant_reaches(&g.principal_type, &g.principal_id, p.id(), &groups)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn grants_are_normalised_and_deduplicated() {
        let g = normalize(&[
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
