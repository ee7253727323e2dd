//! The command line: `serve`, `demo`, `migrate`, `print-config`, and the operator commands
//! for locations, workflow routes, the dead-letter queue and events. Operator commands talk
//! to the store directly, so they work whether or not a server is running.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ghl::LocationId;
use ghlsync_core::process::{RouteAction, UpsertContactAction, ValueSource};
use ghlsync_core::rules::input::ghl_subject;
use ghlsync_core::rules::{RuleInput, Trigger};
use ghlsync_core::{EventId, EventState, IntegrationType, JobId, JobState, RouteAuth};
use ghlsync_store::{AnyStore, EventFilter, JobFilter, Store};
use secrecy::{ExposeSecret, SecretString};

use crate::app::{App, now_ms};
use crate::config::Config;
use crate::secrets::Cipher;

/// ghlsync keeps your applications, GoHighLevel and telephony tools in step.
#[derive(Debug, Parser)]
#[command(name = "ghlsync", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./ghlsync.toml when present.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve webhooks and run the workers until stopped (Ctrl-C or SIGTERM drains and exits).
    Serve {
        /// Address to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Start the built-in GHL simulator and the gateway on SQLite, send a realistic stream of
    /// signed webhooks, and report what happened. Exits 0 only if the flow completed.
    Demo {
        /// Keep the database and key here (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Leads sent through the workflow route.
        #[arg(long, default_value_t = 50)]
        leads: usize,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    PrintConfig,
    /// Manage GHL locations.
    #[command(subcommand)]
    Locations(LocationsCommand),
    /// Manage workflow webhook routes.
    #[command(subcommand)]
    Routes(RoutesCommand),
    /// Check rules files, print a built-in pack, or explain what an event would do.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage the application's API keys for POST /api/v1/events.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show a person's GHL contact beside what the rules want: every tag's rule and event,
    /// the local mirror, the live contact (one GHL read), their differences, pending jobs.
    /// Exits 3 when the live contact differs from what the rules want.
    Diagnose {
        /// The application's id for the person (the events' `subject`).
        app_id: String,
        /// The location (default: the only one registered).
        #[arg(long)]
        location: Option<String>,
    },
    /// Queue a full push of what the rules want to the person's GHL contact.
    Resync {
        /// The application's id for the person.
        app_id: String,
        /// The location (default: the only one registered).
        #[arg(long)]
        location: Option<String>,
    },
    /// Inspect and replay the dead-letter queue of jobs.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Inspect and replay inbox events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Seed 003's GHL <-> CloudTalk bridges (`[[cloudtalk.bridges]]`).
    #[command(subcommand)]
    Bridges(BridgesCommand),
    /// Seed 004's dialer users: their webhook keys and Do-Not-Call lists.
    #[command(subcommand)]
    Owners(OwnersCommand),
    /// Seed 004's voice broadcasts of an owner.
    #[command(subcommand)]
    Broadcasts(BroadcastsCommand),
}

/// Owner subcommands.
#[derive(Debug, Subcommand)]
pub enum OwnersCommand {
    /// Add a dialer user for a registered location; prints its webhook key and dialer
    /// engine secret once.
    Add {
        /// Its name.
        #[arg(long)]
        name: String,
        /// The GHL location its outcomes go to.
        #[arg(long)]
        location: String,
        /// The region national numbers are read in (ISO 3166: US).
        #[arg(long)]
        region: Option<String>,
        /// The zone of numbers whose own zone is unknown (IANA).
        #[arg(long, default_value = "America/New_York")]
        timezone: String,
    },
    /// The owners (keys by id and prefix only).
    List,
    /// A new webhook key for an owner, shown once; the old one stops working at once.
    RotateKey {
        /// The owner.
        #[arg(long)]
        owner: String,
    },
    /// Add numbers to an owner's Do-Not-Call list (national numbers in its region).
    Dnc {
        /// The owner.
        #[arg(long)]
        owner: String,
        /// The numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
    },
}

/// Broadcast subcommands.
#[derive(Debug, Subcommand)]
pub enum BroadcastsCommand {
    /// Create an active broadcast.
    Create {
        /// The owner.
        #[arg(long)]
        owner: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Calls per number at most, counting no-answer and busy retries.
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
        /// Minutes between a no-answer or busy and the next call.
        #[arg(long, default_value_t = 60)]
        retry_delay_minutes: i64,
        /// The calling window in the numbers' local time, `HH:MM-HH:MM`.
        #[arg(long, default_value = "08:00-21:00")]
        window: String,
    },
    /// An owner's broadcasts.
    List {
        /// The owner.
        #[arg(long)]
        owner: String,
    },
    /// Pause, resume, complete or cancel a broadcast.
    Set {
        /// The owner.
        #[arg(long)]
        owner: String,
        /// The broadcast.
        id: String,
        /// `paused`, `active` (resume), `completed` or `cancelled`. Completing it sends its
        /// final outcomes to GHL at once.
        status: String,
    },
    /// A broadcast's queue, in order, with each number's `ghl_callback_status`.
    Queue {
        /// The owner.
        #[arg(long)]
        owner: String,
        /// The broadcast.
        id: String,
        /// Items after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Items at most.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Seed 004's "Setup Broadcast Fields": creates the six custom fields outcomes write
    /// where the location lacks them, and says which existed.
    SetupFields {
        /// The GHL location (default: the only one registered).
        #[arg(long)]
        location: Option<String>,
    },
    /// Outcomes back into GHL (seed 004's `ghl-batch-callback`).
    #[command(subcommand)]
    Callback(CallbackCommand),
}

/// Which final outcomes a callback command covers: everyone's, one owner's, or one
/// broadcast's.
#[derive(Debug, clap::Args)]
pub struct CallbackScope {
    /// One owner's.
    #[arg(long)]
    owner: Option<String>,
    /// One broadcast's (of `--owner`).
    #[arg(long, requires = "owner")]
    broadcast: Option<String>,
}

impl CallbackScope {
    fn scope(self) -> ghlsync_core::callback::PendingScope {
        ghlsync_core::callback::PendingScope {
            owner: self.owner.map(ghlsync_core::broadcast::OwnerId),
            broadcast: self.broadcast.map(ghlsync_core::broadcast::BroadcastId),
        }
    }
}

/// Callback subcommands.
#[derive(Debug, Subcommand)]
pub enum CallbackCommand {
    /// Queue the final outcomes waiting for GHL as outbox jobs (`process_broadcast` with
    /// `--broadcast`, else `process_pending`); `ghlsync serve` delivers them.
    Process(CallbackScope),
    /// Every outcome's pending update with its status, retry count and last error.
    Pending(CallbackScope),
    /// Pending updates counted by status (`get_status`).
    Status(CallbackScope),
}

/// Bridge subcommands.
#[derive(Debug, Subcommand)]
pub enum BridgesCommand {
    /// The configured bridges and the routes each receives; no secret is shown.
    List,
    /// Check each bridge (or one): its location is registered and active, and CloudTalk
    /// takes its API key (one read, which shows the company's limit). Exits 1 when one
    /// fails.
    Check {
        /// Only this bridge.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Where a secret comes from; never the command line itself, which other users can see.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SecretSource {
    /// Read it from this environment variable.
    #[arg(long)]
    pub token_env: Option<String>,
    /// Read it from standard input.
    #[arg(long)]
    pub token_stdin: bool,
}

/// Location subcommands.
#[derive(Debug, Subcommand)]
pub enum LocationsCommand {
    /// Register a location (or replace it) with its Private Integration or OAuth token.
    Add {
        /// GHL location id.
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Internal (your own) or client location.
        #[arg(long = "type", value_enum, default_value_t = Kind::Internal)]
        kind: Kind,
        /// Custom field key -> field id, as a JSON object.
        #[arg(long, default_value = "{}")]
        field_mapping: String,
        #[command(flatten)]
        token: SecretSource,
    },
    /// List locations (never their tokens).
    List,
    /// Replace a location's token.
    RotateToken {
        /// GHL location id.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        token: SecretSource,
    },
}

/// Location kinds on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Your own location.
    Internal,
    /// A client's location.
    Client,
}

/// Route authentication on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Auth {
    /// HMAC-SHA256 of `timestamp.body` in X-GHL-Signature, with X-GHL-Timestamp.
    Hmac,
    /// A shared key in X-Webhook-Key or the body's `webhook_key`.
    Key,
}

/// Route subcommands.
#[derive(Debug, Subcommand)]
pub enum RoutesCommand {
    /// Add (or replace) a route that upserts the posted person as a GHL contact.
    Add {
        /// Path segment: /webhooks/ghl/workflow/NAME.
        #[arg(long)]
        name: String,
        /// The location the contacts go to.
        #[arg(long)]
        location: String,
        /// How callers authenticate.
        #[arg(long, value_enum)]
        auth: Auth,
        /// Tag to add (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Standard field and where to read it, `firstName=$.first_name` (repeatable). These
        /// add to (and override) the default names: email, phone, first and last name, full
        /// name, company and source as GHL's workflow "Webhook" action sends them.
        #[arg(long = "field")]
        fields: Vec<String>,
        /// Read only the `--field`s given, not the default names.
        #[arg(long)]
        no_default_fields: bool,
        /// Custom field key and where to read it, `lead_score=$.score` (repeatable).
        #[arg(long = "custom-field")]
        custom_fields: Vec<String>,
        /// Where the sender's own id for an event is in the body (`$.event_id`): a request
        /// with an id seen before is a repeat. `X-Idempotency-Key` wins over it.
        #[arg(long)]
        dedupe_field: Option<String>,
        /// Without an id, the same body again within this many seconds is a repeat
        /// (default: server.dedupe_window_secs, 24 h); 0 stores every request.
        #[arg(long)]
        dedupe_window_secs: Option<u64>,
        /// Secret from this environment variable.
        #[arg(long, conflicts_with = "generate_secret")]
        secret_env: Option<String>,
        /// Generate a secret and print it once.
        #[arg(long)]
        generate_secret: bool,
    },
    /// List routes (never their secrets).
    List,
}

/// Rules subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rules files and report every problem with its file:line (exit 1 if any).
    Check {
        /// Rules files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a built-in pack (to copy and change it).
    Pack {
        /// The pack's name (marketplace).
        name: String,
    },
    /// Print what the configured rules would do with an application event, and why. No
    /// call is made and nothing is stored.
    Explain {
        /// The event, as sent to POST /api/v1/events, or a GHL webhook, or (with --route) a
        /// bridge route's body.
        event: PathBuf,
        /// Start from the person's stored profile in this location (default: a new person).
        #[arg(long)]
        location: Option<String>,
        /// The bridge route the body is sent to: `ghl-webhooks/new-note`,
        /// `cloudtalk-webhooks/call-ended`, ...
        #[arg(long)]
        route: Option<String>,
    },
}

/// API key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a location's application events; the key is printed once.
    Create {
        /// The location the events belong to.
        #[arg(long)]
        location: String,
        /// What the key is for (shown by `keys list`).
        #[arg(long, default_value = "app")]
        name: String,
    },
    /// List keys (their ids and first characters, never the keys).
    List,
    /// Revoke a key: requests with it are refused at once.
    Revoke {
        /// The key's id (`key_...`).
        id: String,
    },
}

