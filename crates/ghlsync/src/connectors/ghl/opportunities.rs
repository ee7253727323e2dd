//! GHL's opportunity effects: create, update or change the status of an opportunity found
//! through the application's key.

use ghl::opportunities::{NewOpportunity, OpportunitySearch, OpportunityStatus, OpportunityUpdate};
use ghlsync_core::changeset::{LocationSync, LogEntry, OpportunityLink};
use ghlsync_core::command::{ContactRef, OpportunityAction, OpportunitySync};
use ghlsync_core::{Changeset, Job, OpportunityMirror, SyncStatus};
use ghlsync_store::Store;
use serde_json::{Value, json};

use super::calls::{Ghl, GhlCall};
use crate::app::now_ms;
use crate::delivery::{JobError, permanent};

/// Creates or changes an opportunity found through the application's key.
///
/// - `create` with the key already linked updates the linked opportunity instead; after a
///   run that may have reached GHL, the contact's opportunities in the pipeline are searched
///   for one of the same name before creating.
/// - `update` and `status` of a key not linked yet wait (with backoff) for the create, which
///   may come from another person's event and so run in another order.
pub(super) async fn sync_opportunity(
    ghl: &Ghl<'_>,
    job: &Job,
    contact: &ContactRef,
    change: &OpportunitySync,
) -> Result<(Value, Changeset), JobError> {
    let location_id = ghl.location.id.clone();
    let linked = ghl
        .app
        .store()
        .linked_opportunity(&location_id, &change.key)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    let ids = match &change.pipeline {
        Some(p) => Some(ghl.pipeline_stage(p, change.stage.as_deref()).await?),
        None => None,
    };
    let (opportunity, created) = match (change.action, linked) {
        (OpportunityAction::Status, Some(id)) => {
            let status = change.status.unwrap_or(OpportunityStatus::Open);
            let target = id.clone();
            ghl.call(GhlCall::UpdateOpportunityStatus, |c| async move {
                c.update_opportunity_status(&target, status, None).await
            })
            .await?;
            let target = id.clone();
            let current = ghl
                .call(GhlCall::GetOpportunity, |c| async move {
                    c.get_opportunity(&target).await
                })
                .await?;
            (current, false)
        }
        (OpportunityAction::Create | OpportunityAction::Update, Some(id)) => {
            let update = OpportunityUpdate {
                pipeline_id: ids.as_ref().map(|(p, _)| p.clone()),
                pipeline_stage_id: ids.as_ref().and_then(|(_, s)| s.clone()),
                name: change.name.clone(),
                monetary_value: change.value,
                ..OpportunityUpdate::default()
            };
            let updated = ghl
                .call(GhlCall::UpdateOpportunity, |c| async move {
                    c.update_opportunity(&id, &update).await
                })
                .await?;
            (updated, false)
        }
        (OpportunityAction::Create, None) => {
            let contact_id = ghl.contact_id(contact).await?;
            let (pipeline_id, stage_id) =
                ids.ok_or_else(|| permanent("creating an opportunity needs a pipeline"))?;
            let name = change.name.clone().unwrap_or_else(|| change.key.clone());
            let existing = if job.may_have_run() {
                let search = OpportunitySearch {
                    contact_id: Some(contact_id.clone()),
                    pipeline_id: Some(pipeline_id.clone()),
                    ..OpportunitySearch::new(location_id.clone())
                };
                let page = ghl
                    .call(GhlCall::SearchOpportunities, |c| async move {
                        c.search_opportunities(&search).await
                    })
                    .await?;
                page.opportunities
                    .into_iter()
                    .find(|o| o.name.as_deref() == Some(name.as_str()))
            } else {
                None
            };
            match existing {
                Some(found) => (found, false),
                None => {
                    let new = NewOpportunity {
                        pipeline_id,
                        location_id: location_id.clone(),
                        name,
                        pipeline_stage_id: stage_id,
                        status: change.status.unwrap_or(OpportunityStatus::Open),
                        contact_id,
                        monetary_value: change.value,
                        assigned_to: None,
                        custom_fields: None,
                    };
                    let update = OpportunityUpdate {
                        pipeline_stage_id: new.pipeline_stage_id.clone(),
                        name: Some(new.name.clone()),
                        monetary_value: new.monetary_value,
                        ..OpportunityUpdate::default()
                    };
                    match ghl
                        .call_unclassified(GhlCall::CreateOpportunity, |c| async move {
                            c.create_opportunity(&new).await
                        })
                        .await?
                    {
                        Ok(created) => (created, true),
                        // The location allows one opportunity per contact and pipeline (GHL's
                        // default): this key takes over the contact's opportunity.
                        Err(ghl::Error::Duplicate { existing_id, .. }) => {
                            let id = ghl::OpportunityId::from(existing_id);
                            let updated = ghl
                                .call(GhlCall::UpdateOpportunity, |c| async move {
                                    c.update_opportunity(&id, &update).await
                                })
                                .await?;
                            (updated, false)
                        }
                        Err(e) => return Err(ghl.classify(GhlCall::CreateOpportunity, e).await),
                    }
                }
            }
        }
        (OpportunityAction::Update | OpportunityAction::Status, None) => {
            return Err(JobError::Transient(format!(
                "no GHL opportunity is linked to {:?} yet",
                change.key
            )));
        }
    };
    let now = now_ms();
    let changes = Changeset {
        opportunities: vec![OpportunityMirror::from_opportunity(
            location_id.clone(),
            &opportunity,
            now,
        )],
        opportunity_links: vec![OpportunityLink {
            location_id: location_id.clone(),
            key: change.key.clone(),
            opportunity_id: opportunity.id.clone(),
        }],
        log: vec![LogEntry {
            location_id: Some(location_id.clone()),
            kind: "opportunity_synced".into(),
            detail: json!({"job": job.id.0, "key": change.key, "opportunityId": opportunity.id, "new": created}),
            at: now,
        }],
        location_sync: vec![LocationSync {
            location_id,
            status: SyncStatus::Success,
            error: None,
            at: now,
        }],
        ..Changeset::default()
    };
    Ok((
        json!({"opportunityId": opportunity.id, "new": created}),
        changes,
    ))
}
