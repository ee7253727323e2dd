//! Ingress: signatures over raw bytes, replay window, dedupe, validation, limits, overload.

use ghlsync_store::Store;
use serde_json::{Value, json};

use crate::{Harness, lead};

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap())
}

#[tokio::test]
async fn verify_health_ready_and_metrics() {
    let h = Harness::start(|_| {}).await;
    let v: Value = h
        .http
        .post(format!("{}/webhooks/ghl/verify", h.base))
        .json(&json!({"test": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        json!({"status": "ready", "version": env!("CARGO_PKG_VERSION")})
    );
    let health: Value = h
        .http
        .get(format!("{}/health", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert!(
        health.get("events_last_hour").is_some() && health.get("success_rate_percent").is_some()
    );
    assert!(health.get("avg_processing_time_ms").is_some());
    assert_eq!(
        h.http
            .get(format!("{}/ready", h.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    h.post_ghl(h.ghl_payload("ContactCreate", json!({"id": "c1"})))
        .await;
    let metrics = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ghlsync_ingress_requests_total"),
        "{metrics}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn signed_ghl_webhooks_are_stored_once_and_mirrored() {
    let h = Harness::start(|_| {}).await;
    let body = h.ghl_payload(
        "ContactCreate",
        json!({"id": "c1", "email": "a@b.co", "tags": ["vip"]}),
    );
    let r = h.post_ghl(body.clone()).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["status"], "accepted");
    // GHL redelivers the same webhook: accepted, not stored again.
    let again: Value = h.post_ghl(body).await.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["id"], first["id"]);
    // The legacy RSA signature is accepted too.
    let body = h.ghl_payload(
        "NoteCreate",
        json!({"id": "n1", "contactId": "c1", "body": "hello"}),
    );
    let sig = h.keys().sign_rsa(&body);
    assert_eq!(
        h.post_ghl_with(body, &[("x-wh-signature", sig)])
            .await
            .status(),
        200
    );
    // Unknown event types are accepted and kept.
    assert_eq!(
        h.post_ghl(h.ghl_payload("InvoicePaid", json!({"_id": "inv"})))
            .await
            .status(),
        200
    );
    h.drain().await;
    let loc = h.loc.id.as_str().into();
    let mirrored = h
        .app
        .store()
        .contact(&loc, &"c1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mirrored.tags, vec!["vip"]);
    assert_eq!(
        h.app.store().notes(&loc, &"c1".into()).await.unwrap().len(),
        1
    );
    let events = h.events().await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.state == ghlsync_core::EventState::Done)
    );
    h.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_naming_the_problem() {
    let h = Harness::start(|c| c.server.max_body_bytes = 2_000).await;
    // Signature problems: 401.
    let body = h.ghl_payload("ContactCreate", json!({"id": "c1"}));
    let (status, e) = error_of(h.post_ghl_with(body.clone(), &[]).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("missing_signature"))
    );
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] = b' ';
    let sig = h.keys().sign_ed25519(&body);
    let (status, e) = error_of(h.post_ghl_with(tampered, &[("x-ghl-signature", sig)]).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );
    // A signed body that is not JSON: 400.
    let (status, e) = error_of(h.post_ghl(b"{not json".to_vec()).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    // Signed, JSON, but not an object: 400 naming the body.
    let (status, e) = error_of(h.post_ghl(b"[]".to_vec()).await).await;
    assert_eq!((status, e["error"]["field"].as_str()), (400, Some("body")));
    // A replay from an hour ago: 401.
    let old = serde_json::to_vec(&json!({"type": "ContactCreate", "webhookId": "w-old", "timestamp": "2020-01-01T00:00:00Z"})).unwrap();
    let (status, e) = error_of(h.post_ghl(old).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("stale_timestamp"))
    );
    // Too big: 413.
    let big = h.ghl_payload(
        "ContactCreate",
        json!({"id": "c1", "notes": "x".repeat(5_000)}),
    );
    let (status, e) = error_of(h.post_ghl(big).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    // Nothing was stored.
    assert!(h.events().await.is_empty());
    let metrics = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ghlsync_ingress_rejections_total"));
    h.shutdown().await;
}

#[tokio::test]
async fn workflow_routes_check_hmac_keys_and_fields() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("new-lead", &["lead"]).await;
    assert_eq!(h.post_workflow("new-lead", &lead(1)).await.status(), 200);
    let (status, e) = error_of(h.post_workflow("nope", &lead(1)).await).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("unknown_route"))
    );
    let (status, e) = error_of(
        h.post_workflow("new-lead", &json!({"first_name": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("email or phone"))
    );
    // Wrong secret.
    let body = serde_json::to_vec(&lead(2)).unwrap();
    let ts = (ghlsync::app::now_ms() / 1000).to_string();
    let sig = ghlsync::connectors::ghl::workflow::sign(b"wrong", &ts, &body);
    let r = h
        .http
        .post(format!("{}/webhooks/ghl/workflow/new-lead", h.base))
        .header("x-ghl-timestamp", ts)
        .header("x-ghl-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, e) = error_of(r).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("invalid_signature"))
    );

    // A webhook-key route, key in the header or in the body.
    ghlsync::registry::add_route(
        h.app.store(),
        h.app.cipher(),
        ghlsync::registry::RouteDefinition::new(
            "broadcast",
            &h.loc.id.as_str().into(),
            ghlsync_core::RouteAuth::WebhookKey,
            ghlsync_core::process::RouteAction::UpsertContact(Default::default()),
        ),
        &secrecy::SecretString::from("k-123".to_owned()),
    )
    .await
    .unwrap();
    let url = format!("{}/webhooks/ghl/workflow/broadcast", h.base);
    let r = h
        .http
        .post(&url)
        .header("x-webhook-key", "k-123")
        .json(&lead(3))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut with_key = lead(4);
    with_key["webhook_key"] = json!("k-123");
    assert_eq!(
        h.http
            .post(&url)
            .json(&with_key)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, e) = error_of(
        h.http
            .post(&url)
            .header("x-webhook-key", "wrong")
            .json(&lead(5))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (401, Some("invalid_webhook_key"))
    );
    h.drain().await;
    let emails: Vec<String> = h
        .sim
        .contacts(&h.loc.id)
        .iter()
        .filter_map(|c| c["email"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(emails.len(), 3, "{emails:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn each_route_has_its_own_request_limit() {
    let h = Harness::start(|c| c.server.route_requests_per_minute = 3).await;
    h.hmac_route("a", &[]).await;
    h.hmac_route("b", &[]).await;
    for i in 0..3 {
        assert_eq!(h.post_workflow("a", &lead(i)).await.status(), 200);
    }
    let r = h.post_workflow("a", &lead(9)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry));
    assert_eq!(
        h.post_workflow("b", &lead(10)).await.status(),
        200,
        "per key"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn overload_answers_429_with_retry_after_never_5xx() {
    // Any commit slower than 0 ms counts as overloaded: after the first commit, ingress
    // refuses with 429 so GHL will retry.
    let h = Harness::start(|c| c.server.max_commit_latency_ms = 0).await;
    assert_eq!(
        h.post_ghl(h.ghl_payload("ContactCreate", json!({"id": "c1"})))
            .await
            .status(),
        200
    );
    let body = h.ghl_payload("ContactCreate", json!({"id": "c2"}));
    let r = h.post_ghl(body.clone()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "overloaded");
    h.shutdown().await;
}

#[tokio::test]
async fn a_ghl_retry_of_a_deferred_webhook_passes_the_replay_window() {
    let h = Harness::start(|c| {
        c.server.max_commit_latency_ms = 0;
        c.server.replay_window_secs = 1;
    })
    .await;
    assert_eq!(
        h.post_ghl(h.ghl_payload("ContactCreate", json!({"id": "c0"})))
            .await
            .status(),
        200
    );
    let body = h.ghl_payload("ContactCreate", json!({"id": "c1"}));
    assert_eq!(h.post_ghl(body.clone()).await.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    // Still overloaded, but the retry is not mistaken for a replay.
    let r = h.post_ghl(body).await;
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "overloaded");
    h.shutdown().await;
}

/// Every example of every GHL webhook document, signed as GHL signs: most carry no `type`,
/// `webhookId` or `timestamp`, and each is GHL's event all the same. Each is stored (byte
/// for byte; the few with a `timestamp` get a current one, as GHL sends them), under the
/// event it is, and processed without a dead letter.
#[tokio::test]
async fn every_documented_webhook_example_is_stored_and_processed() {
    let h = Harness::start(|_| {}).await;
    let examples = ghl_sim::docs::webhook_examples(&ghl_sim::docs::webhook_events_dir()).unwrap();
    assert!(examples.len() >= 66, "{}", examples.len());
    let now = crate::rfc3339_now();
    let mut ids = std::collections::BTreeMap::new();
    for example in &examples {
        let mut body = example.json.clone().into_bytes();
        let mut value: Value = serde_json::from_slice(&body).unwrap();
        if value.get("timestamp").is_some() {
            value["timestamp"] = json!(now);
            body = serde_json::to_vec(&value).unwrap();
        }
        let r = h.post_ghl(body.clone()).await;
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            status, 200,
            "{} example {}: {answer}",
            example.document, example.index
        );
        // Documents that share an example (the Invoice family) share its event.
        let id = answer["id"].as_str().unwrap().to_owned();
        let first = ids.entry(body).or_insert_with(|| id.clone());
        assert_eq!(*first, id, "{}: {answer}", example.document);
    }
    h.drain().await;
    let events = h.events().await;
    assert_eq!(events.len(), ids.len(), "one event per distinct body");
    let not_done: Vec<_> = events
        .iter()
        .filter(|e| e.state != ghlsync_core::EventState::Done)
        .map(|e| (&e.event_type, &e.last_error))
        .collect();
    assert!(not_done.is_empty(), "{not_done:?}");
    let types: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    for expected in [
        "Invoice",
        "Product",
        "Price",
        "ObjectSchema",
        "Record",
        "Association",
        "Relation",
        "ProviderOutboundMessage",
        "INSTALL",
        "ContactCreate",
    ] {
        assert!(types.contains(expected), "{expected} among {types:?}");
    }
    h.shutdown().await;
}

/// What the processor's parser cannot read is refused with a 400 naming the problem before
/// anything is acknowledged, on every route that takes GHL's bodies: invalid UTF-8 inside a
/// string, a lone surrogate escape, nesting deeper than the parser allows, an array or a
/// scalar instead of an object (an array once passed as a positional envelope).
#[tokio::test]
async fn bodies_the_processor_could_not_read_are_refused_not_acknowledged() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("leads", &[]).await;
    let now = crate::rfc3339_now();
    let deep = format!(
        r#"{{"type":"ContactCreate","webhookId":"w-deep","email":"a@b.co","x":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "invalid UTF-8 in a string",
            b"{\"type\":\"ContactCreate\",\"webhookId\":\"w-utf8\",\"email\":\"a@b.co\",\"n\":\"\xff\xfe\"}".to_vec(),
            "malformed_json",
        ),
        (
            "a lone surrogate",
            br#"{"type":"ContactCreate","webhookId":"w-sur","email":"a@b.co","n":"\ud800"}"#.to_vec(),
            "malformed_json",
        ),
        ("nesting too deep", deep.into_bytes(), "malformed_json"),
        (
            "an array",
            serde_json::to_vec(&json!(["ContactCreate", "w-array", now, "loc"])).unwrap(),
            "invalid_field",
        ),
        ("a string", br#""ContactCreate""#.to_vec(), "invalid_field"),
        ("a number", b"42".to_vec(), "invalid_field"),
    ];
    for (what, body, code) in cases {
        let (status, e) = error_of(h.post_ghl(body.clone()).await).await;
        assert_eq!(
            (status, e["error"]["code"].as_str()),
            (400, Some(code)),
            "GHL route, {what}: {e}"
        );
        let ts = (ghlsync::app::now_ms() / 1000).to_string();
        let sig =
            ghlsync::connectors::ghl::workflow::sign(crate::ROUTE_SECRET.as_bytes(), &ts, &body);
        let r = h
            .post_workflow_with(
                "leads",
                body,
                &[("x-ghl-timestamp", ts), ("x-ghl-signature", sig)],
            )
            .await;
        let (status, e) = error_of(r).await;
        assert_eq!(status, 400, "workflow route, {what}: {e}");
    }
    assert!(h.events().await.is_empty(), "nothing was acknowledged");
    h.shutdown().await;
}

/// A known type whose fields do not fit GHL's documented shape (`dnd` as text) is still
/// GHL's event: stored, processed without a dead letter, and said in the sync log.
#[tokio::test]
async fn a_misshapen_known_event_is_kept_and_logged() {
    let h = Harness::start(|_| {}).await;
    let body = h.ghl_payload("ContactCreate", json!({"id": "c1", "dnd": "yes"}));
    assert_eq!(h.post_ghl(body).await.status(), 200);
    h.drain().await;
    let events = h.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].state, ghlsync_core::EventState::Done);
    assert_eq!(events[0].event_type, "ContactCreate");
    assert!(
        events[0].meta["misshapen"]
            .as_str()
            .unwrap()
            .contains("bool")
    );
    let log = h.app.store().sync_log(None, 10).await.unwrap();
    assert!(
        log.iter().any(|l| l.kind == "ghl_webhook_misshapen"),
        "{log:?}"
    );
    h.shutdown().await;
}
