//! The web app's task routes (`main.py`): a chat's running replies (`GET /api/tasks/chat/{id}`),
//! stopping them (`POST /api/tasks/chat/{id}/stop`, and one task by id for admins), and every
//! running task (`GET /api/tasks`). A stopped reply is stored with the text it had. Stopping a
//! chat without running tasks finishes its replies left unfinished (`done: false`, e.g. by an
//! instance that went away), as the reference does.

use serde_json::{Map, Value, json};

use super::view::{TaskIdsView, TaskListView, TaskStopView};
use crate::app::App;
use crate::auth::{Caller, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::chats::turns;
use crate::service::completions::is_temporary_chat;
use crate::service::completions::tasks::TaskInfo;
use crate::service::events::{self, ChatEvent, ChatEventKind};
use crate::store::chats::ChatRow;

/// The chat's running tasks the caller runs: `None` when the caller may not see the chat's tasks
/// (a chat they cannot continue; a temporary chat whose tasks are someone else's).
async fn caller_tasks(
    app: &App,
    p: &Principal,
    chat_id: &str,
) -> AppResult<Option<(Vec<String>, Option<ChatRow>)>> {
    let tasks = app.tasks.of_chat(chat_id).await;
    let mine = |owner: &str| -> Vec<String> {
        tasks
            .iter()
            .filter(|t| t.user_id.as_deref().unwrap_or(owner) == p.id())
            .map(|t| t.id.clone())
            .collect()
    };
    if is_temporary_chat(chat_id) {
        let others = tasks.iter().any(|t: &TaskInfo| t.user_id.as_deref().is_some_and(|u| u != p.id()));
        let ids = mine("");
        if others && ids.is_empty() {
            return Ok(None);
        }
        return Ok(Some((ids, None)));
    }
    let Some(row) = turns::writable(app, p, chat_id).await? else { return Ok(None) };
    Ok(Some((mine(&row.user_id), Some(row))))
}

/// `GET /api/tasks/chat/{chat_id}` (verified): the chat's running replies that the caller runs
/// (none for a chat the caller may not continue, as the reference answers, rather than an error).
pub async fn chat_tasks(app: &App, caller: &Caller, chat_id: &str) -> AppResult<TaskIdsView> {
    let p = caller.require_verified()?;
    let task_ids = caller_tasks(app, p, chat_id).await?.map(|(ids, _)| ids).unwrap_or_default();
    Ok(TaskIdsView { task_ids })
}

/// `POST /api/tasks/chat/{chat_id}/stop` (verified): stops the caller's running replies of the
/// chat (404 `NOT_FOUND` for a chat the caller may not continue). With none running, the caller's
/// unfinished replies are finished as they are (`Finalized pending approval message.`).
pub async fn stop_chat_tasks(app: &App, caller: &Caller, chat_id: &str) -> AppResult<TaskStopView> {
    let p = caller.require_verified()?;
    let (ids, row) =
        caller_tasks(app, p, chat_id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let Some(row) = row else {
        // A temporary chat: nothing is stored to finish.
        let message = if ids.is_empty() {
            format!("No tasks found for item {chat_id}.")
        } else {
            for id in &ids {
                app.tasks.stop(id).await;
            }
            format!("All tasks for item {chat_id} stopped.")
        };
        return Ok(TaskStopView { status: true, message });
    };
    let mut result = TaskStopView { status: true, message: "No tasks found.".into() };
    for id in &ids {
        let stopped = app.tasks.stop(id).await;
        result = TaskStopView { status: stopped.status, message: stopped.message };
    }
    if result.message.starts_with("No tasks found") && finish_pending(app, p, &row).await? {
        result.message = "Finalized pending approval message.".into();
    }
    Ok(result)
}

/// Finishes the caller's replies of the chat that are stored unfinished; whether there was one.
async fn finish_pending(app: &App, p: &Principal, row: &ChatRow) -> AppResult<bool> {
    let Some(messages) = row.chat.0.get("history").and_then(|h| h.get("messages")).and_then(Value::as_object)
    else {
        return Ok(false);
    };
    let mut finished = false;
    for (id, m) in messages {
        let author = m.get("user_id").and_then(Value::as_str).unwrap_or(&row.user_id);
        if author != p.id()
            || m.get("role").and_then(Value::as_str) != Some("assistant")
            || m.get("done") != Some(&Value::Bool(false))
        {
            continue;
        }
        let fields = Map::from_iter([("done".to_string(), json!(true))]);
        if !turns::write_reply(&app.db, &row.id, id, fields).await? {
            continue;
        }
        finished = true;
        let content = m.get("content").and_then(Value::as_str).unwrap_or("").to_string();
        for kind in [ChatEventKind::Done { content, usage: None, error: None }, ChatEventKind::Cancelled] {
            events::publish(
                app,
                ChatEvent {
                    user_id: p.id().into(),
                    chat_id: row.id.clone(),
                    message_id: Some(id.clone()),
                    kind,
                },
            );
        }
    }
    Ok(finished)
}

/// `POST /api/tasks/stop/{task_id}` (admin): stops one task (the reference's answers: with
/// Redis `Task … stopped.`; without, `status: false` for an id no task has).
pub async fn stop_task(app: &App, caller: &Caller, task_id: &str) -> AppResult<TaskStopView> {
    caller.require_admin()?;
    let stopped = app.tasks.stop(task_id).await;
    Ok(TaskStopView { status: stopped.status, message: stopped.message })
}

/// `GET /api/tasks` (admin): every running task.
pub async fn all_tasks(app: &App, caller: &Caller) -> AppResult<TaskListView> {
    caller.require_admin()?;
    Ok(TaskListView { tasks: app.tasks.all().await })
}
