//! Scripted stand-ins for the supervisor's collaborators: a `Connector` whose sessions
//! succeed, fail, hang or die on command, a `Policy` with fixed rules that records what it
//! was asked, and an `DecisionSink` that records what was persisted.
//!
//! Public so that integration tests can drive a `Registry` without real processes. Never
//! used by the daemon itself.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, ClientNotification, ClientRequest, ContentBlock, ServerResult, Tool,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::DecisionSink;
use crate::config::{Protocol, ServerConfig};
use crate::contract::ConfigDiff;
use crate::contract::{DisableDecision, FailureEvent, Policy, Transport, Verdict};
use crate::contract::{Failure, FailureKind};
use crate::contract::{ReviewDecision, ToolReview, ToolVerdict};
use crate::upstream::{CallError, Connector, Offer, Origin, Started, UpstreamSession};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A tool with an empty object schema.
/// An enabled stdio server entry running `command`, with every optional field empty.
pub fn stdio_server(name: &str, command: &str) -> ServerConfig {
    ServerConfig {
        name: name.to_string(),
        protocol: Protocol::Stdio,
        command: Some(command.to_string()),
        args: vec![],
        env: Default::default(),
        working_dir: None,
        url: None,
        headers: Default::default(),
        enabled: true,
        auto_disabled: false,
        auto_disable_reason: None,
        init_timeout: None,
        enabled_tools: None,
        disabled_tools: Vec::new(),
        quarantined: false,
        secrets: Vec::new(),
        extra: Default::default(),
    }
}

pub fn tool(name: &str) -> Tool {
    let mut schema = serde_json::Map::new();
    schema.insert("type".into(), serde_json::json!("object"));
    Tool::new(name.to_string(), format!("the {name} tool"), schema)
}

/// What one `connect` does.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Handshake succeeds at once with these tools.
    Ready(Vec<Tool>),
    /// Handshake succeeds after a delay (a slow server).
    ReadyAfter(Duration, Vec<Tool>),
    /// Fails at once.
    Fail(Failure),
    /// Fails after a delay (e.g. `InitTimeout` after the init timeout).
    FailAfter(Duration, Failure),
    /// Never answers and ignores its timeout: only the supervisor's own guard ends it.
    Hang,
    /// Panics (a bug in a transport): the supervisor itself crashes.
    Panic,
}

/// A `Connector` that follows a per-server script. After its script runs out a server
/// repeats the last outcome; an unscripted server becomes Ready with one `echo` tool.
#[derive(Default)]
pub struct ScriptedConnector {
    scripts: Mutex<HashMap<String, VecDeque<Outcome>>>,
    connects: Mutex<HashMap<String, u32>>,
    sessions: Mutex<HashMap<String, Vec<SessionControl>>>,
    next_pid: AtomicU32,
}

impl ScriptedConnector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Script `server`'s next connection attempts.
    pub fn script(&self, server: &str, outcomes: Vec<Outcome>) {
        lock(&self.scripts).insert(server.to_string(), outcomes.into());
    }

    /// How many times `connect` was called for `server`.
    pub fn connects(&self, server: &str) -> u32 {
        lock(&self.connects).get(server).copied().unwrap_or(0)
    }

    /// The control of `server`'s latest session.
    pub fn session(&self, server: &str) -> Option<SessionControl> {
        lock(&self.sessions)
            .get(server)
            .and_then(|v| v.last().cloned())
    }

    /// Controls of every session `server` ever had, oldest first.
    pub fn sessions(&self, server: &str) -> Vec<SessionControl> {
        lock(&self.sessions)
            .get(server)
            .cloned()
            .unwrap_or_default()
    }

    fn next_outcome(&self, server: &str) -> Outcome {
        let mut scripts = lock(&self.scripts);
        match scripts.get_mut(server) {
            Some(queue) if queue.len() > 1 => queue.pop_front().unwrap_or(Outcome::Hang),
            Some(queue) => queue.front().cloned().unwrap_or(Outcome::Hang),
            None => Outcome::Ready(vec![tool("echo")]),
        }
    }

    fn open(&self, server: &str, tools: Vec<Tool>) -> Box<dyn UpstreamSession> {
        let pid = 10_000 + self.next_pid.fetch_add(1, Ordering::Relaxed);
        let (session, control) = ScriptedSession::new(pid, tools);
        lock(&self.sessions)
            .entry(server.to_string())
            .or_default()
            .push(control);
        Box::new(session)
    }
}

