//! Everything one processed event or delivered job changes, applied by the store in ONE
//! transaction together with marking the event or job done.

use ghl::{ContactId, LocationId, NoteId, OpportunityId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;
use crate::command::NewJob;
use crate::location::SyncStatus;
use crate::mirror::{ContactMirror, NoteMirror, OpportunityMirror};

/// Links the application's id for a person to a GHL contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdLink {
    /// Location.
    pub location_id: LocationId,
    /// The application's id.
    pub subject: String,
    /// The GHL contact.
    pub contact_id: ContactId,
}

/// Links the application's key for an opportunity to a GHL opportunity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpportunityLink {
    /// Location.
    pub location_id: LocationId,
    /// The application's key.
    pub key: String,
    /// The GHL opportunity.
    pub opportunity_id: OpportunityId,
}

/// A sync-log line: what ghlsync did and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Location, if any.
    pub location_id: Option<LocationId>,
    /// What happened (`contact_synced`, `user_deleted`, ...).
    pub kind: String,
    /// Details.
    pub detail: Value,
    /// When.
    pub at: Millis,
}

/// A location's last-sync outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocationSync {
    /// Location.
    pub location_id: LocationId,
    /// Outcome.
    pub status: SyncStatus,
    /// Error, when not a success.
    pub error: Option<String>,
    /// When.
    pub at: Millis,
}

/// A person's profile to store, written only if nobody stored another version since it
/// was read (`version` 0: it did not exist). Otherwise the store refuses the whole
/// changeset with a conflict and the event is processed again on the newer profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileWrite {
    /// Location.
    pub location_id: LocationId,
    /// The profile, after the event.
    pub profile: crate::profile::Profile,
    /// The version it was read at.
    pub version: i64,
}

/// The state changes of one unit of work.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Changeset {
    /// Contacts to insert or replace (if newer).
    pub contacts: Vec<ContactMirror>,
    /// Notes to insert or replace.
    pub notes: Vec<NoteMirror>,
    /// Notes deleted in GHL.
    pub deleted_notes: Vec<(LocationId, NoteId)>,
    /// Opportunities to insert or replace (if newer).
    pub opportunities: Vec<OpportunityMirror>,
    /// Opportunities deleted in GHL.
    pub deleted_opportunities: Vec<(LocationId, OpportunityId)>,
    /// Id-map links.
    pub id_links: Vec<IdLink>,
    /// Opportunity links.
    pub opportunity_links: Vec<OpportunityLink>,
    /// Sync-log lines.
    pub log: Vec<LogEntry>,
    /// Jobs to enqueue.
    pub jobs: Vec<NewJob>,
    /// Location sync outcomes.
    pub location_sync: Vec<LocationSync>,
    /// Person profiles.
    pub profiles: Vec<ProfileWrite>,
    /// GHL <-> CloudTalk contact links.
    #[serde(default)]
    pub cloudtalk_links: Vec<crate::bridge::CloudTalkLink>,
}

impl Changeset {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
