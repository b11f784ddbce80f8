//! `POST /chats/{id}/fork`: a new chat of the caller holding one branch of a chat they may read
//! (or of a share they may open), from its first message down to the chosen one.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::form::{ChatInput, ImportInput};
use super::reader::{for_reader, reattribute};
use super::view::ChatView;
use super::{get, get_share, insert_document_in, permission, reload};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::form::{Fields, Source};
use crate::store;

/// `ForkForm`: the message the fork ends at (default: the chat's current message).
#[derive(Debug, Clone, Default, ToSchema)]
#[schema(as = ForkForm)]
pub struct ForkForm {
    pub message_id: Option<String>,
}

impl ForkForm {
    /// The form read from a JSON body, or the 422 of its field errors.
    pub fn from_json(body: &Value) -> AppResult<ForkForm> {
        let map = Fields::object_form(Source::Body, body)?;
        let mut f = Fields::body();
        let message_id = f.opt_string(map, crate::service::form::Loc::root(), "message_id");
        f.finish()?;
        Ok(ForkForm { message_id })
    }
}

/// The branch ending at `source`, as a fresh history (each message's only child is the next
/// one) and as the ordered list of its messages.
fn branch(messages: &Map<String, Value>, source: &str) -> AppResult<(Map<String, Value>, Vec<String>)> {
    if messages.is_empty() {
        return Err(AppError::bad_request(ErrorCode::NothingToFork));
    }
    let mut chain: Vec<String> = Vec::new();
    let mut next = Some(source.to_string());
    while let Some(id) = next.take() {
        if chain.contains(&id) {
            return Err(AppError::bad_request(ErrorCode::BranchCycle));
        }
        let message = messages
            .get(&id)
            .and_then(Value::as_object)
            .ok_or_else(|| AppError::not_found(ErrorCode::MessageNotFound))?;
        next = match message.get("parentId") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.is_empty() => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => return Err(AppError::not_found(ErrorCode::MessageNotFound)),
        };
        chain.push(id);
    }
    chain.reverse();
    let mut out = Map::new();
    for (i, id) in chain.iter().enumerate() {
        let mut copy = messages.get(id).cloned().unwrap_or_else(|| json!({}));
        if let Some(m) = copy.as_object_mut() {
            m.insert("id".into(), json!(id));
            m.insert("parentId".into(), i.checked_sub(1).map_or(Value::Null, |p| json!(chain[p])));
            let children = chain.get(i + 1).map_or_else(Vec::new, |c| vec![json!(c)]);
            m.insert("childrenIds".into(), Value::Array(children));
            settle(m);
        }
        out.insert(id.clone(), copy);
    }
    Ok((out, chain))
}

