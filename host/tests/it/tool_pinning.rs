//! Tool pinning against the real daemon: a server's tools are recorded on first sight in
//! `<data_dir>/approved-tools.json`; a tool whose description changes afterwards (a "rug pull",
//! the fixture's `rewrite_echo`) is hidden by the embedded default policy's `review-tools`,
//! with its reason in `upstream list`, the status and the metrics, and calls to it are refused
//! until `mcpproxy upstream approve`, which is kept across a restart. A user's edit of a server's
//! command, or its removal, drops its record.

use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::daemon_e2e::listed_tools;

const READY: Duration = Duration::from_secs(30);

fn echo_call(daemon: &Daemon) -> std::process::Output {
    daemon.cli_output(&[
        "call",
        "tool",
        "--tool-name=call_tool",
        r#"--json_args={"name": "s:echo", "args": {"text": "hi"}}"#,
    ])
}

fn said(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn a_tool_changed_after_approval_is_hidden_until_approved_again() {
    let mut daemon = Daemon::start(json!({"mcpServers": [fixture_server("s", "healthy")]}), &[]);
    daemon.wait_state("s", "Ready", READY);
    // First sight: the tools are recorded as approved, each with its hash.
    let approvals = daemon.data_dir.join("approved-tools.json");
    let recorded = wait_for(READY, "s's tools in approved-tools.json", || {
        let file = std::fs::read(&approvals).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&file).ok()?;
        (!v["servers"]["s"].is_null()).then_some(v)
    });
    assert!(recorded.to_string().contains("echo"), "{recorded}");
    assert_eq!(listed_tools(&daemon), ["s__add", "s__echo", "s__sleep"]);

    // The server rewrites echo's description and says its list changed.
    let out = daemon.cli(&[
        "call",
        "tool",
        "--tool-name=call_tool",
        r#"--json_args={"name": "s:rewrite_echo"}"#,
    ]);
    assert!(out.contains("echo rewritten"), "{out}");
    let s = wait_for(READY, "echo to be hidden", || {
        let s = daemon.server("s");
        (s["hidden_tools"].as_array().is_some_and(|h| !h.is_empty())).then_some(s)
    });
    let hidden = &s["hidden_tools"][0];
    assert_eq!(hidden["name"], "echo", "{s}");
    let reason = hidden["reason"].as_str().unwrap();
    assert!(
        reason.contains("description changed since approval")
            && reason.contains("mcpproxy upstream approve s"),
        "{reason}"
    );
    assert_eq!(listed_tools(&daemon), ["s__add", "s__sleep"]);
    let refused = echo_call(&daemon);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(
        said(&refused).contains("tool echo of server s is hidden"),
        "{}",
        said(&refused)
    );
    let table = daemon.cli(&["upstream", "list"]);
    assert!(
        table.contains("tool echo hidden: description changed since approval"),
        "{table}"
    );
    assert_eq!(
        daemon.servers()["summary"]["tools_awaiting_approval"],
        1,
        "{}",
        daemon.servers()
    );
    let metrics = daemon.get("/metrics").unwrap();
    assert!(
        metrics.contains("mcpproxy_tools_awaiting_approval 1"),
        "{metrics}"
    );

    // Approved as it is now: shown again, callable, and the approval survives a restart.
    let out = daemon.cli(&["upstream", "approve", "s"]);
    assert!(out.contains("1 hidden tool(s) shown"), "{out}");
    wait_for(READY, "echo to be listed again", || {
        (listed_tools(&daemon) == ["s__add", "s__echo", "s__sleep"]).then_some(())
    });
    let call = echo_call(&daemon);
    assert!(call.status.success(), "{}", said(&call));
    assert!(daemon.servers()["summary"]["tools_awaiting_approval"] == 0);

    // After a restart the fixture offers its original echo again, which differs from the
    // approved (rewritten) one: hidden again, so the pin held across the restart.
    daemon.restart();
    daemon.wait_state("s", "Ready", READY);
    let s = wait_for(READY, "echo hidden after restart", || {
        let s = daemon.server("s");
        (s["hidden_tools"].as_array().is_some_and(|h| h.len() == 1)).then_some(s)
    });
    assert_eq!(s["hidden_tools"][0]["name"], "echo", "{s}");
}

#[test]
fn editing_or_removing_a_server_drops_its_approval() {
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("s", "healthy")]}), &[]);
    daemon.wait_state("s", "Ready", READY);
    let before = daemon.server("s")["pid"].clone();
    let mut config = read_json(&daemon.config);
    config["mcpServers"][0]["args"]
        .as_array_mut()
        .unwrap()
        .extend([json!("--tools"), json!("2")]);
    save_atomically(&daemon.config, &config);
    let s = wait_for(READY, "s to restart with two more tools", || {
        let s = daemon.server("s");
        (s["pid"] != before && s["connection_state"] == "Ready").then_some(s)
    });
    assert_eq!(s["tool_count"], 5, "{s}");
    // Nothing hidden (the field is left out when empty), and the new tools are on record
    // (tools recorded as seen are written within half a second).
    assert!(s["hidden_tools"].is_null(), "{s}");
    wait_for(READY, "the five tools to be on record", || {
        let file = std::fs::read(daemon.data_dir.join("approved-tools.json")).ok()?;
        let approvals: serde_json::Value = serde_json::from_slice(&file).ok()?;
        let recorded = approvals["servers"]["s"].as_object().map(|t| t.len());
        (recorded == Some(5)).then_some(())
    });

    // Removed from the config: its record goes too.
    config["mcpServers"] = json!([]);
    save_atomically(&daemon.config, &config);
    wait_for(READY, "s's approval to be dropped", || {
        let approvals = read_json(&daemon.data_dir.join("approved-tools.json"));
        approvals["servers"]["s"].is_null().then_some(())
    });
}
