//! The optional Redis connection shared by every instance of a deployment (`REDIS_URL`).
//!
//! Redis is a fast path, never a single point of failure: every command is bounded by
//! `REDIS_TIMEOUT`, and a failed or slow command returns `None` so the caller uses its fallback
//! (the in-memory limiter, the database's revocation table). The first failure of an outage is
//! logged as a warning, the recovery as info. While Redis is down, commands are skipped without
//! waiting, except for one probe per second; the connection manager reconnects by itself, so a
//! start-up with Redis down works and joins Redis once it answers.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long commands are skipped after a failure before one is tried again.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// A Redis connection with a key prefix, a command timeout and outage bookkeeping.
pub struct Redis {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    /// Set while Redis is considered down: when the outage began and when to probe next.
    down: Option<(Instant, Instant)>,
}

impl Redis {
    /// Prepares a lazy connection to `url` (no I/O: Redis may be down at start-up).
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Redis, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("REDIS_URL: {e}"))?;
        Ok(Redis { client, manager, prefix: prefix.to_string(), timeout, health: Mutex::default() })
    }

    /// The client, for connections of their own (subscriptions).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The command timeout (`REDIS_TIMEOUT`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `<prefix>:<rest>`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    /// Whether the last command succeeded (or none has failed yet).
    pub fn is_up(&self) -> bool {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).down.is_none()
    }

    /// Runs `op` on a connection within the timeout. `None` when Redis failed, timed out, or is
    /// known to be down and not due for a probe.
    pub async fn run<T, F, Fut>(&self, what: &'static str, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        {
            let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((since, next_probe)) = health.down {
                let now = Instant::now();
                if now < next_probe {
                    return None;
                }
                health.down = Some((since, now + PROBE_INTERVAL));
            }
        }
        let result = tokio::time::timeout(self.timeout, op(self.manager.clone())).await;
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(Ok(value)) => {
                if let Some((since, _)) = health.down.take() {
                    tracing::info!(
                        down_for_ms = since.elapsed().as_millis() as u64,
                        "Redis is reachable again"
                    );
                }
                Some(value)
            }
            Ok(Err(err)) => {
                Self::failed(&mut health, what, &err.to_string());
                None
            }
            Err(_) => {
                Self::failed(&mut health, what, &format!("no answer within {} ms", self.timeout.as_millis()));
                None
            }
        }
    }

    fn failed(health: &mut Health, what: &str, error: &str) {
        let now = Instant::now();
        match &mut health.down {
            Some((_, next_probe)) => *next_probe = now + PROBE_INTERVAL,
            None => {
                tracing::warn!(
                    operation = what,
                    error,
                    "Redis is unavailable; using the in-memory rate limiter and the database until it is back"
                );
                health.down = Some((now, now + PROBE_INTERVAL));
            }
        }
    }

    /// `PING`; logs whether Redis answered (start-up).
    pub async fn ping(&self) -> bool {
        let pong: Option<String> =
            self.run("ping", |mut c| async move { redis::cmd("PING").query_async(&mut c).await }).await;
        pong.is_some()
    }

    /// `SET key 1 [PX ttl]` (no expiry when `ttl` is `None`).
    pub async fn set_flag(&self, what: &'static str, key: &str, ttl: Option<Duration>) -> bool {
        let done: Option<()> = self
            .run(what, |mut c| async move {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(1);
                if let Some(ttl) = ttl {
                    cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
                }
                cmd.query_async(&mut c).await
            })
            .await;
        done.is_some()
    }

    /// `EXISTS key`; `None` when Redis could not answer.
    pub async fn exists(&self, what: &'static str, key: &str) -> Option<bool> {
        self.run(what, |mut c| async move { redis::cmd("EXISTS").arg(key).query_async::<bool>(&mut c).await })
            .await
    }
}
