//! Seed 004's owners and broadcasts on the admin API: what `ghlsync owners` and
//! `ghlsync broadcasts` do from the command line. The admin token acts for every owner;
//! an owner or broadcast that does not exist is 404 naming the path's id.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use ghlsync_core::broadcast::{
    Broadcast, BroadcastId, BroadcastStatus, CallingWindow, Owner, OwnerId, normalize_phone,
};
use ghlsync_core::callback::PendingScope;
use ghlsync_store::Store;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use super::authorize;
use crate::app::{App, now_ms};
use crate::error::ApiError;

/// The owner and broadcast routes under `/admin`.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/admin/owners", get(list_owners).post(add_owner))
        .route(
            "/admin/owners/{owner}/webhook-key",
            post(rotate_webhook_key),
        )
        .route(
            "/admin/owners/{owner}/engine-secret",
            post(rotate_engine_secret),
        )
        .route("/admin/owners/{owner}/dnc", post(add_dnc))
        .route(
            "/admin/owners/{owner}/broadcasts",
            get(list_broadcasts).post(create_broadcast),
        )
        .route("/admin/owners/{owner}/broadcasts/{id}", get(one_broadcast))
        .route(
            "/admin/owners/{owner}/broadcasts/{id}/{action}",
            post(change_broadcast),
        )
        .route("/admin/owners/{owner}/broadcasts/{id}/queue", get(queue))
        .route(
            "/admin/owners/{owner}/broadcasts/{id}/callbacks",
            get(callbacks),
        )
}

async fn owner(app: &App, id: &str) -> Result<Owner, ApiError> {
    app.store()
        .owner(&OwnerId(id.to_owned()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("owner_not_found", "no such owner").field("owner"))
}

async fn broadcast(app: &App, owner: &Owner, id: &str) -> Result<Broadcast, ApiError> {
    app.store()
        .broadcast(&owner.id, &BroadcastId(id.to_owned()))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("broadcast_not_found", "no such broadcast").field("id"))
}

fn body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::invalid_field("body", e.to_string())
        } else {
            ApiError::malformed_json(e)
        }
    })
}

async fn list_owners(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let mut owners = Vec::new();
    for o in app.store().owners().await.map_err(ApiError::internal)? {
        let keys = app
            .store()
            .owner_keys(&o.id)
            .await
            .map_err(ApiError::internal)?;
        // `OwnerKey` never serialises its hash.
        let live: Vec<_> = keys
            .into_iter()
            .filter(|k| k.revoked_at.is_none())
            .collect();
        let mut row = serde_json::to_value(&o).map_err(ApiError::internal)?;
        row["webhook_keys"] = json!(live);
        owners.push(row);
    }
    Ok(Json(json!({ "owners": owners })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOwner {
    name: String,
    location_id: String,
    region: Option<String>,
    timezone: Option<String>,
}

/// Adds an owner; answers its webhook key and engine secret, the only time they are shown.
async fn add_owner(
    State(app): State<App>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&app, &headers)?;
    let new: NewOwner = body(&raw)?;
    if new.name.trim().is_empty() {
        return Err(ApiError::invalid_field("name", "the owner's name is empty"));
    }
    let location = ghl::LocationId::new(&new.location_id);
    if app
        .store()
        .location(&location)
        .await
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(
            ApiError::not_found("location_not_found", "no such location").field("location_id"),
        );
    }
    if let Some(r) = &new.region
        && !ghlsync_core::broadcast::is_region(r)
    {
        return Err(ApiError::invalid_field(
            "region",
            format!("{r:?} is not a region (an ISO 3166 country code such as US)"),
        ));
    }
    let timezone = new.timezone.as_deref().unwrap_or("America/New_York");
    if ghlsync_core::broadcast::zone(timezone).is_none() {
        return Err(ApiError::invalid_field(
            "timezone",
            format!("{timezone:?} is not an IANA time zone"),
        ));
    }
    let (owner, key) = crate::registry::add_owner(
        app.store(),
        &new.name,
        &location,
        new.region.as_deref(),
        timezone,
    )
    .await
    .map_err(ApiError::internal)?;
    let engine = crate::registry::rotate_engine_secret(app.store(), app.cipher(), &owner.id)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "owner": owner,
            "webhook_key": key.secret.expose_secret(),
            "engine_secret": engine.secret.expose_secret(),
        })),
    ))
}

async fn rotate_webhook_key(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &id).await?;
    let key = crate::registry::rotate_owner_key(app.store(), &owner.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"key": key.key, "webhook_key": key.secret.expose_secret()}),
    ))
}

