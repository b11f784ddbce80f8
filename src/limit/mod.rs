//! Rate limiting behind the `RateLimiter` trait. `MemoryRateLimiter` keeps an exact sliding-window
//! log per key in this process; `RedisRateLimiter` (in `redis`) shares the window between
//! instances and falls back to a `MemoryRateLimiter` while Redis is unreachable.
//!
//! Semantics (all implementations): at most `limit` accepted attempts per key within any
//! `window`; a refused attempt is not counted, and its `retry_after` is the exact number of
//! seconds (rounded up) until the oldest counted attempt leaves the window.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod redis;
pub use self::redis::RedisRateLimiter;

/// The answer for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after: u64 },
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The fixed-size key under which a text (a lower-cased email) is counted: its SHA-256 as 64
/// lower-case hex digits, so a huge or odd text never becomes a huge or odd key in memory or Redis.
pub fn key_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    Sha256::digest(text.as_bytes()).iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// Counts an attempt for `key` and decides whether it may proceed.
pub trait RateLimiter: Send + Sync {
    fn hit<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Decision>;
}

/// A time source (injectable in tests): monotonic for the in-memory log, and wall-clock
/// milliseconds since the Unix epoch for the log kept in Redis, which several hosts share.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn epoch_millis(&self) -> u64;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn epoch_millis(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// A clock moved by hand; both readings move together.
pub struct ManualClock {
    start: Instant,
    start_millis: u64,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        ManualClock {
            start: Instant::now(),
            start_millis: SystemClock.epoch_millis(),
            elapsed: Mutex::default(),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut elapsed = self.elapsed.lock().unwrap_or_else(|e| e.into_inner());
        *elapsed += by;
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn epoch_millis(&self) -> u64 {
        self.start_millis + self.elapsed().as_millis() as u64
    }
}

/// An exact sliding-window limiter held in this process's memory.
pub struct MemoryRateLimiter {
    limit: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    log: HashMap<String, VecDeque<Instant>>,
    hits_since_sweep: u32,
}

impl MemoryRateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_clock(limit, window, Arc::new(SystemClock))
    }

    pub fn with_clock(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        MemoryRateLimiter { limit, window, clock, state: Mutex::new(State::default()) }
    }

    /// Decides synchronously (the trait wraps this).
    pub fn check(&self, key: &str) -> Decision {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.hits_since_sweep += 1;
        if state.hits_since_sweep >= 1024 {
            state.hits_since_sweep = 0;
            let window = self.window;
            state.log.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let times = state.log.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if (times.len() as u32) < self.limit {
            times.push_back(now);
            Decision::Allowed { remaining: self.limit - times.len() as u32 }
        } else {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            Decision::Limited { retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        }
    }
}

impl RateLimiter for MemoryRateLimiter {
    fn hit<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Decision> {
        let decision = self.check(key);
        Box::pin(async move { decision })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_digest_is_sha256_hex() {
        assert_eq!(key_digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(key_digest(&"a".repeat(8 << 20)).len(), 64);
    }

    #[test]
    fn sixteenth_attempt_in_the_window_is_limited_and_the_edge_is_exact() {
        let clock = Arc::new(ManualClock::new());
        let limiter = MemoryRateLimiter::with_clock(15, Duration::from_secs(180), clock.clone());
        for i in 0..15 {
            assert_eq!(limiter.check("a@x.io"), Decision::Allowed { remaining: 14 - i });
            clock.advance(Duration::from_secs(1));
        }
        // 15 s have passed since the first attempt.
        assert_eq!(limiter.check("a@x.io"), Decision::Limited { retry_after: 165 });
        assert!(matches!(limiter.check("b@x.io"), Decision::Allowed { .. }));
        // One second before the first attempt leaves the window: still limited.
        clock.advance(Duration::from_secs(164));
        assert_eq!(limiter.check("a@x.io"), Decision::Limited { retry_after: 1 });
        // Exactly at the edge the first attempt has left; one slot opens, then closes again.
        clock.advance(Duration::from_secs(1));
        assert_eq!(limiter.check("a@x.io"), Decision::Allowed { remaining: 0 });
        assert_eq!(limiter.check("a@x.io"), Decision::Limited { retry_after: 1 });
    }
}
