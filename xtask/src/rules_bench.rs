//! The rules benchmark: application events through `POST /api/v1/events`, the marketplace
//! pack, and delivery to the GHL simulator, with coalescing on and off.
//!
//! The event mix follows seed 000: companies register, draft, validate, publish, start and
//! complete projects; experts register, go through verification, change level, are invited,
//! propose, are assigned and reviewed; everyone is active now and then. Events of many
//! people are interleaved and sent in batches, as a busy marketplace would send them.
//!
//! Reported per case: events per second from the first request until every job is
//! delivered, GHL calls per event (the simulator's audit log), and "actions" per event:
//! what the rules decided (each tag added or removed, field set, note, opportunity change),
//! which is what an integration making one call per action would send. The simulator and
//! the dispatcher allow `rate` requests per second, so a backlog forms as under GHL's real
//! limit (100 per 10 s), only faster.

use std::time::{Duration, Instant};

use ghl_sim::{Limits, LocationSpec, Simulator};
use ghlsync::App;
use ghlsync::config::Config;
use ghlsync_core::rules::packs::Pack;
use ghlsync_core::rules::{Outcome, RuleSet};
use ghlsync_core::{AppEvent, IntegrationType};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// The events of one person, in order.
fn person(i: usize) -> Vec<Value> {
    let subject = format!("u{i}");
    let mut minute = 0u32;
    let mut events = Vec::new();
    let mut push = |t: &str, data: Value| {
        minute += 1;
        events.push(json!({
            "type": t,
            "id": format!("{subject}-{minute}"),
            "occurred_at": format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + minute / 1440, (minute / 60) % 24, minute % 60),
            "subject": subject,
            "data": data,
        }));
    };
    let sources = ["ads", "linkedin", "referral", "web"];
    let project = |n: usize| json!({"project_id": format!("p{i}-{n}"), "budget": 500 + 100 * n});
    if i.is_multiple_of(2) {
        push(
            "user.registered",
            json!({"role": "empresa", "email": format!("{subject}@empresa.example"),
                   "source": sources[i % 4], "company_name": format!("Empresa {i}"), "industry": "IA"}),
        );
        for n in 0..2 {
            push("project.draft_created", project(n));
            push("project.sent_to_validation", project(n));
            push("project.published", project(n));
            push("user.activity", json!({}));
            push("project.started", project(n));
            push("project.completed", project(n));
        }
    } else {
        push(
            "user.registered",
            json!({"role": "experto", "email": format!("{subject}@experto.example"),
                   "source": sources[i % 4]}),
        );
        for status in ["solicitud", "pre-evaluación", "verificado"] {
            push("expert.verification_changed", json!({"status": status}));
        }
        push("expert.level_changed", json!({"level": "pro"}));
        // The first project of the company before them in the list.
        let theirs = json!({"project_id": format!("p{}-0", i - 1)});
        push("expert.invited", theirs.clone());
        push("expert.proposal_sent", theirs.clone());
        push("expert.assigned", theirs);
        push("user.activity", json!({}));
        push("review.added", json!({"rating": 4 + (i % 2)}));
        push("user.activity", json!({}));
    }
    events
}

/// Every person's events, interleaved one event of each person at a time.
fn event_mix(people: usize) -> Vec<Value> {
    let per_person: Vec<Vec<Value>> = (0..people).map(person).collect();
    let longest = per_person.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|k| per_person.iter().filter_map(move |p| p.get(k).cloned()))
        .collect()
}

/// What one call per action would send: every effect the rules decide.
fn actions(events: &[Value]) -> anyhow::Result<usize> {
    let rules = RuleSet::load(&[("pack:marketplace", Pack::Marketplace.source())])
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut profiles = std::collections::HashMap::new();
    let mut total = 0;
    for value in events {
        let event = AppEvent::from_json(value).map_err(|e| anyhow::anyhow!("{e}"))?;
        let profile = profiles
            .entry(event.subject.clone())
            .or_insert_with(|| ghlsync_core::profile::Profile::new(&event.subject));
        profile.apply(&event);
        let out: Outcome = rules.evaluate(&event, profile, &[])?;
        total += out.add_tags.len()
            + out.remove_tags.len()
            + out.fields.len()
            + out.custom_fields.len()
            + out.notes.len()
            + out.opportunities.len();
    }
    Ok(total)
}

