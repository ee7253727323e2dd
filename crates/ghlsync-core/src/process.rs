//! What processing an event decides: the mirror updates of a GHL webhook, the jobs of a
//! workflow route. Pure functions of the event (and the route's configuration).

use std::collections::BTreeMap;

use ghl::LocationId;
use ghl::webhooks::{Webhook, WebhookEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Millis;
use crate::changeset::{Changeset, LogEntry, ProfileWrite};
use crate::command::{ContactRef, ContactSync, Forward, GhlCommand, NewJob, value_key};
use crate::event::EventId;
use crate::mirror::{ContactMirror, NoteMirror, OpportunityMirror};
use crate::profile::Profile;
use crate::rules::{Outcome, RuleInput, Trigger};

/// Why an event cannot be processed. Processing is deterministic, so these are permanent:
/// the event is dead-lettered with the message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProcessError {
    /// The payload lacks a field the handler needs.
    #[error("missing field: {0}")]
    MissingField(String),
    /// The payload is not what its type promises.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// Mirror updates for a GHL Marketplace webhook. Event types ghlsync does not mirror are
/// accepted and change nothing.
pub fn ghl_webhook(webhook: &Webhook, received_at: Millis) -> Result<Changeset, ProcessError> {
    let at = webhook.sent_at().map_or(received_at, |t| {
        (t.unix_timestamp_nanos() / 1_000_000) as Millis
    });
    let location = || {
        webhook
            .location_id
            .clone()
            .ok_or_else(|| ProcessError::MissingField("locationId".into()))
    };
    let mut changes = Changeset::default();
    match &webhook.event {
        WebhookEvent::ContactCreate(e)
        | WebhookEvent::ContactUpdate(e)
        | WebhookEvent::ContactTagUpdate(e)
        | WebhookEvent::ContactDndUpdate(e) => {
            let c = ContactMirror::from_event(location()?, e, at, false)
                .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.contacts.push(c);
        }
        WebhookEvent::ContactDelete(e) => {
            let c = ContactMirror::from_event(location()?, e, at, true)
                .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.contacts.push(c);
        }
        WebhookEvent::NoteCreate(e) | WebhookEvent::NoteUpdate(e) => {
            let n = NoteMirror::from_event(location()?, e, at)
                .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.notes.push(n);
        }
        WebhookEvent::NoteDelete(e) => {
            let id =
                e.id.clone()
                    .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.deleted_notes.push((location()?, id));
        }
        WebhookEvent::OpportunityDelete(e) => {
            let id =
                e.id.clone()
                    .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.deleted_opportunities.push((location()?, id));
        }
        WebhookEvent::OpportunityCreate(e)
        | WebhookEvent::OpportunityUpdate(e)
        | WebhookEvent::OpportunityStatusUpdate(e)
        | WebhookEvent::OpportunityStageUpdate(e)
        | WebhookEvent::OpportunityMonetaryValueUpdate(e)
        | WebhookEvent::OpportunityAssignedToUpdate(e) => {
            let o = OpportunityMirror::from_event(location()?, e, at)
                .ok_or_else(|| ProcessError::MissingField("id".into()))?;
            changes.opportunities.push(o);
        }
        // GHL's event, but not in the shape GHL documents for its type: kept raw in the
        // inbox and said in the sync log, so that nothing is mirrored from a guess.
        WebhookEvent::Misshapen {
            event_type, error, ..
        } => {
            changes.log.push(LogEntry {
                location_id: webhook.location_id.clone(),
                kind: "ghl_webhook_misshapen".into(),
                detail: json!({"type": event_type, "webhookId": webhook.webhook_id, "error": error}),
                at: received_at,
            });
        }
        WebhookEvent::Install(_) | WebhookEvent::Uninstall(_) | WebhookEvent::PlanChange(_) => {
            changes.log.push(LogEntry {
                location_id: webhook.location_id.clone(),
                kind: format!(
                    "app_{}",
                    webhook.event_type().unwrap_or("event").to_ascii_lowercase()
                ),
                detail: json!({"webhookId": webhook.webhook_id}),
                at: received_at,
            });
        }
        _ => {}
    }
    Ok(changes)
}

/// The body sent to the application for a GHL event: `type` (normalized), `timestamp`,
/// and `data` with the app's id of the person (`null` for a contact the app never sent),
/// the GHL ids, what changed, and GHL's payload as it came.
fn forward_body(location: &LocationId, event: &RuleInput) -> Value {
    let subject = (!event.subject.starts_with("ghl:")).then_some(event.subject.as_str());
    json!({
        "type": event.trigger.app_name(),
        "timestamp": crate::time::format_rfc3339_ms(event.occurred_at),
        "data": {
            "subject": subject,
            "location_id": location,
            "contact_id": event.contact_id,
            "changes": event.changes,
            "ghl": event.data,
        },
    })
}

/// What an event that ran the rules changes, once they have decided (`outcome`): the
/// person's profile, a sync-log line under the event's type (`user_deleted`, as seed 000
/// logs it), and the jobs: one contact sync with every tag and field change, one job per
/// note and opportunity change, and the forwarding of a GHL event. Without a known email
/// or phone GHL cannot match the contact, so contact changes are logged as skipped instead
/// of queued.
pub fn rule_outcome(
    location: &LocationId,
    id: EventId,
    event: &RuleInput,
    mut profile: Profile,
    version: i64,
    outcome: &Outcome,
    received_at: Millis,
) -> Changeset {
    profile.intent.apply(event, outcome);
    let mut changes = Changeset::default();
    let mut detail = json!({
        "id": event.id,
        "subject": event.subject,
        "occurred_at": event.occurred_at,
        "rules": outcome.matched.iter().map(|m| m.rule.as_str()).collect::<Vec<_>>(),
    });
    if outcome.forward {
        changes.jobs.push(NewJob {
            location_id: location.clone(),
            command: GhlCommand::Forward(Forward {
                id: event.id.clone(),
                body: forward_body(location, event),
            }),
            idempotency_key: format!("{id}:forward"),
            // A person's events reach the app in order.
            ordering_key: format!("forward:{}", event.subject),
            run_at: received_at,
            source_event: Some(id),
            coalesce: false,
        });
    }
    let key = profile.contact_key();
    match key {
        _ if !outcome.changes_ghl() => {}
        None => detail["skipped"] = json!("no email or phone is known for this subject"),
        Some(key) => {
            let ordering_key = format!("contact:{key}");
            let contact_changes = !outcome.add_tags.is_empty()
                || !outcome.remove_tags.is_empty()
                || !outcome.fields.is_empty()
                || !outcome.custom_fields.is_empty();
            // The first note must find the contact, so the sync always comes first.
            if contact_changes || !outcome.notes.is_empty() || !outcome.opportunities.is_empty() {
                changes.jobs.push(NewJob {
                    location_id: location.clone(),
                    command: GhlCommand::SyncContact(ContactSync {
                        subject: Some(event.subject.clone()),
                        email: profile.email.clone(),
                        phone: profile.phone.clone(),
                        fields: outcome.fields.clone(),
                        custom_fields: outcome.custom_fields.clone(),
                        add_tags: outcome.add_tags.iter().cloned().collect(),
                        remove_tags: outcome.remove_tags.iter().cloned().collect(),
                        full: false,
                        decided_at: decided_at(outcome, event.occurred_at),
                    }),
                    idempotency_key: format!("{id}:0"),
                    ordering_key: ordering_key.clone(),
                    run_at: received_at,
                    source_event: Some(id),
                    coalesce: true,
                });
            }
            // After the contact sync (same ordering key), so a new contact exists first.
            for (i, change) in outcome.opportunities.iter().enumerate() {
                changes.jobs.push(NewJob {
                    location_id: location.clone(),
                    command: GhlCommand::SyncOpportunity {
                        contact: ContactRef::Subject(event.subject.clone()),
                        change: change.clone(),
                    },
                    idempotency_key: format!("{id}:opportunity:{i}"),
                    ordering_key: ordering_key.clone(),
                    run_at: received_at,
                    source_event: Some(id),
                    coalesce: false,
                });
            }
            for (i, note) in outcome.notes.iter().enumerate() {
                changes.jobs.push(NewJob {
                    location_id: location.clone(),
                    command: GhlCommand::AddNote {
                        contact: ContactRef::Subject(event.subject.clone()),
                        body: note.clone(),
                    },
                    idempotency_key: format!("{id}:note:{i}"),
                    ordering_key: ordering_key.clone(),
                    run_at: received_at,
                    source_event: Some(id),
                    coalesce: false,
                });
            }
        }
    }
    changes.log.push(LogEntry {
        location_id: Some(location.clone()),
        kind: match event.trigger {
            Trigger::App(t) => t.as_str().replace('.', "_"),
            Trigger::Ghl(_) => format!("ghl_{}", event.trigger.app_name().replace('.', "_")),
            Trigger::Bridge(t) => t.replace('.', "_"),
        },
        detail,
        at: received_at,
    });
    changes.profiles.push(ProfileWrite {
        location_id: location.clone(),
        profile,
        version,
    });
    changes
}

/// Every value of an outcome, stamped with the event's time.
fn decided_at(outcome: &Outcome, at: Millis) -> BTreeMap<String, Millis> {
    let fields = outcome.fields.keys().map(|k| value_key::field(k));
    let custom = outcome.custom_fields.keys().map(|k| value_key::custom(k));
    let tags = outcome
        .add_tags
        .iter()
        .chain(&outcome.remove_tags)
        .map(|t| value_key::tag(t));
    fields.chain(custom).chain(tags).map(|k| (k, at)).collect()
}

/// A value taken from the event payload, or a constant.
///
/// In configuration: a string starting with `$.` is a path (`$.contact.email`); several
/// paths separated by `|` are tried in order; anything else is a literal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValueSource {
    /// A path or alternatives, or a literal string.
    Text(String),
    /// A literal number, boolean, list or object.
    Literal(Value),
}

