//! `expected.json` (format: ../../EXPECTED.md) turned into WIT values and expectations.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value, json};

use crate::runtime::wit;

pub enum Expect {
    Disable {
        disable: bool,
        reason: Option<String>,
    },
    Backoff {
        min: u64,
        max: u64,
    },
    Verdicts(Vec<String>),
}

pub enum Input {
    Event(wit::FailureEvent),
    Diff(wit::ConfigDiff),
}

pub struct Case {
    pub name: String,
    pub settings: String,
    pub input: Input,
    pub expect: Expect,
}

fn neutral_event() -> Value {
    json!({
        "server": "docs", "transport": "stdio", "kind": "refused", "detail": "connection refused",
        "exit_code": null, "http_status": null, "attempt": 1, "consecutive_failures": 1,
        "failures_in_window": 1, "window_ms": 600000, "since_first_failure_ms": 0,
        "ready_for_ms": null, "seed": 0
    })
}

fn u64_of(v: &Map<String, Value>, key: &str) -> Result<u64> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("`{key}` must be a non-negative integer"))
}

fn u32_of(v: &Map<String, Value>, key: &str) -> Result<u32> {
    u32::try_from(u64_of(v, key)?).with_context(|| format!("`{key}` is above u32"))
}

fn opt_u64(v: &Map<String, Value>, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn str_of<'a>(v: &'a Map<String, Value>, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("`{key}` must be a string"))
}

fn event(fields: &Value) -> Result<wit::FailureEvent> {
    let mut e = neutral_event();
    let (Some(base), Some(over)) = (e.as_object_mut(), fields.as_object()) else {
        bail!("`event` must be an object");
    };
    base.extend(over.clone());
    let e = &*base;
    Ok(wit::FailureEvent {
        server: str_of(e, "server")?.to_string(),
        transport: match str_of(e, "transport")? {
            "stdio" => wit::Transport::Stdio,
            "streamable_http" => wit::Transport::StreamableHttp,
            "sse" => wit::Transport::Sse,
            other => bail!("unknown transport `{other}`"),
        },
        kind: match str_of(e, "kind")? {
            "spawn_error" => wit::FailureKind::SpawnError,
            "exited_before_handshake" => wit::FailureKind::ExitedBeforeHandshake,
            "init_timeout" => wit::FailureKind::InitTimeout,
            "protocol_error" => wit::FailureKind::ProtocolError,
            "refused" => wit::FailureKind::Refused,
            "http_status" => wit::FailureKind::HttpStatus,
            "crashed_after_ready" => wit::FailureKind::CrashedAfterReady,
            "health_check" => wit::FailureKind::HealthCheck,
            other => bail!("unknown kind `{other}`"),
        },
        detail: str_of(e, "detail")?.to_string(),
        exit_code: e.get("exit_code").and_then(Value::as_i64).map(|c| c as i32),
        http_status: opt_u64(e, "http_status").map(|s| s as u16),
        attempt: u32_of(e, "attempt")?,
        consecutive_failures: u32_of(e, "consecutive_failures")?,
        failures_in_window: u32_of(e, "failures_in_window")?,
        window_ms: u64_of(e, "window_ms")?,
        since_first_failure_ms: u64_of(e, "since_first_failure_ms")?,
        ready_for_ms: opt_u64(e, "ready_for_ms"),
        seed: u64_of(e, "seed")?,
    })
}

fn diff(d: &Value) -> Result<wit::ConfigDiff> {
    let changes = d
        .get("changes")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("`changes` must be a list"))?;
    let changes = changes
        .iter()
        .map(|c| {
            let c = c
                .as_object()
                .ok_or_else(|| anyhow!("a change must be an object"))?;
            let target = match (c.get("server"), c.get("global")) {
                (Some(Value::String(s)), None) => wit::ChangeTarget::Server(s.clone()),
                (None, Some(Value::String(g))) => wit::ChangeTarget::Global(g.clone()),
                _ => bail!("a change needs exactly one of `server` or `global`"),
            };
            let kind = match str_of(c, "kind")? {
                "added" => wit::ChangeKind::Added,
                "removed" => wit::ChangeKind::Removed,
                "modified" => wit::ChangeKind::Modified,
                other => bail!("unknown change kind `{other}`"),
            };
            let fields = c
                .get("fields")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            Ok(wit::Change {
                target,
                kind,
                fields,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(wit::ConfigDiff {
        changes,
        disk_generation: d.get("disk_generation").and_then(Value::as_u64),
        stamped_generation: d.get("stamped_generation").and_then(Value::as_u64),
    })
}

/// What an `expected.json` holds: its cases and the limits it asks the host for.
pub struct Table {
    pub cases: Vec<Case>,
    pub memory_limit_mib: Option<u64>,
    pub deadline_ms: Option<u64>,
}

pub fn parse(text: &str) -> Result<Table> {
    let table: Value = serde_json::from_str(text)?;
    let cases = table
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("no `cases` list"))?;
    let cases = cases
        .iter()
        .map(|c| {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_string();
            let settings = c.get("settings").cloned().unwrap_or(json!({})).to_string();
            let (input, expect) = if let Some(disable) = c.get("disable").and_then(Value::as_bool) {
                let reason = c.get("reason").and_then(Value::as_str).map(String::from);
                (
                    Input::Event(event(&c["event"])?),
                    Expect::Disable { disable, reason },
                )
            } else if let Some(range) = c.get("backoff_ms").and_then(Value::as_array) {
                let bound = |i: usize| {
                    range
                        .get(i)
                        .and_then(Value::as_u64)
                        .ok_or_else(|| anyhow!("bad `backoff_ms`"))
                };
                (
                    Input::Event(event(&c["event"])?),
                    Expect::Backoff {
                        min: bound(0)?,
                        max: bound(1)?,
                    },
                )
            } else if let Some(verdicts) = c.get("verdicts").and_then(Value::as_array) {
                let verdicts = verdicts
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
                (Input::Diff(diff(&c["diff"])?), Expect::Verdicts(verdicts))
            } else {
                bail!("case `{name}` has no expectation");
            };
            Ok(Case {
                name,
                settings,
                input,
                expect,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Table {
        cases,
        memory_limit_mib: table.get("memory_limit_mib").and_then(Value::as_u64),
        deadline_ms: table.get("deadline_ms").and_then(Value::as_u64),
    })
}
