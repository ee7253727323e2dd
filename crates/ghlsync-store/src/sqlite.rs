//! SQLite: one file in WAL mode, the default store.
//!
//! Two connections write: sqlx's writer (everything but ingest) and the ingest writer (a
//! plain connection that stores a group commit synchronously on ghlsync's ingest thread).
//! Both take one in-process gate around each write transaction, so writers queue in the
//! process instead of fighting over SQLite's lock (and `BEGIN IMMEDIATE` takes the write
//! lock up front); reads use a small pool of their own. Ingress batches many events into one
//! transaction (group commit), which is where SQLite's throughput comes from:
//! `synchronous=FULL` keeps every acknowledged event on disk through a power loss.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ghl::{ContactId, LocationId, OpportunityId};
use ghlsync_core::bridge::{BridgeName, CloudTalkLink};
use ghlsync_core::broadcast::{
    Broadcast, BroadcastId, BroadcastStatus, E164, Owner, OwnerId, OwnerKey,
};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::gcra::Decision;
use ghlsync_core::profile::Profile;
use ghlsync_core::{
    ApiKey, Changeset, ContactMirror, EventId, InboxEvent, Job, Location, Millis, NewEvent, NewJob,
    NoteMirror, OpportunityMirror, WorkflowRoute,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::rows::{
    ApiKeyRow, BodyRow, BroadcastRow, CloudTalkLinkRow, ContactRow, EventRow, JobRow, LocationRow,
    LogRow, NoteRow, OpportunityRow, OwnerKeyRow, RouteRow,
};
use crate::shared::{
    event_cols, finish, first_of_its_key, impl_store, job_cols, job_lanes, running_in_lane,
};
use crate::{
    EventFilter, EventStats, FinishedJob, Inserted, JobFilter, JobOutcome, QueueStats, RateRequest,
    Store, StoreError,
};

/// How SQLite syncs commits to disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is on disk before it returns (SQLite fsyncs the WAL at each commit; the
    /// ingest writer shares one commit among many events): an acknowledged event survives
    /// power loss.
    #[default]
    Full,
    /// No fsync after commits (SQLite syncs the WAL at checkpoints): faster, still safe if
    /// ghlsync crashes, but the last commits can be lost if the machine loses power.
    Normal,
}

impl FromStr for Synchronous {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            other => Err(format!("synchronous must be full or normal, not {other:?}")),
        }
    }
}

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The ingest writer's connection and the recent dedupe keys, opened on first use.
    ingest: Arc<std::sync::Mutex<Option<IngestWriter>>>,
    /// Taken around every write transaction of this process, on either connection: SQLite
    /// admits one writer at a time, and without the gate the loser of a race would sleep in
    /// SQLite's busy handler (1, 2, 5, 10 ms ...) instead of queueing.
    gate: Arc<tokio::sync::Mutex<()>>,
    path: std::path::PathBuf,
    synchronous: Synchronous,
}

