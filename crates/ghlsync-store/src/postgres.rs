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
use crate::shared::{
    INSERT_CHUNK, assign_existing, assign_ids, event_cols, finish, impl_store, insert_events_query,
    job_cols, select_keys_query,
};
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

    /// Commits; PostgreSQL's commit is durable when it returns.
    async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> Result<(), StoreError> {
        Ok(tx.commit().await?)
    }
}

impl PgStore {
    /// Stores a batch in one transaction, learning every event's id from `RETURNING`,
    /// which PostgreSQL sends back in one go.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(events.len());
        for chunk in events.chunks(INSERT_CHUNK) {
            out.extend(Self::insert_chunk(&mut tx, chunk).await?);
        }
        self.commit(tx).await?;
        Ok(out)
    }

    async fn insert_chunk(
        conn: &mut sqlx::PgConnection,
        chunk: &[NewEvent],
    ) -> Result<Vec<Inserted>, StoreError> {
        let metas: Vec<String> = chunk.iter().map(|e| e.meta.to_string()).collect();
        let mut qb = insert_events_query!(sqlx::Postgres, "", chunk, metas);
        qb.push(" ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key");
        let returned: Vec<(i64, Option<String>)> =
            qb.build_query_as().fetch_all(&mut *conn).await?;
        let (mut assigned, missing) = assign_ids(chunk, returned);
        if !missing.is_empty() {
            let mut qb = select_keys_query!(sqlx::Postgres, missing.iter().map(String::as_str));
            let existing: Vec<(i64, Option<String>)> =
                qb.build_query_as().fetch_all(&mut *conn).await?;
            assign_existing(chunk, &mut assigned, existing);
        }
        finish(assigned)
    }
}

impl_store!(PgStore, sqlx::Postgres);
