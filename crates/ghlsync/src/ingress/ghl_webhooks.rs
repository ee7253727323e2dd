//! `POST /webhooks/ghl`: GHL Marketplace webhooks.
//!
//! Order matters: size limit, signature over the raw bytes (Ed25519 preferred, RSA
//! accepted), then the few fields ingress needs (`type`, `webhookId`, `timestamp`), the
//! replay window, and the durable commit. Deduplication on `webhookId` happens in the same
//! commit, so a redelivery is answered 200 without being stored twice.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use ghl::webhooks::{GHL_SIGNATURE_HEADER, VerifyError, WH_SIGNATURE_HEADER};
use ghlsync_core::{NewEvent, Source};
use serde::Deserialize;
use serde_json::json;

use super::{accepted, body, reject};
use crate::app::{App, now_ms};
use crate::error::ApiError;

const ROUTE: &str = "ghl";

/// Only what ingress needs; the rest of the payload is kept as raw bytes.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow, default)]
    event_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "webhookId", borrow, default)]
    webhook_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "locationId", borrow, default)]
    location_id: Option<std::borrow::Cow<'a, str>>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn receive(
    State(app): State<App>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    let bytes = body(raw, ROUTE)?;
    let scheme = app
        .verifier()
        .verify(
            &bytes,
            header(&headers, GHL_SIGNATURE_HEADER),
            header(&headers, WH_SIGNATURE_HEADER),
        )
        .map_err(|e| {
            reject(ROUTE, "signature");
            let code = if e == VerifyError::MissingSignature {
                "missing_signature"
            } else {
                "invalid_signature"
            };
            ApiError::unauthorized(code, e.to_string())
        })?;
    let envelope: Envelope<'_> = serde_json::from_slice(&bytes).map_err(|e| {
        reject(ROUTE, "malformed");
        ApiError::malformed_json(e)
    })?;
    let missing = |field: &str| {
        reject(ROUTE, "missing_field");
        ApiError::invalid_field(field, format!("{field} is required"))
    };
    let event_type = envelope.event_type.ok_or_else(|| missing("type"))?;
    let webhook_id = envelope.webhook_id.ok_or_else(|| missing("webhookId"))?;
    let timestamp = envelope.timestamp.ok_or_else(|| missing("timestamp"))?;
    let sent_at = ghlsync_core::time::parse_rfc3339_ms(&timestamp).ok_or_else(|| {
        reject(ROUTE, "bad_timestamp");
        ApiError::invalid_field("timestamp", "timestamp must be an RFC 3339 time")
    })?;
    let now = now_ms();
    let window = app.config().server.replay_window_secs as i64 * 1000;
    if (now - sent_at).abs() > window && !app.deferred().contains(&webhook_id) {
        reject(ROUTE, "replay");
        return Err(ApiError::unauthorized(
            "stale_timestamp",
            format!("timestamp is outside the {} s replay window", window / 1000),
        ));
    }
    let event = NewEvent {
        source: Source::Ghl,
        dedupe_key: Some(format!("ghl:{webhook_id}")),
        event_type: event_type.into_owned(),
        location_id: envelope.location_id.map(|l| l.as_ref().into()),
        route: None,
        meta: json!({"signature": scheme.as_str()}),
        body: bytes.to_vec(),
        received_at: now,
    };
    match app.ingest().submit(event).await {
        Ok(inserted) => Ok(accepted(ROUTE, inserted)),
        Err(refusal) => {
            app.deferred().remember(&webhook_id);
            Err(refusal.into_api_error(ROUTE))
        }
    }
}
