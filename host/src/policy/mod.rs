//! Policies: who decides auto-disable, retry backoff and reload filtering.
//!
//! The daemon only ever talks to a `contract::Policy`. The real one, `PolicyHost`, runs
//! WebAssembly components (see `host`; `check` backs `mcpproxy policy check`); tests may script
//! one. It imports the contract and nothing else of the daemon: the daemon reads the config,
//! watches the policy files and hands this module what to load.

#[doc(hidden)]
pub mod bench_support;
pub mod bindings;
pub mod bundle;
mod cache;
pub mod check;
mod deadline;
mod engine;
mod error;
mod exports;
mod host;
mod in_flight;
mod loaded;
mod metrics;
mod options;
mod per_hook;
mod quarantine;
pub mod scaffold;
mod scenarios;
pub mod simulate;
mod store;
mod validate;

pub use cache::CacheOutcome;
pub use error::PolicyError;
pub use host::{HookComponent, PolicyHost, PolicyStatus};
pub use loaded::sha256_hex;
pub use metrics::LatencyBucket;
pub use options::PolicyOptions;
pub use per_hook::{Hook, PerHook, PolicyFiles};
pub use quarantine::{QuarantineSettings, QuarantineState};

/// The default policy (`policies/default.wasm`, rebuilt by `policies/build.sh`), so the daemon
/// runs with no policy file and no wasm toolchain.
pub const EMBEDDED_DEFAULT: &[u8] = include_bytes!("../../../policies/default.wasm");
