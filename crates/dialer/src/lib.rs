//! The wire contract between ghlsync and a dialer engine for voice broadcasts.
//!
//! ghlsync owns each broadcast's queue: GHL workflows add numbers to it, and a dialer
//! engine (the business's own) leases the numbers that are due, calls them and reports
//! each call's outcome. These types are shared by ghlsync's routes and by any engine
//! written in Rust, so both sides read and write the same JSON.
//!
//! # Lease
//!
//! `POST {base}/api/v1/dialer/lease` ([`LEASE_PATH`]), header
//! `Authorization: Bearer <engine secret>`, body [`LeaseRequest`]:
//!
//! ```json
//! {"broadcast_id": "b_1", "limit": 10, "lease_seconds": 300}
//! ```
//!
//! `limit` is 1..=100 (default 10) and `lease_seconds` 10..=3600 (default 300). The answer
//! (200) is a [`Lease`]: the broadcast's status, the lease's id and expiry, the items
//! handed out ([`LeasedItem`], with the number in E.164 and this call's attempt number,
//! from 1) and `next_due_at`, when the next item not handed out becomes due (its retry
//! delay or its calling window), `null` when nothing waits. An item whose lease expires
//! without a report is handed out again.
//!
//! # Outcome
//!
//! `POST {base}/api/v1/dialer/outcomes` ([`OUTCOMES_PATH`]), body [`OutcomeReport`],
//! signed with the engine secret:
//!
//! - `X-Dialer-Owner: <owner id>` ([`OWNER_HEADER`]),
//! - `X-Dialer-Timestamp: <unix seconds>` ([`TIMESTAMP_HEADER`]),
//! - `X-Dialer-Signature: sha256=<hex>` ([`SIGNATURE_HEADER`]): lowercase hex of
//!   HMAC-SHA256(engine secret, `"<timestamp>.<raw body>"`), see [`sign`] and [`verify`].
//!   A timestamp more than [`SIGNATURE_WINDOW_SECS`] in the past or the future is refused,
//!   so a captured report cannot be replayed later.
//!
//! `event_id` is the engine's id for the report: a repeat is answered `duplicate` and
//! changes nothing, so an engine may resend a report it is unsure about. The answer (200)
//! is an [`OutcomeReceipt`]: whether the item is done (`final_outcome`) and, if it is to be
//! called again, when.
//!
//! # Errors
//!
//! Refusals are JSON [`ErrorBody`], `{"error": {"code": "...", "message": "...", "field":
//! "..."}}` (`field` only when one field is at fault), with status 400 (invalid request),
//! 401 (bad secret or signature), 404 (unknown broadcast or item), 409 (the request
//! conflicts with the item's state) or 429 (slow down; `Retry-After` gives seconds).
//!
//! # Features
//!
//! `client` (default) adds [`Client`] and its [`Error`]. Without it only the types and the
//! signature functions are built, for the server side.

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod error;
mod signature;
mod wire;

#[cfg(feature = "client")]
pub use client::{Client, TIMEOUT};
#[cfg(feature = "client")]
pub use error::Error;
pub use signature::{
    OWNER_HEADER, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECS, SignatureError, TIMESTAMP_HEADER, sign,
    verify,
};
pub use wire::{
    DEFAULT_LEASE_LIMIT, DEFAULT_LEASE_SECONDS, ErrorBody, ErrorDetail, LEASE_PATH, Lease,
    LeaseRequest, LeasedItem, MAX_LEASE_LIMIT, MAX_LEASE_SECONDS, MIN_LEASE_LIMIT,
    MIN_LEASE_SECONDS, OUTCOMES_PATH, Outcome, OutcomeReceipt, OutcomeReport, ReceiptStatus,
};
