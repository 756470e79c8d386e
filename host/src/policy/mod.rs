//! Policies: who decides auto-disable, retry backoff and reload filtering.
//!
//! The daemon only ever talks to a `Policy`. The real one runs WebAssembly components
//! (see `wasm`); tests may script one. Decisions are synchronous and pure: they take values
//! and return values, and never block on I/O.

pub mod bundle;
pub mod types;

use std::time::Duration;

use types::ConfigDiff;
pub use types::{DisableDecision, FailureEvent, Transport, Verdict};

/// The three decisions the daemon delegates.
pub trait Policy: Send + Sync + 'static {
    /// Should the server of `event` be auto-disabled, and why?
    fn should_disable(&self, event: &FailureEvent) -> DisableDecision;
    /// How long to wait before the next attempt after `event`.
    fn backoff(&self, event: &FailureEvent) -> Duration;
    /// One verdict per change of `diff`, in order.
    fn filter_reload(&self, diff: &ConfigDiff) -> Vec<Verdict>;
}
