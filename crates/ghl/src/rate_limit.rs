//! The `X-RateLimit-*` headers GHL sends on every response.
//!
//! GHL allows 100 requests per 10 seconds and 200,000 per day per app and location
//! (docs/oauth/Authorization.md). Callers that pace themselves read these values rather than
//! assume them, because the limits are per resource and may change.

use std::time::Duration;

use http::HeaderMap;

/// Header names exactly as GHL documents them.
pub mod header {
    /// Daily request limit.
    pub const LIMIT_DAILY: &str = "x-ratelimit-limit-daily";
    /// Requests left today.
    pub const DAILY_REMAINING: &str = "x-ratelimit-daily-remaining";
    /// Length of the burst window in milliseconds.
    pub const INTERVAL_MILLISECONDS: &str = "x-ratelimit-interval-milliseconds";
    /// Maximum requests in the burst window.
    pub const MAX: &str = "x-ratelimit-max";
    /// Requests left in the current burst window.
    pub const REMAINING: &str = "x-ratelimit-remaining";
}

/// Parsed rate-limit headers of one response. A header that is absent or unparsable is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit-Daily`.
    pub limit_daily: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`.
    pub daily_remaining: Option<u64>,
    /// `X-RateLimit-Interval-Milliseconds`.
    pub interval_ms: Option<u64>,
    /// `X-RateLimit-Max`.
    pub max: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
}

impl RateLimit {
    /// Reads the five headers from a response.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit_daily: num(header::LIMIT_DAILY),
            daily_remaining: num(header::DAILY_REMAINING),
            interval_ms: num(header::INTERVAL_MILLISECONDS),
            max: num(header::MAX),
            remaining: num(header::REMAINING),
        }
    }

    /// True when any of the headers was present.
    pub fn is_known(&self) -> bool {
        *self != Self::default()
    }

    /// The burst window, when GHL told us its length.
    pub fn interval(&self) -> Option<Duration> {
        self.interval_ms.map(Duration::from_millis)
    }

    /// True when the daily budget is spent.
    pub fn daily_exhausted(&self) -> bool {
        self.daily_remaining == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn parses_all_five_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "X-RateLimit-Limit-Daily",
            HeaderValue::from_static("200000"),
        );
        h.insert(
            "X-RateLimit-Daily-Remaining",
            HeaderValue::from_static("199990"),
        );
        h.insert(
            "X-RateLimit-Interval-Milliseconds",
            HeaderValue::from_static("10000"),
        );
        h.insert("X-RateLimit-Max", HeaderValue::from_static("100"));
        h.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
        let rl = RateLimit::from_headers(&h);
        assert_eq!(rl.limit_daily, Some(200_000));
        assert_eq!(rl.daily_remaining, Some(199_990));
        assert_eq!(rl.interval(), Some(Duration::from_secs(10)));
        assert_eq!(rl.max, Some(100));
        assert_eq!(rl.remaining, Some(0));
        assert!(!rl.daily_exhausted());
    }

    #[test]
    fn missing_or_garbage_headers_are_none() {
        let mut h = HeaderMap::new();
        h.insert("X-RateLimit-Max", HeaderValue::from_static("lots"));
        let rl = RateLimit::from_headers(&h);
        assert!(!rl.is_known());
    }
}
