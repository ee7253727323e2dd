//! Seed 003's bridge between GHL and CloudTalk, as the rules see it.
//!
//! Events of both sides reach the rules with a `bridge` view: one shape whatever sent them.
//! A GHL contact, tag, note or stage change looks alike from a Marketplace webhook and from
//! seed 003's workflow routes (`/api/ghl-webhooks/{event}`), so the one `cloudtalk-bridge`
//! pack serves both; a CloudTalk call, agent, contact or campaign event looks alike however
//! its Workflow Automation named the keys.
//!
//! What the rules decide for CloudTalk becomes [`CloudTalkJob`]s: one per contact, note,
//! tag change or activity, each naming the GHL contact it is about, so delivery can find
//! (or create) the CloudTalk contact through the id map and batch the commands of one
//! company into bulk requests.

use std::fmt;
use std::str::FromStr;

use cloudtalk::webhooks::{Event, Trigger as CloudTalkTrigger};
use ghl::{ContactId, LocationId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Millis;
use crate::changeset::Changeset;
use crate::command::{GhlCommand, NewJob};
use crate::event::{EventId, UnknownValue};
use crate::rules::CloudTalkOutcome;

/// A bridge: one GHL location and one CloudTalk company kept in step. Named in
/// configuration; its name is in every CloudTalk job and link.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BridgeName(pub String);

impl BridgeName {
    /// The lane of the bridge's CloudTalk jobs (`cloudtalk:<bridge>`), in place of a
    /// location: CloudTalk's limit is the company's, so its backlog never holds back the
    /// GHL jobs of the bridge's location, nor theirs its.
    pub fn lane(&self) -> LocationId {
        LocationId::new(format!("cloudtalk:{}", self.0))
    }
}

impl fmt::Display for BridgeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Seed 003's GHL workflow routes: `/api/ghl-webhooks/{route}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GhlRoute {
    /// A contact was created.
    NewContact,
    /// A tag was added to a contact.
    NewTag,
    /// A note was added to a contact.
    NewNote,
    /// A contact's opportunity moved to another stage.
    PipelineChange,
    /// A contact's status changed.
    StatusChange,
}

impl GhlRoute {
    /// Every route.
    pub const ALL: [Self; 5] = [
        Self::NewContact,
        Self::NewTag,
        Self::NewNote,
        Self::PipelineChange,
        Self::StatusChange,
    ];

    /// The route's last segment.
    pub fn route(self) -> &'static str {
        match self {
            Self::NewContact => "new-contact",
            Self::NewTag => "new-tag",
            Self::NewNote => "new-note",
            Self::PipelineChange => "pipeline-change",
            Self::StatusChange => "status-change",
        }
    }

    /// The trigger rules name it by: the Marketplace webhook of the same change, so one rule
    /// serves both ways of hearing of it; a status change has no Marketplace webhook.
    pub fn trigger(self) -> &'static str {
        match self {
            Self::NewContact => "ContactCreate",
            Self::NewTag => "ContactTagUpdate",
            Self::NewNote => "NoteCreate",
            Self::PipelineChange => "OpportunityStageUpdate",
            Self::StatusChange => GHL_STATUS_CHANGED,
        }
    }
}

impl FromStr for GhlRoute {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.route() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// The trigger of seed 003's status change (a GHL workflow's, not a Marketplace webhook).
pub const GHL_STATUS_CHANGED: &str = "ghl.status_changed";

/// The rules' name of a CloudTalk trigger.
pub fn cloudtalk_trigger(t: CloudTalkTrigger) -> &'static str {
    match t {
        CloudTalkTrigger::CallStarted => "cloudtalk.call_started",
        CloudTalkTrigger::CallEnded => "cloudtalk.call_ended",
        CloudTalkTrigger::RecordingAvailable => "cloudtalk.recording_available",
        CloudTalkTrigger::AgentStatusChanged => "cloudtalk.agent_status_changed",
        CloudTalkTrigger::ContactCreated => "cloudtalk.contact_created",
        CloudTalkTrigger::CampaignStatusChanged => "cloudtalk.campaign_status_changed",
        CloudTalkTrigger::Generic => "cloudtalk.generic",
    }
}

