//! `${env:NAME}` references in server entries against the real daemon: the value reaches the
//! server (its `args`), the file keeps the reference, and the value appears in nothing the
//! daemon shows or writes: status, `upstream list`, `/metrics`, `main.log`, a server's error
//! and the auto-disable reason it saves.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const SECRET: &str = "hunter2-7f3a9c";

#[test]
fn a_secret_reaches_its_server_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    // A stdio server named by the secret (it answers calls with its name), and an HTTP
    // server that cannot be reached, with the secret in its URL (reqwest puts URLs in its
    // errors).
    let mut named = fixture_server("named", "healthy");
    named["args"] = json!([
        "--transport",
        "stdio",
        "--name",
        "${env:MCPPROXY_TEST_SECRET}",
        "--tools",
        "1"
    ]);
    let unreachable = json!({
        "name": "remote",
        "url": format!("http://127.0.0.1:{}/mcp?token=${{env:MCPPROXY_TEST_SECRET}}", closed_port()),
    });
    let document = json!({"listen": "127.0.0.1:0", "mcpServers": [named, unreachable]});
    save_atomically(&config, &document);
    let daemon = Daemon::start_with_env(
        dir,
        config,
        &[],
        &[("MCPPROXY_TEST_SECRET", SECRET.as_ref())],
    );
    daemon.wait_state("named", "Ready", Duration::from_secs(30));
    let remote = wait_for(Duration::from_secs(60), "remote to fail", || {
        let s = daemon.server("remote");
        s["last_error"].is_string().then_some(s)
    });

    // The value reached the server.
    let answer = call_tool_json(&daemon, "call_tool", json!({"name": "named:tool_0"}));
    assert!(answer.to_string().contains(SECRET), "{answer}");

    // The error says which reference, never the value.
    let error = remote["last_error"].as_str().unwrap();
    assert!(error.contains("${env:MCPPROXY_TEST_SECRET}"), "{error}");
    // Everything the daemon shows or writes.
    let metrics = daemon.get("/metrics").unwrap();
    let shown: Vec<(&str, String)> = vec![
        ("status", daemon.status().to_string()),
        ("upstream list", daemon.cli(&["upstream", "list", "--json"])),
        ("status text", daemon.cli(&["status"])),
        ("metrics", metrics),
        ("main.log", daemon.main_log()),
        (
            "config file",
            std::fs::read_to_string(daemon.config_path()).unwrap(),
        ),
    ];
    for (what, text) in &shown {
        assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
    }
    let file: Value = read_json(daemon.config_path());
    assert!(
        file.to_string().contains("${env:MCPPROXY_TEST_SECRET}"),
        "the file keeps the reference: {file}"
    );
}

#[test]
fn an_unset_variable_is_a_config_error_naming_server_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    save_atomically(
        &config,
        &json!({"mcpServers": [{"name": "gh", "command": "x",
                                "env": {"TOKEN": "${env:MCPPROXY_SURELY_UNSET_VAR}"}}]}),
    );
    let out = std::process::Command::new(MCPPROXY)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("MCPPROXY_SURELY_UNSET_VAR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"mcpServers[0] "gh": field "env.TOKEN""#)
            && stderr.contains("MCPPROXY_SURELY_UNSET_VAR is not set"),
        "{stderr}"
    );
}
