//! Delivery: the dispatcher claims due outbox jobs and performs them against GHL through one
//! call stack: the per-location rate limiter, the GHL client (timeouts), the reading of
//! `X-RateLimit-*` headers, and the classification of failures.
//!
//! - A call waits for the limiter (shared through the store, so several instances share one
//!   budget); a long wait puts the job back without using up an attempt.
//! - `X-RateLimit-Remaining: 0` or `Daily-Remaining: 0` holds the location; a 429 holds it
//!   for as long as GHL says and puts the job back, again without an attempt.
//! - Timeouts, connection failures and 5xx retry with exponential backoff and jitter; 400,
//!   401, 404 and 422 go to the dead-letter queue at once with GHL's message.
//! - Every job is idempotent: contacts are upserted, tags added and removed, and a note is
//!   looked up before it is created again when an earlier run may have reached GHL.
//!
//! Scaling with locations: each location is a lane. A claim takes the lanes in turn, at most
//! `dispatcher.per_location` running jobs per lane, so a location's backlog never delays
//! another's; a job waiting for its location's next place holds nothing any other location
//! needs. Limiter places and job outcomes are group-committed ([`group_commit`]): the store
//! work per call shrinks as the number of locations grows.

mod group_commit;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ghl::contacts::{CustomFieldInput, NewNote, UpsertContact};
use ghl::custom_fields::{CustomFieldModel, DataType, NewCustomField};
use ghl::opportunities::{
    NewOpportunity, OpportunitySearch, OpportunityStatus, OpportunityUpdate, Pipeline,
};
use ghl::{ContactId, LocationId, RateLimit};
use ghlsync_core::changeset::OpportunityLink;
use ghlsync_core::changeset::{IdLink, LocationSync, LogEntry};
use ghlsync_core::command::{ContactRef, OpportunityAction, OpportunitySync, value_key};
use ghlsync_core::gcra::Decision;
use ghlsync_core::{
    Changeset, ContactMirror, ContactSync, Gcra, GhlCommand, Job, Location, Millis, NoteMirror,
    OpportunityMirror, SyncStatus,
};
use ghlsync_store::{FinishedJob, JobOutcome, RateRequest, Store};
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::sync::{Notify, RwLock, Semaphore, watch};

use crate::app::{App, now_ms};
use crate::metrics as m;
use crate::secrets::token_context;

/// Waits shorter than this are slept through; longer ones put the job back.
const INLINE_WAIT_MS: Millis = 3_000;

/// How a job run ended, short of success.
#[derive(Debug)]
pub enum JobError {
    /// The limiter or GHL asked us to wait: retry at this time, no attempt used.
    Held {
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
            Self::Held { until } => write!(f, "held by the rate limit until {until}"),
            Self::Transient(m) | Self::Permanent { message: m, .. } => f.write_str(m),
        }
    }
}

