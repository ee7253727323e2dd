//! ghlsync's storage. [`Store`] is the contract; [`SqliteStore`] (the default, one file in
//! WAL mode) and [`PgStore`] (several instances sharing the work) implement it, and
//! [`AnyStore`] picks one from a URL.
//!
//! Both implementations run the same SQL wherever the dialects agree (`shared.rs`); only
//! connecting, migrations, the claim queries and how a write transaction starts differ. The
//! conformance suite in `tests/conformance` runs on both.
//!
//! The store owns no policy: callers pass the time, lease lengths and retry times, so every
//! decision stays in `ghlsync-core` and is tested there.

mod postgres;
mod rows;
mod shared;
mod sqlite;
#[doc(hidden)]
pub mod testing;

use std::future::Future;

use ghl::{ContactId, LocationId, OpportunityId};
use ghlsync_core::bridge::{BridgeName, CloudTalkLink};
use ghlsync_core::broadcast::{
    Broadcast, BroadcastId, BroadcastStatus, CallReport, E164, Owner, OwnerId, OwnerKey, PendingId,
    QueueItem, QueueItemId, Recorded,
};
use ghlsync_core::callback::{CallbackPlan, PendingScope, PendingUpdate, PendingView};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::gcra::Decision;
use ghlsync_core::profile::Profile;
use ghlsync_core::{
    ApiKey, Changeset, ContactMirror, EventId, EventState, Gcra, InboxEvent, Job, JobId, JobState,
    Location, Millis, NewEvent, NewJob, NoteMirror, OpportunityMirror, WorkflowRoute,
};
use serde_json::Value;

pub use postgres::PgStore;
pub use sqlite::{SqliteStore, Synchronous};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite's ingest connection refused or failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite ingest writer panicked; the batch was rolled back.
    #[error("the SQLite ingest writer failed: {0}")]
    WriterPanicked(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row holds a value this version cannot read.
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    /// Another process already stores events in this SQLite file.
    #[error(
        "another ghlsync process is receiving events into {0}; SQLite serves one process \
         (use PostgreSQL to run several instances)"
    )]
    InUse(String),
    /// The SQLite lock file could not be opened.
    #[error("the lock file {path} could not be opened: {source}")]
    LockFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another writer changed what this change was computed from; compute it again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database URL is not `sqlite:` or `postgres:`.
    #[error("unsupported database URL {0:?}: use sqlite://PATH (a file) or postgres://...")]
    UnsupportedUrl(String),
}

/// Result of storing one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored under this id.
    New(EventId),
    /// Its dedupe key was seen before, as this event.
    Duplicate(EventId),
}

/// Which jobs a DLQ listing or replay selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// State (DLQ operations use `Dead`).
    pub state: Option<JobState>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Command kind (`sync_contact`, `add_note`).
    pub kind: Option<String>,
    /// Substring of the last error.
    pub error_contains: Option<String>,
    /// One job.
    pub id: Option<JobId>,
    /// Jobs of one ordering key (`contact:<email>`).
    pub ordering_key: Option<String>,
    /// Most rows listed.
    pub limit: Option<u32>,
}

/// Which events a listing or replay selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// State.
    pub state: Option<EventState>,
    /// Event type.
    pub event_type: Option<String>,
    /// One event.
    pub id: Option<EventId>,
    /// Most rows listed.
    pub limit: Option<u32>,
}

/// Rows per state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Inbox events waiting.
    pub events_pending: i64,
    /// Inbox events claimed.
    pub events_running: i64,
    /// Inbox events done.
    pub events_done: i64,
    /// Inbox events dead-lettered.
    pub events_dead: i64,
    /// Jobs waiting.
    pub jobs_queued: i64,
    /// Jobs claimed.
    pub jobs_running: i64,
    /// Jobs delivered.
    pub jobs_done: i64,
    /// Jobs dead-lettered.
    pub jobs_dead: i64,
}