/// DLQ subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead jobs.
    List(DlqFilterArgs),
    /// Put dead jobs back in the queue: one by id, or all matching a filter.
    Replay {
        /// One job.
        #[arg(long)]
        id: Option<i64>,
        #[command(flatten)]
        filter: DlqFilterArgs,
        /// Replay every dead job (required when no other filter is given).
        #[arg(long)]
        all: bool,
    },
}

/// DLQ filters.
#[derive(Debug, Args)]
pub struct DlqFilterArgs {
    /// Job kind (sync_contact, add_note).
    #[arg(long)]
    pub kind: Option<String>,
    /// Location id.
    #[arg(long)]
    pub location: Option<String>,
    /// Substring of the error.
    #[arg(long)]
    pub error: Option<String>,
}

/// Event subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events.
    List {
        /// pending, running, done or dead.
        #[arg(long)]
        state: Option<String>,
        /// Most rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put dead events back in the queue.
    Replay {
        /// One event.
        #[arg(long)]
        id: Option<i64>,
        /// Only this event type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Replay every dead event.
        #[arg(long)]
        all: bool,
    },
}

/// Runs the command line; the exit code is 0 on success.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's report is what its reader reads: only warnings and errors are logged
    // beside it, unless GHLSYNC_LOG asks for more.
    let level = match cli.command {
        Command::Demo { .. } => "warn",
        _ => "info,sqlx=warn",
    };
    init_logging(cli.log_json, level);
    // The configuration is read before the runtime exists because it sizes the runtime.
    let config = match &cli.command {
        Command::Demo { .. } => None,
        _ => match Config::load(cli.config.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                report(&e.into());
                return ExitCode::FAILURE;
            }
        },
    };
    let threads = config
        .as_ref()
        .and_then(|c| c.server.worker_threads)
        .unwrap_or_else(crate::app::default_worker_threads);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&anyhow::anyhow!("cannot start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, config)) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn report(e: &anyhow::Error) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
}

