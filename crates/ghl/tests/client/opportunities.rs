use ghl::contacts::{ContactFields, NewContact};
use ghl::opportunities::{
    NewOpportunity, OpportunitySearch, OpportunityStatus, OpportunityUpdate, UpsertOpportunity,
};
use ghl::{ContactId, Error, PipelineId};

use crate::Env;

async fn contact(env: &Env, email: &str) -> ContactId {
    let mut new = NewContact::new(env.location_id());
    new.fields = ContactFields {
        email: Some(email.into()),
        ..ContactFields::default()
    };
    env.client.create_contact(&new).await.unwrap().data.id
}

#[tokio::test]
async fn pipelines_create_get_update_status_search() {
    let env = Env::new().await;
    let pipelines = env
        .client
        .list_pipelines(&env.location_id())
        .await
        .unwrap()
        .data;
    assert_eq!(pipelines.len(), 1);
    let sales = &pipelines[0];
    assert_eq!(sales.name, "Sales");
    let won_stage = sales.stage_named("won").unwrap().id.clone();

    let contact_id = contact(&env, "o@example.com").await;
    let new = NewOpportunity {
        pipeline_id: sales.id.clone(),
        location_id: env.location_id(),
        name: "Project X".into(),
        pipeline_stage_id: None,
        status: OpportunityStatus::Open,
        contact_id: contact_id.clone(),
        monetary_value: Some(1200.0),
        assigned_to: None,
        custom_fields: None,
    };
    let created = env.client.create_opportunity(&new).await.unwrap();
    assert_eq!(created.reply.status, 201);
    let opp = created.data;
    assert_eq!(
        opp.pipeline_stage_id.as_ref(),
        Some(&sales.stages[0].id),
        "first stage by default"
    );

    // One opportunity per contact and pipeline: the duplicate names the existing one.
    match env.client.create_opportunity(&new).await.unwrap_err() {
        Error::Duplicate { existing_id, .. } => assert_eq!(existing_id, opp.id.as_str()),
        other => panic!("{other:?}"),
    }

    let update = OpportunityUpdate {
        pipeline_stage_id: Some(won_stage.clone()),
        ..OpportunityUpdate::default()
    };
    let moved = env
        .client
        .update_opportunity(&opp.id, &update)
        .await
        .unwrap()
        .data;
    assert_eq!(moved.pipeline_stage_id, Some(won_stage));

    assert!(
        env.client
            .update_opportunity_status(&opp.id, OpportunityStatus::Won, None)
            .await
            .unwrap()
            .data
    );
    let got = env.client.get_opportunity(&opp.id).await.unwrap().data;
    assert_eq!(got.status, Some(OpportunityStatus::Won));
    assert_eq!(got.contact_id.as_ref(), Some(&contact_id));

    let mut search = OpportunitySearch::new(env.location_id());
    search.contact_id = Some(contact_id.clone());
    let page = env.client.search_opportunities(&search).await.unwrap().data;
    assert_eq!(page.opportunities.len(), 1);
    assert_eq!(page.meta.total, Some(1.0));
    search.status = Some(OpportunityStatus::Lost);
    assert!(
        env.client
            .search_opportunities(&search)
            .await
            .unwrap()
            .data
            .opportunities
            .is_empty()
    );

    assert!(env.client.delete_opportunity(&opp.id).await.unwrap().data);
}

#[tokio::test]
async fn upsert_creates_then_updates_the_contacts_opportunity() {
    let env = Env::new().await;
    let pipeline: PipelineId = env.loc.pipelines[0].id.clone().into();
    let contact_id = contact(&env, "u@example.com").await;
    let mut up = UpsertOpportunity::new(env.location_id(), pipeline.clone(), contact_id.clone());
    up.name = Some("Deal".into());
    up.status = Some(OpportunityStatus::Open);
    let first = env.client.upsert_opportunity(&up).await.unwrap().data;
    assert!(first.new);
    up.monetary_value = Some(99.0);
    let second = env.client.upsert_opportunity(&up).await.unwrap().data;
    assert!(!second.new);
    assert_eq!(second.opportunity.id, first.opportunity.id);
    assert_eq!(second.opportunity.monetary_value, Some(99.0));
}
