//! Chat completions (`POST /api/chat/completions`): the model resolved from the caller's model
//! list with its access rule (`resolve`), the request built as the reference builds it (`payload`,
//! `prompt`), a saved turn written before the provider is asked (`persist`), and the answer
//! carried by a task of its own (`drive`) that streams it through and finishes the stored reply
//! even when the client has gone. `form` reads the request, `view` is what the adapters render.
//! The web app's form of the request (`session_id` with a chat) runs each reply as a task
//! (`background`, registered in `tasks`) and answers at once with the task ids; `title` names a
//! chat after its first exchange.

use serde_json::Value;

use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::service::admin_config::Settings;
use crate::store;
use crate::upstream::Kind;
use crate::upstream::convert::truthy;

mod background;
mod direct;
mod drive;
mod form;
mod model_params;
mod ollama_form;
mod passthrough;
mod payload;
mod persist;
mod prompt;
mod provider;
mod resolve;
pub mod tasks;
mod title;
mod view;

pub use background::{MessageInput, SentView, TasksStartedView, send_message, wants_tasks};

pub use drive::STREAM_FAILED;
pub use form::{ChatFields, CompletionForm, Entry};
pub use persist::{PROGRESS_INTERVAL, is_temporary_chat};
pub use provider::{ollama_chat, openai_chat};
pub use view::{Body, Chunks, Completion, CompletionMessageDoc, CompletionRequestDoc, CompletionView, Reply};

use prompt::PromptContext;

/// The `, `-separated names of the user's groups, read only when a prompt asks for them.
async fn group_names(app: &App, user_id: &str, wanted: bool) -> AppResult<String> {
    if !wanted {
        return Ok(String::new());
    }
    let groups = store::groups::of_member(&app.db, user_id, true).await?;
    Ok(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", "))
}

/// The request for the provider, and whether it asks for a stream: the params set as fields,
/// a saved turn's prompt rebuilt, the system prompts rendered, the messages normalised and the
/// provider's shaping.
async fn build(
    app: &App,
    p: &crate::auth::Principal,
    model: &resolve::Resolved,
    form: &mut CompletionForm,
    turn: Option<&persist::Turn>,
) -> AppResult<(Value, bool)> {
    let mut body = std::mem::take(&mut form.body);
    payload::apply_params(&mut body, model.kind);
    if let Some(turn) = turn {
        let request = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(messages) = persist::history(&app.db, turn, &request).await? {
            body.insert("messages".into(), Value::Array(messages));
        }
    }
    if let Some(prompt) = form.regeneration_prompt.take() {
        payload::messages_mut(&mut body).push(serde_json::json!({"role": "user", "content": prompt}));
    }
    let wants_groups = serde_json::to_string(&body).is_ok_and(|t| t.contains("{{USER_GROUPS}}"))
        || model.row.as_ref().is_some_and(|r| r.params.0.to_string().contains("{{USER_GROUPS}}"));
    let ctx = PromptContext {
        user: &p.user,
        groups: group_names(app, p.id(), wants_groups).await?,
        variables: &form.variables,
        now: store::now(),
    };
    if let Some(Value::Array(messages)) = body.get_mut("messages") {
        prompt::render_system_message(messages, &ctx);
    }
    payload::normalize_messages(&mut body);
    let stream = truthy(body.get("stream"));
    let payload = match model.kind {
        Kind::OpenAi => payload::for_openai(body, model, &ctx),
        Kind::Ollama => payload::for_ollama(body, model, &ctx),
    };
    Ok((payload, stream))
}

/// A request read, its model resolved and the params merged as the reference merges them; the
/// per-model controls (`model_controls`) are not applied yet.
struct Prepared {
    form: CompletionForm,
    model: resolve::Resolved,
    controls: serde_json::Map<String, Value>,
}

async fn prepare(app: &App, caller: &Caller, p: &crate::auth::Principal, body: Value) -> AppResult<Prepared> {
    let mut form = CompletionForm::read(body)?;
    let model = resolve::resolve(app, caller, p, form.model.as_deref()).await?;
    let settings = Settings::load(&app.db).await?;
    let defaults =
        settings.get("models.default_params").and_then(Value::as_object).cloned().unwrap_or_default();
    let controls = payload::merge_request_params(&mut form.body, &defaults, &model, form.automation)?;
    Ok(Prepared { form, model, controls })
}

/// `POST /api/chat/completions` (and `/api/v1/chat/completions`) as the adapters call it: the web
/// app's form (`wants_tasks`) starts the turn's replies as tasks and answers
/// `{"status": true, "task_ids": [...], "chat_id": ...}` at once; any other request is `complete`.
pub async fn chat_completion(state: &AppState, caller: &Caller, body: Value) -> AppResult<CompletionView> {
    if !wants_tasks(&body) {
        return complete(state, caller, body).await;
    }
    let started = background::start(state, caller, body, background::Options::default()).await?;
    let value = serde_json::to_value(&started).map_err(crate::error::AppError::internal)?;
    Ok(CompletionView { chat_id: None, answer: Completion::Json(value) })
}

/// `POST /api/chat/completions` (and `/api/v1/chat/completions`): verified callers.
pub async fn complete(app: &App, caller: &Caller, body: Value) -> AppResult<CompletionView> {
    let p = caller.require_verified()?;
    let Prepared { mut form, model, controls } = prepare(app, caller, p, body).await?;
    payload::apply_model_controls(&mut form.body, &model, &controls)?;

    let turn = persist::begin(app, p, &mut form).await?;
    let chat_id = turn.as_ref().map(|t| t.chat_id.clone());
    let (payload, stream) = match build(app, p, &model, &mut form, turn.as_ref()).await {
        Ok(built) => built,
        // The turn is written: its reply is finished with the error rather than left pending.
        Err(e) => match turn {
            Some(turn) => {
                persist::Writer::new(app, p.id(), turn).finish(Some(e.message())).await;
                return Ok(CompletionView { chat_id, answer: Completion::Failed(e) });
            }
            None => return Err(e),
        },
    };
    let job = drive::Job {
        upstream: app.upstream.clone(),
        kind: model.kind,
        connection: model.connection.clone(),
        payload,
        stream,
        writer: turn.map(|t| persist::Writer::new(app, p.id(), t)),
    };
    // An unsaved OpenAI-compatible stream is read by the response itself (`direct`); anything
    // else is carried by a task of its own.
    let started = if job.writer.is_none() && job.kind == Kind::OpenAi {
        direct::start(job).await
    } else {
        drive::start(job).await
    };
    let answer = match started {
        Ok(answer) => answer,
        Err(e) if chat_id.is_some() => Completion::Failed(e),
        Err(e) => return Err(e),
    };
    Ok(CompletionView { chat_id, answer })
}
