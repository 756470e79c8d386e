//! Tokens against the real daemon, on a config file that leaves `auth` at its default: every
//! route but health needs a token, a wrong or missing one gets 401 and nothing else, a `read`
//! token may use servers but not change them, tokens survive a restart, a revoked one stops
//! working with the next request, and the CLI, the stdio bridge and a real SDK client reach the
//! daemon with them. `auth: none` is honoured only on loopback.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::daemon_real_clients::python_with;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// A daemon on a config file (tokens on: the default) with one healthy server `a`.
fn daemon_with_tokens(extra: Value) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    let mut config =
        json!({"listen": "127.0.0.1:0", "mcpServers": [fixture_server("a", "healthy")]});
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    std::fs::write(&path, config.to_string()).unwrap();
    let daemon = Daemon::start_on(dir, path, &[]);
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    daemon
}

fn addr(daemon: &Daemon) -> String {
    daemon.base_url.trim_start_matches("http://").to_string()
}

/// `method path` with `token` (if any): status, headers, body.
fn send(
    daemon: &Daemon,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<String>, String) {
    let addr = addr(daemon);
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Host", addr.as_str())];
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer.as_str()));
    }
    let body = if method == "POST" { INITIALIZE } else { "" };
    http_request(&addr, method, path, &headers, body)
}

