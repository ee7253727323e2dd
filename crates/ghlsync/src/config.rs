//! Configuration: defaults, then a TOML file, then `GHLSYNC_*` environment variables (with
//! `__` between levels: `GHLSYNC_DATABASE__URL`), then command-line flags.
//!
//! Every key is documented here; `ghlsync print-config` shows the effective configuration
//! with secrets redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ghlsync_core::Backoff;
use serde::{Deserialize, Serialize};

/// A secret from configuration: never printed, serialised as `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself; call sites are the only places a secret is read.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Storage.
    pub database: DatabaseConfig,
    /// HTTP ingress and admin API.
    pub server: ServerConfig,
    /// GHL API and webhook keys.
    pub ghl: GhlConfig,
    /// Event processing workers.
    pub processor: ProcessorConfig,
    /// Delivery of jobs to GHL.
    pub dispatcher: DispatcherConfig,
    /// Encryption of tokens and route secrets at rest.
    pub secrets: SecretsConfig,
    /// Sync rules for the application's events.
    pub rules: RulesConfig,
    /// Where rules with `forward = true` send GHL events.
    pub forward: ForwardConfig,
    /// CloudTalk's API and the bridges between GHL locations and CloudTalk companies.
    pub cloudtalk: CloudTalkConfig,
    /// Seed 004's voice broadcasts: the trigger's limit and when outcomes go to GHL.
    pub broadcasts: BroadcastsConfig,
}

/// When final outcomes are sent to GHL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackMode {
    /// Soon after each outcome arrives (`callback_linger_ms` gathers those that come
    /// together into one run), and on the schedule as a safety net.
    Arrival,
    /// Every `callback_every_secs`, and when a broadcast is completed (the seed's way).
    Schedule,
    /// Only when asked: the batch-callback route, `ghlsync broadcasts callback`, or a
    /// broadcast completed.
    Manual,
}

/// Seed 004's voice broadcasts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BroadcastsConfig {
    /// Trigger requests per minute per webhook key (seed 004: 100).
    pub trigger_per_minute: u32,
    /// When outcomes go to GHL.
    pub callback: CallbackMode,
    /// The schedule's period.
    pub callback_every_secs: u64,
    /// How long a run waits after an outcome for others to join it.
    pub callback_linger_ms: u64,
}

impl Default for BroadcastsConfig {
    fn default() -> Self {
        Self {
            trigger_per_minute: 100,
            callback: CallbackMode::Arrival,
            callback_every_secs: 300,
            callback_linger_ms: 2_000,
        }
    }
}

/// CloudTalk's API, and seed 003's bridges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudTalkConfig {
    /// The API's base URL.
    pub base_url: String,
    /// How long CloudTalk may take to answer.
    pub timeout_ms: u64,
    /// Operations per minute per company (CloudTalk's default is 60).
    pub per_minute: u32,
    /// A bulk request counts as many operations as it has commands (as CloudTalk's
    /// documents leave open, the safe reading).
    pub bulk_counts_commands: bool,
    /// No call goes this close to the start or end of CloudTalk's minute, so a clock a
    /// little off or a slow request is still counted in the minute it was meant for.
    pub window_margin_ms: i64,
    /// The bridges.
    pub bridges: Vec<BridgeConfig>,
}

impl Default for CloudTalkConfig {
    fn default() -> Self {
        Self {
            base_url: cloudtalk::DEFAULT_BASE_URL.to_owned(),
            timeout_ms: 10_000,
            per_minute: 60,
            bulk_counts_commands: true,
            window_margin_ms: 500,
            bridges: Vec::new(),
        }
    }
}

/// One GHL location and one CloudTalk company kept in step (seed 003).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Its name, in jobs, links and logs.
    pub name: String,
    /// The GHL location (registered with `ghlsync locations add`).
    pub location: String,
    /// CloudTalk's API key id.
    pub key_id: String,
    /// CloudTalk's API key secret.
    pub key_secret: Secret,
    /// The secret CloudTalk's Workflow Automations send (header `X-Bridge-Secret` or the
    /// URL's `?secret=`): CloudTalk cannot sign its webhooks.
    pub webhook_secret: Secret,
    /// How seed 003's GHL workflow routes authenticate: `webhook_key` (`X-Webhook-Key` or
    /// the body's `webhook_key`) or `hmac` (`X-GHL-Signature` of `timestamp.body`).
    #[serde(default = "default_ghl_auth")]
    pub ghl_auth: ghlsync_core::RouteAuth,
    /// The key or HMAC secret of those routes.
    pub ghl_secret: Secret,
    /// The source of the contacts the bridge adds to CloudTalk.
    #[serde(default = "default_contact_source")]
    pub contact_source: String,
}

