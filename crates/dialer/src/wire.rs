//! The JSON bodies of the two routes and of their refusals.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The lease route, after the base URL.
pub const LEASE_PATH: &str = "/api/v1/dialer/lease";
/// The outcome route, after the base URL.
pub const OUTCOMES_PATH: &str = "/api/v1/dialer/outcomes";

/// Items per lease when the request does not say.
pub const DEFAULT_LEASE_LIMIT: u32 = 10;
/// The fewest items a lease may ask for.
pub const MIN_LEASE_LIMIT: u32 = 1;
/// The most items a lease may ask for.
pub const MAX_LEASE_LIMIT: u32 = 100;
/// A lease's length when the request does not say.
pub const DEFAULT_LEASE_SECONDS: u32 = 300;
/// The shortest lease: less than a call's length would hand items out twice.
pub const MIN_LEASE_SECONDS: u32 = 10;
/// The longest lease: a crashed engine holds its items no longer than this.
pub const MAX_LEASE_SECONDS: u32 = 3600;

fn default_limit() -> u32 {
    DEFAULT_LEASE_LIMIT
}

fn default_lease_seconds() -> u32 {
    DEFAULT_LEASE_SECONDS
}

/// The body of `POST /api/v1/dialer/lease`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// The broadcast whose due numbers are wanted.
    pub broadcast_id: String,
    /// At most this many items, 1..=100.
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// How long the items stay reserved for this engine, 10..=3600 seconds.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u32,
}

impl LeaseRequest {
    /// A request with the default limit and lease length.
    pub fn new(broadcast_id: impl Into<String>) -> Self {
        Self {
            broadcast_id: broadcast_id.into(),
            limit: DEFAULT_LEASE_LIMIT,
            lease_seconds: DEFAULT_LEASE_SECONDS,
        }
    }

    /// Checks the ranges, naming the first field out of range (code `invalid_field`), so
    /// the server and an engine refuse the same requests.
    pub fn validate(&self) -> Result<(), ErrorDetail> {
        if self.broadcast_id.is_empty() {
            return Err(ErrorDetail::field(
                "invalid_field",
                "broadcast_id must not be empty",
                "broadcast_id",
            ));
        }
        if !(MIN_LEASE_LIMIT..=MAX_LEASE_LIMIT).contains(&self.limit) {
            return Err(ErrorDetail::field(
                "invalid_field",
                format!("limit must be {MIN_LEASE_LIMIT} to {MAX_LEASE_LIMIT}"),
                "limit",
            ));
        }
        if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&self.lease_seconds) {
            return Err(ErrorDetail::field(
                "invalid_field",
                format!("lease_seconds must be {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS}"),
                "lease_seconds",
            ));
        }
        Ok(())
    }
}

/// The answer to a lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The broadcast asked for.
    pub broadcast_id: String,
    /// Its status (`active`, `paused`, ...); a paused broadcast hands out nothing.
    pub broadcast_status: String,
    /// This lease's id, to quote in the reports of its items.
    pub lease_id: String,
    /// When the items not reported by then are handed out again.
    pub lease_expires_at: Timestamp,
    /// The items handed out, possibly none.
    pub items: Vec<LeasedItem>,
    /// When the next item not handed out becomes due (its retry delay or its calling
    /// window); `None` when nothing waits.
    #[serde(default)]
    pub next_due_at: Option<Timestamp>,
}

/// One number to call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeasedItem {
    /// The queue item, to quote in the report.
    pub queue_item_id: String,
    /// The number, E.164.
    pub phone: String,
    /// The contact's name, when known.
    #[serde(default)]
    pub name: Option<String>,
    /// The contact's email, when known.
    #[serde(default)]
    pub email: Option<String>,
    /// The GHL contact, when known.
    #[serde(default)]
    pub ghl_contact_id: Option<String>,
    /// This call's number for the item, from 1.
    pub attempt: u32,
}

