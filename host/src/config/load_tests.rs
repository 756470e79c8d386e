//! Table-driven tests of `parse`: defaults, inference, and errors that name file, server, field.

use super::*;

fn p(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("mcp_config.json"), text)
}

#[test]
fn defaults_for_an_empty_object() {
    let c = p("{}").unwrap();
    assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(c.init_timeout, Duration::from_secs(30));
    assert_eq!(c.call_tool_timeout, Duration::from_secs(120));
    assert_eq!(c.tools_limit, 15);
    assert_eq!(c.tool_response_limit, 1 << 20);
    assert_eq!(
        p(r#"{"tool_response_limit": 0}"#)
            .unwrap()
            .tool_response_limit,
        0
    );
    assert_eq!(c.watch_debounce, Duration::from_millis(300));
    assert_eq!(c.health_check_interval, Duration::from_secs(30));
    assert_eq!(c.policy.limits.deadline, Duration::from_millis(10));
    assert_eq!(c.policy.limits.memory_limit, 16 * 1024 * 1024);
    assert_eq!(c.policy.settings, serde_json::json!({}));
    assert_eq!(c.policy, crate::config::PolicyConfig::default());
    assert_eq!(c.generation, 0);
    assert!(c.servers.is_empty());
}

#[test]
fn full_document() {
    let c = p(r#"{
        "listen": "127.0.0.1:9001", "data_dir": "/var/lib/mcpproxy", "init_timeout": "1m30s",
        "call_tool_timeout": 5, "tools_limit": 7, "watch_debounce_ms": 50,
        "health_check_interval": "10s", "generation": 42, "top_k": 5,
        "allowed_origins": ["HTTP://LocalHost:6274/", "null", "https://app.example.com:443"],
        "policy": {"path": "/p.wasm", "settings": {"max": 3}, "deadline_ms": 20, "memory_limit_mib": 8,
                   "on_failure": "deny"},
        "mcpServers": [
          {"name": "fs", "command": "npx", "args": ["-y", "fs"], "env": {"A": "1", "N": 2},
           "working_dir": "/tmp", "enabled": false, "init_timeout": 3, "created": "2024-01-01"},
          {"name": "gh", "url": "https://api.example.com/mcp", "headers": {"Authorization": "x"},
           "auto_disabled": true, "auto_disable_reason": "boom"},
          {"name": "h", "protocol": "http", "url": "http://127.0.0.1:1/mcp"},
          {"name": "s", "protocol": "sse", "url": "http://127.0.0.1:1/sse"}
        ]}"#)
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:9001".parse().unwrap());
    assert_eq!(c.data_dir.as_deref(), Some(Path::new("/var/lib/mcpproxy")));
    assert_eq!(c.init_timeout, Duration::from_secs(90));
    assert_eq!(c.call_tool_timeout, Duration::from_secs(5));
    assert_eq!(
        (c.tools_limit, c.watch_debounce),
        (7, Duration::from_millis(50))
    );
    assert_eq!(c.generation, 42);
    // Origins as browsers send them: lower case, no trailing `/`, no default port.
    assert_eq!(
        c.allowed_origins,
        ["http://localhost:6274", "null", "https://app.example.com"]
    );
    assert_eq!(c.policy.path.as_deref(), Some(Path::new("/p.wasm")));
    assert_eq!(c.policy.limits.memory_limit, 8 * 1024 * 1024);
    assert_eq!(c.policy.on_failure, crate::contract::OnFailure::Deny);
    let fs = &c.servers[0];
    assert_eq!(fs.protocol, Protocol::Stdio);
    assert_eq!(fs.args, ["-y", "fs"]);
    assert_eq!(fs.env.get("N").map(String::as_str), Some("2"));
    assert!(!fs.enabled && !fs.is_startable());
    assert_eq!(fs.init_timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        fs.extra.get("created"),
        Some(&serde_json::json!("2024-01-01"))
    );
    let gh = &c.servers[1];
    assert_eq!(gh.protocol, Protocol::Auto);
    assert!(gh.auto_disabled);
    assert_eq!(gh.auto_disable_reason.as_deref(), Some("boom"));
    assert_eq!(c.servers[2].protocol, Protocol::StreamableHttp);
    assert_eq!(c.servers[3].protocol, Protocol::Sse);
}

#[test]
fn secret_references_are_expanded_and_remembered() {
    // PATH is set wherever tests run.
    let path = std::env::var("PATH").unwrap();
    let c = p(
        r#"{"mcpServers": [{"name": "a", "command": "x", "args": ["--p", "${env:PATH}"],
        "env": {"P": "${env:PATH}"}}]}"#,
    )
    .unwrap();
    let a = &c.servers[0];
    assert_eq!(a.args[1], path);
    assert_eq!(a.env["P"], path);
    assert_eq!(a.redact(&format!("saw {path}")), "saw ${env:PATH}");
    let cases = [
        (
            r#"{"mcpServers": [{"name": "a", "url": "http://h/${env:MCPPROXY_SURELY_UNSET}"}]}"#,
            r#"mcpServers[0] "a": field "url": ${env:MCPPROXY_SURELY_UNSET}: the environment variable MCPPROXY_SURELY_UNSET is not set"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x", "headers": {"Authorization": "${keyring:gh}"}}]}"#,
            r#"mcpServers[0] "a": field "headers.Authorization": ${keyring:gh}: keyring references are not supported"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x", "args": ["ok", "${env:MCPPROXY_SURELY_UNSET}"]}]}"#,
            r#"mcpServers[0] "a": field "args[1]""#,
        ),
    ];
    for (text, want) in cases {
        let err = p(text).unwrap_err().to_string();
        assert!(err.contains(want), "{err}\n  wanted: {want}");
    }
}

