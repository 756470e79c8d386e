//! `mcpproxy import`, `upstream add | remove` and the first run, against real files in a
//! made-up HOME and a real daemon: each client's format from its known location (fixtures in
//! `tests/fixtures/import`), the dry run, a merge while the daemon runs (one sync, no
//! self-reload, nothing else restarted), a merge with no daemon (saved by the store, run at
//! the next start), a name conflict, and a first run whose printed snippet a client connects
//! with as printed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::common::*;

fn fixture_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .replace("@FIXTURE@", FIXTURE)
}

/// A HOME with every known client's config where that client keeps it.
fn home_with_every_client() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let place = |at: &str, fixture: &str| {
        let path = home.path().join(at);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fixture_file(fixture)).unwrap();
    };
    place(
        ".config/Claude/claude_desktop_config.json",
        "claude_desktop_config.json",
    );
    place(".cursor/mcp.json", "cursor-mcp.json");
    place(".config/Code/User/mcp.json", "vscode-mcp.json");
    place(".claude.json", "claude.json");
    place(".mcpproxy/mcp_config.json", "mcpproxy-go.json");
    home
}

/// `mcpproxy ARGS` with `HOME` set, for `config` and `data_dir`.
fn mcpproxy(home: &Path, config: &Path, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(MCPPROXY)
        .args(["--config".as_ref(), config.as_os_str()])
        .args(["--data-dir".as_ref(), data_dir.as_os_str()])
        .args(args)
        .env("HOME", home)
        .current_dir(home)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `plan` about `server`.
fn line<'a>(plan: &'a str, server: &str) -> &'a str {
    plan.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(server))
        .unwrap_or_else(|| panic!("no line for {server}:\n{plan}"))
}

#[test]
fn every_format_from_its_known_place_and_a_dry_run_changes_nothing() {
    let home = home_with_every_client();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    std::fs::write(
        &config,
        r#"{"mcpServers": [{"name": "desk", "command": "other"}]}"#,
    )
    .unwrap();
    let before = std::fs::read(&config).unwrap();
    let data = dir.path().join("data");

    let out = mcpproxy(home.path(), &config, &data, &["import", "--dry-run"]);
    let (plan, stderr) = text(&out);
    assert!(out.status.success(), "{plan}\n{stderr}");
    for server in ["cur", "cur-remote", "code", "cc-user", "cc-local", "go-one"] {
        assert!(line(&plan, server).starts_with("add"), "{server}:\n{plan}");
    }
    assert!(line(&plan, "desk").starts_with("conflict"), "{plan}");
    assert!(
        line(&plan, "desk").contains("claude_desktop_config.json: mcpServers.desk"),
        "{plan}"
    );
    let asks = line(&plan, "asks");
    assert!(
        asks.starts_with("invalid") && asks.contains("${input:key}"),
        "VS Code's input variables cannot be asked for here: {asks}"
    );
    assert!(plan.contains("(left out: envFile)"), "{plan}");
    assert!(
        plan.contains("projects./home/u/work.mcpServers.cc-local"),
        "{plan}"
    );
    assert!(
        plan.contains("6 to add, 0 skipped, 1 conflicts, 1 invalid"),
        "{plan}"
    );
    assert!(plan.contains("dry run"), "{plan}");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        before,
        "a dry run writes nothing"
    );

    // One client at a time; an unknown name says what it knows.
    let out = mcpproxy(
        home.path(),
        &config,
        &data,
        &["import", "--from", "cursor", "--dry-run"],
    );
    let (plan, _) = text(&out);
    assert!(
        plan.contains("2 to add, 0 skipped, 0 conflicts, 0 invalid"),
        "{plan}"
    );
    assert!(!plan.contains("cc-user"), "{plan}");
    let out = mcpproxy(home.path(), &config, &data, &["import", "--from", "zed"]);
    let (_, error) = text(&out);
    assert!(!out.status.success());
    assert!(
        error.contains("--from zed") && error.contains("claude-desktop, cursor, vscode"),
        "{error}"
    );
    let empty = tempfile::tempdir().unwrap();
    let out = mcpproxy(empty.path(), &config, &data, &["import"]);
    let (_, error) = text(&out);
    assert!(!out.status.success());
    assert!(
        error.contains("no MCP client config found") && error.contains(".cursor/mcp.json"),
        "{error}"
    );
}

