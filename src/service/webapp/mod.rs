//! What the reference's web app calls on every load besides the chats and models: banners, the
//! tool, function and skill lists, the changelog, a chat's running tasks (and stopping one), and
//! usage. Duet has no tools, functions or skills and runs no background tasks, so those answer
//! what an empty Open WebUI answers.

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::store;

mod banners;
mod view;

pub use banners::{BannersForm, banners, set_banners};
pub use view::{
    BannerView, Changelog, ChangelogEntry, ChangelogItem, FunctionView, SkillView, TaskIdsView, TaskStopView,
    ToolView, UsageView,
};

/// Seconds since the last request within which a user counts as active (the reference's three
/// minutes).
const ACTIVE_WINDOW: i64 = 180;

/// `GET /tools/` (verified): the tools the caller may use — none.
pub fn tools(caller: &Caller) -> AppResult<Vec<ToolView>> {
    caller.require_verified()?;
    Ok(Vec::new())
}

/// `GET /functions/` (verified): the functions — none.
pub fn functions(caller: &Caller) -> AppResult<Vec<FunctionView>> {
    caller.require_verified()?;
    Ok(Vec::new())
}

/// `GET /skills/` (verified): the skills the caller may use — none.
pub fn skills(caller: &Caller) -> AppResult<Vec<SkillView>> {
    caller.require_verified()?;
    Ok(Vec::new())
}

/// `GET /api/changelog` (anyone): the latest releases' notes. Duet ships none of Open WebUI's,
/// so the web app's "what's new" has nothing to show.
pub fn changelog() -> Changelog {
    Changelog::new()
}

/// The ids of the background tasks running for chat `chat_id` that `caller` may see. A reply is
/// produced inside the request that asks for it, never as a background task, so this is always
/// empty; the list fills once completions run in the background.
fn running_tasks(_caller: &Caller, _chat_id: &str) -> Vec<String> {
    Vec::new()
}

/// `GET /api/tasks/chat/{chat_id}` (verified): the chat's running tasks (none for a chat the
/// caller may not write, as the reference answers, rather than an error).
pub fn chat_tasks(caller: &Caller, chat_id: &str) -> AppResult<TaskIdsView> {
    caller.require_verified()?;
    Ok(TaskIdsView { task_ids: running_tasks(caller, chat_id) })
}

/// `POST /api/tasks/stop/{task_id}` (admin): stops a running task. No task runs in the
/// background, so every id is unknown: `{"status": false, "message": "Task with ID … not
/// found."}`, the reference's answer for an id it does not hold.
pub fn stop_task(caller: &Caller, task_id: &str) -> AppResult<TaskStopView> {
    caller.require_admin()?;
    Ok(TaskStopView { status: false, message: format!("Task with ID {task_id} not found.") })
}

/// `GET /api/usage` (verified): the models in use right now (none: no reply streams in the
/// background) and how many users made a request in the last three minutes.
pub async fn usage(app: &App, caller: &Caller) -> AppResult<UsageView> {
    caller.require_verified()?;
    let user_count = store::users::count_active_since(&app.db, store::now() - ACTIVE_WINDOW).await?;
    Ok(UsageView { model_ids: Vec::new(), user_count })
}
