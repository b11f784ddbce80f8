//! The non-converting stream path (`/ollama/api/chat`): the provider's chunks forwarded as they
//! arrive, byte for byte, as `application/x-ndjson` for Ollama, waiting while the client reads.
//! A client that leaves drops the provider's connection; a provider that breaks off midway ends
//! the stream with an Ollama error line (`{"error": "Chat completion stream failed"}`), which
//! Ollama clients read as they read Ollama's own.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::view::{Chunks, Completion, Reply};
use crate::error::AppResult;
use crate::upstream::Kind;
use crate::upstream::chat::Stream;

/// Chunks buffered between the provider and a slow client before reading waits.
const CHANNEL_CHUNKS: usize = 16;

/// The last line of an Ollama stream that broke off.
pub const NDJSON_STREAM_FAILED: &str = "{\"error\": \"Chat completion stream failed\"}\n";

/// Hands `stream` to the request and forwards it to its end (or until the client leaves).
pub async fn forward(kind: Kind, mut stream: Stream, head: oneshot::Sender<AppResult<Completion>>) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let mut headers = stream.headers.clone();
    if kind == Kind::Ollama {
        headers.retain(|(n, _)| n != "content-type");
        headers.push(("content-type".into(), "application/x-ndjson".into()));
    }
    if head
        .send(Ok(Completion::Stream(Reply { status: stream.status, headers, chunks: Chunks::channel(rx) })))
        .is_err()
    {
        return;
    }
    loop {
        match stream.next().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk).await.is_err() {
                    tracing::debug!("client left a streaming completion");
                    return;
                }
            }
            Ok(None) => return,
            Err(failure) => {
                tracing::warn!(provider = kind.as_str(), error = %failure, "chat completion stream failed mid-response");
                drop(stream);
                if kind == Kind::Ollama {
                    let _ = tx.send(Bytes::from_static(NDJSON_STREAM_FAILED.as_bytes())).await;
                }
                return;
            }
        }
    }
}
