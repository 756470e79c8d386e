//! The embedded default policy's decisions on a table of events and diffs, through the real
//! component (`policies/default.wasm`) in `PolicyHost`.

use std::time::Duration;

use mcpproxy::contract::{Change, ChangeKind, ChangeTarget, ConfigDiff, FailureKind};
use mcpproxy::contract::{DisableDecision, FailureEvent, Limits, Policy, Transport, Verdict};
use mcpproxy::policy::{PolicyHost, PolicyOptions};
use serde_json::json;

fn event(kind: FailureKind, detail: &str, consecutive: u32) -> FailureEvent {
    FailureEvent {
        server: "srv".into(),
        transport: Transport::Stdio,
        kind,
        detail: detail.into(),
        exit_code: None,
        http_status: None,
        attempt: consecutive,
        consecutive_failures: consecutive,
        failures_in_window: consecutive,
        window: Duration::from_secs(600),
        since_first_failure: Duration::ZERO,
        ready_for: None,
        seed: 42,
    }
}

/// A deadline generous enough that a busy CI machine never times out a decision.
fn options() -> PolicyOptions {
    PolicyOptions {
        limits: Limits {
            deadline: Duration::from_millis(250),
            ..Limits::DEFAULT
        },
        ..PolicyOptions::default()
    }
}

fn host() -> std::sync::Arc<PolicyHost> {
    PolicyHost::start(options()).unwrap()
}

/// `None`: keep; `Some(fragment)`: disable with a reason containing `fragment`.
fn check_disable(p: &PolicyHost, name: &str, e: &FailureEvent, want: Option<&str>) {
    match (p.should_disable(e), want) {
        (DisableDecision::Keep, None) => {}
        (DisableDecision::Disable { reason }, Some(fragment)) => {
            assert!(
                reason.contains(fragment),
                "{name}: reason {reason:?} lacks {fragment:?}"
            )
        }
        (got, want) => panic!("{name}: got {got:?}, wanted {want:?}"),
    }
}

#[test]
fn disable_decisions() {
    let p = host();
    let enoent = "No such file or directory (os error 2)";
    let http = |status: u16, n: u32| FailureEvent {
        http_status: Some(status),
        transport: Transport::StreamableHttp,
        ..event(FailureKind::HttpStatus, "", n)
    };
    let table: Vec<(&str, FailureEvent, Option<&str>)> = vec![
        (
            "spawn error, first try",
            event(FailureKind::SpawnError, enoent, 1),
            None,
        ),
        (
            "spawn error, 3rd",
            event(FailureKind::SpawnError, enoent, 3),
            Some("the command was not found (3 times in a row): No such file"),
        ),
        (
            "permission denied",
            event(
                FailureKind::SpawnError,
                "Permission denied (os error 13)",
                3,
            ),
            Some("permission denied"),
        ),
        (
            "exits before handshake",
            FailureEvent {
                exit_code: Some(1),
                ..event(FailureKind::ExitedBeforeHandshake, "missing key", 3)
            },
            Some("exited with code 1 before the MCP handshake"),
        ),
        (
            "garbage output",
            event(FailureKind::ProtocolError, "expected JSON", 3),
            Some("does not speak MCP"),
        ),
        (
            "garbage output, 2nd",
            event(FailureKind::ProtocolError, "expected JSON", 2),
            None,
        ),
        ("HTTP 401", http(401, 3), Some("HTTP 401")),
        ("HTTP 503 is transient", http(503, 3), None),
        ("HTTP 429 is transient", http(429, 3), None),
        (
            "init timeout 5",
            event(FailureKind::InitTimeout, "", 5),
            None,
        ),
        (
            "init timeout 6",
            event(FailureKind::InitTimeout, "", 6),
            Some("failed 6 times in a row, last: timed out during start-up"),
        ),
        (
            "refused 6",
            event(FailureKind::Refused, "connection refused", 6),
            Some("connection refused"),
        ),
        (
            "flapping",
            FailureEvent {
                failures_in_window: 12,
                ready_for: Some(Duration::from_secs(30)),
                ..event(FailureKind::CrashedAfterReady, "", 1)
            },
            Some("failed 12 times within 10 minutes"),
        ),
        (
            "long Ready: fresh budget",
            FailureEvent {
                failures_in_window: 12,
                ready_for: Some(Duration::from_secs(7200)),
                ..event(FailureKind::CrashedAfterReady, "", 7)
            },
            None,
        ),
    ];
    for (name, e, want) in &table {
        check_disable(&p, name, e, *want);
    }
    let status = p.status();
    assert_eq!(status.source, "embedded");
    assert_eq!(status.decisions["should-disable"]["ok"], table.len() as u64);
    assert_eq!(status.fallbacks, 0);
}

