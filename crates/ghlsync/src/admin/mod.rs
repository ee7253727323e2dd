//! Health, readiness, metrics, and the admin API (dead-letter queue, events, locations;
//! seed 004's owners and broadcasts in [`broadcasts`]).
//!
//! `/admin` requires `Authorization: Bearer <server.admin_token>` and is off when no token
//! is configured. Nothing here ever returns a token or secret.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ghlsync_core::{EventId, EventState, JobId, JobState};
use ghlsync_store::{EventFilter, JobFilter, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::error::ApiError;

mod broadcasts;

/// Health, metrics and admin routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/admin/stats", get(stats))
        .route("/admin/dlq", get(list_dead_jobs))
        .route("/admin/dlq/replay", post(replay_dead_jobs))
        .route("/admin/dlq/{id}/replay", post(replay_dead_job))
        .route("/admin/events", get(list_events))
        .route("/admin/events/replay", post(replay_events))
        .route("/admin/locations", get(list_locations))
        .route(
            "/admin/locations/{id}/broadcast-fields",
            post(setup_broadcast_fields),
        )
        .merge(broadcasts::routes())
}

/// Events of the last hour, success rate, mean processing time, and healthy or degraded
/// (seed 001's health contract). Answers 503 only when the store cannot be read.
async fn health(State(app): State<App>) -> Response {
    let since = now_ms() - 3_600_000;
    let (stats, queues) = match (
        app.store().event_stats(since).await,
        app.store().queue_stats().await,
    ) {
        (Ok(s), Ok(q)) => (s, q),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "health: store unavailable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unhealthy", "reason": "store unavailable"})),
            )
                .into_response();
        }
    };
    let finished = stats.done + stats.dead;
    let success_rate = if finished == 0 {
        100.0
    } else {
        stats.done as f64 * 100.0 / finished as f64
    };
    let status = if success_rate > 99.0 && queues.jobs_dead == 0 {
        "healthy"
    } else {
        "degraded"
    };
    Json(json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "events_last_hour": stats.received,
        "success_rate_percent": success_rate,
        "avg_processing_time_ms": stats.avg_processing_ms.unwrap_or(0.0),
        "queues": {
            "events_pending": queues.events_pending,
            "events_dead": queues.events_dead,
            "jobs_queued": queues.jobs_queued,
            "jobs_running": queues.jobs_running,
            "jobs_dead": queues.jobs_dead,
        },
    }))
    .into_response()
}

async fn ready(State(app): State<App>) -> Response {
    match app.store().ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_ready"})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics().render(),
    )
        .into_response()
}

pub(crate) fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &app.config().server.admin_token else {
        return Err(ApiError::not_found(
            "admin_disabled",
            "the admin API is off: set server.admin_token",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    verify_slices_are_equal(given.as_bytes(), token.expose().as_bytes()).map_err(|_| {
        ApiError::unauthorized(
            "invalid_admin_token",
            "a valid admin bearer token is required",
        )
    })
}

async fn stats(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let q = app
        .store()
        .queue_stats()
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "events": {"pending": q.events_pending, "running": q.events_running, "done": q.events_done, "dead": q.events_dead},
        "jobs": {"queued": q.jobs_queued, "running": q.jobs_running, "done": q.jobs_done, "dead": q.jobs_dead},
    })))
}

/// Filters of the DLQ endpoints (query string or JSON body).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqFilter {
    /// Job kind (`sync_contact`, `add_note`).
    pub kind: Option<String>,
    /// Location id.
    pub location_id: Option<String>,
    /// Substring of the error.
    pub error: Option<String>,
    /// Most rows listed.
    pub limit: Option<u32>,
}

impl DlqFilter {
    fn to_filter(&self) -> JobFilter {
        JobFilter {
            state: Some(JobState::Dead),
            location_id: self.location_id.as_deref().map(Into::into),
            kind: self.kind.clone(),
            error_contains: self.error.clone(),
            id: None,
            limit: self.limit,
            ordering_key: None,
        }
    }
}

async fn list_dead_jobs(
    State(app): State<App>,
    headers: HeaderMap,
    Query(f): Query<DlqFilter>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let jobs = app
        .store()
        .list_jobs(&f.to_filter())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({"jobs": jobs})))
}

async fn replay_dead_jobs(
    State(app): State<App>,
    headers: HeaderMap,
    body: Option<Json<DlqFilter>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let f = body.map(|Json(f)| f).unwrap_or_default();
    let n = app
        .store()
        .replay_jobs(&f.to_filter(), now_ms())
        .await
        .map_err(ApiError::internal)?;
    app.wake_dispatcher().notify_waiters();
    Ok(Json(json!({"replayed": n})))
}

async fn replay_dead_job(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let filter = JobFilter {
        id: Some(JobId(id)),
        ..JobFilter::default()
    };
    let n = app
        .store()
        .replay_jobs(&filter, now_ms())
        .await
        .map_err(ApiError::internal)?;
    if n == 0 {
        return Err(ApiError::not_found(
            "not_in_dlq",
            format!("job {id} is not in the dead-letter queue"),
        ));
    }
    app.wake_dispatcher().notify_waiters();
    Ok(Json(json!({"replayed": n})))
}

/// Filters of the events endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// `pending`, `running`, `done` or `dead`.
    pub state: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// One event.
    pub id: Option<i64>,
    /// Most rows listed.
    pub limit: Option<u32>,
}

impl EventQuery {
    fn to_filter(&self) -> Result<EventFilter, ApiError> {
        let state = self
            .state
            .as_deref()
            .map(|s| {
                s.parse::<EventState>().map_err(|_| {
                    ApiError::invalid_field("state", "state must be pending, running, done or dead")
                })
            })
            .transpose()?;
        Ok(EventFilter {
            state,
            event_type: self.event_type.clone(),
            id: self.id.map(EventId),
            limit: self.limit,
        })
    }
}

async fn list_events(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let events = app
        .store()
        .list_events(&q.to_filter()?)
        .await
        .map_err(ApiError::internal)?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(), "source": e.source, "type": e.event_type, "location_id": e.location_id,
                "state": e.state, "attempts": e.attempts, "received_at": e.received_at, "last_error": e.last_error,
            })
        })
        .collect();
    Ok(Json(json!({"events": events})))
}

async fn replay_events(
    State(app): State<App>,
    headers: HeaderMap,
    body: Option<Json<EventQuery>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let q = body.map(|Json(q)| q).unwrap_or_default();
    let n = app
        .store()
        .replay_events(&q.to_filter()?, now_ms())
        .await
        .map_err(ApiError::internal)?;
    app.wake_processor().notify_waiters();
    Ok(Json(json!({"replayed": n})))
}

/// Seed 004's "Setup Broadcast Fields": the six fields outcomes write, created where the
/// location lacks them; answers what existed and what was created.
async fn setup_broadcast_fields(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let location = app
        .location(&ghl::LocationId::from(id.as_str()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("location_not_found", "no such location"))?;
    let setup = crate::connectors::ghl::broadcast::setup_fields(&app, &location)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "ghl_failed", e.to_string()))?;
    Ok(Json(
        json!({"existed": setup.existed, "created": setup.created}),
    ))
}

async fn list_locations(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let locations = app.store().locations().await.map_err(ApiError::internal)?;
    // `Location` never serialises its token.
    Ok(Json(json!({"locations": locations})))
}
