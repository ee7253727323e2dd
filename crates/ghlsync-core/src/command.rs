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
    /// Send everything, even what the mirror says GHL already has (a forced resync).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// When the application decided each value (the event's `occurred_at`), keyed
    /// `field:<name>`, `custom:<key>` and `tag:<name>`: a value changed in GHL later than
    /// this is kept (last writer per field). Empty: always written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub decided_at: BTreeMap<String, Millis>,
}

/// The key of a value in [`ContactSync::decided_at`] and [`crate::ContactMirror`]'s
/// `times`.
pub mod value_key {
    /// A standard field.
    pub fn field(name: &str) -> String {
        format!("field:{name}")
    }
    /// A custom field: by key in a sync, by GHL id in the mirror.
    pub fn custom(key_or_id: &str) -> String {
        format!("custom:{key_or_id}")
    }
    /// A tag, lower case.
    pub fn tag(name: &str) -> String {
        format!("tag:{}", name.trim().to_lowercase())
    }
}

impl ContactSync {
    /// Folds a later sync of the same contact into this one, as if both had run in order:
    /// the later value of a field wins, and a tag added then removed (or the reverse) ends
    /// as the later change asks.
    pub fn merge(&mut self, later: ContactSync) {
        self.subject = later.subject.or(self.subject.take());
        self.email = later.email.or(self.email.take());
        self.phone = later.phone.or(self.phone.take());
        self.fields.extend(later.fields);
        self.custom_fields.extend(later.custom_fields);
        for tag in later.add_tags {
            self.remove_tags.retain(|t| !same_tag(t, &tag));
            if !self.add_tags.iter().any(|t| same_tag(t, &tag)) {
                self.add_tags.push(tag);
            }
        }
        for tag in later.remove_tags {
            self.add_tags.retain(|t| !same_tag(t, &tag));
            if !self.remove_tags.iter().any(|t| same_tag(t, &tag)) {
                self.remove_tags.push(tag);
            }
        }
        self.full |= later.full;
        self.decided_at.extend(later.decided_at);
    }
}

/// GHL stores tags trimmed and lower-cased.
fn same_tag(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
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

/// What an opportunity change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityAction {
    /// Create the opportunity (or update it when its key is already linked).
    Create,
    /// Change its stage, name or value.
    Update,
    /// Set its status (open, won, lost, abandoned).
    Status,
}

/// An opportunity change, identified by the application's key for it (`project:42`),
/// with the pipeline and stage by name, resolved to each location's ids on delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunitySync {
    /// What to do.
    pub action: OpportunityAction,
    /// The application's id for the opportunity, recorded in the id map.
    pub key: String,
    /// Pipeline name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Stage name within the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Opportunity name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Monetary value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Status (the `status` action).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ghl::opportunities::OpportunityStatus>,
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
    /// Create or change an opportunity of the contact.
    SyncOpportunity {
        /// The contact it belongs to (created with it; an update may come from another
        /// person's event, such as the expert assigned to a company's project).
        contact: ContactRef,
        /// The change.
        change: OpportunitySync,
    },
    /// Set custom fields (by key, resolved to the location's ids on delivery) of a known
    /// contact, with `PUT /contacts/{id}`: a broadcast outcome's fields.
    UpdateFields {
        /// The contact.
        contact: ContactId,
        /// Values by key.
        custom_fields: BTreeMap<String, Value>,
    },
    /// Add tags to many contacts in one call (`POST /contacts/bulk/tags/update/add`).
    BulkAddTags {
        /// The tags.
        tags: Vec<String>,
        /// The contacts.
        contacts: Vec<ContactId>,
    },
    /// Not a GHL call: send a GHL event on to the application (`[forward] url`), signed
    /// per Standard Webhooks.
    Forward(Forward),
    /// Not a GHL call: change the bridge's CloudTalk contact (seed 003).
    CloudTalk(crate::bridge::CloudTalkJob),
    /// Find a CloudTalk campaign's contacts and queue each one's GHL change (seed 003).
    CloudTalkCampaign(crate::bridge::CampaignFanOut),
}

