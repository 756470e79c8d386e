//! The edge of `mcpproxy policy test`: read the policy and scenario files, load the policy in a
//! real `PolicyHost`, run the simulator, and hand back the text to print.
//!
//! A policy that fails to load is an error here: the daemon would silently fall back to the
//! embedded default, but a test of *this* policy must not.

use std::path::Path;

use anyhow::{Context, bail};

use super::run::run;
use super::scenario::Scenario;
use crate::contract::GivenLimits;
use crate::policy::{PolicyFiles, PolicyHost, PolicyOptions};

/// What the command line (or a bundle's manifest) says over a scenario file's own values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides<'a> {
    /// Settings JSON text that replaces the scenario's settings.
    pub settings: Option<&'a str>,
    /// Limits that replace the scenario's, where given.
    pub limits: GivenLimits,
}

/// Runs `scenario` through the policy component at `policy_path`, with `overrides` over the
/// scenario's own settings and limits. Returns the report text and whether every expectation
/// was met (`true`: exit 0; `false`: exit non-zero).
pub fn cli_run(
    policy_path: &Path,
    scenario: &Path,
    overrides: &Overrides,
) -> anyhow::Result<(String, bool)> {
    run_files(&policy_path.into(), scenario, overrides, None)
}

/// `cli_run` with a component per hook (a bundle's smoke tests).
/// `cache_dir`: the daemon's compile cache, so the components load from it afterwards.
pub fn run_files(
    policy: &PolicyFiles,
    scenario: &Path,
    overrides: &Overrides,
    cache_dir: Option<&Path>,
) -> anyhow::Result<(String, bool)> {
    let settings = overrides.settings;
    let text = std::fs::read_to_string(scenario)
        .with_context(|| format!("cannot read scenario {}", scenario.display()))?;
    let mut scenario_value = Scenario::from_json(&scenario.display().to_string(), &text)?;
    if let Some(s) = settings {
        let value: serde_json::Value =
            serde_json::from_str(s).context("--settings is not valid JSON")?;
        if !value.is_object() {
            bail!("--settings must be a JSON object, got {s}");
        }
        scenario_value.settings = value;
    }
    for path in policy.distinct() {
        if !path.is_file() {
            bail!("policy {}: no such file", path.display());
        }
    }
    let host = PolicyHost::start(PolicyOptions {
        files: Some(policy.clone()),
        settings: scenario_value.settings.clone(),
        limits: scenario_value.limits.with(overrides.limits),
        cache_dir: cache_dir.map(Path::to_path_buf),
        ..PolicyOptions::default()
    })
    .with_context(|| format!("policy {}: the policy host did not start", policy))?;
    let status = host.status();
    if status.fallback_active {
        bail!(
            "policy {policy} could not be loaded: {}",
            status.last_error.unwrap_or_else(|| "unknown error".into())
        );
    }
    let mut report = run(host.as_ref(), &scenario_value);
    let after = host.status();
    report.notes.push(format!(
        "policy {policy} (sha256 {}), {} step(s)",
        after.sha256,
        scenario_value.steps.len()
    ));
    if after.fallbacks > 0 {
        // The daemon would carry on with the default's answers; a test must not pass on them.
        report.run_failure = true;
        report.notes.push(format!(
            "✗ {} decision(s) fell back to the embedded default: {}",
            after.fallbacks,
            after.last_error.unwrap_or_else(|| "unknown error".into())
        ));
    }
    let passed = !report.failed();
    Ok((report.to_string(), passed))
}
