//! The "strict" example policy: gives up on a failing upstream fast.
//!
//! - Deterministic failures (cannot start, exits before the handshake, not MCP, HTTP 4xx other
//!   than 408/429) are auto-disabled at the first occurrence.
//! - Transient failures are auto-disabled after `max_consecutive_failures` in a row (default 2).
//! - Backoff doubles from `backoff_base_ms` (250 ms) and is capped at `backoff_cap_ms` (10 s),
//!   with "equal jitter" from the host's seed (never less than half the step).
//! - Reloads: every change is applied, nothing is second-guessed.
//! - Tools: any tool that is new, changed or gone since a user approved the server's tools
//!   quarantines the whole server until the user approves it again.
//!
//! This file is only the glue between the WIT bindings and the pure functions in `decide`;
//! it must never keep state between calls (the host runs each call in a fresh instance).

mod decide;
mod settings;

use exports::mcpproxy::policy::decisions::{
    ConfigDiff, DisableDecision, FailureEvent, Guest, ReviewDecision, ToolReview, Verdict,
};
use mcpproxy::policy::host::log;
use mcpproxy::policy::types::LogLevel;
use settings::Settings;

wit_bindgen::generate!({
    world: "policy",
    path: "../../../wit",
});

struct Strict;

impl Strict {
    /// Decodes the bytes `configure` produced. They are ours, so a decode error means the host
    /// passed something else: say so in the log and carry on with the documented defaults
    /// rather than trapping.
    fn prepared(bytes: &[u8]) -> Settings {
        Settings::decode(bytes).unwrap_or_else(|err| {
            log(
                LogLevel::Error,
                &format!("strict policy: bad prepared settings ({err}), using defaults"),
            );
            Settings::default()
        })
    }
}

impl Guest for Strict {
    fn configure(settings: String) -> Result<Vec<u8>, String> {
        Settings::parse(&settings).map(|s| s.encode())
    }

    fn should_disable(prepared: Vec<u8>, event: FailureEvent) -> DisableDecision {
        decide::should_disable(&Self::prepared(&prepared), &event)
    }

    fn backoff(prepared: Vec<u8>, event: FailureEvent) -> u64 {
        decide::backoff_ms(&Self::prepared(&prepared), &event)
    }

    fn filter_reload(_prepared: Vec<u8>, diff: ConfigDiff) -> Vec<Verdict> {
        decide::filter_reload(&diff)
    }

    fn review_tools(_prepared: Vec<u8>, review: ToolReview) -> ReviewDecision {
        decide::review_tools(&review)
    }
}

export!(Strict);
