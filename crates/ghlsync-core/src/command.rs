//! Jobs: the GHL calls an event causes, stored in the outbox in the same transaction as the
//! state change that caused them, and delivered by the dispatcher.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ghl::{ContactId, LocationId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::event::{EventId, UnknownValue};

/// An outbox job's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job_{}", self.0)
    }
}

/// Lifecycle of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by a dispatcher whose lease has not ended.
    Running,
    /// Delivered.
    Done,
    /// In the dead-letter queue with GHL's error.
    Dead,
}

impl JobState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

impl FromStr for JobState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

/// Bring a GHL contact in line: upsert by email or phone, then add and remove tags.
///
/// Tags are not sent in the upsert because GHL replaces all tags on upsert; adding and
/// removing them separately keeps tags set by people in GHL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactSync {
    /// The application's id for this person, recorded in the id map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Email GHL matches on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone GHL matches on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Standard fields by GHL name (`firstName`, `companyName`, `source`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Value>,
    /// Custom fields by key (`lead_score`), resolved to each location's ids on delivery.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, Value>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
}

/// A contact a job refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRef {
    /// A GHL contact id.
    Ghl(ContactId),
    /// The application's id, resolved through the id map.
    Subject(String),
}

/// What a job does in GHL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GhlCommand {
    /// Upsert a contact and adjust its tags.
    SyncContact(ContactSync),
    /// Add a note (looked up before a retried create, so it is never added twice).
    AddNote {
        /// The contact.
        contact: ContactRef,
        /// Note text.
        body: String,
    },
}

impl GhlCommand {
    /// A short name for logs, metrics and DLQ filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SyncContact(_) => "sync_contact",
            Self::AddNote { .. } => "add_note",
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// The location whose token and rate limit the job uses.
    pub location_id: LocationId,
    /// What to do.
    pub command: GhlCommand,
    /// Unique; enqueuing the same key twice keeps one job.
    pub idempotency_key: String,
    /// Jobs with the same key run one at a time, in order (usually the contact).
    pub ordering_key: String,
    /// Not before.
    pub run_at: Millis,
    /// The event that caused it.
    pub source_event: Option<EventId>,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Location.
    pub location_id: LocationId,
    /// What to do.
    pub command: GhlCommand,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Ordering key.
    pub ordering_key: String,
    /// State.
    pub state: JobState,
    /// Failed attempts (holds by the rate limiter do not count).
    pub attempts: u32,
    /// How often it was claimed; above one, an earlier run may have reached GHL.
    pub claims: u32,
    /// Not before.
    pub run_at: Millis,
    /// Enqueued.
    pub created_at: Millis,
    /// Last error (GHL's message for dead jobs).
    pub last_error: Option<String>,
    /// The causing event.
    pub source_event: Option<EventId>,
}

impl Job {
    /// True when an earlier claim may already have made the call (a crash or timeout).
    pub fn may_have_run(&self) -> bool {
        self.claims > 1 || self.attempts > 0
    }
}
