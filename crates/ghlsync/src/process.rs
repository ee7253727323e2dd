//! Processing: workers claim inbox events under a lease, decide what each one changes
//! (`ghlsync_core::process`), and commit the event's completion, the local state and the
//! outbox jobs in one transaction. A failing event is retried with backoff and, after the
//! configured attempts, dead-lettered with its error.

use std::time::Duration;

use ghl::webhooks::Webhook;
use ghlsync_core::profile::Profile;
use ghlsync_core::{AppEvent, Changeset, InboxEvent, Millis, Source, process};
use ghlsync_store::Store;
use rand::Rng;
use tokio::sync::watch;

use crate::app::{App, now_ms};
use crate::metrics as m;

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
            let webhook =
                Webhook::parse(&event.body).map_err(|e| Failure::Permanent(e.to_string()))?;
            process::ghl_webhook(&webhook, event.received_at)
                .map_err(|e| Failure::Permanent(e.to_string()))
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
        Source::App => {
            let app_event: AppEvent = serde_json::from_slice(&event.body)
                .map_err(|e| Failure::Permanent(format!("stored application event: {e}")))?;
            let location = event
                .location_id
                .clone()
                .ok_or_else(|| Failure::Permanent("application event without a location".into()))?;
            let store = app.store();
            let transient = |e: ghlsync_store::StoreError| Failure::Transient(e.to_string());
            let (mut profile, version) = store
                .profile(&location, &app_event.subject)
                .await
                .map_err(transient)?
                .unwrap_or_else(|| (Profile::new(&app_event.subject), 0));
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
            let outcome = app
                .rules()
                .evaluate(&app_event, &profile, &tags)
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            Ok(process::app_event(
                &location,
                event.id,
                &app_event,
                profile,
                version,
                &outcome,
                event.received_at,
            ))
        }
    }
}
