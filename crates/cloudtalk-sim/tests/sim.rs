//! The CloudTalk client against the simulator: CloudTalk's rules hold (an edit replaces
//! the collections it sends, a refused bulk command fails alone, the limit and its
//! headers), and every answer the simulator gives fits CloudTalk's OpenAPI response schema
//! with no property the document does not name.

use std::time::Duration;

use cloudtalk::activities::{ActivityQuery, ActivityType, NewActivity};
use cloudtalk::bulk::{Action, Command};
use cloudtalk::contacts::{ContactInput, ContactQuery};
use cloudtalk::notes::{NewNote, NoteQuery};
use cloudtalk::{Client, ContactId, Error};
use cloudtalk_sim::openapi::OpenApi;
use cloudtalk_sim::{Fault, FaultAction, Limit, SimHandle};
use secrecy::SecretString;
use serde_json::json;

async fn client_of(sim: &SimHandle, timeout: Duration) -> Client {
    let c = sim.add_company("Acme");
    Client::builder()
        .base_url(sim.base_url())
        .timeout(timeout)
        .build(c.key_id, SecretString::from(c.secret))
        .unwrap()
}

/// Every 2xx answer in the simulator's audit fits its documented schema.
fn every_answer_fits(sim: &SimHandle) {
    let spec = OpenApi::answers();
    let mut checked = 0;
    for entry in sim.audit() {
        if !(200..300).contains(&entry.status) {
            continue;
        }
        let pointer = spec
            .answer(&entry.method, &entry.path, entry.status)
            .unwrap_or_else(|| panic!("no documented answer for {} {}", entry.method, entry.path));
        // Most documented answers describe what is inside `responseData`; the bulk
        // endpoint's describes the envelope too.
        let enveloped = spec
            .doc()
            .pointer(&pointer)
            .and_then(|s| s.pointer("/properties/responseData"))
            .is_some();
        let answer = if enveloped {
            json!({"responseData": entry.response_body})
        } else {
            entry.response_body.clone()
        };
        if let Err(errors) = spec.check(&pointer, &answer) {
            panic!("{} {}: {answer}\n{errors:#?}", entry.method, entry.path);
        }
        checked += 1;
    }
    assert!(checked > 0);
}

fn person() -> ContactInput {
    ContactInput {
        name: Some("Ana Ruiz".into()),
        company: Some("Acme".into()),
        numbers: Some(vec!["+34611000111".into()]),
        emails: Some(vec!["ana@acme.example".into()]),
        tags: Some(vec!["lead".into()]),
        ..ContactInput::default()
    }
}

