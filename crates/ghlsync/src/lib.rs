//! ghlsync: webhooks and application events in, GHL calls out, nothing lost.
//!
//! Every outside system is a folder of `connectors` (GHL, the application): its routes,
//! where data enters and `ingress` commits it before it is acknowledged; its client,
//! limiter, error classes and effects, where data leaves. What an event changes is decided
//! by `process` (with the pure rules of `ghlsync-core`); `delivery` claims the resulting
//! jobs lane by lane and hands each to its connector (rate limited, retried, idempotent). `admin` and `cli` operate it, `diagnosis` compares a
//! person's contact with what the rules want; `demo` shows the whole path
//! against the built-in simulator.

pub mod admin;
pub mod app;
pub mod broadcasts;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod delivery;
pub mod demo;
pub mod diagnosis;
pub mod error;
pub mod ingress;
pub mod metrics;
pub mod process;
pub mod registry;
pub mod secrets;

pub use app::App;
pub use config::Config;
