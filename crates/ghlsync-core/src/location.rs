//! Locations (GHL sub-accounts) and workflow routes as ghlsync stores them.

use std::fmt;
use std::str::FromStr;

use ghl::LocationId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::event::UnknownValue;
use crate::process::RouteAction;

/// Whose location it is (seed 002: the agency's own or a client's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    /// The business's own location.
    Internal,
    /// A client's location.
    Client,
}

impl IntegrationType {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::Client => "client",
        }
    }
}

impl FromStr for IntegrationType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "internal" => Ok(Self::Internal),
            "client" => Ok(Self::Client),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// Outcome of the last sync with a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Everything was delivered.
    Success,
    /// Some of a job's calls were delivered, others failed for good.
    Partial,
    /// A job failed for good.
    Failed,
}

impl SyncStatus {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for SyncStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Self::Success),
            "partial" => Ok(Self::Partial),
            "failed" => Ok(Self::Failed),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// A registered location. The token is stored encrypted and never printed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// GHL location id.
    pub id: LocationId,
    /// Display name.
    pub name: String,
    /// Internal or client.
    pub integration_type: IntegrationType,
    /// The access token, encrypted at rest (AES-256-GCM).
    #[serde(skip_serializing)]
    pub token_ciphertext: Vec<u8>,
    /// Custom field key -> field id, overriding lookups by name.
    pub field_mapping: Value,
    /// Inactive locations accept no new jobs.
    pub active: bool,
    /// Last delivery to this location.
    pub last_sync_at: Option<Millis>,
    /// Its outcome.
    pub last_sync_status: Option<SyncStatus>,
    /// Its error, if it failed.
    pub last_sync_error: Option<String>,
    /// Registered.
    pub created_at: Millis,
    /// Changed.
    pub updated_at: Millis,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("integration_type", &self.integration_type)
            .field("token_ciphertext", &"[redacted]")
            .field("active", &self.active)
            .field("last_sync_status", &self.last_sync_status)
            .finish_non_exhaustive()
    }
}

/// How a workflow route authenticates its callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteAuth {
    /// `X-GHL-Signature` = HMAC-SHA256 of `timestamp.body`, with `X-GHL-Timestamp`.
    Hmac,
    /// A shared key in the `X-Webhook-Key` header or the body's `webhook_key` field.
    WebhookKey,
}

impl RouteAuth {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hmac => "hmac",
            Self::WebhookKey => "webhook_key",
        }
    }
}

impl FromStr for RouteAuth {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hmac" => Ok(Self::Hmac),
            "webhook_key" => Ok(Self::WebhookKey),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// A workflow webhook route: `/webhooks/ghl/workflow/{name}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRoute {
    /// The path segment.
    pub name: String,
    /// The location the route belongs to.
    pub location_id: LocationId,
    /// How callers authenticate.
    pub auth: RouteAuth,
    /// The HMAC secret or webhook key, encrypted at rest.
    #[serde(skip_serializing)]
    pub secret_ciphertext: Vec<u8>,
    /// What an event on the route does.
    pub action: RouteAction,
    /// Created.
    pub created_at: Millis,
}

impl fmt::Debug for WorkflowRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowRoute")
            .field("name", &self.name)
            .field("location_id", &self.location_id)
            .field("auth", &self.auth)
            .field("secret_ciphertext", &"[redacted]")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// An application's key for `/api/v1/events`. It belongs to one location: the events sent
/// with it are that location's. Only the SHA-256 of the secret is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_` and 12 hex digits; shown by `ghlsync keys list`, used to revoke.
    pub id: String,
    /// The location whose events the key sends.
    pub location_id: LocationId,
    /// What the key is for.
    pub name: String,
    /// Hex SHA-256 of the secret.
    #[serde(skip_serializing)]
    pub secret_hash: String,
    /// The secret's first characters, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: Millis,
    /// Revoked, if it was.
    pub revoked_at: Option<Millis>,
}
