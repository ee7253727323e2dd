//! `POST /webhooks/ghl`: GHL Marketplace webhooks.
//!
//! Order matters: size limit, signature over the raw bytes (Ed25519 preferred, RSA
//! accepted), then the body is parsed exactly as the processor will parse it (the same
//! parser, the same limits): what that parser refuses is refused here with a 400, and
//! everything GHL signed that it reads is stored, whatever its `type`. Then the replay
//! window and the durable commit. A repeat is recognised in the same commit: by
//! `webhookId`, or, for a payload without one, by the body's digest within
//! `server.dedupe_window_secs`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use ghl::webhooks::{
    GHL_SIGNATURE_HEADER, ParseError, VerifyError, WH_SIGNATURE_HEADER, Webhook, WebhookEvent,
};
use ghlsync_core::{NewEvent, Source};
use serde_json::json;

use crate::app::{App, now_ms};
use crate::error::ApiError;
use crate::ingress::{Reason, accepted, body, body_digest, reject};

const ROUTE: &str = "ghl";

/// The stored type of an event that names none and whose fields show no family.
pub const UNKNOWN_TYPE: &str = "unknown";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The processor's parse of a stored body; what it cannot read is refused before 2xx.
fn parse(bytes: &[u8]) -> Result<Webhook, ApiError> {
    Webhook::parse_lenient(bytes).map_err(|e| {
        reject(ROUTE, Reason::Malformed);
        match e {
            ParseError::NotAnObject => {
                ApiError::invalid_field("body", "the body must be a JSON object")
            }
            other => ApiError::malformed_json(other),
        }
    })
}

pub(crate) async fn receive(
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
            reject(ROUTE, Reason::Signature);
            let code = if e == VerifyError::MissingSignature {
                "missing_signature"
            } else {
                "invalid_signature"
            };
            ApiError::unauthorized(code, e.to_string())
        })?;
    let webhook = parse(&bytes)?;
    let now = now_ms();
    let config = &app.config().server;
    let (dedupe_key, dedupe_window_ms) = match &webhook.webhook_id {
        Some(id) => (format!("ghl:{id}"), None),
        None => (
            format!("ghl:body:{}", body_digest(&bytes)),
            Some(config.dedupe_window_secs as i64 * 1000),
        ),
    };
    // GHL sends `timestamp` with every webhook; its documents' examples mostly do not. A
    // signed body without a readable one is still GHL's, and a replay of it is a repeat of
    // its digest.
    if let Some(sent_at) = webhook
        .timestamp
        .as_deref()
        .and_then(ghlsync_core::time::parse_rfc3339_ms)
    {
        let window = config.replay_window_secs as i64 * 1000;
        if (now - sent_at).abs() > window && !app.deferred().contains(&dedupe_key) {
            reject(ROUTE, Reason::Replay);
            return Err(ApiError::unauthorized(
                "stale_timestamp",
                format!("timestamp is outside the {} s replay window", window / 1000),
            ));
        }
    }
    let mut meta = json!({"signature": scheme.as_str()});
    if let WebhookEvent::Misshapen { error, .. } = &webhook.event {
        meta["misshapen"] = json!(error);
    }
    let event = NewEvent {
        source: Source::Ghl,
        dedupe_key: Some(dedupe_key),
        dedupe_window_ms,
        event_type: webhook.name().unwrap_or(UNKNOWN_TYPE).to_owned(),
        location_id: webhook.location_id.clone(),
        route: None,
        meta,
        body: bytes.to_vec(),
        received_at: now,
    };
    let key = event.dedupe_key.clone().unwrap_or_default();
    match app.ingest().submit(event).await {
        Ok(inserted) => Ok(accepted(ROUTE, inserted)),
        Err(refusal) => {
            app.deferred().remember(&key);
            Err(refusal.into_api_error(ROUTE))
        }
    }
}
