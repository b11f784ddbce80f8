//! The handler time limit (`REQUEST_TIMEOUT`): a request whose answer has not started within the
//! limit is dropped and answered `504 {"detail": "The request timed out. Please try again later."}`.
//!
//! The limit covers producing the response head (routing, authentication, the handler's work); a
//! body that streams after the head has been sent is not cut by it.

use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, ErrorCode};

/// Runs the rest of the stack under `limit` (`REQUEST_TIMEOUT`).
pub async fn run(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs_f64(), "request timed out (REQUEST_TIMEOUT)");
            AppError::new(StatusCode::GATEWAY_TIMEOUT, ErrorCode::RequestTimeout).into_response()
        }
    }
}
