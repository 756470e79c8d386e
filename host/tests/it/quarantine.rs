//! Quarantine against the real daemon: a server marked `quarantined` in the config, or added
//! by a client, is connected and inspected but shows nothing (no tools on `/mcp/all`, no hits
//! in `retrieve_tools`, no calls, no `/mcp/server/<name>`) until `mcpproxy upstream approve`;
//! approving applies without a reconnect and is written to the file.

use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::daemon_e2e::listed_tools;

const READY: Duration = Duration::from_secs(30);

fn said(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn a_quarantined_server_shows_nothing_until_approved() {
    let mut held = fixture_server("q", "healthy");
    held["quarantined"] = json!(true);
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("a", "healthy"), held]}),
        &[],
    );
    daemon.wait_state("a", "Ready", READY);
    // Connected and inspected: Ready, with the tools approval would show.
    let q = daemon.wait_state("q", "Ready", READY);
    assert_eq!(q["quarantined"], true, "{q}");
    assert_eq!(q["tool_count"], 3, "{q}");
    let pid = q["pid"].clone();

    assert_eq!(listed_tools(&daemon), ["a__add", "a__echo", "a__sleep"]);
    let search = call_tool_json(&daemon, "retrieve_tools", json!({"query": "echo"}));
    assert!(search.to_string().contains("a:echo"), "{search}");
    assert!(!search.to_string().contains("q:echo"), "{search}");
    let call = daemon.cli_output(&[
        "call",
        "tool",
        "--tool-name=call_tool",
        r#"--json_args={"name": "q:echo", "args": {"text": "x"}}"#,
    ]);
    assert!(!call.status.success());
    let (status, _) = http_post(
        &format!("{}/mcp/server/q", daemon.base_url),
        "application/json",
        br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#.to_vec(),
    );
    assert_eq!(status, 404, "/mcp/server/q while quarantined");
    let table = daemon.cli(&["upstream", "list"]);
    assert!(
        table.contains("quarantined: nothing shown until `mcpproxy upstream approve q`"),
        "{table}"
    );

    // Approved: shown at once, same process, and the file says so.
    let out = daemon.cli(&["upstream", "approve", "q"]);
    assert!(out.contains("approved q"), "{out}");
    wait_for(Duration::from_secs(20), "q's tools to be listed", || {
        (listed_tools(&daemon).len() == 6).then_some(())
    });
    let q = daemon.server("q");
    assert_eq!(
        (q["quarantined"].clone(), q["pid"].clone()),
        (json!(false), pid),
        "{q}"
    );
    assert_eq!(
        read_json(daemon.config_path())["mcpServers"][1]["quarantined"],
        false
    );
    let answer = call_tool_json(
        &daemon,
        "call_tool",
        json!({"name": "q:echo", "args": {"text": "trusted"}}),
    );
    assert!(answer.to_string().contains("trusted"), "{answer}");
    let again = daemon.cli_output(&["upstream", "approve", "q"]);
    assert!(!again.status.success());
    assert!(said(&again).contains("not quarantined"), "{}", said(&again));

    // A file edit quarantines a running server in place.
    let mut config = read_json(daemon.config_path());
    config["mcpServers"][0]["quarantined"] = json!(true);
    save_atomically(daemon.config_path(), &config);
    wait_for(Duration::from_secs(20), "a to be hidden", || {
        (listed_tools(&daemon) == ["q__add", "q__echo", "q__sleep"]).then_some(())
    });
}

/// `upstream_servers add` of `entry`, as a client sends it.
fn add(daemon: &Daemon, entry: serde_json::Value) {
    call_tool_json(
        daemon,
        "upstream_servers",
        json!({"operation": "add", "server": entry}),
    );
}

#[test]
fn a_server_a_client_adds_is_quarantined_unless_the_config_says_otherwise() {
    let daemon = Daemon::start(json!({"mcpServers": []}), &[]);
    // The entry's own claim does not count.
    let mut entry = fixture_server("n", "healthy");
    entry["quarantined"] = json!(false);
    add(&daemon, entry);
    let n = daemon.wait_state("n", "Ready", READY);
    assert_eq!(n["quarantined"], true, "{n}");
    assert!(listed_tools(&daemon).is_empty());
    assert_eq!(
        read_json(daemon.config_path())["mcpServers"][0]["quarantined"],
        true
    );

    let mut config = read_json(daemon.config_path());
    config["quarantine_new_servers"] = json!(false);
    save_atomically(daemon.config_path(), &config);
    wait_for(Duration::from_secs(20), "the edit to apply", || {
        daemon
            .main_log()
            .contains("quarantine_new_servers=false")
            .then_some(())
    });
    let entry = fixture_server("m", "healthy");
    add(&daemon, entry);
    let m = daemon.wait_state("m", "Ready", READY);
    assert_eq!(m["quarantined"], false, "{m}");
    assert_eq!(listed_tools(&daemon), ["m__add", "m__echo", "m__sleep"]);
}
