//! The browser playground: GraphiQL served from files vendored in `playground/` and embedded in
//! the binary, so it works offline and loads nothing from another origin. The page talks to
//! `POST /graphql` with the sign-in cookie or a bearer token the user pastes, and runs
//! subscriptions over a WebSocket to the same `/graphql` (its URL derived from the page's).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};

const INDEX: &str = include_str!("../../playground/index.html");

/// `(file name, content type, bytes)` of every asset the page loads.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("graphiql.min.js", JS, include_bytes!("../../playground/vendor/graphiql.min.js")),
    ("graphiql.min.css", CSS, include_bytes!("../../playground/vendor/graphiql.min.css")),
    ("react.production.min.js", JS, include_bytes!("../../playground/vendor/react.production.min.js")),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!("../../playground/vendor/react-dom.production.min.js"),
    ),
    ("playground.js", JS, include_bytes!("../../playground/playground.js")),
    ("playground.css", CSS, include_bytes!("../../playground/playground.css")),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new().route("/playground", get(page)).route("/playground/assets/{file}", get(asset))
}

/// Whether a `GET /graphql` without a query comes from a browser navigating to the URL.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// The playground's HTML page, or 404 when `GRAPHQL_PLAYGROUND=false`.
pub fn page_response(state: &AppState) -> Response {
    if !state.config.graphql.playground {
        return AppError::with_text(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not Found").into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        INDEX,
    )
        .into_response()
}

async fn page(State(state): State<AppState>) -> Response {
    page_response(&state)
}

async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let found = ASSETS.iter().find(|(name, _, _)| *name == file);
    match found {
        Some((_, content_type, bytes)) if state.config.graphql.playground => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ],
            *bytes,
        )
            .into_response(),
        _ => AppError::with_text(StatusCode::NOT_FOUND, ErrorCode::NotFound, "Not Found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_same_origin_assets() {
        for src in INDEX.split(['"', '\'']).filter(|s| s.starts_with("/playground/assets/")) {
            let name = src.trim_start_matches("/playground/assets/");
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name} is not embedded");
        }
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://") && !INDEX.contains("//cdn"));
    }

    #[test]
    fn only_html_navigation_asks_for_the_page() {
        let mut h = HeaderMap::new();
        assert!(!wants_page(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_page(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(wants_page(&h));
    }
}
