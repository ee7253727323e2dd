//! PostgreSQL, for several ghlsync instances sharing the work: claims skip rows another
//! instance has locked (`FOR UPDATE SKIP LOCKED`), and the rate limiter's row is locked for
//! the decision, so the limit holds across instances.

use std::time::Duration;

use ghl::{ContactId, LocationId};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::gcra::Decision;
use ghlsync_core::{
    Changeset, ContactMirror, EventId, Gcra, InboxEvent, Job, JobId, Location, Millis, NewEvent,
    NewJob, NoteMirror, OpportunityMirror, WorkflowRoute,
};
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::rows::{
    ContactRow, EventRow, JobRow, LocationRow, LogRow, NoteRow, OpportunityRow, RouteRow,
};
use crate::shared::{event_cols, impl_store, job_cols};
use crate::{EventFilter, EventStats, Inserted, JobFilter, QueueStats, Store, StoreError};

/// The PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    const CLAIM_EVENTS: &'static str = concat!(
        "UPDATE inbox SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1 ",
        "WHERE id IN (SELECT id FROM inbox WHERE (state = 'pending' AND run_at <= $3) ",
        "OR (state = 'running' AND lease_until < $3) ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) ",
        "RETURNING ",
        event_cols!()
    );

    const CLAIM_JOBS: &'static str = concat!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1, updated_at = $3 ",
        "WHERE id IN (SELECT j.id FROM jobs j WHERE ((j.state = 'queued' AND j.run_at <= $3) ",
        "OR (j.state = 'running' AND j.lease_until < $3)) AND NOT EXISTS (SELECT 1 FROM jobs k ",
        "WHERE k.ordering_key = j.ordering_key AND k.id < j.id AND k.state IN ('queued', 'running')) ",
        "ORDER BY j.run_at, j.id LIMIT $4 FOR UPDATE OF j SKIP LOCKED) RETURNING ",
        job_cols!()
    );

    const SELECT_TAT: &'static str = "SELECT tat FROM rate_limits WHERE key = $1 FOR UPDATE";

    /// Connects to `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }

    fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    fn read(&self) -> &PgPool {
        &self.pool
    }

    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

impl_store!(PgStore, sqlx::Postgres);
