//! The bridge benchmark: a backlog of GHL events for one CloudTalk company, delivered
//! through CloudTalk's bulk endpoint under its per-company limit.
//!
//! `--contacts` contacts exist in CloudTalk (the bridge finds each by its number once: a
//! read) and `--events` of seed 003's new-note bodies for them are stored in the inbox
//! before the workers start, so the limit, not the arrival rate, sets the pace. What was
//! sent is read from the CloudTalk simulator's audit log: the bulk requests and reads, the
//! operations in each calendar minute (CloudTalk's window), the most in any one, and the
//! 429s.
//!
//! The baseline is CloudTalk's limit itself: a bridge that loses nothing uses every
//! operation of every full minute while the backlog lasts. CloudTalk's default is 60 per
//! minute; the benchmark runs at `--per-minute` (both the simulator and ghlsync) so that
//! several full minutes pass in a few minutes' run: the share of the limit is what it
//! measures, and that does not depend on the limit's size.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ghl::LocationId;
use ghlsync::config::{BridgeConfig, Config, Secret};
use ghlsync_core::{IntegrationType, NewEvent, RouteAuth, Source};
use ghlsync_store::Store;
use secrecy::SecretString;
use serde_json::{Value, json};

/// `bench bridge`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct BridgeOptions {
    /// GHL events in the backlog.
    #[arg(long, default_value_t = 1_000)]
    pub events: usize,
    /// Contacts they are about.
    #[arg(long, default_value_t = 100)]
    pub contacts: usize,
    /// CloudTalk operations per minute (the simulator's limit and ghlsync's).
    #[arg(long, default_value_t = 300)]
    pub per_minute: u32,
}

/// The operations a request costs in CloudTalk's limit: a bulk request its commands.
fn cost(entry: &Value) -> u64 {
    if entry["path"] == "/bulk/contacts.json" {
        entry["request_body"]
            .as_array()
            .map_or(1, |c| c.len().max(1) as u64)
    } else {
        1
    }
}

/// Operations per calendar minute (by the simulator's clock), from the audit log.
fn per_minute(entries: &[Value]) -> BTreeMap<i64, u64> {
    let mut windows = BTreeMap::new();
    for e in entries.iter().filter(|e| e["status"] != 429) {
        let minute = e["at_ms"].as_i64().unwrap_or_default() / 60_000;
        *windows.entry(minute).or_default() += cost(e);
    }
    windows
}

