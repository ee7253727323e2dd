//! What a CloudTalk job does: find the GHL contact's CloudTalk twin (or add it), then its
//! step (tags, a note, an activity).
//!
//! - The twin comes from the id map, else CloudTalk's contact of the same number, else of
//!   the same email; only then is a contact added. So a contact added by a bulk request
//!   that timed out after CloudTalk applied it is found, not added again.
//! - Tags go through `addTags`, which keeps the contact's other tags: one operation, and
//!   no window in which a tag added meanwhile in CloudTalk could be dropped, as an edit
//!   (which replaces the whole list) would.
//! - A note or activity of a job that may have run before (a crash, a timeout) is looked
//!   for on the contact first; an activity carries its job's id as `external_id`.

use cloudtalk::ContactId;
use cloudtalk::activities::{ActivityQuery, NewActivity};
use cloudtalk::bulk::{Action, Command};
use cloudtalk::contacts::{ContactInput, ContactQuery, ExternalUrl};
use cloudtalk::notes::{NewNote, NoteQuery};
use ghlsync_core::bridge::{
    BridgeName, CloudTalkContact, CloudTalkJob, CloudTalkLink, CloudTalkStep,
};
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::{Changeset, Job, Location};
use ghlsync_store::Store;
use serde_json::{Value, json};

use super::calls::CloudTalk;
use crate::app::now_ms;
use crate::delivery::{JobError, permanent};

/// Runs a CloudTalk job.
pub(super) async fn run(
    ct: &CloudTalk<'_>,
    location: &Location,
    job: &Job,
    cj: &CloudTalkJob,
) -> Result<(Value, Changeset), JobError> {
    let (id, mut changes) = twin(ct, location, job, cj).await?;
    let done = match &cj.step {
        CloudTalkStep::Contact { .. } => json!({"cloudtalk_contact": id}),
        CloudTalkStep::AddTags { tags } => {
            let tags = tags.clone();
            ct.call("add_tags", |c| async move { c.add_tags(id, &tags).await })
                .await?;
            json!({"cloudtalk_contact": id, "tags_added": cj_tags(&cj.step)})
        }
        CloudTalkStep::AddNote { note } => {
            if job.may_have_run() && has_note(ct, id, note).await? {
                json!({"cloudtalk_contact": id, "note": "already there"})
            } else {
                let command = Command {
                    command_id: job.id.to_string(),
                    action: Action::AddNote(
                        id,
                        NewNote {
                            note: note.clone(),
                            user_id: None,
                        },
                    ),
                };
                let result = answered(ct.bulk(command).await?)?;
                json!({"cloudtalk_contact": id, "note": result.created_id()})
            }
        }
        CloudTalkStep::AddActivity { activity, at } => {
            if job.may_have_run() && has_activity(ct, id, job).await? {
                json!({"cloudtalk_contact": id, "activity": "already there"})
            } else {
                let command = Command {
                    command_id: job.id.to_string(),
                    action: Action::AddActivity(
                        id,
                        NewActivity {
                            kind: activity.kind,
                            name: activity.name.clone(),
                            activity_date: Some(at.clone()),
                            description: activity.description.clone(),
                            activity_author: Some("ghlsync".into()),
                            external_id: Some(job.id.0 as u64),
                            external_url: None,
                        },
                    ),
                };
                let result = answered(ct.bulk(command).await?)?;
                json!({"cloudtalk_contact": id, "activity": result.created_id()})
            }
        }
    };
    changes.log.push(LogEntry {
        location_id: Some(location.id.clone()),
        kind: format!("cloudtalk_{}", cj.step.name()),
        detail: json!({"bridge": cj.bridge, "ghl_contact": cj.contact.ghl_id, "cloudtalk_contact": id, "job": job.id.0}),
        at: now_ms(),
    });
    Ok((done, changes))
}

fn cj_tags(step: &CloudTalkStep) -> Vec<String> {
    match step {
        CloudTalkStep::AddTags { tags } => tags.clone(),
        _ => Vec::new(),
    }
}

/// A command CloudTalk refused fails its job alone, with CloudTalk's message.
fn answered(
    result: cloudtalk::bulk::CommandResult,
) -> Result<cloudtalk::bulk::CommandResult, JobError> {
    if result.ok() {
        return Ok(result);
    }
    let message = format!(
        "cloudtalk refused command {} ({}): {}{}",
        result.command_id,
        result.status,
        result.message.as_deref().unwrap_or("no message"),
        if result.data.is_null() {
            String::new()
        } else {
            format!(" {}", result.data)
        }
    );
    match result.status {
        // Refused for the limit, not for what it says: held, no attempt used.
        429 => Err(JobError::Held {
            until: now_ms() + 60_000,
        }),
        500.. => Err(JobError::Transient(message)),
        _ => Err(permanent(message)),
    }
}

