//! The client against CloudTalk's OpenAPI document (`vendor/cloudtalk-openapi`): every body
//! it sends fits the documented request schema, with no field the document does not name;
//! the documented answers are read; and over HTTP it uses the documented methods, paths,
//! authentication and headers, and sorts the documented errors.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use cloudtalk::activities::{ActivityType, NewActivity};
use cloudtalk::bulk::{Action, Command};
use cloudtalk::contacts::{Attribute, ContactInput, ContactQuery, ExternalUrl};
use cloudtalk::notes::{NewNote, NoteQuery};
use cloudtalk::{AgentId, Client, ContactId, Error};
use cloudtalk_sim::openapi::OpenApi;
use secrecy::SecretString;
use serde_json::{Value, json};

/// Validates `instance` against the schema at `pointer`.
fn check(spec: &OpenApi, pointer: &str, instance: &Value) {
    if let Err(errors) = spec.check(pointer, instance) {
        panic!("{pointer}: {instance}\n{errors:#?}");
    }
}

fn body_schema(path: &str, method: &str) -> String {
    OpenApi::request_body(path, method)
}

fn full_contact() -> ContactInput {
    ContactInput {
        name: Some("Ana Ruiz".into()),
        title: Some("Dr.".into()),
        company: Some("Acme".into()),
        industry: Some("it".into()),
        website: Some("https://acme.example".into()),
        address: Some("Gran Via 1".into()),
        city: Some("Madrid".into()),
        zip: Some("28013".into()),
        state: Some("MD".into()),
        country_id: Some(201),
        favorite_agent: Some(AgentId(7)),
        numbers: Some(vec!["+34611000111".into()]),
        emails: Some(vec!["ana@acme.example".into()]),
        tags: Some(vec!["vip".into(), "GHL-WON".into()]),
        attributes: Some(vec![Attribute {
            attribute_id: 12,
            value: "gold".into(),
        }]),
        external_urls: Some(vec![ExternalUrl {
            name: "GHL".into(),
            url: "https://app.gohighlevel.com/contacts/abc".into(),
        }]),
    }
}

fn activity() -> NewActivity {
    NewActivity {
        kind: ActivityType::Other,
        name: "Pipeline: Sales".into(),
        activity_date: Some("2026-12-03T10:00:00Z".into()),
        description: Some("moved to Won".into()),
        activity_author: Some("GoHighLevel".into()),
        external_id: Some(42),
        external_url: Some("https://app.gohighlevel.com/opportunities/1".into()),
    }
}

#[test]
fn every_request_body_fits_the_documented_schema() {
    let doc = OpenApi::requests();
    let contact = serde_json::to_value(full_contact()).unwrap();
    check(&doc, &body_schema("/contacts/add.json", "put"), &contact);
    check(
        &doc,
        &body_schema("/contacts/edit/{contactId}.json", "post"),
        &contact,
    );
    let note = NewNote {
        note: "[GHL Note] hello".into(),
        user_id: Some(AgentId(3)),
    };
    check(
        &doc,
        &body_schema("/notes/add/{contactId}.json", "put"),
        &serde_json::to_value(&note).unwrap(),
    );
    check(
        &doc,
        &body_schema("/activity/add/{contactId}.json", "put"),
        &serde_json::to_value(activity()).unwrap(),
    );
    // A misspelt field fails: the check can fail.
    let mut wrong = contact.clone();
    wrong["ContactNumbers"] = json!([{"public_number": "+34611000111"}]);
    assert!(
        doc.check(&body_schema("/contacts/add.json", "put"), &wrong)
            .is_err()
    );
}

