//! The proxy benchmark's model provider: a minimal OpenAI-compatible server (axum, no
//! authentication) with deterministic answers, so `bench/proxy.sh` can measure the same stream
//! directly and through duet.
//!
//! - `GET /v1/models` lists `bench-fast` and `bench-paced`.
//! - `POST /v1/chat/completions` with `"stream": true` answers `text/event-stream`: a first chunk
//!   with the role and empty content, `max_tokens` content chunks (default `--chunks`), a chunk
//!   with `finish_reason: "stop"`, then `data: [DONE]`. `bench-fast` writes them as fast as the
//!   connection takes them; `bench-paced` writes the first content chunk at once and then one
//!   every `--interval-ms`. Without `stream` the whole answer is one `chat.completion` object.
//!
//! usage: fake_llm <port> [--chunks N] [--interval-ms T]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use tokio::time::{Interval, MissedTickBehavior};

const FAST: &str = "bench-fast";
const PACED: &str = "bench-paced";
const CREATED: u64 = 1_700_000_000;

#[derive(Clone, Copy)]
struct Config {
    chunks: usize,
    interval: Duration,
}

async fn models() -> impl IntoResponse {
    let model = |id: &str| json!({"id": id, "object": "model", "created": CREATED, "owned_by": "bench"});
    axum::Json(json!({"object": "list", "data": [model(FAST), model(PACED)]}))
}

/// The text of content chunk `i`: deterministic, a few bytes like a real token.
fn token(i: usize) -> String {
    format!("tok{i} ")
}

fn chunk(model: &str, delta: &Value, finish: Option<&str>) -> Bytes {
    let frame = json!({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    Bytes::from(format!("data: {frame}\n\n"))
}

enum Stage {
    Role,
    Content(usize),
    Finish,
    Done,
    End,
}

/// An event stream written as the connection polls for it; a paced one waits for its tick
/// before each content chunk after the first.
struct Sse {
    model: Arc<str>,
    chunks: usize,
    tick: Option<Interval>,
    stage: Stage,
}

impl http_body::Body for Sse {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let bytes = match this.stage {
            Stage::Role => {
                this.stage = if this.chunks == 0 { Stage::Finish } else { Stage::Content(0) };
                chunk(&this.model, &json!({"role": "assistant", "content": ""}), None)
            }
            Stage::Content(i) => {
                if let Some(tick) = this.tick.as_mut().filter(|_| i > 0) {
                    ready!(tick.poll_tick(cx));
                }
                this.stage = if i + 1 < this.chunks { Stage::Content(i + 1) } else { Stage::Finish };
                chunk(&this.model, &json!({"content": token(i)}), None)
            }
            Stage::Finish => {
                this.stage = Stage::Done;
                chunk(&this.model, &json!({}), Some("stop"))
            }
            Stage::Done => {
                this.stage = Stage::End;
                Bytes::from_static(b"data: [DONE]\n\n")
            }
            Stage::End => return Poll::Ready(None),
        };
        Poll::Ready(Some(Ok(http_body::Frame::data(bytes))))
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": "invalid_request_error"}})))
        .into_response()
}

async fn completions(State(config): State<Config>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    let interval = match model {
        FAST => None,
        PACED => Some(config.interval),
        _ => return refuse(StatusCode::NOT_FOUND, &format!("The model `{model}` does not exist")),
    };
    let chunks =
        request.get("max_tokens").and_then(Value::as_u64).map(|n| n as usize).unwrap_or(config.chunks);
    if request.get("stream").and_then(Value::as_bool) != Some(true) {
        let content: String = (0..chunks).map(token).collect();
        return axum::Json(json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": chunks, "total_tokens": chunks + 1},
        }))
        .into_response();
    }
    let tick = interval.filter(|i| !i.is_zero()).map(|period| {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick
    });
    let sse = Sse { model: Arc::from(model), chunks, tick, stage: Stage::Role };
    (
        [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        Body::new(sse),
    )
        .into_response()
}

fn usage() -> ! {
    eprintln!("usage: fake_llm <port> [--chunks N] [--interval-ms T]");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(port) = args.next() else { usage() };
    let mut config = Config { chunks: 100, interval: Duration::from_millis(20) };
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match flag.as_str() {
            "--chunks" => config.chunks = value as usize,
            "--interval-ms" => config.interval = Duration::from_millis(value),
            _ => usage(),
        }
    }
    let app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .with_state(config);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
