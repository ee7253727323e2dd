//! Fault injection: added latency, error rates per status, outage windows, hanging requests,
//! forced 429s, and "apply then time out" (the change happens, the caller sees a timeout).
//!
//! Rules are set through the library ([`crate::SimHandle::set_faults`]) or the control
//! endpoint `PUT /_sim/faults`, and apply to GHL API routes only, never to `/_sim`.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What a rule does to a matching request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultAction {
    /// Wait this long, then serve normally.
    Latency {
        /// Added delay.
        ms: u64,
    },
    /// Answer this status without serving (500, 502, 503, 504, 429, ...).
    Status {
        /// HTTP status.
        status: u16,
    },
    /// Never answer in useful time (the handler does not run).
    Hang,
    /// Serve the request (the change is applied), then hold the answer back so the caller
    /// times out.
    ApplyThenTimeout,
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The effect.
    pub action: FaultAction,
    /// Only this HTTP method, if set.
    #[serde(default)]
    pub method: Option<String>,
    /// Only paths starting with this, if set.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only paths ending with this, if set (`/tags`, `/notes`).
    #[serde(default)]
    pub path_suffix: Option<String>,
    /// Chance per matching request (default 1.0).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Apply to at most this many requests, then stop.
    #[serde(default)]
    pub count: Option<u64>,
    /// Active from this many ms after the rule is set (an outage that starts later).
    #[serde(default)]
    pub starts_after_ms: Option<u64>,
    /// Active for this many ms (an outage window), then inactive.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

impl FaultRule {
    /// A rule with `action` on every request.
    pub fn always(action: FaultAction) -> Self {
        Self {
            action,
            method: None,
            path_prefix: None,
            path_suffix: None,
            probability: None,
            count: None,
            starts_after_ms: None,
            duration_ms: None,
        }
    }

    /// Limits the rule to the next `n` matching requests.
    pub fn times(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Limits the rule to a method and path prefix.
    pub fn on(mut self, method: &str, path_prefix: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self.path_prefix = Some(path_prefix.to_owned());
        self
    }

    /// Limits the rule to paths ending with `suffix`.
    pub fn ending(mut self, suffix: &str) -> Self {
        self.path_suffix = Some(suffix.to_owned());
        self
    }

    /// Applies the rule with this probability.
    pub fn with_probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }

    /// Makes the rule an outage window of this length, starting now.
    pub fn for_duration(mut self, d: Duration) -> Self {
        self.duration_ms = Some(d.as_millis() as u64);
        self
    }
}

/// The rule set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultConfig {
    /// Rules, first match wins per kind of effect.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// How long `hang` and `apply_then_timeout` hold a request (default 60 s).
    #[serde(default)]
    pub hang_ms: Option<u64>,
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    set_at: Instant,
    used: u64,
}

/// What the simulator does with one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Added latency.
    pub latency: Duration,
    /// Answer this status instead of serving.
    pub status: Option<u16>,
    /// Do not answer (for `hold`).
    pub hang: bool,
    /// Serve, then hold the answer.
    pub apply_then_timeout: bool,
    /// How long to hold.
    pub hold: Duration,
}

impl Verdict {
    /// A short label for the audit log.
    pub fn label(&self) -> Option<String> {
        if self.hang {
            Some("hang".into())
        } else if let Some(s) = self.status {
            Some(format!("status {s}"))
        } else if self.apply_then_timeout {
            Some("apply_then_timeout".into())
        } else if !self.latency.is_zero() {
            Some(format!("latency {}ms", self.latency.as_millis()))
        } else {
            None
        }
    }
}

/// The active rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<ActiveRule>,
    hang: Duration,
}

