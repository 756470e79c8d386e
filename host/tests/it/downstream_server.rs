//! The downstream MCP server over real sockets on 127.0.0.1: `/mcp` tools, `/mcp/all` with
//! `tools/list_changed`, health endpoints, cancellation and shutdown, driven by a real rmcp
//! client and by the CLI's own client against a fake backend.

use std::sync::Arc;

use crate::common::mcp_post;
use crate::downstream_support::{
    FakeBackend, Running, default_tools, entry, start, wait_until, within,
};
use mcpproxy::downstream::client::{self, ClientError};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientConfig, ClientRequest,
    JsonObject, ProtocolVersion, ServerNotification, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A client that reports `tools/list_changed`.
#[derive(Clone, Default)]
struct Watcher {
    changed: Arc<Notify>,
}

impl ClientHandler for Watcher {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

async fn connect(url: String) -> RunningService<RoleClient, Watcher> {
    connect_watching(url, Watcher::default()).await
}

async fn connect_watching(url: String, watcher: Watcher) -> RunningService<RoleClient, Watcher> {
    within(
        "the client handshake",
        watcher.serve(StreamableHttpClientTransport::from_uri(url)),
    )
    .await
    .expect("client handshake")
}

fn object(value: Value) -> JsonObject {
    value.as_object().cloned().expect("a JSON object")
}

async fn call(
    client: &RunningService<RoleClient, Watcher>,
    name: &str,
    args: Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new(name.to_string()).with_arguments(object(args));
    within(
        &format!("a call of {name}"),
        client.peer().call_tool(params),
    )
    .await
    .expect("tools/call answered")
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn tool_names(client: &RunningService<RoleClient, Watcher>) -> Vec<String> {
    within("tools/list", client.peer().list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

async fn server() -> (Arc<FakeBackend>, Running) {
    let backend = FakeBackend::new(default_tools());
    let running = start(backend.clone(), 3).await;
    (backend, running)
}

#[tokio::test]
async fn mcp_serves_its_meta_tools_and_ranks_retrieve_tools() {
    let (_backend, running) = server().await;
    let client = connect(running.url("/mcp")).await;
    assert_eq!(
        tool_names(&client).await,
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

    let result = call(
        &client,
        "retrieve_tools",
        json!({"query": "read file contents", "limit": 2}),
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
    let answer = result.structured_content.expect("structured hits");
    let hits = answer["tools"].as_array().expect("tools array");
    assert!(!hits.is_empty() && hits.len() <= 2, "{answer:#}");
    assert_eq!(hits[0]["name"], "fs:read_file");
    assert_eq!(hits[0]["server"], "fs");
    assert_eq!(
        hits[0]["description"],
        "Read the complete contents of a file from disk"
    );
    assert_eq!(hits[0]["inputSchema"]["type"], "object");
    assert!(hits[0]["score"].as_f64().unwrap_or(0.0) > 0.0);

    let result = call(
        &client,
        "retrieve_tools",
        json!({"query": "weather alerts"}),
    )
    .await;
    let answer = result.structured_content.expect("structured hits");
    assert_eq!(
        answer["tools"][0]["name"], "weather:get_alerts",
        "{answer:#}"
    );

    // Without a limit the configured tools_limit (3) applies; with one, it is honoured.
    let broad = json!({"query": "weather file forecast alerts read write echo"});
    let result = call(&client, "retrieve_tools", broad).await;
    assert_eq!(
        result.structured_content.unwrap()["tools"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let result = call(
        &client,
        "retrieve_tools",
        json!({"query": "file weather", "limit": 1}),
    )
    .await;
    assert_eq!(
        result.structured_content.unwrap()["tools"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let result = call(&client, "retrieve_tools", json!({"limit": 1})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains("invalid arguments for retrieve_tools"),
        "{}",
        text_of(&result)
    );

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn call_tool_routes_server_tool_with_args() {
    let (backend, running) = server().await;
    let client = connect(running.url("/mcp")).await;

    let result = call(
        &client,
        "call_tool",
        json!({"name": "fs:echo", "args": {"text": "hi"}}),
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
    assert_eq!(
        result.structured_content,
        Some(json!({"server": "fs", "tool": "echo", "arguments": {"text": "hi"}}))
    );
    // args_json is accepted too.
    let result = call(
        &client,
        "call_tool",
        json!({"name": "weather:echo", "args_json": "{\"n\": 2}"}),
    )
    .await;
    assert_eq!(
        result.structured_content.unwrap()["arguments"],
        json!({"n": 2})
    );

    let calls = backend.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].server.as_str(), calls[0].tool.as_str()),
        ("fs", "echo")
    );
    assert_eq!(calls[0].arguments, Some(object(json!({"text": "hi"}))));

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn call_tool_failures_are_tool_errors_naming_server_and_tool() {
    let (_backend, running) = server().await;
    let client = connect(running.url("/mcp")).await;
    let cases = [
        (
            json!({"name": "nope:echo"}),
            "cannot call nope:echo: no Ready server named \"nope\"",
        ),
        (
            json!({"name": "broken:fail"}),
            "call to broken:fail failed: upstream error: the fixture exploded",
        ),
        (
            json!({"name": "echo"}),
            "call_tool: tool name \"echo\" must have the form \"server:tool\"",
        ),
        (
            json!({"name": "fs:echo", "args_json": "[1]"}),
            "call_tool fs:echo: args_json must be a JSON object",
        ),
    ];
    for (args, want) in cases {
        let result = call(&client, "call_tool", args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{args}");
        assert!(
            text_of(&result).starts_with(want),
            "{args}: {}",
            text_of(&result)
        );
    }
    // An unknown tool of /mcp itself is a protocol error that says what is served.
    let params = CallToolRequestParams::new("fs:echo");
    let error = client
        .peer()
        .call_tool(params)
        .await
        .expect_err("unknown /mcp tool");
    assert!(error.to_string().contains("retrieve_tools"), "{error}");

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn client_cancellation_reaches_the_backend() {
    let (backend, running) = server().await;
    let client = connect(running.url("/mcp")).await;
    let started = backend.wait_started.notified();
    let cancelled = backend.wait_cancelled.notified();

    let params = CallToolRequestParams::new("call_tool")
        .with_arguments(object(json!({"name": "slow:wait"})));
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = client
        .peer()
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    within("the backend call to start", started).await;
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .expect("cancel sent");
    within("the backend's token to fire", cancelled).await;

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn upstream_servers_list_returns_the_server_list() {
    let (_backend, running) = server().await;
    let client = connect(running.url("/mcp")).await;
    let result = call(&client, "upstream_servers", json!({"operation": "list"})).await;
    let list = result.structured_content.expect("structured list");
    assert_eq!(list["summary"]["total"], 4, "{list:#}");
    assert_eq!(list["summary"]["by_state"]["Ready"], 4);
    assert_eq!(list["servers"][0]["name"], "broken");
    assert_eq!(list["servers"][0]["connection_state"], "Ready");

    let result = call(
        &client,
        "upstream_servers",
        json!({"operation": "enable", "name": "fs"}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains("not supported by the fake"),
        "{}",
        text_of(&result)
    );

    let result = call(&client, "upstream_servers", json!({"operation": "explode"})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(text_of(&result).contains("invalid arguments for upstream_servers"));

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn mcp_all_serves_every_tool_directly_and_routes_calls() {
    let (backend, running) = server().await;
    let client = connect(running.url("/mcp/all")).await;
    assert_eq!(
        tool_names(&client).await,
        [
            "broken__fail",
            "fs__echo",
            "fs__read_file",
            "fs__write_file",
            "slow__wait",
            "weather__get_alerts",
            "weather__get_forecast",
        ]
    );
    let result = call(&client, "fs__echo", json!({"text": "direct"})).await;
    assert_eq!(
        result.structured_content,
        Some(json!({"server": "fs", "tool": "echo", "arguments": {"text": "direct"}}))
    );
    let result = call(&client, "broken__fail", json!({})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains("broken:fail"),
        "{}",
        text_of(&result)
    );

    let error = client
        .peer()
        .call_tool(CallToolRequestParams::new("nope__echo"))
        .await
        .expect_err("unknown direct tool");
    assert!(error.to_string().contains("nope__echo"), "{error}");
    assert_eq!(backend.calls().len(), 2);

    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn mcp_all_sends_list_changed_and_the_index_follows() {
    let (backend, running) = server().await;
    let watcher = Watcher::default();
    let changed = watcher.changed.clone();
    let all = connect_watching(running.url("/mcp/all"), watcher).await;
    let search = connect(running.url("/mcp")).await;
    assert!(!tool_names(&all).await.contains(&"git__git_log".to_string()));
    let result = call(
        &search,
        "retrieve_tools",
        json!({"query": "commit history"}),
    )
    .await;
    assert_eq!(result.structured_content.unwrap()["tools"], json!([]));

    let mut tools = default_tools();
    tools.push(entry("git", "git_log", "Show the commit history"));
    backend.set_tools(tools);
    within("tools/list_changed", changed.notified()).await;

    assert!(tool_names(&all).await.contains(&"git__git_log".to_string()));
    let result = call(
        &search,
        "retrieve_tools",
        json!({"query": "commit history"}),
    )
    .await;
    assert_eq!(
        result.structured_content.unwrap()["tools"][0]["name"],
        "git:git_log"
    );

    all.cancel().await.unwrap();
    search.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn the_catalog_is_rebuilt_once_per_change_not_per_query() {
    let (backend, running) = server().await;
    let search = connect(running.url("/mcp")).await;
    let all = connect(running.url("/mcp/all")).await;
    let reads = || {
        backend
            .tools_reads
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    for query in ["file", "weather", "echo"] {
        call(&search, "retrieve_tools", json!({ "query": query })).await;
    }
    tool_names(&all).await;
    call(&all, "fs__echo", json!({})).await;
    assert_eq!(
        reads(),
        1,
        "one build for all queries, listings and routing"
    );

    backend.set_tools(default_tools());
    assert_eq!(reads(), 1, "rebuilt lazily, not on the tick itself");
    for query in ["file", "weather"] {
        call(&search, "retrieve_tools", json!({ "query": query })).await;
    }
    tool_names(&all).await;
    assert_eq!(reads(), 2, "one rebuild after the change");

    search.cancel().await.unwrap();
    all.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn mcp_all_notifies_2026_clients_through_subscriptions_listen() {
    let (backend, running) = server().await;
    let transport = StreamableHttpClientTransport::from_uri(running.url("/mcp/all"));
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = within(
        "the discover handshake",
        ClientConfig::default().serve_with_lifecycle(transport, lifecycle),
    )
    .await
    .expect("discover handshake");
    let mut subscription = within(
        "subscriptions/listen",
        client.listen(SubscriptionFilter::builder().tools_list_changed().build()),
    )
    .await
    .expect("listen acknowledged");

    let mut tools = default_tools();
    tools.push(entry("git", "git_log", "Show the commit history"));
    backend.set_tools(tools);
    let notification = within("list_changed on the subscription", subscription.next())
        .await
        .expect("subscription open")
        .expect("a notification");
    assert!(
        matches!(
            notification,
            ServerNotification::ToolListChangedNotification(_)
        ),
        "{notification:?}"
    );
    let names: Vec<String> = within("tools/list", client.peer().list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"git__git_log".to_string()), "{names:?}");

    subscription.cancel().await.expect("unsubscribe");
    client.cancel().await.unwrap();
    running.stop().await;
}

#[tokio::test]
async fn closed_mcp_all_sessions_stop_watching_the_backend() {
    let (backend, running) = server().await;
    // Let the catalog subscribe (first query), then count from there.
    let probe = connect(running.url("/mcp")).await;
    call(&probe, "retrieve_tools", json!({"query": "file"})).await;
    probe.cancel().await.unwrap();
    let baseline = backend.watchers();

    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = connect(running.url("/mcp/all")).await;
        assert_eq!(tool_names(&client).await.len(), 7);
        clients.push(client);
    }
    // Each session watches (its handler and its notifier task hold a subscription each).
    wait_until("three sessions watch the tool set", || {
        backend.watchers() >= baseline + 3
    })
    .await;
    for client in clients {
        client.cancel().await.unwrap();
    }
    wait_until("closed sessions stop watching", || {
        backend.watchers() == baseline
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn health_endpoints_report_liveness_readiness_and_status() {
    let (backend, running) = server().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(running.url(path)).send();

    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    backend.set_ready(true);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let status: Value = get("/status").await.unwrap().json().await.unwrap();
    assert_eq!(status["ready"], true);
    assert_eq!(status["upstream"]["summary"]["total"], 4);

    running.stop().await;
}

#[tokio::test]
async fn shutdown_ends_serve_with_open_sessions() {
    let (_backend, running) = server().await;
    let all = connect(running.url("/mcp/all")).await;
    let search = connect(running.url("/mcp")).await;
    assert_eq!(tool_names(&search).await.len(), 7);
    let addr = running.addr;
    running.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
    drop(all);
    drop(search);
}

#[tokio::test]
async fn cli_client_calls_tools_and_reads_status() {
    let (_backend, running) = server().await;
    let cli = client::connect(&running.base, None)
        .await
        .expect("client connects");
    assert_eq!(cli.url(), running.url("/mcp"));

    let list = cli
        .call_tool("upstream_servers", object(json!({"operation": "list"})))
        .await
        .expect("list");
    assert_eq!(list["summary"]["total"], 4);

    let echoed = cli
        .call_tool(
            "call_tool",
            object(json!({"name": "fs:echo", "args": {"a": 1}})),
        )
        .await
        .expect("echo");
    assert_eq!(echoed["arguments"], json!({"a": 1}));

    match cli
        .call_tool("call_tool", object(json!({"name": "broken:fail"})))
        .await
    {
        Err(ClientError::Tool { name, message }) => {
            assert_eq!(name, "call_tool");
            assert!(message.contains("broken:fail"), "{message}");
        }
        other => panic!("expected a tool error, got {other:?}"),
    }
    cli.close().await;

    let status = client::status(&running.base, None).await.expect("status");
    assert_eq!(status["upstream"]["summary"]["total"], 4);
    running.stop().await;
}

#[tokio::test]
async fn cli_client_names_the_daemon_it_cannot_reach() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = format!("http://{addr}");
    match client::connect(&base, None).await {
        Err(error @ ClientError::Connect { .. }) => {
            assert!(
                error.to_string().contains(&format!("{base}/mcp")),
                "{error}"
            );
        }
        Err(other) => panic!("expected a connect error, got {other}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    let error = client::status(&base, None).await.expect_err("closed port");
    assert!(
        error.to_string().contains(&format!("{base}/status")),
        "{error}"
    );
}

/// A client on one kept-alive connection is answered at once, every time: accepted sockets get
/// `TCP_NODELAY`. (Without it, a response written in more than one piece waited for the
/// client's delayed ACK: ~40 ms on every call, ~23 calls/s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_a_kept_alive_connection_do_not_stall() {
    let (_backend, running) = server().await;
    let addr = running.addr;
    let stalls = tokio::task::spawn_blocking(move || {
        let mut stream = std::io::BufReader::new(std::net::TcpStream::connect(addr).unwrap());
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        let (status, headers, _) = mcp_post(&mut stream, "/mcp/all", init, None);
        assert!(status.contains("200"), "{status}");
        let session = headers
            .iter()
            .find_map(|h| h.strip_prefix("mcp-session-id:"))
            .expect("a session id")
            .trim()
            .to_string();
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        mcp_post(&mut stream, "/mcp/all", initialized, Some(&session));
        let mut stalls = 0;
        for i in 0..40 {
            let call = format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"fs__echo","arguments":{{"text":"call {i}"}}}}}}"#,
                i + 2
            );
            let started = std::time::Instant::now();
            let (status, _, body) = mcp_post(&mut stream, "/mcp/all", &call, Some(&session));
            assert!(status.contains("200") && body.contains(&format!("call {i}")), "{status} {body}");
            if started.elapsed() >= std::time::Duration::from_millis(35) {
                stalls += 1;
            }
        }
        stalls
    })
    .await
    .unwrap();
    assert!(stalls <= 5, "{stalls} of 40 calls took 35 ms or more");
    running.stop().await;
}

#[tokio::test]
async fn closing_a_session_is_answered_no_content_on_every_endpoint() {
    let (_backend, running) = server().await;
    let http = reqwest::Client::new();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}},
    });
    for path in ["/mcp", "/mcp/all", "/mcp/server/fs"] {
        let opened = within(
            "initialize",
            http.post(running.url(path))
                .header("accept", "application/json, text/event-stream")
                .json(&initialize)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(opened.status(), 200, "{path}");
        let session = opened.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        let closed = within(
            "DELETE",
            http.delete(running.url(path))
                .header("mcp-session-id", &session)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(closed.status(), 204, "{path}");
    }
    running.stop().await;
}
