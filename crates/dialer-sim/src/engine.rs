//! The engine loop: lease, call, report.

use std::collections::BTreeMap;
use std::time::Duration;

use dialer::{
    Client, Lease, LeaseRequest, LeasedItem, Outcome, OutcomeReceipt, OutcomeReport, ReceiptStatus,
};
use jiff::Timestamp;
use serde::Serialize;

use crate::script::{Faults, Mix, Purpose, happens, play, rng_for};

/// How many times a report that failed transiently (429, 5xx, no answer) is sent again
/// before the engine gives up on it and lets the lease expire.
pub const REPORT_RETRIES: u32 = 3;

/// The first wait before resending a report; it doubles with each retry.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The longest `Retry-After` honoured between retries: a simulator should not stall a test.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The shortest sleep when idle, so a `next_due_at` already past does not spin the loop.
const MIN_IDLE_SLEEP: Duration = Duration::from_millis(10);

/// What the engine is and does.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// ghlsync's base URL (`http://127.0.0.1:8080`).
    pub base_url: String,
    /// The engine's owner id (`X-Dialer-Owner`).
    pub owner_id: String,
    /// The engine secret: the lease's bearer token and the reports' HMAC key.
    pub secret: String,
    /// The broadcast to work on.
    pub broadcast_id: String,
    /// Seeds the outcomes and the fault decisions.
    pub seed: u64,
    /// Items asked for per lease (1..=100).
    pub batch: u32,
    /// Lease length asked for (10..=3600 seconds).
    pub lease_seconds: u32,
    /// Outcome weights for numbers that are not scripted.
    pub mix: Mix,
    /// Unreliable-engine behaviour.
    pub faults: Faults,
}

impl EngineConfig {
    /// A config with seed 7, batches of 10, 300-second leases, the default mix and no
    /// faults.
    pub fn new(
        base_url: impl Into<String>,
        owner_id: impl Into<String>,
        secret: impl Into<String>,
        broadcast_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            owner_id: owner_id.into(),
            secret: secret.into(),
            broadcast_id: broadcast_id.into(),
            seed: 7,
            batch: dialer::DEFAULT_LEASE_LIMIT,
            lease_seconds: dialer::DEFAULT_LEASE_SECONDS,
            mix: Mix::default(),
            faults: Faults::default(),
        }
    }
}

/// Counts since the engine was made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Leases taken, including those that gave no items.
    pub rounds: u32,
    /// Items called.
    pub calls: u32,
    /// Calls per outcome.
    pub by_outcome: BTreeMap<Outcome, u32>,
    /// Reports sent (a repeat not counted again) and answered.
    pub reports_sent: u32,
    /// Reports sent a second time on purpose ([`Faults::repeat_rate`]).
    pub reports_repeated: u32,
    /// Reports never sent ([`Faults::drop_rate`]).
    pub reports_dropped: u32,
    /// Answers that said `duplicate`.
    pub duplicates_answered: u32,
    /// Sends repeated after a transient failure.
    pub report_retries: u32,
    /// Reports given up on: refused, or still failing after [`REPORT_RETRIES`].
    pub reports_failed: u32,
}

/// What became of one call's report.
#[derive(Debug)]
pub enum Delivery {
    /// Not sent ([`Faults::drop_rate`]).
    Dropped,
    /// Sent and answered.
    Sent {
        /// The answer to the first send.
        receipt: OutcomeReceipt,
        /// The answer to the repeat, when the report was sent twice.
        repeat: Option<Result<OutcomeReceipt, dialer::Error>>,
    },
    /// Refused, or failing after [`REPORT_RETRIES`].
    Failed(dialer::Error),
}

/// One item called.
#[derive(Debug)]
pub struct Call {
    /// The item as leased.
    pub item: LeasedItem,
    /// The report made of the call (sent or not).
    pub report: OutcomeReport,
    /// What became of it.
    pub delivery: Delivery,
}

/// One lease and its calls.
#[derive(Debug)]
pub struct Round {
    /// The lease as answered.
    pub lease: Lease,
    /// One per leased item, in the lease's order.
    pub calls: Vec<Call>,
}

/// A simulated dialer engine working one broadcast.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    client: Client,
    stats: Stats,
}

