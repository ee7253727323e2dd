//! A typed client for the GoHighLevel (LeadConnector) API v2, with webhook signature
//! verification and typed webhook events.
//!
//! The crate is usable on its own, like an SDK: it knows nothing of any database, does not
//! retry and does not pace calls, but it tells the caller everything needed to do both
//! (error classes, `Retry-After`, the `X-RateLimit-*` headers of every answer).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ghl::Error> {
//! use ghl::contacts::{ContactFields, UpsertContact};
//!
//! // A Private Integration token (or an OAuth access token) of one location.
//! let client = ghl::Client::new()?.with_token("pit-...");
//!
//! let mut upsert = UpsertContact::new("ve9EPM428h8vShlRW1KT");
//! upsert.fields = ContactFields {
//!     email: Some("ana@example.com".into()),
//!     first_name: Some("Ana".into()),
//!     ..ContactFields::default()
//! };
//! let reply = client.upsert_contact(&upsert).await?;
//! println!(
//!     "contact {} (new: {}), {:?} calls left in this window",
//!     reply.data.contact.id,
//!     reply.data.new,
//!     reply.rate_limit().remaining,
//! );
//!
//! match client.add_tags(&reply.data.contact.id, &["vip".to_owned()]).await {
//!     Ok(tags) => println!("tags now {:?}", tags.data),
//!     Err(e) if e.is_transient() => println!("try again after {:?}", e.retry_after()),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Verifying and reading a webhook:
//!
//! ```
//! use ghl::webhooks::{Webhook, WebhookEvent, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::ghl(); // GHL's published keys
//! let body = br#"{"type":"ContactCreate","locationId":"l1","id":"c1"}"#;
//! // A body without a valid signature is refused.
//! assert!(verifier.verify(body, None, None).is_err());
//! // Parsing (after verification) gives a typed event.
//! let webhook = Webhook::parse(body).unwrap();
//! assert!(matches!(webhook.event, WebhookEvent::ContactCreate(_)));
//! ```

//!
//! Without the default `client` feature the crate has no HTTP dependency: ids, request and
//! response types, rate-limit header parsing, webhook verification and events only.

#[cfg(feature = "client")]
mod client;
mod de;
#[cfg(feature = "client")]
mod error;
mod ids;
mod rate_limit;

pub mod api;
pub mod webhooks;

pub use api::{contacts, conversations, custom_fields, locations, oauth, opportunities};
#[cfg(feature = "client")]
pub use client::{ApiVersion, Client, ClientBuilder, DEFAULT_BASE_URL, Response};
#[cfg(feature = "client")]
pub use error::{Error, RateLimitScope, Reply};
pub use ids::*;
pub use rate_limit::{RateLimit, header as rate_limit_header};
