//! User groups (`/api/v1/groups`, and `/users/groups`, `/users/{id}/groups`,
//! `/users/permissions`): create, list, read, update, delete, membership, the member list and the
//! access preview. Admins manage groups; a verified user sees the groups they belong to (or may
//! share with) and any group's public info.
//!
//! Groups nest (`parent_group_id`): a member of a group is an inherited member of every group
//! above it, for permissions and access grants alike. A group's `permissions` merge into its
//! members' permission tree (`permissions::of_user`, most permissive wins), and an access grant
//! to a group reaches its members (`models::access`).
//!
//! This file holds the use cases on one group and the membership changes; `members` the member
//! list, a user's groups and the preview; `form` the forms; `view` what callers are shown.

use serde_json::{Map, Value, json};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Detail, ErrorCode};
use crate::store::groups::{self as db_groups, GroupRow, GroupWrite};
use crate::store::{self, Tx};

mod form;
mod members;
mod view;

use crate::service::users::UserInfoView;
pub use form::{GroupForm, MEMBERS_PAGE_SIZE, MembersParams, UserIdsForm};
pub use members::{groups_of_user, members, preview, user_groups, user_permissions};
pub use view::{
    GroupDefaultModels, GroupExportView, GroupInfoView, GroupMemberView, GroupMembersView, GroupModelView,
    GroupPreviewView, GroupView, IdName, MemberCounts, ReachedResources, UserGroupView,
};

/// `err` with the reference's own text instead of the code's.
fn with_text(mut err: AppError, text: &'static str) -> AppError {
    err.detail = Detail::Text(text.into());
    err
}

/// 404 `Group not found.` (the writes' answer for an unknown id).
fn group_not_found() -> AppError {
    with_text(AppError::not_found(ErrorCode::NotFound), "Group not found.")
}

/// The group, or 404 `NOT_FOUND` (the reads' answer for an unknown id).
async fn found(app: &App, id: &str) -> AppResult<GroupRow> {
    db_groups::get(&app.db, id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))
}

async fn counted(app: &App, row: GroupRow) -> AppResult<GroupView> {
    let count = db_groups::direct_count(&app.db, &row.id).await?;
    Ok(GroupView::new(row, count))
}

/// Who may share with a group, from its `data.config.share`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    Anyone,
    Members,
    Nobody,
    /// A value the reference matches with neither `share=true` nor `share=false`.
    Unknown,
}

fn share_of(data: Option<&Value>) -> Share {
    let Some(data) = data.filter(|d| !d.is_null()) else { return Share::Anyone };
    match data.get("config").and_then(|c| c.get("share")) {
        None | Some(Value::Null) | Some(Value::Bool(true)) => Share::Anyone,
        Some(Value::Bool(false)) => Share::Nobody,
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => Share::Anyone,
        Some(Value::String(s)) => match s.to_lowercase().as_str() {
            "true" | "1" => Share::Anyone,
            "members" => Share::Members,
            "false" => Share::Nobody,
            _ => Share::Unknown,
        },
        Some(_) => Share::Unknown,
    }
}

/// `GET /groups/?share=`: every group for an admin; for anyone else the groups they belong to
/// (directly or through a subgroup), or with `share` given, the groups they may (`true`) or may
/// not (`false`) share with.
pub async fn list(app: &App, caller: &Caller, share: Option<bool>) -> AppResult<Vec<GroupView>> {
    let p = caller.require_verified()?;
    let rows = if p.role.is_admin() {
        db_groups::list_counted(&app.db, None).await?
    } else {
        match share {
            None => db_groups::list_counted(&app.db, Some(p.id())).await?,
            Some(wanted) => {
                let mine = db_groups::ids_of_member(&app.db, p.id()).await?;
                let mut rows = db_groups::list_counted(&app.db, None).await?;
                rows.retain(|r| match share_of(r.group.data.as_ref().map(|d| &d.0)) {
                    Share::Anyone => wanted,
                    Share::Members => wanted && mine.contains(&r.group.id),
                    Share::Nobody => !wanted && r.group.data.is_some(),
                    Share::Unknown => false,
                });
                rows
            }
        }
    };
    Ok(rows.into_iter().map(|r| GroupView::new(r.group, r.member_count)).collect())
}

/// `data` with `config.share` set (to `DEFAULT_GROUP_SHARE_PERMISSION`) when missing.
fn with_share(data: Option<Map<String, Value>>, default: &Value) -> Value {
    let mut data = data.unwrap_or_default();
    let config = data.entry("config").or_insert_with(|| json!({}));
    if let Some(config) = config.as_object_mut() {
        config.entry("share").or_insert_with(|| default.clone());
    }
    Value::Object(data)
}

