//! GHL's limits: 100 requests per 10 seconds and 200,000 per day per app and resource.
//!
//! A sliding window is used rather than fixed buckets: it is the strict reading of
//! "100 per 10 s", so a client that passes here never puts more than 100 calls in any
//! 10-second span. Rejected calls do not count. The daily budget resets at UTC midnight
//! (GHL does not document when it resets).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use tokio::time::Instant;

/// The limits, configurable so tests can use small numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per window (`X-RateLimit-Max`).
    pub max: u32,
    /// Window length (`X-RateLimit-Interval-Milliseconds`).
    pub interval_ms: u64,
    /// Requests per day (`X-RateLimit-Limit-Daily`).
    pub daily: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max: 100,
            interval_ms: 10_000,
            daily: 200_000,
        }
    }
}

/// What one request was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The request may proceed.
    pub allowed: bool,
    /// `X-RateLimit-Remaining` after this request.
    pub remaining: u32,
    /// `X-RateLimit-Daily-Remaining` after this request.
    pub daily_remaining: u64,
    /// The limits in force.
    pub limits: Limits,
}

impl Decision {
    /// Writes the five `X-RateLimit-*` headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set("x-ratelimit-limit-daily", self.limits.daily.to_string());
        set(
            "x-ratelimit-daily-remaining",
            self.daily_remaining.to_string(),
        );
        set(
            "x-ratelimit-interval-milliseconds",
            self.limits.interval_ms.to_string(),
        );
        set("x-ratelimit-max", self.limits.max.to_string());
        set("x-ratelimit-remaining", self.remaining.to_string());
    }
}

#[derive(Debug)]
struct Window {
    recent: VecDeque<Instant>,
    day: Date,
    day_count: u64,
}

/// Per (app, resource) counters.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: Limits,
    windows: HashMap<String, Window>,
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            windows: HashMap::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits; counters are kept.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Counts a request for `key` if the limits allow it.
    pub fn check(&mut self, key: &str) -> Decision {
        self.decide(key, true)
    }

    /// The current state for `key` without counting a request.
    pub fn peek(&mut self, key: &str) -> Decision {
        self.decide(key, false)
    }

    fn decide(&mut self, key: &str, consume: bool) -> Decision {
        let now = Instant::now();
        let today = OffsetDateTime::now_utc().date();
        let limits = self.limits;
        let window = self
            .windows
            .entry(key.to_owned())
            .or_insert_with(|| Window {
                recent: VecDeque::new(),
                day: today,
                day_count: 0,
            });
        if window.day != today {
            window.day = today;
            window.day_count = 0;
        }
        let interval = Duration::from_millis(limits.interval_ms);
        while window
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            window.recent.pop_front();
        }
        let allowed =
            (window.recent.len() as u64) < u64::from(limits.max) && window.day_count < limits.daily;
        if allowed && consume {
            window.recent.push_back(now);
            window.day_count += 1;
        }
        Decision {
            allowed,
            remaining: limits.max.saturating_sub(window.recent.len() as u32),
            daily_remaining: limits.daily.saturating_sub(window.day_count),
            limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_101st_request_in_the_window_is_refused_and_the_window_slides() {
        let mut rl = RateLimiter::new(Limits::default());
        for i in 0..100 {
            let d = rl.check("app:loc");
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        assert!(!rl.check("app:loc").allowed);
        assert!(rl.check("app:other").allowed, "counters are per resource");
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert!(!rl.check("app:loc").allowed);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(rl.check("app:loc").allowed);
    }

    #[tokio::test]
    async fn the_daily_budget_is_enforced() {
        let mut rl = RateLimiter::new(Limits {
            max: 100,
            interval_ms: 10_000,
            daily: 3,
        });
        for _ in 0..3 {
            assert!(rl.check("k").allowed);
        }
        let d = rl.check("k");
        assert!(!d.allowed);
        assert_eq!(d.daily_remaining, 0);
    }
}
