//! Signed policy bundles and the enterprise pin.
//!
//! A bundle is a directory or a `.tar` holding `manifest.json` (canonical JSON: name, strictly
//! increasing revision, times, WIT world, every file with size and sha256, per-hook component,
//! settings, limits, failure behaviour), `manifest.json.minisig` (a minisign signature over the
//! exact manifest bytes) and the listed files. A bundle is only ever activated after `verify`,
//! the pin's checks and the policy host's `BundleValidator` all pass; activation keeps it as
//! the last-known-good in the data dir. This module never runs policy code itself.
//!
//! - `pack`, `sign`, `describe`, `keygen`: authoring (and `cli` for the `policy bundle` commands);
//! - `verify`: the ordered checks, pure;
//! - `store`: the activation store; `activate`: the I/O flow tying them together;
//! - `pin`: the enterprise pin file and the pure `choose_policy`.
//!
//! An author's `manifest.json` template (`pack` adds `files`, and `created`/`world` if absent,
//! and writes it canonically):
//!
//! ```json
//! { "name": "acme-policy", "revision": 7, "expires": "2027-01-01T00:00:00Z",
//!   "hooks": { "should_disable": "policy.wasm", "backoff": "policy.wasm",
//!              "filter_reload": "policy.wasm" },
//!   "settings": { "max_failures": 2 }, "deadline_ms": 10, "memory_limit_mib": 16,
//!   "on_failure": "fallback-to-default", "smoke_tests": "smoke.json" }
//! ```
//!
//! The daemon's flow with a pin: `pin::load()`, then `load_pinned(&pin, &store, now, &validator)`
//! and `choose_policy(...)` at start, and again whenever the pinned bundle file changes
//! (a newer valid revision is activated without a restart); `store.status(&pin.name)` for
//! `status`.

pub mod activate;
pub mod archive;
pub mod cli;
pub mod error;
pub mod keys;
pub mod manifest;
pub mod pack;
pub mod pin;
pub mod signing;
pub mod status;
pub mod store;
pub mod validate;
pub mod verify;
pub mod world;

pub use activate::{activate_pinned, load_pinned};
pub use archive::Bundle;
pub use error::BundleError;
pub use keys::{GeneratedKeys, SigningKey, TrustedKey, keygen};
pub use manifest::{Hook, Manifest};
pub use pack::{describe, pack, pack_dir, sign};
pub use pin::{BundleOrigin, Pin, PinError, PinnedCandidates, PolicyChoice, choose_policy};
pub use status::BundleStatus;
pub use store::{BundleState, BundleStore};
pub use validate::{BundleValidator, validate_bundle};
pub use verify::{VerifiedBundle, verify};
