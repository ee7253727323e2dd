//! ghlsync: webhooks and application events in, GHL calls out, nothing lost.
//!
//! Data enters through `ingress` (committed before it is acknowledged), is decided on by
//! `process` (with the pure rules of `ghlsync-core`), and leaves through `dispatch` (rate
//! limited, retried, idempotent) to GHL, or through `forward` to the application (signed
//! per Standard Webhooks). `admin` and `cli` operate it, `diagnosis` compares a
//! person's contact with what the rules want; `demo` shows the whole path
//! against the built-in simulator.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod diagnosis;
pub mod dispatch;
pub mod error;
pub mod forward;
pub mod ingress;
pub mod metrics;
pub mod process;
pub mod registry;
pub mod secrets;

pub use app::App;
pub use config::Config;
