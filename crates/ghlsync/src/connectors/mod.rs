//! Connectors: every outside system ghlsync talks to, each in a folder of the same shape.
//!
//! A connector has
//! - its routes: where its events enter, each verifying its caller over the raw bytes and
//!   handing the event to the shared ingest ([`crate::ingress`]), which stores it durably
//!   before answering;
//! - its client and its limiter (a key and a spacing of [`crate::delivery::limiter`]);
//! - its error classification into held, transient and permanent
//!   ([`crate::delivery::JobError`]);
//! - its effects: the jobs of its [`Target`] it runs, each returning the state changes that
//!   commit with the job's outcome.
//!
//! What an event changes is decided in `ghlsync-core`, without IO; the claim loop
//! ([`crate::delivery`]) knows no connector. Adding one means adding a folder here, a
//! [`Target`] for its commands, and a line in [`routes`] and [`run`]. Connectors do not
//! import each other (a tidy test checks it): what two systems exchange goes through an
//! event and the rules.

pub mod app;
pub mod cloudtalk;
pub mod dialer;
pub mod ghl;

use axum::Router;
use ghlsync_core::{Changeset, Job, Target};
use serde_json::Value;

use crate::app::App;
use crate::delivery::{JobError, permanent};

/// What the connectors keep between jobs (caches of the remote systems' definitions).
#[derive(Default)]
pub(crate) struct ConnectorState {
    /// GHL's.
    pub(crate) ghl: ghl::State,
    /// CloudTalk's.
    pub(crate) cloudtalk: cloudtalk::State,
}

/// Every connector's routes.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .merge(ghl::routes())
        .merge(app::routes())
        .merge(cloudtalk::routes())
        .merge(dialer::routes())
}

/// Runs a job with the connector of its target.
pub(crate) async fn run(app: &App, job: &Job) -> Result<(Value, Changeset), JobError> {
    match job.command.target() {
        Target::Ghl => {
            let location = active_location(app, &job.location_id).await?;
            ghl::run(app, &location, job).await
        }
        Target::App => {
            active_location(app, &job.location_id).await?;
            app::run(app, job).await
        }
        // Its lane is its bridge's; its location is the bridge's.
        Target::CloudTalk => cloudtalk::run(app, job).await,
    }
}

/// A registered, active location: every job belongs to one.
pub(crate) async fn active_location(
    app: &App,
    id: &::ghl::LocationId,
) -> Result<std::sync::Arc<ghlsync_core::Location>, JobError> {
    let location = app
        .location(id)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
        .ok_or_else(|| permanent(format!("location {id} is not registered")))?;
    if !location.active {
        return Err(permanent(format!("location {} is inactive", location.id)));
    }
    Ok(location)
}
