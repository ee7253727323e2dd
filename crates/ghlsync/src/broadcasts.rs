//! Seed 004's voice broadcasts as the routes, the command line and the callback worker
//! use them: whose a webhook key or engine secret is, leasing due numbers inside their
//! calling windows, recording the dialer's reports, and callback runs that make the final
//! outcomes waiting for GHL into outbox jobs (`ghlsync_core::callback` decides them).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use ghlsync_core::Millis;
use ghlsync_core::broadcast::{
    Broadcast, BroadcastId, BroadcastStatus, CallReport, CallbackStatus, Owner, OwnerId, OwnerKey,
    QueueItem, QueueItemId, QueueState, Recorded,
};
use ghlsync_core::callback::{
    PendingScope, PendingStatus, PendingView, TAGS_PER_CALL, plan_callbacks,
};
use ghlsync_store::{AnyStore, Store, StoreError};
use jiff::Timestamp;
use secrecy::SecretString;
use serde::Serialize;
use tokio::sync::watch;

use crate::app::App;
use crate::config::CallbackMode;
use crate::registry::api_key_hash;

/// The owner of a webhook key (seed 004's `webhook_key`), if the key is live.
pub async fn owner_of_webhook_key(
    store: &AnyStore,
    key: &str,
) -> Result<Option<(OwnerKey, Owner)>, StoreError> {
    let Some(found) = store.owner_key_by_hash(&api_key_hash(key)).await? else {
        return Ok(None);
    };
    if found.revoked_at.is_some() {
        return Ok(None);
    }
    Ok(store.owner(&found.owner_id).await?.map(|o| (found, o)))
}

/// The owner of an engine secret (a dialer's bearer token).
pub async fn owner_of_engine_secret(
    store: &AnyStore,
    secret: &str,
) -> Result<Option<Owner>, StoreError> {
    match store.engine_owner_by_hash(&api_key_hash(secret)).await? {
        Some(id) => store.owner(&id).await,
        None => Ok(None),
    }
}

/// An owner's engine secret, opened: the key of its outcome reports' signatures.
pub async fn engine_secret(app: &App, owner: &OwnerId) -> anyhow::Result<Option<SecretString>> {
    let Some(sealed) = app.store().engine_secret(owner).await? else {
        return Ok(None);
    };
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed)?;
    Ok(Some(app.cipher().open(
        &crate::secrets::engine_context(owner.as_str()),
        &sealed,
    )?))
}

/// What a lease handed out.
#[derive(Debug)]
pub struct Leased {
    /// The lease's id, for the reports.
    pub lease_id: String,
    /// When it ends: an item not reported by then is handed out again.
    pub until: Millis,
    /// The items, each with its attempts so far.
    pub items: Vec<QueueItem>,
    /// When the next item not handed out is due.
    pub next_due: Option<Millis>,
}

/// Items looked at per item wanted: those outside their window are moved on, not handed out.
const SCAN_FACTOR: u32 = 4;

