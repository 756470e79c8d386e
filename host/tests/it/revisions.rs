//! Clients and upstreams of different MCP revisions through one daemon. The reference server
//! runs twice: dual-era (`new`, spoken to in 2026-07-28) and as a server that knows only the
//! revisions with an `initialize` handshake (`old`, 2025-11-25). A real client (the Python SDK,
//! `tests/clients/revisions.py`) of each revision calls the three tools that ask the client for
//! input (sampling, elicitation, roots) on each: in every pair the client's callbacks are asked
//! exactly once and their exact answers reach the tool's result; a client that declared none of
//! the capabilities gets `-32021`, never a made-up answer.
//!
//! The proxy's own `requestState` (a 2026-07-28 client, an `old` server) is checked with raw
//! requests: altered, bound to another tool or used twice, it is refused.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const TOOLS: [(&str, &str); 3] = [
    (
        "test_input_required_result_sampling",
        "Sampling result: Paris",
    ),
    ("test_input_required_result_elicitation", "Hello, Alice!"),
    (
        "test_input_required_result_list_roots",
        "Found 1 root(s): file:///tmp/revisions-root",
    ),
];

fn reference_server() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/reference_server.py")
}

fn python() -> PathBuf {
    tools_dir().join("venv/bin/python")
}

/// A daemon with the reference server as `new` (dual-era) and `old` (`--legacy`).
fn daemon() -> Daemon {
    let server = |name: &str, extra: &[&str]| {
        let mut args = vec![reference_server().display().to_string(), "stdio".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        json!({"name": name, "command": python(), "args": args})
    };
    let config = json!({"mcpServers": [server("new", &[]), server("old", &["--legacy"])]});
    let daemon = Daemon::start(config, &[]);
    for (name, revision) in [("new", "2026-07-28"), ("old", "2025-11-25")] {
        let status = daemon.wait_state(name, "Ready", Duration::from_secs(60));
        assert_eq!(status["protocol_version"], revision, "{status}");
    }
    daemon
}

/// One run of the revisions client.
fn client(url: &str, revision: &str, capabilities: bool) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/revisions.py");
    let mut command = Command::new(python());
    command.arg(script).arg(url).args(["--revision", revision]);
    if !capabilities {
        command.arg("--no-capabilities");
    }
    client_record(command, &format!("revisions client {url} {revision}"))
}

