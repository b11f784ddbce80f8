//! The task that carries one completion: it asks the provider, hands the request its answer (a
//! whole body, the provider's refusal, or the head of a stream), and then forwards the stream
//! chunk by chunk as it arrives (converting Ollama's NDJSON to OpenAI's SSE), waiting while the
//! client reads (backpressure), recording a saved turn's reply as it goes.
//!
//! An unsaved OpenAI-compatible completion does without this task (`direct`). The task is
//! spawned, so it does not die with the request: when the client disconnects, an unsaved request
//! stops at once (the provider's connection is dropped), a saved one reads the
//! answer to its end and stores it. A reply whose writer is stopped (a task's stop) drops the
//! provider's connection at once and stores the text so far.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::persist::{Writer, error_text};
use super::view::{Body, Chunks, Completion, Reply};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::upstream::chat::{Answer, Failure, Stream};
use crate::upstream::convert::{DONE, StreamConverter, answer_to_openai};
use crate::upstream::{Connection, Kind, Upstream};

/// Chunks buffered between the provider and a slow client before reading waits.
const CHANNEL_CHUNKS: usize = 16;

/// What a stream that fails midway ends with (the reference's frame, then `[DONE]`).
pub const STREAM_FAILED: &str = "\n\ndata: {\"error\": {\"message\": \"Chat completion stream failed\"}}\n\n";
pub(super) const STREAM_FAILED_TEXT: &str = "Chat completion stream failed";

/// The longest NDJSON line read from Ollama.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// One completion to carry out.
pub struct Job {
    pub upstream: Arc<Upstream>,
    pub kind: Kind,
    pub connection: Connection,
    pub payload: Value,
    /// Whether the request asked for a stream.
    pub stream: bool,
    /// The saved turn's reply, when there is one.
    pub writer: Option<Writer>,
}

type Head = oneshot::Sender<AppResult<Completion>>;

/// Starts the task and waits for the head of its answer.
pub async fn start(job: Job) -> AppResult<Completion> {
    launch(job, false).await
}

/// `start` with the answer passed through as the provider gives it (`/ollama/api/chat`: Ollama's
/// JSON and NDJSON, not converted; see `passthrough`). For jobs without a writer.
pub async fn start_unconverted(job: Job) -> AppResult<Completion> {
    launch(job, true).await
}

async fn launch(job: Job, raw: bool) -> AppResult<Completion> {
    let (head, answer) = oneshot::channel();
    tokio::spawn(run(job, head, raw).instrument(tracing::Span::current()));
    answer.await.map_err(|_| AppError::internal("the completion task ended without an answer"))?
}

/// The error for a provider that could not be reached or broke off before its answer was read.
fn unreachable(kind: Kind, failure: &Failure) -> AppError {
    tracing::warn!(provider = kind.as_str(), error = %failure, "chat completion provider failed");
    match (kind, failure) {
        (Kind::Ollama, Failure::Broken(reason)) => {
            AppError::with_status(500, ErrorCode::UpstreamError, format!("Ollama: {reason}"))
        }
        _ => AppError::with_status(
            500,
            ErrorCode::ServerConnectionError,
            ErrorCode::ServerConnectionError.message(),
        ),
    }
}

/// A refusal as the reference passes it on: an OpenAI-compatible provider's body as it is, an
/// Ollama `error` as `{"detail": …}`. Also the text the reply records.
fn refusal(kind: Kind, status: u16, headers: Vec<(String, String)>, body: Body) -> (Completion, String) {
    let text = match &body {
        Body::Json(v) => error_text(v),
        Body::Text(t) if t.trim().is_empty() => format!("Provider returned HTTP {status}"),
        Body::Text(t) => t.trim().to_string(),
    };
    match kind {
        Kind::OpenAi => (Completion::Refused { status, headers, body }, text),
        Kind::Ollama => {
            let detail = match &body {
                Body::Json(Value::Object(m)) if m.contains_key("error") => {
                    m.get("error").cloned().unwrap_or(Value::Null)
                }
                _ => json!(ErrorCode::ServerConnectionError.message()),
            };
            let text = detail.as_str().map(str::to_string).unwrap_or_else(|| error_text(&detail));
            (Completion::Refused { status, headers, body: Body::Json(json!({"detail": detail})) }, text)
        }
    }
}

