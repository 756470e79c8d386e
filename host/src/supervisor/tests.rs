//! Behaviour of the actors and the registry with scripted connectors and policies, in
//! paused (virtual) tokio time: timers fire exactly, and hours pass in microseconds.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::testing::{Outcome, RecordingSink, ScriptedConnector, ScriptedPolicy, tool};
use super::*;
use crate::config::ServerConfig;
use crate::contract::{Failure, FailureKind};
use crate::status::{ConnectionState, ServerStatus};
use crate::upstream::CallError;

const INIT: Duration = Duration::from_secs(10);
const DRAIN: Duration = Duration::from_secs(5);
const HEALTH: Duration = Duration::from_secs(30);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn server(name: &str) -> ServerConfig {
    super::testing::stdio_server(name, "fixture")
}

struct Rig {
    reg: Registry,
    conn: Arc<ScriptedConnector>,
    policy: Arc<ScriptedPolicy>,
    sink: Arc<RecordingSink>,
}

fn rig(policy: ScriptedPolicy) -> Rig {
    let conn = Arc::new(ScriptedConnector::new());
    let policy = Arc::new(policy);
    let sink = Arc::new(RecordingSink::new());
    let reg = Registry::new(RegistryOptions {
        connector: conn.clone(),
        policy: policy.clone(),
        sink: sink.clone(),
        approvals: Arc::new(crate::approval::ApprovalStore::in_memory()),
        init_timeout: INIT,
        health_check_interval: HEALTH,
        call_tool_timeout: secs(120),
        failure_window: secs(300),
        drain_timeout: DRAIN,
    });
    Rig {
        reg,
        conn,
        policy,
        sink,
    }
}

/// Wait (on state-change events, one virtual day at most) until `name`'s status matches.
async fn wait_status(
    reg: &Registry,
    name: &str,
    pred: impl Fn(&ServerStatus) -> bool,
) -> ServerStatus {
    let mut changes = reg.state_changes();
    let found = tokio::time::timeout(secs(86_400), async {
        loop {
            changes.borrow_and_update();
            if let Some(s) = reg.status(name).filter(|s| pred(s)) {
                return s;
            }
            if changes.changed().await.is_err() {
                panic!("registry gone");
            }
        }
    })
    .await;
    match found {
        Ok(s) => s,
        Err(_) => panic!("{name} never reached the state; now {:?}", reg.status(name)),
    }
}

async fn wait_state(reg: &Registry, name: &str, state: ConnectionState) -> ServerStatus {
    wait_status(reg, name, |s| s.connection_state == state).await
}

/// Poll `cond` every virtual millisecond, for `within` (virtual) at most.
async fn poll_until(within: Duration, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn args(v: serde_json::Value) -> Option<rmcp::model::JsonObject> {
    v.as_object().cloned()
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

#[tokio::test(start_paused = true)]
async fn a_start_while_connecting_joins_the_attempt() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    r.conn
        .script("a", vec![Outcome::ReadyAfter(secs(3), vec![tool("echo")])]);
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Connecting).await;
    for _ in 0..5 {
        r.reg.apply(vec![PlanStep::Start(server("a"))]).await;
    }
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(r.conn.connects("a"), 1);
    assert_eq!(s.attempts, 1);
    assert_eq!(s.tool_count, 1);
    assert!(s.pid.is_some() && s.connected_at.is_some());
}

fn initial_plan_of(servers: &[ServerConfig]) -> Vec<PlanStep> {
    servers.iter().cloned().map(PlanStep::Start).collect()
}

