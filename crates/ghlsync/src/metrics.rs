//! Prometheus metrics: one recorder per process, rendered by `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests to ingress routes, by route and outcome.
pub const INGRESS_REQUESTS: &str = "ghlsync_ingress_requests_total";
/// Ingress rejections by reason (signature, replay, overload, ...).
pub const INGRESS_REJECTIONS: &str = "ghlsync_ingress_rejections_total";
/// Events per group commit.
pub const INBOX_BATCH_SIZE: &str = "ghlsync_inbox_batch_size";
/// Seconds per group commit.
pub const INBOX_COMMIT_SECONDS: &str = "ghlsync_inbox_commit_seconds";
/// Processed events by outcome (done, retry, dead).
pub const EVENTS_PROCESSED: &str = "ghlsync_events_processed_total";
/// Jobs by kind and outcome (done, retry, held, dead).
pub const JOBS: &str = "ghlsync_jobs_total";
/// GHL calls by status class.
pub const GHL_CALLS: &str = "ghlsync_ghl_calls_total";
/// Times a job waited for the per-location limiter.
pub const RATE_LIMIT_WAITS: &str = "ghlsync_rate_limit_waits_total";
/// GHL webhooks that changed nothing (echoes of ghlsync's own writes), by type: they run
/// no rule.
pub const ECHOES: &str = "ghlsync_echoes_suppressed_total";
/// Events forwarded to the application, by outcome (done, retry, dead).
pub const FORWARDS: &str = "ghlsync_forwards_total";

/// The process-wide recorder. Installed on first use; later calls share it (tests run
/// several apps in one process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding application); then
            // this one still renders, just without the global macros' data.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
