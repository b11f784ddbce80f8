//! Hostile input: every limit at and far beyond its edge, anonymous and signed in, on both
//! backends, with `/health` answering throughout.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::TestApp;

mod graphql;
mod rest;

/// `/health` answers 200 within a second.
pub async fn assert_health(app: &TestApp) {
    let res = app
        .client
        .get(app.url("/health"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("/health answers within 1 s");
    assert_eq!(res.status(), StatusCode::OK);
}
