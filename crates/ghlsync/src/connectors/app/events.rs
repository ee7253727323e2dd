//! `POST /api/v1/events`: the business's application reports what happened (a user
//! registered, a project was published, an appointment was missed ...).
//!
//! The caller authenticates with an API key (`Authorization: Bearer ghk_...`, made by
//! `ghlsync keys create`), which names the location the events belong to. The body is one
//! event or a batch (an array, or `{"events": [...]}`); every event is validated before any
//! is stored, so a batch with one bad event stores nothing and the 422 names the field
//! (`events[3].data.role`). Each event's `id` is its idempotency key: a repeat is answered
//! `duplicate` and stored once, so a batch may be retried whole after a 429.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ghlsync_core::{ApiKey, AppEvent, NewEvent, Source};
use ghlsync_store::{Inserted, Store};
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::error::ApiError;
use crate::ingress::{Reason, body, reject};

const ROUTE: &str = "app";

/// The most events one request may carry.
pub const MAX_BATCH: usize = 500;

/// The key behind `Authorization: Bearer ...`, if it exists and is not revoked.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<ApiKey, ApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            reject(ROUTE, Reason::MissingKey);
            ApiError::unauthorized(
                "missing_api_key",
                "send the API key as Authorization: Bearer <key>",
            )
        })?;
    let hash = crate::registry::api_key_hash(secret);
    match app.store().api_key_by_hash(&hash).await {
        Ok(Some(key)) if key.revoked_at.is_none() => Ok(key),
        Ok(_) => {
            reject(ROUTE, Reason::InvalidKey);
            Err(ApiError::unauthorized(
                "invalid_api_key",
                "the API key is unknown or revoked",
            ))
        }
        // Not stored, so "not now": the app retries.
        Err(e) => {
            tracing::error!(error = %e, "API key lookup failed");
            Err(ApiError::too_many(
                "unavailable",
                "the key could not be checked; retry later",
                5,
            ))
        }
    }
}

pub(crate) async fn receive(
    State(app): State<App>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body(raw, ROUTE)?;
    let key = authenticate(&app, &headers).await?;
    let now = now_ms();
    // Prefixed: a workflow route may be named like a key id, and must not share its budget.
    if let Err(wait) = app.route_limiter().check(&format!("api:{}", key.id), now) {
        reject(ROUTE, Reason::RateLimited);
        return Err(ApiError::too_many(
            "rate_limited",
            format!(
                "an API key may send {} requests per minute",
                app.config().server.route_requests_per_minute
            ),
            (wait as u64).div_ceil(1000),
        ));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        reject(ROUTE, Reason::Malformed);
        ApiError::malformed_json(e)
    })?;
    let events = AppEvent::parse_request(&value, MAX_BATCH).map_err(|e| {
        reject(ROUTE, Reason::InvalidEvent);
        ApiError::invalid_event(&e.field, e.message)
    })?;
    let submitted = events.iter().map(|event| {
        let stored = NewEvent {
            source: Source::App,
            dedupe_key: Some(format!("app:{}:{}", key.location_id, event.id)),
            dedupe_window_ms: None,
            event_type: format!("app:{}", event.event_type),
            location_id: Some(key.location_id.clone()),
            route: None,
            meta: json!({"api_key": key.id}),
            body: serde_json::to_vec(event).expect("an event serialises"),
            received_at: now,
        };
        app.ingest().submit(stored)
    });
    // Submitted together, the events share a group commit.
    let outcomes = futures::future::join_all(submitted).await;
    let mut results = Vec::with_capacity(events.len());
    let (mut accepted, mut duplicates) = (0, 0);
    for (event, outcome) in events.iter().zip(outcomes) {
        let (status, id) = match outcome.map_err(|r| r.into_api_error(ROUTE))? {
            Inserted::New(id) => {
                accepted += 1;
                ("accepted", id)
            }
            Inserted::Duplicate(id) => {
                duplicates += 1;
                ("duplicate", id)
            }
        };
        results.push(json!({"id": event.id, "status": status, "event": id.to_string()}));
    }
    metrics::counter!(crate::metrics::INGRESS_REQUESTS, "route" => ROUTE, "outcome" => "accepted")
        .increment(accepted);
    metrics::counter!(crate::metrics::INGRESS_REQUESTS, "route" => ROUTE, "outcome" => "duplicate")
        .increment(duplicates);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"accepted": accepted, "duplicates": duplicates, "results": results})),
    )
        .into_response())
}

/// `GET /api/v1/contacts/{app_id}/diagnosis`: the person's contact beside what the rules
/// want, in the API key's location.
pub(crate) async fn diagnosis(
    State(app): State<App>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    let d = crate::diagnosis::diagnose(&app, &key.location_id, &app_id).await?;
    Ok(axum::Json(d).into_response())
}

/// `POST /api/v1/contacts/{app_id}/resync`: queue a full push of what the rules want.
pub(crate) async fn resync(
    State(app): State<App>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = authenticate(&app, &headers).await?;
    let queued = crate::diagnosis::resync(&app, &key.location_id, &app_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"subject": app_id, "queued": true, "merged": !queued})),
    )
        .into_response())
}
