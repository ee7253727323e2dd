//! CloudTalk's webhooks: the bodies its Workflow Automations send ("API Request" actions).
//!
//! CloudTalk has no fixed envelope: an admin builds each body from the trigger's
//! attributes and names the keys, and nothing is signed. So the readers here are lenient
//! by design, as the payloads seen in the wild require:
//! - key names in any case and spelling (`call_uuid`, `Call_uuid`, `callUuid`);
//! - numbers as JSON numbers without `+` (read as E.164 with `+`);
//! - all of a contact's tags as one CSV string, or a list;
//! - `"[object Object]"` where a transcript should be (read as none);
//! - call events without `call_id` or `call_uuid`: [`CallEvent::identity`] then names
//!   the call by its other fields, so the same call reported twice is recognised.
//!
//! Which trigger a body is for is known from the route it was sent to.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::de::{AgentId, ContactId};

/// The trigger a webhook route receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Call › Started.
    CallStarted,
    /// Call › Ended (after wrap-up).
    CallEnded,
    /// Recording › Uploaded.
    RecordingAvailable,
    /// User › Status Changed.
    AgentStatusChanged,
    /// Contact › Created.
    ContactCreated,
    /// A campaign's status (CloudTalk has no such trigger; a body built by hand).
    CampaignStatusChanged,
    /// Anything else: stored and shown, no effect.
    Generic,
}

impl Trigger {
    /// Every trigger, in route order.
    pub const ALL: [Self; 7] = [
        Self::CallStarted,
        Self::CallEnded,
        Self::RecordingAvailable,
        Self::AgentStatusChanged,
        Self::ContactCreated,
        Self::CampaignStatusChanged,
        Self::Generic,
    ];

    /// The route's last segment (`/api/cloudtalk-webhooks/call-started`).
    pub fn route(self) -> &'static str {
        match self {
            Self::CallStarted => "call-started",
            Self::CallEnded => "call-ended",
            Self::RecordingAvailable => "recording-available",
            Self::AgentStatusChanged => "agent-status-change",
            Self::ContactCreated => "contact-created",
            Self::CampaignStatusChanged => "campaign-status-change",
            Self::Generic => "generic",
        }
    }

    /// The trigger of a route segment.
    pub fn from_route(route: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.route() == route)
    }
}

/// A body's keys, found whatever their case and separators.
#[derive(Debug, Clone, Default)]
pub struct Fields(BTreeMap<String, Value>);

