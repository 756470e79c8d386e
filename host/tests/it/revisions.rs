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
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "revisions client {url} {revision}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("revisions client printed no JSON ({e}): {stdout}"))
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
