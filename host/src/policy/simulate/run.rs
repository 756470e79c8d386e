//! Feeding a scenario through a `Policy` the way the daemon's supervisor does: the same
//! `supervisor::counters`, one per server, a new attempt per connection, counters reset when
//! a reload change to the server is applied, and no attempts while a server is auto-disabled.
//!
//! Pure apart from the policy call: scenario time is an offset from a fixed base instant, so no
//! clock is read for decisions and no sleeping happens.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::report::{Report, Row};
use super::scenario::{Action, Expect, ExpectVerdict, Scenario, Step};
use crate::contract::Policy;
use crate::contract::{ChangeKind, ChangeTarget, ConfigDiff, DisableDecision, Transport, Verdict};
use crate::contract::{Failure, FailureCounters};

/// What the simulator remembers about one server between steps.
struct ServerState {
    counters: FailureCounters,
    /// Connected (the last attempt became Ready and has not failed since).
    ready: bool,
    /// Auto-disabled by the policy: the daemon makes no attempts until a reload re-enables it.
    disabled: bool,
}

impl ServerState {
    /// `server`'s state, fresh (no failures, not connected) on first mention.
    fn of<'a>(
        servers: &'a mut BTreeMap<String, ServerState>,
        server: &str,
        window: Duration,
    ) -> &'a mut ServerState {
        servers
            .entry(server.to_string())
            .or_insert_with(|| ServerState {
                counters: FailureCounters::new(window),
                ready: false,
                disabled: false,
            })
    }
}

/// Runs every step of `scenario` through `policy` and checks the expectations.
pub fn run(policy: &dyn Policy, scenario: &Scenario) -> Report {
    let base = Instant::now();
    let mut servers: BTreeMap<String, ServerState> = BTreeMap::new();
    let mut report = Report::default();
    for (index, step) in scenario.steps.iter().enumerate() {
        let now = base + step.at;
        match &step.action {
            Action::Failure {
                server,
                transport,
                kind,
                exit_code,
                http_status,
                detail,
            } => {
                let state = ServerState::of(&mut servers, server, scenario.window);
                let failure = Failure {
                    kind: *kind,
                    detail: detail.clone(),
                    exit_code: *exit_code,
                    http_status: *http_status,
                };
                let attempt = Attempt {
                    server,
                    transport: *transport,
                    failure: &failure,
                    now,
                    seed: event_seed(scenario.seed, index),
                };
                report.rows.push(failure_row(policy, step, state, attempt));
            }
            Action::Ready { server } => {
                let state = ServerState::of(&mut servers, server, scenario.window);
                report.rows.push(ready_row(step, server, state, now));
            }
            Action::Reload(diff) => {
                report
                    .rows
                    .extend(reload_rows(policy, step, diff, &mut servers));
            }
        }
    }
    report
}

/// Each event's seed: a splitmix64 mix of the scenario seed and the step's index, kept below
/// 2^53 so JavaScript policies read it exactly. Same scenario, same seeds, same answers.
pub fn event_seed(scenario_seed: u64, index: usize) -> u64 {
    let mut z = scenario_seed.wrapping_add(
        (index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & ((1 << 53) - 1)
}

/// One failed attempt, as the supervisor sees it before counting it.
struct Attempt<'a> {
    server: &'a str,
    transport: Transport,
    failure: &'a Failure,
    now: Instant,
    seed: u64,
}

fn failure_row(policy: &dyn Policy, step: &Step, state: &mut ServerState, a: Attempt<'_>) -> Row {
    let Attempt {
        server,
        transport,
        failure,
        now,
        seed,
    } = a;
    let event = event_name(failure.kind, failure.exit_code, failure.http_status);
    let mut row = Row::blank(step.at, server, event);
    if state.disabled {
        row.reason = "server is auto-disabled: the daemon makes no attempt".into();
        if step.expect.is_some() {
            row.mismatches
                .push("a decision, but the server was already auto-disabled".into());
        }
        return row;
    }
    // A Ready server that crashes or stops answering pings fails on its current connection;
    // any other failure is the outcome of a new connection attempt.
    if !state.ready {
        state.counters.begin_attempt();
    }
    state.ready = false;
    let event = state.counters.fail(now, server, transport, failure, seed);
    row.attempt = Some(event.attempt);
    row.consecutive = Some(event.consecutive_failures);
    let (disable, reason, backoff) = match policy.should_disable(&event) {
        DisableDecision::Disable { reason } => {
            state.disabled = true;
            (true, reason, None)
        }
        DisableDecision::Keep => (false, String::new(), Some(policy.backoff(&event))),
    };
    row.decision = if disable { "DISABLE" } else { "keep" }.into();
    row.backoff = backoff;
    row.reason = reason;
    if let Some(expect) = &step.expect {
        row.mismatches = check_failure(expect, disable, &row.reason, backoff);
    }
    row
}

fn event_name(
    kind: crate::contract::FailureKind,
    exit: Option<i32>,
    status: Option<u16>,
) -> String {
    let name = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| kind.to_string());
    match (exit, status) {
        (Some(code), _) => format!("{name} (exit {code})"),
        (None, Some(s)) => format!("{name} (HTTP {s})"),
        (None, None) => name,
    }
}

