//! The broadcast benchmark (seed 004), in two parts.
//!
//! **The trigger.** ghlsync's `ghl-webhook-trigger` route in a process of its own, on a
//! fresh SQLite database, takes seed 004's `add_to_broadcast` bodies (a new number each)
//! from the ingest benchmark's load generator; an acknowledged request is a committed
//! queue item. Beside it, in the same rounds: the bare axum route (what HTTP alone allows)
//! and the bare route storing raw bodies by the simplest group commit (what the disk
//! allows). The bodies carry no `ghl_contact_id`: with one, the contact's DND is read from
//! the mirror or, when the mirror lacks GHL's DND settings, from GHL, whose limit (100 per
//! 10 s per location) then bounds the trigger instead.
//!
//! **The callback.** `--outcomes` final outcomes of one broadcast for as many GHL contacts
//! of one location (outcomes in turn answered, voicemail, no answer, busy, failed) are
//! recorded in the store; one callback run makes them outbox jobs and the dispatcher sends
//! them to the GHL simulator at GHL's limit (100 per 10 s). The simulator's audit log gives
//! the GHL calls per outcome, the calls per 10 s against the limit, the most in any 10 s
//! and the 429s.
//!
//! The baseline of the callback is GHL's limit itself: a callback that loses nothing runs
//! at 100 calls per 10 s from its first call to its last.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use ghl::LocationId;
use ghlsync::config::{CallbackMode, Config};
use ghlsync_core::IntegrationType;
use ghlsync_core::broadcast::{
    CallOutcome, CallReport, CallResult, CallingWindow, QueueItem, QueueItemId, QueueState,
    normalize_phone,
};
use ghlsync_core::callback::{BROADCAST_FIELDS, PendingScope, PendingStatus};
use ghlsync_store::Store;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bench::{IngestOptions, Mode, Request, load, median, ratio, start};
use crate::locations_bench::Delivered;

/// `bench broadcast`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct BroadcastOptions {
    /// Final outcomes the callback sends to one GHL location.
    #[arg(long, default_value_t = 2_000)]
    pub outcomes: usize,
}

/// Where the trigger target tells the benchmark its webhook key and broadcast.
pub const TRIGGER_FILE: &str = "trigger.json";

/// The trigger target's owner key and broadcast.
#[derive(Debug, Serialize, Deserialize)]
pub struct TriggerTarget {
    /// The owner's webhook key.
    pub webhook_key: String,
    /// The broadcast the numbers go to.
    pub broadcast_id: String,
}

/// A location, an owner and an active broadcast in a fresh target (run in its process).
pub async fn prepare_trigger(app: &ghlsync::App) -> anyhow::Result<TriggerTarget> {
    let location = LocationId::new("benchLocation0000001");
    ghlsync::registry::add_location(
        app.store(),
        app.cipher(),
        &location,
        "Bench",
        IntegrationType::Internal,
        &SecretString::from("pit-bench".to_owned()),
        json!({}),
    )
    .await?;
    let (owner, key) = ghlsync::registry::add_owner(
        app.store(),
        "Bench Dialer",
        &location,
        Some("US"),
        "America/New_York",
    )
    .await?;
    let broadcast = ghlsync::registry::create_broadcast(
        app.store(),
        &owner.id,
        "Bench Broadcast",
        3,
        3_600_000,
        CallingWindow::default(),
    )
    .await?;
    Ok(TriggerTarget {
        webhook_key: key.secret.expose_secret().to_owned(),
        broadcast_id: broadcast.id.to_string(),
    })
}

