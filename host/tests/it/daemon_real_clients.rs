//! Real MCP software on both sides of the proxy: `@modelcontextprotocol/server-everything`
//! (npm) as the upstream, reached by `@modelcontextprotocol/inspector --cli` (npm) and by the
//! Python `mcp` SDK, over HTTP and over the `mcpproxy stdio` bridge. And Prometheus' own
//! parser reading `GET /metrics`.
//! The tools come from `host/tests/tools/install.sh` (run by `.ci/test`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

fn inspector(daemon: &Daemon, args: &[&str]) -> Value {
    let out = Command::new(tools_dir().join("npm/node_modules/.bin/mcp-inspector"))
        .arg("--cli")
        .arg(format!("{}/mcp/all", daemon.base_url))
        .args(["--transport", "http"])
        .args(args)
        .env("PATH", node_path())
        .env(
            "MCP_CATALOG_PATH",
            daemon.dir.path().join("inspector-catalog.json"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "inspector {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json_start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {stdout}"));
    serde_json::from_str(&stdout[json_start..]).unwrap()
}

fn python(args: &[&str]) -> Value {
    python_with(&[], args)
}

/// The Python SDK client (`tests/clients/py_client.py`) with `envs`: its JSON line.
pub fn python_with(envs: &[(&str, &str)], args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/py_client.py");
    let out = Command::new(tools_dir().join("venv/bin/python"))
        .arg(script)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn inspector_cli_sees_and_calls_server_everything_through_mcp_all() {
    let daemon = everything_daemon();
    let tools = inspector(&daemon, &["--method", "tools/list"]);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"everything__echo"), "{names:?}");
    let result = inspector(
        &daemon,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "everything__echo",
            "--tool-arg",
            "message=through the proxy",
        ],
    );
    assert!(result.to_string().contains("through the proxy"), "{result}");
}

#[test]
fn inspector_cli_lists_resources_and_prompts_through_mcp_all() {
    let daemon = everything_daemon();
    let resources = inspector(&daemon, &["--method", "resources/list"]);
    let uris: Vec<&str> = resources["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no resources: {resources}"))
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&"demo://resource/static/document/architecture.md"),
        "{uris:?}"
    );
    let prompts = inspector(&daemon, &["--method", "prompts/list"]);
    let names: Vec<&str> = prompts["prompts"]
        .as_array()
        .unwrap_or_else(|| panic!("no prompts: {prompts}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"everything__simple-prompt"), "{names:?}");
    let templates = inspector(&daemon, &["--method", "resources/templates/list"]);
    assert!(
        templates
            .to_string()
            .contains("demo://resource/dynamic/text/{resourceId}"),
        "{templates}"
    );
}

#[test]
fn python_sdk_calls_server_everything_through_mcp_and_through_the_stdio_bridge() {
    let daemon = everything_daemon();
    let args = json!({"name": "everything:echo", "args": {"message": "from python"}}).to_string();
    let url = format!("{}/mcp", daemon.base_url);
    let over_http = python(&["http", &url, "call_tool", &args]);
    let tools = over_http["tools"].to_string();
    for tool in ["retrieve_tools", "call_tool", "upstream_servers"] {
        assert!(tools.contains(tool), "{tools}");
    }
    assert!(
        over_http["result"].to_string().contains("from python"),
        "{over_http}"
    );

    let bridge_args =
        json!({"name": "everything:echo", "args": {"message": "via stdio bridge"}}).to_string();
    let mut args = vec!["stdio", "call_tool", &bridge_args, "--"];
    let bridge = daemon.bridge_command("/mcp");
    args.extend(bridge.iter().map(String::as_str));
    let over_stdio = python(&args);
    assert!(
        over_stdio["result"]
            .to_string()
            .contains("via stdio bridge"),
        "{over_stdio}"
    );
}

/// `GET /metrics` parses with the Prometheus client's OpenMetrics parser, and counts what
/// happened: one server auto-disabled by one `should-disable` decision.
#[test]
fn prometheus_parser_reads_the_metrics() {
    let config = json!({
        "policy": {"settings": {"deterministic_failures": 1}},
        "mcpServers": [{"name": "missing", "command": "/nonexistent/mcpproxy-test-command"}],
    });
    let daemon = Daemon::start(config, &[]);
    daemon.wait_state("missing", "Auto-Disabled", Duration::from_secs(30));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/prom_scrape.py");
    let out = Command::new(tools_dir().join("venv/bin/python"))
        .arg(script)
        .arg(format!("{}/metrics", daemon.base_url))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scrape: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scraped: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        scraped["content_type"]
            .as_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{scraped}"
    );
    let samples = &scraped["samples"];
    assert_eq!(
        samples["mcpproxy_servers{state=Auto-Disabled}"], 1.0,
        "{samples}"
    );
    assert_eq!(
        samples["mcpproxy_policy_decisions_total{hook=should-disable,outcome=ok}"], 1.0,
        "{samples}"
    );
    assert_eq!(
        samples["mcpproxy_policy_fallbacks_total{}"], 0.0,
        "{samples}"
    );
    assert_eq!(
        samples["mcpproxy_policy_decision_duration_seconds_count{}"],
        1.0
    );
    assert_eq!(samples["mcpproxy_config_syncs_total{}"], 1.0, "{samples}");
}
