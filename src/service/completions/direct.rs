//! An unsaved OpenAI-compatible completion without a task of its own: the request asks the
//! provider itself, and a streamed answer is read from the provider by the response body as the
//! client's connection takes it. Each poll hands over everything that has arrived since the last
//! one as one piece (one write to the client for several provider frames when they come faster
//! than the client's connection is written), never waiting for more; nothing is read while the
//! client is not reading (backpressure), and a client that leaves drops the body and with it the
//! provider's connection. This is the path of most API traffic: one hand-over fewer per frame
//! than `drive`'s task and channel, which a saved turn needs (it outlives its client).

use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};

use super::drive::{Job, STREAM_FAILED, settle};
use super::view::{Chunks, Completion, Reply};
use crate::error::AppResult;
use crate::upstream::chat::{Answer, Stream};
use crate::upstream::convert::DONE;

/// The most bytes handed over at once (a poll stops gathering there).
const MAX_PIECE: usize = 64 * 1024;

/// Asks the provider and answers with its refusal, its whole body or its stream (read by the
/// response). For jobs without a writer on an OpenAI-compatible provider.
pub async fn start(job: Job) -> AppResult<Completion> {
    let Job { upstream, kind, connection, payload, stream, .. } = job;
    match upstream.chat(kind, &connection, &payload, stream).await {
        Ok(Answer::Stream(s)) => {
            let (status, headers) = (s.status, s.headers.clone());
            Ok(Completion::Stream(Reply { status, headers, chunks: Chunks::direct(Direct::new(s)) }))
        }
        sent => settle(kind, sent, false, None).0,
    }
}

/// The provider's stream as the response body reads it.
#[derive(Debug)]
pub struct Direct {
    /// `None` once the provider's answer has ended (or failed).
    stream: Option<Stream>,
    /// What is still to be sent after the provider's answer (the failure frame and `[DONE]`).
    tail: Option<Bytes>,
}

impl Direct {
    fn new(stream: Stream) -> Direct {
        Direct { stream: Some(stream), tail: None }
    }

    /// Everything that has arrived (at most about `MAX_PIECE`), `Pending` when nothing has, `None`
    /// at the end. A stream that fails midway ends with the reference's error frame and `[DONE]`.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let Some(stream) = self.stream.as_mut() else { return Poll::Ready(self.tail.take()) };
        let mut first: Option<Bytes> = None;
        let mut joined: Option<BytesMut> = None;
        loop {
            let size = joined.as_ref().map_or(first.as_ref().map_or(0, Bytes::len), BytesMut::len);
            if size >= MAX_PIECE {
                break;
            }
            match stream.poll_next(cx) {
                Poll::Ready(Ok(Some(chunk))) => match (&mut joined, first.take()) {
                    (Some(j), _) => j.extend_from_slice(&chunk),
                    (None, None) => first = Some(chunk),
                    (None, Some(previous)) => {
                        let mut j = BytesMut::with_capacity(previous.len() + chunk.len());
                        j.extend_from_slice(&previous);
                        j.extend_from_slice(&chunk);
                        joined = Some(j);
                    }
                },
                Poll::Ready(Ok(None)) => {
                    // The provider's connection is not needed any more.
                    self.stream = None;
                    break;
                }
                Poll::Ready(Err(failure)) => {
                    tracing::warn!(provider = crate::upstream::Kind::OpenAi.as_str(), error = %failure, "chat completion stream failed mid-response");
                    self.stream = None;
                    self.tail = Some(Bytes::from(format!("{STREAM_FAILED}{DONE}")));
                    break;
                }
                Poll::Pending => break,
            }
        }
        match (joined, first) {
            (Some(j), _) => Poll::Ready(Some(j.freeze())),
            (None, Some(chunk)) => Poll::Ready(Some(chunk)),
            (None, None) if self.stream.is_none() => Poll::Ready(self.tail.take()),
            (None, None) => Poll::Pending,
        }
    }
}
