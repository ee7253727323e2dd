//! The generic cell rate algorithm: one stored number (the theoretical arrival time) per
//! key decides whether a call may go now, and how long to wait if not.
//!
//! GHL allows 100 requests in any 10 seconds per location. [`Gcra::for_window`] spaces
//! calls evenly and allows a small burst so that no window of the given length ever holds
//! more than the limit, leaving one call of slack for network jitter (GHL counts arrivals,
//! we count departures).

use serde::{Deserialize, Serialize};

use crate::Millis;

/// Spacing and burst tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gcra {
    /// Time between calls at the steady rate.
    pub emission_ms: Millis,
    /// How far ahead of the steady schedule a call may go (burst = 1 + tolerance/emission).
    pub tolerance_ms: Millis,
}

/// What the limiter decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go now; store this as the new theoretical arrival time.
    Allow {
        /// New theoretical arrival time.
        tat: Millis,
    },
    /// Not before `wait` ms from now.
    Wait {
        /// Delay before the call may go.
        wait: Millis,
    },
}

impl Gcra {
    /// At most `max` calls in any `window_ms`, with bursts of up to `burst` calls and one
    /// call of slack: the steady rate is `max - burst - 1` per window.
    pub fn for_window(max: u32, window_ms: Millis, burst: u32) -> Self {
        let burst = burst.clamp(1, max.saturating_sub(2).max(1));
        let steady = i64::from(max.saturating_sub(burst + 1).max(1));
        // Round the spacing up so rounding never adds a call to a window.
        let emission_ms = (window_ms + steady - 1) / steady;
        Self {
            emission_ms,
            tolerance_ms: emission_ms * i64::from(burst - 1),
        }
    }

    /// Decides a call at `now` given the stored theoretical arrival time.
    pub fn decide(&self, tat: Option<Millis>, now: Millis) -> Decision {
        let tat = tat.unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > self.tolerance_ms {
            Decision::Wait {
                wait: ahead - self.tolerance_ms,
            }
        } else {
            Decision::Allow {
                tat: tat + self.emission_ms,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sends as early as allowed (plus random extra delays) and checks every window the
    /// way GHL and the simulator count: the calls in (t - window, t].
    fn max_in_window(gcra: Gcra, window: Millis, delays: &[Millis]) -> usize {
        let mut tat = None;
        let mut now = 0;
        let mut sent = Vec::new();
        for d in delays {
            now += d;
            loop {
                match gcra.decide(tat, now) {
                    Decision::Allow { tat: t } => {
                        tat = Some(t);
                        sent.push(now);
                        break;
                    }
                    Decision::Wait { wait } => now += wait,
                }
            }
        }
        sent.iter()
            .map(|&t| sent.iter().filter(|&&s| s <= t && t - s < window).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn ghl_defaults_space_calls_104_ms_apart() {
        let g = Gcra::for_window(100, 10_000, 2);
        assert_eq!(g.emission_ms, 104);
        assert_eq!(g.tolerance_ms, 104);
        assert_eq!(max_in_window(g, 10_000, &[0; 1000]), 98);
    }

    #[test]
    fn a_backlog_runs_at_at_least_95_per_10_seconds() {
        let g = Gcra::for_window(100, 10_000, 2);
        let mut tat = None;
        let mut now = 0;
        let mut sent = 0;
        while now < 60_000 {
            match g.decide(tat, now) {
                Decision::Allow { tat: t } => {
                    tat = Some(t);
                    sent += 1;
                }
                Decision::Wait { wait } => now += wait,
            }
        }
        assert!(sent * 10_000 / 60_000 >= 95, "{sent} in 60 s");
    }

    proptest! {
        #[test]
        fn no_window_ever_exceeds_the_limit(
            max in 5u32..200,
            window in 1_000i64..20_000,
            burst in 1u32..10,
            delays in proptest::collection::vec(prop_oneof![Just(0i64), 0i64..500, 0i64..20_000], 1..400),
        ) {
            let g = Gcra::for_window(max, window, burst);
            prop_assert!(max_in_window(g, window, &delays) <= max as usize);
        }
    }
}
