//! Turns whose replies run as tasks: the web app's form of `POST /api/chat/completions` (a
//! `session_id` with a chat, `main.py` `chat_completion`'s task mode) and GraphQL's
//! `sendMessage`. The turn is written, each reply runs in a task of its own (registered in
//! `tasks`, stoppable), and the request is answered at once with the task ids. The chat's
//! listeners hear the turn (`Turn`, then `Active`), each reply as it grows and ends, the chat's
//! title once its first exchange is done (when asked for, as the web app's `background_tasks`
//! do), and `Active: false` when the chat's last task ends.

use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;
use utoipa::ToSchema;

use super::persist::{self, Turn, Writer};
use super::{CompletionForm, Prepared, drive, payload, resolve, tasks::Registration};
use crate::app::{App, AppState};
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::chats::{self, ChatInput, MAX_TITLE_CHARS, turns};
use crate::service::events::{self, ChatEvent, ChatEventKind};
use crate::upstream::convert::truthy;

/// What a request in the web app's form is answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TasksStartedView {
    pub status: bool,
    /// One task per reply of the turn (`POST /api/tasks/stop/{id}` stops one).
    pub task_ids: Vec<String>,
    /// The chat (a new chat's id is made here).
    pub chat_id: String,
}

/// How a turn is started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Name a new chat after its first exchange even when the request does not ask for it.
    pub title: bool,
}

/// Whether a completion request is in the web app's form: a `session_id` and a chat (`chat_id`,
/// or `parent_id: null` for a new one).
pub fn wants_tasks(body: &Value) -> bool {
    let new_chat = matches!(body.get("parent_id"), Some(Value::Null)) && !truthy(body.get("chat_id"));
    truthy(body.get("session_id")) && (truthy(body.get("chat_id")) || new_chat)
}

/// One reply to run.
struct Reply {
    model: AppResult<resolve::Resolved>,
    form: CompletionForm,
    turn: Turn,
    registration: Registration,
    /// Name the chat once this reply is done.
    title: bool,
}

fn publish(app: &App, user_id: &str, turn: &Turn, kind: ChatEventKind) {
    events::publish(
        app,
        ChatEvent {
            user_id: user_id.to_string(),
            chat_id: turn.chat_id.clone(),
            message_id: Some(turn.message_id.clone()),
            kind,
        },
    );
}

/// Writes the turn and starts one task per reply; answers with the task ids at once. Failures
/// before the turn is written (the model, the chat, the ids) are the request's errors; later
/// ones are stored on the reply, as a stream's are.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    mut body: Value,
    options: Options,
) -> AppResult<TasksStartedView> {
    let p = caller.require_verified()?.clone();
    let mut title = options.title;
    if let Some(map) = body.as_object_mut() {
        map.remove("session_id");
        let asked = map.remove("background_tasks");
        title |=
            asked.as_ref().and_then(Value::as_object).is_some_and(|t| t.contains_key("title_generation"));
    }
    let Prepared { mut form, model, controls } = super::prepare(state, caller, &p, body).await?;
    let turn = match persist::begin(state, &p, &mut form).await? {
        Some(turn) => turn,
        None => persist::unsaved(&form).ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?,
    };
    let chat_id = turn.chat_id.clone();
    let models: Vec<String> =
        form.chat.entries.iter().filter(|e| e.message_id.is_some()).map(|e| e.model_id.clone()).collect();
    let message_ids: Vec<String> = std::iter::once(turn.message_id.clone())
        .chain(turn.others.iter().cloned())
        .filter(|m| !m.is_empty())
        .collect();

    let mut replies = Vec::new();
    for (i, message_id) in message_ids.iter().enumerate() {
        let model_id = models.get(i).cloned().unwrap_or_else(|| model.id.clone());
        let resolved = if model_id == model.id {
            Ok(model.clone())
        } else {
            resolve::resolve(state, caller, &p, Some(&model_id)).await
        };
        let mut reply_form = form.clone();
        let resolved = resolved.and_then(|m| {
            payload::apply_model_controls(&mut reply_form.body, &m, &controls)?;
            Ok(m)
        });
        let reply_turn = Turn { message_id: message_id.clone(), others: Vec::new(), ..turn.clone() };
        let registration = state.tasks.register(&chat_id, p.id()).await;
        replies.push(Reply {
            model: resolved,
            form: reply_form,
            turn: reply_turn,
            registration,
            title: title && i == 0,
        });
    }
    let task_ids: Vec<String> = replies.iter().map(|r| r.registration.task_id.clone()).collect();
    if let Some(first) = replies.first() {
        if turn.saved {
            let listed = ChatEventKind::Turn { title: turn.title.clone(), folder_id: turn.folder_id.clone() };
            publish(state, p.id(), &first.turn, listed);
        }
        publish(state, p.id(), &first.turn, ChatEventKind::Active { active: true });
    }
    for reply in replies {
        let span = tracing::info_span!("task", task_id = %reply.registration.task_id);
        tokio::spawn(run(state.clone(), caller.clone(), p.clone(), reply).instrument(span));
    }
    Ok(TasksStartedView { status: true, task_ids, chat_id })
}

