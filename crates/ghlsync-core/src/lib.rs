//! ghlsync's domain: what an event is, what a job is, what processing an event changes, and
//! the arithmetic of rate limits and retries.
//!
//! Everything here is pure: no database, no HTTP, no clock (callers pass `now`). That keeps
//! the decisions testable with tables and properties, and lets the store, the server and the
//! CLI share them. A CI check (`cargo tree -p ghlsync-core`) proves no IO crate is reachable.

pub mod app_event;
pub mod backoff;
pub mod bridge;
pub mod broadcast;
pub mod callback;
pub mod changeset;
pub mod command;
pub mod event;
pub mod gcra;
pub mod intent;
pub mod lead_score;
pub mod location;
pub mod mirror;
pub mod process;
pub mod profile;
pub mod rules;
pub mod scoring;
pub mod time;

pub use app_event::{AppEvent, AppEventType};
pub use backoff::Backoff;
pub use changeset::Changeset;
pub use command::{ContactSync, GhlCommand, Job, JobId, JobState, NewJob, Target};
pub use event::{EventId, EventState, InboxEvent, NewEvent, Source};
pub use gcra::Gcra;
pub use location::{
    ApiKey, DedupeBy, IntegrationType, Location, RouteAuth, RouteDedupe, SyncStatus, WorkflowRoute,
};
pub use mirror::{ContactMirror, NoteMirror, OpportunityMirror};

/// Millisecond timestamps (since the Unix epoch) are used throughout the store.
pub type Millis = i64;
