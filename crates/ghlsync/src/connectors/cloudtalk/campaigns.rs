//! A campaign's status change reaching its contacts: the campaign found in CloudTalk (by
//! id, else by name), its contacts listed by its contact tags, and for each contact with a
//! number or email a GHL job with what the rules decided, found in GHL by that number or
//! email. The jobs commit with this job's outcome, so a retry queues none twice.

use cloudtalk::campaigns::{Campaign, CampaignQuery};
use cloudtalk::contacts::{ContactQuery, ContactRow};
use ghlsync_core::bridge::CampaignFanOut;
use ghlsync_core::changeset::LogEntry;
use ghlsync_core::command::{ContactRef, ContactSync};
use ghlsync_core::{Changeset, GhlCommand, Job, Location, NewJob};
use serde_json::{Value, json};

use super::calls::CloudTalk;
use crate::app::now_ms;
use crate::delivery::{JobError, permanent};

/// Most pages read of one list (1,000 rows each).
const MAX_PAGES: u32 = 100;

/// Runs a campaign's fan-out.
pub(super) async fn fan_out(
    ct: &CloudTalk<'_>,
    location: &Location,
    job: &Job,
    f: &CampaignFanOut,
) -> Result<(Value, Changeset), JobError> {
    let campaign = find(ct, f).await?;
    let tags = campaign.tag_ids();
    if tags.is_empty() {
        return Err(permanent(format!(
            "cloudtalk campaign {} names no contact tags to find its contacts by",
            campaign.id
        )));
    }
    let mut contacts: Vec<ContactRow> = Vec::new();
    for tag in tags {
        for page in 1..=MAX_PAGES {
            let query = ContactQuery {
                tag_id: Some(tag),
                page: Some(page),
                limit: Some(1000),
                ..ContactQuery::default()
            };
            let rows = ct
                .call(
                    "list_contacts",
                    |c| async move { c.list_contacts(&query).await },
                )
                .await?;
            for row in rows.data {
                if !contacts.iter().any(|c| c.id == row.id) {
                    contacts.push(row);
                }
            }
            if u64::from(page) >= rows.page_count {
                break;
            }
        }
    }
    let now = now_ms();
    let mut jobs = Vec::new();
    let mut skipped = 0;
    for row in &contacts {
        let email = row.email.as_ref().map(|e| e.trim().to_lowercase());
        let Some(key) = email.clone().or_else(|| row.number.clone()) else {
            skipped += 1;
            continue;
        };
        let subject = format!("cloudtalk:{}", row.id);
        let ordering_key = format!("contact:{key}");
        jobs.push(NewJob {
            location_id: location.id.clone(),
            command: GhlCommand::SyncContact(ContactSync {
                subject: Some(subject.clone()),
                email,
                phone: row.number.clone(),
                ..f.sync.clone()
            }),
            idempotency_key: format!("{}:contact:{}", job.id, row.id),
            ordering_key: ordering_key.clone(),
            run_at: now,
            source_event: job.source_event,
            coalesce: true,
        });
        for (i, note) in f.notes.iter().enumerate() {
            jobs.push(NewJob {
                location_id: location.id.clone(),
                command: GhlCommand::AddNote {
                    contact: ContactRef::Subject(subject.clone()),
                    body: note.clone(),
                },
                idempotency_key: format!("{}:note:{}:{i}", job.id, row.id),
                ordering_key: ordering_key.clone(),
                run_at: now,
                source_event: job.source_event,
                coalesce: false,
            });
        }
    }
    let detail = json!({"campaign": campaign.id, "name": campaign.name, "contacts": contacts.len(),
        "skipped_without_number_or_email": skipped, "jobs": jobs.len()});
    let changes = Changeset {
        log: vec![LogEntry {
            location_id: Some(location.id.clone()),
            kind: "cloudtalk_campaign_contacts".into(),
            detail: detail.clone(),
            at: now,
        }],
        jobs,
        ..Changeset::default()
    };
    Ok((detail, changes))
}

/// The campaign, by id, else by name.
async fn find(ct: &CloudTalk<'_>, f: &CampaignFanOut) -> Result<Campaign, JobError> {
    let id = f
        .campaign_id
        .as_deref()
        .and_then(|id| id.trim().parse::<u64>().ok());
    for page in 1..=MAX_PAGES {
        let query = CampaignQuery {
            id: id.map(Into::into),
            page: Some(page),
            limit: Some(1000),
        };
        let campaigns = ct
            .call("list_campaigns", |c| async move {
                c.list_campaigns(&query).await
            })
            .await?;
        let found = campaigns.data.into_iter().find(|c| match id {
            Some(id) => c.id.0 == id,
            None => c.name.as_deref().map(str::trim).is_some_and(|n| {
                f.campaign_name
                    .as_deref()
                    .is_some_and(|w| n.eq_ignore_ascii_case(w.trim()))
            }),
        });
        if let Some(c) = found {
            return Ok(c);
        }
        if u64::from(page) >= campaigns.page_count {
            break;
        }
    }
    Err(permanent(format!(
        "cloudtalk has no campaign {}",
        f.campaign_id
            .as_deref()
            .or(f.campaign_name.as_deref())
            .unwrap_or("(unnamed)")
    )))
}
