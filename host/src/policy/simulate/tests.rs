//! The simulator against a scripted policy: the counters it hands over, the state it keeps
//! between steps, and how expectations are checked.

use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::contract::Policy;
use crate::contract::{ConfigDiff, DisableDecision, FailureEvent, Verdict};

/// Disables at 3 in a row; backs off `consecutive` seconds; ignores changes of `description`
/// only. Remembers every event it saw.
#[derive(Default)]
struct Scripted {
    seen: Mutex<Vec<FailureEvent>>,
}

impl Policy for Scripted {
    fn should_disable(&self, e: &FailureEvent) -> DisableDecision {
        self.seen.lock().unwrap().push(e.clone());
        if e.consecutive_failures >= 3 {
            DisableDecision::Disable {
                reason: format!("{} failures", e.consecutive_failures),
            }
        } else {
            DisableDecision::Keep
        }
    }
    fn backoff(&self, e: &FailureEvent) -> Duration {
        Duration::from_secs(e.consecutive_failures.into())
    }
    fn review_tools(&self, r: &crate::contract::ToolReview) -> crate::contract::ReviewDecision {
        let expose = crate::contract::ToolVerdict::Expose;
        crate::contract::ReviewDecision::PerTool(vec![expose; r.tools.len()])
    }
    fn filter_reload(&self, d: &ConfigDiff) -> Vec<Verdict> {
        d.changes
            .iter()
            .map(|c| {
                if c.fields == ["description"] {
                    Verdict::Ignore {
                        reason: "metadata".into(),
                    }
                } else {
                    Verdict::Apply
                }
            })
            .collect()
    }
}

fn scenario(steps: &str) -> Scenario {
    Scenario::from_json(
        "t.json",
        &format!(r#"{{"window": "60s", "seed": 1, "steps": [{steps}]}}"#),
    )
    .unwrap()
}

#[test]
fn rows_carry_the_daemons_counters_and_decisions() {
    let s = scenario(
        r#"{"at": "0s", "server": "A", "kind": "init_timeout"},
           {"at": "31s", "server": "A", "kind": "init_timeout"},
           {"at": "40s", "server": "A", "ready": true},
           {"at": "50s", "server": "A", "kind": "crashed_after_ready"},
           {"at": "93s", "server": "A", "kind": "refused"},
           {"at": "94s", "server": "B", "kind": "spawn_error", "detail": "not found"},
           {"at": "95s", "server": "A", "kind": "refused"},
           {"at": "96s", "server": "A", "kind": "refused"},
           {"at": "97s", "server": "A", "kind": "refused"}"#,
    );
    let p = Scripted::default();
    let r = run(&p, &s);
    // (attempt, consecutive, decision, backoff seconds)
    type Want = (Option<u32>, Option<u32>, &'static str, Option<u64>);
    let want: [Want; 9] = [
        (Some(1), Some(1), "keep", Some(1)),
        (Some(2), Some(2), "keep", Some(2)),
        (Some(3), Some(0), "-", None),
        // crash of the Ready connection: no new attempt
        (Some(3), Some(1), "keep", Some(1)),
        (Some(4), Some(2), "keep", Some(2)),
        (Some(1), Some(1), "keep", Some(1)),
        (Some(5), Some(3), "DISABLE", None),
        // disabled: the daemon makes no attempt, the policy is not asked
        (None, None, "-", None),
        (None, None, "-", None),
    ];
    assert_eq!(r.rows.len(), want.len());
    for (i, (row, (attempt, consecutive, decision, backoff))) in r.rows.iter().zip(want).enumerate()
    {
        assert_eq!(row.attempt, attempt, "attempt of row {i}");
        assert_eq!(row.consecutive, consecutive, "consecutive of row {i}");
        assert_eq!(row.decision, decision, "decision of row {i}");
        assert_eq!(
            row.backoff,
            backoff.map(Duration::from_secs),
            "backoff of row {i}"
        );
    }
    let seen = p.seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        6,
        "the policy is not asked about a disabled server"
    );
    // the window is 60 s: at 93 s only the failures at 50 and 93 count
    assert_eq!(seen[3].failures_in_window, 2);
    assert_eq!(seen[2].ready_for, Some(Duration::from_secs(10)));
    assert_eq!(seen[1].since_first_failure, Duration::from_secs(31));
    assert_eq!(seen[0].seed, event_seed(1, 0));
    assert!(!r.failed());
}

#[test]
fn seeds_are_deterministic_distinct_and_js_safe() {
    let a: Vec<u64> = (0..100).map(|i| event_seed(42, i)).collect();
    let b: Vec<u64> = (0..100).map(|i| event_seed(42, i)).collect();
    assert_eq!(a, b);
    assert!(a.iter().all(|s| *s < (1 << 53)));
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 100);
    assert_ne!(event_seed(42, 0), event_seed(43, 0));
}

