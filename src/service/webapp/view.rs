//! What the web app's load calls answer: banners, the (empty) tool, function and skill lists in
//! the reference's shapes, the changelog, task ids, a task stop, and usage.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A banner above the chat (the reference's `BannerModel`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = BannerModel)]
pub struct BannerView {
    /// Translations: language → field → text.
    #[schema(value_type = Option<Object>)]
    pub i18n: Option<Value>,
    pub id: String,
    /// `info`, `success`, `warning` or `error` (any text is kept).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub content: String,
    pub dismissible: bool,
    pub timestamp: i64,
}

/// A tool as the reference's `GET /tools/` lists it (`ToolUserResponse`). Duet has no tools, so
/// the list is always empty; the shape is what a client may expect.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ToolUserResponse)]
pub struct ToolView {
    pub version_id: Option<String>,
    pub id: String,
    pub user_id: Option<String>,
    pub name: String,
    /// `ToolMeta`: `description`, `manifest`, `has_user_valves`, …
    #[schema(value_type = Object)]
    pub meta: Value,
    pub access_grants: Vec<crate::service::models::AccessGrantView>,
    pub updated_at: i64,
    pub created_at: i64,
    #[schema(value_type = Option<Object>)]
    pub user: Option<Value>,
}

/// A function as the reference's `GET /functions/` lists it (`FunctionResponse`); always an
/// empty list in duet.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FunctionResponse)]
pub struct FunctionView {
    pub version_id: Option<String>,
    pub id: String,
    pub user_id: Option<String>,
    /// `filter`, `action` or `pipe`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// `FunctionMeta`: `description`, `manifest`, …
    #[schema(value_type = Object)]
    pub meta: Value,
    pub is_active: bool,
    pub is_global: bool,
    pub updated_at: i64,
    pub created_at: i64,
}

/// A skill as the reference's `GET /skills/` lists it (`SkillUserResponse`); always an empty list
/// in duet.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SkillUserResponse)]
pub struct SkillView {
    pub version_id: Option<String>,
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    /// `SkillMeta`: `i18n`, `tags`.
    #[schema(value_type = Object)]
    pub meta: Value,
    pub is_active: bool,
    pub access_grants: Vec<crate::service::models::AccessGrantView>,
    pub updated_at: i64,
    pub created_at: i64,
    #[schema(value_type = Option<Object>)]
    pub user: Option<Value>,
}

/// One change of a release.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangelogItem {
    pub title: String,
    pub content: String,
    pub raw: String,
}

/// One release of the changelog: its date and its sections (`added`, `fixed`, …).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangelogEntry {
    pub date: String,
    #[serde(flatten)]
    pub sections: BTreeMap<String, Vec<ChangelogItem>>,
}

/// `GET /api/changelog`: version → release.
pub type Changelog = BTreeMap<String, ChangelogEntry>;

/// `{"task_ids": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskIdsView {
    pub task_ids: Vec<String>,
}

/// `GET /api/tasks`: every running task's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskListView {
    pub tasks: Vec<String>,
}

/// What stopping a task did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskStopView {
    pub status: bool,
    pub message: String,
}

/// `GET /api/usage`: the models in use right now and the users active in the last three minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsageView {
    pub model_ids: Vec<String>,
    pub user_count: i64,
}
