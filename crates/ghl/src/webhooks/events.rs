//! Typed webhook events, from the payloads in GHL's `docs/webhook events/*.md`.
//!
//! Every struct is lenient: all fields are optional and unknown fields are kept in `other`,
//! because GHL's payloads differ from its documents (a real TaskCreate lacks `contactId`,
//! GHL issue #332). An event type this crate does not know is kept as raw JSON in
//! [`WebhookEvent::Other`], never rejected.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::de::null_default;
use crate::ids::{
    AppointmentId, CompanyId, ContactId, ConversationId, LocationId, MessageId, NoteId,
    OpportunityId, PipelineId, PipelineStageId, TaskId, UserId,
};

/// Why a webhook body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("webhook body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("webhook body is not a JSON object")]
    NotAnObject,
    /// A known event type whose fields have the wrong JSON types.
    #[error("{event_type} payload does not match its documented shape: {source}")]
    Malformed {
        /// The `type` field.
        event_type: String,
        /// What did not fit.
        #[source]
        source: serde_json::Error,
    },
}

/// A parsed webhook: the envelope fields every payload carries, and the typed event.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    /// `webhookId`, GHL's delivery id; a repeat means a redelivery.
    pub webhook_id: Option<String>,
    /// `timestamp`, when GHL sent it (ISO 8601).
    pub timestamp: Option<String>,
    /// `locationId`, absent on agency-level events.
    pub location_id: Option<LocationId>,
    /// `appId` of the Marketplace app.
    pub app_id: Option<String>,
    /// The event.
    pub event: WebhookEvent,
}

impl Webhook {
    /// Parses raw webhook bytes. Verify the signature over the same bytes first.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(ParseError::NotJson)?;
        Self::from_value(value)
    }

    /// Parses an already decoded payload.
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        Self::from_value_with(value, WebhookEvent::from_map)
    }

    /// Parses raw webhook bytes, refusing only what is not a JSON object: a known type whose
    /// fields do not fit its documented shape is kept whole as [`WebhookEvent::Misshapen`].
    /// For a receiver that must keep every event GHL signed: the body is GHL's event
    /// even when GHL's payload differs from GHL's documents.
    pub fn parse_lenient(body: &[u8]) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(ParseError::NotJson)?;
        Self::from_value_with(value, |map| Ok(WebhookEvent::from_map_lenient(map)))
    }

    fn from_value_with(
        value: Value,
        event: impl FnOnce(Map<String, Value>) -> Result<WebhookEvent, ParseError>,
    ) -> Result<Self, ParseError> {
        let Value::Object(map) = value else {
            return Err(ParseError::NotAnObject);
        };
        // A blank value is no value: an empty `webhookId` must not become a dedupe key that
        // every later id-less event repeats.
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
        };
        let webhook_id = text("webhookId");
        let timestamp = text("timestamp");
        let location_id = text("locationId").map(LocationId::from);
        let app_id = text("appId");
        let event = event(map)?;
        Ok(Self {
            webhook_id,
            timestamp,
            location_id,
            app_id,
            event,
        })
    }

    /// `timestamp` as a time, when it is valid RFC 3339.
    pub fn sent_at(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(self.timestamp.as_deref()?, &Rfc3339).ok()
    }

    /// The `type` field.
    pub fn event_type(&self) -> Option<&str> {
        self.event.event_type()
    }

    /// Which event this is, as far as the payload tells: see [`WebhookEvent::name`].
    pub fn name(&self) -> Option<&str> {
        self.event.name()
    }
}

