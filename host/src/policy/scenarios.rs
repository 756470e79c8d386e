//! Built-in scenarios: the events, diffs and tool reviews a new policy is smoke-tested on before it
//! replaces the running one, and that `mcpproxy policy check` prints decisions for.

use std::time::Duration;

use crate::contract::{
    Change, ChangeKind, ChangeTarget, ConfigDiff, FailureEvent, FailureKind, ToolChange,
    ToolReview, Transport,
};

/// A named failure event.
pub struct EventScenario {
    pub name: &'static str,
    pub event: FailureEvent,
}

fn event(kind: FailureKind, detail: &str, consecutive: u32) -> FailureEvent {
    FailureEvent {
        server: "example".into(),
        transport: Transport::Stdio,
        kind,
        detail: detail.into(),
        exit_code: None,
        http_status: None,
        attempt: consecutive,
        consecutive_failures: consecutive,
        failures_in_window: consecutive,
        window: Duration::from_secs(600),
        since_first_failure: Duration::from_secs(u64::from(consecutive.saturating_sub(1)) * 5),
        ready_for: None,
        seed: 0x5eed_0000 + u64::from(consecutive),
    }
}

pub fn events() -> Vec<EventScenario> {
    vec![
        EventScenario {
            name: "command not found, first attempt",
            event: event(
                FailureKind::SpawnError,
                "No such file or directory (os error 2)",
                1,
            ),
        },
        EventScenario {
            name: "command not found, 3rd attempt in a row",
            event: event(
                FailureKind::SpawnError,
                "No such file or directory (os error 2)",
                3,
            ),
        },
        EventScenario {
            name: "exited before handshake (code 1), 3rd attempt",
            event: FailureEvent {
                exit_code: Some(1),
                ..event(
                    FailureKind::ExitedBeforeHandshake,
                    "Error: missing API key",
                    3,
                )
            },
        },
        EventScenario {
            name: "init timeout, 2nd attempt",
            event: event(FailureKind::InitTimeout, "no handshake within 30s", 2),
        },
        EventScenario {
            name: "connection refused, 10th attempt",
            event: FailureEvent {
                transport: Transport::StreamableHttp,
                ..event(FailureKind::Refused, "connection refused", 10)
            },
        },
        EventScenario {
            name: "crashed after 2 h Ready",
            event: FailureEvent {
                ready_for: Some(Duration::from_secs(7200)),
                ..event(FailureKind::CrashedAfterReady, "exit signal 9", 1)
            },
        },
    ]
}

/// A named reload diff.
pub struct DiffScenario {
    pub name: &'static str,
    pub diff: ConfigDiff,
}

fn modified(server: &str, fields: &[&str]) -> Change {
    Change {
        target: ChangeTarget::Server(server.into()),
        kind: ChangeKind::Modified,
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

pub fn diffs() -> Vec<DiffScenario> {
    vec![
        DiffScenario {
            name: "a typical edit",
            diff: ConfigDiff {
                changes: vec![
                    Change {
                        target: ChangeTarget::Server("new".into()),
                        kind: ChangeKind::Added,
                        fields: vec![],
                    },
                    modified("docs", &["description"]),
                    modified("git", &["args"]),
                    modified("broken", &["auto_disabled", "auto_disable_reason"]),
                    Change {
                        target: ChangeTarget::Global("call_tool_timeout".into()),
                        kind: ChangeKind::Modified,
                        fields: vec![],
                    },
                ],
                disk_generation: Some(7),
                stamped_generation: Some(7),
            },
        },
        DiffScenario {
            name: "no changes",
            diff: ConfigDiff::default(),
        },
    ]
}

/// A named tool review.
pub struct ReviewScenario {
    pub name: &'static str,
    pub review: ToolReview,
}

fn tool(name: &str, approved: Option<&str>, current: &str, changed: &[&str]) -> ToolChange {
    ToolChange {
        name: name.into(),
        approved_hash: approved.map(str::to_string),
        current_hash: current.into(),
        changed_fields: changed.iter().map(|f| f.to_string()).collect(),
    }
}

pub fn reviews() -> Vec<ReviewScenario> {
    vec![
        ReviewScenario {
            name: "a description changed after approval",
            review: ToolReview {
                server: "example".into(),
                tools: vec![
                    tool("search", Some("aa"), "aa", &[]),
                    tool("fetch", Some("bb"), "cc", &["description"]),
                ],
                removed: vec![],
            },
        },
        ReviewScenario {
            name: "a new tool, one removed",
            review: ToolReview {
                server: "example".into(),
                tools: vec![
                    tool("search", Some("aa"), "aa", &[]),
                    tool("delete_all", None, "dd", &[]),
                ],
                removed: vec!["fetch".into()],
            },
        },
    ]
}
