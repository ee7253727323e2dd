//! `POST /api/cloudtalk-webhooks/{trigger}`: CloudTalk's Workflow Automations ("API Request"
//! actions), one route per trigger as seed 003 lays them out, and `GET .../test`.
//!
//! CloudTalk cannot sign a webhook, so each bridge has a secret the admin puts in the
//! automation's headers (`X-Bridge-Secret`) or URL (`?secret=`); it also names the bridge.
//! A call is recognised by its UUID or id, or, for the bodies that carry neither, by a
//! digest of its fields within a minute: the same call reported twice is stored once.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use cloudtalk::webhooks::{Event, Trigger};
use ghlsync_core::{NewEvent, Source};
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::config::BridgeConfig;
use crate::error::ApiError;
use crate::ingress::{RESEND_WINDOW_MS, Reason, accepted, body, body_digest, reject, within_limit};

const ROUTE: &str = "cloudtalk";

/// The header a CloudTalk automation sends the bridge's secret in.
pub const SECRET_HEADER: &str = "x-bridge-secret";

/// The query of a webhook URL: `?secret=` where a header cannot be set.
#[derive(serde::Deserialize)]
pub(crate) struct SecretQuery {
    secret: Option<String>,
}

/// The bridge whose webhook secret the request carries.
fn bridge<'a>(
    app: &'a App,
    headers: &HeaderMap,
    query: &SecretQuery,
) -> Result<&'a BridgeConfig, ApiError> {
    let given = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(query.secret.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            reject(ROUTE, Reason::MissingKey);
            ApiError::unauthorized(
                "missing_secret",
                "the bridge's secret is required (X-Bridge-Secret or ?secret=)",
            )
        })?;
    app.config()
        .cloudtalk
        .bridges
        .iter()
        .find(|b| {
            verify_slices_are_equal(b.webhook_secret.expose().as_bytes(), given.as_bytes()).is_ok()
        })
        .ok_or_else(|| {
            reject(ROUTE, Reason::InvalidKey);
            ApiError::unauthorized("invalid_secret", "no bridge has this secret")
        })
}

/// `GET /api/cloudtalk-webhooks/test`: the routes this bridge receives.
pub(crate) async fn test(
    State(app): State<App>,
    Query(query): Query<SecretQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let bridge = bridge(&app, &headers, &query)?;
    Ok(Json(json!({
        "status": "ready",
        "bridge": bridge.name,
        "location": bridge.location,
        "routes": Trigger::ALL.iter().map(|t| format!("/api/cloudtalk-webhooks/{}", t.route())).collect::<Vec<_>>(),
    })))
}

/// `POST /api/cloudtalk-webhooks/{trigger}`.
pub(crate) async fn receive(
    State(app): State<App>,
    Path(route): Path<String>,
    Query(query): Query<SecretQuery>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    let bytes = body(raw, ROUTE)?;
    let trigger = Trigger::from_route(&route).ok_or_else(|| {
        reject(ROUTE, Reason::UnknownRoute);
        ApiError::not_found(
            "unknown_route",
            format!(
                "no CloudTalk route {route:?}; the routes are {}",
                Trigger::ALL.map(Trigger::route).join(", ")
            ),
        )
    })?;
    let bridge = bridge(&app, &headers, &query)?;
    let now = now_ms();
    within_limit(
        &app,
        ROUTE,
        &format!("cloudtalk:{}", bridge.name),
        &format!("bridge {}", bridge.name),
        now,
    )?;
    let payload: Value = serde_json::from_slice(&bytes).map_err(|e| {
        reject(ROUTE, Reason::Malformed);
        ApiError::malformed_json(e)
    })?;
    if !payload.is_object() {
        reject(ROUTE, Reason::Malformed);
        return Err(ApiError::invalid_field(
            "body",
            "the body must be a JSON object",
        ));
    }
    let window_ms = RESEND_WINDOW_MS;
    // A call named by its UUID or id is the same call for ever; one named by its fields
    // only within the window (the same fields later may be another call).
    let (dedupe_key, dedupe_window_ms) = match Event::read(trigger, &payload) {
        Event::Call(_, call) => {
            let identity = call.identity();
            let window = identity.starts_with("fields:").then_some(window_ms);
            (
                format!(
                    "ct:{}:{}:{}",
                    bridge.name,
                    trigger.route(),
                    body_digest(identity.as_bytes())
                ),
                window,
            )
        }
        _ => (
            format!(
                "ct:{}:{}:body:{}",
                bridge.name,
                trigger.route(),
                body_digest(&bytes)
            ),
            Some(window_ms),
        ),
    };
    let event = NewEvent {
        source: Source::CloudTalk,
        dedupe_key: Some(dedupe_key),
        dedupe_window_ms,
        event_type: format!("cloudtalk:{}", trigger.route()),
        location_id: Some(ghl::LocationId::new(&bridge.location)),
        route: Some(trigger.route().to_owned()),
        meta: json!({"bridge": bridge.name}),
        body: bytes.to_vec(),
        received_at: now,
    };
    match app.ingest().submit(event).await {
        Ok(inserted) => Ok(accepted(ROUTE, inserted)),
        Err(refusal) => Err(refusal.into_api_error(ROUTE)),
    }
}
