//! The stdio transport against the real `mcp-fixture`: every mode ends in the right
//! classification with its evidence, calls/pings/list-changed work, timeouts cancel, and no
//! process of the group survives shutdown or drop.

use std::time::{Duration, Instant};

use crate::upstream_support::*;
use mcpproxy::contract::Transport;
use mcpproxy::contract::{Failure, FailureKind};
use mcpproxy::upstream::{
    CallError, Connector, Dialer, DialerOptions, Started, UpstreamSession, log_file_path,
};
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const INIT: Duration = Duration::from_millis(2000);
const SHORT: Duration = Duration::from_millis(300);

fn dialer(log_dir: &std::path::Path) -> Dialer {
    Dialer::new(DialerOptions {
        log_dir: Some(log_dir.to_path_buf()),
    })
}

async fn connect_fails(args: &[&str], timeout: Duration) -> Failure {
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("bad", args);
    match dialer(dir.path())
        .connect(&server, timeout, Started::default())
        .await
    {
        Ok(_) => panic!("{args:?} connected"),
        Err(failure) => failure,
    }
}

fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_string())
        .with_arguments(args.as_object().cloned().unwrap_or_default())
}

/// Both eras: a dual-era server is spoken to in 2026-07-28 (no `initialize`, `server/discover`
/// as the health check), one that knows only older revisions in 2025-11-25.
#[tokio::test]
async fn healthy_server_lists_tools_answers_calls_and_pings() {
    for (extra, revision) in [(None, "2026-07-28"), (Some("--legacy"), "2025-11-25")] {
        healthy_server_in(extra, revision).await;
    }
}

async fn healthy_server_in(extra: Option<&str>, revision: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--tools", "3"];
    args.extend(extra);
    let server = stdio_server("healthy", &args);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    assert_eq!(session.transport(), Transport::Stdio);
    let pid = session.pid().expect("pid");
    assert!(alive(pid));

    let offer = session.offer().await.unwrap();
    assert_eq!(offer.protocol_version.as_deref(), Some(revision));
    let tools = offer.tools;
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        names,
        ["echo", "add", "sleep", "tool_0", "tool_1", "tool_2"]
    );

    let result = session
        .call_tool(
            call("echo", json!({"text": "hi there"})),
            INIT,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(text_of(&result), "hi there");
    let result = session
        .call_tool(
            call("add", json!({"a": 2, "b": 40})),
            INIT,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(text_of(&result), "42");
    let error = session
        .call_tool(call("echo", json!({})), INIT, CancellationToken::new())
        .await
        .unwrap_err();
    // The server's JSON-RPC error, code and all.
    assert!(
        matches!(error, CallError::Rejected(ref e) if e.code.0 == -32602 && e.message.contains("text")),
        "{error:?}"
    );

    session.ping(INIT).await.unwrap();
    session.shutdown().await;
    assert!(wait_until(Duration::from_secs(5), || !alive(pid)).await);
}

#[tokio::test]
async fn crash_is_exited_before_handshake_with_code_and_stderr() {
    let failure = connect_fails(&["--mode", "crash"], INIT).await;
    assert_eq!(
        failure.kind,
        FailureKind::ExitedBeforeHandshake,
        "{failure}"
    );
    assert_eq!(failure.exit_code, Some(3));
    assert!(failure.detail.contains("crashing on purpose"), "{failure}");
}

#[tokio::test]
async fn hang_is_init_timeout() {
    let started = Instant::now();
    let failure = connect_fails(&["--mode", "hang"], SHORT).await;
    assert_eq!(failure.kind, FailureKind::InitTimeout, "{failure}");
    assert!(started.elapsed() >= SHORT);
}

#[tokio::test]
async fn slow_handshake_within_the_timeout_connects_and_beyond_it_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("slow", &["--mode", "slow-handshake:100"]);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    session.shutdown().await;

    let failure = connect_fails(&["--mode", "slow-handshake:5000"], SHORT).await;
    assert_eq!(failure.kind, FailureKind::InitTimeout, "{failure}");
}

#[tokio::test]
async fn garbage_on_stdout_is_a_protocol_error() {
    let failure = connect_fails(&["--mode", "garbage"], SHORT).await;
    assert_eq!(failure.kind, FailureKind::ProtocolError, "{failure}");
    assert!(failure.detail.contains("garbage"), "{failure}");
}

