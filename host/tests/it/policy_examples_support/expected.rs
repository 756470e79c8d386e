//! An example's `expected.json` (format: `examples/policies/EXPECTED.md`) in the host's own
//! types, and its replay through the `Policy` trait of a running `PolicyHost`.
//!
//! The one parser of `expected.json` in Rust. It builds `mcpproxy::contract` values, so the
//! replay goes through exactly what the daemon calls (fresh instance per decision, answer
//! validation, fallback accounting).

use std::path::Path;
use std::time::Duration;

use mcpproxy::contract::{Change, ChangeKind, ChangeTarget, ConfigDiff, FailureKind};
use mcpproxy::contract::{
    DisableDecision, FailureEvent, GivenLimits, Limits, Policy, Transport, Verdict,
};
use mcpproxy::policy::{PolicyHost, PolicyOptions};
use serde_json::{Map, Value, json};

pub enum Input {
    Event(FailureEvent),
    Diff(ConfigDiff),
}

pub enum Expect {
    /// `should-disable`; `reason` compared exactly when given.
    Disable {
        disable: bool,
        reason: Option<String>,
    },
    /// `backoff` within `min..=max` milliseconds.
    Backoff { min: u64, max: u64 },
    /// `filter-reload` verdicts in order: `true` for apply (reasons not compared).
    Verdicts(Vec<bool>),
}

pub struct Case {
    pub name: String,
    /// The JSON object for `configure` (`{}` when the case names none).
    pub settings: Value,
    pub input: Input,
    pub expect: Expect,
}

/// A whole `expected.json`.
pub struct Table {
    pub policy: String,
    pub memory_limit_mib: u64,
    pub deadline_ms: u64,
    pub cases: Vec<Case>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Table, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The host options the table asks for (its memory cap and deadline).
    pub fn options(&self, path: &Path, cache_dir: &Path) -> PolicyOptions {
        PolicyOptions {
            files: Some(path.into()),
            settings: json!({}),
            limits: Limits::DEFAULT.with(GivenLimits {
                deadline_ms: Some(self.deadline_ms),
                memory_limit_mib: Some(self.memory_limit_mib),
            }),
            cache_dir: Some(cache_dir.to_path_buf()),
            ..PolicyOptions::default()
        }
    }
}

pub fn parse(text: &str) -> Result<Table, String> {
    let table: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let cases = table
        .get("cases")
        .and_then(Value::as_array)
        .ok_or("no `cases` list")?
        .iter()
        .map(case)
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Table {
        policy: table
            .get("policy")
            .and_then(Value::as_str)
            .ok_or("no `policy`")?
            .to_string(),
        memory_limit_mib: table
            .get("memory_limit_mib")
            .and_then(Value::as_u64)
            .ok_or("no `memory_limit_mib`")?,
        deadline_ms: table
            .get("deadline_ms")
            .and_then(Value::as_u64)
            .ok_or("no `deadline_ms`")?,
        cases,
    })
}

