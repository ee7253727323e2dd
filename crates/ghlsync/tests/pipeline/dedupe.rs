//! What counts as the same event: GHL's `webhookId` (a blank one is none), else the body;
//! a workflow sender's id (`X-Idempotency-Key`, the route's id field), else the body within
//! the route's window. Never the signature, which a resend makes anew.

use ghlsync_core::RouteAuth;
use ghlsync_core::process::RouteAction;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{Harness, ROUTE_SECRET, lead};

async fn status_of(r: reqwest::Response) -> String {
    let answer: Value = r.json().await.unwrap();
    answer["status"].as_str().unwrap_or("refused").to_owned()
}

/// Signs `body` for the test route secret at `seconds`, as a sender would.
fn signed(body: &[u8], seconds: i64) -> Vec<(&'static str, String)> {
    let ts = seconds.to_string();
    let sig = ghlsync::connectors::ghl::workflow::sign(ROUTE_SECRET.as_bytes(), &ts, body);
    vec![("x-ghl-timestamp", ts), ("x-ghl-signature", sig)]
}

#[tokio::test]
async fn a_blank_webhook_id_is_no_id_and_the_body_decides() {
    let h = Harness::start(|_| {}).await;
    let first = h.ghl_payload("ContactCreate", json!({"id": "c1", "webhookId": ""}));
    let second = h.ghl_payload("ContactCreate", json!({"id": "c2", "webhookId": "  "}));
    assert_eq!(status_of(h.post_ghl(first.clone()).await).await, "accepted");
    assert_eq!(
        status_of(h.post_ghl(second).await).await,
        "accepted",
        "another event with an empty id is not a repeat"
    );
    assert_eq!(
        status_of(h.post_ghl(first).await).await,
        "duplicate",
        "the same body again is"
    );
    assert_eq!(h.events().await.len(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn a_workflow_payload_resigned_or_resent_is_stored_once() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("leads", &[]).await;
    let body = serde_json::to_vec(&lead(1)).unwrap();
    let now = ghlsync::app::now_ms() / 1000;
    let first = h
        .post_workflow_with("leads", body.clone(), &signed(&body, now))
        .await;
    assert_eq!(status_of(first).await, "accepted");
    // The same payload signed again at another second (a retry, a re-run).
    let later = h
        .post_workflow_with("leads", body.clone(), &signed(&body, now - 30))
        .await;
    assert_eq!(status_of(later).await, "duplicate");
    // The same HMAC in base64 instead of hex.
    let mut headers = signed(&body, now);
    use base64::Engine as _;
    headers[1].1 =
        base64::engine::general_purpose::STANDARD.encode(hex::decode(&headers[1].1).unwrap());
    let base64 = h.post_workflow_with("leads", body.clone(), &headers).await;
    assert_eq!(status_of(base64).await, "duplicate");
    // Another lead is another event.
    assert_eq!(
        status_of(h.post_workflow("leads", &lead(2)).await).await,
        "accepted"
    );
    // A sender's own id decides over the body: two bodies, one id.
    let mut headers = signed(&body, now);
    headers.push(("x-idempotency-key", "evt-9".into()));
    let keyed = h.post_workflow_with("leads", body.clone(), &headers).await;
    assert_eq!(status_of(keyed).await, "accepted", "an id is not a body");
    let other = serde_json::to_vec(&lead(3)).unwrap();
    let mut headers = signed(&other, now);
    headers.push(("x-idempotency-key", "evt-9".into()));
    let same_id = h.post_workflow_with("leads", other, &headers).await;
    assert_eq!(status_of(same_id).await, "duplicate");
    assert_eq!(h.events().await.len(), 3);
    h.shutdown().await;
}

#[tokio::test]
async fn a_key_route_recognises_its_id_field_and_resent_bodies_within_its_window() {
    let h = Harness::start(|_| {}).await;
    for (name, field, window_secs) in [
        ("by-field", Some("$.event.id"), None),
        ("short", None, Some(1)),
        ("keep-all", None, Some(0)),
    ] {
        let mut route = ghlsync::registry::RouteDefinition::new(
            name,
            &h.loc.id.as_str().into(),
            RouteAuth::WebhookKey,
            RouteAction::UpsertContact(Default::default()),
        );
        route.dedupe = ghlsync_core::RouteDedupe {
            field: field.map(str::to_owned),
            window_secs,
        };
        ghlsync::registry::add_route(
            h.app.store(),
            h.app.cipher(),
            route,
            &SecretString::from("k-1".to_owned()),
        )
        .await
        .unwrap();
    }
    let key = || vec![("x-webhook-key", "k-1".to_owned())];
    let post = |route: &'static str, body: Value| {
        let h = &h;
        async move {
            let r = h
                .post_workflow_with(route, serde_json::to_vec(&body).unwrap(), &key())
                .await;
            status_of(r).await
        }
    };
    let mut with_id = lead(1);
    with_id["event"] = json!({"id": "e-1"});
    assert_eq!(post("by-field", with_id.clone()).await, "accepted");
    let mut same_id = lead(2);
    same_id["event"] = json!({"id": "e-1"});
    assert_eq!(post("by-field", same_id).await, "duplicate", "by the field");
    // Without an id in the body: the body, resent.
    assert_eq!(post("by-field", lead(3)).await, "accepted");
    assert_eq!(post("by-field", lead(3)).await, "duplicate");
    // A one-second window: the same body after it is a new event.
    assert_eq!(post("short", lead(4)).await, "accepted");
    assert_eq!(post("short", lead(4)).await, "duplicate");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(post("short", lead(4)).await, "accepted");
    // A window of 0 keeps every request.
    assert_eq!(post("keep-all", lead(5)).await, "accepted");
    assert_eq!(post("keep-all", lead(5)).await, "accepted");
    assert_eq!(h.events().await.len(), 6);
    let events = h.events().await;
    assert!(events.iter().all(|e| e.meta["dedupe"].is_string()));
    h.shutdown().await;
}