#[test]
fn long_details_are_cut() {
    let p = host();
    let long = "x".repeat(5000);
    let DisableDecision::Disable { reason } =
        p.should_disable(&event(FailureKind::ProtocolError, &long, 3))
    else {
        panic!("not disabled");
    };
    assert!(reason.len() < 400, "{} bytes", reason.len());
    assert!(reason.ends_with('…'));
    // Larger than the guest's 64 KiB arena: its allocator has to grow memory.
    let huge = "é".repeat(150_000);
    let DisableDecision::Disable { reason } =
        p.should_disable(&event(FailureKind::ProtocolError, &huge, 3))
    else {
        panic!("not disabled");
    };
    assert!(reason.contains("éé") && reason.len() < 400, "{reason}");
    assert_eq!(p.status().fallbacks, 0);
}

#[test]
fn backoff_is_exponential_with_full_jitter_between_1s_and_5min() {
    let p = host();
    let ms = |n: u32, seed: u64| {
        p.backoff(&FailureEvent {
            seed,
            ..event(FailureKind::InitTimeout, "", n)
        })
        .as_millis() as u64
    };
    for seed in 0..50 {
        for (n, cap) in [
            (1, 2_000),
            (2, 4_000),
            (3, 8_000),
            (5, 32_000),
            (8, 256_000),
            (9, 300_000),
            (40, 300_000),
        ] {
            let d = ms(n, seed);
            assert!(
                (1000..=cap).contains(&d),
                "failure {n}, seed {seed}: {d} ms"
            );
        }
    }
    // Servers failing together do not retry together, not even the first time.
    let first: std::collections::BTreeSet<u64> = (0..50).map(|s| ms(1, s)).collect();
    assert!(
        first.len() > 40,
        "only {} distinct first delays",
        first.len()
    );
    // Same event, same answer; different seeds spread.
    assert_eq!(ms(12, 99), ms(12, 99));
    let distinct: std::collections::BTreeSet<u64> = (0..50).map(|s| ms(12, s)).collect();
    assert!(
        distinct.len() > 40,
        "only {} distinct delays",
        distinct.len()
    );
    // A long Ready run starts over.
    let fresh = FailureEvent {
        ready_for: Some(Duration::from_secs(3600)),
        ..event(FailureKind::CrashedAfterReady, "", 9)
    };
    let d = p.backoff(&fresh);
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&d),
        "{d:?}"
    );
}

