//! The ingest benchmark.
//!
//! Each target runs in its own process (so the load generator's work is not counted as the
//! server's), on a fresh database, with the processing workers off: what is measured is how
//! fast ingress acknowledges events it has made durable. Baselines come from the same run,
//! because this machine is shared and noisy.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ghl::webhooks::WebhookVerifier;
use ghl_sim::SigningKeys;
use ghlsync::config::Config;
use ghlsync_core::process::{RouteAction, UpsertContactAction};
use ghlsync_core::{IntegrationType, RouteAuth};
use secrecy::SecretString;
use serde_json::{Value, json};

const HMAC_SECRET: &str = "bench-secret";

/// What to benchmark.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Bench {
    /// Webhook ingestion.
    Ingest,
    /// Application events through the rules to GHL calls.
    Rules,
    /// Delivery to many locations at once, each at GHL's limit.
    Locations,
    /// GHL events into CloudTalk's bulk endpoint at CloudTalk's limit.
    Bridge,
    /// Seed 004: the broadcast trigger's durable requests per second, and 2,000 outcomes'
    /// callback into one GHL location at its limit.
    Broadcast,
}

/// `bench ingest`'s options.
#[derive(Debug, clap::Args)]
pub struct IngestOptions {
    /// Seconds per measured case.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Rounds per case; the report gives medians (the machine's speed drifts).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// PostgreSQL URL for the PostgreSQL cases (default: GHLSYNC_TEST_POSTGRES_URL).
    #[arg(long, env = "GHLSYNC_BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Only these connection counts (default 16 and 64).
    #[arg(long = "connections", value_delimiter = ',')]
    pub connections: Vec<usize>,
    /// Only this scheme (ed25519 or hmac).
    #[arg(long)]
    pub scheme: Option<String>,
    /// HTTP worker threads of the durable targets, as `server.worker_threads` sets them for
    /// `ghlsync serve` (default: its default, cores − 1).
    #[arg(long)]
    pub worker_threads: Option<usize>,
}

/// A benchmark target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// axum route, no verification, no storage.
    Bare,
    /// axum route verifying the Ed25519 signature, no storage.
    BareEd25519,
    /// axum route verifying the HMAC signature, no storage.
    BareHmac,
    /// axum route storing the raw body by the simplest group commit (one table, WAL,
    /// `synchronous=FULL`), no verification: what the disk alone costs.
    BareGroupCommit,
    /// ghlsync's `/webhooks/ghl` (Ed25519, durable).
    DurableEd25519,
    /// ghlsync's workflow route (HMAC, durable).
    DurableHmac,
    /// ghlsync's broadcast trigger (seed 004's body, the webhook key in it, durable).
    DurableTrigger,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::BareEd25519 => "bare+ed25519",
            Self::BareHmac => "bare+hmac",
            Self::BareGroupCommit => "bare+group-commit",
            Self::DurableEd25519 => "durable ed25519",
            Self::DurableHmac => "durable hmac",
            Self::DurableTrigger => "durable trigger",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::BareEd25519 => "bare-ed25519",
            Self::BareHmac => "bare-hmac",
            Self::BareGroupCommit => "bare-group-commit",
            Self::DurableEd25519 => "durable-ed25519",
            Self::DurableHmac => "durable-hmac",
            Self::DurableTrigger => "durable-trigger",
        }
    }

    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Bare | Self::BareEd25519 | Self::DurableEd25519 => "/webhooks/ghl",
            Self::BareHmac | Self::BareGroupCommit | Self::DurableHmac => {
                "/webhooks/ghl/workflow/bench"
            }
            Self::DurableTrigger => "/api/v1/broadcasts/trigger",
        }
    }
}

