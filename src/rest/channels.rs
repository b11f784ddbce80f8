//! `/api/v1/channels/`: the channel list the web app asks for when its socket connects (channels
//! are off in duet; see `service::channels`).

use axum::Router;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::Verified;
use crate::error::AppResult;
use crate::service::channels as svc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/channels", get(list)).route("/api/v1/channels/", get(list))
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "web app", summary = "The caller's channels (channels are off in duet)", responses((status = 403, description = "`Channels is disabled`", body = super::openapi::ErrorBody)))]
async fn list(Verified(caller): Verified) -> AppResult<()> {
    svc::list(&caller)
}
