//! Seed 004's outcomes back into GHL (`ghl-batch-callback`), decided without IO: each final
//! outcome of a number with a GHL contact is a pending update; a callback run makes the
//! pending updates it takes into outbox jobs.
//!
//! Per contact, one job writes the six broadcast fields and one adds the activity note;
//! the outcome's tag goes with other contacts' in GHL's bulk tag call (one call for up to
//! [`TAGS_PER_CALL`] contacts). A contact's fields and tag cannot share one call: the tags of
//! `PUT /contacts/{id}` replace all of the contact's tags (GHL's own description), and the
//! tags people set in GHL must stay. A contact with several outcomes in one run gets one
//! fields job (its latest call) and one note (every call).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ghl::custom_fields::DataType;
use ghl::{ContactId, LocationId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Millis;
use crate::broadcast::{BroadcastId, CallOutcome, CallResult, OwnerId, PendingId, QueueItemId};
use crate::command::{ContactRef, GhlCommand, NewJob};
use crate::event::UnknownValue;

/// Contacts per bulk tag call. GHL documents no maximum; 100 keeps a refused call small.
pub const TAGS_PER_CALL: usize = 100;

/// The six custom fields of seed 004's "Setup Broadcast Fields": key, name, type.
pub const BROADCAST_FIELDS: [(&str, &str, DataType); 6] = [
    ("last_broadcast_date", "Last Broadcast Date", DataType::Date),
    ("broadcast_outcome", "Broadcast Outcome", DataType::Text),
    ("broadcast_name", "Broadcast Name", DataType::Text),
    (
        "broadcast_dtmf_pressed",
        "Broadcast DTMF Pressed",
        DataType::Text,
    ),
    (
        "broadcast_callback_requested",
        "Broadcast Callback Requested",
        DataType::Text,
    ),
    (
        "broadcast_callback_time",
        "Broadcast Callback Time",
        DataType::Date,
    ),
];

/// The name and type a broadcast field is created with, for a key that is one.
pub fn broadcast_field(key: &str) -> Option<(&'static str, DataType)> {
    BROADCAST_FIELDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, name, t)| (*name, t.clone()))
}

/// A final outcome to send to GHL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// Its id.
    pub id: PendingId,
    /// The broadcast's owner.
    pub owner_id: OwnerId,
    /// The broadcast.
    pub broadcast_id: BroadcastId,
    /// Its name when the call was made (seed 004's cached `broadcast_name`).
    pub broadcast_name: String,
    /// The number's queue item.
    pub queue_item_id: QueueItemId,
    /// The owner's GHL location.
    pub location_id: LocationId,
    /// The contact.
    pub ghl_contact_id: ContactId,
    /// The final call.
    pub result: CallResult,
    /// A no-answer or busy that ran out of attempts.
    #[serde(default)]
    pub retries_spent: bool,
    /// Recorded.
    pub created_at: Millis,
}

/// Where a pending update stands (seed 004's `status`), read from its jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// No callback run took it yet.
    Pending,
    /// Its jobs are in the outbox.
    Processing,
    /// Every job is done.
    Sent,
    /// A job is dead-lettered (a replay makes it processing again).
    Failed,
}

impl PendingStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Processing, Self::Sent, Self::Failed];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// From the states of its jobs: `jobs` enqueued, `done` of them delivered, `dead` of
    /// them dead-lettered.
    pub fn of_jobs(jobs: u32, done: u32, dead: u32) -> Self {
        if jobs == 0 {
            Self::Pending
        } else if dead > 0 {
            Self::Failed
        } else if done >= jobs {
            Self::Sent
        } else {
            Self::Processing
        }
    }

    /// The queue item's `ghl_callback_status` it makes.
    pub fn callback_status(self) -> crate::broadcast::CallbackStatus {
        use crate::broadcast::CallbackStatus as C;
        match self {
            Self::Pending => C::Pending,
            Self::Processing => C::Queued,
            Self::Sent => C::Sent,
            Self::Failed => C::Failed,
        }
    }
}

impl fmt::Display for PendingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PendingStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

