//! A saved turn (`chat_id`, or `parent_id: null` for a new chat): the chat writes before the
//! provider is asked (through `service::chats::turns`, with the reference's checks and texts), the
//! prompt rebuilt from the stored branch, and the `Writer` that records the reply as it arrives
//! (at most once per `PROGRESS_INTERVAL`) and finishes it with `done`, `usage` and any error. A
//! reply run as a task (`tasks`) can be stopped: the writer carries the stop signal, and the text
//! so far is stored as the finished reply.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use serde_json::{Map, Value, json};

use super::form::CompletionForm;
use crate::app::App;
use crate::auth::Principal;
use crate::bus::Bus;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::chats::turns::{self, Reply};
use crate::service::events::{ChatEvent, ChatEventKind};
use crate::store::Db;
use crate::upstream::convert::truthy;

/// How often a streaming reply is written while it grows.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Stored message fields a prompt is rebuilt from (`MESSAGE_REPLAY_KEYS`).
const REPLAY_KEYS: &[&str] =
    &["id", "role", "content", "output", "files", "contextSummary", "usage", "model", "meta"];

/// Chat ids that are never saved (temporary chats, channels).
fn is_saved(chat_id: &str) -> bool {
    !["temporary:", "local:", "channel:"].iter().any(|p| chat_id.starts_with(p))
}

/// Where a turn's reply is written.
#[derive(Debug, Clone)]
pub struct Turn {
    pub chat_id: String,
    /// The assistant message the reply goes to.
    pub message_id: String,
    /// Further placeholders of the turn (other models), closed when the reply is done.
    pub others: Vec<String>,
    /// The user message the prompt ends with.
    pub user_message_id: Option<String>,
    /// A continued reply: its stored text, which the new text extends.
    pub prior: Option<String>,
    /// Whether the chat is stored (a temporary chat's reply only reaches its listeners).
    pub saved: bool,
    /// The chat's title and folder when the turn began.
    pub title: String,
    pub folder_id: Option<String>,
}

/// Writes what a saved turn needs before the provider is asked; `None` for an unsaved request.
pub async fn begin(app: &App, p: &Principal, form: &mut CompletionForm) -> AppResult<Option<Turn>> {
    let chat = &mut form.chat;
    if chat.new_chat {
        let folder = match &chat.folder_id {
            None => None,
            Some(Value::String(f)) if turns::folder_writable(app, p, f).await? => Some(f.clone()),
            Some(_) => return Err(AppError::not_found(ErrorCode::NotFound)),
        };
        // The reply needs a message to go to: one is made when the request names none.
        if let Some(first) = chat.entries.first_mut()
            && first.message_id.is_none()
        {
            first.message_id = Some(uuid::Uuid::new_v4().to_string());
        }
        let chat_id = uuid::Uuid::new_v4().to_string();
        let replies = replies(form);
        let chat = &form.chat;
        turns::create_chat(
            app,
            p,
            &chat_id,
            chat.user_message.as_ref(),
            &replies,
            chat.files.clone(),
            folder.as_deref(),
        )
        .await?;
        let mut turn = turn(chat_id, &replies, user_message_id(form), None);
        turn.folder_id = folder;
        return Ok(Some(turn));
    }
    let Some(chat_id) = chat.chat_id.clone() else { return Ok(None) };
    if chat_id.starts_with("channel:") {
        return Err(AppError::not_found(ErrorCode::NotFound));
    }
    if !is_saved(&chat_id) {
        return Ok(None);
    }
    let row =
        turns::writable(app, p, &chat_id).await?.ok_or_else(|| AppError::not_found(ErrorCode::NotFound))?;
    let replies = replies(form);
    if let Some(assistant_id) = form.chat.assistant_message_id.clone() {
        let message = turns::message(&app.db, &chat_id, &assistant_id).await?;
        let author = message
            .as_ref()
            .map(|m| m.get("user_id").and_then(Value::as_str).unwrap_or(&row.user_id).to_string());
        if author.as_deref() != Some(p.id()) {
            return Err(AppError::forbidden(ErrorCode::AccessProhibited));
        }
        if replies.iter().any(|r| r.message_id.as_deref() != Some(assistant_id.as_str())) {
            return Err(AppError::bad_request(ErrorCode::InvalidResponseId));
        }
        let message = message.unwrap_or_default();
        let parent = message.get("parentId").and_then(Value::as_str).map(str::to_string);
        let prior = message.get("content").and_then(Value::as_str).unwrap_or("").to_string();
        turns::write_reply(&app.db, &chat_id, &assistant_id, Map::from_iter([("done".into(), json!(false))]))
            .await?;
        return Ok(Some(Turn {
            chat_id,
            message_id: assistant_id,
            others: Vec::new(),
            user_message_id: parent,
            prior: Some(prior),
            saved: true,
            title: row.title,
            folder_id: row.folder_id,
        }));
    }
    turns::insert_turn(app, p, &chat_id, form.chat.user_message.as_ref(), &replies, form.chat.files.as_ref())
        .await?;
    let mut turn = turn(chat_id, &replies, user_message_id(form), None);
    turn.title = row.title;
    turn.folder_id = row.folder_id;
    Ok(Some(turn))
}