/// The target's key and broadcast, once it has written them (it listens before).
async fn read_target(dir: &std::path::Path) -> anyhow::Result<TriggerTarget> {
    let file = dir.join(TRIGGER_FILE);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(bytes) = std::fs::read(&file)
            && let Ok(target) = serde_json::from_slice(&bytes)
        {
            return Ok(target);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the trigger target did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Seed 004's `add_to_broadcast` bodies, a new number each (San Francisco numbers, all
/// valid, read in the owner's region).
fn trigger_requests(n: usize, target: &TriggerTarget) -> Vec<Request> {
    (0..n)
        .map(|i| {
            let body = json!({
                "action": "add_to_broadcast", "webhook_key": target.webhook_key,
                "broadcast_id": target.broadcast_id, "phone": format!("(415) {:03}-{:04}", 200 + i / 10_000, i % 10_000),
                "name": format!("Lead {i}"), "ghl_contact_id": "", "email": format!("lead{i}@example.com"),
            });
            Request {
                headers: Vec::new(),
                body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
            }
        })
        .collect()
}

/// The trigger part: per connection count, rounds of the bare route, the bare group
/// commit and the durable trigger, one after another.
async fn trigger(options: &IngestOptions, dir: &std::path::Path) -> anyhow::Result<Value> {
    let connection_counts = if options.connections.is_empty() {
        vec![16, 64]
    } else {
        options.connections.clone()
    };
    let threads = options
        .worker_threads
        .unwrap_or_else(ghlsync::app::default_worker_threads);
    let rounds = options.rounds.max(1);
    let pool = 200_000;
    let mut cases = Vec::new();
    for connections in connection_counts {
        let (mut bare, mut disk, mut durable, mut p99, mut errors) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
        for round in 1..=rounds {
            let case_dir = dir.join(format!("trigger-{connections}-{round}"));
            std::fs::create_dir_all(&case_dir)?;
            eprintln!("trigger: {connections} connections, round {round} of {rounds}...");
            // The baselines take any body: the trigger's are used for all three.
            let (server, port) = start(Mode::DurableTrigger, None, &case_dir, threads).await?;
            let target = read_target(&case_dir).await?;
            let requests = Arc::new(trigger_requests(pool, &target));
            let o = load(
                port,
                Mode::DurableTrigger.path(),
                connections,
                options.seconds,
                Arc::clone(&requests),
            )
            .await;
            drop(server);
            durable.push(o.requests_per_s);
            p99.push(o.p99_ms);
            errors += o.errors;
            for (mode, into) in [(Mode::Bare, &mut bare), (Mode::BareGroupCommit, &mut disk)] {
                let base_dir = case_dir.join(mode.name().replace(['+', ' '], "-"));
                std::fs::create_dir_all(&base_dir)?;
                let (_server, port) = start(mode, None, &base_dir, threads).await?;
                let b = load(
                    port,
                    mode.path(),
                    connections,
                    options.seconds,
                    Arc::clone(&requests),
                )
                .await;
                into.push(b.requests_per_s);
            }
        }
        let ratios = |base: &[f64]| -> Vec<f64> {
            durable
                .iter()
                .zip(base)
                .map(|(d, b)| (ratio(*d, *b) * 1000.0).round() / 1000.0)
                .collect()
        };
        cases.push(json!({
            "connections": connections,
            "rounds": rounds,
            "durable_trigger_per_s": median(durable.clone()).round(),
            "bare_route_per_s": median(bare.clone()).round(),
            "bare_group_commit_per_s": median(disk.clone()).round(),
            "ratio_to_bare_route": median(ratios(&bare)),
            "ratio_to_bare_group_commit": median(ratios(&disk)),
            "durable_p99_ms": median(p99),
            "durable_errors": errors,
        }));
    }
    Ok(json!({
        "db": "sqlite (WAL, synchronous=FULL)",
        "seconds_per_case": options.seconds,
        "worker_threads": threads,
        "cases": cases,
    }))
}

/// The callback part.
async fn callback(outcomes: usize, dir: &std::path::Path) -> anyhow::Result<Value> {
    let sim = ghl_sim::Simulator::builder()
        .limits(ghl_sim::Limits {
            max: 100_000,
            interval_ms: 10_000,
            daily: 10_000_000,
        })
        .start()
        .await?;
    let mut spec = ghl_sim::LocationSpec::new("Broadcast Bench");
    for (key, name, data_type) in BROADCAST_FIELDS {
        let data_type = serde_json::to_value(data_type)?;
        spec = spec.field(name, key, data_type.as_str().unwrap_or("TEXT"));
    }
    let loc = sim.add_location(spec);
    let location = LocationId::new(loc.id.as_str());
    let client = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()?
        .with_token(loc.token.clone());
    eprintln!("callback: making {outcomes} GHL contacts...");
    let phone = |i: usize| format!("+1415{:03}{:04}", 200 + i / 10_000, i % 10_000);
    let mut contacts = Vec::with_capacity(outcomes);
    for chunk in (0..outcomes).collect::<Vec<_>>().chunks(50) {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let client = client.clone();
            let mut c = ghl::contacts::NewContact::new(loc.id.as_str());
            c.fields.phone = Some(phone(i));
            set.spawn(async move { (i, client.create_contact(&c).await) });
        }
        while let Some(done) = set.join_next().await {
            let (i, created) = done?;
            contacts.push((i, created?.into_data().id));
        }
    }
    contacts.sort_by_key(|(i, _)| *i);

    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.join("callback.db").display());
    config.secrets.key_file = Some(dir.join("callback.key"));
    config.ghl.base_url = sim.base_url();
    // One run, made below, as `ghlsync broadcasts callback process` makes it.
    config.broadcasts.callback = CallbackMode::Manual;
    let app = ghlsync::App::open(config).await?;
    ghlsync::registry::add_location(
        app.store(),
        app.cipher(),
        &location,
        "Broadcast Bench",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await?;
    let (owner, _) = ghlsync::registry::add_owner(
        app.store(),
        "Bench Dialer",
        &location,
        Some("US"),
        "America/New_York",
    )
    .await?;
    // One attempt: every outcome is final when reported.
    let all_day = CallingWindow {
        start: jiff::civil::Time::constant(0, 0, 0, 0),
        end: jiff::civil::Time::constant(23, 59, 59, 999_999_999),
    };
    let broadcast = ghlsync::registry::create_broadcast(
        app.store(),
        &owner.id,
        "Bench Broadcast",
        1,
        0,
        all_day,
    )
    .await?;
    let now = ghlsync::app::now_ms();
    for (i, contact) in &contacts {
        let item = QueueItem {
            id: QueueItemId(format!("q{i:05}")),
            owner_id: owner.id.clone(),
            broadcast_id: broadcast.id.clone(),
            position: 0,
            phone: normalize_phone(&phone(*i), Some("US"))?,
            name: Some(format!("Lead {i}")),
            email: None,
            ghl_contact_id: Some(contact.clone()),
            zones: vec!["America/Los_Angeles".into()],
            state: QueueState::Queued,
            attempts: 0,
            due_at: now,
            lease_id: None,
            lease_until: None,
            last_outcome: None,
            created_at: now,
        };
        app.store().enqueue_number(&item).await?;
    }
    // The dialer's side, without HTTP: leases, and a report per call.
    let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reported = 0;
    loop {
        let now = ghlsync::app::now_ms();
        let leased =
            ghlsync::broadcasts::lease(app.store(), &owner, &broadcast, 100, 300_000, now).await?;
        if leased.items.is_empty() {
            break;
        }
        for item in leased.items {
            let outcome = CallOutcome::ALL[reported % CallOutcome::ALL.len()];
            *by_outcome.entry(outcome.as_str()).or_default() += 1;
            let report = CallReport {
                event_id: format!("bench-{}", item.id),
                queue_item_id: item.id.clone(),
                lease_id: Some(leased.lease_id.clone()),
                result: CallResult {
                    outcome,
                    duration_seconds: if outcome == CallOutcome::Answered {
                        42
                    } else {
                        0
                    },
                    called_at: now,
                    dtmf_pressed: (outcome == CallOutcome::Answered).then(|| "1".to_owned()),
                    callback_requested: false,
                    callback_time: None,
                },
            };
            app.store().record_call(&owner, &report, now).await?;
            reported += 1;
        }
    }
    anyhow::ensure!(
        reported == outcomes,
        "only {reported} of {outcomes} numbers were leased"
    );

    // GHL's real limit from here on, and only the callback's calls in the audit log.
    sim.set_limits(ghl_sim::Limits::default());
    // The seeding's calls still count in the simulator's current window: one window on,
    // they do not.
    tokio::time::sleep(Duration::from_millis(
        ghl_sim::Limits::default().interval_ms + 500,
    ))
    .await;
    sim.clear_audit();
    eprintln!("callback: {outcomes} outcomes final; sending them to GHL at its limit...");
    let workers = app.start_workers();
    let started = Instant::now();
    let scope = PendingScope {
        owner: Some(owner.id.clone()),
        broadcast: Some(broadcast.id.clone()),
    };
    let run = ghlsync::broadcasts::process(app.store(), &scope, ghlsync::app::now_ms()).await?;
    app.wake_dispatcher().notify_one();
    // Four times what GHL's limit needs, at the least a minute.
    let expected = Duration::from_secs((outcomes as u64 * 2).div_ceil(10));
    let deadline = started + (expected * 4).max(Duration::from_secs(60));
    let mut sent = 0;
    while Instant::now() < deadline {
        let (counts, _) = ghlsync::broadcasts::status(app.store(), &scope).await?;
        sent = counts.by_status.get("sent").copied().unwrap_or_default();
        let failed = counts.by_status.get("failed").copied().unwrap_or_default();
        if sent + failed == outcomes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    workers.stop().await;
    let stats = app.store().queue_stats().await?;
    let audit: Vec<Value> = sim
        .audit(0)
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    let mut delivered = Delivered::default();
    let mut by_call: BTreeMap<String, usize> = BTreeMap::new();
    for e in &audit {
        if e["status"] == 429 {
            delivered.throttled += 1;
            continue;
        }
        delivered
            .times
            .push(e["at_ms"].as_i64().unwrap_or_default());
        *by_call.entry(call_name(e)).or_default() += 1;
    }
    delivered.times.sort_unstable();
    let calls = delivered.times.len();
    let per_10s = delivered.per_10s();
    let (failed_views, _) = {
        let (_, views) = ghlsync::broadcasts::status(app.store(), &scope).await?;
        let failed = views
            .iter()
            .filter(|v| v.status == PendingStatus::Failed)
            .count();
        (failed, views.len())
    };
    drop(app);
    Ok(json!({
        "outcomes": outcomes,
        "by_outcome": by_outcome,
        "callback_run": {"taken": run.taken, "jobs": run.jobs},
        "sent": sent,
        "failed": failed_views,
        "jobs_dead": stats.jobs_dead,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "ghl_calls": calls,
        "ghl_calls_by_kind": by_call,
        "ghl_calls_per_outcome": (calls as f64 / outcomes as f64 * 1000.0).round() / 1000.0,
        "calls_per_10s": (per_10s * 10.0).round() / 10.0,
        "limit_per_10s": 100,
        "share_of_limit_percent": (per_10s * 10.0).round() / 10.0,
        "most_in_any_10s": delivered.most_in_10s(),
        "http_429": delivered.throttled,
    }))
}

/// A GHL call by method and path, ids taken out: `PUT /contacts/{id}`.
fn call_name(entry: &Value) -> String {
    let path = entry["path"].as_str().unwrap_or_default();
    let shape: Vec<&str> = path
        .split('/')
        .enumerate()
        .map(|(i, part)| {
            let known = [
                "contacts",
                "notes",
                "tags",
                "bulk",
                "update",
                "add",
                "locations",
                "customFields",
            ];
            if i == 0 || known.contains(&part) || part.is_empty() {
                part
            } else {
                "{id}"
            }
        })
        .collect();
    format!(
        "{} {}",
        entry["method"].as_str().unwrap_or_default(),
        shape.join("/")
    )
}

/// Runs both parts and prints the report.
pub async fn run(options: BroadcastOptions, ingest: IngestOptions) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "ghlsync-broadcast-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let trigger = trigger(&ingest, &dir).await?;
    eprintln!("{trigger}");
    let callback = callback(options.outcomes, &dir).await?;
    let _ = std::fs::remove_dir_all(&dir);
    let report = json!({
        "bench": "broadcast",
        "targets": {
            "trigger": "requests per second, each committed before its answer (no target in the issue; beside the bare route and the simplest group commit)",
            "callback": "at most 2 GHL calls per outcome, at least 95% of GHL's limit (100 per 10 s), no 429",
        },
        "cores": std::thread::available_parallelism().map_or(1, usize::from),
        "trigger": trigger,
        "callback": callback,
    });
    // The report is the command's output.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_named_without_their_ids() {
        let put = json!({"method": "PUT", "path": "/contacts/abc123"});
        assert_eq!(call_name(&put), "PUT /contacts/{id}");
        let note = json!({"method": "POST", "path": "/contacts/abc123/notes"});
        assert_eq!(call_name(&note), "POST /contacts/{id}/notes");
        let bulk = json!({"method": "POST", "path": "/contacts/bulk/tags/update/add"});
        assert_eq!(call_name(&bulk), "POST /contacts/bulk/tags/update/add");
    }

    #[test]
    fn trigger_bodies_are_seed_004s_with_a_new_valid_number_each() {
        let target = TriggerTarget {
            webhook_key: "whk_x".into(),
            broadcast_id: "bc_1".into(),
        };
        let requests = trigger_requests(20_001, &target);
        let phones: std::collections::HashSet<String> = requests
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(body["action"], "add_to_broadcast");
                let phone = body["phone"].as_str().unwrap().to_owned();
                normalize_phone(&phone, Some("US")).unwrap().to_string()
            })
            .collect();
        assert_eq!(phones.len(), 20_001);
    }
}
