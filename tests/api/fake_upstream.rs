//! Fake model providers for the completion tests: small HTTP/1.1 servers on loopback, written on
//! raw sockets so every byte (and every broken connection) is under the test's control. One
//! speaks the OpenAI-compatible API (`GET /v1/models`, `POST /v1/chat/completions`), the other
//! Ollama's (`GET /api/tags`, `POST /api/chat`); each answers deterministically, streamed or
//! whole as asked, or as a `Script` says (an error status with a body, a close mid-stream, a
//! hang, a stall after the first chunk). They record every request and whether a client closed a
//! streamed answer before its end; `stop` leaves nothing listening on the port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The API a fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Ollama,
}

/// How a fake answers chat requests.
#[derive(Debug, Clone)]
pub enum Script {
    /// The deterministic answer: `WORDS`, streamed (one chunk per word, `delay` apart) when the
    /// request asks for a stream, whole otherwise.
    Answer { delay: Duration },
    /// A streamed answer of `words` (Ollama: these NDJSON objects as lines).
    Words { words: Vec<String>, delay: Duration },
    /// Ollama NDJSON lines as given.
    Lines(Vec<Value>),
    /// A status with headers and a body.
    Status { status: u16, headers: Vec<(String, String)>, body: String },
    /// The head and the first `chunks` chunks of the stream, then the connection closes.
    CloseMidStream { chunks: usize },
    /// The request is read and never answered.
    Hang,
    /// The head and the first chunk, then silence (the connection stays open).
    Stall,
    /// The whole answer after `delay` without a byte before.
    Slow { delay: Duration },
    /// `count` event-stream chunks of `size` bytes each, as fast as the connection takes them.
    Big { count: usize, size: usize },
}

/// The words of the deterministic answer.
pub const WORDS: [&str; 3] = ["Hello", " world", "!"];

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

struct State {
    api: Api,
    models: Vec<String>,
    script: Mutex<Script>,
    /// The answer to model-list requests instead of the list (status, JSON or text body).
    list: Mutex<Option<(u16, String)>>,
    seen: Mutex<Vec<Seen>>,
    /// Streamed answers whose client closed the connection before the end.
    closed_early: AtomicUsize,
    /// Streamed answers written to their end.
    finished: AtomicUsize,
    /// Body bytes of streamed answers the connection has taken so far.
    written: AtomicUsize,
    /// Streamed answers keep their connection open for the next request (no `connection:
    /// close`); everything else still closes it.
    keep_alive: AtomicBool,
    /// The next request that arrives on a connection that has already served one is read and
    /// the connection closed without an answer (a provider closing an idle connection just as
    /// a request goes out on it).
    drop_on_reuse: AtomicBool,
    /// Connections accepted so far.
    connections: AtomicUsize,
}