/// The fixed keys of the benchmark: the load generator signs with them, targets verify.
fn keys() -> SigningKeys {
    // Generated once per process pair; both sides derive them from this seed file.
    let path = std::env::temp_dir().join("ghlsync-bench-keys.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(v) = serde_json::from_str::<Value>(&text)
    {
        let hex = |k: &str| v[k].as_str().and_then(decode_hex);
        if let (Some(ed), Some(rsa)) = (hex("ed"), hex("rsa"))
            && let Ok(keys) = SigningKeys::from_pkcs8(&ed, &rsa)
        {
            return keys;
        }
    }
    let keys = SigningKeys::generate();
    let (ed, rsa) = keys.pkcs8();
    let text = json!({"ed": encode_hex(ed), "rsa": encode_hex(rsa)}).to_string();
    let _ = std::fs::write(&path, text);
    keys
}

fn encode_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Serves one target until killed.
pub async fn serve(mode: Mode, port: u16, db: Option<String>, dir: PathBuf) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let ed_pem = keys().ed25519_public_pem();
    let router = match mode {
        Mode::Bare => Router::new().route(
            mode.path(),
            post(|| async { (StatusCode::OK, "{\"status\":\"accepted\"}") }),
        ),
        Mode::BareEd25519 => {
            let verifier = Arc::new(WebhookVerifier::from_pems(&[&ed_pem], &[])?);
            Router::new().route(
                mode.path(),
                post(move |headers: HeaderMap, body: Bytes| {
                    let verifier = Arc::clone(&verifier);
                    async move {
                        let sig = headers.get("x-ghl-signature").and_then(|v| v.to_str().ok());
                        match verifier.verify(&body, sig, None) {
                            Ok(_) => (StatusCode::OK, "{\"status\":\"accepted\"}"),
                            Err(_) => (StatusCode::UNAUTHORIZED, "{}"),
                        }
                    }
                }),
            )
        }
        Mode::BareHmac => Router::new().route(
            mode.path(),
            post(|headers: HeaderMap, body: Bytes| async move {
                let get = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let expected = ghlsync::connectors::ghl::workflow::sign(
                    HMAC_SECRET.as_bytes(),
                    &get("x-ghl-timestamp"),
                    &body,
                );
                if expected == get("x-ghl-signature") {
                    (StatusCode::OK, "{\"status\":\"accepted\"}")
                } else {
                    (StatusCode::UNAUTHORIZED, "{}")
                }
            }),
        ),
        Mode::BareGroupCommit => {
            let queue = group_commit(&dir.join("bare.db"))?;
            Router::new().route(
                mode.path(),
                post(move |body: Bytes| {
                    let queue = queue.clone();
                    async move {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        if queue.send((body, reply)).await.is_err() {
                            return (StatusCode::TOO_MANY_REQUESTS, "{}");
                        }
                        match answer.await {
                            Ok(true) => (StatusCode::OK, "{\"status\":\"accepted\"}"),
                            _ => (StatusCode::TOO_MANY_REQUESTS, "{}"),
                        }
                    }
                }),
            )
        }
        Mode::DurableTrigger => {
            let mut config = Config::default();
            config.database.url =
                db.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            config.secrets.key_file = Some(dir.join("bench.key"));
            // Seed 004 allows 100 a minute per key; this measures what the route can take.
            config.broadcasts.trigger_per_minute = u32::MAX / 2;
            let app = ghlsync::App::open(config).await?;
            let target = crate::broadcast_bench::prepare_trigger(&app).await?;
            // Written whole, then named: the benchmark reads it as soon as it appears.
            let file = dir.join(crate::broadcast_bench::TRIGGER_FILE);
            std::fs::write(file.with_extension("tmp"), serde_json::to_vec(&target)?)?;
            std::fs::rename(file.with_extension("tmp"), file)?;
            app.router()
        }
        Mode::DurableEd25519 | Mode::DurableHmac => {
            let mut config = Config::default();
            config.database.url =
                db.unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            config.secrets.key_file = Some(dir.join("bench.key"));
            config.ghl.webhook_ed25519_keys = vec![ed_pem];
            config.server.replay_window_secs = 3_600;
            config.server.route_requests_per_minute = u32::MAX / 2;
            let app = ghlsync::App::open(config).await?;
            let location = "benchLocation0000001".into();
            ghlsync::registry::add_location(
                app.store(),
                app.cipher(),
                &location,
                "Bench",
                IntegrationType::Internal,
                &SecretString::from("pit-bench".to_owned()),
                json!({}),
            )
            .await?;
            let action = RouteAction::UpsertContact(UpsertContactAction::default());
            ghlsync::registry::add_route(
                app.store(),
                app.cipher(),
                ghlsync::registry::RouteDefinition::new(
                    "bench",
                    &location,
                    RouteAuth::Hmac,
                    action,
                ),
                &SecretString::from(HMAC_SECRET.to_owned()),
            )
            .await?;
            // Workers stay off: this measures acknowledgement of durable events.
            app.router()
        }
    };
    axum::serve(listener, router).await?;
    Ok(())
}

