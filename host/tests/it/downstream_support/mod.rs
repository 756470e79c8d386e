//! Shared pieces of the downstream tests: a fake `Backend` with fixed tools whose calls echo,
//! wait for cancellation or fail, a server started on 127.0.0.1:0, and a deadline poller.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mcpproxy::auth::{TokenStore, Verifier};
use mcpproxy::downstream::{
    self, Backend, DownstreamOptions, ServersOperation, ServersRequest, ToolEntry,
};
use mcpproxy::status::{ConnectionState, ServerList, ServerStatus};
use mcpproxy::upstream::{CallError, Notice, Offer, Origin, ServerOffer};
use rmcp::model::{
    CallToolResult, ClientNotification, ClientRequest, JsonObject, ServerResult, Tool,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A generous bound for things that should take milliseconds; only hit when a test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` if it takes longer than `PATIENCE`.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

pub fn tool(name: &str, description: &str) -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {"text": {"type": "string", "description": "input"}},
    });
    let schema = schema.as_object().cloned().unwrap_or_default();
    Tool::new(name.to_string(), description.to_string(), Arc::new(schema))
}

pub fn entry(server: &str, name: &str, description: &str) -> ToolEntry {
    ToolEntry {
        server: server.to_string(),
        tool: tool(name, description),
    }
}

/// The fake's tools. Any server's `echo` echoes, `wait` blocks until cancelled, `fail` fails.
pub fn default_tools() -> Vec<ToolEntry> {
    vec![
        entry(
            "fs",
            "read_file",
            "Read the complete contents of a file from disk",
        ),
        entry("fs", "write_file", "Create or overwrite a file with text"),
        entry("fs", "echo", "Echo the arguments back"),
        entry("weather", "get_forecast", "Weather forecast for a city"),
        entry("weather", "get_alerts", "Severe weather alerts for a state"),
        entry("slow", "wait", "Waits until cancelled"),
        entry("broken", "fail", "Always fails"),
    ]
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub server: String,
    pub tool: String,
    pub arguments: Option<JsonObject>,
}

pub struct FakeBackend {
    tools: Mutex<Vec<ToolEntry>>,
    ready: AtomicBool,
    ticks: watch::Sender<u64>,
    notices: broadcast::Sender<Arc<Notice>>,
    /// How often `offers()` was read (the catalog should read it once per change).
    pub tools_reads: AtomicUsize,
    pub calls: Mutex<Vec<Call>>,
    /// Notified when a `wait` call has started.
    pub wait_started: Arc<Notify>,
    /// Notified when a `wait` call saw its cancellation token fire.
    pub wait_cancelled: Arc<Notify>,
}

impl FakeBackend {
    pub fn new(tools: Vec<ToolEntry>) -> Arc<FakeBackend> {
        Arc::new(FakeBackend {
            tools: Mutex::new(tools),
            ready: AtomicBool::new(false),
            ticks: watch::channel(0).0,
            notices: broadcast::channel(16).0,
            tools_reads: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
            wait_started: Arc::new(Notify::new()),
            wait_cancelled: Arc::new(Notify::new()),
        })
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Replaces the tool set and ticks `offers_changed`.
    pub fn set_tools(&self, tools: Vec<ToolEntry>) {
        *self.tools.lock().unwrap() = tools;
        self.ticks.send_modify(|n| *n += 1);
    }

    /// Live subscribers of `offers_changed` (the catalog's, plus one per open session).
    pub fn watchers(&self) -> usize {
        self.ticks.receiver_count()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn known_server(&self, server: &str) -> bool {
        self.tools
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.server == server)
    }

    fn server_list(&self) -> ServerList {
        let tools = self.tools.lock().unwrap();
        let mut names: Vec<&str> = tools.iter().map(|e| e.server.as_str()).collect();
        names.sort();
        names.dedup();
        let servers = names
            .into_iter()
            .map(|name| ServerStatus {
                name: name.to_string(),
                protocol: "stdio".into(),
                connection_state: ConnectionState::Ready,
                enabled: true,
                auto_disabled: false,
                auto_disable_reason: None,
                last_error: None,
                attempts: 1,
                consecutive_failures: 0,
                next_retry_at: None,
                connected_at: Some("2026-01-01T00:00:00Z".into()),
                pid: Some(4242),
                tool_count: tools.iter().filter(|e| e.server == name).count(),
                quarantined: false,
                quarantine_reason: None,
                hidden_tools: Vec::new(),
                resource_count: 0,
                prompt_count: 0,
                supervisor_restarts: 0,
                protocol_version: Some("2025-11-25".into()),
            })
            .collect();
        ServerList::new(servers)
    }
}

impl FakeBackend {
    /// A call as the backend answers it, without the MCP server in front.
    pub fn call_tool(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<JsonObject>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<CallToolResult, CallError>> {
        self.calls.lock().unwrap().push(Call {
            server: server.to_string(),
            tool: tool.to_string(),
            arguments: arguments.clone(),
        });
        let known = self.known_server(server);
        let server = server.to_string();
        let tool = tool.to_string();
        let started = self.wait_started.clone();
        let cancelled = self.wait_cancelled.clone();
        Box::pin(async move {
            if !known {
                return Err(CallError::NotAvailable(format!(
                    "no Ready server named {server:?}"
                )));
            }
            match tool.as_str() {
                "echo" => Ok(CallToolResult::structured(json!({
                    "server": server,
                    "tool": tool,
                    "arguments": arguments.map(Value::Object).unwrap_or(Value::Null),
                }))),
                "wait" => {
                    started.notify_one();
                    tokio::select! {
                        _ = cancel.cancelled() => {
                            cancelled.notify_one();
                            Err(CallError::Cancelled)
                        }
                        _ = tokio::time::sleep(PATIENCE) => Err(CallError::Timeout(PATIENCE)),
                    }
                }
                "fail" => Err(CallError::Upstream("the fixture exploded".into())),
                other => Err(CallError::Upstream(format!("no tool {other:?}"))),
            }
        })
    }
}

impl Backend for FakeBackend {
    fn offers(&self) -> Vec<ServerOffer> {
        self.tools_reads.fetch_add(1, Ordering::SeqCst);
        let tools = self.tools.lock().unwrap().clone();
        let mut servers: Vec<String> = tools.iter().map(|e| e.server.clone()).collect();
        servers.sort();
        servers.dedup();
        servers
            .into_iter()
            .map(|server| {
                let own = tools.iter().filter(|e| e.server == server);
                let offer = Offer::tools(own.map(|e| e.tool.clone()).collect());
                ServerOffer {
                    server,
                    offer: Arc::new(offer),
                }
            })
            .collect()
    }

    fn forward(
        &self,
        server: &str,
        request: ClientRequest,
        _origin: Option<Origin>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<ServerResult, CallError>> {
        let ClientRequest::CallToolRequest(request) = request else {
            return Box::pin(async {
                Err(CallError::Upstream("the fake only calls tools".into()))
            });
        };
        let params = request.params;
        let call = self.call_tool(server, &params.name, params.arguments, cancel);
        Box::pin(async move { call.await.map(ServerResult::CallToolResult) })
    }

    fn notify(
        &self,
        _server: &str,
        _notification: ClientNotification,
        _origin: Option<Origin>,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    fn notices(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.notices.subscribe()
    }

    fn upstream_servers(
        &self,
        request: ServersRequest,
    ) -> BoxFuture<'static, Result<Value, String>> {
        let answer = match request.operation {
            ServersOperation::List => {
                serde_json::to_value(self.server_list()).map_err(|e| e.to_string())
            }
            other => Err(format!(
                "{other:?} of {:?} is not supported by the fake backend",
                request.name
            )),
        };
        Box::pin(async move { answer })
    }

    fn status(&self) -> Value {
        json!({"ready": self.ready.load(Ordering::SeqCst), "upstream": self.server_list()})
    }

    fn metrics(&self) -> String {
        "# TYPE fake_ready gauge\nfake_ready 1\n# EOF\n".to_string()
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn offers_changed(&self) -> watch::Receiver<u64> {
        self.ticks.subscribe()
    }
}

/// Polls `condition` until it holds, failing the test with `what` after `PATIENCE`.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running downstream server.
pub struct Running {
    pub addr: SocketAddr,
    pub base: String,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and checks that `serve` returned cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = within("serve to return after shutdown", self.task)
            .await
            .expect("serve task panicked");
        result.expect("serve returned an error");
    }
}

pub async fn start(backend: Arc<FakeBackend>, tools_limit: usize) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let shutdown = CancellationToken::new();
    // These tests are about MCP, not tokens (the daemon's auth tests are): `auth: none`.
    let options = DownstreamOptions::new(tools_limit);
    options.set_auth(true, false);
    let no_tokens = Verifier::new(TokenStore::new(std::path::Path::new("/nonexistent")));
    let task = tokio::spawn(downstream::serve(
        listener,
        backend,
        options,
        no_tokens,
        shutdown.clone(),
    ));
    Running {
        addr,
        base: format!("http://{addr}"),
        shutdown,
        task,
    }
}