fn permanent(message: impl Into<String>) -> JobError {
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

/// What the dispatcher keeps between jobs.
pub(crate) struct DispatchState {
    /// Custom field key -> id per location, from GHL (refreshed when a key is unknown).
    fields: RwLock<HashMap<LocationId, HashMap<String, String>>>,
    /// Pipelines (with their stages) per location, from GHL (refreshed when a name is unknown).
    pipelines: RwLock<HashMap<LocationId, Vec<Pipeline>>>,
    /// One lock per location around custom field creation.
    field_creations: std::sync::Mutex<HashMap<LocationId, Arc<tokio::sync::Mutex<()>>>>,
    /// Limiter places, group-committed in the order asked.
    reservations: group_commit::GroupCommit<RateRequest, Decision>,
    /// Job outcomes, group-committed.
    outcomes: group_commit::GroupCommit<FinishedJob, bool>,
    /// The latest hold per location (GHL's 429 or spent window): a job that took its place
    /// in the schedule before the hold does not go while it lasts.
    holds: std::sync::Mutex<HashMap<LocationId, Millis>>,
}

impl Default for DispatchState {
    fn default() -> Self {
        Self {
            fields: RwLock::default(),
            pipelines: RwLock::default(),
            field_creations: std::sync::Mutex::default(),
            reservations: group_commit::GroupCommit::new(MAX_RESERVATIONS),
            outcomes: group_commit::GroupCommit::new(MAX_OUTCOMES),
            holds: std::sync::Mutex::default(),
        }
    }
}

impl DispatchState {
    fn field_creation(&self, location: &LocationId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .field_creations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(location.clone()).or_default())
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, HashMap<LocationId, Millis>> {
        self.holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn hold(&self, location: &LocationId, until: Millis) {
        let mut holds = self.holds();
        let held = holds.entry(location.clone()).or_default();
        *held = (*held).max(until);
    }

    fn held_until(&self, location: &LocationId) -> Option<Millis> {
        self.holds().get(location).copied()
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
    let outcome = run_job(app, &job).await;
    let now = now_ms();
    let outcome = match outcome {
        Ok((result, changes)) => {
            metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "done").increment(1);
            JobOutcome::Done { result, changes }
        }
        Err(JobError::Held { until }) => {
            metrics::counter!(m::JOBS, "kind" => kind, "outcome" => "held").increment(1);
            JobOutcome::Queued {
                run_at: until,
                count_attempt: false,
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
    app.dispatch_state()
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
    let is_ghl = !matches!(job.command, GhlCommand::Forward(_));
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

/// One job: the location's token, then the command's calls; a forward goes to the
/// application instead of GHL.
async fn run_job(app: &App, job: &Job) -> Result<(Value, Changeset), JobError> {
    let location = app
        .location(&job.location_id)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
        .ok_or_else(|| permanent(format!("location {} is not registered", job.location_id)))?;
    if !location.active {
        return Err(permanent(format!("location {} is inactive", location.id)));
    }
    let ghl = || Ghl::new(app, &location);
    match &job.command {
        GhlCommand::SyncContact(sync) => sync_contact(&ghl()?, job, sync).await,
        GhlCommand::AddNote { contact, body } => add_note(&ghl()?, job, contact, body).await,
        GhlCommand::SyncOpportunity { contact, change } => {
            sync_opportunity(&ghl()?, job, contact, change).await
        }
        GhlCommand::Forward(event) => forward(app, event).await,
    }
}

/// Sends a GHL event on to the application.
async fn forward(
    app: &App,
    event: &ghlsync_core::command::Forward,
) -> Result<(Value, Changeset), JobError> {
    let forwarder = app
        .forwarder()
        .ok_or_else(|| permanent("forward.url is not set; replay once it is"))?;
    let outcome = forwarder.deliver(event).await;
    let label = match &outcome {
        Ok(_) => "done",
        Err(JobError::Permanent { .. }) => "dead",
        Err(_) => "retry",
    };
    metrics::counter!(m::FORWARDS, "outcome" => label).increment(1);
    outcome.map(|result| (result, Changeset::default()))
}

/// A GHL operation the dispatcher calls, as errors and `ghlsync_ghl_calls_total` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GhlCall {
    /// `add_note`.
    AddNote,
    /// `add_tags`.
    AddTags,
    /// `create_custom_field`.
    CreateCustomField,
    /// `create_opportunity`.
    CreateOpportunity,
    /// `get_contact`.
    GetContact,
    /// `get_opportunity`.
    GetOpportunity,
    /// `list_custom_fields`.
    ListCustomFields,
    /// `list_notes`.
    ListNotes,
    /// `list_pipelines`.
    ListPipelines,
    /// `remove_tags`.
    RemoveTags,
    /// `search_opportunities`.
    SearchOpportunities,
    /// `update_opportunity`.
    UpdateOpportunity,
    /// `update_opportunity_status`.
    UpdateOpportunityStatus,
    /// `upsert_contact`.
    UpsertContact,
}

impl GhlCall {
    /// Every call, for the metrics registered at start.
    pub const ALL: [Self; 14] = [
        Self::AddNote,
        Self::AddTags,
        Self::CreateCustomField,
        Self::CreateOpportunity,
        Self::GetContact,
        Self::GetOpportunity,
        Self::ListCustomFields,
        Self::ListNotes,
        Self::ListPipelines,
        Self::RemoveTags,
        Self::SearchOpportunities,
        Self::UpdateOpportunity,
        Self::UpdateOpportunityStatus,
        Self::UpsertContact,
    ];

    /// The name (the `ghl` client's method).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AddNote => "add_note",
            Self::AddTags => "add_tags",
            Self::CreateCustomField => "create_custom_field",
            Self::CreateOpportunity => "create_opportunity",
            Self::GetContact => "get_contact",
            Self::GetOpportunity => "get_opportunity",
            Self::ListCustomFields => "list_custom_fields",
            Self::ListNotes => "list_notes",
            Self::ListPipelines => "list_pipelines",
            Self::RemoveTags => "remove_tags",
            Self::SearchOpportunities => "search_opportunities",
            Self::UpdateOpportunity => "update_opportunity",
            Self::UpdateOpportunityStatus => "update_opportunity_status",
            Self::UpsertContact => "upsert_contact",
        }
    }
}

/// GHL calls for one location, through the limiter and the error classification.
pub(crate) struct Ghl<'a> {
    app: &'a App,
    location: &'a Location,
    client: ghl::Client,
}

impl<'a> Ghl<'a> {
    /// The location's client, with its token decrypted.
    pub(crate) fn new(app: &'a App, location: &'a Location) -> Result<Self, JobError> {
        let token = app
            .cipher()
            .open(
                &token_context(location.id.as_str()),
                &location.token_ciphertext,
            )
            .map_err(|e| permanent(e.to_string()))?;
        Ok(Self {
            app,
            location,
            client: app.ghl().with_token(token.expose_secret()),
        })
    }

    /// The live contact and the location's custom field keys by id (a diagnosis), through
    /// the location's limiter like every other call.
    pub(crate) async fn live_contact(
        &self,
        id: &ContactId,
    ) -> Result<(ghl::contacts::Contact, HashMap<String, String>), JobError> {
        let target = id.clone();
        let contact = self
            .call(GhlCall::GetContact, |c| async move {
                c.get_contact(&target).await
            })
            .await?;
        let fields = self.contact_fields().await?;
        let keys = fields
            .iter()
            .filter_map(|f| Some((f.id.to_string(), f.short_key()?.to_owned())))
            .collect();
        Ok((contact, keys))
    }

    fn limiter_key(&self) -> String {
        format!("ghl:{}", self.location.id)
    }

    fn gcra(&self) -> Gcra {
        let cfg = &self.app.config().dispatcher;
        Gcra::for_window(cfg.rate_max, cfg.rate_interval_ms, cfg.rate_burst)
    }

    /// Takes the call's place in the location's schedule and sleeps until it; a place
    /// further than [`INLINE_WAIT_MS`] away holds the job instead. Places are asked for in
    /// one transaction with every other call that asked meanwhile, in the order asked, and
    /// the call sleeps without holding anything: the next call of the location takes the next
    /// place at once, so however long the store takes to answer, the schedule loses no time.
    async fn permit(&self) -> Result<(), JobError> {
        let request = RateRequest {
            key: self.limiter_key(),
            gcra: self.gcra(),
            max_wait: INLINE_WAIT_MS,
        };
        let store = self.app.store();
        let decision = self
            .app
            .dispatch_state()
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
        // GHL may have said stop while this job slept.
        match self.app.dispatch_state().held_until(&self.location.id) {
            Some(until) if until > now_ms() => Err(JobError::Held { until }),
            _ => Ok(()),
        }
    }

    /// Holds the location's limiter until `until` (no call may go before it).
    async fn hold(&self, until: Millis) {
        self.app.dispatch_state().hold(&self.location.id, until);
        let tat = until + self.gcra().tolerance_ms;
        if let Err(e) = self.app.store().rate_hold(&self.limiter_key(), tat).await {
            tracing::warn!(error = %e, "holding the rate limiter failed");
        }
    }

    /// Reads GHL's view of the budget: a spent window or day holds the location.
    async fn observe(&self, rl: &RateLimit) {
        let now = now_ms();
        if rl.daily_exhausted() {
            self.hold(now + ghlsync_core::time::until_next_utc_midnight(now))
                .await;
        } else if rl.remaining == Some(0) {
            let interval = rl
                .interval_ms
                .map_or(self.app.config().dispatcher.rate_interval_ms, |i| {
                    i as Millis
                });
            self.hold(now + interval).await;
        }
    }

    /// One call: permit, call, headers, classification.
    async fn call<T, F, Fut>(&self, what: GhlCall, f: F) -> Result<T, JobError>
    where
        F: FnOnce(ghl::Client) -> Fut,
        Fut: std::future::Future<Output = Result<ghl::Response<T>, ghl::Error>>,
    {
        match self.call_unclassified(what, f).await? {
            Ok(data) => Ok(data),
            Err(e) => Err(self.classify(what, e).await),
        }
    }

    /// One call with GHL's error left for the caller to act on (a duplicate to reuse);
    /// only waiting for the limiter fails early.
    async fn call_unclassified<T, F, Fut>(
        &self,
        what: GhlCall,
        f: F,
    ) -> Result<Result<T, ghl::Error>, JobError>
    where
        F: FnOnce(ghl::Client) -> Fut,
        Fut: std::future::Future<Output = Result<ghl::Response<T>, ghl::Error>>,
    {
        self.permit().await?;
        let result = f(self.client.clone()).await;
        let status = m::status_class(match &result {
            Ok(r) => Some(r.reply.status),
            Err(e) => e.status(),
        });
        metrics::counter!(m::GHL_CALLS, "call" => what.as_str(), "status" => status).increment(1);
        Ok(match result {
            Ok(response) => {
                self.observe(response.rate_limit()).await;
                Ok(response.data)
            }
            Err(e) => {
                if let Some(reply) = e.reply() {
                    self.observe(&reply.rate_limit).await;
                }
                Err(e)
            }
        })
    }

    async fn classify(&self, what: GhlCall, e: ghl::Error) -> JobError {
        match e {
            ghl::Error::RateLimited { retry_after, .. } => {
                let until = now_ms() + retry_after.as_millis() as Millis;
                self.hold(until).await;
                JobError::Held { until }
            }
            e if e.is_transient() => JobError::Transient(format!("{}: {e}", what.as_str())),
            e => permanent(format!("{}: {e}", what.as_str())),
        }
    }

    /// The location's contact custom field definitions, from GHL.
    async fn contact_fields(&self) -> Result<Vec<ghl::custom_fields::CustomField>, JobError> {
        let location_id = self.location.id.clone();
        self.call(GhlCall::ListCustomFields, |c| async move {
            c.list_custom_fields(&location_id, Some(CustomFieldModel::Contact))
                .await
        })
        .await
    }

    /// The location's custom field ids by key: the configured mapping first, then GHL's
    /// definitions (fetched once, again when a key is missing).
    async fn field_id(&self, key: &str, refresh: bool) -> Result<Option<String>, JobError> {
        if let Some(id) = self.location.field_mapping.get(key).and_then(Value::as_str) {
            return Ok(Some(id.to_owned()));
        }
        let cache = &self.app.dispatch_state().fields;
        if !refresh && let Some(fields) = cache.read().await.get(&self.location.id) {
            return Ok(fields.get(key).cloned());
        }
        let fields = self.contact_fields().await?;
        let map: HashMap<String, String> = fields
            .iter()
            .filter_map(|f| Some((f.short_key()?.to_owned(), f.id.to_string())))
            .chain(
                fields
                    .iter()
                    .filter_map(|f| Some((f.name.clone()?, f.id.to_string()))),
            )
            .collect();
        let found = map.get(key).cloned();
        cache.write().await.insert(self.location.id.clone(), map);
        Ok(found)
    }

    async fn resolve_custom_fields(
        &self,
        values: &std::collections::BTreeMap<String, Value>,
    ) -> Result<Vec<CustomFieldInput>, JobError> {
        let mut out = Vec::with_capacity(values.len());
        for (key, value) in values {
            let id = match self.field_id(key, false).await? {
                Some(id) => id,
                None => match self.field_id(key, true).await? {
                    Some(id) => id,
                    None if self.app.config().dispatcher.create_missing_fields => {
                        self.create_field_once(key, value).await?
                    }
                    None => {
                        return Err(permanent(format!(
                            "custom field {key:?} does not exist in location {}",
                            self.location.id
                        )));
                    }
                },
            };
            out.push(CustomFieldInput::by_id(id, value.clone()));
        }
        Ok(out)
    }

    /// The pipeline and stage ids of names (case-insensitive): cached, fetched again once
    /// when a name is unknown. Unknown names are permanent: a rule names what is not there.
    async fn pipeline_stage(
        &self,
        pipeline: &str,
        stage: Option<&str>,
    ) -> Result<(ghl::PipelineId, Option<ghl::PipelineStageId>), JobError> {
        let find = |pipelines: &[Pipeline]| {
            let p = pipelines
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(pipeline))?;
            match stage {
                None => Some((p.id.clone(), None)),
                Some(stage) => Some((p.id.clone(), Some(p.stage_named(stage)?.id.clone()))),
            }
        };
        let cache = &self.app.dispatch_state().pipelines;
        if let Some(found) = cache
            .read()
            .await
            .get(&self.location.id)
            .and_then(|p| find(p))
        {
            return Ok(found);
        }
        let location_id = self.location.id.clone();
        let pipelines = self
            .call(GhlCall::ListPipelines, |c| async move {
                c.list_pipelines(&location_id).await
            })
            .await?;
        let found = find(&pipelines);
        cache
            .write()
            .await
            .insert(self.location.id.clone(), pipelines);
        found.ok_or_else(|| {
            permanent(format!(
                "location {} has no pipeline {pipeline:?}{}",
                self.location.id,
                stage.map_or_else(String::new, |s| format!(" with a stage {s:?}"))
            ))
        })
    }

    /// The GHL contact of a reference; a subject not yet synced is worth waiting for.
    async fn contact_id(&self, contact: &ContactRef) -> Result<ContactId, JobError> {
        match contact {
            ContactRef::Ghl(id) => Ok(id.clone()),
            ContactRef::Subject(subject) => self
                .app
                .store()
                .linked_contact(&self.location.id, subject)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?
                .ok_or_else(|| permanent(format!("no GHL contact is linked to {subject:?}"))),
        }
    }

    /// Creates a missing field unless another job did first: creations of a location run one
    /// at a time and look again before creating; another instance's creation shows as GHL's
    /// "already exists", after which the field is looked up again.
    async fn create_field_once(&self, key: &str, value: &Value) -> Result<String, JobError> {
        let lock = self.app.dispatch_state().field_creation(&self.location.id);
        let _one_at_a_time = lock.lock().await;
        if let Some(id) = self.field_id(key, false).await? {
            return Ok(id);
        }
        match self.create_field(key, value).await {
            Err(JobError::Permanent { message, .. }) => self
                .field_id(key, true)
                .await?
                .ok_or_else(|| permanent(message)),
            other => other,
        }
    }

    /// Creates a contact custom field a rule writes but the location lacks: keyed as the
    /// rule names it, numeric when the value is a number, text otherwise.
    async fn create_field(&self, key: &str, value: &Value) -> Result<String, JobError> {
        let field = NewCustomField {
            name: field_name(key),
            data_type: if value.is_number() {
                DataType::Numerical
            } else {
                DataType::Text
            },
            placeholder: None,
            text_box_list_options: None,
            position: None,
            model: Some(CustomFieldModel::Contact),
            field_key: Some(format!("contact.{key}")),
        };
        let location_id = self.location.id.clone();
        let created = self
            .call(GhlCall::CreateCustomField, |c| async move {
                c.create_custom_field(&location_id, &field).await
            })
            .await?;
        tracing::info!(location = %self.location.id, key, id = %created.id, "custom field created");
        let id = created.id.to_string();
        self.app
            .dispatch_state()
            .fields
            .write()
            .await
            .entry(self.location.id.clone())
            .or_default()
            .insert(key.to_owned(), id.clone());
        Ok(id)
    }
}

/// `expert_level` → `Expert level`: the display name of a field ghlsync creates.
fn field_name(key: &str) -> String {
    let words = key.replace(['_', '-', '.'], " ");
    let mut chars = words.trim().chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Standard contact fields a job may set, by GHL name.
const CONTACT_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "companyName",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "source",
    "dateOfBirth",
    "country",
    "assignedTo",
    "gender",
];

/// The upsert body of a contact sync (tags are handled separately: an upsert replaces them).
fn upsert_body(
    location_id: &LocationId,
    sync: &ContactSync,
    custom: Vec<CustomFieldInput>,
) -> Result<UpsertContact, JobError> {
    let mut body = serde_json::Map::new();
    body.insert("locationId".into(), json!(location_id));
    if let Some(email) = &sync.email {
        body.insert("email".into(), json!(email));
    }
    if let Some(phone) = &sync.phone {
        body.insert("phone".into(), json!(phone));
    }
    for (field, value) in &sync.fields {
        if !CONTACT_FIELDS.contains(&field.as_str()) {
            return Err(permanent(format!("{field:?} is not a GHL contact field")));
        }
        body.insert(field.clone(), value.clone());
    }
    if !custom.is_empty() {
        body.insert("customFields".into(), json!(custom));
    }
    serde_json::from_value(Value::Object(body))
        .map_err(|e| permanent(format!("contact fields: {e}")))
}

/// The mirror's copy of the contact a sync is for: found through the id map, and not
/// deleted.
async fn known_contact(
    ghl: &Ghl<'_>,
    sync: &ContactSync,
) -> Result<Option<ContactMirror>, JobError> {
    let Some(subject) = &sync.subject else {
        return Ok(None);
    };
    let store = ghl.app.store();
    let transient = |e: ghlsync_store::StoreError| JobError::Transient(e.to_string());
    let Some(id) = store
        .linked_contact(&ghl.location.id, subject)
        .await
        .map_err(transient)?
    else {
        return Ok(None);
    };
    Ok(store
        .contact(&ghl.location.id, &id)
        .await
        .map_err(transient)?
        .filter(|c| !c.deleted))
}

pub(crate) use ghlsync_core::mirror::same_value;

/// A sync's values, in the mirror's keys (custom fields by id), with when the application
/// decided each.
struct Decided {
    /// Mirror key (`field:firstName`, `custom:<id>`, `tag:vip`) -> decided at.
    at: std::collections::BTreeMap<String, Millis>,
}

impl Decided {
    fn new(sync: &ContactSync, custom: &[(String, CustomFieldInput)]) -> Self {
        let mut at = sync.decided_at.clone();
        for (key, input) in custom {
            if let (Some(t), Some(id)) = (at.remove(&value_key::custom(key)), &input.id) {
                at.insert(value_key::custom(id.as_str()), t);
            }
        }
        Self { at }
    }

    /// True when the value GHL holds is newer than the application's decision: a person
    /// changed it later, or a later decision was already written. GHL's value stays (last
    /// writer per value, by time).
    fn ghl_is_newer(&self, known: &ContactMirror, key: &str) -> bool {
        self.at
            .get(key)
            .is_some_and(|decided| known.times.effective(key).is_some_and(|t| t > *decided))
    }
}

/// What a sync still sends, given the mirror's copy of the contact: a value GHL changed
/// after the application decided it is kept (unless the sync is a forced resync), and with
/// `skip_known` (coalescing) a value GHL already holds is not sent again. Returns the
/// keys kept because GHL's value is newer.
fn still_to_send(
    sync: &ContactSync,
    custom: Vec<(String, CustomFieldInput)>,
    known: &ContactMirror,
    decided: &Decided,
    skip_known: bool,
) -> (ContactSync, Vec<CustomFieldInput>, Vec<String>) {
    let mut kept = Vec::new();
    let mut keep = |key: String, held_equal: bool| {
        if !sync.full && decided.ghl_is_newer(known, &key) && !held_equal {
            kept.push(key);
            return false;
        }
        !(skip_known && !sync.full && held_equal)
    };
    let mut fields = sync.fields.clone();
    fields.retain(|name, value| {
        let equal = known
            .payload
            .get(name)
            .is_some_and(|have| same_value(have, value));
        keep(value_key::field(name), equal)
    });
    let custom = custom
        .into_iter()
        .filter(|(_, f)| {
            let id = f.id.as_ref().map(|id| id.as_str().to_owned());
            let have = id.as_ref().and_then(|id| known.custom_fields.get(id));
            let equal = have.is_some_and(|have| same_value(have, &f.field_value));
            keep(value_key::custom(id.as_deref().unwrap_or_default()), equal)
        })
        .map(|(_, f)| f)
        .collect();
    let has = |t: &String| known.tags.iter().any(|k| k.eq_ignore_ascii_case(t.trim()));
    let add_tags = sync
        .add_tags
        .iter()
        .filter(|t| keep(value_key::tag(t), has(t)))
        .cloned()
        .collect();
    let remove_tags = sync
        .remove_tags
        .iter()
        .filter(|t| keep(value_key::tag(t), !has(t)))
        .cloned()
        .collect();
    (
        ContactSync {
            fields,
            add_tags,
            remove_tags,
            ..sync.clone()
        },
        custom,
        kept,
    )
}

async fn sync_contact(
    ghl: &Ghl<'_>,
    job: &Job,
    sync: &ContactSync,
) -> Result<(Value, Changeset), JobError> {
    if sync.email.is_none() && sync.phone.is_none() {
        return Err(permanent(
            "a contact sync needs an email or a phone for GHL to match on",
        ));
    }
    let resolved = ghl.resolve_custom_fields(&sync.custom_fields).await?;
    let custom: Vec<(String, CustomFieldInput)> =
        sync.custom_fields.keys().cloned().zip(resolved).collect();
    let mut decided = Decided::new(sync, &custom);
    let known = known_contact(ghl, sync).await?;
    let skip_known = ghl.app.config().processor.coalesce;
    let (sync, custom, kept) = match &known {
        Some(known) => still_to_send(sync, custom, known, &decided, skip_known),
        None => (
            sync.clone(),
            custom.into_iter().map(|(_, f)| f).collect(),
            Vec::new(),
        ),
    };
    // GHL's newer values stay, and keep their own times.
    decided.at.retain(|key, _| !kept.contains(key));
    let mut calls = 0;
    // With the contact known and every value already in GHL, the upsert is skipped.
    let (mut contact, new) = match &known {
        Some(known) if skip_known && !sync.full && sync.fields.is_empty() && custom.is_empty() => {
            (known.clone(), false)
        }
        _ => {
            let body = upsert_body(&ghl.location.id, &sync, custom)?;
            let upserted = ghl
                .call(GhlCall::UpsertContact, |c| async move {
                    c.upsert_contact(&body).await
                })
                .await?;
            calls += 1;
            let mirror =
                ContactMirror::from_contact(ghl.location.id.clone(), &upserted.contact, now_ms());
            (mirror, upserted.new)
        }
    };
    let partial = |e: JobError| match e {
        JobError::Permanent { message, .. } => JobError::Permanent {
            message,
            partial: true,
        },
        other => other,
    };
    // Only what GHL does not have yet: the upsert answer (or the mirror) has the tags.
    let to_add: Vec<String> = sync
        .add_tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty() && !contact.tags.contains(t))
        .collect();
    if !to_add.is_empty() {
        let id = contact.contact_id.clone();
        contact.tags = ghl
            .call(GhlCall::AddTags, |c| async move {
                c.add_tags(&id, &to_add).await
            })
            .await
            .map_err(partial)?;
        calls += 1;
    }
    let to_remove: Vec<String> = sync
        .remove_tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| contact.tags.contains(t))
        .collect();
    if !to_remove.is_empty() {
        let id = contact.contact_id.clone();
        contact.tags = ghl
            .call(GhlCall::RemoveTags, |c| async move {
                c.remove_tags(&id, &to_remove).await
            })
            .await
            .map_err(partial)?;
        calls += 1;
    }
    let now = now_ms();
    let contact_id = contact.contact_id.clone();
    contact.updated_at = now;
    let mut changes = Changeset {
        log: vec![LogEntry {
            location_id: Some(ghl.location.id.clone()),
            kind: "contact_synced".into(),
            detail: json!({
                "job": job.id.0, "contactId": contact_id, "new": new, "calls": calls,
                "kept_newer_in_ghl": kept,
            }),
            at: now,
        }],
        location_sync: vec![LocationSync {
            location_id: ghl.location.id.clone(),
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    if calls > 0 {
        // GHL's answer folded into the mirror, with when the application decided the
        // values written: GHL's echoes of them then change nothing, and the webhooks of the
        // moments between this job's calls are older than this row.
        let row = match known.filter(|k| k.contact_id == contact_id) {
            Some(mut row) => {
                row.absorb(&contact, &decided.at);
                row
            }
            None => contact.stamped(&decided.at),
        };
        changes.contacts.push(row);
    }
    if let Some(subject) = &sync.subject {
        changes.id_links.push(IdLink {
            location_id: ghl.location.id.clone(),
            subject: subject.clone(),
            contact_id: contact_id.clone(),
        });
    }
    Ok((
        json!({"contactId": contact_id, "new": new, "calls": calls, "kept": kept}),
        changes,
    ))
}

async fn add_note(
    ghl: &Ghl<'_>,
    job: &Job,
    contact: &ContactRef,
    body: &str,
) -> Result<(Value, Changeset), JobError> {
    let contact_id = ghl.contact_id(contact).await?;
    // An earlier run may have created the note and died before recording it.
    if job.may_have_run() {
        let id = contact_id.clone();
        let notes = ghl
            .call(
                GhlCall::ListNotes,
                |c| async move { c.list_notes(&id).await },
            )
            .await?;
        if let Some(existing) = notes.iter().find(|n| n.body.as_deref() == Some(body)) {
            return Ok((
                json!({"noteId": existing.id, "existing": true}),
                Changeset::default(),
            ));
        }
    }
    let note = NewNote::new(body);
    let id = contact_id.clone();
    let created = ghl
        .call(
            GhlCall::AddNote,
            |c| async move { c.add_note(&id, &note).await },
        )
        .await?;
    let now = now_ms();
    let changes = Changeset {
        notes: vec![NoteMirror {
            location_id: ghl.location.id.clone(),
            note_id: created.id.clone(),
            contact_id: Some(contact_id),
            body: created.body.clone(),
            updated_at: now,
        }],
        location_sync: vec![LocationSync {
            location_id: ghl.location.id.clone(),
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    Ok((json!({"noteId": created.id}), changes))
}

/// Creates or changes an opportunity found through the application's key.
///
/// - `create` with the key already linked updates the linked opportunity instead; after a
///   run that may have reached GHL, the contact's opportunities in the pipeline are searched
///   for one of the same name before creating.
/// - `update` and `status` of a key not linked yet wait (with backoff) for the create, which
///   may come from another person's event and so run in another order.
async fn sync_opportunity(
    ghl: &Ghl<'_>,
    job: &Job,
    contact: &ContactRef,
    change: &OpportunitySync,
) -> Result<(Value, Changeset), JobError> {
    let location_id = ghl.location.id.clone();
    let linked = ghl
        .app
        .store()
        .linked_opportunity(&location_id, &change.key)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    let ids = match &change.pipeline {
        Some(p) => Some(ghl.pipeline_stage(p, change.stage.as_deref()).await?),
        None => None,
    };
    let (opportunity, created) = match (change.action, linked) {
        (OpportunityAction::Status, Some(id)) => {
            let status = change.status.unwrap_or(OpportunityStatus::Open);
            let target = id.clone();
            ghl.call(GhlCall::UpdateOpportunityStatus, |c| async move {
                c.update_opportunity_status(&target, status, None).await
            })
            .await?;
            let target = id.clone();
            let current = ghl
                .call(GhlCall::GetOpportunity, |c| async move {
                    c.get_opportunity(&target).await
                })
                .await?;
            (current, false)
        }
        (OpportunityAction::Create | OpportunityAction::Update, Some(id)) => {
            let update = OpportunityUpdate {
                pipeline_id: ids.as_ref().map(|(p, _)| p.clone()),
                pipeline_stage_id: ids.as_ref().and_then(|(_, s)| s.clone()),
                name: change.name.clone(),
                monetary_value: change.value,
                ..OpportunityUpdate::default()
            };
            let updated = ghl
                .call(GhlCall::UpdateOpportunity, |c| async move {
                    c.update_opportunity(&id, &update).await
                })
                .await?;
            (updated, false)
        }
        (OpportunityAction::Create, None) => {
            let contact_id = ghl.contact_id(contact).await?;
            let (pipeline_id, stage_id) =
                ids.ok_or_else(|| permanent("creating an opportunity needs a pipeline"))?;
            let name = change.name.clone().unwrap_or_else(|| change.key.clone());
            let existing = if job.may_have_run() {
                let search = OpportunitySearch {
                    contact_id: Some(contact_id.clone()),
                    pipeline_id: Some(pipeline_id.clone()),
                    ..OpportunitySearch::new(location_id.clone())
                };
                let page = ghl
                    .call(GhlCall::SearchOpportunities, |c| async move {
                        c.search_opportunities(&search).await
                    })
                    .await?;
                page.opportunities
                    .into_iter()
                    .find(|o| o.name.as_deref() == Some(name.as_str()))
            } else {
                None
            };
            match existing {
                Some(found) => (found, false),
                None => {
                    let new = NewOpportunity {
                        pipeline_id,
                        location_id: location_id.clone(),
                        name,
                        pipeline_stage_id: stage_id,
                        status: change.status.unwrap_or(OpportunityStatus::Open),
                        contact_id,
                        monetary_value: change.value,
                        assigned_to: None,
                        custom_fields: None,
                    };
                    let update = OpportunityUpdate {
                        pipeline_stage_id: new.pipeline_stage_id.clone(),
                        name: Some(new.name.clone()),
                        monetary_value: new.monetary_value,
                        ..OpportunityUpdate::default()
                    };
                    match ghl
                        .call_unclassified(GhlCall::CreateOpportunity, |c| async move {
                            c.create_opportunity(&new).await
                        })
                        .await?
                    {
                        Ok(created) => (created, true),
                        // The location allows one opportunity per contact and pipeline (GHL's
                        // default): this key takes over the contact's opportunity.
                        Err(ghl::Error::Duplicate { existing_id, .. }) => {
                            let id = ghl::OpportunityId::from(existing_id);
                            let updated = ghl
                                .call(GhlCall::UpdateOpportunity, |c| async move {
                                    c.update_opportunity(&id, &update).await
                                })
                                .await?;
                            (updated, false)
                        }
                        Err(e) => return Err(ghl.classify(GhlCall::CreateOpportunity, e).await),
                    }
                }
            }
        }
        (OpportunityAction::Update | OpportunityAction::Status, None) => {
            return Err(JobError::Transient(format!(
                "no GHL opportunity is linked to {:?} yet",
                change.key
            )));
        }
    };
    let now = now_ms();
    let changes = Changeset {
        opportunities: vec![OpportunityMirror::from_opportunity(
            location_id.clone(),
            &opportunity,
            now,
        )],
        opportunity_links: vec![OpportunityLink {
            location_id: location_id.clone(),
            key: change.key.clone(),
            opportunity_id: opportunity.id.clone(),
        }],
        log: vec![LogEntry {
            location_id: Some(location_id.clone()),
            kind: "opportunity_synced".into(),
            detail: json!({"job": job.id.0, "key": change.key, "opportunityId": opportunity.id, "new": created}),
            at: now,
        }],
        location_sync: vec![LocationSync {
            location_id,
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    Ok((
        json!({"opportunityId": opportunity.id, "new": created}),
        changes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_fields_are_named_from_their_key() {
        assert_eq!(field_name("expert_level"), "Expert level");
        assert_eq!(field_name("churn-risk"), "Churn risk");
        assert_eq!(field_name(""), "");
    }

    #[test]
    fn values_compare_as_ghl_stores_them() {
        assert!(same_value(&json!(42), &json!("42")));
        assert!(same_value(&json!("Pro "), &json!("Pro")));
        assert!(!same_value(&json!(42), &json!(43)));
        assert!(!same_value(&json!(["a"]), &json!("a")));
    }

    #[test]
    fn upsert_body_rejects_unknown_fields_and_keeps_tags_out() {
        let sync = ContactSync {
            email: Some("a@b.co".into()),
            fields: [("firstName".to_owned(), json!("Ana"))].into(),
            add_tags: vec!["x".into()],
            ..ContactSync::default()
        };
        let body = upsert_body(&"loc".into(), &sync, vec![]).unwrap();
        assert_eq!(body.fields.first_name.as_deref(), Some("Ana"));
        assert!(body.fields.tags.is_none(), "tags never go in an upsert");
        let bad = ContactSync {
            fields: [("fristName".to_owned(), json!("x"))].into(),
            ..sync
        };
        assert!(matches!(
            upsert_body(&"loc".into(), &bad, vec![]),
            Err(JobError::Permanent { .. })
        ));
    }
}