/// How a call ended. The spellings are those of ghlsync's own `CallOutcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A person answered.
    Answered,
    /// A machine answered; the message was left.
    Voicemail,
    /// Nobody answered.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The call could not be made.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 5] = [
        Self::Answered,
        Self::Voicemail,
        Self::NoAnswer,
        Self::Busy,
        Self::Failed,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Voicemail => "voicemail",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of `POST /api/v1/dialer/outcomes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeReport {
    /// The engine's id for this report; a repeat is answered `duplicate`.
    pub event_id: String,
    /// The item called.
    pub queue_item_id: String,
    /// The lease the item came in, when the engine kept it.
    #[serde(default)]
    pub lease_id: Option<String>,
    /// How the call ended.
    pub outcome: Outcome,
    /// Talk time in seconds (0 when nobody answered).
    pub duration_seconds: u32,
    /// When the call was placed.
    pub called_at: Timestamp,
    /// The keys pressed, when any.
    #[serde(default)]
    pub dtmf_pressed: Option<String>,
    /// The callee asked to be called back.
    #[serde(default)]
    pub callback_requested: bool,
    /// When the callee asked to be called back, when they said.
    #[serde(default)]
    pub callback_time: Option<Timestamp>,
}

/// Whether a report changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// First time this `event_id` was seen; the outcome is recorded.
    Recorded,
    /// The `event_id` was seen before; nothing changed.
    Duplicate,
}

/// The answer to a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeReceipt {
    /// Recorded or duplicate.
    pub status: ReceiptStatus,
    /// The item reported.
    pub queue_item_id: String,
    /// The item is done: it will not be handed out again.
    pub final_outcome: bool,
    /// When the item will be due again, if it is to be called again.
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
}

/// A refusal: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, inside [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code for programs (`invalid_field`, `bad_signature`, ...).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorDetail {
    /// A refusal not tied to a field.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field: None,
        }
    }

    /// A refusal of one field.
    pub fn field(
        code: impl Into<String>,
        message: impl Into<String>,
        field: impl Into<String>,
    ) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl From<ErrorDetail> for ErrorBody {
    fn from(error: ErrorDetail) -> Self {
        Self { error }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn lease_request_defaults_and_ranges() {
        let req: LeaseRequest = serde_json::from_value(json!({"broadcast_id": "b1"})).unwrap();
        assert_eq!(req, LeaseRequest::new("b1"));
        assert_eq!((req.limit, req.lease_seconds), (10, 300));
        assert!(req.validate().is_ok());
        let back: LeaseRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);

        let field = |limit, lease_seconds| {
            LeaseRequest {
                limit,
                lease_seconds,
                ..LeaseRequest::new("b1")
            }
            .validate()
            .err()
            .and_then(|e| e.field)
        };
        assert_eq!(field(0, 300).as_deref(), Some("limit"));
        assert_eq!(field(101, 300).as_deref(), Some("limit"));
        assert_eq!(field(100, 9).as_deref(), Some("lease_seconds"));
        assert_eq!(field(1, 3601).as_deref(), Some("lease_seconds"));
        assert_eq!(field(1, 10), None);
        assert_eq!(field(100, 3600), None);
        let empty = LeaseRequest::new("").validate().unwrap_err();
        assert_eq!(empty.field.as_deref(), Some("broadcast_id"));
    }

    #[test]
    fn lease_round_trips_with_rfc3339_timestamps() {
        let lease = Lease {
            broadcast_id: "b1".into(),
            broadcast_status: "active".into(),
            lease_id: "l1".into(),
            lease_expires_at: at("2026-03-01T15:05:00Z"),
            items: vec![LeasedItem {
                queue_item_id: "q1".into(),
                phone: "+12015550100".into(),
                name: Some("Ada".into()),
                email: None,
                ghl_contact_id: Some("c1".into()),
                attempt: 1,
            }],
            next_due_at: Some(at("2026-03-01T16:00:00Z")),
        };
        let value = serde_json::to_value(&lease).unwrap();
        assert_eq!(
            value,
            json!({
                "broadcast_id": "b1",
                "broadcast_status": "active",
                "lease_id": "l1",
                "lease_expires_at": "2026-03-01T15:05:00Z",
                "items": [{
                    "queue_item_id": "q1",
                    "phone": "+12015550100",
                    "name": "Ada",
                    "email": null,
                    "ghl_contact_id": "c1",
                    "attempt": 1
                }],
                "next_due_at": "2026-03-01T16:00:00Z"
            })
        );
        assert_eq!(serde_json::from_value::<Lease>(value).unwrap(), lease);

        // Absent optional fields read as None; offsets other than Z are accepted.
        let minimal: Lease = serde_json::from_value(json!({
            "broadcast_id": "b1",
            "broadcast_status": "paused",
            "lease_id": "l2",
            "lease_expires_at": "2026-03-01T10:05:00-05:00",
            "items": [{"queue_item_id": "q1", "phone": "+12015550100", "attempt": 2}]
        }))
        .unwrap();
        assert_eq!(minimal.next_due_at, None);
        assert_eq!(minimal.lease_expires_at, at("2026-03-01T15:05:00Z"));
        assert_eq!(minimal.items[0].name, None);
        assert_eq!(minimal.items[0].attempt, 2);
    }

    #[test]
    fn outcome_spellings() {
        for (outcome, name) in
            Outcome::ALL
                .into_iter()
                .zip(["answered", "voicemail", "no_answer", "busy", "failed"])
        {
            assert_eq!(outcome.as_str(), name);
            assert_eq!(outcome.to_string(), name);
            assert_eq!(serde_json::to_value(outcome).unwrap(), json!(name));
            assert_eq!(
                serde_json::from_value::<Outcome>(json!(name)).unwrap(),
                outcome
            );
        }
        assert!(serde_json::from_value::<Outcome>(json!("NoAnswer")).is_err());
        assert!(serde_json::from_value::<Outcome>(json!("hung_up")).is_err());
    }

    #[test]
    fn outcome_report_full_and_sparse() {
        let report = OutcomeReport {
            event_id: "e1".into(),
            queue_item_id: "q1".into(),
            lease_id: Some("l1".into()),
            outcome: Outcome::Answered,
            duration_seconds: 42,
            called_at: at("2026-03-01T15:00:00.5Z"),
            dtmf_pressed: Some("1".into()),
            callback_requested: true,
            callback_time: Some(at("2026-03-02T15:00:00.5Z")),
        };
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["called_at"], json!("2026-03-01T15:00:00.5Z"));
        assert_eq!(value["outcome"], json!("answered"));
        assert_eq!(
            serde_json::from_value::<OutcomeReport>(value).unwrap(),
            report
        );

        let base = json!({
            "event_id": "e2",
            "queue_item_id": "q1",
            "outcome": "no_answer",
            "duration_seconds": 0,
            "called_at": "2026-03-01T15:00:00Z"
        });
        let absent: OutcomeReport = serde_json::from_value(base.clone()).unwrap();
        let mut nulls = base.clone();
        for key in ["lease_id", "dtmf_pressed", "callback_time"] {
            nulls[key] = json!(null);
        }
        let nulls: OutcomeReport = serde_json::from_value(nulls).unwrap();
        assert_eq!(absent, nulls);
        assert_eq!(absent.outcome, Outcome::NoAnswer);
        assert_eq!(absent.lease_id, None);
        assert!(!absent.callback_requested);
        assert_eq!(absent.callback_time, None);

        let mut unknown = base.clone();
        unknown["outcome"] = json!("hung_up");
        assert!(serde_json::from_value::<OutcomeReport>(unknown).is_err());
        let mut bad_time = base;
        bad_time["called_at"] = json!("yesterday");
        assert!(serde_json::from_value::<OutcomeReport>(bad_time).is_err());
    }

    #[test]
    fn receipt_round_trips() {
        let receipt = OutcomeReceipt {
            status: ReceiptStatus::Recorded,
            queue_item_id: "q1".into(),
            final_outcome: false,
            next_attempt_at: Some(at("2026-03-01T16:00:00Z")),
        };
        let value = serde_json::to_value(&receipt).unwrap();
        assert_eq!(
            value,
            json!({
                "status": "recorded",
                "queue_item_id": "q1",
                "final_outcome": false,
                "next_attempt_at": "2026-03-01T16:00:00Z"
            })
        );
        assert_eq!(
            serde_json::from_value::<OutcomeReceipt>(value).unwrap(),
            receipt
        );
        let duplicate: OutcomeReceipt = serde_json::from_value(json!({
            "status": "duplicate",
            "queue_item_id": "q1",
            "final_outcome": true
        }))
        .unwrap();
        assert_eq!(duplicate.status, ReceiptStatus::Duplicate);
        assert_eq!(duplicate.next_attempt_at, None);
        assert!(
            serde_json::from_value::<OutcomeReceipt>(json!({
                "status": "ignored",
                "queue_item_id": "q1",
                "final_outcome": true
            }))
            .is_err()
        );
    }

    #[test]
    fn error_body_shape() {
        let body = ErrorBody::from(ErrorDetail::field(
            "invalid_field",
            "limit must be 1 to 100",
            "limit",
        ));
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"error": {"code": "invalid_field", "message": "limit must be 1 to 100", "field": "limit"}})
        );
        let plain = ErrorBody::from(ErrorDetail::new("not_found", "no such broadcast"));
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"error": {"code": "not_found", "message": "no such broadcast"}})
        );
        let read: ErrorBody =
            serde_json::from_value(json!({"error": {"code": "c", "message": "m", "field": null}}))
                .unwrap();
        assert_eq!(read.error.field, None);
    }
}
