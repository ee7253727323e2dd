//! `ghlsync demo`: the whole path, end to end, with no accounts and no set-up.
//!
//! It starts the built-in GHL simulator and the gateway (SQLite in a temporary directory),
//! registers a location and a workflow route, and sends a realistic stream through the real
//! HTTP ingress: signed workflow webhooks for new leads (one repeated, one with an email GHL
//! rejects, one with a bad signature, one without email or phone), while the simulator
//! injects 503s and an "applied, then timed out" call. The simulator's own signed webhooks
//! for every change flow back into the gateway's mirror, as do a note and an opportunity a
//! person adds in GHL. Seed 000's marketplace runs through the application's events, and
//! seed 003's bridge joins a second location to a CloudTalk simulator both ways. It then
//! reports what happened and checks it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ghl::LocationId;
use ghl::opportunities::{NewOpportunity, OpportunityStatus};
use ghl_sim::{Effect, FaultAction, FaultConfig, FaultRule, Simulator, WebhookSettings};
use ghlsync_core::process::{RouteAction, UpsertContactAction, ValueSource};
use ghlsync_core::{Backoff, IntegrationType, JobState, RouteAuth};
use ghlsync_store::{JobFilter, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::cli::say;
use crate::config::Config;
use crate::registry::RouteDefinition;

const FIRST: &[&str] = &[
    "Ana", "Luis", "Marta", "Jorge", "Lucía", "Pablo", "Elena", "Diego", "Sofía", "Hugo",
];
const LAST: &[&str] = &[
    "García", "Martín", "López", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno", "Álvarez",
];

fn lead(i: usize) -> Value {
    json!({
        "first_name": FIRST[i % FIRST.len()],
        "last_name": LAST[(i / FIRST.len()) % LAST.len()],
        "email": format!("lead{i:03}@example.com"),
        "phone": format!("+3460{:07}", 1_000_000 + i),
        "source": if i.is_multiple_of(3) { "ads" } else { "web" },
        "contact_id": format!("wf-{i}"),
    })
}

/// Counts of what the stream got as answers.
#[derive(Default)]
struct Sent {
    answers: HashMap<u16, usize>,
    duplicates: usize,
}

/// Runs the demo; exit code 0 when every check passed.
pub async fn run(dir: Option<PathBuf>, leads: usize) -> anyhow::Result<ExitCode> {
    let leads = leads.max(2);
    let (workdir, temporary) = match dir {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("ghlsync-demo-{}", uuid::Uuid::new_v4().simple())),
            true,
        ),
    };
    std::fs::create_dir_all(&workdir)?;
    let result = demo(&workdir, temporary, leads).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&workdir);
    } else {
        say(format!("database and key kept in {}", workdir.display()));
    }
    result
}