#[test]
fn tool_filters_read_as_mcpproxy_go_writes_them() {
    let c = p(r#"{"mcpServers": [
        {"name": "a", "command": "x", "enabled_tools": ["read", "write"], "disabled_tools": ["write"]},
        {"name": "b", "command": "x", "disabled_tools": ["rm"]},
        {"name": "c", "command": "x", "enabled_tools": []}
    ]}"#)
    .unwrap();
    let exposes = |server: usize, tool: &str| c.servers[server].exposes(tool);
    assert!(exposes(0, "read"));
    assert!(!exposes(0, "write"), "disabled wins over enabled");
    assert!(!exposes(0, "list"), "not in enabled_tools");
    assert!(exposes(1, "list") && !exposes(1, "rm"));
    assert!(
        !exposes(2, "anything"),
        "an empty enabled_tools shows nothing"
    );
    assert!(c.servers.iter().all(|s| s.filters_tools()));
    let err = p(r#"{"mcpServers": [{"name": "a", "command": "x", "disabled_tools": "rm"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"mcpServers[0] "a": field "disabled_tools""#),
        "{err}"
    );
}

#[test]
fn errors_name_file_server_and_field() {
    let cases = [
        (
            "{\n  \"listen\": 1,\n  oops\n}",
            "mcp_config.json:3:3: invalid JSON",
        ),
        (
            "[]",
            "mcp_config.json:1:1: invalid JSON: the config must be a JSON object",
        ),
        (
            r#"{"listen": "nowhere"}"#,
            r#"mcp_config.json: field "listen": not a host:port"#,
        ),
        (
            r#"{"init_timeout": "soon"}"#,
            r#"mcp_config.json: field "init_timeout": not a duration"#,
        ),
        (
            r#"{"tools_limit": -1}"#,
            r#"mcp_config.json: field "tools_limit": expected a non-negative integer"#,
        ),
        (
            r#"{"policy": {"deadline_ms": "x"}}"#,
            r#"mcp_config.json: field "policy.deadline_ms""#,
        ),
        (
            r#"{"policy": {"on_failure": "retry"}}"#,
            r#"mcp_config.json: field "policy.on_failure": expected "fallback-to-default" or "deny""#,
        ),
        (
            r#"{"tool_response_limit": 2000000000}"#,
            r#"mcp_config.json: field "tool_response_limit": must be at most 1073741824 (0 is no limit)"#,
        ),
        (
            r#"{"allowed_origins": "http://localhost:1"}"#,
            r#"mcp_config.json: field "allowed_origins": expected an array of origins, found a string"#,
        ),
        (
            r#"{"allowed_origins": ["http://localhost:1", 2]}"#,
            r#"mcp_config.json: field "allowed_origins": entry 1: expected a string"#,
        ),
        (
            r#"{"allowed_origins": ["http://localhost:1/app"]}"#,
            r#"mcp_config.json: field "allowed_origins": entry 0: "http://localhost:1/app" has a path"#,
        ),
        (
            r#"{"allowed_origins": ["localhost:1"]}"#,
            r#"mcp_config.json: field "allowed_origins": entry 0: "localhost:1" is not an http or https origin"#,
        ),
        (
            r#"{"mcpServers": {}}"#,
            r#"mcp_config.json: field "mcpServers": expected an array"#,
        ),
        (
            r#"{"auth": "off"}"#,
            r#"mcp_config.json: field "auth": "off": expected "token" or "none""#,
        ),
        (
            r#"{"auth": "none", "listen": "0.0.0.0:8080"}"#,
            r#"mcp_config.json: field "auth": `none` is allowed only when `listen` is a loopback address"#,
        ),
        (
            r#"{"metrics_auth": true}"#,
            r#"mcp_config.json: field "metrics_auth""#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x"}, {"name": "b", "command": "x"},
               {"name": "c", "command": "x"}, {"name": "github", "url": "notaurl"}]}"#,
            r#"mcp_config.json: mcpServers[3] "github": field "url": not a valid URL"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]}"#,
            r#"mcp_config.json: mcpServers[1] "a": field "name": duplicate server name (also mcpServers[0])"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a"}]}"#,
            r#"mcp_config.json: mcpServers[0] "a": field "command": missing"#,
        ),
        (
            r#"{"mcpServers": [{"name": "git:hub", "command": "x"}]}"#,
            r#"mcp_config.json: mcpServers[0] "git:hub": field "name": must not contain ':'"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a/b", "command": "x"}]}"#,
            r#"mcpServers[0] "a/b": field "name": must not contain '/'"#,
        ),
        (
            r#"{"mcpServers": [{"command": "x"}]}"#,
            r#"mcp_config.json: mcpServers[0]: field "name": missing"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x", "protocol": "carrier-pigeon"}]}"#,
            r#"mcpServers[0] "a": field "protocol": unknown protocol"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "protocol": "sse", "command": "x"}]}"#,
            r#"mcpServers[0] "a": field "url": missing"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "url": "ftp://h/x"}]}"#,
            r#"mcpServers[0] "a": field "url": not a valid URL"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x", "args": ["ok", 3]}]}"#,
            r#"mcpServers[0] "a": field "args[1]": expected a string"#,
        ),
        (
            r#"{"mcpServers": [{"name": "a", "command": "x", "enabled": "yes"}]}"#,
            r#"mcpServers[0] "a": field "enabled": expected true or false"#,
        ),
        (
            r#"{"mcpServers": [7]}"#,
            r#"mcpServers[0]: field "": expected an object"#,
        ),
    ];
    for (text, want) in cases {
        let err = p(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text}\n got: {err}\nwant: {want}");
    }
}