/// A pending update with what its jobs say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    /// The update.
    #[serde(flatten)]
    pub update: PendingUpdate,
    /// Where it stands.
    pub status: PendingStatus,
    /// Failed attempts of its jobs (seed 004's `retry_count`).
    pub retry_count: u32,
    /// The last error of a job that failed (seed 004's `error_message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Which pending updates a callback run or a status count covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingScope {
    /// One owner's, or everyone's.
    pub owner: Option<OwnerId>,
    /// One broadcast's (of `owner`).
    pub broadcast: Option<BroadcastId>,
}

fn rfc3339(at: Millis) -> String {
    Timestamp::from_millisecond(at).map_or_else(|_| at.to_string(), |t| t.to_string())
}

/// How the note names an outcome (seed 004's table).
fn outcome_label(result: &CallResult, retries_spent: bool) -> String {
    let label = match result.outcome {
        CallOutcome::Answered => "Human answered",
        CallOutcome::Voicemail => "Voicemail left",
        CallOutcome::NoAnswer => "No answer",
        CallOutcome::Busy => "Busy",
        CallOutcome::Failed => "Call failed",
    };
    if retries_spent {
        format!("{label} (max retries)")
    } else {
        label.to_owned()
    }
}

/// The six fields an outcome sets, by key.
pub fn outcome_fields(u: &PendingUpdate) -> BTreeMap<String, Value> {
    let r = &u.result;
    BTreeMap::from([
        (
            "last_broadcast_date".to_owned(),
            json!(rfc3339(r.called_at)),
        ),
        ("broadcast_outcome".to_owned(), json!(r.outcome.as_str())),
        ("broadcast_name".to_owned(), json!(u.broadcast_name)),
        (
            "broadcast_dtmf_pressed".to_owned(),
            json!(r.dtmf_pressed.clone().unwrap_or_default()),
        ),
        (
            "broadcast_callback_requested".to_owned(),
            json!(if r.callback_requested {
                "true"
            } else {
                "false"
            }),
        ),
        (
            "broadcast_callback_time".to_owned(),
            json!(r.callback_time.map(rfc3339).unwrap_or_default()),
        ),
    ])
}

/// The activity note of one outcome: the broadcast, outcome, DTMF, callback, duration and
/// time, as seed 004 lists them.
pub fn outcome_note(u: &PendingUpdate) -> String {
    let r = &u.result;
    let callback = match (r.callback_requested, r.callback_time) {
        (true, Some(at)) => format!("requested for {}", rfc3339(at)),
        (true, None) => "requested".to_owned(),
        (false, _) => "not requested".to_owned(),
    };
    format!(
        "Voice broadcast: {}\nOutcome: {}\nDTMF pressed: {}\nCallback: {}\nDuration: {} s\nTime: {}",
        u.broadcast_name,
        outcome_label(r, u.retries_spent),
        r.dtmf_pressed.as_deref().unwrap_or("none"),
        callback,
        r.duration_seconds,
        rfc3339(r.called_at),
    )
}

/// What a callback run enqueues: the jobs, and which jobs each pending update waits for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallbackPlan {
    /// Jobs to enqueue.
    pub jobs: Vec<NewJob>,
    /// (pending update, idempotency key of one of its jobs).
    pub links: Vec<(PendingId, String)>,
}

