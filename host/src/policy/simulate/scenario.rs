//! The scenario file of `mcpproxy policy test`: settings, window, seed and timed steps with
//! optional expectations. Parsing and validation only; running is `run`'s job.
//!
//! Format documented in `examples/scenarios/README.md`.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse_text as parse_duration;

use crate::contract::{
    Change, ChangeKind, ChangeTarget, ConfigDiff, FailureKind, GivenLimits, Limits, Transport,
};

/// The daemon's failure window (`daemon::FAILURE_WINDOW`), used when a scenario names none.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);

/// A scenario file that could not be used; names the file (when known) and the step.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario {source_name}: {error}")]
    Json {
        source_name: String,
        error: serde_path_to_error::Error<serde_json::Error>,
    },
    #[error("scenario {source_name}: `{field}`: {message}")]
    Invalid {
        source_name: String,
        field: String,
        message: String,
    },
}

/// A whole scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `policy.settings` for `configure` (`{}` when absent); `--settings` overrides it.
    pub settings: serde_json::Value,
    /// The sliding window of `failures_in_window`.
    pub window: Duration,
    /// Root of every event's seed (see `run::event_seed`).
    pub seed: u64,
    /// Host limits for the policy under test (the host's defaults where the file says none).
    pub limits: Limits,
    /// In time order.
    pub steps: Vec<Step>,
}

/// One thing that happens at `at` (time since the scenario began).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub action: Action,
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A connection attempt of `server` failed (or a Ready server was lost).
    Failure {
        server: String,
        transport: Transport,
        kind: FailureKind,
        exit_code: Option<i32>,
        http_status: Option<u16>,
        detail: String,
    },
    /// A connection attempt of `server` succeeded.
    Ready { server: String },
    /// The config file changed.
    Reload(ConfigDiff),
}

/// What the policy should have answered at a step; absent fields are not checked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub disable: Option<bool>,
    pub reason_contains: Option<String>,
    pub backoff_ms: Option<Range>,
    /// `apply` / `ignore`, one per change.
    pub verdicts: Option<Vec<ExpectVerdict>>,
}

/// Inclusive bounds; either may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl Range {
    pub fn contains(&self, v: u64) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        write!(f, "{}..={} ms", show(self.min), show(self.max))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectVerdict {
    Apply,
    Ignore,
}

