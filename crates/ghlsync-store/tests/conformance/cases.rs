//! The cases, generic over [`Store`].

use std::collections::{BTreeMap, HashSet};

use ghl::{ContactId, LocationId, NoteId};
use ghlsync_core::changeset::{IdLink, LocationSync, LogEntry};
use ghlsync_core::command::ContactRef;
use ghlsync_core::gcra::Decision;
use ghlsync_core::process::{RouteAction, UpsertContactAction};
use ghlsync_core::{
    ApiKey, Changeset, ContactMirror, ContactSync, EventState, Gcra, GhlCommand, IntegrationType,
    JobId, JobState, Location, Millis, NewEvent, NewJob, NoteMirror, RouteAuth, Source, SyncStatus,
    WorkflowRoute,
};
use ghlsync_store::{
    EventFilter, FinishedJob, Inserted, JobFilter, JobOutcome, RateRequest, Store,
};
use serde_json::json;

fn event(key: Option<&str>) -> NewEvent {
    NewEvent {
        source: Source::Ghl,
        dedupe_key: key.map(|k| format!("ghl:{k}")),
        dedupe_window_ms: None,
        event_type: "ContactCreate".into(),
        location_id: Some("loc".into()),
        route: None,
        meta: json!({"signature": "ed25519"}),
        body: br#"{"type":"ContactCreate"}"#.to_vec(),
        received_at: 0,
    }
}

/// A lane size that never limits a claim (for cases about something else).
const ANY: u32 = 1_000;

/// One outcome, recorded alone by owner `d`.
async fn finish<S: Store>(s: &S, id: JobId, outcome: JobOutcome, now: Millis) -> bool {
    let recorded = s
        .finish_jobs("d", &[FinishedJob { id, outcome }], now)
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1);
    recorded[0]
}

/// One place of the limiter `key`, asked alone.
async fn reserve<S: Store>(
    s: &S,
    key: &str,
    gcra: Gcra,
    now: Millis,
    max_wait: Millis,
) -> Decision {
    let request = RateRequest {
        key: key.into(),
        gcra,
        max_wait,
    };
    let decisions = s.rate_reserve(&[request], now).await.unwrap();
    assert_eq!(decisions.len(), 1);
    decisions[0]
}

fn job(key: &str, ordering: &str, run_at: i64) -> NewJob {
    NewJob {
        location_id: "loc".into(),
        command: GhlCommand::AddNote {
            contact: ContactRef::Ghl("c1".into()),
            body: key.into(),
        },
        idempotency_key: key.into(),
        ordering_key: ordering.into(),
        run_at,
        source_event: None,
        coalesce: false,
    }
}

fn contact(id: &str, email: &str, updated_at: i64) -> ContactMirror {
    ContactMirror {
        location_id: "loc".into(),
        contact_id: id.into(),
        email: Some(email.into()),
        phone: None,
        first_name: None,
        last_name: None,
        company_name: None,
        tags: vec!["a".into()],
        custom_fields: BTreeMap::from([("f1".to_owned(), json!(3))]),
        payload: json!({"id": id}),
        updated_at,
        deleted: false,
        times: ghlsync_core::mirror::ValueTimes {
            at: BTreeMap::from([("tag:a".to_owned(), updated_at)]),
            decided: BTreeMap::from([("tag:a".to_owned(), 1)]),
        },
    }
}

pub async fn migrations_are_idempotent<S: Store>(s: &S) {
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
}

pub async fn duplicate_events_are_stored_once<S: Store>(s: &S) {
    let out = s
        .insert_events(&[
            event(Some("w1")),
            event(Some("w1")),
            event(None),
            event(None),
        ])
        .await
        .unwrap();
    let Inserted::New(first) = out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(out[1], Inserted::Duplicate(first));
    assert!(matches!(out[2], Inserted::New(_)));
    assert!(
        matches!(out[3], Inserted::New(_)),
        "events without a dedupe key are never duplicates"
    );
    let again = s.insert_events(&[event(Some("w1"))]).await.unwrap();
    assert_eq!(again, vec![Inserted::Duplicate(first)]);
    let stored = s.list_events(&EventFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 3);
    let e = stored.iter().find(|e| e.id == first).unwrap();
    assert_eq!(
        e.body, br#"{"type":"ContactCreate"}"#,
        "the raw body is kept byte for byte"
    );
    assert_eq!(e.meta["signature"], "ed25519");
    assert_eq!(e.state, EventState::Pending);
}

