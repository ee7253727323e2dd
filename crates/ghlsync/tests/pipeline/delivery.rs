//! Delivery: idempotent effects under "applied, then timed out", outages, and the
//! dead-letter queue.

use std::time::Duration;

use ghl_sim::{Effect, FaultAction, FaultConfig, FaultRule};
use ghlsync_core::command::ContactRef;
use ghlsync_core::{GhlCommand, JobState, NewJob};
use ghlsync_store::{JobFilter, Store};
use serde_json::json;

use crate::{Harness, lead};

fn created_contacts(h: &Harness) -> usize {
    h.sim
        .audit(0)
        .iter()
        .flat_map(|e| e.effects.iter())
        .filter(|e| matches!(e, Effect::ContactCreated { .. }))
        .count()
}

#[tokio::test]
async fn a_retry_after_applied_then_timed_out_creates_nothing_twice() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("new-lead", &["lead", "src/web"]).await;
    h.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::ApplyThenTimeout)
                .times(1)
                .on("POST", "/contacts/upsert"),
            FaultRule::always(FaultAction::ApplyThenTimeout)
                .times(1)
                .on("POST", "/contacts/")
                .ending("/tags"),
        ],
        hang_ms: Some(2_000),
    });
    assert_eq!(h.post_workflow("new-lead", &lead(1)).await.status(), 200);
    h.drain().await;
    let audit = h.sim.audit(0);
    let upserts = audit
        .iter()
        .filter(|e| e.path == "/contacts/upsert")
        .count();
    assert!(
        upserts >= 2,
        "the first upsert timed out and was retried ({upserts})"
    );
    assert_eq!(created_contacts(&h), 1, "one contact despite the retry");
    // The tag call was applied but timed out too; the retry's upsert answer already shows
    // the tags, so they are not sent again.
    let tag_calls: Vec<_> = audit.iter().filter(|e| e.path.ends_with("/tags")).collect();
    assert_eq!(tag_calls.len(), 1);
    assert_eq!(tag_calls[0].fault.as_deref(), Some("apply_then_timeout"));
    let contacts = h.sim.contacts(&h.loc.id);
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["tags"], json!(["lead", "src/web"]));
    let jobs = h
        .app
        .store()
        .list_jobs(&JobFilter::default())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Done);
    h.shutdown().await;
}

#[tokio::test]
async fn a_note_is_looked_up_before_it_is_created_again() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("new-lead", &[]).await;
    h.post_workflow("new-lead", &lead(7)).await;
    h.drain().await;
    let contact = h.sim.contacts(&h.loc.id)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::ApplyThenTimeout)
                .times(1)
                .on("POST", &format!("/contacts/{contact}/notes")),
        ],
        hang_ms: Some(2_000),
    });
    h.app
        .store()
        .enqueue_jobs(
            &[NewJob {
                location_id: h.loc.id.as_str().into(),
                command: GhlCommand::AddNote {
                    contact: ContactRef::Ghl(contact.as_str().into()),
                    body: "Called back".into(),
                },
                idempotency_key: "note-1".into(),
                ordering_key: format!("contact:{contact}"),
                run_at: 0,
                source_event: None,
                coalesce: false,
            }],
            ghlsync::app::now_ms(),
        )
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
    h.drain().await;
    let audit = h.sim.audit(0);
    let notes_created = audit
        .iter()
        .flat_map(|e| e.effects.iter())
        .filter(|e| matches!(e, Effect::NoteCreated { .. }))
        .count();
    assert_eq!(notes_created, 1);
    assert!(
        audit
            .iter()
            .any(|e| e.method == "GET" && e.path.ends_with("/notes")),
        "looked up before retrying"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn after_an_outage_everything_is_delivered_and_nothing_transient_is_dead() {
    let h = Harness::start(|c| {
        c.dispatcher.backoff = ghlsync_core::Backoff {
            base_ms: 200,
            max_ms: 1_000,
            max_attempts: 40,
        }
    })
    .await;
    h.hmac_route("new-lead", &["lead"]).await;
    h.sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::Status { status: 503 })
                .for_duration(Duration::from_secs(3)),
            FaultRule::always(FaultAction::Hang)
                .with_probability(0.3)
                .for_duration(Duration::from_secs(4)),
        ],
        hang_ms: Some(3_000),
    });
    for i in 0..20 {
        assert_eq!(h.post_workflow("new-lead", &lead(i)).await.status(), 200);
    }
    h.drain().await;
    let jobs = h
        .app
        .store()
        .list_jobs(&JobFilter {
            limit: Some(100),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 20);
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:?}");
    assert!(
        jobs.iter().any(|j| j.attempts > 0),
        "the outage caused retries"
    );
    assert_eq!(h.sim.contacts(&h.loc.id).len(), 20);
    assert!(h.sim.audit(0).iter().any(|e| e.status == 503));
    h.shutdown().await;
}