async fn case(coalesce: bool, events: &[Value], rate: u32) -> anyhow::Result<Value> {
    let sim = Simulator::builder()
        .limits(Limits {
            max: rate,
            interval_ms: 1_000,
            daily: u64::MAX / 2,
        })
        .start()
        .await?;
    let loc = sim.add_location(
        LocationSpec::new("Marketplace").pipeline("Proyectos", &ghl_sim::seed::PROJECT_STAGES),
    );
    let dir = std::env::temp_dir().join(format!(
        "ghlsync-bench-rules-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.join("ghlsync.db").display());
    config.secrets.key_file = Some(dir.join("ghlsync.key"));
    config.ghl.base_url = sim.base_url();
    config.rules.packs = vec!["marketplace".into()];
    config.processor.coalesce = coalesce;
    config.processor.poll_ms = 50;
    config.dispatcher.poll_ms = 50;
    config.dispatcher.rate_max = rate;
    config.dispatcher.rate_interval_ms = 1_000;
    // An update that comes before its opportunity exists waits with backoff; keep it short.
    config.dispatcher.backoff = ghlsync_core::Backoff {
        base_ms: 100,
        max_ms: 2_000,
        max_attempts: 30,
    };
    config.server.route_requests_per_minute = 1_000_000;
    let app = App::open(config).await?;
    ghlsync::registry::add_location(
        app.store(),
        app.cipher(),
        &loc.id.as_str().into(),
        "Marketplace",
        IntegrationType::Internal,
        &SecretString::from(loc.token.clone()),
        json!({}),
    )
    .await?;
    let key =
        ghlsync::registry::create_api_key(app.store(), &loc.id.as_str().into(), "bench").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let started = Instant::now();
    for batch in events.chunks(100) {
        let r = http
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(key.secret.expose_secret())
            .json(&batch)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 202, "events refused: {}", r.text().await?);
    }
    let sent = started.elapsed();
    ghlsync::demo::wait_until_quiet(&app, &sim, Duration::from_secs(1_800)).await?;
    let elapsed = started.elapsed();
    let calls = sim.audit(0).len();
    let stats = ghlsync_store::Store::queue_stats(app.store()).await?;
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "coalescing": coalesce,
        "events": events.len(),
        "sent_s": sent.as_secs_f64(),
        "delivered_s": elapsed.as_secs_f64(),
        "events_per_s": events.len() as f64 / elapsed.as_secs_f64(),
        "ghl_calls": calls,
        "calls_per_event": calls as f64 / events.len() as f64,
        "jobs_done": stats.jobs_done,
        "jobs_dead": stats.jobs_dead,
    }))
}

/// Runs both cases and prints the report.
pub async fn run(people: usize, rate: u32) -> anyhow::Result<()> {
    let events = event_mix(people);
    let actions = actions(&events)?;
    let mut cases = Vec::new();
    for coalesce in [true, false] {
        eprintln!(
            "{} events of {people} people, coalescing {coalesce}...",
            events.len()
        );
        cases.push(case(coalesce, &events, rate).await?);
    }
    let calls = |c: &Value| c["ghl_calls"].as_f64().unwrap_or(f64::NAN);
    let report = json!({
        "bench": "rules",
        "pack": "marketplace",
        "people": people,
        "events": events.len(),
        "rate_limit_per_s": rate,
        "actions": actions,
        "actions_per_event": actions as f64 / events.len() as f64,
        "cases": cases,
        "calls_vs_one_call_per_action": {
            "coalescing": calls(&cases[0]) / actions as f64,
            "no_coalescing": calls(&cases[1]) / actions as f64,
            "target": 0.5,
        },
    });
    // The report is the command's output.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
