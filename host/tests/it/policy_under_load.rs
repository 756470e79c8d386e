//! Decisions on an oversubscribed machine: many more busy threads than cores, so decisions
//! are preempted mid-call for longer than their whole deadline. The deadline counts the CPU
//! time a decision uses, so none of them times out and falls back. (On a machine with more
//! cores than threads nothing is preempted and this passes trivially; CI has two.)
//!
//! Other tests running beside it only add to the load, which is the point.

use std::time::Duration;

use mcpproxy::contract::FailureKind;
use mcpproxy::contract::{FailureEvent, Limits, Policy, Transport};
use mcpproxy::policy::{PolicyHost, PolicyOptions};

#[test]
fn preempted_decisions_do_not_time_out() {
    let host = PolicyHost::start(PolicyOptions {
        limits: Limits {
            deadline: Duration::from_millis(5),
            ..Limits::DEFAULT
        },
        ..PolicyOptions::default()
    })
    .unwrap();
    let threads = 4 * std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(4);
    let event = FailureEvent {
        server: "srv".into(),
        transport: Transport::Stdio,
        kind: FailureKind::InitTimeout,
        detail: "no handshake within 30s".into(),
        exit_code: None,
        http_status: None,
        attempt: 2,
        consecutive_failures: 2,
        failures_in_window: 2,
        window: Duration::from_secs(600),
        since_first_failure: Duration::from_secs(30),
        ready_for: None,
        seed: 7,
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..150 {
                    host.backoff(&event);
                }
            });
        }
    });
    let status = host.status();
    assert_eq!(
        status.decisions["backoff"].get("ok").copied(),
        Some(150 * threads as u64),
        "{:?}, last error: {:?}",
        status.decisions,
        status.last_error
    );
    assert_eq!(status.fallbacks, 0);
}
