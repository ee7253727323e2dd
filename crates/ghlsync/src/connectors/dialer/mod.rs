//! The dialer engine (seed 004's `voice-broadcast-engine`): it leases due numbers of a
//! broadcast (`POST /api/v1/dialer/lease`, the owner's engine secret as a bearer token),
//! calls them, and reports each call's outcome (`POST /api/v1/dialer/outcomes`, signed
//! HMAC-SHA256 over `timestamp.body` with that secret, a 5-minute window, recorded once by
//! the engine's event id). The wire types are the `dialer` crate's; the engine simulator is
//! `dialer-sim`. The batch callback (`ghl-batch-callback`) turns final outcomes into GHL
//! jobs. ghlsync makes no call to the dialer: the engine pulls.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use ghlsync_core::Millis;
use ghlsync_core::broadcast::{
    BroadcastId, CallOutcome, CallReport, CallResult, Owner, OwnerId, QueueItemId, Recorded,
};
use ghlsync_core::callback::PendingScope;
use ghlsync_store::Store;
use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{App, now_ms};
use crate::error::ApiError;

/// ghlsync's path of the batch callback.
const CALLBACK_PATH: &str = "/api/v1/broadcasts/callback";
/// The seed's path.
const SEED_CALLBACK_PATH: &str = "/functions/v1/ghl-batch-callback";

/// The dialer's routes and the batch callback.
pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route(dialer::LEASE_PATH, post(lease))
        .route(dialer::OUTCOMES_PATH, post(outcomes))
        .route(CALLBACK_PATH, post(callback))
        .route(SEED_CALLBACK_PATH, post(callback))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn engine_owner(app: &App, headers: &HeaderMap) -> Result<Owner, ApiError> {
    let secret = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_credentials",
            "an engine secret is required as a bearer token",
        )
    })?;
    crate::broadcasts::owner_of_engine_secret(app.store(), secret)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unauthorized("invalid_credentials", "unknown engine secret"))
}

fn rfc3339(at: Millis) -> Option<Timestamp> {
    Timestamp::from_millisecond(at).ok()
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(ApiError::malformed_json)?;
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let field = message.split('`').nth(1).unwrap_or("body").to_owned();
        ApiError::invalid_field(&field, message)
    })
}

/// `POST /api/v1/dialer/lease`.
async fn lease(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let owner = engine_owner(&app, &headers).await?;
    let request: dialer::LeaseRequest = json_body(&body)?;
    request
        .validate()
        .map_err(|d| ApiError::invalid_field(d.field.as_deref().unwrap_or("body"), d.message))?;
    let broadcast = app
        .store()
        .broadcast(&owner.id, &BroadcastId(request.broadcast_id.clone()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found("broadcast_not_found", "no such broadcast").field("broadcast_id")
        })?;
    let now = app.broadcast_now();
    let leased = crate::broadcasts::lease(
        app.store(),
        &owner,
        &broadcast,
        request.limit,
        Millis::from(request.lease_seconds) * 1000,
        now,
    )
    .await
    .map_err(ApiError::internal)?;
    let items: Vec<dialer::LeasedItem> = leased
        .items
        .iter()
        .map(|i| dialer::LeasedItem {
            queue_item_id: i.id.0.clone(),
            phone: i.phone.as_str().to_owned(),
            name: i.name.clone(),
            email: i.email.clone(),
            ghl_contact_id: i.ghl_contact_id.as_ref().map(ToString::to_string),
            attempt: i.attempts + 1,
        })
        .collect();
    let answer = dialer::Lease {
        broadcast_id: broadcast.id.0.clone(),
        broadcast_status: broadcast.status.as_str().to_owned(),
        lease_id: leased.lease_id,
        lease_expires_at: rfc3339(leased.until).unwrap_or(Timestamp::UNIX_EPOCH),
        items,
        next_due_at: leased.next_due.and_then(rfc3339),
    };
    Ok(Json(
        serde_json::to_value(answer).map_err(ApiError::internal)?,
    ))
}

