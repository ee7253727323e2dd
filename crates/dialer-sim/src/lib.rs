//! A dialer engine simulator for tests and demos. It plays the business's engine against
//! ghlsync's dialer API through [`dialer::Client`]: lease the due numbers of a broadcast,
//! "call" each one, report the outcome signed, and go on until nothing is left.
//!
//! What a call gives:
//! - The [`MAGIC_NUMBERS`] always give the same result, as Drop Cowboy's simulated 555
//!   numbers do, one per outcome, so a test can put a number in a broadcast and know
//!   what will be reported.
//! - Any other number draws an outcome from a seeded [`rand::rngs::StdRng`] with the
//!   weights of a [`Mix`], a plausible duration and, on some answered calls, a key press.
//!   The generator is seeded per call from the seed, the item and the attempt, so a run's
//!   results do not depend on the order ghlsync hands items out in, nor on which reports
//!   the faults drop.
//!
//! [`Faults`] play an unreliable engine: reports never sent (the engine "crashes" after the
//! call, so the lease expires and ghlsync hands the item out again), reports sent twice
//! (same `event_id`, same bytes) and reports sent late.

mod engine;
mod script;

pub use engine::{Call, Delivery, Engine, EngineConfig, REPORT_RETRIES, Round, Stats};
pub use script::{Faults, MAGIC_NUMBERS, Mix, Scripted, scripted};
