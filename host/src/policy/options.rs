//! How a `PolicyHost` runs policies: which components, their settings, and the per-call
//! limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::per_hook::PolicyFiles;
use super::quarantine::QuarantineSettings;

/// How to run policies.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// The policy component (one file for all hooks, or a bundle's file per hook); `None`
    /// runs the embedded default.
    pub files: Option<PolicyFiles>,
    /// `policy.settings`, handed to `configure` as JSON text.
    pub settings: serde_json::Value,
    /// Longest a decision may run (default 10 ms).
    pub deadline: Duration,
    /// Linear memory cap per decision, in bytes (default 16 MiB).
    pub memory_limit: usize,
    /// Where compiled code is cached (`<data dir>/policy-cache/`); `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// When a failing custom policy is quarantined.
    pub quarantine: QuarantineSettings,
    /// Who answers when the policy fails or is quarantined (a bundle's `on_failure`).
    pub on_failure: OnFailure,
}

/// What answers a decision the active policy failed (trap, timeout, limit, invalid answer)
/// or could not make (quarantined).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// The embedded default policy.
    #[default]
    FallbackToDefault,
    /// Fail closed: nothing is done that the policy did not decide. The server is not
    /// auto-disabled, its next attempt waits the longest backoff, config changes are ignored.
    Deny,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            files: None,
            settings: serde_json::Value::Object(Default::default()),
            deadline: Duration::from_millis(10),
            memory_limit: 16 * 1024 * 1024,
            cache_dir: None,
            quarantine: QuarantineSettings::default(),
            on_failure: OnFailure::default(),
        }
    }
}

/// The per-call limits a policy runs under, apart from everything else a host is given:
/// what `policy check` and `policy test` are told on the command line, and what a bundle's
/// manifest declares for its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a decision may run.
    pub deadline: Duration,
    /// Linear memory cap per decision, in bytes.
    pub memory_limit: usize,
}

impl Limits {
    /// The limits from a deadline in milliseconds and a memory cap in MiB (a manifest's or
    /// the command line's units).
    pub fn from_ms_mib(deadline_ms: u64, memory_limit_mib: u64) -> Self {
        Limits {
            deadline: Duration::from_millis(deadline_ms),
            memory_limit: mib_to_bytes(memory_limit_mib),
        }
    }
}

/// `mib` MiB in bytes, saturating.
pub fn mib_to_bytes(mib: u64) -> usize {
    usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

impl Default for Limits {
    fn default() -> Self {
        PolicyOptions::default().limits()
    }
}

impl PolicyOptions {
    /// The per-call limits of these options.
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: self.deadline,
            memory_limit: self.memory_limit,
        }
    }

    /// Options for the config's `policy` section; compiled code is cached in
    /// `<data_dir>/policy-cache/` when a data dir is given.
    pub fn from_config(config: &crate::config::PolicyConfig, data_dir: Option<&Path>) -> Self {
        PolicyOptions {
            files: config.path.clone().map(PolicyFiles::from),
            settings: config.settings.clone(),
            deadline: config.deadline,
            memory_limit: config.memory_limit,
            cache_dir: data_dir.map(|d| d.join("policy-cache")),
            quarantine: QuarantineSettings::default(),
            on_failure: config.on_failure,
        }
    }
}
