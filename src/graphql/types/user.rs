//! `User` (an account), `UserSummary` (what a model's readers see of its owner) and `Session`.

use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use serde_json::Value;

use super::chat::{Chat, ChatFilter, chat_connection};
use super::group::GroupRef;
use super::model::{Model, owned_models};
use super::page::{Page, Window, list_cost, unpaged_list_cost};
use super::{caller, state};
use crate::graphql::error::Gql;
use crate::service::users::{self as users_svc, UserView};

/// A user account.
#[derive(Clone)]
pub struct User(pub UserView);

#[Object]
impl User {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn role(&self) -> &str {
        &self.0.role
    }
    async fn profile_image_url(&self) -> &str {
        &self.0.profile_image_url
    }
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    async fn last_active_at(&self) -> i64 {
        self.0.last_active_at
    }
    /// The user's settings (`{ui: {...}, ...}`, or null), as `GET /api/v1/users/user/settings`
    /// answers them: the admin's default interface settings under the user's own `ui` values,
    /// unless `raw`. Only the user themself (role `user` or `admin`) or an admin may read them.
    async fn settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] raw: bool,
    ) -> async_graphql::Result<Option<Json<Value>>> {
        let settings = users_svc::settings_of(state(ctx), caller(ctx), &self.0, raw).await.gql()?;
        Ok(settings.map(Json))
    }
    /// The user's direct groups, newest change first (as `GET /api/v1/users/{id}/info` names
    /// them); a page of users reads them in one batch.
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GroupRef>> {
        let loader = ctx.data_unchecked::<crate::graphql::loaders::UserGroups>();
        let groups = loader.load_one(self.0.id.clone()).await.map_err(|e| e.as_ref().extend())?;
        Ok(groups.unwrap_or_default().into_iter().map(|(id, name)| GroupRef { id, name }).collect())
    }
    /// This user's chats (their own, or any user's for an admin), newest first.
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
    ) -> async_graphql::Result<Page<Chat>> {
        let window = Window::new(first, after.as_deref())?;
        chat_connection(
            ctx,
            &self.0.id,
            window,
            ChatFilter { archived, pinned, search, tag, ..Default::default() },
        )
        .await
    }
    /// The workspace models this user owns that the caller can read (the `models` list, newest
    /// first, narrowed to this owner).
    #[graphql(complexity = "unpaged_list_cost(child_complexity)")]
    async fn models(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Model>> {
        owned_models(ctx, &self.0.id).await
    }
}

/// What anyone who may read a model sees of its owner (REST's `{id, name, role, email}`).
#[derive(SimpleObject, Clone)]
pub struct UserSummary {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
}

impl From<UserView> for UserSummary {
    fn from(u: UserView) -> Self {
        UserSummary { id: u.id, name: u.name, role: u.role, email: u.email }
    }
}

/// A signed-in session.
#[derive(SimpleObject)]
pub struct Session {
    pub token: String,
    pub token_type: String,
    pub expires_at: Option<i64>,
    pub user: User,
}
