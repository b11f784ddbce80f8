//! The REST interface: axum routers matching Open WebUI's paths. Handlers parse, call one
//! service function and render; rules live in `service`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::error::AppError;

pub mod auths;
pub mod channels;
pub mod chats;
pub mod chats_more;
pub mod completions;
pub mod cookies;
pub mod docs_ui;
pub mod extract;
pub mod folders;
pub mod groups;
pub mod models;
pub mod openapi;
pub mod providers;
pub mod system;
pub mod users;
pub mod webapp;

/// The REST routes of the reference's routers. A router's root answers both with and without the
/// trailing slash.
pub fn router() -> Router<AppState> {
    let auths = auths::router().layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    Router::new()
        .merge(system::router())
        .merge(auths)
        .merge(users::router())
        .merge(chats::router())
        .merge(chats_more::router())
        .merge(completions::router())
        .merge(providers::router())
        .merge(models::router())
        .merge(groups::router())
        .merge(folders::router())
        .merge(webapp::router())
        .merge(channels::router())
}

/// The answer for a path no route serves.
pub async fn not_found() -> impl IntoResponse {
    AppError::with_text(StatusCode::NOT_FOUND, crate::error::ErrorCode::NotFound, "Not Found")
}

/// The answer for a path served with other methods.
pub async fn method_not_allowed() -> impl IntoResponse {
    AppError::with_text(
        StatusCode::METHOD_NOT_ALLOWED,
        crate::error::ErrorCode::NotFound,
        "Method Not Allowed",
    )
}
