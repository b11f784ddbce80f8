//! Streamed chat requests to plain-HTTP providers on connections driven by their reader.
//!
//! A connection of the shared client lives in a task of its own: that task reads the provider's
//! socket, decodes each chunk and hands it to the response body over a channel, so every chunk
//! costs two tasks waking each other and a reader rarely finds more than one chunk waiting. Here
//! the reader of the answer (the response body being written to the client, or a saved turn's
//! task) polls the connection itself: one poll reads what the socket holds, decodes it and takes
//! the chunks in the same task, so a burst of provider frames becomes one write to the client.
//!
//! Connections are kept for the next request to the same host and port while idle: an idle
//! connection is watched by a small task (which notices the provider closing it and closes it
//! after `IDLE_LIMIT`) and taken back from it by the next request. A request that fails on a kept
//! connection before any byte of an answer (the provider closed it at that moment) is sent once
//! more on a new connection.
//!
//! Used for `http://` providers when no proxy is configured in the environment (`HTTP_PROXY`,
//! `ALL_PROXY`, lower or upper case), which the shared client would honour; everything else goes
//! through the shared client.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection as Http1};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::chat::Failure;

/// How long an idle connection is kept.
const IDLE_LIMIT: Duration = Duration::from_secs(90);
/// The most idle connections kept per host and port.
const MAX_IDLE: usize = 32;

type Driver = Pin<Box<Http1<TokioIo<TcpStream>, Full<Bytes>>>>;

/// Whether the environment names a proxy for plain-HTTP requests.
pub(super) fn proxy_configured() -> bool {
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Where a request goes.
pub(super) struct Target {
    /// `host:port`, the key of kept connections.
    address: String,
    /// The `Host` header.
    host: HeaderValue,
    /// The request target (path and query).
    path: String,
}

impl Target {
    /// The target of `url` when it is a plain-HTTP URL without credentials.
    pub(super) fn of(url: &str) -> Option<Target> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if parsed.scheme() != "http" || !parsed.username().is_empty() || parsed.password().is_some() {
            return None;
        }
        let port = parsed.port_or_known_default()?;
        // An IPv6 address comes in brackets, as `host:port` and the `Host` header want it.
        let host = parsed.host_str()?.to_string();
        let host_header = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut path = parsed.path().to_string();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        Some(Target {
            address: format!("{host}:{port}"),
            host: HeaderValue::from_str(&host_header).ok()?,
            path,
        })
    }
}

/// Idle connections by `host:port`.
#[derive(Default)]
pub(super) struct Pool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

/// A kept connection: its request handle, and a way to take its connection back from the task
/// that watches it.
struct Idle {
    sender: http1::SendRequest<Full<Bytes>>,
    reclaim: oneshot::Sender<oneshot::Sender<Driver>>,
}

/// A connection in use.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Driver,
    reused: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Idle>>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A kept connection to `address` that is still open, taken back from its watcher.
    async fn take(&self, address: &str) -> Option<Conn> {
        loop {
            let idle = self.lock().get_mut(address).and_then(Vec::pop)?;
            if idle.sender.is_closed() {
                continue;
            }
            let (back, driver) = oneshot::channel();
            if idle.reclaim.send(back).is_err() {
                continue;
            }
            if let Ok(driver) = driver.await {
                return Some(Conn { sender: idle.sender, driver, reused: true });
            }
        }
    }

    /// Keeps a connection whose last answer has been read whole.
    fn park(self: &Arc<Self>, address: String, sender: http1::SendRequest<Full<Bytes>>, mut driver: Driver) {
        if sender.is_closed() {
            return;
        }
        let (reclaim, wanted) = oneshot::channel::<oneshot::Sender<Driver>>();
        {
            let mut idle = self.lock();
            let kept = idle.entry(address).or_default();
            kept.retain(|i| !i.sender.is_closed() && !i.reclaim.is_closed());
            if kept.len() >= MAX_IDLE {
                return;
            }
            kept.push(Idle { sender, reclaim });
        }
        tokio::spawn(async move {
            tokio::select! {
                // The provider closed it (or it failed): the entry is dropped when next seen.
                _ = &mut driver => {}
                () = tokio::time::sleep(IDLE_LIMIT) => {}
                back = wanted => {
                    if let Ok(back) = back {
                        let _ = back.send(driver);
                    }
                }
            }
        });
    }
}

/// The request headers sent with every chat request.
pub(super) fn headers(key: &str, extra: &[(&'static str, &'static str)]) -> Result<HeaderMap, Failure> {
    let mut map = HeaderMap::new();
    map.insert(header::USER_AGENT, HeaderValue::from_static(concat!("duet/", env!("CARGO_PKG_VERSION"))));
    map.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if !key.is_empty() {
        let value = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| Failure::Broken("the connection's key is not a valid header value".into()))?;
        map.insert(header::AUTHORIZATION, value);
    }
    for (name, value) in extra {
        map.insert(*name, HeaderValue::from_static(value));
    }
    Ok(map)
}

