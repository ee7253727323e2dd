//! A person's sync, looked at and repaired: `GET /api/v1/contacts/{app_id}/diagnosis`,
//! `POST /api/v1/contacts/{app_id}/resync` and `ghlsync diagnose|resync`.
//!
//! A diagnosis puts side by side what the rules want on the person's GHL contact (with
//! the rule and event behind every tag), the local mirror (what ghlsync last saw in GHL)
//! and the live contact, read from GHL through the location's rate limiter, and lists
//! where the live contact differs from what the rules want. A resync queues one contact
//! sync with everything the rules want, sent whole (the mirror is not trusted).

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use ghl::{ContactId, LocationId};
use ghlsync_core::intent::{Intent, Origin};
use ghlsync_core::{GhlCommand, JobState, NewJob};
use ghlsync_store::{JobFilter, Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use ghlsync_core::mirror::same_value;

use crate::connectors::ghl::Ghl;
use crate::error::ApiError;

/// A contact's tags and fields, custom fields by key.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContactView {
    /// Tags.
    pub tags: Vec<String>,
    /// Standard fields that are set.
    pub fields: BTreeMap<String, Value>,
    /// Custom fields by key (by id when the key is unknown).
    pub custom_fields: BTreeMap<String, Value>,
}

/// Where the live contact is not what the rules want.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    /// `tag`, `field` or `custom_field`.
    pub kind: &'static str,
    /// The tag or field.
    pub name: String,
    /// What the rules want (`present` / `absent` for tags).
    pub wanted: Value,
    /// What GHL has.
    pub ghl: Value,
    /// The rule and event behind a tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// A job of this person not delivered yet, or dead.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Command kind.
    pub kind: &'static str,
    /// State.
    pub state: JobState,
    /// Last error.
    pub error: Option<String>,
}

/// Everything a diagnosis shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The app's id.
    pub subject: String,
    /// Location.
    pub location_id: LocationId,
    /// The linked GHL contact, once a sync created or found it.
    pub contact_id: Option<ContactId>,
    /// What the rules want, with every tag's rule and event.
    pub intent: Intent,
    /// The local mirror.
    pub local: Option<ContactView>,
    /// The live contact.
    pub ghl: Option<ContactView>,
    /// Why the live contact is missing, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghl_error: Option<String>,
    /// Where GHL differs from what the rules want (against the mirror when GHL could not
    /// be read).
    pub differences: Vec<Difference>,
    /// Jobs queued, running or dead for this person.
    pub jobs: Vec<JobView>,
}

fn store_error(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "diagnosis: store failed");
    ApiError::too_many("unavailable", "the store is unavailable; retry later", 5)
}

fn unknown_subject(subject: &str) -> ApiError {
    ApiError::not_found(
        "unknown_subject",
        format!("no event about {subject:?} has been processed in this location"),
    )
    .field("app_id")
}

fn view(payload: &Value, tags: &[String], custom: BTreeMap<String, Value>) -> ContactView {
    ContactView {
        tags: tags.to_vec(),
        fields: ghlsync_core::rules::STANDARD_FIELDS
            .iter()
            .filter_map(|f| {
                let v = payload.get(*f)?;
                (!v.is_null()).then(|| ((*f).to_owned(), v.clone()))
            })
            .collect(),
        custom_fields: custom,
    }
}