#[tokio::test]
async fn permanent_errors_go_to_the_dlq_at_once_and_replay_after_a_fix() {
    let h = Harness::start(|_| {}).await;
    h.hmac_route("new-lead", &[]).await;
    // GHL refuses the email: 422, dead at once with GHL's message.
    let mut bad = lead(1);
    bad["email"] = json!("not-an-email");
    h.post_workflow("new-lead", &bad).await;
    h.drain().await;
    // The location's token is wrong: 401, dead at once.
    let loc = h.loc.id.as_str().into();
    ghlsync::registry::rotate_token(
        h.app.store(),
        h.app.cipher(),
        &loc,
        &secrecy::SecretString::from("pit-wrong".to_owned()),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(5_100)).await; // the location cache holds for 5 s
    h.post_workflow("new-lead", &lead(2)).await;
    h.drain().await;
    let dead = h
        .app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter().all(|j| j.attempts == 1),
        "no retries for permanent errors"
    );
    let errors: Vec<String> = dead.iter().map(|j| j.last_error.clone().unwrap()).collect();
    assert!(
        errors.iter().any(|e| e.contains("email must be an email")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("Invalid JWT")),
        "{errors:?}"
    );
    let location = h.app.store().location(&loc).await.unwrap().unwrap();
    assert_eq!(
        location.last_sync_status,
        Some(ghlsync_core::SyncStatus::Failed)
    );

    // Fix the token and replay the 401s in bulk through the admin API.
    ghlsync::registry::rotate_token(
        h.app.store(),
        h.app.cipher(),
        &loc,
        &secrecy::SecretString::from(h.loc.token.clone()),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let r = h
        .admin(reqwest::Method::POST, "/admin/dlq/replay")
        .json(&json!({"error": "Invalid JWT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["replayed"], 1);
    h.drain().await;
    let dead = h
        .app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "only the invalid email is left");
    assert_eq!(h.sim.contacts(&h.loc.id).len(), 1);
    let location = h.app.store().location(&loc).await.unwrap().unwrap();
    assert_eq!(
        location.last_sync_status,
        Some(ghlsync_core::SyncStatus::Success)
    );
    h.shutdown().await;
}

#[tokio::test]
async fn an_event_that_cannot_be_processed_is_dead_lettered_with_its_error() {
    let h = Harness::start(|_| {}).await;
    // Signed and readable, but a contact event without the contact's id: nothing can be
    // mirrored from it, and the event waits in the dead-letter queue with the reason.
    let body = h.ghl_payload("ContactCreate", json!({"email": "a@b.co"}));
    assert_eq!(h.post_ghl(body).await.status(), 200);
    h.drain().await;
    let r: serde_json::Value = h
        .admin(reqwest::Method::GET, "/admin/events?state=dead")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("missing field: id")
    );
    let r: serde_json::Value = h
        .admin(reqwest::Method::POST, "/admin/events/replay")
        .json(&json!({"state": "dead"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["replayed"], 1);
    h.shutdown().await;
}
