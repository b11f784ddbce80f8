//! `Group` (a user group, the reference's `GroupResponse`) and `GroupRef` (a group's `{id, name}`
//! as a user's answers name it).

use async_graphql::{Json, Object, SimpleObject};
use serde_json::Value;

use crate::service::groups::GroupView;

/// A user group: its members' permissions merge in, and access grants may name it.
#[derive(Clone)]
pub struct Group(pub GroupView);

#[Object]
impl Group {
    async fn id(&self) -> &str {
        &self.0.group.id
    }
    async fn name(&self) -> &str {
        &self.0.group.name
    }
    async fn description(&self) -> &str {
        &self.0.group.description
    }
    /// The group this one sits under (its members count as members of every group above).
    async fn parent_group_id(&self) -> Option<&str> {
        self.0.group.parent_group_id.as_deref()
    }
    /// The admin who created the group.
    async fn user_id(&self) -> &str {
        &self.0.group.user_id
    }
    /// Free-form; `config.share` (`true`, `false` or `"members"`) and `config.default_models`.
    async fn data(&self) -> Option<Json<Value>> {
        self.0.group.data.clone().map(Json)
    }
    async fn meta(&self) -> Option<Json<Value>> {
        self.0.group.meta.clone().map(Json)
    }
    /// A permission tree merged into the members' permissions.
    async fn permissions(&self) -> Option<Json<Value>> {
        self.0.group.permissions.clone().map(Json)
    }
    /// The number of direct members.
    async fn member_count(&self) -> Option<i64> {
        self.0.member_count
    }
    async fn created_at(&self) -> i64 {
        self.0.group.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.group.updated_at
    }
}

/// A group as a user's answers name it.
#[derive(SimpleObject, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}