/// A GHL event for the application, normalized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    /// `webhook-id`: GHL's `webhookId`, the same on every retry so the app can deduplicate.
    pub id: String,
    /// The body: `{"type", "timestamp", "data"}` as Standard Webhooks recommends.
    pub body: Value,
}

/// The outside system a command addresses: the connector that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// GHL's API, with the location's token and limit.
    Ghl,
    /// The business's application (a forwarded GHL event).
    App,
    /// CloudTalk's API, with the bridge's company credentials and limit.
    CloudTalk,
}

impl GhlCommand {
    /// Who runs the command.
    pub fn target(&self) -> Target {
        match self {
            Self::SyncContact(_)
            | Self::AddNote { .. }
            | Self::SyncOpportunity { .. }
            | Self::UpdateFields { .. }
            | Self::BulkAddTags { .. } => Target::Ghl,
            Self::Forward(_) => Target::App,
            Self::CloudTalk(_) | Self::CloudTalkCampaign(_) => Target::CloudTalk,
        }
    }

    /// Every [`kind`](Self::kind), for metrics registered before the first job.
    pub const KINDS: [&'static str; 11] = [
        "sync_contact",
        "add_note",
        "sync_opportunity",
        "update_fields",
        "bulk_add_tags",
        "forward",
        "cloudtalk_contact",
        "cloudtalk_add_tags",
        "cloudtalk_add_note",
        "cloudtalk_add_activity",
        "cloudtalk_campaign",
    ];

    /// A short name for logs, metrics and DLQ filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SyncContact(_) => "sync_contact",
            Self::AddNote { .. } => "add_note",
            Self::SyncOpportunity { .. } => "sync_opportunity",
            Self::UpdateFields { .. } => "update_fields",
            Self::BulkAddTags { .. } => "bulk_add_tags",
            Self::Forward(_) => "forward",
            Self::CloudTalk(job) => match job.step {
                crate::bridge::CloudTalkStep::Contact { .. } => "cloudtalk_contact",
                crate::bridge::CloudTalkStep::AddTags { .. } => "cloudtalk_add_tags",
                crate::bridge::CloudTalkStep::AddNote { .. } => "cloudtalk_add_note",
                crate::bridge::CloudTalkStep::AddActivity { .. } => "cloudtalk_add_activity",
            },
            Self::CloudTalkCampaign(_) => "cloudtalk_campaign",
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// The location whose token and rate limit the job uses: its lane. A CloudTalk job's
    /// lane is its bridge's ([`crate::bridge::BridgeName::lane`]).
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
    /// A contact sync that may be merged into a sync of the same contact still waiting in
    /// the queue, instead of queuing a second one (see [`ContactSync::merge`]).
    pub coalesce: bool,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sync(add: &[&str], remove: &[&str], fields: &[(&str, Value)]) -> ContactSync {
        ContactSync {
            add_tags: add.iter().map(|t| (*t).to_owned()).collect(),
            remove_tags: remove.iter().map(|t| (*t).to_owned()).collect(),
            custom_fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..ContactSync::default()
        }
    }

    #[test]
    fn a_merge_nets_tags_and_keeps_the_later_field_values() {
        let mut first = sync(
            &["a", "b"],
            &["c"],
            &[("score", json!(10)), ("x", json!(1))],
        );
        first.email = Some("p@x.co".into());
        first.merge(sync(&["C"], &["a", "d"], &[("score", json!(40))]));
        assert_eq!(first.add_tags, vec!["b", "C"]);
        assert_eq!(first.remove_tags, vec!["a", "d"]);
        assert_eq!(first.custom_fields["score"], 40);
        assert_eq!(first.custom_fields["x"], 1);
        assert_eq!(
            first.email.as_deref(),
            Some("p@x.co"),
            "kept when the later sync has none"
        );
        assert!(!first.full);
        first.merge(ContactSync {
            full: true,
            phone: Some("+1555".into()),
            ..ContactSync::default()
        });
        assert!(first.full);
        assert_eq!(first.phone.as_deref(), Some("+1555"));
    }
}
