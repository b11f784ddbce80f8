//! What callers are shown of a model's history: a version as the list shows it (the reference's
//! `ModelHistoryResponse`) and with its snapshot (`ModelHistoryModel`).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::models::{HistoryEntryRow, HistoryRow};

/// Who wrote a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ModelHistoryAuthor)]
pub struct VersionAuthor {
    pub name: String,
}

/// One version of a model's configuration, without its snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ModelHistoryResponse)]
pub struct VersionView {
    pub id: String,
    pub model_id: String,
    /// The version this one followed (`null` for the first).
    pub parent_id: Option<String>,
    /// Who wrote it.
    pub user_id: String,
    pub commit_message: Option<String>,
    pub created_at: i64,
    /// `{name}` of the author; `null` when the account is gone (or has no name).
    pub user: Option<VersionAuthor>,
}

impl From<HistoryRow> for VersionView {
    fn from(r: HistoryRow) -> Self {
        VersionView {
            id: r.id,
            model_id: r.model_id,
            parent_id: r.parent_id,
            user_id: r.user_id.unwrap_or_default(),
            commit_message: r.commit_message,
            created_at: r.created_at,
            user: r.author_name.filter(|n| !n.is_empty()).map(|name| VersionAuthor { name }),
        }
    }
}

/// One version with its snapshot: `{name, base_model_id, params, meta}` as the model was then.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ModelHistoryModel)]
pub struct VersionEntryView {
    #[serde(flatten)]
    pub version: VersionView,
    #[schema(value_type = Object)]
    pub snapshot: Value,
}

impl From<HistoryEntryRow> for VersionEntryView {
    fn from(r: HistoryEntryRow) -> Self {
        VersionEntryView { version: r.entry.into(), snapshot: r.snapshot.0 }
    }
}
