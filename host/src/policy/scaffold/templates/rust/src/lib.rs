//! The {{name}} mcpproxy policy: decides auto-disable, retry backoff and reload filtering.
//!
//! A starting point: a server is auto-disabled after `max_consecutive_failures` failures in a
//! row (3 at once for failures a retry cannot fix), backoff doubles from `backoff_base_ms` up to
//! `backoff_max_ms` with jitter from the host's seed, and every reload change is applied.
//!
//! Decisions must be pure functions of their arguments: the host runs each call in a fresh
//! instance, with no clock, file system, network or randomness (use `event.seed`).

use serde::{Deserialize, Serialize};

use exports::mcpproxy::policy::decisions::{
    ConfigDiff, DisableDecision, FailureEvent, Guest, Verdict,
};
use mcpproxy::policy::host::log;
use mcpproxy::policy::types::{FailureKind, LogLevel};

wit_bindgen::generate!({
    world: "policy",
    path: "wit",
});

/// The host rejects backoff answers above 24 hours.
const HOST_MAX_BACKOFF_MS: u64 = 24 * 60 * 60 * 1000;

/// `policy.settings`; `configure` checks them and hands them back as JSON bytes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    max_consecutive_failures: u32,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_consecutive_failures: 5,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
        }
    }
}

impl Settings {
    fn parse(text: &str) -> Result<Settings, String> {
        let s: Settings =
            serde_json::from_str(text).map_err(|e| format!("{{name}} policy settings: {e}"))?;
        if s.max_consecutive_failures == 0 {
            return Err("{{name}} policy settings: `max_consecutive_failures` must be at least 1".into());
        }
        if s.backoff_base_ms == 0 || s.backoff_base_ms > s.backoff_max_ms || s.backoff_max_ms > HOST_MAX_BACKOFF_MS {
            return Err(format!(
                "{{name}} policy settings: need 1 <= backoff_base_ms <= backoff_max_ms <= {HOST_MAX_BACKOFF_MS}"
            ));
        }
        Ok(s)
    }

    /// The bytes are our own `configure` output; if not, log it and use the defaults.
    fn prepared(bytes: &[u8]) -> Settings {
        serde_json::from_slice(bytes).unwrap_or_else(|e| {
            log(LogLevel::Error, &format!("{{name}} policy: bad prepared settings ({e}), using defaults"));
            Settings::default()
        })
    }
}

/// Failures a retry will not fix.
fn is_deterministic(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::SpawnError | FailureKind::ExitedBeforeHandshake | FailureKind::ProtocolError
    )
}

struct Policy;

impl Guest for Policy {
    fn configure(settings: String) -> Result<Vec<u8>, String> {
        let s = Settings::parse(&settings)?;
        serde_json::to_vec(&s).map_err(|e| e.to_string())
    }

    fn should_disable(prepared: Vec<u8>, event: FailureEvent) -> DisableDecision {
        let s = Settings::prepared(&prepared);
        let limit = if is_deterministic(event.kind) {
            s.max_consecutive_failures.min(3)
        } else {
            s.max_consecutive_failures
        };
        if event.consecutive_failures < limit {
            return DisableDecision::Keep;
        }
        let detail = event.detail.trim();
        let mut reason = format!(
            "{{name}} policy: server `{}` failed {} times in a row ({:?})",
            event.server, event.consecutive_failures, event.kind
        );
        if !detail.is_empty() {
            reason.push_str(": ");
            reason.push_str(detail);
        }
        DisableDecision::Disable(reason)
    }

    fn backoff(prepared: Vec<u8>, event: FailureEvent) -> u64 {
        let s = Settings::prepared(&prepared);
        let shift = event.consecutive_failures.saturating_sub(1).min(40);
        let cap = s.backoff_base_ms.saturating_mul(1 << shift).min(s.backoff_max_ms);
        // Jitter: somewhere between half the step and the whole step, from the host's seed.
        let half = cap / 2;
        (half + event.seed % (cap - half + 1)).max(s.backoff_base_ms.min(cap))
    }

    fn filter_reload(_prepared: Vec<u8>, diff: ConfigDiff) -> Vec<Verdict> {
        diff.changes.iter().map(|_| Verdict::Apply).collect()
    }
}

export!(Policy);
