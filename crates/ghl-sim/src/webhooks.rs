//! Webhook delivery as GHL does it: one POST per event and subscriber, the raw body signed
//! with Ed25519 (`x-ghl-signature`) and RSA-SHA256 (`x-wh-signature`), retried only when the
//! receiver answers 429, up to six times.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::util::{new_uuid, now_iso, now_ms};

/// The simulator's signing keys.
pub struct SigningKeys {
    ed25519: Ed25519KeyPair,
    rsa: RsaKeyPair,
    pkcs8: (Vec<u8>, Vec<u8>),
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeys { .. }")
    }
}

/// A key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid signing key: {0}")]
pub struct KeyError(String);

impl SigningKeys {
    /// Fresh keys (Ed25519 and RSA-2048).
    pub fn generate() -> Self {
        let ed =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("Ed25519 key generation");
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let rsa_der = AsDer::<Pkcs8V1Der>::as_der(&rsa).expect("RSA PKCS#8 encoding");
        Self::from_pkcs8(ed.as_ref(), rsa_der.as_ref()).expect("generated keys parse")
    }

    /// Keys from PKCS#8 DER documents.
    pub fn from_pkcs8(ed25519: &[u8], rsa: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            ed25519: Ed25519KeyPair::from_pkcs8(ed25519).map_err(|e| KeyError(e.to_string()))?,
            rsa: RsaKeyPair::from_pkcs8(rsa).map_err(|e| KeyError(e.to_string()))?,
            pkcs8: (ed25519.to_vec(), rsa.to_vec()),
        })
    }

    /// The private keys as PKCS#8 DER (Ed25519, RSA), so a test can sign like the simulator.
    pub fn pkcs8(&self) -> (&[u8], &[u8]) {
        (&self.pkcs8.0, &self.pkcs8.1)
    }

    /// The Ed25519 public key as SPKI PEM, for the receiver's configuration.
    pub fn ed25519_public_pem(&self) -> String {
        let der = self
            .ed25519
            .public_key()
            .as_der()
            .expect("Ed25519 SPKI encoding");
        pem("PUBLIC KEY", der.as_ref())
    }

    /// The RSA public key as SPKI PEM.
    pub fn rsa_public_pem(&self) -> String {
        let der =
            AsDer::<PublicKeyX509Der>::as_der(self.rsa.public_key()).expect("RSA SPKI encoding");
        pem("PUBLIC KEY", der.as_ref())
    }

    /// Base64 Ed25519 signature of `body`.
    pub fn sign_ed25519(&self, body: &[u8]) -> String {
        STANDARD.encode(self.ed25519.sign(body).as_ref())
    }

    /// Base64 RSA-SHA256 (PKCS#1 v1.5) signature of `body`.
    pub fn sign_rsa(&self, body: &[u8]) -> String {
        let mut sig = vec![0; self.rsa.public_modulus_len()];
        self.rsa
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), body, &mut sig)
            .expect("RSA signing");
        STANDARD.encode(sig)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Where and how webhooks are delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Subscriber URLs (a Marketplace app's webhook URL); every event goes to each.
    pub urls: Vec<String>,
    /// Wait between retries after a 429 (GHL: about 10 minutes).
    pub retry_interval_ms: u64,
    /// Random extra wait added to each retry, up to this many ms.
    pub retry_jitter_ms: u64,
    /// Retries after the first attempt (GHL: 6).
    pub max_retries: u32,
    /// How long a receiver may take to answer.
    pub timeout_ms: u64,
    /// Send `x-ghl-signature`.
    pub sign_ed25519: bool,
    /// Send the legacy `x-wh-signature`.
    pub sign_rsa: bool,
    /// `appId` put in every payload.
    pub app_id: String,
    /// `versionId` put in every payload.
    pub version_id: String,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            retry_interval_ms: 600_000,
            retry_jitter_ms: 60_000,
            max_retries: 6,
            timeout_ms: 10_000,
            sign_ed25519: true,
            sign_rsa: true,
            app_id: "6578278e879ad2646715ba9c".to_owned(),
            version_id: "6578278e879ad2646715ba9d".to_owned(),
        }
    }
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// The transport error, if it did not.
    pub error: Option<String>,
}