macro_rules! webhook_events {
    ($( $variant:ident($payload:ty) = $name:literal, )*) => {
        /// A GHL webhook event, by its `type` field.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum WebhookEvent {
            $(
                #[doc = concat!("`", $name, "`.")]
                $variant($payload),
            )*
            /// Any other type (invoices, products, custom objects, ...), or a payload without
            /// `type`: kept whole.
            Other {
                /// The `type` field, if any.
                event_type: Option<String>,
                /// The whole payload.
                payload: Map<String, Value>,
            },
            /// A known type whose fields do not fit its documented shape (only from
            /// [`Webhook::parse_lenient`]): kept whole, with what did not fit.
            Misshapen {
                /// The `type` field.
                event_type: String,
                /// The whole payload.
                payload: Map<String, Value>,
                /// What did not fit.
                error: String,
            },
        }

        impl WebhookEvent {
            /// Every `type` value with a typed variant.
            pub const KNOWN_TYPES: &'static [&'static str] = &[$($name),*];

            /// The `type` value.
            pub fn event_type(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(_) => Some($name),)*
                    Self::Other { event_type, .. } => event_type.as_deref(),
                    Self::Misshapen { event_type, .. } => Some(event_type),
                }
            }

            fn from_map(map: Map<String, Value>) -> Result<Self, ParseError> {
                let event_type = map.get("type").and_then(Value::as_str).map(str::to_owned);
                match event_type.as_deref() {
                    $(Some($name) => Ok(Self::$variant(typed($name, map)?)),)*
                    _ => Ok(Self::Other { event_type, payload: map }),
                }
            }

            fn from_map_lenient(map: Map<String, Value>) -> Self {
                let event_type = map.get("type").and_then(Value::as_str).map(str::to_owned);
                // Read from a reference, so that the payload is still whole when it does not fit.
                match event_type.as_deref() {
                    $(Some($name) => match Deserialize::deserialize(&map) {
                        Ok(payload) => Self::$variant(payload),
                        Err(e) => Self::Misshapen {
                            event_type: $name.to_owned(),
                            payload: map,
                            error: e.to_string(),
                        },
                    },)*
                    _ => Self::Other { event_type, payload: map },
                }
            }
        }
    };
}

webhook_events! {
    ContactCreate(ContactEvent) = "ContactCreate",
    ContactUpdate(ContactEvent) = "ContactUpdate",
    ContactDelete(ContactEvent) = "ContactDelete",
    ContactTagUpdate(ContactEvent) = "ContactTagUpdate",
    ContactDndUpdate(ContactEvent) = "ContactDndUpdate",
    NoteCreate(NoteEvent) = "NoteCreate",
    NoteUpdate(NoteEvent) = "NoteUpdate",
    NoteDelete(NoteEvent) = "NoteDelete",
    TaskCreate(TaskEvent) = "TaskCreate",
    TaskComplete(TaskEvent) = "TaskComplete",
    TaskDelete(TaskEvent) = "TaskDelete",
    OpportunityCreate(OpportunityEvent) = "OpportunityCreate",
    OpportunityUpdate(OpportunityEvent) = "OpportunityUpdate",
    OpportunityDelete(OpportunityEvent) = "OpportunityDelete",
    OpportunityStatusUpdate(OpportunityEvent) = "OpportunityStatusUpdate",
    OpportunityStageUpdate(OpportunityEvent) = "OpportunityStageUpdate",
    OpportunityMonetaryValueUpdate(OpportunityEvent) = "OpportunityMonetaryValueUpdate",
    OpportunityAssignedToUpdate(OpportunityEvent) = "OpportunityAssignedToUpdate",
    AppointmentCreate(AppointmentEvent) = "AppointmentCreate",
    AppointmentUpdate(AppointmentEvent) = "AppointmentUpdate",
    AppointmentDelete(AppointmentEvent) = "AppointmentDelete",
    InboundMessage(MessageEvent) = "InboundMessage",
    OutboundMessage(MessageEvent) = "OutboundMessage",
    Install(InstallEvent) = "INSTALL",
    Uninstall(UninstallEvent) = "UNINSTALL",
    PlanChange(PlanChangeEvent) = "PLAN_CHANGE",
}

