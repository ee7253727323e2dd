//! Webhook emission: events per change, GHL's double opportunity events, retries only on 429.

use std::time::Duration;

use ghl_sim::{Simulator, WebhookSettings};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;
use crate::receiver::Receiver;

fn fast(url: String) -> WebhookSettings {
    WebhookSettings {
        urls: vec![url],
        retry_interval_ms: 20,
        retry_jitter_ms: 5,
        ..WebhookSettings::default()
    }
}

fn types(received: &[crate::receiver::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn one_opportunity_change_sends_two_events() {
    let receiver = Receiver::start(200).await;
    let env = Env::new().await;
    env.sim.set_webhooks(fast(receiver.url()));
    let contact = env.contact("w@example.com").await;
    let pipeline = &env.loc.pipelines[0];
    let r = env
        .ghl(Method::POST, "/opportunities/")
        .json(&json!({"locationId": env.loc.id, "pipelineId": pipeline.id, "name": "A", "status": "open", "contactId": contact}))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["opportunity"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.ghl(Method::PUT, &format!("/opportunities/{id}/status"))
        .json(&json!({"status": "won"}))
        .send()
        .await
        .unwrap();
    env.ghl(Method::PUT, &format!("/opportunities/{id}"))
        .json(&json!({"pipelineStageId": pipeline.stages[1].id}))
        .send()
        .await
        .unwrap();
    assert!(env.sim.wait_for_deliveries(Duration::from_secs(5)).await);
    let mut got = types(&receiver.received());
    got.sort();
    let mut expected = vec![
        "ContactCreate",
        "OpportunityCreate",
        "OpportunityUpdate",
        "OpportunityUpdate",
        "OpportunityStatusUpdate",
        "OpportunityUpdate",
        "OpportunityStageUpdate",
    ];
    expected.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn unchanged_updates_send_nothing_and_tag_changes_send_tag_updates() {
    let receiver = Receiver::start(200).await;
    let env = Env::new().await;
    env.sim.set_webhooks(fast(receiver.url()));
    let id = env.contact("t@example.com").await;
    env.ghl(Method::PUT, &format!("/contacts/{id}"))
        .json(&json!({"email": "t@example.com"}))
        .send()
        .await
        .unwrap();
    env.ghl(Method::POST, &format!("/contacts/{id}/tags"))
        .json(&json!({"tags": ["vip"]}))
        .send()
        .await
        .unwrap();
    env.ghl(Method::POST, &format!("/contacts/{id}/tags"))
        .json(&json!({"tags": ["VIP"]}))
        .send()
        .await
        .unwrap();
    assert!(env.sim.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(
        types(&receiver.received()),
        vec!["ContactCreate", "ContactTagUpdate"]
    );
}

#[tokio::test]
async fn retried_only_on_429_up_to_six_times() {
    let busy = Receiver::start(429).await;
    let broken = Receiver::start(500).await;
    let sim = Simulator::builder()
        .webhooks(WebhookSettings {
            urls: vec![busy.url(), broken.url()],
            retry_interval_ms: 10,
            retry_jitter_ms: 0,
            ..WebhookSettings::default()
        })
        .start()
        .await
        .unwrap();
    let loc = sim.add_location(ghl_sim::LocationSpec::new("R"));
    let r = reqwest::Client::new()
        .post(format!("{}/contacts/", sim.base_url()))
        .bearer_auth(&loc.token)
        .header("Version", "2021-07-28")
        .json(&json!({"locationId": loc.id, "email": "r@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(sim.wait_for_deliveries(Duration::from_secs(5)).await);
    assert_eq!(busy.received().len(), 7, "first attempt and six retries");
    assert_eq!(broken.received().len(), 1, "a 500 is final");
    let deliveries = sim.deliveries();
    assert!(deliveries.iter().all(|d| !d.delivered && d.finished));
    // Every attempt carries the same webhookId: it is one event.
    let ids: std::collections::HashSet<String> = busy
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["webhookId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn legacy_rsa_signature_can_be_turned_off() {
    let receiver = Receiver::start(200).await;
    let env = Env::new().await;
    env.sim.set_webhooks(WebhookSettings {
        sign_rsa: false,
        ..fast(receiver.url())
    });
    env.contact("k@example.com").await;
    assert!(env.sim.wait_for_deliveries(Duration::from_secs(5)).await);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].headers.contains_key("x-ghl-signature"));
    assert!(!got[0].headers.contains_key("x-wh-signature"));
}