/// An event's delivery to one subscriber.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `webhookId` of the payload.
    pub webhook_id: String,
    /// `type` of the payload.
    pub event_type: String,
    /// Subscriber URL.
    pub url: String,
    /// The exact payload sent.
    pub payload: Value,
    /// Attempts so far.
    pub attempts: Vec<Attempt>,
    /// True once the receiver answered 2xx.
    pub delivered: bool,
    /// True once no further attempt will be made.
    pub finished: bool,
}

/// An event waiting to be sent.
#[derive(Clone, Debug)]
pub(crate) struct PendingEvent {
    pub(crate) event_type: String,
    pub(crate) payload: Map<String, Value>,
}

/// Deliveries and settings, shared with the HTTP side.
#[derive(Debug, Default)]
pub(crate) struct WebhookState {
    pub(crate) settings: WebhookSettings,
    pub(crate) deliveries: Vec<Delivery>,
    /// Events sent to the emitter and not yet turned into deliveries.
    pub(crate) queued: usize,
}

/// Starts the delivery task; events sent on the returned channel are delivered.
pub(crate) fn spawn_emitter(
    state: Arc<Mutex<WebhookState>>,
    keys: Arc<SigningKeys>,
) -> mpsc::UnboundedSender<PendingEvent> {
    let (tx, mut rx) = mpsc::unbounded_channel::<PendingEvent>();
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let settings = state.lock().expect("webhook state").settings.clone();
            if settings.urls.is_empty() {
                state.lock().expect("webhook state").queued -= 1;
                continue;
            }
            let mut payload = event.payload;
            payload.insert("type".into(), Value::String(event.event_type.clone()));
            payload.insert("webhookId".into(), Value::String(new_uuid()));
            payload.insert("timestamp".into(), Value::String(now_iso()));
            payload.insert("appId".into(), Value::String(settings.app_id.clone()));
            payload.insert(
                "versionId".into(),
                Value::String(settings.version_id.clone()),
            );
            let payload = Value::Object(payload);
            let body = serde_json::to_vec(&payload).expect("JSON payload");
            let ed = settings.sign_ed25519.then(|| keys.sign_ed25519(&body));
            let rsa = settings.sign_rsa.then(|| keys.sign_rsa(&body));
            for url in &settings.urls {
                let index = {
                    let mut st = state.lock().expect("webhook state");
                    st.deliveries.push(Delivery {
                        webhook_id: payload["webhookId"].as_str().unwrap_or_default().to_owned(),
                        event_type: event.event_type.clone(),
                        url: url.clone(),
                        payload: payload.clone(),
                        attempts: Vec::new(),
                        delivered: false,
                        finished: false,
                    });
                    st.deliveries.len() - 1
                };
                tokio::spawn(deliver(
                    http.clone(),
                    Arc::clone(&state),
                    index,
                    url.clone(),
                    body.clone(),
                    ed.clone(),
                    rsa.clone(),
                    settings.clone(),
                ));
            }
            state.lock().expect("webhook state").queued -= 1;
        }
    });
    tx
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    http: reqwest::Client,
    state: Arc<Mutex<WebhookState>>,
    index: usize,
    url: String,
    body: Vec<u8>,
    ed: Option<String>,
    rsa: Option<String>,
    settings: WebhookSettings,
) {
    for attempt in 0..=settings.max_retries {
        if attempt > 0 {
            let jitter = if settings.retry_jitter_ms > 0 {
                rand::rng().random_range(0..=settings.retry_jitter_ms)
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis(settings.retry_interval_ms + jitter)).await;
        }
        let mut rb = http
            .post(&url)
            .timeout(Duration::from_millis(settings.timeout_ms))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(sig) = &ed {
            rb = rb.header("x-ghl-signature", sig);
        }
        if let Some(sig) = &rsa {
            rb = rb.header("x-wh-signature", sig);
        }
        let result = rb.send().await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let retry = status == Some(429) && attempt < settings.max_retries;
        {
            let mut st = state.lock().expect("webhook state");
            if let Some(d) = st.deliveries.get_mut(index) {
                d.attempts.push(Attempt {
                    at_ms: now_ms(),
                    status,
                    error,
                });
                d.delivered = status.is_some_and(|s| (200..300).contains(&s));
                d.finished = !retry;
            }
        }
        // GHL retries only 429; any other answer, or none, is final.
        if !retry {
            return;
        }
    }
}