impl ValueSource {
    /// Resolves against a payload; `None` when every path is missing or empty.
    pub fn resolve(&self, payload: &Value) -> Option<Value> {
        match self {
            Self::Text(s) if s.starts_with("$.") => s.split('|').map(str::trim).find_map(|p| {
                let v = lookup(payload, p.trim_start_matches("$."))?;
                (!is_blank(v)).then(|| v.clone())
            }),
            Self::Text(s) => Some(Value::String(s.clone())),
            Self::Literal(v) => Some(v.clone()),
        }
    }
}

fn is_blank(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// `a.b.0.c` in a JSON value.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(v, |cur, seg| match cur {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        })
}

/// Upsert the payload's person as a GHL contact, with tags and fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpsertContactAction {
    /// Tags to add.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Standard GHL fields (`email`, `phone`, `firstName`, ...) and where to find them, in
    /// addition to (and over) the names GHL's workflow "Webhook" action sends.
    #[serde(default)]
    pub fields: BTreeMap<String, ValueSource>,
    /// Custom fields by key and where to find them.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, ValueSource>,
    /// Only `fields` are read: the default names are not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_default_fields: bool,
}

/// What a workflow route does with an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteAction {
    /// Upsert a contact in GHL.
    UpsertContact(UpsertContactAction),
}