fn normal(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Fields {
    /// The top-level keys of a JSON object (nothing for other values).
    pub fn of(body: &Value) -> Self {
        Self(
            body.as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (normal(k), v.clone()))
                .collect(),
        )
    }

    /// The first of `names` present and not null or empty.
    pub fn get(&self, names: &[&str]) -> Option<&Value> {
        names
            .iter()
            .filter_map(|n| self.0.get(&normal(n)))
            .find(|v| !v.is_null() && v.as_str() != Some(""))
    }

    /// As text (numbers written out).
    pub fn text(&self, names: &[&str]) -> Option<String> {
        match self.get(names)? {
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// As a whole number (from a number or a string of digits).
    pub fn number(&self, names: &[&str]) -> Option<u64> {
        match self.get(names)? {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.round() as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// As a phone number in E.164 with `+`.
    pub fn phone(&self, names: &[&str]) -> Option<String> {
        let text = self.text(names)?;
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| format!("+{digits}"))
    }

    /// As a list of names: a JSON list, or one CSV string.
    pub fn list(&self, names: &[&str]) -> Vec<String> {
        let items: Vec<String> = match self.get(names) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
                    _ => None,
                })
                .collect(),
            Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A call event (started, ended, recording available).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallEvent {
    /// CloudTalk's numeric call (CDR) id, when the body has it.
    pub call_id: Option<String>,
    /// The call's UUID, when the body has it.
    pub call_uuid: Option<String>,
    /// `incoming` or `outgoing`, as sent.
    pub direction: Option<String>,
    /// The contact's number, E.164.
    pub external_number: Option<String>,
    /// The company's number, E.164.
    pub internal_number: Option<String>,
    /// The CloudTalk contact, when CloudTalk matched the caller.
    pub contact_id: Option<ContactId>,
    /// The agent.
    pub agent_id: Option<AgentId>,
    /// The agent's name (`agent_name`, or first and last name).
    pub agent_name: Option<String>,
    /// Seconds talking.
    pub talking_time: Option<u64>,
    /// Seconds waiting.
    pub waiting_time: Option<u64>,
    /// The outcome or status as sent (`answered`, `missed`, ...).
    pub outcome: Option<String>,
    /// The recording's link.
    pub recording_url: Option<String>,
    /// The contact's tags, in the order sent.
    pub tags: Vec<String>,
    /// The transcript, unless CloudTalk sent `"[object Object]"`.
    pub transcript: Option<String>,
}

impl CallEvent {
    /// Reads a call body.
    pub fn read(fields: &Fields) -> Self {
        let agent_name = fields.text(&["agent_name", "agent"]).or_else(|| {
            let first = fields.text(&["agent_first_name"]);
            let last = fields.text(&["agent_last_name"]);
            match (first, last) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.or(l),
            }
        });
        Self {
            call_id: fields.text(&["call_id", "cdr_id"]),
            call_uuid: fields.text(&["call_uuid", "uuid"]),
            direction: fields.text(&["direction", "call_direction"]),
            external_number: fields.phone(&["external_number", "caller_number", "phone"]),
            internal_number: fields.phone(&["internal_number"]),
            contact_id: fields.number(&["contact_id"]).map(ContactId),
            agent_id: fields.number(&["agent_id", "user_id"]).map(AgentId),
            agent_name,
            talking_time: fields.number(&["talking_time", "duration", "billsec"]),
            waiting_time: fields.number(&["waiting_time"]),
            outcome: fields.text(&["outcome", "status", "call_status", "disposition"]),
            recording_url: fields.text(&["recording_url", "recording_link", "recording"]),
            tags: fields.list(&["tags", "contact_tags"]),
            transcript: fields
                .text(&["transcript", "transcription"])
                .filter(|t| t != "[object Object]"),
        }
    }

    /// What names this call: its UUID or id when sent, else its other fields (numbers,
    /// contact, agent, times), so two reports of one call name it alike and two calls of
    /// one contact do not.
    pub fn identity(&self) -> String {
        if let Some(uuid) = &self.call_uuid {
            return format!("uuid:{uuid}");
        }
        if let Some(id) = &self.call_id {
            return format!("id:{id}");
        }
        let part = |v: &Option<String>| v.clone().unwrap_or_default();
        format!(
            "fields:{}|{}|{}|{}|{}|{}|{}|{}",
            part(&self.external_number),
            part(&self.internal_number),
            self.contact_id.map(|c| c.to_string()).unwrap_or_default(),
            self.agent_id.map(|a| a.to_string()).unwrap_or_default(),
            part(&self.direction),
            self.talking_time.map(|t| t.to_string()).unwrap_or_default(),
            self.waiting_time.map(|t| t.to_string()).unwrap_or_default(),
            part(&self.recording_url),
        )
    }
}

/// An agent's status change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentStatus {
    /// The agent.
    pub agent_id: Option<AgentId>,
    /// The agent's name.
    pub agent_name: Option<String>,
    /// The new status (`online`, `busy`, `offline`, ...).
    pub status: Option<String>,
}

/// A contact CloudTalk created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactCreated {
    /// The CloudTalk contact.
    pub contact_id: Option<ContactId>,
    /// Name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Number, E.164.
    pub number: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// A campaign's status change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignStatus {
    /// The campaign's id.
    pub campaign_id: Option<String>,
    /// Its name.
    pub campaign_name: Option<String>,
    /// The new status.
    pub status: Option<String>,
}

/// A webhook, read for its trigger.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Call started, ended or recording available.
    Call(Trigger, CallEvent),
    /// Agent status changed.
    Agent(AgentStatus),
    /// Contact created.
    Contact(ContactCreated),
    /// Campaign status changed.
    Campaign(CampaignStatus),
    /// Anything else, kept as sent.
    Generic(Value),
}

