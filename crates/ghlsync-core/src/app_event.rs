//! The application's own events (`POST /api/v1/events`): what the business's app tells
//! ghlsync about its users, projects and interactions.
//!
//! An event is `{"type", "id", "occurred_at", "subject", "data"}`: `id` is the app's
//! idempotency key (a repeat is accepted once), `subject` the app's id of the person.
//! The catalogue covers seed 000 (a marketplace of companies and experts) and seed 001
//! (lead scoring on interactions). Validation names the field at fault, so the API can
//! answer 422 with it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Millis;
use crate::event::UnknownValue;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// Every application event type ghlsync understands.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AppEventType {
            $( $(#[$doc])* $variant, )*
        }

        impl AppEventType {
            /// Every type, in catalogue order.
            pub const ALL: &'static [AppEventType] = &[$(Self::$variant),*];

            /// The wire name (`user.registered`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $wire, )*
                }
            }
        }

        impl FromStr for AppEventType {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $wire => Ok(Self::$variant), )*
                    other => Err(UnknownValue(other.to_owned())),
                }
            }
        }
    };
}

catalogue! {
    /// A user signed up with a first profile (`data.role`: empresa or experto).
    UserRegistered = "user.registered",
    /// A user created a second profile (`data.role`).
    RoleAdded = "user.role_added",
    /// An expert's verification moved (`data.status`: solicitud, pre-evaluación, verificado).
    ExpertVerificationChanged = "expert.verification_changed",
    /// An expert's level changed (`data.level`: global, pro, enterprise).
    ExpertLevelChanged = "expert.level_changed",
    /// The user was deactivated.
    UserDeactivated = "user.deactivated",
    /// The user was reactivated.
    UserReactivated = "user.reactivated",
    /// The user is to be contacted again.
    UserRecontact = "user.recontact",
    /// The user asked to leave.
    UserUnsubscribed = "user.unsubscribed",
    /// The user's leaving was confirmed.
    UserUnsubscribeConfirmed = "user.unsubscribe_confirmed",
    /// The user was deleted for good.
    UserDeleted = "user.deleted",
    /// A company drafted a project (`data.project_id`).
    ProjectDraftCreated = "project.draft_created",
    /// A project went to validation.
    ProjectSentToValidation = "project.sent_to_validation",
    /// A project was published.
    ProjectPublished = "project.published",
    /// A project started.
    ProjectStarted = "project.started",
    /// A project was completed.
    ProjectCompleted = "project.completed",
    /// An expert was invited to a project.
    ExpertInvited = "expert.invited",
    /// An expert sent a proposal.
    ProposalSent = "expert.proposal_sent",
    /// An expert was assigned to a project.
    ExpertAssigned = "expert.assigned",
    /// A review was added (`data.rating`, 1 to 5).
    ReviewAdded = "review.added",
    /// The user did something on the platform (logins, edits): feeds recent activity.
    Activity = "user.activity",
    /// An appointment was booked.
    AppointmentScheduled = "appointment.scheduled",
    /// An appointment took place.
    AppointmentCompleted = "appointment.completed",
    /// An appointment was missed.
    AppointmentMissed = "appointment.missed",
    /// A message came in from the person.
    MessageReceived = "message.received",
    /// A message was sent to the person.
    MessageSent = "message.sent",
    /// The person opened a campaign email.
    CampaignOpened = "campaign.opened",
    /// The person clicked in a campaign.
    CampaignClicked = "campaign.clicked",
    /// A deal with the person was won.
    OpportunityWon = "opportunity.won",
    /// A deal with the person was lost.
    OpportunityLost = "opportunity.lost",
}

impl fmt::Display for AppEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AppEventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AppEventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("unknown event type {s:?}")))
    }
}

/// The longest `id` and `subject` accepted.
pub const MAX_ID_LEN: usize = 200;

/// An application event, validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: AppEventType,
    /// The app's idempotency key.
    pub id: String,
    /// When it happened, in ms since the epoch (RFC 3339 on the wire).
    #[serde(with = "rfc3339_ms")]
    pub occurred_at: Millis,
    /// The app's id of the person.
    pub subject: String,
    /// Type-specific details.
    pub data: Map<String, Value>,
}

