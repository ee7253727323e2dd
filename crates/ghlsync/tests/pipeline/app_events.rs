//! `POST /api/v1/events`: API keys, validation naming the field, batches, idempotency.

use ghlsync_core::Source;
use ghlsync_store::{EventFilter, Store};
use serde_json::{Value, json};

use crate::{Harness, number, sorted_tags};

fn registered(id: &str, subject: &str, role: &str) -> Value {
    json!({
        "type": "user.registered",
        "id": id,
        "occurred_at": "2026-11-21T10:00:00Z",
        "subject": subject,
        "data": {"role": role, "email": format!("{subject}@example.com"), "source": "web"}
    })
}

impl Harness {
    pub(crate) async fn api_key(&self) -> String {
        let created = ghlsync::registry::create_api_key(
            self.app.store(),
            &self.loc.id.as_str().into(),
            "backend",
        )
        .await
        .unwrap();
        secrecy::ExposeSecret::expose_secret(&created.secret).to_owned()
    }

    pub(crate) async fn post_events(&self, key: Option<&str>, body: &Value) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}/api/v1/events", self.base));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let r = rb.json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn app_events(&self) -> Vec<ghlsync_core::InboxEvent> {
        self.app
            .store()
            .list_events(&EventFilter {
                limit: Some(1000),
                ..EventFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.source == Source::App)
            .collect()
    }
}

