//! The simulator's Workflow Automations: each trigger's body sent to the configured URL
//! with its static headers, in the shapes CloudTalk sends (numbers without `+`, tags as
//! CSV, Call Ended after the wrap-up), and read back by the `cloudtalk` crate's readers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cloudtalk::Client;
use cloudtalk::contacts::ContactInput;
use cloudtalk::webhooks::{Event, Trigger as Route};
use cloudtalk_sim::{Automation, Call, SimHandle, Trigger};
use secrecy::SecretString;
use serde_json::Value;

type Received = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

/// A receiver at `/hooks/{route}` that records what it gets.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/hooks/{route}",
            post(
                |State(r): State<Received>,
                 axum::extract::Path(route): axum::extract::Path<String>,
                 headers: HeaderMap,
                 axum::Json(body): axum::Json<Value>| async move {
                    r.lock().unwrap().push((route, headers, body));
                    StatusCode::ACCEPTED
                },
            ),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

fn automate(sim: &SimHandle, company: &str, base: &str) {
    let routes = [
        (Trigger::CallStarted, Route::CallStarted),
        (Trigger::CallEnded, Route::CallEnded),
        (Trigger::RecordingUploaded, Route::RecordingAvailable),
        (Trigger::AgentStatusChanged, Route::AgentStatusChanged),
        (Trigger::ContactCreated, Route::ContactCreated),
    ];
    for (trigger, route) in routes {
        sim.set_automation(
            company,
            trigger,
            Automation {
                url: format!("{base}/{}", route.route()),
                headers: vec![("x-bridge-secret".into(), "s3cret".into())],
            },
        );
    }
}

async fn wait_for(received: &Received, n: usize) -> Vec<(String, HeaderMap, Value)> {
    for _ in 0..200 {
        if received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    received.lock().unwrap().clone()
}

fn read(route: &str, body: &Value) -> Event {
    Event::read(Route::from_route(route).unwrap(), body)
}

#[tokio::test]
async fn a_call_sends_started_then_ended_after_wrap_up_then_the_recording() {
    let sim = SimHandle::start().await.unwrap();
    let company = sim.add_company("Acme");
    let (base, received) = receiver().await;
    automate(&sim, &company.key_id, &base);
    let ct = Client::builder()
        .base_url(sim.base_url())
        .build(
            company.key_id.clone(),
            SecretString::from(company.secret.clone()),
        )
        .unwrap();
    let contact = ct
        .add_contact(&ContactInput {
            name: Some("Ana".into()),
            numbers: Some(vec!["+34611000111".into()]),
            tags: Some(vec!["first".into(), "second".into()]),
            ..ContactInput::default()
        })
        .await
        .unwrap()
        .data;
    let ids = sim.place_call(&company.key_id, Call::default()).await;
    let got = wait_for(&received, 4).await;
    let routes: Vec<&str> = got.iter().map(|(r, ..)| r.as_str()).collect();
    assert_eq!(
        routes,
        vec![
            "contact-created",
            "call-started",
            "call-ended",
            "recording-available"
        ]
    );
    for (_, headers, _) in &got {
        assert_eq!(headers["x-bridge-secret"], "s3cret");
        assert_eq!(headers["user-agent"], "cloudtalk-workflow-automation");
    }
    assert!(
        got[1].2["external_number"].is_u64(),
        "a number without +: {}",
        got[1].2
    );
    let Event::Call(_, ended) = read(&got[2].0, &got[2].2) else {
        panic!("{:?}", got[2]);
    };
    assert_eq!(ended.call_uuid.as_deref(), Some(ids.call_uuid.as_str()));
    assert_eq!(ended.contact_id, Some(contact));
    assert_eq!(ended.tags, vec!["first", "second"]);
    assert_eq!(ended.talking_time, Some(95));
    assert_eq!(ended.external_number.as_deref(), Some("+34611000111"));
    let Event::Contact(created) = read(&got[0].0, &got[0].2) else {
        panic!()
    };
    assert_eq!(created.contact_id, Some(contact));
    assert_eq!(
        sim.deliveries()
            .iter()
            .filter(|d| d.status == Some(202))
            .count(),
        4
    );
}

#[tokio::test]
async fn calls_without_ids_reported_twice_are_one_call_to_a_reader() {
    let sim = SimHandle::start().await.unwrap();
    let company = sim.add_company("Acme");
    let (base, received) = receiver().await;
    automate(&sim, &company.key_id, &base);
    sim.place_call(
        &company.key_id,
        Call {
            with_ids: false,
            started_twice: true,
            recorded: false,
            ..Call::default()
        },
    )
    .await;
    sim.set_agent_status(&company.key_id, 7, "Roberto Rossi", "busy")
        .await;
    let got = wait_for(&received, 4).await;
    let started: Vec<String> = got
        .iter()
        .filter(|(r, ..)| r == "call-started")
        .map(|(r, _, b)| match read(r, b) {
            Event::Call(_, c) => {
                assert!(c.call_id.is_none() && c.call_uuid.is_none());
                c.identity()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(started[0], started[1], "one call, reported twice");
    let agent = got
        .iter()
        .find(|(r, ..)| r == "agent-status-change")
        .unwrap();
    let Event::Agent(status) = read(&agent.0, &agent.2) else {
        panic!()
    };
    assert_eq!(status.status.as_deref(), Some("busy"));
}
