//! `cargo xtask`: development tasks.
//!
//! - `cargo xtask bench ingest`: durable events per second and acknowledgement latency of
//!   ghlsync's ingress, beside baselines measured in the same run (the bare axum route, the
//!   bare route doing the same signature check, and the bare route with the simplest SQLite
//!   group commit), in interleaved rounds, printed as JSON.
//! - `cargo xtask bench rules`: application events through the marketplace pack to the GHL
//!   simulator: events per second and GHL calls per event, coalescing on and off.
//! - `cargo xtask bench bridge`: a backlog of GHL events for one CloudTalk company through
//!   the bulk endpoint; the share of CloudTalk's per-minute limit used, never over it.
//! - `cargo xtask bench locations`: 1, 10 and 100 locations with a backlog each, on SQLite
//!   and PostgreSQL: each location's calls per 10 s against GHL's limit, the most in any
//!   10 s, 429s, and the dispatcher's CPU.
//! - `cargo xtask bench broadcast`: seed 004's trigger (durable requests per second beside
//!   the bare route and the simplest group commit), and the callback of 2,000 outcomes to
//!   one location: GHL calls per outcome and the share of GHL's limit used.

mod bench;
mod bridge_bench;
mod broadcast_bench;
mod locations_bench;
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
        #[command(flatten)]
        ingest: bench::IngestOptions,
        #[command(flatten)]
        locations: locations_bench::LocationsOptions,
        #[command(flatten)]
        bridge: bridge_bench::BridgeOptions,
        #[command(flatten)]
        broadcast: broadcast_bench::BroadcastOptions,
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
        /// HTTP worker threads of a durable target (default: as `ghlsync serve`).
        #[arg(long)]
        worker_threads: Option<usize>,
    },
    /// Internal: serve the GHL simulator in a process of its own (run by `bench locations`).
    #[command(hide = true)]
    ServeSim {
        #[arg(long)]
        port: u16,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Durable targets run the way `ghlsync serve` runs; the bare baselines use tokio's default.
    if let Task::ServeBench {
        mode: bench::Mode::DurableEd25519 | bench::Mode::DurableHmac | bench::Mode::DurableTrigger,
        worker_threads,
        ..
    } = &args.command
    {
        builder.worker_threads(worker_threads.unwrap_or_else(ghlsync::app::default_worker_threads));
    }
    let runtime = builder.enable_all().build()?;
    match args.command {
        Task::Bench {
            what,
            ingest,
            locations,
            bridge,
            broadcast,
            people,
            rate,
        } => match what {
            bench::Bench::Rules => runtime.block_on(rules_bench::run(people, rate)),
            bench::Bench::Ingest => runtime.block_on(bench::run(ingest)),
            bench::Bench::Locations => {
                runtime.block_on(locations_bench::run(locations, ingest.postgres))
            }
            bench::Bench::Bridge => runtime.block_on(bridge_bench::run(bridge)),
            bench::Bench::Broadcast => runtime.block_on(broadcast_bench::run(broadcast, ingest)),
        },
        Task::ServeSim { port } => runtime.block_on(locations_bench::serve_sim(port)),
        Task::ServeBench {
            mode,
            port,
            db,
            dir,
            ..
        } => runtime.block_on(bench::serve(mode, port, db, dir)),
    }
}
