//! How a `PolicyHost` runs policies: which components, their settings, and the per-call
//! limits.

use std::path::PathBuf;

use super::per_hook::PolicyFiles;
use super::quarantine::QuarantineSettings;
use crate::contract::{Limits, OnFailure};

/// How to run policies.
#[derive(Debug, Clone)]
pub struct PolicyOptions {
    /// The policy component (one file for all hooks, or a bundle's file per hook); `None`
    /// runs the embedded default.
    pub files: Option<PolicyFiles>,
    /// `policy.settings`, handed to `configure` as JSON text.
    pub settings: serde_json::Value,
    /// The per-call limits (default 10 ms, 16 MiB).
    pub limits: Limits,
    /// Where compiled code is cached (`<data dir>/policy-cache/`); `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// When a failing custom policy is quarantined.
    pub quarantine: QuarantineSettings,
    /// Who answers when the policy fails or is quarantined (a bundle's `on_failure`).
    pub on_failure: OnFailure,
}

/// The embedded default with no settings, default limits, no cache.
impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            files: None,
            settings: serde_json::Value::Object(Default::default()),
            limits: Limits::DEFAULT,
            cache_dir: None,
            quarantine: QuarantineSettings::default(),
            on_failure: OnFailure::default(),
        }
    }
}
