//! A publish/subscribe bus for messages every instance of a deployment must see (a reply being
//! written, a chat's new title).
//!
//! A message is delivered at once to this process's subscribers and, when `REDIS_URL` is set,
//! published on a Redis channel that every other instance listens to. Messages from one publisher
//! keep their order (one task publishes them in turn). An instance skips its own messages when
//! they come back from Redis. Redis is never waited on: a publish queues the message and returns;
//! while Redis is away the queue drops what does not fit (with a warning), the listener reconnects
//! by itself, and `linked()` says whether the link to the other instances is whole, so a consumer
//! that must not miss anything (a cache) can stop trusting itself until it is back.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, watch};

use crate::kv::Redis;

/// Messages buffered for each local subscriber; one that falls further behind is told it lagged.
const SUBSCRIBER_BUFFER: usize = 1024;
/// Messages waiting to be published on Redis.
const PUBLISH_QUEUE: usize = 4096;
/// How long the listener waits before it connects again after losing Redis.
const RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// What travels on Redis: the message with the instance that published it.
#[derive(Serialize)]
struct Outgoing<'a, T> {
    origin: &'a str,
    message: &'a T,
}

#[derive(serde::Deserialize)]
struct Incoming<T> {
    origin: String,
    message: T,
}

/// A bus carrying messages of type `T`, shared by every request of a process.
pub struct Bus<T> {
    local: broadcast::Sender<Arc<T>>,
    remote: Option<mpsc::Sender<Arc<T>>>,
    linked: watch::Receiver<bool>,
}

impl<T> Bus<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A bus for this process only.
    pub fn local() -> Bus<T> {
        let (local, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (_, linked) = watch::channel(true);
        Bus { local, remote: None, linked }
    }

    /// A bus that also reaches every instance listening on `channel` of `redis`. Spawns the
    /// publishing and listening tasks (call within a Tokio runtime).
    pub fn shared(redis: &Arc<Redis>, channel: &str) -> Bus<T> {
        let (local, _) = broadcast::channel(SUBSCRIBER_BUFFER);
        let (queue, queued) = mpsc::channel(PUBLISH_QUEUE);
        let (link, linked) = watch::channel(false);
        let origin = uuid::Uuid::new_v4().to_string();
        let channel = redis.key(channel);
        tokio::spawn(publish(redis.clone(), channel.clone(), origin.clone(), queued));
        tokio::spawn(listen(redis.clone(), channel, origin, local.clone(), link));
        Bus { local, remote: Some(queue), linked }
    }

    /// Delivers `message` to this process's subscribers and queues it for the other instances.
    pub fn publish(&self, message: T) {
        let message = Arc::new(message);
        let _ = self.local.send(message.clone());
        if let Some(queue) = &self.remote
            && let Err(mpsc::error::TrySendError::Full(_)) = queue.try_send(message)
        {
            tracing::warn!("the Redis publish queue is full; a message reaches only this instance");
        }
    }

    /// Every message published from now on (here or, with Redis, on another instance).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<T>> {
        self.local.subscribe()
    }

    /// `true` while every instance's messages reach this one (always for a local bus). Changes
    /// are observable with `watch::Receiver::changed`.
    pub fn linked(&self) -> watch::Receiver<bool> {
        self.linked.clone()
    }
}

/// Publishes queued messages on Redis in order. A message Redis does not take is dropped (the
/// other instances cannot be reached; `kv::Redis` logs the outage).
async fn publish<T: Serialize + Send + Sync + 'static>(
    redis: Arc<Redis>,
    channel: String,
    origin: String,
    mut queued: mpsc::Receiver<Arc<T>>,
) {
    while let Some(message) = queued.recv().await {
        let wire = Outgoing { origin: origin.as_str(), message: &*message };
        let Ok(text) = serde_json::to_string(&wire) else { continue };
        let channel = channel.as_str();
        let _: Option<i64> = redis
            .run("publish", |mut c| async move {
                redis::cmd("PUBLISH").arg(channel).arg(text).query_async(&mut c).await
            })
            .await;
    }
}

/// Listens on the channel and hands other instances' messages to local subscribers, connecting
/// again whenever the subscription breaks. `link` is `true` only while subscribed.
async fn listen<T: DeserializeOwned + Send + Sync + 'static>(
    redis: Arc<Redis>,
    channel: String,
    origin: String,
    local: broadcast::Sender<Arc<T>>,
    link: watch::Sender<bool>,
) {
    let mut warned = false;
    loop {
        let subscribed = tokio::select! {
            subscribed = subscribe(&redis, &channel) => subscribed,
            // The bus is gone.
            () = link.closed() => return,
        };
        match subscribed {
            Ok(pubsub) => {
                if warned {
                    tracing::info!(channel, "listening to the other instances again");
                    warned = false;
                }
                let _ = link.send(true);
                let mut messages = pubsub.into_on_message();
                loop {
                    let msg = tokio::select! {
                        msg = messages.next() => msg,
                        () = link.closed() => return,
                    };
                    let Some(msg) = msg else { break };
                    let Ok(wire) = serde_json::from_slice::<Incoming<T>>(msg.get_payload_bytes()) else {
                        tracing::warn!(channel, "an unreadable message on the bus was skipped");
                        continue;
                    };
                    if wire.origin != origin {
                        let _ = local.send(Arc::new(wire.message));
                    }
                }
                let _ = link.send(false);
            }
            Err(error) => {
                let _ = link.send(false);
                if !warned {
                    tracing::warn!(channel, %error, "cannot listen to the other instances; retrying");
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
            () = link.closed() => return,
        }
    }
}

async fn subscribe(redis: &Redis, channel: &str) -> Result<redis::aio::PubSub, String> {
    let connect = async {
        let mut pubsub = redis.client().get_async_pubsub().await.map_err(|e| e.to_string())?;
        pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
        // redis-rs answers `Ok` even when Redis refuses the subscription (a Redis user without
        // this channel): on RESP2 a subscribed connection answers PING with an array, any other
        // with `PONG`.
        if redis.client().get_connection_info().redis_settings().protocol() == redis::ProtocolVersion::RESP2 {
            let pong: redis::Value = pubsub.ping().await.map_err(|e| e.to_string())?;
            if !matches!(pong, redis::Value::Array(_)) {
                return Err(format!("Redis refused the subscription to {channel} (channel permissions?)"));
            }
        }
        Ok(pubsub)
    };
    tokio::time::timeout(redis.timeout().max(Duration::from_secs(1)), connect)
        .await
        .map_err(|_| "no answer".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_bus_delivers_every_message_in_order_to_every_subscriber() {
        let bus: Bus<u32> = Bus::local();
        let mut first = bus.subscribe();
        let mut second = bus.subscribe();
        for n in 0..5 {
            bus.publish(n);
        }
        for n in 0..5 {
            assert_eq!(*first.recv().await.expect("first"), n);
            assert_eq!(*second.recv().await.expect("second"), n);
        }
        assert!(*bus.linked().borrow(), "a local bus is always linked");
    }

    #[tokio::test]
    async fn a_subscriber_sees_only_what_is_published_after_it_subscribed() {
        let bus: Bus<String> = Bus::local();
        bus.publish("before".into());
        let mut late = bus.subscribe();
        bus.publish("after".into());
        assert_eq!(*late.recv().await.expect("message"), "after");
        assert!(late.try_recv().is_err());
    }
}
