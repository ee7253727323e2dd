//! Rules on GHL's webhooks, with the simulator's webhooks flowing back into the gateway:
//! seed 001's lead scoring, echo suppression (ghlsync's own writes trigger nothing), the
//! conflict rule (last writer per value, by time) and forwarding to the application.

use std::sync::{Arc, Mutex};

use ghl::ContactId;
use ghl::contacts::{ContactFields, ContactUpdate, NewContact};
use ghl_sim::WebhookSettings;
use ghlsync_store::Store;
use serde_json::{Value, json};

use crate::{Harness, number};

impl Harness {
    /// The simulator sends its webhooks to the gateway, as GHL does to a Marketplace app.
    fn subscribe(&self) {
        self.sim.set_webhooks(WebhookSettings {
            urls: vec![format!("{}/webhooks/ghl", self.base)],
            retry_interval_ms: 200,
            retry_jitter_ms: 50,
            ..WebhookSettings::default()
        });
    }

    /// The simulator's contact.
    fn ghl_contact(&self, id: &str) -> Value {
        self.sim
            .contacts(self.loc.id.as_str())
            .into_iter()
            .find(|c| c["id"] == id)
            .unwrap()
    }

    /// Upserts the simulator recorded (ghlsync's contact writes).
    fn upserts(&self) -> usize {
        self.sim
            .audit(0)
            .iter()
            .filter(|a| a.path.ends_with("/contacts/upsert"))
            .count()
    }

    async fn post_app_events(&self, events: &Value) {
        let key = self.api_key().await;
        let (status, body) = self.post_events(Some(&key), events).await;
        assert_eq!(status, 202, "{body}");
    }

    async fn dead_jobs(&self) -> i64 {
        self.app.store().queue_stats().await.unwrap().jobs_dead
    }
}