/// The jobs of `updates` (taken together by one run): per contact one fields job and one
/// note job, and the tags in bulk calls of up to `tags_per_call` contacts per tag and
/// location. Keys are derived from the pending ids, so enqueuing a plan twice adds nothing.
pub fn plan_callbacks(
    updates: &[PendingUpdate],
    now: Millis,
    tags_per_call: usize,
) -> CallbackPlan {
    let mut plan = CallbackPlan::default();
    let mut by_contact: BTreeMap<(&LocationId, &ContactId), Vec<&PendingUpdate>> = BTreeMap::new();
    for u in updates {
        by_contact
            .entry((&u.location_id, &u.ghl_contact_id))
            .or_default()
            .push(u);
    }
    for ((location, contact), mut group) in by_contact {
        group.sort_by_key(|u| (u.result.called_at, u.id.clone()));
        let latest = group[group.len() - 1];
        let ordering_key = format!("ghl-contact:{contact}");
        let fields_key = format!("broadcast:fields:{}", latest.id);
        let note_key = format!("broadcast:note:{}", latest.id);
        plan.jobs.push(NewJob {
            location_id: location.clone(),
            command: GhlCommand::UpdateFields {
                contact: contact.clone(),
                custom_fields: outcome_fields(latest),
            },
            idempotency_key: fields_key.clone(),
            ordering_key: ordering_key.clone(),
            run_at: now,
            source_event: None,
            coalesce: false,
        });
        let note = group
            .iter()
            .map(|u| outcome_note(u))
            .collect::<Vec<_>>()
            .join("\n\n");
        plan.jobs.push(NewJob {
            location_id: location.clone(),
            command: GhlCommand::AddNote {
                contact: ContactRef::Ghl(contact.clone()),
                body: note,
            },
            idempotency_key: note_key.clone(),
            ordering_key,
            run_at: now,
            source_event: None,
            coalesce: false,
        });
        for u in &group {
            plan.links.push((u.id.clone(), fields_key.clone()));
            plan.links.push((u.id.clone(), note_key.clone()));
        }
    }
    let mut by_tag: BTreeMap<(&LocationId, &'static str), Vec<&PendingUpdate>> = BTreeMap::new();
    for u in updates {
        by_tag
            .entry((&u.location_id, u.result.outcome.tag()))
            .or_default()
            .push(u);
    }
    for ((location, tag), group) in by_tag {
        for chunk in group.chunks(tags_per_call.max(1)) {
            let mut contacts: Vec<ContactId> =
                chunk.iter().map(|u| u.ghl_contact_id.clone()).collect();
            contacts.sort();
            contacts.dedup();
            let key = format!("broadcast:tags:{tag}:{}", chunk[0].id);
            plan.jobs.push(NewJob {
                location_id: location.clone(),
                command: GhlCommand::BulkAddTags {
                    tags: vec![tag.to_owned()],
                    contacts,
                },
                idempotency_key: key.clone(),
                ordering_key: key.clone(),
                run_at: now,
                source_event: None,
                coalesce: false,
            });
            for u in chunk {
                plan.links.push((u.id.clone(), key.clone()));
            }
        }
    }
    plan
}

/// Why GHL says a contact must not be called: `dnd` on every channel, or the Call
/// channel's `dndSettings.Call.status` active or permanent.
pub fn calls_dnd(contact: &Value) -> Option<&'static str> {
    if contact.get("dnd").and_then(Value::as_bool) == Some(true) {
        return Some("the GHL contact has Do Not Disturb on for every channel");
    }
    let status = contact
        .pointer("/dndSettings/Call/status")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match status.as_deref() {
        Some("active") | Some("permanent") => {
            Some("the GHL contact has Do Not Disturb on for calls")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(id: &str, contact: &str, outcome: CallOutcome, at: Millis) -> PendingUpdate {
        PendingUpdate {
            id: PendingId(id.into()),
            owner_id: OwnerId("o".into()),
            broadcast_id: BroadcastId("b".into()),
            broadcast_name: "Friday Campaign".into(),
            queue_item_id: QueueItemId(format!("q-{id}")),
            location_id: LocationId::from("loc"),
            ghl_contact_id: ContactId::from(contact),
            result: CallResult {
                outcome,
                duration_seconds: 42,
                called_at: at,
                dtmf_pressed: None,
                callback_requested: false,
                callback_time: None,
            },
            retries_spent: false,
            created_at: at,
        }
    }

    #[test]
    fn an_outcome_sets_the_six_fields_and_a_note_naming_everything() {
        let mut u = update("p1", "c1", CallOutcome::Answered, 1_764_000_000_000);
        u.result.dtmf_pressed = Some("1".into());
        u.result.callback_requested = true;
        u.result.callback_time = Some(1_764_086_400_000);
        let fields = outcome_fields(&u);
        let keys: Vec<&str> = BROADCAST_FIELDS.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(
            fields.keys().map(String::as_str).collect::<Vec<_>>().len(),
            6
        );
        for key in keys {
            assert!(fields.contains_key(key), "{key}");
        }
        assert_eq!(fields["broadcast_outcome"], "answered");
        assert_eq!(fields["broadcast_callback_requested"], "true");
        assert_eq!(fields["last_broadcast_date"], "2025-11-24T16:00:00Z");
        assert_eq!(fields["broadcast_callback_time"], "2025-11-25T16:00:00Z");
        let note = outcome_note(&u);
        for part in [
            "Friday Campaign",
            "Human answered",
            "DTMF pressed: 1",
            "requested for 2025-11-25T16:00:00Z",
            "42 s",
            "2025-11-24T16:00:00Z",
        ] {
            assert!(note.contains(part), "{part} in {note}");
        }
        let mut spent = update("p2", "c1", CallOutcome::NoAnswer, 0);
        spent.retries_spent = true;
        assert!(outcome_note(&spent).contains("No answer (max retries)"));
        assert_eq!(
            broadcast_field("last_broadcast_date"),
            Some(("Last Broadcast Date", DataType::Date))
        );
        assert_eq!(
            broadcast_field("broadcast_name").map(|f| f.1),
            Some(DataType::Text)
        );
        assert_eq!(broadcast_field("lead_score"), None);
    }

    #[test]
    fn a_run_makes_two_jobs_per_contact_and_tags_in_bulk() {
        let updates: Vec<PendingUpdate> = (0..250)
            .map(|i| {
                update(
                    &format!("p{i:03}"),
                    &format!("c{i}"),
                    CallOutcome::Voicemail,
                    i,
                )
            })
            .chain([
                update("x1", "c0", CallOutcome::Busy, 1_000),
                update("x2", "c7", CallOutcome::Answered, 2_000),
            ])
            .collect();
        let plan = plan_callbacks(&updates, 5, TAGS_PER_CALL);
        let kinds = |kind: &str| {
            plan.jobs
                .iter()
                .filter(|j| j.command.kind() == kind)
                .count()
        };
        assert_eq!(kinds("update_fields"), 250, "one per contact");
        assert_eq!(kinds("add_note"), 250);
        // 250 voicemails in 3 calls, one busy and one answered in one each.
        assert_eq!(kinds("bulk_add_tags"), 5);
        // Two calls per contact and one per 100 contacts of a tag: 505 for 252 outcomes.
        assert_eq!(plan.jobs.len(), 505);
        // c0's two outcomes: its fields are the later call's, its note tells both.
        let c0 = ContactId::from("c0");
        let fields = plan
            .jobs
            .iter()
            .find_map(|j| match &j.command {
                GhlCommand::UpdateFields {
                    contact,
                    custom_fields,
                } if *contact == c0 => Some(custom_fields.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(fields["broadcast_outcome"], "busy");
        let note = plan
            .jobs
            .iter()
            .find_map(|j| match &j.command {
                GhlCommand::AddNote {
                    contact: ContactRef::Ghl(c),
                    body,
                } if *c == c0 => Some(body.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            note.contains("Voicemail left") && note.contains("Busy"),
            "{note}"
        );
        // Every update waits for three jobs; every key is unique.
        for u in &updates {
            assert_eq!(plan.links.iter().filter(|(p, _)| *p == u.id).count(), 3);
        }
        let mut keys: Vec<&str> = plan
            .jobs
            .iter()
            .map(|j| j.idempotency_key.as_str())
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), plan.jobs.len());
        assert_eq!(
            plan_callbacks(&updates, 5, TAGS_PER_CALL),
            plan,
            "deterministic"
        );
    }

    #[test]
    fn a_status_is_read_from_the_jobs() {
        assert_eq!(PendingStatus::of_jobs(0, 0, 0), PendingStatus::Pending);
        assert_eq!(PendingStatus::of_jobs(3, 1, 0), PendingStatus::Processing);
        assert_eq!(PendingStatus::of_jobs(3, 3, 0), PendingStatus::Sent);
        assert_eq!(PendingStatus::of_jobs(3, 2, 1), PendingStatus::Failed);
    }

    #[test]
    fn dnd_on_every_channel_or_on_calls_refuses_a_number() {
        assert!(calls_dnd(&json!({"dnd": true})).is_some());
        assert!(
            calls_dnd(&json!({"dnd": false, "dndSettings": {"Call": {"status": "active"}}}))
                .is_some()
        );
        assert!(calls_dnd(&json!({"dndSettings": {"Call": {"status": "permanent"}}})).is_some());
        assert!(calls_dnd(&json!({"dnd": false, "dndSettings": {"Call": {"status": "inactive"}, "SMS": {"status": "active"}}})).is_none());
        assert!(calls_dnd(&json!({})).is_none());
    }
}
