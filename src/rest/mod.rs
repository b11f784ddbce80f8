//! The REST interface: axum routers matching Open WebUI's paths. Handlers parse, call one
//! service function and render; rules live in `service`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::error::AppError;

pub mod auths;
pub mod chats;
pub mod cookies;
pub mod docs_ui;
pub mod extract;
pub mod models;
pub mod openapi;
pub mod system;
pub mod users;

/// All REST routes. A router's root answers both with and without the trailing slash.
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
        .merge(models::router())
        .merge(openapi::router())
        .merge(docs_ui::router())
        .merge(crate::graphql::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> impl IntoResponse {
    AppError::with_text(StatusCode::NOT_FOUND, crate::error::ErrorCode::NotFound, "Not Found")
}

async fn method_not_allowed() -> impl IntoResponse {
    AppError::with_text(
        StatusCode::METHOD_NOT_ALLOWED,
        crate::error::ErrorCode::NotFound,
        "Method Not Allowed",
    )
}
