//! Ingress: where events enter. Every route verifies its caller over the raw bytes, checks
//! the few fields it needs, hands the event to [`Ingest`] and answers 2xx only once the
//! event is committed. "Not now" is always a 429 with `Retry-After`, because GHL retries
//! 429s and nothing else.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use ghlsync_core::gcra::Decision;
use ghlsync_core::{Gcra, Millis, NewEvent};
use ghlsync_store::{AnyStore, Inserted, Store};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::app::App;
use crate::error::ApiError;
use crate::metrics as m;

/// The ingress routes: every connector's, with the body limit.
pub fn router(app: &App) -> Router<App> {
    crate::connectors::routes().layer(DefaultBodyLimit::max(app.config().server.max_body_bytes))
}

/// The body, or 413 / 400 as JSON.
pub(crate) fn body(
    body: Result<Bytes, BytesRejection>,
    route: &'static str,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            reject(route, Reason::TooLarge);
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body exceeds the size limit",
            )
        } else {
            reject(route, Reason::Unreadable);
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "unreadable_body",
                rejection.body_text(),
            )
        }
    })
}

/// The hex SHA-256 of a raw body: the dedupe key of an event whose sender gave no id.
pub(crate) fn body_digest(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// The ingress routes, as metrics label them.
pub const ROUTES: [&str; 5] = ["ghl", "workflow", "app", "cloudtalk", "bridge"];

/// Why ingress refused a request, as `ghlsync_ingress_rejections_total` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `too_large`.
    TooLarge,
    /// `unreadable`.
    Unreadable,
    /// `signature`.
    Signature,
    /// `malformed`.
    Malformed,
    /// `missing_field`.
    MissingField,
    /// `bad_timestamp`.
    BadTimestamp,
    /// `replay`.
    Replay,
    /// `overloaded`.
    Overloaded,
    /// `store_unavailable`.
    StoreUnavailable,
    /// `unknown_route`.
    UnknownRoute,
    /// `rate_limited`.
    RateLimited,
    /// `webhook_key`.
    WebhookKey,
    /// `invalid_event`.
    InvalidEvent,
    /// `missing_key`.
    MissingKey,
    /// `invalid_key`.
    InvalidKey,
}

impl Reason {
    /// Every reason, for the metrics registered at start.
    pub const ALL: [Self; 15] = [
        Self::TooLarge,
        Self::Unreadable,
        Self::Signature,
        Self::Malformed,
        Self::MissingField,
        Self::BadTimestamp,
        Self::Replay,
        Self::Overloaded,
        Self::StoreUnavailable,
        Self::UnknownRoute,
        Self::RateLimited,
        Self::WebhookKey,
        Self::InvalidEvent,
        Self::MissingKey,
        Self::InvalidKey,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Unreadable => "unreadable",
            Self::Signature => "signature",
            Self::Malformed => "malformed",
            Self::MissingField => "missing_field",
            Self::BadTimestamp => "bad_timestamp",
            Self::Replay => "replay",
            Self::Overloaded => "overloaded",
            Self::StoreUnavailable => "store_unavailable",
            Self::UnknownRoute => "unknown_route",
            Self::RateLimited => "rate_limited",
            Self::WebhookKey => "webhook_key",
            Self::InvalidEvent => "invalid_event",
            Self::MissingKey => "missing_key",
            Self::InvalidKey => "invalid_key",
        }
    }
}

/// Counts a rejection; logged without secrets or bodies.
pub(crate) fn reject(route: &'static str, reason: Reason) {
    let reason = reason.as_str();
    metrics::counter!(m::INGRESS_REJECTIONS, "route" => route, "reason" => reason).increment(1);
    tracing::info!(route, reason, "webhook rejected");
}

/// How long a body without an id of its own is taken for a resend of the same body, on the
/// bridge's routes: the repeats seen in the wild come within milliseconds, and the same body
/// later is a new event (an agent online again, a status back to what it was).
pub(crate) const RESEND_WINDOW_MS: Millis = 60_000;

/// A route's request limit (`server.route_requests_per_minute` per `key`): 429 with
/// `Retry-After`, naming `who`, once it is spent.
pub(crate) fn within_limit(
    app: &crate::app::App,
    route: &'static str,
    key: &str,
    who: &str,
    now: Millis,
) -> Result<(), ApiError> {
    app.route_limiter().check(key, now).map_err(|wait| {
        reject(route, Reason::RateLimited);
        ApiError::too_many(
            "rate_limited",
            format!(
                "{who} allows {} requests per minute",
                app.config().server.route_requests_per_minute
            ),
            (wait as u64).div_ceil(1000),
        )
    })
}

