//! The audit log: every GHL API request and its answer, in order, with the changes it made.
//!
//! Tests prove "exactly once" with it: a retried call that GHL already applied shows up as
//! a second request, and the `effects` say whether it changed anything the second time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A change a request made to the simulated GHL state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// A contact was created.
    ContactCreated {
        /// Location.
        location_id: String,
        /// Contact.
        contact_id: String,
    },
    /// A contact's fields or tags changed.
    ContactUpdated {
        /// Location.
        location_id: String,
        /// Contact.
        contact_id: String,
    },
    /// A contact was deleted.
    ContactDeleted {
        /// Location.
        location_id: String,
        /// Contact.
        contact_id: String,
    },
    /// A note was created.
    NoteCreated {
        /// Location.
        location_id: String,
        /// Contact.
        contact_id: String,
        /// Note.
        note_id: String,
    },
    /// A custom field was defined.
    CustomFieldCreated {
        /// Location.
        location_id: String,
        /// Field.
        field_id: String,
    },
    /// A custom field's definition changed.
    CustomFieldUpdated {
        /// Location.
        location_id: String,
        /// Field.
        field_id: String,
    },
    /// A custom field was deleted, and its values with it.
    CustomFieldDeleted {
        /// Location.
        location_id: String,
        /// Field.
        field_id: String,
    },
    /// An opportunity was created.
    OpportunityCreated {
        /// Location.
        location_id: String,
        /// Opportunity.
        opportunity_id: String,
    },
    /// An opportunity changed.
    OpportunityUpdated {
        /// Location.
        location_id: String,
        /// Opportunity.
        opportunity_id: String,
    },
    /// An opportunity was deleted.
    OpportunityDeleted {
        /// Location.
        location_id: String,
        /// Opportunity.
        opportunity_id: String,
    },
    /// OAuth tokens were issued.
    TokenIssued {
        /// Location or company.
        resource: String,
    },
}

/// One request and its answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When the request arrived (ms since the epoch).
    pub at_ms: i64,
    /// How long the simulator took to answer, holds included (ms).
    pub duration_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// The `Version` header.
    pub version: Option<String>,
    /// The location or company the token belongs to, when it was valid.
    pub resource: Option<String>,
    /// The request body: JSON, a form as an object, or text.
    pub request_body: Value,
    /// The answer's status.
    pub status: u16,
    /// The answer's body: JSON or text.
    pub response_body: Value,
    /// The answer's `Content-Type`.
    pub response_content_type: Option<String>,
    /// The fault applied, if any.
    pub fault: Option<String>,
    /// Changes made to the state.
    pub effects: Vec<Effect>,
}

impl AuditEntry {
    /// True when the request changed state.
    pub fn changed_state(&self) -> bool {
        !self.effects.is_empty()
    }
}

/// The log.
#[derive(Debug, Default)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
    next_seq: u64,
}

impl AuditLog {
    /// Appends an entry, numbering it.
    pub fn push(&mut self, mut entry: AuditEntry) -> u64 {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.entries.push(entry);
        self.next_seq
    }

    /// Entries after `since` (0 for all).
    pub fn since(&self, since: u64) -> Vec<AuditEntry> {
        let start = self.entries.partition_point(|e| e.seq <= since);
        self.entries[start..].to_vec()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Empties the log (sequence numbers continue).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