fn default_ghl_auth() -> ghlsync_core::RouteAuth {
    ghlsync_core::RouteAuth::WebhookKey
}

fn default_contact_source() -> String {
    "GoHighLevel Webhook".to_owned()
}

impl CloudTalkConfig {
    /// The bridge of a name.
    pub fn bridge(&self, name: &str) -> Option<&BridgeConfig> {
        self.bridges.iter().find(|b| b.name == name)
    }

    /// The bridges of a GHL location.
    pub fn bridges_of<'a>(
        &'a self,
        location: &'a ghl::LocationId,
    ) -> impl Iterator<Item = &'a BridgeConfig> + 'a {
        self.bridges
            .iter()
            .filter(move |b| b.location == location.as_str())
    }
}

/// The application's endpoint for forwarded GHL events, signed per Standard Webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardConfig {
    /// The URL events are POSTed to; required when a rule forwards.
    pub url: Option<String>,
    /// The signing secret, `whsec_` and base64 (Standard Webhooks); give the same to the
    /// application. Env: `GHLSYNC_FORWARD__SECRET`.
    pub secret: Option<Secret>,
    /// How long the application may take to answer.
    pub timeout_ms: u64,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            timeout_ms: 10_000,
        }
    }
}

/// Which rules run on application events: built-in packs first, then files, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Built-in packs (`marketplace`).
    pub packs: Vec<String>,
    /// Rules files (TOML).
    pub files: Vec<PathBuf>,
}

impl RulesConfig {
    /// Loads the packs and files; every problem is reported with its `file:line`.
    pub fn load(&self) -> anyhow::Result<ghlsync_core::rules::RuleSet> {
        use ghlsync_core::rules::packs::Pack;
        let mut sources: Vec<(String, String)> = Vec::new();
        for name in &self.packs {
            let pack: Pack = name.parse().map_err(|_| {
                anyhow::anyhow!(
                    "rules.packs: unknown pack {name:?} (built in: {})",
                    Pack::ALL
                        .iter()
                        .map(|p| p.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            sources.push((pack.file_name(), pack.source().to_owned()));
        }
        for path in &self.files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("rules file {}: {e}", path.display()))?;
            sources.push((path.display().to_string(), text));
        }
        let borrowed: Vec<(&str, &str)> = sources
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        ghlsync_core::rules::RuleSet::load(&borrowed).map_err(|errors| {
            anyhow::anyhow!(
                "the rules do not load:\n{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    }
}

/// Storage settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    pub url: String,
    /// SQLite only: `full` (an acknowledged event survives power loss) or `normal`
    /// (faster; survives a crash of ghlsync, not of the machine).
    pub synchronous: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://ghlsync.db".into(),
            synchronous: "full".into(),
        }
    }
}

/// Ingress settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted webhook body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Webhooks whose `timestamp` is further than this from now are rejected as replays.
    pub replay_window_secs: u64,
    /// An event without an id of its sender's (a GHL webhook without `webhookId`, a
    /// workflow request without `X-Idempotency-Key` or its route's id field) is recognised
    /// as a repeat when the same body comes again within this many seconds.
    pub dedupe_window_secs: u64,
    /// Requests per minute per workflow route (its webhook key); more get 429.
    pub route_requests_per_minute: u32,
    /// Events accepted but not yet committed; beyond this ingress answers 429.
    pub max_pending_events: usize,
    /// When commits take longer than this (moving average), ingress answers 429.
    pub max_commit_latency_ms: u64,
    /// Most events written in one transaction.
    pub max_batch: usize,
    /// Bearer token for `/admin`; the admin API is off when unset.
    pub admin_token: Option<Secret>,
    /// HTTP worker threads (default: the machine's cores less one, at least one).
    pub worker_threads: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            replay_window_secs: 300,
            dedupe_window_secs: 24 * 60 * 60,
            route_requests_per_minute: 100,
            max_pending_events: 10_000,
            max_commit_latency_ms: 2_000,
            max_batch: 512,
            admin_token: None,
            worker_threads: None,
        }
    }
}

