//! The running service: configuration, store, cipher, GHL client and the shared caches,
//! wired once and shared by ingress, workers and the admin API.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use axum::Router;
use ghl::LocationId;
use ghl::webhooks::WebhookVerifier;
use ghlsync_core::{Location, Millis, RouteAuth, WorkflowRoute};
use ghlsync_store::{AnyStore, Store, StoreError};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::{Notify, RwLock, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::ingress::{Deferred, Ingest, KeyedLimiter};
use crate::secrets::{Cipher, route_context};

/// HTTP worker threads when not configured: one core is left to the ingest writer, which
/// otherwise waits for a core at every step of a commit and makes every group commit
/// slower.
pub fn default_worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// A workflow route with its secret opened (cached for a few seconds).
pub struct CachedRoute {
    /// The route.
    pub route: WorkflowRoute,
    /// Its HMAC secret or webhook key.
    pub secret: SecretString,
    /// The HMAC key, for HMAC routes.
    pub hmac: Option<hmac::Key>,
}

/// A cached lookup: when it was made and what it found.
type Cached<V> = (Instant, Option<Arc<V>>);

/// Routes and locations change rarely and are read on every request or job; a short cache
/// keeps the store off the hot path while `ghlsync routes add` or `locations rotate-token`
/// in another process still takes effect within seconds.
pub(crate) struct TtlCache<K, V> {
    entries: RwLock<HashMap<K, Cached<V>>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V> TtlCache<K, V> {
    /// The cached answer, if it is fresh (`Some(None)` is a fresh "not found").
    async fn fresh<Q>(&self, key: &Q) -> Option<Option<Arc<V>>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().await;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, v)| v.clone())
    }

    async fn put(&self, key: K, value: Option<Arc<V>>) {
        self.entries
            .write()
            .await
            .insert(key, (Instant::now(), value));
    }
}

impl std::fmt::Debug for CachedRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedRoute")
            .field("route", &self.route)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

const CACHE_TTL: Duration = Duration::from_secs(5);

struct Inner {
    config: Config,
    rules: ghlsync_core::rules::RuleSet,
    store: AnyStore,
    cipher: Cipher,
    ghl: ghl::Client,
    verifier: WebhookVerifier,
    ingest: Ingest,
    routes: TtlCache<String, CachedRoute>,
    locations: TtlCache<LocationId, Location>,
    route_limiter: KeyedLimiter,
    deferred: Deferred,
    wake_processor: Arc<Notify>,
    wake_dispatcher: Arc<Notify>,
    metrics: PrometheusHandle,
    instance: String,
    delivery: crate::delivery::DeliveryState,
    connectors: crate::connectors::ConnectorState,
    forwarder: Option<crate::connectors::app::forward::Forwarder>,
    wake_callbacks: Arc<Notify>,
    broadcast_clock_offset: std::sync::atomic::AtomicI64,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("instance", &self.0.instance)
            .finish_non_exhaustive()
    }
}