/// Checks a new parent inside the hierarchy lock: `""` is 400, an unknown id 404, and a parent at
/// or below `group` (a cycle) 400.
async fn check_parent(tx: &mut Tx, group: Option<&str>, parent: Option<&str>) -> AppResult<()> {
    let Some(parent) = parent else { return Ok(()) };
    if parent.is_empty() {
        return Err(with_text(
            AppError::bad_request(ErrorCode::ValidationError),
            "Parent group must be a group ID or null.",
        ));
    }
    if db_groups::get(&mut *tx, parent).await?.is_none() {
        return Err(with_text(AppError::not_found(ErrorCode::NotFound), "Parent group not found."));
    }
    if let Some(group) = group
        && db_groups::ancestor_ids(&mut *tx, parent).await?.iter().any(|a| a == group)
    {
        return Err(with_text(
            AppError::bad_request(ErrorCode::ValidationError),
            "A group cannot be its own parent or a descendant of itself.",
        ));
    }
    Ok(())
}

/// `POST /groups/create` (admin).
pub async fn create(app: &App, caller: &Caller, form: GroupForm) -> AppResult<GroupView> {
    let p = caller.require_admin()?;
    let id = uuid::Uuid::new_v4().to_string();
    let data = with_share(form.data, &app.config.default_group_share);
    let permissions = form.permissions.map(Value::Object);
    let mut tx = app.db.begin().await?;
    db_groups::lock_hierarchy(&mut tx).await?;
    check_parent(&mut tx, None, form.parent_group_id.as_deref()).await?;
    let write = GroupWrite {
        id: &id,
        user_id: p.id(),
        parent_group_id: form.parent_group_id.as_deref(),
        name: &form.name,
        description: &form.description,
        data: Some(&data),
        permissions: permissions.as_ref(),
        now: store::now(),
    };
    db_groups::insert(&mut tx, &write).await?;
    tx.commit().await?;
    let row = db_groups::get(&app.db, &id)
        .await?
        .ok_or_else(|| AppError::internal("group vanished after insert"))?;
    Ok(GroupView::new(row, 0))
}

/// `GET /groups/id/{id}` (admin).
pub async fn get(app: &App, caller: &Caller, id: &str) -> AppResult<GroupView> {
    caller.require_admin()?;
    counted(app, found(app, id).await?).await
}

/// `GET /groups/id/{id}/info`: any verified user (no data, no permissions).
pub async fn info(app: &App, caller: &Caller, id: &str) -> AppResult<GroupInfoView> {
    caller.require_verified()?;
    let row = found(app, id).await?;
    let count = db_groups::direct_count(&app.db, id).await?;
    Ok(GroupInfoView::new(row, count))
}

/// `GET /groups/id/{id}/export` (admin): the group with its direct members' ids.
pub async fn export(app: &App, caller: &Caller, id: &str) -> AppResult<GroupExportView> {
    caller.require_admin()?;
    let group = counted(app, found(app, id).await?).await?;
    let user_ids = db_groups::member_ids(&app.db, id).await?;
    Ok(GroupExportView { group, user_ids })
}

/// `POST /groups/id/{id}/users` (admin): the direct members; none for an unknown group.
pub async fn users(app: &App, caller: &Caller, id: &str) -> AppResult<Vec<UserInfoView>> {
    caller.require_admin()?;
    Ok(db_groups::member_users(&app.db, id).await?.into_iter().map(view::member_info).collect())
}

/// `data` of an update: the stored keys, the sent keys over them, and `config` merged one level
/// deeper.
fn merged_data(old: Option<&Value>, new: Map<String, Value>) -> Value {
    let config_of = |m: Option<&Map<String, Value>>| {
        m.and_then(|m| m.get("config")).and_then(Value::as_object).cloned().unwrap_or_default()
    };
    let old = old.and_then(Value::as_object);
    let mut config = config_of(old);
    config.extend(config_of(Some(&new)));
    let mut out = old.cloned().unwrap_or_default();
    out.extend(new);
    out.insert("config".into(), Value::Object(config));
    Value::Object(out)
}

