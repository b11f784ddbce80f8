//! Edge middleware applied to every route: request ids, a tracing span per request, CORS
//! (`cors`) and security headers (`security_headers`).
//!
//! Order, outermost first: request id, trace, CORS, security headers, routing — as in Open WebUI,
//! where the CORS middleware sits outside the one that writes the security headers, so a preflight
//! answered by CORS does not get them.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;

pub mod cors;
pub mod security_headers;

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
    if !config.security_headers.is_empty() {
        let headers = Arc::new(config.security_headers.clone());
        router = router.layer(axum::middleware::from_fn_with_state(headers, security_headers::middleware));
    }
    let origins = Arc::new(config.cors_allow_origin.clone());
    router
        .layer(axum::middleware::from_fn_with_state(origins, cors::middleware))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