/// The workers of a running app, stopped together.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Asks every worker to stop after its current unit of work and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl App {
    /// Connects the store (migrating it), loads the encryption key and builds the service.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let synchronous = config
            .database
            .synchronous
            .parse()
            .map_err(anyhow::Error::msg)?;
        let store = AnyStore::connect(&config.database.url, synchronous).await?;
        store.migrate().await?;
        let cipher = match &config.secrets.key {
            Some(key) => Cipher::from_base64(key.expose())?,
            None => {
                let path = config.key_file();
                let (cipher, created) = Cipher::from_key_file(&path)?;
                if created {
                    tracing::warn!(path = %path.display(), "created a new encryption key; back it up with the database");
                }
                cipher
            }
        };
        let verifier = if config.ghl.webhook_ed25519_keys.is_empty()
            && config.ghl.webhook_rsa_keys.is_empty()
        {
            WebhookVerifier::ghl()
        } else {
            let ed: Vec<&str> = config
                .ghl
                .webhook_ed25519_keys
                .iter()
                .map(String::as_str)
                .collect();
            let rsa: Vec<&str> = config
                .ghl
                .webhook_rsa_keys
                .iter()
                .map(String::as_str)
                .collect();
            WebhookVerifier::from_pems(&ed, &rsa)?
        };
        let ghl = ghl::Client::builder()
            .base_url(&config.ghl.base_url)
            .timeout(Duration::from_millis(config.ghl.timeout_ms))
            .user_agent(concat!("ghlsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let rules = config.rules.load()?;
        if let Some(rule) = rules.rules().iter().find(|r| r.forward)
            && config.forward.url.is_none()
        {
            anyhow::bail!(
                "rule {:?} ({}) forwards events, but forward.url is not set",
                rule.name,
                rule.origin
            );
        }
        let forwarder = crate::connectors::app::forward::Forwarder::new(&config.forward)?;
        let wake_processor = Arc::new(Notify::new());
        let ingest = Ingest::start(
            store.clone(),
            config.server.max_pending_events,
            config.server.max_batch,
            Duration::from_millis(config.server.max_commit_latency_ms),
            Arc::clone(&wake_processor),
        );
        let instance = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Self(Arc::new(Inner {
            route_limiter: KeyedLimiter::per_minute(config.server.route_requests_per_minute),
            config,
            rules,
            forwarder,
            store,
            cipher,
            ghl,
            verifier,
            ingest,
            routes: TtlCache::default(),
            locations: TtlCache::default(),
            deferred: Deferred::default(),
            wake_processor,
            wake_dispatcher: Arc::new(Notify::new()),
            metrics: crate::metrics::handle(),
            instance,
            delivery: crate::delivery::DeliveryState::default(),
            connectors: crate::connectors::ConnectorState::default(),
            wake_callbacks: Arc::new(Notify::new()),
            broadcast_clock_offset: std::sync::atomic::AtomicI64::new(0),
        })))
    }

    /// Wakes the broadcast callback worker (an outcome arrived).
    pub(crate) fn wake_callbacks(&self) -> &Arc<Notify> {
        &self.0.wake_callbacks
    }

    /// The time broadcasts decide by (calling windows, retry delays): the clock, moved by
    /// [`App::shift_broadcast_clock`].
    pub fn broadcast_now(&self) -> Millis {
        now_ms()
            + self
                .0
                .broadcast_clock_offset
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Moves the broadcasts' clock by `ms` (tests and the demo: a calling window at any hour).
    pub fn shift_broadcast_clock(&self, ms: Millis) {
        self.0
            .broadcast_clock_offset
            .fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The application's endpoint for forwarded events, when configured.
    pub(crate) fn forwarder(&self) -> Option<&crate::connectors::app::forward::Forwarder> {
        self.0.forwarder.as_ref()
    }

    /// The sync rules, loaded at start.
    pub fn rules(&self) -> &ghlsync_core::rules::RuleSet {
        &self.0.rules
    }

    /// Configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    /// Store.
    pub fn store(&self) -> &AnyStore {
        &self.0.store
    }
    /// Secret cipher.
    pub fn cipher(&self) -> &Cipher {
        &self.0.cipher
    }
    /// GHL client without a token.
    pub fn ghl(&self) -> &ghl::Client {
        &self.0.ghl
    }
    /// Webhook signature verifier.
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.0.verifier
    }
    /// Group-commit ingest.
    pub fn ingest(&self) -> &Ingest {
        &self.0.ingest
    }
    /// Per-route request limit.
    pub fn route_limiter(&self) -> &KeyedLimiter {
        &self.0.route_limiter
    }
    /// Webhook ids answered 429.
    pub fn deferred(&self) -> &Deferred {
        &self.0.deferred
    }
    /// Wakes processors.
    pub fn wake_processor(&self) -> &Arc<Notify> {
        &self.0.wake_processor
    }
    /// Wakes the dispatcher.
    pub fn wake_dispatcher(&self) -> &Arc<Notify> {
        &self.0.wake_dispatcher
    }
    /// Prometheus renderer.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }
    /// This process's name in leases.
    pub fn instance(&self) -> &str {
        &self.0.instance
    }
    /// The dispatcher's caches.
    pub(crate) fn delivery_state(&self) -> &crate::delivery::DeliveryState {
        &self.0.delivery
    }
    /// The connectors' caches.
    pub(crate) fn connector_state(&self) -> &crate::connectors::ConnectorState {
        &self.0.connectors
    }
    /// Route cache.
    pub fn routes(&self) -> RouteLookup<'_> {
        RouteLookup { app: self }
    }

    /// A registered location (cached for a few seconds).
    pub async fn location(&self, id: &LocationId) -> Result<Option<Arc<Location>>, StoreError> {
        if let Some((at, l)) = self.0.locations.entries.read().await.get(id)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(l.clone());
        }
        let location = self.store().location(id).await?.map(Arc::new);
        self.0
            .locations
            .entries
            .write()
            .await
            .insert(id.clone(), (Instant::now(), location.clone()));
        Ok(location)
    }

    /// Every route of the service: ingress, health, metrics and admin.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(crate::ingress::router(self))
            .merge(crate::admin::router())
            .with_state(self.clone())
    }

    /// Starts the processors and the dispatcher.
    pub fn start_workers(&self) -> Workers {
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for n in 0..self.config().processor.workers {
            tasks.push(tokio::spawn(crate::process::run(
                self.clone(),
                n,
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(crate::delivery::run(self.clone(), rx.clone())));
        tasks.push(tokio::spawn(crate::broadcasts::callbacks(self.clone(), rx)));
        Workers { stop, tasks }
    }

    /// Serves HTTP and runs the workers until `shutdown` resolves, then drains: the listener
    /// stops accepting, in-flight requests finish, workers finish their current work.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.store().begin_ingest().await?;
        let workers = self.start_workers();
        tracing::info!(addr = %listener.local_addr()?, store = self.store().dialect(), "ghlsync serving");
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await?;
        workers.stop().await;
        Ok(())
    }
}

/// Looks up workflow routes through the cache.
#[derive(Debug)]
pub struct RouteLookup<'a> {
    app: &'a App,
}

impl RouteLookup<'_> {
    /// The route named `name`, with its secret opened.
    pub async fn get(&self, name: &str) -> anyhow::Result<Option<Arc<CachedRoute>>> {
        let cache = &self.app.0.routes;
        if let Some(cached) = cache.fresh(name).await {
            return Ok(cached);
        }
        let loaded = match self.app.store().route(name).await? {
            Some(route) => {
                let secret = self
                    .app
                    .cipher()
                    .open(&route_context(&route.name), &route.secret_ciphertext)?;
                let hmac = (route.auth == RouteAuth::Hmac)
                    .then(|| hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()));
                Some(Arc::new(CachedRoute {
                    route,
                    secret,
                    hmac,
                }))
            }
            None => None,
        };
        cache.put(name.to_owned(), loaded.clone()).await;
        Ok(loaded)
    }
}
