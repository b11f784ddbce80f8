//! GraphQL twins of the further chat routes: a share's grants (read and replace), chat params,
//! forks, the admin's chat settings and usage stats. Each resolver calls the service function
//! its REST twin calls; forms are checked by the same service code (locations read `body.…`).

use async_graphql::{Context, ErrorExtensions, Json, MaybeUndefined, Object};
use serde_json::{Map, Value, json};

use super::error::Gql;
use super::types::{Chat, Window, caller, list_cost, state};
use super::types::{ChatSettings, ChatUsagePage, ShareGrant};
use crate::service::chats::{self as chats_svc, ChatConfig, ShareAccessForm};
use crate::service::form::{Fields, Source};

#[derive(Default)]
pub struct ChatMoreQuery;

#[derive(Default)]
pub struct ChatMoreMutation;

#[Object]
impl ChatMoreQuery {
    /// Who may open the share of chat `chatId` (its owner, or an admin with admin chat access),
    /// as `GET /chats/shared/{id}/access`.
    async fn shared_chat_access(
        &self,
        ctx: &Context<'_>,
        chat_id: String,
    ) -> async_graphql::Result<Vec<ShareGrant>> {
        let grants = chats_svc::share_access(state(ctx), caller(ctx), &chat_id).await.gql()?;
        Ok(grants.into_iter().map(ShareGrant::from).collect())
    }

    /// The chat settings (admin), as `GET /chats/config`.
    async fn chat_config(&self, ctx: &Context<'_>) -> async_graphql::Result<ChatSettings> {
        Ok(chats_svc::chat_config(state(ctx), caller(ctx)).await.gql()?.into())
    }

    /// Usage stats of the caller's chats, newest first, as `GET /chats/stats/usage`
    /// (`itemsPerPage` at most 200 here).
    #[graphql(complexity = "list_cost(items_per_page, child_complexity)")]
    async fn chat_usage_stats(
        &self,
        ctx: &Context<'_>,
        items_per_page: Option<i32>,
        page: Option<i64>,
    ) -> async_graphql::Result<ChatUsagePage> {
        caller(ctx).require_verified().gql()?;
        let per_page = Window::new(items_per_page, None)?.limit;
        let page = chats_svc::usage(state(ctx), caller(ctx), Some(per_page), page).await.gql()?;
        Ok(page.into())
    }
}

/// A JSON argument that must be an object.
fn object(name: &str, value: Value) -> async_graphql::Result<Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        other => Err(Fields::error(Source::Argument, |f| f.dict_type(name, &other)).extend()),
    }
}

#[Object]
impl ChatMoreMutation {
    /// Replaces who may open chat `chatId`'s share (`accessGrants`: a list of
    /// `{principal_type, principal_id, permission}`), and its mode when `shareMode` is given
    /// (`continue` or null), as `POST /chats/shared/{id}/access/update`.
    async fn update_shared_chat_access(
        &self,
        ctx: &Context<'_>,
        chat_id: String,
        access_grants: Json<Value>,
        share_mode: MaybeUndefined<String>,
    ) -> async_graphql::Result<Chat> {
        caller(ctx).require_verified().gql()?;
        let mut body = json!({"access_grants": access_grants.0});
        match share_mode {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => body["share_mode"] = Value::Null,
            MaybeUndefined::Value(m) => body["share_mode"] = json!(m),
        }
        let form = ShareAccessForm::from_json(&body).gql()?;
        let chat = chats_svc::update_share_access(state(ctx), caller(ctx), &chat_id, form).await.gql()?;
        Ok(Chat::from_view(chat))
    }

    /// Merges `params` into the chat's `chat.params`; the merged params, as
    /// `PATCH /chats/{id}/params`.
    async fn update_chat_params(
        &self,
        ctx: &Context<'_>,
        id: String,
        params: Json<Value>,
    ) -> async_graphql::Result<Json<Map<String, Value>>> {
        caller(ctx).require_verified().gql()?;
        let params = object("params", params.0)?;
        Ok(Json(chats_svc::update_params(state(ctx), caller(ctx), &id, params).await.gql()?))
    }

    /// A new chat of the caller holding the branch of chat (or share) `id` that ends at
    /// `messageId` (default: the current message), as `POST /chats/{id}/fork`.
    async fn fork_chat(
        &self,
        ctx: &Context<'_>,
        id: String,
        message_id: Option<String>,
    ) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(chats_svc::fork(state(ctx), caller(ctx), &id, message_id).await.gql()?))
    }

    /// Saves the chat settings (admin); `config` is the REST form (`ENABLE_CONTEXT_COMPACTION`,
    /// `CONTEXT_COMPACTION_PROMPT_TEMPLATE`, …), as `POST /chats/config`.
    async fn update_chat_config(
        &self,
        ctx: &Context<'_>,
        config: Json<Value>,
    ) -> async_graphql::Result<ChatSettings> {
        caller(ctx).require_admin().gql()?;
        let form = ChatConfig::from_json(&config.0).gql()?;
        Ok(chats_svc::set_chat_config(state(ctx), caller(ctx), form).await.gql()?.into())
    }
}
