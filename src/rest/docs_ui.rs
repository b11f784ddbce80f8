//! `GET /docs`: Swagger UI over `/openapi.json`, from vendored `swagger-ui-dist` files embedded in
//! the binary (no CDN). The asset paths carry the version, so they are cached for a year.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// The vendored `swagger-ui-dist` version (`docs-ui/`).
pub const SWAGGER_UI_VERSION: &str = "5.30.2";

const BUNDLE_JS: &[u8] = include_bytes!("../../docs-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../docs-ui/swagger-ui.css");
const LICENSE: &[u8] = include_bytes!("../../docs-ui/LICENSE");

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>duet REST API</title>
<link rel="stylesheet" href="/docs/assets/VERSION/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/VERSION/swagger-ui-bundle.js"></script>
<script src="/docs/assets/VERSION/init.js"></script>
</body>
</html>
"#;

/// Kept out of the page so a `script-src 'self'` policy allows it.
const INIT_JS: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"##;

pub fn router() -> Router<AppState> {
    let asset = |name: &str| format!("/docs/assets/{SWAGGER_UI_VERSION}/{name}");
    Router::new()
        .route("/docs", get(page))
        .route(
            &asset("swagger-ui-bundle.js"),
            get(|| async { asset_response(BUNDLE_JS, "text/javascript; charset=utf-8") }),
        )
        .route(&asset("swagger-ui.css"), get(|| async { asset_response(CSS, "text/css; charset=utf-8") }))
        .route(
            &asset("init.js"),
            get(|| async { asset_response(INIT_JS.as_bytes(), "text/javascript; charset=utf-8") }),
        )
        .route(&asset("LICENSE"), get(|| async { asset_response(LICENSE, "text/plain; charset=utf-8") }))
}

async fn page() -> Response {
    let mut response = PAGE.replace("VERSION", SWAGGER_UI_VERSION).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn asset_response(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