/// One reply's task: asks the provider and stores the answer as it streams (or the failure),
/// names the chat when asked, leaves the registry, and says the chat is idle once its last task
/// has ended.
async fn run(state: AppState, caller: Caller, p: Principal, reply: Reply) {
    let Reply { model, mut form, turn, registration, title } = reply;
    let (writer, finished) = Writer::for_task(&state, p.id(), turn.clone(), registration.stop.clone());
    let built = match model {
        Ok(model) => super::build(&state, &p, &model, &mut form, Some(&turn)).await.map(|b| (model, b)),
        Err(e) => Err(e),
    };
    match built {
        Err(e) => writer.finish(Some(e.message())).await,
        Ok((model, (payload, stream))) => {
            let job = drive::Job {
                upstream: state.upstream.clone(),
                kind: model.kind,
                connection: model.connection.clone(),
                payload,
                stream,
                writer: Some(writer),
            };
            // Nobody reads the answer: a stream's receiver is dropped, and the drive task reads it
            // to its end for the stored reply.
            let _ = drive::start(job).await;
        }
    }
    let outcome = finished.await.unwrap_or_default();
    if title && turn.saved && !outcome.stopped && outcome.error.is_none() {
        name_chat(&state, &caller, &p, &turn).await;
    }
    state.tasks.end(registration).await;
    if state.tasks.of_chat(&turn.chat_id).await.is_empty() {
        publish(&state, p.id(), &turn, ChatEventKind::Active { active: false });
    }
}

/// Names the chat after its first message when the finished reply ends its first exchange (the
/// chat holds two messages, the reply's branch both) and the chat is the caller's.
async fn name_chat(app: &App, caller: &Caller, p: &Principal, turn: &Turn) {
    let Ok(chat) = chats::get(app, caller, &turn.chat_id).await else { return };
    if chat.user_id != p.id() {
        return;
    }
    let messages = chat.chat.get("history").and_then(|h| h.get("messages")).and_then(Value::as_object);
    let Some(messages) = messages.filter(|m| m.len() <= 2) else { return };
    let mut branch = Vec::new();
    let mut id = Some(turn.message_id.as_str());
    while let Some(m) = id.and_then(|i| messages.get(i)).filter(|_| branch.len() < 3) {
        branch.push(m);
        id = m.get("parentId").and_then(Value::as_str);
    }
    let [_, first] = branch.as_slice() else { return };
    let title =
        super::title::from_first_message(first.get("content").unwrap_or(&Value::Null), MAX_TITLE_CHARS);
    let input = ChatInput {
        chat: serde_json::Map::from_iter([("title".to_string(), json!(title))]),
        variables: None,
        folder_id: None,
    };
    match chats::update(app, caller, &turn.chat_id, input).await {
        Ok(_) => publish(app, p.id(), turn, ChatEventKind::Title { title }),
        Err(e) => {
            tracing::warn!(error = %e.report(), chat_id = %turn.chat_id, "the chat's title was not set")
        }
    }
}

/// `sendMessage`: a user message and the model's reply to it, in a chat of the caller's.
#[derive(Debug, Clone)]
pub struct MessageInput {
    /// The chat; `None` starts a new one.
    pub chat_id: Option<String>,
    /// The message the new one answers; `None`: the chat's current message (none in a new chat).
    pub parent_id: Option<String>,
    pub model: String,
    pub content: String,
    /// Model params (`temperature`, …), as the request's `params`.
    pub params: Option<Value>,
}

/// What `sendMessage` started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentView {
    pub chat_id: String,
    pub user_message_id: String,
    pub assistant_message_id: String,
    /// The reply's task (`None` when there was no reply to run).
    pub task_id: Option<String>,
}

/// Sends a message (GraphQL `sendMessage`): the same turn as the web app's request, started in
/// the background, named after its first exchange.
pub async fn send_message(state: &AppState, caller: &Caller, input: MessageInput) -> AppResult<SentView> {
    let p = caller.require_verified()?;
    let parent = match (&input.chat_id, input.parent_id) {
        (_, Some(parent)) => Some(parent),
        (None, None) => None,
        (Some(chat_id), None) => {
            turns::writable(state, p, chat_id).await?.and_then(|row| row.current_message_id)
        }
    };
    let user_message_id = uuid::Uuid::new_v4().to_string();
    let assistant_message_id = uuid::Uuid::new_v4().to_string();
    let mut body = json!({
        "model": input.model,
        "stream": true,
        "messages": [{"role": "user", "content": input.content}],
        "parent_id": parent,
        "id": assistant_message_id,
        "user_message": {"id": user_message_id, "parentId": parent, "role": "user",
                         "content": input.content, "models": [input.model],
                         "timestamp": crate::store::now()},
    });
    if let Some(chat_id) = input.chat_id {
        body["chat_id"] = json!(chat_id);
    }
    if let Some(params) = input.params {
        body["params"] = params;
    }
    let started = start(state, caller, body, Options { title: true }).await?;
    Ok(SentView {
        chat_id: started.chat_id,
        user_message_id,
        assistant_message_id,
        task_id: started.task_ids.into_iter().next(),
    })
}
