//! Crash test: signed events arrive while `ghlsync serve` is killed with SIGKILL at random
//! moments and restarted. At the end every acknowledged event was processed exactly once,
//! and every GHL change it caused is in the simulator's audit log exactly once. The same
//! for seed 003's bridge and seed 004's broadcasts. Runs on SQLite, and on PostgreSQL when
//! configured.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ghl_sim::{Effect, Limits, LocationSpec, Simulator};
use ghlsync_core::process::{RouteAction, UpsertContactAction};
use ghlsync_core::{EventState, IntegrationType, JobState, RouteAuth};
use ghlsync_store::{AnyStore, EventFilter, JobFilter, Store, Synchronous};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const EVENTS: usize = 150;
const SECRET: &str = "crash-secret";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_ghlsync"))
        .args(["serve", "--config"])
        .arg(config)
        .env("GHLSYNC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ghlsync did not become ready");
}

/// Kills the server with SIGKILL at random moments and restarts it while `sender` runs,
/// and twice more after it finished (while the backlog drains): the last instance and
/// the number of kills.
async fn kill_while<T>(
    mut child: Child,
    sender: &tokio::task::JoinHandle<T>,
    config: &Path,
    log: &Path,
    http: &reqwest::Client,
    base: &str,
) -> (Child, usize) {
    let mut kills = 0;
    let mut after_sending = 0;
    loop {
        let pause = rand::rng().random_range(300..1_200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if sender.is_finished() {
            if after_sending == 2 {
                break;
            }
            after_sending += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        child = spawn(config, log);
        wait_ready(http, base).await;
    }
    (child, kills)
}

async fn crash_run(db_url: &str, dir: &Path) {
    let sim = Simulator::builder()
        .limits(Limits {
            max: 100_000,
            interval_ms: 10_000,
            daily: 10_000_000,
        })
        .start()
        .await
        .unwrap();
    let loc = sim.add_location(LocationSpec::new("Crash"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let key_file = dir.join("ghlsync.key");
    let config = dir.join("ghlsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db_url}"
[server]
listen = "127.0.0.1:{port}"
[ghl]
base_url = "{}"
timeout_ms = 1000
[processor]
poll_ms = 50
lease_ms = 2000
backoff = {{ base_ms = 50, max_ms = 500, max_attempts = 50 }}
[dispatcher]
poll_ms = 50
lease_ms = 2000
rate_max = 100000
backoff = {{ base_ms = 50, max_ms = 500, max_attempts = 50 }}
[secrets]
key_file = "{}"
"#,
            sim.base_url(),
            key_file.display()
        ),
    )
    .unwrap();

    // Register the location and a route before the first start.
    let store = AnyStore::connect(db_url, Synchronous::Full).await.unwrap();
    store.migrate().await.unwrap();
    let (cipher, _) = ghlsync::secrets::Cipher::from_key_file(&key_file).unwrap();
    let location = loc.id.as_str().into();
    ghlsync::registry::add_location(
        &store,
        &cipher,
        &location,
        "Crash",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await
    .unwrap();
    let action = RouteAction::UpsertContact(UpsertContactAction {
        tags: vec!["lead".into()],
        ..Default::default()
    });
    ghlsync::registry::add_route(
        &store,
        &cipher,
        ghlsync::registry::RouteDefinition::new("lead", &location, RouteAuth::Hmac, action),
        &SecretString::from(SECRET.to_owned()),
    )
    .await
    .unwrap();

    let log = dir.join("ghlsync.log");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let child = spawn(&config, &log);
    wait_ready(&http, &base).await;

    // Each event keeps its bytes and signature across retries, as a real sender's
    // redelivery does; a repeat is recognised by its signature.
    let requests: Vec<(Vec<u8>, String, String)> = (0..EVENTS)
        .map(|i| {
            let body = serde_json::to_vec(
                &json!({"email": format!("crash{i}@example.com"), "first_name": format!("C{i}")}),
            )
            .unwrap();
            let ts = (ghlsync::app::now_ms() / 1000).to_string();
            let sig = ghlsync::connectors::ghl::workflow::sign(SECRET.as_bytes(), &ts, &body);
            (body, sig, ts)
        })
        .collect();
    let sender = {
        let http = http.clone();
        let url = format!("{base}/webhooks/ghl/workflow/lead");
        tokio::spawn(async move {
            let mut acknowledged = HashSet::new();
            for (i, (body, sig, ts)) in requests.iter().enumerate() {
                loop {
                    let r = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-ghl-signature", sig)
                        .header("x-ghl-timestamp", ts)
                        .body(body.clone())
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status() == 200
                    {
                        acknowledged.insert(i);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            acknowledged
        })
    };

    // Kill -9 at random moments while events arrive, and twice more while the backlog drains.
    let (mut child, kills) = kill_while(child, &sender, &config, &log, &http, &base).await;
    let acknowledged = sender.await.unwrap();
    assert_eq!(acknowledged.len(), EVENTS);
    assert!(kills >= 4, "only {kills} kills");

    // Let the last instance drain everything.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = store.queue_stats().await.unwrap();
        if q.events_pending + q.events_running + q.jobs_queued + q.jobs_running == 0
            && q.jobs_done as usize >= EVENTS
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not drain: {q:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Every acknowledged event was stored once and processed once.
    let events = store
        .list_events(&EventFilter {
            limit: Some(10_000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        EVENTS,
        "one stored event per acknowledged event"
    );
    assert!(events.iter().all(|e| e.state == EventState::Done));
    let jobs = store
        .list_jobs(&JobFilter {
            limit: Some(10_000),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), EVENTS, "one job per event");
    assert!(jobs.iter().all(|j| j.state == JobState::Done));
    let sources: HashSet<_> = jobs.iter().filter_map(|j| j.source_event).collect();
    assert_eq!(sources.len(), EVENTS);

    // Every GHL change happened exactly once.
    let contacts = sim.contacts(&loc.id);
    assert_eq!(contacts.len(), EVENTS);
    let mut created: HashMap<String, usize> = HashMap::new();
    let mut updated: HashMap<String, usize> = HashMap::new();
    for e in sim.audit(0) {
        for effect in e.effects {
            match effect {
                Effect::ContactCreated { contact_id, .. } => {
                    *created.entry(contact_id).or_default() += 1
                }
                Effect::ContactUpdated { contact_id, .. } => {
                    *updated.entry(contact_id).or_default() += 1
                }
                _ => {}
            }
        }
    }
    assert_eq!(created.len(), EVENTS);
    assert!(
        created.values().all(|n| *n == 1),
        "a contact was created twice"
    );
    assert_eq!(updated.len(), EVENTS, "every contact got its tag");
    assert!(updated.values().all(|n| *n == 1), "a tag was added twice");
    assert!(contacts.iter().all(|c| c["tags"] == json!(["lead"])));
    let calls = sim.audit(0).len();
    eprintln!(
        "crash test ({}): {EVENTS} events, {kills} kills, {calls} GHL calls, every change exactly once",
        store.dialect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_on_sqlite_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    crash_run(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_on_postgres_every_event_once() {
    let Some(db) = ghlsync_store::testing::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    crash_run(&db.url, dir.path()).await;
}

const BRIDGE_CONTACTS: usize = 20;
const BRIDGE_NOTES: usize = 60;
const BRIDGE_CALLS: usize = 40;
const BRIDGE_WEBHOOK_SECRET: &str = "crash-cloudtalk-secret-0123";
const BRIDGE_GHL_KEY: &str = "crash-ghl-webhook-key-0123";

/// A request to send: its URL, headers and body.
type Request = (String, Vec<(&'static str, String)>, Vec<u8>);

/// Seed 003's bridge under SIGKILL: GHL's workflow bodies go to CloudTalk and CloudTalk's
/// calls come back to GHL while the server is killed and restarted. Every acknowledged
/// event's effects are there exactly once on both sides.
async fn bridge_crash_run(db_url: &str, dir: &Path) {
    let sim = Simulator::builder()
        .limits(Limits {
            max: 100_000,
            interval_ms: 10_000,
            daily: 10_000_000,
        })
        .start()
        .await
        .unwrap();
    let loc = sim.add_location(LocationSpec::new("Bridge"));
    let ct = cloudtalk_sim::SimHandle::start().await.unwrap();
    ct.set_limit(cloudtalk_sim::Limit {
        per_minute: 100_000,
        bulk_counts_commands: true,
    });
    let creds = ct.add_company("Crash Calls");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let key_file = dir.join("ghlsync.key");
    let config = dir.join("ghlsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db_url}"
[server]
listen = "127.0.0.1:{port}"
route_requests_per_minute = 100000
[ghl]
base_url = "{}"
timeout_ms = 1000
[processor]
poll_ms = 50
lease_ms = 2000
backoff = {{ base_ms = 50, max_ms = 500, max_attempts = 50 }}
[dispatcher]
poll_ms = 50
lease_ms = 2000
rate_max = 100000
backoff = {{ base_ms = 50, max_ms = 500, max_attempts = 50 }}
[secrets]
key_file = "{}"
[rules]
packs = ["cloudtalk-bridge"]
[cloudtalk]
base_url = "{}"
timeout_ms = 1000
per_minute = 100000
window_margin_ms = 0
[[cloudtalk.bridges]]
name = "crash"
location = "{}"
key_id = "{}"
key_secret = "{}"
webhook_secret = "{BRIDGE_WEBHOOK_SECRET}"
ghl_secret = "{BRIDGE_GHL_KEY}"
"#,
            sim.base_url(),
            key_file.display(),
            ct.base_url(),
            loc.id,
            creds.key_id,
            creds.secret,
        ),
    )
    .unwrap();
    let store = AnyStore::connect(db_url, Synchronous::Full).await.unwrap();
    store.migrate().await.unwrap();
    let (cipher, _) = ghlsync::secrets::Cipher::from_key_file(&key_file).unwrap();
    ghlsync::registry::add_location(
        &store,
        &cipher,
        &loc.id.as_str().into(),
        "Bridge",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await
    .unwrap();
    let log = dir.join("ghlsync.log");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let child = spawn(&config, &log);
    wait_ready(&http, &base).await;

    let phone = |c: usize| format!("+3462{:07}", c);
    // GHL's side: each contact, then notes on them; CloudTalk's side: calls from the
    // contacts' numbers, each with its own UUID. Interleaved, each kept byte for byte
    // across retries.
    let mut requests: Vec<Request> = Vec::new();
    let ghl = |route: &str| format!("{base}/api/ghl-webhooks/{route}");
    let key = vec![("x-webhook-key", BRIDGE_GHL_KEY.to_owned())];
    let secret = vec![("x-bridge-secret", BRIDGE_WEBHOOK_SECRET.to_owned())];
    for c in 0..BRIDGE_CONTACTS {
        let body = json!({"contact": {"id": format!("ghl_{c}"), "name": format!("Crash {c}"), "phone": phone(c)}});
        requests.push((
            ghl("new-contact"),
            key.clone(),
            serde_json::to_vec(&body).unwrap(),
        ));
    }
    for i in 0..BRIDGE_NOTES.max(BRIDGE_CALLS) {
        if i < BRIDGE_NOTES {
            let c = i % BRIDGE_CONTACTS;
            let body = json!({"contact": {"id": format!("ghl_{c}"), "phone": phone(c)},
                "note": {"body": format!("note {i}"), "userId": "crash"}});
            requests.push((
                ghl("new-note"),
                key.clone(),
                serde_json::to_vec(&body).unwrap(),
            ));
        }
        if i < BRIDGE_CALLS {
            let c = i % BRIDGE_CONTACTS;
            let digits = phone(c).trim_start_matches('+').parse::<u64>().unwrap();
            let body = json!({"call_uuid": format!("call-{i}"), "external_number": digits,
                "talking_time": 30 + i, "status": "answered", "agent_name": "Crash Agent"});
            requests.push((
                format!("{base}/api/cloudtalk-webhooks/call-ended"),
                secret.clone(),
                serde_json::to_vec(&body).unwrap(),
            ));
        }
    }
    let total = requests.len();
    let sender = {
        let http = http.clone();
        tokio::spawn(async move {
            let mut acknowledged = 0;
            for (url, headers, body) in &requests {
                loop {
                    let mut rb = http
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body.clone());
                    for (k, v) in headers {
                        rb = rb.header(*k, v);
                    }
                    if let Ok(r) = rb.send().await
                        && r.status() == 200
                    {
                        acknowledged += 1;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            acknowledged
        })
    };
    let (mut child, kills) = kill_while(child, &sender, &config, &log, &http, &base).await;
    assert_eq!(sender.await.unwrap(), total);
    assert!(kills >= 4, "only {kills} kills");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let q = store.queue_stats().await.unwrap();
        if q.events_pending + q.events_running + q.jobs_queued + q.jobs_running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not drain: {q:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let q = store.queue_stats().await.unwrap();
    assert_eq!(q.jobs_dead, 0, "{q:?}");
    assert_eq!(q.events_dead, 0, "{q:?}");

    // CloudTalk: one contact per GHL contact, one note per GHL note.
    let company = ct.company(&creds.key_id).unwrap();
    assert_eq!(
        company.contacts.len(),
        BRIDGE_CONTACTS,
        "a contact added twice"
    );
    let mut notes: Vec<String> = company.notes.values().map(|n| n.note.clone()).collect();
    notes.sort();
    let before = notes.len();
    notes.dedup();
    assert_eq!(before, notes.len(), "a CloudTalk note added twice");
    assert_eq!(notes.len(), BRIDGE_NOTES);
    // GHL: one contact per number, one "call ended" note per call.
    let contacts = sim.contacts(&loc.id);
    assert_eq!(contacts.len(), BRIDGE_CONTACTS, "{contacts:?}");
    let mut ended = Vec::new();
    let ghl_client = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()
        .unwrap()
        .with_token(loc.token.clone());
    for c in &contacts {
        let id = c["id"].as_str().unwrap();
        for n in ghl_client.list_notes(&id.into()).await.unwrap().data {
            if let Some(body) = n.body.filter(|b| b.contains("Call ended")) {
                ended.push(body);
            }
        }
    }
    assert_eq!(
        ended.len(),
        BRIDGE_CALLS,
        "a call's note added twice or lost"
    );
    eprintln!(
        "bridge crash test ({}): {total} events both ways, {kills} kills, {} CloudTalk requests, every change exactly once",
        store.dialect(),
        ct.audit().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_killed_at_random_every_effect_once_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    bridge_crash_run(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_killed_at_random_on_postgres_every_effect_once_both_ways() {
    let Some(db) = ghlsync_store::testing::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    bridge_crash_run(&db.url, dir.path()).await;
}

const BROADCAST_NUMBERS: usize = 40;

/// Seed 004 under SIGKILL: a GHL workflow adds numbers to a broadcast, the dialer
/// simulator leases, calls and reports (dropping and repeating some reports) while the
/// server is killed and restarted, and the outcomes go back to GHL as they arrive. At the
/// end every number is final and its GHL contact has its tag, its outcome field and
/// exactly one note.
async fn broadcast_crash_run(db_url: &str, dir: &Path) {
    let sim = Simulator::builder()
        .limits(Limits {
            max: 100_000,
            interval_ms: 10_000,
            daily: 10_000_000,
        })
        .start()
        .await
        .unwrap();
    let mut spec = LocationSpec::new("Broadcasts");
    for (key, name, data_type) in ghlsync_core::callback::BROADCAST_FIELDS {
        let data_type = serde_json::to_value(data_type).unwrap();
        spec = spec.field(name, key, data_type.as_str().unwrap());
    }
    let loc = sim.add_location(spec);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let key_file = dir.join("ghlsync.key");
    let config = dir.join("ghlsync.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db_url}"
[server]
listen = "127.0.0.1:{port}"
route_requests_per_minute = 100000
[ghl]
base_url = "{}"
timeout_ms = 1000
[dispatcher]
poll_ms = 50
lease_ms = 2000
rate_max = 100000
backoff = {{ base_ms = 50, max_ms = 500, max_attempts = 50 }}
[secrets]
key_file = "{}"
[broadcasts]
trigger_per_minute = 100000
callback = "arrival"
callback_every_secs = 1
callback_linger_ms = 50
"#,
            sim.base_url(),
            key_file.display(),
        ),
    )
    .unwrap();
    let store = AnyStore::connect(db_url, Synchronous::Full).await.unwrap();
    store.migrate().await.unwrap();
    let (cipher, _) = ghlsync::secrets::Cipher::from_key_file(&key_file).unwrap();
    ghlsync::registry::add_location(
        &store,
        &cipher,
        &loc.id.as_str().into(),
        "Broadcasts",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await
    .unwrap();
    let (owner, key) = ghlsync::registry::add_owner(
        &store,
        "Crash Dialer",
        &loc.id.as_str().into(),
        Some("US"),
        "America/New_York",
    )
    .await
    .unwrap();
    let engine_secret = ghlsync::registry::rotate_engine_secret(&store, &cipher, &owner.id)
        .await
        .unwrap();
    // Open all day but its last second, so the hour the test runs at does not matter.
    let broadcast = ghlsync::registry::create_broadcast(
        &store,
        &owner.id,
        "Crash Campaign",
        2,
        0,
        ghlsync_core::broadcast::CallingWindow {
            start: jiff::civil::Time::constant(0, 0, 0, 0),
            end: jiff::civil::Time::constant(23, 59, 59, 0),
        },
    )
    .await
    .unwrap();
    let ghl_client = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()
        .unwrap()
        .with_token(loc.token.clone());
    // The magic numbers first (every outcome), then numbers whose outcomes the seed draws.
    let mut contacts = Vec::new();
    for n in 0..BROADCAST_NUMBERS {
        let phone = format!("+1201555{:04}", 100 + n);
        let mut c = ghl::contacts::NewContact::new(loc.id.as_str());
        c.fields.phone = Some(phone.clone());
        let created = ghl_client.create_contact(&c).await.unwrap().into_data();
        contacts.push((phone, created.id));
    }
    let log = dir.join("ghlsync.log");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let child = spawn(&config, &log);
    wait_ready(&http, &base).await;

    let sender = {
        let (http, base, contacts) = (http.clone(), base.clone(), contacts.clone());
        let (store, owner_id, broadcast_id) =
            (store.clone(), owner.id.clone(), broadcast.id.clone());
        let webhook_key = key.secret.expose_secret().to_owned();
        let secret = engine_secret.secret.expose_secret().to_owned();
        tokio::spawn(async move {
            // The workflow's HTTP Request step, retried until acknowledged (as GHL does).
            for (phone, contact) in &contacts {
                let body = json!({"action": "add_to_broadcast", "webhook_key": webhook_key,
                    "broadcast_id": broadcast_id, "phone": phone, "name": "Crash",
                    "ghl_contact_id": contact});
                loop {
                    let sent = http
                        .post(format!("{base}/functions/v1/ghl-webhook-trigger"))
                        .json(&body)
                        .send()
                        .await;
                    if let Ok(r) = sent
                        && r.status() == 200
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
            // The dialer: leases of 10 s (the shortest), a fifth of reports dropped and a
            // fifth repeated; a lease refused while the server is down is asked again.
            let mut engine = dialer_sim::Engine::new(dialer_sim::EngineConfig {
                batch: 5,
                lease_seconds: 10,
                faults: dialer_sim::Faults {
                    drop_rate: 0.2,
                    repeat_rate: 0.2,
                    delay_ms: 0,
                },
                ..dialer_sim::EngineConfig::new(
                    &base,
                    owner_id.as_str(),
                    &secret,
                    broadcast_id.as_str(),
                )
            });
            let deadline = Instant::now() + Duration::from_secs(240);
            loop {
                let items = store
                    .queue_items(&owner_id, &broadcast_id, 0, 1_000)
                    .await
                    .unwrap();
                let open = items
                    .iter()
                    .filter(|i| i.state != ghlsync_core::broadcast::QueueState::Done)
                    .count();
                if open == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{open} numbers never final");
                match engine.run_round().await {
                    Ok(round) if !round.calls.is_empty() => {}
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            engine.stats().clone()
        })
    };
    let (mut child, kills) = kill_while(child, &sender, &config, &log, &http, &base).await;
    let stats = sender.await.unwrap();
    assert!(kills >= 4, "only {kills} kills");
    let scope = ghlsync_core::callback::PendingScope {
        owner: Some(owner.id.clone()),
        broadcast: Some(broadcast.id.clone()),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let q = store.queue_stats().await.unwrap();
        let views = store.pending_views(&scope).await.unwrap();
        let sent = views
            .iter()
            .filter(|v| v.status == ghlsync_core::callback::PendingStatus::Sent)
            .count();
        if sent == BROADCAST_NUMBERS && q.jobs_queued + q.jobs_running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not drain: {sent} sent, {q:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let q = store.queue_stats().await.unwrap();
    assert_eq!(q.jobs_dead, 0, "{q:?}");

    let items = store
        .queue_items(&owner.id, &broadcast.id, 0, 1_000)
        .await
        .unwrap();
    assert_eq!(
        items.len(),
        BROADCAST_NUMBERS,
        "a number queued twice or lost"
    );
    let fields = ghl_client
        .list_custom_fields(&loc.id.as_str().into(), None)
        .await
        .unwrap()
        .into_data();
    let outcome_field = fields
        .iter()
        .find(|f| f.short_key() == Some("broadcast_outcome"))
        .unwrap()
        .id
        .clone();
    let mut notes = 0;
    for item in &items {
        let outcome = item.last_outcome.unwrap();
        let contact = item.ghl_contact_id.as_ref().unwrap();
        let c = ghl_client.get_contact(contact).await.unwrap().into_data();
        assert!(
            c.tags.iter().any(|t| t == outcome.tag()),
            "{}: {:?}",
            item.phone,
            c.tags
        );
        let value = c.custom_fields.iter().find(|f| f.id == outcome_field);
        assert_eq!(
            value.map(|f| f.value.clone()),
            Some(json!(outcome.as_str())),
            "{}",
            item.phone
        );
        let mine = ghl_client.list_notes(contact).await.unwrap().into_data();
        assert_eq!(mine.len(), 1, "{}: one note, {mine:?}", item.phone);
        notes += mine.len();
        assert!((1..=2).contains(&item.attempts), "{item:?}");
    }
    eprintln!(
        "broadcast crash test ({}): {BROADCAST_NUMBERS} numbers, {} calls, {} reports dropped, {} repeated, {} duplicates answered, {kills} kills, {notes} GHL notes, every outcome once",
        store.dialect(),
        stats.calls,
        stats.reports_dropped,
        stats.reports_repeated,
        stats.duplicates_answered,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_killed_at_random_every_outcome_in_ghl_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
    broadcast_crash_run(&url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_killed_at_random_on_postgres_every_outcome_in_ghl_once() {
    let Some(db) = ghlsync_store::testing::postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    broadcast_crash_run(&db.url, dir.path()).await;
}