// ---- the file as written -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    settings: Option<serde_json::Value>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    deadline_ms: Option<u64>,
    #[serde(default)]
    memory_limit_mib: Option<u64>,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: String,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    kind: Option<FailureKind>,
    #[serde(default)]
    transport: Option<RawTransport>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    http_status: Option<u16>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    reload: Option<RawDiff>,
    #[serde(default)]
    expect: Option<Expect>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawTransport {
    Stdio,
    StreamableHttp,
    Sse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiff {
    changes: Vec<RawChange>,
    #[serde(default)]
    disk_generation: Option<u64>,
    #[serde(default)]
    stamped_generation: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChange {
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    global: Option<String>,
    kind: RawChangeKind,
    #[serde(default)]
    fields: Vec<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawChangeKind {
    Added,
    Removed,
    Modified,
}

impl Scenario {
    /// Parses scenario JSON; `source_name` (usually the file path) goes into every error.
    pub fn from_json(source_name: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawScenario =
            serde_path_to_error::deserialize(de).map_err(|error| ScenarioError::Json {
                source_name: source_name.to_string(),
                error,
            })?;
        let invalid = |field: String, message: String| ScenarioError::Invalid {
            source_name: source_name.to_string(),
            field,
            message,
        };
        let settings = raw
            .settings
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        if !settings.is_object() {
            return Err(invalid("settings".into(), "must be a JSON object".into()));
        }
        let window = match raw.window {
            Some(w) => parse_duration(&w).map_err(|m| invalid("window".into(), m))?,
            None => DEFAULT_WINDOW,
        };
        let mut steps = Vec::with_capacity(raw.steps.len());
        let mut last = Duration::ZERO;
        for (i, mut s) in raw.steps.into_iter().enumerate() {
            let field = |name: &str| format!("steps[{i}].{name}");
            let at = parse_duration(&s.at).map_err(|m| invalid(field("at"), m))?;
            if at < last {
                return Err(invalid(
                    field("at"),
                    format!(
                        "steps must be in time order ({} comes after {})",
                        s.at,
                        fmt_t(last)
                    ),
                ));
            }
            last = at;
            let expect = s.expect.take();
            let action = step_action(s).map_err(|(name, m)| invalid(field(name), m))?;
            steps.push(Step { at, action, expect });
        }
        Ok(Scenario {
            settings,
            window,
            seed: raw.seed,
            limits: Limits::DEFAULT.with(GivenLimits {
                deadline_ms: raw.deadline_ms,
                memory_limit_mib: raw.memory_limit_mib,
            }),
            steps,
        })
    }
}

/// Exactly one of a failure (`server` + `kind`), `ready` (`server`) or `reload`.
fn step_action(s: RawStep) -> Result<Action, (&'static str, String)> {
    let (server, kind, ready, reload) = (s.server, s.kind, s.ready, s.reload);
    let shapes = usize::from(kind.is_some()) + usize::from(ready) + usize::from(reload.is_some());
    if shapes != 1 {
        return Err((
            "kind",
            "a step is exactly one of: a failure (`kind`), `\"ready\": true`, or `reload`".into(),
        ));
    }
    if let Some(diff) = reload {
        if server.is_some() {
            return Err((
                "server",
                "a reload step names servers in its changes".into(),
            ));
        }
        return diff_from_raw(diff).map(Action::Reload);
    }
    let Some(server) = server.filter(|s| !s.is_empty()) else {
        return Err(("server", "missing (the server this step is about)".into()));
    };
    let Some(kind) = kind else {
        return Ok(Action::Ready { server });
    };
    let transport = match s.transport {
        None | Some(RawTransport::Stdio) => Transport::Stdio,
        Some(RawTransport::StreamableHttp) => Transport::StreamableHttp,
        Some(RawTransport::Sse) => Transport::Sse,
    };
    Ok(Action::Failure {
        server,
        transport,
        kind,
        exit_code: s.exit_code,
        http_status: s.http_status,
        detail: s.detail.unwrap_or_default(),
    })
}

fn diff_from_raw(raw: RawDiff) -> Result<ConfigDiff, (&'static str, String)> {
    let mut changes = Vec::with_capacity(raw.changes.len());
    for c in raw.changes {
        let target = match (c.server, c.global) {
            (Some(s), None) => ChangeTarget::Server(s),
            (None, Some(g)) => ChangeTarget::Global(g),
            _ => {
                return Err((
                    "reload.changes",
                    "each change names exactly one of `server` or `global`".into(),
                ));
            }
        };
        let kind = match c.kind {
            RawChangeKind::Added => ChangeKind::Added,
            RawChangeKind::Removed => ChangeKind::Removed,
            RawChangeKind::Modified => ChangeKind::Modified,
        };
        changes.push(Change {
            target,
            kind,
            fields: c.fields,
        });
    }
    Ok(ConfigDiff {
        changes,
        disk_generation: raw.disk_generation,
        stamped_generation: raw.stamped_generation,
    })
}

/// A scenario time as the report shows it: `93s`, `2m05s`, `1.5s`.
pub fn fmt_t(t: Duration) -> String {
    let ms = t.as_millis();
    let (m, s, frac) = (ms / 60_000, (ms / 1000) % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}")
    } else {
        format!("{s}.{frac:03}").trim_end_matches('0').to_string()
    };
    if m == 0 {
        format!("{secs}s")
    } else if s < 10 {
        format!("{m}m0{secs}s")
    } else {
        format!("{m}m{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_step_shape() {
        let s = Scenario::from_json(
            "t.json",
            r#"{"window": "5m", "seed": 9, "steps": [
                {"at": "0s", "server": "A", "kind": "init_timeout"},
                {"at": "31s", "server": "A", "kind": "exited_before_handshake", "exit_code": 2,
                 "expect": {"disable": false, "backoff_ms": {"min": 1, "max": 5}}},
                {"at": "40s", "server": "A", "ready": true},
                {"at": "2m", "reload": {"changes": [{"server": "A", "kind": "modified", "fields": ["env"]},
                                                     {"global": "generation", "kind": "modified"}]},
                 "expect": {"verdicts": ["apply", "ignore"]}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(s.window, Duration::from_secs(300));
        assert_eq!(s.seed, 9);
        assert_eq!(s.steps.len(), 4);
        assert!(matches!(
            &s.steps[1].action,
            Action::Failure {
                kind: FailureKind::ExitedBeforeHandshake,
                exit_code: Some(2),
                ..
            }
        ));
        assert_eq!(
            s.steps[1].expect.as_ref().unwrap().backoff_ms.unwrap().max,
            Some(5)
        );
        assert_eq!(s.steps[2].action, Action::Ready { server: "A".into() });
        let Action::Reload(d) = &s.steps[3].action else {
            panic!("not a reload")
        };
        assert_eq!(
            d.changes[1].target,
            ChangeTarget::Global("generation".into())
        );
        assert_eq!(s.steps[3].at, Duration::from_secs(120));
    }

    #[test]
    fn bad_scenarios_name_file_and_field() {
        // (scenario, text the error must contain)
        let cases = [
            (
                r#"{"steps": [{"at": "x", "server": "A", "ready": true}]}"#,
                "steps[0].at",
            ),
            (
                r#"{"steps": [{"at": "5s", "server": "A", "ready": true},
                           {"at": "1s", "server": "A", "ready": true}]}"#,
                "time order",
            ),
            (
                r#"{"steps": [{"at": "1s", "server": "A"}]}"#,
                "exactly one of",
            ),
            (
                r#"{"steps": [{"at": "1s", "kind": "refused"}]}"#,
                "steps[0].server",
            ),
            (
                r#"{"steps": [{"at": "1s", "server": "A", "kind": "nope"}]}"#,
                "steps[0].kind",
            ),
            (
                r#"{"steps": [{"at": "1s", "reload": {"changes": [{"kind": "added"}]}}]}"#,
                "exactly one of `server`",
            ),
            (r#"{"settings": 3, "steps": []}"#, "settings"),
            (
                r#"{"steps": [{"at": "1s", "server": "A", "ready": true, "expect": {"disabled": true}}]}"#,
                "disabled",
            ),
        ];
        for (text, want) in cases {
            let e = Scenario::from_json("bad.json", text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("bad.json") && e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn times_print_compactly() {
        for (ms, want) in [
            (0, "0s"),
            (31_000, "31s"),
            (93_000, "1m33s"),
            (125_000, "2m05s"),
            (1_500, "1.5s"),
        ] {
            assert_eq!(fmt_t(Duration::from_millis(ms)), want);
        }
    }
}
