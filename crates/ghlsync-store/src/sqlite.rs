//! SQLite: one file in WAL mode, the default store.
//!
//! All writes go through one connection, so writers queue in the process instead of
//! fighting over SQLite's lock (and `BEGIN IMMEDIATE` takes the write lock up front); reads
//! use a small pool of their own. Ingress batches many events into one transaction (group
//! commit), which is where SQLite's throughput comes from: `synchronous=FULL` keeps every
//! acknowledged event on disk through a power loss.

use std::str::FromStr;
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
use crate::shared::{event_cols, impl_store, job_cols};
use crate::{EventFilter, EventStats, Inserted, JobFilter, QueueStats, Store, StoreError};

/// How SQLite syncs commits to disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is fsynced before it returns: an acknowledged event survives power loss.
    #[default]
    Full,
    /// WAL commits are fsynced at checkpoints: faster, and still safe against a crash of
    /// ghlsync, but the last commits can be lost if the machine loses power.
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
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

impl_store!(SqliteStore, sqlx::Sqlite);