#[test]
fn a_merge_while_the_daemon_runs_is_one_sync_and_restarts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    let seed = json!({"listen": "127.0.0.1:0", "auth": "none",
                      "mcpServers": [fixture_server("a", "healthy")]});
    std::fs::write(&config, seed.to_string()).unwrap();
    let daemon = Daemon::start_on(dir, config.clone(), &[]);
    let pid_a = daemon.wait_state("a", "Ready", Duration::from_secs(30))["pid"].clone();
    let before = daemon.status();
    let count = |status: &Value, key: &str| status["config"][key].as_u64().unwrap();

    // A conflict (a differs) and two new servers from one file.
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("theirs.json");
    let theirs = json!({"mcpServers": {
        "a": {"command": "/bin/false"},
        "b": {"command": FIXTURE, "args": ["--transport", "stdio", "--name", "b", "--mode", "healthy"]},
        "c": {"command": FIXTURE, "args": ["--transport", "stdio", "--name", "c", "--mode", "healthy"]},
    }});
    std::fs::write(&file, theirs.to_string()).unwrap();
    let out = mcpproxy(
        home.path(),
        &config,
        &daemon.data_dir,
        &["import", "--from", file.to_str().unwrap()],
    );
    let (said, stderr) = text(&out);
    assert!(out.status.success(), "{said}\n{stderr}");
    assert!(line(&said, "a").starts_with("conflict"), "{said}");
    assert!(said.contains("through the running daemon"), "{said}");
    for name in ["b", "c"] {
        daemon.wait_state(name, "Ready", Duration::from_secs(30));
    }
    // One save, applied as one edit; its own write, once seen, is not reloaded.
    let status = wait_for(Duration::from_secs(10), "the save to be seen", || {
        let status = daemon.status();
        (count(&status, "self_writes_suppressed") > count(&before, "self_writes_suppressed"))
            .then_some(status)
    });
    assert_eq!(
        count(&status, "saves"),
        count(&before, "saves") + 1,
        "{status}"
    );
    assert_eq!(
        count(&status, "reloads"),
        count(&before, "reloads"),
        "{status}"
    );
    assert_eq!(
        status["config_syncs"], before["config_syncs"],
        "no reload: {status}"
    );
    let a = daemon.server("a");
    assert_eq!(a["pid"], pid_a, "a was not restarted: {a}");
    assert_eq!(
        daemon.server("b")["quarantined"],
        false,
        "the user's own import"
    );
    let saved = read_json(&config);
    let names: Vec<&str> = saved["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        saved["mcpServers"][0]["command"], FIXTURE,
        "a never overwritten"
    );
    assert!(
        saved["generation"].as_u64().unwrap() > 0,
        "stamped: {saved}"
    );
    // The user's import is trusted: b is not quarantined, its tools are listed.
    let tools = call_tool_json(&daemon, "retrieve_tools", json!({"query": "echo"}));
    assert!(tools.to_string().contains("b:echo"), "{tools}");

    // upstream add and remove take the same route.
    let out = mcpproxy(
        home.path(),
        &config,
        &daemon.data_dir,
        &[
            "upstream",
            "add",
            "d",
            "--",
            FIXTURE,
            "--transport",
            "stdio",
            "--name",
            "d",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    daemon.wait_state("d", "Ready", Duration::from_secs(30));
    let out = mcpproxy(
        home.path(),
        &config,
        &daemon.data_dir,
        &["upstream", "remove", "c"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    wait_for(Duration::from_secs(30), "c to go", || {
        daemon.server("c").is_null().then_some(())
    });
    assert_eq!(daemon.server("a")["pid"], pid_a);
}

#[test]
fn with_no_daemon_the_store_saves_it_and_the_next_start_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        r#"{"listen": "127.0.0.1:0", "auth": "none", "mcpServers": []}"#,
    )
    .unwrap();
    let home = home_with_every_client();
    let out = mcpproxy(
        home.path(),
        &config,
        &data,
        &["import", "--from", "claude-desktop"],
    );
    let (said, stderr) = text(&out);
    assert!(out.status.success(), "{said}\n{stderr}");
    assert!(said.contains("no daemon running: saved"), "{said}");
    let out = mcpproxy(
        home.path(),
        &config,
        &data,
        &["upstream", "add", "web", "--url", "http://127.0.0.1:9/mcp"],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let saved = read_json(&config);
    assert_eq!(saved["mcpServers"][0]["name"], "desk", "{saved}");
    assert_eq!(saved["mcpServers"][0]["env"]["DESK_MODE"], "1", "{saved}");
    assert_eq!(saved["mcpServers"][1]["url"], "http://127.0.0.1:9/mcp");
    assert!(saved["generation"].as_u64().unwrap() > 0, "{saved}");
    // Importing again adds nothing and says why.
    let out = mcpproxy(
        home.path(),
        &config,
        &data,
        &["import", "--from", "claude-desktop"],
    );
    let (said, _) = text(&out);
    assert!(line(&said, "desk").starts_with("skip"), "{said}");
    assert!(said.contains("nothing to import"), "{said}");

    let daemon = Daemon::start_on(dir, config, &[]);
    daemon.wait_state("desk", "Ready", Duration::from_secs(30));
}

#[test]
fn a_first_run_prints_a_snippet_that_works_as_printed() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(MCPPROXY)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HOME", home.path())
        .env_remove("MCPPROXY_CONFIG")
        .env_remove("MCPPROXY_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let snippet: Value = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no snippet; printed:\n{}", printed.join("\n")));
        printed.push(line.clone());
        if let Ok(value) = serde_json::from_str::<Value>(line.trim())
            && value["mcpServers"]["mcpproxy"]["url"].is_string()
        {
            break value;
        }
    };
    let server = &snippet["mcpServers"]["mcpproxy"];
    let url = server["url"].as_str().unwrap().to_string();
    let authorization = server["headers"]["Authorization"].as_str().unwrap();
    let token = authorization.strip_prefix("Bearer ").unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(home.path().join(".mcpproxy/admin-token"))
            .unwrap()
            .trim(),
        token
    );
    // The printed commands, as printed: `mcpproxy upstream add NAME -- COMMAND ARGS...`.
    let rest = lines_rx.recv_timeout(Duration::from_secs(10)).ok();
    printed.extend(rest);
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
        printed.push(line);
    }
    let all = printed.join("\n");
    assert!(
        all.contains("mcpproxy upstream add NAME -- COMMAND ARGS..."),
        "{all}"
    );
    assert!(all.contains("mcpproxy import"), "{all}");
    let out = Command::new(MCPPROXY)
        .args([
            "upstream",
            "add",
            "a",
            "--",
            FIXTURE,
            "--transport",
            "stdio",
            "--name",
            "a",
        ])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tools = runtime.block_on(async {
        let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
        let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let tools = client.peer().list_all_tools().await.unwrap();
            if !tools.is_empty() || tokio::time::Instant::now() > deadline {
                let _ = client.cancel().await;
                break tools;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"a__echo"), "{names:?}");
    let _ = child.kill();
    let _ = child.wait();
}
