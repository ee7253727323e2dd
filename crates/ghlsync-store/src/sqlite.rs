//! SQLite: one file in WAL mode, the default store.
//!
//! All writes go through one connection, so writers queue in the process instead of
//! fighting over SQLite's lock (and `BEGIN IMMEDIATE` takes the write lock up front); reads
//! use a small pool of their own. Ingress batches many events into one transaction (group
//! commit), which is where SQLite's throughput comes from: `synchronous=FULL` keeps every
//! acknowledged event on disk through a power loss.

use std::collections::{HashMap, VecDeque};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ghl::{ContactId, LocationId};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::gcra::Decision;
use ghlsync_core::{
    Changeset, ContactMirror, EventId, Gcra, InboxEvent, Job, JobId, Location, Millis, NewEvent,
    NewJob, NoteMirror, OpportunityMirror, WorkflowRoute,
};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::rows::{
    ContactRow, EventRow, JobRow, LocationRow, LogRow, NoteRow, OpportunityRow, RouteRow,
};
use crate::shared::{INSERT_CHUNK, event_cols, finish, impl_store, insert_events_query, job_cols};
use crate::{EventFilter, EventStats, Inserted, JobFilter, QueueStats, Store, StoreError};

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
    recent: Arc<tokio::sync::Mutex<Option<RecentKeys>>>,
    /// The database file (`None` in memory), for the lock that guards `recent`.
    path: Option<std::path::PathBuf>,
}

