//! GHL's limit is never exceeded: a backlog of 1,000 jobs for one location, checked against
//! the simulator's audit log with GHL's real limits (100 per 10 s).

use ghlsync::demo::peak_window;
use ghlsync_core::{ContactSync, GhlCommand, JobState, NewJob};
use ghlsync_store::{JobFilter, Store};

use crate::Harness;

fn backlog(h: &Harness, n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| NewJob {
            location_id: h.loc.id.as_str().into(),
            command: GhlCommand::SyncContact(ContactSync {
                email: Some(format!("backlog{i}@example.com")),
                ..ContactSync::default()
            }),
            idempotency_key: format!("backlog-{i}"),
            ordering_key: format!("contact:backlog{i}"),
            run_at: 0,
            source_event: None,
            coalesce: false,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_1000_jobs_never_exceeds_100_calls_in_any_10_seconds() {
    let h = Harness::start(|_| {}).await;
    h.app
        .store()
        .enqueue_jobs(&backlog(&h, 1_000), ghlsync::app::now_ms())
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
    h.drain().await;
    let audit = h.sim.audit(0);
    let times: Vec<i64> = audit.iter().map(|e| e.at_ms).collect();
    assert_eq!(audit.len(), 1_000, "one call per job");
    assert_eq!(
        audit.iter().filter(|e| e.status == 429).count(),
        0,
        "no 429"
    );
    let peak = peak_window(&times, 10_000);
    assert!(peak <= 100, "peak {peak} calls in 10 s");
    let span = (times.iter().max().unwrap() - times.iter().min().unwrap()) as f64;
    let rate = (times.len() - 1) as f64 * 10_000.0 / span;
    assert!(rate >= 95.0, "achieved {rate:.1} calls per 10 s");
    let jobs = h
        .app
        .store()
        .list_jobs(&JobFilter {
            limit: Some(2_000),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|j| j.state == JobState::Done && j.attempts == 0),
        "waiting for the limiter uses no attempt"
    );
    eprintln!(
        "rate-limit proof: 1000 calls, peak {peak} per 10 s, {rate:.1} per 10 s achieved, 0 × 429"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_location_with_a_smaller_budget_is_paced_by_ghls_headers() {
    let h = Harness::start(|_| {}).await;
    // This location's real budget is 10 per 2 s, far below the configured 100 per 10 s.
    h.sim.set_limits(ghl_sim::Limits {
        max: 10,
        interval_ms: 2_000,
        daily: 200_000,
    });
    h.app
        .store()
        .enqueue_jobs(&backlog(&h, 40), ghlsync::app::now_ms())
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
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
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done),
        "everything delivered"
    );
    assert!(
        jobs.iter().all(|j| j.attempts == 0),
        "429s and holds use no attempt"
    );
    let audit = h.sim.audit(0);
    let served: Vec<i64> = audit
        .iter()
        .filter(|e| e.status == 200)
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(served.len(), 40);
    let refused = audit.iter().filter(|e| e.status == 429).count();
    assert!(
        refused <= 16,
        "headers stop the flow quickly ({refused} × 429)"
    );
    h.shutdown().await;
}