/// Every bridge trigger that is not a Marketplace webhook: CloudTalk's and the status change.
pub fn bridge_triggers() -> impl Iterator<Item = &'static str> {
    CloudTalkTrigger::ALL
        .into_iter()
        .map(cloudtalk_trigger)
        .chain([GHL_STATUS_CHANGED])
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `paths` (dotted) with text.
fn first(payload: &Value, paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find_map(|p| text(p.split('.').try_fold(payload, |cur, key| cur.get(key))))
}

fn tags(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| text(Some(i)).or_else(|| text(i.get("name"))))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The GHL contact an event is about, in the view's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeContact {
    /// GHL id.
    pub id: Option<ContactId>,
    /// Full name.
    pub name: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl BridgeContact {
    /// Read from a Marketplace payload (the contact at the top level) or a workflow body
    /// (under `contact`, GHL's standard workflow webhook also has the fields at the top).
    pub fn read(payload: &Value) -> Self {
        let scope = payload.get("contact").filter(|c| c.is_object());
        let get = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                scope
                    .and_then(|c| text(c.get(*k)))
                    .or_else(|| text(payload.get(*k)))
            })
        };
        let first_name = get(&["firstName", "first_name"]);
        let last_name = get(&["lastName", "last_name"]);
        let name = get(&["name", "full_name", "contactName"]).or_else(|| {
            match (first_name.as_deref(), last_name.as_deref()) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.or(l).map(str::to_owned),
            }
        });
        let id = scope
            .and_then(|c| text(c.get("id")))
            .or_else(|| text(payload.get("contactId")))
            .or_else(|| text(payload.get("contact_id")))
            .or_else(|| {
                // A Marketplace contact webhook is the contact itself.
                let kind = payload.get("type").and_then(Value::as_str).unwrap_or("");
                kind.starts_with("Contact")
                    .then(|| text(payload.get("id")))
                    .flatten()
            })
            .map(ContactId::from);
        Self {
            id,
            name,
            first_name,
            last_name,
            email: get(&["email"]).map(|e| e.to_lowercase()),
            phone: get(&["phone"]),
            company: get(&["companyName", "company_name", "company"]),
            tags: tags(
                scope
                    .and_then(|c| c.get("tags"))
                    .or_else(|| payload.get("tags")),
            ),
        }
    }
}

/// The view of a GHL event (Marketplace webhook or workflow route): `contact`, `tags_added`,
/// `note` (`body`, `user_id`, `id`), `pipeline`, `stage`, `previous_stage`, `status`,
/// `previous_status`, `status_reason`. `tags_added` comes from the body (`tag.name`) or, for
/// a Marketplace tag update, from what the mirror says changed.
pub fn ghl_view(payload: &Value, contact: &BridgeContact, tags_added: &[String]) -> Value {
    let mut added: Vec<String> = tags(payload.get("tag").map(|t| t.get("name").unwrap_or(t)));
    added.extend(tags(payload.get("tags_added")));
    for t in tags_added {
        if !added.iter().any(|a| a.eq_ignore_ascii_case(t)) {
            added.push(t.clone());
        }
    }
    let note = payload.get("note").filter(|n| n.is_object());
    let note_text = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            note.and_then(|n| text(n.get(*k)))
                .or_else(|| text(payload.get(*k)))
        })
    };
    let note = match (payload.get("note"), note) {
        (Some(Value::String(body)), _) => json!({"body": body}),
        _ => json!({
            "body": note_text(&["body"]),
            "user_id": note_text(&["userId", "user_id"]),
            "id": note.and_then(|n| text(n.get("id"))),
        }),
    };
    json!({
        "contact": contact,
        "tags_added": added,
        "note": note,
        "pipeline": first(payload, &["pipeline.name", "pipeline_name", "pipelineName", "pipelineId"]),
        "stage": first(payload, &["stage.name", "stage_name", "pipelineStageName", "pipelineStageId"]),
        "previous_stage": first(payload, &["previous_stage.name", "previous_stage_name", "previousStage"]),
        "status": first(payload, &["status"]),
        "previous_status": first(payload, &["previous_status", "previousStatus"]),
        "status_reason": first(payload, &["status_reason", "statusReason"]),
    })
}

