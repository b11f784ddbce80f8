//! What an import leaves behind, and why: Open WebUI's tables of features duet does not have, the
//! ones it derives from what is imported, and the leftovers of older releases.

/// The tables an import reads.
pub const IMPORTED: &[&str] = &[
    "user",
    "auth",
    "api_key",
    "group",
    "group_member",
    "folder",
    "tag",
    "chat",
    "shared_chat",
    "model",
    "model_history",
    "access_grant",
    "config",
    "alembic_version",
];

/// Why a table of Open WebUI is not imported.
pub fn why(table: &str) -> &'static str {
    match table {
        "file" | "chat_file" | "channel_file" | "knowledge_file" => "files: duet stores no uploaded files",
        "knowledge" | "knowledge_directory" | "document" => "knowledge bases: duet has no retrieval (RAG)",
        "memory" => "memories: duet has none",
        "prompt" | "prompt_history" => "prompts: duet has no prompt library",
        "tool" | "tool_history" | "function" | "function_history" => {
            "tools and functions: duet runs no server-side code"
        }
        "skill" | "skill_history" => "skills: duet has none",
        "note" | "pinned_note" => "notes: duet has none",
        "channel" | "channel_member" | "channel_webhook" | "message" | "message_reaction" => {
            "channels: duet has none"
        }
        "feedback" => "feedback and evaluations: duet has none",
        "oauth_session" => "OAuth sessions: duet has no OAuth sign-in",
        "chat_message" => "an index Open WebUI derives from the chat documents, which are imported",
        "chatidtag" => "tag links of Open WebUI before 0.5 (tags come from each chat's meta)",
        "config_old" => {
            "the configuration blob of Open WebUI before 0.12 (the per-key configuration is imported)"
        }
        "calendar" | "calendar_event" | "calendar_event_attendee" => "calendars: duet has none",
        "automation" | "automation_run" => "automations: duet has none",
        "app" => "apps: duet has none",
        _ => "not something duet has",
    }
}
