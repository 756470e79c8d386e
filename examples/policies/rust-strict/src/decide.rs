//! The strict policy's decisions as pure functions of settings and event.

use crate::exports::mcpproxy::policy::decisions::{
    ConfigDiff, DisableDecision, FailureEvent, ReviewDecision, ToolReview, Verdict,
};
use crate::mcpproxy::policy::types::FailureKind;
use crate::settings::Settings;

/// Failures that will not go away by retrying: reported at once.
fn deterministic_reason(event: &FailureEvent) -> Option<String> {
    let what = match event.kind {
        FailureKind::SpawnError => "could not be started".to_string(),
        FailureKind::ExitedBeforeHandshake => match event.exit_code {
            Some(code) => format!("exited with code {code} before the MCP handshake"),
            None => "exited before the MCP handshake".to_string(),
        },
        FailureKind::ProtocolError => "does not speak MCP".to_string(),
        // 4xx means the request is wrong (URL, auth); 408 and 429 are worth a retry.
        FailureKind::HttpStatus => match event.http_status {
            Some(status) if (400..500).contains(&status) && status != 408 && status != 429 => {
                format!("answered HTTP {status}")
            }
            _ => return None,
        },
        FailureKind::InitTimeout
        | FailureKind::Refused
        | FailureKind::CrashedAfterReady
        | FailureKind::HealthCheck => return None,
    };
    Some(with_detail(
        format!("strict policy: server `{}` {what}", event.server),
        &event.detail,
    ))
}

fn with_detail(reason: String, detail: &str) -> String {
    let detail = detail.trim();
    if detail.is_empty() {
        reason
    } else {
        format!("{reason}: {detail}")
    }
}

/// Deterministic failures at once; anything else after `max_consecutive_failures` in a row.
pub fn should_disable(settings: &Settings, event: &FailureEvent) -> DisableDecision {
    if let Some(reason) = deterministic_reason(event) {
        return DisableDecision::Disable(reason);
    }
    if event.consecutive_failures >= settings.max_consecutive_failures {
        return DisableDecision::Disable(with_detail(
            format!(
                "strict policy: server `{}` failed {} times in a row (limit {})",
                event.server, event.consecutive_failures, settings.max_consecutive_failures
            ),
            &event.detail,
        ));
    }
    DisableDecision::Keep
}

/// Exponential steps from `backoff_base_ms`, capped at `backoff_cap_ms`, with equal jitter:
/// half the step is fixed, the other half comes from the seed (same seed, same answer).
pub fn backoff_ms(settings: &Settings, event: &FailureEvent) -> u64 {
    let doublings = event.consecutive_failures.saturating_sub(1).min(63);
    let step = settings
        .backoff_base_ms
        .saturating_mul(1u64 << doublings)
        .min(settings.backoff_cap_ms);
    let fixed = step / 2;
    let jitter_span = step - fixed;
    fixed + event.seed % (jitter_span + 1)
}

/// Strict applies every change: what the user wrote is what runs.
pub fn filter_reload(diff: &ConfigDiff) -> Vec<Verdict> {
    diff.changes.iter().map(|_| Verdict::Apply).collect()
}

