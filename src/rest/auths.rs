//! `/api/v1/auths`: routes of the reference's auths router. Every answer carries
//! `Cache-Control: no-store`, and any validation failure is 422 with the plain text
//! `"Invalid authentication request."`, as there.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::cookies;
use super::extract::{Body, Form, FormReader};
use crate::app::AppState;
use crate::auth::{Admin, Caller, Human, SignedIn, Verified};
use crate::error::{AppError, ErrorCode};
use crate::http::ClientInfo;
use crate::service::admin_config as settings;
use crate::service::auths::{
    self as svc, AddUserInput, AddedUserView, AdminDetails, ApiKeyView, PasswordForm, ProfileInput, Session,
    SessionUserView, SessionView, SigninForm, SignupInput, TimezoneForm, UserBrief,
};

/// An error on an auths route: 422 becomes the plain string, database trouble the reference's 503.
pub struct AuthsError(AppError);

impl From<AppError> for AuthsError {
    fn from(e: AppError) -> Self {
        AuthsError(e)
    }
}

impl IntoResponse for AuthsError {
    fn into_response(self) -> Response {
        match self.0.code {
            ErrorCode::ValidationError => {
                AppError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidAuthRequest).into_response()
            }
            ErrorCode::DatabaseUnavailable => {
                AppError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::AuthUnavailable).into_response()
            }
            _ => self.0.into_response(),
        }
    }
}

type Result<T> = std::result::Result<T, AuthsError>;

pub fn router() -> Router<AppState> {
    const P: &str = "/api/v1/auths";
    Router::new()
        .route(P, get(session_user))
        .route(&format!("{P}/"), get(session_user))
        .route(&format!("{P}/signin"), post(signin))
        .route(&format!("{P}/signup"), post(signup))
        .route(&format!("{P}/signout"), post(signout))
        .route(&format!("{P}/update/profile"), post(update_profile))
        .route(&format!("{P}/update/timezone"), post(update_timezone))
        .route(&format!("{P}/update/password"), post(update_password))
        .route(&format!("{P}/add"), post(add_user))
        .route(&format!("{P}/admin/details"), get(admin_details))
        .route(&format!("{P}/admin/config"), get(get_admin_config).post(set_admin_config))
        .route(&format!("{P}/api_key"), get(get_api_key).post(create_api_key).delete(delete_api_key))
}

