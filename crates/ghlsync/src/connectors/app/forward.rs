//! Where GHL events leave for the application: rules with `forward = true` queue a
//! `forward` job, and the dispatcher POSTs its body to `[forward] url`, signed per Standard
//! Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256
//! of "id.timestamp.body">`), with the same retries and dead-letter queue as GHL calls.
//!
//! - 2xx: delivered.
//! - 429 with `Retry-After`: held until then, no attempt used; 408, 429, 5xx, timeouts and
//!   connection failures: retried with backoff.
//! - 410 Gone and any other 4xx: dead-lettered with the application's answer; a replay from
//!   the DLQ sends it again.
//!
//! `webhook-id` is GHL's `webhookId`, the same on every retry, so the application can
//! deduplicate.

use std::time::Duration;

use base64::Engine as _;
use ghlsync_core::Millis;
use ghlsync_core::command::Forward;
use serde_json::{Value, json};

use crate::app::now_ms;
use crate::config::ForwardConfig;
use crate::delivery::JobError;

/// Standard Webhooks asks for secrets of 24 to 64 bytes.
const MIN_SECRET_BYTES: usize = 24;

/// Checks a `whsec_` secret: the prefix, base64, and its length.
pub fn check_secret(secret: &str) -> Result<(), String> {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return Err("must start with whsec_".into());
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(key) if key.len() >= MIN_SECRET_BYTES => Ok(()),
        Ok(key) => Err(format!(
            "decodes to {} bytes; use at least {MIN_SECRET_BYTES}",
            key.len()
        )),
        Err(e) => Err(format!("the part after whsec_ is not base64: {e}")),
    }
}

/// Sends forwarded events to the application.
pub(crate) struct Forwarder {
    http: reqwest::Client,
    url: String,
    signer: standardwebhooks::Webhook,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// The forwarder of the configuration, when a URL is set (validation made sure the
    /// secret is there and sound).
    pub(crate) fn new(cfg: &ForwardConfig) -> anyhow::Result<Option<Self>> {
        let (Some(url), Some(secret)) = (&cfg.url, &cfg.secret) else {
            return Ok(None);
        };
        let signer = standardwebhooks::Webhook::new(secret.expose())
            .map_err(|e| anyhow::anyhow!("forward.secret: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .user_agent(concat!("ghlsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            http,
            url: url.clone(),
            signer,
        }))
    }

    /// POSTs one event, signed now.
    pub(crate) async fn deliver(&self, event: &Forward) -> Result<Value, JobError> {
        let body = serde_json::to_vec(&event.body)
            .map_err(|e| JobError::Transient(format!("forward body: {e}")))?;
        let timestamp = now_ms() / 1000;
        let signature =
            self.signer
                .sign(&event.id, timestamp, &body)
                .map_err(|e| JobError::Permanent {
                    message: format!("signing the forwarded event: {e}"),
                    partial: false,
                })?;
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &event.id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| JobError::Transient(format!("forwarding to the application: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(json!({"forwarded": event.id, "status": status.as_u16()}));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let answer: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let message = format!("the application answered {status}: {answer}");
        match status.as_u16() {
            429 if retry_after.is_some() => Err(JobError::Held {
                until: now_ms() + retry_after.unwrap_or(1).min(3_600) as Millis * 1000,
            }),
            408 | 429 | 500..=599 => Err(JobError::Transient(message)),
            _ => Err(JobError::Permanent {
                message,
                partial: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_at_least_24_bytes() {
        let good = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert_eq!(check_secret(&good), Ok(()));
        assert!(check_secret("hunter2").unwrap_err().contains("whsec_"));
        assert!(
            check_secret("whsec_c2hvcnQ=")
                .unwrap_err()
                .contains("5 bytes")
        );
        assert!(check_secret("whsec_!!!").unwrap_err().contains("base64"));
    }
}