#[tokio::test]
async fn a_key_is_required_and_a_revoked_key_is_refused() {
    let h = Harness::start(|_| {}).await;
    let event = registered("e1", "u1", "empresa");
    let (status, body) = h.post_events(None, &event).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("missing_api_key"))
    );
    let (status, body) = h.post_events(Some("ghk_wrong"), &event).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let key = h.api_key().await;
    let (status, _) = h.post_events(Some(&key), &event).await;
    assert_eq!(status, 202);
    let id = h.app.store().api_keys().await.unwrap()[0].id.clone();
    assert!(h.app.store().revoke_api_key(&id, 1).await.unwrap());
    let (status, body) = h
        .post_events(Some(&key), &registered("e2", "u1", "empresa"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    assert_eq!(h.app_events().await.len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn invalid_events_get_422_naming_the_field_and_nothing_of_the_batch_is_stored() {
    let h = Harness::start(|_| {}).await;
    let key = h.api_key().await;
    let mut bad = registered("e2", "u2", "empresa");
    bad["data"]["role"] = json!("cliente");
    let (status, body) = h
        .post_events(Some(&key), &json!([registered("e1", "u1", "experto"), bad]))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_event");
    assert_eq!(body["error"]["field"], "events[1].data.role");
    let (status, body) = h
        .post_events(Some(&key), &json!({"type": "user.registered", "id": "x"}))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("subject"))
    );
    let r = h
        .http
        .post(format!("{}/api/v1/events", h.base))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(h.app_events().await.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn a_batch_is_stored_and_a_repeated_id_is_accepted_once() {
    let h = Harness::start(|_| {}).await;
    let key = h.api_key().await;
    let batch = json!({"events": [
        registered("e1", "u1", "empresa"),
        {"type": "expert.level_changed", "id": "e2", "occurred_at": "2026-11-21T10:01:00Z",
         "subject": "u2", "data": {"level": "pro"}},
        {"type": "user.deleted", "id": "e3", "occurred_at": "2026-11-21T10:02:00Z", "subject": "u3"},
    ]});
    let (status, body) = h.post_events(Some(&key), &batch).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(body["results"][1]["id"], "e2");
    assert_eq!(body["results"][1]["status"], "accepted");
    // The whole batch again (a client retrying after a timeout), plus one new event.
    let mut again = batch["events"].as_array().unwrap().clone();
    again.push(registered("e4", "u4", "experto"));
    let (status, body) = h.post_events(Some(&key), &Value::Array(again)).await;
    assert_eq!(status, 202);
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(body["results"][0]["status"], "duplicate");
    let stored = h.app_events().await;
    assert_eq!(stored.len(), 4);
    assert!(
        stored
            .iter()
            .all(|e| e.location_id.as_ref().map(|l| l.as_str()) == Some(h.loc.id.as_str()))
    );
    h.drain().await;
    // Each event is processed and written to the sync log under its type.
    let log = h.app.store().sync_log(None, 100).await.unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["user_registered", "expert_level_changed", "user_deleted"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    h.shutdown().await;
}

/// Seed 000 through the HTTP API with the marketplace pack: one GHL contact per person,
/// tags accumulating across roles, the common fields, and deletion replacing the leaving
/// tags, checked in the simulator's final state.
#[tokio::test]
async fn the_marketplace_pack_syncs_a_person_into_one_ghl_contact() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let at = |m: u32| format!("2026-11-21T10:{m:02}:00Z");
    let events = json!([
        {"type": "user.registered", "id": "e1", "occurred_at": at(0), "subject": "u1",
         "data": {"role": "empresa", "email": "ana@acme.es", "source": "linkedin",
                  "company_name": "Acme", "industry": "IA"}},
        {"type": "user.role_added", "id": "e2", "occurred_at": at(1), "subject": "u1",
         "data": {"role": "experto"}},
        {"type": "user.unsubscribed", "id": "e3", "occurred_at": at(2), "subject": "u1"},
    ]);
    let (status, body) = h.post_events(Some(&key), &events).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let (status, _) = h
        .post_events(
            Some(&key),
            &json!({"type": "user.deleted", "id": "e4", "occurred_at": at(3), "subject": "u1"}),
        )
        .await;
    assert_eq!(status, 202);
    h.drain().await;
    let contacts = h.sim.contacts(&h.loc.id);
    assert_eq!(contacts.len(), 1, "one contact per person: {contacts:?}");
    let c = &contacts[0];
    assert_eq!(c["email"], "ana@acme.es");
    assert_eq!(c["companyName"], "Acme");
    assert_eq!(
        sorted_tags(c),
        [
            "emp-eliminado",
            "emp-nuevo-registro",
            "exp-eliminado",
            "exp-solicitud",
            "src/linkedin"
        ]
    );
    assert_eq!(
        h.custom_value(c, "tipo_de_usuario").await,
        Some(json!("Empresa y Experto"))
    );
    assert_eq!(
        h.custom_value(c, "fuente_del_contacto").await,
        Some(json!("linkedin"))
    );
    assert_eq!(h.custom_value(c, "industry").await, Some(json!("IA")));
    assert_eq!(
        h.custom_value(c, "estado_del_contacto").await,
        Some(json!("Eliminado"))
    );
    assert!(h.custom_value(c, "lead_score").await.is_some());
    // Nothing went to the dead-letter queue, and the deletion is in the sync log.
    assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);
    let log = h.app.store().sync_log(None, 100).await.unwrap();
    assert!(log.iter().any(|e| e.kind == "user_deleted"));
    h.shutdown().await;
}

/// An API key and a workflow route named like the key's id have separate request budgets.
#[tokio::test]
async fn an_api_key_does_not_share_its_request_limit_with_a_route() {
    let h = Harness::start(|c| c.server.route_requests_per_minute = 1).await;
    let key = h.api_key().await;
    let id = h.app.store().api_keys().await.unwrap()[0].id.clone();
    h.hmac_route(&id, &["lead"]).await;
    let (status, _) = h
        .post_events(Some(&key), &registered("e1", "u1", "empresa"))
        .await;
    assert_eq!(status, 202);
    assert_eq!(h.post_workflow(&id, &crate::lead(1)).await.status(), 200);
    let (status, body) = h
        .post_events(Some(&key), &registered("e2", "u2", "empresa"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    h.shutdown().await;
}

/// GHL calls a contact's changes caused, from the simulator's audit log.
fn contact_calls(h: &Harness) -> usize {
    h.sim
        .audit(0)
        .iter()
        .filter(|a| a.path.starts_with("/contacts"))
        .count()
}

/// A busy person: six events in one batch. With coalescing their contact syncs merge while
/// they wait (at most one can be claimed before the next is queued, so at most two run);
/// without it each event has its own. Afterwards an event whose changes GHL already has
/// makes no call at all.
#[tokio::test]
async fn pending_changes_to_one_contact_merge_and_what_ghl_has_is_not_sent() {
    let mut calls = Vec::new();
    for coalesce in [true, false] {
        let h = Harness::start(|c| {
            c.rules.packs = vec!["marketplace".into()];
            c.processor.coalesce = coalesce;
        })
        .await;
        let key = h.api_key().await;
        let at = |m: u32| format!("2026-11-21T10:{m:02}:00Z");
        let event = |id: &str, m: u32, t: &str, data: Value| json!({"type": t, "id": id, "occurred_at": at(m), "subject": "u1", "data": data});
        let batch = json!([
            registered("e1", "u1", "experto"),
            event(
                "e2",
                1,
                "expert.verification_changed",
                json!({"status": "solicitud"})
            ),
            event(
                "e3",
                2,
                "expert.verification_changed",
                json!({"status": "pre-evaluación"})
            ),
            event(
                "e4",
                3,
                "expert.verification_changed",
                json!({"status": "verificado"})
            ),
            event("e5", 4, "expert.level_changed", json!({"level": "pro"})),
            event("e6", 5, "user.role_added", json!({"role": "empresa"})),
        ]);
        let (status, body) = h.post_events(Some(&key), &batch).await;
        assert_eq!(status, 202, "{body}");
        h.drain().await;
        let syncs = h
            .app
            .store()
            .list_jobs(&ghlsync_store::JobFilter {
                kind: Some("sync_contact".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        if coalesce {
            assert!(syncs <= 2, "{syncs} syncs for six events");
        } else {
            assert_eq!(syncs, 6);
        }
        calls.push(contact_calls(&h));
        let contacts = h.sim.contacts(&h.loc.id);
        assert_eq!(contacts.len(), 1);
        let tags: Vec<&str> = contacts[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            tags.contains(&"exp-verificado") && tags.contains(&"emp-nuevo-registro"),
            "{tags:?}"
        );
        assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);

        if coalesce {
            // The same role again: its tag and fields are already in GHL.
            let before = contact_calls(&h);
            let (status, _) = h
                .post_events(
                    Some(&key),
                    &event("e7", 6, "user.role_added", json!({"role": "empresa"})),
                )
                .await;
            assert_eq!(status, 202);
            h.drain().await;
            assert_eq!(contact_calls(&h), before, "nothing new for GHL, no call");
        }
        h.shutdown().await;
    }
    assert!(
        calls[0] * 2 <= calls[1],
        "coalesced {} calls, uncoalesced {}",
        calls[0],
        calls[1]
    );
}

/// Workers processing events of one person at once conflict on the person's profile; the
/// loser decides again at once instead of waiting for its lease (ten minutes here) to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_person_on_several_workers_do_not_wait_for_a_lease() {
    let h = Harness::start(|c| {
        c.rules.packs = vec!["marketplace".into()];
        c.processor.workers = 4;
        c.processor.batch = 1;
        c.processor.lease_ms = 600_000;
    })
    .await;
    let key = h.api_key().await;
    let mut events = vec![registered("e0", "u1", "empresa")];
    events.extend((1..16).map(|i| {
        json!({"type": "user.activity", "id": format!("e{i}"), "subject": "u1",
               "occurred_at": format!("2026-11-21T10:{i:02}:00Z"), "data": {}})
    }));
    let (status, body) = h.post_events(Some(&key), &Value::Array(events)).await;
    assert_eq!(status, 202, "{body}");
    tokio::time::timeout(std::time::Duration::from_secs(60), h.drain())
        .await
        .expect("every event processed without waiting for a lease");
    let stats = h.app.store().queue_stats().await.unwrap();
    assert_eq!((stats.events_done, stats.events_dead), (16, 0));
    h.shutdown().await;
}

/// Seed 000's projects: publishing creates the company's opportunity, assigning an expert
/// (the expert's event) moves it, completing it wins it; the project tags land on each
/// person's contact.
#[tokio::test]
async fn a_project_becomes_one_opportunity_that_follows_it() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let at = |m: u32| format!("2026-11-21T10:{m:02}:00Z");
    let event = |id: &str, m: u32, subject: &str, t: &str, data: Value| json!({"type": t, "id": id, "occurred_at": at(m), "subject": subject, "data": data});
    let p = json!({"project_id": "p1"});
    let events = json!([
        registered("e1", "u1", "empresa"),
        registered("e2", "u2", "experto"),
        event(
            "e3",
            1,
            "u1",
            "project.published",
            json!({"project_id": "p1", "title": "Tienda online", "budget": 1200})
        ),
        event("e4", 2, "u2", "expert.assigned", p.clone()),
    ]);
    let (status, body) = h.post_events(Some(&key), &events).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let opportunities = h.sim.opportunities(&h.loc.id);
    assert_eq!(opportunities.len(), 1, "{opportunities:?}");
    let pipeline = &h
        .loc
        .pipelines
        .iter()
        .find(|p| p.name == "Proyectos")
        .unwrap();
    let stage = |name: &str| {
        pipeline
            .stages
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .id
            .clone()
    };
    let o = &opportunities[0];
    assert_eq!(o["name"], "Tienda online");
    assert_eq!(o["monetaryValue"], 1200.0);
    assert_eq!(o["pipelineStageId"], stage("Asignado"));
    let empresa = h
        .app
        .store()
        .linked_contact(&h.loc.id.as_str().into(), "u1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o["contactId"], empresa.as_str());

    let (status, _) = h
        .post_events(Some(&key), &event("e5", 3, "u1", "project.completed", p))
        .await;
    assert_eq!(status, 202);
    h.drain().await;
    let o = &h.sim.opportunities(&h.loc.id)[0];
    assert_eq!(o["pipelineStageId"], stage("Completado"));
    assert_eq!(o["status"], "won");
    let tags = |subject: &str| {
        let contacts = h.sim.contacts(&h.loc.id);
        let email = format!("{subject}@example.com");
        let c = contacts
            .iter()
            .find(|c| c["email"] == email.as_str())
            .unwrap();
        c["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(
        tags("u1").contains(&"emp-proyecto-completado".to_owned()),
        "{:?}",
        tags("u1")
    );
    assert!(
        tags("u2").contains(&"exp-proyecto-asignado".to_owned()),
        "{:?}",
        tags("u2")
    );
    assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);
    h.shutdown().await;
}

/// Seed 000's diagnosis and forced tag sync: a tag removed by hand in GHL (no webhook
/// told ghlsync) shows as a difference with the rule and event that set it; a resync
/// pushes everything whole, whatever the mirror says, and the differences are gone.
#[tokio::test]
async fn a_diagnosis_shows_what_ghl_lost_and_a_resync_restores_it() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let diagnosis = |path: &'static str| {
        let req = h
            .http
            .get(format!("{}/api/v1/contacts/{path}/diagnosis", h.base))
            .bearer_auth(&key);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = diagnosis("nobody").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_subject"))
    );

    let (status, _) = h
        .post_events(Some(&key), &registered("e1", "u1", "empresa"))
        .await;
    assert_eq!(status, 202);
    h.drain().await;
    let (status, body) = diagnosis("u1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["differences"], json!([]), "{body}");
    assert_eq!(
        body["intent"]["tags"]["emp-nuevo-registro"]["rule"],
        "empresa: registro"
    );
    assert_eq!(body["ghl"]["custom_fields"]["tipo_de_usuario"], "Empresa");

    // Someone removes the tag in GHL.
    let contact_id = body["contact_id"].as_str().unwrap().to_owned();
    h.app
        .ghl()
        .with_token(&h.loc.token)
        .remove_tags(
            &contact_id.as_str().into(),
            &["emp-nuevo-registro".to_owned()],
        )
        .await
        .unwrap();
    let (_, body) = diagnosis("u1").await;
    let d = &body["differences"][0];
    assert_eq!(
        (
            d["kind"].as_str(),
            d["name"].as_str(),
            d["wanted"].as_str(),
            d["ghl"].as_str()
        ),
        (
            Some("tag"),
            Some("emp-nuevo-registro"),
            Some("present"),
            Some("absent")
        ),
        "{body}"
    );
    assert_eq!(d["origin"]["event_id"], "e1");
    assert_eq!(d["origin"]["event_type"], "user.registered");
    assert_eq!(
        body["local"]["tags"],
        json!(["emp-nuevo-registro", "src/web"]),
        "the mirror still has it"
    );

    let r = h
        .http
        .post(format!("{}/api/v1/contacts/u1/resync", h.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    h.drain().await;
    let (_, body) = diagnosis("u1").await;
    assert_eq!(body["differences"], json!([]), "{body}");
    assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);
    h.shutdown().await;
}

/// A field the location lacks is created once, however many jobs need it at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_field_is_created_once_for_many_jobs_at_once() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let events: Vec<Value> = (0..12)
        .flat_map(|i| {
            let subject = format!("x{i}");
            [
                registered(&format!("r{i}"), &subject, "experto"),
                json!({"type": "expert.level_changed", "id": format!("l{i}"), "subject": subject,
                       "occurred_at": "2026-11-21T10:05:00Z", "data": {"level": "pro"}}),
            ]
        })
        .collect();
    let (status, body) = h.post_events(Some(&key), &Value::Array(events)).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let dead = h
        .app
        .store()
        .list_jobs(&ghlsync_store::JobFilter {
            state: Some(ghlsync_core::JobState::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    let created = h
        .sim
        .audit(0)
        .iter()
        .filter(|a| a.method == "POST" && a.path.ends_with("/customFields") && a.status == 201)
        .count();
    assert_eq!(created, 1, "expert_level created once");
    h.shutdown().await;
}

/// GHL's default allows one opportunity per contact and pipeline: a company's second
/// project takes over the contact's opportunity instead of failing.
#[tokio::test]
async fn a_second_project_reuses_the_contacts_opportunity_when_ghl_allows_one() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let published = |id: &str, project: &str, title: &str| {
        json!({"type": "project.published", "id": id, "subject": "u1",
               "occurred_at": "2026-11-21T10:10:00Z",
               "data": {"project_id": project, "title": title}})
    };
    let events = json!([
        registered("e1", "u1", "empresa"),
        published("e2", "p1", "Primero"),
        published("e3", "p2", "Segundo"),
    ]);
    let (status, body) = h.post_events(Some(&key), &events).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let opportunities = h.sim.opportunities(&h.loc.id);
    assert_eq!(opportunities.len(), 1, "{opportunities:?}");
    assert_eq!(opportunities[0]["name"], "Segundo");
    assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);
    h.shutdown().await;
}

/// Seed 000's admin actions, contact status and lead score through the HTTP API: an expert
/// verified, levelled, reviewed, deactivated and reactivated. The simulator ends with the
/// seed's tags, the derived status at each step, and exactly the lead score the formula
/// gives for the same events.
#[tokio::test]
async fn an_experts_admin_lifecycle_sets_its_tags_status_and_lead_score() {
    let h = Harness::start(|c| c.rules.packs = vec!["marketplace".into()]).await;
    let key = h.api_key().await;
    let event = |n: u32, t: &str, data: Value| {
        json!({"type": t, "id": format!("x{n}"), "subject": "x1",
               "occurred_at": format!("2026-11-{:02}T10:00:00Z", n + 1), "data": data})
    };
    let first = [
        event(
            1,
            "user.registered",
            json!({"role": "experto", "email": "eva@x.es", "source": "referral"}),
        ),
        event(
            2,
            "expert.verification_changed",
            json!({"status": "verificado"}),
        ),
        event(3, "expert.level_changed", json!({"level": "pro"})),
        event(4, "review.added", json!({"rating": 5})),
        event(5, "user.deactivated", json!({})),
    ];
    let later = [event(6, "user.reactivated", json!({}))];
    let contact = |h: &Harness| h.sim.contacts(&h.loc.id).remove(0);
    let (status, body) = h.post_events(Some(&key), &json!(first)).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let c = contact(&h);
    assert_eq!(
        sorted_tags(&c),
        [
            "exp-inactivo",
            "exp-nivel-pro",
            "exp-verificado",
            "src/referral"
        ]
    );
    assert_eq!(
        h.custom_value(&c, "estado_del_contacto").await,
        Some(json!("Inactivo"))
    );
    let (status, body) = h.post_events(Some(&key), &json!(later)).await;
    assert_eq!(status, 202, "{body}");
    h.drain().await;
    let c = contact(&h);
    assert_eq!(
        sorted_tags(&c),
        ["exp-nivel-pro", "exp-verificado", "src/referral"]
    );
    assert_eq!(
        h.custom_value(&c, "estado_del_contacto").await,
        Some(json!("Nuevo registro"))
    );
    // The score GHL holds is the formula's for these events, at the last one's time.
    let mut profile = ghlsync_core::profile::Profile::new("x1");
    let events: Vec<ghlsync_core::AppEvent> = first
        .iter()
        .chain(&later)
        .map(|e| ghlsync_core::AppEvent::from_json(e).unwrap())
        .collect();
    events.iter().for_each(|e| profile.apply(e));
    let expected = ghlsync_core::scoring::marketplace_score(&profile, events[5].occurred_at);
    let held = number(h.custom_value(&c, "lead_score").await);
    assert_eq!(held, Some(f64::from(expected.score)));
    assert!(
        expected.score > 20,
        "verification, a review and activity count"
    );
    assert_eq!(h.app.store().queue_stats().await.unwrap().jobs_dead, 0);
    h.shutdown().await;
}
