//! Many locations at once: each location is a lane, so one location's backlog never
//! delays another's, checked in the order the simulator's audit log saw the calls.

use std::collections::HashMap;

use ghl::LocationId;
use ghl_sim::{AuditEntry, LocationSpec};
use ghlsync_core::{ContactSync, GhlCommand, IntegrationType, JobState, NewJob};
use ghlsync_store::{JobFilter, Store};
use secrecy::SecretString;
use serde_json::json;

use crate::Harness;

/// Registers `n` more locations in the simulator and in `app`.
async fn register_locations(
    app: &ghlsync::App,
    sim: &ghl_sim::SimHandle,
    prefix: &str,
    n: usize,
) -> Vec<LocationId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("{prefix} {i}");
        let seeded = sim.add_location(LocationSpec::new(&name));
        let id = LocationId::new(seeded.id.as_str());
        ghlsync::registry::add_location(
            app.store(),
            app.cipher(),
            &id,
            &name,
            IntegrationType::Client,
            &SecretString::from(seeded.token.clone()),
            json!({}),
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// Registers `n` more locations in the harness's simulator and ghlsync.
async fn more_locations(h: &Harness, n: usize) -> Vec<LocationId> {
    register_locations(&h.app, &h.sim, "Branch", n).await
}

/// `n` contact syncs for `location` (one upsert each), due now.
fn syncs(location: &LocationId, n: usize) -> Vec<NewJob> {
    (0..n)
        .map(|i| {
            let email = format!("{i}@{}.example", location.as_str().to_lowercase());
            NewJob {
                location_id: location.clone(),
                command: GhlCommand::SyncContact(ContactSync {
                    email: Some(email.clone()),
                    ..ContactSync::default()
                }),
                idempotency_key: format!("{location}:{i}"),
                ordering_key: format!("contact:{email}"),
                run_at: ghlsync::app::now_ms(),
                source_event: None,
                coalesce: false,
            }
        })
        .collect()
}

/// Each location's calls, in the order the simulator received them (sequence numbers).
fn calls_by_location(audit: &[AuditEntry]) -> HashMap<String, Vec<u64>> {
    let mut by: HashMap<String, Vec<u64>> = HashMap::new();
    for entry in audit {
        if let Some(resource) = &entry.resource {
            by.entry(resource.clone()).or_default().push(entry.seq);
        }
    }
    for seqs in by.values_mut() {
        seqs.sort_unstable();
    }
    by
}

/// 20 locations' backlogs, queued one location after another in one transaction: every
/// location's first calls are among the very first the simulator sees, and no location
/// gets ahead of another by more than a few calls until the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_locations_are_served_side_by_side_from_the_start() {
    // A small window keeps the test short; the lanes do not depend on its size.
    let h = Harness::start(|c| {
        c.dispatcher.rate_max = 10;
        c.dispatcher.rate_interval_ms = 1_000;
    })
    .await;
    h.sim.set_limits(ghl_sim::Limits {
        max: 10,
        interval_ms: 1_000,
        daily: 200_000,
    });
    let mut locations = vec![LocationId::new(h.loc.id.as_str())];
    locations.extend(more_locations(&h, 19).await);
    let per_location = 25;
    let backlog: Vec<NewJob> = locations
        .iter()
        .flat_map(|l| syncs(l, per_location))
        .collect();
    h.app
        .store()
        .enqueue_jobs(&backlog, ghlsync::app::now_ms())
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
    h.drain().await;

    let audit = h.sim.audit(0);
    assert_eq!(
        audit.iter().filter(|e| e.status == 429).count(),
        0,
        "no 429"
    );
    let by = calls_by_location(&audit);
    assert_eq!(by.len(), 20, "every location called GHL");
    let first_round: Vec<u64> = by.values().map(|seqs| seqs[0]).collect();
    let latest_first = first_round.iter().max().unwrap();
    assert!(
        *latest_first <= 2 * 20,
        "every location's first call is among the first 40 (the last came {latest_first}th)"
    );
    // The k-th call of any location comes before the (k+4)-th of every other.
    for (a, a_calls) in &by {
        assert_eq!(a_calls.len(), per_location, "{a}: one call per job");
        for (b, b_calls) in &by {
            for (k, seq) in a_calls.iter().enumerate() {
                if let Some(later) = b_calls.get(k + 4) {
                    assert!(
                        seq < later,
                        "{a}'s call {k} came after {b}'s call {}: {b} got ahead",
                        k + 4
                    );
                }
            }
        }
    }
    h.shutdown().await;
}