/// Leases up to `limit` of the broadcast's due numbers whose local time is inside the
/// broadcast's calling window in every one of their zones. A due number outside its
/// window waits: its due time moves to the window's next opening (it is not dropped). A
/// broadcast that is not active hands out nothing.
pub async fn lease(
    store: &AnyStore,
    owner: &Owner,
    broadcast: &Broadcast,
    limit: u32,
    lease_ms: Millis,
    now: Millis,
) -> Result<Leased, StoreError> {
    let lease_id = format!("ls_{}", uuid::Uuid::new_v4().simple());
    let until = now + lease_ms;
    let mut items = Vec::new();
    if broadcast.status == BroadcastStatus::Active {
        let fallback =
            ghlsync_core::broadcast::zone(&owner.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let at = Timestamp::from_millisecond(now).unwrap_or(Timestamp::UNIX_EPOCH);
        // A scan whose due items are all outside their windows moves them on; the next scan
        // sees the items after them.
        for _ in 0..4 {
            let want = limit.saturating_sub(items.len() as u32);
            if want == 0 {
                break;
            }
            let scan = (want * SCAN_FACTOR).min(400);
            let due = store.due_items(&owner.id, &broadcast.id, now, scan).await?;
            let mut picked = Vec::new();
            let mut deferred = Vec::new();
            for item in &due {
                let mut zones = item.time_zones();
                if zones.is_empty() {
                    zones.push(fallback.clone());
                }
                if broadcast.window.open_in_all(&zones, at) {
                    if picked.len() < want as usize {
                        picked.push(item.id.clone());
                    }
                } else if item.state == QueueState::Queued {
                    // No opening within a week (a window too short for the zones' spread):
                    // looked at again a day later, still waiting.
                    let next = broadcast
                        .window
                        .next_open(&zones, now)
                        .unwrap_or(now + 86_400_000);
                    deferred.push((item.id.clone(), next));
                }
            }
            store.defer_items(&owner.id, &deferred).await?;
            items.extend(
                store
                    .lease_items(&owner.id, &picked, &lease_id, until, now)
                    .await?,
            );
            if (due.len() as u32) < scan {
                break;
            }
        }
    }
    let next_due = store.next_due(&owner.id, &broadcast.id).await?;
    Ok(Leased {
        lease_id,
        until,
        items,
        next_due,
    })
}

/// Records a dialer's report (see [`Store::record_call`]); a final outcome wakes the
/// callback worker when outcomes go to GHL as they arrive.
pub async fn record(app: &App, owner: &Owner, report: &CallReport) -> Result<Recorded, StoreError> {
    let mut tries = 0;
    let recorded = loop {
        match app
            .store()
            .record_call(owner, report, app.broadcast_now())
            .await
        {
            // Another report of the item committed in between: decided again on it.
            Err(StoreError::Conflict(_)) if tries < 3 => tries += 1,
            other => break other?,
        }
    };
    if matches!(
        recorded,
        Recorded::Recorded {
            final_outcome: true,
            ..
        }
    ) && app.config().broadcasts.callback == CallbackMode::Arrival
    {
        app.wake_callbacks().notify_one();
    }
    Ok(recorded)
}

/// What a callback run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallbackRun {
    /// Pending updates it took.
    pub taken: usize,
    /// Jobs it enqueued.
    pub jobs: usize,
}

/// A callback run (`process_broadcast`, `process_pending`): every pending update of
/// `scope` becomes outbox jobs, in batches; the dispatcher then sends them at GHL's limit.
pub async fn process(
    store: &AnyStore,
    scope: &PendingScope,
    now: Millis,
) -> Result<CallbackRun, StoreError> {
    let mut run = CallbackRun::default();
    let mut refused = 0;
    loop {
        let updates = store.pending_updates(scope, 1_000).await?;
        if updates.is_empty() {
            break;
        }
        let plan = plan_callbacks(&updates, now, TAGS_PER_CALL);
        let ids: Vec<_> = updates.iter().map(|u| u.id.clone()).collect();
        if store.queue_callbacks(&ids, &plan, now).await? {
            run.taken += ids.len();
            run.jobs += plan.jobs.len();
        } else {
            // Another run (another instance) took some of them: read again.
            refused += 1;
            if refused > 10 {
                break;
            }
        }
    }
    Ok(run)
}

/// Counts of pending updates by status (`get_status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallbackCounts {
    /// Every pending update of the scope.
    pub total: usize,
    /// By status.
    pub by_status: BTreeMap<&'static str, usize>,
}

/// The pending updates of `scope` with their status, and their counts.
pub async fn status(
    store: &AnyStore,
    scope: &PendingScope,
) -> Result<(CallbackCounts, Vec<PendingView>), StoreError> {
    let views = store.pending_views(scope).await?;
    let mut counts = CallbackCounts {
        total: views.len(),
        by_status: PendingStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
    };
    for v in &views {
        *counts.by_status.entry(v.status.as_str()).or_default() += 1;
    }
    Ok((counts, views))
}

