//! The client against CloudTalk's OpenAPI document (`vendor/cloudtalk-openapi`): every body
//! it sends fits the documented request schema, with no field the document does not name;
//! every query parameter it sends is documented; the documented answers are read; over
//! HTTP it uses the documented methods, paths, authentication and headers, and sorts the
//! documented errors; and against the simulator (calls, recordings, agents, campaigns)
//! every answer the simulator gives fits the document.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use cloudtalk::activities::{ActivityType, NewActivity};
use cloudtalk::agents::{AgentQuery, AvailabilityStatus};
use cloudtalk::bulk::{Action, Command};
use cloudtalk::calls::{CallQuery, CallStatus, CallType};
use cloudtalk::campaigns::{ButtonType, CampaignQuery, CampaignStatus, NewButton, NewCampaign};
use cloudtalk::contacts::{Attribute, ContactInput, ContactQuery, ExternalUrl};
use cloudtalk::notes::{NewNote, NoteQuery};
use cloudtalk::{AgentId, CallId, CampaignId, Client, ContactId, Error};
use cloudtalk_sim::openapi::OpenApi;
use cloudtalk_sim::{Call, Limit, SimHandle};
use secrecy::SecretString;
use serde::Serialize;
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

fn escaped(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// Every parameter `query` sends is a documented query parameter of `GET path`, and its
/// value fits the parameter's schema.
fn query_fits(doc: &OpenApi, path: &str, query: &impl Serialize) {
    let sent = serde_json::to_value(query).unwrap();
    let pointer = format!("/paths/{}/get/parameters", escaped(path));
    let params = doc
        .doc()
        .pointer(&pointer)
        .and_then(Value::as_array)
        .unwrap();
    let sent = sent.as_object().unwrap();
    assert!(!sent.is_empty(), "{path}: nothing to check");
    for (name, value) in sent {
        let i = params
            .iter()
            .position(|p| p["name"] == name.as_str() && p["in"] == "query")
            .unwrap_or_else(|| panic!("{path}: {name} is not a documented query parameter"));
        check(doc, &format!("{pointer}/{i}/schema"), value);
    }
}

fn button() -> NewButton {
    NewButton {
        id: None,
        title: "Sale".into(),
        kind: ButtonType::SuccessfulPositive,
        color: Some("#2980b9".into()),
        description: Some("Sold".into()),
    }
}

fn full_campaign() -> NewCampaign {
    NewCampaign {
        name: "Callbacks".into(),
        status: Some(CampaignStatus::Active),
        has_schedule_date: Some(true),
        schedule_start_date: Some("2026-12-24".into()),
        schedule_start_time: Some("09:00:00".into()),
        answer_wait_time: Some(45),
        after_call_dialing_auto: Some(false),
        after_call_time: Some(5),
        is_recording: Some(true),
        call_number_id: Some(36),
        call_script_id: Some(2),
        survey_id: Some(3),
        is_predictive: Some(false),
        calls_percentage: Some(80),
        attempts: Some(3),
        attempts_interval: Some(18),
        buttons: vec![button()],
        tag_ids: Some(vec![133]),
        agents: Some(vec![AgentId(7)]),
        group_ids: Some(vec![568]),
    }
}

#[test]
fn campaign_bodies_and_list_filters_fit_the_documented_schemas() {
    let doc = OpenApi::requests();
    let add = serde_json::to_value(full_campaign()).unwrap();
    check(&doc, &body_schema("/campaigns/add.json", "put"), &add);
    let mut edit = full_campaign();
    edit.buttons[0].id = Some(252);
    check(
        &doc,
        &body_schema("/campaigns/edit/{id}.json", "post"),
        &serde_json::to_value(&edit).unwrap(),
    );
    // The add document has no button id, so the check can fail.
    assert!(
        doc.check(
            &body_schema("/campaigns/add.json", "put"),
            &serde_json::to_value(&edit).unwrap()
        )
        .is_err()
    );
    query_fits(
        &doc,
        "/calls/index.json",
        &CallQuery {
            public_internal: Some("+34910000000".into()),
            public_external: Some("+34611000111".into()),
            date_from: Some("2026-12-24 12:22:00".into()),
            date_to: Some("2026-12-25 12:22:00".into()),
            contact_id: Some(ContactId(1)),
            user_id: Some(AgentId(7)),
            agent_extension: Some(1001),
            kind: Some(CallType::Incoming),
            status: Some(CallStatus::Missed),
            tag_id: Some(4),
            call_id: Some(CallId(27)),
            page: Some(1),
            limit: Some(100),
        },
    );
    query_fits(
        &doc,
        "/agents/index.json",
        &AgentQuery {
            id: Some(AgentId(7)),
            associated_number: Some("+34910000000".into()),
            page: Some(1),
            limit: Some(100),
        },
    );
    query_fits(
        &doc,
        "/campaigns/index.json",
        &CampaignQuery {
            id: Some(CampaignId(63)),
            page: Some(1),
            limit: Some(100),
        },
    );
}

/// The parts of a row the raw (uncorrected) answer schema of `GET path` names.
fn raw_item_parts(path: &str) -> Vec<String> {
    let doc = OpenApi::requests();
    let pointer = format!(
        "/paths/{}/get/responses/200/content/application~1json/schema/properties/data/items/properties",
        escaped(path)
    );
    let mut parts: Vec<String> = doc
        .doc()
        .pointer(&pointer)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    parts.sort();
    parts
}

#[tokio::test]
async fn the_documented_call_agent_and_campaign_answers_are_read() {
    let doc = OpenApi::requests();
    let (client, state) = server(vec![
        (
            200,
            vec![],
            example(&doc, "/calls/index.json", "get", "200"),
        ),
        (200, vec![], example(&doc, "/calls/{callId}", "get", "200")),
        (
            200,
            vec![],
            example(&doc, "/agents/index.json", "get", "200"),
        ),
        (
            200,
            vec![],
            example(&doc, "/campaigns/index.json", "get", "200"),
        ),
        (
            410,
            vec![],
            example(&doc, "/calls/recording/{callId}.json", "get", "410"),
        ),
        (
            201,
            vec![],
            example(&doc, "/campaigns/add.json", "put", "201"),
        ),
        (404, vec![], example(&doc, "/calls/{callId}", "get", "404")),
    ])
    .await;
    let calls = client
        .list_calls(&CallQuery {
            status: Some(CallStatus::Answered),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(calls.items_count, 3);
    let row = &calls.data[0];
    assert_eq!(row.cdr.id, CallId(27));
    assert_eq!(
        row.cdr.recording_link.as_deref(),
        Some("https://my.cloudtalk.io/r/play/27")
    );
    assert_eq!(row.cdr.public_external.as_deref(), Some("+421904247371"));
    assert_eq!(row.cdr.user_id, Some(AgentId(1234)));
    assert_eq!(row.cdr.talking_time, Some(21));
    assert_eq!(row.cdr.is_redirected, Some(false));
    let contact = row.contact.as_ref().unwrap();
    assert_eq!(contact.id, Some(ContactId(1234)));
    assert_eq!(contact.numbers, vec!["+18884871675"]);
    let tags: Vec<(Option<u64>, &str)> = contact
        .tags
        .iter()
        .map(|t| (t.id, t.name.as_str()))
        .collect();
    assert_eq!(tags, vec![(Some(615), "VIP"), (Some(609), "Security")]);
    assert_eq!(
        contact
            .favorite_agent
            .as_ref()
            .and_then(|a| a.fullname.as_deref()),
        Some("Max Yellow")
    );
    let agent = row.agent.as_ref().unwrap();
    assert_eq!(agent.id, Some(AgentId(1234)));
    assert_eq!(
        agent.default_outbound_number.as_deref(),
        Some("+442012345678")
    );
    assert_eq!(
        row.billing.as_ref().unwrap().price.as_deref(),
        Some("0.000000")
    );
    assert_eq!(row.notes[0].text.as_deref(), Some("Call later"));
    assert_eq!(row.tags.len(), 2);
    assert_eq!(
        row.number.as_ref().unwrap().caller_id_e164.as_deref(),
        Some("+442012345678")
    );

    let details = client.call_details(CallId(12345)).await.unwrap().data;
    assert_eq!(details.cdr_id, CallId(12345));
    assert_eq!(details.uuid.as_deref(), Some("aaaa-bbbb-cccc-dddd"));
    assert_eq!(details.contact.number.as_deref(), Some("+420123123123"));
    assert_eq!(details.call_times.talking_time, Some(60));
    let queue = &details.call_steps[1];
    assert_eq!(queue.kind.as_deref(), Some("queue"));
    assert_eq!(queue.agent_calls.len(), 2);
    assert_eq!(queue.agent_calls[0].reason.as_deref(), Some("offline"));

    let agents = client
        .list_agents(&AgentQuery::default())
        .await
        .unwrap()
        .data;
    let agent = &agents.data[0];
    assert_eq!(agent.id, AgentId(99));
    assert_eq!(agent.availability_status, Some(AvailabilityStatus::Online));
    assert_eq!(agent.extension, Some(1001));
    assert_eq!(agent.full_name(), "John Doe");
    assert_eq!(
        agent.associated_numbers,
        vec!["+421123456789", "+421987654321"]
    );

    let campaigns = client
        .list_campaigns(&CampaignQuery::default())
        .await
        .unwrap()
        .data;
    let campaign = &campaigns.data[0];
    assert_eq!(campaign.id, CampaignId(63));
    assert!(!campaign.is_active());
    assert_eq!(campaign.tag_ids(), vec![133]);
    assert_eq!(campaign.tag_names(), vec!["dialer"]);
    assert_eq!(campaign.attempts_interval, Some(18));
    assert_eq!(
        campaign.buttons[0].kind.as_deref(),
        Some("successful_positive")
    );
    assert_eq!(campaign.agents[0].fullname.as_deref(), Some("Jane Doe"));
    assert_eq!(campaign.groups[0].internal_name.as_deref(), Some("Agents"));
    // Why the simulator's listing follows the example: the schema names one `Tag` object,
    // the example lists `ContactsTag`.
    assert_eq!(
        raw_item_parts("/campaigns/index.json"),
        vec!["Agent", "Button", "Campaign", "Group", "Tag"]
    );
    assert!(
        example(&doc, "/campaigns/index.json", "get", "200")
            .pointer("/responseData/data/0/ContactsTag")
            .is_some_and(Value::is_array)
    );

    let expired = client.recording(CallId(27)).await.unwrap_err();
    match &expired {
        Error::Refused { message, reply } => {
            assert_eq!(reply.status, 410);
            assert_eq!(message, "Recording expired.");
        }
        other => panic!("{other:?}"),
    }
    let id = client.add_campaign(&full_campaign()).await.unwrap().data;
    assert_eq!(id, CampaignId(12345));
    let missing = client.call_details(CallId(12456)).await.unwrap_err();
    match &missing {
        Error::NotFound { message, .. } => assert!(message.contains("12456"), "{message}"),
        other => panic!("{other:?}"),
    }

    let seen = &state.lock().unwrap().0.requests;
    let routes: Vec<(&str, &str)> = seen
        .iter()
        .map(|(m, p, ..)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        routes,
        vec![
            ("GET", "/api/calls/index.json"),
            ("GET", "/api/calls/12345"),
            ("GET", "/api/agents/index.json"),
            ("GET", "/api/campaigns/index.json"),
            ("GET", "/api/calls/recording/27.json"),
            ("PUT", "/api/campaigns/add.json"),
            ("GET", "/api/calls/12456"),
        ]
    );
    assert_eq!(seen[0].2.as_deref(), Some("status=answered"));
    assert!(
        seen[4].3["accept"]
            .to_str()
            .unwrap()
            .starts_with("audio/x-wav"),
        "{:?}",
        seen[4].3
    );
    assert_eq!(seen[5].4, serde_json::to_value(full_campaign()).unwrap());
}

#[tokio::test]
async fn a_call_flow_is_asked_of_the_analytics_host_and_a_recording_is_audio() {
    // A server that answers a recording's bytes, to see the client keep them.
    let wav = cloudtalk_sim::world::silent_wav();
    let bytes = wav.clone();
    let app = Router::new().fallback(move |request: Request| {
        let bytes = bytes.clone();
        async move {
            let path = request.uri().path().to_owned();
            if path == "/analytics/api/calls/5" {
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    br#"{"cdr_id": 5, "uuid": "u-5"}"#.to_vec(),
                )
            } else if path == "/api/calls/recording/5.json" {
                (StatusCode::OK, [("content-type", "audio/x-wav")], bytes)
            } else {
                (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    br#"{"responseData": {"status": 404, "message": "Not found."}}"#.to_vec(),
                )
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder()
        .base_url(format!("{root}/api"))
        .analytics_base_url(format!("{root}/analytics/api"))
        .build("key-id", SecretString::from("key-secret"))
        .unwrap();
    let details = client.call_details(CallId(5)).await.unwrap().data;
    assert_eq!(details.uuid.as_deref(), Some("u-5"));
    let recording = client.recording(CallId(5)).await.unwrap().data;
    assert_eq!(recording.content_type.as_deref(), Some("audio/x-wav"));
    assert_eq!(recording.bytes, wav);
    assert!(recording.is_wav());
    assert!(matches!(
        client.recording(CallId(6)).await,
        Err(Error::NotFound { .. })
    ));
}

/// Every answer the simulator gave fits the document: each 2xx has a documented schema
/// for its status and media type (a recording is `audio/x-wav`), and each error with a
/// documented schema fits it. The paths checked, with their status.
fn every_answer_fits(sim: &SimHandle) -> Vec<(String, u16)> {
    let spec = OpenApi::answers();
    let mut checked = Vec::new();
    for entry in sim.audit() {
        let pointer = spec.answer_as(
            &entry.method,
            &entry.path,
            entry.status,
            &entry.content_type,
        );
        let Some(pointer) = pointer else {
            assert!(
                !(200..300).contains(&entry.status),
                "no documented {} answer for {} {} {}",
                entry.content_type,
                entry.method,
                entry.path,
                entry.status
            );
            continue;
        };
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
        checked.push((entry.path.clone(), entry.status));
    }
    checked
}

async fn sim_client(sim: &SimHandle) -> (Client, String) {
    sim.set_limit(Limit {
        per_minute: 1_000,
        bulk_counts_commands: true,
    });
    let c = sim.add_company("Acme");
    let client = Client::builder()
        .base_url(sim.base_url())
        .build(c.key_id.clone(), SecretString::from(c.secret))
        .unwrap();
    (client, c.key_id)
}

#[tokio::test]
async fn the_simulators_calls_recordings_agents_and_campaigns_fit_the_document() {
    let sim = SimHandle::start().await.unwrap();
    let (ct, company) = sim_client(&sim).await;
    let contact = ct
        .add_contact(&ContactInput {
            name: Some("Ana Ruiz".into()),
            numbers: Some(vec!["+34611000111".into()]),
            tags: Some(vec!["vip".into(), "dialer".into()]),
            ..ContactInput::default()
        })
        .await
        .unwrap()
        .data;
    let other = ct
        .add_contact(&ContactInput {
            name: Some("Otto".into()),
            tags: Some(vec!["vip".into()]),
            ..ContactInput::default()
        })
        .await
        .unwrap()
        .data;

    // Calls: one answered and recorded from a known number, one missed from an unknown one.
    let answered = sim
        .place_call(
            &company,
            Call {
                agent: (7, "Roberto Rossi".into()),
                talking_time: 95,
                waiting_time: 7,
                ..Call::default()
            },
        )
        .await;
    let missed = sim
        .place_call(
            &company,
            Call {
                external_number: "+393501234567".into(),
                agent: (8, "Giulia Bianchi".into()),
                talking_time: 0,
                recorded: false,
                ..Call::default()
            },
        )
        .await;
    let calls = ct.list_calls(&CallQuery::default()).await.unwrap().data;
    assert_eq!(calls.data.len(), 2);
    let row = calls
        .data
        .iter()
        .find(|r| r.cdr.id == CallId(answered.call_id))
        .expect("the answered call is listed");
    assert_eq!(
        row.cdr.recording_link,
        Some(format!(
            "https://my.cloudtalk.io/r/play/{}",
            answered.call_id
        ))
    );
    assert_eq!(row.cdr.recorded, Some(true));
    assert_eq!(row.cdr.kind.as_deref(), Some("incoming"));
    assert_eq!(row.cdr.user_id, Some(AgentId(7)));
    assert_eq!(row.cdr.public_external.as_deref(), Some("+34611000111"));
    assert_eq!(row.cdr.public_internal.as_deref(), Some("+34910000000"));
    assert_eq!(
        (row.cdr.talking_time, row.cdr.waiting_time),
        (Some(95), Some(7))
    );
    assert!(
        row.cdr.started_at.is_some() && row.cdr.answered_at.is_some() && row.cdr.ended_at.is_some()
    );
    let agent = row.agent.as_ref().expect("the call's agent");
    assert_eq!(agent.id, Some(AgentId(7)));
    assert_eq!(agent.fullname.as_deref(), Some("Roberto Rossi"));
    let matched = row.contact.as_ref().expect("the contact matched by number");
    assert_eq!(matched.id, Some(contact));
    assert_eq!(matched.numbers, vec!["+34611000111"]);
    let dialer_tag = matched
        .tags
        .iter()
        .find(|t| t.name == "dialer")
        .and_then(|t| t.id)
        .expect("the contact's tags carry their ids");
    let missed_row = calls
        .data
        .iter()
        .find(|r| r.cdr.id == CallId(missed.call_id))
        .unwrap();
    assert!(missed_row.contact.is_none() && !missed_row.cdr.answered());
    assert_eq!(missed_row.cdr.recording_link, None);

    // The documented filters.
    let ids = |page: &cloudtalk::Page<cloudtalk::calls::CallRow>| -> Vec<u64> {
        page.data.iter().map(|r| r.cdr.id.0).collect()
    };
    let only_missed = ct
        .list_calls(&CallQuery {
            status: Some(CallStatus::Missed),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(ids(&only_missed), vec![missed.call_id]);
    let by_contact = ct
        .list_calls(&CallQuery {
            contact_id: Some(contact),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(ids(&by_contact), vec![answered.call_id]);
    let by_number = ct
        .list_calls(&CallQuery {
            public_external: Some("393501234567".into()),
            user_id: Some(AgentId(8)),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(ids(&by_number), vec![missed.call_id]);
    let later = ct
        .list_calls(&CallQuery {
            date_from: Some("2999-01-01 00:00:00".into()),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert!(later.data.is_empty());
    let second_page = ct
        .list_calls(&CallQuery {
            limit: Some(1),
            page: Some(2),
            ..CallQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!((second_page.page_count, second_page.page_number), (2, 2));
    assert_eq!(ids(&second_page), vec![missed.call_id]);

    // The call's flow links its id to the UUID of the workflow bodies.
    let details = ct
        .call_details(CallId(answered.call_id))
        .await
        .unwrap()
        .data;
    assert_eq!(details.uuid.as_deref(), Some(answered.call_uuid.as_str()));
    assert_eq!(details.status.as_deref(), Some("answered"));
    assert_eq!(details.contact.id, Some(contact));
    assert_eq!(details.call_steps[0].id, Some(7));
    assert!(matches!(
        ct.call_details(CallId(1)).await,
        Err(Error::NotFound { .. })
    ));

    // Recordings: audio, 404 without one, 410 once expired.
    let recording = ct.recording(CallId(answered.call_id)).await.unwrap().data;
    assert_eq!(recording.content_type.as_deref(), Some("audio/x-wav"));
    assert!(recording.is_wav(), "{recording:?}");
    assert!(matches!(
        ct.recording(CallId(missed.call_id)).await,
        Err(Error::NotFound { .. })
    ));
    sim.with_company(&company, |c| {
        c.calls
            .get_mut(&answered.call_id)
            .unwrap()
            .recording_expired = true;
    });
    let expired = ct.recording(CallId(answered.call_id)).await.unwrap_err();
    assert_eq!(expired.reply().map(|r| r.status), Some(410), "{expired:?}");

    // Agents: the calls' agents are listed; a status change is seen.
    sim.set_agent_status(&company, 7, "Roberto Rossi", "paused")
        .await;
    let added = sim
        .add_agent(
            &company,
            cloudtalk_sim::Agent {
                extension: Some(1042),
                default_number: Some("+34910000999".into()),
                associated_numbers: vec!["+34910000999".into()],
                availability_status: "online".into(),
                ..cloudtalk_sim::Agent::named(0, "Lucia Verdi")
            },
        )
        .unwrap();
    let agents = ct.list_agents(&AgentQuery::default()).await.unwrap().data;
    let status_of = |id: u64| {
        agents
            .data
            .iter()
            .find(|a| a.id == AgentId(id))
            .and_then(|a| a.availability_status.clone())
    };
    assert_eq!(agents.data.len(), 3);
    assert_eq!(status_of(7), Some(AvailabilityStatus::Paused));
    assert_eq!(status_of(8), Some(AvailabilityStatus::Offline));
    assert_eq!(status_of(added), Some(AvailabilityStatus::Online));
    sim.set_agent_status(&company, 7, "Roberto Rossi", "calling")
        .await;
    let seven = ct
        .list_agents(&AgentQuery {
            id: Some(AgentId(7)),
            ..AgentQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(seven.data.len(), 1);
    assert_eq!(
        seven.data[0].availability_status,
        Some(AvailabilityStatus::Calling)
    );
    assert_eq!(seven.data[0].full_name(), "Roberto Rossi");
    let by_number = ct
        .list_agents(&AgentQuery {
            associated_number: Some("+34910000999".into()),
            ..AgentQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(
        by_number.data.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![AgentId(added)]
    );
    assert_eq!(by_number.data[0].extension, Some(1042));

    // Campaigns: one added by the simulator, one through the API with the tag id the call
    // history showed; a campaign's tags find its contacts.
    let seeded = sim.add_campaign(&company, "Win-back", &["vip"]).unwrap();
    let id = ct
        .add_campaign(&NewCampaign {
            tag_ids: Some(vec![dialer_tag]),
            agents: Some(vec![AgentId(7)]),
            group_ids: None,
            call_number_id: None,
            ..full_campaign()
        })
        .await
        .unwrap()
        .data;
    let campaigns = ct
        .list_campaigns(&CampaignQuery::default())
        .await
        .unwrap()
        .data;
    assert_eq!(campaigns.data.len(), 2);
    let listed = campaigns
        .data
        .iter()
        .find(|c| c.id == id)
        .expect("the added campaign is listed");
    assert_eq!(listed.name.as_deref(), Some("Callbacks"));
    assert!(listed.is_active());
    assert_eq!(listed.tag_ids(), vec![dialer_tag]);
    assert_eq!(listed.tag_names(), vec!["dialer"]);
    assert_eq!(listed.attempts, Some(3));
    assert_eq!(listed.is_predictive, Some(false));
    assert_eq!(listed.buttons[0].title.as_deref(), Some("Sale"));
    assert_eq!(listed.agents[0].fullname.as_deref(), Some("Roberto Rossi"));
    let win_back = campaigns
        .data
        .iter()
        .find(|c| c.id == CampaignId(seeded))
        .unwrap();
    assert_eq!(win_back.tag_names(), vec!["vip"]);
    let members = |tag: u64| {
        let ct = ct.clone();
        async move {
            let mut ids: Vec<ContactId> = ct
                .list_contacts(&ContactQuery {
                    tag_id: Some(tag),
                    ..ContactQuery::default()
                })
                .await
                .unwrap()
                .data
                .data
                .iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(members(listed.tag_ids()[0]).await, vec![contact]);
    assert_eq!(members(win_back.tag_ids()[0]).await, vec![contact, other]);
    // An edit replaces the tags it sends; an unknown tag is refused, naming the field.
    ct.edit_campaign(
        id,
        &NewCampaign {
            status: Some(CampaignStatus::Inactive),
            tag_ids: Some(win_back.tag_ids()),
            agents: None,
            group_ids: None,
            buttons: vec![NewButton {
                id: Some(listed.buttons[0].id.unwrap()),
                ..button()
            }],
            ..full_campaign()
        },
    )
    .await
    .unwrap();
    let edited = ct
        .list_campaigns(&CampaignQuery {
            id: Some(id),
            ..CampaignQuery::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(edited.data.len(), 1);
    assert!(!edited.data[0].is_active());
    assert_eq!(edited.data[0].tag_names(), vec!["vip"]);
    assert_eq!(edited.data[0].buttons[0].id, listed.buttons[0].id);
    let refused = ct
        .add_campaign(&NewCampaign {
            tag_ids: Some(vec![999_999]),
            ..full_campaign()
        })
        .await
        .unwrap_err();
    match &refused {
        Error::Invalid { fields, .. } => assert!(fields.contains_key("ContactsTag"), "{fields:?}"),
        other => panic!("{other:?}"),
    }
    let refused = ct
        .edit_campaign(
            id,
            &NewCampaign {
                agents: Some(vec![AgentId(404)]),
                ..full_campaign()
            },
        )
        .await
        .unwrap_err();
    match &refused {
        Error::Invalid { fields, .. } => assert!(fields.contains_key("Agent"), "{fields:?}"),
        other => panic!("{other:?}"),
    }
    ct.delete_campaign(CampaignId(seeded)).await.unwrap();
    let left = ct
        .list_campaigns(&CampaignQuery::default())
        .await
        .unwrap()
        .data;
    assert_eq!(left.data.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);

    // Every answer fits the document, the new routes among them.
    let checked = every_answer_fits(&sim);
    for (path, status) in [
        ("/calls/index.json".to_owned(), 200),
        (format!("/calls/{}", answered.call_id), 200),
        ("/calls/1".to_owned(), 404),
        (format!("/calls/recording/{}.json", answered.call_id), 200),
        (format!("/calls/recording/{}.json", answered.call_id), 410),
        (format!("/calls/recording/{}.json", missed.call_id), 404),
        ("/agents/index.json".to_owned(), 200),
        ("/campaigns/index.json".to_owned(), 200),
        ("/campaigns/add.json".to_owned(), 201),
        ("/campaigns/add.json".to_owned(), 406),
        (format!("/campaigns/edit/{id}.json"), 200),
        (format!("/campaigns/edit/{id}.json"), 406),
        (format!("/campaigns/delete/{seeded}.json"), 200),
    ] {
        assert!(
            checked.contains(&(path.clone(), status)),
            "{path} {status} was not checked: {checked:?}"
        );
    }
}
