//! A local simulator of the GoHighLevel API, faithful to GHL's official OpenAPI files and
//! webhook documents: state per location, GHL's `Version` and bearer checks, NestJS error
//! shapes, duplicate rules, rate limits and headers, signed webhooks on every change, fault
//! injection and an audit log of every call.
//!
//! It builds its answers from its own model, not from the `ghl` client's types, so a field
//! name wrong in the client is not hidden by the same mistake here; the faithfulness tests
//! validate both against GHL's schemas.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ghl_sim::{LocationSpec, Simulator};
//!
//! let sim = Simulator::builder().start().await?;
//! let location = sim.add_location(LocationSpec::new("Acme"));
//! println!("GHL at {} for location {} with token {}", sim.base_url(), location.id, location.token);
//! # Ok(())
//! # }
//! ```

pub mod audit;
pub mod docs;
pub mod error;
pub mod faults;
mod http;
pub mod rate_limit;
pub mod seed;
pub mod util;
pub mod validate;
pub mod webhooks;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

pub use audit::{AuditEntry, Effect};
pub use faults::{FaultAction, FaultConfig, FaultRule};
pub use rate_limit::Limits;
pub use webhooks::{Delivery, SigningKeys, WebhookSettings};
pub use world::{CallSpec, LocationSettings, MatchField, Pipeline, Resource, Sentence, World};

use crate::audit::AuditLog;
use crate::faults::Faults;
use crate::rate_limit::RateLimiter;
use crate::webhooks::{PendingEvent, WebhookState};

/// State shared by the HTTP handlers and the handle.
pub(crate) struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) audit: Mutex<AuditLog>,
    pub(crate) webhooks: Arc<Mutex<WebhookState>>,
    pub(crate) keys: Arc<SigningKeys>,
    pub(crate) events: mpsc::UnboundedSender<PendingEvent>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the simulator's state half-written in a
    // way tests care about, so a poisoned lock is used anyway.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    pub(crate) fn send_events(&self, events: Vec<PendingEvent>) {
        if events.is_empty() {
            return;
        }
        lock(&self.webhooks).queued += events.len();
        for e in events {
            // The receiver lives as long as the runtime; a closed channel means shutdown.
            let _ = self.events.send(e);
        }
    }
}

/// A custom field to define on a new location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Display name.
    pub name: String,
    /// Key without prefix (`lead_score`).
    pub key: String,
    /// Data type (`TEXT`, `NUMERICAL`, ...).
    #[serde(default = "text_type")]
    pub data_type: String,
    /// `contact` or `opportunity`.
    #[serde(default = "contact_model")]
    pub model: String,
}

fn text_type() -> String {
    "TEXT".to_owned()
}
fn contact_model() -> String {
    "contact".to_owned()
}

impl FieldSpec {
    /// A contact field.
    pub fn contact(name: &str, key: &str, data_type: &str) -> Self {
        Self {
            name: name.into(),
            key: key.into(),
            data_type: data_type.into(),
            model: contact_model(),
        }
    }
}

/// A pipeline to create on a new location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineSpec {
    /// Name.
    pub name: String,
    /// Stage names in order.
    pub stages: Vec<String>,
}

/// A location to create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocationSpec {
    /// Name.
    pub name: String,
    /// Duplicate settings.
    #[serde(default)]
    pub settings: LocationSettings,
    /// Custom fields.
    #[serde(default)]
    pub custom_fields: Vec<FieldSpec>,
    /// Pipelines.
    #[serde(default)]
    pub pipelines: Vec<PipelineSpec>,
    /// Owning agency.
    #[serde(default)]
    pub company_id: Option<String>,
    /// IANA time zone of the business (GHL asks for one when a location is created).
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

