//! `POST /webhooks/ghl/workflow/{route}`: GHL workflow webhooks ("Custom Webhook" actions,
//! Inbound Webhook triggers) and other tools posting to a route.
//!
//! A route authenticates with either an HMAC-SHA256 signature of `timestamp.body` in
//! `X-GHL-Signature` plus `X-GHL-Timestamp` (seed 001's scheme, 5-minute window), or a
//! webhook key in `X-Webhook-Key` or the body's `webhook_key` (seed 004's). Each route has
//! its own request limit. A resend is recognised by the sender's id (`X-Idempotency-Key`,
//! or the route's id field), else by the body's digest within the route's window
//! ([`ghlsync_core::RouteDedupe`]); never by the signature, which changes with every send.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ghlsync_core::process::{ProcessError, RouteAction};
use ghlsync_core::{DedupeBy, NewEvent, RouteAuth, Source};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::error::ApiError;
use crate::ingress::{Reason, accepted, body, body_digest, reject, within_limit};

const ROUTE: &str = "workflow";

/// Signature header (hex or base64 HMAC-SHA256, optionally prefixed `sha256=`).
pub const SIGNATURE_HEADER: &str = "x-ghl-signature";
/// Unix time (seconds) the signature was made at.
pub const TIMESTAMP_HEADER: &str = "x-ghl-timestamp";
/// Webhook key header.
pub const KEY_HEADER: &str = "x-webhook-key";
/// The sender's own id for the event; a repeat of it is stored once.
pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The `X-GHL-Signature` a sender puts on `body` at `timestamp` (Unix seconds): hex
/// HMAC-SHA256 of `timestamp.body` under the route's secret.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    hex::encode(context.sign().as_ref())
}

/// Decodes a signature sent as hex or base64.
pub(super) fn decode_signature(raw: &str) -> Option<Vec<u8>> {
    let raw = raw.strip_prefix("sha256=").unwrap_or(raw);
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(raw).ok();
    }
    STANDARD.decode(raw).ok().filter(|s| s.len() == 32)
}

/// Checks `X-GHL-Signature` / `X-GHL-Timestamp` against the route's key.
pub(super) fn check_hmac(
    key: &hmac::Key,
    headers: &HeaderMap,
    body: &[u8],
    window_ms: i64,
    now: i64,
) -> Result<(), ApiError> {
    let signature = header(headers, SIGNATURE_HEADER).ok_or_else(|| {
        reject(ROUTE, Reason::Signature);
        ApiError::unauthorized("missing_signature", "X-GHL-Signature is required")
    })?;
    let timestamp = header(headers, TIMESTAMP_HEADER).ok_or_else(|| {
        reject(ROUTE, Reason::Signature);
        ApiError::unauthorized("missing_timestamp", "X-GHL-Timestamp is required")
    })?;
    let seconds: i64 = timestamp.parse().map_err(|_| {
        reject(ROUTE, Reason::BadTimestamp);
        ApiError::unauthorized("invalid_timestamp", "X-GHL-Timestamp must be Unix seconds")
    })?;
    // Tolerate milliseconds, which some senders use.
    let at_ms = if seconds > 100_000_000_000 {
        seconds
    } else {
        seconds.saturating_mul(1000)
    };
    if (now - at_ms).abs() > window_ms {
        reject(ROUTE, Reason::Replay);
        return Err(ApiError::unauthorized(
            "stale_timestamp",
            "X-GHL-Timestamp is outside the replay window",
        ));
    }
    let mut context = hmac::Context::with_key(key);
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    let expected = context.sign();
    let given = decode_signature(signature).ok_or_else(|| {
        reject(ROUTE, Reason::Signature);
        ApiError::unauthorized(
            "invalid_signature",
            "X-GHL-Signature is not a hex or base64 HMAC-SHA256",
        )
    })?;
    verify_slices_are_equal(expected.as_ref(), &given).map_err(|_| {
        reject(ROUTE, Reason::Signature);
        ApiError::unauthorized(
            "invalid_signature",
            "X-GHL-Signature does not match the body",
        )
    })
}

