//! GHL's contact effects: a contact sync (an upsert with only what GHL lacks, then tags
//! added and removed, the mirror updated from GHL's answer) and a note (looked up before it
//! is created again when an earlier run may have reached GHL).

use ghl::LocationId;
use ghl::contacts::{
    BulkTagAction, BulkTags, ContactFields, ContactUpdate, CustomFieldInput, NewNote, UpsertContact,
};
use ghlsync_core::changeset::{IdLink, LocationSync, LogEntry};
use ghlsync_core::command::{ContactRef, value_key};
use ghlsync_core::mirror::same_value;
use ghlsync_core::{Changeset, ContactMirror, ContactSync, Job, Millis, NoteMirror, SyncStatus};
use ghlsync_store::Store;
use serde_json::{Value, json};

use super::calls::{Ghl, GhlCall};
use crate::app::now_ms;
use crate::delivery::{JobError, permanent};

/// Standard contact fields a job may set, by GHL name.
const CONTACT_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "companyName",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "source",
    "dateOfBirth",
    "country",
    "assignedTo",
    "gender",
];

/// The upsert body of a contact sync (tags are handled separately: an upsert replaces them).
fn upsert_body(
    location_id: &LocationId,
    sync: &ContactSync,
    custom: Vec<CustomFieldInput>,
) -> Result<UpsertContact, JobError> {
    let mut body = serde_json::Map::new();
    body.insert("locationId".into(), json!(location_id));
    if let Some(email) = &sync.email {
        body.insert("email".into(), json!(email));
    }
    if let Some(phone) = &sync.phone {
        body.insert("phone".into(), json!(phone));
    }
    for (field, value) in &sync.fields {
        if !CONTACT_FIELDS.contains(&field.as_str()) {
            return Err(permanent(format!("{field:?} is not a GHL contact field")));
        }
        body.insert(field.clone(), value.clone());
    }
    if !custom.is_empty() {
        body.insert("customFields".into(), json!(custom));
    }
    serde_json::from_value(Value::Object(body))
        .map_err(|e| permanent(format!("contact fields: {e}")))
}

/// The mirror's copy of the contact a sync is for: found through the id map, and not
/// deleted.
async fn known_contact(
    ghl: &Ghl<'_>,
    sync: &ContactSync,
) -> Result<Option<ContactMirror>, JobError> {
    let Some(subject) = &sync.subject else {
        return Ok(None);
    };
    let store = ghl.app.store();
    let transient = |e: ghlsync_store::StoreError| JobError::Transient(e.to_string());
    let Some(id) = store
        .linked_contact(&ghl.location.id, subject)
        .await
        .map_err(transient)?
    else {
        return Ok(None);
    };
    Ok(store
        .contact(&ghl.location.id, &id)
        .await
        .map_err(transient)?
        .filter(|c| !c.deleted))
}

/// A sync's values, in the mirror's keys (custom fields by id), with when the application
/// decided each.
struct Decided {
    /// Mirror key (`field:firstName`, `custom:<id>`, `tag:vip`) -> decided at.
    at: std::collections::BTreeMap<String, Millis>,
}

impl Decided {
    fn new(sync: &ContactSync, custom: &[(String, CustomFieldInput)]) -> Self {
        let mut at = sync.decided_at.clone();
        for (key, input) in custom {
            if let (Some(t), Some(id)) = (at.remove(&value_key::custom(key)), &input.id) {
                at.insert(value_key::custom(id.as_str()), t);
            }
        }
        Self { at }
    }

    /// True when the value GHL holds is newer than the application's decision: a person
    /// changed it later, or a later decision was already written. GHL's value stays (last
    /// writer per value, by time).
    fn ghl_is_newer(&self, known: &ContactMirror, key: &str) -> bool {
        self.at
            .get(key)
            .is_some_and(|decided| known.times.effective(key).is_some_and(|t| t > *decided))
    }
}