impl SqliteStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

    // Due events and expired leases, each read through its own partial index. Written as one
    // OR, the planner walked the whole table in id order, through every done event, at every
    // claim (160 ms a claim at a million events).
    const CLAIM_EVENTS: &'static str = concat!(
        "UPDATE inbox SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1 ",
        "WHERE id IN (SELECT id FROM (SELECT id FROM inbox INDEXED BY inbox_pending ",
        "WHERE state = 'pending' AND run_at <= $3 ORDER BY id LIMIT $4) ",
        "UNION ALL SELECT id FROM (SELECT id FROM inbox INDEXED BY inbox_leases ",
        "WHERE state = 'running' AND lease_until < $3 ORDER BY lease_until LIMIT $4) ",
        "ORDER BY id LIMIT $4) ",
        "RETURNING ",
        event_cols!()
    );

    // Each lane's next jobs, found through `jobs_lanes` (SQLite has no LATERAL: the list
    // subquery is evaluated per lane and its ids looked up by rowid), numbered within the
    // lane; the claim takes every lane's first job, then every lane's second, and so on.
    // Parameters: $1 owner, $2 lease end, $3 now, $4 limit, $5 jobs per location.
    const CLAIM_JOBS: &'static str = concat!(
        "WITH RECURSIVE ",
        job_lanes!("INDEXED BY jobs_lanes"),
        ", due AS (SELECT q.id, q.run_at, ",
        "ROW_NUMBER() OVER (PARTITION BY q.location_id ORDER BY q.run_at, q.id) AS rn, ",
        running_in_lane!(),
        " AS running FROM lanes l JOIN jobs q ON q.id IN (SELECT j.id FROM jobs j INDEXED BY jobs_lanes ",
        "WHERE j.location_id = l.location_id AND j.state = 'queued' AND j.run_at <= $3 AND ",
        first_of_its_key!(),
        " ORDER BY j.run_at, j.id LIMIT $5) WHERE l.location_id IS NOT NULL), ",
        "expired AS (SELECT j.id, j.lease_until AS run_at, 0 AS rn FROM jobs j INDEXED BY jobs_leases ",
        "WHERE j.state = 'running' AND j.lease_until < $3 AND ",
        first_of_its_key!(),
        " ORDER BY j.lease_until LIMIT $4), ",
        "picked AS (SELECT id FROM (SELECT id, run_at, rn FROM due WHERE rn + running <= $5 ",
        "UNION ALL SELECT id, run_at, rn FROM expired) ORDER BY rn, run_at, id LIMIT $4) ",
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1, updated_at = $3 ",
        "WHERE id IN (SELECT id FROM picked) RETURNING ",
        job_cols!()
    );

    // The write lock is already held (BEGIN IMMEDIATE), so a plain read is exclusive.
    const LOCK_ROWS: &'static str = "";

    /// Opens (creating if needed) `sqlite://PATH`. In-memory databases are refused: the
    /// store's connections must all see one database.
    pub async fn connect(url: &str, synchronous: Synchronous) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // sqlx exposes no getter for it; these are the two spellings it treats as in memory.
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let path = options.get_filename().to_path_buf();
        // The one writer connection is never handed to anyone else, so pinging it before each
        // use would only add a round trip to every commit.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self {
            writer,
            reader,
            ingest: Arc::default(),
            gate: Arc::default(),
            path,
            synchronous,
        })
    }

    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    fn read(&self) -> &SqlitePool {
        &self.reader
    }

    async fn write(&self) -> Result<WriteTx, StoreError> {
        let gate = Arc::clone(&self.gate).lock_owned().await;
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _gate: gate })
    }
}

/// How long a connection waits for SQLite's write lock held by another process (the CLI, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A write transaction on the sqlx writer connection, holding the write gate until it ends.
struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _gate: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// How far back repeats are recognised: GHL retries for about 70 minutes, so a week of keys
/// (at most a million) is ample.
const DEDUPE_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;
const DEDUPE_MAX_KEYS: usize = 1_000_000;

/// Dedupe keys of recent events and their ids, oldest first.
///
/// SQLite serves one ghlsync process, so the keys can live in memory: loaded from the inbox
/// on first use, updated after each commit. A unique index would do the same at the price
/// of a random page write per event per commit, which halves ingest throughput.
///
/// That holds only while one process stores events in the file, so loading the keys (at
/// `serve`'s start, or at a process's first event) takes an exclusive lock on
/// `<db>.ingest.lock` for as long as the process runs (the system drops it when the process
/// dies, however it dies). Reading and the CLI's replays
/// need no lock.
#[derive(Debug, Default)]
struct RecentKeys {
    /// The newest event stored under each key: its id and when it was received.
    ids: HashMap<KeyDigest, (i64, Millis), foldhash::fast::RandomState>,
    /// Every remembered event, oldest first. A key stored again after its window appears
    /// twice; forgetting the older entry leaves the newer one in `ids`.
    order: VecDeque<(Millis, KeyDigest, i64)>,
    _lock: Option<std::fs::File>,
}

/// A dedupe key by the first 128 bits of its SHA-256. Keeping strings cost an allocation per
/// event and rehashing every string as the map grew, which took a sixth of ingest
/// throughput in `cargo xtask bench ingest`; a fixed-size digest costs neither. 128 bits,
/// not 64: two keys sharing a digest would answer a new event as a repeat of another and
/// lose it, and at 128 bits that needs about 2^64 keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct KeyDigest(u128);

impl KeyDigest {
    fn of(key: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest.as_ref()[..16]);
        Self(u128::from_le_bytes(first))
    }
}

