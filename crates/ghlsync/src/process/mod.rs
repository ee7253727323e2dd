//! Processing: workers claim inbox events under a lease, decide what each one changes
//! (`ghlsync_core::process`), and commit the event's completion, the local state and the
//! outbox jobs in one transaction. A failing event is retried with backoff and, after the
//! configured attempts, dead-lettered with its error. Seed 003's bridge events (CloudTalk's
//! webhooks, GHL's workflow routes) are read in `bridge.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use ghl::LocationId;
use ghl::webhooks::{Webhook, WebhookEvent};
use ghlsync_core::changeset::IdLink;
use ghlsync_core::profile::Profile;
use ghlsync_core::rules::input::ghl_subject;
use ghlsync_core::rules::{RuleInput, Trigger};
use ghlsync_core::{AppEvent, Changeset, InboxEvent, JobState, Millis, Source, process};
use ghlsync_store::{JobFilter, Store};
use rand::Rng;
use tokio::sync::watch;

use crate::app::{App, now_ms};
use crate::metrics as m;

mod bridge;

/// Why an event was not processed.
#[derive(Debug)]
enum Failure {
    /// Processing it again cannot succeed: dead-letter now.
    Permanent(String),
    /// It may succeed later (the store was unavailable).
    Transient(String),
}

/// One worker: claims, processes, repeats until stopped.
pub async fn run(app: App, n: usize, mut stop: watch::Receiver<bool>) {
    let owner = format!("{}-p{n}", app.instance());
    let cfg = app.config().processor.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        // Registered before claiming, so a commit between the claim and the wait is not missed.
        let wake = app.wake_processor().clone();
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let events = match app
            .store()
            .claim_events(&owner, now_ms(), cfg.lease_ms, cfg.batch)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "claiming events failed");
                tokio::time::sleep(Duration::from_millis(cfg.poll_ms)).await;
                continue;
            }
        };
        if events.is_empty() {
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_millis(cfg.poll_ms)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for event in events {
            process_one(&app, &owner, event).await;
        }
    }
}

/// How often an event is decided again at once when its profile changed underneath it,
/// before it waits for its lease to end like any other failure.
const CONFLICT_RETRIES: u32 = 50;