#[tokio::test]
async fn spawn_errors_carry_the_os_message() {
    let dir = tempfile::tempdir().unwrap();
    let dialer = dialer(dir.path());

    let mut missing = stdio_server("missing", &[]);
    missing.command = Some("/nonexistent/mcp-server-xyz".into());
    let failure = dialer
        .connect(&missing, INIT, Started::default())
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::SpawnError);
    assert!(failure.detail.contains("No such file"), "{failure}");

    let not_exec = dir.path().join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let mut denied = stdio_server("denied", &[]);
    denied.command = Some(not_exec.display().to_string());
    let failure = dialer
        .connect(&denied, INIT, Started::default())
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::SpawnError);
    assert!(failure.detail.contains("Permission denied"), "{failure}");

    let mut bad_cwd = stdio_server("bad-cwd", &[]);
    bad_cwd.working_dir = Some(dir.path().join("no-such-dir"));
    let failure = dialer
        .connect(&bad_cwd, INIT, Started::default())
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::SpawnError);
    assert!(failure.detail.contains("no-such-dir"), "{failure}");
}

#[tokio::test]
async fn exit_after_ready_is_reported_by_closed_with_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("flaky", &["--mode", "exit-after-ready:100"]);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    let failure = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("closed() fired");
    assert_eq!(failure.kind, FailureKind::CrashedAfterReady, "{failure}");
    assert_eq!(failure.exit_code, Some(4));
    assert!(failure.detail.contains("exiting after ready"), "{failure}");
}

/// A dual-era server says so on its `subscriptions/listen` stream, a legacy one on the session.
#[tokio::test]
async fn list_changed_ticks_and_the_new_tool_is_listed() {
    for extra in [None, Some("--legacy")] {
        let dir = tempfile::tempdir().unwrap();
        // Long enough that the first listing comes before the change.
        let mut args = vec!["--mode", "list-changed:500"];
        args.extend(extra);
        let server = stdio_server("changing", &args);
        let session = dialer(dir.path())
            .connect(&server, INIT, Started::default())
            .await
            .unwrap();
        let before = session.offer().await.unwrap().tools.len();
        let mut ticks = session.lists_changed();
        tokio::time::timeout(Duration::from_secs(10), ticks.changed())
            .await
            .unwrap_or_else(|_| panic!("{extra:?}: list_changed arrived"))
            .unwrap();
        assert_eq!(*ticks.borrow(), 1, "{extra:?}");
        let after = session.offer().await.unwrap().tools;
        assert_eq!(after.len(), before + 1, "{extra:?}");
        assert!(after.iter().any(|t| t.name.starts_with("added_")));
        session.shutdown().await;
    }
}

async fn log_mentions(log: &std::path::Path, needle: &str) -> bool {
    wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle))
    })
    .await
}

/// A server's stderr log is rotated by size: a server that writes 3.5 MiB to stderr leaves a
/// current log under the limit and at most `SERVER_LOG_FILES` old ones, not one growing file.
#[tokio::test]
async fn a_chatty_servers_log_is_rotated_by_size() {
    use mcpproxy::upstream::{SERVER_LOG_BYTES, SERVER_LOG_FILES};
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("chatty", &[]);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    let result = session
        .call_tool(
            call("spew", json!({"bytes": 3_500_000})),
            INIT * 5,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(text_of(&result).contains("spewed"));
    let log = log_file_path(dir.path(), "chatty");
    let rotated = |n: usize| log.with_file_name(format!("stderr.log.{n}"));
    assert!(
        wait_until(Duration::from_secs(20), || rotated(3).exists()).await,
        "no rotation"
    );
    session.shutdown().await;
    assert!(
        !rotated(SERVER_LOG_FILES + 1).exists(),
        "more old logs kept than {SERVER_LOG_FILES}"
    );
    for path in [log.clone(), rotated(1), rotated(2), rotated(3)] {
        let len = std::fs::metadata(&path).map_or(0, |m| m.len()) as usize;
        assert!(
            len <= SERVER_LOG_BYTES + 8192,
            "{}: {len} bytes",
            path.display()
        );
    }
}

#[tokio::test]
async fn call_timeout_cancels_the_upstream_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("sleepy", &[]);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    let error = session
        .call_tool(
            call("sleep", json!({"ms": 10000})),
            SHORT,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(error, CallError::Timeout(SHORT));
    let log = log_file_path(dir.path(), "sleepy");
    assert!(
        log_mentions(&log, "CANCELLED sleep 10000").await,
        "fixture saw no cancel"
    );
    // The session is still usable after a cancelled call.
    session.ping(INIT).await.unwrap();
    session.shutdown().await;
}

#[tokio::test]
async fn client_cancel_cancels_the_upstream_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = stdio_server("sleepy2", &[]);
    let session = dialer(dir.path())
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let call_future = session.call_tool(
        call("sleep", json!({"ms": 20000})),
        INIT * 10,
        cancel.clone(),
    );
    let canceller = async {
        // Cancel once the call is surely in flight: the request is sent before awaiting.
        tokio::task::yield_now().await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(call_future, canceller);
    assert_eq!(result.unwrap_err(), CallError::Cancelled);
    let log = log_file_path(dir.path(), "sleepy2");
    assert!(
        log_mentions(&log, "CANCELLED sleep 20000").await,
        "fixture saw no cancel"
    );
    session.shutdown().await;
}

async fn spawn_child_session(
    dir: &std::path::Path,
    name: &str,
) -> (Box<dyn UpstreamSession>, u32, u32) {
    let server = stdio_server(name, &["--mode", "spawn-child"]);
    let session = dialer(dir)
        .connect(&server, INIT, Started::default())
        .await
        .unwrap();
    let pid = session.pid().unwrap();
    let grandchild = grandchild_pid(&log_file_path(dir, name)).await;
    assert!(alive(pid) && alive(grandchild));
    (session, pid, grandchild)
}

#[tokio::test]
async fn shutdown_kills_child_and_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let (session, pid, grandchild) = spawn_child_session(dir.path(), "parent").await;
    session.shutdown().await;
    assert!(wait_until(Duration::from_secs(5), || !alive(pid) && !alive(grandchild)).await);
}