impl Faults {
    /// Replaces the rules; windows start now.
    pub fn set(&mut self, config: FaultConfig) {
        let now = Instant::now();
        self.hang = Duration::from_millis(config.hang_ms.unwrap_or(60_000));
        self.rules = config
            .rules
            .into_iter()
            .map(|rule| ActiveRule {
                rule,
                set_at: now,
                used: 0,
            })
            .collect();
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules as configured, with what is left of their counts.
    pub fn config(&self) -> FaultConfig {
        FaultConfig {
            rules: self
                .rules
                .iter()
                .map(|a| {
                    let mut rule = a.rule.clone();
                    rule.count = rule.count.map(|c| c.saturating_sub(a.used));
                    rule
                })
                .collect(),
            hang_ms: Some(self.hang.as_millis() as u64),
        }
    }

    /// Decides what happens to a request.
    pub fn judge(&mut self, method: &str, path: &str) -> Verdict {
        let now = Instant::now();
        let mut verdict = Verdict {
            hold: self.hang,
            ..Verdict::default()
        };
        let mut rng = rand::rng();
        for active in &mut self.rules {
            let rule = &active.rule;
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                || rule
                    .path_prefix
                    .as_deref()
                    .is_some_and(|p| !path.starts_with(p))
                || rule
                    .path_suffix
                    .as_deref()
                    .is_some_and(|p| !path.ends_with(p))
                || rule.count.is_some_and(|c| active.used >= c)
            {
                continue;
            }
            let elapsed = now.duration_since(active.set_at).as_millis() as u64;
            let start = rule.starts_after_ms.unwrap_or(0);
            if elapsed < start || rule.duration_ms.is_some_and(|d| elapsed >= start + d) {
                continue;
            }
            if rule
                .probability
                .is_some_and(|p| !rng.random_bool(p.clamp(0.0, 1.0)))
            {
                continue;
            }
            let applied = match rule.action {
                FaultAction::Latency { ms } => {
                    verdict.latency += Duration::from_millis(ms);
                    true
                }
                FaultAction::Status { status } if verdict.status.is_none() && !verdict.hang => {
                    verdict.status = Some(status);
                    true
                }
                FaultAction::Hang if verdict.status.is_none() && !verdict.hang => {
                    verdict.hang = true;
                    true
                }
                FaultAction::ApplyThenTimeout if !verdict.apply_then_timeout => {
                    verdict.apply_then_timeout = true;
                    true
                }
                _ => false,
            };
            if applied {
                active.used += 1;
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_windows_and_filters() {
        let mut f = Faults::default();
        f.set(FaultConfig {
            rules: vec![
                FaultRule::always(FaultAction::Status { status: 503 })
                    .for_duration(Duration::from_secs(5)),
                FaultRule::always(FaultAction::ApplyThenTimeout)
                    .times(1)
                    .on("POST", "/contacts"),
            ],
            hang_ms: Some(100),
        });
        let v = f.judge("POST", "/contacts/");
        assert_eq!(v.status, Some(503));
        assert!(v.apply_then_timeout);
        assert!(
            !f.judge("POST", "/contacts/").apply_then_timeout,
            "count of one is spent"
        );
        assert_eq!(f.judge("GET", "/contacts/x").status, Some(503));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            f.judge("GET", "/contacts/x"),
            Verdict {
                hold: Duration::from_millis(100),
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn suffix_filters_by_path_end() {
        let mut f = Faults::default();
        f.set(FaultConfig {
            rules: vec![
                FaultRule::always(FaultAction::Status { status: 500 })
                    .on("POST", "/contacts/")
                    .ending("/tags"),
            ],
            hang_ms: None,
        });
        assert_eq!(f.judge("POST", "/contacts/upsert").status, None);
        assert_eq!(f.judge("POST", "/contacts/abc/tags").status, Some(500));
    }

    #[test]
    fn probability_zero_never_fires() {
        let mut f = Faults::default();
        f.set(FaultConfig {
            rules: vec![FaultRule::always(FaultAction::Hang).with_probability(0.0)],
            hang_ms: None,
        });
        for _ in 0..100 {
            assert!(!f.judge("GET", "/").hang);
        }
    }
}