/// Runs the benchmark and prints its report.
pub async fn run(options: BridgeOptions) -> anyhow::Result<()> {
    let BridgeOptions {
        events,
        contacts,
        per_minute: limit,
    } = options;
    let ct = cloudtalk_sim::SimHandle::start().await?;
    ct.set_limit(cloudtalk_sim::Limit {
        per_minute: limit,
        bulk_counts_commands: true,
    });
    let creds = ct.add_company("Bench Calls");
    let ghl = ghl_sim::Simulator::builder().start().await?;
    let loc = ghl.add_location(ghl_sim::LocationSpec::new("Bench"));
    let phone = |c: usize| format!("+3461{:07}", c);
    ct.with_company(&creds.key_id, |company| {
        for c in 0..contacts {
            let body = json!({"name": format!("Contact {c}"), "ContactNumber": [{"public_number": phone(c)}]});
            company
                .add_contact(body.as_object().expect("an object"))
                .map_err(|r| anyhow::anyhow!("seeding CloudTalk: {}", r.message))?;
        }
        anyhow::Ok(())
    })
    .ok_or_else(|| anyhow::anyhow!("no company"))??;
    let dir =
        std::env::temp_dir().join(format!("ghlsync-bridge-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    config.secrets.key_file = Some(dir.join("bench.key"));
    config.ghl.base_url = ghl.base_url();
    config.rules.packs = vec!["cloudtalk-bridge".into()];
    config.cloudtalk.base_url = ct.base_url().to_owned();
    config.cloudtalk.per_minute = limit;
    config.cloudtalk.bridges = vec![BridgeConfig {
        name: "bench".into(),
        location: loc.id.to_string(),
        key_id: creds.key_id.clone(),
        key_secret: Secret::new(creds.secret.clone()),
        webhook_secret: Secret::new("bench-webhook-secret-0123"),
        ghl_auth: RouteAuth::WebhookKey,
        ghl_secret: Secret::new("bench-ghl-webhook-key-0123"),
        contact_source: "GoHighLevel Webhook".into(),
    }];
    let app = ghlsync::App::open(config).await?;
    let location = LocationId::new(loc.id.as_str());
    ghlsync::registry::add_location(
        app.store(),
        app.cipher(),
        &location,
        "Bench",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await?;
    let now = ghlsync::app::now_ms();
    let backlog: Vec<NewEvent> = (0..events)
        .map(|i| {
            let c = i % contacts;
            let body = json!({"contact": {"id": format!("ghl_{c}"), "name": format!("Contact {c}"), "phone": phone(c)},
                "note": {"body": format!("note {i}"), "userId": "bench"}});
            NewEvent {
                source: Source::Bridge,
                dedupe_key: Some(format!("bench:{i}")),
                dedupe_window_ms: None,
                event_type: "bridge:new-note".into(),
                location_id: Some(location.clone()),
                route: Some("new-note".into()),
                meta: json!({"bridge": "bench"}),
                body: serde_json::to_vec(&body).expect("JSON"),
                received_at: now,
            }
        })
        .collect();
    for chunk in backlog.chunks(500) {
        app.store().insert_events(chunk).await?;
    }
    eprintln!(
        "bridge: {events} events for {contacts} contacts queued; delivering at {limit} per minute..."
    );
    let started = Instant::now();
    let workers = app.start_workers();
    let expected =
        Duration::from_secs(((events + contacts) as u64 * 60).div_ceil(u64::from(limit)));
    let deadline = started + expected * 2 + Duration::from_secs(120);
    let mut drained = false;
    while Instant::now() < deadline {
        let stats = app.store().queue_stats().await?;
        if stats.events_pending + stats.events_running + stats.jobs_queued + stats.jobs_running == 0
        {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    workers.stop().await;
    let stats = app.store().queue_stats().await?;
    let audit: Vec<Value> = ct
        .audit()
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    let bulk: Vec<&Value> = audit
        .iter()
        .filter(|e| e["path"] == "/bulk/contacts.json")
        .collect();
    let commands: u64 = bulk
        .iter()
        .filter(|e| e["status"] != 429)
        .map(|e| cost(e))
        .sum();
    let reads = audit.iter().filter(|e| e["method"] == "GET").count();
    let throttled = audit.iter().filter(|e| e["status"] == 429).count();
    let windows = per_minute(&audit);
    let most = windows.values().copied().max().unwrap_or_default();
    // The first and last minutes are partial: the run starts and ends inside them.
    let full: Vec<u64> = windows
        .values()
        .copied()
        .skip(1)
        .take(windows.len().saturating_sub(2))
        .collect();
    let share = |ops: u64| (ops as f64 / f64::from(limit) * 1000.0).round() / 10.0;
    let report = json!({
        "bench": "bridge",
        "target": "at least 95% of CloudTalk's limit in every full minute, never over, no 429; at most ceil(commands / 10) bulk requests plus reads",
        "events": events,
        "contacts": contacts,
        "drained": drained,
        "jobs_done": stats.jobs_done,
        "jobs_dead": stats.jobs_dead,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "commands": commands,
        "bulk_requests": bulk.len(),
        "bulk_requests_allowed": commands.div_ceil(10) as usize + reads,
        "reads": reads,
        "limit_per_minute": limit,
        "operations_per_minute": windows.values().collect::<Vec<_>>(),
        "full_minutes_percent_of_limit": full.iter().map(|&o| share(o)).collect::<Vec<_>>(),
        "min_full_minute_percent": full.iter().copied().min().map(share),
        "most_in_any_minute": most,
        "http_429": throttled,
    });
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
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
    fn a_bulk_request_costs_its_commands_and_minutes_are_calendar_minutes() {
        let entries = vec![
            json!({"path": "/bulk/contacts.json", "request_body": [1, 2, 3], "at_ms": 60_000, "status": 200}),
            json!({"path": "/contacts/index.json", "request_body": null, "at_ms": 119_999, "status": 200}),
            json!({"path": "/contacts/index.json", "request_body": null, "at_ms": 120_000, "status": 200}),
            json!({"path": "/contacts/index.json", "request_body": null, "at_ms": 120_001, "status": 429}),
        ];
        let windows = per_minute(&entries);
        assert_eq!(windows.get(&1), Some(&4));
        assert_eq!(windows.get(&2), Some(&1), "a refused request uses nothing");
    }
}