/// Standard fields of GHL's workflow "Webhook" action payload (and common variants).
fn default_fields() -> &'static BTreeMap<String, ValueSource> {
    static FIELDS: std::sync::LazyLock<BTreeMap<String, ValueSource>> =
        std::sync::LazyLock::new(build_default_fields);
    &FIELDS
}

fn build_default_fields() -> BTreeMap<String, ValueSource> {
    let p = |s: &str| ValueSource::Text(s.to_owned());
    BTreeMap::from([
        ("email".to_owned(), p("$.email|$.contact.email")),
        ("phone".to_owned(), p("$.phone|$.contact.phone")),
        (
            "firstName".to_owned(),
            p("$.first_name|$.firstName|$.contact.first_name"),
        ),
        (
            "lastName".to_owned(),
            p("$.last_name|$.lastName|$.contact.last_name"),
        ),
        ("name".to_owned(), p("$.full_name|$.name|$.contact.name")),
        (
            "companyName".to_owned(),
            p("$.company_name|$.companyName|$.contact.company_name"),
        ),
        ("source".to_owned(), p("$.source|$.contact.source")),
    ])
}

impl UpsertContactAction {
    /// The field mapping in force, once the payload is known to be an object: the defaults
    /// with the route's own fields over them, or the route's fields alone.
    fn mapping_for(
        &self,
        payload: &Value,
    ) -> Result<std::borrow::Cow<'_, BTreeMap<String, ValueSource>>, ProcessError> {
        use std::borrow::Cow;
        if !payload.is_object() {
            return Err(ProcessError::Malformed(
                "the body must be a JSON object".into(),
            ));
        }
        Ok(if self.without_default_fields {
            Cow::Borrowed(&self.fields)
        } else if self.fields.is_empty() {
            Cow::Borrowed(default_fields())
        } else {
            let mut mapping = default_fields().clone();
            mapping.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            Cow::Owned(mapping)
        })
    }

    /// What [`build`](Self::build) checks, without building: ingress's fast path.
    pub fn check(&self, payload: &Value) -> Result<(), ProcessError> {
        let mapping = self.mapping_for(payload)?;
        let found = |field: &str| {
            mapping
                .get(field)
                .and_then(|s| s.resolve(payload))
                .is_some_and(|v| v.is_string())
        };
        if found("email") || found("phone") {
            Ok(())
        } else {
            Err(ProcessError::MissingField("email or phone".into()))
        }
    }

    /// The contact sync this payload asks for; fails when neither email nor phone is found,
    /// because GHL can only match (and so deduplicate) on those.
    pub fn build(&self, payload: &Value) -> Result<ContactSync, ProcessError> {
        let mapping = self.mapping_for(payload)?;
        let mut sync = ContactSync {
            add_tags: self.tags.clone(),
            ..ContactSync::default()
        };
        for (field, source) in mapping.iter() {
            let Some(value) = source.resolve(payload) else {
                continue;
            };
            match field.as_str() {
                "email" => sync.email = value.as_str().map(|s| s.trim().to_owned()),
                "phone" => sync.phone = value.as_str().map(|s| s.trim().to_owned()),
                _ => {
                    sync.fields.insert(field.clone(), value);
                }
            }
        }
        for (key, source) in &self.custom_fields {
            if let Some(value) = source.resolve(payload) {
                sync.custom_fields.insert(key.clone(), value);
            }
        }
        if sync.email.is_none() && sync.phone.is_none() {
            return Err(ProcessError::MissingField("email or phone".into()));
        }
        Ok(sync)
    }
}