/// The simplest group commit: one thread stores whatever is queued in one transaction and
/// answers. Bodies only, one table, no keys.
fn group_commit(
    path: &std::path::Path,
) -> anyhow::Result<tokio::sync::mpsc::Sender<(Bytes, tokio::sync::oneshot::Sender<bool>)>> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
    )?;
    let (queue, mut rx) =
        tokio::sync::mpsc::channel::<(Bytes, tokio::sync::oneshot::Sender<bool>)>(10_000);
    std::thread::spawn(move || {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let stored = (|| -> rusqlite::Result<()> {
                let tx = conn.transaction()?;
                {
                    let mut insert = tx.prepare_cached("INSERT INTO events (body) VALUES (?1)")?;
                    for (body, _) in &batch {
                        insert.execute([body.as_ref()])?;
                    }
                }
                tx.commit()
            })()
            .is_ok();
            for (_, reply) in batch {
                let _ = reply.send(stored);
            }
        }
    });
    Ok(queue)
}

/// Pre-built requests: (path, headers, body). Signing is done before measuring.
pub(crate) struct Request {
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

fn ghl_requests(n: usize, keys: &SigningKeys) -> Vec<Request> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (0..n)
        .map(|i| {
            let body = serde_json::to_vec(&json!({
                "type": "ContactCreate", "locationId": "benchLocation0000001", "id": format!("c{i}"),
                "webhookId": uuid::Uuid::new_v4().to_string(), "timestamp": now,
                "email": format!("bench{i}@example.com"), "firstName": "Bench", "tags": ["lead"],
                "customFields": [{"id": "f1", "value": "x"}],
            }))
            .unwrap_or_default();
            let sig = keys.sign_ed25519(&body);
            Request { headers: vec![("x-ghl-signature", sig)], body: Bytes::from(body) }
        })
        .collect()
}

fn hmac_requests(n: usize) -> Vec<Request> {
    let ts = (ghlsync::app::now_ms() / 1000).to_string();
    (0..n)
        .map(|i| {
            let body = serde_json::to_vec(&json!({"email": format!("bench{i}@example.com"), "first_name": "Bench", "source": "web"}))
                .unwrap_or_default();
            let sig = ghlsync::connectors::ghl::workflow::sign(HMAC_SECRET.as_bytes(), &ts, &body);
            Request { headers: vec![("x-ghl-signature", sig), ("x-ghl-timestamp", ts.clone())], body: Bytes::from(body) }
        })
        .collect()
}

/// One measured case.
pub(crate) struct Outcome {
    pub(crate) requests_per_s: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
}

pub(crate) async fn load(
    port: u16,
    path: &str,
    connections: usize,
    seconds: u64,
    requests: Arc<Vec<Request>>,
) -> Outcome {
    let warmup = Duration::from_millis(500);
    let start = Instant::now() + warmup;
    let stop = start + Duration::from_secs(seconds);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let requests = Arc::clone(&requests);
        let next = Arc::clone(&next);
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            // One keep-alive HTTP/1 connection per task, driven by hyper directly: the load
            // generator shares the machine with the target, so it should cost as little as
            // possible.
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut latencies = Vec::with_capacity(100_000);
            let (mut ok, mut errors) = (0u64, 0u64);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % requests.len();
                let req = &requests[i];
                let mut builder = hyper::Request::post(path.as_str())
                    .header("host", "127.0.0.1")
                    .header("content-type", "application/json");
                for (k, v) in &req.headers {
                    builder = builder.header(*k, v);
                }
                let request = builder.body(http_body_util::Full::new(req.body.clone()))?;
                let sent = Instant::now();
                let good = match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        http_body_util::BodyExt::collect(response.into_body())
                            .await
                            .is_ok()
                            && status == StatusCode::OK
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                if done >= stop {
                    break;
                }
                if sent >= start {
                    latencies.push((done - sent).as_micros() as u32);
                    if good { ok += 1 } else { errors += 1 }
                }
                if !good && sender.ready().await.is_err() {
                    break;
                }
            }
            anyhow::Ok((latencies, ok, errors))
        }));
    }
    let mut all = Vec::new();
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        match t.await {
            Ok(Ok((l, o, e))) => {
                all.extend(l);
                ok += o;
                errors += e;
            }
            // A connection that could not be made counts as an error, not silence.
            _ => errors += 1,
        }
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |v| *v as f64 / 1000.0)
    };
    Outcome {
        requests_per_s: ok as f64 / seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        ok,
        errors,
    }
}