/// `POST /groups/id/{id}/update` (admin): name and description always; `parent_group_id` when
/// sent (null detaches); `permissions` replaced when given; `data` merged.
pub async fn update(app: &App, caller: &Caller, id: &str, form: GroupForm) -> AppResult<GroupView> {
    caller.require_admin()?;
    let mut tx = app.db.begin().await?;
    db_groups::lock_hierarchy(&mut tx).await?;
    let row = db_groups::get(&mut tx, id).await?.ok_or_else(group_not_found)?;
    let parent = if form.parent_given {
        check_parent(&mut tx, Some(id), form.parent_group_id.as_deref()).await?;
        form.parent_group_id.clone()
    } else {
        row.parent_group_id.clone()
    };
    let old_data = row.data.as_ref().map(|d| &d.0);
    let data = match form.data {
        Some(new) => Some(merged_data(old_data, new)),
        None => old_data.cloned(),
    };
    let permissions =
        form.permissions.map(Value::Object).or_else(|| row.permissions.as_ref().map(|p| p.0.clone()));
    let write = GroupWrite {
        id,
        user_id: &row.user_id,
        parent_group_id: parent.as_deref(),
        name: &form.name,
        description: &form.description,
        data: data.as_ref(),
        permissions: permissions.as_ref(),
        now: store::now(),
    };
    db_groups::update(&mut tx, &write).await?;
    tx.commit().await?;
    counted(app, db_groups::get(&app.db, id).await?.ok_or_else(group_not_found)?).await
}

/// `POST /groups/id/{id}/users/add` (admin): adds the ids that name users (others are skipped).
pub async fn add_users(app: &App, caller: &Caller, id: &str, form: UserIdsForm) -> AppResult<GroupView> {
    caller.require_admin()?;
    change_members(app, id, MemberChange::Add(&form.user_ids)).await
}

/// `POST /groups/id/{id}/users/remove` (admin).
pub async fn remove_users(app: &App, caller: &Caller, id: &str, form: UserIdsForm) -> AppResult<GroupView> {
    caller.require_admin()?;
    change_members(app, id, MemberChange::Remove(&form.user_ids)).await
}

enum MemberChange<'a> {
    Add(&'a [String]),
    Remove(&'a [String]),
}

/// One membership change in a transaction: 404 for an unknown group, the change, the group's
/// `updated_at` moved; the group answered with its new count.
async fn change_members(app: &App, id: &str, change: MemberChange<'_>) -> AppResult<GroupView> {
    let now = store::now();
    let mut tx = app.db.begin().await?;
    db_groups::lock_hierarchy(&mut tx).await?;
    if db_groups::get(&mut tx, id).await?.is_none() {
        return Err(group_not_found());
    }
    match change {
        MemberChange::Add(users) => db_groups::add_members(&mut tx, id, users, now).await?,
        MemberChange::Remove(users) => db_groups::remove_members(&mut tx, id, users).await?,
    };
    db_groups::touch(&mut tx, id, now).await?;
    tx.commit().await?;
    counted(app, db_groups::get(&app.db, id).await?.ok_or_else(group_not_found)?).await
}

/// `DELETE /groups/id/{id}/delete` (admin): subgroups move up to the group's parent; memberships
/// and the grants naming the group go with it.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> AppResult<bool> {
    caller.require_admin()?;
    let mut tx = app.db.begin().await?;
    db_groups::lock_hierarchy(&mut tx).await?;
    let row = db_groups::get(&mut tx, id).await?.ok_or_else(group_not_found)?;
    db_groups::delete(&mut tx, id, row.parent_group_id.as_deref(), store::now()).await?;
    tx.commit().await?;
    tracing::info!(group_id = %id, "group deleted");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_settings_read_as_the_reference_matches_them() {
        assert_eq!(share_of(None), Share::Anyone);
        assert_eq!(share_of(Some(&json!({}))), Share::Anyone);
        assert_eq!(share_of(Some(&json!({"config": {"share": null}}))), Share::Anyone);
        assert_eq!(share_of(Some(&json!({"config": {"share": true}}))), Share::Anyone);
        assert_eq!(share_of(Some(&json!({"config": {"share": "True"}}))), Share::Anyone);
        assert_eq!(share_of(Some(&json!({"config": {"share": "members"}}))), Share::Members);
        assert_eq!(share_of(Some(&json!({"config": {"share": false}}))), Share::Nobody);
        assert_eq!(share_of(Some(&json!({"config": {"share": "admins"}}))), Share::Unknown);
    }

    #[test]
    fn new_groups_get_the_default_share_and_updates_merge_data() {
        assert_eq!(with_share(None, &json!("members")), json!({"config": {"share": "members"}}));
        assert_eq!(with_share(None, &json!(false)), json!({"config": {"share": false}}));
        let given = json!({"config": {"share": false}, "x": 1}).as_object().cloned();
        assert_eq!(with_share(given, &json!(true)), json!({"config": {"share": false}, "x": 1}));
        let old = json!({"config": {"share": "members", "default_models": ["a"]}, "keep": true, "x": 1});
        let new = json!({"config": {"share": true}, "x": 2}).as_object().cloned().expect("object");
        assert_eq!(
            merged_data(Some(&old), new),
            json!({"config": {"share": true, "default_models": ["a"]}, "keep": true, "x": 2})
        );
        assert_eq!(merged_data(None, Map::new()), json!({"config": {}}));
    }
}
