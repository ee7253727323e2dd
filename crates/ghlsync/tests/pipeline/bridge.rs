//! Seed 003's bridge end to end: GHL's workflow routes and Marketplace webhooks into
//! CloudTalk, CloudTalk's automations into GHL, both simulators in the loop.

use std::time::Duration;

use cloudtalk_sim::{Automation, Call, Fault, FaultAction, SimHandle as CloudTalkSim, Trigger};
use ghlsync::config::{BridgeConfig, Config, Secret};
use ghlsync_core::RouteAuth;
use serde_json::{Value, json};

use crate::Harness;

const WEBHOOK_SECRET: &str = "cloudtalk-bridge-secret";
const GHL_KEY: &str = "ghl-bridge-webhook-key";

pub struct Bridge {
    pub h: Harness,
    pub ct: CloudTalkSim,
    pub company: String,
    /// A client acting as someone working in CloudTalk.
    pub person: cloudtalk::Client,
}

impl Bridge {
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let ct = CloudTalkSim::start().await.unwrap();
        let creds = ct.add_company("Acme Calls");
        let base = ct.base_url().to_owned();
        let company = creds.key_id.clone();
        let h = Harness::start_with(|c, loc| {
            c.rules.packs = vec!["cloudtalk-bridge".into()];
            c.cloudtalk.base_url = base;
            c.cloudtalk.timeout_ms = 500;
            c.cloudtalk.window_margin_ms = 0;
            c.cloudtalk.per_minute = 6_000;
            c.cloudtalk.bridges = vec![BridgeConfig {
                name: "main".into(),
                location: loc.id.to_string(),
                key_id: creds.key_id.clone(),
                key_secret: Secret::new(creds.secret.clone()),
                webhook_secret: Secret::new(WEBHOOK_SECRET),
                ghl_auth: RouteAuth::WebhookKey,
                ghl_secret: Secret::new(GHL_KEY),
                contact_source: "GoHighLevel Webhook".into(),
            }];
            tweak(c);
        })
        .await;
        for trigger in [
            Trigger::CallStarted,
            Trigger::CallEnded,
            Trigger::RecordingUploaded,
            Trigger::ContactCreated,
        ] {
            let route = match trigger {
                Trigger::CallStarted => "call-started",
                Trigger::CallEnded => "call-ended",
                Trigger::RecordingUploaded => "recording-available",
                Trigger::AgentStatusChanged => "agent-status-change",
                Trigger::ContactCreated => "contact-created",
            };
            ct.set_automation(
                &company,
                trigger,
                Automation {
                    url: format!("{}/api/cloudtalk-webhooks/{route}", h.base),
                    headers: vec![("X-Bridge-Secret".into(), WEBHOOK_SECRET.into())],
                },
            );
        }
        let person = cloudtalk::Client::builder()
            .base_url(ct.base_url())
            .build(
                creds.key_id.clone(),
                secrecy::SecretString::from(creds.secret.clone()),
            )
            .unwrap();
        Self {
            h,
            ct,
            company,
            person,
        }
    }

    pub async fn post_ghl_route(&self, route: &str, body: &Value) -> reqwest::Response {
        self.h
            .http
            .post(format!("{}/api/ghl-webhooks/{route}", self.h.base))
            .header("x-webhook-key", GHL_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub fn contacts(&self) -> Vec<cloudtalk_sim::world::Contact> {
        self.ct
            .company(&self.company)
            .unwrap()
            .contacts
            .into_values()
            .collect()
    }

    pub fn notes(&self) -> Vec<String> {
        self.ct
            .company(&self.company)
            .unwrap()
            .notes
            .into_values()
            .map(|n| n.note)
            .collect()
    }

    /// Waits for the pipeline, then for CloudTalk's webhooks to be answered and processed.
    pub async fn settle(&self) {
        self.h.drain().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.h.drain().await;
    }
}

fn mario() -> Value {
    json!({"contact": {"id": "ghl_123456", "name": "Mario Rossi", "firstName": "Mario",
        "lastName": "Rossi", "email": "mario@example.com", "phone": "+393501234567",
        "tags": ["lead", "priority"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003s_ghl_routes_reach_cloudtalk() {
    let b = Bridge::start(|_| {}).await;
    assert_eq!(
        b.post_ghl_route("new-contact", &mario()).await.status(),
        200
    );
    b.settle().await;
    let contacts = b.contacts();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let c = &contacts[0];
    assert_eq!(c.fields["name"], "Mario Rossi");
    assert_eq!(c.numbers, ["+393501234567"]);
    assert_eq!(c.emails, ["mario@example.com"]);
    assert_eq!(c.external_urls[0].0, "GoHighLevel Webhook");
    // A tag is added, the others kept; a note and an activity as the seed writes them.
    b.ct.with_company(&b.company, |co| {
        co.contacts
            .get_mut(&c.id)
            .unwrap()
            .tags
            .push("set in CloudTalk".into());
    });
    let tag = json!({"contact": {"id": "ghl_123456", "name": "Mario Rossi"}, "tag": {"name": "VIP Cliente"}});
    assert_eq!(b.post_ghl_route("new-tag", &tag).await.status(), 200);
    let note = json!({"contact": {"id": "ghl_123456", "name": "Mario Rossi"},
        "note": {"body": "Cliente interessato al prodotto premium", "userId": "agent_789"}});
    assert_eq!(b.post_ghl_route("new-note", &note).await.status(), 200);
    let stage = json!({"contact": {"id": "ghl_123456"}, "pipeline": {"name": "Sales Pipeline"},
        "stage": {"name": "Qualified Lead"}, "previous_stage": {"name": "Cold Lead"}});
    assert_eq!(
        b.post_ghl_route("pipeline-change", &stage).await.status(),
        200
    );
    let status = json!({"contact": {"id": "ghl_123456"}, "status": "customer",
        "previous_status": "lead", "status_reason": "Purchase completed"});
    assert_eq!(
        b.post_ghl_route("status-change", &status).await.status(),
        200
    );
    b.settle().await;
    let contacts = b.contacts();
    assert_eq!(
        contacts.len(),
        1,
        "found through the id map, never added twice"
    );
    let mut tags = contacts[0].tags.clone();
    tags.sort();
    assert_eq!(tags, ["GHL-CUSTOMER", "VIP Cliente", "set in CloudTalk"]);
    let notes = b.notes();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with(
        "[GHL Note] Cliente interessato al prodotto premium - Added by User ID: agent_789 - "
    )));
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("[GHL Status Change] lead → customer (Purchase completed)"))
    );
    let company = b.ct.company(&b.company).unwrap();
    let activity = company.activities.values().next().unwrap();
    assert_eq!(activity.fields["name"], "Pipeline Stage Change");
    assert!(activity.fields["description"].as_str().unwrap().starts_with(
        "[GHL Pipeline Change] Contact moved to \"Qualified Lead\" stage in \"Sales Pipeline\" pipeline (from \"Cold Lead\")"
    ));
    // Every command went in a bulk request.
    let audit = b.ct.audit();
    assert!(audit.iter().all(|a| a.status < 400), "{audit:#?}");
    assert!(
        audit
            .iter()
            .filter(|a| a.method != "GET" && !a.path.contains("addTags"))
            .all(|a| a.path == "/bulk/contacts.json"),
        "{audit:#?}"
    );
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_routes_refuse_what_they_cannot_process() {
    let b = Bridge::start(|_| {}).await;
    let no_key =
        b.h.http
            .post(format!("{}/api/ghl-webhooks/new-contact", b.h.base))
            .json(&mario())
            .send()
            .await
            .unwrap();
    assert_eq!(no_key.status(), 401);
    let e: Value = no_key.json().await.unwrap();
    assert_eq!(e["error"]["code"], "missing_credentials");
    let missing = b
        .post_ghl_route("new-note", &json!({"contact": {"id": "c1"}, "note": {}}))
        .await;
    assert_eq!(missing.status(), 400);
    let e: Value = missing.json().await.unwrap();
    assert_eq!(e["error"]["field"], "note.body");
    let unknown = b.post_ghl_route("new-deal", &mario()).await;
    assert_eq!(unknown.status(), 404);
    let test =
        b.h.http
            .get(format!("{}/api/ghl-webhooks/test", b.h.base))
            .send()
            .await
            .unwrap();
    assert_eq!(test.status(), 200);
    // CloudTalk's side: the bridge's secret, or 401.
    let url = format!("{}/api/cloudtalk-webhooks/call-started", b.h.base);
    let seed_test = json!({"Call_id": "123456", "Call_uuid": "uuid-123", "Agent_name": "Roberto"});
    let r = b.h.http.post(&url).json(&seed_test).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r =
        b.h.http
            .post(format!("{url}?secret=wrong-secret-wrong"))
            .json(&seed_test)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    let r =
        b.h.http
            .post(format!("{url}?secret={WEBHOOK_SECRET}"))
            .json(&seed_test)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let t =
        b.h.http
            .get(format!("{}/api/cloudtalk-webhooks/test", b.h.base))
            .send()
            .await
            .unwrap();
    assert_eq!(t.status(), 401);
    let t: Value =
        b.h.http
            .get(format!("{}/api/cloudtalk-webhooks/test", b.h.base))
            .header("x-bridge-secret", WEBHOOK_SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(t["bridge"], "main");
    assert_eq!(t["routes"].as_array().unwrap().len(), 7);
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_ghl_as_notes_and_fields_once() {
    let b = Bridge::start(|_| {}).await;
    // A call from a number GHL does not know yet, reported as seen in the wild: Call
    // Started twice within milliseconds and without ids, numbers without +.
    b.ct.place_call(
        &b.company,
        Call {
            external_number: "+34611000222".into(),
            with_ids: false,
            started_twice: true,
            talking_time: 125,
            ..Call::default()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.settle().await;
    let contacts = b.h.sim.contacts(b.h.loc.id.as_str());
    let contact = contacts
        .iter()
        .find(|c| c["phone"] == "+34611000222")
        .expect("the caller's GHL contact");
    let id = contact["id"].as_str().unwrap();
    let notes: Vec<String> =
        b.h.person()
            .list_notes(&id.into())
            .await
            .unwrap()
            .data
            .into_iter()
            .filter_map(|n| n.body)
            .collect();
    let started = notes.iter().filter(|n| n.contains("call started")).count();
    assert_eq!(
        started, 1,
        "the same call reported twice is one note: {notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("[CloudTalk] Call ended: answered, 125 s, agent Roberto Rossi")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("[CloudTalk] Call recording: https://")),
        "{notes:?}"
    );
    assert_eq!(
        crate::number(b.h.custom_value(contact, "last_call_duration").await),
        Some(125.0)
    );
    assert_eq!(
        b.h.custom_value(contact, "last_call_outcome").await,
        Some(json!("answered"))
    );
    // ghlsync's notes coming back from GHL's workflow cause nothing in CloudTalk.
    for n in &notes {
        let echo = json!({"contact": {"id": id}, "note": {"body": n}});
        assert_eq!(b.post_ghl_route("new-note", &echo).await.status(), 200);
    }
    b.settle().await;
    assert!(
        b.notes().is_empty(),
        "echoes add no CloudTalk note: {:?}",
        b.notes()
    );
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_request_applied_then_timed_out_adds_nothing_twice() {
    let b = Bridge::start(|_| {}).await;
    b.ct.add_fault(Fault {
        action: FaultAction::ApplyThenTimeout { hold_ms: 1_500 },
        path_prefix: Some("/bulk".into()),
        count: Some(2),
    });
    assert_eq!(
        b.post_ghl_route("new-contact", &mario()).await.status(),
        200
    );
    let note = json!({"contact": {"id": "ghl_123456"}, "note": {"body": "once", "userId": "u1"}});
    assert_eq!(b.post_ghl_route("new-note", &note).await.status(), 200);
    b.settle().await;
    assert_eq!(
        b.contacts().len(),
        1,
        "the contact added before the timeout is found"
    );
    assert_eq!(b.notes().len(), 1, "{:?}", b.notes());
    let faults = b.ct.audit().iter().filter(|a| a.fault.is_some()).count();
    assert_eq!(
        faults, 2,
        "both bulk requests were applied and then timed out"
    );
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_cloudtalk_refuses_fails_alone() {
    let b = Bridge::start(|_| {}).await;
    assert_eq!(
        b.post_ghl_route("new-contact", &mario()).await.status(),
        200
    );
    b.settle().await;
    // A contact without a name or a usable number: CloudTalk refuses its add (406).
    let bad = json!({"contact": {"id": "ghl_bad", "phone": "12"}});
    assert_eq!(b.post_ghl_route("new-contact", &bad).await.status(), 200);
    let note =
        json!({"contact": {"id": "ghl_123456"}, "note": {"body": "neighbour", "userId": "u1"}});
    assert_eq!(b.post_ghl_route("new-note", &note).await.status(), 200);
    b.settle().await;
    let notes = b.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("[GHL Note] neighbour - Added by User ID: u1 - "));
    let dead: Value =
        b.h.admin(reqwest::Method::GET, "/admin/dlq")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let dead = dead["jobs"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("cloudtalk refused command"),
        "{dead:?}"
    );
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_webhooks_run_the_same_bridge_and_its_echoes_cause_nothing() {
    let b = Bridge::start(|_| {}).await;
    let created = b.h.ghl_payload(
        "ContactCreate",
        json!({"id": "c-m1", "email": "ana@example.com", "phone": "+34611000333",
            "firstName": "Ana", "lastName": "Diaz", "tags": []}),
    );
    assert_eq!(b.h.post_ghl(created).await.status(), 200);
    b.settle().await;
    let contacts = b.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].fields["name"], "Ana Diaz");
    // CloudTalk reported the contact the bridge added; that reached GHL as nothing.
    let reported = b.ct.deliveries();
    assert!(
        reported
            .iter()
            .any(|d| d.trigger == Trigger::ContactCreated && d.status == Some(200)),
        "{reported:?}"
    );
    assert!(
        b.h.sim.contacts(b.h.loc.id.as_str()).is_empty(),
        "no GHL contact made from the echo"
    );
    let note = b.h.ghl_payload(
        "NoteCreate",
        json!({"id": "n-1", "contactId": "c-m1", "body": "hola", "userId": "u-9"}),
    );
    assert_eq!(b.h.post_ghl(note).await.status(), 200);
    // The same note from a GHL workflow too (a user who set up both): one CloudTalk note.
    let same = json!({"contact": {"id": "c-m1"}, "note": {"body": "hola", "userId": "u-9"}});
    assert_eq!(b.post_ghl_route("new-note", &same).await.status(), 200);
    let tagged = b.h.ghl_payload(
        "ContactTagUpdate",
        json!({"id": "c-m1", "email": "ana@example.com", "phone": "+34611000333", "tags": ["vip"]}),
    );
    assert_eq!(b.h.post_ghl(tagged).await.status(), 200);
    b.settle().await;
    let notes = b.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("[GHL Note] hola - Added by User ID: u-9 - "));
    assert_eq!(b.contacts()[0].tags, ["vip"]);
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_made_in_cloudtalk_becomes_a_ghl_contact_and_its_twin() {
    let b = Bridge::start(|_| {}).await;
    let id = b
        .person
        .add_contact(&cloudtalk::contacts::ContactInput {
            name: Some("Luis Gomez".into()),
            company: Some("Gomez SL".into()),
            numbers: Some(vec!["+34611000444".into()]),
            emails: Some(vec!["luis@example.com".into()]),
            ..Default::default()
        })
        .await
        .unwrap()
        .data;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.settle().await;
    let contacts = b.h.sim.contacts(b.h.loc.id.as_str());
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let c = &contacts[0];
    assert_eq!(c["phone"], "+34611000444");
    assert_eq!(c["companyName"], "Gomez SL");
    assert_eq!(c["source"], "CloudTalk");
    // GHL's note on that contact goes to the same CloudTalk contact.
    let note = json!({"contact": {"id": c["id"]}, "note": {"body": "follow up", "userId": "u1"}});
    assert_eq!(b.post_ghl_route("new-note", &note).await.status(), 200);
    b.settle().await;
    let company = b.ct.company(&b.company).unwrap();
    assert_eq!(company.contacts.len(), 1);
    assert_eq!(company.notes.values().next().unwrap().contact_id, id.0);
    b.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_status_reaches_the_campaigns_contacts_in_ghl() {
    let b = Bridge::start(|_| {}).await;
    for (n, tag) in [(555, "spring"), (556, "spring"), (557, "autumn")] {
        b.person
            .add_contact(&cloudtalk::contacts::ContactInput {
                name: Some(format!("Contact {n}")),
                numbers: Some(vec![format!("+34611000{n}")]),
                tags: Some(vec![tag.into()]),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.settle().await;
    let campaign =
        b.ct.add_campaign(&b.company, "Spring", &["spring"])
            .unwrap();
    let r = b
        .h
        .http
        .post(format!(
            "{}/api/cloudtalk-webhooks/campaign-status-change",
            b.h.base
        ))
        .header("x-bridge-secret", WEBHOOK_SECRET)
        .json(&json!({"campaign_id": campaign, "campaign_name": "Spring", "status": "Completed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.settle().await;
    let contacts = b.h.sim.contacts(b.h.loc.id.as_str());
    let tagged = |phone: &str| {
        contacts
            .iter()
            .find(|c| c["phone"] == phone)
            .map(crate::sorted_tags)
            .unwrap_or_default()
            .contains(&"cloudtalk-campaign-completed".to_owned())
    };
    assert!(tagged("+34611000555"), "{contacts:#?}");
    assert!(tagged("+34611000556"));
    assert!(!tagged("+34611000557"), "not the campaign's");
    b.h.shutdown().await;
}

/// CloudTalk's limit is the company's, shared with its other integrations: a minute
/// CloudTalk reports spent holds the bridge (no attempt used) though its own count has room,
/// instead of earning a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_cloudtalk_reports_spent_holds_the_bridge() {
    use ghlsync_store::Store;
    let b = Bridge::start(|_| {}).await;
    b.ct.set_limit(cloudtalk_sim::Limit {
        per_minute: 1,
        bulk_counts_commands: true,
    });
    assert_eq!(
        b.post_ghl_route("new-contact", &mario()).await.status(),
        200
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let audit = b.ct.audit();
    assert!(!audit.is_empty(), "the bridge looked the contact up");
    assert!(
        audit.iter().all(|a| a.status != 429),
        "no request after CloudTalk said the minute is spent: {audit:#?}"
    );
    let jobs =
        b.h.app
            .store()
            .list_jobs(&ghlsync_store::JobFilter::default())
            .await
            .unwrap();
    assert!(jobs.iter().all(|j| j.attempts == 0), "{jobs:?}");
    b.h.shutdown().await;
}

/// A bridge whose GHL routes take HMAC signatures, as workflow routes can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_routes_can_take_hmac_signatures() {
    let b = Bridge::start(|c| c.cloudtalk.bridges[0].ghl_auth = RouteAuth::Hmac).await;
    let url = format!("{}/api/ghl-webhooks/new-contact", b.h.base);
    let body = serde_json::to_vec(&mario()).unwrap();
    let ts = (ghlsync::app::now_ms() / 1000).to_string();
    let sig = ghlsync::connectors::ghl::workflow::sign(GHL_KEY.as_bytes(), &ts, &body);
    let post = |sig: String, ts: String, body: Vec<u8>| {
        b.h.http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-ghl-signature", sig)
            .header("x-ghl-timestamp", ts)
            .body(body)
            .send()
    };
    let forged = post("0".repeat(64), ts.clone(), body.clone())
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let stale_ts = (ghlsync::app::now_ms() / 1000 - 3_600).to_string();
    let stale_sig = ghlsync::connectors::ghl::workflow::sign(GHL_KEY.as_bytes(), &stale_ts, &body);
    assert_eq!(
        post(stale_sig, stale_ts, body.clone())
            .await
            .unwrap()
            .status(),
        401
    );
    let key_only = b.post_ghl_route("new-contact", &mario()).await;
    assert_eq!(
        key_only.status(),
        401,
        "the key is no credential of an HMAC bridge"
    );
    assert_eq!(post(sig, ts, body).await.unwrap().status(), 200);
    b.settle().await;
    assert_eq!(b.contacts().len(), 1);
    b.h.shutdown().await;
}
