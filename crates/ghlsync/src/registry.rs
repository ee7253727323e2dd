//! Registering locations, workflow routes and API keys: what `ghlsync locations`, `ghlsync
//! routes` and `ghlsync keys` do, shared with the demo and the tests. Secrets are sealed
//! before they reach the store; API key secrets are only hashed.

use ghl::LocationId;
use ghlsync_core::process::RouteAction;
use ghlsync_core::{ApiKey, IntegrationType, Location, RouteAuth, RouteDedupe, WorkflowRoute};
use ghlsync_store::{AnyStore, Store};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::app::now_ms;
use crate::secrets::{Cipher, route_context, token_context};

/// Adds a location, or replaces its name, type, token and mapping.
pub async fn add_location(
    store: &AnyStore,
    cipher: &Cipher,
    id: &LocationId,
    name: &str,
    integration_type: IntegrationType,
    token: &SecretString,
    field_mapping: Value,
) -> anyhow::Result<()> {
    anyhow::ensure!(!id.as_str().trim().is_empty(), "the location id is empty");
    anyhow::ensure!(
        field_mapping.is_object(),
        "the field mapping must be a JSON object of key -> field id"
    );
    let now = now_ms();
    let existing = store.location(id).await?;
    let location = Location {
        id: id.clone(),
        name: name.to_owned(),
        integration_type,
        token_ciphertext: cipher.seal(&token_context(id.as_str()), token)?,
        field_mapping,
        active: true,
        last_sync_at: existing.as_ref().and_then(|l| l.last_sync_at),
        last_sync_status: existing.as_ref().and_then(|l| l.last_sync_status),
        last_sync_error: existing.as_ref().and_then(|l| l.last_sync_error.clone()),
        created_at: existing.as_ref().map_or(now, |l| l.created_at),
        updated_at: now,
    };
    store.upsert_location(&location).await?;
    Ok(())
}

/// Replaces a location's token.
pub async fn rotate_token(
    store: &AnyStore,
    cipher: &Cipher,
    id: &LocationId,
    token: &SecretString,
) -> anyhow::Result<()> {
    let mut location = store
        .location(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no location {id}"))?;
    location.token_ciphertext = cipher.seal(&token_context(id.as_str()), token)?;
    location.updated_at = now_ms();
    store.upsert_location(&location).await?;
    Ok(())
}

/// A workflow route as its owner describes it; [`add_route`] stores it.
#[derive(Clone, Debug)]
pub struct RouteDefinition {
    /// The path segment: letters, digits, `-` and `_`.
    pub name: String,
    /// The location it belongs to.
    pub location_id: LocationId,
    /// How callers authenticate.
    pub auth: RouteAuth,
    /// What an event on it does.
    pub action: RouteAction,
    /// How a resent event is recognised.
    pub dedupe: RouteDedupe,
}

impl RouteDefinition {
    /// A route recognising resends the default way (the sender's `X-Idempotency-Key`,
    /// else the body within `server.dedupe_window_secs`).
    pub fn new(name: &str, location_id: &LocationId, auth: RouteAuth, action: RouteAction) -> Self {
        Self {
            name: name.to_owned(),
            location_id: location_id.clone(),
            auth,
            action,
            dedupe: RouteDedupe::default(),
        }
    }
}

/// Adds or replaces a workflow route of a registered location.
pub async fn add_route(
    store: &AnyStore,
    cipher: &Cipher,
    route: RouteDefinition,
    secret: &SecretString,
) -> anyhow::Result<()> {
    let RouteDefinition {
        name,
        location_id,
        auth,
        action,
        dedupe,
    } = route;
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "a route name is letters, digits, '-' and '_'"
    );
    anyhow::ensure!(
        store.location(&location_id).await?.is_some(),
        "no location {location_id}: add it first"
    );
    let route = WorkflowRoute {
        secret_ciphertext: cipher.seal(&route_context(&name), secret)?,
        name,
        location_id,
        auth,
        action,
        dedupe,
        created_at: now_ms(),
    };
    store.upsert_route(&route).await?;
    Ok(())
}

