//! `cargo xtask`: development tasks.
//!
//! - `cargo xtask bench ingest`: durable events per second and acknowledgement latency of
//!   ghlsync's ingress, beside baselines measured in the same run (the bare axum route, the
//!   bare route doing the same signature check, and the bare route with the simplest SQLite
//!   group commit), in interleaved rounds, printed as JSON.
//! - `cargo xtask bench rules`: application events through the marketplace pack to the GHL
//!   simulator: events per second and GHL calls per event, coalescing on and off.

mod bench;
mod rules_bench;

// The benchmark targets run in this binary; they use the allocator the `ghlsync` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Args {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Benchmarks that print a JSON report.
    Bench {
        /// What to measure.
        #[arg(value_enum)]
        what: bench::Bench,
        /// Seconds per measured case.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Rounds per case; the report gives medians (the machine's speed drifts).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// PostgreSQL URL for the PostgreSQL cases (default: GHLSYNC_TEST_POSTGRES_URL).
        #[arg(long, env = "GHLSYNC_BENCH_POSTGRES_URL")]
        postgres: Option<String>,
        /// Only these connection counts (default 16 and 64).
        #[arg(long = "connections", value_delimiter = ',')]
        connections: Vec<usize>,
        /// Only this scheme (ed25519 or hmac).
        #[arg(long)]
        scheme: Option<String>,
        /// `rules`: people in the event mix (half companies, half experts).
        #[arg(long, default_value_t = 100)]
        people: usize,
        /// `rules`: requests per second the simulator and the dispatcher allow (GHL: 10).
        #[arg(long, default_value_t = 100)]
        rate: u32,
    },
    /// Internal: serve one benchmark target (run by `bench`).
    #[command(hide = true)]
    ServeBench {
        #[arg(long)]
        mode: bench::Mode,
        #[arg(long)]
        port: u16,
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Durable targets run the way `ghlsync serve` runs; the bare baselines use tokio's default.
    if let Task::ServeBench {
        mode: bench::Mode::DurableEd25519 | bench::Mode::DurableHmac,
        ..
    } = &args.command
    {
        builder.worker_threads(ghlsync::app::default_worker_threads());
    }
    let runtime = builder.enable_all().build()?;
    match args.command {
        Task::Bench {
            what,
            seconds,
            rounds,
            postgres,
            connections,
            scheme,
            people,
            rate,
        } => {
            if let bench::Bench::Rules = what {
                return runtime.block_on(rules_bench::run(people, rate));
            }
            let postgres = postgres.or_else(|| std::env::var("GHLSYNC_TEST_POSTGRES_URL").ok());
            let connections = if connections.is_empty() {
                vec![16, 64]
            } else {
                connections
            };
            runtime.block_on(bench::run(
                what,
                seconds,
                rounds,
                postgres,
                connections,
                scheme,
            ))
        }
        Task::ServeBench {
            mode,
            port,
            db,
            dir,
        } => runtime.block_on(bench::serve(mode, port, db, dir)),
    }
}
