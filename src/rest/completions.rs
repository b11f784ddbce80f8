//! `POST /api/chat/completions` and `POST /api/v1/chat/completions` (the reference's
//! `chat_completion` in `main.py`): the body handed to `service::completions`, and its answer
//! rendered — the provider's JSON, the provider's refusal with its status and `Retry-After`, or an
//! event stream fed chunk by chunk (no buffering; a slow client slows the provider's reading, a
//! client that disconnects drops the body, which the turn's task notices, or which closes the
//! provider's connection when the body reads the provider itself). A saved turn's chat
//! id is sent as `X-Chat-Id`. The web app's form (a `session_id` with a chat) is answered at once
//! with the turn's task ids while the replies run in the background. These routes are not cut by
//! `REQUEST_TIMEOUT` (see `http::timeout`).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::extract::read_json;
use crate::app::AppState;
use crate::auth::Verified;
use crate::error::AppResult;
use crate::service::completions::{self as svc, Body as Upstream, Completion, CompletionView};

/// The paths of the completion routes (the edge's time limit leaves them alone).
pub const PATHS: [&str; 2] = ["/api/chat/completions", "/api/v1/chat/completions"];

pub fn router() -> Router<AppState> {
    Router::new().route(PATHS[0], post(chat_completion)).route(PATHS[1], post(chat_completion_v1))
}

#[utoipa::path(post, path = "/api/chat/completions", tag = "completions",
    summary = "A chat completion from the model's provider (OpenAI-compatible or Ollama), streamed or whole; saved when the request names a chat",
    request_body = svc::CompletionRequestDoc,
    responses(
        (status = 200, description = "A `chat.completion` object, or with `stream: true` a `text/event-stream` of `chat.completion.chunk`s ending with `data: [DONE]`; in the web app's form (`session_id` with `chat_id`, or `parent_id: null`) `{\"status\": true, \"task_ids\": [...], \"chat_id\": \"...\"}` at once", body = Object),
        (status = 400, description = "`Model not found` (unknown or not allowed)", body = super::openapi::ErrorBody),
        (status = 500, description = "`Open WebUI: Server Connection Error`: the provider could not be reached", body = super::openapi::ErrorBody),
    ))]
async fn chat_completion(
    State(s): State<AppState>,
    Verified(caller): Verified,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(svc::chat_completion(&s, &caller, body).await?))
}

#[utoipa::path(post, path = "/api/v1/chat/completions", tag = "completions",
    summary = "The same completion on the OpenAI-style path",
    request_body = svc::CompletionRequestDoc,
    responses((status = 200, description = "As `POST /api/chat/completions`", body = Object)))]
async fn chat_completion_v1(
    State(s): State<AppState>,
    Verified(caller): Verified,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(svc::chat_completion(&s, &caller, body).await?))
}

/// A response body: what has arrived of the stream, one frame per poll.
struct ChunkBody(svc::Chunks);

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_next(cx).map(|chunk| chunk.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

fn with_headers(mut response: Response, headers: &[(String, String)]) -> Response {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

pub(super) fn render(view: CompletionView) -> Response {
    let mut response = match view.answer {
        Completion::Json(value) => axum::Json(value).into_response(),
        Completion::Failed(error) => error.into_response(),
        Completion::Refused { status, headers, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let response = match body {
                Upstream::Json(value) => (status, axum::Json(value)).into_response(),
                Upstream::Text(text) => (status, text).into_response(),
            };
            with_headers(response, &headers)
        }
        Completion::Stream(reply) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            let mut response = Response::new(Body::new(ChunkBody(reply.chunks)));
            *response.status_mut() = status;
            let mut response = with_headers(response, &reply.headers);
            response
                .headers_mut()
                .entry(header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("text/event-stream"));
            response
        }
    };
    if let Some(id) = view.chat_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(HeaderName::from_static("x-chat-id"), id);
    }
    response
}
