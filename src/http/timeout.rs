//! The handler time limit (`REQUEST_TIMEOUT`): a request whose answer has not started within the
//! limit is dropped and answered `504 {"detail": "The request timed out. Please try again later."}`.
//!
//! The limit covers producing the response head (routing, authentication, the handler's work); a
//! body that streams after the head has been sent is not cut by it.
//!
//! Chat completions are not under it at all: a model may think for minutes before its first
//! token, and their own limits (`AIOHTTP_CLIENT_TIMEOUT`, `AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT`)
//! apply instead.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, ErrorCode};

/// Paths the limit does not apply to (the chat completion routes; the provider routers' ones are
/// `rest::providers::is_completion`).
const UNLIMITED: [&str; 2] = crate::rest::completions::PATHS;

/// Runs the rest of the stack under `limit` (`REQUEST_TIMEOUT`), chat completions without it.
pub async fn run(limit: Duration, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if UNLIMITED.iter().any(|p| path == *p || path.strip_suffix('/') == Some(*p))
        || crate::rest::providers::is_completion(path)
        // socket.io's long polling holds a request open until there is something to send.
        || path.starts_with(crate::socket::PATH)
    {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs_f64(), "request timed out (REQUEST_TIMEOUT)");
            AppError::new(StatusCode::GATEWAY_TIMEOUT, ErrorCode::RequestTimeout).into_response()
        }
    }
}