impl LocationSpec {
    /// A location with default settings, no fields and no pipelines.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            settings: LocationSettings::default(),
            custom_fields: Vec::new(),
            pipelines: Vec::new(),
            company_id: None,
            timezone: default_timezone(),
        }
    }

    /// Sets the time zone.
    pub fn timezone(mut self, timezone: &str) -> Self {
        self.timezone = timezone.to_owned();
        self
    }

    /// Adds a contact custom field.
    pub fn field(mut self, name: &str, key: &str, data_type: &str) -> Self {
        self.custom_fields
            .push(FieldSpec::contact(name, key, data_type));
        self
    }

    /// Adds a pipeline.
    pub fn pipeline(mut self, name: &str, stages: &[&str]) -> Self {
        self.pipelines.push(PipelineSpec {
            name: name.to_owned(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        });
        self
    }

    /// Sets the duplicate settings.
    pub fn settings(mut self, settings: LocationSettings) -> Self {
        self.settings = settings;
        self
    }
}

/// A custom field of a created location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// Field id (differs per location).
    pub id: String,
    /// Key without prefix.
    pub key: String,
    /// Display name.
    pub name: String,
}

/// A created location with its Private Integration token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeededLocation {
    /// Location id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Private Integration token for this location.
    pub token: String,
    /// Custom fields.
    pub custom_fields: Vec<FieldInfo>,
    /// Pipelines with stage ids.
    pub pipelines: Vec<Pipeline>,
}

impl SeededLocation {
    /// The id of a custom field by key.
    pub fn field_id(&self, key: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.id.as_str())
    }
}

impl World {
    /// Creates a location from a spec, with a Private Integration token.
    pub fn create_location(&mut self, spec: &LocationSpec) -> SeededLocation {
        let id = self.add_location(&spec.name, spec.company_id.clone(), spec.settings.clone());
        if let Ok(location) = self.location_mut(&id) {
            location.timezone = spec.timezone.clone();
        }
        let token = self.add_private_token(Resource::Location(id.clone()));
        let custom_fields = spec
            .custom_fields
            .iter()
            .filter_map(|f| {
                self.add_custom_field(&id, &f.name, &f.key, &f.data_type, &f.model)
                    .ok()
            })
            .map(|r| FieldInfo {
                id: r.id.clone(),
                key: r.short_key().to_owned(),
                name: r.name,
            })
            .collect();
        let pipelines = spec
            .pipelines
            .iter()
            .filter_map(|p| {
                let stages: Vec<&str> = p.stages.iter().map(String::as_str).collect();
                self.add_pipeline(&id, &p.name, &stages).ok()
            })
            .collect();
        SeededLocation {
            id,
            name: spec.name.clone(),
            token,
            custom_fields,
            pipelines,
        }
    }
}

/// Options of a simulator.
#[derive(Debug)]
pub struct SimBuilder {
    listen: SocketAddr,
    limits: Limits,
    webhooks: WebhookSettings,
    keys: Option<SigningKeys>,
    id_seed: Option<u64>,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: Limits::default(),
            webhooks: WebhookSettings::default(),
            keys: None,
            id_seed: None,
        }
    }
}

impl SimBuilder {
    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Rate limits (default GHL's: 100 per 10 s, 200,000 per day).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Webhook subscribers and delivery settings.
    pub fn webhooks(mut self, settings: WebhookSettings) -> Self {
        self.webhooks = settings;
        self
    }

    /// Signing keys (default: generated).
    pub fn signing_keys(mut self, keys: SigningKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Makes generated ids reproducible.
    pub fn id_seed(mut self, seed: u64) -> Self {
        self.id_seed = Some(seed);
        self
    }

    /// Binds and serves in the background.
    pub async fn start(self) -> std::io::Result<SimHandle> {
        let keys = Arc::new(self.keys.unwrap_or_else(SigningKeys::generate));
        let webhooks = Arc::new(Mutex::new(WebhookState {
            settings: self.webhooks,
            deliveries: Vec::new(),
            queued: 0,
        }));
        let events = webhooks::spawn_emitter(Arc::clone(&webhooks), Arc::clone(&keys));
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(self.id_seed)),
            limiter: Mutex::new(RateLimiter::new(self.limits)),
            faults: Mutex::new(Faults::default()),
            audit: Mutex::new(AuditLog::default()),
            webhooks,
            keys,
            events,
        });
        let listener = tokio::net::TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = http::router(Arc::clone(&shared));
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(SimHandle {
            shared,
            addr,
            stop: Mutex::new(Some(stop_tx)),
        })
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
    }
}