/// How a claimed job ended (see [`Store::finish_jobs`]).
#[derive(Clone, Debug, PartialEq)]
pub enum JobOutcome {
    /// Delivered: its result, and the changes that come with it.
    Done {
        /// What the job returned.
        result: Value,
        /// Applied with the outcome.
        changes: Changeset,
    },
    /// Back in the queue until `run_at`, counting an attempt or not (a rate-limit hold
    /// does not).
    Queued {
        /// When it is due again.
        run_at: Millis,
        /// Whether this run counts as an attempt.
        count_attempt: bool,
        /// Whether this run's claim is forgotten: it applied nothing the next run's
        /// look-ups would not find, so the next run may act as a first one.
        forget_claim: bool,
        /// Why, kept as the job's last error.
        error: Option<String>,
    },
    /// To the dead-letter queue with its error, counting the attempt.
    Dead {
        /// Why.
        error: String,
        /// Applied with the outcome.
        changes: Changeset,
    },
}

/// A claimed job and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedJob {
    /// The job.
    pub id: JobId,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// One call's place asked of a limiter (see [`Store::rate_reserve`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRequest {
    /// The limiter (`ghl:<location>`).
    pub key: String,
    /// Its spacing and burst.
    pub gcra: Gcra,
    /// The furthest from now the caller takes a place; further answers `Wait`.
    pub max_wait: Millis,
}

/// Processing figures since a time (for `/health`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EventStats {
    /// Events received.
    pub received: i64,
    /// Of those, processed.
    pub done: i64,
    /// Of those, dead-lettered.
    pub dead: i64,
    /// Mean time from receipt to processed, ms.
    pub avg_processing_ms: Option<f64>,
}

