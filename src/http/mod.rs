//! Edge middleware applied to every route: request ids, the client behind trusted proxies
//! (`client`), a tracing span per request, CORS (`cors`), security headers (`security_headers`)
//! and the handler time limit (`timeout`); `server` is the accept loop. A path with an encoded NUL
//! (`%00`) names no route: it is answered 404 `Not Found` before routing.
//!
//! Order, outermost first: request id, trace, then one edge step (client, CORS, security headers,
//! timeout), routing — as in Open WebUI, CORS comes before the security headers, so a preflight
//! answered by CORS does not get them; a 504 from the time limit gets both.
//!
//! The span (`request`) carries `request_id`, `method`, `path` (never the query), `client_ip`, and,
//! once known, `user_id` (recorded where the caller is resolved) and `status` and `latency_ms`
//! (recorded when the answer's head is ready, together with one `duet::access` event).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, Response};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing::field::Empty;

use crate::app::AppState;

pub mod client;
pub mod cors;
pub mod extract;
pub mod frontend;
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
    let edge = Arc::new(Edge {
        trusted: config.forwarded_allow_ips.clone(),
        origins: config.cors_allow_origin.clone(),
        security_headers: config.security_headers.clone(),
        timeout: config.request_timeout,
    });
    Router::new()
        .fallback_service(router)
        .layer(axum::middleware::from_fn_with_state(edge, edge_middleware))
        .layer(TraceLayer::new_for_http().make_span_with(make_span).on_response(on_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
}

/// The settings of `edge_middleware`.
struct Edge {
    trusted: client::TrustedProxies,
    origins: cors::CorsOrigins,
    security_headers: security_headers::SecurityHeaders,
    timeout: Option<std::time::Duration>,
}

/// Client resolution, CORS, security headers and the time limit in one step, in the order the
/// module documentation gives (one layer instead of four: each layer costs allocations per request).
async fn edge_middleware(
    axum::extract::State(edge): axum::extract::State<Arc<Edge>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    let client = client::attach(&edge.trusted, &mut req);
    if let Some(ip) = client.client_ip() {
        Span::current().record("client_ip", tracing::field::display(ip));
    }
    let (origin, has_cookie) = match cors::inbound(&edge.origins, req.method(), req.headers()) {
        cors::Seen::Preflight(answer) => return answer,
        cors::Seen::Request { origin, has_cookie } => (origin, has_cookie),
    };
    let mut res = if req.uri().path().contains("%00") {
        not_found()
    } else {
        match edge.timeout {
            Some(limit) => timeout::run(limit, req, next).await,
            None => next.run(req).await,
        }
    };
    security_headers::apply(&edge.security_headers, res.headers_mut());
    cors::outbound(&edge.origins, origin, has_cookie, res.headers_mut());
    res
}

/// The answer for a path that names no route.
fn not_found() -> Response<axum::body::Body> {
    use axum::response::IntoResponse;
    crate::error::AppError::with_text(
        axum::http::StatusCode::NOT_FOUND,
        crate::error::ErrorCode::NotFound,
        "Not Found",
    )
    .into_response()
}

/// A random UUID (version 4) per request, drawn from the thread's generator rather than the
/// operating system (a system call per request otherwise).
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        axum::http::HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

fn make_span<B>(req: &Request<B>) -> Span {
    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
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
    span
}

fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    span.record("status", res.status().as_u16());
    span.record("latency_ms", latency.as_millis() as u64);
    tracing::info!(target: "duet::access", "request finished");
}
