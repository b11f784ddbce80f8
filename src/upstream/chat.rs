//! Chat completions sent to a provider: `POST {url}/chat/completions` (OpenAI-compatible) or
//! `POST {url}/api/chat` (Ollama) with the connection's key, under the completion limits
//! (`AIOHTTP_CLIENT_TIMEOUT` for the whole exchange, `AIOHTTP_CLIENT_STREAM_IDLE_TIMEOUT` for
//! each silence of a streamed one), and the answer sorted into what the caller forwards: an
//! error status with its body, a whole body, or a stream read chunk by chunk. Dropping a
//! `Stream` closes the connection to the provider.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::inline::{self, InlineBody};
use super::{Connection, Kind, MAX_BODY, Upstream, describe};

/// Response headers never forwarded: framing and hop-by-hop headers (the answer is re-framed),
/// the provider's `server`/`date`/request id (duet sends its own), and cookies for the provider's
/// site.
const DROPPED_HEADERS: &[&str] = &[
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "server",
    "date",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "set-cookie",
    "x-request-id",
];

/// A body as received: JSON when it parses, the text otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Text(String),
}

impl Body {
    pub(super) fn read(bytes: &[u8]) -> Body {
        match serde_json::from_slice(bytes) {
            Ok(v) => Body::Json(v),
            Err(_) => Body::Text(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

/// What the provider answered.
#[derive(Debug)]
pub enum Answer {
    /// An error status (400 and above) with its body and its `Retry-After` / `Retry-After-Ms`.
    Refused { status: u16, retry: Vec<(String, String)>, body: Body },
    /// A successful answer read whole.
    Whole { status: u16, body: Body },
    /// A successful streamed answer, not read yet.
    Stream(Stream),
}

/// Why there is no answer (or no rest of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A completion limit ran out.
    TimedOut,
    /// The provider could not be reached or broke off; the reason, without URLs.
    Broken(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::TimedOut => f.write_str("timed out"),
            Failure::Broken(reason) => f.write_str(reason),
        }
    }
}

/// The limits of one exchange.
#[derive(Debug, Clone, Copy)]
struct Limits {
    deadline: Option<Instant>,
    idle: Option<Duration>,
}

impl Limits {
    /// How long the next wait may last.
    fn next_wait(&self) -> Option<Duration> {
        let left = self.deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match (left, self.idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn run<T, E>(&self, f: impl Future<Output = Result<T, E>>) -> Result<T, Failure>
    where
        E: Into<Failure>,
    {
        match self.next_wait() {
            Some(wait) => match tokio::time::timeout(wait, f).await {
                Ok(r) => r.map_err(Into::into),
                Err(_) => Err(Failure::TimedOut),
            },
            None => f.await.map_err(Into::into),
        }
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() { Failure::TimedOut } else { Failure::Broken(describe(e)) }
    }
}

/// Where an answer's body is read from: the shared client's connection task, or a connection
/// driven by the reader itself (`inline`).
enum Source {
    Shared(reqwest::Body),
    Inline(InlineBody),
}

impl Source {
    /// The next chunk of data; `None` at the end.
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Failure>>> {
        use http_body::Body as _;
        match self {
            Source::Shared(body) => loop {
                return match Pin::new(&mut *body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => Poll::Ready(Some(Ok(data))),
                        // Trailers: not part of the body.
                        Err(_) => continue,
                    },
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                };
            },
            Source::Inline(body) => body.poll_data(cx),
        }
    }

    async fn next(&mut self) -> Result<Option<Bytes>, Failure> {
        std::future::poll_fn(|cx| self.poll_data(cx)).await.transpose()
    }
}

/// A streamed answer: its status and forwardable headers, and its body chunk by chunk.
pub struct Stream {
    body: Source,
    limits: Limits,
    /// The limit of the wait in progress (armed when a read finds nothing, dropped by the next
    /// chunk).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("status", &self.status).field("headers", &self.headers).finish()
    }
}

impl Stream {
    /// The next chunk as it arrives; `None` at the end. A provider that goes silent for longer
    /// than the idle limit, passes the total limit or breaks off fails.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Failure> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// `next` for a reader that polls (a response body reading the provider itself): a chunk
    /// that has arrived, the end, a failure, or `Pending` with `cx` woken by the next of these.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Failure>> {
        if let Poll::Ready(next) = self.body.poll_data(cx) {
            self.timer = None;
            return Poll::Ready(next.transpose());
        }
        if self.timer.is_none() {
            let Some(wait) = self.limits.next_wait() else { return Poll::Pending };
            self.timer = Some(Box::pin(tokio::time::sleep(wait)));
        }
        match self.timer.as_mut().map(|t| t.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Failure::TimedOut)),
            _ => Poll::Pending,
        }
    }
}