impl WebhookEvent {
    /// Which event this is, as far as the payload tells: its `type` when that is one of
    /// GHL's documented event names; otherwise the family its fields show, for the events
    /// whose documented payloads carry no `type` or another meaning of it (`Invoice`,
    /// `Product`, `Price`, `ObjectSchema`, `Record`, `Association`, `Relation`,
    /// `ProviderOutboundMessage`; see [`super::names`]); otherwise `type` as sent, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Other {
                event_type,
                payload,
            } => match event_type.as_deref() {
                Some(t) if super::names::DOCUMENTED.contains(&t) => Some(t),
                given => super::names::family(payload).or(given),
            },
            known => known.event_type(),
        }
    }

    /// The contact the event is about, when it names one.
    pub fn contact_id(&self) -> Option<&ContactId> {
        match self {
            Self::ContactCreate(e)
            | Self::ContactUpdate(e)
            | Self::ContactDelete(e)
            | Self::ContactTagUpdate(e)
            | Self::ContactDndUpdate(e) => e.id.as_ref(),
            Self::NoteCreate(e) | Self::NoteUpdate(e) | Self::NoteDelete(e) => {
                e.contact_id.as_ref()
            }
            Self::TaskCreate(e) | Self::TaskComplete(e) | Self::TaskDelete(e) => {
                e.contact_id.as_ref()
            }
            Self::OpportunityCreate(e)
            | Self::OpportunityUpdate(e)
            | Self::OpportunityDelete(e)
            | Self::OpportunityStatusUpdate(e)
            | Self::OpportunityStageUpdate(e)
            | Self::OpportunityMonetaryValueUpdate(e)
            | Self::OpportunityAssignedToUpdate(e) => e.contact_id.as_ref(),
            Self::AppointmentCreate(e)
            | Self::AppointmentUpdate(e)
            | Self::AppointmentDelete(e) => {
                e.appointment.as_ref().and_then(|a| a.contact_id.as_ref())
            }
            Self::InboundMessage(e) | Self::OutboundMessage(e) => e.contact_id.as_ref(),
            _ => None,
        }
    }
}

fn typed<T: DeserializeOwned>(name: &str, map: Map<String, Value>) -> Result<T, ParseError> {
    serde_json::from_value(Value::Object(map)).map_err(|source| ParseError::Malformed {
        event_type: name.to_owned(),
        source,
    })
}

