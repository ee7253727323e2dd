//! The local mirror of GHL objects, built from webhooks and from GHL's answers.
//!
//! A mirror row is replaced only by data at least as new as what it holds (`updated_at`),
//! so webhooks that arrive out of order cannot roll a contact back.

use std::collections::BTreeMap;

use ghl::contacts::Contact;
use ghl::webhooks::{ContactEvent, NoteEvent, OpportunityEvent};
use ghl::{ContactId, LocationId, NoteId, OpportunityId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Millis;

/// A mirrored contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub contact_id: ContactId,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom values by field id.
    pub custom_fields: BTreeMap<String, Value>,
    /// The last full payload seen.
    pub payload: Value,
    /// Time of the data (webhook timestamp or GHL answer time).
    pub updated_at: Millis,
    /// Deleted in GHL.
    pub deleted: bool,
}

fn custom_values(items: &[Value]) -> BTreeMap<String, Value> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.get("id")?.as_str()?.to_owned();
            Some((id, i.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

impl ContactMirror {
    /// From a Contact* webhook.
    pub fn from_event(
        location_id: LocationId,
        e: &ContactEvent,
        updated_at: Millis,
        deleted: bool,
    ) -> Option<Self> {
        Some(Self {
            location_id,
            contact_id: e.id.clone()?,
            email: e.email.clone(),
            phone: e.phone.clone(),
            first_name: e.first_name.clone(),
            last_name: e.last_name.clone(),
            company_name: e.company_name.clone(),
            tags: e.tags.clone(),
            custom_fields: custom_values(&e.custom_fields),
            payload: serde_json::to_value(e).unwrap_or(Value::Null),
            updated_at,
            deleted,
        })
    }

    /// From a contact GHL returned (upsert, get).
    pub fn from_contact(location_id: LocationId, c: &Contact, updated_at: Millis) -> Self {
        Self {
            location_id,
            contact_id: c.id.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            company_name: c.company_name.clone(),
            tags: c.tags.clone(),
            custom_fields: c
                .custom_fields
                .iter()
                .map(|f| (f.id.to_string(), f.value.clone()))
                .collect(),
            payload: serde_json::to_value(c).unwrap_or(Value::Null),
            updated_at,
            deleted: false,
        }
    }
}

/// A mirrored note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub note_id: NoteId,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Text.
    pub body: Option<String>,
    /// Time of the data.
    pub updated_at: Millis,
}

impl NoteMirror {
    /// From a Note* webhook.
    pub fn from_event(location_id: LocationId, e: &NoteEvent, updated_at: Millis) -> Option<Self> {
        Some(Self {
            location_id,
            note_id: e.id.clone()?,
            contact_id: e.contact_id.clone(),
            body: e.body.clone(),
            updated_at,
        })
    }
}

/// A mirrored opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpportunityMirror {
    /// Location.
    pub location_id: LocationId,
    /// GHL id.
    pub opportunity_id: OpportunityId,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Name.
    pub name: Option<String>,
    /// Pipeline.
    pub pipeline_id: Option<String>,
    /// Stage.
    pub stage_id: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Value.
    pub monetary_value: Option<f64>,
    /// The last full payload seen.
    pub payload: Value,
    /// Time of the data.
    pub updated_at: Millis,
}

impl OpportunityMirror {
    /// From an opportunity GHL returned (create, update, get).
    pub fn from_opportunity(
        location_id: LocationId,
        o: &ghl::opportunities::Opportunity,
        updated_at: Millis,
    ) -> Self {
        Self {
            location_id,
            opportunity_id: o.id.clone(),
            contact_id: o.contact_id.clone(),
            name: o.name.clone(),
            pipeline_id: o.pipeline_id.as_ref().map(ToString::to_string),
            stage_id: o.pipeline_stage_id.as_ref().map(ToString::to_string),
            status: o.status.map(|s| s.as_str().to_owned()),
            monetary_value: o.monetary_value,
            payload: serde_json::to_value(o).unwrap_or(Value::Null),
            updated_at,
        }
    }

    /// From an Opportunity* webhook.
    pub fn from_event(
        location_id: LocationId,
        e: &OpportunityEvent,
        updated_at: Millis,
    ) -> Option<Self> {
        Some(Self {
            location_id,
            opportunity_id: e.id.clone()?,
            contact_id: e.contact_id.clone(),
            name: e.name.clone(),
            pipeline_id: e.pipeline_id.as_ref().map(ToString::to_string),
            stage_id: e.pipeline_stage_id.as_ref().map(ToString::to_string),
            status: e.status.clone(),
            monetary_value: e.monetary_value,
            payload: serde_json::to_value(e).unwrap_or(Value::Null),
            updated_at,
        })
    }
}