/// One location with a backlog of 10,000 jobs: another location's fresh job is claimed at
/// the next claim and goes at once (its own limiter is fresh), while the backlog's
/// location goes on at its own pace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_10000_jobs_does_not_delay_another_locations_fresh_job() {
    let h = Harness::start(|_| {}).await;
    let busy = LocationId::new(h.loc.id.as_str());
    let other = more_locations(&h, 1).await.remove(0);
    h.app
        .store()
        .enqueue_jobs(&syncs(&busy, 10_000), ghlsync::app::now_ms())
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
    // Let the backlog's delivery get going.
    while h.sim.audit(0).len() < 5 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = h.sim.audit(0).len();
    h.app
        .store()
        .enqueue_jobs(&syncs(&other, 1), ghlsync::app::now_ms())
        .await
        .unwrap();
    h.app.wake_dispatcher().notify_waiters();
    // A bound that only a dispatcher serving the backlog first would reach (the backlog
    // takes over 17 minutes at GHL's limit).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let fresh = loop {
        let audit = h.sim.audit(0);
        if let Some(entry) = audit
            .iter()
            .find(|e| e.resource.as_deref() == Some(&format!("location:{other}")))
        {
            break entry.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the fresh job waited a minute behind the backlog ({} calls made meanwhile)",
            audit.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let busy_calls_meanwhile = h
        .sim
        .audit(0)
        .iter()
        .filter(|e| e.seq < fresh.seq && e.seq as usize > before)
        .count();
    // The backlog's location makes about one call per 104 ms: the fresh job waited for
    // one claim, not for the backlog.
    assert!(
        busy_calls_meanwhile <= 10,
        "{busy_calls_meanwhile} of the backlog's calls went before the fresh job's"
    );
    let running = h
        .app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Running),
            limit: Some(10_000),
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .len();
    let lane = h.app.config().dispatcher.per_location as usize;
    assert!(
        running <= lane,
        "{running} of the backlog's jobs running at once (lane {lane})"
    );
    h.shutdown().await;
}

/// Two instances on one PostgreSQL database deliver the same locations' backlogs: both
/// take part, and together they stay within each location's limit (the limiter's state is
/// in the database, its places taken under row locks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_share_each_locations_limit() {
    let Some(db) = ghlsync_store::testing::postgres_database().await else {
        return;
    };
    let h = Harness::start(|_| {}).await;
    h.sim.set_limits(ghl_sim::Limits {
        max: 10,
        interval_ms: 1_000,
        daily: 200_000,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = ghlsync::config::Config::default();
    config.database.url = db.url.clone();
    config.secrets.key_file = Some(dir.path().join("ghlsync.key"));
    config.ghl.base_url = h.sim.base_url();
    config.dispatcher.rate_max = 10;
    config.dispatcher.rate_interval_ms = 1_000;
    config.dispatcher.poll_ms = 50;
    let first = ghlsync::App::open(config.clone()).await.unwrap();
    let locations = register_locations(&first, &h.sim, "Shared", 2).await;
    let second = ghlsync::App::open(config).await.unwrap();
    let backlog: Vec<NewJob> = locations.iter().flat_map(|l| syncs(l, 40)).collect();
    first
        .store()
        .enqueue_jobs(&backlog, ghlsync::app::now_ms())
        .await
        .unwrap();
    let owners = ghlsync_store::testing::JobOwners::connect(&db.url)
        .await
        .unwrap();
    let workers = [first.start_workers(), second.start_workers()];
    let mut seen = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        seen.extend(owners.running().await.unwrap());
        let stats = first.store().queue_stats().await.unwrap();
        if stats.jobs_queued + stats.jobs_running == 0 {
            assert_eq!(stats.jobs_done, 80, "{stats:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not drained: {stats:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for w in workers {
        w.stop().await;
    }
    assert_eq!(seen.len(), 2, "both instances ran jobs: {seen:?}");
    let audit = h.sim.audit(0);
    assert_eq!(
        audit.iter().filter(|e| e.status == 429).count(),
        0,
        "no 429"
    );
    for l in &locations {
        let resource = format!("location:{l}");
        let times: Vec<i64> = audit
            .iter()
            .filter(|e| e.resource.as_deref() == Some(resource.as_str()))
            .map(|e| e.at_ms)
            .collect();
        assert_eq!(times.len(), 40, "{l}: one call per job");
        let peak = ghlsync::demo::peak_window(&times, 1_000);
        assert!(peak <= 10, "{l}: {peak} calls in one second");
    }
    h.shutdown().await;
}