#[tokio::test(start_paused = true)]
async fn the_backoff_schedule_is_obeyed() {
    // 2 s, 4 s, 8 s after attempts 1, 2, 3; attempt 4 succeeds.
    let r = rig(ScriptedPolicy::with_backoff(|e| secs(1 << e.attempt)));
    let refused = Failure::new(FailureKind::Refused, "connection refused");
    r.conn.script(
        "a",
        vec![
            Outcome::Fail(refused.clone()),
            Outcome::Fail(refused.clone()),
            Outcome::Fail(refused),
            Outcome::Ready(vec![tool("echo")]),
        ],
    );
    let t0 = Instant::now();
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    let sleeping = wait_state(&r.reg, "a", ConnectionState::Sleeping).await;
    assert!(sleeping.next_retry_at.is_some());
    assert_eq!(
        sleeping.last_error.as_deref(),
        Some("connection refused: connection refused")
    );
    let ready = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let elapsed = t0.elapsed();
    assert!(
        elapsed >= secs(14) && elapsed < secs(14) + Duration::from_millis(50),
        "{elapsed:?}"
    );
    assert_eq!(r.conn.connects("a"), 4);
    assert_eq!(ready.attempts, 4);
    assert_eq!(ready.consecutive_failures, 0);
    assert!(ready.next_retry_at.is_none());
    let events = r.policy.events();
    let seen: Vec<(u32, u32, u32)> = events
        .iter()
        .map(|e| (e.attempt, e.consecutive_failures, e.failures_in_window))
        .collect();
    assert_eq!(seen, vec![(1, 1, 1), (2, 2, 2), (3, 3, 3)]);
    assert_eq!(events[2].since_first_failure, secs(6));
    assert!(r.sink.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_server_retrying_after_a_failure_counts_as_settled_but_a_first_attempt_does_not() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    let refused = Failure::new(FailureKind::Refused, "connection refused");
    // "again" fails, then hangs in its retry; "first" hangs in its first attempt a while.
    r.conn
        .script("again", vec![Outcome::Fail(refused), Outcome::Hang]);
    r.conn.script(
        "first",
        vec![Outcome::ReadyAfter(secs(5), vec![tool("echo")])],
    );
    r.reg
        .apply(initial_plan_of(&[server("again"), server("first")]))
        .await;
    poll_until(secs(3), "the retry to start", || {
        r.conn.connects("again") == 2
    })
    .await;
    let again = r.reg.status("again").unwrap();
    assert_eq!(again.connection_state, ConnectionState::Connecting);
    assert!(again.phase().is_settled());
    assert_eq!(
        r.reg.status("first").unwrap().connection_state,
        ConnectionState::Connecting
    );
    assert!(!r.reg.settled(), "a first attempt under way is not settled");
    tokio::time::timeout(secs(10), r.reg.wait_settled())
        .await
        .expect("settled once the first attempt ended, the retry still hanging");
    assert_eq!(
        r.reg.status("again").unwrap().connection_state,
        ConnectionState::Connecting
    );
}

#[tokio::test(start_paused = true)]
async fn auto_disable_is_persisted_once_with_its_reason_and_never_retried() {
    let r = rig(ScriptedPolicy::fixed(secs(1)).disable_after(3));
    r.conn.script(
        "a",
        vec![Outcome::Fail(
            Failure::new(FailureKind::ExitedBeforeHandshake, "bad flag").with_exit_code(Some(2)),
        )],
    );
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    let s = wait_state(&r.reg, "a", ConnectionState::AutoDisabled).await;
    let reason = ScriptedPolicy::reason(3);
    assert!(s.auto_disabled);
    assert_eq!(s.auto_disable_reason.as_deref(), Some(reason.as_str()));
    assert_eq!(
        s.last_error.as_deref(),
        Some("exited before handshake (exit code 2): bad flag")
    );
    tokio::time::advance(secs(3600)).await;
    assert_eq!(r.sink.calls(), vec![("a".to_string(), reason)]);
    assert_eq!(r.conn.connects("a"), 3);
    // An in-place update from a config read before the save landed does not revive it.
    r.reg.apply(vec![PlanStep::Update(server("a"))]).await;
    tokio::time::advance(secs(3600)).await;
    assert_eq!(r.conn.connects("a"), 3);
    assert_eq!(
        r.reg.status("a").unwrap().connection_state,
        ConnectionState::AutoDisabled
    );
}

#[tokio::test(start_paused = true)]
async fn disabled_servers_are_never_started_until_enabled() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    let mut off = server("off");
    off.enabled = false;
    let mut auto = server("auto");
    auto.auto_disabled = true;
    auto.auto_disable_reason = Some("crash loop".into());
    r.reg
        .apply(initial_plan_of(&[off.clone(), auto.clone()]))
        .await;
    assert_eq!(
        r.reg.status("off").unwrap().connection_state,
        ConnectionState::Disabled
    );
    let a = r.reg.status("auto").unwrap();
    assert_eq!(a.connection_state, ConnectionState::AutoDisabled);
    assert_eq!(a.auto_disable_reason.as_deref(), Some("crash loop"));
    assert!(r.reg.settled());

    // Neither a restart, a start step, nor time starts them.
    assert!(matches!(
        r.reg.restart("off").await,
        Err(SupervisorError::NotStartable { .. })
    ));
    r.reg
        .apply(vec![
            PlanStep::Start(off.clone()),
            PlanStep::Start(auto.clone()),
        ])
        .await;
    tokio::time::advance(secs(3600)).await;
    assert_eq!(r.conn.connects("off") + r.conn.connects("auto"), 0);

    // Re-enabling clears the auto-disable and connects at once: the plan's Start of the
    // enabled config.
    let mut enabled = auto.clone();
    enabled.enable();
    r.reg.apply(vec![PlanStep::Start(enabled)]).await;
    let a = wait_state(&r.reg, "auto", ConnectionState::Ready).await;
    assert!(!a.auto_disabled && a.auto_disable_reason.is_none());
    assert_eq!(r.conn.connects("auto"), 1);
    assert_eq!(
        r.reg.restart("nope").await,
        Err(SupervisorError::UnknownServer("nope".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn clearing_auto_disabled_in_the_config_retries_at_once() {
    let r = rig(ScriptedPolicy::fixed(secs(600)).disable_after(1));
    r.conn.script(
        "a",
        vec![
            Outcome::Fail(Failure::new(FailureKind::SpawnError, "no such file")),
            Outcome::Ready(vec![tool("echo")]),
        ],
    );
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::AutoDisabled).await;
    let t0 = Instant::now();
    // The user's file had auto_disabled: true, and now clears it: the plan says Start.
    r.reg.apply(vec![PlanStep::Start(server("a"))]).await;
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert!(t0.elapsed() < Duration::from_millis(10));
    assert_eq!(s.attempts, 1, "counters start afresh");
    assert!(!s.auto_disabled);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_ready_goes_through_the_failure_path() {
    let r = rig(ScriptedPolicy::fixed(secs(2)));
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let first = r.conn.session("a").unwrap();
    r.conn.script("a", vec![Outcome::Ready(vec![tool("echo")])]);
    tokio::time::advance(secs(7)).await;
    first.crash(Failure::new(FailureKind::CrashedAfterReady, "segfault").with_exit_code(Some(139)));
    let s = wait_state(&r.reg, "a", ConnectionState::Sleeping).await;
    assert_eq!(
        s.last_error.as_deref(),
        Some("crashed after ready (exit code 139): segfault")
    );
    assert_eq!(s.tool_count, 0);
    assert!(r.reg.tools().is_empty());
    assert!(first.is_gone());
    let e = r.policy.events().pop().unwrap();
    assert_eq!(e.kind, FailureKind::CrashedAfterReady);
    assert_eq!(e.ready_for, Some(secs(7)));
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(r.conn.connects("a"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_health_check_goes_through_the_failure_path() {
    let r = rig(ScriptedPolicy::fixed(secs(2)));
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let session = r.conn.session("a").unwrap();
    let t0 = Instant::now();
    poll_until(HEALTH * 4, "three pings", || session.pings() >= 3).await;
    assert!(t0.elapsed() >= HEALTH * 3, "pinged every {HEALTH:?}");
    assert_eq!(
        r.reg.status("a").unwrap().connection_state,
        ConnectionState::Ready
    );
    session.fail_pings();
    let s = wait_state(&r.reg, "a", ConnectionState::Sleeping).await;
    assert!(s.last_error.unwrap().starts_with("health check failed"));
    assert_eq!(
        r.policy.events().pop().unwrap().kind,
        FailureKind::HealthCheck
    );
    assert!(session.is_shut_down());
}

/// `health_check_interval: 0` switches health checks off (it used to panic every Ready
/// server's supervisor): no pings, and the server is still supervised, so a crash is noticed.
#[tokio::test(start_paused = true)]
async fn health_checks_off_leave_a_ready_server_supervised() {
    let r = rig(ScriptedPolicy::fixed(secs(2)));
    r.reg
        .update_settings(|s| s.health_check_interval = Duration::ZERO);
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let session = r.conn.session("a").unwrap();
    tokio::time::advance(secs(3600)).await;
    assert_eq!(session.pings(), 0);
    assert_eq!(
        r.reg.status("a").unwrap().connection_state,
        ConnectionState::Ready
    );
    // Changing the interval while running, to 0 and back, keeps it supervised too.
    r.reg.update_settings(|s| s.health_check_interval = secs(5));
    poll_until(secs(6), "a ping at the new interval", || {
        session.pings() >= 1
    })
    .await;
    r.reg
        .update_settings(|s| s.health_check_interval = Duration::ZERO);
    session.crash(Failure::new(FailureKind::CrashedAfterReady, "gone"));
    let s = wait_state(&r.reg, "a", ConnectionState::Sleeping).await;
    assert!(s.last_error.unwrap().contains("gone"));
}

/// A supervisor that panics (here a transport bug in `connect`) is not left for dead while its
/// status says otherwise: the crash shows in `last_error` and `supervisor_restarts`, and the
/// state machine starts again and connects.
#[tokio::test(start_paused = true)]
async fn a_crashed_supervisor_is_visible_and_started_again() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    r.conn.script(
        "a",
        vec![Outcome::Panic, Outcome::Ready(vec![tool("echo")])],
    );
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    let s = wait_status(&r.reg, "a", |s| s.supervisor_restarts == 1).await;
    assert_eq!(s.connection_state, ConnectionState::Sleeping);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("scripted transport bug")),
        "{s:?}"
    );
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(s.supervisor_restarts, 1);
    assert_eq!(r.conn.connects("a"), 2);
    let answer = r
        .reg
        .call_tool(
            "a",
            "echo",
            args(serde_json::json!({"x": 1})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(text(&answer).contains("x"), "{}", text(&answer));
    r.reg.shutdown().await;
    assert!(r.conn.session("a").unwrap().is_shut_down());
}

/// A shorter `health_check_interval` set while running reaches a server already Ready: its
/// next ping comes one new interval after the change, not at the old interval's end.
#[tokio::test(start_paused = true)]
async fn a_health_interval_changed_while_running_applies_to_ready_servers() {
    let r = rig(ScriptedPolicy::fixed(secs(2)));
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let session = r.conn.session("a").unwrap();
    poll_until(HEALTH * 2, "the first ping", || session.pings() >= 1).await;

    let changed = Instant::now();
    r.reg.update_settings(|s| s.health_check_interval = secs(1));
    assert_eq!(r.reg.settings().health_check_interval, secs(1));
    poll_until(secs(4), "three pings at the new interval", || {
        session.pings() >= 4
    })
    .await;
    let elapsed = changed.elapsed();
    assert!(
        elapsed >= secs(3) && elapsed < secs(4),
        "three pings took {elapsed:?} at a 1 s interval"
    );
    assert_eq!(
        r.reg.status("a").unwrap().connection_state,
        ConnectionState::Ready,
        "a settings change does not touch the session"
    );
    assert_eq!(r.conn.sessions("a").len(), 1, "no reconnect");
}

#[tokio::test(start_paused = true)]
async fn a_thousand_servers_all_settle_within_the_init_timeout_plus_overhead() {
    let r = rig(ScriptedPolicy::fixed(secs(60)));
    let mut servers = Vec::new();
    for i in 0..1000u64 {
        let name = format!("s{i}");
        let outcome = match i % 4 {
            // Ignores its timeout: only the actor's guard ends it.
            0 => Outcome::Hang,
            // A connector that honours the init timeout.
            1 => Outcome::FailAfter(INIT, Failure::new(FailureKind::InitTimeout, "no handshake")),
            2 => Outcome::Fail(Failure::new(FailureKind::SpawnError, "not found")),
            _ => Outcome::ReadyAfter(Duration::from_millis(i % 3000), vec![tool("echo")]),
        };
        r.conn.script(&name, vec![outcome]);
        servers.push(server(&name));
    }
    let t0 = Instant::now();
    r.reg.apply(initial_plan_of(&servers)).await;
    tokio::time::timeout(secs(3600), r.reg.wait_settled())
        .await
        .expect("settles");
    let elapsed = t0.elapsed();
    assert!(
        elapsed <= INIT + CONNECT_GRACE + Duration::from_millis(100),
        "{elapsed:?}"
    );
    let list = r.reg.list();
    assert_eq!(list.summary.total, 1000);
    assert_eq!(list.summary.by_state.get("Ready"), Some(&250));
    assert_eq!(list.summary.by_state.get("Sleeping"), Some(&750));
    assert!(list.servers.iter().all(|s| s.attempts == 1));
    assert_eq!(r.reg.tools().len(), 250);
    r.reg.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_update_in_place_keeps_the_session_and_a_connection_change_restarts() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let first = r.conn.session("a").unwrap();

    let mut meta = server("a");
    meta.extra
        .insert("description".into(), serde_json::json!("docs"));
    r.reg.apply(vec![PlanStep::Update(meta.clone())]).await;
    let s = r.reg.status("a").unwrap();
    assert_eq!(s.connection_state, ConnectionState::Ready);
    assert_eq!(s.pid, Some(first.pid()));
    assert_eq!(r.conn.connects("a"), 1);
    assert!(!first.is_gone());

    let mut moved = meta.clone();
    moved.args = vec!["--port".into(), "9".into()];
    r.reg.apply(vec![PlanStep::Update(moved)]).await;
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(r.conn.connects("a"), 2);
    assert!(first.is_shut_down());
    assert_ne!(s.pid, Some(first.pid()));
}

#[tokio::test(start_paused = true)]
async fn a_stop_drains_in_flight_calls_up_to_the_deadline() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    r.reg
        .apply(initial_plan_of(&[server("quick"), server("slow")]))
        .await;
    wait_state(&r.reg, "quick", ConnectionState::Ready).await;
    wait_state(&r.reg, "slow", ConnectionState::Ready).await;
    let quick = r.conn.session("quick").unwrap();
    let slow = r.conn.session("slow").unwrap();

    // A call that finishes within the drain deadline completes; the stop waits for it.
    let reg = r.reg.clone();
    let call = tokio::spawn(async move {
        reg.call_tool(
            "quick",
            "sleep",
            args(serde_json::json!({"ms": 2000})),
            CancellationToken::new(),
        )
        .await
    });
    poll_until(secs(60), "the call reaches the session", || {
        quick.calls() == 1
    })
    .await;
    let t0 = Instant::now();
    r.reg.apply(vec![PlanStep::Stop("quick".into())]).await;
    let stop_took = t0.elapsed();
    let result = call
        .await
        .unwrap()
        .expect("call completes during the drain");
    assert!(text(&result).contains("slept 2000 ms"));
    assert!(
        stop_took >= Duration::from_millis(1990) && stop_took < DRAIN,
        "{stop_took:?}"
    );
    assert!(quick.is_shut_down());
    assert!(r.reg.status("quick").is_none());

    // One that would outlast it is cancelled at the deadline.
    let reg = r.reg.clone();
    let call = tokio::spawn(async move {
        reg.call_tool(
            "slow",
            "sleep",
            args(serde_json::json!({"ms": 60_000})),
            CancellationToken::new(),
        )
        .await
    });
    poll_until(secs(60), "the call reaches the session", || {
        slow.calls() == 1
    })
    .await;
    let t0 = Instant::now();
    r.reg.apply(vec![PlanStep::Stop("slow".into())]).await;
    let stop_took = t0.elapsed();
    // Cut short by the stop, not cancelled by its client: the error says which.
    assert_eq!(
        call.await.unwrap(),
        Err(CallError::Closed("the server was stopped".into()))
    );
    assert!(
        stop_took >= DRAIN && stop_took < DRAIN + secs(1),
        "{stop_took:?}"
    );
    assert!(slow.is_shut_down());
}

#[tokio::test(start_paused = true)]
async fn calls_are_routed_and_cancellation_propagates() {
    let r = rig(ScriptedPolicy::fixed(secs(60)));
    r.conn.script(
        "down",
        vec![Outcome::Fail(Failure::new(FailureKind::Refused, "refused"))],
    );
    r.reg
        .apply(initial_plan_of(&[server("a"), server("down")]))
        .await;
    r.reg.wait_settled().await;

    let ok = r
        .reg
        .call_tool(
            "a",
            "echo",
            args(serde_json::json!({"x": 1})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(text(&ok).contains(r#"{\"x\":1}"#), "{}", text(&ok));

    let err = r
        .reg
        .call_tool("down", "echo", None, CancellationToken::new())
        .await;
    assert_eq!(
        err,
        Err(CallError::NotAvailable("server down is Sleeping".into()))
    );
    let err = r
        .reg
        .call_tool("nope", "echo", None, CancellationToken::new())
        .await;
    assert_eq!(
        err,
        Err(CallError::NotAvailable("no server named nope".into()))
    );

    let cancel = CancellationToken::new();
    let reg = r.reg.clone();
    let c = cancel.clone();
    let call = tokio::spawn(async move {
        reg.call_tool("a", "sleep", args(serde_json::json!({"ms": 60_000})), c)
            .await
    });
    let session = r.conn.session("a").unwrap();
    poll_until(secs(60), "the call reaches the session", || {
        session.calls() == 2
    })
    .await;
    cancel.cancel();
    assert_eq!(call.await.unwrap(), Err(CallError::Cancelled));
    // The session is unharmed.
    assert_eq!(
        r.reg.status("a").unwrap().connection_state,
        ConnectionState::Ready
    );
}

/// A list change that arrives while the lists are being read again is not lost: they are read
/// once more when that reading ends.
#[tokio::test(start_paused = true)]
async fn a_list_change_during_a_refresh_is_read_after_it() {
    let r = rig(ScriptedPolicy::fixed(secs(60)));
    r.reg.apply(initial_plan_of(&[server("b")])).await;
    r.reg.wait_settled().await;
    let b = r.conn.session("b").unwrap();
    b.set_list_time(secs(10));
    b.set_tools(vec![tool("echo"), tool("one")]);
    // The refresh for `one` is under way (10 s); `two` arrives during it.
    tokio::time::sleep(secs(1)).await;
    b.set_tools(vec![tool("echo"), tool("one"), tool("two")]);
    let listed = |reg: &Registry| -> Vec<String> {
        let status = reg.status("b").unwrap();
        status.hidden_tools.iter().map(|t| t.name.clone()).collect()
    };
    let deadline = tokio::time::Instant::now() + secs(60);
    while listed(&r.reg) != ["one", "two"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            listed(&r.reg)
        );
        tokio::time::sleep(secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn tool_lists_follow_list_changed_and_readiness() {
    let r = rig(ScriptedPolicy::fixed(secs(60)));
    let mut ticks = r.reg.offers_changed();
    ticks.borrow_and_update();
    r.reg
        .apply(initial_plan_of(&[server("a"), server("b")]))
        .await;
    r.reg.wait_settled().await;
    assert!(ticks.has_changed().unwrap());
    ticks.borrow_and_update();
    let names = |reg: &Registry| -> Vec<String> {
        reg.tools()
            .iter()
            .map(|(server, tool)| format!("{server}:{}", tool.name))
            .collect()
    };
    assert_eq!(names(&r.reg), vec!["a:echo", "b:echo"]);

    r.conn
        .session("b")
        .unwrap()
        .set_tools(vec![tool("one"), tool("two")]);
    tokio::time::timeout(secs(60), ticks.changed())
        .await
        .expect("tools tick")
        .unwrap();
    // The first tools were recorded as seen; new ones wait for a user's approval.
    assert_eq!(names(&r.reg), vec!["a:echo"]);
    let b = r.reg.status("b").unwrap();
    assert_eq!(b.tool_count, 0);
    let hidden: Vec<&str> = b.hidden_tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(hidden, ["one", "two"]);
    assert_eq!(b.hidden_tools[0].reason, "not approved");
    let call = r
        .reg
        .call_tool("b", "one", None, CancellationToken::new())
        .await;
    assert!(
        matches!(&call, Err(CallError::NotAvailable(m)) if m.contains("hidden: not approved")),
        "{call:?}"
    );

    let approved = r.reg.approve_tools("b").await.unwrap();
    assert_eq!((approved.hidden, approved.withheld), (2, false));
    assert_eq!(names(&r.reg), vec!["a:echo", "b:one", "b:two"]);
    let b = r.reg.status("b").unwrap();
    assert_eq!((b.tool_count, b.hidden_tools.len()), (2, 0));
    // Nothing left to approve: the same tools again.
    assert_eq!(r.reg.approve_tools("b").await.unwrap().hidden, 0);

    let mut off = server("a");
    off.disable();
    r.reg.apply(vec![PlanStep::Update(off)]).await;
    assert!(ticks.has_changed().unwrap());
    assert_eq!(names(&r.reg), vec!["b:one", "b:two"]);
    let a = r.reg.status("a").unwrap();
    assert_eq!(a.connection_state, ConnectionState::Disabled);
    assert!(!a.enabled);
    assert!(r.conn.session("a").unwrap().is_shut_down());
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_every_session() {
    let r = rig(ScriptedPolicy::fixed(secs(60)));
    r.conn.script("hang", vec![Outcome::Hang]);
    r.reg
        .apply(initial_plan_of(&[server("a"), server("b"), server("hang")]))
        .await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    wait_state(&r.reg, "b", ConnectionState::Ready).await;
    r.reg.shutdown().await;
    for name in ["a", "b"] {
        let s = r.conn.session(name).unwrap();
        assert!(s.is_shut_down() && s.is_gone(), "{name}");
    }
    assert!(r.reg.snapshot().is_empty());
    // Plans after shutdown start nothing.
    r.reg.apply(initial_plan_of(&[server("late")])).await;
    assert_eq!(r.conn.connects("late"), 0);
}

#[tokio::test(start_paused = true)]
async fn restart_reconnects_with_fresh_counters() {
    let r = rig(ScriptedPolicy::fixed(secs(1)));
    r.conn.script(
        "a",
        vec![
            Outcome::Fail(Failure::new(FailureKind::Refused, "refused")),
            Outcome::Ready(vec![tool("echo")]),
        ],
    );
    r.reg.apply(initial_plan_of(&[server("a")])).await;
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(s.attempts, 2);
    r.reg.restart("a").await.unwrap();
    let s = wait_state(&r.reg, "a", ConnectionState::Ready).await;
    assert_eq!(s.attempts, 1);
    assert_eq!(r.conn.connects("a"), 3);
    assert!(r.conn.sessions("a")[0].is_shut_down());
}

#[tokio::test(start_paused = true)]
async fn plan_steps_from_a_reload_disable_and_keep_backoffs() {
    let r = rig(ScriptedPolicy::fixed(secs(100)));
    r.conn.script(
        "sleepy",
        vec![
            Outcome::Fail(Failure::new(FailureKind::Refused, "refused")),
            Outcome::Ready(vec![tool("echo")]),
        ],
    );
    r.reg
        .apply(initial_plan_of(&[server("a"), server("sleepy")]))
        .await;
    wait_state(&r.reg, "a", ConnectionState::Ready).await;
    let t0 = Instant::now();
    wait_state(&r.reg, "sleepy", ConnectionState::Sleeping).await;

    // The user switches `a` off in the file: the plan's Update drains and disables it.
    let mut off = server("a");
    off.enabled = false;
    let mut meta = server("sleepy");
    meta.extra.insert("note".into(), serde_json::json!("x"));
    let new = crate::config::Config {
        servers: vec![off.clone(), meta.clone()],
        ..test_config()
    };
    let diff = crate::contract::ConfigDiff {
        changes: vec![
            crate::contract::Change {
                target: crate::contract::ChangeTarget::Server("a".into()),
                kind: crate::contract::ChangeKind::Modified,
                fields: vec!["enabled".into()],
            },
            crate::contract::Change {
                target: crate::contract::ChangeTarget::Server("sleepy".into()),
                kind: crate::contract::ChangeKind::Modified,
                fields: vec!["note".into()],
            },
        ],
        ..Default::default()
    };
    let steps = plan(&new, &diff, &[]);
    assert_eq!(steps, vec![PlanStep::Update(off), PlanStep::Update(meta)]);
    r.reg.apply(steps).await;
    let a = r.reg.status("a").unwrap();
    assert_eq!(a.connection_state, ConnectionState::Disabled);
    assert!(r.conn.session("a").unwrap().is_shut_down());

    // The metadata-only update leaves `sleepy` waiting out its backoff.
    let s = r.reg.status("sleepy").unwrap();
    assert_eq!(s.connection_state, ConnectionState::Sleeping);
    assert_eq!(s.consecutive_failures, 1);
    wait_state(&r.reg, "sleepy", ConnectionState::Ready).await;
    assert!(t0.elapsed() >= secs(100));
    assert_eq!(r.conn.connects("sleepy"), 2);
}

fn test_config() -> crate::config::Config {
    crate::config::Config {
        listen: "127.0.0.1:8080".parse().unwrap(),
        data_dir: None,
        init_timeout: INIT,
        call_tool_timeout: secs(120),
        tools_limit: 15,
        quarantine_new_servers: true,
        tool_response_limit: 1 << 20,
        watch_debounce: Duration::from_millis(300),
        health_check_interval: HEALTH,
        allowed_origins: Vec::new(),
        auth: Default::default(),
        metrics_auth: Default::default(),
        policy: crate::config::PolicyConfig::default(),
        servers: vec![],
        generation: 0,
    }
}
