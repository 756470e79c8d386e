//! Policies: who decides auto-disable, retry backoff and reload filtering.
//!
//! The daemon only ever talks to a `Policy`. The real one, `PolicyHost`, runs WebAssembly
//! components (see `host`; `check` backs `mcpproxy policy check`); tests may script one. Decisions are synchronous and pure: they take values
//! and return values, and never block on I/O.

#[doc(hidden)]
pub mod bench_support;
pub mod bindings;
pub mod bundle;
mod cache;
pub mod check;
mod deadline;
mod engine;
mod error;
mod host;
mod in_flight;
mod inspect;
mod loaded;
mod metrics;
mod options;
mod per_hook;
mod quarantine;
pub mod scaffold;
mod scenarios;
pub mod simulate;
mod store;
pub mod types;
mod validate;
mod watch;

use std::time::Duration;

pub use cache::CacheOutcome;
pub use error::PolicyError;
pub use host::{HookComponent, PolicyHost, PolicyStatus};
pub use metrics::LatencyBucket;
pub use options::{Limits, OnFailure, PolicyOptions, mib_to_bytes};
pub use per_hook::{Hook, PerHook, PolicyFiles};
pub use quarantine::{QuarantineSettings, QuarantineState};
use types::ConfigDiff;
pub use types::{DisableDecision, FailureEvent, Transport, Verdict};
pub use watch::PolicyWatch;

/// The default policy (`policies/default.wasm`, rebuilt by `policies/build.sh`), so the daemon
/// runs with no policy file and no wasm toolchain.
pub const EMBEDDED_DEFAULT: &[u8] = include_bytes!("../../../policies/default.wasm");

/// The three decisions the daemon delegates.
pub trait Policy: Send + Sync + 'static {
    /// Should the server of `event` be auto-disabled, and why?
    fn should_disable(&self, event: &FailureEvent) -> DisableDecision;
    /// How long to wait before the next attempt after `event`.
    fn backoff(&self, event: &FailureEvent) -> Duration;
    /// One verdict per change of `diff`, in order.
    fn filter_reload(&self, diff: &ConfigDiff) -> Vec<Verdict>;
}
