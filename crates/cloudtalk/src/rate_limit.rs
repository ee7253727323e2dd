//! The `X-CloudTalkAPI-*` headers: CloudTalk allows 60 operations per minute per company
//! (every integration on the account shares it) and says so on its answers.

use std::time::Duration;

use http::HeaderMap;

/// Header names as CloudTalk documents them.
pub mod header {
    /// Operations allowed per window.
    pub const LIMIT: &str = "x-cloudtalkapi-limit";
    /// Operations left in the window.
    pub const REMAINING: &str = "x-cloudtalkapi-remaining";
    /// When the window resets (Unix seconds).
    pub const RESET_TIME: &str = "x-cloudtalkapi-resettime";
}

/// Parsed rate-limit headers of one answer; an absent or unreadable header is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-CloudTalkAPI-Limit`.
    pub limit: Option<u64>,
    /// `X-CloudTalkAPI-Remaining`.
    pub remaining: Option<u64>,
    /// `X-CloudTalkAPI-ResetTime`, Unix seconds.
    pub reset_at: Option<u64>,
}

impl RateLimit {
    /// Reads the three headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: num(header::LIMIT),
            remaining: num(header::REMAINING),
            reset_at: num(header::RESET_TIME),
        }
    }

    /// How long until the window resets, seen from `now` (Unix seconds); none when the
    /// header is absent.
    pub fn until_reset(&self, now_unix_secs: u64) -> Option<Duration> {
        self.reset_at
            .map(|at| Duration::from_secs(at.saturating_sub(now_unix_secs)))
    }

    /// True when the answer said no operations are left in this window.
    pub fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_and_the_reset_is_a_wait() {
        let mut h = HeaderMap::new();
        h.insert(header::LIMIT, "60".parse().unwrap());
        h.insert(header::REMAINING, "0".parse().unwrap());
        h.insert(header::RESET_TIME, "1700000042".parse().unwrap());
        let rl = RateLimit::from_headers(&h);
        assert_eq!(
            rl,
            RateLimit {
                limit: Some(60),
                remaining: Some(0),
                reset_at: Some(1_700_000_042)
            }
        );
        assert!(rl.exhausted());
        assert_eq!(rl.until_reset(1_700_000_000), Some(Duration::from_secs(42)));
        assert_eq!(rl.until_reset(1_800_000_000), Some(Duration::ZERO));
        assert_eq!(
            RateLimit::from_headers(&HeaderMap::new()),
            RateLimit::default()
        );
    }
}
