//! Delivery: the dispatcher claims due outbox jobs and hands each to the connector of its
//! target (`crate::connectors`), then records the outcome. What every connector shares lives
//! here: the claim loop, the outcome classes ([`JobError`]: held, transient, permanent), the
//! retry schedule, the limiter places taken through the store ([`limiter`]) and the group
//! commit of places and outcomes ([`group_commit`]).
//!
//! - A call waits for its limiter (shared through the store, so several instances share one
//!   budget); a long wait puts the job back without using up an attempt, and so does a hold
//!   (the remote system said stop).
//! - Transient failures retry with exponential backoff and jitter; permanent ones go to the
//!   dead-letter queue at once with the remote system's message.
//!
//! Scaling with locations: each location is a lane. A claim takes the lanes in turn, at most
//! `dispatcher.per_location` running jobs per lane, so a location's backlog never delays
//! another's; a job waiting for its location's next place holds nothing any other location
//! needs. Limiter places and job outcomes are group-committed: the store work per call
//! shrinks as the number of locations grows.

pub(crate) mod group_commit;
pub(crate) mod limiter;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ghlsync_core::changeset::{LocationSync, LogEntry};
use ghlsync_core::gcra::Decision;
use ghlsync_core::{Changeset, Job, Millis, SyncStatus, Target};
use ghlsync_store::{FinishedJob, JobOutcome, RateRequest, Store};
use rand::Rng;
use serde_json::json;
use tokio::sync::{Notify, Semaphore, watch};

use crate::app::{App, now_ms};
use crate::metrics as m;

/// How a job run ended, short of success.
#[derive(Debug)]
pub enum JobError {
    /// The limiter or GHL asked us to wait: retry at this time, no attempt used.
    Held {
        /// When to try again.
        until: Millis,
    },
    /// Held as [`Held`](Self::Held), and this run applied nothing its next run's look-ups
    /// would not find: the claim is forgotten, so the next run acts as a first run (no
    /// looking for what it might have done before).
    Unsent {
        /// When to try again.
        until: Millis,
    },
    /// Worth retrying with backoff.
    Transient(String),
    /// Retrying cannot help: dead-letter with this message.
    Permanent {
        /// GHL's message (or ours).
        message: String,
        /// Some of the job's calls were made before the failure.
        partial: bool,
    },
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Held { until } | Self::Unsent { until } => {
                write!(f, "held by the rate limit until {until}")
            }
            Self::Transient(m) | Self::Permanent { message: m, .. } => f.write_str(m),
        }
    }
}

pub(crate) fn permanent(message: impl Into<String>) -> JobError {
    JobError::Permanent {
        message: message.into(),
        partial: false,
    }
}

/// Limiter places asked for in one transaction at most.
const MAX_RESERVATIONS: usize = 1_000;
/// Job outcomes recorded in one transaction at most.
const MAX_OUTCOMES: usize = 256;
/// The shortest time between two claims: finished jobs free their lanes' places many times
/// a second, and one claim refills them all.
const CLAIM_GAP: Duration = Duration::from_millis(50);

/// What the dispatcher keeps between jobs, for every connector.
pub(crate) struct DeliveryState {
    /// Limiter places, group-committed in the order asked.
    reservations: group_commit::GroupCommit<RateRequest, Decision>,
    /// Job outcomes, group-committed.
    outcomes: group_commit::GroupCommit<FinishedJob, bool>,
    /// The latest hold per limiter key (a 429 or a spent window): a job that took its place
    /// in the schedule before the hold does not go while it lasts.
    holds: std::sync::Mutex<HashMap<String, Millis>>,
}

impl Default for DeliveryState {
    fn default() -> Self {
        Self {
            reservations: group_commit::GroupCommit::new(MAX_RESERVATIONS),
            outcomes: group_commit::GroupCommit::new(MAX_OUTCOMES),
            holds: std::sync::Mutex::default(),
        }
    }
}

/// The dispatcher loop: claims jobs lane by lane and runs up to `concurrency` at once.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    let cfg = app.config().dispatcher.clone();
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    let finished = Arc::new(Notify::new());
    loop {
        if *stop.borrow() {
            break;
        }
        let wake = app.wake_dispatcher().clone();
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let free = slots.available_permits().min(cfg.batch as usize) as u32;
        if free == 0 {
            tokio::select! {
                _ = finished.notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let claimed_at = tokio::time::Instant::now();
        let jobs = match app
            .store()
            .claim_jobs(&owner(&app), now_ms(), cfg.lease_ms, free, cfg.per_location)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed");
                tokio::time::sleep(Duration::from_millis(cfg.poll_ms)).await;
                continue;
            }
        };
        let full = jobs.len() as u32 == free;
        for job in jobs {
            // `free` permits were available and only this loop takes them.
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                break;
            };
            let app = app.clone();
            let finished = Arc::clone(&finished);
            tokio::spawn(async move {
                execute(&app, job).await;
                drop(slot);
                finished.notify_one();
            });
        }
        if !full {
            // Nothing more is due now: wait for new jobs, a finished one (its lane may take
            // the next) or the poll interval.
            tokio::select! {
                _ = &mut notified => {}
                _ = finished.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(cfg.poll_ms)) => {}
                _ = stop.changed() => {}
            }
        }
        tokio::time::sleep_until(claimed_at + CLAIM_GAP).await;
    }
    // Let jobs in flight finish before returning.
    let _ = slots.acquire_many(cfg.concurrency as u32).await;
}