/// What a sync still sends, given the mirror's copy of the contact: a value GHL changed
/// after the application decided it is kept (unless the sync is a forced resync), and with
/// `skip_known` (coalescing) a value GHL already holds is not sent again. Returns the
/// keys kept because GHL's value is newer.
fn still_to_send(
    sync: &ContactSync,
    custom: Vec<(String, CustomFieldInput)>,
    known: &ContactMirror,
    decided: &Decided,
    skip_known: bool,
) -> (ContactSync, Vec<CustomFieldInput>, Vec<String>) {
    let mut kept = Vec::new();
    let mut keep = |key: String, held_equal: bool| {
        if !sync.full && decided.ghl_is_newer(known, &key) && !held_equal {
            kept.push(key);
            return false;
        }
        !(skip_known && !sync.full && held_equal)
    };
    let mut fields = sync.fields.clone();
    fields.retain(|name, value| {
        let equal = known
            .payload
            .get(name)
            .is_some_and(|have| same_value(have, value));
        keep(value_key::field(name), equal)
    });
    let custom = custom
        .into_iter()
        .filter(|(_, f)| {
            let id = f.id.as_ref().map(|id| id.as_str().to_owned());
            let have = id.as_ref().and_then(|id| known.custom_fields.get(id));
            let equal = have.is_some_and(|have| same_value(have, &f.field_value));
            keep(value_key::custom(id.as_deref().unwrap_or_default()), equal)
        })
        .map(|(_, f)| f)
        .collect();
    let has = |t: &String| known.tags.iter().any(|k| k.eq_ignore_ascii_case(t.trim()));
    let add_tags = sync
        .add_tags
        .iter()
        .filter(|t| keep(value_key::tag(t), has(t)))
        .cloned()
        .collect();
    let remove_tags = sync
        .remove_tags
        .iter()
        .filter(|t| keep(value_key::tag(t), !has(t)))
        .cloned()
        .collect();
    (
        ContactSync {
            fields,
            add_tags,
            remove_tags,
            ..sync.clone()
        },
        custom,
        kept,
    )
}