impl Connector for ScriptedConnector {
    fn connect(
        &self,
        server: &ServerConfig,
        _init_timeout: Duration,
        _started: Started,
    ) -> BoxFuture<'static, Result<Box<dyn UpstreamSession>, Failure>> {
        *lock(&self.connects).entry(server.name.clone()).or_insert(0) += 1;
        let outcome = self.next_outcome(&server.name);
        // Sessions are created up front so that the future owns no reference to `self`.
        match outcome {
            Outcome::Ready(tools) => {
                let s = self.open(&server.name, tools);
                Box::pin(async move { Ok(s) })
            }
            Outcome::ReadyAfter(delay, tools) => {
                let s = self.open(&server.name, tools);
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    Ok(s)
                })
            }
            Outcome::Fail(f) => Box::pin(async move { Err(f) }),
            Outcome::FailAfter(delay, f) => Box::pin(async move {
                tokio::time::sleep(delay).await;
                Err(f)
            }),
            Outcome::Hang => Box::pin(futures::future::pending()),
            Outcome::Panic => Box::pin(async { panic!("scripted transport bug") }),
        }
    }
}

struct SessionState {
    pid: u32,
    tools: Mutex<Vec<Tool>>,
    /// How long listing the tools takes (after they are read).
    list_time: Mutex<Duration>,
    tools_tx: watch::Sender<u64>,
    closed_tx: watch::Sender<Option<Failure>>,
    ping_fails: AtomicBool,
    pings: AtomicU32,
    calls: AtomicU32,
    shut_down: AtomicBool,
    dropped: AtomicBool,
}

/// Drives one scripted session from a test.
#[derive(Clone)]
pub struct SessionControl(Arc<SessionState>);

impl SessionControl {
    /// The session dies by itself (`closed()` resolves with `failure`).
    pub fn crash(&self, failure: Failure) {
        self.0.closed_tx.send_replace(Some(failure));
    }
    /// Make every later ping fail (`HealthCheck`).
    pub fn fail_pings(&self) {
        self.0.ping_fails.store(true, Ordering::SeqCst);
    }
    /// Replace the tool list and send `tools/list_changed`.
    pub fn set_tools(&self, tools: Vec<Tool>) {
        *lock(&self.0.tools) = tools;
        self.0.tools_tx.send_modify(|n| *n += 1);
    }
    /// Listings read the tools, then take `time` to answer.
    pub fn set_list_time(&self, time: Duration) {
        *lock(&self.0.list_time) = time;
    }
    pub fn pid(&self) -> u32 {
        self.0.pid
    }
    pub fn pings(&self) -> u32 {
        self.0.pings.load(Ordering::SeqCst)
    }
    pub fn calls(&self) -> u32 {
        self.0.calls.load(Ordering::SeqCst)
    }
    /// `shutdown()` was called (a graceful end).
    pub fn is_shut_down(&self) -> bool {
        self.0.shut_down.load(Ordering::SeqCst)
    }
    /// The session object is gone (shut down or dropped): nothing of it is left running.
    pub fn is_gone(&self) -> bool {
        self.0.dropped.load(Ordering::SeqCst)
    }
}

/// A session that answers from memory.
///
/// Tools: `echo` returns its arguments as text; `sleep` with `{"ms": N}` works for N ms
/// (honouring timeout and cancellation); any other name is an upstream error.
pub struct ScriptedSession(Arc<SessionState>);

impl ScriptedSession {
    fn new(pid: u32, tools: Vec<Tool>) -> (Self, SessionControl) {
        let state = Arc::new(SessionState {
            pid,
            tools: Mutex::new(tools),
            list_time: Mutex::new(Duration::ZERO),
            tools_tx: watch::channel(0).0,
            closed_tx: watch::channel(None).0,
            ping_fails: AtomicBool::new(false),
            pings: AtomicU32::new(0),
            calls: AtomicU32::new(0),
            shut_down: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
        });
        (ScriptedSession(state.clone()), SessionControl(state))
    }
}

impl Drop for ScriptedSession {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

impl UpstreamSession for ScriptedSession {
    fn pid(&self) -> Option<u32> {
        Some(self.0.pid)
    }