impl Engine {
    /// An engine with its client for `config.base_url`.
    pub fn new(config: EngineConfig) -> Self {
        let client = Client::new(&config.base_url, &config.owner_id, &config.secret);
        Self {
            config,
            client,
            stats: Stats::default(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Its client, for sending reports by hand.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// `event_id` for a call: the same for every report of one attempt, so a repeat or a
    /// retry is the same event to ghlsync.
    pub fn event_id(&self, item: &LeasedItem) -> String {
        format!(
            "{}-{}-{}",
            self.config.owner_id, item.queue_item_id, item.attempt
        )
    }

    /// One lease, a call to every item and its report. A failed lease is returned as the
    /// error; a report that cannot be delivered is recorded in its [`Call`] and the round
    /// goes on, as an engine would leave the item to its lease's expiry.
    pub async fn run_round(&mut self) -> Result<Round, dialer::Error> {
        let request = LeaseRequest {
            broadcast_id: self.config.broadcast_id.clone(),
            limit: self.config.batch,
            lease_seconds: self.config.lease_seconds,
        };
        let lease = self.client.lease(&request).await?;
        self.stats.rounds += 1;
        tracing::info!(
            broadcast = %lease.broadcast_id,
            status = %lease.broadcast_status,
            lease = %lease.lease_id,
            items = lease.items.len(),
            next_due_at = ?lease.next_due_at,
            "leased"
        );
        let mut calls = Vec::with_capacity(lease.items.len());
        for item in &lease.items {
            let call = self.call(&lease.lease_id, item).await;
            calls.push(call);
        }
        Ok(Round { lease, calls })
    }

    /// Runs rounds until a lease gives no items and nothing waits (`next_due_at` is
    /// `None`), or `max_rounds` leases were taken. When a lease gives no items but some
    /// wait, it sleeps until the next is due, at most `idle_wait`, and goes on. Returns the
    /// counts since the engine was made.
    pub async fn run_until_idle(
        &mut self,
        max_rounds: u32,
        idle_wait: Duration,
    ) -> Result<Stats, dialer::Error> {
        for _ in 0..max_rounds {
            let round = self.run_round().await?;
            if !round.calls.is_empty() {
                continue;
            }
            let Some(next_due_at) = round.lease.next_due_at else {
                tracing::info!("nothing waits; idle");
                break;
            };
            let until_due = Duration::try_from(Timestamp::now().duration_until(next_due_at))
                .unwrap_or(Duration::ZERO);
            let sleep = until_due.min(idle_wait).max(MIN_IDLE_SLEEP);
            tracing::debug!(?sleep, %next_due_at, "waiting for the next due item");
            tokio::time::sleep(sleep).await;
        }
        Ok(self.stats.clone())
    }

    async fn call(&mut self, lease_id: &str, item: &LeasedItem) -> Call {
        let called_at = Timestamp::now();
        let played = play(self.config.seed, &self.config.mix, item, called_at);
        let report = OutcomeReport {
            event_id: self.event_id(item),
            queue_item_id: item.queue_item_id.clone(),
            lease_id: Some(lease_id.to_owned()),
            outcome: played.outcome,
            duration_seconds: played.duration_seconds,
            called_at,
            dtmf_pressed: played.dtmf_pressed,
            callback_requested: played.callback_requested,
            callback_time: played.callback_time,
        };
        self.stats.calls += 1;
        *self.stats.by_outcome.entry(report.outcome).or_default() += 1;
        tracing::debug!(
            item = %item.queue_item_id,
            phone = %item.phone,
            attempt = item.attempt,
            outcome = %report.outcome,
            "called"
        );

        let faults = self.config.faults;
        if happens(
            &mut rng_for(self.config.seed, Purpose::Drop, item, lease_id),
            faults.drop_rate,
        ) {
            self.stats.reports_dropped += 1;
            tracing::info!(item = %item.queue_item_id, "report dropped");
            return Call {
                item: item.clone(),
                report,
                delivery: Delivery::Dropped,
            };
        }
        let repeat = happens(
            &mut rng_for(self.config.seed, Purpose::Repeat, item, lease_id),
            faults.repeat_rate,
        );
        if faults.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
        }

        let delivery = match serde_json::to_vec(&report) {
            Err(e) => Delivery::Failed(dialer::Error::Decode(format!(
                "the report could not be encoded: {e}"
            ))),
            Ok(body) => match self.send(&body).await {
                Err(error) => Delivery::Failed(error),
                Ok(receipt) => {
                    self.stats.reports_sent += 1;
                    let repeat = if repeat {
                        self.stats.reports_repeated += 1;
                        Some(self.send(&body).await)
                    } else {
                        None
                    };
                    Delivery::Sent { receipt, repeat }
                }
            },
        };
        if let Delivery::Failed(error) = &delivery {
            tracing::warn!(item = %item.queue_item_id, %error, "report not delivered");
        }
        Call {
            item: item.clone(),
            report,
            delivery,
        }
    }

    /// Sends the report's bytes, signed with the current time, resending after transient
    /// failures. The bytes never change, so a resend whose first try was recorded after
    /// all is answered `duplicate`.
    async fn send(&mut self, body: &[u8]) -> Result<OutcomeReceipt, dialer::Error> {
        let mut retries = 0;
        loop {
            let timestamp = Timestamp::now().as_second();
            match self.client.report_raw(body.to_vec(), timestamp).await {
                Ok(receipt) => {
                    if receipt.status == ReceiptStatus::Duplicate {
                        self.stats.duplicates_answered += 1;
                    }
                    return Ok(receipt);
                }
                Err(error) if error.is_transient() && retries < REPORT_RETRIES => {
                    retries += 1;
                    self.stats.report_retries += 1;
                    let wait = match &error {
                        dialer::Error::Api {
                            retry_after_secs: Some(secs),
                            ..
                        } => Duration::from_secs(*secs).min(MAX_RETRY_AFTER),
                        _ => RETRY_BACKOFF * 2u32.pow(retries - 1),
                    };
                    tracing::debug!(%error, ?wait, retries, "report failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    self.stats.reports_failed += 1;
                    return Err(error);
                }
            }
        }
    }
}
