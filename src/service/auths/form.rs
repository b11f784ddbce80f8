//! The request forms of the auths use cases, named in the OpenAPI document as the reference's
//! pydantic forms.

use utoipa::ToSchema;

/// `POST /auths/signin`.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = SigninForm)]
pub struct SigninForm {
    pub email: String,
    pub password: String,
}

/// `POST /auths/signup`.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = SignupForm)]
pub struct SignupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub profile_image_url: Option<String>,
}

/// `POST /auths/add`: an account created by an admin.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = AddUserForm)]
pub struct AddUserInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub profile_image_url: Option<String>,
    /// `pending`, `user` or `admin` (default `pending`).
    pub role: Option<String>,
}

/// `POST /auths/update/profile`.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = UpdateProfileForm)]
pub struct ProfileInput {
    pub profile_image_url: String,
    pub name: String,
    pub bio: Option<String>,
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
}

/// `POST /auths/update/timezone`: an IANA time-zone name.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = UpdateTimezoneForm)]
pub struct TimezoneForm {
    pub timezone: String,
}

/// `POST /auths/update/password`: the current password and the new one.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = UpdatePasswordForm)]
pub struct PasswordForm {
    pub password: String,
    pub new_password: String,
}