/// The GHL contact's CloudTalk twin, found or added, and the link to record when it is new.
async fn twin(
    ct: &CloudTalk<'_>,
    location: &Location,
    job: &Job,
    cj: &CloudTalkJob,
) -> Result<(ContactId, Changeset), JobError> {
    let store = ct.app.store();
    let bridge = &cj.bridge;
    let state = &ct.app.connector_state().cloudtalk;
    let ghl_id = cj.contact.ghl_id.as_str();
    if let Some(link) = store
        .cloudtalk_link(bridge, &cj.contact.ghl_id)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
    {
        // Stored: the remembered twin is no longer needed.
        state.forget_twin(&bridge.0, ghl_id);
        return Ok((link.cloudtalk_contact, Changeset::default()));
    }
    let link = |id: ContactId, created: bool| Changeset {
        cloudtalk_links: vec![CloudTalkLink {
            bridge: bridge.clone(),
            location_id: location.id.clone(),
            ghl_contact: cj.contact.ghl_id.clone(),
            cloudtalk_contact: id,
            created_by_bridge: created,
        }],
        ..Changeset::default()
    };
    if let Some(id) = state.twin(&bridge.0, ghl_id) {
        return Ok((id, link(id, false)));
    }
    if let Some(id) = find(ct, &cj.contact).await? {
        state.remember_twin(&bridge.0, ghl_id, id);
        return Ok((id, link(id, false)));
    }
    let c = &cj.contact;
    if c.phone.is_none() && c.email.is_none() {
        return Err(permanent(format!(
            "GHL contact {} has no phone or email to find or add its CloudTalk contact by",
            c.ghl_id
        )));
    }
    let source = match &cj.step {
        CloudTalkStep::Contact { source } => source.clone(),
        _ => ct.bridge.contact_source.clone(),
    };
    let command = Command {
        command_id: format!("{}-contact", job.id),
        action: Action::AddContact(new_contact(bridge, location, c, &source)),
    };
    let result = answered(ct.bulk(command).await?)?;
    let id = result.created_id().map(ContactId).ok_or_else(|| {
        JobError::Transient("cloudtalk add_contact answered without the new id".into())
    })?;
    // Linked at once, not with the job's outcome: CloudTalk reports the new contact while
    // this job may still wait (a spent minute, a backoff), and the report must find it the
    // bridge's.
    let changes = link(id, true);
    ct.app
        .store()
        .link_cloudtalk(&changes.cloudtalk_links[0], now_ms())
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    state.remember_twin(&bridge.0, ghl_id, id);
    Ok((id, changes))
}

/// The contact to add: seed 003's name, email, phone and company, and its source as a
/// link back to the GHL contact (CloudTalk's contacts have no source field).
fn new_contact(
    _bridge: &BridgeName,
    location: &Location,
    c: &CloudTalkContact,
    source: &str,
) -> ContactInput {
    let name = c
        .name
        .clone()
        .or_else(|| c.email.clone())
        .or_else(|| c.phone.clone());
    ContactInput {
        name,
        company: c.company.clone(),
        numbers: c.phone.clone().map(|p| vec![p]),
        emails: c.email.clone().map(|e| vec![e]),
        external_urls: Some(vec![ExternalUrl {
            name: source.to_owned(),
            url: format!(
                "https://app.gohighlevel.com/v2/location/{}/contacts/detail/{}",
                location.id, c.ghl_id
            ),
        }]),
        ..ContactInput::default()
    }
}

/// CloudTalk's contact of the same number, else of the same email.
async fn find(ct: &CloudTalk<'_>, c: &CloudTalkContact) -> Result<Option<ContactId>, JobError> {
    if let Some(phone) = &c.phone {
        let phone = phone.clone();
        let rows = ct
            .call("find_contacts_by_number", |client| async move {
                client.find_contacts_by_number(&phone).await
            })
            .await?;
        if let Some(row) = rows.first() {
            return Ok(Some(row.id));
        }
    }
    if let Some(email) = &c.email {
        let query = ContactQuery {
            keyword: Some(email.clone()),
            limit: Some(100),
            ..ContactQuery::default()
        };
        let page = ct
            .call("list_contacts", |client| async move {
                client.list_contacts(&query).await
            })
            .await?;
        if let Some(row) = page.data.iter().find(|r| {
            r.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }) {
            return Ok(Some(row.id));
        }
    }
    Ok(None)
}

async fn has_note(ct: &CloudTalk<'_>, id: ContactId, note: &str) -> Result<bool, JobError> {
    let query = NoteQuery {
        contact_id: Some(id),
        limit: Some(1000),
        ..NoteQuery::default()
    };
    let page = ct
        .call("list_notes", |c| async move { c.list_notes(&query).await })
        .await?;
    Ok(page.data.iter().any(|n| n.note.as_deref() == Some(note)))
}

async fn has_activity(ct: &CloudTalk<'_>, id: ContactId, job: &Job) -> Result<bool, JobError> {
    let query = ActivityQuery {
        contact_id: Some(id),
        limit: Some(1000),
        ..ActivityQuery::default()
    };
    let page = ct
        .call("list_activities", |c| async move {
            c.list_activities(&query).await
        })
        .await?;
    let ours = job.id.0.to_string();
    Ok(page
        .data
        .iter()
        .any(|a| a.external_id.as_deref() == Some(ours.as_str())))
}