pub(super) async fn sync_contact(
    ghl: &Ghl<'_>,
    job: &Job,
    sync: &ContactSync,
) -> Result<(Value, Changeset), JobError> {
    if sync.email.is_none() && sync.phone.is_none() {
        return Err(permanent(
            "a contact sync needs an email or a phone for GHL to match on",
        ));
    }
    let resolved = ghl.resolve_custom_fields(&sync.custom_fields).await?;
    let custom: Vec<(String, CustomFieldInput)> =
        sync.custom_fields.keys().cloned().zip(resolved).collect();
    let mut decided = Decided::new(sync, &custom);
    let known = known_contact(ghl, sync).await?;
    let skip_known = ghl.app.config().processor.coalesce;
    let (sync, custom, kept) = match &known {
        Some(known) => still_to_send(sync, custom, known, &decided, skip_known),
        None => (
            sync.clone(),
            custom.into_iter().map(|(_, f)| f).collect(),
            Vec::new(),
        ),
    };
    // GHL's newer values stay, and keep their own times.
    decided.at.retain(|key, _| !kept.contains(key));
    let mut calls = 0;
    // With the contact known and every value already in GHL, the upsert is skipped.
    let (mut contact, new) = match &known {
        Some(known) if skip_known && !sync.full && sync.fields.is_empty() && custom.is_empty() => {
            (known.clone(), false)
        }
        _ => {
            let body = upsert_body(&ghl.location.id, &sync, custom)?;
            let upserted = ghl
                .call(GhlCall::UpsertContact, |c| async move {
                    c.upsert_contact(&body).await
                })
                .await?;
            calls += 1;
            let mirror =
                ContactMirror::from_contact(ghl.location.id.clone(), &upserted.contact, now_ms());
            (mirror, upserted.new)
        }
    };
    let partial = |e: JobError| match e {
        JobError::Permanent { message, .. } => JobError::Permanent {
            message,
            partial: true,
        },
        other => other,
    };
    // Only what GHL does not have yet (the upsert answer or the mirror has the tags), and
    // removals against the tags the additions left.
    for add in [true, false] {
        let wanted = if add {
            &sync.add_tags
        } else {
            &sync.remove_tags
        };
        let tags: Vec<String> = wanted
            .iter()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty() && contact.tags.contains(t) != add)
            .collect();
        if tags.is_empty() {
            continue;
        }
        let id = contact.contact_id.clone();
        let what = if add {
            GhlCall::AddTags
        } else {
            GhlCall::RemoveTags
        };
        contact.tags = ghl
            .call(what, |c| async move {
                if add {
                    c.add_tags(&id, &tags).await
                } else {
                    c.remove_tags(&id, &tags).await
                }
            })
            .await
            .map_err(partial)?;
        calls += 1;
    }
    let now = now_ms();
    let contact_id = contact.contact_id.clone();
    contact.updated_at = now;
    let mut changes = Changeset {
        log: vec![LogEntry {
            location_id: Some(ghl.location.id.clone()),
            kind: "contact_synced".into(),
            detail: json!({
                "job": job.id.0, "contactId": contact_id, "new": new, "calls": calls,
                "kept_newer_in_ghl": kept,
            }),
            at: now,
        }],
        location_sync: vec![LocationSync {
            location_id: ghl.location.id.clone(),
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    if calls > 0 {
        // GHL's answer folded into the mirror, with when the application decided the
        // values written: GHL's echoes of them then change nothing, and the webhooks of the
        // moments between this job's calls are older than this row.
        let row = match known.filter(|k| k.contact_id == contact_id) {
            Some(mut row) => {
                row.absorb(&contact, &decided.at);
                row
            }
            None => contact.stamped(&decided.at),
        };
        changes.contacts.push(row);
    }
    if let Some(subject) = &sync.subject {
        changes.id_links.push(IdLink {
            location_id: ghl.location.id.clone(),
            subject: subject.clone(),
            contact_id: contact_id.clone(),
        });
    }
    Ok((
        json!({"contactId": contact_id, "new": new, "calls": calls, "kept": kept}),
        changes,
    ))
}

pub(super) async fn add_note(
    ghl: &Ghl<'_>,
    job: &Job,
    contact: &ContactRef,
    body: &str,
) -> Result<(Value, Changeset), JobError> {
    let contact_id = ghl.contact_id(contact).await?;
    // An earlier run may have created the note and died before recording it.
    if job.may_have_run() {
        let id = contact_id.clone();
        let notes = ghl
            .call(
                GhlCall::ListNotes,
                |c| async move { c.list_notes(&id).await },
            )
            .await?;
        if let Some(existing) = notes.iter().find(|n| n.body.as_deref() == Some(body)) {
            return Ok((
                json!({"noteId": existing.id, "existing": true}),
                Changeset::default(),
            ));
        }
    }
    let note = NewNote::new(body);
    let id = contact_id.clone();
    let created = ghl
        .call(
            GhlCall::AddNote,
            |c| async move { c.add_note(&id, &note).await },
        )
        .await?;
    let now = now_ms();
    let changes = Changeset {
        notes: vec![NoteMirror {
            location_id: ghl.location.id.clone(),
            note_id: created.id.clone(),
            contact_id: Some(contact_id),
            body: created.body.clone(),
            updated_at: now,
        }],
        location_sync: vec![LocationSync {
            location_id: ghl.location.id.clone(),
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    Ok((json!({"noteId": created.id}), changes))
}

/// Sets custom fields of a known contact (`PUT /contacts/{id}`, only `customFields`), and
/// folds GHL's answer into the mirror with the written values marked as ghlsync's, so
/// their echoes change nothing.
pub(super) async fn update_fields(
    ghl: &Ghl<'_>,
    job: &Job,
    contact: &ghl::ContactId,
    values: &std::collections::BTreeMap<String, Value>,
) -> Result<(Value, Changeset), JobError> {
    let custom = ghl.resolve_custom_fields(values).await?;
    let decided_keys: Vec<String> = custom
        .iter()
        .filter_map(|f| f.id.as_ref().map(|id| value_key::custom(id.as_str())))
        .collect();
    let update = ContactUpdate::from(ContactFields {
        custom_fields: Some(custom),
        ..ContactFields::default()
    });
    let id = contact.clone();
    let updated = ghl
        .call(GhlCall::UpdateContact, |c| async move {
            c.update_contact(&id, &update).await
        })
        .await?;
    let now = now_ms();
    let decided: std::collections::BTreeMap<String, Millis> =
        decided_keys.into_iter().map(|k| (k, now)).collect();
    let answer = ContactMirror::from_contact(ghl.location.id.clone(), &updated, now);
    let row = match known_row(ghl, contact).await? {
        Some(mut row) => {
            row.absorb(&answer, &decided);
            row
        }
        None => answer.stamped(&decided),
    };
    let changes = Changeset {
        contacts: vec![row],
        log: vec![LogEntry {
            location_id: Some(ghl.location.id.clone()),
            kind: "contact_fields_set".into(),
            detail: json!({"job": job.id.0, "contactId": contact, "fields": values.keys().collect::<Vec<_>>()}),
            at: now,
        }],
        location_sync: vec![success(ghl, now)],
        ..Changeset::default()
    };
    Ok((json!({"contactId": contact}), changes))
}

/// Adds tags to many contacts in one call. GHL answers each contact alone: a contact it
/// refused (deleted, another location's) is named in the result and the sync log, and does
/// not fail the others. The tags GHL reports are folded into the mirrored contacts.
pub(super) async fn bulk_add_tags(
    ghl: &Ghl<'_>,
    job: &Job,
    tags: &[String],
    contacts: &[ghl::ContactId],
) -> Result<(Value, Changeset), JobError> {
    let body = BulkTags {
        contacts: contacts.to_vec(),
        tags: tags.to_vec(),
        location_id: ghl.location.id.clone(),
        remove_all_tags: None,
    };
    let result = ghl
        .call(GhlCall::BulkUpdateTags, |c| async move {
            c.bulk_update_tags(BulkTagAction::Add, &body).await
        })
        .await?;
    let now = now_ms();
    let mut changes = Changeset::default();
    let mut refused = Vec::new();
    for r in &result.responses {
        if r.outcome.as_deref() == Some("error") {
            refused.push(json!({"contactId": r.contact_id, "message": r.message}));
            continue;
        }
        if let Some(mut row) = known_row(ghl, &r.contact_id).await? {
            let mut incoming = row.clone();
            incoming.updated_at = now;
            for t in r.old_tags.iter().chain(&r.tags_added) {
                let t = t.trim().to_lowercase();
                if !incoming.tags.contains(&t) {
                    incoming.tags.push(t);
                }
            }
            let decided = r
                .tags_added
                .iter()
                .map(|t| (value_key::tag(t), now))
                .collect();
            row.absorb(&incoming, &decided);
            changes.contacts.push(row);
        }
    }
    if !refused.is_empty() {
        tracing::warn!(job = %job.id, refused = refused.len(), "GHL refused tags for some contacts");
    }
    changes.log.push(LogEntry {
        location_id: Some(ghl.location.id.clone()),
        kind: "tags_added_in_bulk".into(),
        detail: json!({"job": job.id.0, "tags": tags, "contacts": contacts.len(), "refused": refused}),
        at: now,
    });
    changes.location_sync.push(success(ghl, now));
    Ok((
        json!({"contacts": contacts.len(), "refused": refused}),
        changes,
    ))
}

async fn known_row(
    ghl: &Ghl<'_>,
    contact: &ghl::ContactId,
) -> Result<Option<ContactMirror>, JobError> {
    ghl.app
        .store()
        .contact(&ghl.location.id, contact)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))
}

fn success(ghl: &Ghl<'_>, at: Millis) -> LocationSync {
    LocationSync {
        location_id: ghl.location.id.clone(),
        status: SyncStatus::Success,
        error: None,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_ghl_stores_them() {
        assert!(same_value(&json!(42), &json!("42")));
        assert!(same_value(&json!("Pro "), &json!("Pro")));
        assert!(!same_value(&json!(42), &json!(43)));
        assert!(!same_value(&json!(["a"]), &json!("a")));
    }

    #[test]
    fn upsert_body_rejects_unknown_fields_and_keeps_tags_out() {
        let sync = ContactSync {
            email: Some("a@b.co".into()),
            fields: [("firstName".to_owned(), json!("Ana"))].into(),
            add_tags: vec!["x".into()],
            ..ContactSync::default()
        };
        let body = upsert_body(&"loc".into(), &sync, vec![]).unwrap();
        assert_eq!(body.fields.first_name.as_deref(), Some("Ana"));
        assert!(body.fields.tags.is_none(), "tags never go in an upsert");
        let bad = ContactSync {
            fields: [("fristName".to_owned(), json!("x"))].into(),
            ..sync
        };
        assert!(matches!(
            upsert_body(&"loc".into(), &bad, vec![]),
            Err(JobError::Permanent { .. })
        ));
    }
}
