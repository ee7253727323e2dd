//! The business's application: its events in (`events.rs`: `/api/v1/events`, and a
//! person's diagnosis and resync), GHL's events forwarded out to it (`forward.rs`, signed per
//! Standard Webhooks).

mod events;
pub(crate) mod forward;

use axum::Router;
use axum::routing::{get, post};
use ghlsync_core::{Changeset, GhlCommand, Job};
use serde_json::Value;

use crate::app::App;
use crate::delivery::{JobError, permanent};
use crate::metrics as m;

/// The application's routes.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/events", post(events::receive))
        .route(
            "/api/v1/contacts/{app_id}/diagnosis",
            get(events::diagnosis),
        )
        .route("/api/v1/contacts/{app_id}/resync", post(events::resync))
}

/// Runs a job for the application.
pub(crate) async fn run(app: &App, job: &Job) -> Result<(Value, Changeset), JobError> {
    match &job.command {
        GhlCommand::Forward(event) => forward(app, event).await,
        other => Err(permanent(format!(
            "{} is not a command for the application",
            other.kind()
        ))),
    }
}

/// Sends a GHL event on to the application.
async fn forward(
    app: &App,
    event: &ghlsync_core::command::Forward,
) -> Result<(Value, Changeset), JobError> {
    let forwarder = app
        .forwarder()
        .ok_or_else(|| permanent("forward.url is not set; replay once it is"))?;
    let outcome = forwarder.deliver(event).await;
    let label = match &outcome {
        Ok(_) => "done",
        Err(JobError::Permanent { .. }) => "dead",
        Err(_) => "retry",
    };
    metrics::counter!(m::FORWARDS, "outcome" => label).increment(1);
    outcome.map(|result| (result, Changeset::default()))
}