/// The session answer of sign-in and sign-up, with the `token` cookie.
fn session_response(state: &AppState, client: &ClientInfo, session: Session) -> Response {
    let body = SessionView::from(&session);
    let cookie = cookies::token_cookie(
        &state.config,
        client,
        &session.token,
        session.lifetime.map(|d| d.as_secs()),
        None,
    );
    with_cookies(Json(body).into_response(), &[cookie])
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

impl Form for SigninForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        SigninForm { email: r.string("email"), password: r.string("password") }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/signin", tag = "auths", summary = "Sign in with email and password", request_body = SigninForm, responses((status = 200, description = "OK", body = SessionView)), security(()))]
async fn signin(
    State(state): State<AppState>,
    client: ClientInfo,
    body: std::result::Result<Body<SigninForm>, AppError>,
) -> Result<Response> {
    let Body(form) = body?;
    let session = svc::signin(&state, &form.email, &form.password).await?;
    Ok(session_response(&state, &client, session))
}

impl Form for SignupInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        SignupInput {
            name: r.string("name"),
            email: r.string("email"),
            password: r.string("password"),
            profile_image_url: r.opt_string("profile_image_url"),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/signup", tag = "auths", summary = "Create an account and sign in", request_body = SignupInput, responses((status = 200, description = "OK", body = SessionView)), security(()))]
async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    body: std::result::Result<Body<SignupInput>, AppError>,
) -> Result<Response> {
    let Body(form) = body?;
    let session = svc::signup(&state, form).await?;
    Ok(session_response(&state, &client, session))
}

#[utoipa::path(post, path = "/api/v1/auths/signout", tag = "auths", summary = "Sign out (revokes the token)", responses((status = 200, description = "OK", body = super::openapi::StatusBody)), security(()))]
async fn signout(State(state): State<AppState>, client: ClientInfo, headers: HeaderMap) -> Result<Response> {
    let token = crate::auth::caller::credential_from_headers(&headers).map(|c| c.0);
    svc::signout(&state, token.as_deref()).await?;
    let expired: Vec<String> = ["token", "owui-session", "oui-session", "oauth_id_token"]
        .iter()
        .map(|name| cookies::expired_cookie(&state.config, &client, name))
        .collect();
    Ok(with_cookies(Json(json!({"status": true})).into_response(), &expired))
}

#[utoipa::path(get, path = "/api/v1/auths", tag = "auths", summary = "The signed-in session user", responses((status = 200, description = "OK", body = SessionUserView)))]
async fn session_user(State(state): State<AppState>, client: ClientInfo, caller: Caller) -> Result<Response> {
    let info = svc::session_user(&state, &caller).await?;
    let body = info.view();
    let response = Json(body).into_response();
    Ok(match info.expires_at {
        Some(exp) => {
            let remaining = (exp - crate::service::now()).max(0) as u64;
            let cookie =
                cookies::token_cookie(&state.config, &client, &info.token, Some(remaining), Some(exp));
            with_cookies(response, &[cookie])
        }
        None => response,
    })
}

impl Form for ProfileInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        ProfileInput {
            profile_image_url: r.string("profile_image_url"),
            name: r.string("name"),
            bio: r.opt_string("bio"),
            gender: r.opt_string("gender"),
            date_of_birth: r.opt_string("date_of_birth"),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/update/profile", tag = "auths", summary = "Update the caller's profile", request_body = ProfileInput, responses((status = 200, description = "OK", body = UserBrief)))]
async fn update_profile(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Body<ProfileInput>, AppError>,
) -> Result<Response> {
    Verified::of(&caller)?;
    let Body(form) = body?;
    let user = svc::update_profile(&state, &caller, form).await?;
    Ok(Json(UserBrief::from(&user)).into_response())
}

impl Form for TimezoneForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        TimezoneForm { timezone: r.string("timezone") }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/update/timezone", tag = "auths", summary = "Set the caller's timezone", request_body = TimezoneForm, responses((status = 200, description = "OK", body = super::openapi::StatusBody)))]
async fn update_timezone(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Body<TimezoneForm>, AppError>,
) -> Result<Response> {
    SignedIn::of(&caller)?;
    let Body(form) = body?;
    svc::update_timezone(&state, &caller, &form.timezone).await?;
    Ok(Json(json!({"status": true})).into_response())
}

impl Form for PasswordForm {
    fn read(r: &mut FormReader<'_>) -> Self {
        PasswordForm { password: r.string("password"), new_password: r.string("new_password") }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/update/password", tag = "auths", summary = "Change the caller's password (ends their other sessions)", request_body = PasswordForm, responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn update_password(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Body<PasswordForm>, AppError>,
) -> Result<Response> {
    Human::of(&caller)?;
    let Body(form) = body?;
    svc::update_password(&state, &caller, &form.password, &form.new_password).await?;
    Ok(Json(true).into_response())
}

impl Form for AddUserInput {
    fn read(r: &mut FormReader<'_>) -> Self {
        AddUserInput {
            name: r.string("name"),
            email: r.string("email"),
            password: r.string("password"),
            profile_image_url: r.opt_string("profile_image_url"),
            role: r.opt_string("role"),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auths/add", tag = "auths", summary = "Add a user (admin)", request_body = AddUserInput, responses((status = 200, description = "OK", body = AddedUserView)))]
async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Body<AddUserInput>, AppError>,
) -> Result<Response> {
    Admin::of(&caller)?;
    let Body(form) = body?;
    let added = svc::add_user(&state, &caller, form).await?;
    Ok(Json(AddedUserView::from(added)).into_response())
}

#[utoipa::path(get, path = "/api/v1/auths/admin/details", tag = "auths", summary = "The admin's contact details, when shown", responses((status = 200, description = "OK", body = AdminDetails)))]
async fn admin_details(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let (name, email) = svc::admin_details(&state, &caller).await?;
    Ok(Json(AdminDetails { name, email }).into_response())
}

#[utoipa::path(get, path = "/api/v1/auths/admin/config", tag = "auths", summary = "The admin configuration (admin)", responses((status = 200, description = "OK", body = Object)))]
async fn get_admin_config(State(state): State<AppState>, caller: Caller) -> Result<Json<Map<String, Value>>> {
    Ok(Json(settings::admin_config(&state.db, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/auths/admin/config", tag = "auths", summary = "Update the admin configuration (admin)", request_body = Object, responses((status = 200, description = "OK", body = Object)))]
async fn set_admin_config(
    State(state): State<AppState>,
    caller: Caller,
    body: std::result::Result<Body<Value>, AppError>,
) -> Result<Json<Map<String, Value>>> {
    Admin::of(&caller)?;
    let Body(form) = body?;
    Ok(Json(settings::update_admin_config(&state.db, &caller, &form).await?))
}

#[utoipa::path(post, path = "/api/v1/auths/api_key", tag = "auths", summary = "Create (or replace) the caller's API key", responses((status = 200, description = "OK", body = ApiKeyView)))]
async fn create_api_key(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let key = svc::create_api_key(&state, &caller).await?;
    Ok(Json(ApiKeyView { api_key: key }).into_response())
}

#[utoipa::path(get, path = "/api/v1/auths/api_key", tag = "auths", summary = "The caller's API key", responses((status = 200, description = "OK", body = ApiKeyView)))]
async fn get_api_key(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let key = svc::get_api_key(&state, &caller).await?;
    Ok(Json(ApiKeyView { api_key: key }).into_response())
}

#[utoipa::path(delete, path = "/api/v1/auths/api_key", tag = "auths", summary = "Delete the caller's API key", responses((status = 200, description = "OK", body = bool, content_type = "application/json")))]
async fn delete_api_key(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    svc::delete_api_key(&state, &caller).await?;
    Ok(Json(true).into_response())
}
