//! Token profiles against the real daemon: a token made with `--servers` and `--tools` sees,
//! on every endpoint and through every route (lists, calls, search, resources, prompts,
//! `/mcp/server/<name>`, `upstream_servers`), only what its profile allows, as if nothing
//! else were configured; `/status` and `/metrics` refuse it; a token without a profile still
//! sees everything.

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::common::*;

/// A fixture server `name` that also offers one resource and one prompt.
fn rich_server(name: &str) -> Value {
    let mut server = fixture_server(name, "healthy");
    let args = server["args"].as_array_mut().unwrap();
    args.extend(["--resources", "1", "--prompts", "1"].map(|a| json!(a)));
    server
}

/// A daemon on a config file (tokens on) with servers `a`, `b` and `shell`.
fn daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    let config = json!({"listen": "127.0.0.1:0", "mcpServers": [
        rich_server("a"), rich_server("b"), rich_server("shell"),
    ]});
    std::fs::write(&path, config.to_string()).unwrap();
    let daemon = Daemon::start_on(dir, path, &[]);
    for name in ["a", "b", "shell"] {
        daemon.wait_state(name, "Ready", Duration::from_secs(30));
    }
    daemon
}

fn create_token(daemon: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend(args);
    let out = daemon.cli_output(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `mcpproxy call tool TOOL ARGS --token TOKEN`: its JSON answer, or its error text.
fn meta_call(daemon: &Daemon, token: &str, tool: &str, args: Value) -> Result<Value, String> {
    let out = daemon.cli_output(&[
        "call",
        "tool",
        &format!("--tool-name={tool}"),
        &format!("--json_args={args}"),
        "--token",
        token,
    ]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{tool}: {e}: {stdout}")))
}

/// What a real MCP client with `token` sees on `path`: tool, resource and prompt names, and
/// its calls of `a__echo` and `a__add`.
struct Seen {
    tools: Vec<String>,
    resources: Vec<String>,
    prompts: Vec<String>,
    echo_a: Result<String, String>,
    add_a: Result<String, String>,
}

fn look(daemon: &Daemon, path: &str, token: &str) -> Seen {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config =
            StreamableHttpClientTransportConfig::with_uri(format!("{}{path}", daemon.base_url))
                .auth_header(token);
        let client = ().serve(StreamableHttpClientTransport::from_config(config)).await;
        let client = client.unwrap_or_else(|e| panic!("connect to {path}: {e}"));
        let peer = client.peer();
        let names = |v: Vec<String>| {
            let mut v = v;
            v.sort();
            v
        };
        let tools = peer.list_all_tools().await.unwrap();
        let resources = peer.list_all_resources().await.unwrap();
        let prompts = peer.list_all_prompts().await.unwrap();
        let call = |name: &str, args: Value| {
            let params = CallToolRequestParams::new(name.to_string())
                .with_arguments(args.as_object().unwrap().clone());
            async move {
                match peer.call_tool(params).await {
                    Ok(result) => Ok(format!("{:?}", result.content)),
                    Err(error) => Err(error.to_string()),
                }
            }
        };
        let echo_a = call("a__echo", json!({"text": "hi"})).await;
        let add_a = call("a__add", json!({"a": 1, "b": 2})).await;
        let seen = Seen {
            tools: names(tools.into_iter().map(|t| t.name.to_string()).collect()),
            resources: names(resources.into_iter().map(|r| r.uri.clone()).collect()),
            prompts: names(prompts.into_iter().map(|p| p.name.clone()).collect()),
            echo_a,
            add_a,
        };
        let _ = client.cancel().await;
        seen
    })
}

#[test]
fn a_token_with_a_profile_sees_only_its_servers_and_tools() {
    let daemon = daemon();
    let admin = daemon.token().unwrap();
    let limited = create_token(
        &daemon,
        &[
            "limited",
            "--scope",
            "admin",
            "--servers",
            "a,b",
            "--tools",
            "a:echo,b:*",
        ],
    );

    // /mcp/all: a's echo and every tool of b; resources and prompts of a and b; shell never.
    let seen = look(&daemon, "/mcp/all", &limited);
    assert_eq!(seen.tools, ["a__echo", "b__add", "b__echo", "b__sleep"]);
    assert_eq!(
        seen.resources,
        ["fixture://a/resource/0", "fixture://b/resource/0"]
    );
    assert_eq!(seen.prompts, ["a__prompt_0", "b__prompt_0"]);
    assert!(
        seen.echo_a.as_ref().is_ok_and(|t| t.contains("hi")),
        "{:?}",
        seen.echo_a
    );
    let refused = seen.add_a.unwrap_err();
    assert!(refused.contains("unknown tool"), "{refused}");

    // The same daemon, to a token without a profile: everything.
    let whole = look(&daemon, "/mcp/all", &admin);
    assert_eq!(whole.tools.len(), 9, "{:?}", whole.tools);
    assert_eq!(whole.resources.len(), 3);
    assert!(whole.add_a.is_ok());

    // /mcp/server/<name>: outside the profile it does not exist.
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let bearer = format!("Bearer {limited}");
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let post = |path: &str, bearer: &str| {
        let headers = [
            ("Host", addr.as_str()),
            ("Authorization", bearer),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        http_request(&addr, "POST", path, &headers, initialize)
    };
    let (status, _, outside) = post("/mcp/server/shell", &bearer);
    assert_eq!(status, 404, "{outside}");
    let (status, _, missing) = post("/mcp/server/nope", &bearer);
    assert_eq!((status, &outside), (404, &missing.replace("nope", "shell")));
    assert_eq!(post("/mcp/server/shell", &format!("Bearer {admin}")).0, 200);
    let one = look(&daemon, "/mcp/server/a", &limited);
    assert_eq!(one.tools, ["echo"]);

    // /status and /metrics tell of every server: refused.
    for path in ["/status", "/metrics"] {
        let headers = [("Host", addr.as_str()), ("Authorization", bearer.as_str())];
        let (status, _, body) = http_request(&addr, "GET", path, &headers, "");
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains("shell"), "{body}");
    }

    // /mcp: search, call_tool, resources, prompts and upstream_servers, all limited.
    let hits = meta_call(
        &daemon,
        &limited,
        "retrieve_tools",
        json!({"query": "echo"}),
    )
    .unwrap();
    let names: Vec<&str> = hits["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"a:echo") && names.contains(&"b:echo"),
        "{hits}"
    );
    assert!(!names.iter().any(|n| n.starts_with("shell:")), "{hits}");
    assert_eq!(hits["total_tools"], 4, "{hits}");
    let args = json!({"name": "shell:echo", "args": {"text": "x"}});
    let error = meta_call(&daemon, &limited, "call_tool", args).unwrap_err();
    assert!(
        error.contains("not available to token \"limited\""),
        "{error}"
    );
    let args = json!({"name": "b:echo", "args": {"text": "fine"}});
    let answer = meta_call(&daemon, &limited, "call_tool", args).unwrap();
    assert!(answer.to_string().contains("fine"), "{answer}");
    let listed = meta_call(&daemon, &limited, "list_resources", json!({})).unwrap();
    assert!(!listed.to_string().contains("fixture://shell"), "{listed}");
    let read = json!({"uri": "fixture://shell/resource/0"});
    let error = meta_call(&daemon, &limited, "read_resource", read).unwrap_err();
    assert!(error.contains("no Ready server has a resource"), "{error}");
    let prompt = json!({"name": "shell:prompt_0", "arguments": {"topic": "x"}});
    assert!(meta_call(&daemon, &limited, "get_prompt", prompt).is_err());

    let servers = meta_call(
        &daemon,
        &limited,
        "upstream_servers",
        json!({"operation": "list"}),
    )
    .unwrap();
    let names: Vec<&str> = servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"], "{servers}");
    assert_eq!(servers["summary"]["total"], 2, "{servers}");
    let disable = json!({"operation": "disable", "name": "shell"});
    let error = meta_call(&daemon, &limited, "upstream_servers", disable).unwrap_err();
    assert!(error.contains("not available"), "{error}");
    assert_eq!(daemon.server("shell")["connection_state"], "Ready");
    let disable = json!({"operation": "disable", "name": "b"});
    meta_call(&daemon, &limited, "upstream_servers", disable).expect("b is in the profile");
    daemon.wait_state("b", "Disabled", Duration::from_secs(10));

    // The token list says what each token sees; a bad pattern says how to write one.
    let list = daemon.cli(&["token", "list"]);
    let line = list.lines().find(|l| l.starts_with("limited")).unwrap();
    assert!(line.ends_with("servers a, b; tools a:echo, b:*"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("admin") && l.ends_with("everything"))
    );
    let out = daemon.cli_output(&["token", "create", "bad", "--tools", "echo"]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("token \"bad\"") && error.contains("server:tool"),
        "{error}"
    );
}