/// A running fake provider.
pub struct Fake {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    pub async fn start(api: Api, models: &[&str]) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            api,
            models: models.iter().map(|m| m.to_string()).collect(),
            script: Mutex::new(Script::Answer { delay: Duration::ZERO }),
            list: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
            closed_early: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            written: AtomicUsize::new(0),
            keep_alive: AtomicBool::new(false),
            drop_on_reuse: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
        });
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = accept_state.clone();
                tokio::spawn(async move { serve(socket, state).await });
            }
        });
        Fake { addr, state, task }
    }

    /// The base URL duet is configured with.
    pub fn url(&self) -> String {
        match self.state.api {
            Api::OpenAi => format!("http://{}/v1", self.addr),
            Api::Ollama => format!("http://{}", self.addr),
        }
    }

    pub fn set(&self, script: Script) {
        *self.state.script.lock().expect("script") = script;
    }

    /// Model-list requests are answered with `status` and `body` from now on.
    pub fn set_list(&self, status: u16, body: &str) {
        *self.state.list.lock().expect("list") = Some((status, body.to_string()));
    }

    /// How many model-list requests arrived so far.
    pub fn lists(&self) -> usize {
        self.state.seen.lock().expect("seen").iter().filter(|s| s.method == "GET").count()
    }

    /// The chat requests received so far.
    pub fn chats(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("seen").iter().filter(|s| s.method == "POST").cloned().collect()
    }

    /// The last chat request's body.
    pub fn last_body(&self) -> Value {
        self.chats().last().map(|s| s.body.clone()).expect("a chat request reached the fake")
    }

    pub fn closed_early(&self) -> usize {
        self.state.closed_early.load(Ordering::SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.state.finished.load(Ordering::SeqCst)
    }

    pub fn written(&self) -> usize {
        self.state.written.load(Ordering::SeqCst)
    }

    /// Streamed answers keep their connection for the next request from now on.
    pub fn keep_alive(&self) {
        self.state.keep_alive.store(true, Ordering::SeqCst);
    }

    /// The next request on a connection that has served one is dropped unanswered (see `State`).
    pub fn drop_next_on_reuse(&self) {
        self.state.drop_on_reuse.store(true, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Stops listening (connections already open are left as they are).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request: head and `Content-Length` body.
async fn read_request(socket: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let mut length = 0;
    let mut authorization = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some(Seen { method, path, authorization, body })
}

fn head(status: u16, content_type: &str, extra: &[(String, String)], length: Option<usize>) -> String {
    let mut h = format!("HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nconnection: close\r\n");
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match length {
        Some(n) => h.push_str(&format!("content-length: {n}\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\n"),
    }
    h.push_str("\r\n");
    h
}

async fn whole(
    socket: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra: &[(String, String)],
    body: &str,
) {
    let text = head(status, content_type, extra, Some(body.len())) + body;
    let _ = socket.write_all(text.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The model's OpenAI SSE chunks for `words` (usage on the last when `usage`), `[DONE]` last.
pub fn openai_chunks(model: &str, words: &[String], usage: bool) -> Vec<String> {
    let chunk = |delta: Value, finish: Value, usage: Option<Value>| {
        let mut c = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if let Some(u) = usage {
            c["usage"] = u;
        }
        format!("data: {c}\n\n")
    };
    let mut out = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null, None)];
    out.extend(words.iter().map(|w| chunk(json!({"content": w}), Value::Null, None)));
    let u = usage.then(
        || json!({"prompt_tokens": 3, "completion_tokens": words.len(), "total_tokens": 3 + words.len()}),
    );
    out.push(chunk(json!({}), json!("stop"), u));
    out.push("data: [DONE]\n\n".to_string());
    out
}

/// The OpenAI whole answer for `words`.
pub fn openai_whole(model: &str, words: &[String]) -> Value {
    json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
           "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat()}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": words.len(), "total_tokens": 3 + words.len()}})
}

/// The Ollama NDJSON lines for `words`: one per word, then the final one with its counters.
pub fn ollama_lines(model: &str, words: &[String]) -> Vec<Value> {
    let mut out: Vec<Value> = words
        .iter()
        .map(|w| {
            json!({"model": model, "created_at": "2024-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": w}, "done": false})
        })
        .collect();
    out.push(ollama_final(model, ""));
    out
}

pub fn ollama_final(model: &str, content: &str) -> Value {
    json!({"model": model, "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": content},
           "done": true, "done_reason": "stop", "total_duration": 5123456789_i64, "load_duration": 1000,
           "prompt_eval_count": 12, "prompt_eval_duration": 30000000, "eval_count": 7, "eval_duration": 70000000})
}

