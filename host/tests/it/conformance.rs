//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, its server
//! scenarios) against the project's reference upstream (`tests/conformance/reference_server.py`,
//! which implements the tools, resources and prompts the scenarios call): first directly, then
//! through `/mcp/server/reference`. Every scenario that passes directly must pass through the
//! proxy; `dns-rebinding-protection` must pass on every endpoint. The table is printed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn python() -> PathBuf {
    tools_dir().join("venv/bin/python")
}

/// `run.py URL OUT [SCENARIO...]`: the suite's verdict per scenario.
fn run_suite(url: &str, out: &std::path::Path, scenarios: &[&str]) -> Value {
    let status = Command::new(python())
        .arg(conformance_dir().join("run.py"))
        .arg(url)
        .arg(out)
        .args(scenarios)
        .env("PATH", node_path())
        .status()
        .unwrap();
    // 1 is "some failed": the document says which.
    assert!(
        matches!(status.code(), Some(0) | Some(1)),
        "run.py {url}: {status}"
    );
    read_json(out)
}

/// The reference server over streamable HTTP, answering.
struct Reference(Child);

impl Reference {
    fn start() -> (Reference, String) {
        let port = closed_port();
        let child = Command::new(python())
            .arg(conformance_dir().join("reference_server.py"))
            .args(["http", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/mcp");
        wait_for(
            Duration::from_secs(60),
            "the reference server to listen",
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        (Reference(child), url)
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn passed(results: &Value, scenario: &str) -> bool {
    results[scenario]["passed"] == true
}

#[test]
fn every_scenario_that_passes_directly_passes_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, url) = Reference::start();
    let direct = run_suite(&url, &dir.path().join("direct.json"), &[]);
    drop(reference);

    let config = json!({"mcpServers": [{
        "name": "reference",
        "command": python(),
        "args": [conformance_dir().join("reference_server.py"), "stdio"],
    }]});
    let daemon = Daemon::start(config, &[]);
    daemon.wait_state("reference", "Ready", Duration::from_secs(60));
    let proxied_url = format!("{}/mcp/server/reference", daemon.base_url);
    let proxied = run_suite(&proxied_url, &dir.path().join("proxied.json"), &[]);

    let scenarios: Vec<&String> = direct.as_object().unwrap().keys().collect();
    println!("{:<34} {:<8} proxied", "scenario", "direct");
    let mut lost = Vec::new();
    for scenario in &scenarios {
        let (d, p) = (passed(&direct, scenario), passed(&proxied, scenario));
        println!(
            "{scenario:<34} {:<8} {}",
            if d { "pass" } else { "FAIL" },
            if p { "pass" } else { "FAIL" }
        );
        if d && !p {
            lost.push(format!("{scenario}: {}", proxied[scenario.as_str()]));
        }
    }
    let direct_passes = scenarios.iter().filter(|s| passed(&direct, s)).count();
    // The reference server implements every scenario: a suite that passes few directly
    // means the reference server or the runner broke, not that the proxy is fine.
    assert!(
        direct_passes >= 30,
        "only {direct_passes} of {} scenarios pass directly: {direct}",
        scenarios.len()
    );
    assert!(
        lost.is_empty(),
        "pass directly, fail through the proxy:\n{}",
        lost.join("\n")
    );

    for path in ["/mcp", "/mcp/all", "/mcp/server/reference"] {
        let url = format!("{}{path}", daemon.base_url);
        let out = dir.path().join("dns.json");
        let dns = run_suite(&url, &out, &["dns-rebinding-protection"]);
        assert!(passed(&dns, "dns-rebinding-protection"), "{path}: {dns}");
    }
}