async fn demo(
    workdir: &std::path::Path,
    temporary: bool,
    leads: usize,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    say("ghlsync demo: simulator + gateway on SQLite, no accounts needed");

    // The outside world: a GHL simulator seeded with an agency and three locations.
    let sim = Simulator::builder()
        .webhooks(WebhookSettings {
            retry_interval_ms: 1_000,
            retry_jitter_ms: 200,
            ..WebhookSettings::default()
        })
        .start()
        .await?;
    let seeded = sim.with_world(ghl_sim::seed::demo);
    let market = seeded
        .locations
        .iter()
        .find(|l| l.name == "Marketplace")
        .ok_or_else(|| anyhow::anyhow!("seed"))?
        .clone();
    let location = LocationId::new(&market.id);
    // Seed 003's bridge joins the agency's client location to a CloudTalk company.
    let agency = seeded
        .locations
        .iter()
        .find(|l| l.name == "Agency Client")
        .ok_or_else(|| anyhow::anyhow!("seed"))?
        .clone();
    let cloudtalk = cloudtalk_sim::SimHandle::start().await?;
    let company = cloudtalk.add_company("Agency Calls");
    let bridge_secret = crate::registry::generate_secret();
    let bridge_key = crate::registry::generate_secret();

    // The gateway, configured for this simulator.
    let (ed25519, rsa) = sim.webhook_public_keys();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", workdir.join("ghlsync.db").display());
    if temporary {
        // Nothing outlives the run, so the key need not either.
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no random source"))?;
        config.secrets.key = Some(crate::config::Secret::new(
            base64::engine::general_purpose::STANDARD.encode(key),
        ));
    } else {
        config.secrets.key_file = Some(workdir.join("ghlsync.key"));
    }
    config.ghl.base_url = sim.base_url();
    config.ghl.timeout_ms = 1_500;
    config.ghl.webhook_ed25519_keys = vec![ed25519];
    config.ghl.webhook_rsa_keys = vec![rsa];
    config.processor.poll_ms = 100;
    config.dispatcher.poll_ms = 100;
    config.rules.packs = vec!["marketplace".into(), "cloudtalk-bridge".into()];
    config.cloudtalk.base_url = cloudtalk.base_url().to_owned();
    config.cloudtalk.timeout_ms = 1_500;
    config.cloudtalk.bridges = vec![crate::config::BridgeConfig {
        name: "agency".into(),
        location: agency.id.clone(),
        key_id: company.key_id.clone(),
        key_secret: crate::config::Secret::new(company.secret.clone()),
        webhook_secret: crate::config::Secret::new(bridge_secret.expose_secret()),
        ghl_auth: RouteAuth::WebhookKey,
        ghl_secret: crate::config::Secret::new(bridge_key.expose_secret()),
        contact_source: "GoHighLevel Webhook".into(),
    }];
    config.dispatcher.backoff = Backoff {
        base_ms: 300,
        max_ms: 3_000,
        max_attempts: 8,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = App::open(config).await?;
    crate::registry::add_location(
        app.store(),
        app.cipher(),
        &location,
        &market.name,
        IntegrationType::Internal,
        &SecretString::from(market.token.clone()),
        json!({}),
    )
    .await?;
    crate::registry::add_location(
        app.store(),
        app.cipher(),
        &LocationId::new(&agency.id),
        &agency.name,
        IntegrationType::Client,
        &SecretString::from(agency.token.clone()),
        json!({}),
    )
    .await?;
    let secret = crate::registry::generate_secret();
    let action = RouteAction::UpsertContact(UpsertContactAction {
        tags: vec!["emp-nuevo-registro".into(), "src/web".into()],
        fields: Default::default(),
        custom_fields: [(
            "fuente_del_contacto".to_owned(),
            ValueSource::Text("$.source".into()),
        )]
        .into(),
        without_default_fields: false,
    });
    crate::registry::add_route(
        app.store(),
        app.cipher(),
        RouteDefinition::new("new-lead", &location, RouteAuth::Hmac, action),
        &secret,
    )
    .await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    sim.set_webhooks(WebhookSettings {
        urls: vec![format!("http://{addr}/webhooks/ghl")],
        retry_interval_ms: 1_000,
        retry_jitter_ms: 200,
        ..WebhookSettings::default()
    });
    say(format!(
        "simulator at {}, gateway at http://{addr}, location {}",
        sim.base_url(),
        market.id
    ));

    // GHL has a bad moment: three 503s and one call applied but never answered.
    sim.set_faults(FaultConfig {
        rules: vec![
            FaultRule::always(FaultAction::Status { status: 503 })
                .times(3)
                .on("POST", "/contacts/upsert"),
            FaultRule::always(FaultAction::ApplyThenTimeout)
                .times(1)
                .on("POST", "/contacts/upsert"),
        ],
        hang_ms: Some(2_500),
    });

    // The stream.
    let key = secret.expose_secret().as_bytes().to_vec();
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/webhooks/ghl/workflow/new-lead");
    let mut sent = Sent::default();
    let mut post = async |body: Vec<u8>,
                          signature: Option<String>,
                          timestamp: String|
           -> anyhow::Result<Value> {
        let mut rb = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-ghl-timestamp", &timestamp);
        if let Some(s) = signature {
            rb = rb.header("x-ghl-signature", s);
        }
        let r = rb.body(body).send().await?;
        let status = r.status().as_u16();
        *sent.answers.entry(status).or_default() += 1;
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        if answer["status"] == "duplicate" {
            sent.duplicates += 1;
        }
        Ok(answer)
    };
    let mut first_request = None;
    for i in 0..leads {
        let body = serde_json::to_vec(&lead(i))?;
        let ts = (now_ms() / 1000).to_string();
        let sig = crate::connectors::ghl::workflow::sign(&key, &ts, &body);
        if i == 0 {
            first_request = Some((body.clone(), sig.clone(), ts.clone()));
        }
        post(body, Some(sig), ts).await?;
    }
    // The same delivery again (a sender's retry): accepted once.
    if let Some((body, sig, ts)) = first_request {
        post(body, Some(sig), ts).await?;
    }
    // An email GHL refuses: accepted here, dead-lettered with GHL's 422.
    let mut bad = lead(leads);
    bad["email"] = json!("not-an-email");
    let body = serde_json::to_vec(&bad)?;
    let ts = (now_ms() / 1000).to_string();
    let sig = crate::connectors::ghl::workflow::sign(&key, &ts, &body);
    post(body, Some(sig), ts).await?;
    // A forged request and an unusable one: refused at the door.
    let body = serde_json::to_vec(&lead(leads + 1))?;
    post(body, Some("0".repeat(64)), (now_ms() / 1000).to_string()).await?;
    let body = br#"{"first_name":"Nobody"}"#.to_vec();
    let ts = (now_ms() / 1000).to_string();
    let sig = crate::connectors::ghl::workflow::sign(&key, &ts, &body);
    post(body, Some(sig), ts).await?;
    say(format!(
        "sent {} workflow webhooks: answers {:?}",
        leads + 4,
        sent.answers
    ));

    // Wait for the pipeline to drain.
    wait_until_quiet(&app, &sim, Duration::from_secs(240)).await?;
    sim.clear_faults();

    // A person works in GHL: a note and an opportunity on the first lead, which reach the
    // gateway as signed webhooks.
    let contacts = sim.contacts(&market.id);
    let first = contacts
        .iter()
        .find(|c| c["email"] == "lead000@example.com")
        .and_then(|c| c["id"].as_str())
        .map(str::to_owned);
    if let Some(contact_id) = &first {
        let person = app.ghl().with_token(&market.token);
        person
            .add_note(
                &contact_id.as_str().into(),
                &ghl::contacts::NewNote::new("Called: wants a demo"),
            )
            .await?;
        let pipeline = &market.pipelines[0];
        person
            .create_opportunity(&NewOpportunity {
                pipeline_id: pipeline.id.as_str().into(),
                location_id: location.clone(),
                name: "Proyecto web".into(),
                pipeline_stage_id: None,
                status: OpportunityStatus::Open,
                contact_id: contact_id.as_str().into(),
                monetary_value: Some(4_500.0),
                assigned_to: None,
                custom_fields: None,
            })
            .await?;
        wait_until_quiet(&app, &sim, Duration::from_secs(60)).await?;
    }

    let ok = report(&app, &sim, &market.id, leads, &sent, first.as_deref()).await?;
    let marketplace_ok = marketplace(&app, &sim, &format!("http://{addr}"), &location).await?;
    let bridge = Bridge {
        base: format!("http://{addr}"),
        location: &agency,
        cloudtalk: &cloudtalk,
        company: &company.key_id,
        webhook_secret: bridge_secret.expose_secret(),
        ghl_key: bridge_key.expose_secret(),
    };
    let bridge_ok = bridge.run(&app, &sim).await?;
    let ok = ok && marketplace_ok && bridge_ok;
    say(format!(
        "demo finished in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let _ = stop.send(());
    server.await??;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Seed 000 through the application events API and the marketplace pack: a company that
/// also becomes an expert, an expert who is verified, levelled and assigned to the
/// company's project, and a company that leaves. Prints the contacts and the project's
/// opportunity, and checks them.
async fn marketplace(
    app: &App,
    sim: &ghl_sim::SimHandle,
    base: &str,
    location: &LocationId,
) -> anyhow::Result<bool> {
    let key = crate::registry::create_api_key(app.store(), location, "demo backend").await?;
    let event = |id: &str, m: u32, subject: &str, t: &str, data: Value| {
        json!({"type": t, "id": id, "occurred_at": format!("2026-11-21T09:{m:02}:00Z"),
               "subject": subject, "data": data})
    };
    let project = json!({"project_id": "p-100", "title": "Tienda online", "budget": 4_800});
    let events = json!([
        event(
            "m1",
            0,
            "ana",
            "user.registered",
            json!({"role": "empresa",
            "email": "ana@tiendas.example", "first_name": "Ana", "company_name": "Tiendas Ana",
            "industry": "Retail", "source": "linkedin"})
        ),
        event(
            "m2",
            1,
            "luis",
            "user.registered",
            json!({"role": "experto",
            "email": "luis@expertos.example", "first_name": "Luis", "source": "referral"})
        ),
        event(
            "m3",
            2,
            "luis",
            "expert.verification_changed",
            json!({"status": "solicitud"})
        ),
        event(
            "m4",
            3,
            "luis",
            "expert.verification_changed",
            json!({"status": "verificado"})
        ),
        event(
            "m5",
            4,
            "luis",
            "expert.level_changed",
            json!({"level": "pro"})
        ),
        event("m6", 5, "ana", "project.published", project.clone()),
        event("m7", 6, "luis", "expert.invited", project.clone()),
        event("m8", 7, "luis", "expert.proposal_sent", project.clone()),
        event("m9", 8, "luis", "expert.assigned", project.clone()),
        event(
            "m10",
            9,
            "ana",
            "user.role_added",
            json!({"role": "experto"})
        ),
        event(
            "m11",
            10,
            "marta",
            "user.registered",
            json!({"role": "empresa",
            "email": "marta@bajas.example", "source": "web"})
        ),
        event("m12", 11, "marta", "user.unsubscribed", json!({})),
        event("m13", 12, "marta", "user.deleted", json!({})),
    ]);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(key.secret.expose_secret())
        .json(&events)
        .send()
        .await?;
    let status = r.status().as_u16();
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    wait_until_quiet(app, sim, Duration::from_secs(120)).await?;

    say("");
    say("marketplace pack (POST /api/v1/events, 13 application events)");
    say(format!(
        "  answered {status}: {} accepted",
        answer["accepted"].as_u64().unwrap_or(0)
    ));
    let contacts = sim.contacts(location.as_str());
    let tags_of = |email: &str| -> Vec<String> {
        contacts
            .iter()
            .find(|c| c["email"] == email)
            .and_then(|c| c["tags"].as_array())
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut ok = status == 202;
    for (email, must) in [
        (
            "ana@tiendas.example",
            &[
                "emp-nuevo-registro",
                "exp-solicitud",
                "emp-proyecto-publicado",
                "src/linkedin",
            ][..],
        ),
        (
            "luis@expertos.example",
            &[
                "exp-verificado",
                "exp-nivel-pro",
                "exp-proyecto-asignado",
                "src/referral",
            ][..],
        ),
        ("marta@bajas.example", &["emp-eliminado"][..]),
    ] {
        let tags = tags_of(email);
        let missing: Vec<&&str> = must
            .iter()
            .filter(|t| !tags.iter().any(|h| h == *t))
            .collect();
        ok &= missing.is_empty();
        say(format!("  {email:<24} tags {}", tags.join(", ")));
        if !missing.is_empty() {
            say(format!("    missing: {missing:?}"));
        }
    }
    let opportunities = sim.opportunities(location.as_str());
    let opportunity = opportunities.iter().find(|o| o["name"] == "Tienda online");
    match opportunity {
        Some(o) => {
            // A stage by its name, as the pipeline shows it in GHL.
            let stage = sim
                .pipelines(location.as_str())
                .into_iter()
                .flat_map(|p| p.stages)
                .find(|s| o["pipelineStageId"] == s.id.as_str())
                .map_or_else(|| "(unknown)".to_owned(), |s| s.name);
            say(format!(
                "  opportunity \"Tienda online\": value {}, stage \"{stage}\", status {}",
                o["monetaryValue"],
                o["status"].as_str().unwrap_or_default()
            ));
        }
        None => {
            ok = false;
            say("  the project's opportunity is missing");
        }
    }
    let d = crate::diagnosis::diagnose(app, location, "ana")
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    say(format!(
        "  diagnosis of ana: {} tags set by rules, {} differences from GHL",
        d.intent.tags.len(),
        d.differences.len()
    ));
    ok &= d.differences.is_empty() && d.contact_id.is_some();
    say(if ok {
        "  OK: one contact per person, tags accumulated across roles, the project's opportunity followed it"
    } else {
        "  FAILED: see above"
    });
    Ok(ok)
}

/// Seed 003's bridge, both ways, on the agency's client location.
struct Bridge<'a> {
    base: String,
    location: &'a ghl_sim::SeededLocation,
    cloudtalk: &'a cloudtalk_sim::SimHandle,
    company: &'a str,
    webhook_secret: &'a str,
    ghl_key: &'a str,
}

impl Bridge<'_> {
    /// A person adds a contact in GHL (its Marketplace webhook adds it to CloudTalk); GHL
    /// workflows post seed 003's tag, note, stage and status bodies; the contact calls in
    /// CloudTalk, which reports the call twice and without ids, as it does in the wild.
    /// Prints both sides and checks them.
    async fn run(&self, app: &App, sim: &ghl_sim::SimHandle) -> anyhow::Result<bool> {
        use cloudtalk_sim::{Automation, Call, Trigger};
        for (trigger, route) in [
            (Trigger::CallStarted, "call-started"),
            (Trigger::CallEnded, "call-ended"),
            (Trigger::RecordingUploaded, "recording-available"),
            (Trigger::ContactCreated, "contact-created"),
        ] {
            self.cloudtalk.set_automation(
                self.company,
                trigger,
                Automation {
                    url: format!("{}/api/cloudtalk-webhooks/{route}", self.base),
                    headers: vec![("X-Bridge-Secret".into(), self.webhook_secret.to_owned())],
                },
            );
        }
        let person = app.ghl().with_token(&self.location.token);
        let mut mario = ghl::contacts::UpsertContact::new(self.location.id.as_str());
        mario.fields = ghl::contacts::ContactFields {
            first_name: Some("Mario".into()),
            last_name: Some("Rossi".into()),
            email: Some("mario@example.com".into()),
            phone: Some("+393501234567".into()),
            ..Default::default()
        };
        let created = person.upsert_contact(&mario).await?;
        let id = created.data.contact.id.to_string();
        wait_until_quiet(app, sim, Duration::from_secs(60)).await?;
        let http = reqwest::Client::new();
        let contact = json!({"id": id, "name": "Mario Rossi"});
        for (route, body) in [
            (
                "new-tag",
                json!({"contact": contact, "tag": {"name": "VIP Cliente"}}),
            ),
            (
                "new-note",
                json!({"contact": contact, "note": {"body": "Cliente interessato al prodotto premium", "userId": "agent_789"}}),
            ),
            (
                "pipeline-change",
                json!({"contact": contact, "pipeline": {"name": "Sales Pipeline"}, "stage": {"name": "Qualified Lead"}, "previous_stage": {"name": "Cold Lead"}}),
            ),
            (
                "status-change",
                json!({"contact": contact, "status": "customer", "previous_status": "lead", "status_reason": "Purchase completed"}),
            ),
        ] {
            http.post(format!("{}/api/ghl-webhooks/{route}", self.base))
                .header("x-webhook-key", self.ghl_key)
                .json(&body)
                .send()
                .await?
                .error_for_status()?;
        }
        wait_until_quiet(app, sim, Duration::from_secs(60)).await?;
        self.cloudtalk
            .place_call(
                self.company,
                Call {
                    external_number: "+393501234567".into(),
                    with_ids: false,
                    started_twice: true,
                    talking_time: 125,
                    ..Call::default()
                },
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        wait_until_quiet(app, sim, Duration::from_secs(60)).await?;

        say("");
        say("cloudtalk-bridge pack (seed 003: GHL <-> CloudTalk)");
        let company = self
            .cloudtalk
            .company(self.company)
            .ok_or_else(|| anyhow::anyhow!("no CloudTalk company"))?;
        let mut ok = company.contacts.len() == 1;
        for c in company.contacts.values() {
            say(format!(
                "  CloudTalk contact {} {:?}: tags {}",
                c.id,
                c.fields.get("name").and_then(Value::as_str).unwrap_or(""),
                c.tags.join(", ")
            ));
            ok &= c.tags.iter().any(|t| t == "VIP Cliente")
                && c.tags.iter().any(|t| t == "GHL-CUSTOMER");
        }
        for n in company.notes.values() {
            say(format!("  CloudTalk note: {}", n.note));
        }
        for a in company.activities.values() {
            say(format!(
                "  CloudTalk activity: {}",
                a.fields
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ));
        }
        ok &= company.notes.len() == 2 && company.activities.len() == 1;
        let notes = person.list_notes(&id.as_str().into()).await?.data;
        let bodies: Vec<String> = notes.into_iter().filter_map(|n| n.body).collect();
        for b in &bodies {
            say(format!(
                "  GHL note: {}",
                b.lines().next().unwrap_or_default()
            ));
        }
        let started = bodies.iter().filter(|b| b.contains("call started")).count();
        ok &= started == 1
            && bodies
                .iter()
                .any(|b| b.contains("Call ended: answered, 125 s"));
        ok &= sim.contacts(&self.location.id).len() == 1;
        let bulk = self
            .cloudtalk
            .audit()
            .iter()
            .filter(|a| a.path == "/bulk/contacts.json")
            .count();
        say(format!("  {bulk} bulk requests to CloudTalk"));
        say(if ok {
            "  OK: one contact on each side, twinned; the call reported twice made one note"
        } else {
            "  FAILED: see above"
        });
        Ok(ok)
    }
}

/// Waits until no event or job is pending and the simulator has delivered every webhook,
/// twice in a row.
pub async fn wait_until_quiet(
    app: &App,
    sim: &ghl_sim::SimHandle,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let mut quiet_rounds = 0;
    while quiet_rounds < 2 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the pipeline did not drain within {} s",
            limit.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let q = app.store().queue_stats().await?;
        let delivered = sim.wait_for_deliveries(Duration::from_millis(10)).await;
        let busy = q.events_pending + q.events_running + q.jobs_queued + q.jobs_running > 0;
        quiet_rounds = if busy || !delivered {
            0
        } else {
            quiet_rounds + 1
        };
    }
    Ok(())
}

/// A GHL path with its ids replaced by `{id}`: `/contacts/abc/tags` -> `/contacts/{id}/tags`.
fn operation(path: &str) -> String {
    const WORDS: &[&str] = &[
        "contacts",
        "upsert",
        "search",
        "duplicate",
        "tags",
        "notes",
        "locations",
        "customFields",
        "opportunities",
        "pipelines",
        "status",
        "conversations",
        "messages",
        "transcription",
        "download",
        "oauth",
        "token",
        "locationToken",
    ];
    path.split('/')
        .map(|seg| {
            if seg.is_empty() || WORDS.contains(&seg) {
                seg
            } else {
                "{id}"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The most calls in any window of `window_ms` (by arrival time at the simulator).
pub fn peak_window(times: &[i64], window_ms: i64) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut start = 0;
    let mut peak = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] >= window_ms {
            start += 1;
        }
        peak = peak.max(end - start + 1);
    }
    peak
}

async fn report(
    app: &App,
    sim: &ghl_sim::SimHandle,
    location_id: &str,
    leads: usize,
    sent: &Sent,
    first_contact: Option<&str>,
) -> anyhow::Result<bool> {
    let audit = sim.audit(0);
    let mut by_call: std::collections::BTreeMap<String, usize> = Default::default();
    for e in &audit {
        *by_call
            .entry(format!("{} {}", e.method, operation(&e.path)))
            .or_default() += 1;
    }
    let received_429 = audit.iter().filter(|e| e.status == 429).count();
    let injected = audit.iter().filter(|e| e.fault.is_some()).count();
    let times: Vec<i64> = audit.iter().map(|e| e.at_ms).collect();
    let peak = peak_window(&times, 10_000);
    let span_s = times
        .iter()
        .max()
        .zip(times.iter().min())
        .map_or(0.0, |(a, b)| (a - b) as f64 / 1000.0);
    let mut created: HashMap<String, usize> = HashMap::new();
    let contacts = sim.contacts(location_id);
    let id_to_email: HashMap<String, String> = contacts
        .iter()
        .filter_map(|c| {
            Some((
                c["id"].as_str()?.to_owned(),
                c["email"].as_str()?.to_owned(),
            ))
        })
        .collect();
    for e in &audit {
        for effect in &e.effects {
            if let Effect::ContactCreated { contact_id, .. } = effect {
                let email = id_to_email
                    .get(contact_id)
                    .cloned()
                    .unwrap_or_else(|| contact_id.clone());
                *created.entry(email).or_default() += 1;
            }
        }
    }
    let waits = app
        .metrics()
        .render()
        .lines()
        .find(|l| l.starts_with(crate::metrics::RATE_LIMIT_WAITS))
        .and_then(|l| l.split_whitespace().last().map(str::to_owned))
        .unwrap_or_else(|| "0".into());
    let q = app.store().queue_stats().await?;
    let dead = app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Dead),
            ..JobFilter::default()
        })
        .await?;
    let retried = app
        .store()
        .list_jobs(&JobFilter {
            state: Some(JobState::Done),
            limit: Some(10_000),
            ..JobFilter::default()
        })
        .await?
        .iter()
        .filter(|j| j.attempts > 0 || j.claims > 1)
        .count();
    let loc = LocationId::new(location_id);
    let mirror = app.store().contacts(&loc).await?;
    let notes = match first_contact {
        Some(c) => app.store().notes(&loc, &c.into()).await?.len(),
        None => 0,
    };
    let opportunities = app.store().opportunities(&loc).await?.len();

    say("");
    say("ingress");
    say(format!(
        "  workflow webhooks answered {:?} ({} duplicate kept once)",
        sent.answers, sent.duplicates
    ));
    say(format!(
        "  events processed {}, dead-lettered {}",
        q.events_done, q.events_dead
    ));
    say("GHL (as the simulator saw it)");
    for (call, n) in &by_call {
        say(format!("  {n:>4}  {call}"));
    }
    say(format!(
        "  {injected} faults injected (503s, a call applied then timed out); {received_429} answers were 429"
    ));
    say(format!(
        "  throttling: {waits} waits for the per-location limiter; peak {peak} calls in any 10 s (limit 100) over {span_s:.1} s"
    ));
    say("delivery");
    say(format!(
        "  jobs delivered {}, of which {retried} after a retry; dead letters {}",
        q.jobs_done, q.jobs_dead
    ));
    for j in &dead {
        say(format!(
            "  dead: {} {} - {}",
            j.id,
            j.command.kind(),
            j.last_error.clone().unwrap_or_default()
        ));
    }
    say(format!("contacts in the simulator: {}", contacts.len()));
    for c in contacts.iter().take(5) {
        say(format!(
            "  {:<22} {:<26} tags {}",
            format!(
                "{} {}",
                c["firstName"].as_str().unwrap_or(""),
                c["lastName"].as_str().unwrap_or("")
            ),
            c["email"].as_str().unwrap_or(""),
            c["tags"]
        ));
    }
    say(format!(
        "mirror in the gateway: {} contacts, {notes} note(s), {opportunities} opportunity(ies)",
        mirror.len()
    ));

    let mut checks: Vec<(&str, bool)> = Vec::new();
    let all_there = (0..leads).all(|i| {
        let email = format!("lead{i:03}@example.com");
        contacts.iter().any(|c| {
            c["email"] == email.as_str()
                && c["tags"].as_array().is_some_and(|t| {
                    t.iter().any(|x| x == "emp-nuevo-registro") && t.iter().any(|x| x == "src/web")
                })
        })
    });
    checks.push(("every lead is a GHL contact with its tags", all_there));
    checks.push((
        "every contact was created exactly once, retries included",
        created.values().all(|n| *n == 1) && created.len() >= leads,
    ));
    checks.push((
        "the invalid lead is the only dead letter",
        dead.len() == 1
            && dead[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("email")),
    ));
    checks.push((
        "no 429 from GHL, no 10 s window over 100 calls",
        received_429 == 0 && peak <= 100,
    ));
    checks.push((
        "forged and unusable requests refused",
        sent.answers.get(&401) == Some(&1) && sent.answers.get(&400) == Some(&1),
    ));
    checks.push((
        "the repeated delivery was stored once",
        sent.duplicates == 1,
    ));
    checks.push((
        "GHL's webhooks mirrored contacts, a note and an opportunity",
        mirror.len() >= leads && notes == 1 && opportunities == 1,
    ));
    say("");
    let mut ok = true;
    for (name, passed) in &checks {
        say(format!(
            "  [{}] {name}",
            if *passed { "ok" } else { "FAILED" }
        ));
        ok &= passed;
    }
    say(if ok {
        "result: the flow completed"
    } else {
        "result: the flow did NOT complete"
    });
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::peak_window;

    #[test]
    fn operations_hide_ids() {
        assert_eq!(
            super::operation("/contacts/abc123/tags"),
            "/contacts/{id}/tags"
        );
        assert_eq!(super::operation("/contacts/upsert"), "/contacts/upsert");
    }

    #[test]
    fn peak_window_counts_arrivals_in_half_open_windows() {
        assert_eq!(peak_window(&[0, 5, 9_999, 10_000], 10_000), 3);
        assert_eq!(peak_window(&[], 10_000), 0);
    }
}