/// A custom field's key by id, or the id when the key is unknown.
fn key_of(keys: &HashMap<String, String>, id: &str) -> String {
    keys.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

/// Where `have` differs from `intent`.
fn differences(intent: &Intent, have: &ContactView) -> Vec<Difference> {
    let has_tag = |t: &str| have.tags.iter().any(|h| h.eq_ignore_ascii_case(t));
    let mut out = Vec::new();
    for (tag, origin) in &intent.tags {
        if !has_tag(tag) {
            out.push(Difference {
                kind: "tag",
                name: tag.clone(),
                wanted: json!("present"),
                ghl: json!("absent"),
                origin: Some(origin.clone()),
            });
        }
    }
    for (tag, origin) in &intent.removed_tags {
        if has_tag(tag) {
            out.push(Difference {
                kind: "tag",
                name: tag.clone(),
                wanted: json!("absent"),
                ghl: json!("present"),
                origin: Some(origin.clone()),
            });
        }
    }
    for (kind, wanted, have) in [
        ("field", &intent.fields, &have.fields),
        ("custom_field", &intent.custom_fields, &have.custom_fields),
    ] {
        for (name, value) in wanted {
            let current = have.get(name).cloned().unwrap_or(Value::Null);
            if !same_value(value, &current) {
                out.push(Difference {
                    kind,
                    name: name.clone(),
                    wanted: value.clone(),
                    ghl: current,
                    origin: None,
                });
            }
        }
    }
    out
}

/// The diagnosis of one person.
pub async fn diagnose(
    app: &App,
    location_id: &LocationId,
    subject: &str,
) -> Result<Diagnosis, ApiError> {
    let store = app.store();
    let (profile, _) = store
        .profile(location_id, subject)
        .await
        .map_err(store_error)?
        .ok_or_else(|| unknown_subject(subject))?;
    let location = app
        .location(location_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("unknown_location", "the location is not registered"))?;
    let contact_id = store
        .linked_contact(location_id, subject)
        .await
        .map_err(store_error)?;
    let mut local = None;
    let mut live = None;
    let mut ghl_error = None;
    if let Some(id) = &contact_id {
        let mirror = store.contact(location_id, id).await.map_err(store_error)?;
        // The mirror keys custom fields by id; the live read gives the keys (without it,
        // the ids are shown).
        let mut keys = HashMap::new();
        match Ghl::new(app, &location) {
            Ok(ghl) => match ghl.live_contact(id).await {
                Ok((contact, field_keys)) => {
                    keys = field_keys;
                    let payload = serde_json::to_value(&contact).unwrap_or(Value::Null);
                    let custom = contact
                        .custom_fields
                        .iter()
                        .map(|f| (key_of(&keys, f.id.as_str()), f.value.clone()))
                        .collect();
                    live = Some(view(&payload, &contact.tags, custom));
                }
                Err(e) => ghl_error = Some(e.to_string()),
            },
            Err(e) => ghl_error = Some(e.to_string()),
        }
        local = mirror.map(|m| {
            let custom = m
                .custom_fields
                .iter()
                .map(|(id, v)| (key_of(&keys, id), v.clone()))
                .collect();
            view(&m.payload, &m.tags, custom)
        });
    } else {
        ghl_error = Some("no GHL contact is linked yet: no contact sync has been delivered".into());
    }
    let differences = live
        .as_ref()
        .or(local.as_ref())
        .map(|have| differences(&profile.intent, have))
        .unwrap_or_default();
    let jobs = person_jobs(app, location_id, subject, profile.contact_key().as_deref()).await?;
    Ok(Diagnosis {
        subject: subject.to_owned(),
        location_id: location_id.clone(),
        contact_id,
        intent: profile.intent,
        local,
        ghl: live,
        ghl_error,
        differences,
        jobs,
    })
}

/// Queued, running and dead jobs of the person (by the contact's ordering key).
async fn person_jobs(
    app: &App,
    location_id: &LocationId,
    subject: &str,
    contact_key: Option<&str>,
) -> Result<Vec<JobView>, ApiError> {
    let mut out = Vec::new();
    for state in [JobState::Queued, JobState::Running, JobState::Dead] {
        let jobs = app
            .store()
            .list_jobs(&JobFilter {
                state: Some(state),
                location_id: Some(location_id.clone()),
                limit: Some(1_000),
                ..JobFilter::default()
            })
            .await
            .map_err(store_error)?;
        out.extend(
            jobs.iter()
                .filter(|j| {
                    contact_key.is_some_and(|k| j.ordering_key == format!("contact:{k}"))
                        || matches!(&j.command, GhlCommand::SyncContact(s) if s.subject.as_deref() == Some(subject))
                })
                .map(|j| JobView {
                    id: j.id.0,
                    kind: j.command.kind(),
                    state: j.state,
                    error: j.last_error.clone(),
                }),
        );
    }
    Ok(out)
}

/// Queues a full push of what the rules want; true when a new job was queued (false when
/// it merged into a sync of the person still waiting).
pub async fn resync(app: &App, location_id: &LocationId, subject: &str) -> Result<bool, ApiError> {
    let (profile, _) = app
        .store()
        .profile(location_id, subject)
        .await
        .map_err(store_error)?
        .ok_or_else(|| unknown_subject(subject))?;
    let (Some(sync), Some(key)) = (profile.intent.full_sync(&profile), profile.contact_key())
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_contact_key",
            format!("no email or phone is known for {subject:?}, so GHL cannot match a contact"),
        ));
    };
    let now = now_ms();
    let job = NewJob {
        location_id: location_id.clone(),
        command: GhlCommand::SyncContact(sync),
        idempotency_key: format!("resync:{location_id}:{subject}:{now}"),
        ordering_key: format!("contact:{key}"),
        run_at: now,
        source_event: None,
        coalesce: true,
    };
    let new = app
        .store()
        .enqueue_jobs(&[job], now)
        .await
        .map_err(store_error)?;
    app.wake_dispatcher().notify_waiters();
    Ok(new == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_missing_and_unwanted_tags_and_changed_fields() {
        let origin = Origin {
            rule: "r".into(),
            event_id: "e1".into(),
            event_type: "user.registered".into(),
            occurred_at: 0,
        };
        let intent = Intent {
            tags: [
                ("a".to_owned(), origin.clone()),
                ("b".to_owned(), origin.clone()),
            ]
            .into(),
            removed_tags: [("c".to_owned(), origin)].into(),
            fields: [("companyName".to_owned(), json!("Acme"))].into(),
            custom_fields: [("lead_score".to_owned(), json!(40))].into(),
        };
        let have = ContactView {
            tags: vec!["A".into(), "c".into()],
            fields: [("companyName".to_owned(), json!("Acme"))].into(),
            custom_fields: [("lead_score".to_owned(), json!("35"))].into(),
        };
        let d = differences(&intent, &have);
        let names: Vec<(&str, &str)> = d.iter().map(|d| (d.kind, d.name.as_str())).collect();
        assert_eq!(
            names,
            [("tag", "b"), ("tag", "c"), ("custom_field", "lead_score")]
        );
        assert_eq!(d[0].origin.as_ref().unwrap().event_id, "e1");
        assert_eq!(d[2].ghl, json!("35"));
    }
}