#[tokio::test]
async fn drop_kills_child_and_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let (session, pid, grandchild) = spawn_child_session(dir.path(), "dropped").await;
    drop(session);
    assert!(wait_until(Duration::from_secs(5), || !alive(pid) && !alive(grandchild)).await);
}

#[tokio::test]
async fn timed_out_and_crashed_servers_leave_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("hung-{}", std::process::id());
    let server = stdio_server(&token, &["--mode", "hang"]);
    let failure = dialer(dir.path())
        .connect(&server, SHORT, Started::default())
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::InitTimeout);
    assert!(
        wait_until(Duration::from_secs(5), || pids_with_arg(&token).is_empty()).await,
        "timed-out server still running: {:?}",
        pids_with_arg(&token)
    );
}

#[tokio::test]
async fn hanging_handshakes_do_not_hold_back_other_starts() {
    // More servers hanging in their handshake (60 s timeout) than the pacer starts at once
    // (cores + 1 at first): a healthy server must still start and become ready meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let dialer = Dialer::new(DialerOptions {
        log_dir: Some(dir.path().to_path_buf()),
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let token = format!("slot-hog-{}", std::process::id());
    let hog_pids = || {
        (0..cores + 2)
            .flat_map(|i| pids_with_arg(&format!("{token}-{i}")))
            .collect::<Vec<_>>()
    };
    let hogs: Vec<_> = (0..cores + 2)
        .map(|i| {
            tokio::spawn(dialer.connect(
                &stdio_server(&format!("{token}-{i}"), &["--mode", "hang"]),
                Duration::from_secs(60),
                Started::default(),
            ))
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || hog_pids().len() > cores).await,
        "the hanging servers did not start"
    );

    let healthy = tokio::time::timeout(
        Duration::from_secs(20),
        dialer.connect(&stdio_server("ok", &[]), INIT, Started::default()),
    )
    .await
    .expect("a healthy server waited behind hanging handshakes");
    assert!(healthy.is_ok(), "{:?}", healthy.err());
    assert!(
        hogs.iter().all(|hog| !hog.is_finished()),
        "the hanging servers should still be handshaking"
    );

    // Abandoning a connect in progress kills the half-started server too.
    for hog in &hogs {
        hog.abort();
    }
    assert!(
        wait_until(Duration::from_secs(5), || hog_pids().is_empty()).await,
        "abandoned servers still running: {:?}",
        hog_pids()
    );
}

#[test]
fn runtime_shutdown_kills_child_and_grandchild() {
    // The daemon exiting without an orderly shutdown: the runtime (and with it every task
    // and session) is dropped while a server with a grandchild is Ready.
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (pid, grandchild) = runtime.block_on(async {
        let (session, pid, grandchild) = spawn_child_session(dir.path(), "abandoned").await;
        // Keep the session alive in a task that never ends, as a supervisor would.
        tokio::spawn(async move {
            let _session = session;
            std::future::pending::<()>().await;
        });
        (pid, grandchild)
    });
    drop(runtime);
    let check = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(
        check.block_on(wait_until(Duration::from_secs(5), || !alive(pid) && !alive(grandchild)))
    );
}
