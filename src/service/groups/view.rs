//! What callers are shown of groups: the reference's `GroupModel`, `GroupResponse` (with the
//! direct member count), `GroupInfoResponse`, the export with member ids, a user's groups, group
//! members (`GroupMemberInfo`, over the users' `UserInfoResponse`), and the access preview. REST serialises
//! these and the OpenAPI document describes them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::service::users::UserInfoView;
use crate::store::groups::GroupRow;
use crate::store::users::User;

/// A stored group, as the reference's `GroupModel`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = GroupModel)]
pub struct GroupModelView {
    pub parent_group_id: Option<String>,
    pub id: String,
    /// The admin who created the group.
    pub user_id: String,
    pub name: String,
    pub description: String,
    /// Free-form; `config.share` (`true`, `false` or `"members"`: who may share with the group)
    /// and `config.default_models` are read.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
    /// A permission tree (`{"sharing": {"models": true}}`) merged into the members' permissions.
    #[schema(value_type = Option<Object>)]
    pub permissions: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<GroupRow> for GroupModelView {
    fn from(g: GroupRow) -> Self {
        GroupModelView {
            parent_group_id: g.parent_group_id,
            id: g.id,
            user_id: g.user_id,
            name: g.name,
            description: g.description,
            data: g.data.map(|j| j.0),
            meta: g.meta.map(|j| j.0),
            permissions: g.permissions.map(|j| j.0),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A group with the number of its direct members (`GroupResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = GroupResponse)]
pub struct GroupView {
    #[serde(flatten)]
    pub group: GroupModelView,
    pub member_count: Option<i64>,
}

impl GroupView {
    pub(super) fn new(row: GroupRow, member_count: i64) -> Self {
        GroupView { group: row.into(), member_count: Some(member_count) }
    }
}

/// A group without its data and permissions (`GroupInfoResponse`), for any verified user.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = GroupInfoResponse)]
pub struct GroupInfoView {
    pub parent_group_id: Option<String>,
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub description: String,
    pub member_count: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl GroupInfoView {
    pub(super) fn new(g: GroupRow, member_count: i64) -> Self {
        GroupInfoView {
            parent_group_id: g.parent_group_id,
            id: g.id,
            user_id: g.user_id,
            name: g.name,
            description: g.description,
            member_count: Some(member_count),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A group with the ids of its direct members (`GroupExportResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = GroupExportResponse)]
pub struct GroupExportView {
    #[serde(flatten)]
    pub group: GroupView,
    pub user_ids: Vec<String>,
}

/// One of a user's groups (`GET /users/groups`); with `include_inherited`, whether the user is a
/// member of it themself (`direct`) or through a group below it (`inherited`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = UserGroup)]
pub struct UserGroupView {
    #[serde(flatten)]
    pub group: GroupModelView,
    /// `direct` or `inherited`; only with `include_inherited=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_type: Option<String>,
}

/// A direct member as the reference's `UserInfoResponse` (`groups` and `is_active` are not
/// computed, as there).
pub(super) fn member_info(u: User) -> UserInfoView {
    UserInfoView::of(u, false)
}

/// Id, name, email and role only: what the reference's member list fills in.
pub(super) fn brief_info(u: User) -> UserInfoView {
    UserInfoView {
        status_emoji: None,
        status_message: None,
        status_expires_at: None,
        id: u.id,
        name: u.name,
        email: u.email,
        role: u.role,
        bio: None,
        last_active_at: None,
        timezone: None,
        groups: Vec::new(),
        is_active: false,
    }
}

/// A member of a group (`GroupMemberInfo`): direct, or inherited through the groups below it
/// that `via_group_ids` lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = GroupMemberInfo)]
pub struct GroupMemberView {
    #[serde(flatten)]
    pub user: UserInfoView,
    /// `direct` or `inherited`.
    pub membership_type: String,
    pub via_group_ids: Vec<String>,
}

/// Member counts of a group.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MemberCounts {
    pub direct: i64,
    pub effective: i64,
    pub inherited: i64,
}

/// A page of a group's members (`GroupMembersResponse`, 30 per page).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = GroupMembersResponse)]
pub struct GroupMembersView {
    pub items: Vec<GroupMemberView>,
    pub total: i64,
    pub counts: MemberCounts,
}

/// `{id, name}` of a group or resource.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// Resources a group reaches, of all there are (`total`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReachedResources {
    pub items: Vec<IdName>,
    pub total: i64,
}

/// The default chat models of a group's members.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupDefaultModels {
    /// The group's own `data.config.default_models`.
    pub local: Option<Vec<String>>,
    /// What members get: the nearest group up the hierarchy that sets some, else the server's.
    pub effective: Vec<String>,
    /// The group `effective` comes from (null: the server's setting).
    pub source_group_id: Option<String>,
}

/// What a group's members can reach (`GET /groups/id/{id}/preview`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = GroupPreview)]
pub struct GroupPreviewView {
    pub group: IdName,
    pub default_models: GroupDefaultModels,
    /// Active models readable through a grant to the group, a group above it, or every user.
    pub models: ReachedResources,
    /// Always empty: duet stores no knowledge bases.
    pub knowledge: ReachedResources,
    /// Always empty: duet stores no tools.
    pub tools: ReachedResources,
    #[schema(value_type = Object)]
    pub permissions: Value,
    /// The default permissions merged with those of the groups above this one.
    #[schema(value_type = Object)]
    pub inherited_permissions: Value,
    /// `inherited_permissions` merged with the group's own.
    #[schema(value_type = Object)]
    pub effective_permissions: Value,
}