/// The turn of a temporary chat (`local:…`, `temporary:…`): nothing is stored, the reply only
/// reaches the chat's listeners. `None` for a saved chat or a request without a chat.
pub fn unsaved(form: &CompletionForm) -> Option<Turn> {
    let chat_id = form.chat.chat_id.clone().filter(|c| !is_saved(c) && !c.starts_with("channel:"))?;
    let mut turn = turn(chat_id, &replies(form), None, None);
    turn.saved = false;
    Some(turn)
}

/// Whether `chat_id` names a temporary chat (`temporary:…`, or the older `local:…`).
pub fn is_temporary_chat(chat_id: &str) -> bool {
    ["temporary:", "local:"].iter().any(|p| chat_id.starts_with(p))
}

fn replies(form: &CompletionForm) -> Vec<Reply> {
    form.chat
        .entries
        .iter()
        .map(|e| Reply {
            model_id: e.model_id.clone(),
            message_id: e.message_id.clone(),
            model_idx: e.model_idx.clone(),
        })
        .collect()
}

fn user_message_id(form: &CompletionForm) -> Option<String> {
    form.chat.user_message.as_ref().and_then(|m| m.get("id")).and_then(Value::as_str).map(str::to_string)
}

fn turn(chat_id: String, replies: &[Reply], user_message_id: Option<String>, prior: Option<String>) -> Turn {
    let mut ids = replies.iter().filter_map(|r| r.message_id.clone());
    let message_id = ids.next().unwrap_or_default();
    Turn {
        chat_id,
        message_id,
        others: ids.collect(),
        user_message_id,
        prior,
        saved: true,
        title: "New Chat".to_string(),
        folder_id: None,
    }
}

/// A stored message as a prompt message (`process_messages_with_output`): role and content, the
/// images of its files as `image_url` parts.
fn prompt_message(stored: &Value) -> Option<Value> {
    let m = stored.as_object()?;
    let role = m.get("role").and_then(Value::as_str);
    if role == Some("assistant") && !truthy(m.get("content")) {
        return None;
    }
    let mut out: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| REPLAY_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let files = out.remove("files");
    for key in ["id", "output", "model", "contextSummary", "usage", "meta"] {
        out.remove(key);
    }
    let images: Vec<Value> = files
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| {
            let ct =
                f.get("content_type").and_then(Value::as_str).unwrap_or("").split(';').next().unwrap_or("");
            let ct = ct.trim().to_ascii_lowercase();
            f.get("type").and_then(Value::as_str) == Some("image")
                || (ct.starts_with("image/") && ct != "image/svg+xml")
        })
        .filter_map(|f| f.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()))
        .map(|url| json!({"type": "image_url", "image_url": {"url": url}}))
        .collect();
    if role == Some("user")
        && !images.is_empty()
        && let Some(Value::String(text)) = out.get("content")
    {
        let mut parts = vec![json!({"type": "text", "text": text})];
        parts.extend(images);
        out.insert("content".into(), Value::Array(parts));
    }
    Some(Value::Object(out))
}