/// GHL settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GhlConfig {
    /// API host: GHL's, a white-label `https://services.<domain>`, or a simulator.
    pub base_url: String,
    /// Time allowed for one GHL call.
    pub timeout_ms: u64,
    /// Ed25519 keys (SPKI PEM) trusted for `x-ghl-signature`; empty means GHL's published key.
    pub webhook_ed25519_keys: Vec<String>,
    /// RSA keys (SPKI PEM) trusted for `x-wh-signature`; empty means GHL's published key.
    pub webhook_rsa_keys: Vec<String>,
}

impl Default for GhlConfig {
    fn default() -> Self {
        Self {
            base_url: ghl::DEFAULT_BASE_URL.into(),
            timeout_ms: 30_000,
            webhook_ed25519_keys: Vec::new(),
            webhook_rsa_keys: Vec::new(),
        }
    }
}

/// Processing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessorConfig {
    /// Worker tasks.
    pub workers: usize,
    /// Events claimed at once per worker.
    pub batch: u32,
    /// How long a claim lasts; a dead worker's events are taken over after it.
    pub lease_ms: i64,
    /// Poll interval when idle (ingress also wakes workers directly).
    pub poll_ms: u64,
    /// Retry schedule of failing handlers; after `max_attempts` the event is dead-lettered.
    pub backoff: Backoff,
    /// Merge a contact's pending changes into the sync still waiting in the queue, and send
    /// GHL only what the mirror says it lacks. Off: one sync per event, sent whole.
    pub coalesce: bool,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            batch: 64,
            lease_ms: 60_000,
            poll_ms: 500,
            coalesce: true,
            backoff: Backoff {
                base_ms: 500,
                max_ms: 60_000,
                max_attempts: 8,
            },
        }
    }
}

/// Delivery settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    /// Jobs in flight at once, across locations, counting jobs that wait for their
    /// location's next place in GHL's limit: at least `per_location` times the locations
    /// that should run at full rate together.
    pub concurrency: usize,
    /// Most jobs of one location (or bridge) running at once (across instances): enough to
    /// keep the location at GHL's limit while calls take their time, and a CloudTalk bulk
    /// request full (10 commands); few enough that the others' jobs are claimed beside its
    /// backlog.
    pub per_location: u32,
    /// Most jobs claimed at once.
    pub batch: u32,
    /// How long a claim lasts.
    pub lease_ms: i64,
    /// Poll interval when idle.
    pub poll_ms: u64,
    /// GHL's limit: requests per window per location.
    pub rate_max: u32,
    /// GHL's window, ms.
    pub rate_interval_ms: i64,
    /// Calls that may go back to back before spacing applies.
    pub rate_burst: u32,
    /// Daily limit per location.
    pub rate_daily: u64,
    /// Retry schedule of transient failures; after `max_attempts` a job is dead-lettered.
    pub backoff: Backoff,
    /// Create a contact custom field a rule writes when the location lacks it (numeric for
    /// numbers, text otherwise). Off: such a job is dead-lettered naming the field.
    pub create_missing_fields: bool,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            concurrency: 1_024,
            per_location: 10,
            batch: 256,
            lease_ms: 120_000,
            poll_ms: 500,
            rate_max: 100,
            rate_interval_ms: 10_000,
            rate_burst: 2,
            rate_daily: 200_000,
            backoff: Backoff::default(),
            create_missing_fields: true,
        }
    }
}