/// The answer for a stored (or already stored) event.
pub(crate) fn accepted(route: &'static str, inserted: Inserted) -> Response {
    let (status, id) = match inserted {
        Inserted::New(id) => ("accepted", id),
        Inserted::Duplicate(id) => ("duplicate", id),
    };
    accepted_counter(route, status).increment(1);
    // Written by hand: this is the hot path, and the body is two known tokens.
    let body = format!(r#"{{"status":"{status}","id":"{id}"}}"#);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The acceptance counters, registered once (a lookup per request costs more than the
/// increment).
fn accepted_counter(route: &'static str, status: &'static str) -> &'static metrics::Counter {
    use std::sync::OnceLock;
    static COUNTERS: OnceLock<[metrics::Counter; 4]> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        let c = |r: &'static str, s: &'static str| metrics::counter!(m::INGRESS_REQUESTS, "route" => r, "outcome" => s);
        [c("ghl", "accepted"), c("ghl", "duplicate"), c("workflow", "accepted"), c("workflow", "duplicate")]
    });
    let i = usize::from(route != "ghl") * 2 + usize::from(status != "accepted");
    &counters[i]
}

/// Why ingress could not take an event now.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many events waiting or commits too slow.
    Overloaded,
    /// The store failed; the event was not stored.
    Unavailable(String),
}

impl Refusal {
    pub(crate) fn into_api_error(self, route: &'static str) -> ApiError {
        match self {
            Self::Overloaded => {
                reject(route, Reason::Overloaded);
                ApiError::too_many("overloaded", "ghlsync is busy; retry later", 5)
            }
            Self::Unavailable(e) => {
                reject(route, Reason::StoreUnavailable);
                tracing::error!(error = %e, "event not stored");
                // Still 429: a 5xx would make GHL drop the event.
                ApiError::too_many(
                    "unavailable",
                    "the event could not be stored; retry later",
                    10,
                )
            }
        }
    }
}

/// Where the writer sends one request's outcome.
type Reply = oneshot::Sender<Result<Inserted, String>>;

struct Pending {
    event: NewEvent,
    reply: Reply,
}

/// Group commit: requests queue their events here and one writer stores everything queued
/// in one transaction, then answers them all. Under load, batches grow while a commit is in
/// flight, so the cost of each fsync is shared by many events.
#[derive(Debug)]
pub struct Ingest {
    queue: mpsc::Sender<Pending>,
    commit_us: Arc<AtomicU64>,
    max_commit_us: u64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// The writer's side of the queue: takes what is queued (at most `max_batch`), stores it in
/// one transaction and answers every request of the batch.
struct Writer {
    rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    commit_us: Arc<AtomicU64>,
    wake: Arc<Notify>,
}

impl Writer {
    /// SQLite: the commit blocks this thread, which has nothing else to do meanwhile.
    fn run_blocking(mut self, store: &ghlsync_store::SqliteStore) {
        // No commit delay: waiting for a bigger batch was measured slower, because the
        // fsync of a bigger commit takes longer and the waiting requests hold connections.
        while let Some(first) = self.rx.blocking_recv() {
            let (events, replies) = self.batch(first);
            let started = Instant::now();
            let result = store.insert_events_blocking(&events);
            self.answer(result, replies, started.elapsed());
        }
    }

    /// PostgreSQL: the commit is a network round trip through sqlx.
    async fn run(mut self, store: &AnyStore) {
        while let Some(first) = self.rx.recv().await {
            let (events, replies) = self.batch(first);
            let started = Instant::now();
            let result = store.insert_events(&events).await;
            self.answer(result, replies, started.elapsed());
        }
    }

    /// The first event and whatever else is queued, up to `max_batch`.
    fn batch(&mut self, first: Pending) -> (Vec<NewEvent>, Vec<Reply>) {
        let mut events = Vec::with_capacity(self.max_batch.min(64));
        let mut replies = Vec::with_capacity(self.max_batch.min(64));
        events.push(first.event);
        replies.push(first.reply);
        while events.len() < self.max_batch {
            match self.rx.try_recv() {
                Ok(p) => {
                    events.push(p.event);
                    replies.push(p.reply);
                }
                Err(_) => break,
            }
        }
        (events, replies)
    }

