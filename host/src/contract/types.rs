//! The failure event a policy decides on and its answers: the Rust twins of `transport`,
//! `failure-event`, `disable-decision` and `verdict` in `wit/policy.wit`.

use std::time::Duration;

use super::FailureKind;

/// The transport of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    Stdio,
    StreamableHttp,
    Sse,
}

/// A failure with the host's counters: everything a policy decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureEvent {
    pub server: String,
    pub transport: Transport,
    pub kind: FailureKind,
    pub detail: String,
    pub exit_code: Option<i32>,
    pub http_status: Option<u16>,
    /// 1-based attempt number since the server was (re)started or (re)configured.
    pub attempt: u32,
    /// Failures in a row including this one; reset when the server becomes Ready.
    pub consecutive_failures: u32,
    /// Failures within the last `window`, this one included.
    pub failures_in_window: u32,
    pub window: Duration,
    /// Time since the first failure of the current run of consecutive failures.
    pub since_first_failure: Duration,
    /// How long the server was Ready before failing; `None` if it never was in this run.
    pub ready_for: Option<Duration>,
    /// Host-supplied randomness for jitter.
    pub seed: u64,
}

/// The answer to "should this server be auto-disabled?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisableDecision {
    Keep,
    Disable { reason: String },
}

/// The answer for one change of a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    Ignore { reason: String },
}