/// Writes a line of program output.
pub fn say(line: impl AsRef<str>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", line.as_ref());
}

/// Logs to stderr at `GHLSYNC_LOG`'s levels, or `default` when it is unset.
fn init_logging(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GHLSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a terminal: escape codes in a file or a pipe are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn read_secret(source: &SecretSource) -> anyhow::Result<SecretString> {
    let value = if let Some(var) = &source.token_env {
        std::env::var(var).map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    };
    let value = value.trim().to_owned();
    anyhow::ensure!(!value.is_empty(), "the token is empty");
    Ok(SecretString::from(value))
}

/// The location a command names, or the only one registered.
async fn only_location(app: &App, named: Option<String>) -> anyhow::Result<LocationId> {
    if let Some(named) = named {
        return Ok(LocationId::new(&named));
    }
    let all = app.store().locations().await?;
    match all.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("no location is registered (ghlsync locations add)"),
        _ => anyhow::bail!("several locations are registered: name one with --location"),
    }
}

/// Opens the store and the cipher for operator commands.
async fn open(config: &Config) -> anyhow::Result<(AnyStore, Cipher)> {
    let synchronous = config
        .database
        .synchronous
        .parse()
        .map_err(anyhow::Error::msg)?;
    let store = AnyStore::connect(&config.database.url, synchronous).await?;
    store.migrate().await?;
    let cipher = match &config.secrets.key {
        Some(key) => Cipher::from_base64(key.expose())?,
        None => Cipher::from_key_file(&config.key_file())?.0,
    };
    Ok((store, cipher))
}

fn parse_sources(
    pairs: &[String],
    what: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, ValueSource>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("{what} {p:?} must look like name=$.path"))?;
            Ok((k.trim().to_owned(), ValueSource::Text(v.trim().to_owned())))
        })
        .collect()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

