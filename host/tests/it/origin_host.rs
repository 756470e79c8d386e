//! Host and Origin against the real daemon: a page that rebinds its DNS name to 127.0.0.1
//! (`Host: evil.example`) is refused on every route, health and status included; a browser
//! page from another origin (`Origin: http://evil.example`, `Origin: null`) is refused on every
//! MCP endpoint; an origin the config lists is let in, and an edit of `allowed_origins`
//! applies to the next request.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// One HTTP/1.1 request with `headers` (a `Host` among them, or none): status and body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_request(addr, method, path, headers, body);
    (status, body)
}

fn mcp_paths() -> [&'static str; 3] {
    ["/mcp", "/mcp/all", "/mcp/server/a"]
}

#[test]
fn a_foreign_host_or_origin_is_refused_everywhere_and_a_listed_origin_is_let_in() {
    let daemon = Daemon::start(
        json!({"allowed_origins": ["http://localhost:6274/"], "mcpServers": [fixture_server("a", "healthy")]}),
        &[],
    );
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let host = ("Host", addr.as_str());

    // Every route answers its own clients.
    for path in ["/healthz", "/readyz", "/status", "/metrics"] {
        assert_eq!(request(&addr, "GET", path, &[host], "").0, 200, "{path}");
    }
    for path in mcp_paths() {
        assert_eq!(
            request(&addr, "POST", path, &[host], INITIALIZE).0,
            200,
            "{path}"
        );
    }

    // DNS rebinding: a Host that is not this daemon's, on every route.
    let evil_host = ("Host", "evil.example");
    for path in ["/healthz", "/readyz", "/status", "/metrics"] {
        let (status, body) = request(&addr, "GET", path, &[evil_host], "");
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("evil.example"), "{path}: {body}");
        assert!(
            !body.contains(&daemon.pid().to_string()),
            "{path} leaks: {body}"
        );
    }
    for path in mcp_paths() {
        let (status, body) = request(&addr, "POST", path, &[evil_host], INITIALIZE);
        assert_eq!(status, 403, "{path}: {body}");
    }

    // Foreign origins on every MCP endpoint: 403 with a JSON-RPC error that says what to do.
    for origin in ["http://evil.example", "null", "http://localhost:6275"] {
        for path in mcp_paths() {
            let (status, body) =
                request(&addr, "POST", path, &[host, ("Origin", origin)], INITIALIZE);
            assert_eq!(status, 403, "{origin} {path}: {body}");
            let error: Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert_eq!(error["error"]["code"], -32600, "{body}");
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains("allowed_origins"), "{message}");
        }
    }
    // The listed origin and the daemon's own are let in.
    let own = daemon.base_url.clone();
    for origin in ["http://localhost:6274", own.as_str()] {
        for path in mcp_paths() {
            let (status, body) =
                request(&addr, "POST", path, &[host, ("Origin", origin)], INITIALIZE);
            assert_eq!(status, 200, "{origin} {path}: {body}");
        }
    }

    // An edit of `allowed_origins` applies to the next request.
    let mut config = read_json(daemon.config_path());
    config["allowed_origins"] = json!(["http://evil.example"]);
    save_atomically(daemon.config_path(), &config);
    let evil_origin = ("Origin", "http://evil.example");
    wait_for(
        Duration::from_secs(20),
        "the edit to let the origin in",
        || {
            (request(&addr, "POST", "/mcp/all", &[host, evil_origin], INITIALIZE).0 == 200)
                .then_some(())
        },
    );
    let (status, _) = request(
        &addr,
        "POST",
        "/mcp",
        &[host, ("Origin", "http://localhost:6274")],
        INITIALIZE,
    );
    assert_eq!(status, 403, "the origin the edit removed is refused again");
}

#[test]
fn an_allowed_origin_that_is_not_an_origin_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    std::fs::write(
        &config,
        r#"{"allowed_origins": ["http://localhost:6274/app"]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(MCPPROXY)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("allowed_origins")
            && stderr.contains("entry 0")
            && stderr.contains("has a path"),
        "{stderr}"
    );
}
