//! Seed 004's trigger (`ghl-webhook-trigger`): a GHL workflow's HTTP Request step adds its
//! contact's number to a voice broadcast, authenticated by the owner's webhook key in the
//! body. The answer is decided and committed before it is sent: the number is in the queue
//! (with its position), or it was refused and the answer says why (not valid, on the
//! owner's Do-Not-Call list, DND'd for calls in GHL). And "Setup Broadcast Fields": the six
//! contact fields the outcomes write, created where the location lacks them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use ghl::custom_fields::{CustomFieldModel, NewCustomField};
use ghlsync_core::Location;
use ghlsync_core::broadcast::{
    AddToBroadcast, Owner, OwnerKey, QueueItem, QueueItemId, QueueState, TriggerAction,
    normalize_phone, read_trigger, zone, zone_names, zones_of,
};
use ghlsync_core::callback::{BROADCAST_FIELDS, calls_dnd};
use ghlsync_store::{Enqueued, Store};
use serde::Serialize;
use serde_json::{Value, json};

use super::calls::{Ghl, GhlCall};
use crate::app::{App, now_ms};
use crate::delivery::JobError;
use crate::error::ApiError;

/// ghlsync's path of the trigger.
pub(crate) const TRIGGER_PATH: &str = "/api/v1/broadcasts/trigger";
/// The seed's path, so an existing workflow only changes its host.
pub(crate) const SEED_TRIGGER_PATH: &str = "/functions/v1/ghl-webhook-trigger";

/// `POST /api/v1/broadcasts/trigger` (and the seed's path).
pub(crate) async fn trigger(State(app): State<App>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let value: Value = serde_json::from_slice(&body).map_err(ApiError::malformed_json)?;
    let request = read_trigger(&value).map_err(|e| {
        if e.field == "webhook_key" {
            ApiError::unauthorized("missing_credentials", "Invalid or missing webhook key")
                .field("webhook_key")
        } else {
            ApiError::invalid_field(e.field, e.message)
        }
    })?;
    let (key, owner) = crate::broadcasts::owner_of_webhook_key(app.store(), &request.webhook_key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_credentials", "Invalid or missing webhook key")
                .field("webhook_key")
        })?;
    within_limit(&app, &key).await?;
    match request.action {
        TriggerAction::Test => {
            let broadcasts = app
                .store()
                .broadcasts(&owner.id)
                .await
                .map_err(ApiError::internal)?;
            Ok(Json(json!({
                "success": true,
                "message": "Webhook key is valid",
                "owner_id": owner.id,
                "owner_name": owner.name,
                "broadcasts": broadcasts.len(),
            })))
        }
        TriggerAction::ListBroadcasts => {
            let broadcasts = app
                .store()
                .broadcasts(&owner.id)
                .await
                .map_err(ApiError::internal)?;
            let list: Vec<Value> = broadcasts
                .iter()
                .map(|b| {
                    json!({
                        "id": b.id, "name": b.name, "status": b.status,
                        "accepts_contacts": b.status.takes_numbers(),
                        "max_attempts": b.max_attempts, "retry_delay_ms": b.retry_delay_ms,
                        "calling_window": b.window,
                    })
                })
                .collect();
            Ok(Json(json!({"success": true, "broadcasts": list})))
        }
        TriggerAction::AddToBroadcast(add) => add_to_broadcast(&app, &owner, add).await.map(Json),
    }
}

/// Seed 004's limit: so many requests per minute per key (counted in the store, so every
/// instance shares it).
async fn within_limit(app: &App, key: &OwnerKey) -> Result<(), ApiError> {
    let limit = app.config().broadcasts.trigger_per_minute;
    let now = now_ms();
    let start = now - now.rem_euclid(60_000);
    let granted = app
        .store()
        .window_take(&format!("trigger:{}", key.id), start, limit, 1)
        .await
        .map_err(ApiError::internal)?;
    if granted == 0 {
        return Err(ApiError::too_many(
            "rate_limited",
            format!("Rate limit exceeded: {limit} requests per minute per webhook key"),
            ((start + 60_000 - now) as u64).div_ceil(1000),
        ));
    }
    Ok(())
}

/// Not queued, and why: answered 200 (the request was right; GHL retries only 429s).
fn refused(reason: &str, message: String, broadcast: &ghlsync_core::broadcast::Broadcast) -> Value {
    json!({
        "success": false,
        "queued": false,
        "reason": reason,
        "broadcast_name": broadcast.name,
        "broadcast_status": broadcast.status,
        "message": message,
    })
}