async fn run(cli: Cli, config: Option<Config>) -> anyhow::Result<ExitCode> {
    let Some(mut config) = config else {
        let Command::Demo { dir, leads } = cli.command else {
            anyhow::bail!("no configuration")
        };
        return crate::demo::run(dir, leads).await;
    };
    match cli.command {
        Command::Demo { .. } => unreachable!("handled above"),
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
            let app = App::open(config).await?;
            app.serve(listener, shutdown_signal()).await?;
        }
        Command::Migrate => {
            open(&config).await?;
            say("migrations applied");
        }
        Command::PrintConfig => say(config.to_toml()),
        Command::Locations(cmd) => {
            let (store, cipher) = open(&config).await?;
            match cmd {
                LocationsCommand::Add {
                    id,
                    name,
                    kind,
                    field_mapping,
                    token,
                } => {
                    let mapping = serde_json::from_str(&field_mapping)
                        .map_err(|e| anyhow::anyhow!("--field-mapping is not JSON: {e}"))?;
                    let kind = match kind {
                        Kind::Internal => IntegrationType::Internal,
                        Kind::Client => IntegrationType::Client,
                    };
                    let token = read_secret(&token)?;
                    crate::registry::add_location(
                        &store,
                        &cipher,
                        &LocationId::new(&id),
                        &name,
                        kind,
                        &token,
                        mapping,
                    )
                    .await?;
                    say(format!("location {id} saved (token encrypted)"));
                }
                LocationsCommand::List => {
                    say(format!(
                        "{:<22} {:<24} {:<9} {:<7} {:<8} last error",
                        "id", "name", "type", "active", "status"
                    ));
                    for l in store.locations().await? {
                        say(format!(
                            "{:<22} {:<24} {:<9} {:<7} {:<8} {}",
                            l.id,
                            l.name,
                            l.integration_type.as_str(),
                            l.active,
                            l.last_sync_status.map_or("-", |s| s.as_str()),
                            l.last_sync_error.as_deref().unwrap_or("")
                        ));
                    }
                }
                LocationsCommand::RotateToken { id, token } => {
                    let token = read_secret(&token)?;
                    crate::registry::rotate_token(&store, &cipher, &LocationId::new(&id), &token)
                        .await?;
                    say(format!("token of location {id} replaced"));
                }
            }
        }
        Command::Routes(cmd) => {
            let (store, cipher) = open(&config).await?;
            match cmd {
                RoutesCommand::Add {
                    name,
                    location,
                    auth,
                    tags,
                    fields,
                    no_default_fields,
                    custom_fields,
                    dedupe_field,
                    dedupe_window_secs,
                    secret_env,
                    generate_secret,
                } => {
                    if let Some(field) = &dedupe_field {
                        anyhow::ensure!(
                            field.starts_with("$.") && field.len() > 2,
                            "--dedupe-field is a path into the body, such as $.event_id"
                        );
                    }
                    let secret = match (secret_env, generate_secret) {
                        (Some(var), _) => {
                            SecretString::from(std::env::var(&var).map_err(|_| {
                                anyhow::anyhow!("environment variable {var} is not set")
                            })?)
                        }
                        (None, true) => crate::registry::generate_secret(),
                        (None, false) => {
                            anyhow::bail!("give --secret-env VAR or --generate-secret")
                        }
                    };
                    let action = RouteAction::UpsertContact(UpsertContactAction {
                        tags,
                        fields: parse_sources(&fields, "--field")?,
                        custom_fields: parse_sources(&custom_fields, "--custom-field")?,
                        without_default_fields: no_default_fields,
                    });
                    let auth = match auth {
                        Auth::Hmac => RouteAuth::Hmac,
                        Auth::Key => RouteAuth::WebhookKey,
                    };
                    let mut route = crate::registry::RouteDefinition::new(
                        &name,
                        &LocationId::new(&location),
                        auth,
                        action,
                    );
                    route.dedupe = ghlsync_core::RouteDedupe {
                        field: dedupe_field,
                        window_secs: dedupe_window_secs,
                    };
                    crate::registry::add_route(&store, &cipher, route, &secret).await?;
                    say(format!(
                        "route {name} saved: POST /webhooks/ghl/workflow/{name}"
                    ));
                    if generate_secret {
                        say(format!("secret (shown once): {}", secret.expose_secret()));
                    }
                }
                RoutesCommand::List => {
                    for r in store.routes().await? {
                        say(format!(
                            "{:<20} location {:<22} auth {:<11} {} dedupe {}",
                            r.name,
                            r.location_id,
                            r.auth.as_str(),
                            serde_json::to_string(&r.action)?,
                            describe_dedupe(&r.dedupe, config.server.dedupe_window_secs),
                        ));
                    }
                }
            }
        }
        Command::Rules(cmd) => match cmd {
            RulesCommand::Check { files } => {
                let rules = crate::config::RulesConfig {
                    packs: Vec::new(),
                    files,
                }
                .load()?;
                say(format!("{} rules, no problems", rules.rules().len()));
            }
            RulesCommand::Pack { name } => {
                let pack: ghlsync_core::rules::packs::Pack = name
                    .parse()
                    .map_err(|_| anyhow::anyhow!("no built-in pack {name:?}"))?;
                say(pack.source());
            }
            RulesCommand::Explain {
                event,
                location,
                route,
            } => {
                let text = std::fs::read_to_string(&event)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", event.display()))?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", event.display()))?;
                let event = match route {
                    Some(route) => explained_bridge_event(&value, &route)?,
                    None => explained_event(&value)?,
                };
                let rules = config.rules.load()?;
                let mut profile = ghlsync_core::profile::Profile::new(&event.subject);
                if let Some(location) = location {
                    let (store, _) = open(&config).await?;
                    if let Some((stored, _)) = store
                        .profile(&LocationId::new(&location), &event.subject)
                        .await?
                    {
                        profile = stored;
                    }
                }
                match event.trigger {
                    Trigger::App(_) => profile.apply(
                        &ghlsync_core::AppEvent::from_json(&value)
                            .map_err(|e| anyhow::anyhow!("invalid event: {e}"))?,
                    ),
                    Trigger::Ghl(_) | Trigger::Bridge(_) => profile.apply_ghl(&event),
                }
                let outcome = rules
                    .evaluate(event.clone(), &profile, &[])
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                say(format!(
                    "{} {} for {}:",
                    event.trigger, event.id, event.subject
                ));
                say(outcome.to_string().trim_end());
            }
        },
        Command::Diagnose { app_id, location } => {
            let app = App::open(config).await?;
            let location = only_location(&app, location).await?;
            let d = crate::diagnosis::diagnose(&app, &location, &app_id)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            say(serde_json::to_string_pretty(&d)?);
            if !d.differences.is_empty() {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Resync { app_id, location } => {
            let app = App::open(config).await?;
            let location = only_location(&app, location).await?;
            crate::diagnosis::resync(&app, &location, &app_id)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            say(format!(
                "queued a full push of {app_id:?} in {location}; `ghlsync serve` delivers it"
            ));
        }
        Command::Bridges(cmd) => match cmd {
            BridgesCommand::List => {
                if config.cloudtalk.bridges.is_empty() {
                    say("no bridges: add [[cloudtalk.bridges]] to the configuration");
                }
                for b in &config.cloudtalk.bridges {
                    say(format!(
                        "{:<16} location {:<24} GHL routes by {} (/api/ghl-webhooks/...), CloudTalk routes by {} (/api/cloudtalk-webhooks/...)",
                        b.name,
                        b.location,
                        b.ghl_auth.as_str(),
                        crate::connectors::cloudtalk::SECRET_HEADER,
                    ));
                }
            }
            BridgesCommand::Check { name } => {
                let (store, _) = open(&config).await?;
                let mut failed = false;
                let bridges = config
                    .cloudtalk
                    .bridges
                    .iter()
                    .filter(|b| name.as_deref().is_none_or(|n| n == b.name));
                let mut any = false;
                for b in bridges {
                    any = true;
                    let location = store.location(&LocationId::new(&b.location)).await?;
                    match location {
                        Some(l) if l.active => {
                            say(format!("{}: location {} registered, active", b.name, l.id))
                        }
                        Some(l) => {
                            failed = true;
                            say(format!("{}: location {} is inactive", b.name, l.id));
                        }
                        None => {
                            failed = true;
                            say(format!(
                                "{}: location {} is not registered (ghlsync locations add)",
                                b.name, b.location
                            ));
                        }
                    }
                    match crate::connectors::cloudtalk::check(&config.cloudtalk, b).await {
                        Ok(report) => say(format!("{}: CloudTalk {report}", b.name)),
                        Err(e) => {
                            failed = true;
                            say(format!("{}: CloudTalk refused: {e}", b.name));
                        }
                    }
                }
                anyhow::ensure!(
                    any,
                    "no bridge {}",
                    name.as_deref()
                        .map_or("configured".to_owned(), |n| format!("named {n:?}"))
                );
                if failed {
                    return Ok(ExitCode::FAILURE);
                }
            }
        },
        Command::Owners(cmd) => {
            use ghlsync_core::broadcast::{OwnerId, normalize_phone};
            let (store, cipher) = open(&config).await?;
            match cmd {
                OwnersCommand::Add {
                    name,
                    location,
                    region,
                    timezone,
                } => {
                    let (owner, key) = crate::registry::add_owner(
                        &store,
                        &name,
                        &LocationId::new(&location),
                        region.as_deref(),
                        &timezone,
                    )
                    .await?;
                    let engine =
                        crate::registry::rotate_engine_secret(&store, &cipher, &owner.id).await?;
                    say(format!("owner {} added for location {location}", owner.id));
                    say(format!(
                        "webhook key (shown once): {}",
                        key.secret.expose_secret()
                    ));
                    say(format!(
                        "dialer engine secret (shown once; leases and signs outcome reports): {}",
                        engine.secret.expose_secret()
                    ));
                }
                OwnersCommand::List => {
                    for o in store.owners().await? {
                        let keys = store.owner_keys(&o.id).await?;
                        let live: Vec<String> = keys
                            .iter()
                            .filter(|k| k.revoked_at.is_none())
                            .map(|k| format!("{} ({}...)", k.id, k.prefix))
                            .collect();
                        say(format!(
                            "{:<18} {:<20} location {:<22} region {:<3} zone {:<20} key {}",
                            o.id,
                            o.name,
                            o.location_id,
                            o.region.as_deref().unwrap_or("-"),
                            o.timezone,
                            live.join(", ")
                        ));
                    }
                }
                OwnersCommand::RotateKey { owner } => {
                    let key =
                        crate::registry::rotate_owner_key(&store, &OwnerId(owner.clone())).await?;
                    say(format!(
                        "new key {} for owner {owner}; the old one no longer works",
                        key.key.id
                    ));
                    say(format!(
                        "webhook key (shown once): {}",
                        key.secret.expose_secret()
                    ));
                }
                OwnersCommand::Dnc { owner, numbers } => {
                    let id = OwnerId(owner.clone());
                    let o = store
                        .owner(&id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no owner {owner}"))?;
                    let phones = numbers
                        .iter()
                        .map(|n| normalize_phone(n, o.region.as_deref()))
                        .collect::<Result<Vec<_>, _>>()?;
                    let added = store.add_dnc(&id, &phones, now_ms()).await?;
                    say(format!(
                        "{added} number(s) added to {owner}'s Do-Not-Call list ({} already on it)",
                        phones.len() as u64 - added
                    ));
                }
            }
        }
        Command::Broadcasts(cmd) => {
            use ghlsync_core::broadcast::{BroadcastId, BroadcastStatus, OwnerId};
            let (store, _) = open(&config).await?;
            match cmd {
                BroadcastsCommand::Create {
                    owner,
                    name,
                    max_attempts,
                    retry_delay_minutes,
                    window,
                } => {
                    let b = crate::registry::create_broadcast(
                        &store,
                        &OwnerId(owner),
                        &name,
                        max_attempts,
                        retry_delay_minutes.saturating_mul(60_000),
                        window.parse()?,
                    )
                    .await?;
                    say(format!("broadcast {} ({}) created, active", b.id, b.name));
                }
                BroadcastsCommand::List { owner } => {
                    for b in store.broadcasts(&OwnerId(owner)).await? {
                        say(format!(
                            "{:<16} {:<24} {:<10} attempts {} retry {} min window {}-{}",
                            b.id,
                            b.name,
                            b.status.as_str(),
                            b.max_attempts,
                            b.retry_delay_ms / 60_000,
                            b.window.start.strftime("%H:%M"),
                            b.window.end.strftime("%H:%M"),
                        ));
                    }
                }
                BroadcastsCommand::Set { owner, id, status } => {
                    let to: BroadcastStatus = status.parse().map_err(|_| {
                        anyhow::anyhow!(
                            "{status:?} is not a status (active, paused, completed, cancelled)"
                        )
                    })?;
                    let (b, run) = crate::broadcasts::set_status(
                        &store,
                        &OwnerId(owner),
                        &BroadcastId(id),
                        to,
                        now_ms(),
                    )
                    .await?;
                    say(format!("broadcast {} is {}", b.id, b.status.as_str()));
                    if let Some(run) = run {
                        say(format!(
                            "{} final outcome(s) queued for GHL as {} job(s); `ghlsync serve` delivers them",
                            run.taken, run.jobs
                        ));
                    }
                }
                BroadcastsCommand::Queue {
                    owner,
                    id,
                    after,
                    limit,
                } => {
                    let (owner, id) = (OwnerId(owner), BroadcastId(id));
                    anyhow::ensure!(
                        store.broadcast(&owner, &id).await?.is_some(),
                        "owner {owner} has no broadcast {id}"
                    );
                    for row in crate::broadcasts::queue(&store, &owner, &id, after, limit).await? {
                        let i = &row.item;
                        say(format!(
                            "{:>5} {:<22} {:<16} {:<8} attempts {} outcome {:<10} ghl {}{}",
                            i.position,
                            i.id,
                            i.phone,
                            i.state.as_str(),
                            i.attempts,
                            i.last_outcome.map_or("-", |o| o.as_str()),
                            row.ghl_callback_status.map_or("-", |s| s.as_str()),
                            row.error_message
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default(),
                        ));
                    }
                }
                BroadcastsCommand::SetupFields { location } => {
                    drop(store);
                    let app = App::open(config).await?;
                    let id = only_location(&app, location).await?;
                    let location = app
                        .location(&id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no location {id}"))?;
                    let setup = crate::connectors::ghl::broadcast::setup_fields(&app, &location)
                        .await
                        .map_err(|e| anyhow::anyhow!("GHL refused: {e}"))?;
                    for (key, field) in &setup.existed {
                        say(format!("{key:<30} existed  {field}"));
                    }
                    for (key, field) in &setup.created {
                        say(format!("{key:<30} created  {field}"));
                    }
                }
                BroadcastsCommand::Callback(cmd) => match cmd {
                    CallbackCommand::Process(scope) => {
                        let run =
                            crate::broadcasts::process(&store, &scope.scope(), now_ms()).await?;
                        say(format!(
                            "{} final outcome(s) queued for GHL as {} job(s); `ghlsync serve` delivers them",
                            run.taken, run.jobs
                        ));
                    }
                    CallbackCommand::Pending(scope) => {
                        let (_, views) = crate::broadcasts::status(&store, &scope.scope()).await?;
                        for v in views {
                            say(format!(
                                "{:<26} {:<16} contact {:<24} {:<10} {:<10} retries {}{}",
                                v.update.id,
                                v.update.broadcast_id,
                                v.update.ghl_contact_id,
                                v.update.result.outcome.as_str(),
                                v.status.as_str(),
                                v.retry_count,
                                v.error_message
                                    .map(|e| format!(" ({e})"))
                                    .unwrap_or_default(),
                            ));
                        }
                    }
                    CallbackCommand::Status(scope) => {
                        let (counts, _) = crate::broadcasts::status(&store, &scope.scope()).await?;
                        say(serde_json::to_string_pretty(&counts)?);
                    }
                },
            }
        }
        Command::Keys(cmd) => {
            let (store, _) = open(&config).await?;
            match cmd {
                KeysCommand::Create { location, name } => {
                    let created =
                        crate::registry::create_api_key(&store, &LocationId::new(&location), &name)
                            .await?;
                    say(format!(
                        "key {} created for location {location}",
                        created.key.id
                    ));
                    say(format!(
                        "key (shown once): {}",
                        created.secret.expose_secret()
                    ));
                }
                KeysCommand::List => {
                    say(format!(
                        "{:<18} {:<22} {:<16} {:<14} {:<26} revoked",
                        "id", "location", "name", "starts with", "created"
                    ));
                    for k in store.api_keys().await? {
                        say(format!(
                            "{:<18} {:<22} {:<16} {:<14} {:<26} {}",
                            k.id,
                            k.location_id,
                            k.name,
                            k.prefix,
                            ghlsync_core::time::format_rfc3339_ms(k.created_at),
                            k.revoked_at
                                .map_or("-".into(), ghlsync_core::time::format_rfc3339_ms)
                        ));
                    }
                }
                KeysCommand::Revoke { id } => {
                    anyhow::ensure!(
                        store.revoke_api_key(&id, now_ms()).await?,
                        "no unrevoked key {id}"
                    );
                    say(format!("key {id} revoked"));
                }
            }
        }
        Command::Dlq(cmd) => {
            let (store, _) = open(&config).await?;
            let filter = |f: &DlqFilterArgs, id: Option<i64>| JobFilter {
                state: Some(JobState::Dead),
                location_id: f.location.as_deref().map(Into::into),
                kind: f.kind.clone(),
                error_contains: f.error.clone(),
                id: id.map(JobId),
                limit: Some(1000),
                ordering_key: None,
            };
            match cmd {
                DlqCommand::List(f) => {
                    let jobs = store.list_jobs(&filter(&f, None)).await?;
                    say(format!("{} dead job(s)", jobs.len()));
                    for j in jobs {
                        say(format!(
                            "{:<10} {:<13} location {:<22} attempts {:<3} {}",
                            j.id.to_string(),
                            j.command.kind(),
                            j.location_id,
                            j.attempts,
                            j.last_error.unwrap_or_default()
                        ));
                    }
                }
                DlqCommand::Replay { id, filter: f, all } => {
                    let any_filter = id.is_some()
                        || f.kind.is_some()
                        || f.location.is_some()
                        || f.error.is_some();
                    anyhow::ensure!(any_filter || all, "give --id, a filter, or --all");
                    let n = store.replay_jobs(&filter(&f, id), now_ms()).await?;
                    say(format!("{n} job(s) put back in the queue"));
                }
            }
        }
        Command::Events(cmd) => {
            let (store, _) = open(&config).await?;
            match cmd {
                EventsCommand::List { state, limit } => {
                    let state = state
                        .map(|s| s.parse::<EventState>())
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("--state: {e}"))?;
                    for e in store
                        .list_events(&EventFilter {
                            state,
                            limit: Some(limit),
                            ..EventFilter::default()
                        })
                        .await?
                    {
                        say(format!(
                            "{:<10} {:<9} {:<28} {:<8} attempts {:<3} {}",
                            e.id.to_string(),
                            e.source.as_str(),
                            e.event_type,
                            e.state.as_str(),
                            e.attempts,
                            e.last_error.unwrap_or_default()
                        ));
                    }
                }
                EventsCommand::Replay {
                    id,
                    event_type,
                    all,
                } => {
                    anyhow::ensure!(
                        id.is_some() || event_type.is_some() || all,
                        "give --id, --type, or --all"
                    );
                    let filter = EventFilter {
                        state: Some(EventState::Dead),
                        event_type,
                        id: id.map(EventId),
                        limit: None,
                    };
                    let n = store.replay_events(&filter, now_ms()).await?;
                    say(format!("{n} event(s) put back in the queue"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The event `rules explain` is given: an application event, or a GHL webhook about a
/// contact (every value it carries counted as changed, since no mirror is consulted).
fn explained_event(value: &serde_json::Value) -> anyhow::Result<RuleInput> {
    let Some(trigger) = value["type"].as_str().and_then(Trigger::ghl) else {
        let event = ghlsync_core::AppEvent::from_json(value)
            .map_err(|e| anyhow::anyhow!("invalid event: {e}"))?;
        return Ok(RuleInput::from(&event));
    };
    let data = value.as_object().cloned().unwrap_or_default();
    let contact = ["contactId", "id"]
        .iter()
        .find_map(|k| data.get(*k).and_then(serde_json::Value::as_str))
        .ok_or_else(|| anyhow::anyhow!("the GHL webhook names no contact (contactId or id)"))?;
    let at = data
        .get("timestamp")
        .and_then(serde_json::Value::as_str)
        .and_then(ghlsync_core::time::parse_rfc3339_ms)
        .unwrap_or_else(now_ms);
    let bridge_contact = ghlsync_core::bridge::BridgeContact::read(value);
    let tags_added = if trigger.as_str() == "ContactTagUpdate" {
        bridge_contact.tags.clone()
    } else {
        Vec::new()
    };
    Ok(RuleInput {
        trigger,
        bridge: ghlsync_core::bridge::ghl_view(value, &bridge_contact, &tags_added),
        id: data
            .get("webhookId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("explain")
            .to_owned(),
        subject: ghl_subject(contact),
        occurred_at: at,
        contact_id: Some(contact.to_owned()),
        changes: data
            .keys()
            .filter(|k| ghlsync_core::mirror::STANDARD_FIELDS.contains(&k.as_str()))
            .map(|k| ghlsync_core::command::value_key::field(k))
            .collect(),
        data,
    })
}

/// A bridge route's body for `rules explain --route`: `ghl-webhooks/<route>` or
/// `cloudtalk-webhooks/<trigger>`.
fn explained_bridge_event(value: &serde_json::Value, route: &str) -> anyhow::Result<RuleInput> {
    use ghlsync_core::bridge;
    let data = value.as_object().cloned().unwrap_or_default();
    let routes = || {
        let ghl = bridge::GhlRoute::ALL.map(|r| format!("ghl-webhooks/{}", r.route()));
        let ct =
            cloudtalk::webhooks::Trigger::ALL.map(|t| format!("cloudtalk-webhooks/{}", t.route()));
        ghl.into_iter().chain(ct).collect::<Vec<_>>().join(", ")
    };
    let route = route.trim_start_matches('/').trim_start_matches("api/");
    if let Some(r) = route.strip_prefix("ghl-webhooks/") {
        let r: bridge::GhlRoute = r
            .parse()
            .map_err(|_| anyhow::anyhow!("no bridge route {route:?}; the routes: {}", routes()))?;
        let contact = bridge::BridgeContact::read(value);
        let id = contact
            .id
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the body names no contact (contact.id)"))?;
        let trigger = Trigger::ghl(r.trigger())
            .or_else(|| Trigger::bridge(r.trigger()))
            .ok_or_else(|| anyhow::anyhow!("no trigger {}", r.trigger()))?;
        return Ok(RuleInput {
            trigger,
            id: "explain".into(),
            subject: ghl_subject(id.as_str()),
            occurred_at: now_ms(),
            contact_id: Some(id.to_string()),
            bridge: bridge::ghl_view(value, &contact, &[]),
            data,
            changes: Vec::new(),
        });
    }
    if let Some(t) = route.strip_prefix("cloudtalk-webhooks/")
        && let Some(t) = cloudtalk::webhooks::Trigger::from_route(t)
    {
        let event = cloudtalk::webhooks::Event::read(t, value);
        let trigger = Trigger::bridge(bridge::cloudtalk_trigger(t))
            .ok_or_else(|| anyhow::anyhow!("no trigger for {route}"))?;
        return Ok(RuleInput {
            trigger,
            id: "explain".into(),
            subject: bridge::cloudtalk_person(&event)
                .subject()
                .unwrap_or_else(|| "cloudtalk:unknown".into()),
            occurred_at: now_ms(),
            contact_id: None,
            bridge: bridge::cloudtalk_view(&event),
            data,
            changes: Vec::new(),
        });
    }
    anyhow::bail!("no bridge route {route:?}; the routes: {}", routes())
}

/// How a route recognises repeats, in a line of `routes list`.
fn describe_dedupe(dedupe: &ghlsync_core::RouteDedupe, default_window_secs: u64) -> String {
    let id = match &dedupe.field {
        Some(field) => format!("X-Idempotency-Key or {field}"),
        None => "X-Idempotency-Key".to_owned(),
    };
    match dedupe.window_secs.unwrap_or(default_window_secs) {
        0 => format!("by {id}, else none"),
        secs => format!("by {id}, else the body within {secs} s"),
    }
}