#[test]
fn syntax_error_carries_line_and_column() {
    let err = p("{\n\"a\": 1,,\n}").unwrap_err();
    match err {
        ConfigError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 8)),
        other => panic!("unexpected {other:?}"),
    }
}

/// Every duration and number key at 0, negative, huge and of the wrong type: a clear error
/// naming the field, or (`health_check_interval: 0`, mcpproxy-go's "off") a value that means
/// something. Nothing panics and nothing overflows a timer later.
#[test]
fn every_duration_and_number_key_at_its_extremes() {
    // (key as written in a top-level or policy or server object, where it goes)
    let keys: [(&str, &str); 8] = [
        ("init_timeout", "top"),
        ("call_tool_timeout", "top"),
        ("health_check_interval", "top"),
        ("tools_limit", "top"),
        ("watch_debounce_ms", "top"),
        ("deadline_ms", "policy"),
        ("memory_limit_mib", "policy"),
        ("init_timeout", "server"),
    ];
    let values = [
        ("0", serde_json::json!(0)),
        ("negative", serde_json::json!(-1)),
        ("huge", serde_json::json!(1e15)),
        ("huge string", serde_json::json!("100000000h")),
        ("wrong type", serde_json::json!(true)),
    ];
    for (key, place) in keys {
        for (what, value) in &values {
            let mut doc = serde_json::json!({"mcpServers": [{"name": "a", "command": "x"}]});
            match place {
                "top" => doc[key] = value.clone(),
                "policy" => doc["policy"] = serde_json::json!({ key: value }),
                _ => doc["mcpServers"][0][key] = value.clone(),
            }
            let field = if place == "policy" {
                format!("policy.{key}")
            } else {
                key.to_string()
            };
            let text = doc.to_string();
            let got = p(&text);
            if (key, place, *what) == ("health_check_interval", "top", "0") {
                let c = got.expect("health_check_interval: 0 is off");
                assert!(c.health_check_interval.is_zero());
                continue;
            }
            let err = got.expect_err(&text).to_string();
            assert!(
                err.contains(&format!("field \"{field}\"")),
                "{key} {what}: {err}"
            );
            if place == "server" {
                assert!(err.contains("mcpServers[0] \"a\""), "{err}");
            }
        }
    }
}

