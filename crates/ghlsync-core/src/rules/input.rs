//! What a rule runs on: an application event, or a GHL webhook about a contact, in one
//! shape (`RuleInput`) so conditions and templates read both alike.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Millis;
use crate::app_event::{AppEvent, AppEventType};

/// GHL webhook types a rule may run on: those about one contact, which name it, each with
/// the name a forwarded event has for the application (in the style of its own events).
/// Installs, plan changes and the like concern no person and are refused at load.
pub const GHL_TRIGGERS: &[(&str, &str)] = &[
    ("ContactCreate", "contact.created"),
    ("ContactUpdate", "contact.updated"),
    ("ContactTagUpdate", "contact.tags_updated"),
    ("ContactDndUpdate", "contact.dnd_updated"),
    ("ContactDelete", "contact.deleted"),
    ("NoteCreate", "note.created"),
    ("TaskCreate", "task.created"),
    ("TaskComplete", "task.completed"),
    ("OpportunityCreate", "opportunity.created"),
    ("OpportunityUpdate", "opportunity.updated"),
    ("OpportunityStatusUpdate", "opportunity.status_updated"),
    ("OpportunityStageUpdate", "opportunity.stage_updated"),
    (
        "OpportunityMonetaryValueUpdate",
        "opportunity.value_updated",
    ),
    ("AppointmentCreate", "appointment.created"),
    ("AppointmentUpdate", "appointment.updated"),
    ("InboundMessage", "message.received"),
    ("OutboundMessage", "message.sent"),
];

/// The GHL webhook types rules may run on, for messages.
pub fn ghl_trigger_names() -> String {
    GHL_TRIGGERS
        .iter()
        .map(|(ghl, _)| *ghl)
        .collect::<Vec<_>>()
        .join(", ")
}
/// An event type a rule names in `on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// An application event (`user.registered`).
    App(AppEventType),
    /// A GHL webhook (`ContactUpdate`), one of [`GHL_TRIGGERS`].
    Ghl(&'static str),
    /// A bridge event that is no Marketplace webhook (`cloudtalk.call_ended`,
    /// `ghl.status_changed`), one of [`crate::bridge::bridge_triggers`].
    Bridge(&'static str),
}

impl Trigger {
    /// The name as written in `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App(t) => t.as_str(),
            Self::Ghl(t) | Self::Bridge(t) => t,
        }
    }

    /// A bridge trigger.
    pub fn bridge(name: &str) -> Option<Self> {
        crate::bridge::bridge_triggers()
            .find(|t| *t == name)
            .map(Self::Bridge)
    }

    /// A CloudTalk event.
    pub fn is_cloudtalk(self) -> bool {
        matches!(self, Self::Bridge(t) if t.starts_with("cloudtalk."))
    }

    /// A GHL webhook type rules may run on.
    pub fn ghl(name: &str) -> Option<Self> {
        GHL_TRIGGERS
            .iter()
            .find(|(ghl, _)| *ghl == name)
            .map(|(ghl, _)| Self::Ghl(ghl))
    }

    /// Its name for the application: a GHL webhook's forwarded name (`contact.updated`),
    /// an application event's own.
    pub fn app_name(self) -> &'static str {
        match self {
            Self::App(t) => t.as_str(),
            Self::Ghl(t) => GHL_TRIGGERS
                .iter()
                .find(|(ghl, _)| *ghl == t)
                .map_or("ghl.event", |(_, name)| name),
            Self::Bridge(t) => t,
        }
    }

    /// Where the event came from: `app` or `ghl`.
    pub fn source(self) -> &'static str {
        match self {
            Self::App(_) => "app",
            Self::Ghl(_) => "ghl",
            Self::Bridge(_) if self.is_cloudtalk() => "cloudtalk",
            Self::Bridge(_) => "ghl",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An event as the rules see it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInput {
    /// Its type.
    pub trigger: Trigger,
    /// Its id: the app's idempotency key, or GHL's `webhookId`.
    pub id: String,
    /// The person: the app's id, or `ghl:<contactId>` for a contact the app has not sent.
    pub subject: String,
    /// When it happened.
    pub occurred_at: Millis,
    /// The GHL contact a webhook is about (`None` for an application event).
    pub contact_id: Option<String>,
    /// The app event's `data`, or the GHL webhook's whole payload.
    pub data: Map<String, Value>,
    /// For a GHL webhook: what it changed in the mirror (`field:firstName`, `tag:vip`,
    /// `custom:<id>`); empty for an application event.
    pub changes: Vec<String>,
    /// For a bridge event (GHL's or CloudTalk's): the `bridge` view of
    /// [`crate::bridge`]; `null` otherwise.
    pub bridge: Value,
}

impl From<&AppEvent> for RuleInput {
    fn from(e: &AppEvent) -> Self {
        Self {
            trigger: Trigger::App(e.event_type),
            id: e.id.clone(),
            subject: e.subject.clone(),
            occurred_at: e.occurred_at,
            contact_id: None,
            data: e.data.clone(),
            changes: Vec::new(),
            bridge: Value::Null,
        }
    }
}

impl From<AppEvent> for RuleInput {
    fn from(e: AppEvent) -> Self {
        Self::from(&e)
    }
}

/// The subject of a GHL contact the application has not sent (no id-map entry).
pub fn ghl_subject(contact_id: &str) -> String {
    format!("ghl:{contact_id}")
}
