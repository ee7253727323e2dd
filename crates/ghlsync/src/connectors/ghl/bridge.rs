//! `POST /api/ghl-webhooks/{new-contact,new-tag,new-note,pipeline-change,status-change}`:
//! seed 003's GHL workflow routes, their bodies accepted as the seed writes them, and
//! `GET /api/ghl-webhooks/test`.
//!
//! A request authenticates as a workflow route does, with the credentials of one bridge
//! (`ghl_auth`, `ghl_secret`): its webhook key (`X-Webhook-Key` or the body's
//! `webhook_key`), or an HMAC-SHA256 signature of `timestamp.body` (`X-GHL-Signature`,
//! `X-GHL-Timestamp`, a 5-minute window). The credentials name the bridge.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use ghlsync_core::bridge::{BridgeContact, GhlRoute, ghl_view};
use ghlsync_core::{NewEvent, RouteAuth, Source};
use serde_json::{Value, json};

use super::workflow::{
    IDEMPOTENCY_HEADER, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, decode_signature, header,
    sign,
};
use crate::app::{App, now_ms};
use crate::config::BridgeConfig;
use crate::error::ApiError;
use crate::ingress::{RESEND_WINDOW_MS, Reason, accepted, body, body_digest, reject, within_limit};

const ROUTE: &str = "bridge";

/// `GET /api/ghl-webhooks/test`: the routes, as the seed's status check lists them.
pub(crate) async fn test(State(app): State<App>) -> Json<Value> {
    Json(json!({
        "status": "ready",
        "bridges": app.config().cloudtalk.bridges.len(),
        "routes": GhlRoute::ALL.iter().map(|r| format!("/api/ghl-webhooks/{}", r.route())).collect::<Vec<_>>(),
    }))
}

/// True when the request carries a valid signature under `secret`, made in the window.
fn signed_by(secret: &str, headers: &HeaderMap, body: &[u8], window_ms: i64, now: i64) -> bool {
    let (Some(signature), Some(timestamp)) = (
        header(headers, SIGNATURE_HEADER),
        header(headers, TIMESTAMP_HEADER),
    ) else {
        return false;
    };
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return false;
    };
    let at_ms = if seconds > 100_000_000_000 {
        seconds
    } else {
        seconds.saturating_mul(1000)
    };
    if (now - at_ms).abs() > window_ms {
        return false;
    }
    let expected = hex::decode(sign(secret.as_bytes(), timestamp, body)).unwrap_or_default();
    decode_signature(signature)
        .is_some_and(|given| verify_slices_are_equal(&expected, &given).is_ok())
}

/// The bridge whose credentials the request carries.
fn bridge<'a>(
    app: &'a App,
    headers: &HeaderMap,
    bytes: &[u8],
    payload: &Value,
) -> Result<&'a BridgeConfig, ApiError> {
    let now = now_ms();
    let window_ms = app.config().server.replay_window_secs as i64 * 1000;
    let key =
        header(headers, KEY_HEADER).or_else(|| payload.get("webhook_key").and_then(Value::as_str));
    let found = app
        .config()
        .cloudtalk
        .bridges
        .iter()
        .find(|b| match b.ghl_auth {
            RouteAuth::WebhookKey => key.is_some_and(|k| {
                verify_slices_are_equal(k.as_bytes(), b.ghl_secret.expose().as_bytes()).is_ok()
            }),
            RouteAuth::Hmac => signed_by(b.ghl_secret.expose(), headers, bytes, window_ms, now),
        });
    found.ok_or_else(|| {
        let signed = header(headers, SIGNATURE_HEADER).is_some();
        reject(
            ROUTE,
            if signed {
                Reason::Signature
            } else {
                Reason::WebhookKey
            },
        );
        if key.is_none() && !signed {
            ApiError::unauthorized(
                "missing_credentials",
                "a bridge's webhook key (X-Webhook-Key) or signature (X-GHL-Signature) is required",
            )
        } else {
            ApiError::unauthorized(
                "invalid_credentials",
                "no bridge has this webhook key or signing secret (or the signature is stale)",
            )
        }
    })
}

/// What a route's body must name, beyond the contact.
fn check(route: GhlRoute, payload: &Value) -> Result<(), ApiError> {
    let contact = BridgeContact::read(payload);
    if contact.id.is_none() {
        return Err(ApiError::invalid_field(
            "contact.id",
            "contact.id is required",
        ));
    }
    let view = ghl_view(payload, &contact, &[]);
    let missing = match route {
        GhlRoute::NewContact => (contact.phone.is_none() && contact.email.is_none()).then_some((
            "contact.phone",
            "contact.phone or contact.email is required",
        )),
        GhlRoute::NewTag => view["tags_added"]
            .as_array()
            .is_none_or(Vec::is_empty)
            .then_some(("tag.name", "tag.name is required")),
        GhlRoute::NewNote => view["note"]["body"]
            .is_null()
            .then_some(("note.body", "note.body is required")),
        GhlRoute::PipelineChange => view["stage"]
            .is_null()
            .then_some(("stage.name", "stage.name is required")),
        GhlRoute::StatusChange => view["status"]
            .is_null()
            .then_some(("status", "status is required")),
    };
    match missing {
        Some((field, message)) => Err(ApiError::invalid_field(field, message)),
        None => Ok(()),
    }
}

/// `POST /api/ghl-webhooks/{route}`.
pub(crate) async fn receive(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    let bytes = body(raw, ROUTE)?;
    let route: GhlRoute = name.parse().map_err(|_| {
        reject(ROUTE, Reason::UnknownRoute);
        ApiError::not_found(
            "unknown_route",
            format!(
                "no bridge route {name:?}; the routes are {}",
                GhlRoute::ALL.map(GhlRoute::route).join(", ")
            ),
        )
    })?;
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
    let bridge = bridge(&app, &headers, &bytes, &payload)?;
    let now = now_ms();
    within_limit(
        &app,
        ROUTE,
        &format!("bridge:{}", bridge.name),
        &format!("bridge {}", bridge.name),
        now,
    )?;
    if let Err(e) = check(route, &payload) {
        reject(ROUTE, Reason::MissingField);
        return Err(e);
    }
    // A resend: by the sender's id when it gives one, else by the body within the window.
    let (dedupe_key, dedupe_window_ms) = match header(&headers, IDEMPOTENCY_HEADER) {
        Some(id) => (format!("bridge:{}:{name}:id:{id}", bridge.name), None),
        None => (
            format!("bridge:{}:{name}:body:{}", bridge.name, body_digest(&bytes)),
            // A status back to what it was, or a tag added again, is the same body later:
            // a new event. Only an immediate resend is one.
            Some(RESEND_WINDOW_MS),
        ),
    };
    let event = NewEvent {
        source: Source::Bridge,
        dedupe_key: Some(dedupe_key),
        dedupe_window_ms,
        event_type: format!("bridge:{name}"),
        location_id: Some(ghl::LocationId::new(&bridge.location)),
        route: Some(name),
        meta: json!({"bridge": bridge.name, "auth": bridge.ghl_auth.as_str()}),
        body: bytes.to_vec(),
        received_at: now,
    };
    match app.ingest().submit(event).await {
        Ok(inserted) => Ok(accepted(ROUTE, inserted)),
        Err(refusal) => Err(refusal.into_api_error(ROUTE)),
    }
}
