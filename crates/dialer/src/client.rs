//! An engine's side of the two routes.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::signature::{OWNER_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::wire::{LEASE_PATH, Lease, LeaseRequest, OUTCOMES_PATH, OutcomeReceipt, OutcomeReport};

/// How long one request may take in all. Leasing and recording are quick; an answer this
/// late means ghlsync is in trouble, and the engine does better to try again.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A dialer engine's client for ghlsync. It neither retries nor paces: the engine decides.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    owner_id: String,
    secret: String,
}

impl fmt::Debug for Client {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("owner_id", &self.owner_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for ghlsync at `base_url` (`http://127.0.0.1:8080`, no `/api`), as the
    /// engine `owner_id` holding `engine_secret`.
    ///
    /// # Panics
    ///
    /// When the TLS backend cannot be initialised, as `reqwest::Client::new` does.
    pub fn new(
        base_url: impl Into<String>,
        owner_id: impl Into<String>,
        engine_secret: impl Into<String>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            owner_id: owner_id.into(),
            secret: engine_secret.into(),
        }
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The owner id sent in `X-Dialer-Owner`.
    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// Leases due numbers: `POST /api/v1/dialer/lease`.
    pub async fn lease(&self, request: &LeaseRequest) -> Result<Lease, Error> {
        let response = self
            .http
            .post(format!("{}{LEASE_PATH}", self.base_url))
            .header(AUTHORIZATION, format!("Bearer {}", self.secret))
            .json(request)
            .send()
            .await
            .map_err(transport)?;
        answer(response).await
    }

    /// Reports a call: serializes `report` once and signs those bytes with the current
    /// time.
    pub async fn report(&self, report: &OutcomeReport) -> Result<OutcomeReceipt, Error> {
        let body = serde_json::to_vec(report)
            .map_err(|e| Error::Decode(format!("the report could not be encoded: {e}")))?;
        self.report_raw(body, jiff::Timestamp::now().as_second())
            .await
    }

    /// Sends `body` as a report signed for `timestamp` (Unix seconds): for resending the
    /// exact bytes of an earlier report, and for tests that send stale reports or bodies
    /// that are not reports.
    pub async fn report_raw(&self, body: Vec<u8>, timestamp: i64) -> Result<OutcomeReceipt, Error> {
        let signature = sign(self.secret.as_bytes(), timestamp, &body);
        self.report_signed(body, &timestamp.to_string(), &signature)
            .await
    }

    /// Sends `body` with the given timestamp and signature headers as they are: for tests
    /// that send tampered reports (a body other than the one signed, a malformed header).
    pub async fn report_signed(
        &self,
        body: Vec<u8>,
        timestamp: &str,
        signature: &str,
    ) -> Result<OutcomeReceipt, Error> {
        let response = self
            .http
            .post(format!("{}{OUTCOMES_PATH}", self.base_url))
            .header(CONTENT_TYPE, "application/json")
            .header(OWNER_HEADER, &self.owner_id)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        answer(response).await
    }
}

/// The error and its causes in one line, since reqwest's own message ("error sending
/// request") hides the reason.
fn transport(error: reqwest::Error) -> Error {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Transport(message)
}

async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Error> {
    let status = response.status();
    let retry_after_secs = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok());
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        serde_json::from_slice(&body).map_err(|e| Error::Decode(e.to_string()))
    } else {
        Err(Error::from_answer(status.as_u16(), retry_after_secs, &body))
    }
}