fn case(c: &Value) -> Result<Case, String> {
    let name = c
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a case has no `name`")?
        .to_string();
    let in_case = |e: String| format!("case {name:?}: {e}");
    let settings = c.get("settings").cloned().unwrap_or(json!({}));
    let (input, expect) = if let Some(disable) = c.get("disable").and_then(Value::as_bool) {
        let reason = c.get("reason").and_then(Value::as_str).map(String::from);
        (
            Input::Event(event(&c["event"]).map_err(in_case)?),
            Expect::Disable { disable, reason },
        )
    } else if let Some(range) = c.get("backoff_ms").and_then(Value::as_array) {
        let bound = |i: usize| {
            range
                .get(i)
                .and_then(Value::as_u64)
                .ok_or_else(|| in_case("`backoff_ms` must be [min, max]".into()))
        };
        (
            Input::Event(event(&c["event"]).map_err(in_case)?),
            Expect::Backoff {
                min: bound(0)?,
                max: bound(1)?,
            },
        )
    } else if let Some(verdicts) = c.get("verdicts").and_then(Value::as_array) {
        let verdicts = verdicts
            .iter()
            .map(|v| match v.as_str() {
                Some("apply") => Ok(true),
                Some("ignore") => Ok(false),
                _ => Err(in_case(format!("unknown verdict {v}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        (
            Input::Diff(diff(&c["diff"]).map_err(in_case)?),
            Expect::Verdicts(verdicts),
        )
    } else {
        return Err(in_case("no expectation".into()));
    };
    Ok(Case {
        name,
        settings,
        input,
        expect,
    })
}

/// The neutral event every case's `event` overrides.
fn neutral_event() -> Value {
    json!({
        "server": "docs", "transport": "stdio", "kind": "refused", "detail": "connection refused",
        "exit_code": null, "http_status": null, "attempt": 1, "consecutive_failures": 1,
        "failures_in_window": 1, "window_ms": 600000, "since_first_failure_ms": 0,
        "ready_for_ms": null, "seed": 0
    })
}

fn u64_of(e: &Map<String, Value>, key: &str) -> Result<u64, String> {
    e.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{key}` must be a non-negative integer"))
}

fn u32_of(e: &Map<String, Value>, key: &str) -> Result<u32, String> {
    u32::try_from(u64_of(e, key)?).map_err(|_| format!("`{key}` is above u32"))
}

fn str_of<'a>(e: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    e.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

/// `null` or an integer of type `T`.
fn opt_of<T: TryFrom<i64>>(e: &Map<String, Value>, key: &str) -> Result<Option<T>, String> {
    match e.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("`{key}` is out of range: {v}")),
    }
}

fn event(fields: &Value) -> Result<FailureEvent, String> {
    let mut e = neutral_event();
    let (Some(base), Some(over)) = (e.as_object_mut(), fields.as_object()) else {
        return Err("`event` must be an object".into());
    };
    base.extend(over.clone());
    let e = &*base;
    let ms = |key: &str| u64_of(e, key).map(Duration::from_millis);
    Ok(FailureEvent {
        server: str_of(e, "server")?.to_string(),
        transport: match str_of(e, "transport")? {
            "stdio" => Transport::Stdio,
            "streamable_http" => Transport::StreamableHttp,
            "sse" => Transport::Sse,
            other => return Err(format!("unknown transport `{other}`")),
        },
        kind: match str_of(e, "kind")? {
            "spawn_error" => FailureKind::SpawnError,
            "exited_before_handshake" => FailureKind::ExitedBeforeHandshake,
            "init_timeout" => FailureKind::InitTimeout,
            "protocol_error" => FailureKind::ProtocolError,
            "refused" => FailureKind::Refused,
            "http_status" => FailureKind::HttpStatus,
            "crashed_after_ready" => FailureKind::CrashedAfterReady,
            "health_check" => FailureKind::HealthCheck,
            other => return Err(format!("unknown kind `{other}`")),
        },
        detail: str_of(e, "detail")?.to_string(),
        exit_code: opt_of(e, "exit_code")?,
        http_status: opt_of(e, "http_status")?,
        attempt: u32_of(e, "attempt")?,
        consecutive_failures: u32_of(e, "consecutive_failures")?,
        failures_in_window: u32_of(e, "failures_in_window")?,
        window: ms("window_ms")?,
        since_first_failure: ms("since_first_failure_ms")?,
        ready_for: opt_of::<u64>(e, "ready_for_ms")?.map(Duration::from_millis),
        seed: u64_of(e, "seed")?,
    })
}

fn diff(d: &Value) -> Result<ConfigDiff, String> {
    let changes = d
        .get("changes")
        .and_then(Value::as_array)
        .ok_or("`changes` must be a list")?
        .iter()
        .map(|c| {
            let c = c.as_object().ok_or("a change must be an object")?;
            let target = match (c.get("server"), c.get("global")) {
                (Some(Value::String(s)), None) => ChangeTarget::Server(s.clone()),
                (None, Some(Value::String(g))) => ChangeTarget::Global(g.clone()),
                _ => return Err("a change needs exactly one of `server` or `global`".into()),
            };
            let kind = match str_of(c, "kind")? {
                "added" => ChangeKind::Added,
                "removed" => ChangeKind::Removed,
                "modified" => ChangeKind::Modified,
                other => return Err(format!("unknown change kind `{other}`")),
            };
            let fields = match c.get("fields") {
                None => Vec::new(),
                Some(f) => f
                    .as_array()
                    .and_then(|f| f.iter().map(|s| s.as_str().map(String::from)).collect())
                    .ok_or("`fields` must be a list of strings")?,
            };
            Ok(Change {
                target,
                kind,
                fields,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ConfigDiff {
        changes,
        disk_generation: d.get("disk_generation").and_then(Value::as_u64),
        stamped_generation: d.get("stamped_generation").and_then(Value::as_u64),
    })
}

/// Runs every case of `table` through `host` (which runs the policy at `path`), switching
/// the host's settings with `replace` whenever a case names different ones, and returns one
/// line per case whose decision differs (empty: all as expected).
pub fn replay(host: &PolicyHost, path: &Path, table: &Table) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut current: Option<&Value> = None;
    for case in &table.cases {
        if current != Some(&case.settings) {
            if let Err(e) = host.replace(Some(path.into()), case.settings.clone()) {
                wrong.push(format!(
                    "{}: settings {} refused: {e}",
                    case.name, case.settings
                ));
                continue;
            }
            current = Some(&case.settings);
        }
        if let Some(problem) = check(host, case) {
            wrong.push(format!("{}: {problem}", case.name));
        }
    }
    wrong
}

/// The cases run with no settings, and those of them on which `host` (another policy, such
/// as the embedded default) decides otherwise than the table expects.
pub fn differences(host: &PolicyHost, table: &Table) -> (usize, Vec<String>) {
    let plain: Vec<&Case> = table
        .cases
        .iter()
        .filter(|c| c.settings == json!({}))
        .collect();
    let differing = plain
        .iter()
        .filter_map(|case| check(host, case).map(|p| format!("{}: {p}", case.name)))
        .collect();
    (plain.len(), differing)
}

/// What is wrong with `case`'s decision, if anything.
fn check(host: &PolicyHost, case: &Case) -> Option<String> {
    match (&case.input, &case.expect) {
        (Input::Event(event), Expect::Disable { disable, reason }) => {
            match (host.should_disable(event), disable, reason) {
                (DisableDecision::Keep, false, _) => None,
                (DisableDecision::Disable { .. }, true, None) => None,
                (DisableDecision::Disable { reason: got }, true, Some(want)) if got == *want => {
                    None
                }
                (got, _, _) => Some(format!(
                    "should-disable answered {got:?}, expected disable={disable} reason={reason:?}"
                )),
            }
        }
        (Input::Event(event), Expect::Backoff { min, max }) => {
            let got = host.backoff(event);
            let ms = got.as_millis();
            (ms < u128::from(*min) || ms > u128::from(*max))
                .then(|| format!("backoff answered {ms} ms, expected {min}..={max} ms"))
        }
        (Input::Diff(diff), Expect::Verdicts(want)) => {
            let got: Vec<bool> = host
                .filter_reload(diff)
                .iter()
                .map(|v| matches!(v, Verdict::Apply))
                .collect();
            (got != *want)
                .then(|| format!("filter-reload answered apply={got:?}, expected apply={want:?}"))
        }
        _ => Some("a diff case needs `verdicts`, an event case `disable` or `backoff_ms`".into()),
    }
}
