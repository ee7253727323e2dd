//! Seed 003's bridge events: what CloudTalk's webhooks and GHL's workflow routes change.
//!
//! - A GHL event (a workflow route here, a Marketplace webhook in `mod.rs`) runs the rules
//!   on its `bridge` view; their CloudTalk part becomes jobs of the bridge, about the
//!   event's GHL contact (its phone and email filled in from the mirror).
//! - A CloudTalk event runs the rules for the GHL contact it is about: the twin of its
//!   CloudTalk contact (id map), else the person of its number or email, whose GHL contact
//!   the GHL jobs find or create by that number or email. Once both sides know the person,
//!   the twins are linked.
//! - Echoes cause nothing: a note ghlsync wrote to GHL reported back by a workflow route
//!   (the mirror holds it), and a contact the bridge created reported by CloudTalk (the id
//!   map holds it).

use cloudtalk::webhooks::{Event, Fields, Trigger as CloudTalkTrigger};
use ghl::{ContactId, LocationId};
use ghlsync_core::bridge::{
    self, BridgeContact, BridgeName, CloudTalkContact, CloudTalkLink, GhlRoute,
};
use ghlsync_core::changeset::{IdLink, LogEntry};
use ghlsync_core::rules::input::ghl_subject;
use ghlsync_core::rules::{Outcome, RuleInput, Trigger};
use ghlsync_core::{Changeset, ContactMirror, InboxEvent};
use ghlsync_store::Store;
use serde_json::{Value, json};

use super::{Failure, load_profile, run_rules, transient};
use crate::app::App;
use crate::config::BridgeConfig;
use crate::metrics as m;

/// How long after ghlsync wrote a note the same words from a workflow route are its echo.
const ECHO_NOTE_WINDOW_MS: i64 = 10 * 60_000;

/// The event's bridge, as ingress recorded it.
fn bridge_of<'a>(app: &'a App, event: &InboxEvent) -> Result<&'a BridgeConfig, Failure> {
    let name = event.meta["bridge"].as_str().unwrap_or_default();
    app.config().cloudtalk.bridge(name).ok_or_else(|| {
        Failure::Permanent(format!(
            "bridge {name:?} is no longer configured ([[cloudtalk.bridges]]); replay once it is"
        ))
    })
}

fn object(v: &Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn log(location: &LocationId, kind: &str, detail: Value, at: i64) -> Changeset {
    Changeset {
        log: vec![LogEntry {
            location_id: Some(location.clone()),
            kind: kind.to_owned(),
            detail,
            at,
        }],
        ..Changeset::default()
    }
}

/// The GHL contact of an event, with what the mirror knows filling what the body lacks.
pub(super) async fn contact_of(
    app: &App,
    location: &LocationId,
    id: &ContactId,
    payload: &Value,
    row: Option<&ContactMirror>,
) -> Result<BridgeContact, Failure> {
    let mut contact = BridgeContact::read(payload);
    contact.id = Some(id.clone());
    let held;
    let row = match row {
        Some(row) => Some(row),
        None => {
            held = app.store().contact(location, id).await.map_err(transient)?;
            held.as_ref()
        }
    };
    if let Some(row) = row {
        contact.email = contact.email.or_else(|| row.email.clone());
        contact.phone = contact.phone.or_else(|| row.phone.clone());
        contact.first_name = contact.first_name.or_else(|| row.first_name.clone());
        contact.last_name = contact.last_name.or_else(|| row.last_name.clone());
        contact.company = contact.company.or_else(|| row.company_name.clone());
        if contact.name.is_none() {
            contact.name = match (&contact.first_name, &contact.last_name) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (f, l) => f.clone().or_else(|| l.clone()),
            };
        }
        if contact.tags.is_empty() {
            contact.tags = row.tags.clone();
        }
    }
    Ok(contact)
}

/// The tags a Marketplace webhook added: what changed among the contact's tags now.
pub(super) fn tags_added(changed: &[String], row: Option<&ContactMirror>) -> Vec<String> {
    let Some(row) = row else { return Vec::new() };
    row.tags
        .iter()
        .filter(|t| changed.contains(&ghlsync_core::command::value_key::tag(t)))
        .cloned()
        .collect()
}

/// The bridge's CloudTalk jobs of what the rules decided about a GHL contact.
pub(super) fn cloudtalk_jobs(
    bridge: &BridgeConfig,
    event: &InboxEvent,
    change: &bridge::Change,
    contact: &BridgeContact,
    outcome: &Outcome,
) -> Changeset {
    let Some(ghl_id) = contact.id.clone() else {
        return Changeset::default();
    };
    if outcome.cloudtalk.is_empty() {
        return Changeset::default();
    }
    bridge::cloudtalk_jobs(
        &BridgeName(bridge.name.clone()),
        event.id,
        change,
        &CloudTalkContact {
            ghl_id,
            name: contact.name.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
            company: contact.company.clone(),
        },
        &outcome.cloudtalk,
        &bridge.contact_source,
        event.received_at,
    )
}