/// The storage contract. Every method is atomic; `complete_*` apply the whole changeset in
/// the same transaction that marks the unit of work done, or nothing at all.
pub trait Store: Send + Sync {
    /// Applies pending migrations.
    fn migrate(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A cheap round trip (for `/ready`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores events in one transaction (group commit). A repeated dedupe key is reported,
    /// not stored.
    fn insert_events(
        &self,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<Vec<Inserted>, StoreError>> + Send;
    /// Claims due events (pending, or running with an ended lease) for `owner`.
    fn claim_events(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InboxEvent>, StoreError>> + Send;
    /// Marks a claimed event done and applies its changes; false if the lease was lost.
    fn complete_event(
        &self,
        id: EventId,
        owner: &str,
        changes: &Changeset,
        now: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records a failed attempt: retried at `retry_at`, or dead-lettered when `None`.
    fn fail_event(
        &self,
        id: EventId,
        owner: &str,
        error: &str,
        retry_at: Option<Millis>,
        now: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Events matching a filter, newest first.
    fn list_events(
        &self,
        filter: &EventFilter,
    ) -> impl Future<Output = Result<Vec<InboxEvent>, StoreError>> + Send;
    /// Puts dead events matching a filter back in the queue; returns how many.
    fn replay_events(
        &self,
        filter: &EventFilter,
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Enqueues jobs outside event processing (resync, replays); returns how many were new.
    fn enqueue_jobs(
        &self,
        jobs: &[NewJob],
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Claims due jobs (and jobs whose lease ran out), at most one per ordering key. Each
    /// location is a lane: at most `per_location` of its jobs run at once (jobs already
    /// running under a live lease count, whichever instance runs them), its oldest first,
    /// and the lanes are taken in turn, so one location's backlog never delays another's.
    fn claim_jobs(
        &self,
        owner: &str,
        now: Millis,
        lease_ms: Millis,
        limit: u32,
        per_location: u32,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
    /// Records how claimed jobs ended, all in one transaction: each job's changes are
    /// applied with its outcome, and only if `owner` still holds its lease (the answer, one
    /// per job, says whether it did).
    fn finish_jobs(
        &self,
        owner: &str,
        jobs: &[FinishedJob],
        now: Millis,
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
    /// Jobs matching a filter, newest first.
    fn list_jobs(
        &self,
        filter: &JobFilter,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
    /// Puts dead jobs matching a filter back in the queue with a fresh attempt count.
    fn replay_jobs(
        &self,
        filter: &JobFilter,
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Rows per state.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats, StoreError>> + Send;
    /// Figures for events received since `since`.
    fn event_stats(
        &self,
        since: Millis,
    ) -> impl Future<Output = Result<EventStats, StoreError>> + Send;

    /// Asks the limiters for places at `now`, all in one transaction and in the order given
    /// (requests of one key take consecutive places): `Allow { at }` counts the call, which
    /// goes at `at`; `Wait { wait }` counts nothing. Atomic across instances.
    fn rate_reserve(
        &self,
        requests: &[RateRequest],
        now: Millis,
    ) -> impl Future<Output = Result<Vec<Decision>, StoreError>> + Send;
    /// Pushes the limiter's theoretical arrival time to at least `tat` (after a 429 or when
    /// GHL's headers say the window is spent).
    fn rate_hold(
        &self,
        key: &str,
        tat: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Inserts or replaces a location (token included).
    fn upsert_location(
        &self,
        location: &Location,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A location.
    fn location(
        &self,
        id: &LocationId,
    ) -> impl Future<Output = Result<Option<Location>, StoreError>> + Send;
    /// Every location.
    fn locations(&self) -> impl Future<Output = Result<Vec<Location>, StoreError>> + Send;
    /// Inserts or replaces a workflow route.
    fn upsert_route(
        &self,
        route: &WorkflowRoute,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A workflow route.
    fn route(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<WorkflowRoute>, StoreError>> + Send;
    /// Every workflow route.
    fn routes(&self) -> impl Future<Output = Result<Vec<WorkflowRoute>, StoreError>> + Send;

    /// A person's profile and its version.
    fn profile(
        &self,
        location: &LocationId,
        subject: &str,
    ) -> impl Future<Output = Result<Option<(Profile, i64)>, StoreError>> + Send;
    /// Stores a new API key.
    fn insert_api_key(&self, key: &ApiKey) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The key whose secret has this hash, revoked or not.
    fn api_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;
    /// Every API key, oldest first.
    fn api_keys(&self) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;
    /// Revokes a key; false when there is no such unrevoked key.
    fn revoke_api_key(
        &self,
        id: &str,
        now: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A mirrored contact.
    fn contact(
        &self,
        location: &LocationId,
        id: &ContactId,
    ) -> impl Future<Output = Result<Option<ContactMirror>, StoreError>> + Send;
    /// Every mirrored contact of a location.
    fn contacts(
        &self,
        location: &LocationId,
    ) -> impl Future<Output = Result<Vec<ContactMirror>, StoreError>> + Send;
    /// Mirrored notes of a contact.
    fn notes(
        &self,
        location: &LocationId,
        contact: &ContactId,
    ) -> impl Future<Output = Result<Vec<NoteMirror>, StoreError>> + Send;
    /// Mirrored opportunities of a location.
    fn opportunities(
        &self,
        location: &LocationId,
    ) -> impl Future<Output = Result<Vec<OpportunityMirror>, StoreError>> + Send;
    /// One mirrored opportunity.
    fn opportunity(
        &self,
        location: &LocationId,
        id: &OpportunityId,
    ) -> impl Future<Output = Result<Option<OpportunityMirror>, StoreError>> + Send;
    /// The GHL contact linked to an application id.
    fn linked_contact(
        &self,
        location: &LocationId,
        subject: &str,
    ) -> impl Future<Output = Result<Option<ContactId>, StoreError>> + Send;
    /// The person linked to a GHL contact: the application's id when it has one, else the
    /// `ghl:<contactId>` subject of a contact known only from GHL.
    fn linked_subject(
        &self,
        location: &LocationId,
        contact: &ContactId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// The GHL opportunity linked to an application key.
    fn linked_opportunity(
        &self,
        location: &LocationId,
        key: &str,
    ) -> impl Future<Output = Result<Option<OpportunityId>, StoreError>> + Send;
    /// The newest sync-log lines, of one location or all.
    fn sync_log(
        &self,
        location: Option<&LocationId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LogEntry>, StoreError>> + Send;
    /// The CloudTalk twin of a GHL contact in a bridge.
    fn cloudtalk_link(
        &self,
        bridge: &BridgeName,
        ghl_contact: &ContactId,
    ) -> impl Future<Output = Result<Option<CloudTalkLink>, StoreError>> + Send;
    /// Links twins at once, outside any job's outcome: a contact just added in CloudTalk is
    /// known as the bridge's before CloudTalk reports it.
    fn link_cloudtalk(
        &self,
        link: &CloudTalkLink,
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The GHL twin of a CloudTalk contact in a bridge.
    fn cloudtalk_link_of(
        &self,
        bridge: &BridgeName,
        cloudtalk_contact: cloudtalk::ContactId,
    ) -> impl Future<Output = Result<Option<CloudTalkLink>, StoreError>> + Send;
    /// Inserts or replaces an owner.
    fn upsert_owner(&self, owner: &Owner) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One owner.
    fn owner(&self, id: &OwnerId)
    -> impl Future<Output = Result<Option<Owner>, StoreError>> + Send;
    /// Every owner.
    fn owners(&self) -> impl Future<Output = Result<Vec<Owner>, StoreError>> + Send;
    /// Stores a new key and revokes the owner's others (a rotation; the first key revokes
    /// nothing), in one transaction.
    fn rotate_owner_key(
        &self,
        key: &OwnerKey,
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The key with this hash, revoked or not.
    fn owner_key_by_hash(
        &self,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Option<OwnerKey>, StoreError>> + Send;
    /// An owner's keys.
    fn owner_keys(
        &self,
        owner: &OwnerId,
    ) -> impl Future<Output = Result<Vec<OwnerKey>, StoreError>> + Send;
    /// Inserts or replaces a broadcast.
    fn upsert_broadcast(
        &self,
        broadcast: &Broadcast,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One of an owner's broadcasts: another owner's is `None`, as a missing one is.
    fn broadcast(
        &self,
        owner: &OwnerId,
        id: &BroadcastId,
    ) -> impl Future<Output = Result<Option<Broadcast>, StoreError>> + Send;
    /// The owner of a broadcast, by its id alone (the admin token names broadcasts so).
    fn broadcast_owner(
        &self,
        id: &BroadcastId,
    ) -> impl Future<Output = Result<Option<OwnerId>, StoreError>> + Send;
    /// An owner's broadcasts, newest first.
    fn broadcasts(
        &self,
        owner: &OwnerId,
    ) -> impl Future<Output = Result<Vec<Broadcast>, StoreError>> + Send;
    /// Moves one of the owner's broadcasts from `from` to `to`: false when it is not the
    /// owner's or no longer in `from` (someone changed it meanwhile).
    fn set_broadcast_status(
        &self,
        owner: &OwnerId,
        id: &BroadcastId,
        from: BroadcastStatus,
        to: BroadcastStatus,
        now: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Adds numbers to an owner's Do-Not-Call list: how many were new.
    fn add_dnc(
        &self,
        owner: &OwnerId,
        phones: &[E164],
        now: Millis,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// True when the number is on the owner's Do-Not-Call list.
    fn is_dnc(
        &self,
        owner: &OwnerId,
        phone: &E164,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Stores an owner's engine secret (sealed, and its hash), replacing the one before.
    fn set_engine_secret(
        &self,
        owner: &OwnerId,
        secret_hash: &str,
        sealed: &str,
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The owner whose engine secret has this hash.
    fn engine_owner_by_hash(
        &self,
        secret_hash: &str,
    ) -> impl Future<Output = Result<Option<OwnerId>, StoreError>> + Send;
    /// An owner's sealed engine secret.
    fn engine_secret(
        &self,
        owner: &OwnerId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Queues a number in its broadcast, giving it the next position: `Duplicate` when the
    /// number is in the broadcast already, `Closed` when the broadcast is not the owner's or
    /// takes no numbers.
    fn enqueue_number(
        &self,
        item: &QueueItem,
    ) -> impl Future<Output = Result<Enqueued, StoreError>> + Send;
    /// One of an owner's queue items.
    fn queue_item(
        &self,
        owner: &OwnerId,
        id: &QueueItemId,
    ) -> impl Future<Output = Result<Option<QueueItem>, StoreError>> + Send;
    /// A broadcast's queue by position, after `after_position`.
    fn queue_items(
        &self,
        owner: &OwnerId,
        broadcast: &BroadcastId,
        after_position: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<QueueItem>, StoreError>> + Send;
    /// A broadcast's items due at `now` (queued and due, or leased under an expired lease),
    /// in due order.
    fn due_items(
        &self,
        owner: &OwnerId,
        broadcast: &BroadcastId,
        now: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<QueueItem>, StoreError>> + Send;
    /// Moves queued items' due times (outside their calling window until then).
    fn defer_items(
        &self,
        owner: &OwnerId,
        items: &[(QueueItemId, Millis)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Leases those of `ids` still due at `now` until `until`: the ones it got. An item's
    /// due time becomes its lease's end, when an unreported call is handed out again.
    fn lease_items(
        &self,
        owner: &OwnerId,
        ids: &[QueueItemId],
        lease_id: &str,
        until: Millis,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<QueueItem>, StoreError>> + Send;
    /// When a broadcast's next unfinished item is due, if one is.
    fn next_due(
        &self,
        owner: &OwnerId,
        broadcast: &BroadcastId,
    ) -> impl Future<Output = Result<Option<Millis>, StoreError>> + Send;
    /// Records a dialer's report once (by its event id) in one transaction: the item called
    /// again after the broadcast's retry delay, or final, and then, with a GHL contact, a
    /// pending update for GHL.
    fn record_call(
        &self,
        owner: &Owner,
        report: &CallReport,
        now: Millis,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// Pending updates no callback run took yet, oldest first.
    fn pending_updates(
        &self,
        scope: &PendingScope,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PendingUpdate>, StoreError>> + Send;
    /// Takes `taken` and enqueues `plan` for them in one transaction: false (and nothing
    /// done) when another run took one of them first.
    fn queue_callbacks(
        &self,
        taken: &[PendingId],
        plan: &CallbackPlan,
        now: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Pending updates with their status read from their jobs.
    fn pending_views(
        &self,
        scope: &PendingScope,
    ) -> impl Future<Output = Result<Vec<PendingView>, StoreError>> + Send;
    /// Takes up to `want` units of `key`'s fixed window that starts at `window_start` (at
    /// most `limit` per window) and returns how many it got: `0` when the window is spent,
    /// or when the key already counts a later window. Atomic across instances.
    fn window_take(
        &self,
        key: &str,
        window_start: Millis,
        limit: u32,
        want: u32,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;
}

/// What queuing a number did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued at this position.
    Added {
        /// From 1.
        position: i64,
    },
    /// The number is in the broadcast already, as this item.
    Duplicate {
        /// The item.
        id: QueueItemId,
        /// Its position.
        position: i64,
    },
    /// The broadcast is not the owner's, or is completed or cancelled.
    Closed,
}

/// SQLite or PostgreSQL, chosen by URL.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// `sqlite://path`.
    Sqlite(SqliteStore),
    /// `postgres://...`.
    Postgres(PgStore),
}

impl AnyStore {
    /// Connects: `sqlite://PATH` (created if missing) or `postgres://...`.
    pub async fn connect(url: &str, synchronous: Synchronous) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::connect(url, synchronous).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres(PgStore::connect(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Prepares this process to store events: on SQLite, takes the file's ingest lock and
    /// loads the recent dedupe keys now, so a second serving process fails at start rather
    /// than at its first event. Nothing to do on PostgreSQL.
    pub async fn begin_ingest(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.begin_ingest().await,
            Self::Postgres(_) => Ok(()),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn dialect(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

macro_rules! delegate {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl Store for AnyStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        Self::Sqlite(s) => s.$name($($arg),*).await,
                        Self::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

delegate! {
    fn migrate(&self) -> Result<(), StoreError>;
    fn ping(&self) -> Result<(), StoreError>;
    fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;
    fn claim_events(&self, owner: &str, now: Millis, lease_ms: Millis, limit: u32) -> Result<Vec<InboxEvent>, StoreError>;
    fn complete_event(&self, id: EventId, owner: &str, changes: &Changeset, now: Millis) -> Result<bool, StoreError>;
    fn fail_event(&self, id: EventId, owner: &str, error: &str, retry_at: Option<Millis>, now: Millis) -> Result<bool, StoreError>;
    fn list_events(&self, filter: &EventFilter) -> Result<Vec<InboxEvent>, StoreError>;
    fn replay_events(&self, filter: &EventFilter, now: Millis) -> Result<u64, StoreError>;
    fn enqueue_jobs(&self, jobs: &[NewJob], now: Millis) -> Result<u64, StoreError>;
    fn claim_jobs(&self, owner: &str, now: Millis, lease_ms: Millis, limit: u32, per_location: u32) -> Result<Vec<Job>, StoreError>;
    fn finish_jobs(&self, owner: &str, jobs: &[FinishedJob], now: Millis) -> Result<Vec<bool>, StoreError>;
    fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    fn replay_jobs(&self, filter: &JobFilter, now: Millis) -> Result<u64, StoreError>;
    fn queue_stats(&self) -> Result<QueueStats, StoreError>;
    fn event_stats(&self, since: Millis) -> Result<EventStats, StoreError>;
    fn rate_reserve(&self, requests: &[RateRequest], now: Millis) -> Result<Vec<Decision>, StoreError>;
    fn rate_hold(&self, key: &str, tat: Millis) -> Result<(), StoreError>;
    fn upsert_location(&self, location: &Location) -> Result<(), StoreError>;
    fn location(&self, id: &LocationId) -> Result<Option<Location>, StoreError>;
    fn locations(&self) -> Result<Vec<Location>, StoreError>;
    fn upsert_route(&self, route: &WorkflowRoute) -> Result<(), StoreError>;
    fn route(&self, name: &str) -> Result<Option<WorkflowRoute>, StoreError>;
    fn routes(&self) -> Result<Vec<WorkflowRoute>, StoreError>;
    fn profile(&self, location: &LocationId, subject: &str) -> Result<Option<(Profile, i64)>, StoreError>;
    fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    fn revoke_api_key(&self, id: &str, now: Millis) -> Result<bool, StoreError>;
    fn contact(&self, location: &LocationId, id: &ContactId) -> Result<Option<ContactMirror>, StoreError>;
    fn contacts(&self, location: &LocationId) -> Result<Vec<ContactMirror>, StoreError>;
    fn notes(&self, location: &LocationId, contact: &ContactId) -> Result<Vec<NoteMirror>, StoreError>;
    fn opportunities(&self, location: &LocationId) -> Result<Vec<OpportunityMirror>, StoreError>;
    fn opportunity(&self, location: &LocationId, id: &OpportunityId) -> Result<Option<OpportunityMirror>, StoreError>;
    fn linked_contact(&self, location: &LocationId, subject: &str) -> Result<Option<ContactId>, StoreError>;
    fn linked_subject(&self, location: &LocationId, contact: &ContactId) -> Result<Option<String>, StoreError>;
    fn linked_opportunity(&self, location: &LocationId, key: &str) -> Result<Option<OpportunityId>, StoreError>;
    fn sync_log(&self, location: Option<&LocationId>, limit: u32) -> Result<Vec<LogEntry>, StoreError>;
    fn cloudtalk_link(&self, bridge: &BridgeName, ghl_contact: &ContactId) -> Result<Option<CloudTalkLink>, StoreError>;
    fn cloudtalk_link_of(&self, bridge: &BridgeName, cloudtalk_contact: cloudtalk::ContactId) -> Result<Option<CloudTalkLink>, StoreError>;
    fn link_cloudtalk(&self, link: &CloudTalkLink, now: Millis) -> Result<(), StoreError>;
    fn window_take(&self, key: &str, window_start: Millis, limit: u32, want: u32) -> Result<u32, StoreError>;
    fn set_engine_secret(&self, owner: &OwnerId, secret_hash: &str, sealed: &str, now: Millis) -> Result<(), StoreError>;
    fn engine_owner_by_hash(&self, secret_hash: &str) -> Result<Option<OwnerId>, StoreError>;
    fn engine_secret(&self, owner: &OwnerId) -> Result<Option<String>, StoreError>;
    fn enqueue_number(&self, item: &QueueItem) -> Result<Enqueued, StoreError>;
    fn queue_item(&self, owner: &OwnerId, id: &QueueItemId) -> Result<Option<QueueItem>, StoreError>;
    fn queue_items(&self, owner: &OwnerId, broadcast: &BroadcastId, after_position: i64, limit: u32) -> Result<Vec<QueueItem>, StoreError>;
    fn due_items(&self, owner: &OwnerId, broadcast: &BroadcastId, now: Millis, limit: u32) -> Result<Vec<QueueItem>, StoreError>;
    fn defer_items(&self, owner: &OwnerId, items: &[(QueueItemId, Millis)]) -> Result<(), StoreError>;
    fn lease_items(&self, owner: &OwnerId, ids: &[QueueItemId], lease_id: &str, until: Millis, now: Millis) -> Result<Vec<QueueItem>, StoreError>;
    fn next_due(&self, owner: &OwnerId, broadcast: &BroadcastId) -> Result<Option<Millis>, StoreError>;
    fn record_call(&self, owner: &Owner, report: &CallReport, now: Millis) -> Result<Recorded, StoreError>;
    fn pending_updates(&self, scope: &PendingScope, limit: u32) -> Result<Vec<PendingUpdate>, StoreError>;
    fn queue_callbacks(&self, taken: &[PendingId], plan: &CallbackPlan, now: Millis) -> Result<bool, StoreError>;
    fn pending_views(&self, scope: &PendingScope) -> Result<Vec<PendingView>, StoreError>;
    fn upsert_owner(&self, owner: &Owner) -> Result<(), StoreError>;
    fn owner(&self, id: &OwnerId) -> Result<Option<Owner>, StoreError>;
    fn owners(&self) -> Result<Vec<Owner>, StoreError>;
    fn rotate_owner_key(&self, key: &OwnerKey, now: Millis) -> Result<u64, StoreError>;
    fn owner_key_by_hash(&self, secret_hash: &str) -> Result<Option<OwnerKey>, StoreError>;
    fn owner_keys(&self, owner: &OwnerId) -> Result<Vec<OwnerKey>, StoreError>;
    fn upsert_broadcast(&self, broadcast: &Broadcast) -> Result<(), StoreError>;
    fn broadcast(&self, owner: &OwnerId, id: &BroadcastId) -> Result<Option<Broadcast>, StoreError>;
    fn broadcast_owner(&self, id: &BroadcastId) -> Result<Option<OwnerId>, StoreError>;
    fn broadcasts(&self, owner: &OwnerId) -> Result<Vec<Broadcast>, StoreError>;
    fn set_broadcast_status(&self, owner: &OwnerId, id: &BroadcastId, from: BroadcastStatus, to: BroadcastStatus, now: Millis) -> Result<bool, StoreError>;
    fn add_dnc(&self, owner: &OwnerId, phones: &[E164], now: Millis) -> Result<u64, StoreError>;
    fn is_dnc(&self, owner: &OwnerId, phone: &E164) -> Result<bool, StoreError>;
}