fn server(name: &str, kind: ChangeKind, fields: &[&str]) -> Change {
    Change {
        target: ChangeTarget::Server(name.into()),
        kind,
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

fn global(key: &str) -> Change {
    Change {
        target: ChangeTarget::Global(key.into()),
        kind: ChangeKind::Modified,
        fields: vec![],
    }
}

#[test]
fn reload_filter() {
    let p = host();
    let table: Vec<(Change, bool)> = vec![
        (server("a", ChangeKind::Added, &[]), true),
        (server("b", ChangeKind::Removed, &[]), true),
        (server("c", ChangeKind::Modified, &["args"]), true),
        (server("d", ChangeKind::Modified, &["description"]), false),
        (
            server("e", ChangeKind::Modified, &["auto_disable_reason"]),
            false,
        ),
        (
            server("f", ChangeKind::Modified, &["x-team", "notes"]),
            false,
        ),
        (
            server(
                "g",
                ChangeKind::Modified,
                &["auto_disabled", "auto_disable_reason"],
            ),
            true,
        ),
        (
            server("h", ChangeKind::Modified, &["description", "env"]),
            true,
        ),
        (server("i", ChangeKind::Modified, &["enabled"]), true),
        (server("j", ChangeKind::Modified, &[]), true),
        (server("k", ChangeKind::Modified, &["disabled_tools"]), true),
        (server("l", ChangeKind::Modified, &["enabled_tools"]), true),
        (global("call_tool_timeout"), true),
        (global("policy"), true),
        (global("generation"), false),
    ];
    let diff = ConfigDiff {
        changes: table.iter().map(|(c, _)| c.clone()).collect(),
        disk_generation: Some(3),
        stamped_generation: Some(2),
    };
    let verdicts = p.filter_reload(&diff);
    assert_eq!(verdicts.len(), table.len());
    for ((change, apply), verdict) in table.iter().zip(&verdicts) {
        match verdict {
            Verdict::Apply => assert!(apply, "{change:?} applied"),
            Verdict::Ignore { reason } => {
                assert!(!apply, "{change:?} ignored: {reason}");
                assert!(!reason.is_empty());
            }
        }
    }
    assert!(p.filter_reload(&ConfigDiff::default()).is_empty());
}

#[test]
fn settings_change_thresholds() {
    let p = PolicyHost::start(PolicyOptions {
        settings: json!({"max_consecutive_failures": 2, "backoff_base_ms": 500, "backoff_max_ms": 500}),
        ..options()
    })
    .unwrap();
    assert!(p.status().last_error.is_none());
    check_disable(
        &p,
        "timeout 2",
        &event(FailureKind::InitTimeout, "", 2),
        Some("2 times in a row"),
    );
    assert_eq!(
        p.backoff(&event(FailureKind::InitTimeout, "", 9)),
        Duration::from_millis(500)
    );
}

/// The window limit and the fresh budget come from the settings too.
#[test]
fn settings_change_the_window_and_the_fresh_budget() {
    let p = PolicyHost::start(PolicyOptions {
        settings: json!({"max_failures_in_window": 4, "fresh_budget_after_ready_ms": 5000}),
        ..options()
    })
    .unwrap();
    assert!(p.status().last_error.is_none());
    // Not 4 in a row, but 4 within the window: disabled (the default allows 12).
    let flapping = FailureEvent {
        failures_in_window: 4,
        ..event(FailureKind::CrashedAfterReady, "", 1)
    };
    check_disable(&p, "flapping", &flapping, Some("4 times within 10 minutes"));
    // Ready for 6 s (the default asks 10 min) before the 9th failure: a fresh start.
    let recovered = FailureEvent {
        ready_for: Some(Duration::from_secs(6)),
        ..event(FailureKind::CrashedAfterReady, "", 9)
    };
    check_disable(&p, "ready 6 s", &recovered, None);
    let d = p.backoff(&recovered);
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&d),
        "{d:?}"
    );
    // Ready for 4 s only: the 9 failures count (6 in a row disable by default).
    let brief = FailureEvent {
        ready_for: Some(Duration::from_secs(4)),
        ..recovered
    };
    check_disable(&p, "ready 4 s", &brief, Some("9 times in a row"));
}

#[test]
fn bad_settings_are_rejected_with_the_key() {
    let p = host();
    let table = [
        (json!({"max_failures": 3}), "unknown setting `max_failures`"),
        (
            json!({"backoff_base_ms": "1s"}),
            "setting `backoff_base_ms`",
        ),
        (json!({"backoff_base_ms": 1.5}), "non-negative integer"),
        (json!({"backoff_max_ms": 100000000}), "24 h"),
        (json!([1, 2]), "JSON object"),
    ];
    for (settings, fragment) in table {
        let err = p.replace(None, settings.clone()).unwrap_err().to_string();
        assert!(err.contains(fragment), "{settings}: {err}");
        assert!(err.contains("embedded"), "{err}");
    }
    // The running policy is untouched and the error is reported.
    let d = p.backoff(&event(FailureKind::Refused, "", 1));
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&d),
        "{d:?}"
    );
    assert!(p.status().last_error.unwrap().contains("JSON object"));
}
