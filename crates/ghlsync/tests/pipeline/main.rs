//! The durable pipeline end to end: the real HTTP ingress, workers and dispatcher against
//! the GHL simulator, on SQLite.

mod admin;
mod app_events;
mod bridge;
mod broadcasts;
mod dedupe;
mod delivery;
mod ghl_rules;
mod ingress;
mod locations;
mod rate_limit;

use std::time::Duration;

use ghl_sim::{LocationSpec, SeededLocation, SigningKeys, SimHandle, Simulator};
use ghlsync::App;
use ghlsync::config::Config;
use ghlsync_core::process::{RouteAction, UpsertContactAction};
use ghlsync_core::{IntegrationType, RouteAuth};
use secrecy::SecretString;
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "admin-test-token";
pub const ROUTE_SECRET: &str = "route-secret";

/// A simulator, a gateway serving on a free port, and what tests need to talk to both.
pub struct Harness {
    pub sim: SimHandle,
    pub loc: SeededLocation,
    pub app: App,
    pub base: String,
    pub http: reqwest::Client,
    keys: SigningKeys,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Harness {
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(|c, _| tweak(c)).await
    }

    /// As [`start`](Self::start), the tweak also seeing the simulator's location.
    pub async fn start_with(tweak: impl FnOnce(&mut Config, &SeededLocation)) -> Self {
        let keys = SigningKeys::generate();
        let (ed, rsa) = keys.pkcs8();
        let sim_keys = SigningKeys::from_pkcs8(ed, rsa).unwrap();
        let sim = Simulator::builder()
            .signing_keys(sim_keys)
            .start()
            .await
            .unwrap();
        let loc = sim.add_location(
            LocationSpec::new("Acme")
                .field("Lead Score", "lead_score", "NUMERICAL")
                // The marketplace pack's fields a registration writes.
                .field("Tipo de usuario", "tipo_de_usuario", "TEXT")
                .field("Fuente del contacto", "fuente_del_contacto", "TEXT")
                .field("Estado del contacto", "estado_del_contacto", "TEXT")
                .field("Industry", "industry", "TEXT")
                .pipeline("Sales", &["New", "Won"])
                // The marketplace pack's project pipeline.
                .pipeline("Proyectos", &ghl_sim::seed::PROJECT_STAGES),
        );
        let dir = tempfile::tempdir().unwrap();
        let (ed_pem, rsa_pem) = sim.webhook_public_keys();
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}", dir.path().join("ghlsync.db").display());
        config.secrets.key_file = Some(dir.path().join("ghlsync.key"));
        config.ghl.base_url = sim.base_url();
        config.ghl.timeout_ms = 1_000;
        config.ghl.webhook_ed25519_keys = vec![ed_pem];
        config.ghl.webhook_rsa_keys = vec![rsa_pem];
        config.server.admin_token = Some(ghlsync::config::Secret::new(ADMIN_TOKEN));
        config.processor.poll_ms = 50;
        config.dispatcher.poll_ms = 50;
        config.dispatcher.backoff = ghlsync_core::Backoff {
            base_ms: 100,
            max_ms: 1_000,
            max_attempts: 30,
        };
        config.processor.backoff = ghlsync_core::Backoff {
            base_ms: 50,
            max_ms: 500,
            max_attempts: 3,
        };
        tweak(&mut config, &loc);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = App::open(config).await.unwrap();
        ghlsync::registry::add_location(
            app.store(),
            app.cipher(),
            &loc.id.as_str().into(),
            "Acme",
            IntegrationType::Internal,
            &SecretString::from(loc.token.clone()),
            json!({}),
        )
        .await
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            sim,
            loc,
            app,
            base,
            http: reqwest::Client::new(),
            keys,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Adds an HMAC route that upserts the posted person with `tags`.
    pub async fn hmac_route(&self, name: &str, tags: &[&str]) {
        let action = RouteAction::UpsertContact(UpsertContactAction {
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..Default::default()
        });
        ghlsync::registry::add_route(
            self.app.store(),
            self.app.cipher(),
            ghlsync::registry::RouteDefinition::new(
                name,
                &self.loc.id.as_str().into(),
                RouteAuth::Hmac,
                action,
            ),
            &SecretString::from(ROUTE_SECRET.to_owned()),
        )
        .await
        .unwrap();
    }