/// Entry point.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Starts configuring a simulator.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }
}

impl SimHandle {
    /// `http://127.0.0.1:<port>`: use as the GHL client's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub fn shutdown(&self) {
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(());
        }
    }

    /// Runs `f` with the world locked (for setup and assertions).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.world())
    }

    /// Creates a location with a Private Integration token.
    pub fn add_location(&self, spec: LocationSpec) -> SeededLocation {
        self.with_world(|w| w.create_location(&spec))
    }

    /// Changes a location's duplicate settings.
    pub fn set_location_settings(&self, location_id: &str, settings: LocationSettings) {
        self.with_world(|w| {
            if let Ok(l) = w.location_mut(location_id) {
                l.settings = settings;
            }
        });
    }

    /// Contacts of a location as `GET /contacts/{id}` would render them, in creation order.
    pub fn contacts(&self, location_id: &str) -> Vec<Value> {
        self.with_world(|w| {
            w.location(location_id)
                .map(|l| l.render_contacts())
                .unwrap_or_default()
        })
    }

    /// Opportunities of a location.
    pub fn opportunities(&self, location_id: &str) -> Vec<Value> {
        self.with_world(|w| {
            w.location(location_id)
                .map(|l| l.render_opportunities())
                .unwrap_or_default()
        })
    }

    /// Pipelines of a location, with their stages in order.
    pub fn pipelines(&self, location_id: &str) -> Vec<Pipeline> {
        self.with_world(|w| {
            w.location(location_id)
                .map(|l| l.pipelines.clone())
                .unwrap_or_default()
        })
    }

    /// Records a call with a transcript and sends its webhook; returns the conversation
    /// and message ids.
    pub fn add_call(
        &self,
        location_id: &str,
        call: &CallSpec,
    ) -> Result<(String, String), error::SimError> {
        let mut changes = world::Changes::default();
        let ids = self.with_world(|w| w.add_call(location_id, call, &mut changes))?;
        self.shared.send_events(changes.events);
        Ok(ids)
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, config: FaultConfig) {
        lock(&self.shared.faults).set(config);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Changes the rate limits.
    pub fn set_limits(&self, limits: Limits) {
        lock(&self.shared.limiter).set_limits(limits);
    }

    /// Audit entries after `since` (0 for all).
    pub fn audit(&self, since: u64) -> Vec<AuditEntry> {
        lock(&self.shared.audit).since(since)
    }

    /// Clears the audit log.
    pub fn clear_audit(&self) {
        lock(&self.shared.audit).clear();
    }

    /// Replaces the webhook settings (subscribers, retry interval, signing).
    pub fn set_webhooks(&self, settings: WebhookSettings) {
        lock(&self.shared.webhooks).settings = settings;
    }

    /// The webhook settings.
    pub fn webhook_settings(&self) -> WebhookSettings {
        lock(&self.shared.webhooks).settings.clone()
    }

    /// Every webhook delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.webhooks).deliveries.clone()
    }

    /// The signing keys' public halves: (Ed25519, RSA) SPKI PEM.
    pub fn webhook_public_keys(&self) -> (String, String) {
        (
            self.shared.keys.ed25519_public_pem(),
            self.shared.keys.rsa_public_pem(),
        )
    }

    /// Waits until no webhook delivery is in flight (or the timeout passes); returns true
    /// when all finished.
    pub async fn wait_for_deliveries(&self, timeout: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = {
                let st = lock(&self.shared.webhooks);
                st.queued == 0 && st.deliveries.iter().all(|d| d.finished)
            };
            if done {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
