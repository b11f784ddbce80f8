//! Every permission predicate, once and pure: the caller's role and what the settings say go in,
//! yes or no comes out. Use cases load the settings and call these; nothing here reads the
//! database, so each rule is unit-tested on its own.

use std::collections::HashSet;

use crate::auth::Role;
use crate::service::permissions::PermissionTree;

/// Whether a caller with `role` holds permission `path` of the tree (`chat.delete`,
/// `workspace.models`, …): admins hold every permission.
pub fn holds(role: &Role, tree: &PermissionTree, path: &str) -> bool {
    role.is_admin() || tree.allows(path)
}

/// Whether a caller with `role` may use and manage API keys: keys are enabled in the admin
/// configuration, and the caller is an admin or holds `features.api_keys`.
pub fn may_use_api_keys(role: &Role, keys_enabled: bool, tree: &PermissionTree) -> bool {
    keys_enabled && holds(role, tree, "features.api_keys")
}

/// Whether an API key may reach `path` under `API_KEYS_ALLOWED_ENDPOINTS` (each entry allows
/// itself and everything below it).
pub fn key_may_reach(allowed: &[String], path: &str) -> bool {
    allowed.iter().any(|p| path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
}

/// Whether an admin reaches other users' chats (`ENABLE_ADMIN_CHAT_ACCESS`).
pub fn admin_reaches_chats(role: &Role, admin_chat_access: bool) -> bool {
    role.is_admin() && admin_chat_access
}

/// Whether an admin bypasses model access grants (`BYPASS_ADMIN_ACCESS_CONTROL`).
pub fn admin_bypasses_model_grants(role: &Role, bypass: bool) -> bool {
    role.is_admin() && bypass
}

/// Whether a grant to `principal_type`/`principal_id` reaches user `user_id`, a member (directly
/// or through a subgroup) of `groups`: `user:*` reaches every user, `user:<id>` that user,
/// `group:<id>` the members of that group; `anyone` grants are never honoured for signed-in
/// access checks of models.
pub fn grant_reaches(
    principal_type: &str,
    principal_id: &str,
    user_id: &str,
    groups: &HashSet<String>,
) -> bool {
    match principal_type {
        "user" => principal_id == "*" || principal_id == user_id,
        "group" => groups.contains(principal_id),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tree(v: serde_json::Value) -> PermissionTree {
        PermissionTree(v.as_object().cloned().expect("object"))
    }

    #[test]
    fn admins_hold_every_permission_others_what_the_tree_says() {
        let t = tree(json!({"chat": {"delete": false}, "workspace": {"models": true}}));
        assert!(holds(&Role::Admin, &t, "chat.delete"));
        assert!(!holds(&Role::User, &t, "chat.delete"));
        assert!(holds(&Role::User, &t, "workspace.models"));
        assert!(!holds(&Role::Pending, &t, "nothing.here"));
    }

    #[test]
    fn api_keys_need_the_switch_and_the_permission() {
        let off = tree(json!({"features": {"api_keys": false}}));
        let on = tree(json!({"features": {"api_keys": true}}));
        assert!(!may_use_api_keys(&Role::Admin, false, &on));
        assert!(may_use_api_keys(&Role::Admin, true, &off));
        assert!(!may_use_api_keys(&Role::User, true, &off));
        assert!(may_use_api_keys(&Role::User, true, &on));
    }

    #[test]
    fn allowed_endpoints_cover_their_subpaths_only() {
        let allowed = vec!["/api/v1/chats".to_string(), "/api/models/".to_string()];
        assert!(key_may_reach(&allowed, "/api/v1/chats"));
        assert!(key_may_reach(&allowed, "/api/v1/chats/abc"));
        assert!(!key_may_reach(&allowed, "/api/v1/chatsx"));
        assert!(key_may_reach(&allowed, "/api/models/x"));
        assert!(!key_may_reach(&allowed, "/api/v1/users"));
        assert!(!key_may_reach(&[], "/api/v1/chats"));
    }

    #[test]
    fn grants_reach_their_user_everyone_or_the_members_of_their_group() {
        let groups: HashSet<String> = ["g1".to_string()].into();
        assert!(grant_reaches("user", "*", "u1", &groups));
        assert!(grant_reaches("user", "u1", "u1", &groups));
        assert!(!grant_reaches("user", "u2", "u1", &groups));
        assert!(grant_reaches("group", "g1", "u1", &groups));
        assert!(!grant_reaches("group", "g2", "u1", &groups));
        assert!(!grant_reaches("group", "g1", "u1", &HashSet::new()));
        assert!(!grant_reaches("anyone", "*", "u1", &groups));
    }

    #[test]
    fn admin_reach_follows_its_switch() {
        assert!(admin_reaches_chats(&Role::Admin, true));
        assert!(!admin_reaches_chats(&Role::Admin, false));
        assert!(!admin_reaches_chats(&Role::User, true));
        assert!(admin_bypasses_model_grants(&Role::Admin, true));
        assert!(!admin_bypasses_model_grants(&Role::User, true));
    }
}
