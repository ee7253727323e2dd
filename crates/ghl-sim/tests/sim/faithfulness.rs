//! The simulator's answers validate against GHL's response schemas, the `ghl` client's
//! requests against the request schemas, the simulator's request whitelists equal the
//! schemas' property lists, and its webhook payloads validate against the event documents.

use std::collections::BTreeSet;

use ghl::contacts::{
    BulkTagAction, BulkTags, ContactFields, ContactListQuery, ContactSearch, ContactUpdate,
    CustomFieldInput, NewContact, NewNote, UpsertContact,
};
use ghl::conversations::{MessageChannel, MessageExport, MessageQuery};
use ghl::custom_fields::{CustomFieldModel, CustomFieldUpdate, DataType, NewCustomField};
use ghl::oauth::{OAuthApp, UserType};
use ghl::opportunities::{
    NewOpportunity, OpportunitySearch, OpportunityStatus, OpportunityUpdate, UpsertOpportunity,
};
use ghl::webhooks::WebhookVerifier;
use ghl_sim::{CallSpec, LocationSpec, Resource, Sentence, Simulator, WebhookSettings, validate};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::openapi::{OBSERVED_EXTRAS, Spec, spec_dir};
use crate::receiver::Receiver;

/// Runs every operation the client supports against the simulator, including failures.
async fn exercise_every_operation(sim: &ghl_sim::SimHandle) {
    let (company, loc) = sim.with_world(|w| {
        let company = w.add_company("Agency");
        let mut spec = LocationSpec::new("Faithful")
            .field("Lead Score", "lead_score", "NUMERICAL")
            .pipeline("Sales", &["New", "Won"]);
        spec.company_id = Some(company.clone());
        let loc = w.create_location(&spec);
        w.add_oauth_app("app", "secret");
        (company, loc)
    });
    let base = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let c = base.with_token(&loc.token);
    let lid = ghl::LocationId::new(&loc.id);
    let score = loc.field_id("lead_score").unwrap().to_owned();

    let mut new = NewContact::new(lid.clone());
    new.fields = ContactFields {
        email: Some("f@example.com".into()),
        first_name: Some("F".into()),
        last_name: Some("G".into()),
        phone: Some("+34600000000".into()),
        tags: Some(vec!["a".into()]),
        custom_fields: Some(vec![CustomFieldInput::by_id(score.as_str(), 10)]),
        date_of_birth: Some("1990-09-25".into()),
        ..ContactFields::default()
    };
    new.company_name = Some("Co".into());
    let contact = c.create_contact(&new).await.unwrap().data;
    let _duplicate = c.create_contact(&new).await.unwrap_err();
    let mut bad = new.clone();
    bad.fields.email = Some("not-an-email".into());
    let _validation = c.create_contact(&bad).await.unwrap_err();
    c.get_contact(&contact.id).await.unwrap();
    let _missing = c
        .get_contact(&"nope0000000000000000".into())
        .await
        .unwrap_err();
    c.update_contact(
        &contact.id,
        &ContactUpdate {
            fields: ContactFields {
                city: Some("Madrid".into()),
                ..ContactFields::default()
            },
            // Accepted by live GHL though GHL's file leaves it out (an observed extra).
            company_name: Some("Co 2".into()),
        },
    )
    .await
    .unwrap();
    let mut up = UpsertContact::new(lid.clone());
    up.fields = ContactFields {
        email: Some("f@example.com".into()),
        source: Some("app".into()),
        ..ContactFields::default()
    };
    up.gender = Some("female".into());
    c.upsert_contact(&up).await.unwrap();
    c.search_contacts(&ContactSearch::all(lid.clone(), 10))
        .await
        .unwrap();
    c.find_duplicate_contact(&lid, Some("f@example.com"), None)
        .await
        .unwrap();
    c.add_tags(&contact.id, &["b".into()]).await.unwrap();
    c.remove_tags(&contact.id, &["a".into()]).await.unwrap();
    c.add_note(
        &contact.id,
        &NewNote {
            title: Some("T".into()),
            ..NewNote::new("hello")
        },
    )
    .await
    .unwrap();
    c.list_notes(&contact.id).await.unwrap();
    let mut page = ContactListQuery::new(lid.clone());
    page.limit = Some(1);
    let first = c.list_contacts(&page).await.unwrap().data;
    let meta = first.meta.expect("live GHL's meta block");
    page.start_after = meta.start_after;
    page.start_after_id = meta.start_after_id.map(Into::into);
    c.list_contacts(&page).await.unwrap();
    page.limit = Some(101);
    let _too_many = c.list_contacts(&page).await.unwrap_err();
    c.bulk_update_tags(
        BulkTagAction::Add,
        &BulkTags {
            contacts: vec![contact.id.clone(), "abcdef".into()],
            tags: vec!["bulk".into()],
            location_id: lid.clone(),
            remove_all_tags: None,
        },
    )
    .await
    .unwrap();
    c.bulk_update_tags(
        BulkTagAction::Remove,
        &BulkTags {
            contacts: vec![contact.id.clone()],
            tags: vec![],
            location_id: lid.clone(),
            remove_all_tags: Some(true),
        },
    )
    .await
    .unwrap();
    c.get_location(&lid).await.unwrap();
    c.get_custom_field(&lid, score.as_str()).await.unwrap();
    c.get_custom_field(&lid, "contact.lead_score")
        .await
        .unwrap();
    let _unknown_field = c.get_custom_field(&lid, "contact.nope").await.unwrap_err();
    c.update_custom_field(
        &lid,
        &score.as_str().into(),
        &CustomFieldUpdate::named("Score"),
    )
    .await
    .unwrap();
    c.list_custom_fields(&lid, Some(CustomFieldModel::Contact))
        .await
        .unwrap();
    let churn = c
        .create_custom_field(
            &lid,
            &NewCustomField {
                name: "Churn Risk".into(),
                data_type: DataType::Numerical,
                placeholder: Some("0-1".into()),
                text_box_list_options: None,
                position: Some(3),
                model: Some(CustomFieldModel::Contact),
                field_key: None,
            },
        )
        .await
        .unwrap()
        .data;
    c.delete_custom_field(&lid, &churn.id).await.unwrap();

    let pipelines = c.list_pipelines(&lid).await.unwrap().data;
    let pipeline = &pipelines[0];
    let opp = c
        .create_opportunity(&NewOpportunity {
            pipeline_id: pipeline.id.clone(),
            location_id: lid.clone(),
            name: "Deal".into(),
            pipeline_stage_id: Some(pipeline.stages[0].id.clone()),
            status: OpportunityStatus::Open,
            contact_id: contact.id.clone(),
            monetary_value: Some(10.0),
            assigned_to: None,
            custom_fields: None,
        })
        .await
        .unwrap()
        .data;
    c.get_opportunity(&opp.id).await.unwrap();
    c.update_opportunity(
        &opp.id,
        &OpportunityUpdate {
            name: Some("Deal 2".into()),
            ..OpportunityUpdate::default()
        },
    )
    .await
    .unwrap();
    c.update_opportunity_status(&opp.id, OpportunityStatus::Won, None)
        .await
        .unwrap();
    let mut up = UpsertOpportunity::new(lid.clone(), pipeline.id.clone(), contact.id.clone());
    up.monetary_value = Some(20.0);
    c.upsert_opportunity(&up).await.unwrap();
    c.search_opportunities(&OpportunitySearch::new(lid.clone()))
        .await
        .unwrap();

    let call = CallSpec {
        contact_id: contact.id.to_string(),
        direction: "inbound".into(),
        duration_s: 42,
        status: "completed".into(),
        transcript: vec![Sentence {
            media_channel: 1,
            transcript: "Hi".into(),
        }],
    };
    let (conversation, message) = sim.add_call(&loc.id, &call).unwrap();
    c.search_conversations(&lid, &contact.id).await.unwrap();
    sim.with_world(|w| w.set_wrap_message_lists(false));
    c.list_messages(&conversation.as_str().into(), &MessageQuery::default())
        .await
        .unwrap();
    sim.with_world(|w| w.set_wrap_message_lists(true));
    c.download_transcription(&lid, &message.as_str().into())
        .await
        .unwrap();
    let mut export = MessageExport::new(lid.clone());
    export.channel = Some(MessageChannel::Call);
    export.limit = Some(10);
    c.export_messages(&export).await.unwrap();

    let app = OAuthApp::new("app", "secret");
    let code = sim
        .with_world(|w| w.issue_auth_code("app", Resource::Location(loc.id.clone())))
        .unwrap();
    let grant = base
        .exchange_code(&app, &code, None, Some(UserType::Location))
        .await
        .unwrap()
        .data;
    base.refresh_access_token(&app, grant.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap();
    let code = sim
        .with_world(|w| w.issue_auth_code("app", Resource::Company(company.clone())))
        .unwrap();
    let agency = base
        .exchange_code(&app, &code, None, Some(UserType::Company))
        .await
        .unwrap()
        .data;
    let agency = base.with_token(agency.access_token.expose_secret());
    agency
        .location_token(&ghl::CompanyId::new(&company), &lid)
        .await
        .unwrap();
    agency.get_location(&lid).await.unwrap();

    c.delete_opportunity(&opp.id).await.unwrap();
    c.delete_contact(&contact.id).await.unwrap();
    let _unauthorized = base
        .with_token("bad")
        .get_contact(&contact.id)
        .await
        .unwrap_err();
}

#[tokio::test]
async fn every_request_and_response_validates_against_ghls_openapi_files() {
    let sim = Simulator::builder().start().await.unwrap();
    exercise_every_operation(&sim).await;
    let spec = Spec::load();
    let entries = sim.audit(0);
    assert!(entries.len() >= 30, "{} calls recorded", entries.len());
    let mut failures = Vec::new();
    let mut validated_requests = 0;
    let mut validated_responses = 0;
    let mut operations = BTreeSet::new();
    for e in &entries {
        let Some((op, template)) = spec.operation(&e.method, &e.path) else {
            failures.push(format!("{} {} is not in GHL's spec", e.method, e.path));
            continue;
        };
        operations.insert(format!("{} {template}", e.method));
        let content = &op["requestBody"]["content"];
        let request_schema = content["application/json"]["schema"]
            .as_object()
            .or_else(|| content["application/x-www-form-urlencoded"]["schema"].as_object());
        if let Some(schema) = request_schema
            && !e.request_body.is_null()
        {
            let schema = Value::Object(schema.clone());
            // GHL leaves the contact search body undocumented (an empty schema).
            if schema != json!({"$ref": "#/components/schemas/contacts:SearchBodyV2DTO"}) {
                validated_requests += 1;
                if let Err(errs) = spec.validate(&schema, &e.request_body) {
                    failures.push(format!(
                        "request {} {}: {errs:?}\n  {}",
                        e.method, e.path, e.request_body
                    ));
                }
            }
        }
        let response_schema =
            &op["responses"][e.status.to_string()]["content"]["application/json"]["schema"];
        if response_schema.is_object() && response_schema.as_object().is_some_and(|o| !o.is_empty())
        {
            validated_responses += 1;
            if let Err(errs) = spec.validate(response_schema, &e.response_body) {
                failures.push(format!(
                    "response {} {} {}: {errs:?}\n  {}",
                    e.status, e.method, e.path, e.response_body
                ));
            }
        } else if !(200..300).contains(&e.status) {
            // Error answers without a declared schema still use GHL's envelope.
            assert_eq!(
                e.response_body["statusCode"],
                json!(e.status),
                "{} {}",
                e.method,
                e.path
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        validated_requests >= 15,
        "{validated_requests} requests validated"
    );
    assert!(
        validated_responses >= 25,
        "{validated_responses} responses validated"
    );
    assert!(
        operations.len() >= 24,
        "{} operations covered: {operations:?}",
        operations.len()
    );
}

#[test]
fn request_whitelists_equal_the_spec_property_lists() {
    let spec = Spec::load();
    for dto in [
        &validate::CREATE_CONTACT,
        &validate::UPSERT_CONTACT,
        &validate::UPDATE_CONTACT,
        &validate::TAGS,
        &validate::NOTES,
        &validate::CREATE_CUSTOM_FIELD,
        &validate::CREATE_OPPORTUNITY,
        &validate::UPDATE_OPPORTUNITY,
        &validate::UPDATE_OPPORTUNITY_STATUS,
        &validate::UPSERT_OPPORTUNITY,
    ] {
        let schema = spec.schema_named(dto.schema);
        let mut documented: BTreeSet<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // Extras were added to the loaded spec; take them out to compare with GHL's file.
        for (name, extras) in OBSERVED_EXTRAS {
            if name.ends_with(&format!(":{}", dto.schema)) {
                for x in *extras {
                    documented.remove(*x);
                }
            }
        }
        let mut ours: BTreeSet<String> = dto.fields.iter().map(|f| f.name.to_owned()).collect();
        for (name, extras) in validate::UNDOCUMENTED_EXTRAS {
            if *name == dto.schema {
                for x in *extras {
                    assert!(ours.remove(*x), "{x} listed as an extra of {name}");
                }
            }
        }
        assert_eq!(ours, documented, "{}", dto.schema);
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let ours_required: BTreeSet<String> = dto
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.to_owned())
            .collect();
        assert_eq!(ours_required, required, "required fields of {}", dto.schema);
    }
}

/// The `json_schema` block of a webhook event document.
fn event_schema(event_type: &str) -> Option<Value> {
    let file = match event_type {
        "ConversationUnreadUpdate" => "ConversationUnreadWebhook".to_owned(),
        t => t.to_owned(),
    };
    let text =
        std::fs::read_to_string(spec_dir().join("webhook-events").join(format!("{file}.md")))
            .ok()?;
    let start = text.find("```json json_schema")? + "```json json_schema".len();
    let end = text[start..].find("```")? + start;
    serde_json::from_str(&text[start..end]).ok()
}

#[tokio::test]
async fn webhooks_validate_against_the_event_documents_and_verify_with_the_client() {
    let receiver = Receiver::start(200).await;
    let sim = Simulator::builder()
        .webhooks(WebhookSettings {
            urls: vec![receiver.url()],
            ..WebhookSettings::default()
        })
        .start()
        .await
        .unwrap();
    exercise_every_operation(&sim).await;
    assert!(
        sim.wait_for_deliveries(std::time::Duration::from_secs(10))
            .await
    );
    let (ed, rsa) = sim.webhook_public_keys();
    let verifier = WebhookVerifier::from_pems(&[&ed], &[&rsa]).unwrap();
    let received = receiver.received();
    let mut types = BTreeSet::new();
    let mut failures = Vec::new();
    for r in &received {
        let header = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok());
        verifier
            .verify(&r.body, header("x-ghl-signature"), None)
            .expect("Ed25519 signature verifies");
        verifier
            .verify(&r.body, None, header("x-wh-signature"))
            .expect("RSA signature verifies");
        let payload: Value = serde_json::from_slice(&r.body).unwrap();
        let event_type = payload["type"].as_str().unwrap().to_owned();
        for envelope in ["webhookId", "timestamp", "locationId"] {
            assert!(payload[envelope].is_string(), "{event_type} has {envelope}");
        }
        let parsed = ghl::webhooks::Webhook::parse(&r.body).unwrap();
        assert_eq!(parsed.event_type(), Some(event_type.as_str()));
        types.insert(event_type.clone());
        let Some(mut schema) = event_schema(&event_type) else {
            failures.push(format!("no documented schema for {event_type}"));
            continue;
        };
        // The envelope fields are documented in WebhookAuthentication.md and the SDK, not in
        // each event's schema; call details are documented in the call example.
        for extra in [
            "webhookId",
            "timestamp",
            "appId",
            "versionId",
            "messageId",
            "callDuration",
            "callStatus",
        ] {
            schema["properties"]
                .as_object_mut()
                .unwrap()
                .entry(extra)
                .or_insert(json!({}));
        }
        schema["additionalProperties"] = json!(false);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&payload)
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{event_type}: {errors:?}\n  {payload}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for expected in [
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
        "ContactDelete",
        "NoteCreate",
        "OpportunityCreate",
        "OpportunityUpdate",
        "OpportunityStatusUpdate",
        "OpportunityMonetaryValueUpdate",
        "OpportunityDelete",
        "InboundMessage",
    ] {
        assert!(types.contains(expected), "{expected} was sent: {types:?}");
    }
}