const GUARDED: [(&str, &str); 6] = [
    ("POST", "/mcp"),
    ("POST", "/mcp/all"),
    ("POST", "/mcp/server/a"),
    ("GET", "/status"),
    ("GET", "/metrics"),
    ("GET", "/"),
];

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `mcpproxy ARGS` against `daemon`, with `token` as `--token` if given.
fn cli_with(daemon: &Daemon, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    if let Some(token) = token {
        all.extend(["--token", token]);
    }
    daemon.cli_output(&all)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_route_but_health_needs_a_valid_token_and_a_refusal_reveals_nothing() {
    let daemon = daemon_with_tokens(json!({}));
    let admin = daemon.token().expect("the first run made an admin token");
    assert!(admin.starts_with("mcpp_"), "{admin}");
    assert_eq!(mode(&daemon.data_dir.join("admin-token")), 0o600);
    assert_eq!(mode(&daemon.data_dir.join("tokens.json")), 0o600);
    let stored = std::fs::read_to_string(daemon.data_dir.join("tokens.json")).unwrap();
    assert!(!stored.contains(&admin), "tokens.json keeps hashes only");
    let log = daemon.main_log();
    assert!(log.contains("created the admin token in"), "{log}");
    assert!(!log.contains(&admin), "the token is never logged");

    for (method, path) in GUARDED {
        let (status, headers, body) = send(&daemon, method, path, None);
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert!(
            headers.contains(&r#"www-authenticate: bearer realm="mcpproxy""#.to_string()),
            "{method} {path}: {headers:?}"
        );
        // Nothing about the daemon: no servers, pids, paths or versions.
        for secret in ["\"a\"", "pid", "tmp", env!("CARGO_PKG_VERSION"), "tool"] {
            assert!(
                !body.contains(secret),
                "{method} {path} revealed {secret}: {body}"
            );
        }
        let (status, headers, _) = send(&daemon, method, path, Some("mcpp_not-a-token"));
        assert_eq!(status, 401, "{method} {path}");
        assert!(
            headers
                .iter()
                .any(|h| h.contains(r#"error="invalid_token""#)),
            "{method} {path}: {headers:?}"
        );
        let (status, _, body) = send(&daemon, method, path, Some(&admin));
        let want = if path == "/" { 404 } else { 200 };
        assert_eq!(status, want, "{method} {path} with the admin token: {body}");
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(send(&daemon, "GET", path, None).0, 200, "{path}");
    }

    // The CLI finds the admin token by itself; a wrong one is named as such.
    let status = daemon.cli(&["status"]);
    assert!(status.contains("servers"), "{status}");
    let listed = daemon.servers();
    assert_eq!(listed["servers"][0]["name"], "a", "{listed}");
    // Both ways the CLI reaches the daemon: `/status` and an MCP session.
    assert_token_refused(&cli_with(&daemon, Some("mcpp_wrong"), &["status"]));
    assert_token_refused(&cli_with(
        &daemon,
        Some("mcpp_wrong"),
        &["upstream", "list"],
    ));
}

/// `out` is a failed command that says its token was refused.
fn assert_token_refused(out: &std::process::Output) {
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("401") && error.contains("not accepted"),
        "{error}"
    );
}

#[test]
fn a_read_token_uses_servers_but_cannot_change_them_and_a_revoked_one_stops_at_once() {
    let mut daemon = daemon_with_tokens(json!({}));
    let out = daemon.cli_output(&["token", "create", "ci", "--scope", "read"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = text(&out.stdout).trim().to_string();
    assert!(read.starts_with("mcpp_"), "{read}");
    assert!(text(&out.stderr).contains("not shown again"));

    // Reading: lists, calls and status.
    assert_eq!(send(&daemon, "POST", "/mcp/all", Some(&read)).0, 200);
    assert_eq!(send(&daemon, "GET", "/status", Some(&read)).0, 200);
    let out = cli_with(&daemon, Some(&read), &["upstream", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let call = cli_with(
        &daemon,
        Some(&read),
        &[
            "call",
            "tool",
            "--tool-name=call_tool",
            r#"--json_args={"name":"a:echo","args":{"text":"hi"}}"#,
        ],
    );
    assert!(call.status.success(), "{}", text(&call.stderr));

    // Changing: refused for read, naming what is needed; done for admin.
    let add = json!({"operation": "add", "name": "b", "server": {"command": "/bin/sh", "args": ["-c", "exit 1"]}});
    let add_args = format!("--json_args={add}");
    let refused = cli_with(
        &daemon,
        Some(&read),
        &["call", "tool", "--tool-name=upstream_servers", &add_args],
    );
    assert!(!refused.status.success());
    let error = text(&refused.stderr);
    assert!(
        error.contains("scope admin") && error.contains("\"ci\""),
        "{error}"
    );
    assert!(daemon.server("b").is_null(), "nothing was added");
    for operation in ["disable", "restart", "remove"] {
        let args = format!(
            "--json_args={}",
            json!({"operation": operation, "name": "a"})
        );
        let out = cli_with(
            &daemon,
            Some(&read),
            &["call", "tool", "--tool-name=upstream_servers", &args],
        );
        assert!(!out.status.success(), "{operation} with a read token");
    }
    assert_eq!(daemon.server("a")["connection_state"], "Ready");
    let added = call_tool_json(&daemon, "upstream_servers", add);
    assert_eq!(added["name"], "b", "{added}");
    assert!(!daemon.server("b").is_null());

    // The token list shows names and scopes, never tokens.
    let listed = daemon.cli(&["token", "list"]);
    assert!(
        listed.contains("admin") && listed.contains("ci") && listed.contains("read"),
        "{listed}"
    );
    assert!(!listed.contains(&read));

    // Tokens survive a restart.
    let admin = daemon.token().unwrap();
    daemon.restart();
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    assert_eq!(
        daemon.token().as_deref(),
        Some(admin.as_str()),
        "the same admin token"
    );
    assert_eq!(send(&daemon, "POST", "/mcp/all", Some(&read)).0, 200);

    // Revoked: the very next request is refused; others keep working.
    let out = daemon.cli_output(&["token", "revoke", "ci"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(send(&daemon, "POST", "/mcp/all", Some(&read)).0, 401);
    assert_eq!(send(&daemon, "GET", "/status", Some(&read)).0, 401);
    assert_eq!(send(&daemon, "GET", "/status", Some(&admin)).0, 200);
    let again = daemon.cli_output(&["token", "revoke", "ci"]);
    assert!(
        text(&again.stderr).contains("no token named \"ci\""),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn real_clients_reach_the_daemon_with_tokens() {
    let daemon = daemon_with_tokens(json!({}));
    let admin = daemon.token().unwrap();
    let url = format!("{}/mcp/all", daemon.base_url);
    let args = json!({"text": "sdk"}).to_string();
    let answer = python_with(&[("MCP_TOKEN", &admin)], &["http", &url, "a__echo", &args]);
    assert!(answer["result"].to_string().contains("sdk"), "{answer}");

    // `mcpproxy stdio` sends the admin token by itself.
    let bridge = daemon.bridge_command("/mcp/all");
    let mut command = vec!["stdio", "a__echo", &args, "--"];
    command.extend(bridge.iter().map(String::as_str));
    let answer = python_with(&[], &command);
    assert!(answer["result"].to_string().contains("sdk"), "{answer}");

    // With a wrong token the bridge says so at once instead of leaving the client waiting.
    let out = Command::new(&bridge[0])
        .args(&bridge[1..])
        .args(["--token", "mcpp_wrong"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert_token_refused(&out);
}

#[test]
fn auth_none_is_for_loopback_only_and_metrics_can_be_opened_alone() {
    // On loopback, `auth: none` serves without a token, and says so.
    let open = daemon_with_tokens(json!({"auth": "none"}));
    assert_eq!(send(&open, "POST", "/mcp/all", None).0, 200);
    assert_eq!(send(&open, "GET", "/status", None).0, 200);
    let log = open.main_log();
    assert!(log.contains("`auth: none`"), "{log}");
    drop(open);

    // Not on every interface: the daemon refuses to start, naming the key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    std::fs::write(&path, r#"{"auth": "none", "mcpServers": []}"#).unwrap();
    let out = Command::new(MCPPROXY)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .args(["--config".as_ref(), path.as_os_str()])
        .args(["--data-dir".as_ref(), dir.path().join("data").as_os_str()])
        .args(["--log-dir".as_ref(), dir.path().join("logs").as_os_str()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains("`auth: none` is allowed only on a loopback address"),
        "{error}"
    );
    std::fs::write(&path, r#"{"auth": "none", "listen": "0.0.0.0:0"}"#).unwrap();
    let out = Command::new(MCPPROXY)
        .arg("serve")
        .args(["--config".as_ref(), path.as_os_str()])
        .args(["--data-dir".as_ref(), dir.path().join("data").as_os_str()])
        .args(["--log-dir".as_ref(), dir.path().join("logs").as_os_str()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = text(&out.stderr);
    assert!(
        error.contains(r#"field "auth""#) && error.contains("loopback"),
        "{error}"
    );

    // A config edit opens `/metrics` alone, from the next request.
    let daemon = daemon_with_tokens(json!({}));
    assert_eq!(send(&daemon, "GET", "/metrics", None).0, 401);
    let mut document = read_json(daemon.config_path());
    document["metrics_auth"] = json!("none");
    save_atomically(daemon.config_path(), &document);
    wait_for(Duration::from_secs(10), "/metrics to open", || {
        (send(&daemon, "GET", "/metrics", None).0 == 200).then_some(())
    });
    assert_eq!(send(&daemon, "GET", "/status", None).0, 401);
    assert_eq!(send(&daemon, "POST", "/mcp", None).0, 401);
}
