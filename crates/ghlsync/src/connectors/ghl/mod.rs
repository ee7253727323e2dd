//! GHL: Marketplace webhooks, workflow routes and seed 003's bridge routes in
//! (`webhooks.rs`, `workflow.rs`, `bridge.rs`); contact,
//! note and opportunity effects out (`contacts.rs`, `opportunities.rs`), through one call
//! stack per location (`calls.rs`: client, limiter, error classes) and the location's
//! custom fields and pipelines (`fields.rs`).

mod bridge;
pub(crate) mod broadcast;
mod calls;
mod contacts;
mod fields;
mod opportunities;
mod webhooks;
pub mod workflow;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use ghl::LocationId;
use ghl::opportunities::Pipeline;
use ghlsync_core::{Changeset, GhlCommand, Job, Location};
use serde_json::{Value, json};
use tokio::sync::RwLock;

pub(crate) use calls::{Ghl, GhlCall};
pub use webhooks::UNKNOWN_TYPE;

use crate::app::App;
use crate::delivery::{JobError, permanent};

/// What the GHL connector keeps between jobs.
#[derive(Default)]
pub(crate) struct State {
    /// Custom field key -> id per location, from GHL (refreshed when a key is unknown).
    fields: RwLock<HashMap<LocationId, HashMap<String, String>>>,
    /// Pipelines (with their stages) per location, from GHL (refreshed when a name is unknown).
    pipelines: RwLock<HashMap<LocationId, Vec<Pipeline>>>,
    /// One lock per location around custom field creation.
    field_creations: PerLocation<()>,
    /// One read of a location's field definitions at a time, and when the last ended: jobs
    /// that miss the cache together (a callback run's first jobs) make one read, not one
    /// each.
    field_reads: PerLocation<Option<std::time::Instant>>,
}

/// A lock per location, made on first use.
type PerLocation<T> = std::sync::Mutex<HashMap<LocationId, Arc<tokio::sync::Mutex<T>>>>;

fn lock_for<T: Default>(
    locks: &PerLocation<T>,
    location: &LocationId,
) -> Arc<tokio::sync::Mutex<T>> {
    let mut locks = locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(locks.entry(location.clone()).or_default())
}

impl State {
    fn field_creation(&self, location: &LocationId) -> Arc<tokio::sync::Mutex<()>> {
        lock_for(&self.field_creations, location)
    }

    fn field_read(
        &self,
        location: &LocationId,
    ) -> Arc<tokio::sync::Mutex<Option<std::time::Instant>>> {
        lock_for(&self.field_reads, location)
    }
}

/// GHL's routes: Marketplace webhooks, the readiness check GHL-facing setups call, and
/// workflow routes.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/webhooks/ghl", post(webhooks::receive))
        .route("/webhooks/ghl/verify", get(verify).post(verify))
        .route("/webhooks/ghl/workflow/{route}", post(workflow::receive))
        .route("/api/ghl-webhooks/test", get(bridge::test))
        .route("/api/ghl-webhooks/{route}", post(bridge::receive))
        .route(broadcast::TRIGGER_PATH, post(broadcast::trigger))
        .route(broadcast::SEED_TRIGGER_PATH, post(broadcast::trigger))
}

/// `{"status":"ready","version":...}`: the check GHL-facing setups call (seed 001).
async fn verify() -> Json<Value> {
    Json(json!({"status": "ready", "version": env!("CARGO_PKG_VERSION")}))
}

/// Runs a GHL job for `location`.
pub(crate) async fn run(
    app: &App,
    location: &Location,
    job: &Job,
) -> Result<(Value, Changeset), JobError> {
    let ghl = Ghl::new(app, location)?;
    match &job.command {
        GhlCommand::SyncContact(sync) => contacts::sync_contact(&ghl, job, sync).await,
        GhlCommand::AddNote { contact, body } => contacts::add_note(&ghl, job, contact, body).await,
        GhlCommand::SyncOpportunity { contact, change } => {
            opportunities::sync_opportunity(&ghl, job, contact, change).await
        }
        GhlCommand::UpdateFields {
            contact,
            custom_fields,
        } => contacts::update_fields(&ghl, job, contact, custom_fields).await,
        GhlCommand::BulkAddTags { tags, contacts } => {
            contacts::bulk_add_tags(&ghl, job, tags, contacts).await
        }
        other => Err(permanent(format!("{} is not a GHL command", other.kind()))),
    }
}
