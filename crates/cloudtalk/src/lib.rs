//! A typed client for CloudTalk's REST API (OpenAPI 1.7, `vendor/cloudtalk-openapi`).
//!
//! What it follows from CloudTalk's documents:
//! - HTTP Basic with an API key id and secret; the key pair picks the company.
//! - `PUT` creates, `POST` updates, `DELETE` deletes; answers are wrapped in `responseData`.
//! - Field names are the API's: `ContactNumber[{public_number}]`, `ContactEmail[{email}]`,
//!   `ContactsTag[{name}]`, `ContactAttribute[{attribute_id, value}]`, `ExternalUrl`.
//! - An edit replaces whole collections (numbers, emails, tags, attributes): the caller
//!   sends the complete set it wants ([`contacts::ContactInput`]).
//! - 60 operations per minute per company, reported in `X-CloudTalkAPI-*` headers
//!   ([`RateLimit`]); a 429 carries the reset time, not `Retry-After`.
//!
//! What it tolerates, as real answers show: ids as strings or numbers, phone numbers as
//! numbers without `+`, tags under `Tag` instead of `ContactsTag`, `null` collections, and
//! several error envelopes. Like the `ghl` crate it neither retries nor paces calls.
//!
//! Beyond contacts: the call history, a call's flow (from the analytics host) and its
//! recording (WAV bytes) in [`calls`], agents and their availability in [`agents`], and
//! dialer campaigns with the contact tags that pick their contacts in [`campaigns`].
//!
//! [`webhooks`] reads the bodies CloudTalk's Workflow Automations send, as leniently as
//! their admin-built shapes require.

//!
//! Without the default `client` feature only the types and the webhook readers are built
//! (no HTTP), for code that decides without calling CloudTalk.

pub mod activities;
pub mod agents;
pub mod bulk;
pub mod calls;
pub mod campaigns;
#[cfg(feature = "client")]
mod client;
pub mod contacts;
mod de;
#[cfg(feature = "client")]
mod error;
pub mod notes;
#[cfg(feature = "client")]
mod rate_limit;
pub mod webhooks;

#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, DEFAULT_ANALYTICS_BASE_URL, DEFAULT_BASE_URL, Page, Response,
};
pub use de::{ActivityId, AgentId, CallId, CampaignId, ContactId, NoteId};
#[cfg(feature = "client")]
pub use error::{Error, Reply};
#[cfg(feature = "client")]
pub use rate_limit::{RateLimit, header};