async fn add_to_broadcast(
    app: &App,
    owner: &Owner,
    add: AddToBroadcast,
) -> Result<Value, ApiError> {
    let not_found = || {
        ApiError::not_found(
            "broadcast_not_found",
            "Broadcast not found: check the broadcast_id, that the broadcast is yours and that it is not completed or cancelled",
        )
        .field("broadcast_id")
    };
    let broadcast = app
        .store()
        .broadcast(&owner.id, &add.broadcast_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|b| b.status.takes_numbers())
        .ok_or_else(not_found)?;
    let phone = normalize_phone(&add.phone, owner.region.as_deref())
        .map_err(|e| ApiError::invalid_field("phone", e.to_string()))?;
    if app
        .store()
        .is_dnc(&owner.id, &phone)
        .await
        .map_err(ApiError::internal)?
    {
        return Ok(refused(
            "dnc",
            format!("{phone} is on the Do-Not-Call list; not queued"),
            &broadcast,
        ));
    }
    let mut contact_timezone = None;
    if let Some(contact_id) = &add.ghl_contact_id {
        let contact = ghl_contact(app, owner, contact_id).await?;
        if let Some(why) = calls_dnd(&contact) {
            return Ok(refused("dnd", format!("{why}; not queued"), &broadcast));
        }
        contact_timezone = contact
            .get("timezone")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let fallback = zone(&owner.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut zones = zone_names(&zones_of(contact_timezone.as_deref(), &phone, &fallback));
    if zones.is_empty() {
        zones.push(owner.timezone.clone());
    }
    let now = app.broadcast_now();
    let item = QueueItem {
        id: QueueItemId(uuid::Uuid::new_v4().to_string()),
        owner_id: owner.id.clone(),
        broadcast_id: broadcast.id.clone(),
        position: 0,
        phone,
        name: add.name,
        email: add.email,
        ghl_contact_id: add.ghl_contact_id,
        zones,
        state: QueueState::Queued,
        attempts: 0,
        due_at: now,
        lease_id: None,
        lease_until: None,
        last_outcome: None,
        created_at: now,
    };
    let answer = |id: &QueueItemId, position: i64, duplicate: bool, message: &str| {
        json!({
            "success": true,
            "queue_item_id": id,
            "position": position,
            "broadcast_name": broadcast.name,
            "broadcast_status": broadcast.status,
            "duplicate": duplicate,
            "message": message,
        })
    };
    match app
        .store()
        .enqueue_number(&item)
        .await
        .map_err(ApiError::internal)?
    {
        Enqueued::Added { position } => Ok(answer(
            &item.id,
            position,
            false,
            "Contact added to broadcast queue",
        )),
        // A number twice in a broadcast is skipped (seed 004), and a GHL retry of the same
        // request is answered as the first was.
        Enqueued::Duplicate { id, position } => Ok(answer(
            &id,
            position,
            true,
            "This phone number is already in the broadcast; skipped",
        )),
        Enqueued::Closed => Err(not_found()),
    }
}

/// The GHL contact as JSON: the mirror's copy when it carries GHL's DND settings (GHL's
/// webhooks keep it current), else read from GHL through the location's limiter. A read
/// that cannot be made now is a 429: the workflow tries again, and nothing is queued
/// unchecked.
async fn ghl_contact(app: &App, owner: &Owner, id: &ghl::ContactId) -> Result<Value, ApiError> {
    if let Some(row) = app
        .store()
        .contact(&owner.location_id, id)
        .await
        .map_err(ApiError::internal)?
        && !row.deleted
        && row.payload.get("dndSettings").is_some()
    {
        return Ok(row.payload);
    }
    let location = app
        .location(&owner.location_id)
        .await
        .map_err(ApiError::internal)?
        .filter(|l| l.active)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "ghl_contact_id",
                format!(
                    "the owner's location {} is not registered or not active, so the contact's DND cannot be checked",
                    owner.location_id
                ),
            )
        })?;
    let ghl = Ghl::new(app, &location).map_err(|e| ApiError::internal(e.to_string()))?;
    let target = id.clone();
    match ghl
        .call(GhlCall::GetContact, |c| async move {
            c.get_contact(&target).await
        })
        .await
    {
        Ok(contact) => Ok(serde_json::to_value(&contact).unwrap_or(Value::Null)),
        Err(JobError::Held { until }) => Err(ApiError::too_many(
            "ghl_busy",
            "GHL's limit for this location is spent for now; the contact's DND is checked when you retry",
            ((until - now_ms()).max(0) as u64).div_ceil(1000),
        )),
        Err(JobError::Permanent { message, .. }) => Err(ApiError::invalid_field(
            "ghl_contact_id",
            format!(
                "GHL has no such contact in location {}: {message}",
                owner.location_id
            ),
        )),
        Err(other) => Err(ApiError::too_many(
            "ghl_unavailable",
            format!("GHL could not be asked about the contact ({other}); retry"),
            10,
        )),
    }
}

/// What "Setup Broadcast Fields" found and made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FieldsSetup {
    /// Fields the location had: key and id.
    pub existed: Vec<(String, String)>,
    /// Fields created: key and id.
    pub created: Vec<(String, String)>,
}

/// Creates the six broadcast fields the location lacks, with the seed's types, finding
/// existing ones by key first and then by name.
pub(crate) async fn setup_fields(app: &App, location: &Location) -> Result<FieldsSetup, JobError> {
    let ghl = Ghl::new(app, location)?;
    let fields = ghl.contact_fields().await?;
    let mut setup = FieldsSetup::default();
    for (key, name, data_type) in BROADCAST_FIELDS {
        let found = fields
            .iter()
            .find(|f| f.short_key() == Some(key))
            .or_else(|| {
                fields.iter().find(|f| {
                    f.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            });
        if let Some(f) = found {
            setup.existed.push((key.to_owned(), f.id.to_string()));
            continue;
        }
        let field = NewCustomField {
            name: name.to_owned(),
            data_type: data_type.clone(),
            placeholder: None,
            text_box_list_options: None,
            position: None,
            model: Some(CustomFieldModel::Contact),
            field_key: Some(format!("contact.{key}")),
        };
        let location_id = location.id.clone();
        let created = ghl
            .call(GhlCall::CreateCustomField, |c| async move {
                c.create_custom_field(&location_id, &field).await
            })
            .await?;
        setup.created.push((key.to_owned(), created.id.to_string()));
    }
    // The next job reads the location's fields again.
    app.connector_state()
        .ghl
        .fields
        .write()
        .await
        .remove(&location.id);
    Ok(setup)
}
