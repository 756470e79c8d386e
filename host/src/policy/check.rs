//! `mcpproxy policy check FILE [--settings JSON]`: load a policy the way the daemon would,
//! check its world and version, run `configure`, and show its decisions on the smoke
//! scenarios. Never falls back: the report shows exactly what the policy does.

use std::fmt;
use std::path::{Path, PathBuf};

use super::engine::{self, PolicyEngine};
use super::error::PolicyError;
use super::loaded::{CallLimits, Linkers, LoadedPolicy, PolicySource};
use super::scenarios;
use crate::contract::Limits;
use crate::contract::{DisableDecision, ReviewDecision, ToolVerdict, Verdict};

/// What `policy check` found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub path: PathBuf,
    pub sha256: String,
    pub world_version: String,
    pub imports: Vec<String>,
    pub uses_wasi: bool,
    pub settings: String,
    /// The per-call limits the decisions ran under.
    pub limits: Limits,
    /// One line per scenario and hook: (scenario, hook, answer or error).
    pub decisions: Vec<(String, &'static str, String)>,
    /// Scenarios where the policy trapped, timed out, hit a limit or answered invalidly.
    pub failures: usize,
}

/// Loads `path` with `settings` under the default limits and runs the scenarios.
pub fn run(path: &Path, settings: &serde_json::Value) -> Result<CheckReport, PolicyError> {
    run_with(path, settings, Limits::default(), None)
}

/// `run` under `limits` (a JS or Python policy needs more than the defaults), taking compiled
/// code from (and leaving it in) `cache_dir` when given, so that the daemon whose cache it is
/// then loads the policy from there.
pub fn run_with(
    path: &Path,
    settings: &serde_json::Value,
    limits: Limits,
    cache_dir: Option<&Path>,
) -> Result<CheckReport, PolicyError> {
    let engine = PolicyEngine::new()?;
    let linkers = Linkers::new(&engine.engine)?;
    let ticker = engine.ticker(limits.deadline)?;
    let bytes = std::fs::read(path).map_err(|error| PolicyError::Read {
        source_name: path.display().to_string(),
        path: path.to_path_buf(),
        error,
    })?;
    let policy = LoadedPolicy::load(
        &engine,
        &linkers,
        &bytes,
        PolicySource::File(path.to_path_buf()),
        settings,
        CallLimits {
            limits,
            deadline_ticks: engine::ticks_for(limits.deadline, ticker.tick),
        },
        cache_dir,
    )?
    .in_service();
    let mut decisions = Vec::new();
    let mut failures = 0;
    let mut push = |scenario: &str, hook: &'static str, answer: Result<String, String>| {
        let text = answer.unwrap_or_else(|e| {
            failures += 1;
            format!("FAILED: {e}")
        });
        decisions.push((scenario.to_string(), hook, text));
    };
    for s in scenarios::events() {
        let d = policy.should_disable(&s.event).map(|d| match d {
            DisableDecision::Keep => "keep".to_string(),
            DisableDecision::Disable { reason } => format!("disable: {reason}"),
        });
        push(s.name, "should-disable", d.map_err(|e| e.to_string()));
        let b = policy
            .backoff(&s.event)
            .map(|d| format!("{} ms", d.as_millis()));
        push(s.name, "backoff", b.map_err(|e| e.to_string()));
    }
    for s in scenarios::diffs() {
        let v = policy.filter_reload(&s.diff).map(|verdicts| {
            let parts: Vec<String> = s
                .diff
                .changes
                .iter()
                .zip(verdicts)
                .map(|(c, v)| {
                    let target = match &c.target {
                        crate::contract::ChangeTarget::Server(n) => {
                            format!("server {n} {:?} {:?}", c.kind, c.fields)
                        }
                        crate::contract::ChangeTarget::Global(k) => {
                            format!("global {k} {:?}", c.kind)
                        }
                    };
                    match v {
                        Verdict::Apply => format!("{target}: apply"),
                        Verdict::Ignore { reason } => format!("{target}: ignore ({reason})"),
                    }
                })
                .collect();
            if parts.is_empty() {
                "[]".to_string()
            } else {
                parts.join("; ")
            }
        });
        push(s.name, "filter-reload", v.map_err(|e| e.to_string()));
    }
    for s in scenarios::reviews() {
        let answer = if policy.reviews_tools() {
            policy
                .review_tools(&s.review)
                .map(|d| describe_review(&s.review, d))
                .map_err(|e| e.to_string())
        } else {
            Ok("not in world 0.1.0: the embedded default answers".to_string())
        };
        push(s.name, "review-tools", answer);
    }
    Ok(CheckReport {
        path: path.to_path_buf(),
        sha256: policy.sha256.clone(),
        world_version: policy.world.version.clone(),
        imports: policy.world.imports.clone(),
        uses_wasi: policy.world.needs_wasi,
        settings: super::loaded::settings_json(settings),
        limits,
        decisions,
        failures,
    })
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "policy     {}", self.path.display())?;
        writeln!(f, "sha256     {}", self.sha256)?;
        writeln!(
            f,
            "world      mcpproxy:policy/decisions@{}",
            self.world_version
        )?;
        let imports = if self.imports.is_empty() {
            "none".to_string()
        } else {
            self.imports.join(", ")
        };
        writeln!(f, "imports    {imports}")?;
        if self.uses_wasi {
            writeln!(
                f,
                "           (WASI imports run with no file system, network or environment)"
            )?;
        }
        writeln!(f, "configure  ok with {}", self.settings)?;
        writeln!(
            f,
            "limits     deadline {} ms, memory {} MiB per decision",
            self.limits.deadline.as_millis(),
            self.limits.memory_limit_mib()
        )?;
        writeln!(f, "decisions on the smoke scenarios:")?;
        for (scenario, hook, answer) in &self.decisions {
            writeln!(f, "  {scenario} / {hook}: {answer}")?;
        }
        if self.failures > 0 {
            writeln!(
                f,
                "{} decision(s) FAILED: the daemon would use the embedded default for those",
                self.failures
            )?;
        }
        Ok(())
    }
}

/// `search: expose; fetch: hide (reason)`, or `quarantine: reason`.
fn describe_review(review: &crate::contract::ToolReview, d: ReviewDecision) -> String {
    match d {
        ReviewDecision::Quarantine { reason } => format!("quarantine: {reason}"),
        ReviewDecision::PerTool(verdicts) => {
            let parts: Vec<String> = review
                .tools
                .iter()
                .zip(verdicts)
                .map(|(t, v)| match v {
                    ToolVerdict::Expose => format!("{}: expose", t.name),
                    ToolVerdict::Hide { reason } => format!("{}: hide ({reason})", t.name),
                })
                .collect();
            if parts.is_empty() {
                "[]".to_string()
            } else {
                parts.join("; ")
            }
        }
    }
}
