//! Prometheus metrics: one recorder per process, rendered by `/metrics`. Every metric is
//! described and registered at zero when the recorder starts, for every label value it can
//! take, so that a scrape before the first event already shows the whole set (a rate over
//! a series that appears later misses its first increments).

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
/// GHL calls by call and status class (`2xx`, `4xx`, `429`, `5xx`, `none` without an answer).
pub const GHL_CALLS: &str = "ghlsync_ghl_calls_total";
/// CloudTalk calls by call and status class, as for GHL.
pub const CLOUDTALK_CALLS: &str = "ghlsync_cloudtalk_calls_total";
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
            register();
            handle
        })
        .clone()
}

/// The status class a GHL call is counted under.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}

/// Describes every metric and registers each label combination at zero.
fn register() {
    use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};
    describe_counter!(
        INGRESS_REQUESTS,
        "Requests ingress stored (outcome accepted) or recognised as repeats (duplicate), by route"
    );
    describe_counter!(
        INGRESS_REJECTIONS,
        "Requests ingress refused, by route and reason"
    );
    describe_histogram!(INBOX_BATCH_SIZE, Unit::Count, "Events per group commit");
    describe_histogram!(
        INBOX_COMMIT_SECONDS,
        Unit::Seconds,
        "Time of one group commit"
    );
    describe_counter!(
        EVENTS_PROCESSED,
        "Inbox events processed, by outcome (done, retry, dead)"
    );
    describe_counter!(
        JOBS,
        "Outbox jobs run, by kind and outcome (done, held, retry, dead)"
    );
    describe_counter!(GHL_CALLS, "Calls made to GHL, by call and status class");
    describe_counter!(
        CLOUDTALK_CALLS,
        "Calls made to CloudTalk, by call and status class (a bulk request once)"
    );
    describe_counter!(
        RATE_LIMIT_WAITS,
        "Times a job waited for its location's rate limiter"
    );
    describe_counter!(
        ECHOES,
        "GHL webhooks that changed nothing (echoes of ghlsync's own writes), by type"
    );
    describe_counter!(
        FORWARDS,
        "GHL events forwarded to the application, by outcome"
    );
    for route in crate::ingress::ROUTES {
        for outcome in ["accepted", "duplicate"] {
            counter!(INGRESS_REQUESTS, "route" => route, "outcome" => outcome).increment(0);
        }
        for reason in crate::ingress::Reason::ALL {
            counter!(INGRESS_REJECTIONS, "route" => route, "reason" => reason.as_str())
                .increment(0);
        }
    }
    // Registering a histogram's handle is enough for it to render (count 0).
    let _ = histogram!(INBOX_BATCH_SIZE);
    let _ = histogram!(INBOX_COMMIT_SECONDS);
    for outcome in ["done", "retry", "dead"] {
        counter!(EVENTS_PROCESSED, "outcome" => outcome).increment(0);
        counter!(FORWARDS, "outcome" => outcome).increment(0);
    }
    for kind in ghlsync_core::GhlCommand::KINDS {
        for outcome in ["done", "held", "retry", "dead"] {
            counter!(JOBS, "kind" => kind, "outcome" => outcome).increment(0);
        }
    }
    for call in crate::connectors::ghl::GhlCall::ALL {
        for status in ["2xx", "4xx", "429", "5xx", "none"] {
            counter!(GHL_CALLS, "call" => call.as_str(), "status" => status).increment(0);
        }
    }
    for call in crate::connectors::cloudtalk::CALLS {
        for status in ["2xx", "4xx", "429", "5xx", "none"] {
            counter!(CLOUDTALK_CALLS, "call" => call, "status" => status).increment(0);
        }
    }
    counter!(RATE_LIMIT_WAITS).increment(0);
    for (ghl_type, _) in ghlsync_core::rules::input::GHL_TRIGGERS {
        counter!(ECHOES, "type" => *ghl_type).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrape before any event shows every metric, described, at zero.
    #[test]
    fn every_metric_is_described_and_present_before_the_first_event() {
        let text = handle().render();
        for name in [
            INGRESS_REQUESTS,
            INGRESS_REJECTIONS,
            INBOX_BATCH_SIZE,
            INBOX_COMMIT_SECONDS,
            EVENTS_PROCESSED,
            JOBS,
            GHL_CALLS,
            RATE_LIMIT_WAITS,
            ECHOES,
            FORWARDS,
        ] {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} described:\n{text}"
            );
            assert!(
                text.lines()
                    .any(|l| l.starts_with(name) && !l.starts_with('#')),
                "{name} present:\n{text}"
            );
        }
        assert!(
            text.contains(r#"ghlsync_ingress_rejections_total{route="ghl",reason="signature"} 0"#)
        );
        assert!(text.contains(r#"ghlsync_jobs_total{kind="sync_contact",outcome="dead"} 0"#));
    }

    #[test]
    fn statuses_are_counted_by_class() {
        assert_eq!(status_class(Some(201)), "2xx");
        assert_eq!(status_class(Some(429)), "429");
        assert_eq!(status_class(Some(422)), "4xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(None), "none");
    }
}
