//! What the reference's web app calls on every load besides the chats and models: banners, the
//! tool, function and skill lists, the changelog, a chat's running tasks (listing and stopping
//! them, `tasks`), and usage. Duet has no tools, functions or skills, so those answer what an
//! empty Open WebUI answers.

use crate::app::App;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::store;

mod banners;
pub mod socket;
mod tasks;
mod view;

pub use banners::{BannersForm, banners, set_banners};
pub use tasks::{all_tasks, chat_tasks, stop_chat_tasks, stop_task};
pub use view::{
    BannerView, Changelog, ChangelogEntry, ChangelogItem, FunctionView, SkillView, TaskIdsView, TaskListView,
    TaskStopView, ToolView, UsageView,
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

/// `GET /api/usage` (verified): the models in use right now (none: the web app's socket `usage`
/// reports, which the reference counts, are not kept) and how many users made a request in the
/// last three minutes.
pub async fn usage(app: &App, caller: &Caller) -> AppResult<UsageView> {
    caller.require_verified()?;
    let user_count = store::users::count_active_since(&app.db, store::now() - ACTIVE_WINDOW).await?;
    Ok(UsageView { model_ids: Vec::new(), user_count })
}