/// `POST /api/v1/dialer/outcomes`: verified over the raw bytes before anything is read.
async fn outcomes(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let header_of = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let owner_id = header_of(dialer::OWNER_HEADER).ok_or_else(|| {
        ApiError::unauthorized("missing_credentials", "X-Dialer-Owner is required")
            .field(dialer::OWNER_HEADER)
    })?;
    let owner_id = OwnerId(owner_id.trim().to_owned());
    let invalid = || {
        ApiError::unauthorized(
            "invalid_signature",
            "the report's signature does not check out",
        )
    };
    let secret = crate::broadcasts::engine_secret(&app, &owner_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(invalid)?;
    dialer::verify(
        secret.expose_secret().as_bytes(),
        header_of(dialer::TIMESTAMP_HEADER),
        header_of(dialer::SIGNATURE_HEADER),
        &body,
        now_ms() / 1000,
    )
    .map_err(|e| ApiError::unauthorized("invalid_signature", e.to_string()))?;
    let owner = app
        .store()
        .owner(&owner_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(invalid)?;
    let report: dialer::OutcomeReport = json_body(&body)?;
    if report.event_id.trim().is_empty() {
        return Err(ApiError::invalid_field("event_id", "event_id is required"));
    }
    let outcome: CallOutcome = report.outcome.as_str().parse().map_err(|_| {
        ApiError::invalid_field(
            "outcome",
            format!("unknown outcome {}", report.outcome.as_str()),
        )
    })?;
    let call = CallReport {
        event_id: report.event_id.clone(),
        queue_item_id: QueueItemId(report.queue_item_id.clone()),
        lease_id: report.lease_id.clone(),
        result: CallResult {
            outcome,
            duration_seconds: report.duration_seconds,
            called_at: report.called_at.as_millisecond(),
            dtmf_pressed: report.dtmf_pressed.clone().filter(|d| !d.is_empty()),
            callback_requested: report.callback_requested,
            callback_time: report.callback_time.map(|t| t.as_millisecond()),
        },
    };
    let recorded = crate::broadcasts::record(&app, &owner, &call)
        .await
        .map_err(ApiError::internal)?;
    let (status, final_outcome, next) = match recorded {
        Recorded::Recorded {
            final_outcome,
            retry_at,
        } => (dialer::ReceiptStatus::Recorded, final_outcome, retry_at),
        Recorded::Duplicate { final_outcome } => {
            (dialer::ReceiptStatus::Duplicate, final_outcome, None)
        }
        Recorded::AlreadyFinal => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "already_final",
                "this queue item's outcome is final already; the report changes nothing",
            )
            .field("queue_item_id"));
        }
        Recorded::NotFound => {
            return Err(
                ApiError::not_found("queue_item_not_found", "no such queue item")
                    .field("queue_item_id"),
            );
        }
    };
    let receipt = dialer::OutcomeReceipt {
        status,
        queue_item_id: report.queue_item_id,
        final_outcome,
        next_attempt_at: next.and_then(rfc3339),
    };
    Ok(Json(
        serde_json::to_value(receipt).map_err(ApiError::internal)?,
    ))
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum CallbackRequest {
    ProcessBroadcast {
        broadcast_id: String,
    },
    ProcessPending {
        #[serde(default)]
        user_id: Option<String>,
    },
    GetStatus {
        broadcast_id: String,
    },
}

/// `POST /api/v1/broadcasts/callback` (seed 004's `ghl-batch-callback`): the admin token
/// (the seed's service role) acts for everyone; an owner's engine secret for that owner
/// alone, and another owner's broadcast is not found.
async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let only = match crate::admin::authorize(&app, &headers) {
        Ok(()) => None,
        Err(_) => Some(engine_owner(&app, &headers).await?),
    };
    let value: Value = serde_json::from_slice(&body).map_err(ApiError::malformed_json)?;
    let request: CallbackRequest = serde_json::from_value(value).map_err(|e| {
        ApiError::invalid_field(
            "action",
            format!("{e}: the actions are process_broadcast, process_pending, get_status"),
        )
    })?;
    let broadcast_scope = |id: String| async {
        let owner = match &only {
            Some(o) => o.id.clone(),
            None => find_owner_of_broadcast(&app, &id).await?,
        };
        let found = app
            .store()
            .broadcast(&owner, &BroadcastId(id.clone()))
            .await
            .map_err(ApiError::internal)?;
        if found.is_none() {
            return Err(
                ApiError::not_found("broadcast_not_found", "no such broadcast")
                    .field("broadcast_id"),
            );
        }
        Ok(PendingScope {
            owner: Some(owner),
            broadcast: Some(BroadcastId(id)),
        })
    };
    match request {
        CallbackRequest::ProcessBroadcast { broadcast_id } => {
            let scope = broadcast_scope(broadcast_id).await?;
            run(&app, &scope).await
        }
        CallbackRequest::ProcessPending { user_id } => {
            let owner = match (&only, user_id) {
                (Some(o), Some(u)) if u != o.id.0 => {
                    return Err(
                        ApiError::not_found("owner_not_found", "no such user").field("user_id")
                    );
                }
                (Some(o), _) => Some(o.id.clone()),
                (None, u) => u.map(OwnerId),
            };
            run(
                &app,
                &PendingScope {
                    owner,
                    broadcast: None,
                },
            )
            .await
        }
        CallbackRequest::GetStatus { broadcast_id } => {
            let scope = broadcast_scope(broadcast_id).await?;
            let (counts, _) = crate::broadcasts::status(app.store(), &scope)
                .await
                .map_err(ApiError::internal)?;
            Ok(Json(
                json!({"success": true, "total": counts.total, "counts": counts.by_status}),
            ))
        }
    }
}

async fn run(app: &App, scope: &PendingScope) -> Result<Json<Value>, ApiError> {
    let run = crate::broadcasts::process(app.store(), scope, now_ms())
        .await
        .map_err(ApiError::internal)?;
    app.wake_dispatcher().notify_one();
    Ok(Json(
        json!({"success": true, "processed": run.taken, "jobs": run.jobs}),
    ))
}

/// With the admin token, a broadcast is named by id alone: its owner is looked up.
async fn find_owner_of_broadcast(app: &App, id: &str) -> Result<OwnerId, ApiError> {
    app.store()
        .broadcast_owner(&BroadcastId(id.to_owned()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found("broadcast_not_found", "no such broadcast").field("broadcast_id")
        })
}
