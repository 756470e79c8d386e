//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, its server
//! scenarios) against the project's reference upstream (`tests/conformance/reference_server.py`,
//! which implements the tools, resources and prompts the scenarios call): first directly, then
//! through `/mcp/server/reference`, for what each revision requires (2025-11-25 at its wire, with
//! sessions; 2026-07-28 at its, stateless). The proxy speaks 2026-07-28 with the reference
//! upstream, so the 2025-11-25 run also exercises the translation between the two. Every
//! scenario that passes directly must pass through the proxy; `dns-rebinding-protection` must
//! pass on every endpoint. The tables are printed.

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

/// The revisions whose requirement sets are run.
const REVISIONS: [&str; 2] = ["2025-11-25", "2026-07-28"];

/// `run.py URL OUT --requirements REVISION [SCENARIO...]`: the suite's verdict per scenario.
fn run_suite(url: &str, out: &std::path::Path, revision: &str, scenarios: &[&str]) -> Value {
    let status = Command::new(python())
        .arg(conformance_dir().join("run.py"))
        .arg(url)
        .arg(out)
        .args(["--requirements", revision])
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

fn scored(results: &Value, scenario: &str) -> bool {
    results[scenario]["scored"] == true
}

#[test]
fn every_scenario_that_passes_directly_passes_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, url) = Reference::start();
    let direct: Vec<Value> = REVISIONS
        .iter()
        .map(|rev| {
            run_suite(
                &url,
                &dir.path().join(format!("direct-{rev}.json")),
                rev,
                &[],
            )
        })
        .collect();
    drop(reference);

    let config = json!({"mcpServers": [{
        "name": "reference",
        "command": python(),
        "args": [conformance_dir().join("reference_server.py"), "stdio"],
    }]});
    let daemon = Daemon::start(config, &[]);
    let reference = daemon.wait_state("reference", "Ready", Duration::from_secs(60));
    // The proxy talks to the reference server in the newest revision both speak.
    assert_eq!(reference["protocol_version"], "2026-07-28", "{reference}");
    let proxied_url = format!("{}/mcp/server/reference", daemon.base_url);

    let mut lost = Vec::new();
    for (revision, direct) in REVISIONS.iter().zip(&direct) {
        let out = dir.path().join(format!("proxied-{revision}.json"));
        let proxied = run_suite(&proxied_url, &out, revision, &[]);
        let scenarios: Vec<&String> = direct.as_object().unwrap().keys().collect();
        println!(
            "\n{revision}\n{:<46} {:<7} {:<8} proxied",
            "scenario", "scored", "direct"
        );
        for scenario in &scenarios {
            let (d, p) = (passed(direct, scenario), passed(&proxied, scenario));
            let word = |pass| if pass { "pass" } else { "FAIL" };
            let score = if scored(direct, scenario) {
                "yes"
            } else {
                "no"
            };
            println!("{scenario:<46} {score:<7} {:<8} {}", word(d), word(p));
            if d && !p {
                lost.push(format!(
                    "{revision} {scenario}: {}",
                    proxied[scenario.as_str()]
                ));
            }
        }
        // The reference server implements every scored scenario: one failing directly means
        // the reference server or the runner broke, not that the proxy is fine.
        let failing: Vec<&&String> = scenarios
            .iter()
            .filter(|s| scored(direct, s) && !passed(direct, s))
            .collect();
        assert!(failing.is_empty(), "{revision}: fail directly: {failing:?}");
        assert!(
            scenarios.len() >= 30,
            "{revision}: only {} scenarios",
            scenarios.len()
        );
    }
    assert!(
        lost.is_empty(),
        "pass directly, fail through the proxy:\n{}",
        lost.join("\n")
    );

    for path in ["/mcp", "/mcp/all", "/mcp/server/reference"] {
        for revision in REVISIONS {
            let url = format!("{}{path}", daemon.base_url);
            let out = dir.path().join("dns.json");
            let dns = run_suite(&url, &out, revision, &["dns-rebinding-protection"]);
            assert!(
                passed(&dns, "dns-rebinding-protection"),
                "{path} {revision}: {dns}"
            );
        }
    }
}
