//! The policy contract: the Rust side of `wit/policy.wit`. The values the daemon and a policy
//! exchange (failure events built by `FailureCounters`, config diffs, decisions), the limits a
//! policy runs under, and the `Policy` trait through which the daemon asks for its four
//! decisions.
//!
//! A leaf: it imports nothing of the daemon. Config, upstream, supervisor and policy all
//! depend on it, so none of them needs another for the contract's sake.

mod counters;
mod diff;
mod failure;
mod limits;
mod review;
mod types;

use std::time::Duration;

pub use counters::FailureCounters;
pub use diff::{Change, ChangeKind, ChangeTarget, ConfigDiff};
pub use failure::{Failure, FailureKind};
pub use limits::{GivenLimits, Limits, OnFailure};
pub use review::{ReviewDecision, TOOL_FIELDS, ToolChange, ToolReview, ToolVerdict};
pub use types::{DisableDecision, FailureEvent, Transport, Verdict};

/// The four decisions the daemon delegates. Synchronous and pure: values in, values out,
/// never blocking on I/O.
pub trait Policy: Send + Sync + 'static {
    /// Should the server of `event` be auto-disabled, and why?
    fn should_disable(&self, event: &FailureEvent) -> DisableDecision;
    /// How long to wait before the next attempt after `event`.
    fn backoff(&self, event: &FailureEvent) -> Duration;
    /// One verdict per change of `diff`, in order.
    fn filter_reload(&self, diff: &ConfigDiff) -> Vec<Verdict>;
    /// What to do with a server's tools that differ from the approved ones.
    fn review_tools(&self, review: &ToolReview) -> ReviewDecision;
}