#[test]
fn every_bulk_command_fits_the_documented_schema_of_its_action() {
    let doc = OpenApi::requests();
    let bulk = body_schema("/bulk/contacts.json", "post");
    let branches = doc
        .doc()
        .pointer(&format!("{bulk}/items/properties/data/oneOf"))
        .and_then(Value::as_array)
        .unwrap()
        .clone();
    let branch = |title: &str| {
        branches
            .iter()
            .position(|b| b["title"] == title)
            .unwrap_or_else(|| panic!("no branch {title}"))
    };
    let note = NewNote {
        note: "n".into(),
        user_id: None,
    };
    let commands = [
        (Action::AddContact(full_contact()), "add contact"),
        (
            Action::EditContact(ContactId(5), full_contact()),
            "edit contact",
        ),
        (
            Action::DeleteContact(ContactId(5)),
            "delete contact/note/activity",
        ),
        (Action::AddNote(ContactId(5), note.clone()), "add note"),
        (
            Action::EditNote(cloudtalk::NoteId(9), ContactId(5), note),
            "edit note",
        ),
        (
            Action::AddActivity(ContactId(5), activity()),
            "add activity",
        ),
        (
            Action::EditActivity(cloudtalk::ActivityId(8), ContactId(5), activity()),
            "edit activity",
        ),
    ];
    for (n, (action, title)) in commands.into_iter().enumerate() {
        let command = serde_json::to_value(Command {
            command_id: format!("c{n}"),
            action,
        })
        .unwrap();
        assert!(command["action"].is_string() && command["command_id"] == format!("c{n}"));
        check(
            &doc,
            &format!("{bulk}/items/properties/data/oneOf/{}", branch(title)),
            &command["data"],
        );
        let mut envelope = command.clone();
        envelope["data"] = json!({});
        check(
            &doc,
            &format!("{bulk}/items/properties/action"),
            &envelope["action"],
        );
    }
}

/// What the test server saw, and what it answers next.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, String, Option<String>, HeaderMap, Value)>,
}

/// An answer the test server gives: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Value);

type Shared = Arc<Mutex<(Seen, Vec<Answer>)>>;

