//! The retry schedule for transient failures: exponential, capped, with jitter.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// Exponential backoff with "equal jitter": the n-th retry waits between half and all of
/// `min(max, base * 2^(n-1))`, so retries of many jobs spread out instead of arriving
/// together after an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// Wait before the first retry.
    pub base_ms: Millis,
    /// Longest wait.
    pub max_ms: Millis,
    /// Attempts before a job or event is dead-lettered.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        // Covers an outage of about two hours before dead-lettering.
        Self {
            base_ms: 1_000,
            max_ms: 600_000,
            max_attempts: 20,
        }
    }
}

impl Backoff {
    /// The wait after `attempt` failed attempts (1-based); `jitter` is uniform in [0, 1).
    pub fn delay(&self, attempt: u32, jitter: f64) -> Millis {
        let exp = attempt.saturating_sub(1).min(40);
        let full = self
            .base_ms
            .saturating_mul(1_i64 << exp.min(30))
            .min(self.max_ms)
            .max(1);
        let half = full / 2;
        half + ((full - half) as f64 * jitter.clamp(0.0, 1.0)) as Millis
    }

    /// True when another attempt is allowed after `attempts` failures.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff {
            base_ms: 100,
            max_ms: 1_000,
            max_attempts: 5,
        };
        assert_eq!(b.delay(1, 1.0), 100);
        assert_eq!(b.delay(2, 1.0), 200);
        assert_eq!(b.delay(3, 1.0), 400);
        assert_eq!(b.delay(9, 1.0), 1_000);
        assert_eq!(b.delay(3, 0.0), 200);
        assert!(b.may_retry(4));
        assert!(!b.may_retry(5));
    }

    proptest! {
        #[test]
        fn delays_are_bounded_and_grow(attempt in 1u32..100, j in 0.0f64..1.0) {
            let b = Backoff::default();
            let d = b.delay(attempt, j);
            prop_assert!(d >= 1 && d <= b.max_ms);
            prop_assert!(b.delay(attempt + 1, 1.0) >= b.delay(attempt, 1.0));
        }
    }
}
