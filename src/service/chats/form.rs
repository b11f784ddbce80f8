//! Input of the chat use cases: the request forms (named in the OpenAPI document as the
//! reference's pydantic forms), the list and GraphQL query inputs, and their validation (title,
//! sort order, page).

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::PAGE_SIZE;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Source};
use crate::service::validate;
use crate::store::chats::Sort;

/// `POST /chats/new` and `POST /chats/{id}`: the chat document and its optional fields (also
/// the chat fields of each `ChatImportForm`).
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = ChatForm)]
pub struct ChatInput {
    #[schema(value_type = Object)]
    pub chat: Map<String, Value>,
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Map<String, Value>>,
    pub folder_id: Option<String>,
}

/// One chat of an import, as read (its JSON is `ChatImportFields`).
#[derive(Debug, Clone, Default)]
pub struct ImportInput {
    pub chat: ChatInput,
    pub meta: Option<Map<String, Value>>,
    pub pinned: bool,
    pub archived: bool,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// One chat of an import: `ChatForm`'s fields beside the import's own; `pinned` and `archived`
/// default to false.
// The JSON of an `ImportInput`, which holds the chat fields nested as its `chat`.
#[derive(ToSchema)]
#[schema(as = ChatImportForm)]
pub struct ChatImportFields {
    #[schema(value_type = Object)]
    pub chat: Map<String, Value>,
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Map<String, Value>>,
    pub folder_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// `POST /chats/import`: the chats, imported in one transaction.
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = ChatsImportForm)]
pub struct ImportForm {
    #[schema(value_type = Vec<ChatImportFields>)]
    pub chats: Vec<ImportInput>,
}

/// `POST /chats/{id}/tags` and `DELETE /chats/{id}/tags`: a tag name.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = TagForm)]
pub struct TagForm {
    pub name: String,
}

/// `POST /chats/tags`: a tag name and a window of the chats having it.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = TagFilterForm)]
pub struct TagFilterForm {
    pub name: String,
    /// Chats to skip (default 0).
    pub skip: Option<i64>,
    /// Chats to answer at most (default 50).
    pub limit: Option<i64>,
}

/// `POST /chats/{id}/clone`: the copy's title (default `Clone of <title>`).
#[derive(Debug, Clone, ToSchema)]
#[schema(as = CloneForm)]
pub struct CloneForm {
    pub title: Option<String>,
}

/// `POST /chats/{id}/messages/{message_id}`: the message's new content (without it the answer
/// is 400).
#[derive(Debug, Clone, ToSchema)]
#[schema(as = MessageForm)]
pub struct MessageForm {
    pub content: Option<String>,
}

/// Query parameters of the chat lists.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub page: Option<i64>,
    pub include_pinned: bool,
    /// Also chats in folders (left out by default).
    pub include_folders: bool,
    pub sort_by: Option<String>,
    pub sort_dir: Option<String>,
}

/// Paging, title filter and order of the secondary lists (`/archived`, `/shared`, admin lists).
#[derive(Debug, Clone, Default)]
pub struct PagedParams {
    pub page: Option<i64>,
    pub query: Option<String>,
    pub order_by: Option<String>,
    pub direction: Option<String>,
}

/// Filters of the GraphQL chat connection.
#[derive(Debug, Clone, Default)]
pub struct ChatQuery {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub search: Option<String>,
    pub tag: Option<String>,
    /// `Some(false)`: only chats outside folders.
    pub include_folders: Option<bool>,
    pub limit: i64,
    pub offset: i64,
    /// Whether the number of matching chats is wanted (it costs a count).
    pub count: bool,
}

/// The longest title a chat may have, in characters.
pub const MAX_TITLE_CHARS: usize = 1000;

/// 400 `[ERROR: Invalid title]` for a title that is not text or longer than `MAX_TITLE_CHARS`.
pub(super) fn check_title(chat: &Map<String, Value>) -> AppResult<()> {
    match chat.get("title") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(t)) if t.chars().count() <= MAX_TITLE_CHARS => Ok(()),
        Some(_) => Err(AppError::bad_request(ErrorCode::InvalidTitle)),
    }
}

/// 422 `literal_error` for the query parameter `name`, listing `choices` (none when empty).
fn query_error(name: &str, choices: &[&str], input: &str) -> AppError {
    Fields::error(Source::Query, |f| {
        if choices.is_empty() {
            f.literal_error_unlisted(name, &json!(input))
        } else {
            f.literal_error_bare(name, &json!(input), choices)
        }
    })
}

pub(super) fn parse_sort(sort_by: Option<&str>, sort_dir: Option<&str>) -> AppResult<(Sort, bool)> {
    let sort = match sort_by {
        None | Some("updated_at") => Sort::UpdatedAt,
        Some("created_at") => Sort::CreatedAt,
        Some("title") => Sort::Title,
        Some(other) => return Err(query_error("sort_by", &["updated_at", "created_at", "title"], other)),
    };
    let ascending = match sort_dir {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(query_error("sort_dir", &["asc", "desc"], other)),
    };
    Ok((sort, ascending))
}

pub(super) fn paged(params: &PagedParams) -> AppResult<(Sort, bool, i64)> {
    if let Some(query) = &params.query {
        validate::check_search(&["query", "query"], query)?;
    }
    let (sort, ascending) =
        parse_sort(params.order_by.as_deref(), params.direction.as_deref()).map_err(|_| {
            let (name, value) = match params.order_by.as_deref() {
                Some(v) if !matches!(v, "updated_at" | "created_at" | "title") => ("order_by", v),
                _ => ("direction", params.direction.as_deref().unwrap_or("")),
            };
            query_error(name, &[], value)
        })?;
    let page = params.page.unwrap_or(1).max(1);
    Ok((sort, ascending, (page - 1).saturating_mul(PAGE_SIZE)))
}