/// Mean events per commit and mean commit time, from the target's own metrics.
async fn commit_stats(port: u16) -> Value {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return Value::Null;
    };
    let Ok(text) = r.text().await else {
        return Value::Null;
    };
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
    };
    match (
        value("ghlsync_inbox_batch_size_sum"),
        value("ghlsync_inbox_batch_size_count"),
        value("ghlsync_inbox_commit_seconds_sum"),
    ) {
        (Some(events), Some(commits), Some(seconds)) if commits > 0.0 => json!({
            "commits": commits,
            "mean_events_per_commit": (events / commits * 10.0).round() / 10.0,
            "mean_commit_ms": (seconds / commits * 1000.0 * 1000.0).round() / 1000.0,
        }),
        _ => Value::Null,
    }
}

pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn start(
    mode: Mode,
    db: Option<&str>,
    dir: &std::path::Path,
    worker_threads: usize,
) -> anyhow::Result<(Server, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args([
        "serve-bench",
        "--mode",
        mode.arg(),
        "--port",
        &port.to_string(),
        "--dir",
    ])
    .arg(dir);
    if let Some(db) = db {
        cmd.args(["--db", db]);
    }
    if matches!(
        mode,
        Mode::DurableEd25519 | Mode::DurableHmac | Mode::DurableTrigger
    ) {
        cmd.args(["--worker-threads", &worker_threads.to_string()]);
    }
    let child = cmd
        .env("GHLSYNC_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "{} did not start", mode.name());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((server, port))
}

/// The median of some figures (the mean of the middle two for an even count).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `part / whole`, or 0 when nothing was measured.
pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// One round's figures for a durable target.
struct Round {
    durable_per_s: f64,
    baseline_per_s: f64,
    ratio: f64,
    p99_ms: f64,
}

/// Runs the benchmark and prints the JSON report.
///
/// Each case runs `rounds` times, its targets one after another within a round, and the
/// report gives the median of the per-round ratios: the machine's speed drifts by tens of
/// percent over minutes, and a ratio of two measurements taken seconds apart is what
/// survives that.
pub async fn run(options: IngestOptions) -> anyhow::Result<()> {
    let IngestOptions {
        seconds,
        rounds,
        postgres,
        connections: connection_counts,
        scheme: only_scheme,
        worker_threads,
    } = options;
    let postgres = postgres.or_else(|| std::env::var("GHLSYNC_TEST_POSTGRES_URL").ok());
    // Decided once, passed to every durable target and named in the report.
    let worker_threads = worker_threads.unwrap_or_else(ghlsync::app::default_worker_threads);
    let connection_counts = if connection_counts.is_empty() {
        vec![16, 64]
    } else {
        connection_counts
    };
    let keys = keys();
    let pool = 400_000;
    eprintln!("preparing {pool} signed requests per scheme...");
    let ghl = Arc::new(ghl_requests(pool, &keys));
    let hmac = Arc::new(hmac_requests(pool));
    let dir = std::env::temp_dir().join(format!("ghlsync-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let mut results = Vec::new();
    let mut ratios = Vec::new();
    let mut dbs: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Some(url) = &postgres {
        dbs.push(("postgres", Some(url.clone())));
    }
    let rounds = rounds.max(1);
    for connections in connection_counts {
        for (scheme, requests, bare_verify, durable) in [
            ("ed25519", &ghl, Mode::BareEd25519, Mode::DurableEd25519),
            ("hmac", &hmac, Mode::BareHmac, Mode::DurableHmac),
        ] {
            if only_scheme.as_deref().is_some_and(|s| s != scheme) {
                continue;
            }
            let (baseline_name, target) = match scheme {
                "hmac" => ("bare", 0.5),
                _ => ("bare+ed25519", 0.7),
            };
            // Per database, each round's figures.
            let mut per_db: Vec<Vec<Round>> = dbs.iter().map(|_| Vec::new()).collect();
            let mut bare_verified = Vec::new();
            // The simplest SQLite group commit beside the bare route: (per s, ratio) per round.
            let mut prototype: Vec<(f64, f64)> = Vec::new();
            for round in 1..=rounds {
                let mut measure = async |mode: Mode,
                                         db_name: &str,
                                         db: Option<&str>|
                       -> anyhow::Result<Outcome> {
                    let case_dir = dir.join(format!(
                        "{}-{db_name}-{connections}-{scheme}-{round}",
                        mode.arg()
                    ));
                    std::fs::create_dir_all(&case_dir)?;
                    let (_server, port) = start(mode, db, &case_dir, worker_threads).await?;
                    eprintln!(
                        "{} ({db_name}, {scheme}, {connections} connections, round {round} of {rounds})...",
                        mode.name()
                    );
                    let o = load(
                        port,
                        mode.path(),
                        connections,
                        seconds,
                        Arc::clone(requests),
                    )
                    .await;
                    let commits = commit_stats(port).await;
                    results.push(json!({
                        "target": mode.name(), "db": db_name, "scheme": scheme, "connections": connections,
                        "round": round, "requests_per_s": o.requests_per_s.round(), "p50_ms": o.p50_ms,
                        "p99_ms": o.p99_ms, "acknowledged": o.ok, "errors": o.errors, "group_commit": commits,
                    }));
                    Ok(o)
                };
                let bare = measure(Mode::Bare, "none", None).await?;
                let verified = measure(bare_verify, "none", None).await?;
                bare_verified.push(verified.requests_per_s);
                if scheme == "hmac" {
                    let p = measure(Mode::BareGroupCommit, "sqlite", None).await?;
                    prototype.push((
                        p.requests_per_s,
                        ratio(p.requests_per_s, bare.requests_per_s),
                    ));
                }
                let baseline = match scheme {
                    "hmac" => bare.requests_per_s,
                    _ => verified.requests_per_s,
                };
                for ((db_name, db_url), rows) in dbs.iter().zip(per_db.iter_mut()) {
                    let database = match db_url {
                        Some(admin) => Some(ghlsync_store::testing::create_database(admin).await?),
                        None => None,
                    };
                    let d = measure(durable, db_name, database.as_ref().map(|d| d.url.as_str()))
                        .await?;
                    drop(database);
                    rows.push(Round {
                        durable_per_s: d.requests_per_s,
                        baseline_per_s: baseline,
                        ratio: ratio(d.requests_per_s, baseline),
                        p99_ms: d.p99_ms,
                    });
                }
            }
            for ((db_name, _), rows) in dbs.iter().zip(per_db) {
                let column = |f: fn(&Round) -> f64| median(rows.iter().map(f).collect());
                let round3 = |v: f64| (v * 1000.0).round() / 1000.0;
                ratios.push(json!({
                    "db": db_name, "scheme": scheme, "connections": connections, "rounds": rounds,
                    "durable_per_s": column(|r| r.durable_per_s).round(), "baseline": baseline_name,
                    "baseline_per_s": column(|r| r.baseline_per_s).round(),
                    "ratio": round3(column(|r| r.ratio)), "ratio_target": target,
                    "ratio_per_round": rows.iter().map(|r| round3(r.ratio)).collect::<Vec<_>>(),
                    "p99_ms": column(|r| r.p99_ms),
                    "p99_target_ms": if connections == 64 { Some(50.0) } else { None },
                    "bare_hmac_per_s": if scheme == "hmac" { Some(median(bare_verified.clone()).round()) } else { None },
                    "bare_group_commit": if scheme == "hmac" && *db_name == "sqlite" {
                        json!({
                            "per_s": median(prototype.iter().map(|p| p.0).collect()).round(),
                            "ratio_to_bare": round3(median(prototype.iter().map(|p| p.1).collect())),
                        })
                    } else { Value::Null },
                }));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let report = json!({
        "benchmark": "ingest",
        "seconds_per_case": seconds,
        "rounds": rounds,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "durable_worker_threads": worker_threads,
        "notes": "durable = committed before the 2xx (SQLite: WAL, synchronous=FULL, group commit); workers off; load generator and server share the machine; durable_vs_baseline gives medians over the rounds; bare_group_commit is the bare route storing raw bodies by the simplest SQLite group commit (what the disk alone allows)",
        "results": results,
        "durable_vs_baseline": ratios,
    });
    // The report is the program's output.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_take_the_middle_and_ratios_survive_an_empty_baseline() {
        assert_eq!(median(vec![0.4, 0.1, 0.3]), 0.3);
        assert_eq!(median(vec![0.4, 0.1, 0.3, 0.2]), 0.25);
        assert_eq!(median(Vec::new()), 0.0);
        assert_eq!(ratio(30.0, 60.0), 0.5);
        assert_eq!(ratio(30.0, 0.0), 0.0);
    }
}