/// Encryption key settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// AES-256 key, base64 (32 bytes). Takes precedence over `key_file`.
    pub key: Option<Secret>,
    /// File holding the key; created with a new random key when missing. Default:
    /// `ghlsync.key` next to the SQLite file, or in the working directory.
    pub key_file: Option<PathBuf>,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// figment could not read or type a value (its message names the source and key).
    #[error(transparent)]
    Load(#[from] Box<figment::Error>),
    /// A value is out of range.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key, dotted.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Environment variables that belong to the test harness, not to the configuration.
const NOT_CONFIG: &[&str] = &["test_postgres_url", "require_postgres", "log", "config"];

impl Config {
    /// Loads defaults, the file (if given or `ghlsync.toml` exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("ghlsync.toml")),
        }
        figment = figment.merge(
            Env::prefixed("GHLSYNC_")
                .filter(|k| !NOT_CONFIG.contains(&k.as_str().to_ascii_lowercase().as_str()))
                .split("__"),
        );
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and relations that types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if !self.database.url.starts_with("sqlite:") && !self.database.url.starts_with("postgres") {
            return invalid("database.url", "must start with sqlite:// or postgres://");
        }
        if self
            .database
            .synchronous
            .parse::<ghlsync_store::Synchronous>()
            .is_err()
        {
            return invalid("database.synchronous", "must be full or normal");
        }
        if self.server.max_body_bytes == 0 {
            return invalid("server.max_body_bytes", "must be positive");
        }
        if self.server.max_batch == 0 || self.server.max_pending_events == 0 {
            return invalid(
                "server.max_batch",
                "max_batch and max_pending_events must be positive",
            );
        }
        if self.dispatcher.rate_max < 4 {
            return invalid("dispatcher.rate_max", "must be at least 4");
        }
        if self.dispatcher.rate_interval_ms <= 0 {
            return invalid("dispatcher.rate_interval_ms", "must be positive");
        }
        if self.server.worker_threads == Some(0) {
            return invalid("server.worker_threads", "must be at least 1");
        }
        if self.dispatcher.per_location == 0 || self.dispatcher.batch == 0 {
            return invalid(
                "dispatcher.per_location",
                "per_location and batch must be positive",
            );
        }
        if self.processor.workers == 0 || self.dispatcher.concurrency == 0 {
            return invalid(
                "processor.workers",
                "workers and dispatcher.concurrency must be positive",
            );
        }
        if url::Url::parse(&self.ghl.base_url).is_err() {
            return invalid("ghl.base_url", "must be a URL");
        }
        if self.broadcasts.trigger_per_minute == 0 {
            return invalid("broadcasts.trigger_per_minute", "must be positive");
        }
        if self.broadcasts.callback_every_secs == 0 {
            return invalid("broadcasts.callback_every_secs", "must be positive");
        }
        if url::Url::parse(&self.cloudtalk.base_url).is_err() {
            return invalid("cloudtalk.base_url", "must be a URL");
        }
        if self.cloudtalk.per_minute == 0 {
            return invalid("cloudtalk.per_minute", "must be positive");
        }
        if !(0..15_000).contains(&self.cloudtalk.window_margin_ms) {
            return invalid("cloudtalk.window_margin_ms", "must be 0 to 15000");
        }
        let mut names = std::collections::HashSet::new();
        let mut secrets = std::collections::HashSet::new();
        for b in &self.cloudtalk.bridges {
            if b.name.trim().is_empty() || !names.insert(b.name.as_str()) {
                return invalid("cloudtalk.bridges", "every bridge needs a name of its own");
            }
            // A request's secret names its bridge.
            if !secrets.insert(b.webhook_secret.expose()) || !secrets.insert(b.ghl_secret.expose())
            {
                return Err(ConfigError::Invalid {
                    key: "cloudtalk.bridges",
                    message: format!(
                        "bridge {}: its secrets must differ from each other and from every other bridge's",
                        b.name
                    ),
                });
            }
            for (secret, what) in [
                (&b.webhook_secret, "webhook_secret"),
                (&b.ghl_secret, "ghl_secret"),
            ] {
                if secret.expose().len() < 16 {
                    return Err(ConfigError::Invalid {
                        key: "cloudtalk.bridges",
                        message: format!(
                            "bridge {}: {what} must be at least 16 characters",
                            b.name
                        ),
                    });
                }
            }
        }
        if let Some(u) = &self.forward.url
            && !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return invalid("forward.url", "must be an http:// or https:// URL");
        }
        match (&self.forward.url, &self.forward.secret) {
            (Some(_), None) => {
                return invalid(
                    "forward.secret",
                    "is required with forward.url: events are always signed",
                );
            }
            (_, Some(secret)) => {
                if let Err(why) = crate::connectors::app::forward::check_secret(secret.expose()) {
                    return invalid(
                        "forward.secret",
                        &format!("{why} (a Standard Webhooks secret)"),
                    );
                }
            }
            _ => {}
        }
        if self.forward.timeout_ms == 0 {
            return invalid("forward.timeout_ms", "must be positive");
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_toml(&self) -> String {
        toml_string(self)
    }

    /// Where the encryption key file lives.
    pub fn key_file(&self) -> PathBuf {
        if let Some(p) = &self.secrets.key_file {
            return p.clone();
        }
        match self
            .database
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.database.url.strip_prefix("sqlite:"))
        {
            Some(path) => {
                let path = Path::new(path.split('?').next().unwrap_or(path));
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .join("ghlsync.key")
            }
            None => PathBuf::from("ghlsync.key"),
        }
    }
}