/// The lease owner of this instance's dispatcher.
fn owner(app: &App) -> String {
    format!("{}-d", app.instance())
}

/// Runs one job and records its outcome.
async fn execute(app: &App, job: Job) {
    let kind = job.command.kind();
    let outcome = crate::connectors::run(app, &job).await;
    let now = now_ms();
    let outcome = match outcome {
        Ok((result, changes)) => {
            metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "done").increment(1);
            JobOutcome::Done { result, changes }
        }
        Err(e @ (JobError::Held { .. } | JobError::Unsent { .. })) => {
            metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "held").increment(1);
            let (until, forget_claim) = match e {
                JobError::Unsent { until } => (until, true),
                JobError::Held { until } => (until, false),
                _ => unreachable!("matched above"),
            };
            JobOutcome::Queued {
                run_at: until,
                count_attempt: false,
                forget_claim,
                error: None,
            }
        }
        Err(JobError::Transient(message)) => {
            let backoff = app.config().dispatcher.backoff;
            let attempts = job.attempts + 1;
            if backoff.may_retry(attempts) {
                metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "retry").increment(1);
                tracing::info!(job = %job.id, attempts, error = %message, "job will be retried");
                JobOutcome::Queued {
                    run_at: now + backoff.delay(attempts, rand::rng().random()),
                    count_attempt: true,
                    forget_claim: false,
                    error: Some(message),
                }
            } else {
                metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "dead").increment(1);
                let message = format!("{message} (gave up after {attempts} attempts)");
                JobOutcome::Dead {
                    changes: failure_changes(&job, &message, false, now),
                    error: message,
                }
            }
        }
        Err(JobError::Permanent { message, partial }) => {
            metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "dead").increment(1);
            tracing::warn!(job = %job.id, error = %message, "job dead-lettered");
            JobOutcome::Dead {
                changes: failure_changes(&job, &message, partial, now),
                error: message,
            }
        }
    };
    let finished = FinishedJob {
        id: job.id,
        outcome,
    };
    if let Err(e) = record(app, finished).await {
        // The lease ends and the job runs again; it is idempotent.
        tracing::warn!(job = %job.id, error = %e, "recording the job outcome failed");
    }
}

/// Records a job's outcome together with whatever other jobs finished meanwhile. A batch the
/// store refuses is recorded job by job, so one job's bad changes never cost the others
/// theirs.
async fn record(app: &App, finished: FinishedJob) -> Result<bool, String> {
    let owner = owner(app);
    let store = app.store();
    app.delivery_state()
        .outcomes
        .submit(finished, |batch| {
            let owner = owner.clone();
            async move {
                match store.finish_jobs(&owner, &batch, now_ms()).await {
                    Ok(recorded) => Ok(recorded),
                    Err(e) if batch.len() > 1 => {
                        tracing::warn!(error = %e, jobs = batch.len(), "recording a batch of outcomes failed; recording them one by one");
                        let mut recorded = Vec::with_capacity(batch.len());
                        for job in batch {
                            recorded.push(
                                store
                                    .finish_jobs(&owner, std::slice::from_ref(&job), now_ms())
                                    .await
                                    .map_err(|e| e.to_string())?
                                    .first()
                                    .copied()
                                    .unwrap_or(false),
                            );
                        }
                        Ok(recorded)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
}

fn failure_changes(job: &Job, message: &str, partial: bool, now: Millis) -> Changeset {
    // A location's sync status is about GHL; the application's endpoint failing is not.
    let is_ghl = job.command.target() == Target::Ghl;
    Changeset {
        location_sync: is_ghl
            .then(|| LocationSync {
                location_id: job.location_id.clone(),
                status: if partial {
                    SyncStatus::Partial
                } else {
                    SyncStatus::Failed
                },
                error: Some(message.to_owned()),
                at: now,
            })
            .into_iter()
            .collect(),
        log: vec![LogEntry {
            location_id: Some(job.location_id.clone()),
            kind: "job_dead_lettered".into(),
            detail: json!({"job": job.id.0, "kind": job.command.kind(), "error": message}),
            at: now,
        }],
        ..Changeset::default()
    }
}