/// A body of seed 003's GHL workflow routes (`/api/ghl-webhooks/{route}`).
pub(super) async fn ghl_route_event(app: &App, event: &InboxEvent) -> Result<Changeset, Failure> {
    let bridge = bridge_of(app, event)?;
    let location = LocationId::new(&bridge.location);
    let route: GhlRoute = event
        .route
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Failure::Permanent(format!("bridge route: {e}")))?;
    let payload: Value =
        serde_json::from_slice(&event.body).map_err(|e| Failure::Permanent(e.to_string()))?;
    let id = BridgeContact::read(&payload)
        .id
        .ok_or_else(|| Failure::Permanent("missing field: contact.id".into()))?;
    let store = app.store();
    let contact = contact_of(app, &location, &id, &payload, None).await?;
    let view = bridge::ghl_view(&payload, &contact, &[]);
    let change = bridge::Change::of(&view, id.as_str(), event.received_at);
    if route == GhlRoute::NewNote
        && let Some(body) = view["note"]["body"].as_str()
    {
        // ghlsync's own note comes back within minutes; the same words written again later
        // by a person are a new note.
        let note_id = view["note"]["id"].as_str();
        let recent = event.received_at - ECHO_NOTE_WINDOW_MS;
        let notes = store.notes(&location, &id).await.map_err(transient)?;
        if notes.iter().any(|n| {
            note_id.is_some_and(|i| n.note_id.as_str() == i)
                || (n.body.as_deref() == Some(body) && n.updated_at >= recent)
        }) {
            metrics::counter!(m::ECHOES, "type" => "NoteCreate").increment(1);
            return Ok(log(
                &location,
                "bridge_echo",
                json!({"route": route.route(), "contact": id}),
                event.received_at,
            ));
        }
    }
    let trigger = Trigger::ghl(route.trigger())
        .or_else(|| Trigger::bridge(route.trigger()))
        .ok_or_else(|| Failure::Permanent(format!("no trigger {}", route.trigger())))?;
    if !app.rules().listens_to_trigger(trigger) {
        return Ok(Changeset::default());
    }
    let subject = store
        .linked_subject(&location, &id)
        .await
        .map_err(transient)?
        .unwrap_or_else(|| ghl_subject(id.as_str()));
    let (mut profile, version) = load_profile(app, &location, &subject).await?;
    let input = RuleInput {
        trigger,
        id: format!("{}:{}", route.route(), event.id),
        subject: subject.clone(),
        occurred_at: event.received_at,
        contact_id: Some(id.to_string()),
        data: object(&payload),
        changes: Vec::new(),
        bridge: view,
    };
    profile.apply_ghl(&input);
    let (mut changes, outcome) = run_rules(
        app,
        &location,
        event,
        &input,
        (profile, version),
        &contact.tags,
    )?;
    changes
        .jobs
        .extend(cloudtalk_jobs(bridge, event, &change, &contact, &outcome).jobs);
    if subject.starts_with("ghl:") {
        changes.id_links.push(IdLink {
            location_id: location,
            subject,
            contact_id: id,
        });
    }
    Ok(changes)
}