async fn record(State(state): State<Shared>, request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    state.0.requests.push((
        parts.method.to_string(),
        parts.uri.path().to_owned(),
        parts.uri.query().map(str::to_owned),
        parts.headers.clone(),
        body,
    ));
    let (status, headers, answer) = state.1.remove(0);
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn server(answers: Vec<Answer>) -> (Client, Shared) {
    let state: Shared = Arc::new(Mutex::new((Seen::default(), answers)));
    let app = Router::new()
        .fallback(record)
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder()
        .base_url(base)
        .build("key-id", SecretString::from("key-secret"))
        .unwrap();
    (client, state)
}

/// The documented example answer of an operation.
fn example(doc: &OpenApi, path: &str, method: &str, status: &str) -> Value {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    doc.doc()
        .pointer(&format!(
            "/paths/{escaped}/{method}/responses/{status}/content/application~1json/example"
        ))
        .cloned()
        .unwrap_or_else(|| panic!("no example for {method} {path} {status}"))
}

#[tokio::test]
async fn the_client_uses_the_documented_routes_and_reads_the_documented_answers() {
    let doc = OpenApi::requests();
    let limits = vec![
        ("x-cloudtalkapi-limit", "60".to_owned()),
        ("x-cloudtalkapi-remaining", "59".to_owned()),
        ("x-cloudtalkapi-resettime", "1700000060".to_owned()),
    ];
    let (client, state) = server(vec![
        (
            201,
            limits.clone(),
            example(&doc, "/notes/add/{contactId}.json", "put", "201"),
        ),
        (
            200,
            vec![],
            example(&doc, "/contacts/show/{contactId}.json", "get", "200"),
        ),
        (
            200,
            vec![],
            example(&doc, "/contacts/index.json", "get", "200"),
        ),
        (
            200,
            vec![],
            example(&doc, "/notes/index.json", "get", "200"),
        ),
        (
            200,
            vec![],
            example(&doc, "/activity/index.json", "get", "200"),
        ),
        (
            200,
            vec![],
            example(&doc, "/bulk/contacts.json", "post", "200"),
        ),
        (200, vec![], json!({"responseData": {"status": 200}})),
    ])
    .await;
    let note = client
        .add_note(
            ContactId(567),
            &NewNote {
                note: "hello".into(),
                user_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(note.data, cloudtalk::NoteId(12345));
    assert_eq!(note.rate_limit().remaining, Some(59));
    let shown = client.show_contact(ContactId(1234)).await.unwrap().data;
    assert_eq!(shown.id, ContactId(1234));
    assert_eq!(shown.numbers, vec!["+442012345678"]);
    assert_eq!(shown.tags, vec!["vipClients", "shopify"]);
    assert_eq!(shown.country_id, Some(1));
    let page = client
        .list_contacts(&ContactQuery {
            keyword: Some("442012345678".into()),
            ..ContactQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(page.data[0].number.as_deref(), Some("+442012345678"));
    assert_eq!(page.items_count, 3);
    let notes = client
        .list_notes(&NoteQuery {
            contact_id: Some(ContactId(567)),
            ..NoteQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(notes.data[0].contact_id, Some(ContactId(567)));
    let activities = client
        .list_activities(&cloudtalk::activities::ActivityQuery::default())
        .await
        .unwrap()
        .data;
    assert_eq!(activities.data[0].external_id.as_deref(), Some("201712399"));
    let results = client
        .bulk(&[Command {
            command_id: "123".into(),
            action: Action::DeleteContact(ContactId(1)),
        }])
        .await
        .unwrap()
        .data;
    assert_eq!(results.len(), 9);
    assert!(results.iter().all(cloudtalk::bulk::CommandResult::ok));
    assert_eq!(results[0].created_id(), Some(123));
    client
        .remove_tags(ContactId(1234), &["old".into()])
        .await
        .unwrap();

    let seen = &state.lock().unwrap().0.requests;
    let routes: Vec<(&str, &str)> = seen
        .iter()
        .map(|(m, p, ..)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        routes,
        vec![
            ("PUT", "/api/notes/add/567.json"),
            ("GET", "/api/contacts/show/1234.json"),
            ("GET", "/api/contacts/index.json"),
            ("GET", "/api/notes/index.json"),
            ("GET", "/api/activity/index.json"),
            ("POST", "/api/bulk/contacts.json"),
            ("DELETE", "/api/contacts/removeTags/1234.json"),
        ]
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("key-id:key-secret")
    );
    for (method, path, _, headers, _) in seen {
        assert_eq!(headers["authorization"], basic.as_str(), "{method} {path}");
        assert_eq!(headers["accept"], "application/json", "{method} {path}");
    }
    assert_eq!(seen[2].2.as_deref(), Some("keyword=442012345678"));
    assert_eq!(seen[3].2.as_deref(), Some("contact_id=567"));
    assert_eq!(seen[6].4, json!({"tags": ["old"]}));
}

#[tokio::test]
async fn the_documented_errors_are_sorted() {
    let doc = OpenApi::requests();
    let (client, _state) = server(vec![
        (
            406,
            vec![],
            example(&doc, "/contacts/edit/{contactId}.json", "post", "406"),
        ),
        (
            429,
            vec![
                ("x-cloudtalkapi-limit", "60".to_owned()),
                ("x-cloudtalkapi-remaining", "0".to_owned()),
                ("x-cloudtalkapi-resettime", "1700000060".to_owned()),
            ],
            json!({"responseData": {"status": 429, "message": "Too Many Requests"}}),
        ),
        (
            404,
            vec![],
            example(&doc, "/contacts/show/{contactId}.json", "get", "404"),
        ),
    ])
    .await;
    let invalid = client
        .edit_contact(ContactId(1), &ContactInput::default())
        .await
        .unwrap_err();
    match &invalid {
        Error::Invalid { fields, .. } => {
            assert_eq!(
                fields["email"],
                vec!["Please supply a valid email address."]
            );
        }
        other => panic!("{other:?}"),
    }
    let limited = client.show_contact(ContactId(1)).await.unwrap_err();
    assert!(
        matches!(
            limited,
            Error::RateLimited {
                reset_at: Some(1_700_000_060),
                ..
            }
        ),
        "{limited:?}"
    );
    assert!(limited.is_transient());
    let missing = client.show_contact(ContactId(1)).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    let eleven: Vec<Command> = (0..11)
        .map(|i| Command {
            command_id: i.to_string(),
            action: Action::DeleteNote(cloudtalk::NoteId(i)),
        })
        .collect();
    assert!(matches!(
        client.bulk(&eleven).await,
        Err(Error::TooManyCommands(11))
    ));
}
