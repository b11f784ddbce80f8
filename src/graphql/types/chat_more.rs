//! Object types of the further chat fields: a share's grants (`ShareGrant`), the admin's chat
//! settings (`ChatSettings`) and per-chat usage stats (`ChatUsage`, `ChatUsagePage`).

use async_graphql::{Json, SimpleObject};
use serde_json::Value;

use crate::service::chats::{ChatConfig, ChatUsagePage as UsagePage, ChatUsageView, ShareGrantView};

/// A grant on a chat's share: who (`principalType` `user`, `group` or `anyone`; `principalId` an
/// id or `*`) may do what (`read`, `write`).
#[derive(SimpleObject, Clone)]
pub struct ShareGrant {
    pub id: String,
    pub principal_type: String,
    pub principal_id: String,
    pub permission: String,
}

impl From<ShareGrantView> for ShareGrant {
    fn from(g: ShareGrantView) -> Self {
        ShareGrant {
            id: g.id,
            principal_type: g.principal_type,
            principal_id: g.principal_id,
            permission: g.permission,
        }
    }
}

/// The chat settings (`GET /chats/config`): context compaction and tool search.
#[derive(SimpleObject, Clone)]
pub struct ChatSettings {
    pub context_compaction_model: Option<String>,
    pub enable_context_compaction: bool,
    pub context_compaction_token_threshold: Option<i64>,
    pub context_compaction_token_cap: Option<i64>,
    pub context_compaction_retention_percentage: Option<i64>,
    pub context_compaction_prompt_template: String,
    pub enable_tool_permissions: bool,
    pub enable_tool_search: bool,
    pub tool_search_defer_threshold: i64,
    pub tool_search_always_loaded: Vec<String>,
    pub tool_search_defer_builtin_tools: bool,
}

impl From<ChatConfig> for ChatSettings {
    fn from(c: ChatConfig) -> Self {
        ChatSettings {
            context_compaction_model: c.CONTEXT_COMPACTION_MODEL,
            enable_context_compaction: c.ENABLE_CONTEXT_COMPACTION,
            context_compaction_token_threshold: c.CONTEXT_COMPACTION_TOKEN_THRESHOLD,
            context_compaction_token_cap: c.CONTEXT_COMPACTION_TOKEN_CAP,
            context_compaction_retention_percentage: c.CONTEXT_COMPACTION_RETENTION_PERCENTAGE,
            context_compaction_prompt_template: c.CONTEXT_COMPACTION_PROMPT_TEMPLATE,
            enable_tool_permissions: c.ENABLE_TOOL_PERMISSIONS,
            enable_tool_search: c.ENABLE_TOOL_SEARCH,
            tool_search_defer_threshold: c.TOOL_SEARCH_DEFER_THRESHOLD,
            tool_search_always_loaded: c.TOOL_SEARCH_ALWAYS_LOADED,
            tool_search_defer_builtin_tools: c.TOOL_SEARCH_DEFER_BUILTIN_TOOLS,
        }
    }
}

/// One chat's usage (`GET /chats/stats/usage`): `models` and `historyModels` map a model id to
/// the number of assistant messages it wrote (current branch / whole history).
#[derive(SimpleObject, Clone)]
pub struct ChatUsage {
    pub id: String,
    pub models: Json<Value>,
    pub message_count: i64,
    pub history_models: Json<Value>,
    pub history_message_count: i64,
    pub history_user_message_count: i64,
    pub history_assistant_message_count: i64,
    /// Seconds, on average, between a user message and its reply.
    pub average_response_time: f64,
    pub average_user_message_content_length: f64,
    pub average_assistant_message_content_length: f64,
    pub tags: Vec<String>,
    pub last_message_at: i64,
    pub updated_at: i64,
    pub created_at: i64,
}

impl From<ChatUsageView> for ChatUsage {
    fn from(u: ChatUsageView) -> Self {
        let map = |m: &crate::service::chats::ModelCounts| {
            Json(Value::Object(m.0.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect()))
        };
        ChatUsage {
            models: map(&u.models),
            history_models: map(&u.history_models),
            id: u.id,
            message_count: u.message_count,
            history_message_count: u.history_message_count,
            history_user_message_count: u.history_user_message_count,
            history_assistant_message_count: u.history_assistant_message_count,
            average_response_time: u.average_response_time,
            average_user_message_content_length: u.average_user_message_content_length,
            average_assistant_message_content_length: u.average_assistant_message_content_length,
            tags: u.tags,
            last_message_at: u.last_message_at,
            updated_at: u.updated_at,
            created_at: u.created_at,
        }
    }
}

/// A page of usage stats and how many chats the caller has.
#[derive(SimpleObject, Clone)]
pub struct ChatUsagePage {
    pub items: Vec<ChatUsage>,
    pub total: i64,
}

impl From<UsagePage> for ChatUsagePage {
    fn from(p: UsagePage) -> Self {
        ChatUsagePage { items: p.items.into_iter().map(ChatUsage::from).collect(), total: p.total }
    }
}
