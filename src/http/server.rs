//! The accept loop: HTTP/1.1 over TCP with a deadline for reading request headers (slow clients
//! that trickle a request are cut off), keep-alive, the peer address as `ConnectInfo`, and graceful
//! shutdown (stop accepting, let in-flight requests finish, close idle connections).
//!
//! The header deadline (`HEADER_READ_TIMEOUT`) runs from the moment the server waits for a request
//! until its last header line has arrived. It also bounds how long an idle keep-alive connection
//! stays open waiting for its next request.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::Config;

/// Per-connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT`; `None` = no deadline.
    pub header_read_timeout: Option<Duration>,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        ConnectionLimits { header_read_timeout: config.header_read_timeout }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for open connections to
/// finish their current request.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(true).header_read_timeout(limits.header_read_timeout);
    // `hyper_util`'s `GracefulShutdown` cannot watch an upgradeable HTTP/1 connection, so the
    // shutdown is a watch flag, and each connection task holds a sender of `open_rx`.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (open_tx, mut open_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, %peer, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(req)
        });
        // With upgrades, so that WebSocket routes (GraphQL subscriptions, socket.io) can take the
        // connection over; an upgraded connection leaves the HTTP server and its shutdown.
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let (mut stop, open) = (stop_rx.clone(), open_tx.clone());
        tokio::spawn(async move {
            let _open = open;
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
        });
    }
    drop(listener);
    // Every connection finishes its current request and closes; `open_rx` ends when the last one
    // is gone.
    let _ = stop_tx.send(true);
    drop(open_tx);
    let _ = open_rx.recv().await;
    Ok(())
}

/// Errors of `accept` concern one connection (reset before it was accepted) or the process (out of
/// file descriptors); for the latter, pause before trying again instead of spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
