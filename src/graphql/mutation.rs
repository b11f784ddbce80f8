//! Mutations: sessions, profile, API keys, chats, models, users. Each resolver calls the service function
//! its REST twin calls, so rules, limits and error codes are the REST ones.

use async_graphql::{Context, ErrorExtensions, InputObject, Json, MaybeUndefined, Object};
use serde_json::{Map, Value, json};

use super::error::Gql;
use super::types::{Chat, Model, Session, Tag, User, caller, state};
use crate::auth::Credential;
use crate::service::auths::{self as auths_svc, ProfileInput, SignupInput};
use crate::service::chats::{self as chats_svc, ChatInput};
use crate::service::form::{Fields, Source};
use crate::service::models::{self as models_svc, ModelForm};
use crate::service::users::{self as users_svc, UpdateInput};

/// The core mutations (sessions, profile, API keys, chats, models, users).
#[derive(Default)]
pub struct CoreMutation;

fn session(s: auths_svc::Session) -> Session {
    Session {
        expires_at: s.expires_at(),
        token: s.token,
        token_type: "Bearer".into(),
        user: User(s.user.into()),
    }
}

/// A JSON argument that must be an object.
fn object(name: &str, value: Value) -> async_graphql::Result<Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        other => Err(Fields::error(Source::Argument, |f| f.dict_type(name, &other)).extend()),
    }
}

/// `UserUpdateForm`: only given fields change.
#[derive(InputObject)]
pub struct UserUpdateInput {
    pub role: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub profile_image_url: Option<String>,
    pub password: Option<String>,
}

/// `ModelForm`, the body of `POST /models/create` and `/models/model/update`. It is validated by
/// the service's form logic, so rules and error texts are the REST ones (locations read `body.…`).
/// On update, an omitted `baseModelId` or `isActive` keeps the stored value (`baseModelId: null`
/// clears it); `accessGrants` only count on create.
#[derive(InputObject)]
pub struct ModelInput {
    pub id: String,
    pub base_model_id: MaybeUndefined<String>,
    pub name: String,
    pub meta: Json<Value>,
    pub params: Json<Value>,
    pub is_active: Option<bool>,
    /// A list of `{principal_type, principal_id, permission}` objects.
    pub access_grants: Option<Json<Value>>,
    pub commit_message: Option<String>,
}

impl ModelInput {
    /// The REST body this input stands for, checked by `ModelForm::from_json`.
    fn form(self) -> async_graphql::Result<ModelForm> {
        let mut body = Map::new();
        body.insert("id".into(), json!(self.id));
        match self.base_model_id {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                body.insert("base_model_id".into(), Value::Null);
            }
            MaybeUndefined::Value(b) => {
                body.insert("base_model_id".into(), json!(b));
            }
        }
        body.insert("name".into(), json!(self.name));
        body.insert("meta".into(), self.meta.0);
        body.insert("params".into(), self.params.0);
        if let Some(active) = self.is_active {
            body.insert("is_active".into(), json!(active));
        }
        if let Some(grants) = self.access_grants {
            body.insert("access_grants".into(), grants.0);
        }
        if let Some(message) = self.commit_message {
            body.insert("commit_message".into(), json!(message));
        }
        ModelForm::from_json(&Value::Object(body)).gql()
    }
}

#[Object]
impl CoreMutation {
    /// Creates an account (the first one becomes the admin) and signs it in.
    async fn signup(
        &self,
        ctx: &Context<'_>,
        name: String,
        email: String,
        password: String,
        profile_image_url: Option<String>,
    ) -> async_graphql::Result<Session> {
        let input = SignupInput { name, email, password, profile_image_url };
        Ok(session(auths_svc::signup(state(ctx), input).await.gql()?))
    }