fn echoes(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("ghlsync_echoes_suppressed_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Seed 001 end to end: a lead created in GHL by a person is scored; the application's
/// tour, message and sale events rescore it; every score is written back to GHL once, and
/// the webhooks GHL sends about those writes run no rule.
#[tokio::test]
async fn seed_001_leads_are_scored_on_every_interaction_and_our_writes_do_not_loop() {
    let h = Harness::start(|c| c.rules.packs = vec!["lead-scoring".into()]).await;
    h.subscribe();
    let mut lead = NewContact::new(h.loc.id.as_str());
    lead.fields = ContactFields {
        first_name: Some("John".into()),
        last_name: Some("Smith".into()),
        email: Some("john@example.com".into()),
        phone: Some("+15551234567".into()),
        source: Some("website".into()),
        ..ContactFields::default()
    };
    let id = h.person().create_contact(&lead).await.unwrap().data.id;
    h.drain().await;
    let c = h.ghl_contact(id.as_str());
    assert_eq!(number(h.custom_value(&c, "ai_score").await), Some(21.0));
    assert_eq!(
        h.custom_value(&c, "lead_quality").await,
        Some(json!("cold"))
    );
    assert_eq!(
        h.custom_value(&c, "recommended_action").await,
        Some(json!("Add to a nurture campaign"))
    );
    assert!(h.custom_value(&c, "score_confidence").await.is_some());
    assert_eq!(h.upserts(), 1, "one write for the new lead");
    // The write came back as a ContactUpdate webhook that changed nothing.
    let metrics = h.app.metrics().render();
    assert!(echoes(&metrics) >= 1.0, "{metrics}");

    // The application's events about the lead use its GHL subject.
    let subject = format!("ghl:{id}");
    // Events happen after the lead was created (a value's time decides conflicts).
    let start = time::OffsetDateTime::now_utc();
    let event = |n: i64, t: &str, data: Value| {
        let at = start + time::Duration::milliseconds(n);
        json!({"type": t, "id": format!("a{n}"), "subject": subject,
               "occurred_at": at.format(&time::format_description::well_known::Rfc3339).unwrap(),
               "data": data})
    };
    h.post_app_events(&json!([
        event(
            1,
            "message.received",
            json!({"channel": "sms", "content": "Interested"})
        ),
        event(
            2,
            "appointment.scheduled",
            json!({"appointment_id": "apt_1",
            "property_address": "123 Main Street", "appointment_type": "property_tour"})
        ),
    ]))
    .await;
    h.drain().await;
    let c = h.ghl_contact(id.as_str());
    assert_eq!(
        h.custom_value(&c, "next_action").await,
        Some(json!("Prepare for tour"))
    );
    // 15 details + 6.67 messages + 15 tour + 3 interactions + 5 outcomes.
    assert_eq!(
        number(h.custom_value(&c, "updated_ai_score").await),
        Some(44.67)
    );
    assert_eq!(number(h.custom_value(&c, "churn_risk").await), Some(0.3));

    h.post_app_events(&json!([event(
        3,
        "opportunity.won",
        json!({
        "opportunity_id": "opp_1", "property_address": "123 Main Street",
        "final_price": 425000, "close_date": "2026-02-15"})
    )]))
    .await;
    h.drain().await;
    let c = h.ghl_contact(id.as_str());
    assert_eq!(h.custom_value(&c, "status").await, Some(json!("sold")));
    assert_eq!(
        number(h.custom_value(&c, "sale_price").await),
        Some(425000.0)
    );
    assert_eq!(
        h.custom_value(&c, "close_date").await,
        Some(json!("2026-02-15"))
    );
    assert_eq!(
        h.custom_value(&c, "outcome_type").await,
        Some(json!("property_purchased"))
    );
    assert_eq!(
        h.custom_value(&c, "recommended_action").await,
        Some(json!("Ask for a referral"))
    );

    // A person edits the lead in GHL: scored again, written once, and quiet after.
    let before = h.upserts();
    let update = ContactUpdate::from(ContactFields {
        city: Some("Austin".into()),
        ..ContactFields::default()
    });
    h.person().update_contact(&id, &update).await.unwrap();
    h.drain().await;
    assert_eq!(h.upserts(), before + 1, "one rescore for one edit");
    h.drain().await;
    assert_eq!(h.upserts(), before + 1, "no loop");
    assert_eq!(h.dead_jobs().await, 0);
    h.shutdown().await;
}

/// Seed 000 is bidirectional: a person's edit in GHL flows into the mirror, and an
/// application change decided before that edit does not overwrite it (last writer per
/// value, by time); one decided after it does.
#[tokio::test]
async fn an_edit_in_ghl_newer_than_the_apps_change_is_kept() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    h.subscribe();
    let registered = |id: &str, at: &str, company: &str| {
        json!({"type": "user.registered", "id": id, "subject": "u1", "occurred_at": at,
               "data": {"role": "empresa", "email": "ana@acme.es", "company_name": company}})
    };
    let long_ago = "2026-01-01T10:00:00Z";
    h.post_app_events(&json!([registered("e1", long_ago, "Acme")]))
        .await;
    h.drain().await;
    let id = h
        .app
        .store()
        .linked_contact(&h.loc.id.as_str().into(), "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.ghl_contact(id.as_str())["companyName"], "Acme");

    // A person renames the company in GHL now (the update DTO has no companyName, so
    // through an upsert as GHL's own UI would save it).
    let mut edit = ghl::contacts::UpsertContact::new(h.loc.id.as_str());
    edit.fields.email = Some("ana@acme.es".into());
    edit.company_name = Some("Acme Renamed".into());
    h.person().upsert_contact(&edit).await.unwrap();
    h.drain().await;
    let mirror = h
        .app
        .store()
        .contact(&h.loc.id.as_str().into(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mirror.company_name.as_deref(), Some("Acme Renamed"));

    // The app's change decided before the edit (a late event) leaves GHL's value.
    h.post_app_events(
        &json!([{"type": "user.role_added", "id": "e2", "subject": "u1",
        "occurred_at": "2026-01-01T11:00:00Z",
        "data": {"role": "empresa", "company_name": "Acme Old"}}]),
    )
    .await;
    h.drain().await;
    assert_eq!(h.ghl_contact(id.as_str())["companyName"], "Acme Renamed");
    let log = h.app.store().sync_log(None, 200).await.unwrap();
    assert!(
        log.iter().any(|e| e.kind == "contact_synced"
            && e.detail["kept_newer_in_ghl"]
                .as_array()
                .is_some_and(|k| k.contains(&json!("field:companyName")))),
        "{log:?}"
    );
    // One decided after the edit wins.
    h.post_app_events(
        &json!([{"type": "user.role_added", "id": "e3", "subject": "u1",
        "occurred_at": "2099-01-01T00:00:00Z",
        "data": {"role": "empresa", "company_name": "Acme New"}}]),
    )
    .await;
    h.drain().await;
    assert_eq!(h.ghl_contact(id.as_str())["companyName"], "Acme New");
    assert_eq!(h.dead_jobs().await, 0);
    h.shutdown().await;
}

/// What the application's endpoint received.
#[derive(Clone, Default)]
struct Received {
    verified: Arc<Mutex<Vec<Value>>>,
    refused: Arc<Mutex<u32>>,
    /// Statuses to answer, in order, before accepting.
    failures: Arc<Mutex<Vec<u16>>>,
}

const FORWARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// An application endpoint that verifies with the Standard Webhooks reference library and
/// answers `failures` first.
async fn app_endpoint(failures: &[u16]) -> (String, Received) {
    let received = Received::default();
    *received.failures.lock().unwrap() = failures.to_vec();
    let state = received.clone();
    let route = axum::routing::post(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let wh = standardwebhooks::Webhook::new(FORWARD_SECRET).unwrap();
                if wh.verify(&body, &headers).is_err() {
                    *state.refused.lock().unwrap() += 1;
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                let failure = {
                    let mut failures = state.failures.lock().unwrap();
                    (!failures.is_empty()).then(|| failures.remove(0))
                };
                if let Some(status) = failure {
                    return axum::http::StatusCode::from_u16(status).unwrap();
                }
                let mut event: Value = serde_json::from_slice(&body).unwrap();
                event["webhook-id"] = json!(headers["webhook-id"].to_str().unwrap());
                state.verified.lock().unwrap().push(event);
                axum::http::StatusCode::NO_CONTENT
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ghl-events", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/ghl-events", route))
            .await
            .unwrap();
    });
    (url, received)
}

/// A gateway with `packs` and a rule forwarding the GHL webhooks `on` (TOML) to an
/// application endpoint that answers `failures` first; the simulator's webhooks subscribed.
async fn forwarding(
    packs: &[&str],
    on: &str,
    failures: &[u16],
) -> (Harness, Received, tempfile::TempDir) {
    let (url, received) = app_endpoint(failures).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("forward.toml");
    std::fs::write(
        &rules,
        format!("[[rule]]\nname = \"to the app\"\non = {on}\nforward = true\n"),
    )
    .unwrap();
    let h = Harness::start(|c| {
        c.rules.packs = packs.iter().map(|p| (*p).to_owned()).collect();
        c.rules.files = vec![rules.clone()];
        c.forward.url = Some(url);
        c.forward.secret = Some(ghlsync::config::Secret::new(FORWARD_SECRET));
    })
    .await;
    h.subscribe();
    (h, received, dir)
}

/// A tag a person adds in GHL reaches the application once, normalized, signed per Standard
/// Webhooks, after a failed first delivery; ghlsync's own writes are not forwarded.
#[tokio::test]
async fn a_persons_edit_in_ghl_is_forwarded_signed_and_retried_and_echoes_are_not() {
    let (h, received, _dir) = forwarding(
        &["marketplace"],
        r#"["ContactUpdate", "ContactTagUpdate"]"#,
        &[503],
    )
    .await;
    h.post_app_events(
        &json!([{"type": "user.registered", "id": "e1", "subject": "u1",
        "occurred_at": "2026-11-21T10:00:00Z",
        "data": {"role": "experto", "email": "eva@x.es", "source": "web"}}]),
    )
    .await;
    h.drain().await;
    assert!(
        received.verified.lock().unwrap().is_empty(),
        "ghlsync's own writes are not forwarded"
    );
    let id: ContactId = h
        .app
        .store()
        .linked_contact(&h.loc.id.as_str().into(), "u1")
        .await
        .unwrap()
        .unwrap();
    h.person().add_tags(&id, &["vip".to_owned()]).await.unwrap();
    h.drain().await;
    let got = received.verified.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    assert!(
        e["type"] == "contact.tags_updated" || e["type"] == "contact.updated",
        "{e}"
    );
    assert_eq!(e["data"]["subject"], "u1");
    assert_eq!(e["data"]["contact_id"], id.as_str());
    assert!(
        e["data"]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!("tag:vip")),
        "{e}"
    );
    assert_eq!(e["data"]["ghl"]["id"], id.as_str());
    assert_eq!(e["webhook-id"], e["data"]["ghl"]["webhookId"]);
    assert_eq!(*received.refused.lock().unwrap(), 0);
    assert_eq!(h.dead_jobs().await, 0);
    h.shutdown().await;
}