fn toml_string(config: &Config) -> String {
    // figment's TOML provider carries the `toml` crate; serialising through JSON keeps the
    // dependency list short and the output is only for reading.
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    if let Some(sections) = value.as_object() {
        for (section, body) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let Some(fields) = body.as_object() {
                for (k, v) in fields {
                    if v.is_null() {
                        out.push_str(&format!("# {k} is unset\n"));
                    } else if v.is_object() {
                        let inline: Vec<String> = v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(ik, iv)| format!("{ik} = {iv}"))
                            .collect();
                        out.push_str(&format!("{k} = {{ {} }}\n", inline.join(", ")));
                    } else {
                        out.push_str(&format!("{k} = {v}\n"));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_load_packs_and_files_and_name_the_line_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "[[rule]]\nname = \"vip\"\non = \"review.added\"\nadd_tags = [\"vip\"]\n",
        )
        .unwrap();
        let rules = RulesConfig {
            packs: vec!["marketplace".into()],
            files: vec![good.clone()],
        }
        .load()
        .unwrap();
        assert_eq!(rules.rules().last().unwrap().name, "vip");
        let err = RulesConfig {
            packs: vec!["nope".into()],
            files: vec![],
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("unknown pack \"nope\"") && err.contains("marketplace"),
            "{err}"
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            "\n\n[[rule]]\nname = \"x\"\non = \"user.nope\"\nadd_tags = [\"a\"]\n",
        )
        .unwrap();
        let err = RulesConfig {
            packs: vec![],
            files: vec![bad.clone()],
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(err.contains(&format!("{}:3: ", bad.display())), "{err}");
    }

    #[test]
    fn defaults_validate_and_secrets_are_redacted() {
        let mut c = Config::default();
        c.server.admin_token = Some(Secret::new("hunter2"));
        c.validate().unwrap();
        let printed = c.to_toml();
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("[redacted]"));
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(printed.contains("url = \"sqlite://ghlsync.db\""));
    }

    #[test]
    fn bridges_need_names_and_secrets_of_their_own() {
        let bridge = |name: &str, webhook: &str, ghl: &str| BridgeConfig {
            name: name.into(),
            location: "loc".into(),
            key_id: "k".into(),
            key_secret: Secret::new("s"),
            webhook_secret: Secret::new(webhook),
            ghl_auth: ghlsync_core::RouteAuth::WebhookKey,
            ghl_secret: Secret::new(ghl),
            contact_source: "GoHighLevel Webhook".into(),
        };
        let mut c = Config::default();
        c.cloudtalk.bridges = vec![
            bridge("a", "webhook-secret-aaaaaa", "ghl-secret-aaaaaaaaa"),
            bridge("b", "webhook-secret-bbbbbb", "ghl-secret-bbbbbbbbb"),
        ];
        c.validate().unwrap();
        c.cloudtalk.bridges[1].webhook_secret = Secret::new("webhook-secret-aaaaaa");
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("bridge b: its secrets must differ"), "{err}");
        c.cloudtalk.bridges[1] = bridge("a", "webhook-secret-cccccc", "ghl-secret-ccccccccc");
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("name of its own")
        );
        c.cloudtalk.bridges[1] = bridge("c", "short", "ghl-secret-ccccccccc");
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("at least 16")
        );
    }

    #[test]
    fn invalid_values_name_their_key() {
        let mut c = Config::default();
        c.database.url = "mysql://x".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
        let mut c = Config::default();
        c.dispatcher.rate_max = 1;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("dispatcher.rate_max")
        );
    }

    #[test]
    fn file_then_environment_and_errors_name_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9999\"\nreplay_window_secs = 60\n",
        )
        .unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.server.listen.port(), 9999);
        assert_eq!(c.server.replay_window_secs, 60);
        std::fs::write(&file, "[server]\nlisten = 5\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        std::fs::write(&file, "[server]\nlistn = \"x\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("listn"), "{err}");
    }

    #[test]
    fn key_file_sits_next_to_the_database() {
        let mut c = Config::default();
        c.database.url = "sqlite:///var/lib/ghlsync/data.db".into();
        assert_eq!(c.key_file(), PathBuf::from("/var/lib/ghlsync/ghlsync.key"));
        c.database.url = "sqlite://ghlsync.db".into();
        assert_eq!(c.key_file(), PathBuf::from("./ghlsync.key"));
    }
}