/// The prompt of a saved turn: the request's first system message, then the stored branch down
/// to the user message (and a continued reply's text). `None` when nothing is stored to
/// rebuild from; the request's messages stay then.
pub async fn history(db: &Db, turn: &Turn, request: &[Value]) -> AppResult<Option<Vec<Value>>> {
    let Some(user_message_id) = &turn.user_message_id else { return Ok(None) };
    let chain = turns::branch(db, &turn.chat_id, user_message_id).await?;
    let mut messages: Vec<Value> = chain.iter().filter_map(prompt_message).collect();
    if messages.is_empty() {
        return Ok(None);
    }
    if let Some(prior) = turn.prior.as_deref().filter(|p| !p.is_empty()) {
        messages.push(json!({"role": "assistant", "content": prior}));
    }
    let system = request.iter().find(|m| m.get("role").and_then(Value::as_str) == Some("system"));
    Ok(Some(system.cloned().into_iter().chain(messages).collect()))
}

/// `get_response_error_detail`: the text of an error body (`error`, `message`, `detail`, nested).
pub fn error_text(body: &Value) -> String {
    let mut detail = body;
    while let Value::Object(map) = detail {
        match ["error", "message", "detail"].iter().find_map(|k| map.get(*k)) {
            Some(next) => detail = next,
            None => return serde_json::to_string(detail).unwrap_or_default(),
        }
    }
    match detail {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Records a reply as it arrives, and tells the chat's listeners (`service::events`).
pub struct Writer {
    db: Db,
    events: Arc<Bus<ChatEvent>>,
    /// Who runs the turn.
    user_id: String,
    turn: Turn,
    content: String,
    usage: Option<Value>,
    error: Option<String>,
    written: Instant,
    changed: bool,
    /// Bytes of an SSE line not complete yet.
    partial: Vec<u8>,
    /// Whether the writer tells the chat's listeners that the turn started and ended (`Active`);
    /// a task's turn is announced by the task registry instead.
    announce: bool,
    /// Turns `true` when the reply is to stop (a task's stop).
    stop: Option<watch::Receiver<bool>>,
    stopped: bool,
    /// Told how the reply ended, once it is stored.
    finished: Option<oneshot::Sender<Outcome>>,
}

/// How a reply ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Stopped before its end (the text so far is the reply).
    pub stopped: bool,
    /// The error stored on the reply.
    pub error: Option<String>,
}

/// The longest SSE line parsed for the record (longer ones are forwarded, not recorded).
const MAX_LINE: usize = 16 * 1024 * 1024;

impl Writer {
    pub fn new(app: &App, user_id: &str, turn: Turn) -> Writer {
        let writer = Self::quiet(app, user_id, turn);
        writer.emit(ChatEventKind::Active { active: true });
        Writer { announce: true, ..writer }
    }

    /// The writer of a task's reply: it stops when `stop` turns `true`, leaves `Active` to the
    /// task registry, and tells the returned receiver how the reply ended.
    pub fn for_task(
        app: &App,
        user_id: &str,
        turn: Turn,
        stop: watch::Receiver<bool>,
    ) -> (Writer, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let writer = Writer { stop: Some(stop), finished: Some(tx), ..Self::quiet(app, user_id, turn) };
        (writer, rx)
    }

    fn quiet(app: &App, user_id: &str, turn: Turn) -> Writer {
        let content = turn.prior.clone().unwrap_or_default();
        Writer {
            db: app.db.clone(),
            events: app.events.clone(),
            user_id: user_id.to_string(),
            turn,
            content,
            usage: None,
            error: None,
            written: Instant::now(),
            changed: false,
            partial: Vec::new(),
            announce: false,
            stop: None,
            stopped: false,
            finished: None,
        }
    }

    /// Completes when the reply is to stop; never for a reply that cannot be stopped.
    pub fn stop_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let stop = self.stop.clone();
        async move {
            if let Some(mut stop) = stop
                && stop.wait_for(|s| *s).await.is_ok()
            {
                return;
            }
            // No stop signal, or its sender is gone: nothing will stop the reply.
            std::future::pending::<()>().await
        }
    }

    /// The reply was stopped: `finish` stores the text so far, without an error.
    pub fn mark_stopped(&mut self) {
        self.stopped = true;
    }

    fn emit(&self, kind: ChatEventKind) {
        self.events.publish(ChatEvent {
            user_id: self.user_id.clone(),
            chat_id: self.turn.chat_id.clone(),
            message_id: Some(self.turn.message_id.clone()),
            kind,
        });
    }

    /// Bytes of an OpenAI-compatible event stream.
    pub fn sse(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
            if data.is_empty() || data == "[DONE]" {
                continue;
            }
            if let Ok(chunk) = serde_json::from_str::<Value>(data) {
                self.chunk(&chunk);
            }
        }
        if self.partial.len() > MAX_LINE {
            self.partial.clear();
        }
    }

    /// One `chat.completion.chunk` (or an error event).
    pub fn chunk(&mut self, chunk: &Value) {
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            self.error = Some(error_text(error));
        }
        let delta = chunk.get("choices").and_then(|c| c.get(0)).and_then(|c| c.get("delta"));
        if let Some(text) = delta.and_then(|d| d.get("content")).and_then(Value::as_str)
            && !text.is_empty()
        {
            self.content.push_str(text);
            self.changed = true;
            self.emit(ChatEventKind::Delta { delta: text.to_string(), content: self.content.clone() });
        }
        if let Some(usage) = chunk.get("usage").filter(|u| truthy(Some(u))) {
            self.usage = Some(usage.clone());
        }
    }

    /// A whole `chat.completion`.
    pub fn whole(&mut self, answer: &Value) {
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            self.error = Some(error_text(error));
        }
        let message = answer.get("choices").and_then(|c| c.get(0)).and_then(|c| c.get("message"));
        if let Some(text) = message.and_then(|m| m.get("content")).and_then(Value::as_str) {
            self.content.push_str(text);
            if !text.is_empty() {
                self.emit(ChatEventKind::Delta { delta: text.to_string(), content: self.content.clone() });
            }
        }
        if let Some(usage) = answer.get("usage").filter(|u| truthy(Some(u))) {
            self.usage = Some(usage.clone());
        }
    }

    /// Writes the text so far when it changed and the last write is `PROGRESS_INTERVAL` old.
    pub async fn progress(&mut self) {
        if !self.changed || self.written.elapsed() < PROGRESS_INTERVAL {
            return;
        }
        let fields = Map::from_iter([("content".to_string(), json!(self.content))]);
        self.write(&self.turn.message_id.clone(), fields).await;
        self.written = Instant::now();
        self.changed = false;
    }

    /// Finishes the reply: its text, `done: true`, `usage`, and the error (`error` wins over one
    /// the stream reported). A stopped reply keeps no error.
    pub async fn finish(mut self, error: Option<String>) {
        let error = if self.stopped { None } else { error.or(self.error.take()) };
        let mut fields =
            Map::from_iter([("content".to_string(), json!(self.content)), ("done".to_string(), json!(true))]);
        let usage = self.usage.take();
        if let Some(usage) = &usage {
            fields.insert("usage".into(), usage.clone());
        }
        if let Some(error) = &error {
            fields.insert("error".into(), json!({"content": error}));
        }
        self.write(&self.turn.message_id.clone(), fields).await;
        for other in self.turn.others.clone() {
            self.write(&other, Map::from_iter([("done".to_string(), json!(true))])).await;
        }
        if self.stopped {
            self.emit(ChatEventKind::Cancelled);
        }
        let content = std::mem::take(&mut self.content);
        self.emit(ChatEventKind::Done { content, usage, error: error.clone() });
        if self.announce {
            self.emit(ChatEventKind::Active { active: false });
        }
        if let Some(finished) = self.finished.take() {
            let _ = finished.send(Outcome { stopped: self.stopped, error });
        }
    }

    async fn write(&self, message_id: &str, fields: Map<String, Value>) {
        if !self.turn.saved {
            return;
        }
        if let Err(e) = turns::write_reply(&self.db, &self.turn.chat_id, message_id, fields).await {
            tracing::error!(error = %e.report(), chat_id = %self.turn.chat_id, message_id, "reply not saved");
        }
    }
}
