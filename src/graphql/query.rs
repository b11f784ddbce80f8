//! Queries: the caller, users, chats, shared chats, models. Each resolver calls the service function its
//! REST twin calls.

use async_graphql::{Context, Object};

use super::error::Gql;
use super::types::{
    Chat, ChatFilter, Model, Page, User, Window, caller, chat_connection, list_cost, model_connection, page,
    state,
};
use crate::error::ErrorCode;
use crate::service::{chats as chats_svc, models as models_svc, users as users_svc};

/// The core queries (caller, users, chats, shared chats, models).
#[derive(Default)]
pub struct CoreQuery;

/// `Ok(None)` for a not-found error (a nullable field), the error otherwise.
fn none_if_missing<T>(r: crate::error::AppResult<T>) -> async_graphql::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(async_graphql::ErrorExtensions::extend(&e)),
    }
}

#[Object]
impl CoreQuery {
    /// The signed-in caller (any role).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        Ok(User(caller(ctx).require_user().gql()?.user.clone().into()))
    }

    /// A user by id: an admin, or the caller themself. `null` when there is no such user.
    async fn user(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<User>> {
        Ok(none_if_missing(users_svc::get(state(ctx), caller(ctx), &id).await)?.map(|d| User(d.user)))
    }

    /// Users, newest first (admin). `query` matches name or email.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
    ) -> async_graphql::Result<Page<User>> {
        let window = Window::new(first, after.as_deref())?;
        let (users, total) =
            users_svc::list_range(state(ctx), caller(ctx), query.as_deref(), window.limit, window.offset)
                .await
                .gql()?;
        Ok(page(window, users.into_iter().map(User).collect(), total))
    }

    /// A chat the caller may read; `null` for unknown ids and other users' chats.
    async fn chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Chat>> {
        Ok(none_if_missing(chats_svc::get(state(ctx), caller(ctx), &id).await)?.map(Chat::from_view))
    }

    /// The caller's chats, newest first. Archived chats only with `archived: true`; `search` takes
    /// the REST search syntax (words, `tag:`, `folder:`, `pinned:`, `shared:`); `includeFolders: false` leaves
    /// out chats in folders (the REST list's default).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn chats(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        archived: Option<bool>,
        pinned: Option<bool>,
        search: Option<String>,
        tag: Option<String>,
        include_folders: Option<bool>,
    ) -> async_graphql::Result<Page<Chat>> {
        let me = caller(ctx).require_verified().gql()?.user.id.clone();
        let window = Window::new(first, after.as_deref())?;
        let filter = ChatFilter { archived, pinned, search, tag, include_folders };
        chat_connection(ctx, &me, window, filter).await
    }

    /// A shared snapshot by its share id; `null` when there is no such share.
    async fn shared_chat(&self, ctx: &Context<'_>, share_id: String) -> async_graphql::Result<Option<Chat>> {
        let share = none_if_missing(chats_svc::get_share(state(ctx), caller(ctx), &share_id).await)?;
        Ok(share.map(Chat::from_view))
    }

    /// A model by id, as `GET /api/v1/models/model?id=`; `null` for unknown ids and for models
    /// the caller may not read. `params` are `{}` without write access.
    async fn model(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Model>> {
        match models_svc::get(state(ctx), caller(ctx), &id).await {
            Ok(m) => Ok(Some(Model::from(m))),
            Err(e) if e.code == ErrorCode::AccessProhibited && caller(ctx).require_verified().is_ok() => {
                Ok(None)
            }
            Err(e) => none_if_missing(Err(e)),
        }
    }

    /// The workspace models (presets) the caller can read, newest first, as
    /// `GET /api/v1/models/list`: `query` matches name, base model, owner name or email; `tag` a
    /// tag name.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
        tag: Option<String>,
    ) -> async_graphql::Result<Page<Model>> {
        caller(ctx).require_verified().gql()?;
        model_connection(ctx, Window::new(first, after.as_deref())?, query, tag).await
    }
}
