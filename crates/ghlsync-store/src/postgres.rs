//! PostgreSQL, for several ghlsync instances sharing the work: claims skip rows another
//! instance has locked (`FOR UPDATE SKIP LOCKED`), and the rate limiter's row is locked for
//! the decision, so the limit holds across instances.

use std::collections::HashMap;
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
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::rows::{
    ApiKeyRow, BodyRow, BroadcastRow, CloudTalkLinkRow, ContactRow, EventRow, JobRow, LocationRow,
    LogRow, NoteRow, OpportunityRow, OwnerKeyRow, RouteRow,
};
use crate::shared::{
    INSERT_CHUNK, event_cols, finish, first_of_its_key, impl_store, insert_events_query, job_cols,
    job_lanes, running_in_lane,
};
use crate::{
    EventFilter, EventStats, FinishedJob, Inserted, JobFilter, JobOutcome, QueueStats, RateRequest,
    Store, StoreError,
};

/// The PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

    // Due events and expired leases, each read through its own partial index. Written as one
    // OR, the planner walked the primary key through every done event at every claim (280 ms
    // a claim at a million events).
    const CLAIM_EVENTS: &'static str = concat!(
        "WITH due AS (SELECT id FROM inbox WHERE state = 'pending' AND run_at <= $3 ",
        "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED), ",
        "expired AS (SELECT id FROM inbox WHERE state = 'running' AND lease_until < $3 ",
        "ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED) ",
        "UPDATE inbox SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1 ",
        "WHERE id IN (SELECT id FROM (SELECT id FROM due UNION ALL SELECT id FROM expired) claimable ",
        "ORDER BY id LIMIT $4) RETURNING ",
        event_cols!()
    );

    // Each lane's next jobs through `jobs_lanes` (a LATERAL probe per lane), numbered within
    // the lane; the claim takes every lane's first job, then every lane's second, and so on.
    // The rows are locked last, skipping what another instance holds and re-checking their
    // state, which may have changed since the statement's snapshot.
    // Parameters: $1 owner, $2 lease end, $3 now, $4 limit, $5 jobs per location.
    const CLAIM_JOBS: &'static str = concat!(
        "WITH RECURSIVE ",
        job_lanes!(""),
        ", due AS (SELECT c.id, c.run_at, c.rn FROM lanes l CROSS JOIN LATERAL (",
        "SELECT d.id, d.run_at, row_number() OVER (ORDER BY d.run_at, d.id) AS rn FROM (",
        "SELECT j.id, j.run_at FROM jobs j WHERE j.location_id = l.location_id AND j.state = 'queued' ",
        "AND j.run_at <= $3 AND ",
        first_of_its_key!(),
        " ORDER BY j.run_at, j.id LIMIT $5) d) c WHERE l.location_id IS NOT NULL AND c.rn + ",
        running_in_lane!(),
        " <= $5), ",
        "expired AS (SELECT j.id, j.lease_until AS run_at, 0::bigint AS rn FROM jobs j ",
        "WHERE j.state = 'running' AND j.lease_until < $3 AND ",
        first_of_its_key!(),
        " ORDER BY j.lease_until LIMIT $4), ",
        "picked AS (SELECT id FROM (SELECT id, run_at, rn FROM due UNION ALL SELECT id, run_at, rn FROM expired) c ",
        "ORDER BY rn, run_at, id LIMIT $4) ",
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, claims = claims + 1, updated_at = $3 ",
        "WHERE id IN (SELECT id FROM jobs WHERE id IN (SELECT id FROM picked) ",
        "AND (state = 'queued' OR (state = 'running' AND lease_until < $3)) FOR UPDATE SKIP LOCKED) RETURNING ",
        job_cols!()
    );

    const LOCK_ROWS: &'static str = " FOR UPDATE";

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