async fn rotate_engine_secret(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &id).await?;
    let engine = crate::registry::rotate_engine_secret(app.store(), app.cipher(), &owner.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"engine_secret": engine.secret.expose_secret()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Numbers {
    numbers: Vec<String>,
}

/// Adds numbers to an owner's Do-Not-Call list; a number that is not valid refuses the
/// whole request, naming it.
async fn add_dnc(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &id).await?;
    let Numbers { numbers } = body(&raw)?;
    let mut phones = Vec::with_capacity(numbers.len());
    for (i, n) in numbers.iter().enumerate() {
        phones.push(
            normalize_phone(n, owner.region.as_deref())
                .map_err(|e| ApiError::invalid_field(&format!("numbers[{i}]"), e.to_string()))?,
        );
    }
    let added = app
        .store()
        .add_dnc(&owner.id, &phones, now_ms())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({"added": added, "already_listed": phones.len() as u64 - added}),
    ))
}

async fn list_broadcasts(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &id).await?;
    let broadcasts = app
        .store()
        .broadcasts(&owner.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "broadcasts": broadcasts })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBroadcast {
    name: String,
    #[serde(default = "default_attempts")]
    max_attempts: u32,
    #[serde(default = "default_retry_minutes")]
    retry_delay_minutes: i64,
    /// `HH:MM-HH:MM`.
    window: Option<String>,
}

fn default_attempts() -> u32 {
    3
}

fn default_retry_minutes() -> i64 {
    60
}

async fn create_broadcast(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &id).await?;
    let new: NewBroadcast = body(&raw)?;
    if new.name.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "name",
            "the broadcast's name is empty",
        ));
    }
    if !(1..=20).contains(&new.max_attempts) {
        return Err(ApiError::invalid_field(
            "max_attempts",
            "max attempts must be 1 to 20",
        ));
    }
    if !(0..=10_080).contains(&new.retry_delay_minutes) {
        return Err(ApiError::invalid_field(
            "retry_delay_minutes",
            "the retry delay must be 0 to 10080 minutes (a week)",
        ));
    }
    let window = match &new.window {
        Some(w) => w
            .parse::<CallingWindow>()
            .map_err(|e| ApiError::invalid_field("window", e.to_string()))?,
        None => CallingWindow::default(),
    };
    let b = crate::registry::create_broadcast(
        app.store(),
        &owner.id,
        &new.name,
        new.max_attempts,
        new.retry_delay_minutes * 60_000,
        window,
    )
    .await
    .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "broadcast": b }))))
}

async fn one_broadcast(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &owner_id).await?;
    Ok(Json(
        json!({ "broadcast": broadcast(&app, &owner, &id).await? }),
    ))
}

/// `pause`, `resume`, `complete` or `cancel`; completing sends its final outcomes to GHL.
async fn change_broadcast(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner_id, id, action)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let to = match action.as_str() {
        "pause" => BroadcastStatus::Paused,
        "resume" => BroadcastStatus::Active,
        "complete" => BroadcastStatus::Completed,
        "cancel" => BroadcastStatus::Cancelled,
        _ => {
            return Err(ApiError::not_found(
                "unknown_action",
                format!("{action:?} is not pause, resume, complete or cancel"),
            )
            .field("action"));
        }
    };
    let owner = owner(&app, &owner_id).await?;
    let current = broadcast(&app, &owner, &id).await?;
    if !current.status.may_become(to) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "status_conflict",
            format!(
                "the broadcast is {}; it cannot become {}",
                current.status.as_str(),
                to.as_str()
            ),
        )
        .field("action"));
    }
    let (b, run) = crate::broadcasts::set_status(app.store(), &owner.id, &current.id, to, now_ms())
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "status_conflict", e.to_string()))?;
    if run.is_some_and(|r| r.jobs > 0) {
        app.wake_dispatcher().notify_one();
    }
    Ok(Json(json!({ "broadcast": b, "callback": run })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_page")]
    limit: u32,
}

fn default_page() -> u32 {
    100
}

/// The queue in order, each item with its `ghl_callback_status`; `next_after` pages on.
async fn queue(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner_id, id)): Path<(String, String)>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let Query(page) = page.map_err(|e| ApiError::invalid_field("query", e.body_text()))?;
    if !(1..=1_000).contains(&page.limit) {
        return Err(ApiError::invalid_field("limit", "limit must be 1 to 1000"));
    }
    let owner = owner(&app, &owner_id).await?;
    let b = broadcast(&app, &owner, &id).await?;
    let rows = crate::broadcasts::queue(app.store(), &owner.id, &b.id, page.after, page.limit)
        .await
        .map_err(ApiError::internal)?;
    let next_after = (rows.len() == page.limit as usize)
        .then(|| rows.last().map(|r| r.item.position))
        .flatten();
    Ok(Json(json!({ "items": rows, "next_after": next_after })))
}

/// The broadcast's pending updates with their status, and their counts.
async fn callbacks(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let owner = owner(&app, &owner_id).await?;
    let b = broadcast(&app, &owner, &id).await?;
    let scope = PendingScope {
        owner: Some(owner.id),
        broadcast: Some(b.id),
    };
    let (counts, views) = crate::broadcasts::status(app.store(), &scope)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "counts": counts, "pending_updates": views })))
}