/// The mismatches between a failure decision and its expectation.
fn check_failure(
    expect: &Expect,
    disable: bool,
    reason: &str,
    backoff: Option<Duration>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(want) = expect.disable
        && want != disable
    {
        out.push(format!("disable: {want}"));
    }
    if let Some(part) = &expect.reason_contains
        && !reason.contains(part.as_str())
    {
        out.push(format!("a reason containing {part:?}"));
    }
    if let Some(range) = expect.backoff_ms {
        match backoff {
            Some(b) if range.contains(u64::try_from(b.as_millis()).unwrap_or(u64::MAX)) => {}
            Some(_) => out.push(format!("backoff within {range}")),
            None => out.push(format!(
                "backoff within {range}, but the server was disabled"
            )),
        }
    }
    if expect.verdicts.is_some() {
        out.push("verdicts, but this step is a failure (no reload)".into());
    }
    out
}

fn ready_row(step: &Step, server: &str, state: &mut ServerState, now: Instant) -> Row {
    let mut row = Row::blank(step.at, server, "ready");
    if state.disabled {
        row.reason = "server is auto-disabled: it cannot become ready".into();
    } else {
        if !state.ready {
            row.attempt = Some(state.counters.begin_attempt());
        }
        state.counters.ready(now);
        state.ready = true;
        row.consecutive = Some(state.counters.consecutive_failures);
    }
    if step.expect.is_some() {
        row.mismatches
            .push("nothing: a ready step has no decision to check".into());
    }
    row
}

fn reload_rows(
    policy: &dyn Policy,
    step: &Step,
    diff: &ConfigDiff,
    servers: &mut BTreeMap<String, ServerState>,
) -> Vec<Row> {
    let verdicts = policy.filter_reload(diff);
    let mut rows: Vec<Row> = diff
        .changes
        .iter()
        .zip(&verdicts)
        .map(|(change, verdict)| {
            let target = match &change.target {
                ChangeTarget::Server(s) => s.clone(),
                ChangeTarget::Global(k) => format!("global:{k}"),
            };
            let kind = match change.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Modified => "modified",
            };
            let event = if change.fields.is_empty() {
                format!("reload {kind}")
            } else {
                format!("reload {kind} [{}]", change.fields.join(", "))
            };
            let (decision, reason) = match verdict {
                Verdict::Apply => ("apply", String::new()),
                Verdict::Ignore { reason } => ("ignore", reason.clone()),
            };
            // An applied change restarts (or removes) the server: fresh counters, enabled again.
            if let (Verdict::Apply, ChangeTarget::Server(name)) = (verdict, &change.target) {
                servers.remove(name);
            }
            Row {
                decision: decision.into(),
                reason,
                ..Row::blank(step.at, target, event)
            }
        })
        .collect();
    let Some(expect) = &step.expect else {
        return rows;
    };
    let mut problems = Vec::new();
    if expect.disable.is_some() || expect.reason_contains.is_some() || expect.backoff_ms.is_some() {
        problems.push("a failure decision, but this step is a reload".to_string());
    }
    if let Some(want) = &expect.verdicts {
        let got: Vec<ExpectVerdict> = verdicts
            .iter()
            .map(|v| match v {
                Verdict::Apply => ExpectVerdict::Apply,
                Verdict::Ignore { .. } => ExpectVerdict::Ignore,
            })
            .collect();
        if *want != got {
            let names: Vec<&str> = want
                .iter()
                .map(|v| match v {
                    ExpectVerdict::Apply => "apply",
                    ExpectVerdict::Ignore => "ignore",
                })
                .collect();
            problems.push(format!("verdicts [{}]", names.join(", ")));
        }
    }
    match rows.first_mut() {
        Some(first) => first.mismatches = problems,
        None if !problems.is_empty() => rows.push(Row {
            mismatches: problems,
            ..Row::blank(step.at, "-", "reload (no changes)")
        }),
        None => {}
    }
    rows
}