    /// Answers a batch's requests and records the commit.
    fn answer(
        &self,
        result: Result<Vec<Inserted>, ghlsync_store::StoreError>,
        replies: Vec<Reply>,
        took: Duration,
    ) {
        // Exponential moving average of commit time, in microseconds.
        let sample = took.as_micros() as u64;
        let old = self.commit_us.load(Ordering::Relaxed);
        self.commit_us.store(
            if old == 0 {
                sample
            } else {
                (old * 7 + sample) / 8
            },
            Ordering::Relaxed,
        );
        metrics::histogram!(m::INBOX_COMMIT_SECONDS).record(took.as_secs_f64());
        metrics::histogram!(m::INBOX_BATCH_SIZE).record(replies.len() as f64);
        match result {
            Ok(inserted) => {
                for (reply, outcome) in replies.into_iter().zip(inserted) {
                    let _ = reply.send(Ok(outcome));
                }
                self.wake.notify_waiters();
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

impl Ingest {
    /// Starts the writer. `wake` is notified after every commit (processors wait on it).
    pub fn start(
        store: AnyStore,
        max_pending: usize,
        max_batch: usize,
        max_commit: Duration,
        wake: Arc<Notify>,
    ) -> Self {
        let (queue, rx) = mpsc::channel::<Pending>(max_pending);
        let commit_us = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            rx,
            max_batch,
            commit_us: Arc::clone(&commit_us),
            wake,
        };
        // The writer has a thread of its own: on the shared runtime it would queue behind
        // every HTTP task at each await of a commit, which doubles commit latency under load.
        // SQLite's group commit is synchronous there; PostgreSQL's runs on a small runtime.
        std::thread::Builder::new()
            .name("ghlsync-ingest".into())
            .spawn(move || match store {
                AnyStore::Sqlite(sqlite) => writer.run_blocking(&sqlite),
                AnyStore::Postgres(_) => match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(writer.run(&store)),
                    Err(e) => tracing::error!(error = %e, "the ingest writer could not start"),
                },
            })
            .expect("the ingest writer thread starts");
        Self {
            queue,
            commit_us,
            max_commit_us: max_commit.as_micros() as u64,
        }
    }

    /// Stores an event; returns once it is committed.
    pub async fn submit(&self, event: NewEvent) -> Result<Inserted, Refusal> {
        if self.commit_us.load(Ordering::Relaxed) > self.max_commit_us {
            return Err(Refusal::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Pending { event, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Refusal::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    Refusal::Unavailable("the writer has stopped".into())
                }
            })?;
        match answer.await {
            Ok(Ok(inserted)) => Ok(inserted),
            Ok(Err(e)) => Err(Refusal::Unavailable(e)),
            Err(_) => Err(Refusal::Unavailable("the writer has stopped".into())),
        }
    }
}

/// A per-key request limit (default 100 per minute), GCRA in memory.
#[derive(Debug)]
pub struct KeyedLimiter {
    gcra: Gcra,
    tats: std::sync::Mutex<HashMap<String, Millis>>,
}

impl KeyedLimiter {
    /// `per_minute` requests per minute per key, all of them usable at once.
    pub fn per_minute(per_minute: u32) -> Self {
        let emission_ms = (60_000 / i64::from(per_minute.max(1))).max(1);
        Self {
            gcra: Gcra {
                emission_ms,
                tolerance_ms: emission_ms * i64::from(per_minute.max(1) - 1),
            },
            tats: std::sync::Mutex::default(),
        }
    }

    /// `Ok` to go, or the wait in ms.
    pub fn check(&self, key: &str, now: Millis) -> Result<(), Millis> {
        let mut tats = self
            .tats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.gcra.decide(tats.get(key).copied(), now, 0) {
            Decision::Allow { tat, .. } => {
                match tats.get_mut(key) {
                    Some(stored) => *stored = tat,
                    None => {
                        tats.insert(key.to_owned(), tat);
                    }
                }
                Ok(())
            }
            Decision::Wait { wait } => Err(wait),
        }
    }
}

/// Webhook ids answered 429 recently. GHL retries the same signed body, with its original
/// `timestamp`, up to about 70 minutes later; those retries are let through the replay
/// window, which otherwise would reject them and lose the event.
#[derive(Debug, Default)]
pub struct Deferred {
    ids: std::sync::Mutex<HashMap<String, Instant>>,
}

impl Deferred {
    const KEEP: Duration = Duration::from_secs(2 * 60 * 60);

    /// Remembers an id answered 429.
    pub fn remember(&self, id: &str) {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.len() >= 100_000 {
            ids.retain(|_, at| at.elapsed() < Self::KEEP);
        }
        ids.insert(id.to_owned(), Instant::now());
    }

    /// True when the id was answered 429 within the last two hours.
    pub fn contains(&self, id: &str) -> bool {
        let ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.get(id).is_some_and(|at| at.elapsed() < Self::KEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_limiter_allows_the_minute_then_refuses() {
        let l = KeyedLimiter::per_minute(100);
        for _ in 0..100 {
            assert!(l.check("route-a", 0).is_ok());
        }
        let wait = l.check("route-a", 0).unwrap_err();
        assert!(wait > 0 && wait <= 600);
        assert!(l.check("route-b", 0).is_ok(), "per key");
        assert!(l.check("route-a", 600).is_ok(), "one more after 600 ms");
    }

    #[test]
    fn deferred_ids_are_remembered() {
        let d = Deferred::default();
        d.remember("w1");
        assert!(d.contains("w1"));
        assert!(!d.contains("w2"));
    }
}