impl RecentKeys {
    /// Takes the ingest lock of the database at `db`.
    fn lock(db: &std::path::Path) -> Result<std::fs::File, StoreError> {
        let mut name = db.as_os_str().to_owned();
        name.push(".ingest.lock");
        let path = std::path::PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::LockFile {
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(StoreError::InUse(db.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::LockFile {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// The keys stored within the window, read through the ingest connection.
    fn load(conn: &rusqlite::Connection, lock: std::fs::File) -> Result<Self, StoreError> {
        let mut keys = Self {
            _lock: Some(lock),
            ..Self::default()
        };
        let mut stmt = conn.prepare(
            "SELECT id, dedupe_key, received_at FROM inbox WHERE dedupe_key IS NOT NULL \
             AND id > (SELECT COALESCE(MAX(id), 0) FROM inbox) - ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([DEDUPE_MAX_KEYS as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, key, at) = row?;
            keys.remember(KeyDigest::of(&key), id, at);
        }
        Ok(keys)
    }

    fn remember(&mut self, key: KeyDigest, id: i64, at: Millis) {
        if self
            .ids
            .insert(key, (id, at))
            .is_none_or(|(old, _)| old != id)
        {
            self.order.push_back((at, key, id));
        }
        while self.order.len() > DEDUPE_MAX_KEYS
            || self
                .order
                .front()
                .is_some_and(|(oldest, ..)| *oldest < at - DEDUPE_WINDOW_MS)
        {
            if let Some((_, old, old_id)) = self.order.pop_front()
                && self.ids.get(&old).is_some_and(|(id, _)| *id == old_id)
            {
                self.ids.remove(&old);
            }
        }
    }

    /// The event an incoming one repeats: the newest stored under its key, unless the key
    /// has a window and that event was received before it.
    fn repeated(&self, key: &KeyDigest, event: &NewEvent) -> Option<i64> {
        let (id, at) = self.ids.get(key)?;
        let within = event
            .dedupe_window_ms
            .is_none_or(|window| event.received_at - at <= window);
        within.then_some(*id)
    }
}

/// The ingest writer: its own plain SQLite connection, used by one thread at a time.
///
/// Group commit runs synchronously on the caller's thread (ghlsync's ingest thread): with
/// sqlx every statement would be handed to sqlx's worker thread and back, and under load
/// each hand-over waits for the scheduler.
#[derive(Debug)]
struct IngestWriter {
    conn: rusqlite::Connection,
    recent: RecentKeys,
}

impl IngestWriter {
    const INSERT: &'static str = "INSERT INTO inbox (source, dedupe_key, event_type, location_id, route, \
         meta, body, state, run_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)";

    /// Takes the ingest lock, opens the connection and loads the recent keys.
    fn open(path: &std::path::Path, synchronous: Synchronous) -> Result<Self, StoreError> {
        let lock = RecentKeys::lock(path)?;
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The journal mode (WAL) is the file's own, set by the first connection.
        conn.pragma_update(
            None,
            "synchronous",
            match synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            },
        )?;
        let recent = RecentKeys::load(&conn, lock)?;
        Ok(Self { conn, recent })
    }

    /// Stores a batch in one transaction, taking `gate` for its duration.
    fn insert(
        &mut self,
        events: &[NewEvent],
        gate: &tokio::sync::Mutex<()>,
    ) -> Result<Vec<Inserted>, StoreError> {
        // Decide duplicates before writing: against recent keys, and within the batch.
        let mut outcome: Vec<Option<Inserted>> = vec![None; events.len()];
        let mut fresh: Vec<usize> = Vec::with_capacity(events.len());
        let digests: Vec<Option<KeyDigest>> = events
            .iter()
            .map(|e| e.dedupe_key.as_deref().map(KeyDigest::of))
            .collect();
        let mut first_in_batch: HashMap<KeyDigest, usize, foldhash::fast::RandomState> =
            HashMap::default();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for (i, digest) in digests.iter().enumerate() {
            match *digest {
                Some(k) => {
                    if let Some(id) = self.recent.repeated(&k, &events[i]) {
                        outcome[i] = Some(Inserted::Duplicate(EventId(id)));
                    } else if let Some(first) = first_in_batch.get(&k) {
                        repeats.push((i, *first));
                    } else {
                        first_in_batch.insert(k, i);
                        fresh.push(i);
                    }
                }
                None => fresh.push(i),
            }
        }
        if !fresh.is_empty() {
            let _gate = gate.blocking_lock();
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut ids = Vec::with_capacity(fresh.len());
            {
                let mut insert = tx.prepare_cached(Self::INSERT)?;
                for &i in &fresh {
                    let e = &events[i];
                    insert.execute(rusqlite::params![
                        e.source.as_str(),
                        e.dedupe_key.as_deref(),
                        e.event_type.as_str(),
                        e.location_id.as_ref().map(|l| l.as_str()),
                        e.route.as_deref(),
                        e.meta.to_string(),
                        e.body.as_slice(),
                        e.received_at,
                    ])?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            // Dropping an uncommitted transaction rolls it back: nothing of a failed batch stays.
            tx.commit()?;
            for (&i, id) in fresh.iter().zip(ids) {
                outcome[i] = Some(Inserted::New(EventId(id)));
                if let Some(k) = digests[i] {
                    self.recent.remember(k, id, events[i].received_at);
                }
            }
        }
        for (i, first) in repeats {
            if let Some(Inserted::New(id)) = outcome[first] {
                outcome[i] = Some(Inserted::Duplicate(id));
            }
        }
        finish(outcome)
    }
}

impl SqliteStore {
    /// See [`AnyStore::begin_ingest`](crate::AnyStore::begin_ingest).
    pub async fn begin_ingest(&self) -> Result<(), StoreError> {
        self.blocking(|store| store.with_ingest(|_| Ok(()))).await
    }

    /// Stores a batch of events in one transaction, blocking the calling thread until it is
    /// committed. For a thread that does nothing else (ghlsync's ingest writer): it must not
    /// run on an async runtime's worker.
    pub fn insert_events_blocking(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.with_ingest(|w| w.insert(events, &self.gate))
    }

    /// Runs `f` on the ingest writer, opening it (and taking the ingest lock) on first use.
    fn with_ingest<T>(
        &self,
        f: impl FnOnce(&mut IngestWriter) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic mid-batch rolled its transaction back while unwinding, and the keys
        // change only after a commit, so a poisoned writer is still consistent.
        let mut slot = self
            .ingest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(IngestWriter::open(&self.path, self.synchronous)?);
        }
        f(slot.as_mut().expect("opened above"))
    }

    /// The async form, for callers other than the ingest writer.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        let events = events.to_vec();
        self.blocking(move |store| store.insert_events_blocking(&events))
            .await
    }

    /// Runs `f` on tokio's blocking pool: the ingest writer must not block a runtime worker.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::WriterPanicked(e.to_string()))?
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of a claim statement on a fresh store, a line per step: owner `w`,
    /// lease end and now 1, limit 10, and the lane size when the statement takes one.
    async fn plan_of(claim: &str, lane: Option<i64>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = SqliteStore::connect(&url, Synchronous::Full).await.unwrap();
        store.migrate().await.unwrap();
        let explain = format!("EXPLAIN QUERY PLAN {claim}");
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(explain.as_str()))
            .bind("w")
            .bind(1_i64)
            .bind(1_i64)
            .bind(10_i64);
        if let Some(lane) = lane {
            query = query.bind(lane);
        }
        let plan: Vec<(i64, i64, i64, String)> = query.fetch_all(store.read()).await.unwrap();
        plan.into_iter().map(|(_, _, _, detail)| detail).collect()
    }

    /// A claim reads the two partial indexes, never the whole table through done events.
    #[tokio::test]
    async fn claims_read_the_claim_indexes_not_done_events() {
        let plan = plan_of(SqliteStore::CLAIM_EVENTS, None).await;
        assert!(
            plan.iter().any(|d| d.contains("INDEX inbox_pending")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|d| d.contains("INDEX inbox_leases")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d == "SCAN inbox"), "{plan:?}");
    }

    /// A job claim reads each location's lane through the lane indexes, never the whole
    /// table, however long the backlog.
    #[tokio::test]
    async fn job_claims_read_the_lanes_not_the_table() {
        let plan = plan_of(SqliteStore::CLAIM_JOBS, Some(8)).await;
        for index in [
            "jobs_lanes",
            "jobs_running",
            "jobs_leases",
            "jobs_open_by_key",
        ] {
            assert!(
                plan.iter().any(|d| d.contains(&format!("INDEX {index}"))),
                "{index}: {plan:?}"
            );
        }
        // The aliases the claim gives the jobs table.
        for scan in ["SCAN jobs", "SCAN j", "SCAN q", "SCAN o", "SCAN r"] {
            assert!(!plan.iter().any(|d| d.trim() == scan), "{scan}: {plan:?}");
        }
    }
}