/// The view of a CloudTalk event: `call` (`id`, `uuid`, `identity`, `direction`, `number`,
/// `internal_number`, `contact_id`, `agent_id`, `agent`, `duration`, `waiting`, `outcome`,
/// `recording_url`, `transcript`, `tags`), `agent` (`id`, `name`, `status`), `contact`
/// (`id`, `name`, `company`, `number`, `email`, `tags`), `campaign` (`id`, `name`,
/// `status`), or `body` for a generic event.
pub fn cloudtalk_view(event: &Event) -> Value {
    match event {
        Event::Call(_, c) => json!({"call": {
            "id": c.call_id, "uuid": c.call_uuid, "identity": c.identity(),
            "direction": c.direction, "number": c.external_number,
            "internal_number": c.internal_number, "contact_id": c.contact_id,
            "agent_id": c.agent_id, "agent": c.agent_name, "duration": c.talking_time,
            "waiting": c.waiting_time, "outcome": c.outcome, "recording_url": c.recording_url,
            "transcript": c.transcript, "tags": c.tags,
        }}),
        Event::Agent(a) => {
            json!({"agent": {"id": a.agent_id, "name": a.agent_name, "status": a.status}})
        }
        Event::Contact(c) => json!({"contact": {
            "id": c.contact_id, "name": c.name, "company": c.company, "number": c.number,
            "email": c.email, "tags": c.tags,
        }}),
        Event::Campaign(c) => {
            json!({"campaign": {"id": c.campaign_id, "name": c.campaign_name, "status": c.status}})
        }
        Event::Generic(body) => json!({"body": body}),
    }
}

/// The person a CloudTalk event is about, as far as the event tells: the CloudTalk contact,
/// its number and email and name.
pub fn cloudtalk_person(event: &Event) -> CloudTalkPerson {
    match event {
        Event::Call(_, c) => CloudTalkPerson {
            contact_id: c.contact_id,
            phone: c.external_number.clone(),
            ..CloudTalkPerson::default()
        },
        Event::Contact(c) => CloudTalkPerson {
            contact_id: c.contact_id,
            phone: c.number.clone(),
            email: c.email.clone().map(|e| e.to_lowercase()),
            name: c.name.clone(),
        },
        _ => CloudTalkPerson::default(),
    }
}

/// Who a CloudTalk event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudTalkPerson {
    /// The CloudTalk contact, when CloudTalk matched one.
    pub contact_id: Option<cloudtalk::ContactId>,
    /// E.164.
    pub phone: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
}

impl CloudTalkPerson {
    /// The subject of a person known only from CloudTalk: its contact, else its number.
    pub fn subject(&self) -> Option<String> {
        self.contact_id
            .map(|id| format!("cloudtalk:{id}"))
            .or_else(|| self.phone.as_ref().map(|p| format!("phone:{p}")))
            .or_else(|| self.email.as_ref().map(|e| format!("email:{e}")))
    }
}

/// Links a GHL contact to a CloudTalk contact of a bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTalkLink {
    /// The bridge.
    pub bridge: BridgeName,
    /// Its GHL location.
    pub location_id: LocationId,
    /// The GHL contact.
    pub ghl_contact: ContactId,
    /// The CloudTalk contact.
    pub cloudtalk_contact: cloudtalk::ContactId,
    /// The bridge created the CloudTalk contact (its Contact Created webhook is an echo).
    pub created_by_bridge: bool,
}

/// The GHL contact a CloudTalk job is about, with what finds or creates its CloudTalk twin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTalkContact {
    /// The GHL contact.
    pub ghl_id: ContactId,
    /// Name (CloudTalk requires one to add a contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
}

/// An activity to add to the CloudTalk contact's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitySpec {
    /// Its name (title).
    pub name: String,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CloudTalk's type (`other` unless told).
    pub kind: cloudtalk::activities::ActivityType,
}