fn result_text(call: &Value) -> String {
    let content = call["result"]["content"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    content
        .iter()
        .filter_map(|block| block["text"].as_str())
        .collect()
}

#[test]
fn every_pair_of_revisions_gets_the_clients_own_answers() {
    let daemon = daemon();
    let mut table = Vec::new();
    for upstream in ["new", "old"] {
        let url = format!("{}/mcp/server/{upstream}", daemon.base_url);
        for revision in ["2025-11-25", "2026-07-28"] {
            let record = client(&url, revision, true);
            assert_eq!(record["negotiated"], revision, "{record}");
            for (tool, answer) in TOOLS {
                let call = &record["calls"][tool];
                assert_eq!(
                    call["error"],
                    Value::Null,
                    "{upstream} {revision} {tool}: {call}"
                );
                assert_eq!(
                    result_text(call),
                    answer,
                    "{upstream} {revision} {tool}: {call}"
                );
                // A 2026-07-28 client is asked once through the call's result, whichever
                // revision the server speaks; a 2025-11-25 client with requests.
                let rounds = call["input_required"].as_array().map_or(0, Vec::len);
                let expected = usize::from(revision == "2026-07-28");
                assert_eq!(rounds, expected, "{upstream} {revision} {tool}: {call}");
            }
            for callback in ["sampling", "elicitation", "roots"] {
                let asked = record["asked"][callback].as_array().map_or(0, Vec::len);
                assert_eq!(
                    asked, 1,
                    "{upstream} {revision}: {callback} asked {asked} times"
                );
            }
            assert_eq!(
                record["asked"]["elicitation"][0]["message"], "What is your name?",
                "{record}"
            );
            table.push(format!(
                "{revision} client, {upstream} server: every answer arrived"
            ));

            let record = client(&url, revision, false);
            for (tool, _) in TOOLS {
                let call = &record["calls"][tool];
                assert_eq!(
                    call["error"]["code"], -32021,
                    "{upstream} {revision} {tool}: {call}"
                );
            }
            for callback in ["sampling", "elicitation", "roots"] {
                assert_eq!(record["asked"][callback], json!([]), "{record}");
            }
            table.push(format!(
                "{revision} client without capabilities, {upstream} server: -32021 each"
            ));
        }
    }
    println!("{}", table.join("\n"));
}

fn elicitation_call(tool: &str, state: Option<&str>, answers: Value) -> Value {
    let mut params = json!({"name": tool, "arguments": {}});
    if let Some(state) = state {
        params["requestState"] = json!(state);
        params["inputResponses"] = answers;
    }
    params
}

#[test]
fn the_proxys_request_state_resumes_its_own_call_once() {
    let daemon = daemon();
    let url = format!("{}/mcp/server/old", daemon.base_url);
    let tool = "test_input_required_result_elicitation";
    let accept = json!({"elicitation-1": {"action": "accept", "content": {"name": "Alice"}}});

    let asked = mcp_stateless(
        &url,
        1,
        "tools/call",
        elicitation_call(tool, None, json!({})),
    );
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let request = &result["inputRequests"]["elicitation-1"];
    assert_eq!(request["method"], "elicitation/create", "{asked}");
    assert_eq!(
        request["params"]["message"], "What is your name?",
        "{asked}"
    );
    let state = result["requestState"].as_str().unwrap().to_string();
    assert!(state.starts_with("mcpproxy."), "{state}");

    // Altered, or presented with another tool: refused, and the call still waits.
    let mut altered = state.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for (name, state) in [
        (tool, altered.as_str()),
        ("test_input_required_result_sampling", &state),
    ] {
        let refused = mcp_stateless(
            &url,
            2,
            "tools/call",
            elicitation_call(name, Some(state), accept.clone()),
        );
        assert_eq!(refused["error"]["code"], -32602, "{name}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("requestState refused"),
            "{refused}"
        );
    }

    // Without the answer: asked again, under a new state.
    let again = mcp_stateless(
        &url,
        3,
        "tools/call",
        elicitation_call(tool, Some(&state), json!({})),
    );
    assert_eq!(again["result"]["resultType"], "input_required", "{again}");
    assert!(
        again["result"]["inputRequests"]["elicitation-1"].is_object(),
        "{again}"
    );
    let second = again["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second, state);

    let done = mcp_stateless(
        &url,
        4,
        "tools/call",
        elicitation_call(tool, Some(&second), accept.clone()),
    );
    assert_eq!(
        done["result"]["content"][0]["text"], "Hello, Alice!",
        "{done}"
    );
    assert_eq!(done["result"]["resultType"], "complete", "{done}");

    // Each state resumes its call once.
    for used in [&state, &second] {
        let replay = mcp_stateless(
            &url,
            5,
            "tools/call",
            elicitation_call(tool, Some(used), accept.clone()),
        );
        assert_eq!(replay["error"]["code"], -32602, "{replay}");
    }
}

/// A 2026-07-28 `subscriptions/listen` stream on `url`, read on a thread of its own: every
/// message on it, as it arrives.
fn listen(url: &str, filter: Value) -> std::sync::mpsc::Receiver<Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_string();
    let body = json!({"jsonrpc": "2.0", "id": 100, "method": "subscriptions/listen", "params": {
    "notifications": filter,
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "listen-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use futures::StreamExt;
            let response = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "subscriptions/listen")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let mut stream = response.bytes_stream();
            let mut text = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let event: String = text.drain(..end + 2).collect();
                    for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                        if let Ok(message) = serde_json::from_str::<Value>(data.trim())
                            && tx.send(message).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
    });
    rx
}

/// The next message on `stream` with `method`, within 10 s.
fn next_with(stream: &std::sync::mpsc::Receiver<Value>, method: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match stream.recv_timeout(left) {
            Ok(message) if message["method"] == method => return message,
            Ok(_) => {}
            Err(error) => panic!("no {method} on the listen stream: {error}"),
        }
    }
}

/// A 2026-07-28 client's listen stream carries list changes and the updates of the resources
/// it named, whichever revision the upstream speaks (a legacy one is subscribed to with
/// `resources/subscribe`, a dual-era one through the proxy's own listen stream).
#[test]
fn a_listen_stream_hears_list_changes_and_resource_updates_from_either_upstream() {
    let daemon = daemon();
    for upstream in ["new", "old"] {
        let url = format!("{}/mcp/server/{upstream}", daemon.base_url);
        let watched = "test://watched-resource";
        let filter = json!({"toolsListChanged": true, "resourceSubscriptions": [watched]});
        let stream = listen(&url, filter.clone());
        let ack = next_with(&stream, "notifications/subscriptions/acknowledged");
        assert_eq!(ack["params"]["notifications"], filter, "{upstream}: {ack}");

        let touched = mcp_stateless(
            &url,
            1,
            "tools/call",
            json!({"name": "test_touch_resource"}),
        );
        assert_eq!(
            touched["result"]["content"][0]["text"], "Resource touched",
            "{touched}"
        );
        let updated = next_with(&stream, "notifications/resources/updated");
        assert_eq!(updated["params"]["uri"], watched, "{upstream}: {updated}");
        assert_eq!(
            updated["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 100,
            "{updated}"
        );

        let added = mcp_stateless(&url, 2, "tools/call", json!({"name": "test_add_tool"}));
        let text = added["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        let name = text
            .strip_prefix("Added ")
            .unwrap_or_else(|| panic!("{added}"));
        // A tool that appears after the first listing waits for approval (tool pinning);
        // approved, it joins the list, and the stream says so.
        wait_for(
            Duration::from_secs(10),
            "the new tool to await approval",
            || {
                let hidden = daemon.server(upstream)["hidden_tools"].clone();
                let hidden = hidden.as_array().cloned().unwrap_or_default();
                hidden.iter().any(|t| t["name"] == name).then_some(())
            },
        );
        daemon.cli(&["upstream", "approve", upstream]);
        next_with(&stream, "notifications/tools/list_changed");
        let listed = mcp_stateless(&url, 3, "tools/list", json!({}));
        let tools = listed["result"]["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            tools.iter().any(|t| t["name"] == name),
            "{upstream}: {name} not in {listed}"
        );
    }
}