pub(crate) async fn receive(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<axum::response::Response, ApiError> {
    let bytes = body(raw, ROUTE)?;
    let route = app
        .routes()
        .get(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            reject(ROUTE, Reason::UnknownRoute);
            ApiError::not_found("unknown_route", format!("no workflow route named {name:?}"))
        })?;
    let now = now_ms();
    within_limit(&app, ROUTE, &name, &format!("route {name}"), now)?;
    let window_ms = app.config().server.replay_window_secs as i64 * 1000;
    if route.route.auth == RouteAuth::Hmac {
        let key = route
            .hmac
            .as_ref()
            .ok_or_else(|| ApiError::internal("HMAC route without a key"))?;
        check_hmac(key, &headers, &bytes, window_ms, now)?;
    }
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
    if route.route.auth == RouteAuth::WebhookKey {
        let given = header(&headers, KEY_HEADER)
            .or_else(|| payload.get("webhook_key").and_then(Value::as_str));
        let ok = given.is_some_and(|g| {
            verify_slices_are_equal(g.as_bytes(), route.secret.expose_secret().as_bytes()).is_ok()
        });
        if !ok {
            reject(ROUTE, Reason::WebhookKey);
            return Err(ApiError::unauthorized(
                "invalid_webhook_key",
                "the webhook key is missing or wrong",
            ));
        }
    }
    let RouteAction::UpsertContact(action) = &route.route.action;
    if let Err(e) = action.check(&payload) {
        reject(ROUTE, Reason::MissingField);
        return Err(match e {
            ProcessError::MissingField(field) => {
                ApiError::invalid_field(&field, format!("{field} is required"))
            }
            ProcessError::Malformed(message) => ApiError::invalid_field("body", message),
        });
    }
    // Never by the signature: a resend of the same event is signed anew.
    let dedupe = route.route.dedupe.identify(
        header(&headers, IDEMPOTENCY_HEADER),
        &payload,
        app.config().server.dedupe_window_secs,
    );
    let (dedupe_key, dedupe_window_ms, by) = match dedupe {
        DedupeBy::SenderId(id) => (Some(format!("wf:{name}:id:{id}")), None, "id"),
        DedupeBy::Body { window_ms } => (
            Some(format!("wf:{name}:body:{}", body_digest(&bytes))),
            Some(window_ms),
            "body",
        ),
        DedupeBy::Nothing => (None, None, "none"),
    };
    let event = NewEvent {
        source: Source::Workflow,
        dedupe_key,
        dedupe_window_ms,
        event_type: format!("workflow:{name}"),
        location_id: Some(route.route.location_id.clone()),
        route: Some(name.clone()),
        meta: json!({"auth": route.route.auth.as_str(), "dedupe": by}),
        body: bytes.to_vec(),
        received_at: now,
    };
    match app.ingest().submit(event).await {
        Ok(inserted) => Ok(accepted(ROUTE, inserted)),
        Err(refusal) => Err(refusal.into_api_error(ROUTE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"s3cret")
    }

    fn headers(sig: &str, ts: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        h
    }

    fn sign(ts: &str, body: &[u8]) -> String {
        super::sign(b"s3cret", ts, body)
    }

    #[test]
    fn hex_and_base64_signatures_verify_and_tampering_fails() {
        let body = br#"{"email":"a@b.co"}"#;
        let sig = sign("1000", body);
        assert!(check_hmac(&key(), &headers(&sig, "1000"), body, 300_000, 1_000_000).is_ok());
        let b64 = STANDARD.encode(hex::decode(&sig).unwrap());
        assert!(check_hmac(&key(), &headers(&b64, "1000"), body, 300_000, 1_000_000).is_ok());
        assert!(
            check_hmac(
                &key(),
                &headers(&format!("sha256={sig}"), "1000"),
                body,
                300_000,
                1_000_000
            )
            .is_ok()
        );
        let err = check_hmac(
            &key(),
            &headers(&sig, "1000"),
            b"{\"email\":\"x@b.co\"}",
            300_000,
            1_000_000,
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_signature");
        let err = check_hmac(&key(), &headers(&sig, "1001"), body, 300_000, 1_000_000).unwrap_err();
        assert_eq!(err.code, "invalid_signature", "the timestamp is signed");
    }

    #[test]
    fn old_timestamps_are_replays() {
        let body = b"{}";
        let sig = sign("1000", body);
        let err = check_hmac(
            &key(),
            &headers(&sig, "1000"),
            body,
            300_000,
            1_000_000 + 300_001,
        )
        .unwrap_err();
        assert_eq!(err.code, "stale_timestamp");
        let err = check_hmac(&key(), &HeaderMap::new(), body, 300_000, 0).unwrap_err();
        assert_eq!(err.code, "missing_signature");
    }
}
