//! Edge middleware applied to every route: request ids, the client behind trusted proxies
//! (`client`), a tracing span per request, CORS (`cors`), security headers (`security_headers`)
//! and the handler time limit (`timeout`); `server` is the accept loop.
//!
//! Order, outermost first: request id, client, trace, CORS, security headers, timeout, routing —
//! as in Open WebUI, the CORS middleware sits outside the one that writes the security headers, so
//! a preflight answered by CORS does not get them; a 504 from the time limit gets both.
//!
//! The span (`request`) carries `request_id`, `method`, `path` (never the query), `client_ip`, and,
//! once known, `user_id` (recorded where the caller is resolved) and `status` and `latency_ms`
//! (recorded when the answer's head is ready, together with one `duet::access` event).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing::field::Empty;

use crate::app::AppState;

pub mod client;
pub mod cors;
pub mod security_headers;
pub mod server;
pub mod timeout;

pub use client::ClientInfo;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` with the edge layers. Logs the start-up warnings of the CORS and security-header
/// settings (once per router built).
pub fn layers(router: Router, state: &AppState) -> Router {
    let config = &state.config;
    if config.cors_allow_origin == cors::CorsOrigins::Any {
        tracing::warn!(
            "CORS_ALLOW_ORIGIN is '*': any website may call this server with the user's cookies; set it to the ';'-separated list of allowed origins in production"
        );
    }
    config.security_headers.warn_replaced();

    // The edge layers wrap the whole router, not each route (`Router::layer` on `router` itself
    // would run them after routing, inside axum's method router, which adds `Allow` to answers of
    // unrouted methods such as a preflight's OPTIONS).
    let mut router = Router::new().fallback_service(router);
    if let Some(limit) = config.request_timeout {
        router = router.layer(axum::middleware::from_fn_with_state(Arc::new(limit), timeout::middleware));
    }
    if !config.security_headers.is_empty() {
        let headers = Arc::new(config.security_headers.clone());
        router = router.layer(axum::middleware::from_fn_with_state(headers, security_headers::middleware));
    }
    let origins = Arc::new(config.cors_allow_origin.clone());
    router
        .layer(axum::middleware::from_fn_with_state(origins, cors::middleware))
        .layer(TraceLayer::new_for_http().make_span_with(make_span).on_response(on_response))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.forwarded_allow_ips.clone()),
            client::middleware,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn make_span<B>(req: &Request<B>) -> Span {
    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    let client_ip = req.extensions().get::<ClientInfo>().and_then(ClientInfo::client_ip);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        client_ip = Empty,
        user_id = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    if let Some(ip) = client_ip {
        span.record("client_ip", tracing::field::display(ip));
    }
    span
}

fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    span.record("status", res.status().as_u16());
    span.record("latency_ms", latency.as_millis() as u64);
    tracing::info!(target: "duet::access", "request finished");
}
