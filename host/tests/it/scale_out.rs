//! Several daemons with the same config behind any load balancer: a 2026-07-28 request needs
//! no session, so one client can send each request to another daemon and every one is
//! served. A 2025-11-25 session lives in the daemon that opened it: its requests must keep
//! going there (stickiness on `Mcp-Session-Id`), and another daemon says it does not know it.

use std::time::Duration;

use crate::common::*;
use serde_json::json;

#[test]
fn a_stateless_client_is_served_by_whichever_daemon_it_reaches() {
    let config = json!({"mcpServers": [fixture_server("echo", "healthy")]});
    let daemons = [
        Daemon::start(config.clone(), &[]),
        Daemon::start(config, &[]),
    ];
    for daemon in &daemons {
        daemon.wait_state("echo", "Ready", Duration::from_secs(30));
    }
    let urls: Vec<String> = daemons
        .iter()
        .map(|d| format!("{}/mcp/all", d.base_url))
        .collect();

    for i in 0..20u64 {
        // Alternating, as a round-robin balancer sends them.
        let url = &urls[i as usize % 2];
        if i % 4 == 0 {
            let listed = mcp_stateless(url, i, "tools/list", json!({}));
            let tools = listed["result"]["tools"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                tools.iter().any(|t| t["name"] == "echo__echo"),
                "request {i} to {url}: {listed}"
            );
        } else {
            let text = format!("request {i}");
            let params = json!({"name": "echo__echo", "arguments": {"text": text}});
            let answer = mcp_stateless(url, i, "tools/call", params);
            assert_eq!(
                answer["result"]["content"][0]["text"], text,
                "request {i} to {url}: {answer}"
            );
        }
    }

    // A session opened on one daemon is unknown to the other: a balancer must keep it there.
    let addr = |d: &Daemon| d.base_url.trim_start_matches("http://").to_string();
    let (_stream, session) = mcp_session(&addr(&daemons[0]), "/mcp/all");
    let mut other =
        std::io::BufReader::new(std::net::TcpStream::connect(addr(&daemons[1])).unwrap());
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let (status, _, body) = mcp_post(&mut other, "/mcp/all", list, Some(&session));
    assert!(status.contains(" 404 "), "{status}: {body}");
}
