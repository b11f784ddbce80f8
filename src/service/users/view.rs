//! What callers are shown of users: the reference's `UserModel`, the admin list and one user's
//! detail. REST returns these, the OpenAPI document describes them, GraphQL wraps them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::users::User;

/// A user as the reference's `UserModel` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = UserModel)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub role: String,
    pub name: String,
    pub profile_image_url: String,
    pub profile_banner_image_url: Option<String>,
    pub bio: Option<String>,
    pub gender: Option<String>,
    pub date_of_birth: Option<String>,
    pub timezone: Option<String>,
    pub presence_state: Option<String>,
    pub status_emoji: Option<String>,
    pub status_message: Option<String>,
    pub status_expires_at: Option<i64>,
    #[schema(value_type = Value)]
    pub info: Option<Value>,
    #[schema(value_type = Value)]
    pub settings: Option<Value>,
    #[schema(value_type = Value)]
    pub oauth: Option<Value>,
    #[schema(value_type = Value)]
    pub scim: Option<Value>,
    pub last_active_at: i64,
    pub updated_at: i64,
    pub created_at: i64,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        let profile_image_url = if u.profile_image_url.is_empty() {
            super::profile_image::route(&u.id)
        } else {
            u.profile_image_url
        };
        UserView {
            id: u.id,
            email: u.email,
            username: u.username,
            role: u.role,
            name: u.name,
            profile_image_url,
            profile_banner_image_url: u.profile_banner_image_url,
            bio: u.bio,
            gender: u.gender,
            date_of_birth: u.date_of_birth,
            timezone: u.timezone,
            presence_state: u.presence_state,
            status_emoji: u.status_emoji,
            status_message: u.status_message,
            status_expires_at: u.status_expires_at,
            info: u.info.map(|j| j.0),
            settings: settings_answer(u.settings.map(|j| j.0)),
            oauth: u.oauth.map(|j| j.0),
            scim: u.scim.map(|j| j.0),
            last_active_at: u.last_active_at,
            updated_at: u.updated_at,
            created_at: u.created_at,
        }
    }
}

/// A user of the admin list: `UserModel` and the ids of their direct groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserWithGroups {
    #[serde(flatten)]
    pub user: UserView,
    pub group_ids: Vec<String>,
}

/// A page of the admin list (`GET /users/`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserWithGroups>,
    pub total: i64,
}

/// One user (`GET /users/{user_id}`) with group memberships and whether they were active in the
/// last three minutes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: UserView,
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Value>,
    pub is_active: bool,
}

/// Stored settings as the reference's `UserSettings` answers them: an object always has `ui`
/// (first, `{}` when not stored), other keys follow as stored; anything but an object is `null`.
pub fn settings_answer(stored: Option<Value>) -> Option<Value> {
    match stored {
        Some(Value::Object(map)) => {
            let mut out = serde_json::Map::with_capacity(map.len() + 1);
            out.insert(
                "ui".into(),
                map.get("ui").cloned().unwrap_or_else(|| Value::Object(Default::default())),
            );
            for (key, value) in map {
                if key != "ui" {
                    out.insert(key, value);
                }
            }
            Some(Value::Object(out))
        }
        _ => None,
    }
}

/// The reference's `UserInfoResponse` (`GET /users/all`, `/users/search`, `/users/{id}/info`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = UserInfoResponse)]
pub struct UserInfoView {
    pub status_emoji: Option<String>,
    pub status_message: Option<String>,
    pub status_expires_at: Option<i64>,
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub bio: Option<String>,
    pub last_active_at: Option<i64>,
    pub timezone: Option<String>,
    /// Group memberships `{id, name}`.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<Value>,
    pub is_active: bool,
}

impl UserInfoView {
    /// The info of `u`, with no groups and `is_active` as given.
    pub fn of(u: User, is_active: bool) -> Self {
        UserInfoView {
            status_emoji: u.status_emoji,
            status_message: u.status_message,
            status_expires_at: u.status_expires_at,
            id: u.id,
            name: u.name,
            email: u.email,
            role: u.role,
            bio: u.bio,
            last_active_at: Some(u.last_active_at),
            timezone: u.timezone,
            groups: Vec::new(),
            is_active,
        }
    }
}

/// The reference's `UserInfoListResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = UserInfoListResponse)]
pub struct UserInfoList {
    pub users: Vec<UserInfoView>,
    pub total: i64,
}

/// `GET /users/{id}/active`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActiveView {
    pub active: bool,
}

/// `GET /users/user/variables` and its update: the caller's template variables.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = UserVariablesResponse)]
pub struct VariablesView {
    /// Names to texts.
    #[schema(value_type = std::collections::HashMap<String, String>)]
    pub variables: serde_json::Map<String, Value>,
}

/// An `{id, name}` pair of the preview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

/// What a user reaches of one kind of resource, and how many there are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewList {
    pub items: Vec<NamedRef>,
    pub total: i64,
}

/// `GET /users/{id}/preview`: the resources a user can read across their groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserPreview {
    pub user: NamedRef,
    pub groups: Vec<NamedRef>,
    pub models: PreviewList,
    pub knowledge: PreviewList,
    pub tools: PreviewList,
}