/// Writes `chunks` as a chunked body, `delay` apart, watching for the client to close; records
/// how the answer ended. `end`: write the terminating chunk.
async fn stream(
    socket: &mut TcpStream,
    state: &State,
    head: String,
    chunks: Vec<String>,
    delay: Duration,
    end: bool,
) -> bool {
    let (mut read, mut write) = socket.split();
    let writing = async {
        write.write_all(head.as_bytes()).await?;
        for c in &chunks {
            write.write_all(format!("{:x}\r\n{c}\r\n", c.len()).as_bytes()).await?;
            write.flush().await?;
            state.written.fetch_add(c.len(), Ordering::SeqCst);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        if end {
            write.write_all(b"0\r\n\r\n").await?;
        }
        write.flush().await?;
        Ok::<(), std::io::Error>(())
    };
    let mut byte = [0u8; 1];
    tokio::select! {
        written = writing => {
            match written {
                Ok(()) if end => { state.finished.fetch_add(1, Ordering::SeqCst); true }
                Ok(()) => false,
                Err(_) => { state.closed_early.fetch_add(1, Ordering::SeqCst); false }
            }
        }
        // The client closed its side before the answer ended.
        _ = read.read(&mut byte) => { state.closed_early.fetch_add(1, Ordering::SeqCst); false }
    }
}

async fn serve(mut socket: TcpStream, state: Arc<State>) {
    state.connections.fetch_add(1, Ordering::SeqCst);
    let mut served = 0;
    loop {
        let Some(seen) = read_request(&mut socket).await else { return };
        state.seen.lock().expect("seen").push(seen.clone());
        if served > 0 && state.drop_on_reuse.swap(false, Ordering::SeqCst) {
            return;
        }
        served += 1;
        if !answer(&mut socket, &state, seen).await {
            return;
        }
    }
}

/// Answers one request; `true` when the connection stays open for the next one.
async fn answer(socket: &mut TcpStream, state: &State, seen: Seen) -> bool {
    let socket = &mut *socket;
    if seen.method == "GET" {
        let scripted = state.list.lock().expect("list").clone();
        if let Some((status, body)) = scripted {
            let ct =
                if serde_json::from_str::<Value>(&body).is_ok() { "application/json" } else { "text/plain" };
            whole(socket, status, ct, &[], &body).await;
            return false;
        }
        let body = match state.api {
            Api::OpenAi => {
                json!({"object": "list", "data": state.models.iter().map(|m| json!({"id": m, "object": "model", "created": 1, "owned_by": "fake"})).collect::<Vec<_>>()})
            }
            Api::Ollama => {
                json!({"models": state.models.iter().map(|m| json!({"name": m, "model": m, "size": 1})).collect::<Vec<_>>()})
            }
        };
        whole(socket, 200, "application/json", &[], &body.to_string()).await;
        return false;
    }
    let model = seen.body["model"].as_str().unwrap_or("").to_string();
    let wants_stream = seen.body["stream"].as_bool().unwrap_or(false);
    let usage = seen.body["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let script = state.script.lock().expect("script").clone();
    let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    let (content_type, chunks_of) = match state.api {
        Api::OpenAi => ("text/event-stream", openai_chunks(&model, &words, usage)),
        Api::Ollama => ("application/x-ndjson", lines_text(&ollama_lines(&model, &words))),
    };
    match script {
        Script::Answer { delay } | Script::Words { delay, .. } if wants_stream => {
            let chunks = match (&script, state.api) {
                (Script::Words { words, .. }, Api::OpenAi) => openai_chunks(&model, words, usage),
                (Script::Words { words, .. }, Api::Ollama) => lines_text(&ollama_lines(&model, words)),
                _ => chunks_of,
            };
            let mut head = head(200, content_type, &[], None);
            let keep = state.keep_alive.load(Ordering::SeqCst);
            if keep {
                head = head.replace("connection: close\r\n", "");
            }
            stream(socket, state, head, chunks, delay, true).await && keep
        }
        Script::Answer { .. } | Script::Words { .. } => {
            let body = match state.api {
                Api::OpenAi => openai_whole(&model, &words),
                Api::Ollama => ollama_final(&model, &WORDS.concat()),
            };
            whole(socket, 200, "application/json", &[], &body.to_string()).await;
            false
        }
        Script::Lines(lines) => {
            stream(
                socket,
                state,
                head(200, content_type, &[], None),
                lines_text(&lines),
                Duration::ZERO,
                true,
            )
            .await;
            false
        }
        Script::Status { status, headers, body } => {
            let ct =
                if serde_json::from_str::<Value>(&body).is_ok() { "application/json" } else { "text/plain" };
            whole(socket, status, ct, &headers, &body).await;
            false
        }
        Script::CloseMidStream { chunks } => {
            let mut c = chunks_of;
            c.truncate(chunks);
            let (_, mut write) = socket.split();
            let mut text = head(200, content_type, &[], None);
            for chunk in &c {
                text.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
            }
            let _ = write.write_all(text.as_bytes()).await;
            let _ = write.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            // Dropped without the terminating chunk: the answer is cut.
            false
        }
        Script::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            false
        }
        Script::Stall => {
            let mut c = chunks_of;
            c.truncate(1);
            let text = head(200, content_type, &[], None) + &format!("{:x}\r\n{}\r\n", c[0].len(), c[0]);
            let _ = socket.write_all(text.as_bytes()).await;
            let _ = socket.flush().await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            false
        }
        Script::Big { count, size } => {
            let chunk = format!("data: {}\n\n", "x".repeat(size));
            let chunks = vec![chunk; count];
            stream(socket, state, head(200, "text/event-stream", &[], None), chunks, Duration::ZERO, true)
                .await;
            false
        }
        Script::Slow { delay } => {
            tokio::time::sleep(delay).await;
            let body = match state.api {
                Api::OpenAi => openai_whole(&model, &words),
                Api::Ollama => ollama_final(&model, &WORDS.concat()),
            };
            whole(socket, 200, "application/json", &[], &body.to_string()).await;
            false
        }
    }
}

/// NDJSON lines as sent (`\n` after each object).
pub fn lines_text(lines: &[Value]) -> Vec<String> {
    lines.iter().map(|l| format!("{l}\n")).collect()
}
