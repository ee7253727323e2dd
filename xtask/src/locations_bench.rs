//! The locations benchmark: delivery to many GHL locations at once.
//!
//! For each store and location count, every location gets its own token and a backlog of
//! contact syncs (an upsert and a tag call each), queued before the dispatcher starts. The
//! GHL simulator runs in a process of its own, so the CPU this process uses while the
//! backlog drains is the dispatcher's (and its store's, for SQLite). What each location
//! achieved is read from the simulator's audit log: its calls per 10 s between its first
//! and its last call, the most calls in any 10-second window, and the 429s it answered.
//!
//! GHL allows 100 calls per 10 s per location, so the baseline is that limit itself: a
//! dispatcher that loses nothing delivers every location at 100 per 10 s, however many
//! locations there are.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ghl::LocationId;
use ghlsync::config::Config;
use ghlsync_core::command::GhlCommand;
use ghlsync_core::{ContactSync, IntegrationType, NewJob};
use ghlsync_store::Store;
use secrecy::SecretString;
use serde_json::{Value, json};

/// `bench locations`' options.
#[derive(Debug, Clone, clap::Args)]
pub struct LocationsOptions {
    /// Location counts to run (default 1, 10 and 100).
    #[arg(long = "locations", value_delimiter = ',')]
    pub locations: Vec<usize>,
    /// Jobs queued per location before delivery starts.
    #[arg(long, default_value_t = 200)]
    pub jobs: usize,
    /// Only this store (`sqlite` or `postgres`).
    #[arg(long)]
    pub store: Option<String>,
}