/// How long a CloudTalk contact report waits for the bridge's running CloudTalk jobs.
const ECHO_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits while a job of the bridge's lane is running (at most [`ECHO_WAIT`]): every job of
/// the lane is a CloudTalk job.
async fn wait_for_cloudtalk_jobs(app: &App, lane: &LocationId) {
    let deadline = tokio::time::Instant::now() + ECHO_WAIT;
    let filter = ghlsync_store::JobFilter {
        state: Some(ghlsync_core::JobState::Running),
        location_id: Some(lane.clone()),
        limit: Some(1),
        ..ghlsync_store::JobFilter::default()
    };
    while tokio::time::Instant::now() < deadline {
        match app.store().list_jobs(&filter).await {
            Ok(running) if !running.is_empty() => {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            _ => return,
        }
    }
}

/// A CloudTalk Workflow Automation's body (`/api/cloudtalk-webhooks/{trigger}`).
pub(super) async fn cloudtalk_event(app: &App, event: &InboxEvent) -> Result<Changeset, Failure> {
    let bridge = bridge_of(app, event)?;
    let name = BridgeName(bridge.name.clone());
    let location = LocationId::new(&bridge.location);
    let trigger = event
        .route
        .as_deref()
        .and_then(CloudTalkTrigger::from_route)
        .ok_or_else(|| Failure::Permanent("CloudTalk event without its trigger".into()))?;
    let body: Value =
        serde_json::from_slice(&event.body).map_err(|e| Failure::Permanent(e.to_string()))?;
    let ct_event = Event::read(trigger, &body);
    let at = event.received_at;
    if let Event::Generic(_) = ct_event {
        // Kept in the inbox as sent and said in the sync log; no effect.
        return Ok(log(
            &location,
            "cloudtalk_generic",
            json!({"event": event.id.0, "bridge": name}),
            at,
        ));
    }
    let store = app.store();
    let mut person = bridge::cloudtalk_person(&ct_event);
    if let Event::Agent(_) = ct_event {
        person.email = Fields::of(&body)
            .text(&["agent_email", "email"])
            .map(|e| e.to_lowercase());
    }
    let mut linked = match person.contact_id {
        Some(id) => store
            .cloudtalk_link_of(&name, id)
            .await
            .map_err(transient)?,
        None => None,
    };
    if let (Event::Contact(_), None, Some(id)) = (&ct_event, &linked, person.contact_id) {
        // CloudTalk reports a contact while the request that added it is still being
        // answered: the job that sent it links it once it has the answer.
        wait_for_cloudtalk_jobs(app, &name.lane()).await;
        linked = store
            .cloudtalk_link_of(&name, id)
            .await
            .map_err(transient)?;
    }
    if let (Event::Contact(_), Some(link)) = (&ct_event, &linked) {
        // The bridge added it (or already knows it): nothing new for GHL.
        metrics::counter!(m::ECHOES, "type" => "cloudtalk.contact_created").increment(1);
        return Ok(log(
            &location,
            "bridge_echo",
            json!({"trigger": trigger.route(), "cloudtalk_contact": link.cloudtalk_contact, "ghl_contact": link.ghl_contact}),
            at,
        ));
    }
    let Some(rule_trigger) = Trigger::bridge(bridge::cloudtalk_trigger(trigger)) else {
        return Ok(Changeset::default());
    };
    if !app.rules().listens_to_trigger(rule_trigger) {
        return Ok(Changeset::default());
    }
    if let Event::Campaign(campaign) = &ct_event {
        return campaign_event(app, event, &name, &location, rule_trigger, &body, campaign);
    }
    let ghl_contact = linked.as_ref().map(|l| l.ghl_contact.clone());
    let subject = match &ghl_contact {
        Some(c) => Some(
            store
                .linked_subject(&location, c)
                .await
                .map_err(transient)?
                .unwrap_or_else(|| ghl_subject(c.as_str())),
        ),
        None => person.subject(),
    };
    let Some(subject) = subject else {
        return Ok(log(
            &location,
            "cloudtalk_skipped",
            json!({"trigger": trigger.route(), "event": event.id.0,
                "reason": "the event names no CloudTalk contact, number or email"}),
            at,
        ));
    };
    let (mut profile, version) = load_profile(app, &location, &subject).await?;
    // GHL finds the person's contact by these; what the profile knows already stays.
    profile.phone = profile.phone.or_else(|| person.phone.clone());
    profile.email = profile.email.or_else(|| person.email.clone());
    let input = RuleInput {
        trigger: rule_trigger,
        id: format!("cloudtalk:{}", event.id),
        subject: subject.clone(),
        occurred_at: at,
        contact_id: ghl_contact.as_ref().map(ToString::to_string),
        data: object(&body),
        changes: Vec::new(),
        bridge: bridge::cloudtalk_view(&ct_event),
    };
    let tags = match &ghl_contact {
        Some(c) => store
            .contact(&location, c)
            .await
            .map_err(transient)?
            .map(|c| c.tags)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let (mut changes, _) = run_rules(app, &location, event, &input, (profile, version), &tags)?;
    // The person's GHL contact, once a GHL job has found it, is the CloudTalk contact's twin.
    if let (None, Some(ct_id)) = (&ghl_contact, person.contact_id)
        && let Some(ghl_id) = store
            .linked_contact(&location, &subject)
            .await
            .map_err(transient)?
    {
        changes.cloudtalk_links.push(CloudTalkLink {
            bridge: name,
            location_id: location,
            ghl_contact: ghl_id,
            cloudtalk_contact: ct_id,
            created_by_bridge: false,
        });
    }
    Ok(changes)
}

/// A campaign's status change: the rules decide once, for no one person; a CloudTalk job
/// then finds the campaign's contacts and queues each one's GHL change.
fn campaign_event(
    app: &App,
    event: &InboxEvent,
    bridge: &BridgeName,
    location: &LocationId,
    trigger: Trigger,
    body: &Value,
    campaign: &cloudtalk::webhooks::CampaignStatus,
) -> Result<Changeset, Failure> {
    let name = campaign
        .campaign_id
        .clone()
        .or_else(|| campaign.campaign_name.clone())
        .unwrap_or_default();
    let subject = format!("cloudtalk-campaign:{name}");
    let input = RuleInput {
        trigger,
        id: format!("cloudtalk:{}", event.id),
        subject: subject.clone(),
        occurred_at: event.received_at,
        contact_id: None,
        data: object(body),
        changes: Vec::new(),
        bridge: bridge::cloudtalk_view(&Event::Campaign(campaign.clone())),
    };
    let outcome = app
        .rules()
        .evaluate(input, &ghlsync_core::profile::Profile::new(&subject), &[])
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let mut changes = log(
        location,
        "cloudtalk_campaign_status_changed",
        json!({"campaign": name, "status": campaign.status, "event": event.id.0,
            "rules": outcome.matched.iter().map(|m| m.rule.as_str()).collect::<Vec<_>>()}),
        event.received_at,
    );
    changes.jobs.extend(bridge::campaign_job(
        bridge,
        event.id,
        campaign,
        &outcome,
        event.received_at,
    ));
    Ok(changes)
}