/// A random secret for a route: 32 bytes, hex.
pub fn generate_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    SecretString::from(hex::encode(bytes))
}

/// A key just created: the only moment its secret exists outside the caller's hands.
#[derive(Debug)]
pub struct NewApiKey {
    /// The stored record (hash only).
    pub key: ApiKey,
    /// `ghk_` and 40 hex digits; shown once.
    pub secret: SecretString,
}

/// The stored form of an API key's secret: hex SHA-256. The secret is 160 random bits, so
/// a fast hash is enough (no password stretching needed).
pub fn api_key_hash(secret: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

/// Creates an API key for a registered location's application events.
pub async fn create_api_key(
    store: &AnyStore,
    location_id: &LocationId,
    name: &str,
) -> anyhow::Result<NewApiKey> {
    anyhow::ensure!(!name.trim().is_empty(), "the key name is empty");
    anyhow::ensure!(
        store.location(location_id).await?.is_some(),
        "no location {location_id}; add it first with `ghlsync locations add`"
    );
    let mut id = [0u8; 6];
    let mut secret = [0u8; 20];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| anyhow::anyhow!("no randomness"))?;
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let secret = format!("ghk_{}", hex::encode(secret));
    let key = ApiKey {
        id: format!("key_{}", hex::encode(id)),
        location_id: location_id.clone(),
        name: name.trim().to_owned(),
        secret_hash: api_key_hash(&secret),
        prefix: secret[..12].to_owned(),
        created_at: now_ms(),
        revoked_at: None,
    };
    store.insert_api_key(&key).await?;
    Ok(NewApiKey {
        key,
        secret: SecretString::from(secret),
    })
}

/// Random hex of `n` bytes.
fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(hex::encode(bytes))
}

/// An owner just created, or a key just rotated: the only moment the key exists outside
/// the caller's hands.
#[derive(Debug)]
pub struct NewOwnerKey {
    /// The stored key (hash only).
    pub key: ghlsync_core::broadcast::OwnerKey,
    /// The secret, to show once: seed 004's `webhook_key`.
    pub secret: SecretString,
}

/// Adds a dialer user (seed 004's owner) for a registered location, checking its region and
/// time zone, and makes its first webhook key.
pub async fn add_owner(
    store: &AnyStore,
    name: &str,
    location_id: &LocationId,
    region: Option<&str>,
    timezone: &str,
) -> anyhow::Result<(ghlsync_core::broadcast::Owner, NewOwnerKey)> {
    anyhow::ensure!(!name.trim().is_empty(), "the owner's name is empty");
    anyhow::ensure!(
        store.location(location_id).await?.is_some(),
        "no location {location_id}; add it first with `ghlsync locations add`"
    );
    if let Some(r) = region {
        anyhow::ensure!(
            ghlsync_core::broadcast::is_region(r),
            "{r:?} is not a region (an ISO 3166 country code such as US)"
        );
    }
    anyhow::ensure!(
        ghlsync_core::broadcast::zone(timezone).is_some(),
        "{timezone:?} is not an IANA time zone (America/New_York, Europe/Madrid, ...)"
    );
    let owner = ghlsync_core::broadcast::Owner {
        id: ghlsync_core::broadcast::OwnerId(format!("own_{}", random_hex(6)?)),
        name: name.trim().to_owned(),
        location_id: location_id.clone(),
        region: region.map(|r| r.trim().to_ascii_uppercase()),
        timezone: timezone.trim().to_owned(),
        created_at: now_ms(),
    };
    store.upsert_owner(&owner).await?;
    let key = rotate_owner_key(store, &owner.id).await?;
    Ok((owner, key))
}

