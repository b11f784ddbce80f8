//! The provider routers' completions (`POST /openai/chat/completions`, `POST /ollama/api/chat`),
//! in the reference's order: the provider kind switched on (503), the request read, a stored
//! model's base model, params and system prompt applied, its access checked (403 `Model not
//! found`), the model looked up in that provider's list (`Model '' was not found` 404 for
//! OpenAI, `Model '<id>' was not found` 400 for Ollama), the connection's prefix taken off, and
//! the answer carried by the same task as `/api/chat/completions` — for Ollama without the
//! conversion (its JSON and NDJSON as Ollama gives them). Nothing is saved.

use serde_json::{Map, Value, json};

use super::model_params::{apply_ollama, apply_openai};
use super::ollama_form::OllamaChatForm;
use super::prompt::{PromptContext, add_system, render};
use super::resolve::{Resolved, check_access};
use super::view::{Completion, CompletionView};
use super::{drive, group_names, payload};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Loc, Source};
use crate::store;
use crate::store::models::ModelRow;
use crate::upstream::convert::truthy;
use crate::upstream::{Connection, Kind};

/// The body as a JSON object (`form_data: dict`), else FastAPI's 422.
fn object_body(body: Value) -> AppResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        other => Err(Fields::error(Source::Body, |f| f.dict_type(Loc::root(), &other))),
    }
}

async fn switched_on(app: &App, kind: Kind) -> AppResult<()> {
    if app.upstream.enabled(kind).await {
        return Ok(());
    }
    Err(AppError::unavailable(match kind {
        Kind::OpenAi => ErrorCode::OpenAiDisabled,
        Kind::Ollama => ErrorCode::OllamaDisabled,
    }))
}

/// The routers' `check_model_access`: admins and `BYPASS_MODEL_ACCESS_CONTROL` pass; anyone else
/// needs a stored model they may read, its base models too (403 `Model not found`).
async fn check(app: &App, p: &Principal, row: Option<&ModelRow>) -> AppResult<()> {
    if p.role.is_admin() || app.config.bypass_model_access_control {
        return Ok(());
    }
    check_access(app, p, row).await.map_err(|e| {
        if e.code == ErrorCode::ModelNotFound { AppError::forbidden(ErrorCode::ModelNotFound) } else { e }
    })
}

/// What the system prompt's variables are rendered from: the caller and `metadata.variables`.
async fn context<'a>(
    app: &App,
    p: &'a Principal,
    variables: &'a Map<String, Value>,
    system: Option<&str>,
) -> AppResult<PromptContext<'a>> {
    let wanted = system.is_some_and(|s| s.contains("{{USER_GROUPS}}"));
    Ok(PromptContext {
        user: &p.user,
        groups: group_names(app, p.id(), wanted).await?,
        variables,
        now: store::now(),
    })
}

fn variables(metadata: Option<&Value>) -> Map<String, Value> {
    metadata.and_then(|m| m.get("variables")).and_then(Value::as_object).cloned().unwrap_or_default()
}