impl SqliteStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

    const CLAIM_EVENTS: &'static str = concat!(
        "UPDATE inbox SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1 ",
        "WHERE id IN (SELECT id FROM inbox WHERE (state = 'pending' AND run_at <= $3) ",
        "OR (state = 'running' AND lease_until < $3) ORDER BY id LIMIT $4) ",
        "RETURNING ",
        event_cols!()
    );

    const CLAIM_JOBS: &'static str = concat!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1, updated_at = $3 ",
        "WHERE id IN (SELECT j.id FROM jobs j WHERE ((j.state = 'queued' AND j.run_at <= $3) ",
        "OR (j.state = 'running' AND j.lease_until < $3)) AND NOT EXISTS (SELECT 1 FROM jobs k ",
        "WHERE k.ordering_key = j.ordering_key AND k.id < j.id AND k.state IN ('queued', 'running')) ",
        "ORDER BY j.run_at, j.id LIMIT $4) RETURNING ",
        job_cols!()
    );

    // The write lock is already held (BEGIN IMMEDIATE), so a plain read is exclusive.
    const SELECT_TAT: &'static str = "SELECT tat FROM rate_limits WHERE key = $1";

    /// Opens (creating if needed) `sqlite://PATH`.
    pub async fn connect(url: &str, synchronous: Synchronous) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                Synchronous::Full => SqliteSynchronous::Full,
                Synchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // sqlx exposes no getter for it; these are the two spellings it treats as in memory.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let path = (!in_memory).then(|| options.get_filename().to_path_buf());
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
            recent: Arc::default(),
            path,
        })
    }

    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    fn read(&self) -> &SqlitePool {
        &self.reader
    }

    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
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
    ids: HashMap<String, i64>,
    order: VecDeque<(Millis, String)>,
    _lock: Option<std::fs::File>,
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

    async fn load(pool: &SqlitePool, db: Option<&std::path::Path>) -> Result<Self, StoreError> {
        let lock = db.map(Self::lock).transpose()?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT id, dedupe_key, received_at FROM inbox WHERE dedupe_key IS NOT NULL \
             AND id > (SELECT COALESCE(MAX(id), 0) FROM inbox) - $1 ORDER BY id",
        )
        .bind(DEDUPE_MAX_KEYS as i64)
        .fetch_all(pool)
        .await?;
        let mut keys = Self {
            _lock: lock,
            ..Self::default()
        };
        for (id, key, at) in rows {
            keys.remember(key, id, at);
        }
        Ok(keys)
    }

    fn remember(&mut self, key: String, id: i64, at: Millis) {
        if self.ids.insert(key.clone(), id).is_none() {
            self.order.push_back((at, key));
        }
        while self.order.len() > DEDUPE_MAX_KEYS
            || self
                .order
                .front()
                .is_some_and(|(oldest, _)| *oldest < at - DEDUPE_WINDOW_MS)
        {
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

impl SqliteStore {
    /// See [`AnyStore::begin_ingest`](crate::AnyStore::begin_ingest).
    pub async fn begin_ingest(&self) -> Result<(), StoreError> {
        let mut recent = self.recent.lock().await;
        self.recent_keys(&mut recent).await.map(|_| ())
    }

    /// The recent keys, loaded (and the ingest lock taken) on first use.
    async fn recent_keys<'a>(
        &self,
        slot: &'a mut Option<RecentKeys>,
    ) -> Result<&'a mut RecentKeys, StoreError> {
        if slot.is_none() {
            *slot = Some(RecentKeys::load(&self.reader, self.path.as_deref()).await?);
        }
        Ok(slot.as_mut().expect("loaded above"))
    }

    /// Stores a batch of events in one transaction. Usually the whole group commit is one
    /// round trip to SQLite's worker thread, because under load every hand-over to that
    /// thread waits for the scheduler.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        let mut recent = self.recent.lock().await;
        let recent = self.recent_keys(&mut recent).await?;
        // Decide duplicates before writing: against recent keys, and within the batch.
        let mut outcome: Vec<Option<Inserted>> = vec![None; events.len()];
        let mut fresh: Vec<usize> = Vec::with_capacity(events.len());
        let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            match e.dedupe_key.as_deref() {
                Some(k) => {
                    if let Some(id) = recent.ids.get(k) {
                        outcome[i] = Some(Inserted::Duplicate(EventId(*id)));
                    } else if let Some(first) = first_in_batch.get(k) {
                        repeats.push((i, *first));
                    } else {
                        first_in_batch.insert(k, i);
                        fresh.push(i);
                    }
                }
                None => fresh.push(i),
            }
        }
        let rows: Vec<&NewEvent> = fresh.iter().map(|&i| &events[i]).collect();
        let first_ids = self.insert_rows(&rows).await?;
        for (&i, id) in fresh.iter().zip(first_ids) {
            outcome[i] = Some(Inserted::New(EventId(id)));
            if let Some(k) = &events[i].dedupe_key {
                recent.remember(k.clone(), id, events[i].received_at);
            }
        }
        for (i, first) in repeats {
            if let Some(Inserted::New(id)) = outcome[first] {
                outcome[i] = Some(Inserted::Duplicate(id));
            }
        }
        finish(outcome)
    }

    /// Inserts rows in one transaction and returns their ids. No constraint can reject a
    /// row, and rowids are assigned in order under the write lock, so each statement's rows
    /// have the ids that end at its last rowid.
    async fn insert_rows(&self, rows: &[&NewEvent]) -> Result<Vec<i64>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        if rows.len() <= INSERT_CHUNK {
            let metas: Vec<String> = rows.iter().map(|e| e.meta.to_string()).collect();
            let mut qb = insert_events_query!(sqlx::Sqlite, "BEGIN IMMEDIATE; ", rows, metas);
            qb.push("; SELECT changes(), last_insert_rowid(); COMMIT;");
            let mut conn = self.writer.acquire().await?;
            let counts: Result<Vec<(i64, i64)>, sqlx::Error> =
                qb.build_query_as().fetch_all(&mut *conn).await;
            return match counts {
                Ok(c) if c.len() == 1 && c[0].0 == rows.len() as i64 => {
                    Ok((c[0].1 - c[0].0 + 1..=c[0].1).collect())
                }
                other => {
                    // The statements stopped part-way: nothing of the batch may stay.
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                    Err(match other {
                        Err(e) => StoreError::Database(e),
                        Ok(c) => StoreError::Corrupt(format!("unexpected insert counts {c:?}")),
                    })
                }
            };
        }
        let mut tx = self.write().await?;
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            let metas: Vec<String> = chunk.iter().map(|e| e.meta.to_string()).collect();
            let mut qb = insert_events_query!(sqlx::Sqlite, "", chunk, metas);
            let last = qb.build().execute(&mut *tx).await?.last_insert_rowid();
            ids.extend(last - chunk.len() as i64 + 1..=last);
        }
        tx.commit().await?;
        Ok(ids)
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);
