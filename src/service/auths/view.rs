//! What the auths use cases answer: session answers, the caller's brief profile, an admin-added
//! account, the admin's contact details and API keys. REST serialises these, the OpenAPI document
//! describes them.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::{AddedUser, Session, SessionInfo, profile_image_path};
use crate::store::users::User;

/// The answer of sign-in and sign-up.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
    pub profile_image_url: String,
    pub token: String,
    pub token_type: &'static str,
    /// Epoch seconds; null for a token without expiry.
    pub expires_at: Option<i64>,
    #[schema(value_type = Object)]
    pub permissions: Value,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            id: s.user.id.clone(),
            name: s.user.name.clone(),
            role: s.user.role.clone(),
            email: s.user.email.clone(),
            profile_image_url: profile_image_path(&s.user.id),
            token: s.token.clone(),
            token_type: "Bearer",
            expires_at: s.expires_at(),
            permissions: s.permissions.clone(),
        }
    }
}

/// `GET /auths/`: the session's user, token and permissions, in Open WebUI's field order;
/// `profile_image_url` is the stored URL, or the image route when none is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUserView<'a> {
    pub status_emoji: &'a Option<String>,
    pub status_message: &'a Option<String>,
    pub status_expires_at: &'a Option<i64>,
    pub id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub email: &'a str,
    #[schema(value_type = String)]
    pub profile_image_url: Cow<'a, str>,
    pub token: &'a str,
    pub token_type: &'static str,
    /// Epoch seconds; null for a token without expiry.
    pub expires_at: Option<i64>,
    #[schema(value_type = Object)]
    pub permissions: &'a RawValue,
    pub bio: &'a Option<String>,
    pub gender: &'a Option<String>,
    pub date_of_birth: &'a Option<String>,
}

impl SessionInfo {
    /// The answer of `GET /auths/`.
    pub fn view(&self) -> SessionUserView<'_> {
        let u = &self.user;
        SessionUserView {
            status_emoji: &u.status_emoji,
            status_message: &u.status_message,
            status_expires_at: &u.status_expires_at,
            id: &u.id,
            name: &u.name,
            role: &u.role,
            email: &u.email,
            profile_image_url: if u.profile_image_url.is_empty() {
                profile_image_path(&u.id).into()
            } else {
                u.profile_image_url.as_str().into()
            },
            token: &self.token,
            token_type: "Bearer",
            expires_at: self.expires_at,
            permissions: &self.permissions,
            bio: &u.bio,
            gender: &u.gender,
            date_of_birth: &u.date_of_birth,
        }
    }
}

/// `{id, name, role, email, profile_image_url}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBrief {
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: String,
    pub profile_image_url: String,
}

impl From<&User> for UserBrief {
    fn from(u: &User) -> Self {
        UserBrief {
            id: u.id.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            email: u.email.clone(),
            profile_image_url: u.profile_image_url.clone(),
        }
    }
}

/// The answer of `POST /auths/add`: the new account and a token for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddedUserView {
    pub token: String,
    pub token_type: &'static str,
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub profile_image_url: String,
}

impl From<AddedUser> for AddedUserView {
    fn from(a: AddedUser) -> Self {
        AddedUserView {
            profile_image_url: profile_image_path(&a.user.id),
            token: a.token,
            token_type: "Bearer",
            id: a.user.id,
            email: a.user.email,
            name: a.user.name,
            role: a.user.role,
        }
    }
}

/// `GET /auths/admin/details`: the admin's name and email when `SHOW_ADMIN_DETAILS` is on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminDetails {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `{"api_key": "sk-…"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub api_key: String,
}
