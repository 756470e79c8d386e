//! The stdio bridge (`mcpproxy stdio`), run in-process on a duplex pipe in place of
//! stdin/stdout, forwarding to a real downstream server on 127.0.0.1: tools/list, tools/call,
//! cancellation and tools/list_changed.

use std::sync::Arc;

use crate::downstream_support::{FakeBackend, default_tools, entry, start, within};
use mcpproxy::downstream::bridge::run_bridge;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, JsonObject};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Clone, Default)]
struct Watcher {
    changed: Arc<Notify>,
}

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

fn object(value: Value) -> JsonObject {
    value.as_object().cloned().expect("a JSON object")
}

/// Starts the bridge towards `url` on one end of a pipe and a client on the other.
async fn bridged(
    url: String,
    watcher: Watcher,
) -> (
    RunningService<RoleClient, Watcher>,
    JoinHandle<anyhow::Result<()>>,
) {
    let (client_end, bridge_end) = tokio::io::duplex(64 * 1024);
    let bridge =
        tokio::spawn(async move { run_bridge(&url, None, tokio::io::split(bridge_end)).await });
    let client = within(
        "the handshake through the bridge",
        watcher.serve(client_end),
    )
    .await
    .expect("handshake through the bridge");
    (client, bridge)
}

async fn names(client: &RunningService<RoleClient, Watcher>) -> Vec<String> {
    within("tools/list", client.peer().list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[tokio::test]
async fn bridge_forwards_list_call_and_cancellation_to_mcp() {
    let backend = FakeBackend::new(default_tools());
    let running = start(backend.clone(), 5).await;
    let (client, bridge) = bridged(running.base.clone(), Watcher::default()).await;

    assert_eq!(
        names(&client).await,
        [
            "retrieve_tools",
            "call_tool",
            "upstream_servers",
            "list_resources",
            "read_resource",
            "list_prompts",
            "get_prompt"
        ]
    );
    let params = CallToolRequestParams::new("call_tool").with_arguments(object(
        json!({"name": "fs:echo", "args": {"via": "bridge"}}),
    ));
    let result = within("call through the bridge", client.peer().call_tool(params))
        .await
        .expect("call through the bridge");
    assert_eq!(
        result.structured_content,
        Some(json!({"server": "fs", "tool": "echo", "arguments": {"via": "bridge"}}))
    );

    let started = backend.wait_started.notified();
    let cancelled = backend.wait_cancelled.notified();
    let params = CallToolRequestParams::new("call_tool")
        .with_arguments(object(json!({"name": "slow:wait"})));
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("request sent");
    within("the backend call to start", started).await;
    handle
        .cancel(Some("stop".into()))
        .await
        .expect("cancel sent");
    within("the cancellation to cross the bridge", cancelled).await;

    client.cancel().await.unwrap();
    within("the bridge to end with its client", bridge)
        .await
        .expect("bridge task")
        .expect("bridge ends cleanly");
    running.stop().await;
}

#[tokio::test]
async fn bridge_forwards_list_changed_from_mcp_all() {
    let backend = FakeBackend::new(default_tools());
    let running = start(backend.clone(), 5).await;
    let watcher = Watcher::default();
    let changed = watcher.changed.clone();
    let (client, bridge) = bridged(running.url("/mcp/all"), watcher).await;
    assert_eq!(names(&client).await.len(), 7);

    let mut tools = default_tools();
    tools.push(entry("git", "git_log", "Show the commit history"));
    backend.set_tools(tools);
    within("list_changed through the bridge", changed.notified()).await;
    assert!(names(&client).await.contains(&"git__git_log".to_string()));

    client.cancel().await.unwrap();
    within("the bridge to end", bridge)
        .await
        .expect("bridge task")
        .expect("clean end");
    running.stop().await;
}

#[tokio::test]
async fn bridge_without_daemon_fails_naming_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (_client_end, bridge_end) = tokio::io::duplex(1024);
    let error = within(
        "the bridge to give up",
        run_bridge(
            &format!("http://{addr}"),
            None,
            tokio::io::split(bridge_end),
        ),
    )
    .await
    .expect_err("no daemon");
    assert!(
        error.to_string().contains(&format!("http://{addr}/mcp")),
        "{error}"
    );
}
