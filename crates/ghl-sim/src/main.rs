//! `ghl-sim`: serves the GHL simulator until stopped.

use std::net::SocketAddr;

use clap::Parser;
use ghl_sim::{Limits, Simulator, WebhookSettings, seed};

/// A local simulator of the GoHighLevel API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Seed data to load (`demo`, or `none` for an empty world).
    #[arg(long, default_value = "demo")]
    seed: String,
    /// Webhook subscriber URL (repeatable).
    #[arg(long = "webhook-url")]
    webhook_urls: Vec<String>,
    /// Wait between webhook retries after a 429, in ms (GHL: about 10 minutes).
    #[arg(long, default_value_t = 600_000)]
    webhook_retry_ms: u64,
    /// Requests per burst window per app and location.
    #[arg(long, default_value_t = 100)]
    rate_max: u32,
    /// Burst window in ms.
    #[arg(long, default_value_t = 10_000)]
    rate_interval_ms: u64,
    /// Requests per day per app and location.
    #[arg(long, default_value_t = 200_000)]
    rate_daily: u64,
}

#[tokio::main]
async fn main() -> anyhow_free::Result {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let sim = Simulator::builder()
        .listen(args.listen)
        .limits(Limits {
            max: args.rate_max,
            interval_ms: args.rate_interval_ms,
            daily: args.rate_daily,
        })
        .webhooks(WebhookSettings {
            urls: args.webhook_urls,
            retry_interval_ms: args.webhook_retry_ms,
            ..WebhookSettings::default()
        })
        .id_seed(7)
        .start()
        .await?;
    let mut out = format!("ghl-sim listening on {}\n", sim.base_url());
    match args.seed.as_str() {
        "demo" => {
            let seeded = sim.with_world(seed::demo);
            out.push_str(&format!(
                "agency {}  token {}\noauth app client_id={} client_secret={}\n",
                seeded.company_id,
                seeded.company_token,
                seeded.oauth_client_id,
                seeded.oauth_client_secret
            ));
            for l in &seeded.locations {
                out.push_str(&format!(
                    "location {:<14} id {}  token {}\n",
                    l.name, l.id, l.token
                ));
            }
        }
        "none" => {}
        other => return Err(format!("unknown seed {other:?}; use demo or none").into()),
    }
    let (ed, _) = sim.webhook_public_keys();
    out.push_str(&format!("webhook Ed25519 public key:\n{ed}"));
    out.push_str("control API under /_sim (state, faults, audit, webhooks); Ctrl-C to stop\n");
    // The seed printout is the program's output, not a log line.
    #[allow(clippy::print_stdout)]
    {
        print!("{out}");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown();
    Ok(())
}

mod anyhow_free {
    /// The binary's result: any error, printed by `main`.
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