/// A key with a window (a body digest) marks repeats only within it, counted from the
/// event it repeats; the same body later is a new event, and repeats of it find that one.
pub async fn windowed_keys_repeat_only_within_their_window<S: Store>(s: &S) {
    let at = |received_at: Millis, window: Option<Millis>| NewEvent {
        dedupe_window_ms: window,
        received_at,
        ..event(Some("body:digest"))
    };
    let window = Some(1_000);
    let first = s.insert_events(&[at(0, window)]).await.unwrap();
    let Inserted::New(a) = first[0] else {
        panic!("{first:?}")
    };
    let within = s
        .insert_events(&[at(1_000, window), at(1_000, window)])
        .await
        .unwrap();
    assert_eq!(within, vec![Inserted::Duplicate(a), Inserted::Duplicate(a)]);
    let later = s
        .insert_events(&[at(1_001, window), at(1_500, window)])
        .await
        .unwrap();
    let Inserted::New(b) = later[0] else {
        panic!("{later:?}")
    };
    assert_ne!(a, b, "after the window the same body is a new event");
    assert_eq!(later[1], Inserted::Duplicate(b), "within the batch");
    let again = s.insert_events(&[at(2_001, window)]).await.unwrap();
    assert_eq!(
        again,
        vec![Inserted::Duplicate(b)],
        "counted from the newer event"
    );
    // A key without a window marks repeats however late they come.
    let forever = |received_at| NewEvent {
        received_at,
        ..event(Some("w-forever"))
    };
    let one = s.insert_events(&[forever(0)]).await.unwrap();
    let Inserted::New(c) = one[0] else {
        panic!("{one:?}")
    };
    let late = s.insert_events(&[forever(86_400_000)]).await.unwrap();
    assert_eq!(late, vec![Inserted::Duplicate(c)]);
    let stored = s.list_events(&EventFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
}

pub async fn claims_are_exclusive<S: Store>(s: &S) {
    let events: Vec<_> = (0..10).map(|i| event(Some(&format!("e{i}")))).collect();
    s.insert_events(&events).await.unwrap();
    let a = s.claim_events("a", 2_000, 30_000, 6).await.unwrap();
    let b = s.claim_events("b", 2_000, 30_000, 6).await.unwrap();
    assert_eq!(a.len(), 6);
    assert_eq!(b.len(), 4);
    let ids: HashSet<_> = a.iter().chain(&b).map(|e| e.id).collect();
    assert_eq!(ids.len(), 10);
    assert!(a.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert!(
        s.claim_events("c", 2_000, 30_000, 6)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_claimers_never_share_an_event<S: Store + Clone + 'static>(s: &S) {
    let events: Vec<_> = (0..200).map(|i| event(Some(&format!("c{i}")))).collect();
    s.insert_events(&events).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = s
                    .claim_events(&format!("w{w}"), 2_000, 30_000, 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|e| e.id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200);
}

pub async fn a_dead_workers_lease_ends_and_another_takes_over<S: Store>(s: &S) {
    s.insert_events(&[event(Some("l1"))]).await.unwrap();
    let a = s.claim_events("a", 0, 1_000, 10).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(
        s.claim_events("b", 500, 1_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "lease still held"
    );
    let b = s.claim_events("b", 1_500, 1_000, 10).await.unwrap();
    assert_eq!(b.len(), 1, "lease ended: taken over");
    assert!(
        !s.complete_event(a[0].id, "a", &Changeset::default(), 1_600)
            .await
            .unwrap(),
        "the old owner lost it"
    );
    assert!(
        s.complete_event(b[0].id, "b", &Changeset::default(), 1_600)
            .await
            .unwrap()
    );
    assert!(
        s.claim_events("c", 10_000, 1_000, 10)
            .await
            .unwrap()
            .is_empty(),
        "done is done"
    );
}

pub async fn completion_applies_the_changeset_and_enqueues_jobs<S: Store>(s: &S) {
    s.insert_events(&[event(Some("x"))]).await.unwrap();
    let e = s.claim_events("w", 0, 10_000, 1).await.unwrap().remove(0);
    let changes = Changeset {
        contacts: vec![contact("c1", "a@x.co", 10)],
        notes: vec![NoteMirror {
            location_id: "loc".into(),
            note_id: NoteId::new("n1"),
            contact_id: Some("c1".into()),
            body: Some("hi".into()),
            updated_at: 10,
        }],
        id_links: vec![IdLink {
            location_id: "loc".into(),
            subject: "user-1".into(),
            contact_id: "c1".into(),
        }],
        log: vec![LogEntry {
            location_id: Some("loc".into()),
            kind: "user_deleted".into(),
            detail: json!({"u": 1}),
            at: 11,
        }],
        jobs: vec![
            job("evt_1:0", "contact:a", 0),
            job("evt_1:0", "contact:a", 0),
        ],
        ..Changeset::default()
    };
    assert!(s.complete_event(e.id, "w", &changes, 20).await.unwrap());
    let loc = LocationId::new("loc");
    let c = s
        .contact(&loc, &ContactId::new("c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.custom_fields["f1"], 3);
    assert_eq!(s.notes(&loc, &ContactId::new("c1")).await.unwrap().len(), 1);
    assert_eq!(
        s.linked_contact(&loc, "user-1").await.unwrap(),
        Some(ContactId::new("c1"))
    );
    let log = s.sync_log(Some(&loc), 10).await.unwrap();
    assert_eq!(log[0].kind, "user_deleted");
    let jobs = s.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1, "the idempotency key keeps one job");
    assert_eq!(jobs[0].state, JobState::Queued);
    assert_eq!(
        s.list_events(&EventFilter {
            state: Some(EventState::Done),
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1
    );
}

pub async fn failed_events_back_off_then_dead_letter_then_replay<S: Store>(s: &S) {
    s.insert_events(&[event(Some("f"))]).await.unwrap();
    let e = s.claim_events("w", 0, 10_000, 1).await.unwrap().remove(0);
    assert!(
        s.fail_event(e.id, "w", "boom", Some(5_000), 100)
            .await
            .unwrap()
    );
    assert!(
        s.claim_events("w", 4_999, 10_000, 1)
            .await
            .unwrap()
            .is_empty(),
        "backing off"
    );
    let e = s
        .claim_events("w", 5_000, 10_000, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(e.attempts, 1);
    assert_eq!(e.last_error.as_deref(), Some("boom"));
    assert!(
        s.fail_event(e.id, "w", "boom again", None, 5_100)
            .await
            .unwrap()
    );
    let dead = s
        .list_events(&EventFilter {
            state: Some(EventState::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom again"));
    assert!(
        s.claim_events("w", 99_999, 10_000, 1)
            .await
            .unwrap()
            .is_empty(),
        "dead events are not claimed"
    );
    assert_eq!(
        s.replay_events(
            &EventFilter {
                id: Some(e.id),
                ..Default::default()
            },
            6_000
        )
        .await
        .unwrap(),
        1
    );
    let again = s.claim_events("w", 6_000, 10_000, 1).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 0);
}

pub async fn jobs_are_idempotent_by_key_and_ordered_by_key<S: Store>(s: &S) {
    assert_eq!(
        s.enqueue_jobs(
            &[
                job("k1", "contact:a", 0),
                job("k2", "contact:a", 0),
                job("k3", "contact:b", 0)
            ],
            0
        )
        .await
        .unwrap(),
        3
    );
    assert_eq!(
        s.enqueue_jobs(&[job("k1", "contact:a", 0)], 0)
            .await
            .unwrap(),
        0,
        "same key, same job"
    );
    let first = s.claim_jobs("d", 1, 10_000, 10, ANY).await.unwrap();
    let keys: Vec<_> = first.iter().map(|j| j.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["k1", "k3"],
        "k2 waits for k1 (same ordering key)"
    );
    assert!(
        s.claim_jobs("d", 1, 10_000, 10, ANY)
            .await
            .unwrap()
            .is_empty()
    );
    let k1 = &first[0];
    assert_eq!(k1.claims, 1);
    assert!(!k1.may_have_run());
    assert!(
        finish(
            s,
            k1.id,
            JobOutcome::Done {
                result: json!({"ok": true}),
                changes: Changeset::default()
            },
            2
        )
        .await
    );
    let next = s.claim_jobs("d", 3, 10_000, 10, ANY).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].idempotency_key, "k2");
    // A future job is not due.
    s.enqueue_jobs(&[job("later", "contact:c", 1_000)], 0)
        .await
        .unwrap();
    assert!(
        s.claim_jobs("d", 999, 10_000, 10, ANY)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_jobs("d", 1_000, 10_000, 10, ANY)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn rescheduling_and_the_dead_letter_queue<S: Store>(s: &S) {
    s.enqueue_jobs(&[job("r1", "contact:a", 0), job("r2", "contact:b", 0)], 0)
        .await
        .unwrap();
    let jobs = s.claim_jobs("d", 0, 10_000, 10, ANY).await.unwrap();
    let (r1, r2) = (&jobs[0], &jobs[1]);
    // Held back by the rate limiter: no attempt used.
    assert!(
        finish(
            s,
            r1.id,
            JobOutcome::Queued {
                run_at: 500,
                count_attempt: false,
                forget_claim: false,
                error: None
            },
            1
        )
        .await
    );
    // A transient failure: one attempt used.
    assert!(
        finish(
            s,
            r2.id,
            JobOutcome::Queued {
                run_at: 500,
                count_attempt: true,
                forget_claim: false,
                error: Some("503".into())
            },
            1
        )
        .await
    );
    assert!(
        s.claim_jobs("d", 499, 10_000, 10, ANY)
            .await
            .unwrap()
            .is_empty()
    );
    let again = s.claim_jobs("d", 500, 10_000, 10, ANY).await.unwrap();
    let r1 = again.iter().find(|j| j.idempotency_key == "r1").unwrap();
    let r2 = again.iter().find(|j| j.idempotency_key == "r2").unwrap();
    assert_eq!((r1.attempts, r1.claims), (0, 2));
    assert!(
        r1.may_have_run(),
        "claimed twice: an earlier run may have reached GHL"
    );
    assert_eq!(r2.attempts, 1);
    assert_eq!(r2.last_error.as_deref(), Some("503"));
    // A hold before anything was sent: the claim is forgotten, the next run is a first.
    assert!(
        finish(
            s,
            r1.id,
            JobOutcome::Queued {
                run_at: 500,
                count_attempt: false,
                forget_claim: true,
                error: None
            },
            501
        )
        .await
    );
    let r1 = s
        .claim_jobs("d", 501, 10_000, 10, ANY)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.idempotency_key == "r1")
        .unwrap();
    assert_eq!((r1.attempts, r1.claims), (0, 2), "still the second claim");
    // Permanent failure: straight to the DLQ, with the location's status.
    let changes = Changeset {
        location_sync: vec![LocationSync {
            location_id: "loc".into(),
            status: SyncStatus::Failed,
            error: Some("422".into()),
            at: 600,
        }],
        ..Changeset::default()
    };
    s.upsert_location(&location("loc")).await.unwrap();
    assert!(
        finish(
            s,
            r1.id,
            JobOutcome::Dead {
                error: "422: email must be an email".into(),
                changes
            },
            600
        )
        .await
    );
    assert!(
        finish(
            s,
            r2.id,
            JobOutcome::Dead {
                error: "404: Contact not found".into(),
                changes: Changeset::default()
            },
            600
        )
        .await
    );
    assert_eq!(
        s.location(&"loc".into())
            .await
            .unwrap()
            .unwrap()
            .last_sync_status,
        Some(SyncStatus::Failed)
    );
    let dlq = JobFilter {
        state: Some(JobState::Dead),
        ..JobFilter::default()
    };
    assert_eq!(s.list_jobs(&dlq).await.unwrap().len(), 2);
    let by_error = JobFilter {
        state: Some(JobState::Dead),
        error_contains: Some("422".into()),
        ..JobFilter::default()
    };
    assert_eq!(s.list_jobs(&by_error).await.unwrap().len(), 1);
    // Replay by filter, then one by id.
    assert_eq!(s.replay_jobs(&by_error, 700).await.unwrap(), 1);
    assert_eq!(
        s.replay_jobs(
            &JobFilter {
                id: Some(r2.id),
                ..JobFilter::default()
            },
            700
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        s.replay_jobs(&dlq, 700).await.unwrap(),
        0,
        "nothing left in the DLQ"
    );
    let replayed = s.claim_jobs("d", 700, 10_000, 10, ANY).await.unwrap();
    assert_eq!(replayed.len(), 2);
    assert!(replayed.iter().all(|j| j.attempts == 0));
}

fn job_of(location: &str, key: &str, run_at: i64) -> NewJob {
    NewJob {
        location_id: location.into(),
        ..job(key, &format!("contact:{key}"), run_at)
    }
}

fn locations_of(jobs: &[ghlsync_core::Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.location_id.as_str()).collect()
}

/// A claim takes every location's first job, then every location's second, ... so a big
/// backlog queued first does not go first; no location runs more than its lane allows,
/// counting what already runs, and an ended lease frees its place.
pub async fn claims_take_locations_in_turn<S: Store>(s: &S) {
    let mut jobs: Vec<NewJob> = (0..30)
        .map(|i| job_of("loc-a", &format!("a{i}"), 0))
        .collect();
    jobs.extend((0..3).map(|i| job_of("loc-b", &format!("b{i}"), 0)));
    jobs.extend((0..3).map(|i| job_of("loc-c", &format!("c{i}"), 5)));
    s.enqueue_jobs(&jobs, 0).await.unwrap();
    let first = s.claim_jobs("d", 10, 1_000, 6, 8).await.unwrap();
    let mut lanes = locations_of(&first);
    lanes.sort_unstable();
    assert_eq!(
        lanes,
        vec!["loc-a", "loc-a", "loc-b", "loc-b", "loc-c", "loc-c"],
        "two of each, not six of the backlog queued first"
    );
    // Lanes of 3: every location has 2 running, so one more each.
    let second = s.claim_jobs("d", 10, 1_000, 100, 3).await.unwrap();
    let mut lanes = locations_of(&second);
    lanes.sort_unstable();
    assert_eq!(lanes, vec!["loc-a", "loc-b", "loc-c"]);
    assert!(
        s.claim_jobs("d", 10, 1_000, 100, 3)
            .await
            .unwrap()
            .is_empty()
    );
    // One of a's finishes: a's lane takes one more, nobody else has any left.
    let a = first
        .iter()
        .find(|j| j.location_id.as_str() == "loc-a")
        .unwrap();
    assert!(
        finish(
            s,
            a.id,
            JobOutcome::Done {
                result: json!({}),
                changes: Changeset::default()
            },
            11
        )
        .await
    );
    let third = s.claim_jobs("d", 12, 1_000, 100, 3).await.unwrap();
    assert_eq!(locations_of(&third), vec!["loc-a"]);
    // Leases end at 1,010: the lapsed jobs are claimed again, and a's lane is free again.
    let after = s.claim_jobs("d2", 1_011, 1_000, 100, 3).await.unwrap();
    let again = after.iter().filter(|j| j.claims == 2).count();
    assert_eq!(again, 8, "every job whose lease ended: {after:?}");
}

/// Outcomes recorded together each apply their own changes, and a job this owner no
/// longer holds is skipped without its changes, never failing the rest.
pub async fn outcomes_recorded_together_apply_each_jobs_changes<S: Store>(s: &S) {
    s.upsert_location(&location("loc")).await.unwrap();
    s.enqueue_jobs(
        &[
            job("o1", "contact:a", 0),
            job("o2", "contact:b", 0),
            job("o3", "contact:c", 0),
            job("o4", "contact:d", 0),
        ],
        0,
    )
    .await
    .unwrap();
    let claimed = s.claim_jobs("d", 0, 10_000, 10, ANY).await.unwrap();
    let id = |key: &str| {
        claimed
            .iter()
            .find(|j| j.idempotency_key == key)
            .unwrap()
            .id
    };
    let note = |text: &str| Changeset {
        log: vec![LogEntry {
            location_id: Some("loc".into()),
            kind: text.into(),
            detail: json!({}),
            at: 5,
        }],
        ..Changeset::default()
    };
    let recorded = s
        .finish_jobs(
            "d",
            &[
                FinishedJob {
                    id: id("o1"),
                    outcome: JobOutcome::Done {
                        result: json!({"n": 1}),
                        changes: note("o1_done"),
                    },
                },
                FinishedJob {
                    id: id("o2"),
                    outcome: JobOutcome::Queued {
                        run_at: 50,
                        count_attempt: true,
                        forget_claim: false,
                        error: Some("503".into()),
                    },
                },
                FinishedJob {
                    id: id("o3"),
                    outcome: JobOutcome::Dead {
                        error: "422".into(),
                        changes: note("o3_dead"),
                    },
                },
                // Not a running job of this owner any more (already recorded above).
                FinishedJob {
                    id: id("o1"),
                    outcome: JobOutcome::Dead {
                        error: "late".into(),
                        changes: note("o1_late"),
                    },
                },
            ],
            5,
        )
        .await
        .unwrap();
    assert_eq!(recorded, vec![true, true, true, false]);
    let log: Vec<String> = s
        .sync_log(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(log.contains(&"o1_done".to_owned()), "{log:?}");
    assert!(log.contains(&"o3_dead".to_owned()), "{log:?}");
    assert!(!log.contains(&"o1_late".to_owned()), "{log:?}");
    let state = |key: &'static str| async move {
        s.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.idempotency_key == key)
            .unwrap()
    };
    assert_eq!(state("o1").await.state, JobState::Done);
    let o2 = state("o2").await;
    assert_eq!(
        (o2.state, o2.attempts, o2.run_at),
        (JobState::Queued, 1, 50)
    );
    assert_eq!(state("o3").await.state, JobState::Dead);
    assert_eq!(state("o4").await.state, JobState::Running);
}

pub async fn concurrent_job_claims_never_overlap<S: Store + Clone + 'static>(s: &S) {
    let jobs: Vec<_> = (0..120)
        .map(|i| job(&format!("j{i}"), &format!("contact:{i}"), 0))
        .collect();
    s.enqueue_jobs(&jobs, 0).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = s
                    .claim_jobs(&format!("d{w}"), 1, 30_000, 5, ANY)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.into_iter().map(|j| j.id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 120);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 120);
}

pub async fn the_mirror_keeps_the_newest_data<S: Store>(s: &S) {
    let loc = LocationId::new("loc");
    let apply = |c: Vec<ContactMirror>| Changeset {
        contacts: c,
        ..Changeset::default()
    };
    s.insert_events(&[event(Some("m1")), event(Some("m2")), event(Some("m3"))])
        .await
        .unwrap();
    let es = s.claim_events("w", 0, 10_000, 3).await.unwrap();
    s.complete_event(
        es[0].id,
        "w",
        &apply(vec![contact("c1", "new@x.co", 20)]),
        1,
    )
    .await
    .unwrap();
    s.complete_event(
        es[1].id,
        "w",
        &apply(vec![contact("c1", "old@x.co", 10)]),
        1,
    )
    .await
    .unwrap();
    let c = s.contact(&loc, &"c1".into()).await.unwrap().unwrap();
    assert_eq!(
        c.email.as_deref(),
        Some("new@x.co"),
        "an older webhook does not roll back"
    );
    assert_eq!(
        c.times.at["tag:a"], 20,
        "the value times are stored with the row"
    );
    assert_eq!(c.times.decided["tag:a"], 1);
    let mut deleted = contact("c1", "new@x.co", 30);
    deleted.deleted = true;
    s.complete_event(es[2].id, "w", &apply(vec![deleted]), 1)
        .await
        .unwrap();
    assert!(
        s.contact(&loc, &"c1".into())
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    assert_eq!(s.contacts(&loc).await.unwrap().len(), 1);
}

pub async fn the_rate_limiter_is_atomic<S: Store + Clone + 'static>(s: &S) {
    let g = Gcra::for_window(10, 1_000, 3);
    let mut allowed = 0;
    let mut waits = Vec::new();
    for _ in 0..10 {
        match reserve(s, "loc-a", g, 0, 0).await {
            Decision::Allow { at, .. } => {
                assert_eq!(at, 0);
                allowed += 1;
            }
            Decision::Wait { wait } => waits.push(wait),
        }
    }
    assert_eq!(allowed, 3, "the burst");
    assert!(waits.iter().all(|w| *w > 0 && *w <= g.emission_ms));
    // A caller that will wait takes the next places, one spacing apart.
    let ahead: Vec<Millis> = places_ahead(s, "loc-a", g, 3).await;
    assert_eq!(
        ahead,
        vec![g.emission_ms, 2 * g.emission_ms, 3 * g.emission_ms]
    );
    assert!(
        matches!(
            reserve(s, "loc-b", g, 0, 0).await,
            Decision::Allow { at: 0, .. }
        ),
        "limits are per key"
    );
    // GHL said the window is spent: hold the key.
    s.rate_hold("loc-b", 5_000 + g.tolerance_ms).await.unwrap();
    assert_eq!(
        reserve(s, "loc-b", g, 10, 3_000).await,
        Decision::Wait { wait: 4_990 }
    );
    assert!(matches!(
        reserve(s, "loc-b", g, 5_000, 0).await,
        Decision::Allow { at: 5_000, .. }
    ));
    // Many callers at once still get exactly the burst.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            matches!(reserve(&s, "loc-c", g, 0, 0).await, Decision::Allow { .. })
        }));
    }
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 3);
}

/// Places asked for together are decided in the order asked, each key on its own, and a
/// refused place counts nothing.
pub async fn places_asked_together_follow_the_order_asked<S: Store>(s: &S) {
    let g = Gcra::for_window(10, 1_000, 2);
    let ask = |key: &str, max_wait| RateRequest {
        key: key.into(),
        gcra: g,
        max_wait,
    };
    let decisions = s
        .rate_reserve(
            &[
                ask("lane-a", 10_000),
                ask("lane-b", 0),
                ask("lane-a", 10_000),
                ask("lane-b", 0),
                ask("lane-b", 0),
                ask("lane-a", 10_000),
            ],
            100,
        )
        .await
        .unwrap();
    let places: Vec<Option<Millis>> = decisions
        .iter()
        .map(|d| match d {
            Decision::Allow { at, .. } => Some(*at),
            Decision::Wait { .. } => None,
        })
        .collect();
    let e = g.emission_ms;
    assert_eq!(
        places,
        vec![
            Some(100),
            Some(100),
            Some(100),
            Some(100),
            None,
            Some(100 + e)
        ],
        "a burst of 2 per key, then one spacing apart; b's third waits"
    );
    // The refused request took nothing: b's next place is the first after its burst.
    assert_eq!(
        reserve(s, "lane-b", g, 100, 10_000).await,
        Decision::Allow {
            at: 100 + e,
            tat: 100 + 3 * e
        }
    );
    assert!(s.rate_reserve(&[], 100).await.unwrap().is_empty());
}

/// `n` places taken at time 0 by callers that wait up to 10 s.
async fn places_ahead<S: Store>(s: &S, key: &str, g: Gcra, n: usize) -> Vec<Millis> {
    let mut places = Vec::new();
    for _ in 0..n {
        match reserve(s, key, g, 0, 10_000).await {
            Decision::Allow { at, .. } => places.push(at),
            Decision::Wait { wait } => panic!("refused a place {wait} ms away"),
        }
    }
    places
}

fn location(id: &str) -> Location {
    Location {
        id: id.into(),
        name: "Acme".into(),
        integration_type: IntegrationType::Client,
        token_ciphertext: vec![1, 2, 3],
        field_mapping: json!({"lead_score": "f1"}),
        active: true,
        last_sync_at: None,
        last_sync_status: None,
        last_sync_error: None,
        created_at: 1,
        updated_at: 1,
    }
}

pub async fn locations_and_routes_round_trip<S: Store>(s: &S) {
    s.upsert_location(&location("loc")).await.unwrap();
    let mut l = location("loc");
    l.token_ciphertext = vec![9, 9];
    l.active = false;
    s.upsert_location(&l).await.unwrap();
    let got = s.location(&"loc".into()).await.unwrap().unwrap();
    assert_eq!(got.token_ciphertext, vec![9, 9]);
    assert!(!got.active);
    assert_eq!(got.field_mapping["lead_score"], "f1");
    assert_eq!(s.locations().await.unwrap().len(), 1);
    assert!(s.location(&"nope".into()).await.unwrap().is_none());
    let route = WorkflowRoute {
        name: "new-lead".into(),
        location_id: "loc".into(),
        auth: RouteAuth::Hmac,
        secret_ciphertext: vec![7],
        action: RouteAction::UpsertContact(UpsertContactAction {
            tags: vec!["lead".into()],
            ..Default::default()
        }),
        dedupe: ghlsync_core::RouteDedupe {
            field: Some("$.event_id".into()),
            window_secs: Some(3_600),
        },
        created_at: 5,
    };
    s.upsert_route(&route).await.unwrap();
    assert_eq!(s.route("new-lead").await.unwrap(), Some(route));
    assert_eq!(s.routes().await.unwrap().len(), 1);
    assert!(s.route("other").await.unwrap().is_none());
}

pub async fn api_keys_are_found_by_hash_and_revoked<S: Store>(s: &S) {
    s.upsert_location(&location("loc")).await.unwrap();
    let key = ApiKey {
        id: "key_0123456789ab".into(),
        location_id: "loc".into(),
        name: "backend".into(),
        secret_hash: "ab".repeat(32),
        prefix: "ghk_0123".into(),
        created_at: 10,
        revoked_at: None,
    };
    s.insert_api_key(&key).await.unwrap();
    assert_eq!(
        s.api_key_by_hash(&"ab".repeat(32)).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(s.api_key_by_hash(&"cd".repeat(32)).await.unwrap(), None);
    let mut same_secret = key.clone();
    same_secret.id = "key_other".into();
    assert!(
        s.insert_api_key(&same_secret).await.is_err(),
        "a secret hash is unique"
    );
    assert!(s.revoke_api_key(&key.id, 20).await.unwrap());
    assert!(
        !s.revoke_api_key(&key.id, 30).await.unwrap(),
        "already revoked"
    );
    assert!(!s.revoke_api_key("key_nope", 30).await.unwrap());
    let listed = s.api_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(20));
}

/// A profile is written only at the version it was read: a concurrent writer's change is
/// never overwritten, and the losing changeset (jobs included) is refused whole.
pub async fn profiles_are_versioned<S: Store>(s: &S) {
    use ghlsync_core::changeset::ProfileWrite;
    use ghlsync_core::profile::Profile;
    s.insert_events(&[event(Some("p1")), event(Some("p2")), event(Some("p3"))])
        .await
        .unwrap();
    let claimed = s.claim_events("w", 0, 10_000, 3).await.unwrap();
    let write = |roles: &[&str], version| {
        let mut profile = Profile::new("user-1");
        profile.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        Changeset {
            profiles: vec![ProfileWrite {
                location_id: "loc".into(),
                profile,
                version,
            }],
            jobs: vec![job(
                &format!("profile-job-{version}-{}", roles.len()),
                "k",
                0,
            )],
            ..Changeset::default()
        }
    };
    assert!(s.profile(&"loc".into(), "user-1").await.unwrap().is_none());
    assert!(
        s.complete_event(claimed[0].id, "w", &write(&["empresa"], 0), 1)
            .await
            .unwrap()
    );
    let (p, v) = s.profile(&"loc".into(), "user-1").await.unwrap().unwrap();
    assert_eq!(
        (p.roles.as_slice(), v),
        (["empresa".to_owned()].as_slice(), 1)
    );
    // A second writer that also read "nothing" loses, and its job is not enqueued.
    let lost = s
        .complete_event(claimed[1].id, "w", &write(&["experto"], 0), 2)
        .await;
    assert!(
        matches!(lost, Err(ghlsync_store::StoreError::Conflict(_))),
        "{lost:?}"
    );
    assert!(
        s.complete_event(claimed[2].id, "w", &write(&["empresa", "experto"], 1), 3)
            .await
            .unwrap()
    );
    let (p, v) = s.profile(&"loc".into(), "user-1").await.unwrap().unwrap();
    assert_eq!((p.roles.len(), v), (2, 2));
    assert_eq!(s.queue_stats().await.unwrap().jobs_queued, 2);
}

pub async fn stats_count_states<S: Store>(s: &S) {
    s.insert_events(&[event(Some("s1")), event(Some("s2"))])
        .await
        .unwrap();
    let e = s
        .claim_events("w", 1_000, 10_000, 1)
        .await
        .unwrap()
        .remove(0);
    s.complete_event(e.id, "w", &Changeset::default(), 1_250)
        .await
        .unwrap();
    s.enqueue_jobs(
        &[NewJob {
            command: GhlCommand::SyncContact(ContactSync {
                email: Some("a@x.co".into()),
                ..Default::default()
            }),
            ..job("j", "contact:a", 0)
        }],
        0,
    )
    .await
    .unwrap();
    let q = s.queue_stats().await.unwrap();
    assert_eq!((q.events_pending, q.events_done, q.jobs_queued), (1, 1, 1));
    let st = s.event_stats(0).await.unwrap();
    assert_eq!((st.received, st.done, st.dead), (2, 1, 0));
    assert_eq!(st.avg_processing_ms, Some(1_250.0));
    let jobs = s
        .list_jobs(&JobFilter {
            kind: Some("sync_contact".into()),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
}

/// A coalescing contact sync folds into the newest queued sync of its contact, never into
/// one already claimed, and a repeated idempotency key merges nothing twice.
pub async fn contact_syncs_merge_into_the_one_still_queued<S: Store>(s: &S) {
    let sync = |key: &str, add: &[&str], remove: &[&str], score: i64| NewJob {
        command: GhlCommand::SyncContact(ContactSync {
            email: Some("a@x.co".into()),
            add_tags: add.iter().map(|t| (*t).to_owned()).collect(),
            remove_tags: remove.iter().map(|t| (*t).to_owned()).collect(),
            custom_fields: BTreeMap::from([("lead_score".to_owned(), json!(score))]),
            ..ContactSync::default()
        }),
        coalesce: true,
        ..job(key, "contact:a@x.co", 0)
    };
    let synced = |job: &ghlsync_core::Job| match &job.command {
        GhlCommand::SyncContact(c) => c.clone(),
        other => panic!("not a sync: {other:?}"),
    };
    assert_eq!(
        s.enqueue_jobs(&[sync("s1", &["a"], &[], 10)], 0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.enqueue_jobs(
            &[
                sync("s2", &["b"], &["a"], 20),
                sync("s3", &["a"], &["c"], 30)
            ],
            0
        )
        .await
        .unwrap(),
        0,
        "both merged"
    );
    // The same sync again (a retried event) changes nothing: merging is idempotent.
    s.enqueue_jobs(&[sync("s3", &["a"], &["c"], 30)], 0)
        .await
        .unwrap();
    let jobs = s.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let merged = synced(&jobs[0]);
    assert_eq!(merged.add_tags, vec!["b", "a"]);
    assert_eq!(merged.remove_tags, vec!["c"]);
    assert_eq!(merged.custom_fields["lead_score"], 30);

    // Once claimed, a sync takes no more changes: the next one queues behind it.
    let running = s
        .claim_jobs("d", 0, 10_000, 10, ANY)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.enqueue_jobs(&[sync("s4", &["d"], &[], 40)], 1)
            .await
            .unwrap(),
        1
    );
    let jobs = s.list_jobs(&JobFilter::default()).await.unwrap();
    let s4 = jobs.iter().find(|j| j.idempotency_key == "s4").unwrap();
    assert_eq!(synced(s4).add_tags, vec!["d"]);
    let s1 = jobs.iter().find(|j| j.idempotency_key == "s1").unwrap();
    assert_eq!(
        synced(s1),
        synced(&running),
        "the claimed job was left as claimed"
    );
}

/// What a GHL webhook's processing looks up: the person of a contact (the application's
/// own id before a `ghl:` one), the running jobs of one ordering key, and one opportunity.
pub async fn webhook_lookups_find_the_person_the_jobs_and_the_opportunity<S: Store>(s: &S) {
    let loc = LocationId::new("loc");
    let link = |subject: &str| IdLink {
        location_id: "loc".into(),
        subject: subject.into(),
        contact_id: "c1".into(),
    };
    s.insert_events(&[event(Some("w1")), event(Some("w2"))])
        .await
        .unwrap();
    let es = s.claim_events("w", 0, 10_000, 2).await.unwrap();
    let first = Changeset {
        id_links: vec![link("ghl:c1")],
        opportunities: vec![ghlsync_core::OpportunityMirror {
            location_id: "loc".into(),
            opportunity_id: "o1".into(),
            contact_id: Some("c1".into()),
            name: Some("Deal".into()),
            pipeline_id: None,
            stage_id: Some("s1".into()),
            status: Some("open".into()),
            monetary_value: Some(10.0),
            payload: json!({}),
            updated_at: 5,
        }],
        jobs: vec![job("a", "contact:a@x.co", 0), job("b", "contact:b@x.co", 0)],
        ..Changeset::default()
    };
    s.complete_event(es[0].id, "w", &first, 10).await.unwrap();
    assert_eq!(
        s.linked_subject(&loc, &"c1".into())
            .await
            .unwrap()
            .as_deref(),
        Some("ghl:c1")
    );
    let later = Changeset {
        id_links: vec![link("user-1")],
        ..Changeset::default()
    };
    s.complete_event(es[1].id, "w", &later, 20).await.unwrap();
    assert_eq!(
        s.linked_subject(&loc, &"c1".into())
            .await
            .unwrap()
            .as_deref(),
        Some("user-1"),
        "the application's id comes first"
    );
    assert_eq!(s.linked_subject(&loc, &"c2".into()).await.unwrap(), None);
    let o = s.opportunity(&loc, &"o1".into()).await.unwrap().unwrap();
    assert_eq!(o.stage_id.as_deref(), Some("s1"));
    assert!(s.opportunity(&loc, &"o2".into()).await.unwrap().is_none());
    s.claim_jobs("d", 0, 10_000, 10, ANY).await.unwrap();
    let running_of = |key: &str| JobFilter {
        state: Some(JobState::Running),
        ordering_key: Some(key.into()),
        ..JobFilter::default()
    };
    let a = s.list_jobs(&running_of("contact:a@x.co")).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].idempotency_key, "a");
    assert!(
        s.list_jobs(&running_of("contact:z@x.co"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn cloudtalk_links_keep_one_twin_each_way<S: Store>(s: &S) {
    use ghlsync_core::bridge::{BridgeName, CloudTalkLink};
    let bridge = BridgeName("main".into());
    let link = |ghl: &str, ct: u64, created: bool| CloudTalkLink {
        bridge: bridge.clone(),
        location_id: "loc".into(),
        ghl_contact: ghl.into(),
        cloudtalk_contact: cloudtalk::ContactId(ct),
        created_by_bridge: created,
    };
    s.insert_events(&[event(Some("a")), event(Some("b"))])
        .await
        .unwrap();
    let events = s.claim_events("w", 0, 10_000, 2).await.unwrap();
    let first = Changeset {
        cloudtalk_links: vec![link("g1", 7, true), link("g2", 8, false)],
        ..Changeset::default()
    };
    assert!(
        s.complete_event(events[0].id, "w", &first, 10)
            .await
            .unwrap()
    );
    let found = s
        .cloudtalk_link(&bridge, &ContactId::new("g1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.cloudtalk_contact.0, found.created_by_bridge),
        (7, true)
    );
    let back = s
        .cloudtalk_link_of(&bridge, cloudtalk::ContactId(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.ghl_contact.as_str(), "g2");
    // CloudTalk's contact 7 now belongs to g3; g1 loses its twin. A later link keeps
    // knowing that the bridge created the contact.
    let second = Changeset {
        cloudtalk_links: vec![link("g3", 7, false), link("g2", 8, false)],
        ..Changeset::default()
    };
    assert!(
        s.complete_event(events[1].id, "w", &second, 20)
            .await
            .unwrap()
    );
    assert!(
        s.cloudtalk_link(&bridge, &ContactId::new("g1"))
            .await
            .unwrap()
            .is_none()
    );
    let moved = s
        .cloudtalk_link_of(&bridge, cloudtalk::ContactId(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.ghl_contact.as_str(), "g3");
    assert!(
        s.cloudtalk_link(&BridgeName("other".into()), &ContactId::new("g2"))
            .await
            .unwrap()
            .is_none(),
        "links are per bridge"
    );
}

pub async fn windows_grant_up_to_their_limit<S: Store>(s: &S) {
    assert_eq!(s.window_take("ct:1", 60_000, 60, 10).await.unwrap(), 10);
    assert_eq!(s.window_take("ct:1", 60_000, 60, 45).await.unwrap(), 45);
    assert_eq!(
        s.window_take("ct:1", 60_000, 60, 10).await.unwrap(),
        5,
        "only what is left"
    );
    assert_eq!(s.window_take("ct:1", 60_000, 60, 1).await.unwrap(), 0);
    assert_eq!(
        s.window_take("ct:2", 60_000, 60, 1).await.unwrap(),
        1,
        "per key"
    );
    assert_eq!(
        s.window_take("ct:1", 120_000, 60, 10).await.unwrap(),
        10,
        "a new window starts afresh"
    );
    assert_eq!(
        s.window_take("ct:1", 60_000, 60, 1).await.unwrap(),
        0,
        "a window before the key's current one gives nothing"
    );
    // Many takers at once never get more than the limit between them.
    let takes =
        futures::future::join_all((0..20).map(|_| s.window_take("ct:3", 60_000, 60, 7))).await;
    let granted: u32 = takes.into_iter().map(Result::unwrap).sum();
    assert_eq!(granted, 60);
}

pub async fn broadcasts_keys_and_dnc_are_their_owners_alone<S: Store>(s: &S) {
    use ghlsync_core::broadcast::{
        Broadcast, BroadcastId, BroadcastStatus, CallingWindow, Owner, OwnerId, OwnerKey,
        normalize_phone,
    };
    let owner = |id: &str| Owner {
        id: OwnerId(id.into()),
        name: format!("Owner {id}"),
        location_id: "loc".into(),
        region: Some("US".into()),
        timezone: "America/New_York".into(),
        created_at: 1,
    };
    let (a, b) = (owner("own_a"), owner("own_b"));
    s.upsert_owner(&a).await.unwrap();
    s.upsert_owner(&b).await.unwrap();
    assert_eq!(s.owner(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.owners().await.unwrap().len(), 2);
    // Keys: a rotation revokes the key it replaces, and only the owner's.
    let key = |id: &str, owner: &OwnerId, hash: &str| OwnerKey {
        id: id.into(),
        owner_id: owner.clone(),
        secret_hash: hash.into(),
        prefix: "whk_12".into(),
        created_at: 10,
        revoked_at: None,
    };
    assert_eq!(
        s.rotate_owner_key(&key("k1", &a.id, "h1"), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.rotate_owner_key(&key("k9", &b.id, "h9"), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.rotate_owner_key(&key("k2", &a.id, "h2"), 20)
            .await
            .unwrap(),
        1
    );
    let old = s.owner_key_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(old.revoked_at, Some(20));
    let new = s.owner_key_by_hash("h2").await.unwrap().unwrap();
    assert_eq!((new.owner_id.clone(), new.revoked_at), (a.id.clone(), None));
    assert_eq!(
        s.owner_key_by_hash("h9").await.unwrap().unwrap().revoked_at,
        None,
        "another owner's key stays"
    );
    assert_eq!(s.owner_keys(&a.id).await.unwrap().len(), 2);
    assert!(s.owner_key_by_hash("nope").await.unwrap().is_none());
    // Broadcasts: another owner's is not found; status changes only from what it was.
    let broadcast = Broadcast {
        id: BroadcastId("bc_1".into()),
        owner_id: a.id.clone(),
        name: "Spring".into(),
        status: BroadcastStatus::Active,
        max_attempts: 3,
        retry_delay_ms: 3_600_000,
        window: CallingWindow::default(),
        created_at: 30,
        updated_at: 30,
    };
    s.upsert_broadcast(&broadcast).await.unwrap();
    assert_eq!(
        s.broadcast(&a.id, &broadcast.id).await.unwrap(),
        Some(broadcast.clone())
    );
    assert!(s.broadcast(&b.id, &broadcast.id).await.unwrap().is_none());
    assert!(s.broadcasts(&b.id).await.unwrap().is_empty());
    assert_eq!(
        s.broadcast_owner(&broadcast.id).await.unwrap(),
        Some(a.id.clone()),
        "found by its id alone"
    );
    assert!(
        s.broadcast_owner(&BroadcastId("bc_none".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !s.set_broadcast_status(
            &b.id,
            &broadcast.id,
            BroadcastStatus::Active,
            BroadcastStatus::Paused,
            40
        )
        .await
        .unwrap(),
        "another owner cannot pause it"
    );
    assert!(
        s.set_broadcast_status(
            &a.id,
            &broadcast.id,
            BroadcastStatus::Active,
            BroadcastStatus::Paused,
            40
        )
        .await
        .unwrap()
    );
    assert!(
        !s.set_broadcast_status(
            &a.id,
            &broadcast.id,
            BroadcastStatus::Active,
            BroadcastStatus::Completed,
            41
        )
        .await
        .unwrap(),
        "it is no longer active"
    );
    let paused = s.broadcast(&a.id, &broadcast.id).await.unwrap().unwrap();
    assert_eq!(
        (paused.status, paused.updated_at),
        (BroadcastStatus::Paused, 40)
    );
    // Do-Not-Call, per owner.
    let n = normalize_phone("+12015550123", None).unwrap();
    let m = normalize_phone("+12015550124", None).unwrap();
    assert_eq!(
        s.add_dnc(&a.id, &[n.clone(), n.clone(), m.clone()], 50)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.add_dnc(&a.id, std::slice::from_ref(&n), 51)
            .await
            .unwrap(),
        0
    );
    assert!(s.is_dnc(&a.id, &n).await.unwrap());
    assert!(!s.is_dnc(&b.id, &n).await.unwrap());
}

pub async fn a_broadcast_queue_leases_records_and_hands_outcomes_to_ghl<S: Store>(s: &S) {
    use ghlsync_core::broadcast::{
        Broadcast, BroadcastId, BroadcastStatus, CallOutcome, CallReport, CallResult,
        CallingWindow, Owner, OwnerId, QueueItem, QueueItemId, QueueState, Recorded,
        normalize_phone,
    };
    use ghlsync_core::callback::{PendingScope, PendingStatus, TAGS_PER_CALL, plan_callbacks};
    use ghlsync_store::Enqueued;
    let owner = |id: &str| Owner {
        id: OwnerId(id.into()),
        name: id.into(),
        location_id: "loc".into(),
        region: Some("US".into()),
        timezone: "America/New_York".into(),
        created_at: 1,
    };
    let (a, b) = (owner("own_a"), owner("own_b"));
    s.upsert_owner(&a).await.unwrap();
    s.upsert_owner(&b).await.unwrap();
    let broadcast = Broadcast {
        id: BroadcastId("bc_1".into()),
        owner_id: a.id.clone(),
        name: "Spring".into(),
        status: BroadcastStatus::Active,
        max_attempts: 2,
        retry_delay_ms: 1_000,
        window: CallingWindow::default(),
        created_at: 1,
        updated_at: 1,
    };
    s.upsert_broadcast(&broadcast).await.unwrap();
    let item = |id: &str, phone: &str, contact: Option<&str>| QueueItem {
        id: QueueItemId(id.into()),
        owner_id: a.id.clone(),
        broadcast_id: broadcast.id.clone(),
        position: 0,
        phone: normalize_phone(phone, None).unwrap(),
        name: None,
        email: None,
        ghl_contact_id: contact.map(Into::into),
        zones: vec!["America/New_York".into()],
        state: QueueState::Queued,
        attempts: 0,
        due_at: 100,
        lease_id: None,
        lease_until: None,
        last_outcome: None,
        created_at: 100,
    };
    assert_eq!(
        s.enqueue_number(&item("q1", "+12015550100", Some("c1")))
            .await
            .unwrap(),
        Enqueued::Added { position: 1 }
    );
    assert_eq!(
        s.enqueue_number(&item("q2", "+12015550102", Some("c2")))
            .await
            .unwrap(),
        Enqueued::Added { position: 2 }
    );
    assert_eq!(
        s.enqueue_number(&item("q3", "+12015550100", None))
            .await
            .unwrap(),
        Enqueued::Duplicate {
            id: QueueItemId("q1".into()),
            position: 1
        },
        "the same number twice is one item"
    );
    let mut foreign = item("q4", "+12015550103", None);
    foreign.owner_id = b.id.clone();
    assert_eq!(
        s.enqueue_number(&foreign).await.unwrap(),
        Enqueued::Closed,
        "not b's broadcast"
    );
    assert!(
        s.queue_item(&b.id, &QueueItemId("q1".into()))
            .await
            .unwrap()
            .is_none()
    );

    // Due, deferred, leased: a lease is exclusive and ends.
    assert!(
        s.due_items(&a.id, &broadcast.id, 99, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.due_items(&a.id, &broadcast.id, 100, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    s.defer_items(&a.id, &[(QueueItemId("q2".into()), 500)])
        .await
        .unwrap();
    let due = s.due_items(&a.id, &broadcast.id, 200, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let ids: Vec<QueueItemId> = vec![QueueItemId("q1".into()), QueueItemId("q2".into())];
    let leased = s.lease_items(&a.id, &ids, "L1", 300, 200).await.unwrap();
    assert_eq!(leased.len(), 1, "q2 is not due yet");
    assert_eq!(leased[0].state, QueueState::Leased);
    assert!(
        s.lease_items(&a.id, &ids[..1], "L2", 400, 250)
            .await
            .unwrap()
            .is_empty(),
        "exclusive"
    );
    assert_eq!(s.next_due(&a.id, &broadcast.id).await.unwrap(), Some(300));
    let again = s
        .lease_items(&a.id, &ids[..1], "L3", 900, 300)
        .await
        .unwrap();
    assert_eq!(
        again[0].lease_id.as_deref(),
        Some("L3"),
        "an expired lease is taken over"
    );

    let report = |event: &str, id: &str, outcome: CallOutcome| CallReport {
        event_id: event.into(),
        queue_item_id: QueueItemId(id.into()),
        lease_id: None,
        result: CallResult {
            outcome,
            duration_seconds: 0,
            called_at: 300,
            dtmf_pressed: None,
            callback_requested: false,
            callback_time: None,
        },
    };
    // No answer: again after the retry delay; the second no answer is final.
    assert_eq!(
        s.record_call(&a, &report("e1", "q1", CallOutcome::NoAnswer), 1_000)
            .await
            .unwrap(),
        Recorded::Recorded {
            final_outcome: false,
            retry_at: Some(2_000)
        }
    );
    assert_eq!(
        s.record_call(&a, &report("e1", "q1", CallOutcome::NoAnswer), 1_000)
            .await
            .unwrap(),
        Recorded::Duplicate {
            final_outcome: false
        }
    );
    assert_eq!(
        s.record_call(&b, &report("e9", "q1", CallOutcome::Answered), 1_000)
            .await
            .unwrap(),
        Recorded::NotFound,
        "another owner's item"
    );
    assert_eq!(
        s.record_call(&a, &report("e2", "q1", CallOutcome::NoAnswer), 2_000)
            .await
            .unwrap(),
        Recorded::Recorded {
            final_outcome: true,
            retry_at: None
        }
    );
    assert_eq!(
        s.record_call(&a, &report("e3", "q1", CallOutcome::Answered), 2_000)
            .await
            .unwrap(),
        Recorded::AlreadyFinal
    );
    let q1 = s
        .queue_item(&a.id, &QueueItemId("q1".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((q1.state, q1.attempts), (QueueState::Done, 2));

    // The final outcome waits for GHL, as this owner's alone.
    let scope = PendingScope {
        owner: Some(a.id.clone()),
        broadcast: Some(broadcast.id.clone()),
    };
    let pending = s.pending_updates(&scope, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].retries_spent);
    let theirs = PendingScope {
        owner: Some(b.id.clone()),
        broadcast: None,
    };
    assert!(s.pending_updates(&theirs, 10).await.unwrap().is_empty());
    assert_eq!(
        s.pending_views(&scope).await.unwrap()[0].status,
        PendingStatus::Pending
    );
    let plan = plan_callbacks(&pending, 3_000, TAGS_PER_CALL);
    let ids: Vec<_> = pending.iter().map(|p| p.id.clone()).collect();
    assert!(s.queue_callbacks(&ids, &plan, 3_000).await.unwrap());
    assert!(
        !s.queue_callbacks(&ids, &plan, 3_000).await.unwrap(),
        "taken once"
    );
    assert!(s.pending_updates(&scope, 10).await.unwrap().is_empty());
    let view = &s.pending_views(&scope).await.unwrap()[0];
    assert_eq!(view.status, PendingStatus::Processing);
    // Its jobs done: sent.
    let jobs = s
        .list_jobs(&ghlsync_store::JobFilter::default())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3, "fields, note, tags");
    // A pending update without a GHL contact is never made.
    assert_eq!(
        s.record_call(&a, &report("e4", "q2", CallOutcome::Answered), 3_000)
            .await
            .unwrap(),
        Recorded::Recorded {
            final_outcome: true,
            retry_at: None
        }
    );
    assert_eq!(
        s.pending_views(&scope).await.unwrap().len(),
        2,
        "q2 has contact c2"
    );
}
