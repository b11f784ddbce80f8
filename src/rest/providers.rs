//! The reference's provider routers (`routers/openai.py` under `/openai`, `routers/ollama.py`
//! under `/ollama`): the admins' connection settings, the providers' model lists and their chat
//! completions. Completions are rendered as `/api/chat/completions` renders them (streams fed
//! chunk by chunk) and, like it, are not cut by `REQUEST_TIMEOUT` (see `UNLIMITED`).

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::completions::render;
use super::extract::{Body, read_json};
use crate::app::AppState;
use crate::auth::{Admin, Verified};
use crate::error::AppResult;
use crate::service::completions as completions_svc;
use crate::service::connections::{self as svc, OllamaConfigView, OpenAiConfigView};

/// Completion paths the edge's time limit leaves alone (exact, or followed by `/{url_idx}`).
pub const UNLIMITED: [&str; 3] =
    ["/openai/chat/completions", "/openai/v1/chat/completions", "/ollama/api/chat"];

/// Whether `path` is one of the provider routers' completion routes.
pub fn is_completion(path: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    UNLIMITED.iter().any(|p| {
        path == *p
            || path.strip_prefix(p).and_then(|rest| rest.strip_prefix('/')).is_some_and(|i| !i.contains('/'))
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openai/config", get(openai_config))
        .route("/openai/config/update", post(update_openai_config))
        .route("/openai/models", get(openai_models))
        .route("/openai/models/{url_idx}", get(openai_models_of))
        .route("/openai/chat/completions", post(openai_chat))
        .route("/openai/v1/chat/completions", post(openai_chat_v1))
        .route("/ollama/config", get(ollama_config))
        .route("/ollama/config/update", post(update_ollama_config))
        .route("/ollama/api/tags", get(ollama_tags))
        .route("/ollama/api/tags/{url_idx}", get(ollama_tags_of))
        .route("/ollama/api/chat", post(ollama_chat))
        .route("/ollama/api/chat/{url_idx}", post(ollama_chat_on))
}

#[utoipa::path(get, path = "/openai/config", tag = "providers", summary = "The OpenAI-compatible connections, keys included (admin)", responses((status = 200, description = "OK", body = OpenAiConfigView)))]
async fn openai_config(
    State(s): State<AppState>,
    Admin(caller): Admin,
) -> AppResult<axum::Json<OpenAiConfigView>> {
    Ok(axum::Json(svc::openai_config(&s, &caller).await?))
}

#[utoipa::path(post, path = "/openai/config/update", tag = "providers", summary = "Replace the OpenAI-compatible connections (admin); applied at once on every instance", request_body = OpenAiConfigView, responses((status = 200, description = "The connections as stored (keys padded or cut to the URLs, settings only under URL indexes)", body = OpenAiConfigView)))]
async fn update_openai_config(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<axum::Json<OpenAiConfigView>> {
    Ok(axum::Json(svc::update_openai_config(&s, &caller, &body.0).await?))
}

#[utoipa::path(get, path = "/ollama/config", tag = "providers", summary = "The Ollama connections (admin)", responses((status = 200, description = "OK", body = OllamaConfigView)))]
async fn ollama_config(
    State(s): State<AppState>,
    Admin(caller): Admin,
) -> AppResult<axum::Json<OllamaConfigView>> {
    Ok(axum::Json(svc::ollama_config(&s, &caller).await?))
}

#[utoipa::path(post, path = "/ollama/config/update", tag = "providers", summary = "Replace the Ollama connections (admin); applied at once on every instance", request_body = OllamaConfigView, responses((status = 200, description = "The connections as stored (settings only under URL indexes)", body = OllamaConfigView)))]
async fn update_ollama_config(
    State(s): State<AppState>,
    Admin(caller): Admin,
    body: Body<Value>,
) -> AppResult<axum::Json<OllamaConfigView>> {
    Ok(axum::Json(svc::update_ollama_config(&s, &caller, &body.0).await?))
}

#[utoipa::path(get, path = "/openai/models", tag = "providers", summary = "The OpenAI-compatible providers' merged model list (users see the models they may read)",
    responses((status = 200, description = "`{\"data\": [...]}`", body = Object), (status = 503, description = "`OpenAI API is disabled`", body = super::openapi::ErrorBody)))]
async fn openai_models(
    State(s): State<AppState>,
    Verified(caller): Verified,
) -> AppResult<axum::Json<Value>> {
    Ok(axum::Json(svc::openai_models(&s, &caller, None).await?))
}

#[utoipa::path(get, path = "/openai/models/{url_idx}", tag = "providers", summary = "One connection's `/models` answer as it comes (admin)",
    params(("url_idx" = i64, Path, description = "The connection's index")),
    responses((status = 200, description = "The provider's answer", body = Object), (status = 500, description = "`Open WebUI: Server Connection Error`, or `Unexpected error: …`", body = super::openapi::ErrorBody)))]
