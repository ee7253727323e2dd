//! The `Store` implementation both dialects share. SQLite accepts PostgreSQL's `$1`
//! placeholders and both support `ON CONFLICT ... DO UPDATE` and `RETURNING`, so one text
//! serves both; the few statements that differ are associated constants of each store
//! (`CLAIM_EVENTS`, `CLAIM_JOBS`, `LOCK_ROWS`), and each store says how a write transaction
//! starts (`write()`) and which pool reads use (`read()`).
//!
//! A macro instantiates the code for each concrete sqlx driver because sqlx's generic
//! bounds over `Database` would otherwise dominate every signature.

use crate::Inserted;

macro_rules! queue_cols {
    () => {
        "body, state, attempts, due_at, lease_id, lease_until, last_outcome"
    };
}

pub(crate) use queue_cols;

macro_rules! event_cols {
    () => {
        "id, source, event_type, location_id, route, meta, body, state, attempts, received_at, last_error"
    };
}

macro_rules! job_cols {
    () => {
        "id, location_id, command, idempotency_key, ordering_key, state, attempts, claims, run_at, created_at, last_error, source_event"
    };
}

macro_rules! location_cols {
    () => {
        "id, name, integration_type, token_ciphertext, field_mapping, active, last_sync_at, last_sync_status, last_sync_error, created_at, updated_at"
    };
}

macro_rules! contact_cols {
    () => {
        "location_id, contact_id, email, phone, first_name, last_name, company_name, tags, custom_fields, payload, updated_at, deleted, value_times"
    };
}

pub(crate) use {contact_cols, event_cols, job_cols, location_cols};

/// The locations with queued jobs, one index probe each (a skip scan of `jobs_lanes`): the
/// lanes a job claim takes in turn. `$hint` names the index on SQLite.
macro_rules! job_lanes {
    ($hint:literal) => {
        concat!(
            "lanes(location_id) AS (SELECT (SELECT location_id FROM jobs ", $hint,
            " WHERE state = 'queued' ORDER BY location_id LIMIT 1) ",
            "UNION ALL SELECT (SELECT j.location_id FROM jobs j ", $hint,
            " WHERE j.state = 'queued' AND j.location_id > l.location_id ORDER BY j.location_id LIMIT 1) ",
            "FROM lanes l WHERE l.location_id IS NOT NULL)"
        )
    };
}

/// A job may run only when no earlier job of its ordering key is open (`j` is the job).
macro_rules! first_of_its_key {
    () => {
        "NOT EXISTS (SELECT 1 FROM jobs o WHERE o.ordering_key = j.ordering_key AND o.id < j.id \
         AND o.state IN ('queued', 'running'))"
    };
}

/// How many jobs of lane `l` run under a live lease.
macro_rules! running_in_lane {
    () => {
        "(SELECT COUNT(*) FROM jobs r WHERE r.location_id = l.location_id AND r.state = 'running' \
         AND r.lease_until >= $3)"
    };
}

pub(crate) use {first_of_its_key, job_lanes, running_in_lane};

/// Rows per INSERT statement: 9 parameters a row stays below both dialects' limits
/// (SQLite 32,766, PostgreSQL 65,535), and above ingress's default batch of 512.
pub(crate) const INSERT_CHUNK: usize = 1_000;

/// Every event of a chunk with its outcome, or an error if one was left without an id.
pub(crate) fn finish(assigned: Vec<Option<Inserted>>) -> Result<Vec<Inserted>, crate::StoreError> {
    assigned
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.ok_or_else(|| crate::StoreError::Corrupt(format!("no id for event {i} of a batch")))
        })
        .collect()
}

/// The multi-row INSERT of a chunk of events, after `$prefix`.
macro_rules! api_key_cols {
    () => {
        "id, location_id, name, secret_hash, prefix, created_at, revoked_at"
    };
}

pub(crate) use api_key_cols;

macro_rules! insert_events_query {
    ($db:ty, $prefix:expr, $chunk:expr, $metas:expr) => {{
        let mut qb = sqlx::QueryBuilder::<$db>::new($prefix);
        qb.push(
            "INSERT INTO inbox (source, dedupe_key, event_type, location_id, route, meta, body, state, run_at, received_at) ",
        );
        qb.push_values($chunk.iter().zip($metas.iter()), |mut row, (e, meta)| {
            row.push_bind(e.source.as_str())
                .push_bind(e.dedupe_key.as_deref())
                .push_bind(e.event_type.as_str())
                .push_bind(e.location_id.as_ref().map(|l| l.as_str()))
                .push_bind(e.route.as_deref())
                .push_bind(meta.as_str())
                .push_bind(e.body.as_slice())
                .push("'pending'")
                .push_bind(e.received_at)
                .push_bind(e.received_at);
        });
        qb
    }};
}