/// A field that is missing or wrong, named by its path in the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// `type`, `data.role`, `events[2].subject`, ...
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error inside a batch: `events[i].<field>`.
    pub fn in_batch(self, index: usize) -> Self {
        Self {
            field: format!("events[{index}].{}", self.field),
            ..self
        }
    }
}

/// The roles of seed 000.
pub const ROLES: &[&str] = &["empresa", "experto"];
/// Expert verification steps, in order.
pub const VERIFICATION: &[&str] = &["solicitud", "pre-evaluación", "verificado"];
/// Expert levels, in order.
pub const LEVELS: &[&str] = &["global", "pro", "enterprise"];

impl AppEvent {
    /// Validates one event as sent.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let object = value
            .as_object()
            .ok_or_else(|| FieldError::new("event", "an event must be a JSON object"))?;
        let text = |name: &str| -> Result<&str, FieldError> {
            match object.get(name) {
                None | Some(Value::Null) => {
                    Err(FieldError::new(name, format!("{name} is required")))
                }
                Some(Value::String(s)) if s.trim().is_empty() => {
                    Err(FieldError::new(name, format!("{name} must not be empty")))
                }
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(FieldError::new(name, format!("{name} must be a string"))),
            }
        };
        let type_name = text("type")?;
        let event_type: AppEventType = type_name.parse().map_err(|_| {
            FieldError::new(
                "type",
                format!("unknown event type {type_name:?}; see the catalogue in the README"),
            )
        })?;
        let id = text("id")?;
        let subject = text("subject")?;
        for (name, v) in [("id", id), ("subject", subject)] {
            if v.len() > MAX_ID_LEN {
                return Err(FieldError::new(
                    name,
                    format!("{name} is longer than {MAX_ID_LEN} characters"),
                ));
            }
        }
        let occurred_at = crate::time::parse_rfc3339_ms(text("occurred_at")?).ok_or_else(|| {
            FieldError::new(
                "occurred_at",
                "occurred_at must be an RFC 3339 time such as 2026-11-21T10:00:00Z",
            )
        })?;
        let data = match object.get("data") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(FieldError::new("data", "data must be a JSON object")),
        };
        if let Some(extra) = object
            .keys()
            .find(|k| !["type", "id", "occurred_at", "subject", "data"].contains(&k.as_str()))
        {
            return Err(FieldError::new(
                extra.as_str(),
                format!("unknown field {extra:?}; details go in data"),
            ));
        }
        let event = Self {
            event_type,
            id: id.to_owned(),
            occurred_at,
            subject: subject.to_owned(),
            data,
        };
        event.check_data()?;
        Ok(event)
    }

    /// One event (an object), or a batch (an array, or `{"events": [...]}`), all valid.
    pub fn parse_request(body: &Value, max_batch: usize) -> Result<Vec<Self>, FieldError> {
        let batch = match body {
            Value::Array(items) => Some(items),
            Value::Object(o) if o.contains_key("events") => match &o["events"] {
                Value::Array(items) => Some(items),
                _ => return Err(FieldError::new("events", "events must be an array")),
            },
            _ => None,
        };
        let Some(items) = batch else {
            return Ok(vec![Self::from_json(body)?]);
        };
        if items.is_empty() {
            return Err(FieldError::new("events", "the batch is empty"));
        }
        if items.len() > max_batch {
            return Err(FieldError::new(
                "events",
                format!(
                    "a batch holds at most {max_batch} events, not {}",
                    items.len()
                ),
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Self::from_json(item).map_err(|e| e.in_batch(i)))
            .collect()
    }

    /// The type-specific requirements on `data`.
    fn check_data(&self) -> Result<(), FieldError> {
        use AppEventType as T;
        match self.event_type {
            T::UserRegistered => {
                self.one_of("role", ROLES, true)?;
                self.email_or_phone()?;
                self.optional_text("source")?;
            }
            T::RoleAdded => self.one_of("role", ROLES, true)?,
            T::ExpertVerificationChanged => self.one_of("status", VERIFICATION, true)?,
            T::ExpertLevelChanged => self.one_of("level", LEVELS, true)?,
            T::UserDeactivated
            | T::UserReactivated
            | T::UserRecontact
            | T::UserUnsubscribed
            | T::UserUnsubscribeConfirmed
            | T::UserDeleted => self.one_of("role", ROLES, false)?,
            T::ProjectDraftCreated
            | T::ProjectSentToValidation
            | T::ProjectPublished
            | T::ProjectStarted
            | T::ProjectCompleted
            | T::ExpertInvited
            | T::ProposalSent
            | T::ExpertAssigned => {
                self.required_text("project_id")?;
                self.optional_number("budget", 0.0, f64::MAX)?;
            }
            T::ReviewAdded => {
                self.required_number("rating", 1.0, 5.0)?;
            }
            T::OpportunityWon | T::OpportunityLost => {
                // Seed 001 sends `final_price` on a won deal.
                self.optional_number("value", 0.0, f64::MAX)?;
                self.optional_number("final_price", 0.0, f64::MAX)?;
                self.optional_text("close_date")?;
            }
            T::Activity
            | T::AppointmentScheduled
            | T::AppointmentCompleted
            | T::AppointmentMissed
            | T::MessageReceived
            | T::MessageSent
            | T::CampaignOpened
            | T::CampaignClicked => {}
        }
        Ok(())
    }

    fn field(name: &str) -> String {
        format!("data.{name}")
    }

    /// `data.<name>` as text, if present.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.data
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn optional_text(&self, name: &str) -> Result<Option<&str>, FieldError> {
        match self.data.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(_)) => Ok(self.text(name)),
            Some(_) => Err(FieldError::new(
                Self::field(name),
                format!("data.{name} must be a string"),
            )),
        }
    }

    fn required_text(&self, name: &str) -> Result<&str, FieldError> {
        self.optional_text(name)?
            .ok_or_else(|| FieldError::new(Self::field(name), format!("data.{name} is required")))
    }

    fn one_of(&self, name: &str, allowed: &[&str], required: bool) -> Result<(), FieldError> {
        match self.optional_text(name)? {
            None if required => Err(FieldError::new(
                Self::field(name),
                format!("data.{name} is required (one of {})", allowed.join(", ")),
            )),
            None => Ok(()),
            Some(v) if allowed.contains(&v) => Ok(()),
            Some(v) => Err(FieldError::new(
                Self::field(name),
                format!(
                    "data.{name} must be one of {}, not {v:?}",
                    allowed.join(", ")
                ),
            )),
        }
    }

    fn optional_number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, FieldError> {
        match self.data.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                Some(_) if max < f64::MAX => Err(FieldError::new(
                    Self::field(name),
                    format!("data.{name} must be between {min} and {max}"),
                )),
                Some(_) => Err(FieldError::new(
                    Self::field(name),
                    format!("data.{name} must not be negative"),
                )),
                None => Err(FieldError::new(
                    Self::field(name),
                    format!("data.{name} must be a number"),
                )),
            },
        }
    }

    fn required_number(&self, name: &str, min: f64, max: f64) -> Result<f64, FieldError> {
        self.optional_number(name, min, max)?
            .ok_or_else(|| FieldError::new(Self::field(name), format!("data.{name} is required")))
    }

    /// GHL needs an email or a phone to create a contact.
    fn email_or_phone(&self) -> Result<(), FieldError> {
        let email = self.optional_text("email")?;
        let phone = self.optional_text("phone")?;
        if let Some(e) = email
            && !looks_like_email(e)
        {
            return Err(FieldError::new(
                "data.email",
                format!("data.email {e:?} is not an email address"),
            ));
        }
        if email.is_none() && phone.is_none() {
            return Err(FieldError::new(
                "data.email",
                "data.email or data.phone is required to create the GHL contact",
            ));
        }
        Ok(())
    }
}