async fn openai_models_of(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(url_idx): Path<String>,
) -> AppResult<axum::Json<Value>> {
    Ok(axum::Json(svc::openai_models(&s, &caller, Some(&url_idx)).await?))
}

#[utoipa::path(get, path = "/ollama/api/tags", tag = "providers", summary = "The Ollama providers' merged model list (users see the models they may read)",
    responses((status = 200, description = "`{\"models\": [...]}`", body = Object), (status = 503, description = "`The Ollama API is disabled. Please enable it to use this feature.`", body = super::openapi::ErrorBody)))]
async fn ollama_tags(State(s): State<AppState>, Verified(caller): Verified) -> AppResult<axum::Json<Value>> {
    Ok(axum::Json(svc::ollama_tags(&s, &caller, None).await?))
}

#[utoipa::path(get, path = "/ollama/api/tags/{url_idx}", tag = "providers", summary = "One connection's `/api/tags` answer as it comes (admin)",
    params(("url_idx" = i64, Path, description = "The connection's index")),
    responses((status = 200, description = "The provider's answer", body = Object)))]
async fn ollama_tags_of(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(url_idx): Path<String>,
) -> AppResult<axum::Json<Value>> {
    Ok(axum::Json(svc::ollama_tags(&s, &caller, Some(&url_idx)).await?))
}

#[utoipa::path(post, path = "/openai/chat/completions", tag = "providers",
    summary = "A chat completion from an OpenAI-compatible provider, streamed or whole (not saved)",
    request_body = completions_svc::CompletionRequestDoc,
    responses(
        (status = 200, description = "The provider's `chat.completion`, or with `stream: true` its `text/event-stream`", body = Object),
        (status = 403, description = "`Model not found` (a model the caller may not use)", body = super::openapi::ErrorBody),
        (status = 404, description = "`Model '' was not found` (no such model on the OpenAI-compatible providers)", body = super::openapi::ErrorBody),
        (status = 503, description = "`OpenAI API is disabled`", body = super::openapi::ErrorBody),
    ))]
async fn openai_chat(
    State(s): State<AppState>,
    Verified(caller): Verified,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(completions_svc::openai_chat(&s, &caller, body).await?))
}

#[utoipa::path(post, path = "/openai/v1/chat/completions", tag = "providers",
    summary = "The same completion on the path an OpenAI client with base URL `/openai/v1` calls",
    request_body = completions_svc::CompletionRequestDoc,
    responses((status = 200, description = "As `POST /openai/chat/completions`", body = Object)))]
async fn openai_chat_v1(
    State(s): State<AppState>,
    Verified(caller): Verified,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(completions_svc::openai_chat(&s, &caller, body).await?))
}

#[utoipa::path(post, path = "/ollama/api/chat", tag = "providers",
    summary = "An Ollama chat request answered as Ollama answers it (NDJSON stream by default, not saved)",
    request_body = Object,
    responses(
        (status = 200, description = "Ollama's answer: `application/x-ndjson` lines, or one JSON object with `stream: false`", body = Object),
        (status = 400, description = "`Model '<id>' was not found`", body = super::openapi::ErrorBody),
        (status = 403, description = "`Model not found` (a model the caller may not use)", body = super::openapi::ErrorBody),
        (status = 503, description = "`The Ollama API is disabled. Please enable it to use this feature.`", body = super::openapi::ErrorBody),
    ))]
async fn ollama_chat(
    State(s): State<AppState>,
    Verified(caller): Verified,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(completions_svc::ollama_chat(&s, &caller, body, None).await?))
}

#[utoipa::path(post, path = "/ollama/api/chat/{url_idx}", tag = "providers",
    summary = "The same on one Ollama connection (admins: any; others: one that serves the model)",
    params(("url_idx" = i64, Path, description = "The connection's index")),
    request_body = Object,
    responses((status = 200, description = "As `POST /ollama/api/chat`", body = Object)))]
async fn ollama_chat_on(
    State(s): State<AppState>,
    Verified(caller): Verified,
    Path(url_idx): Path<String>,
    req: Request,
) -> AppResult<Response> {
    let body = read_json(req, s.config.request_body_limit).await?;
    Ok(render(completions_svc::ollama_chat(&s, &caller, body, Some(&url_idx)).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_paths_are_recognised() {
        assert!(is_completion("/openai/chat/completions"));
        assert!(is_completion("/openai/v1/chat/completions/"));
        assert!(is_completion("/ollama/api/chat"));
        assert!(is_completion("/ollama/api/chat/1"));
        assert!(!is_completion("/ollama/api/chat/1/x"));
        assert!(!is_completion("/ollama/api/chats"));
        assert!(!is_completion("/openai/models"));
    }
}
