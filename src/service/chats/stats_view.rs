//! What the chat stats routes answer: per-chat usage (`ChatUsageStatsResponse`) and the stats
//! export (`ChatStatsExport`: message facts without their text, and the aggregates), with the
//! reference's field names and order.

use serde::ser::{Serialize, SerializeMap, Serializer};
use utoipa::ToSchema;

/// Models and how many assistant messages each wrote, in the order first met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelCounts(pub Vec<(String, i64)>);

impl ModelCounts {
    pub fn add(&mut self, model: &str) {
        match self.0.iter_mut().find(|(m, _)| m == model) {
            Some((_, n)) => *n += 1,
            None => self.0.push((model.to_string(), 1)),
        }
    }
}

impl Serialize for ModelCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One chat's usage: models of the current branch and of the whole history, message counts,
/// average reply time (seconds) and average message lengths (characters).
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatUsageStatsResponse)]
pub struct ChatUsageView {
    pub id: String,
    #[schema(value_type = Object)]
    pub models: ModelCounts,
    pub message_count: i64,
    #[schema(value_type = Object)]
    pub history_models: ModelCounts,
    pub history_message_count: i64,
    pub history_user_message_count: i64,
    pub history_assistant_message_count: i64,
    pub average_response_time: f64,
    pub average_user_message_content_length: f64,
    pub average_assistant_message_content_length: f64,
    pub tags: Vec<String>,
    pub last_message_at: i64,
    pub updated_at: i64,
    pub created_at: i64,
}

/// `GET /chats/stats/usage`: a page of usage, and how many chats the caller has.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatUsageStatsListResponse)]
pub struct ChatUsagePage {
    pub items: Vec<ChatUsageView>,
    pub total: i64,
}

/// One message of the export: who wrote it, when, how long, and its rating.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ToSchema)]
#[schema(as = MessageStats)]
pub struct MessageStatsView {
    pub id: String,
    pub role: String,
    pub model: Option<String>,
    pub content_length: i64,
    pub token_count: Option<i64>,
    pub timestamp: Option<i64>,
    pub rating: Option<i64>,
    pub tags: Option<Vec<String>>,
}

/// The exported messages by id, in the chat's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageStatsMap(pub Vec<(String, MessageStatsView)>);

impl Serialize for MessageStatsMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatHistoryStats)]
pub struct HistoryStatsView {
    #[schema(value_type = std::collections::HashMap<String, MessageStatsView>)]
    pub messages: MessageStatsMap,
    #[serde(rename = "currentId")]
    #[schema(rename = "currentId")]
    pub current_id: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatBody)]
pub struct ChatBodyView {
    pub history: HistoryStatsView,
}

#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = AggregateChatStats)]
pub struct AggregateStatsView {
    pub average_response_time: f64,
    pub average_user_message_content_length: f64,
    pub average_assistant_message_content_length: f64,
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub models: ModelCounts,
    pub message_count: i64,
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub history_models: ModelCounts,
    pub history_message_count: i64,
    pub history_user_message_count: i64,
    pub history_assistant_message_count: i64,
}

/// One chat of the stats export.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatStatsExport)]
pub struct ChatStatsView {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
    pub stats: AggregateStatsView,
    pub chat: ChatBodyView,
}

/// `GET /chats/stats/export`: a page of ten chats, oldest update first.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(as = ChatStatsExportList)]
pub struct ChatStatsPage {
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: &'static str,
    pub items: Vec<ChatStatsView>,
    pub total: i64,
    pub page: i64,
}