/// One `@` with text on both sides and a dot in the domain: what GHL itself rejects.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Millis;

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::format_rfc3339_ms(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let text = String::deserialize(d)?;
        crate::time::parse_rfc3339_ms(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn registered() -> Value {
        json!({
            "type": "user.registered",
            "id": "evt-1",
            "occurred_at": "2026-11-21T10:00:00Z",
            "subject": "user-42",
            "data": {"role": "empresa", "email": "ana@acme.es", "source": "linkedin"}
        })
    }

    #[test]
    fn a_valid_event_parses_and_round_trips() {
        let e = AppEvent::from_json(&registered()).unwrap();
        assert_eq!(e.event_type, AppEventType::UserRegistered);
        assert_eq!(e.subject, "user-42");
        assert_eq!(e.text("role"), Some("empresa"));
        let again: AppEvent = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(again, e);
    }

    #[test]
    fn every_type_name_parses_back() {
        for t in AppEventType::ALL {
            assert_eq!(t.as_str().parse::<AppEventType>().unwrap(), *t);
        }
        assert_eq!(AppEventType::ALL.len(), 29);
    }

    fn error(mut event: Value, change: impl FnOnce(&mut Value)) -> FieldError {
        change(&mut event);
        AppEvent::from_json(&event).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        let e = error(registered(), |v| v["data"]["role"] = json!("cliente"));
        assert_eq!(e.field, "data.role");
        assert!(e.message.contains("empresa, experto"), "{e}");
        let e = error(registered(), |v| {
            v["data"].as_object_mut().unwrap().remove("email");
        });
        assert_eq!(e.field, "data.email");
        let e = error(registered(), |v| v["data"]["email"] = json!("not-an-email"));
        assert_eq!(e.field, "data.email");
        let e = error(registered(), |v| v["type"] = json!("user.exploded"));
        assert_eq!(e.field, "type");
        let e = error(registered(), |v| v["occurred_at"] = json!("yesterday"));
        assert_eq!(e.field, "occurred_at");
        let e = error(registered(), |v| {
            v.as_object_mut().unwrap().remove("subject");
        });
        assert_eq!(e.field, "subject");
        let e = error(registered(), |v| v["id"] = json!(""));
        assert_eq!(e.field, "id");
        let e = error(registered(), |v| v["role"] = json!("empresa"));
        assert_eq!(e.field, "role", "unknown top-level fields are refused");
        let e = error(registered(), |v| v["data"] = json!([1]));
        assert_eq!(e.field, "data");
    }

    #[test]
    fn type_specific_requirements() {
        let base = |t: &str, data: Value| json!({"type": t, "id": "e", "occurred_at": "2026-11-21T10:00:00Z", "subject": "u", "data": data});
        assert!(AppEvent::from_json(&base("review.added", json!({"rating": 4.5}))).is_ok());
        let e = AppEvent::from_json(&base("review.added", json!({"rating": 6}))).unwrap_err();
        assert_eq!(e.field, "data.rating");
        let e = AppEvent::from_json(&base("project.published", json!({}))).unwrap_err();
        assert_eq!(e.field, "data.project_id");
        let e = AppEvent::from_json(&base("expert.level_changed", json!({"level": "gold"})))
            .unwrap_err();
        assert_eq!(e.field, "data.level");
        assert!(
            AppEvent::from_json(&base(
                "expert.verification_changed",
                json!({"status": "pre-evaluación"})
            ))
            .is_ok()
        );
        assert!(AppEvent::from_json(&base("user.deleted", json!({}))).is_ok());
        assert!(AppEvent::from_json(&base("campaign.clicked", Value::Null)).is_ok());
    }

    #[test]
    fn batches_name_the_index() {
        let mut bad = registered();
        bad["data"]["role"] = json!("x");
        let e = AppEvent::parse_request(&json!([registered(), bad]), 10).unwrap_err();
        assert_eq!(e.field, "events[1].data.role");
        let e = AppEvent::parse_request(&json!({"events": [registered(), registered()]}), 1)
            .unwrap_err();
        assert_eq!(e.field, "events");
        assert_eq!(
            AppEvent::parse_request(&json!({"events": [registered(), registered()]}), 10)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(AppEvent::parse_request(&registered(), 10).unwrap().len(), 1);
        assert_eq!(
            AppEvent::parse_request(&json!([]), 10).unwrap_err().field,
            "events"
        );
    }
}