/// Contact events: create, update, delete, tag update, DND update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactEvent {
    /// Contact id.
    pub id: Option<ContactId>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Street.
    pub address1: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Creation time.
    pub date_added: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// DND flag.
    pub dnd: Option<bool>,
    /// Per-channel DND (ContactDndUpdate).
    pub dnd_settings: Option<Value>,
    /// Tags after the change.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Assigned user.
    pub assigned_to: Option<String>,
    /// Custom field values `{id, value}`.
    #[serde(default, deserialize_with = "null_default")]
    pub custom_fields: Vec<Value>,
    /// Attachments.
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Note events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteEvent {
    /// Note id.
    pub id: Option<NoteId>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Text.
    pub body: Option<String>,
    /// Creation time.
    pub date_added: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Task events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    /// Task id.
    pub id: Option<TaskId>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Contact (missing in real TaskCreate payloads).
    pub contact_id: Option<ContactId>,
    /// Assigned user.
    pub assigned_to: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Text.
    pub body: Option<String>,
    /// Creation time.
    pub date_added: Option<String>,
    /// Due time.
    pub due_date: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Opportunity events (GHL often sends two for one change: `OpportunityUpdate` and the
/// specific one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpportunityEvent {
    /// Opportunity id.
    pub id: Option<OpportunityId>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Name.
    pub name: Option<String>,
    /// Value.
    pub monetary_value: Option<f64>,
    /// Pipeline.
    pub pipeline_id: Option<PipelineId>,
    /// Stage.
    pub pipeline_stage_id: Option<PipelineStageId>,
    /// Status (`open`, `won`, `lost`, `abandoned`).
    pub status: Option<String>,
    /// Assigned user.
    pub assigned_to: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Creation time.
    pub date_added: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Appointment events: the appointment is nested.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentEvent {
    /// Location.
    pub location_id: Option<LocationId>,
    /// The appointment.
    pub appointment: Option<AppointmentPayload>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The appointment inside an appointment event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentPayload {
    /// Appointment id.
    pub id: Option<AppointmentId>,
    /// Title.
    pub title: Option<String>,
    /// Calendar.
    pub calendar_id: Option<String>,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// `confirmed`, `cancelled`, `showed`, `noshow`, ...
    pub appointment_status: Option<String>,
    /// Assigned user.
    pub assigned_user_id: Option<String>,
    /// Start.
    pub start_time: Option<String>,
    /// End.
    pub end_time: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Inbound and outbound messages (SMS, email, calls, voicemail).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// Location.
    pub location_id: Option<LocationId>,
    /// Contact.
    pub contact_id: Option<ContactId>,
    /// Conversation.
    pub conversation_id: Option<ConversationId>,
    /// Message id.
    pub message_id: Option<MessageId>,
    /// `SMS`, `Email`, `CALL`, `VoiceMail`, ...
    pub message_type: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// Delivery or call status.
    pub status: Option<String>,
    /// Text.
    pub body: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Time.
    pub date_added: Option<String>,
    /// User who sent it.
    pub user_id: Option<UserId>,
    /// Call length in seconds.
    pub call_duration: Option<f64>,
    /// Call status.
    pub call_status: Option<String>,
    /// Attachments (recording URLs for calls).
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<Value>,
    /// Every other field (email headers, provider ids).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `INSTALL`: the app was installed on a location or an agency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallEvent {
    /// App.
    pub app_id: Option<String>,
    /// Agency.
    pub company_id: Option<CompanyId>,
    /// Location (absent for an agency-level install).
    pub location_id: Option<LocationId>,
    /// Installing user.
    pub user_id: Option<UserId>,
    /// Plan.
    pub plan_id: Option<String>,
    /// Agency name.
    pub company_name: Option<String>,
    /// Every other field (trial, white-label details).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `UNINSTALL`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UninstallEvent {
    /// App.
    pub app_id: Option<String>,
    /// Agency (agency-level uninstall).
    pub company_id: Option<CompanyId>,
    /// Location (location-level uninstall).
    pub location_id: Option<LocationId>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `PLAN_CHANGE`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanChangeEvent {
    /// App.
    pub app_id: Option<String>,
    /// Location.
    pub location_id: Option<LocationId>,
    /// Agency.
    pub company_id: Option<CompanyId>,
    /// Old plan.
    pub current_plan_id: Option<String>,
    /// New plan.
    pub new_plan_id: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_kept_raw() {
        let w = Webhook::parse(br#"{"type":"SomethingNew","locationId":"l","x":1}"#).unwrap();
        match &w.event {
            WebhookEvent::Other {
                event_type,
                payload,
            } => {
                assert_eq!(event_type.as_deref(), Some("SomethingNew"));
                assert_eq!(payload["x"], 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(w.location_id.unwrap().as_str(), "l");
    }

    #[test]
    fn envelope_fields_are_read() {
        let w = Webhook::parse(
            br#"{"type":"NoteCreate","locationId":"l","id":"n","contactId":"c","webhookId":"w","timestamp":"2026-11-21T10:00:00.000Z"}"#,
        )
        .unwrap();
        assert_eq!(w.webhook_id.as_deref(), Some("w"));
        assert!(w.sent_at().is_some());
        assert_eq!(w.event.contact_id().unwrap().as_str(), "c");
    }

    #[test]
    fn malformed_known_type_and_non_objects_are_errors() {
        assert!(matches!(
            Webhook::parse(br#"{"type":"ContactCreate","dnd":"yes"}"#),
            Err(ParseError::Malformed { .. })
        ));
        assert!(matches!(
            Webhook::parse(b"[1]"),
            Err(ParseError::NotAnObject)
        ));
        assert!(matches!(Webhook::parse(b"{"), Err(ParseError::NotJson(_))));
    }
}