fn forwarded(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_string(), v.to_string())))
        .collect()
}

fn retry_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    forwarded(headers).into_iter().filter(|(n, _)| n == "retry-after" || n == "retry-after-ms").collect()
}

/// Reads a whole body within the limits and `MAX_BODY`.
async fn read_whole(source: &mut Source, limits: Limits) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = limits.run(source.next()).await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err(Failure::Broken(format!("answer larger than {MAX_BODY} bytes")));
        }
    }
    Ok(body)
}

impl Upstream {
    /// The connection of provider `index` of `kind`, while that kind is enabled.
    pub fn connection(&self, kind: Kind, index: usize) -> Option<Connection> {
        let live = self.current();
        live.providers.iter().find(|p| p.kind == kind && p.index == index).map(|p| p.connection.clone())
    }

    /// Sends a chat request. `stream` says whether the request asked for a stream (the idle
    /// limit applies to streams only; an Ollama answer is read as a stream when asked for one,
    /// an OpenAI-compatible one when it comes as `text/event-stream`).
    pub async fn chat(
        &self,
        kind: Kind,
        connection: &Connection,
        payload: &Value,
        stream: bool,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let limits = Limits {
            deadline: self.config.chat_timeout.map(|t| started + t),
            idle: if stream { self.config.stream_idle_timeout } else { None },
        };
        let url = match kind {
            Kind::OpenAi => format!("{}/chat/completions", connection.url),
            Kind::Ollama => format!("{}/api/chat", connection.url),
        };
        let extra: &[(&'static str, &'static str)] = if connection.url.contains("openrouter.ai") {
            &[("HTTP-Referer", "https://openwebui.com/"), ("X-Title", "Open WebUI")]
        } else {
            &[]
        };
        let inline = if stream { self.inline.as_ref().zip(inline::Target::of(&url)) } else { None };
        let (status, head, mut body) = match inline {
            Some((pool, target)) => {
                let headers = inline::headers(&connection.key, extra)?;
                let payload = serde_json::to_vec(payload)
                    .map_err(|e| Failure::Broken(format!("the request could not be written: {e}")))?;
                let (status, head, body) =
                    inline::post(pool, &target, &headers, payload.into(), || limits.next_wait()).await?;
                (status, head, Source::Inline(body))
            }
            None => {
                let mut request = self.chat_client.post(&url).json(payload);
                if !connection.key.is_empty() {
                    request = request.bearer_auth(&connection.key);
                }
                for (name, value) in extra {
                    request = request.header(*name, *value);
                }
                let response = limits.run(request.send()).await?;
                let (status, head) = (response.status().as_u16(), response.headers().clone());
                (status, head, Source::Shared(reqwest::Body::from(response)))
            }
        };
        let sse = head
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("text/event-stream"));
        if status >= 400 {
            let retry = retry_headers(&head);
            let bytes = read_whole(&mut body, limits).await?;
            let body = match Body::read(&bytes) {
                // An error sent as an event stream: its text wrapped the reference's way.
                Body::Text(text) if sse && kind == Kind::OpenAi => {
                    Body::Json(json!({"error": {"message": text, "code": status}}))
                }
                body => body,
            };
            return Ok(Answer::Refused { status, retry, body });
        }
        let streamed = match kind {
            Kind::OpenAi => sse,
            Kind::Ollama => stream,
        };
        if streamed {
            let headers = forwarded(&head);
            return Ok(Answer::Stream(Stream { body, limits, timer: None, status, headers }));
        }
        let bytes = read_whole(&mut body, limits).await?;
        Ok(Answer::Whole { status, body: Body::read(&bytes) })
    }
}