impl PgStore {
    /// Stores a batch in one transaction, learning every event's id from `RETURNING`,
    /// which PostgreSQL sends back in one go.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(events.len());
        for chunk in events.chunks(INSERT_CHUNK) {
            out.extend(Self::insert_chunk(&mut tx, chunk).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn insert_chunk(
        conn: &mut sqlx::PgConnection,
        chunk: &[NewEvent],
    ) -> Result<Vec<Inserted>, StoreError> {
        release_expired_keys(conn, chunk).await?;
        let metas: Vec<String> = chunk.iter().map(|e| e.meta.to_string()).collect();
        let mut qb = insert_events_query!(sqlx::Postgres, "", chunk, metas);
        qb.push(" ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key");
        let returned: Vec<(i64, Option<String>)> =
            qb.build_query_as().fetch_all(&mut *conn).await?;
        let (mut assigned, missing) = assign_ids(chunk, returned);
        if !missing.is_empty() {
            let mut qb = select_keys_query(&missing);
            let existing: Vec<(i64, Option<String>)> =
                qb.build_query_as().fetch_all(&mut *conn).await?;
            assign_existing(chunk, &mut assigned, existing);
        }
        finish(assigned)
    }
}

/// Frees the keys of a chunk's windowed events from stored events older than their window,
/// so that the unique index takes the new event instead of calling it a repeat. The older
/// event keeps everything but the key.
async fn release_expired_keys(
    conn: &mut sqlx::PgConnection,
    chunk: &[NewEvent],
) -> Result<(), StoreError> {
    let (keys, cutoffs): (Vec<&str>, Vec<i64>) = chunk
        .iter()
        .filter_map(|e| {
            Some((
                e.dedupe_key.as_deref()?,
                e.received_at - e.dedupe_window_ms?,
            ))
        })
        .unzip();
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE inbox SET dedupe_key = NULL FROM unnest($1::text[], $2::bigint[]) AS w(key, cutoff) \
         WHERE inbox.dedupe_key = w.key AND inbox.received_at < w.cutoff",
    )
    .bind(keys)
    .bind(cutoffs)
    .execute(conn)
    .await?;
    Ok(())
}

/// `SELECT id, dedupe_key FROM inbox WHERE dedupe_key IN (...)` for a chunk's keys.
fn select_keys_query(keys: &[String]) -> sqlx::QueryBuilder<sqlx::Postgres> {
    let mut qb = sqlx::QueryBuilder::new("SELECT id, dedupe_key FROM inbox WHERE dedupe_key IN (");
    let mut list = qb.separated(", ");
    for key in keys {
        list.push_bind(key.as_str());
    }
    qb.push(")");
    qb
}

/// Matches the `(id, dedupe_key)` rows an `INSERT ... ON CONFLICT DO NOTHING RETURNING`
/// gave back to the events of the batch. Rows come back in insertion order, so ids ascend
/// in the batch's order; keyless events take the keyless ids in that order. A key repeated
/// within the batch is a duplicate of its first occurrence. Keys that returned nothing
/// already existed: they are listed for a lookup.
fn assign_ids(
    events: &[NewEvent],
    mut returned: Vec<(i64, Option<String>)>,
) -> (Vec<Option<Inserted>>, Vec<String>) {
    returned.sort_unstable_by_key(|(id, _)| *id);
    let mut keyed: HashMap<&str, i64> = HashMap::new();
    let mut keyless = Vec::new();
    for (id, key) in &returned {
        match key {
            Some(k) => {
                keyed.insert(k.as_str(), *id);
            }
            None => keyless.push(*id),
        }
    }
    let mut keyless = keyless.into_iter();
    let mut first_in_batch: HashMap<&str, i64> = HashMap::new();
    let mut missing = Vec::new();
    let assigned = events
        .iter()
        .map(|e| match e.dedupe_key.as_deref() {
            None => keyless.next().map(|id| Inserted::New(EventId(id))),
            Some(k) => {
                if let Some(id) = first_in_batch.get(k) {
                    Some(Inserted::Duplicate(EventId(*id)))
                } else if let Some(id) = keyed.get(k) {
                    first_in_batch.insert(k, *id);
                    Some(Inserted::New(EventId(*id)))
                } else {
                    if !missing.iter().any(|m: &String| m == k) {
                        missing.push(k.to_owned());
                    }
                    None
                }
            }
        })
        .collect();
    (assigned, missing)
}

/// Fills in the duplicates of rows stored before this batch.
fn assign_existing(
    events: &[NewEvent],
    assigned: &mut [Option<Inserted>],
    existing: Vec<(i64, Option<String>)>,
) {
    let by_key: HashMap<String, i64> = existing
        .into_iter()
        .filter_map(|(id, k)| Some((k?, id)))
        .collect();
    for (slot, e) in assigned.iter_mut().zip(events) {
        if slot.is_none()
            && let Some(id) = e.dedupe_key.as_ref().and_then(|k| by_key.get(k))
        {
            *slot = Some(Inserted::Duplicate(EventId(*id)));
        }
    }
}

impl_store!(PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use ghlsync_core::Source;

    fn event(key: Option<&str>) -> NewEvent {
        NewEvent {
            source: Source::Ghl,
            dedupe_key: key.map(str::to_owned),
            dedupe_window_ms: None,
            event_type: "t".into(),
            location_id: None,
            route: None,
            meta: serde_json::Value::Null,
            body: Vec::new(),
            received_at: 0,
        }
    }

    /// A fresh database filled by `fill` (then analysed): the plan of `claim` as
    /// PostgreSQL would run it at `now` for owner `w` with `limit`, and the lane size when
    /// the statement takes one, in one text.
    async fn plan_of(
        fill: &str,
        claim: &str,
        now: i64,
        limit: i64,
        lane: Option<i64>,
    ) -> Option<String> {
        let db = crate::testing::postgres_database().await?;
        let store = PgStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(fill))
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
        let explain = format!("EXPLAIN {claim}");
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(explain.as_str()))
            .bind("w")
            .bind(1_i64)
            .bind(now)
            .bind(limit);
        if let Some(lane) = lane {
            query = query.bind(lane);
        }
        let plan: Vec<(String,)> = query.fetch_all(&store.pool).await.unwrap();
        Some(
            plan.into_iter()
                .map(|(line,)| line)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// A claim reads the two partial indexes, never the primary key through done events.
    #[tokio::test]
    async fn claims_read_the_claim_indexes_not_done_events() {
        // Many done events and a backlog, as a long-running inbox has: the planner then
        // expected an id-ordered walk to meet due events soon.
        let Some(plan) = plan_of(
            "INSERT INTO inbox (source, event_type, meta, body, state, run_at, received_at) \
             SELECT 'ghl', 't', '{}', '\\x00', CASE WHEN i <= 20000 THEN 'done' ELSE 'pending' END, i, i \
             FROM generate_series(1, 21000) i",
            PgStore::CLAIM_EVENTS,
            1_000_000,
            10,
            None,
        )
        .await
        else {
            return;
        };
        assert!(plan.contains("inbox_pending"), "{plan}");
        assert!(plan.contains("inbox_leases"), "{plan}");
    }

    /// A job claim with a backlog in 100 locations, 8 running jobs in each and many done
    /// jobs reads each lane through the lane indexes, never the table.
    #[tokio::test]
    async fn job_claims_read_the_lanes_not_the_table() {
        let Some(plan) = plan_of(
            "INSERT INTO jobs (location_id, kind, command, idempotency_key, ordering_key, state, run_at, \
             lease_until, created_at, updated_at) \
             SELECT 'loc' || (i % 100), 'add_note', '{}', 'k' || i, 'contact:' || i, \
             CASE WHEN i <= 200000 THEN 'done' WHEN i <= 200800 THEN 'running' ELSE 'queued' END, 1, \
             CASE WHEN i > 200000 AND i <= 200800 THEN 5000 END, 1, 1 \
             FROM generate_series(1, 220000) i",
            PgStore::CLAIM_JOBS,
            1_000,
            256,
            Some(8),
        )
        .await
        else {
            return;
        };
        for index in ["jobs_lanes", "jobs_running", "jobs_leases"] {
            assert!(plan.contains(index), "{index}: {plan}");
        }
        assert!(!plan.contains("Seq Scan on jobs"), "{plan}");
    }

    #[test]
    fn ids_map_back_to_the_batch() {
        let events = [
            event(Some("a")),
            event(None),
            event(Some("a")),
            event(Some("old")),
            event(None),
        ];
        let returned = vec![(12, None), (10, Some("a".into())), (11, None)];
        let (mut assigned, missing) = assign_ids(&events, returned);
        assert_eq!(missing, vec!["old"]);
        assign_existing(&events, &mut assigned, vec![(3, Some("old".into()))]);
        assert_eq!(
            assigned,
            vec![
                Some(Inserted::New(EventId(10))),
                Some(Inserted::New(EventId(11))),
                Some(Inserted::Duplicate(EventId(10))),
                Some(Inserted::Duplicate(EventId(3))),
                Some(Inserted::New(EventId(12))),
            ]
        );
    }
}