async fn process_one(app: &App, owner: &str, event: InboxEvent) {
    let store = app.store();
    let mut conflicts = 0;
    let (now, decided) = loop {
        let now = now_ms();
        let mut changes = match decide(app, &event, now).await {
            Ok(changes) => changes,
            Err(failure) => break (now, Err(failure)),
        };
        if !app.config().processor.coalesce {
            changes.jobs.iter_mut().for_each(|j| j.coalesce = false);
        }
        // Another event of the same person committed first: decide again on its profile.
        match store.complete_event(event.id, owner, &changes, now).await {
            Err(ghlsync_store::StoreError::Conflict(why)) if conflicts < CONFLICT_RETRIES => {
                conflicts += 1;
                tracing::debug!(event = %event.id, %why, "profile changed meanwhile; deciding again");
            }
            completed => break (now, Ok((changes, completed))),
        }
    };
    let result = match decided {
        Ok((changes, completed)) => match completed {
            Ok(true) => {
                metrics::counter!(m::EVENTS_PROCESSED, "outcome" => "done").increment(1);
                if !changes.jobs.is_empty() {
                    app.wake_dispatcher().notify_waiters();
                }
                Ok(())
            }
            // Another worker took the event over after our lease ended; it redoes it.
            Ok(false) => Ok(()),
            Err(e) => Err(e),
        },
        Err(Failure::Permanent(message)) => {
            tracing::warn!(event = %event.id, event_type = %event.event_type, error = %message, "event dead-lettered");
            metrics::counter!(m::EVENTS_PROCESSED, "outcome" => "dead").increment(1);
            store
                .fail_event(event.id, owner, &message, None, now)
                .await
                .map(|_| ())
        }
        Err(Failure::Transient(message)) => {
            let backoff = app.config().processor.backoff;
            let attempts = event.attempts + 1;
            let retry_at: Option<Millis> = backoff
                .may_retry(attempts)
                .then(|| now + backoff.delay(attempts, rand::rng().random()));
            let outcome = if retry_at.is_some() { "retry" } else { "dead" };
            metrics::counter!(m::EVENTS_PROCESSED, "outcome" => outcome).increment(1);
            tracing::warn!(event = %event.id, attempts, error = %message, outcome, "event failed");
            store
                .fail_event(event.id, owner, &message, retry_at, now)
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = result {
        // The lease runs out and the event is claimed again; nothing is lost.
        tracing::warn!(event = %event.id, error = %e, "recording the outcome failed");
    }
}

/// What processing this event changes.
async fn decide(app: &App, event: &InboxEvent, now: Millis) -> Result<Changeset, Failure> {
    match event.source {
        Source::Ghl => {
            // The parser ingress accepted the body with, so it cannot fail here.
            let webhook = Webhook::parse_lenient(&event.body)
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            let mut changes = process::ghl_webhook(&webhook, event.received_at)
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            ghl_rules(app, event, &webhook, &mut changes).await?;
            Ok(changes)
        }
        Source::Workflow => {
            let name = event
                .route
                .as_deref()
                .ok_or_else(|| Failure::Permanent("workflow event without a route".into()))?;
            let route = app
                .store()
                .route(name)
                .await
                .map_err(|e| Failure::Transient(e.to_string()))?
                .ok_or_else(|| {
                    Failure::Permanent(format!("workflow route {name:?} no longer exists"))
                })?;
            let payload = serde_json::from_slice(&event.body)
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            process::workflow_event(&route.action, &route.location_id, event.id, &payload, now)
                .map_err(|e| Failure::Permanent(e.to_string()))
        }
        Source::CloudTalk => bridge::cloudtalk_event(app, event).await,
        Source::Bridge => bridge::ghl_route_event(app, event).await,
        Source::App => {
            let app_event: AppEvent = serde_json::from_slice(&event.body)
                .map_err(|e| Failure::Permanent(format!("stored application event: {e}")))?;
            let location = event
                .location_id
                .clone()
                .ok_or_else(|| Failure::Permanent("application event without a location".into()))?;
            let store = app.store();
            let (mut profile, version) = load_profile(app, &location, &app_event.subject).await?;
            profile.apply(&app_event);
            let tags = match store
                .linked_contact(&location, &app_event.subject)
                .await
                .map_err(transient)?
            {
                Some(id) => store
                    .contact(&location, &id)
                    .await
                    .map_err(transient)?
                    .map(|c| c.tags)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let input = RuleInput::from(&app_event);
            run_rules(app, &location, event, &input, (profile, version), &tags).map(|(c, _)| c)
        }
    }
}

fn transient(e: ghlsync_store::StoreError) -> Failure {
    Failure::Transient(e.to_string())
}

/// A person's profile and its version (a new profile is version 0).
async fn load_profile(
    app: &App,
    location: &LocationId,
    subject: &str,
) -> Result<(Profile, i64), Failure> {
    Ok(app
        .store()
        .profile(location, subject)
        .await
        .map_err(transient)?
        .unwrap_or_else(|| (Profile::new(subject), 0)))
}

/// What the rules decide on `input`: jobs, sync log and the profile's new state, and the
/// outcome itself (its CloudTalk part becomes a bridge's jobs).
fn run_rules(
    app: &App,
    location: &LocationId,
    event: &InboxEvent,
    input: &RuleInput,
    (profile, version): (Profile, i64),
    tags: &[String],
) -> Result<(Changeset, ghlsync_core::rules::Outcome), Failure> {
    let outcome = app
        .rules()
        .evaluate(input.clone(), &profile, tags)
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let changes = process::rule_outcome(
        location,
        event.id,
        input,
        profile,
        version,
        &outcome,
        event.received_at,
    );
    Ok((changes, outcome))
}

/// How long a GHL webhook about a contact waits for a job of that contact that is running:
/// the webhook may be that job's echo, recognised only once the job has recorded what it
/// wrote.
const ECHO_WAIT: Duration = Duration::from_secs(5);

/// Waits while a job of the contact (by its ordering key) is running.
async fn wait_for_running_job(app: &App, location: &LocationId, key: Option<String>) {
    let Some(key) = key else { return };
    let deadline = tokio::time::Instant::now() + ECHO_WAIT;
    let filter = JobFilter {
        state: Some(JobState::Running),
        location_id: Some(location.clone()),
        ordering_key: Some(format!("contact:{key}")),
        limit: Some(1),
        ..JobFilter::default()
    };
    while tokio::time::Instant::now() < deadline {
        match app.store().list_jobs(&filter).await {
            Ok(running) if !running.is_empty() => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            _ => return,
        }
    }
}

/// What a GHL webhook about a contact changes beyond the mirror row `process::ghl_webhook`
/// made of it:
///
/// - a contact's row is folded into the mirror value by value (last writer per value, by
///   time), and what it changed is found;
/// - a webhook that changed nothing is the echo of ghlsync's own write (or a repeat): it
///   runs no rule, so ghlsync's writes never come back as triggers;
/// - otherwise the rules on its type run for the person the contact is (the app's id from
///   the id map, or `ghl:<contactId>`), like the app's own events.
async fn ghl_rules(
    app: &App,
    event: &InboxEvent,
    webhook: &Webhook,
    changes: &mut Changeset,
) -> Result<(), Failure> {
    let (Some(location), Some(contact_id)) = (
        webhook.location_id.clone(),
        webhook.event.contact_id().cloned(),
    ) else {
        return Ok(());
    };
    let store = app.store();
    let ghl_type = webhook.event_type().unwrap_or_default();
    let trigger = Trigger::ghl(ghl_type).filter(|_| app.rules().listens_to(ghl_type));
    let mut changed = Vec::new();
    // GHL's time of the webhook, as the mirror takes it.
    let occurred_at = webhook.sent_at().map_or(event.received_at, |t| {
        (t.unix_timestamp_nanos() / 1_000_000) as Millis
    });
    if let Some(incoming) = changes.contacts.first_mut() {
        if trigger.is_some() {
            let key = incoming
                .email
                .as_deref()
                .map(str::to_lowercase)
                .or_else(|| incoming.phone.clone());
            wait_for_running_job(app, &location, key).await;
        }
        let held = store
            .contact(&location, &contact_id)
            .await
            .map_err(transient)?;
        // A webhook's values are GHL's (a person's, or an automation's): no decision time.
        *incoming = match held {
            Some(mut row) => {
                changed = row.absorb(incoming, &BTreeMap::new());
                row
            }
            None => {
                let row = incoming.clone().stamped(&BTreeMap::new());
                changed = row.times.at.keys().cloned().collect();
                changed.push("created".into());
                row
            }
        };
    }
    let Some(trigger) = trigger else {
        return Ok(());
    };
    if changes.contacts.is_empty() && !is_echo(app, &location, &webhook.event).await? {
        changed.push(ghl_type.to_owned());
    }
    if changed.is_empty() {
        metrics::counter!(m::ECHOES, "type" => trigger.as_str()).increment(1);
        tracing::debug!(event = %event.id, event_type = ghl_type, "no change: an echo of ghlsync's own write");
        return Ok(());
    }
    let subject = store
        .linked_subject(&location, &contact_id)
        .await
        .map_err(transient)?
        .unwrap_or_else(|| ghl_subject(contact_id.as_str()));
    let (mut profile, version) = load_profile(app, &location, &subject).await?;
    let data = match serde_json::from_slice::<serde_json::Value>(&event.body) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    // The bridge view is for a location with a bridge: others need not read the contact.
    let contact = match app.config().cloudtalk.bridges_of(&location).next() {
        Some(_) => Some(
            bridge::contact_of(
                app,
                &location,
                &contact_id,
                &serde_json::Value::Object(data.clone()),
                changes.contacts.first(),
            )
            .await?,
        ),
        None => None,
    };
    let view = contact.as_ref().map_or(serde_json::Value::Null, |c| {
        ghlsync_core::bridge::ghl_view(
            &serde_json::Value::Object(data.clone()),
            c,
            &bridge::tags_added(&changed, changes.contacts.first()),
        )
    });
    let input = RuleInput {
        trigger,
        id: webhook
            .webhook_id
            .clone()
            .unwrap_or_else(|| event.id.to_string()),
        subject: subject.clone(),
        occurred_at,
        contact_id: Some(contact_id.to_string()),
        bridge: view,
        data,
        changes: changed,
    };
    profile.apply_ghl(&input);
    let tags = match (changes.contacts.first(), &contact) {
        (Some(row), _) => row.tags.clone(),
        // Read from the mirror already.
        (None, Some(c)) => c.tags.clone(),
        (None, None) => store
            .contact(&location, &contact_id)
            .await
            .map_err(transient)?
            .map(|c| c.tags)
            .unwrap_or_default(),
    };
    let (decided, outcome) = run_rules(app, &location, event, &input, (profile, version), &tags)?;
    if let Some(contact) = &contact {
        let change =
            ghlsync_core::bridge::Change::of(&input.bridge, contact_id.as_str(), occurred_at);
        for b in app.config().cloudtalk.bridges_of(&location) {
            changes
                .jobs
                .extend(bridge::cloudtalk_jobs(b, event, &change, contact, &outcome).jobs);
        }
    }
    changes.jobs.extend(decided.jobs);
    changes.log.extend(decided.log);
    changes.profiles.extend(decided.profiles);
    if subject.starts_with("ghl:") {
        // Jobs for this person find the contact (and its mirror row) by its subject.
        changes.id_links.push(IdLink {
            location_id: location,
            subject,
            contact_id,
        });
    }
    Ok(())
}

/// True when an opportunity or note webhook only reports what ghlsync wrote itself: the
/// mirror already holds it. Tasks, appointments and messages are never written by
/// ghlsync, so they are never echoes.
async fn is_echo(app: &App, location: &LocationId, event: &WebhookEvent) -> Result<bool, Failure> {
    let store = app.store();
    match event {
        WebhookEvent::OpportunityCreate(e)
        | WebhookEvent::OpportunityUpdate(e)
        | WebhookEvent::OpportunityStatusUpdate(e)
        | WebhookEvent::OpportunityStageUpdate(e)
        | WebhookEvent::OpportunityMonetaryValueUpdate(e) => {
            let Some(id) = &e.id else { return Ok(false) };
            let held = store.opportunity(location, id).await.map_err(transient)?;
            Ok(held.is_some_and(|o| {
                o.status == e.status
                    && o.stage_id.as_deref() == e.pipeline_stage_id.as_ref().map(|s| s.as_str())
                    && o.monetary_value == e.monetary_value
            }))
        }
        WebhookEvent::NoteCreate(e) => {
            let (Some(id), Some(contact)) = (&e.id, &e.contact_id) else {
                return Ok(false);
            };
            let notes = store.notes(location, contact).await.map_err(transient)?;
            Ok(notes.iter().any(|n| &n.note_id == id))
        }
        _ => Ok(false),
    }
}