/// What one CloudTalk job does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CloudTalkStep {
    /// Find the contact (id map, then number, then email) or add it, with `source`.
    Contact {
        /// The contact's source, as seed 003 writes it.
        source: String,
    },
    /// Add tags, keeping the contact's others.
    AddTags {
        /// The tags.
        tags: Vec<String>,
    },
    /// Add a note.
    AddNote {
        /// Its text.
        note: String,
    },
    /// Add an activity.
    AddActivity {
        /// The activity.
        activity: ActivitySpec,
        /// When it happened (RFC 3339).
        at: String,
    },
}

impl CloudTalkStep {
    /// A short name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Contact { .. } => "contact",
            Self::AddTags { .. } => "add_tags",
            Self::AddNote { .. } => "add_note",
            Self::AddActivity { .. } => "add_activity",
        }
    }
}

/// A job for CloudTalk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTalkJob {
    /// The bridge (its CloudTalk company and credentials).
    pub bridge: BridgeName,
    /// The contact.
    pub contact: CloudTalkContact,
    /// What to do.
    #[serde(flatten)]
    pub step: CloudTalkStep,
}

/// A campaign's status changed in CloudTalk: what the rules decided for GHL is done to each
/// of the campaign's contacts (those with its contact tags), found in CloudTalk when the
/// job runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignFanOut {
    /// The bridge.
    pub bridge: BridgeName,
    /// The campaign's id, when the body has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// Its name, when the body has one (found by name without an id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_name: Option<String>,
    /// The change for each contact's GHL twin (tags and fields; no email or phone yet).
    pub sync: crate::command::ContactSync,
    /// Notes for each contact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The fan-out job of a campaign's status change, when the rules change GHL.
pub fn campaign_job(
    bridge: &BridgeName,
    event: EventId,
    campaign: &cloudtalk::webhooks::CampaignStatus,
    outcome: &crate::rules::Outcome,
    now: Millis,
) -> Option<NewJob> {
    if !outcome.changes_ghl()
        || (campaign.campaign_id.is_none() && campaign.campaign_name.is_none())
    {
        return None;
    }
    let sync = crate::command::ContactSync {
        fields: outcome.fields.clone(),
        custom_fields: outcome.custom_fields.clone(),
        add_tags: outcome.add_tags.iter().cloned().collect(),
        remove_tags: outcome.remove_tags.iter().cloned().collect(),
        ..crate::command::ContactSync::default()
    };
    let name = campaign
        .campaign_id
        .as_deref()
        .or(campaign.campaign_name.as_deref())
        .unwrap_or_default();
    Some(NewJob {
        location_id: bridge.lane(),
        command: GhlCommand::CloudTalkCampaign(CampaignFanOut {
            bridge: bridge.clone(),
            campaign_id: campaign.campaign_id.clone(),
            campaign_name: campaign.campaign_name.clone(),
            sync,
            notes: outcome.notes.clone(),
        }),
        idempotency_key: format!("{event}:campaign"),
        ordering_key: format!("cloudtalk:{bridge}:campaign:{name}"),
        run_at: now,
        source_event: Some(event),
        coalesce: false,
    })
}

/// A short stable digest of text, for idempotency keys made of content.
fn digest(parts: &[&str]) -> String {
    // FNV-1a 64: the key only has to tell contents apart, not resist anyone.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// What a GHL event changed, independent of how GHL told: its `bridge` view without the
/// contact's details (a Marketplace webhook carries them all, a workflow body a few), and
/// when it happened. The same change heard from both makes the same [`Change`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    basis: String,
    at: Millis,
}

impl Change {
    /// The change a view describes, about `contact`, at `at`.
    pub fn of(view: &Value, contact: &str, at: Millis) -> Self {
        let mut v = view.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("contact");
            // A workflow body names no note id.
            if let Some(note) = map.get_mut("note").and_then(Value::as_object_mut) {
                note.remove("id");
            }
        }
        Self {
            basis: format!("{contact}|{v}"),
            at,
        }
    }

    /// A key for the `i`-th effect of a kind: equal for the same change heard twice within
    /// minutes of each other, different for the same change made again later.
    fn key(&self, kind: &str, i: usize) -> String {
        const BUCKET_MS: Millis = 5 * 60_000;
        digest(&[
            &self.basis,
            kind,
            &i.to_string(),
            &(self.at / BUCKET_MS).to_string(),
        ])
    }
}