#[test]
fn an_applied_reload_gives_the_server_a_fresh_start() {
    let s = scenario(
        r#"{"at": "0s", "server": "A", "kind": "refused"},
           {"at": "1s", "server": "A", "kind": "refused"},
           {"at": "2s", "server": "A", "kind": "refused"},
           {"at": "3s", "reload": {"changes": [{"server": "A", "kind": "modified", "fields": ["description"]}]},
            "expect": {"verdicts": ["ignore"]}},
           {"at": "4s", "server": "A", "kind": "refused"},
           {"at": "5s", "reload": {"changes": [{"server": "A", "kind": "modified", "fields": ["env"]}]},
            "expect": {"verdicts": ["apply"]}},
           {"at": "6s", "server": "A", "kind": "refused", "expect": {"disable": false}}"#,
    );
    let r = run(&Scripted::default(), &s);
    let decisions: Vec<&str> = r.rows.iter().map(|r| r.decision.as_str()).collect();
    assert_eq!(
        decisions,
        ["keep", "keep", "DISABLE", "ignore", "-", "apply", "keep"]
    );
    assert_eq!(r.rows[3].reason, "metadata");
    assert_eq!(r.rows[6].attempt, Some(1));
    assert!(!r.failed(), "{r}");
}

#[test]
fn each_kind_of_expectation_can_fail() {
    // (step with expectation, text the marked row must carry)
    let cases = [
        (
            r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"disable": true}}"#,
            "disable: true",
        ),
        (
            r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"backoff_ms": {"min": 2000}}}"#,
            "backoff within 2000..= ms",
        ),
        (
            r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"backoff_ms": {"max": 999}}}"#,
            "backoff within ..=999 ms",
        ),
        (
            r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"reason_contains": "x"}}"#,
            "reason containing",
        ),
        (
            r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"verdicts": ["apply"]}}"#,
            "verdicts",
        ),
        (
            r#"{"at": "0s", "reload": {"changes": [{"server": "A", "kind": "added"}]}, "expect": {"verdicts": ["ignore"]}}"#,
            "verdicts [ignore]",
        ),
        (
            r#"{"at": "0s", "reload": {"changes": [{"server": "A", "kind": "added"}]}, "expect": {"disable": true}}"#,
            "this step is a reload",
        ),
        (
            r#"{"at": "0s", "server": "A", "ready": true, "expect": {"disable": false}}"#,
            "no decision",
        ),
    ];
    for (step, want) in cases {
        let r = run(&Scripted::default(), &scenario(step));
        assert!(r.failed(), "{step} should fail");
        let text = r.to_string();
        assert!(text.contains('✗') && text.contains(want), "{step}: {text}");
    }
    // and the same steps pass when the expectation matches
    let ok = scenario(
        r#"{"at": "0s", "server": "A", "kind": "refused",
            "expect": {"disable": false, "backoff_ms": {"min": 1000, "max": 1000}}},
           {"at": "1s", "server": "A", "kind": "refused"},
           {"at": "2s", "server": "A", "kind": "refused", "expect": {"disable": true, "reason_contains": "3 failures"}}"#,
    );
    let r = run(&Scripted::default(), &ok);
    assert!(!r.failed(), "{r}");
}
