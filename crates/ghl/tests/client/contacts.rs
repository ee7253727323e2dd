use futures::TryStreamExt;
use ghl::contacts::{
    ContactFields, ContactSearch, ContactUpdate, CustomFieldInput, NewContact, NewNote,
    SearchFilter, UpsertContact,
};
use ghl::custom_fields::{CustomFieldModel, DataType, NewCustomField};
use ghl::{ContactId, Error};
use ghl_sim::{LocationSettings, LocationSpec};
use serde_json::json;

use crate::Env;

fn fields(email: &str, first: &str) -> ContactFields {
    ContactFields {
        email: Some(email.into()),
        first_name: Some(first.into()),
        ..ContactFields::default()
    }
}

#[tokio::test]
async fn create_get_update_delete() {
    let env = Env::new().await;
    let score = env.loc.field_id("lead_score").unwrap().to_owned();
    let mut new = NewContact::new(env.location_id());
    new.fields = ContactFields {
        phone: Some("+1 888-888-8888".into()),
        tags: Some(vec!["Emp-Nuevo-Registro".into()]),
        custom_fields: Some(vec![CustomFieldInput::by_id(score.as_str(), 42)]),
        ..fields("ana@example.com", "Ana")
    };
    new.company_name = Some("Acme SL".into());
    let created = env.client.create_contact(&new).await.unwrap();
    assert_eq!(created.reply.status, 201);
    assert_eq!(created.rate_limit().max, Some(100));
    let c = created.data;
    assert_eq!(c.phone.as_deref(), Some("+18888888888"));
    assert_eq!(c.tags, vec!["emp-nuevo-registro"]);
    assert_eq!(c.company_name.as_deref(), Some("Acme SL"));

    let got = env.client.get_contact(&c.id).await.unwrap().data;
    assert_eq!(got.email.as_deref(), Some("ana@example.com"));
    assert_eq!(got.custom_field(&score.as_str().into()), Some(&json!(42)));

    let update = ContactUpdate::from(ContactFields {
        last_name: Some("García".into()),
        ..ContactFields::default()
    });
    let updated = env
        .client
        .update_contact(&c.id, &update)
        .await
        .unwrap()
        .data;
    assert_eq!(updated.last_name.as_deref(), Some("García"));
    assert_eq!(updated.name.as_deref(), Some("Ana García"));
    assert_eq!(
        updated.tags,
        vec!["emp-nuevo-registro"],
        "update without tags keeps them"
    );

    assert!(env.client.delete_contact(&c.id).await.unwrap().data);
    let gone = env.client.get_contact(&c.id).await.unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone:?}");
}

