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
    /// How a resent event is recognised.
    pub dedupe: RouteDedupe,
    /// Created.
    pub created_at: Millis,
}

/// How a workflow route recognises an event sent again (a retry, or a workflow re-run on
/// the same data), so that it is stored once. Never by the signature: a resend is signed
/// anew, with a new timestamp.
///
/// 1. The sender's own id for the event: the `X-Idempotency-Key` header, or the body
///    value at [`field`](Self::field). The same id is the same event, however late.
/// 2. Otherwise the SHA-256 of the raw body: the same body again within the window is a
///    repeat; after it, a new event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDedupe {
    /// Where the sender's id for the event is in the body, as a path (`$.event_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How long the same body counts as a repeat, in seconds; `0` keeps every body.
    /// `None`: `server.dedupe_window_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u64>,
}

/// What identifies one event on a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DedupeBy {
    /// The sender's id (from the header or the configured field).
    SenderId(String),
    /// The body's digest, within this many milliseconds.
    Body {
        /// The window.
        window_ms: Millis,
    },
    /// Nothing: every request is a new event (a window of 0).
    Nothing,
}

impl RouteDedupe {
    /// How this request is identified: `header` is `X-Idempotency-Key`, `default_window_secs`
    /// the server's window. A blank id is no id.
    pub fn identify(
        &self,
        header: Option<&str>,
        payload: &Value,
        default_window_secs: u64,
    ) -> DedupeBy {
        let from_field = || {
            let field = self.field.as_deref()?;
            // Always a path: a literal would make every request the same event.
            let path = match field.strip_prefix("$.") {
                Some(_) => crate::process::ValueSource::Text(field.to_owned()),
                None => crate::process::ValueSource::Text(format!("$.{field}")),
            };
            match path.resolve(payload)? {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let id = header
            .map(str::to_owned)
            .or_else(from_field)
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        match (id, self.window_secs.unwrap_or(default_window_secs)) {
            (Some(id), _) => DedupeBy::SenderId(id),
            (None, 0) => DedupeBy::Nothing,
            (None, secs) => DedupeBy::Body {
                window_ms: Millis::try_from(secs.saturating_mul(1000)).unwrap_or(Millis::MAX),
            },
        }
    }
}

impl fmt::Debug for WorkflowRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowRoute")
            .field("name", &self.name)
            .field("location_id", &self.location_id)
            .field("auth", &self.auth)
            .field("secret_ciphertext", &"[redacted]")
            .field("action", &self.action)
            .field("dedupe", &self.dedupe)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_route_identifies_by_the_senders_id_else_by_the_body_within_its_window() {
        let by_field = RouteDedupe {
            field: Some("$.event.id".into()),
            window_secs: None,
        };
        let payload = json!({"event": {"id": 42}, "email": "a@b.co"});
        assert_eq!(
            by_field.identify(None, &payload, 86_400),
            DedupeBy::SenderId("42".into())
        );
        assert_eq!(
            by_field.identify(Some(" k-1 "), &payload, 86_400),
            DedupeBy::SenderId("k-1".into()),
            "the header wins"
        );
        let blank = json!({"event": {"id": "  "}});
        assert_eq!(
            by_field.identify(Some(""), &blank, 86_400),
            DedupeBy::Body {
                window_ms: 86_400_000
            },
            "a blank id is no id"
        );
        let bare_name = RouteDedupe {
            field: Some("event_id".into()),
            window_secs: Some(60),
        };
        assert_eq!(
            bare_name.identify(None, &json!({}), 86_400),
            DedupeBy::Body { window_ms: 60_000 },
            "a field name is a path, never a literal"
        );
        assert_eq!(
            bare_name.identify(None, &json!({"event_id": "e"}), 86_400),
            DedupeBy::SenderId("e".into())
        );
        let keep_all = RouteDedupe {
            field: None,
            window_secs: Some(0),
        };
        assert_eq!(keep_all.identify(None, &payload, 86_400), DedupeBy::Nothing);
    }
}
