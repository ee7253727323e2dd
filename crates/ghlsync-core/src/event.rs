//! Inbound events: what ingress stores before it answers, and what workers claim.

use std::fmt;
use std::str::FromStr;

use ghl::LocationId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;

/// An inbox event's id (assigned by the store, increasing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{}", self.0)
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A GHL Marketplace webhook (`/webhooks/ghl`).
    Ghl,
    /// A GHL workflow webhook (`/webhooks/ghl/workflow/{route}`).
    Workflow,
    /// The business's own application (`/api/v1/events`).
    App,
    /// A CloudTalk Workflow Automation (`/api/cloudtalk-webhooks/{trigger}`).
    CloudTalk,
    /// Seed 003's GHL workflow routes (`/api/ghl-webhooks/{event}`).
    Bridge,
}

impl Source {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ghl => "ghl",
            Self::Workflow => "workflow",
            Self::App => "app",
            Self::CloudTalk => "cloudtalk",
            Self::Bridge => "bridge",
        }
    }
}

impl FromStr for Source {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ghl" => Ok(Self::Ghl),
            "workflow" => Ok(Self::Workflow),
            "app" => Ok(Self::App),
            "cloudtalk" => Ok(Self::CloudTalk),
            "bridge" => Ok(Self::Bridge),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// A stored value that is not one of the enum's spellings (a corrupted or newer row).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown stored value {0:?}")]
pub struct UnknownValue(pub String);

/// Lifecycle of an inbox event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Waiting for a worker (or for its retry time).
    Pending,
    /// Claimed by a worker whose lease has not ended.
    Running,
    /// Processed.
    Done,
    /// Failed too often; kept with its error for replay.
    Dead,
}

impl EventState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl FromStr for EventState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// An event as ingress hands it to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Origin.
    pub source: Source,
    /// Unique per logical event (`ghl:<webhookId>`); a repeat is accepted once.
    pub dedupe_key: Option<String>,
    /// How long the key marks a repeat, from the first event's receipt: a key derived from
    /// the body's digest recognises a resend within this window, and the same body sent
    /// again later is a new event. `None`: as long as the store recognises keys at all.
    #[serde(default)]
    pub dedupe_window_ms: Option<Millis>,
    /// `ContactCreate`, `workflow:new-lead`, ...
    pub event_type: String,
    /// The GHL location, when known at ingress.
    pub location_id: Option<LocationId>,
    /// The workflow route, for workflow webhooks.
    pub route: Option<String>,
    /// What ingress learned that processing needs (signature scheme, content type).
    pub meta: Value,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
    /// When ingress received it.
    pub received_at: Millis,
}

/// A stored event, as a worker sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxEvent {
    /// Id.
    pub id: EventId,
    /// Origin.
    pub source: Source,
    /// Type.
    pub event_type: String,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Workflow route.
    pub route: Option<String>,
    /// Ingress metadata.
    pub meta: Value,
    /// Raw body.
    pub body: Vec<u8>,
    /// Lifecycle state.
    pub state: EventState,
    /// Failed processing attempts so far.
    pub attempts: u32,
    /// Received.
    pub received_at: Millis,
    /// Last failure.
    pub last_error: Option<String>,
}