#[tokio::test]
async fn contacts_follow_cloudtalks_edit_rules_and_every_answer_fits_the_document() {
    let sim = SimHandle::start().await.unwrap();
    let ct = client_of(&sim, Duration::from_secs(5)).await;
    let id = ct.add_contact(&person()).await.unwrap().data;
    // An edit of the name alone keeps the collections.
    ct.edit_contact(
        id,
        &ContactInput {
            name: Some("Ana Ruiz Gil".into()),
            ..ContactInput::default()
        },
    )
    .await
    .unwrap();
    let shown = ct.show_contact(id).await.unwrap().data;
    assert_eq!(shown.name.as_deref(), Some("Ana Ruiz Gil"));
    assert_eq!(shown.tags, vec!["lead"]);
    assert_eq!(shown.numbers, vec!["+34611000111"]);
    // Tags sent in an edit replace the contact's tags.
    ct.edit_contact(
        id,
        &ContactInput {
            tags: Some(vec!["customer".into()]),
            ..ContactInput::default()
        },
    )
    .await
    .unwrap();
    ct.add_tags(id, &["GHL-WON".into()]).await.unwrap();
    assert_eq!(
        ct.show_contact(id).await.unwrap().data.tags,
        vec!["customer", "GHL-WON"]
    );
    ct.remove_tags(id, &["customer".into()]).await.unwrap();
    assert_eq!(
        ct.show_contact(id).await.unwrap().data.tags,
        vec!["GHL-WON"]
    );
    // Found by number however it is written.
    let found = ct
        .find_contacts_by_number("0034 611 000 111")
        .await
        .unwrap()
        .data;
    assert!(
        found.is_empty(),
        "a national prefix is another number: {found:?}"
    );
    let found = ct
        .find_contacts_by_number("34611000111")
        .await
        .unwrap()
        .data;
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
    ct.add_note(
        id,
        &NewNote {
            note: "[GHL Note] called back".into(),
            user_id: None,
        },
    )
    .await
    .unwrap();
    let notes = ct
        .list_notes(&NoteQuery {
            contact_id: Some(id),
            ..NoteQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(
        notes.data[0].note.as_deref(),
        Some("[GHL Note] called back")
    );
    ct.add_activity(
        id,
        &NewActivity {
            kind: ActivityType::Other,
            name: "Pipeline: Sales".into(),
            activity_date: None,
            description: Some("Moved to Won".into()),
            activity_author: Some("GoHighLevel".into()),
            external_id: None,
            external_url: None,
        },
    )
    .await
    .unwrap();
    let activities = ct
        .list_activities(&ActivityQuery {
            contact_id: Some(id),
            ..ActivityQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(activities.data[0].name.as_deref(), Some("Pipeline: Sales"));
    let page = ct
        .list_contacts(&ContactQuery {
            keyword: Some("ana".into()),
            ..ContactQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(page.data.len(), 1);
    let key = sim.audit()[0].company.clone().unwrap();
    assert_eq!(sim.company(&key).unwrap().contacts.len(), 1);
    every_answer_fits(&sim);
}

#[tokio::test]
async fn a_refused_bulk_command_fails_alone() {
    let sim = SimHandle::start().await.unwrap();
    let ct = client_of(&sim, Duration::from_secs(5)).await;
    let id = ct.add_contact(&person()).await.unwrap().data;
    let note = |text: &str| NewNote {
        note: text.into(),
        user_id: None,
    };
    let results = ct
        .bulk(&[
            Command {
                command_id: "a".into(),
                action: Action::AddNote(id, note("first")),
            },
            Command {
                command_id: "b".into(),
                action: Action::AddNote(ContactId(999_999), note("nobody")),
            },
            Command {
                command_id: "c".into(),
                action: Action::EditContact(
                    id,
                    ContactInput {
                        emails: Some(vec!["not an email".into()]),
                        ..ContactInput::default()
                    },
                ),
            },
            Command {
                command_id: "d".into(),
                action: Action::AddContact(person()),
            },
        ])
        .await
        .unwrap()
        .data;
    let by: Vec<(&str, u16)> = results
        .iter()
        .map(|r| (r.command_id.as_str(), r.status))
        .collect();
    assert_eq!(by, vec![("a", 201), ("b", 404), ("c", 406), ("d", 201)]);
    assert_eq!(results[2].message.as_deref(), Some("Invalid input data."));
    assert!(results[3].created_id().is_some());
    let shown = ct.show_contact(id).await.unwrap().data;
    assert_eq!(
        shown.emails,
        vec!["ana@acme.example"],
        "the refused edit changed nothing"
    );
    every_answer_fits(&sim);
}

#[tokio::test]
async fn the_limit_is_per_company_with_its_headers_and_bulk_commands_count() {
    let sim = SimHandle::start().await.unwrap();
    sim.set_limit(Limit {
        per_minute: 5,
        bulk_counts_commands: true,
    });
    let ct = client_of(&sim, Duration::from_secs(5)).await;
    let other = client_of(&sim, Duration::from_secs(5)).await;
    let id = ct.add_contact(&person()).await.unwrap();
    assert_eq!(id.rate_limit().limit, Some(5));
    assert_eq!(id.rate_limit().remaining, Some(4));
    let notes: Vec<Command> = (0..3)
        .map(|i| Command {
            command_id: i.to_string(),
            action: Action::AddNote(
                id.data,
                NewNote {
                    note: format!("n{i}"),
                    user_id: None,
                },
            ),
        })
        .collect();
    let bulk = ct.bulk(&notes).await.unwrap();
    assert_eq!(
        bulk.rate_limit().remaining,
        Some(1),
        "three commands, three operations"
    );
    ct.show_contact(id.data).await.unwrap();
    let refused = ct.show_contact(id.data).await.unwrap_err();
    let Error::RateLimited { reset_at, reply } = &refused else {
        panic!("{refused:?}");
    };
    assert!(reset_at.is_some());
    assert_eq!(reply.rate_limit.remaining, Some(0));
    // Another company has its own budget.
    other.add_contact(&person()).await.unwrap();
}

#[tokio::test]
async fn a_request_applied_then_answered_too_late_is_applied() {
    let sim = SimHandle::start().await.unwrap();
    let ct = client_of(&sim, Duration::from_millis(300)).await;
    let id = ct.add_contact(&person()).await.unwrap().data;
    sim.add_fault(Fault {
        action: FaultAction::ApplyThenTimeout { hold_ms: 1_000 },
        path_prefix: Some("/notes/add".into()),
        count: Some(1),
    });
    let timed_out = ct
        .add_note(
            id,
            &NewNote {
                note: "once".into(),
                user_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(timed_out, Error::Timeout), "{timed_out:?}");
    let notes = ct
        .list_notes(&NoteQuery {
            contact_id: Some(id),
            ..NoteQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(
        notes.data.len(),
        1,
        "the note was stored before the answer was lost"
    );
}