/// The application refusing an event (a 4xx) dead-letters the forward with its answer, and
/// a replay from the DLQ delivers it.
#[tokio::test]
async fn a_forward_the_app_refuses_is_dead_lettered_and_a_replay_delivers_it() {
    let (h, received, _dir) = forwarding(&[], r#""ContactCreate""#, &[422]).await;
    let mut lead = NewContact::new(h.loc.id.as_str());
    lead.fields.email = Some("new@lead.co".into());
    let id = h.person().create_contact(&lead).await.unwrap().data.id;
    h.drain().await;
    let dead = h
        .app
        .store()
        .list_jobs(&ghlsync_store::JobFilter {
            state: Some(ghlsync_core::JobState::Dead),
            kind: Some("forward".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("422"), "{error}");
    assert!(received.verified.lock().unwrap().is_empty());
    // The location's GHL sync status is not the application's endpoint's.
    let location = h
        .app
        .store()
        .location(&h.loc.id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        location.last_sync_status,
        Some(ghlsync_core::SyncStatus::Failed)
    );
    let replayed = h
        .app
        .store()
        .replay_jobs(
            &ghlsync_store::JobFilter {
                kind: Some("forward".into()),
                ..Default::default()
            },
            ghlsync::app::now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(replayed, 1);
    h.app.wake_dispatcher().notify_waiters();
    h.drain().await;
    let got = received.verified.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "contact.created");
    assert_eq!(got[0]["data"]["subject"], Value::Null);
    assert_eq!(got[0]["data"]["contact_id"], id.as_str());
    assert_eq!(h.dead_jobs().await, 0);
    h.shutdown().await;
}
