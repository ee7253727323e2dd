//! CloudTalk (seed 003's bridge): its Workflow Automations' webhooks in (`webhooks.rs`,
//! one route per trigger, authenticated by the bridge's secret), contacts, tags, notes and
//! activities out (`effects.rs`), through one call stack per bridge (`calls.rs`: client,
//! window limiter, error classes, bulk batcher).
//!
//! A bridge is one GHL location and one CloudTalk company (`[[cloudtalk.bridges]]`). What a
//! CloudTalk event does in GHL is decided by the rules and done by the GHL connector; what
//! a GHL event does here arrives as [`ghlsync_core::bridge::CloudTalkJob`]s.

mod calls;
mod campaigns;
mod effects;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use cloudtalk::bulk::Command;
use ghlsync_core::{Changeset, GhlCommand, Job};
use serde_json::Value;

pub use webhooks::SECRET_HEADER;

use crate::app::App;
use crate::delivery::group_commit::GroupCommit;
use crate::delivery::{JobError, permanent};

/// Every CloudTalk call ghlsync makes, as `ghlsync_cloudtalk_calls_total` names them.
pub const CALLS: [&str; 7] = [
    "add_tags",
    "bulk",
    "find_contacts_by_number",
    "list_activities",
    "list_campaigns",
    "list_contacts",
    "list_notes",
];

/// How long a bulk request short of 10 commands waits for more: a request costs its
/// commands either way, so the wait only saves requests.
const BULK_LINGER: std::time::Duration = std::time::Duration::from_millis(100);

/// What the CloudTalk connector keeps between jobs.
#[derive(Default)]
pub(crate) struct State {
    /// One client per bridge.
    clients: Mutex<HashMap<String, cloudtalk::Client>>,
    /// One bulk batcher per bridge.
    batchers: Mutex<HashMap<String, Arc<GroupCommit<Command, calls::Answer>>>>,
    /// Twins found by jobs that have not finished (a job held by the limit after finding its
    /// contact records nothing): the next run needs no second look. Forgotten once the
    /// store has the link.
    twins: Mutex<HashMap<(String, String), cloudtalk::ContactId>>,
}

impl State {
    fn twin(&self, bridge: &str, ghl_contact: &str) -> Option<cloudtalk::ContactId> {
        self.twins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(bridge.to_owned(), ghl_contact.to_owned()))
            .copied()
    }

    fn forget_twin(&self, bridge: &str, ghl_contact: &str) {
        self.twins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(bridge.to_owned(), ghl_contact.to_owned()));
    }

    fn remember_twin(&self, bridge: &str, ghl_contact: &str, id: cloudtalk::ContactId) {
        self.twins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((bridge.to_owned(), ghl_contact.to_owned()), id);
    }

    fn batcher(&self, bridge: &str) -> Arc<GroupCommit<Command, calls::Answer>> {
        let mut batchers = self
            .batchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(batchers.entry(bridge.to_owned()).or_insert_with(|| {
            Arc::new(GroupCommit::with_linger(
                cloudtalk::bulk::MAX_COMMANDS,
                BULK_LINGER,
            ))
        }))
    }
}

/// Checks a bridge's API key with one read (no limiter: an operator's one-off call): the
/// company's contacts count and its limit as CloudTalk reports them.
pub async fn check(
    config: &crate::config::CloudTalkConfig,
    bridge: &crate::config::BridgeConfig,
) -> Result<String, cloudtalk::Error> {
    let client = cloudtalk::Client::builder()
        .base_url(&config.base_url)
        .timeout(std::time::Duration::from_millis(config.timeout_ms))
        .build(
            bridge.key_id.clone(),
            secrecy::SecretString::from(bridge.key_secret.expose().to_owned()),
        )?;
    let answer = client
        .list_contacts(&cloudtalk::contacts::ContactQuery {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    let limit = answer.rate_limit();
    Ok(format!(
        "takes the key: {} contacts; limit {} per minute, {} left",
        answer.data.items_count,
        limit.limit.map_or("?".to_owned(), |l| l.to_string()),
        limit.remaining.map_or("?".to_owned(), |l| l.to_string()),
    ))
}

/// CloudTalk's routes.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/api/cloudtalk-webhooks/test", get(webhooks::test))
        .route("/api/cloudtalk-webhooks/{trigger}", post(webhooks::receive))
}

/// Runs a CloudTalk job for its bridge's GHL location. The job's lane is its
/// bridge's (`cloudtalk:<bridge>`), so CloudTalk's limit never holds the location's GHL
/// jobs back.
pub(crate) async fn run(app: &App, job: &Job) -> Result<(Value, Changeset), JobError> {
    let bridge_name = match &job.command {
        GhlCommand::CloudTalk(cj) => &cj.bridge,
        GhlCommand::CloudTalkCampaign(f) => &f.bridge,
        other => {
            return Err(permanent(format!(
                "{} is not a CloudTalk command",
                other.kind()
            )));
        }
    };
    let bridge = app
        .config()
        .cloudtalk
        .bridge(&bridge_name.0)
        .ok_or_else(|| {
            permanent(format!(
                "bridge {bridge_name} is not configured ([[cloudtalk.bridges]]); replay once it is"
            ))
        })?;
    let location = super::active_location(app, &ghl::LocationId::new(&bridge.location)).await?;
    let ct = calls::CloudTalk::new(app, bridge)?;
    let outcome = match &job.command {
        GhlCommand::CloudTalkCampaign(f) => campaigns::fan_out(&ct, &location, job, f).await,
        GhlCommand::CloudTalk(cj) => effects::run(&ct, &location, job, cj).await,
        _ => unreachable!("matched above"),
    };
    // Every hold comes before the held command is sent (the window was spent, or CloudTalk
    // answered 429 and applied nothing), and a contact added before it is found again by
    // its number or email: the next run need not look for what this one did.
    outcome.map_err(|e| match e {
        JobError::Held { until } => JobError::Unsent { until },
        e => e,
    })
}