    /// Signs in; shares the sign-in rate limit with `POST /api/v1/auths/signin`.
    async fn signin(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<Session> {
        Ok(session(auths_svc::signin(state(ctx), &email, &password).await.gql()?))
    }

    /// Ends the caller's session token (everywhere).
    async fn signout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let token = match caller(ctx).principal().map(|p| &p.credential) {
            Some(Credential::Session { token, .. }) => Some(token.clone()),
            _ => None,
        };
        auths_svc::signout(state(ctx), token.as_deref()).await.gql()?;
        Ok(true)
    }

    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        name: String,
        profile_image_url: String,
        bio: Option<String>,
        gender: Option<String>,
        date_of_birth: Option<String>,
    ) -> async_graphql::Result<User> {
        let input = ProfileInput { name, profile_image_url, bio, gender, date_of_birth };
        Ok(User(auths_svc::update_profile(state(ctx), caller(ctx), input).await.gql()?.into()))
    }

    /// Changes the caller's password and ends every session of the account.
    async fn update_password(
        &self,
        ctx: &Context<'_>,
        password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        auths_svc::update_password(state(ctx), caller(ctx), &password, &new_password).await.gql()?;
        Ok(true)
    }

    async fn create_api_key(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        auths_svc::create_api_key(state(ctx), caller(ctx)).await.gql()
    }

    async fn delete_api_key(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        auths_svc::delete_api_key(state(ctx), caller(ctx)).await.gql()?;
        Ok(true)
    }

    async fn create_chat(&self, ctx: &Context<'_>, chat: Json<Value>) -> async_graphql::Result<Chat> {
        caller(ctx).require_verified().gql()?;
        let input = ChatInput { chat: object("chat", chat.0)?, ..Default::default() };
        Ok(Chat::from_view(chats_svc::create(state(ctx), caller(ctx), input).await.gql()?))
    }

    /// Merges `chat` into the stored document, as `POST /api/v1/chats/{id}`.
    async fn update_chat(
        &self,
        ctx: &Context<'_>,
        id: String,
        chat: Json<Value>,
    ) -> async_graphql::Result<Chat> {
        caller(ctx).require_verified().gql()?;
        let input = ChatInput { chat: object("chat", chat.0)?, ..Default::default() };
        Ok(Chat::from_view(chats_svc::update(state(ctx), caller(ctx), &id, input).await.gql()?))
    }

    async fn delete_chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        chats_svc::delete(state(ctx), caller(ctx), &id).await.gql()
    }

    /// Toggles the pin.
    async fn pin_chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(chats_svc::toggle_pin(state(ctx), caller(ctx), &id).await.gql()?))
    }

    /// Toggles the archive state.
    async fn archive_chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(chats_svc::toggle_archive(state(ctx), caller(ctx), &id).await.gql()?))
    }

    /// Creates or refreshes the share snapshot; the chat's `shareId` is its id.
    async fn share_chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(chats_svc::share(state(ctx), caller(ctx), &id).await.gql()?))
    }

    async fn unshare_chat(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        chats_svc::unshare(state(ctx), caller(ctx), &id).await.gql()
    }

    async fn clone_chat(
        &self,
        ctx: &Context<'_>,
        id: String,
        title: Option<String>,
    ) -> async_graphql::Result<Chat> {
        Ok(Chat::from_view(chats_svc::clone(state(ctx), caller(ctx), &id, title).await.gql()?))
    }

    async fn add_chat_tag(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: String,
    ) -> async_graphql::Result<Vec<Tag>> {
        let tags = chats_svc::add_tag(state(ctx), caller(ctx), &id, &name).await.gql()?;
        Ok(tags.into_iter().map(Tag::from).collect())
    }

    async fn remove_chat_tag(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: String,
    ) -> async_graphql::Result<Vec<Tag>> {
        let tags = chats_svc::remove_tag(state(ctx), caller(ctx), &id, &name).await.gql()?;
        Ok(tags.into_iter().map(Tag::from).collect())
    }

    /// As `POST /api/v1/models/create`: needs `workspace.models` (admins always); non-admins create
    /// presets only (`baseModelId` set).
    async fn create_model(&self, ctx: &Context<'_>, input: ModelInput) -> async_graphql::Result<Model> {
        caller(ctx).require_verified().gql()?;
        let form = input.form()?;
        Ok(Model::written(models_svc::create(state(ctx), caller(ctx), form).await.gql()?))
    }

    /// As `POST /api/v1/models/model/update`: owner, admin or write grant.
    async fn update_model(&self, ctx: &Context<'_>, input: ModelInput) -> async_graphql::Result<Model> {
        caller(ctx).require_verified().gql()?;
        let form = input.form()?;
        Ok(Model::written(models_svc::update(state(ctx), caller(ctx), form).await.gql()?))
    }

    /// As `POST /api/v1/models/model/delete`: the model, its grants and its history.
    async fn delete_model(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        models_svc::delete(state(ctx), caller(ctx), &id).await.gql()
    }

    /// As `POST /api/v1/models/model/toggle`: flips `isActive`.
    async fn toggle_model(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Model> {
        Ok(Model::written(models_svc::toggle(state(ctx), caller(ctx), &id).await.gql()?))
    }

    /// Admin update, as `POST /api/v1/users/{id}/update`.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: UserUpdateInput,
    ) -> async_graphql::Result<User> {
        let input = UpdateInput {
            role: input.role,
            name: input.name,
            email: input.email,
            profile_image_url: input.profile_image_url,
            password: input.password,
        };
        Ok(User(users_svc::update(state(ctx), caller(ctx), &id, input).await.gql()?))
    }

    async fn delete_user(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        users_svc::delete(state(ctx), caller(ctx), &id).await.gql()
    }

    /// Merges `settings` into the caller's settings and answers the stored ones, as
    /// `POST /api/v1/users/user/settings/update` (top-level keys replace, `ui` is patched key by
    /// key and `null` removes a key; what the caller's permissions do not allow is dropped).
    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        settings: Json<Value>,
    ) -> async_graphql::Result<Json<Value>> {
        caller(ctx).require_verified().gql()?;
        let form = object("settings", settings.0)?;
        Ok(Json(users_svc::update_settings(state(ctx), caller(ctx), form).await.gql()?))
    }
}