impl Event {
    /// Reads `body` as the trigger of its route.
    pub fn read(trigger: Trigger, body: &Value) -> Self {
        let f = Fields::of(body);
        match trigger {
            Trigger::CallStarted | Trigger::CallEnded | Trigger::RecordingAvailable => {
                Self::Call(trigger, CallEvent::read(&f))
            }
            Trigger::AgentStatusChanged => Self::Agent(AgentStatus {
                agent_id: f.number(&["agent_id", "user_id", "id"]).map(AgentId),
                agent_name: f.text(&["agent_name", "name"]),
                status: f.text(&["status", "agent_status", "new_status"]),
            }),
            Trigger::ContactCreated => Self::Contact(ContactCreated {
                contact_id: f.number(&["contact_id", "id"]).map(ContactId),
                name: f.text(&["name", "contact_name"]),
                company: f.text(&["company"]),
                number: f.phone(&["public_number", "phone", "number", "external_number"]),
                email: f.text(&["email"]),
                tags: f.list(&["tags"]),
            }),
            Trigger::CampaignStatusChanged => Self::Campaign(CampaignStatus {
                campaign_id: f.text(&["campaign_id", "id"]),
                campaign_name: f.text(&["campaign_name", "campaign", "name"]),
                status: f.text(&["status", "campaign_status"]),
            }),
            Trigger::Generic => Self::Generic(body.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_name_their_triggers() {
        for t in Trigger::ALL {
            assert_eq!(Trigger::from_route(t.route()), Some(t));
        }
        assert_eq!(Trigger::from_route("call-ringing"), None);
    }

    #[test]
    fn the_seeds_test_payload_is_read_whatever_the_key_case() {
        let body = json!({"Call_id": "123456", "Call_uuid": "uuid-123", "Agent_name": "Roberto"});
        let Event::Call(Trigger::CallStarted, call) = Event::read(Trigger::CallStarted, &body)
        else {
            panic!()
        };
        assert_eq!(call.call_id.as_deref(), Some("123456"));
        assert_eq!(call.agent_name.as_deref(), Some("Roberto"));
        assert_eq!(call.identity(), "uuid:uuid-123");
    }

    #[test]
    fn payloads_as_cloudtalk_sends_them_in_the_wild() {
        // A real Call Ended: numbers as JSON numbers without +, no contact matched.
        let body = json!({
            "call_uuid": "7c0d3f8e-1b1e-4b44-9d1a-0f7c6f6a9d10",
            "internal_number": 40312296109_u64,
            "external_number": 393513416607_u64,
            "contact_id": null,
            "agent_id": 12345,
            "tags": "first,second , third",
            "transcript": "[object Object]",
        });
        let Event::Call(_, call) = Event::read(Trigger::CallEnded, &body) else {
            panic!()
        };
        assert_eq!(call.external_number.as_deref(), Some("+393513416607"));
        assert_eq!(call.internal_number.as_deref(), Some("+40312296109"));
        assert_eq!(call.contact_id, None);
        assert_eq!(call.agent_id, Some(AgentId(12345)));
        assert_eq!(
            call.tags,
            vec!["first", "second", "third"],
            "CSV, oldest first"
        );
        assert_eq!(
            call.transcript, None,
            "\"[object Object]\" is no transcript"
        );
    }

    #[test]
    fn a_call_without_ids_is_named_by_its_fields() {
        let started =
            json!({"external_number": 393513416607_u64, "agent_id": "9", "direction": "incoming"});
        let again =
            json!({"External_Number": "393513416607", "Agent_Id": 9, "Direction": "incoming"});
        let other =
            json!({"external_number": 393513416608_u64, "agent_id": "9", "direction": "incoming"});
        let id = |b: &Value| match Event::read(Trigger::CallStarted, b) {
            Event::Call(_, c) => c.identity(),
            other => panic!("{other:?}"),
        };
        assert_eq!(id(&started), id(&again), "the same call reported twice");
        assert_ne!(id(&started), id(&other));
    }

    #[test]
    fn other_triggers_read_their_fields() {
        let agent = Event::read(
            Trigger::AgentStatusChanged,
            &json!({"id": "17", "status": "busy"}),
        );
        assert_eq!(
            agent,
            Event::Agent(AgentStatus {
                agent_id: Some(AgentId(17)),
                agent_name: None,
                status: Some("busy".into())
            })
        );
        let contact = Event::read(
            Trigger::ContactCreated,
            &json!({"contact_id": 55, "name": "Ana", "phone": "34611000111", "tags": ["vip"]}),
        );
        let Event::Contact(c) = contact else { panic!() };
        assert_eq!(
            (c.contact_id, c.number.as_deref()),
            (Some(ContactId(55)), Some("+34611000111"))
        );
        let generic = json!({"anything": [1, 2]});
        assert_eq!(
            Event::read(Trigger::Generic, &generic),
            Event::Generic(generic)
        );
    }
}