/// The CloudTalk jobs of what the rules decided about a GHL contact, in order (the contact
/// first; all share the contact's ordering key), in the bridge's lane. A note or activity is
/// keyed by the [`Change`] behind it, not by its text (which may carry the time GHL told of
/// it), so the same change heard twice, from a Marketplace webhook and from a workflow
/// route, is one job.
pub fn cloudtalk_jobs(
    bridge: &BridgeName,
    event: EventId,
    change: &Change,
    contact: &CloudTalkContact,
    outcome: &CloudTalkOutcome,
    source: &str,
    now: Millis,
) -> Changeset {
    let ordering_key = format!("cloudtalk:{bridge}:{}", contact.ghl_id);
    let base = format!("cloudtalk:{bridge}:{}", contact.ghl_id);
    let mut jobs = Vec::new();
    let mut push = |key: String, step: CloudTalkStep| {
        jobs.push(NewJob {
            location_id: bridge.lane(),
            command: GhlCommand::CloudTalk(CloudTalkJob {
                bridge: bridge.clone(),
                contact: contact.clone(),
                step,
            }),
            idempotency_key: key,
            ordering_key: ordering_key.clone(),
            run_at: now,
            source_event: Some(event),
            coalesce: false,
        });
    };
    if outcome.contact {
        push(
            format!("{base}:contact"),
            CloudTalkStep::Contact {
                source: source.to_owned(),
            },
        );
    }
    if !outcome.tags.is_empty() {
        push(
            format!("{event}:{base}:tags"),
            CloudTalkStep::AddTags {
                tags: outcome.tags.clone(),
            },
        );
    }
    for (i, note) in outcome.notes.iter().enumerate() {
        push(
            format!("{base}:note:{}", change.key("note", i)),
            CloudTalkStep::AddNote { note: note.clone() },
        );
    }
    for (i, a) in outcome.activities.iter().enumerate() {
        push(
            format!("{base}:activity:{}", change.key("activity", i)),
            CloudTalkStep::AddActivity {
                activity: a.clone(),
                at: crate::time::format_rfc3339_ms(now),
            },
        );
    }
    Changeset {
        jobs,
        ..Changeset::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_payloads_and_marketplace_webhooks_read_alike() {
        let seed = json!({"contact": {"id": "ghl_123456", "name": "Mario Rossi", "firstName": "Mario",
            "lastName": "Rossi", "email": "Mario@Example.com", "phone": "+393501234567", "tags": ["lead", "priority"]}});
        let marketplace = json!({"type": "ContactCreate", "locationId": "L", "id": "ghl_123456",
            "firstName": "Mario", "lastName": "Rossi", "email": "mario@example.com", "phone": "+393501234567",
            "tags": ["lead", "priority"]});
        let a = BridgeContact::read(&seed);
        let b = BridgeContact::read(&marketplace);
        assert_eq!(a, b);
        assert_eq!(a.id.as_ref().map(|c| c.as_str()), Some("ghl_123456"));
        assert_eq!(a.name.as_deref(), Some("Mario Rossi"));
        assert_eq!(a.email.as_deref(), Some("mario@example.com"));
    }

    #[test]
    fn views_of_tags_notes_stages_and_statuses() {
        let tag = json!({"contact": {"id": "c", "name": "M"}, "tag": {"name": "VIP Cliente"}});
        let c = BridgeContact::read(&tag);
        assert_eq!(
            ghl_view(&tag, &c, &[])["tags_added"],
            json!(["VIP Cliente"])
        );
        assert_eq!(
            ghl_view(&json!({}), &c, &["vip".into()])["tags_added"],
            json!(["vip"]),
            "a Marketplace tag update's additions come from the mirror"
        );
        let note = json!({"contact": {"id": "c"}, "note": {"body": "Cliente interessato", "userId": "agent_789"}});
        let v = ghl_view(&note, &c, &[]);
        assert_eq!(v["note"]["body"], "Cliente interessato");
        assert_eq!(v["note"]["user_id"], "agent_789");
        let marketplace_note =
            json!({"type": "NoteCreate", "id": "n1", "contactId": "c", "body": "hola"});
        assert_eq!(ghl_view(&marketplace_note, &c, &[])["note"]["body"], "hola");
        let stage = json!({"contact": {"id": "c"}, "pipeline": {"name": "Sales Pipeline"},
            "stage": {"name": "Qualified Lead"}, "previous_stage": {"name": "Cold Lead"}});
        let v = ghl_view(&stage, &c, &[]);
        assert_eq!(
            (&v["pipeline"], &v["stage"], &v["previous_stage"]),
            (
                &json!("Sales Pipeline"),
                &json!("Qualified Lead"),
                &json!("Cold Lead")
            )
        );
        let status = json!({"contact": {"id": "c"}, "status": "customer", "previous_status": "lead",
            "status_reason": "Purchase completed"});
        let v = ghl_view(&status, &c, &[]);
        assert_eq!(v["status"], "customer");
        assert_eq!(v["status_reason"], "Purchase completed");
    }

    #[test]
    fn routes_and_triggers() {
        for r in GhlRoute::ALL {
            assert_eq!(r.route().parse::<GhlRoute>(), Ok(r));
        }
        assert_eq!(GhlRoute::NewNote.trigger(), "NoteCreate");
        assert!(bridge_triggers().any(|t| t == "cloudtalk.call_ended"));
        let person = CloudTalkPerson {
            phone: Some("+34611".into()),
            ..CloudTalkPerson::default()
        };
        assert_eq!(person.subject().as_deref(), Some("phone:+34611"));
    }

    #[test]
    fn the_same_note_heard_twice_is_one_job_and_the_contact_comes_first() {
        let contact = CloudTalkContact {
            ghl_id: ContactId::from("c1"),
            name: Some("Ana".into()),
            email: None,
            phone: Some("+34611000111".into()),
            company: None,
        };
        let outcome = CloudTalkOutcome {
            contact: true,
            tags: vec!["vip".into()],
            notes: vec!["[GHL Note] x".into()],
            activities: vec![],
        };
        let bridge = BridgeName("main".into());
        let view = json!({"contact": {"name": "Ana"}, "note": {"body": "x"}});
        let heard = Change::of(&view, "c1", 1_000);
        let again = Change::of(
            &json!({"contact": {}, "note": {"body": "x", "id": "n-1"}}),
            "c1",
            61_000,
        );
        let a = cloudtalk_jobs(&bridge, EventId(1), &heard, &contact, &outcome, "s", 5);
        let b = cloudtalk_jobs(&bridge, EventId(2), &again, &contact, &outcome, "s", 9);
        let later = Change::of(&view, "c1", 7 * 24 * 3_600_000);
        let c = cloudtalk_jobs(&bridge, EventId(3), &later, &contact, &outcome, "s", 9);
        assert_ne!(
            a.jobs[2].idempotency_key, c.jobs[2].idempotency_key,
            "the same note a week later is a new one"
        );
        let kinds: Vec<_> = a
            .jobs
            .iter()
            .map(|j| match &j.command {
                GhlCommand::CloudTalk(c) => c.step.name(),
                _ => "?",
            })
            .collect();
        assert_eq!(kinds, ["contact", "add_tags", "add_note"]);
        assert_eq!(a.jobs[0].idempotency_key, b.jobs[0].idempotency_key);
        assert_eq!(a.jobs[2].idempotency_key, b.jobs[2].idempotency_key);
        assert_ne!(a.jobs[1].idempotency_key, b.jobs[1].idempotency_key);
        assert!(
            a.jobs
                .iter()
                .all(|j| j.ordering_key == a.jobs[0].ordering_key)
        );
    }
}