mod properties {
    use super::*;
    use crate::config::arbitrary::{any_json, valid_document};
    use proptest::prelude::*;

    fn says_where(e: &ConfigError) -> bool {
        e.to_string().starts_with("mcp_config.json")
    }

    proptest! {
        /// Any JSON at all as the file: a config or an error that names the file, never a panic.
        #[test]
        fn any_json_loads_or_is_refused_by_name(v in any_json()) {
            if let Err(e) = p(&v.to_string()) {
                prop_assert!(says_where(&e), "{e}");
            }
        }

        /// A valid file with any value put in place of one of its top-level keys, or one of a
        /// server's keys: it loads, or the error names the file and the field.
        #[test]
        fn one_bad_value_anywhere_is_named(
            doc in valid_document(),
            key in prop::sample::select(vec![
                "listen", "data_dir", "init_timeout", "call_tool_timeout", "tools_limit",
                "watch_debounce_ms", "health_check_interval", "allowed_origins",
                "tool_response_limit", "auth", "metrics_auth", "policy", "generation", "mcpServers", "name", "command", "args", "env", "url", "headers", "enabled", "auto_disabled",
                "protocol", "working_dir",
            ]),
            value in any_json(),
            server in 0usize..6,
        ) {
            let mut doc = doc;
            let servers = doc["mcpServers"].as_array().map_or(0, Vec::len);
            let top = ["listen", "data_dir", "init_timeout", "call_tool_timeout", "tools_limit",
                "watch_debounce_ms", "health_check_interval", "allowed_origins",
                "tool_response_limit", "auth", "metrics_auth", "policy", "generation", "mcpServers"];
            if top.contains(&key) || servers == 0 {
                doc.insert(key.to_string(), value);
            } else if let Some(entry) = doc["mcpServers"][server % servers].as_object_mut() {
                entry.insert(key.to_string(), value);
            }
            let text = Value::Object(doc).to_string();
            if let Err(e) = p(&text) {
                prop_assert!(says_where(&e), "{e}");
                let named = e.to_string().contains("field") || e.to_string().contains("invalid JSON");
                prop_assert!(named, "{e}");
            }
        }

        /// What the generator calls valid loads, servers in file order.
        #[test]
        fn valid_documents_load(doc in valid_document()) {
            let text = Value::Object(doc.clone()).to_string();
            let c = p(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let names: Vec<&str> = doc["mcpServers"].as_array().unwrap().iter()
                .map(|s| s["name"].as_str().unwrap()).collect();
            let loaded: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
            prop_assert_eq!(names, loaded);
        }
    }
}

#[test]
fn auth_is_on_unless_turned_off_on_loopback() {
    use crate::config::AuthMode;
    let c = p("{}").unwrap();
    assert_eq!((c.auth, c.metrics_auth), (AuthMode::Token, AuthMode::Token));
    let c = p(r#"{"auth": "none", "listen": "[::1]:9000", "metrics_auth": "none"}"#).unwrap();
    assert_eq!((c.auth, c.metrics_auth), (AuthMode::None, AuthMode::None));
    // A scraper may be let in on any address; the MCP endpoints may not.
    let c = p(r#"{"listen": "0.0.0.0:9000", "metrics_auth": "none"}"#).unwrap();
    assert_eq!((c.auth, c.metrics_auth), (AuthMode::Token, AuthMode::None));
}