/// An assistant message left unfinished is finished in the fork, unless it waits for a tool
/// call's approval.
fn settle(m: &mut Map<String, Value>) {
    if m.get("role").and_then(Value::as_str) != Some("assistant")
        || m.get("done") != Some(&Value::Bool(false))
    {
        return;
    }
    let waiting = m.get("output").and_then(Value::as_array).is_some_and(|items| {
        items.iter().any(|i| {
            i.get("type").and_then(Value::as_str) == Some("function_call")
                && matches!(
                    i.get("status").and_then(Value::as_str),
                    Some("pending" | "queued" | "requires_approval")
                )
        })
    });
    if !waiting {
        m.insert("done".into(), Value::Bool(true));
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// `POST /chats/{id}/fork`: `id` is a chat the caller may read, or a share they may open (then
/// the fork holds what the share shows). Needs `chat.import` (403). The fork is titled
/// `<title> (fork)`, its `meta` names where it came from, and for the owner it keeps the
/// source's meta (tags), variables, folder and pin; for anyone else the chat is copied as they
/// read it and the owner's messages become theirs. 400 `chat has no messages to fork` / `message
/// branch contains a cycle`, 404 `message not found`.
pub async fn fork(app: &App, caller: &Caller, id: &str, message_id: Option<String>) -> AppResult<ChatView> {
    let p = caller.require_verified()?;
    if !permission(app, p, "chat.import").await? {
        return Err(AppError::forbidden(ErrorCode::AccessProhibited));
    }
    let chat = match get(app, caller, id).await {
        Ok(chat) => chat,
        Err(e) if e.code == ErrorCode::NotFound => get_share(app, caller, id).await?,
        Err(e) => return Err(e),
    };
    let is_owner = chat.user_id == p.user.id;
    let history = chat.chat.get("history").cloned().unwrap_or_else(|| json!({}));
    let messages = history.get("messages").and_then(Value::as_object).cloned().unwrap_or_default();
    let source = message_id
        .filter(|m| !m.is_empty())
        .or_else(|| chat.current_message_id.clone().filter(|m| !m.is_empty()))
        .or_else(|| text(history.get("currentId")))
        .ok_or_else(|| AppError::bad_request(ErrorCode::NothingToFork))?;
    let (fork_messages, order) = branch(&messages, &source)?;
    let list: Vec<Value> = order.iter().filter_map(|id| fork_messages.get(id).cloned()).collect();

    let mut doc = chat.chat.as_object().cloned().unwrap_or_default();
    doc.shift_remove("currentId");
    doc.shift_remove("share_mode");
    doc.insert("originalChatId".into(), json!(chat.id));
    doc.insert("branchPointMessageId".into(), json!(source));
    doc.insert("title".into(), json!(format!("{} (fork)", chat.title)));
    doc.insert("history".into(), json!({"messages": fork_messages, "currentId": source}));
    doc.insert("messages".into(), Value::Array(list));
    let mut doc = Value::Object(doc);
    if !is_owner {
        let mut view = ChatView { chat: doc, ..chat.clone() };
        for_reader(&app.db, &mut view, Some(p.id())).await?;
        doc = view.chat;
        reattribute(&mut doc, &chat.user_id, &p.user);
    }
    let mut meta = if is_owner { chat.meta.as_object().cloned().unwrap_or_default() } else { Map::new() };
    meta.insert("forked_from".into(), json!(chat.id));
    meta.insert("forked_from_message_id".into(), json!(source));
    let now = store::now();
    let input = ImportInput {
        chat: ChatInput {
            chat: Map::new(),
            variables: if is_owner { chat.variables.as_object().cloned() } else { None },
            folder_id: if is_owner { chat.folder_id.clone() } else { None },
        },
        meta: Some(meta),
        pinned: is_owner && chat.pinned,
        archived: false,
        created_at: Some(now),
        updated_at: Some(now),
    };
    let mut tx = app.db.begin().await?;
    let fork_id = insert_document_in(&mut tx, p.id(), doc, input, now).await?.id;
    tx.commit().await?;
    Ok(ChatView::from(reload(&app.db, &fork_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Map<String, Value> {
        json!({
            "a": {"id": "a", "parentId": null, "childrenIds": ["b", "c"], "role": "user", "content": "q"},
            "b": {"id": "b", "parentId": "a", "childrenIds": [], "role": "assistant", "content": "1", "done": false},
            "c": {"id": "c", "parentId": "a", "childrenIds": ["d"], "role": "assistant", "content": "2"},
            "d": {"id": "d", "parentId": "c", "childrenIds": [], "role": "user", "content": "more"},
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    #[test]
    fn a_branch_is_the_path_from_the_root_with_single_children() {
        let (messages, order) = branch(&tree(), "d").expect("branch");
        assert_eq!(order, ["a", "c", "d"]);
        assert_eq!(messages["a"]["childrenIds"], json!(["c"]));
        assert_eq!(messages["c"]["parentId"], "a");
        assert_eq!(messages["d"]["childrenIds"], json!([]));
        assert!(!messages.contains_key("b"));
    }

    #[test]
    fn unfinished_replies_are_finished_unless_a_tool_call_waits() {
        let (messages, _) = branch(&tree(), "b").expect("branch");
        assert_eq!(messages["b"]["done"], true);
        let mut t = tree();
        t["b"]["output"] = json!([{"type": "function_call", "status": "requires_approval"}]);
        let (messages, _) = branch(&t, "b").expect("branch");
        assert_eq!(messages["b"]["done"], false);
    }

    #[test]
    fn unknown_messages_cycles_and_empty_chats_are_refused() {
        assert_eq!(branch(&tree(), "zz").expect_err("unknown").code, ErrorCode::MessageNotFound);
        assert_eq!(branch(&Map::new(), "a").expect_err("empty").code, ErrorCode::NothingToFork);
        let mut t = tree();
        t["a"]["parentId"] = json!("d");
        assert_eq!(branch(&t, "d").expect_err("cycle").code, ErrorCode::BranchCycle);
    }
}