    fn transport(&self) -> Transport {
        Transport::Stdio
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, Failure>> {
        let tools = lock(&self.0.tools).clone();
        let time = *lock(&self.0.list_time);
        Box::pin(async move {
            tokio::time::sleep(time).await;
            Ok(Offer::tools(tools))
        })
    }

    fn request(
        &self,
        request: ClientRequest,
        timeout: Duration,
        cancel: CancellationToken,
        _origin: Option<Origin>,
    ) -> BoxFuture<'_, Result<ServerResult, CallError>> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let ClientRequest::CallToolRequest(request) = request else {
                return Err(CallError::Upstream(
                    "scripted sessions only call tools".into(),
                ));
            };
            let request = request.params;
            let args = serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
            match request.name.as_ref() {
                "echo" => Ok(CallToolResult::success(vec![ContentBlock::text(
                    args.to_string(),
                )])),
                "sleep" => {
                    let ms = args.get("ms").and_then(|v| v.as_u64()).unwrap_or(0);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(ms)) => {
                            Ok(CallToolResult::success(vec![ContentBlock::text(format!("slept {ms} ms"))]))
                        }
                        _ = tokio::time::sleep(timeout) => Err(CallError::Timeout(timeout)),
                        _ = cancel.cancelled() => Err(CallError::Cancelled),
                    }
                }
                other => Err(CallError::Upstream(format!("unknown tool {other}"))),
            }
            .map(ServerResult::CallToolResult)
        })
    }

    fn notify(
        &self,
        _notification: ClientNotification,
        _origin: Option<Origin>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn ping(&self, _timeout: Duration) -> BoxFuture<'_, Result<(), Failure>> {
        self.0.pings.fetch_add(1, Ordering::SeqCst);
        let fails = self.0.ping_fails.load(Ordering::SeqCst);
        Box::pin(async move {
            if fails {
                Err(Failure::new(FailureKind::HealthCheck, "ping: no answer"))
            } else {
                Ok(())
            }
        })
    }

    fn closed(&self) -> BoxFuture<'_, Failure> {
        let mut rx = self.0.closed_tx.subscribe();
        Box::pin(async move {
            match rx.wait_for(|f| f.is_some()).await {
                Ok(f) => f
                    .clone()
                    .unwrap_or_else(|| Failure::new(FailureKind::CrashedAfterReady, "closed")),
                // The sender lives as long as the session, so this cannot happen while the
                // session is borrowed; answer something sensible anyway.
                Err(_) => Failure::new(FailureKind::CrashedAfterReady, "closed"),
            }
        })
    }

    fn lists_changed(&self) -> watch::Receiver<u64> {
        self.0.tools_tx.subscribe()
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        self.0.shut_down.store(true, Ordering::SeqCst);
        drop(self);
        Box::pin(async {})
    }
}

type BackoffFn = dyn Fn(&FailureEvent) -> Duration + Send + Sync;

/// A policy with fixed rules that records every event it was shown.
pub struct ScriptedPolicy {
    disable_after: Option<u32>,
    backoff: Box<BackoffFn>,
    events: Mutex<Vec<FailureEvent>>,
}

impl ScriptedPolicy {
    /// Never disables; waits `backoff` between attempts.
    pub fn fixed(backoff: Duration) -> Self {
        Self::with_backoff(move |_| backoff)
    }

    /// Never disables; waits whatever `backoff` says.
    pub fn with_backoff(
        backoff: impl Fn(&FailureEvent) -> Duration + Send + Sync + 'static,
    ) -> Self {
        ScriptedPolicy {
            disable_after: None,
            backoff: Box::new(backoff),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Disable a server at its `n`th consecutive failure.
    pub fn disable_after(mut self, n: u32) -> Self {
        self.disable_after = Some(n);
        self
    }

    /// Every event shown to `should_disable`, in order.
    pub fn events(&self) -> Vec<FailureEvent> {
        lock(&self.events).clone()
    }

    /// The reason given for disabling after `n` failures.
    pub fn reason(n: u32) -> String {
        format!("failed {n} times in a row")
    }
}

impl Policy for ScriptedPolicy {
    /// Hides every tool that is not as approved, as the default does.
    fn review_tools(&self, review: &ToolReview) -> ReviewDecision {
        let verdicts = review
            .tools
            .iter()
            .map(
                |t| match t.approved_hash.as_deref() == Some(t.current_hash.as_str()) {
                    true => ToolVerdict::Expose,
                    false => ToolVerdict::Hide {
                        reason: "not approved".to_string(),
                    },
                },
            )
            .collect();
        ReviewDecision::PerTool(verdicts)
    }

    fn should_disable(&self, event: &FailureEvent) -> DisableDecision {
        lock(&self.events).push(event.clone());
        match self.disable_after {
            Some(n) if event.consecutive_failures >= n => DisableDecision::Disable {
                reason: Self::reason(n),
            },
            _ => DisableDecision::Keep,
        }
    }

    fn backoff(&self, event: &FailureEvent) -> Duration {
        (self.backoff)(event)
    }

    fn filter_reload(&self, diff: &ConfigDiff) -> Vec<Verdict> {
        diff.changes.iter().map(|_| Verdict::Apply).collect()
    }
}

/// Records auto-disables instead of saving them.
#[derive(Default)]
pub struct RecordingSink {
    calls: Mutex<Vec<(String, String)>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }
    /// `(server, reason)` per call, in order.
    pub fn calls(&self) -> Vec<(String, String)> {
        lock(&self.calls).clone()
    }
}

impl DecisionSink for RecordingSink {
    fn auto_disabled(&self, server: &str, reason: &str) {
        lock(&self.calls).push((server.to_string(), reason.to_string()));
    }

    fn quarantined(&self, server: &str, reason: &str) {
        lock(&self.calls).push((server.to_string(), format!("quarantined: {reason}")));
    }
}
