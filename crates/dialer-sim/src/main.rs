//! `dialer-sim`: works one broadcast through ghlsync's dialer API until it is idle, then
//! prints the counts as JSON on stdout (logs go to stderr, so the output can be piped).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dialer_sim::{Engine, EngineConfig, Faults, Mix};

/// A simulated dialer engine for ghlsync's voice broadcasts.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// ghlsync's base URL.
    #[arg(long, env = "GHLSYNC_URL", default_value = "http://127.0.0.1:8080")]
    ghlsync: String,
    /// The engine's owner id.
    #[arg(long, env = "DIALER_OWNER")]
    owner: String,
    /// The engine secret (better given in the environment than on the command line).
    #[arg(long, env = "DIALER_SECRET", hide_env_values = true)]
    secret: String,
    /// The broadcast to work on.
    #[arg(long)]
    broadcast: String,
    /// Seeds the outcomes and the fault decisions.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Items per lease (1 to 100).
    #[arg(long, default_value_t = 10)]
    batch: u32,
    /// Lease length in seconds (10 to 3600).
    #[arg(long, default_value_t = 300)]
    lease_seconds: u32,
    /// At most this many leases.
    #[arg(long, default_value_t = 100)]
    rounds: u32,
    /// The longest sleep, in seconds, while waiting for the next item to become due.
    #[arg(long, default_value_t = 30)]
    idle_wait_secs: u64,
    /// Share of reports never sent (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    drop_rate: f64,
    /// Share of reports sent twice (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    repeat_rate: f64,
    /// Wait before sending each report, in ms.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
}

fn rate(s: &str) -> Result<f64, String> {
    let value: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut engine = Engine::new(EngineConfig {
        base_url: args.ghlsync,
        owner_id: args.owner,
        secret: args.secret,
        broadcast_id: args.broadcast,
        seed: args.seed,
        batch: args.batch,
        lease_seconds: args.lease_seconds,
        mix: Mix::default(),
        faults: Faults {
            drop_rate: args.drop_rate,
            repeat_rate: args.repeat_rate,
            delay_ms: args.delay_ms,
        },
    });
    let result = engine
        .run_until_idle(args.rounds, Duration::from_secs(args.idle_wait_secs))
        .await;
    // The counts are printed even after a failure: they say how far the run got.
    let mut out = serde_json::to_string_pretty(engine.stats()).unwrap_or_default();
    out.push('\n');
    if let Err(error) = std::io::stdout().lock().write_all(out.as_bytes()) {
        tracing::error!(%error, "stdout");
        return ExitCode::FAILURE;
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stopped");
            ExitCode::FAILURE
        }
    }
}
