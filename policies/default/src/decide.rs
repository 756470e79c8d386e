//! The default policy's decisions: pure functions of the event (or diff) and the settings.
//!
//! Deterministic failures are given up on quickly, with a reason a user understands;
//! transient ones retry with exponential backoff and full jitter, and are given up on after
//! `max_consecutive_failures` in a row or `max_failures_in_window` in the host's window. A
//! server that was Ready for a long time before failing starts with a fresh budget.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::mcpproxy::policy::types::{
    Change, ChangeKind, ChangeTarget, ConfigDiff, DisableDecision, FailureEvent, FailureKind,
    Verdict,
};
use crate::settings::Settings;

/// Longest piece of `detail` quoted in a reason: reasons end up in the config file.
const DETAIL_MAX: usize = 200;

/// Server fields that change what the daemon runs, how it reaches the server, or which of its
/// tools clients see. A changed field not in this list (`auto_disable_reason`, `description`,
/// any unknown metadata key) changes nothing effective. Both the snake_case names and common
/// camelCase spellings are listed.
const EFFECTIVE_SERVER_FIELDS: &[&str] = &[
    "name",
    "protocol",
    "type",
    "transport",
    "command",
    "args",
    "env",
    "working_dir",
    "workingDir",
    "cwd",
    "url",
    "headers",
    "enabled",
    "disabled",
    "auto_disabled",
    "init_timeout",
    "initTimeout",
    "enabled_tools",
    "enabledTools",
    "disabled_tools",
    "disabledTools",
    "quarantined",
];

/// Global keys that change nothing the daemon does.
const INERT_GLOBAL_KEYS: &[&str] = &["generation", "description", "$schema", "comment"];

/// Is this failure one that retrying will not fix?
fn is_deterministic(e: &FailureEvent) -> bool {
    match e.kind {
        FailureKind::SpawnError
        | FailureKind::ExitedBeforeHandshake
        | FailureKind::ProtocolError => true,
        // 4xx means the request itself is wrong (bad URL, missing credentials), except the
        // statuses that explicitly say "later".
        FailureKind::HttpStatus => {
            matches!(e.http_status, Some(s) if (400..500).contains(&s) && s != 408 && s != 429)
        }
        FailureKind::InitTimeout
        | FailureKind::Refused
        | FailureKind::CrashedAfterReady
        | FailureKind::HealthCheck => false,
    }
}

/// A server that stayed Ready this long has earned a fresh start: earlier failures don't count.
fn has_fresh_budget(e: &FailureEvent, s: &Settings) -> bool {
    matches!(e.ready_for_ms, Some(ms) if ms >= s.fresh_budget_after_ready_ms)
}

pub fn should_disable(s: &Settings, e: &FailureEvent) -> DisableDecision {
    if has_fresh_budget(e, s) {
        return DisableDecision::Keep;
    }
    let n = u64::from(e.consecutive_failures);
    if is_deterministic(e) && n >= s.deterministic_failures {
        return DisableDecision::Disable(deterministic_reason(e));
    }
    if n >= s.max_consecutive_failures {
        return DisableDecision::Disable(format!(
            "failed {n} times in a row, last: {}{}",
            kind_text(e),
            detail_suffix(e)
        ));
    }
    if u64::from(e.failures_in_window) >= s.max_failures_in_window {
        return DisableDecision::Disable(format!(
            "failed {} times within {} minutes, last: {}{}",
            e.failures_in_window,
            e.window_ms.div_ceil(60_000),
            kind_text(e),
            detail_suffix(e)
        ));
    }
    DisableDecision::Keep
}

fn deterministic_reason(e: &FailureEvent) -> String {
    let n = e.consecutive_failures;
    let what = match e.kind {
        FailureKind::SpawnError => {
            let d = e.detail.to_ascii_lowercase();
            if d.contains("not found") || d.contains("no such file") {
                "the command was not found".to_string()
            } else if d.contains("permission denied") {
                "permission denied when starting the command".to_string()
            } else {
                "the command could not be started".to_string()
            }
        }
        FailureKind::ExitedBeforeHandshake => match e.exit_code {
            Some(code) => format!("the server exited with code {code} before the MCP handshake"),
            None => "the server exited before the MCP handshake".to_string(),
        },
        FailureKind::ProtocolError => {
            "the server does not speak MCP (invalid output or handshake)".to_string()
        }
        _ => match e.http_status {
            Some(status) => format!("the server answered HTTP {status}"),
            None => "the server answered with an HTTP error".to_string(),
        },
    };
    let times = if n == 1 {
        String::from("once")
    } else {
        format!("{n} times in a row")
    };
    format!("{what} ({times}){}", detail_suffix(e))
}

fn kind_text(e: &FailureEvent) -> String {
    match e.kind {
        FailureKind::SpawnError => "could not start".into(),
        FailureKind::ExitedBeforeHandshake => "exited before handshake".into(),
        FailureKind::InitTimeout => "timed out during start-up".into(),
        FailureKind::ProtocolError => "protocol error".into(),
        FailureKind::Refused => "connection refused".into(),
        FailureKind::HttpStatus => match e.http_status {
            Some(s) => format!("HTTP {s}"),
            None => "HTTP error".into(),
        },
        FailureKind::CrashedAfterReady => "crashed after being ready".into(),
        FailureKind::HealthCheck => "stopped answering health checks".into(),
    }
}

fn detail_suffix(e: &FailureEvent) -> String {
    let d = e.detail.trim();
    if d.is_empty() {
        return String::new();
    }
    let mut end = d.len().min(DETAIL_MAX);
    while !d.is_char_boundary(end) {
        end -= 1;
    }
    let ellipsis = if end < d.len() { "…" } else { "" };
    format!(": {}{ellipsis}", &d[..end])
}

/// Exponential backoff with full jitter: a uniform pick between the base and
/// `base * 2^failures`, capped at `backoff_max_ms`, from the host's seed. Even the first
/// retry is spread (1-2 s by default), so servers that fail together do not retry together.
pub fn backoff(s: &Settings, e: &FailureEvent) -> u64 {
    let failures = if has_fresh_budget(e, s) {
        1
    } else {
        e.consecutive_failures.max(1)
    };
    let shift = failures.min(40);
    let cap = s
        .backoff_base_ms
        .saturating_mul(1u64 << shift)
        .min(s.backoff_max_ms)
        .max(s.backoff_base_ms);
    let span = cap - s.backoff_base_ms;
    if span == 0 {
        return cap;
    }
    s.backoff_base_ms + splitmix64(e.seed) % (span + 1)
}

/// Spreads the host's seed over all bits (so neighbouring seeds give unrelated delays).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn filter_reload(diff: &ConfigDiff) -> Vec<Verdict> {
    diff.changes.iter().map(verdict).collect()
}

fn verdict(c: &Change) -> Verdict {
    match (&c.target, c.kind) {
        (ChangeTarget::Server(_), ChangeKind::Modified) => {
            if c.fields.is_empty()
                || c.fields
                    .iter()
                    .any(|f| EFFECTIVE_SERVER_FIELDS.contains(&f.as_str()))
            {
                Verdict::Apply
            } else {
                Verdict::Ignore(format!(
                    "only non-effective fields changed: {}",
                    c.fields.join(", ")
                ))
            }
        }
        (ChangeTarget::Global(key), _) if INERT_GLOBAL_KEYS.contains(&key.as_str()) => {
            Verdict::Ignore(format!("`{key}` does not affect the running daemon"))
        }
        _ => Verdict::Apply,
    }
}