fn system_of(row: Option<&ModelRow>) -> Option<String> {
    row?.params.0.get("system")?.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Runs the request on `connection` and waits for the head of its answer.
async fn run(
    app: &App,
    kind: Kind,
    connection: Connection,
    payload: Value,
    stream: bool,
) -> AppResult<CompletionView> {
    let job = drive::Job { upstream: app.upstream.clone(), kind, connection, payload, stream, writer: None };
    // Ollama's answer goes back as Ollama gives it; an OpenAI-compatible one is passed through
    // by the usual path (a stream that breaks off ends with the error frame and `[DONE]`).
    let answer: Completion = match kind {
        Kind::Ollama => drive::start_unconverted(job).await?,
        Kind::OpenAi => drive::start(job).await?,
    };
    Ok(CompletionView { chat_id: None, answer })
}

/// `POST /openai/chat/completions` (and `/openai/v1/chat/completions`): verified callers.
pub async fn openai_chat(app: &App, caller: &Caller, body: Value) -> AppResult<CompletionView> {
    let p = caller.require_verified()?;
    let mut body = object_body(body)?;
    switched_on(app, Kind::OpenAi).await?;
    let metadata = body.remove("metadata");
    let model_id = body.get("model").and_then(Value::as_str).map(str::to_string);
    let row = match &model_id {
        Some(id) => store::models::get(&app.db, id).await?,
        None => None,
    };
    let mut target = model_id.clone();
    if let Some(row) = &row {
        if let Some(base) = &row.base_model_id {
            body.insert("model".into(), json!(base));
            target = Some(base.clone());
        }
        apply_openai(&row.params.0, &mut body);
    }
    check(app, p, row.as_ref()).await?;

    let not_found = || AppError::with_status(404, ErrorCode::ModelNotFound, "Model '' was not found");
    let list = app.upstream.models(false).await;
    let entry = target
        .as_deref()
        .and_then(|t| {
            list.iter().find(|m| {
                m.get("owned_by").and_then(Value::as_str) == Some("openai")
                    && m.get("id").and_then(Value::as_str) == Some(t)
            })
        })
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(not_found)?;
    let index = entry.get("urlIdx").and_then(Value::as_u64).unwrap_or(0) as usize;
    let connection = app.upstream.connection(Kind::OpenAi, index).ok_or_else(not_found)?;
    let system = system_of(row.as_ref());
    let vars = variables(metadata.as_ref());
    let ctx = context(app, p, &vars, system.as_deref()).await?;
    let stream = truthy(body.get("stream"));
    let model = Resolved {
        id: model_id.unwrap_or_default(),
        entry,
        row,
        kind: Kind::OpenAi,
        connection: connection.clone(),
        upstream_id: target.unwrap_or_default(),
    };
    let payload = payload::for_openai(body, &model, &ctx);
    run(app, Kind::OpenAi, connection, payload, stream).await
}

/// `get_ollama_url`: the connection serving `model` (`url_idx` when given: any for admins, one
/// that serves the model for anyone else).
async fn ollama_connection(
    app: &App,
    p: &Principal,
    model: &str,
    url_idx: Option<usize>,
) -> AppResult<Connection> {
    let list = app.upstream.models(false).await;
    let urls: Option<Vec<usize>> = list
        .iter()
        .find(|m| {
            m.get("owned_by").and_then(Value::as_str) == Some("ollama")
                && m.get("id").and_then(Value::as_str) == Some(model)
        })
        .map(|m| {
            m.get("ollama")
                .and_then(|o| o.get("urls"))
                .and_then(Value::as_array)
                .map(|u| u.iter().filter_map(Value::as_u64).map(|i| i as usize).collect())
                .unwrap_or_default()
        });
    let index = match url_idx {
        Some(i) if p.role.is_admin() || urls.as_ref().is_some_and(|u| u.contains(&i)) => i,
        Some(_) => return Err(AppError::forbidden(ErrorCode::AccessProhibited)),
        None => {
            use rand::seq::IndexedRandom;
            let missing = || {
                AppError::bad_request_with(ErrorCode::ModelNotFound, format!("Model '{model}' was not found"))
            };
            *urls.ok_or_else(missing)?.choose(&mut rand::rng()).ok_or_else(missing)?
        }
    };
    app.upstream
        .connection(Kind::Ollama, index)
        .ok_or_else(|| AppError::with_status(404, ErrorCode::NotFound, "Connection not found"))
}

/// `POST /ollama/api/chat` and `/ollama/api/chat/{url_idx}`: verified callers; the answer is
/// Ollama's (NDJSON when streamed, which is the default).
pub async fn ollama_chat(
    app: &App,
    caller: &Caller,
    body: Value,
    url_idx: Option<&str>,
) -> AppResult<CompletionView> {
    let p = caller.require_verified()?;
    let idx = crate::service::connections::url_index(url_idx)?;
    let mut body = object_body(body)?;
    switched_on(app, Kind::Ollama).await?;
    let metadata = body.remove("metadata");
    let OllamaChatForm { mut payload, stream } = OllamaChatForm::read(body)?;
    let model_id = payload.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let row = store::models::get(&app.db, &model_id).await?;
    if let Some(row) = &row {
        if let Some(base) = &row.base_model_id {
            payload.insert("model".into(), json!(base));
        }
        apply_ollama(&row.params.0, &mut payload);
        if let Some(system) = system_of(Some(row)) {
            let vars = variables(metadata.as_ref());
            let ctx = context(app, p, &vars, Some(&system)).await?;
            add_system(payload::messages_mut(&mut payload), &render(&system, &ctx));
        }
    }
    check(app, p, row.as_ref()).await?;
    let model = payload.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let connection = ollama_connection(app, p, &model, idx).await?;
    payload.insert("model".into(), json!(connection.strip_prefix(&model)));
    run(app, Kind::Ollama, connection, Value::Object(payload), stream).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_objects() {
        assert_eq!(object_body(json!([1])).expect_err("list").body()["detail"][0]["type"], "dict_type");
        assert!(object_body(json!({})).is_ok());
    }
}