async fn run(job: Job, mut head: Head, raw: bool) {
    let Job { upstream, kind, connection, payload, stream, mut writer } = job;
    let sent = match writer.as_ref().map(Writer::stop_signal) {
        Some(stop) => tokio::select! {
            sent = upstream.chat(kind, &connection, &payload, stream) => Some(sent),
            () = stop => None,
        },
        None => tokio::select! {
            sent = upstream.chat(kind, &connection, &payload, stream) => Some(sent),
            // The client left before the answer began: the request to the provider is dropped.
            () = head.closed() => return,
        },
    };
    let Some(sent) = sent else {
        // Stopped before the provider answered: the request to it is dropped.
        if let Some(mut w) = writer {
            w.mark_stopped();
            w.finish(None).await;
        }
        // Only a task's reply can be stopped, and a task reads no answer.
        let _ = head.send(Ok(Completion::Json(Value::Null)));
        return;
    };
    let (answer, error) = match sent {
        Ok(Answer::Stream(s)) if raw => return super::passthrough::forward(kind, s, head).await,
        Ok(Answer::Stream(s)) => return forward(kind, s, head, writer).await,
        sent => settle(kind, sent, raw, writer.as_mut()),
    };
    // A saved reply is stored before the answer is handed over, so a client reading the chat
    // right after sees it finished.
    if let Some(w) = writer {
        w.finish(error).await;
    }
    let _ = head.send(answer);
}

/// The answer of a provider that did not stream: its failure, refusal or whole body (recorded by
/// `writer`), and the error text a saved reply ends with.
pub(super) fn settle(
    kind: Kind,
    sent: Result<Answer, Failure>,
    raw: bool,
    writer: Option<&mut Writer>,
) -> (AppResult<Completion>, Option<String>) {
    match sent {
        Err(failure) => {
            let error = unreachable(kind, &failure);
            let text = error.message();
            (Err(error), Some(text))
        }
        Ok(Answer::Refused { status, retry, body }) => {
            let (answer, text) = refusal(kind, status, retry, body);
            (Ok(answer), Some(text))
        }
        Ok(Answer::Whole { body, .. }) => {
            let answer = match (kind, body) {
                (Kind::OpenAi, Body::Json(v)) => Ok(v),
                (Kind::OpenAi, Body::Text(t)) => Ok(Value::String(t)),
                (Kind::Ollama, Body::Json(v)) if raw => Ok(v),
                // The reference answers `null` for an Ollama body that is not JSON.
                (Kind::Ollama, Body::Text(_)) if raw => Ok(Value::Null),
                (Kind::Ollama, Body::Json(Value::Object(m))) => Ok(answer_to_openai(&m, crate::store::now())),
                (Kind::Ollama, _) => {
                    Err(unreachable(kind, &Failure::Broken("the answer is not a JSON object".into())))
                }
            };
            match answer {
                Ok(v) => {
                    if let Some(w) = writer {
                        w.whole(&v);
                    }
                    (Ok(Completion::Json(v)), None)
                }
                Err(e) => {
                    let text = e.message();
                    (Err(e), Some(text))
                }
            }
        }
        Ok(Answer::Stream(_)) => {
            let error = AppError::internal("a stream settled as a whole answer");
            let text = error.message();
            (Err(error), Some(text))
        }
    }
}

/// Where streamed bytes go: the client while it reads, and the saved reply.
struct Sink {
    client: Option<mpsc::Sender<Bytes>>,
    saved: bool,
}