/// The jobs of a workflow event.
pub fn workflow_event(
    action: &RouteAction,
    location_id: &LocationId,
    event: EventId,
    payload: &Value,
    now: Millis,
) -> Result<Changeset, ProcessError> {
    let RouteAction::UpsertContact(upsert) = action;
    let sync = upsert.build(payload)?;
    let ordering_key = format!(
        "contact:{}",
        sync.email
            .as_deref()
            .map(str::to_lowercase)
            .or_else(|| sync.phone.clone())
            .unwrap_or_default()
    );
    Ok(Changeset {
        jobs: vec![NewJob {
            location_id: location_id.clone(),
            command: GhlCommand::SyncContact(sync),
            idempotency_key: format!("{event}:0"),
            ordering_key,
            run_at: now,
            source_event: Some(event),
            coalesce: true,
        }],
        ..Changeset::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mapping_reads_ghls_webhook_action_fields() {
        let action = UpsertContactAction {
            tags: vec!["lead".into()],
            ..Default::default()
        };
        let sync = action
            .build(
                &json!({"first_name": "Ana", "email": " ana@x.co ", "contact": {"phone": "+1555"}}),
            )
            .unwrap();
        assert_eq!(sync.email.as_deref(), Some("ana@x.co"));
        assert_eq!(sync.phone.as_deref(), Some("+1555"));
        assert_eq!(sync.fields["firstName"], "Ana");
        assert_eq!(sync.add_tags, vec!["lead"]);
    }

    #[test]
    fn paths_alternatives_and_literals() {
        let payload = json!({"a": {"b": [ {"c": 1} ]}, "empty": ""});
        assert_eq!(
            ValueSource::Text("$.a.b.0.c".into()).resolve(&payload),
            Some(json!(1))
        );
        assert_eq!(
            ValueSource::Text("$.empty|$.a.b.0.c".into()).resolve(&payload),
            Some(json!(1))
        );
        assert_eq!(ValueSource::Text("$.nope".into()).resolve(&payload), None);
        assert_eq!(
            ValueSource::Text("fixed".into()).resolve(&payload),
            Some(json!("fixed"))
        );
        assert_eq!(
            ValueSource::Literal(json!(5)).resolve(&payload),
            Some(json!(5))
        );
    }

    /// `--field firstName=$.first_name`, as the README shows it, adds to the default names:
    /// the email and phone are still found.
    #[test]
    fn explicit_fields_add_to_the_defaults_unless_told_otherwise() {
        let mut action = UpsertContactAction {
            fields: BTreeMap::from([(
                "firstName".to_owned(),
                ValueSource::Text("$.lead.given".into()),
            )]),
            ..Default::default()
        };
        let payload = json!({"email": "a@b.co", "first_name": "Default", "lead": {"given": "Ana"}});
        assert_eq!(action.check(&payload), Ok(()));
        let sync = action.build(&payload).unwrap();
        assert_eq!(sync.email.as_deref(), Some("a@b.co"));
        assert_eq!(sync.fields["firstName"], "Ana", "the route's own path wins");
        action.without_default_fields = true;
        assert_eq!(
            action.check(&payload),
            Err(ProcessError::MissingField("email or phone".into()))
        );
    }

    #[test]
    fn email_or_phone_is_required() {
        let action = UpsertContactAction::default();
        assert_eq!(
            action.check(&json!({"first_name": "x"})),
            Err(ProcessError::MissingField("email or phone".into()))
        );
        assert_eq!(action.check(&json!({"phone": "+1555"})), Ok(()));
        assert_eq!(
            action.build(&json!({"first_name": "x"})),
            Err(ProcessError::MissingField("email or phone".into()))
        );
        assert!(matches!(
            action.build(&json!([1])),
            Err(ProcessError::Malformed(_))
        ));
    }

    #[test]
    fn contact_webhooks_become_mirror_rows_and_unknown_types_change_nothing() {
        let w = Webhook::parse(
            br#"{"type":"ContactTagUpdate","locationId":"L","id":"C","tags":["a"],"customFields":[{"id":"f","value":3}],"timestamp":"2026-01-01T00:00:00.000Z"}"#,
        )
        .unwrap();
        let c = ghl_webhook(&w, 5).unwrap();
        assert_eq!(c.contacts.len(), 1);
        assert_eq!(c.contacts[0].tags, vec!["a"]);
        assert_eq!(c.contacts[0].custom_fields["f"], 3);
        assert_eq!(c.contacts[0].updated_at, 1_767_225_600_000);
        let other = Webhook::parse(br#"{"type":"InvoicePaid","locationId":"L"}"#).unwrap();
        assert!(ghl_webhook(&other, 5).unwrap().is_empty());
        let no_location = Webhook::parse(br#"{"type":"NoteCreate","id":"n"}"#).unwrap();
        assert_eq!(
            ghl_webhook(&no_location, 5),
            Err(ProcessError::MissingField("locationId".into()))
        );
    }
}
