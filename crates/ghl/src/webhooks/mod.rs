//! GHL Marketplace webhooks: signature verification over the raw body, and typed events.
//!
//! Verify first, parse second: the signature covers the exact bytes GHL sent, so a body
//! that was parsed and re-serialised (as GHL's own Node SDK does) no longer verifies.

mod events;
pub mod names;
mod verify;

pub use events::{
    AppointmentEvent, AppointmentPayload, ContactEvent, InstallEvent, MessageEvent, NoteEvent,
    OpportunityEvent, ParseError, PlanChangeEvent, TaskEvent, UninstallEvent, Webhook,
    WebhookEvent,
};
pub use verify::{
    GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM, GHL_SIGNATURE_HEADER, SignatureScheme,
    VerifyError, WH_SIGNATURE_HEADER, WebhookVerifier,
};