    /// Posts a workflow webhook signed now.
    pub async fn post_workflow(&self, route: &str, payload: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(payload).unwrap();
        let ts = (ghlsync::app::now_ms() / 1000).to_string();
        let sig = ghlsync::connectors::ghl::workflow::sign(ROUTE_SECRET.as_bytes(), &ts, &body);
        self.post_workflow_with(
            route,
            body,
            &[("x-ghl-timestamp", ts), ("x-ghl-signature", sig)],
        )
        .await
    }

    /// Posts raw bytes to a workflow route with the given headers.
    pub async fn post_workflow_with(
        &self,
        route: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}/webhooks/ghl/workflow/{route}", self.base))
            .header("content-type", "application/json");
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        rb.body(body).send().await.unwrap()
    }

    /// A GHL Marketplace webhook body with `webhookId` and `timestamp` (now).
    pub fn ghl_payload(&self, event_type: &str, fields: Value) -> Vec<u8> {
        let mut payload = json!({
            "type": event_type,
            "locationId": self.loc.id,
            "webhookId": uuid::Uuid::new_v4().to_string(),
            "timestamp": rfc3339_now(),
        });
        for (k, v) in fields.as_object().unwrap() {
            payload[k] = v.clone();
        }
        serde_json::to_vec(&payload).unwrap()
    }

    /// Posts a Marketplace webhook signed with the simulator's Ed25519 key.
    pub async fn post_ghl(&self, body: Vec<u8>) -> reqwest::Response {
        let sig = self.keys.sign_ed25519(&body);
        self.post_ghl_with(body, &[("x-ghl-signature", sig)]).await
    }

    /// Posts a Marketplace webhook with the given signature headers.
    pub async fn post_ghl_with(
        &self,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(format!("{}/webhooks/ghl", self.base))
            .header("content-type", "application/json");
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        rb.body(body).send().await.unwrap()
    }

    /// A client acting as a person using GHL.
    fn person(&self) -> ghl::Client {
        ghl::Client::builder()
            .base_url(self.sim.base_url())
            .build()
            .unwrap()
            .with_token(self.loc.token.clone())
    }

    /// A contact's custom value by field key (fields may have been created by ghlsync).
    async fn custom_value(&self, contact: &Value, key: &str) -> Option<Value> {
        let fields = self
            .person()
            .list_custom_fields(&self.loc.id.as_str().into(), None)
            .await
            .unwrap()
            .data;
        let id = fields
            .iter()
            .find(|f| f.field_key.as_deref() == Some(&format!("contact.{key}")))?
            .id
            .clone();
        contact["customFields"]
            .as_array()?
            .iter()
            .find(|f| f["id"] == id.as_str())
            .map(|f| f["value"].clone())
    }

    /// Every event in the inbox, newest first.
    pub async fn events(&self) -> Vec<ghlsync_core::InboxEvent> {
        use ghlsync_store::Store;
        self.app
            .store()
            .list_events(&ghlsync_store::EventFilter::default())
            .await
            .unwrap()
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// Waits until every event and job is settled and the simulator's webhooks are out.
    pub async fn drain(&self) {
        ghlsync::demo::wait_until_quiet(&self.app, &self.sim, Duration::from_secs(120))
            .await
            .unwrap();
    }

    /// An admin API request.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// A custom value as a number (GHL may keep numbers as text).
fn number(v: Option<Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A contact's tags, sorted.
pub fn sorted_tags(contact: &Value) -> Vec<String> {
    let mut tags: Vec<String> = contact["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    tags.sort_unstable();
    tags
}

/// Now in RFC 3339, as GHL writes `timestamp`.
pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A lead for workflow routes.
pub fn lead(i: usize) -> Value {
    json!({"first_name": format!("Lead{i}"), "email": format!("lead{i}@example.com"), "phone": format!("+3461{:07}", i)})
}
