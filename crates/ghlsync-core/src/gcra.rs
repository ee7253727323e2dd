//! The generic cell rate algorithm: one stored number (the theoretical arrival time) per
//! key decides whether a call may go now, and how long to wait if not.
//!
//! GHL allows 100 requests in any 10 seconds per location. [`Gcra::for_window`] spaces
//! calls evenly and allows a small burst so that no window of the given length ever holds
//! more than the limit, leaving one call of slack for network jitter (GHL counts arrivals,
//! we count departures).
//!
//! A caller may take a place in the schedule ahead of time (`max_wait`) and sleep until it:
//! the schedule then moves on by exactly one spacing per call however slowly the caller
//! came back to ask, so a slow store or a busy machine costs no throughput.

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
    /// The call is counted and goes at `at` (now, or at most `max_wait` from now); store
    /// `tat` as the new theoretical arrival time.
    Allow {
        /// When the call may go.
        at: Millis,
        /// New theoretical arrival time.
        tat: Millis,
    },
    /// The first free place is `wait` ms from now, further than the caller waits; nothing
    /// is counted.
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

    /// Decides a call asked for at `now` given the stored theoretical arrival time; a
    /// caller that would rather not wait passes `max_wait` 0.
    pub fn decide(&self, tat: Option<Millis>, now: Millis, max_wait: Millis) -> Decision {
        let tat = tat.unwrap_or(now).max(now);
        let at = (tat - self.tolerance_ms).max(now);
        if at - now > max_wait {
            Decision::Wait { wait: at - now }
        } else {
            Decision::Allow {
                at,
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
                match gcra.decide(tat, now, 0) {
                    Decision::Allow { tat: t, .. } => {
                        tat = Some(t);
                        sent.push(now);
                        break;
                    }
                    Decision::Wait { wait } => now += wait,
                }
            }
        }
        peak(&sent, window)
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
            match g.decide(tat, now, 0) {
                Decision::Allow { tat: t, .. } => {
                    tat = Some(t);
                    sent += 1;
                }
                Decision::Wait { wait } => now += wait,
            }
        }
        assert!(sent * 10_000 / 60_000 >= 95, "{sent} in 60 s");
    }

    /// `workers` callers that each take a place up to `max_wait` ahead, go at it, and come
    /// back to ask for the next call `latency(i)` ms later (a store write, the GHL call, the
    /// next claim). Returns the departure times.
    fn reserving_workers(
        g: Gcra,
        workers: usize,
        max_wait: Millis,
        until: Millis,
        latency: impl Fn(usize) -> Millis,
    ) -> Vec<Millis> {
        let mut asks: Vec<Millis> = vec![0; workers];
        let mut tat = None;
        let mut sent = Vec::new();
        loop {
            // The earliest asker goes first, as the per-location gate orders them.
            let (w, &now) = asks.iter().enumerate().min_by_key(|(_, t)| **t).unwrap();
            if now >= until {
                return sent;
            }
            match g.decide(tat, now, max_wait) {
                Decision::Allow { at, tat: t } => {
                    tat = Some(t);
                    sent.push(at);
                    asks[w] = at + latency(sent.len());
                }
                Decision::Wait { wait } => asks[w] = now + wait,
            }
        }
    }

    fn peak(sent: &[Millis], window: Millis) -> usize {
        sent.iter()
            .map(|&t| sent.iter().filter(|&&s| s <= t && t - s < window).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_place_taken_ahead_makes_slow_askers_lose_no_throughput() {
        let g = Gcra::for_window(100, 10_000, 2);
        // Every seventh call's worker comes back 400 ms late: a slow fsync, a busy machine.
        let slow = |i: usize| if i.is_multiple_of(7) { 400 } else { 15 };
        let ahead = reserving_workers(g, 16, 3_000, 60_000, slow);
        let asking_late = reserving_workers(g, 16, 0, 60_000, slow);
        let per_10s = |sent: &[Millis]| sent.len() as f64 * 10_000.0 / 60_000.0;
        assert!(per_10s(&ahead) >= 96.0, "{} per 10 s", per_10s(&ahead));
        assert!(peak(&ahead, 10_000) <= 98);
        // Without places taken ahead the same delays cost calls.
        assert!(per_10s(&asking_late) < per_10s(&ahead) - 1.0);
    }

    proptest! {
        #[test]
        fn places_taken_ahead_never_exceed_the_limit(
            max in 5u32..200,
            window in 1_000i64..20_000,
            burst in 1u32..10,
            workers in 1usize..32,
            max_wait in 0i64..5_000,
            latencies in proptest::collection::vec(0i64..2_000, 1..50),
        ) {
            let g = Gcra::for_window(max, window, burst);
            let sent = reserving_workers(g, workers, max_wait, 4 * window, |i| latencies[i % latencies.len()]);
            prop_assert!(peak(&sent, window) <= max as usize);
        }

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