#[tokio::test]
async fn duplicate_create_carries_the_existing_id() {
    let env = Env::new().await;
    let mut new = NewContact::new(env.location_id());
    new.fields = fields("dup@example.com", "A");
    let first = env.client.create_contact(&new).await.unwrap().data;
    new.fields.email = Some("DUP@example.com".into());
    match env.client.create_contact(&new).await.unwrap_err() {
        Error::Duplicate {
            existing_id,
            matching_field,
            ..
        } => {
            assert_eq!(existing_id, first.id.as_str());
            assert_eq!(matching_field.as_deref(), Some("email"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn upsert_creates_then_updates_and_drops_a_conflicting_second_identifier() {
    let env = Env::new().await;
    let mut up = UpsertContact::new(env.location_id());
    up.fields = ContactFields {
        phone: Some("+34600000001".into()),
        ..fields("one@example.com", "One")
    };
    let first = env.client.upsert_contact(&up).await.unwrap().data;
    assert!(first.new);

    up.fields.first_name = Some("Uno".into());
    let again = env.client.upsert_contact(&up).await.unwrap().data;
    assert!(!again.new);
    assert_eq!(again.contact.id, first.contact.id);
    assert_eq!(again.contact.first_name.as_deref(), Some("Uno"));

    let mut other = UpsertContact::new(env.location_id());
    other.fields = ContactFields {
        phone: Some("+34600000002".into()),
        ..fields("two@example.com", "Two")
    };
    let second = env.client.upsert_contact(&other).await.unwrap().data;

    // Email of the first, phone of the second: GHL updates the email match and silently
    // keeps the first contact's phone (highlevel-api-docs#37).
    let mut mixed = UpsertContact::new(env.location_id());
    mixed.fields = ContactFields {
        phone: Some("+34600000002".into()),
        ..fields("one@example.com", "Mixed")
    };
    let result = env.client.upsert_contact(&mixed).await.unwrap().data;
    assert_eq!(result.contact.id, first.contact.id);
    assert_eq!(result.contact.phone.as_deref(), Some("+34600000001"));
    let untouched = env
        .client
        .get_contact(&second.contact.id)
        .await
        .unwrap()
        .data;
    assert_eq!(untouched.first_name.as_deref(), Some("Two"));
}

#[tokio::test]
async fn upsert_follows_the_location_match_order_and_duplicate_setting() {
    let env = Env::with_spec(
        LocationSpec::new("Phones first").settings(LocationSettings {
            allow_duplicate_contact: true,
            duplicate_match_order: vec![ghl_sim::MatchField::Phone, ghl_sim::MatchField::Email],
            allow_duplicate_opportunity: false,
        }),
    )
    .await;
    let mut a = UpsertContact::new(env.location_id());
    a.fields = ContactFields {
        phone: Some("+15550000001".into()),
        ..fields("a@example.com", "A")
    };
    let a = env.client.upsert_contact(&a).await.unwrap().data.contact;
    let mut b = UpsertContact::new(env.location_id());
    b.fields = ContactFields {
        phone: Some("+15550000002".into()),
        ..fields("b@example.com", "B")
    };
    env.client.upsert_contact(&b).await.unwrap();

    // Phone is primary here: the phone match wins, the email (B's) is dropped.
    let mut mixed = UpsertContact::new(env.location_id());
    mixed.fields = ContactFields {
        phone: Some("+15550000001".into()),
        ..fields("b@example.com", "M")
    };
    let got = env.client.upsert_contact(&mixed).await.unwrap().data;
    assert_eq!(got.contact.id, a.id);
    assert_eq!(got.contact.email.as_deref(), Some("a@example.com"));

    // Duplicates allowed and asked for: always a new contact.
    let mut forced = UpsertContact::new(env.location_id());
    forced.fields = fields("a@example.com", "Again");
    forced.create_new_if_duplicate_allowed = Some(true);
    let created = env.client.upsert_contact(&forced).await.unwrap().data;
    assert!(created.new);
    assert_ne!(created.contact.id, a.id);
}

#[tokio::test]
async fn duplicate_lookup() {
    let env = Env::new().await;
    let mut new = NewContact::new(env.location_id());
    new.fields = ContactFields {
        phone: Some("+34 611 222 333".into()),
        ..fields("look@example.com", "L")
    };
    let c = env.client.create_contact(&new).await.unwrap().data;
    let by_email = env
        .client
        .find_duplicate_contact(&env.location_id(), Some("LOOK@example.com"), None)
        .await
        .unwrap();
    assert_eq!(by_email.data.unwrap().id, c.id);
    let by_phone = env
        .client
        .find_duplicate_contact(&env.location_id(), None, Some("+34611222333"))
        .await
        .unwrap();
    assert_eq!(by_phone.data.unwrap().id, c.id);
    let none = env
        .client
        .find_duplicate_contact(&env.location_id(), Some("nobody@example.com"), None)
        .await
        .unwrap();
    assert!(none.data.is_none());
}

#[tokio::test]
async fn tags_and_notes() {
    let env = Env::new().await;
    let mut new = NewContact::new(env.location_id());
    new.fields = fields("t@example.com", "T");
    let c = env.client.create_contact(&new).await.unwrap().data;
    let added = env
        .client
        .add_tags(&c.id, &["exp-solicitud".into(), "src/web".into()])
        .await
        .unwrap();
    assert_eq!(added.reply.status, 201);
    assert_eq!(added.data, vec!["exp-solicitud", "src/web"]);
    let left = env
        .client
        .remove_tags(&c.id, &["exp-solicitud".into()])
        .await
        .unwrap()
        .data;
    assert_eq!(left, vec!["src/web"]);

    let note = env
        .client
        .add_note(&c.id, &NewNote::new("Called, interested"))
        .await
        .unwrap();
    assert_eq!(note.reply.status, 201);
    let notes = env.client.list_notes(&c.id).await.unwrap().data;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].id, note.data.id);
    assert_eq!(notes[0].body.as_deref(), Some("Called, interested"));
}

#[tokio::test]
async fn search_pages_through_every_contact_with_search_after() {
    let env = Env::new().await;
    env.sim.set_limits(ghl_sim::Limits {
        max: 10_000,
        interval_ms: 10_000,
        daily: 1_000_000,
    });
    let token = env.loc.token.clone();
    let location = env.loc.id.clone();
    env.sim.with_world(|w| {
        let auth = w.resolve_token(&token).unwrap();
        let mut changes = ghl_sim::world::Changes::default();
        for i in 0..1203 {
            w.create_contact(
                &auth,
                &json!({"locationId": location, "email": format!("p{i}@example.com")}),
                &mut changes,
            )
            .unwrap();
        }
    });
    let all: Vec<_> = env
        .client
        .search_contacts_stream(ContactSearch::all(env.location_id(), 500))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1203);
    let unique: std::collections::HashSet<_> = all.iter().map(|c| c.id.clone()).collect();
    assert_eq!(unique.len(), 1203);
    let searches = env
        .sim
        .audit(0)
        .iter()
        .filter(|e| e.path == "/contacts/search")
        .count();
    assert_eq!(searches, 3, "500 + 500 + 203");

    let mut one = ContactSearch::all(env.location_id(), 10);
    one.filters
        .push(SearchFilter::eq("email", "p7@example.com"));
    let page = env.client.search_contacts(&one).await.unwrap().data;
    assert_eq!(page.total, 1);
    assert_eq!(page.contacts[0].email.as_deref(), Some("p7@example.com"));

    let too_big = env
        .client
        .search_contacts(&ContactSearch::all(env.location_id(), 501))
        .await
        .unwrap_err();
    assert!(matches!(too_big, Error::Validation { .. }), "{too_big:?}");
}

#[tokio::test]
async fn custom_fields_are_listed_created_and_differ_per_location() {
    let env = Env::new().await;
    let fields = env
        .client
        .list_custom_fields(&env.location_id(), Some(CustomFieldModel::Contact))
        .await
        .unwrap()
        .data;
    let score = fields
        .iter()
        .find(|f| f.short_key() == Some("lead_score"))
        .unwrap();
    assert_eq!(score.data_type, Some(DataType::Numerical));

    let created = env
        .client
        .create_custom_field(
            &env.location_id(),
            &NewCustomField {
                name: "Churn Risk".into(),
                data_type: DataType::Numerical,
                placeholder: None,
                text_box_list_options: None,
                position: None,
                model: Some(CustomFieldModel::Contact),
                field_key: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(created.reply.status, 201);
    assert_eq!(
        created.data.field_key.as_deref(),
        Some("contact.churn_risk")
    );
    // A key given explicitly is kept, whatever the name.
    let keyed = env
        .client
        .create_custom_field(
            &env.location_id(),
            &NewCustomField {
                name: "Nivel del experto".into(),
                data_type: DataType::Text,
                placeholder: None,
                text_box_list_options: None,
                position: None,
                model: Some(CustomFieldModel::Contact),
                field_key: Some("contact.expert_level".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(keyed.data.short_key(), Some("expert_level"));

    let other = env.sim.add_location(LocationSpec::new("Other").field(
        "Lead Score",
        "lead_score",
        "NUMERICAL",
    ));
    let other_client = env.client.with_token(&other.token);
    let other_fields = other_client
        .list_custom_fields(&ghl::LocationId::new(&other.id), None)
        .await
        .unwrap()
        .data;
    let other_score = other_fields
        .iter()
        .find(|f| f.short_key() == Some("lead_score"))
        .unwrap();
    assert_ne!(other_score.id, score.id);

    // A field id of another location is ignored on write, as GHL does.
    let mut new = NewContact::new(env.location_id());
    new.fields.email = Some("f@example.com".into());
    new.fields.custom_fields = Some(vec![CustomFieldInput::by_id(other_score.id.clone(), 5)]);
    let c = env.client.create_contact(&new).await.unwrap().data;
    assert!(c.custom_fields.is_empty());
}

#[tokio::test]
async fn a_token_cannot_reach_another_location() {
    let env = Env::new().await;
    let other = env.sim.add_location(LocationSpec::new("B"));
    let mut new = NewContact::new(ghl::LocationId::new(&other.id));
    new.fields.email = Some("x@example.com".into());
    let err = env.client.create_contact(&new).await.unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { ref reply, .. } if reply.status == 403),
        "{err:?}"
    );

    let theirs = env
        .client
        .with_token(&other.token)
        .create_contact(&new)
        .await
        .unwrap()
        .data;
    let err = env.client.get_contact(&theirs.id).await.unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { ref reply, .. } if reply.status == 403),
        "{err:?}"
    );
    let err = env
        .client
        .get_contact(&ContactId::new("doesnotexist000000000"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