pub(crate) use insert_events_query;

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        type Conn = <$db as sqlx::Database>::Connection;

        fn to_json(value: &impl serde::Serialize) -> String {
            serde_json::to_string(value).expect("domain values serialise to JSON")
        }

        /// One twin each way: a CloudTalk contact linked to another GHL contact before is
        /// linked to this one now.
        async fn upsert_cloudtalk_link(
            conn: &mut Conn,
            link: &ghlsync_core::bridge::CloudTalkLink,
            now: Millis,
        ) -> Result<(), StoreError> {
                sqlx::query(
                    "DELETE FROM cloudtalk_links WHERE bridge = $1 AND cloudtalk_contact_id = $2 AND ghl_contact_id <> $3",
                )
                .bind(&link.bridge.0)
                .bind(link.cloudtalk_contact.0 as i64)
                .bind(link.ghl_contact.as_str())
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO cloudtalk_links (bridge, location_id, ghl_contact_id, cloudtalk_contact_id, \
                     created_by_bridge, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (bridge, ghl_contact_id) DO UPDATE SET cloudtalk_contact_id = excluded.cloudtalk_contact_id, \
                     created_by_bridge = (cloudtalk_links.created_by_bridge OR excluded.created_by_bridge), \
                     updated_at = excluded.updated_at",
                )
                .bind(&link.bridge.0)
                .bind(link.location_id.as_str())
                .bind(link.ghl_contact.as_str())
                .bind(link.cloudtalk_contact.0 as i64)
                .bind(link.created_by_bridge)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn apply_changeset(conn: &mut Conn, c: &Changeset, now: Millis) -> Result<(), StoreError> {
            for m in &c.contacts {
                sqlx::query(concat!(
                    "INSERT INTO contacts (", $crate::shared::contact_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ",
                    "ON CONFLICT (location_id, contact_id) DO UPDATE SET email = excluded.email, ",
                    "phone = excluded.phone, first_name = excluded.first_name, last_name = excluded.last_name, ",
                    "company_name = excluded.company_name, tags = excluded.tags, custom_fields = excluded.custom_fields, ",
                    "payload = excluded.payload, updated_at = excluded.updated_at, deleted = excluded.deleted, ",
                    "value_times = excluded.value_times ",
                    "WHERE contacts.updated_at <= excluded.updated_at"
                ))
                .bind(m.location_id.as_str())
                .bind(m.contact_id.as_str())
                .bind(&m.email)
                .bind(&m.phone)
                .bind(&m.first_name)
                .bind(&m.last_name)
                .bind(&m.company_name)
                .bind(to_json(&m.tags))
                .bind(to_json(&m.custom_fields))
                .bind(to_json(&m.payload))
                .bind(m.updated_at)
                .bind(m.deleted)
                .bind(to_json(&m.times))
                .execute(&mut *conn)
                .await?;
            }
            for n in &c.notes {
                sqlx::query(
                    "INSERT INTO notes (location_id, note_id, contact_id, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (location_id, note_id) DO UPDATE SET contact_id = excluded.contact_id, body = excluded.body, \
                     updated_at = excluded.updated_at WHERE notes.updated_at <= excluded.updated_at",
                )
                .bind(n.location_id.as_str())
                .bind(n.note_id.as_str())
                .bind(n.contact_id.as_ref().map(|c| c.as_str()))
                .bind(&n.body)
                .bind(n.updated_at)
                .execute(&mut *conn)
                .await?;
            }
            for (location, note) in &c.deleted_notes {
                sqlx::query("DELETE FROM notes WHERE location_id = $1 AND note_id = $2")
                    .bind(location.as_str())
                    .bind(note.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            for o in &c.opportunities {
                sqlx::query(
                    "INSERT INTO opportunities (location_id, opportunity_id, contact_id, name, pipeline_id, stage_id, \
                     status, monetary_value, payload, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (location_id, opportunity_id) DO UPDATE SET contact_id = excluded.contact_id, \
                     name = excluded.name, pipeline_id = excluded.pipeline_id, stage_id = excluded.stage_id, \
                     status = excluded.status, monetary_value = excluded.monetary_value, payload = excluded.payload, \
                     updated_at = excluded.updated_at WHERE opportunities.updated_at <= excluded.updated_at",
                )
                .bind(o.location_id.as_str())
                .bind(o.opportunity_id.as_str())
                .bind(o.contact_id.as_ref().map(|c| c.as_str()))
                .bind(&o.name)
                .bind(&o.pipeline_id)
                .bind(&o.stage_id)
                .bind(&o.status)
                .bind(o.monetary_value)
                .bind(to_json(&o.payload))
                .bind(o.updated_at)
                .execute(&mut *conn)
                .await?;
            }
            for (location, opportunity) in &c.deleted_opportunities {
                sqlx::query("DELETE FROM opportunities WHERE location_id = $1 AND opportunity_id = $2")
                    .bind(location.as_str())
                    .bind(opportunity.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            for link in &c.id_links {
                sqlx::query(
                    "INSERT INTO id_map (location_id, subject, contact_id, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (location_id, subject) DO UPDATE SET contact_id = excluded.contact_id, \
                     updated_at = excluded.updated_at",
                )
                .bind(link.location_id.as_str())
                .bind(&link.subject)
                .bind(link.contact_id.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            for link in &c.cloudtalk_links {
                upsert_cloudtalk_link(conn, link, now).await?;
            }
            for link in &c.opportunity_links {
                sqlx::query(
                    "INSERT INTO opportunity_links (location_id, app_key, opportunity_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (location_id, app_key) DO UPDATE SET opportunity_id = excluded.opportunity_id",
                )
                .bind(link.location_id.as_str())
                .bind(&link.key)
                .bind(link.opportunity_id.as_str())
                .execute(&mut *conn)
                .await?;
            }
            for entry in &c.log {
                sqlx::query("INSERT INTO sync_log (location_id, kind, detail, at) VALUES ($1, $2, $3, $4)")
                    .bind(entry.location_id.as_ref().map(|l| l.as_str()))
                    .bind(&entry.kind)
                    .bind(to_json(&entry.detail))
                    .bind(entry.at)
                    .execute(&mut *conn)
                    .await?;
            }
            for w in &c.profiles {
                let written = if w.version == 0 {
                    sqlx::query(
                        "INSERT INTO profiles (location_id, subject, profile, version, updated_at) \
                         VALUES ($1, $2, $3, 1, $4) ON CONFLICT (location_id, subject) DO NOTHING",
                    )
                    .bind(w.location_id.as_str())
                    .bind(&w.profile.subject)
                    .bind(to_json(&w.profile))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?
                } else {
                    sqlx::query(
                        "UPDATE profiles SET profile = $1, version = version + 1, updated_at = $2 \
                         WHERE location_id = $3 AND subject = $4 AND version = $5",
                    )
                    .bind(to_json(&w.profile))
                    .bind(now)
                    .bind(w.location_id.as_str())
                    .bind(&w.profile.subject)
                    .bind(w.version)
                    .execute(&mut *conn)
                    .await?
                };
                if written.rows_affected() != 1 {
                    return Err(StoreError::Conflict(format!(
                        "the profile of {} changed since it was read",
                        w.profile.subject
                    )));
                }
            }
            insert_jobs(conn, &c.jobs, now).await?;
            for s in &c.location_sync {
                sqlx::query(
                    "UPDATE locations SET last_sync_at = $1, last_sync_status = $2, last_sync_error = $3 \
                     WHERE id = $4 AND (last_sync_at IS NULL OR last_sync_at <= $1)",
                )
                .bind(s.at)
                .bind(s.status.as_str())
                .bind(&s.error)
                .bind(s.location_id.as_str())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Folds a coalescing contact sync into the newest sync of the same contact that is
        /// still queued; true when it did. A job claimed meanwhile is left alone (`state`
        /// is checked again by the UPDATE), and the caller queues the sync on its own.
        async fn merge_into_queued(conn: &mut Conn, j: &NewJob, now: Millis) -> Result<bool, StoreError> {
            let ghlsync_core::GhlCommand::SyncContact(later) = &j.command else {
                return Ok(false);
            };
            let seen: Option<(i64,)> = sqlx::query_as("SELECT id FROM jobs WHERE idempotency_key = $1")
                .bind(&j.idempotency_key)
                .fetch_optional(&mut *conn)
                .await?;
            if seen.is_some() {
                // Already queued once: nothing to merge, and the INSERT below keeps one.
                return Ok(false);
            }
            let pending: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, command FROM jobs WHERE ordering_key = $1 AND location_id = $2 \
                 AND kind = 'sync_contact' AND state = 'queued' ORDER BY id DESC LIMIT 1",
            )
            .bind(&j.ordering_key)
            .bind(j.location_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let Some((id, command)) = pending else {
                return Ok(false);
            };
            let ghlsync_core::GhlCommand::SyncContact(mut merged) = serde_json::from_str(&command)
                .map_err(|e| StoreError::Corrupt(format!("command: {e}")))?
            else {
                return Ok(false);
            };
            merged.merge(later.clone());
            let r = sqlx::query("UPDATE jobs SET command = $1, updated_at = $2 WHERE id = $3 AND state = 'queued'")
                .bind(to_json(&ghlsync_core::GhlCommand::SyncContact(merged)))
                .bind(now)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(r.rows_affected() == 1)
        }

        /// One job's outcome, and its changes only if `owner` still held the job.
        async fn record_outcome(conn: &mut Conn, owner: &str, job: &FinishedJob, now: Millis) -> Result<bool, StoreError> {
            let (updated, changes) = match &job.outcome {
                JobOutcome::Done { result, changes } => (
                    sqlx::query(
                        "UPDATE jobs SET state = 'done', result = $1, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
                         WHERE id = $3 AND state = 'running' AND lease_owner = $4",
                    )
                    .bind(to_json(result))
                    .bind(now)
                    .bind(job.id.0)
                    .bind(owner)
                    .execute(&mut *conn)
                    .await?,
                    Some(changes),
                ),
                JobOutcome::Queued { run_at, count_attempt, forget_claim, error } => (
                    sqlx::query(
                        "UPDATE jobs SET state = 'queued', run_at = $1, attempts = attempts + $2, claims = claims - $7, \
                         last_error = COALESCE($3, last_error), lease_owner = NULL, lease_until = NULL, updated_at = $4 \
                         WHERE id = $5 AND state = 'running' AND lease_owner = $6",
                    )
                    .bind(*run_at)
                    .bind(i64::from(*count_attempt))
                    .bind(error.as_deref())
                    .bind(now)
                    .bind(job.id.0)
                    .bind(owner)
                    .bind(i64::from(*forget_claim))
                    .execute(&mut *conn)
                    .await?,
                    None,
                ),
                JobOutcome::Dead { error, changes } => (
                    sqlx::query(
                        "UPDATE jobs SET state = 'dead', attempts = attempts + 1, last_error = $1, lease_owner = NULL, \
                         lease_until = NULL, updated_at = $2 WHERE id = $3 AND state = 'running' AND lease_owner = $4",
                    )
                    .bind(error.as_str())
                    .bind(now)
                    .bind(job.id.0)
                    .bind(owner)
                    .execute(&mut *conn)
                    .await?,
                    Some(changes),
                ),
            };
            if updated.rows_affected() != 1 {
                return Ok(false);
            }
            if let Some(changes) = changes {
                apply_changeset(conn, changes, now).await?;
            }
            Ok(true)
        }

        /// Keeps a dialer's report: false when its event id is stored already.
        async fn insert_report(
            conn: &mut Conn,
            owner: &ghlsync_core::broadcast::OwnerId,
            report: &ghlsync_core::broadcast::CallReport,
            final_outcome: bool,
            now: Millis,
        ) -> Result<bool, StoreError> {
            Ok(sqlx::query(
                "INSERT INTO call_reports (owner_id, event_id, queue_item_id, final_outcome, body, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner_id, event_id) DO NOTHING",
            )
            .bind(owner.as_str())
            .bind(&report.event_id)
            .bind(report.queue_item_id.as_str())
            .bind(final_outcome)
            .bind(to_json(report))
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1)
        }

        async fn insert_jobs(conn: &mut Conn, jobs: &[NewJob], now: Millis) -> Result<u64, StoreError> {
            let mut new = 0;
            for j in jobs {
                if j.coalesce && merge_into_queued(conn, j, now).await? {
                    continue;
                }
                let r = sqlx::query(
                    "INSERT INTO jobs (location_id, kind, command, idempotency_key, ordering_key, state, run_at, \
                     source_event, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8) \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(j.location_id.as_str())
                .bind(j.command.kind())
                .bind(to_json(&j.command))
                .bind(&j.idempotency_key)
                .bind(&j.ordering_key)
                .bind(j.run_at)
                .bind(j.source_event.map(|e| e.0))
                .bind(now)
                .execute(&mut *conn)
                .await?;
                new += r.rows_affected();
            }
            Ok(new)
        }

        impl Store for $store {
            async fn migrate(&self) -> Result<(), StoreError> {
                Self::MIGRATOR.run(self.write_pool()).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(self.read()).await?;
                Ok(())
            }

            async fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
                // One transaction per batch; how it is written differs per dialect.
                self.insert_batch(events).await
            }

            async fn claim_events(&self, owner: &str, now: Millis, lease_ms: Millis, limit: u32) -> Result<Vec<InboxEvent>, StoreError> {
                let mut tx = self.write().await?;
                let rows: Vec<EventRow> = sqlx::query_as(Self::CLAIM_EVENTS)
                    .bind(owner)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut events = rows.into_iter().map(EventRow::into_event).collect::<Result<Vec<_>, _>>()?;
                events.sort_by_key(|e| e.id);
                Ok(events)
            }

            async fn complete_event(&self, id: EventId, owner: &str, changes: &Changeset, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.write().await?;
                let done = sqlx::query(
                    "UPDATE inbox SET state = 'done', processed_at = $1, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $2 AND state = 'running' AND lease_owner = $3",
                )
                .bind(now)
                .bind(id.0)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                apply_changeset(&mut tx, changes, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn fail_event(&self, id: EventId, owner: &str, error: &str, retry_at: Option<Millis>, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.write().await?;
                let state = if retry_at.is_some() { "pending" } else { "dead" };
                let r = sqlx::query(
                    "UPDATE inbox SET state = $1, attempts = attempts + 1, run_at = $2, last_error = $3, \
                     lease_owner = NULL, lease_until = NULL, processed_at = $4 \
                     WHERE id = $5 AND state = 'running' AND lease_owner = $6",
                )
                .bind(state)
                .bind(retry_at.unwrap_or(now))
                .bind(error)
                .bind(retry_at.map_or(Some(now), |_| None))
                .bind(id.0)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(r.rows_affected() == 1)
            }

            async fn list_events(&self, f: &EventFilter) -> Result<Vec<InboxEvent>, StoreError> {
                let rows: Vec<EventRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::event_cols!(), " FROM inbox ",
                    "WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR event_type = $2) AND ($3 IS NULL OR id = $3) ",
                    "ORDER BY id DESC LIMIT $4"
                ))
                .bind(f.state.map(|s| s.as_str()))
                .bind(&f.event_type)
                .bind(f.id.map(|i| i.0))
                .bind(i64::from(f.limit.unwrap_or(100)))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(EventRow::into_event).collect()
            }

            async fn replay_events(&self, f: &EventFilter, now: Millis) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                let r = sqlx::query(
                    "UPDATE inbox SET state = 'pending', attempts = 0, claims = 0, run_at = $1, processed_at = NULL \
                     WHERE state = 'dead' AND ($2 IS NULL OR event_type = $2) AND ($3 IS NULL OR id = $3)",
                )
                .bind(now)
                .bind(&f.event_type)
                .bind(f.id.map(|i| i.0))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(r.rows_affected())
            }

            async fn enqueue_jobs(&self, jobs: &[NewJob], now: Millis) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                let n = insert_jobs(&mut tx, jobs, now).await?;
                tx.commit().await?;
                Ok(n)
            }

            async fn claim_jobs(&self, owner: &str, now: Millis, lease_ms: Millis, limit: u32, per_location: u32) -> Result<Vec<Job>, StoreError> {
                let mut tx = self.write().await?;
                let rows: Vec<JobRow> = sqlx::query_as(Self::CLAIM_JOBS)
                    .bind(owner)
                    .bind(now + lease_ms)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(i64::from(per_location))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut jobs = rows.into_iter().map(JobRow::into_job).collect::<Result<Vec<_>, _>>()?;
                jobs.sort_by_key(|j| (j.run_at, j.id));
                Ok(jobs)
            }

            async fn finish_jobs(&self, owner: &str, jobs: &[FinishedJob], now: Millis) -> Result<Vec<bool>, StoreError> {
                let mut tx = self.write().await?;
                let mut recorded = Vec::with_capacity(jobs.len());
                for job in jobs {
                    recorded.push(record_outcome(&mut tx, owner, job, now).await?);
                }
                tx.commit().await?;
                Ok(recorded)
            }

            async fn list_jobs(&self, f: &JobFilter) -> Result<Vec<Job>, StoreError> {
                let rows: Vec<JobRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::job_cols!(), " FROM jobs ",
                    "WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR location_id = $2) AND ($3 IS NULL OR kind = $3) ",
                    "AND ($4 IS NULL OR last_error LIKE '%' || $4 || '%') AND ($5 IS NULL OR id = $5) ",
                    "AND ($7 IS NULL OR ordering_key = $7) ",
                    "ORDER BY id DESC LIMIT $6"
                ))
                .bind(f.state.map(|s| s.as_str()))
                .bind(f.location_id.as_ref().map(|l| l.as_str()))
                .bind(&f.kind)
                .bind(&f.error_contains)
                .bind(f.id.map(|i| i.0))
                .bind(i64::from(f.limit.unwrap_or(100)))
                .bind(&f.ordering_key)
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(JobRow::into_job).collect()
            }

            async fn replay_jobs(&self, f: &JobFilter, now: Millis) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                let r = sqlx::query(
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, updated_at = $1 \
                     WHERE state = 'dead' AND ($2 IS NULL OR location_id = $2) AND ($3 IS NULL OR kind = $3) \
                     AND ($4 IS NULL OR last_error LIKE '%' || $4 || '%') AND ($5 IS NULL OR id = $5)",
                )
                .bind(now)
                .bind(f.location_id.as_ref().map(|l| l.as_str()))
                .bind(&f.kind)
                .bind(&f.error_contains)
                .bind(f.id.map(|i| i.0))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(r.rows_affected())
            }

            async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
                let events: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM inbox GROUP BY state")
                    .fetch_all(self.read())
                    .await?;
                let jobs: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                    .fetch_all(self.read())
                    .await?;
                let mut s = QueueStats::default();
                for (state, n) in events {
                    match state.as_str() {
                        "pending" => s.events_pending = n,
                        "running" => s.events_running = n,
                        "done" => s.events_done = n,
                        "dead" => s.events_dead = n,
                        other => return Err(StoreError::Corrupt(format!("inbox state {other}"))),
                    }
                }
                for (state, n) in jobs {
                    match state.as_str() {
                        "queued" => s.jobs_queued = n,
                        "running" => s.jobs_running = n,
                        "done" => s.jobs_done = n,
                        "dead" => s.jobs_dead = n,
                        other => return Err(StoreError::Corrupt(format!("job state {other}"))),
                    }
                }
                Ok(s)
            }

            async fn event_stats(&self, since: Millis) -> Result<EventStats, StoreError> {
                // No index on received_at (it would cost every ingested event an index write):
                // the scan is bounded to the newest million events instead.
                let (received, done, dead, avg): (i64, Option<i64>, Option<i64>, Option<f64>) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(AVG(CASE WHEN state = 'done' THEN processed_at - received_at END) AS DOUBLE PRECISION) \
                     FROM inbox WHERE received_at >= $1 \
                     AND id > (SELECT COALESCE(MAX(id), 0) - 1000000 FROM inbox)",
                )
                .bind(since)
                .fetch_one(self.read())
                .await?;
                Ok(EventStats { received, done: done.unwrap_or(0), dead: dead.unwrap_or(0), avg_processing_ms: avg })
            }

            async fn rate_reserve(&self, requests: &[RateRequest], now: Millis) -> Result<Vec<Decision>, StoreError> {
                if requests.is_empty() {
                    return Ok(Vec::new());
                }
                // In key order: reservers on other instances lock the same rows in the same
                // order, so they queue behind each other instead of deadlocking.
                let mut keys: Vec<&str> = requests.iter().map(|r| r.key.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut tx = self.write().await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO rate_limits (key, tat) ");
                qb.push_values(&keys, |mut row, key| {
                    row.push_bind(*key).push("0");
                });
                qb.push(" ON CONFLICT (key) DO NOTHING");
                qb.build().execute(&mut *tx).await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT key, tat FROM rate_limits WHERE key IN (");
                let mut listed = qb.separated(", ");
                for key in &keys {
                    listed.push_bind(*key);
                }
                qb.push(") ORDER BY key");
                qb.push(Self::LOCK_ROWS);
                let mut tats: HashMap<String, (Millis, bool)> = qb
                    .build_query_as::<(String, i64)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|(key, tat)| (key, (tat, false)))
                    .collect();
                let mut decisions = Vec::with_capacity(requests.len());
                for r in requests {
                    let (tat, changed) = tats
                        .get_mut(&r.key)
                        .ok_or_else(|| StoreError::Corrupt(format!("rate limit {} was not stored", r.key)))?;
                    let decision = r.gcra.decide(Some(*tat), now, r.max_wait);
                    if let Decision::Allow { tat: next, .. } = decision {
                        *tat = next;
                        *changed = true;
                    }
                    decisions.push(decision);
                }
                let changed: Vec<(&String, Millis)> = tats
                    .iter()
                    .filter(|(_, (_, changed))| *changed)
                    .map(|(key, (tat, _))| (key, *tat))
                    .collect();
                if !changed.is_empty() {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("UPDATE rate_limits SET tat = CASE key");
                    for (key, tat) in &changed {
                        qb.push(" WHEN ").push_bind(key.as_str()).push(" THEN ").push_bind(*tat);
                    }
                    qb.push(" END WHERE key IN (");
                    let mut listed = qb.separated(", ");
                    for (key, _) in &changed {
                        listed.push_bind(key.as_str());
                    }
                    qb.push(")");
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(decisions)
            }

            async fn rate_hold(&self, key: &str, tat: Millis) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO rate_limits (key, tat) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET \
                     tat = CASE WHEN rate_limits.tat < excluded.tat THEN excluded.tat ELSE rate_limits.tat END",
                )
                .bind(key)
                .bind(tat)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn upsert_location(&self, l: &Location) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(concat!(
                    "INSERT INTO locations (", $crate::shared::location_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ",
                    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, integration_type = excluded.integration_type, ",
                    "token_ciphertext = excluded.token_ciphertext, field_mapping = excluded.field_mapping, ",
                    "active = excluded.active, updated_at = excluded.updated_at"
                ))
                .bind(l.id.as_str())
                .bind(&l.name)
                .bind(l.integration_type.as_str())
                .bind(&l.token_ciphertext)
                .bind(to_json(&l.field_mapping))
                .bind(l.active)
                .bind(l.last_sync_at)
                .bind(l.last_sync_status.map(|s| s.as_str()))
                .bind(&l.last_sync_error)
                .bind(l.created_at)
                .bind(l.updated_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn location(&self, id: &LocationId) -> Result<Option<Location>, StoreError> {
                let row: Option<LocationRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::shared::location_cols!(), " FROM locations WHERE id = $1"))
                        .bind(id.as_str())
                        .fetch_optional(self.read())
                        .await?;
                row.map(LocationRow::into_location).transpose()
            }

            async fn locations(&self) -> Result<Vec<Location>, StoreError> {
                let rows: Vec<LocationRow> =
                    sqlx::query_as(concat!("SELECT ", $crate::shared::location_cols!(), " FROM locations ORDER BY name, id"))
                        .fetch_all(self.read())
                        .await?;
                rows.into_iter().map(LocationRow::into_location).collect()
            }

            async fn upsert_route(&self, r: &WorkflowRoute) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO workflow_routes (name, location_id, auth, secret_ciphertext, action, dedupe, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET location_id = excluded.location_id, \
                     auth = excluded.auth, secret_ciphertext = excluded.secret_ciphertext, action = excluded.action, \
                     dedupe = excluded.dedupe",
                )
                .bind(&r.name)
                .bind(r.location_id.as_str())
                .bind(r.auth.as_str())
                .bind(&r.secret_ciphertext)
                .bind(to_json(&r.action))
                .bind(to_json(&r.dedupe))
                .bind(r.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn route(&self, name: &str) -> Result<Option<WorkflowRoute>, StoreError> {
                let row: Option<RouteRow> = sqlx::query_as(
                    "SELECT name, location_id, auth, secret_ciphertext, action, dedupe, created_at FROM workflow_routes WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(self.read())
                .await?;
                row.map(RouteRow::into_route).transpose()
            }

            async fn routes(&self) -> Result<Vec<WorkflowRoute>, StoreError> {
                let rows: Vec<RouteRow> = sqlx::query_as(
                    "SELECT name, location_id, auth, secret_ciphertext, action, dedupe, created_at FROM workflow_routes ORDER BY name",
                )
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(RouteRow::into_route).collect()
            }

            async fn profile(&self, location: &LocationId, subject: &str) -> Result<Option<(Profile, i64)>, StoreError> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "SELECT profile, version FROM profiles WHERE location_id = $1 AND subject = $2",
                )
                .bind(location.as_str())
                .bind(subject)
                .fetch_optional(self.read())
                .await?;
                row.map(|(json, version)| {
                    serde_json::from_str(&json)
                        .map(|p| (p, version))
                        .map_err(|e| StoreError::Corrupt(format!("profile of {subject}: {e}")))
                })
                .transpose()
            }

            async fn insert_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO api_keys (id, location_id, name, secret_hash, prefix, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&k.id)
                .bind(k.location_id.as_str())
                .bind(&k.name)
                .bind(&k.secret_hash)
                .bind(&k.prefix)
                .bind(k.created_at)
                .bind(k.revoked_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKey>, StoreError> {
                let row: Option<ApiKeyRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::api_key_cols!(), " FROM api_keys WHERE secret_hash = $1"
                ))
                .bind(secret_hash)
                .fetch_optional(self.read())
                .await?;
                Ok(row.map(ApiKeyRow::into_key))
            }

            async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
                let rows: Vec<ApiKeyRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::api_key_cols!(), " FROM api_keys ORDER BY created_at, id"
                ))
                .fetch_all(self.read())
                .await?;
                Ok(rows.into_iter().map(ApiKeyRow::into_key).collect())
            }

            async fn revoke_api_key(&self, id: &str, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.write().await?;
                let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(done == 1)
            }

            async fn contact(&self, location: &LocationId, id: &ContactId) -> Result<Option<ContactMirror>, StoreError> {
                let row: Option<ContactRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::contact_cols!(), " FROM contacts WHERE location_id = $1 AND contact_id = $2"
                ))
                .bind(location.as_str())
                .bind(id.as_str())
                .fetch_optional(self.read())
                .await?;
                row.map(ContactRow::into_contact).transpose()
            }

            async fn contacts(&self, location: &LocationId) -> Result<Vec<ContactMirror>, StoreError> {
                let rows: Vec<ContactRow> = sqlx::query_as(concat!(
                    "SELECT ", $crate::shared::contact_cols!(), " FROM contacts WHERE location_id = $1 ORDER BY contact_id"
                ))
                .bind(location.as_str())
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(ContactRow::into_contact).collect()
            }

            async fn notes(&self, location: &LocationId, contact: &ContactId) -> Result<Vec<NoteMirror>, StoreError> {
                let rows: Vec<NoteRow> = sqlx::query_as(
                    "SELECT location_id, note_id, contact_id, body, updated_at FROM notes \
                     WHERE location_id = $1 AND contact_id = $2 ORDER BY updated_at, note_id",
                )
                .bind(location.as_str())
                .bind(contact.as_str())
                .fetch_all(self.read())
                .await?;
                Ok(rows.into_iter().map(NoteRow::into_note).collect())
            }

            async fn opportunities(&self, location: &LocationId) -> Result<Vec<OpportunityMirror>, StoreError> {
                let rows: Vec<OpportunityRow> = sqlx::query_as(
                    "SELECT location_id, opportunity_id, contact_id, name, pipeline_id, stage_id, status, monetary_value, \
                     payload, updated_at FROM opportunities WHERE location_id = $1 ORDER BY opportunity_id",
                )
                .bind(location.as_str())
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(OpportunityRow::into_opportunity).collect()
            }

            async fn opportunity(&self, location: &LocationId, id: &OpportunityId) -> Result<Option<OpportunityMirror>, StoreError> {
                let row: Option<OpportunityRow> = sqlx::query_as(
                    "SELECT location_id, opportunity_id, contact_id, name, pipeline_id, stage_id, status, monetary_value, \
                     payload, updated_at FROM opportunities WHERE location_id = $1 AND opportunity_id = $2",
                )
                .bind(location.as_str())
                .bind(id.as_str())
                .fetch_optional(self.read())
                .await?;
                row.map(OpportunityRow::into_opportunity).transpose()
            }

            async fn linked_contact(&self, location: &LocationId, subject: &str) -> Result<Option<ContactId>, StoreError> {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT contact_id FROM id_map WHERE location_id = $1 AND subject = $2")
                        .bind(location.as_str())
                        .bind(subject)
                        .fetch_optional(self.read())
                        .await?;
                Ok(id.map(ContactId::from))
            }

            async fn linked_subject(&self, location: &LocationId, contact: &ContactId) -> Result<Option<String>, StoreError> {
                // The application's own id first: a `ghl:` subject may have been made
                // before the application sent the person.
                let subject: Option<String> = sqlx::query_scalar(
                    "SELECT subject FROM id_map WHERE location_id = $1 AND contact_id = $2 \
                     ORDER BY (subject LIKE 'ghl:%'), updated_at DESC LIMIT 1",
                )
                .bind(location.as_str())
                .bind(contact.as_str())
                .fetch_optional(self.read())
                .await?;
                Ok(subject)
            }

            async fn linked_opportunity(&self, location: &LocationId, key: &str) -> Result<Option<OpportunityId>, StoreError> {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT opportunity_id FROM opportunity_links WHERE location_id = $1 AND app_key = $2")
                        .bind(location.as_str())
                        .bind(key)
                        .fetch_optional(self.read())
                        .await?;
                Ok(id.map(OpportunityId::from))
            }

            async fn cloudtalk_link(&self, bridge: &BridgeName, ghl_contact: &ContactId) -> Result<Option<CloudTalkLink>, StoreError> {
                let row: Option<CloudTalkLinkRow> = sqlx::query_as(
                    "SELECT bridge, location_id, ghl_contact_id, cloudtalk_contact_id, created_by_bridge \
                     FROM cloudtalk_links WHERE bridge = $1 AND ghl_contact_id = $2",
                )
                .bind(&bridge.0)
                .bind(ghl_contact.as_str())
                .fetch_optional(self.read())
                .await?;
                Ok(row.map(CloudTalkLinkRow::into_link))
            }

            async fn link_cloudtalk(&self, link: &CloudTalkLink, now: Millis) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                upsert_cloudtalk_link(&mut tx, link, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn cloudtalk_link_of(&self, bridge: &BridgeName, cloudtalk_contact: cloudtalk::ContactId) -> Result<Option<CloudTalkLink>, StoreError> {
                let row: Option<CloudTalkLinkRow> = sqlx::query_as(
                    "SELECT bridge, location_id, ghl_contact_id, cloudtalk_contact_id, created_by_bridge \
                     FROM cloudtalk_links WHERE bridge = $1 AND cloudtalk_contact_id = $2",
                )
                .bind(&bridge.0)
                .bind(cloudtalk_contact.0 as i64)
                .fetch_optional(self.read())
                .await?;
                Ok(row.map(CloudTalkLinkRow::into_link))
            }

            async fn window_take(&self, key: &str, window_start: Millis, limit: u32, want: u32) -> Result<u32, StoreError> {
                let mut tx = self.write().await?;
                // The row exists before it is locked, so takers of a new key queue on it.
                sqlx::query("INSERT INTO rate_windows (key, window_start, used) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(window_start)
                    .execute(&mut *tx)
                    .await?;
                let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT window_start, used FROM rate_windows WHERE key = ");
                qb.push_bind(key);
                qb.push(Self::LOCK_ROWS);
                let held: Option<(i64, i64)> = qb.build_query_as().fetch_optional(&mut *tx).await?;
                let used = match held {
                    Some((start, used)) if start == window_start => used,
                    Some((start, _)) if start > window_start => return Ok(0),
                    _ => 0,
                };
                let granted = (i64::from(limit) - used).clamp(0, i64::from(want));
                if granted > 0 {
                    sqlx::query(
                        "INSERT INTO rate_windows (key, window_start, used) VALUES ($1, $2, $3) \
                         ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, used = excluded.used",
                    )
                    .bind(key)
                    .bind(window_start)
                    .bind(used + granted)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(granted as u32)
            }

            async fn upsert_owner(&self, o: &Owner) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO owners (id, location_id, body, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, body = excluded.body",
                )
                .bind(o.id.as_str())
                .bind(o.location_id.as_str())
                .bind(to_json(o))
                .bind(o.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn owner(&self, id: &OwnerId) -> Result<Option<Owner>, StoreError> {
                let row: Option<BodyRow> = sqlx::query_as("SELECT body FROM owners WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(self.read())
                    .await?;
                row.map(BodyRow::into_value).transpose()
            }

            async fn owners(&self) -> Result<Vec<Owner>, StoreError> {
                let rows: Vec<BodyRow> = sqlx::query_as("SELECT body FROM owners ORDER BY created_at, id")
                    .fetch_all(self.read())
                    .await?;
                rows.into_iter().map(BodyRow::into_value).collect()
            }

            async fn rotate_owner_key(&self, k: &OwnerKey, now: Millis) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                let revoked = sqlx::query(
                    "UPDATE owner_keys SET revoked_at = $1 WHERE owner_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(k.owner_id.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query(
                    "INSERT INTO owner_keys (id, owner_id, secret_hash, prefix, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.id)
                .bind(k.owner_id.as_str())
                .bind(&k.secret_hash)
                .bind(&k.prefix)
                .bind(k.created_at)
                .bind(k.revoked_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn owner_key_by_hash(&self, secret_hash: &str) -> Result<Option<OwnerKey>, StoreError> {
                let row: Option<OwnerKeyRow> = sqlx::query_as(
                    "SELECT id, owner_id, secret_hash, prefix, created_at, revoked_at FROM owner_keys WHERE secret_hash = $1",
                )
                .bind(secret_hash)
                .fetch_optional(self.read())
                .await?;
                Ok(row.map(OwnerKeyRow::into_key))
            }

            async fn owner_keys(&self, owner: &OwnerId) -> Result<Vec<OwnerKey>, StoreError> {
                let rows: Vec<OwnerKeyRow> = sqlx::query_as(
                    "SELECT id, owner_id, secret_hash, prefix, created_at, revoked_at FROM owner_keys \
                     WHERE owner_id = $1 ORDER BY created_at, id",
                )
                .bind(owner.as_str())
                .fetch_all(self.read())
                .await?;
                Ok(rows.into_iter().map(OwnerKeyRow::into_key).collect())
            }

            async fn upsert_broadcast(&self, b: &Broadcast) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO broadcasts (owner_id, id, status, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (owner_id, id) DO UPDATE SET status = excluded.status, body = excluded.body, \
                     updated_at = excluded.updated_at",
                )
                .bind(b.owner_id.as_str())
                .bind(b.id.as_str())
                .bind(b.status.as_str())
                .bind(to_json(b))
                .bind(b.created_at)
                .bind(b.updated_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn broadcast(&self, owner: &OwnerId, id: &BroadcastId) -> Result<Option<Broadcast>, StoreError> {
                let row: Option<BroadcastRow> = sqlx::query_as(
                    "SELECT body, status, updated_at FROM broadcasts WHERE owner_id = $1 AND id = $2",
                )
                .bind(owner.as_str())
                .bind(id.as_str())
                .fetch_optional(self.read())
                .await?;
                row.map(BroadcastRow::into_broadcast).transpose()
            }

            async fn broadcast_owner(&self, id: &BroadcastId) -> Result<Option<OwnerId>, StoreError> {
                let owner: Option<(String,)> =
                    sqlx::query_as("SELECT owner_id FROM broadcasts WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_optional(self.read())
                        .await?;
                Ok(owner.map(|(o,)| OwnerId(o)))
            }

            async fn broadcasts(&self, owner: &OwnerId) -> Result<Vec<Broadcast>, StoreError> {
                let rows: Vec<BroadcastRow> = sqlx::query_as(
                    "SELECT body, status, updated_at FROM broadcasts WHERE owner_id = $1 ORDER BY created_at DESC, id",
                )
                .bind(owner.as_str())
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(BroadcastRow::into_broadcast).collect()
            }

            async fn set_broadcast_status(
                &self,
                owner: &OwnerId,
                id: &BroadcastId,
                from: BroadcastStatus,
                to: BroadcastStatus,
                now: Millis,
            ) -> Result<bool, StoreError> {
                let mut tx = self.write().await?;
                let done = sqlx::query(
                    "UPDATE broadcasts SET status = $1, updated_at = $2 WHERE owner_id = $3 AND id = $4 AND status = $5",
                )
                .bind(to.as_str())
                .bind(now)
                .bind(owner.as_str())
                .bind(id.as_str())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(done == 1)
            }

            async fn add_dnc(&self, owner: &OwnerId, phones: &[E164], now: Millis) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                let mut added = 0;
                for phone in phones {
                    added += sqlx::query(
                        "INSERT INTO dnc (owner_id, phone, added_at) VALUES ($1, $2, $3) ON CONFLICT (owner_id, phone) DO NOTHING",
                    )
                    .bind(owner.as_str())
                    .bind(phone.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn is_dnc(&self, owner: &OwnerId, phone: &E164) -> Result<bool, StoreError> {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT added_at FROM dnc WHERE owner_id = $1 AND phone = $2")
                        .bind(owner.as_str())
                        .bind(phone.as_str())
                        .fetch_optional(self.read())
                        .await?;
                Ok(found.is_some())
            }

            async fn set_engine_secret(&self, owner: &OwnerId, secret_hash: &str, sealed: &str, now: Millis) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                sqlx::query(
                    "INSERT INTO owner_engine_secrets (owner_id, secret_hash, sealed, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (owner_id) DO UPDATE SET secret_hash = excluded.secret_hash, sealed = excluded.sealed, \
                     created_at = excluded.created_at",
                )
                .bind(owner.as_str())
                .bind(secret_hash)
                .bind(sealed)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn engine_owner_by_hash(&self, secret_hash: &str) -> Result<Option<OwnerId>, StoreError> {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT owner_id FROM owner_engine_secrets WHERE secret_hash = $1")
                        .bind(secret_hash)
                        .fetch_optional(self.read())
                        .await?;
                Ok(id.map(OwnerId))
            }

            async fn engine_secret(&self, owner: &OwnerId) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT sealed FROM owner_engine_secrets WHERE owner_id = $1")
                    .bind(owner.as_str())
                    .fetch_optional(self.read())
                    .await?)
            }

            async fn enqueue_number(&self, item: &ghlsync_core::broadcast::QueueItem) -> Result<crate::Enqueued, StoreError> {
                let mut tx = self.write().await?;
                let existing: Option<(String, i64)> = sqlx::query_as(
                    "SELECT id, position FROM broadcast_queue WHERE owner_id = $1 AND broadcast_id = $2 AND phone = $3",
                )
                .bind(item.owner_id.as_str())
                .bind(item.broadcast_id.as_str())
                .bind(item.phone.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id, position)) = existing {
                    return Ok(crate::Enqueued::Duplicate { id: ghlsync_core::broadcast::QueueItemId(id), position });
                }
                // The counter's row lock orders concurrent additions to one broadcast.
                let position: Option<i64> = sqlx::query_scalar(
                    "UPDATE broadcasts SET queued = queued + 1 WHERE owner_id = $1 AND id = $2 \
                     AND status IN ('active', 'paused') RETURNING queued",
                )
                .bind(item.owner_id.as_str())
                .bind(item.broadcast_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(position) = position else {
                    return Ok(crate::Enqueued::Closed);
                };
                let mut stored = item.clone();
                stored.position = position;
                let inserted = sqlx::query(
                    "INSERT INTO broadcast_queue (id, owner_id, broadcast_id, position, phone, state, attempts, due_at, \
                     body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $9) \
                     ON CONFLICT (owner_id, broadcast_id, phone) DO NOTHING",
                )
                .bind(item.id.as_str())
                .bind(item.owner_id.as_str())
                .bind(item.broadcast_id.as_str())
                .bind(position)
                .bind(item.phone.as_str())
                .bind(item.state.as_str())
                .bind(item.due_at)
                .bind(to_json(&stored))
                .bind(item.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    // Another request queued the number first: answer as its duplicate.
                    drop(tx);
                    let (id, position): (String, i64) = sqlx::query_as(
                        "SELECT id, position FROM broadcast_queue WHERE owner_id = $1 AND broadcast_id = $2 AND phone = $3",
                    )
                    .bind(item.owner_id.as_str())
                    .bind(item.broadcast_id.as_str())
                    .bind(item.phone.as_str())
                    .fetch_one(self.read())
                    .await?;
                    return Ok(crate::Enqueued::Duplicate { id: ghlsync_core::broadcast::QueueItemId(id), position });
                }
                tx.commit().await?;
                Ok(crate::Enqueued::Added { position })
            }

            async fn queue_item(&self, owner: &OwnerId, id: &ghlsync_core::broadcast::QueueItemId) -> Result<Option<ghlsync_core::broadcast::QueueItem>, StoreError> {
                let row: Option<crate::rows::QueueRow> = sqlx::query_as(concat!("SELECT ", $crate::shared::queue_cols!(), " FROM broadcast_queue WHERE owner_id = $1 AND id = $2"))
                .bind(owner.as_str())
                .bind(id.as_str())
                .fetch_optional(self.read())
                .await?;
                row.map(crate::rows::QueueRow::into_item).transpose()
            }

            async fn queue_items(&self, owner: &OwnerId, broadcast: &BroadcastId, after_position: i64, limit: u32) -> Result<Vec<ghlsync_core::broadcast::QueueItem>, StoreError> {
                let rows: Vec<crate::rows::QueueRow> = sqlx::query_as(concat!("SELECT ", $crate::shared::queue_cols!(), " FROM broadcast_queue WHERE owner_id = $1 AND broadcast_id = $2 AND position > $3 \
                     ORDER BY position LIMIT $4"))
                .bind(owner.as_str())
                .bind(broadcast.as_str())
                .bind(after_position)
                .bind(i64::from(limit))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(crate::rows::QueueRow::into_item).collect()
            }

            async fn due_items(&self, owner: &OwnerId, broadcast: &BroadcastId, now: Millis, limit: u32) -> Result<Vec<ghlsync_core::broadcast::QueueItem>, StoreError> {
                let rows: Vec<crate::rows::QueueRow> = sqlx::query_as(concat!("SELECT ", $crate::shared::queue_cols!(), " FROM broadcast_queue WHERE owner_id = $1 AND broadcast_id = $2 AND state <> 'done' \
                     AND due_at <= $3 ORDER BY due_at, position LIMIT $4"))
                .bind(owner.as_str())
                .bind(broadcast.as_str())
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(crate::rows::QueueRow::into_item).collect()
            }

            async fn defer_items(&self, owner: &OwnerId, items: &[(ghlsync_core::broadcast::QueueItemId, Millis)]) -> Result<(), StoreError> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write().await?;
                for (id, until) in items {
                    sqlx::query(
                        "UPDATE broadcast_queue SET due_at = $1 WHERE owner_id = $2 AND id = $3 AND state = 'queued'",
                    )
                    .bind(until)
                    .bind(owner.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn lease_items(&self, owner: &OwnerId, ids: &[ghlsync_core::broadcast::QueueItemId], lease_id: &str, until: Millis, now: Millis) -> Result<Vec<ghlsync_core::broadcast::QueueItem>, StoreError> {
                let mut tx = self.write().await?;
                let mut leased = Vec::with_capacity(ids.len());
                for id in ids {
                    let row: Option<crate::rows::QueueRow> = sqlx::query_as(concat!("UPDATE broadcast_queue SET state = 'leased', lease_id = $1, lease_until = $2, due_at = $2, \
                         updated_at = $3 WHERE owner_id = $4 AND id = $5 AND state <> 'done' AND due_at <= $3 \
                         RETURNING ", $crate::shared::queue_cols!(), ""))
                    .bind(lease_id)
                    .bind(until)
                    .bind(now)
                    .bind(owner.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = row {
                        leased.push(row.into_item()?);
                    }
                }
                tx.commit().await?;
                Ok(leased)
            }

            async fn next_due(&self, owner: &OwnerId, broadcast: &BroadcastId) -> Result<Option<Millis>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT MIN(due_at) FROM broadcast_queue WHERE owner_id = $1 AND broadcast_id = $2 AND state <> 'done'",
                )
                .bind(owner.as_str())
                .bind(broadcast.as_str())
                .fetch_one(self.read())
                .await?)
            }

            async fn record_call(&self, owner: &Owner, report: &ghlsync_core::broadcast::CallReport, now: Millis) -> Result<ghlsync_core::broadcast::Recorded, StoreError> {
                use ghlsync_core::broadcast::{Next, QueueState, Recorded, after_outcome};
                let mut tx = self.write().await?;
                let seen: Option<bool> = sqlx::query_scalar(
                    "SELECT final_outcome FROM call_reports WHERE owner_id = $1 AND event_id = $2",
                )
                .bind(owner.id.as_str())
                .bind(&report.event_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(final_outcome) = seen {
                    return Ok(Recorded::Duplicate { final_outcome });
                }
                let row: Option<crate::rows::QueueRow> = sqlx::query_as(concat!("SELECT ", $crate::shared::queue_cols!(), " FROM broadcast_queue WHERE owner_id = $1 AND id = $2"))
                .bind(owner.id.as_str())
                .bind(report.queue_item_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(item) = row.map(crate::rows::QueueRow::into_item).transpose()? else {
                    return Ok(Recorded::NotFound);
                };
                if item.state == QueueState::Done {
                    insert_report(&mut tx, &owner.id, report, true, now).await?;
                    tx.commit().await?;
                    return Ok(Recorded::AlreadyFinal);
                }
                let broadcast: Option<crate::rows::BroadcastRow> = sqlx::query_as(
                    "SELECT body, status, updated_at FROM broadcasts WHERE owner_id = $1 AND id = $2",
                )
                .bind(owner.id.as_str())
                .bind(item.broadcast_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let broadcast = broadcast
                    .ok_or_else(|| StoreError::Corrupt(format!("queue item {} has no broadcast", item.id)))?
                    .into_broadcast()?;
                let attempt = item.attempts + 1;
                let next = after_outcome(report.result.outcome, attempt, broadcast.max_attempts, broadcast.retry_delay_ms, now);
                let (state, due_at, final_outcome, retry_at, retries_spent) = match next {
                    Next::Final { retries_spent } => (QueueState::Done, item.due_at, true, None, retries_spent),
                    Next::RetryAt(at) => (QueueState::Queued, at, false, Some(at), false),
                };
                if !insert_report(&mut tx, &owner.id, report, final_outcome, now).await? {
                    // The same event recorded meanwhile by another instance.
                    return Ok(Recorded::Duplicate { final_outcome });
                }
                // Only from the attempts read: a concurrent report of the item refuses this one.
                let changed = sqlx::query(
                    "UPDATE broadcast_queue SET state = $1, attempts = $2, due_at = $3, lease_id = NULL, lease_until = NULL, \
                     last_outcome = $4, updated_at = $5 WHERE owner_id = $6 AND id = $7 AND attempts = $8",
                )
                .bind(state.as_str())
                .bind(i64::from(attempt))
                .bind(due_at)
                .bind(report.result.outcome.as_str())
                .bind(now)
                .bind(owner.id.as_str())
                .bind(item.id.as_str())
                .bind(i64::from(item.attempts))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    return Err(StoreError::Conflict(format!("queue item {} was reported meanwhile", item.id)));
                }
                if final_outcome && let Some(contact) = &item.ghl_contact_id {
                    let update = ghlsync_core::callback::PendingUpdate {
                        id: ghlsync_core::broadcast::PendingId(format!("pu_{}", item.id)),
                        owner_id: owner.id.clone(),
                        broadcast_id: item.broadcast_id.clone(),
                        broadcast_name: broadcast.name.clone(),
                        queue_item_id: item.id.clone(),
                        location_id: owner.location_id.clone(),
                        ghl_contact_id: contact.clone(),
                        result: report.result.clone(),
                        retries_spent,
                        created_at: now,
                    };
                    sqlx::query(
                        "INSERT INTO broadcast_pending (id, owner_id, broadcast_id, queue_item_id, body, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (queue_item_id) DO NOTHING",
                    )
                    .bind(update.id.as_str())
                    .bind(owner.id.as_str())
                    .bind(item.broadcast_id.as_str())
                    .bind(item.id.as_str())
                    .bind(to_json(&update))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(Recorded::Recorded { final_outcome, retry_at })
            }

            async fn pending_updates(&self, scope: &ghlsync_core::callback::PendingScope, limit: u32) -> Result<Vec<ghlsync_core::callback::PendingUpdate>, StoreError> {
                let rows: Vec<BodyRow> = sqlx::query_as(
                    "SELECT body FROM broadcast_pending WHERE taken_at IS NULL AND ($1 IS NULL OR owner_id = $1) \
                     AND ($2 IS NULL OR broadcast_id = $2) ORDER BY created_at, id LIMIT $3",
                )
                .bind(scope.owner.as_ref().map(OwnerId::as_str))
                .bind(scope.broadcast.as_ref().map(BroadcastId::as_str))
                .bind(i64::from(limit))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(BodyRow::into_value).collect()
            }

            async fn queue_callbacks(&self, taken: &[ghlsync_core::broadcast::PendingId], plan: &ghlsync_core::callback::CallbackPlan, now: Millis) -> Result<bool, StoreError> {
                let mut tx = self.write().await?;
                for id in taken {
                    let n = sqlx::query("UPDATE broadcast_pending SET taken_at = $1 WHERE id = $2 AND taken_at IS NULL")
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        return Ok(false);
                    }
                }
                insert_jobs(&mut tx, &plan.jobs, now).await?;
                for (pending, key) in &plan.links {
                    sqlx::query(
                        "INSERT INTO broadcast_pending_jobs (pending_id, job_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(pending.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn pending_views(&self, scope: &ghlsync_core::callback::PendingScope) -> Result<Vec<ghlsync_core::callback::PendingView>, StoreError> {
                let rows: Vec<crate::rows::PendingRow> = sqlx::query_as(
                    "SELECT p.body, COUNT(pj.job_key) AS jobs, \
                     COALESCE(SUM(CASE WHEN j.state = 'done' THEN 1 ELSE 0 END), 0) AS done, \
                     COALESCE(SUM(CASE WHEN j.state = 'dead' THEN 1 ELSE 0 END), 0) AS dead, \
                     CAST(COALESCE(SUM(j.attempts), 0) AS BIGINT) AS attempts, \
                     MAX(CASE WHEN j.state <> 'done' THEN j.last_error END) AS last_error \
                     FROM broadcast_pending p \
                     LEFT JOIN broadcast_pending_jobs pj ON pj.pending_id = p.id \
                     LEFT JOIN jobs j ON j.idempotency_key = pj.job_key \
                     WHERE ($1 IS NULL OR p.owner_id = $1) AND ($2 IS NULL OR p.broadcast_id = $2) \
                     GROUP BY p.id, p.body, p.created_at ORDER BY p.created_at, p.id",
                )
                .bind(scope.owner.as_ref().map(OwnerId::as_str))
                .bind(scope.broadcast.as_ref().map(BroadcastId::as_str))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(crate::rows::PendingRow::into_view).collect()
            }

            async fn sync_log(&self, location: Option<&LocationId>, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
                let rows: Vec<LogRow> = sqlx::query_as(
                    "SELECT location_id, kind, detail, at FROM sync_log WHERE ($1 IS NULL OR location_id = $1) \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(location.map(|l| l.as_str()))
                .bind(i64::from(limit))
                .fetch_all(self.read())
                .await?;
                rows.into_iter().map(LogRow::into_entry).collect()
            }
        }
    };
}

pub(crate) use impl_store;