/// Tool pinning, strictly: the host asks only when something differs from the approval, and
/// any difference (a new, changed or removed tool) quarantines the whole server, with a reason
/// naming what changed. Nothing is shown until a user approves the server again.
pub fn review_tools(review: &ToolReview) -> ReviewDecision {
    let mut what: Vec<String> = Vec::new();
    for tool in &review.tools {
        match &tool.approved_hash {
            None => what.push(format!("new tool `{}`", tool.name)),
            Some(hash) if *hash != tool.current_hash => {
                let fields = if tool.changed_fields.is_empty() {
                    "definition".to_string()
                } else {
                    tool.changed_fields.join(", ")
                };
                what.push(format!("`{}` changed ({fields})", tool.name));
            }
            Some(_) => {}
        }
    }
    what.extend(
        review
            .removed
            .iter()
            .map(|name| format!("`{name}` removed")),
    );
    if what.is_empty() {
        what.push("tools differ from the approval".to_string());
    }
    ReviewDecision::Quarantine(format!(
        "strict policy: server `{}` changed its tools since approval: {}; \
         approve with `mcpproxy upstream approve {}`",
        review.server,
        what.join(", "),
        review.server
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcpproxy::policy::types::ToolChange;
    use crate::mcpproxy::policy::types::{Change, ChangeKind, ChangeTarget, Transport};

    fn event(kind: FailureKind, consecutive: u32, seed: u64) -> FailureEvent {
        FailureEvent {
            server: "docs".into(),
            transport: Transport::Stdio,
            kind,
            detail: "boom".into(),
            exit_code: None,
            http_status: None,
            attempt: consecutive,
            consecutive_failures: consecutive,
            failures_in_window: consecutive,
            window_ms: 600_000,
            since_first_failure_ms: 0,
            ready_for_ms: None,
            seed,
        }
    }

    fn disabled(d: &DisableDecision) -> bool {
        matches!(d, DisableDecision::Disable(_))
    }

    #[test]
    fn disable_table() {
        let s = Settings::default();
        let http = |status| FailureEvent {
            http_status: Some(status),
            ..event(FailureKind::HttpStatus, 1, 0)
        };
        let cases = [
            (event(FailureKind::SpawnError, 1, 0), true),
            (event(FailureKind::ExitedBeforeHandshake, 1, 0), true),
            (event(FailureKind::ProtocolError, 1, 0), true),
            (http(401), true),
            (http(404), true),
            (http(429), false),
            (http(503), false),
            (event(FailureKind::InitTimeout, 1, 0), false),
            (event(FailureKind::InitTimeout, 2, 0), true),
            (event(FailureKind::Refused, 1, 0), false),
            (event(FailureKind::Refused, 2, 0), true),
            (event(FailureKind::CrashedAfterReady, 1, 0), false),
            (event(FailureKind::HealthCheck, 3, 0), true),
        ];
        for (e, want) in cases {
            assert_eq!(disabled(&should_disable(&s, &e)), want, "{e:?}");
        }
    }

    #[test]
    fn reasons_name_the_server_and_the_cause() {
        let s = Settings::default();
        let e = FailureEvent {
            exit_code: Some(3),
            ..event(FailureKind::ExitedBeforeHandshake, 1, 0)
        };
        let DisableDecision::Disable(reason) = should_disable(&s, &e) else {
            panic!("kept")
        };
        assert_eq!(
            reason,
            "strict policy: server `docs` exited with code 3 before the MCP handshake: boom"
        );
        let DisableDecision::Disable(reason) =
            should_disable(&s, &event(FailureKind::Refused, 2, 0))
        else {
            panic!("kept")
        };
        assert_eq!(
            reason,
            "strict policy: server `docs` failed 2 times in a row (limit 2): boom"
        );
    }

    #[test]
    fn backoff_doubles_within_equal_jitter_and_is_capped() {
        let s = Settings::default();
        // (consecutive failures, step): 250, 500, 1000, ... capped at 10 000.
        let steps = [
            (1, 250),
            (2, 500),
            (3, 1000),
            (6, 8000),
            (7, 10_000),
            (40, 10_000),
            (u32::MAX, 10_000),
        ];
        for (n, step) in steps {
            for seed in [0, 1, 7, 12_345, u64::MAX] {
                let b = backoff_ms(&s, &event(FailureKind::Refused, n, seed));
                assert!(
                    (step / 2..=step).contains(&b),
                    "n={n} seed={seed}: {b} not in {}..={step}",
                    step / 2
                );
            }
        }
        // Same seed, same answer; the seed moves the answer.
        let e = event(FailureKind::Refused, 5, 99);
        assert_eq!(backoff_ms(&s, &e), backoff_ms(&s, &e));
        assert_ne!(
            backoff_ms(&s, &event(FailureKind::Refused, 5, 0)),
            backoff_ms(&s, &event(FailureKind::Refused, 5, 1))
        );
    }

    #[test]
    fn every_change_is_applied() {
        let change = |name: &str| Change {
            target: ChangeTarget::Server(name.into()),
            kind: ChangeKind::Modified,
            fields: vec!["description".into()],
        };
        let diff = ConfigDiff {
            changes: vec![change("a"), change("b")],
            disk_generation: None,
            stamped_generation: None,
        };
        assert!(
            filter_reload(&diff)
                .iter()
                .all(|v| matches!(v, Verdict::Apply))
        );
        assert_eq!(filter_reload(&diff).len(), 2);
    }

    fn tool(name: &str, approved: Option<&str>, current: &str, fields: &[&str]) -> ToolChange {
        ToolChange {
            name: name.into(),
            approved_hash: approved.map(Into::into),
            current_hash: current.into(),
            changed_fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn any_tool_change_quarantines_the_server_and_says_what_changed() {
        let review = ToolReview {
            server: "docs".into(),
            tools: vec![
                tool("search", Some("a"), "a", &[]),
                tool("fetch", Some("b"), "c", &["description"]),
                tool("exec", None, "d", &[]),
            ],
            removed: vec!["old".into()],
        };
        let ReviewDecision::Quarantine(reason) = review_tools(&review) else {
            panic!("expected quarantine");
        };
        assert_eq!(
            reason,
            "strict policy: server `docs` changed its tools since approval: `fetch` changed \
             (description), new tool `exec`, `old` removed; approve with `mcpproxy upstream \
             approve docs`"
        );
    }
}
