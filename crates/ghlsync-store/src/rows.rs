//! Row shapes shared by both dialects, and their conversion to domain types.
//!
//! Every integer column is read as `i64` and every JSON column as text, which both SQLite
//! and PostgreSQL (BIGINT, TEXT) decode the same way.

use std::str::FromStr;

use ghl::{ContactId, LocationId, NoteId, OpportunityId};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::{
    ApiKey, ContactMirror, EventId, InboxEvent, Job, JobId, Location, NoteMirror,
    OpportunityMirror, WorkflowRoute,
};
use serde_json::Value;
use sqlx::FromRow;

use crate::StoreError;

fn parse<T: FromStr>(column: &str, value: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(column: &str, value: &str) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn count(column: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: {value}")))
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: i64,
    source: String,
    event_type: String,
    location_id: Option<String>,
    route: Option<String>,
    meta: String,
    body: Vec<u8>,
    state: String,
    attempts: i64,
    received_at: i64,
    last_error: Option<String>,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<InboxEvent, StoreError> {
        Ok(InboxEvent {
            id: EventId(self.id),
            source: parse("source", &self.source)?,
            event_type: self.event_type,
            location_id: self.location_id.map(LocationId::from),
            route: self.route,
            meta: json("meta", &self.meta)?,
            body: self.body,
            state: parse("state", &self.state)?,
            attempts: count("attempts", self.attempts)?,
            received_at: self.received_at,
            last_error: self.last_error,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct JobRow {
    id: i64,
    location_id: String,
    command: String,
    idempotency_key: String,
    ordering_key: String,
    state: String,
    attempts: i64,
    claims: i64,
    run_at: i64,
    created_at: i64,
    last_error: Option<String>,
    source_event: Option<i64>,
}

impl JobRow {
    pub(crate) fn into_job(self) -> Result<Job, StoreError> {
        Ok(Job {
            id: JobId(self.id),
            location_id: LocationId::from(self.location_id),
            command: json("command", &self.command)?,
            idempotency_key: self.idempotency_key,
            ordering_key: self.ordering_key,
            state: parse("state", &self.state)?,
            attempts: count("attempts", self.attempts)?,
            claims: count("claims", self.claims)?,
            run_at: self.run_at,
            created_at: self.created_at,
            last_error: self.last_error,
            source_event: self.source_event.map(EventId),
        })
    }
}

#[derive(FromRow)]
pub(crate) struct LocationRow {
    id: String,
    name: String,
    integration_type: String,
    token_ciphertext: Vec<u8>,
    field_mapping: String,
    active: bool,
    last_sync_at: Option<i64>,
    last_sync_status: Option<String>,
    last_sync_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl LocationRow {
    pub(crate) fn into_location(self) -> Result<Location, StoreError> {
        Ok(Location {
            id: LocationId::from(self.id),
            name: self.name,
            integration_type: parse("integration_type", &self.integration_type)?,
            token_ciphertext: self.token_ciphertext,
            field_mapping: json("field_mapping", &self.field_mapping)?,
            active: self.active,
            last_sync_at: self.last_sync_at,
            last_sync_status: self
                .last_sync_status
                .as_deref()
                .map(|s| parse("last_sync_status", s))
                .transpose()?,
            last_sync_error: self.last_sync_error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct RouteRow {
    name: String,
    location_id: String,
    auth: String,
    secret_ciphertext: Vec<u8>,
    action: String,
    dedupe: String,
    created_at: i64,
}

impl RouteRow {
    pub(crate) fn into_route(self) -> Result<WorkflowRoute, StoreError> {
        Ok(WorkflowRoute {
            name: self.name,
            location_id: LocationId::from(self.location_id),
            auth: parse("auth", &self.auth)?,
            secret_ciphertext: self.secret_ciphertext,
            action: json("action", &self.action)?,
            dedupe: json("dedupe", &self.dedupe)?,
            created_at: self.created_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    location_id: String,
    name: String,
    secret_hash: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn into_key(self) -> ApiKey {
        ApiKey {
            id: self.id,
            location_id: LocationId::from(self.location_id),
            name: self.name,
            secret_hash: self.secret_hash,
            prefix: self.prefix,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct ContactRow {
    location_id: String,
    contact_id: String,
    email: Option<String>,
    phone: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    tags: String,
    custom_fields: String,
    payload: String,
    updated_at: i64,
    deleted: bool,
    value_times: String,
}

impl ContactRow {
    pub(crate) fn into_contact(self) -> Result<ContactMirror, StoreError> {
        Ok(ContactMirror {
            location_id: LocationId::from(self.location_id),
            contact_id: ContactId::from(self.contact_id),
            email: self.email,
            phone: self.phone,
            first_name: self.first_name,
            last_name: self.last_name,
            company_name: self.company_name,
            tags: json("tags", &self.tags)?,
            custom_fields: json("custom_fields", &self.custom_fields)?,
            payload: json("payload", &self.payload)?,
            updated_at: self.updated_at,
            deleted: self.deleted,
            times: json("value_times", &self.value_times)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct NoteRow {
    location_id: String,
    note_id: String,
    contact_id: Option<String>,
    body: Option<String>,
    updated_at: i64,
}

impl NoteRow {
    pub(crate) fn into_note(self) -> NoteMirror {
        NoteMirror {
            location_id: LocationId::from(self.location_id),
            note_id: NoteId::from(self.note_id),
            contact_id: self.contact_id.map(ContactId::from),
            body: self.body,
            updated_at: self.updated_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct OpportunityRow {
    location_id: String,
    opportunity_id: String,
    contact_id: Option<String>,
    name: Option<String>,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    status: Option<String>,
    monetary_value: Option<f64>,
    payload: String,
    updated_at: i64,
}

impl OpportunityRow {
    pub(crate) fn into_opportunity(self) -> Result<OpportunityMirror, StoreError> {
        Ok(OpportunityMirror {
            location_id: LocationId::from(self.location_id),
            opportunity_id: OpportunityId::from(self.opportunity_id),
            contact_id: self.contact_id.map(ContactId::from),
            name: self.name,
            pipeline_id: self.pipeline_id,
            stage_id: self.stage_id,
            status: self.status,
            monetary_value: self.monetary_value,
            payload: json("payload", &self.payload)?,
            updated_at: self.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct LogRow {
    location_id: Option<String>,
    kind: String,
    detail: String,
    at: i64,
}

impl LogRow {
    pub(crate) fn into_entry(self) -> Result<LogEntry, StoreError> {
        Ok(LogEntry {
            location_id: self.location_id.map(LocationId::from),
            kind: self.kind,
            detail: json::<Value>("detail", &self.detail)?,
            at: self.at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct CloudTalkLinkRow {
    bridge: String,
    location_id: String,
    ghl_contact_id: String,
    cloudtalk_contact_id: i64,
    created_by_bridge: bool,
}

impl CloudTalkLinkRow {
    pub(crate) fn into_link(self) -> ghlsync_core::bridge::CloudTalkLink {
        ghlsync_core::bridge::CloudTalkLink {
            bridge: ghlsync_core::bridge::BridgeName(self.bridge),
            location_id: LocationId::from(self.location_id),
            ghl_contact: ContactId::from(self.ghl_contact_id),
            cloudtalk_contact: cloudtalk::ContactId(self.cloudtalk_contact_id as u64),
            created_by_bridge: self.created_by_bridge,
        }
    }
}

/// A row kept whole as JSON.
#[derive(FromRow)]
pub(crate) struct BodyRow {
    body: String,
}

impl BodyRow {
    pub(crate) fn into_value<T: serde::de::DeserializeOwned>(self) -> Result<T, StoreError> {
        json("body", &self.body)
    }
}

#[derive(FromRow)]
pub(crate) struct BroadcastRow {
    body: String,
    status: String,
    updated_at: i64,
}

impl BroadcastRow {
    /// The status and change time are the columns' (a status change writes only those).
    pub(crate) fn into_broadcast(self) -> Result<ghlsync_core::broadcast::Broadcast, StoreError> {
        let mut b: ghlsync_core::broadcast::Broadcast = json("body", &self.body)?;
        b.status = parse("status", &self.status)?;
        b.updated_at = self.updated_at;
        Ok(b)
    }
}

#[derive(FromRow)]
pub(crate) struct OwnerKeyRow {
    id: String,
    owner_id: String,
    secret_hash: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl OwnerKeyRow {
    pub(crate) fn into_key(self) -> ghlsync_core::broadcast::OwnerKey {
        ghlsync_core::broadcast::OwnerKey {
            id: self.id,
            owner_id: ghlsync_core::broadcast::OwnerId(self.owner_id),
            secret_hash: self.secret_hash,
            prefix: self.prefix,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// A queue item: the JSON body, with the columns a lease or report changes read over it.
#[derive(FromRow)]
pub(crate) struct QueueRow {
    body: String,
    state: String,
    attempts: i64,
    due_at: i64,
    lease_id: Option<String>,
    lease_until: Option<i64>,
    last_outcome: Option<String>,
}

impl QueueRow {
    pub(crate) fn into_item(self) -> Result<ghlsync_core::broadcast::QueueItem, StoreError> {
        let mut item: ghlsync_core::broadcast::QueueItem = json("body", &self.body)?;
        item.state = parse("state", &self.state)?;
        item.attempts = count("attempts", self.attempts)?;
        item.due_at = self.due_at;
        item.lease_id = self.lease_id;
        item.lease_until = self.lease_until;
        item.last_outcome = self
            .last_outcome
            .map(|o| parse("last_outcome", &o))
            .transpose()?;
        Ok(item)
    }
}

/// A pending update with the counts of its jobs by state.
#[derive(FromRow)]
pub(crate) struct PendingRow {
    body: String,
    jobs: i64,
    done: i64,
    dead: i64,
    attempts: i64,
    last_error: Option<String>,
}

impl PendingRow {
    pub(crate) fn into_view(self) -> Result<ghlsync_core::callback::PendingView, StoreError> {
        let status = ghlsync_core::callback::PendingStatus::of_jobs(
            count("jobs", self.jobs)?,
            count("done", self.done)?,
            count("dead", self.dead)?,
        );
        Ok(ghlsync_core::callback::PendingView {
            update: json("body", &self.body)?,
            status,
            retry_count: count("attempts", self.attempts)?,
            error_message: self.last_error,
        })
    }
}