/// The simulator in its own process (this binary, `serve-sim`), killed when dropped.
struct SimProcess {
    child: Child,
    base: String,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves a simulator on `port` until killed (the benchmark's child process).
pub async fn serve_sim(port: u16) -> anyhow::Result<()> {
    let _sim = ghl_sim::Simulator::builder()
        .listen(([127, 0, 0, 1], port).into())
        .start()
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}

async fn start_sim(http: &reqwest::Client) -> anyhow::Result<SimProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(std::env::current_exe()?)
        .args(["serve-sim", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()?;
    let sim = SimProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if http
            .get(format!("{}/_sim/health", sim.base))
            .send()
            .await
            .is_ok()
        {
            return Ok(sim);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("the simulator did not start")
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the name.
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// One location's calls, as the simulator saw them.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    /// When each call that was not refused was answered, sorted.
    pub(crate) times: Vec<i64>,
    /// Calls answered 429.
    pub(crate) throttled: usize,
}

impl Delivered {
    /// Calls per 10 s between the first call and the last.
    pub(crate) fn per_10s(&self) -> f64 {
        match (self.times.first(), self.times.last()) {
            (Some(first), Some(last)) if last > first => {
                (self.times.len() - 1) as f64 * 10_000.0 / (last - first) as f64
            }
            _ => 0.0,
        }
    }

    /// The most calls in any 10-second window.
    pub(crate) fn most_in_10s(&self) -> usize {
        let mut most = 0;
        let mut start = 0;
        for (end, t) in self.times.iter().enumerate() {
            while *t - self.times[start] >= 10_000 {
                start += 1;
            }
            most = most.max(end - start + 1);
        }
        most
    }
}

/// The sorted median of `values`.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

async fn case(
    store_name: &str,
    postgres: Option<&str>,
    locations: usize,
    jobs: usize,
) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let sim = start_sim(&http).await?;
    let dir = std::env::temp_dir().join(format!(
        "ghlsync-locations-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    // Kept until the case ends: dropping it drops the database.
    let pg = match postgres {
        Some(url) => Some(ghlsync_store::testing::create_database(url).await?),
        None => None,
    };
    let mut config = Config::default();
    config.database.url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.join("bench.db").display()),
    };
    config.secrets.key_file = Some(dir.join("bench.key"));
    config.ghl.base_url = sim.base.clone();
    let app = ghlsync::App::open(config).await?;
    let now = ghlsync::app::now_ms();
    let mut ids = Vec::with_capacity(locations);
    for n in 0..locations {
        let seeded: Value = http
            .post(format!("{}/_sim/locations", sim.base))
            .json(&json!({"name": format!("Location {n}")}))
            .send()
            .await?
            .json()
            .await?;
        let id = LocationId::new(seeded["id"].as_str().unwrap_or_default());
        let token = seeded["token"].as_str().unwrap_or_default().to_owned();
        ghlsync::registry::add_location(
            app.store(),
            app.cipher(),
            &id,
            &format!("Location {n}"),
            IntegrationType::Client,
            &SecretString::from(token),
            json!({}),
        )
        .await?;
        ids.push(id);
    }
    // Queued the way the processor queues them, location after location: a dispatcher
    // that takes the oldest first would serve one location's backlog before the next.
    for (n, id) in ids.iter().enumerate() {
        let batch: Vec<NewJob> = (0..jobs)
            .map(|i| {
                let email = format!("l{n}-c{i}@bench.example");
                NewJob {
                    location_id: id.clone(),
                    command: GhlCommand::SyncContact(ContactSync {
                        email: Some(email.clone()),
                        fields: [("firstName".to_owned(), json!(format!("Lead {i}")))].into(),
                        add_tags: vec!["lead".into()],
                        ..ContactSync::default()
                    }),
                    idempotency_key: format!("bench:{n}:{i}"),
                    ordering_key: format!("contact:{email}"),
                    run_at: now,
                    source_event: None,
                    coalesce: false,
                }
            })
            .collect();
        app.store().enqueue_jobs(&batch, now).await?;
    }
    eprintln!("{store_name}: {locations} locations x {jobs} jobs queued; delivering...");
    let sim_pid = sim.child.id().to_string();
    let (cpu0, sim_cpu0) = (cpu_seconds("self"), cpu_seconds(&sim_pid));
    let started = Instant::now();
    let workers = app.start_workers();
    // Four times what GHL's limit needs, at the least a minute.
    let expected = Duration::from_millis((jobs as u64 * 2).div_ceil(100) * 10_000);
    let deadline = started + (expected * 4).max(Duration::from_secs(60));
    let mut drained = false;
    while Instant::now() < deadline {
        let stats = app.store().queue_stats().await?;
        if stats.jobs_queued + stats.jobs_running == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu, sim_cpu) = (cpu_seconds("self") - cpu0, cpu_seconds(&sim_pid) - sim_cpu0);
    workers.stop().await;
    let stats = app.store().queue_stats().await?;
    let audit: Value = http
        .get(format!("{}/_sim/audit", sim.base))
        .send()
        .await?
        .json()
        .await?;
    let mut per: std::collections::HashMap<String, Delivered> = std::collections::HashMap::new();
    for entry in audit["entries"].as_array().into_iter().flatten() {
        let Some(resource) = entry["resource"].as_str() else {
            continue;
        };
        let delivered = per.entry(resource.to_owned()).or_default();
        if entry["status"] == 429 {
            delivered.throttled += 1;
        } else {
            delivered
                .times
                .push(entry["at_ms"].as_i64().unwrap_or_default());
        }
    }
    let mut rates: Vec<f64> = Vec::with_capacity(locations);
    let mut most = 0;
    let mut throttled = 0;
    let mut calls = 0;
    for id in &ids {
        let mut delivered = per.remove(&format!("location:{id}")).unwrap_or_default();
        delivered.times.sort_unstable();
        rates.push(delivered.per_10s());
        most = most.max(delivered.most_in_10s());
        throttled += delivered.throttled;
        calls += delivered.times.len();
    }
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let report = json!({
        "store": store_name,
        "locations": locations,
        "jobs_per_location": jobs,
        "drained": drained,
        "jobs_done": stats.jobs_done,
        "jobs_dead": stats.jobs_dead,
        "ghl_calls": calls,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "calls_per_10s_per_location": {
            "min": (min * 10.0).round() / 10.0,
            "median": (median(&mut rates) * 10.0).round() / 10.0,
            "limit": 100,
        },
        "most_in_any_10s": most,
        "http_429": throttled,
        "dispatcher_cpu_seconds": (cpu * 100.0).round() / 100.0,
        "dispatcher_cores_busy": ((cpu / elapsed) * 100.0).round() / 100.0,
        "simulator_cpu_seconds": (sim_cpu * 100.0).round() / 100.0,
    });
    drop(app);
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}

/// Runs every case and prints the report.
pub async fn run(options: LocationsOptions, postgres: Option<String>) -> anyhow::Result<()> {
    let counts = if options.locations.is_empty() {
        vec![1, 10, 100]
    } else {
        options.locations.clone()
    };
    let postgres = postgres.or_else(|| std::env::var("GHLSYNC_TEST_POSTGRES_URL").ok());
    let mut stores: Vec<(&str, Option<&str>)> = vec![("sqlite", None)];
    if let Some(url) = &postgres {
        stores.push(("postgres", Some(url.as_str())));
    }
    stores.retain(|(name, _)| options.store.as_deref().is_none_or(|s| s == *name));
    let mut cases = Vec::new();
    for (name, url) in &stores {
        for &n in &counts {
            let report = case(name, *url, n, options.jobs).await?;
            eprintln!("{report}");
            cases.push(report);
        }
    }
    let report = json!({
        "bench": "locations",
        "target": "every location at least 95 calls per 10 s, never over 100, no 429",
        "cores": std::thread::available_parallelism().map_or(1, usize::from),
        "cases": cases,
    });
    // The report is the command's output.
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
    fn rates_and_windows_of_delivered_calls() {
        let d = Delivered {
            times: (0..201).map(|i| i * 100).collect(),
            throttled: 0,
        };
        assert!((d.per_10s() - 100.0).abs() < 1e-9);
        assert_eq!(d.most_in_10s(), 100);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