impl Sink {
    /// Sends `bytes` to the client, waiting while its buffer is full. `false`: stop reading (the
    /// client left and nothing is saved).
    async fn send(&mut self, bytes: Bytes) -> bool {
        if let Some(client) = &self.client
            && client.send(bytes).await.is_err()
        {
            tracing::debug!(saved = self.saved, "client left a streaming completion");
            self.client = None;
        }
        self.client.is_some() || self.saved
    }
}

async fn forward(kind: Kind, mut stream: Stream, head: Head, mut writer: Option<Writer>) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let mut headers = stream.headers.clone();
    if kind == Kind::Ollama {
        headers.retain(|(n, _)| n != "content-type");
        headers.push(("content-type".into(), "text/event-stream".into()));
    }
    let reply = Reply { status: stream.status, headers, chunks: Chunks::channel(rx) };
    let mut sink = Sink { client: Some(tx), saved: writer.is_some() };
    if head.send(Ok(Completion::Stream(reply))).is_err() {
        sink.client = None;
        if writer.is_none() {
            return;
        }
    }
    let mut converter = StreamConverter::default();
    let mut partial: Vec<u8> = Vec::new();
    let mut failed = false;
    let mut stopped = false;
    loop {
        let next = match writer.as_ref().map(Writer::stop_signal) {
            Some(stop) => tokio::select! {
                next = stream.next() => Some(next),
                () = stop => None,
            },
            None => Some(stream.next().await),
        };
        let Some(next) = next else {
            stopped = true;
            break;
        };
        let chunk = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(failure) => {
                tracing::warn!(provider = kind.as_str(), error = %failure, "chat completion stream failed mid-response");
                failed = true;
                break;
            }
        };
        match kind {
            Kind::OpenAi => {
                if let Some(w) = writer.as_mut() {
                    w.sse(&chunk);
                }
                if !sink.send(chunk).await {
                    return;
                }
            }
            Kind::Ollama => {
                partial.extend_from_slice(&chunk);
                let mut ok = true;
                while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    match frame(&mut converter, &line, writer.as_mut()) {
                        Ok(Some(f)) => {
                            if !sink.send(f).await {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(()) => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok || partial.len() > MAX_LINE {
                    failed = true;
                    break;
                }
            }
        }
        if let Some(w) = writer.as_mut() {
            w.progress().await;
        }
    }
    if stopped {
        // The provider's connection is dropped; the text so far is the reply.
        drop(stream);
        if let Some(mut w) = writer {
            w.mark_stopped();
            w.finish(None).await;
        }
        return;
    }
    if kind == Kind::Ollama && !failed {
        let rest = std::mem::take(&mut partial);
        match frame(&mut converter, &rest, writer.as_mut()) {
            Ok(Some(f)) => {
                if !sink.send(f).await {
                    return;
                }
            }
            Ok(None) => {}
            Err(()) => failed = true,
        }
        if !failed && !sink.send(Bytes::from_static(DONE.as_bytes())).await {
            return;
        }
    }
    // The provider's connection is not needed any more.
    drop(stream);
    if failed {
        let _ = sink.send(Bytes::from_static(STREAM_FAILED.as_bytes())).await;
        let _ = sink.send(Bytes::from_static(DONE.as_bytes())).await;
    }
    if let Some(w) = writer {
        w.finish(failed.then(|| STREAM_FAILED_TEXT.to_string())).await;
    }
}

/// The SSE frame of one NDJSON line (`None` for a blank line); `Err` for a line that is no
/// JSON object.
fn frame(
    converter: &mut StreamConverter,
    line: &[u8],
    writer: Option<&mut Writer>,
) -> Result<Option<Bytes>, ()> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match converter.frame(line, crate::store::now()) {
        Ok((text, chunk)) => {
            if let Some(w) = writer {
                w.chunk(&chunk);
            }
            Ok(Some(Bytes::from(text)))
        }
        Err(reason) => {
            tracing::warn!(%reason, "an Ollama stream line could not be converted");
            Err(())
        }
    }
}
