//! The limiters every connector calls through, their state in the store so instances
//! share one budget. [`Limiter`] is a key (`ghl:<location>`) and a spacing ([`Gcra`]), for
//! limits over a sliding interval: a call takes its place together with every other call
//! that asked meanwhile (one transaction for them all). [`WindowLimiter`] counts operations
//! per fixed window, as CloudTalk does. A hold (the remote system said stop) pushes the
//! stored schedule back and is remembered here, so calls that took their places before it
//! wait too.

use std::time::Duration;

use ghlsync_core::gcra::Decision;
use ghlsync_core::{Gcra, Millis};
use ghlsync_store::{RateRequest, Store};

use super::JobError;
use crate::app::{App, now_ms};
use crate::metrics as m;

/// Waits shorter than this are slept through; longer ones put the job back.
pub(crate) const INLINE_WAIT_MS: Millis = 3_000;

/// One limiter, as a connector's calls use it.
pub(crate) struct Limiter<'a> {
    app: &'a App,
    key: String,
    gcra: Gcra,
}

impl<'a> Limiter<'a> {
    /// The limiter `key` with its spacing.
    pub(crate) fn new(app: &'a App, key: String, gcra: Gcra) -> Self {
        Self { app, key, gcra }
    }

    /// Takes the call's place in the schedule and sleeps until it; a place further than
    /// [`INLINE_WAIT_MS`] away holds the job instead. The call sleeps without holding
    /// anything: the next call of the same limiter takes the next place at once, so however
    /// long the store takes to answer, the schedule loses no time.
    pub(crate) async fn permit(&self) -> Result<(), JobError> {
        let request = RateRequest {
            key: self.key.clone(),
            gcra: self.gcra,
            max_wait: INLINE_WAIT_MS,
        };
        let store = self.app.store();
        let decision = self
            .app
            .delivery_state()
            .reservations
            .submit(request, |batch| async move {
                store
                    .rate_reserve(&batch, now_ms())
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(JobError::Transient)?;
        let at = match decision {
            Decision::Allow { at, .. } => at,
            Decision::Wait { wait } => {
                metrics::counter!(m::RATE_LIMIT_WAITS).increment(1);
                return Err(JobError::Held {
                    until: now_ms() + wait,
                });
            }
        };
        let wait = at - now_ms();
        if wait > 0 {
            metrics::counter!(m::RATE_LIMIT_WAITS).increment(1);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        // The remote system may have said stop while this call slept.
        match self.held_until() {
            Some(until) if until > now_ms() => Err(JobError::Held { until }),
            _ => Ok(()),
        }
    }

    /// Holds the limiter until `until`: no call goes before it, on any instance.
    pub(crate) async fn hold(&self, until: Millis) {
        {
            let mut holds = self.holds();
            let held = holds.entry(self.key.clone()).or_default();
            *held = (*held).max(until);
        }
        let tat = until + self.gcra.tolerance_ms;
        if let Err(e) = self.app.store().rate_hold(&self.key, tat).await {
            tracing::warn!(error = %e, key = %self.key, "holding the rate limiter failed");
        }
    }

    fn held_until(&self) -> Option<Millis> {
        self.holds().get(&self.key).copied()
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Millis>> {
        holds(self.app)
    }
}

/// A fixed-window limiter (CloudTalk counts operations per company per calendar minute):
/// a key, a limit per window and the window's length. The windows' counts are in the store,
/// so instances share one budget. A call never goes within `margin` of a window's edge, so
/// a clock a little off or a slow request is still counted in the window it was meant for.
pub(crate) struct WindowLimiter<'a> {
    app: &'a App,
    key: String,
    limit: u32,
    window_ms: Millis,
    margin_ms: Millis,
}

impl<'a> WindowLimiter<'a> {
    /// The limiter `key`: `limit` operations per `window_ms`, `margin_ms` from the edges.
    pub(crate) fn new(
        app: &'a App,
        key: String,
        limit: u32,
        window_ms: Millis,
        margin_ms: Millis,
    ) -> Self {
        Self {
            app,
            key,
            limit,
            window_ms,
            margin_ms,
        }
    }

    /// Takes up to `want` operations of the current window (or, within `margin` of its end,
    /// the next one) and sleeps until they may go: how many were granted, at least one. A
    /// spent window holds the job until the next one, using no attempt.
    pub(crate) async fn permit(&self, want: u32) -> Result<u32, JobError> {
        if let Some(until) = self.held_until()
            && until > now_ms()
        {
            return Err(JobError::Held { until });
        }
        let now = now_ms();
        let mut start = now - now.rem_euclid(self.window_ms);
        if start + self.window_ms - now <= self.margin_ms {
            start += self.window_ms;
        }
        let granted = self
            .app
            .store()
            .window_take(&self.key, start, self.limit, want.max(1))
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?;
        if granted == 0 {
            metrics::counter!(m::RATE_LIMIT_WAITS).increment(1);
            return Err(JobError::Held {
                until: start + self.window_ms + self.margin_ms,
            });
        }
        let wait = start + self.margin_ms - now_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        Ok(granted)
    }

    /// Spends the rest of the current window, for every instance, and holds the key here
    /// until `until`: the remote system said this window is spent.
    pub(crate) async fn hold(&self, until: Millis) {
        {
            let mut holds = holds(self.app);
            let held = holds.entry(self.key.clone()).or_default();
            *held = (*held).max(until);
        }
        let now = now_ms();
        let start = now - now.rem_euclid(self.window_ms);
        if let Err(e) = self
            .app
            .store()
            .window_take(&self.key, start, self.limit, self.limit)
            .await
        {
            tracing::warn!(error = %e, key = %self.key, "holding the window limiter failed");
        }
    }

    fn held_until(&self) -> Option<Millis> {
        holds(self.app).get(&self.key).copied()
    }
}

fn holds(app: &App) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Millis>> {
    app.delivery_state()
        .holds
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