/// A new webhook key for an owner; the one it replaces stops working at once.
pub async fn rotate_owner_key(
    store: &AnyStore,
    owner: &ghlsync_core::broadcast::OwnerId,
) -> anyhow::Result<NewOwnerKey> {
    anyhow::ensure!(store.owner(owner).await?.is_some(), "no owner {owner}");
    let secret = format!("whk_{}", random_hex(20)?);
    let key = ghlsync_core::broadcast::OwnerKey {
        id: format!("okey_{}", random_hex(6)?),
        owner_id: owner.clone(),
        secret_hash: api_key_hash(&secret),
        prefix: secret[..12].to_owned(),
        created_at: now_ms(),
        revoked_at: None,
    };
    store.rotate_owner_key(&key, now_ms()).await?;
    Ok(NewOwnerKey {
        key,
        secret: SecretString::from(secret),
    })
}

/// Creates a broadcast of an owner, active.
pub async fn create_broadcast(
    store: &AnyStore,
    owner: &ghlsync_core::broadcast::OwnerId,
    name: &str,
    max_attempts: u32,
    retry_delay_ms: i64,
    window: ghlsync_core::broadcast::CallingWindow,
) -> anyhow::Result<ghlsync_core::broadcast::Broadcast> {
    anyhow::ensure!(!name.trim().is_empty(), "the broadcast's name is empty");
    anyhow::ensure!(
        (1..=20).contains(&max_attempts),
        "max attempts must be 1 to 20"
    );
    anyhow::ensure!(retry_delay_ms >= 0, "the retry delay must not be negative");
    anyhow::ensure!(window.start != window.end, "the calling window is empty");
    anyhow::ensure!(store.owner(owner).await?.is_some(), "no owner {owner}");
    let now = now_ms();
    let broadcast = ghlsync_core::broadcast::Broadcast {
        id: ghlsync_core::broadcast::BroadcastId(format!("bc_{}", random_hex(6)?)),
        owner_id: owner.clone(),
        name: name.trim().to_owned(),
        status: ghlsync_core::broadcast::BroadcastStatus::Active,
        max_attempts,
        retry_delay_ms,
        window,
        created_at: now,
        updated_at: now,
    };
    store.upsert_broadcast(&broadcast).await?;
    Ok(broadcast)
}

/// Moves one of an owner's broadcasts to `to` (pause, resume, complete, cancel), if its
/// status allows it.
pub async fn set_broadcast_status(
    store: &AnyStore,
    owner: &ghlsync_core::broadcast::OwnerId,
    id: &ghlsync_core::broadcast::BroadcastId,
    to: ghlsync_core::broadcast::BroadcastStatus,
) -> anyhow::Result<ghlsync_core::broadcast::Broadcast> {
    let current = store
        .broadcast(owner, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("owner {owner} has no broadcast {id}"))?;
    anyhow::ensure!(
        current.status.may_become(to),
        "broadcast {id} is {}; it cannot become {}",
        current.status.as_str(),
        to.as_str()
    );
    anyhow::ensure!(
        store
            .set_broadcast_status(owner, id, current.status, to, now_ms())
            .await?,
        "broadcast {id} changed meanwhile; try again"
    );
    store
        .broadcast(owner, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("broadcast {id} is gone"))
}

/// A dialer engine's secret just made: shown once. The engine sends it as a bearer token
/// to lease numbers and signs its outcome reports with it.
#[derive(Debug)]
pub struct NewEngineSecret {
    /// `dsk_` and 40 hex digits.
    pub secret: SecretString,
}

/// A new engine secret for an owner (sealed and hashed in the store); the one before stops
/// working at once.
pub async fn rotate_engine_secret(
    store: &AnyStore,
    cipher: &crate::secrets::Cipher,
    owner: &ghlsync_core::broadcast::OwnerId,
) -> anyhow::Result<NewEngineSecret> {
    use base64::Engine as _;
    anyhow::ensure!(store.owner(owner).await?.is_some(), "no owner {owner}");
    let secret = SecretString::from(format!("dsk_{}", random_hex(20)?));
    let sealed = cipher.seal(&crate::secrets::engine_context(owner.as_str()), &secret)?;
    store
        .set_engine_secret(
            owner,
            &api_key_hash(secret.expose_secret()),
            &base64::engine::general_purpose::STANDARD.encode(sealed),
            now_ms(),
        )
        .await?;
    Ok(NewEngineSecret { secret })
}
