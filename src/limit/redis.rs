//! The sliding window kept in Redis, shared by every instance.
//!
//! One Lua script per attempt makes check-and-count atomic: the key is a sorted set of accepted
//! attempts scored by their time in epoch milliseconds. The script drops entries that left the
//! window, counts the rest, and either adds the attempt (and renews the key's expiry) or answers
//! the oldest score so the caller can compute `retry_after`. "Now" comes from the caller's `Clock`,
//! so tests drive time, and all instances agree as far as their clocks do.
//!
//! When Redis fails or is slow, the attempt is decided by an in-memory limiter with the same
//! limits instead (per instance, so a Redis outage never lifts the limit).

use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, Clock, Decision, MemoryRateLimiter, RateLimiter, SystemClock};
use crate::kv::Redis;

const SCRIPT: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if oldest[2] then
  return {0, tonumber(oldest[2])}
end
return {0, now}
";

/// An exact sliding-window limiter whose log lives in Redis under `<prefix>:ratelimit:<name>:<key>`
/// (for sign-in, `<key>` is `key_digest` of the lower-cased email).
pub struct RedisRateLimiter {
    redis: Arc<Redis>,
    name: String,
    limit: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    script: redis::Script,
    fallback: MemoryRateLimiter,
}

impl RedisRateLimiter {
    pub fn new(redis: Arc<Redis>, name: &str, limit: u32, window: Duration) -> Self {
        Self::with_clock(redis, name, limit, window, Arc::new(SystemClock))
    }

    pub fn with_clock(
        redis: Arc<Redis>,
        name: &str,
        limit: u32,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        RedisRateLimiter {
            redis,
            name: name.to_string(),
            limit,
            window,
            fallback: MemoryRateLimiter::with_clock(limit, window, clock.clone()),
            clock,
            script: redis::Script::new(SCRIPT),
        }
    }

    /// The Redis key holding `key`'s log.
    pub fn redis_key(&self, key: &str) -> String {
        self.redis.key(&format!("ratelimit:{}:{key}", self.name))
    }

    async fn hit_redis(&self, key: &str) -> Option<Decision> {
        let now = self.clock.epoch_millis();
        let window = self.window.as_millis() as u64;
        let redis_key = self.redis_key(key);
        let member = format!("{now}-{}", uuid::Uuid::new_v4().simple());
        let script = &self.script;
        let limit = self.limit;
        let answer: (i64, i64) = self
            .redis
            .run("rate limit", |mut c| async move {
                script.key(&redis_key).arg(now).arg(window).arg(limit).arg(&member).invoke_async(&mut c).await
            })
            .await?;
        Some(match answer {
            (1, remaining) => Decision::Allowed { remaining: u32::try_from(remaining).unwrap_or(0) },
            (_, oldest) => {
                let leaves = u64::try_from(oldest).unwrap_or(0).saturating_add(window);
                let wait_ms = leaves.saturating_sub(now);
                Decision::Limited { retry_after: wait_ms.div_ceil(1000) }
            }
        })
    }
}

impl RateLimiter for RedisRateLimiter {
    fn hit<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            match self.hit_redis(key).await {
                Some(decision) => decision,
                None => self.fallback.check(key),
            }
        })
    }
}