/// A queue item's `ghl_callback_status`: none before its outcome is final, skipped without
/// a GHL contact, else its pending update's.
pub fn callback_status(item: &QueueItem, pending: Option<&PendingView>) -> Option<CallbackStatus> {
    if item.state != QueueState::Done {
        return None;
    }
    if item.ghl_contact_id.is_none() {
        return Some(CallbackStatus::Skipped);
    }
    Some(pending.map_or(CallbackStatus::Pending, |p| p.status.callback_status()))
}

/// The callback worker: runs `process_pending` for everyone as configured — soon after
/// outcomes arrive (gathering those within `callback_linger_ms`) and every
/// `callback_every_secs` — until stopped.
pub async fn callbacks(app: App, mut stop: watch::Receiver<bool>) {
    let cfg = app.config().broadcasts.clone();
    if cfg.callback == CallbackMode::Manual {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                return;
            }
        }
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.callback_every_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = stop.changed() => continue,
            _ = tick.tick() => {}
            () = app.wake_callbacks().notified(), if cfg.callback == CallbackMode::Arrival => {
                // Outcomes arriving together make one run.
                tokio::time::sleep(Duration::from_millis(cfg.callback_linger_ms)).await;
            }
        }
        match process(app.store(), &PendingScope::default(), crate::app::now_ms()).await {
            Ok(run) if run.taken > 0 => {
                tracing::info!(
                    taken = run.taken,
                    jobs = run.jobs,
                    "broadcast outcomes queued for GHL"
                );
                app.wake_dispatcher().notify_one();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "broadcast callback run failed; the next one retries")
            }
        }
    }
}

/// Moves one of an owner's broadcasts to `to`; completing it runs `process_broadcast` at
/// once (seed 004 calls back "on broadcast complete"), whatever the callback mode.
pub async fn set_status(
    store: &AnyStore,
    owner: &OwnerId,
    id: &BroadcastId,
    to: BroadcastStatus,
    now: Millis,
) -> anyhow::Result<(Broadcast, Option<CallbackRun>)> {
    let broadcast = crate::registry::set_broadcast_status(store, owner, id, to).await?;
    if to != BroadcastStatus::Completed {
        return Ok((broadcast, None));
    }
    let scope = PendingScope {
        owner: Some(owner.clone()),
        broadcast: Some(id.clone()),
    };
    Ok((broadcast, Some(process(store, &scope, now).await?)))
}

/// A queue item as the command line and the admin API show it.
#[derive(Clone, Debug, Serialize)]
pub struct QueueRow {
    /// The item.
    #[serde(flatten)]
    pub item: QueueItem,
    /// Where its outcome stands in GHL; none before the outcome is final.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghl_callback_status: Option<CallbackStatus>,
    /// The last error of a GHL call for it (seed 004's `error_message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Up to `limit` of a broadcast's queue items after `after_position`, in order, each with
/// its `ghl_callback_status`.
pub async fn queue(
    store: &AnyStore,
    owner: &OwnerId,
    broadcast: &BroadcastId,
    after_position: i64,
    limit: u32,
) -> Result<Vec<QueueRow>, StoreError> {
    let items = store
        .queue_items(owner, broadcast, after_position, limit)
        .await?;
    let scope = PendingScope {
        owner: Some(owner.clone()),
        broadcast: Some(broadcast.clone()),
    };
    let mut pending: HashMap<QueueItemId, PendingView> = store
        .pending_views(&scope)
        .await?
        .into_iter()
        .map(|v| (v.update.queue_item_id.clone(), v))
        .collect();
    Ok(items
        .into_iter()
        .map(|item| {
            let view = pending.remove(&item.id);
            QueueRow {
                ghl_callback_status: callback_status(&item, view.as_ref()),
                error_message: view.and_then(|v| v.error_message),
                item,
            }
        })
        .collect())
}