/// Sends `body` to `target` and waits for the head of the answer (under `wait`, the limit of the
/// exchange). The answer's body is read through the returned `Body`.
pub(super) async fn post(
    pool: &Arc<Pool>,
    target: &Target,
    headers: &HeaderMap,
    body: Bytes,
    wait: impl Fn() -> Option<Duration>,
) -> Result<(u16, HeaderMap, InlineBody), Failure> {
    let mut fresh_only = false;
    loop {
        let kept = if fresh_only { None } else { pool.take(&target.address).await };
        let mut conn = match kept {
            Some(conn) => conn,
            None => within(wait(), connect(&target.address)).await??,
        };
        let mut request = hyper::Request::new(Full::new(body.clone()));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = target
            .path
            .parse()
            .map_err(|_| Failure::Broken("the provider's URL has an invalid path".into()))?;
        let h = request.headers_mut();
        h.clone_from(headers);
        h.insert(header::HOST, target.host.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut answer = std::pin::pin!(conn.sender.send_request(request));
        let mut closed: Option<Result<(), hyper::Error>> = None;
        let head = std::future::poll_fn(|cx| {
            if closed.is_none()
                && let Poll::Ready(done) = conn.driver.as_mut().poll(cx)
            {
                closed = Some(done);
            }
            answer.as_mut().poll(cx)
        });
        match within(wait(), head).await? {
            Ok(response) => {
                let status = response.status().as_u16();
                let (parts, incoming) = response.into_parts();
                let driver = match closed {
                    None => Some((conn.sender, conn.driver)),
                    Some(_) => None,
                };
                let body = InlineBody {
                    incoming,
                    driver,
                    failed: None,
                    pool: pool.clone(),
                    address: target.address.clone(),
                };
                return Ok((status, parts.headers, body));
            }
            Err(e) if conn.reused && (e.is_canceled() || e.is_incomplete_message() || e.is_closed()) => {
                // The kept connection was closed by the provider as the request went out.
                fresh_only = true;
            }
            Err(e) => return Err(Failure::Broken(reason(&e))),
        }
    }
}

async fn connect(address: &str) -> Result<Conn, Failure> {
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| Failure::Broken(format!("Cannot connect to host {address}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let (sender, driver) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| Failure::Broken(format!("Cannot connect to host {address}: {}", reason(&e))))?;
    Ok(Conn { sender, driver: Box::pin(driver), reused: false })
}

async fn within<T>(wait: Option<Duration>, f: impl Future<Output = T>) -> Result<T, Failure> {
    match wait {
        Some(wait) => tokio::time::timeout(wait, f).await.map_err(|_| Failure::TimedOut),
        None => Ok(f.await),
    }
}

fn reason(error: &hyper::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An answer's body, read by polling its connection in the reader's task. Dropping it before the
/// end closes the connection; read to the end, the connection is kept for the next request.
pub(super) struct InlineBody {
    incoming: Incoming,
    /// The connection while it runs; `None` once it has ended.
    driver: Option<(http1::SendRequest<Full<Bytes>>, Driver)>,
    /// How the connection ended, when it failed.
    failed: Option<String>,
    pool: Arc<Pool>,
    address: String,
}

impl InlineBody {
    /// The next chunk of data; `None` at the end of the body.
    pub(super) fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Failure>>> {
        loop {
            return match self.poll_frame_once(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    // Trailers: not part of the body.
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(failure))) => Poll::Ready(Some(Err(failure))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    fn poll_frame_once(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Failure>>> {
        // What the connection has already handed over, then the connection's own progress (it
        // reads the socket and hands over the next chunk, or ends), then what that produced.
        if let Poll::Ready(frame) = self.poll_incoming(cx) {
            return Poll::Ready(frame);
        }
        let Some((_, driver)) = self.driver.as_mut() else { return Poll::Pending };
        if let Poll::Ready(done) = driver.as_mut().poll(cx) {
            if let Err(e) = done {
                self.failed = Some(reason(&e));
            }
            self.driver = None;
        }
        self.poll_incoming(cx)
    }

    fn poll_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Failure>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(e))) => {
                self.driver = None;
                Poll::Ready(Some(Err(Failure::Broken(self.failed.take().unwrap_or_else(|| reason(&e))))))
            }
            Poll::Ready(None) => {
                if let Some(failed) = self.failed.take() {
                    return Poll::Ready(Some(Err(Failure::Broken(failed))));
                }
                if let Some((sender, driver)) = self.driver.take() {
                    self.pool.park(std::mem::take(&mut self.address), sender, driver);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
