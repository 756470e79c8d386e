//! End-to-end: the real `mcpproxy serve` over real upstreams of every transport and failure
//! kind, reached by real clients; final states, reasons, routing, CLI, clean shutdown.

use crate::guest;

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

#[test]
fn every_kind_of_upstream_reaches_its_final_state_and_stop_leaves_no_orphans() {
    let http = HttpFixture::start("http", "healthy");
    let sse = HttpFixture::start("sse", "healthy");
    let hanging_http = HttpFixture::start("http", "hang");
    let config = json!({
        "init_timeout": "3s",
        "mcpServers": [
            fixture_server("ok", "spawn-child"),
            fixture_server("crashy", "crash"),
            {"name": "missing", "command": "/nonexistent/mcp-server"},
            {"name": "hangs", "command": FIXTURE, "args": ["--mode", "hang"], "init_timeout": "1s"},
            {"name": "web", "protocol": "http", "url": format!("http://{}/mcp", http.addr)},
            {"name": "legacy", "protocol": "sse", "url": format!("http://{}/sse", sse.addr)},
            {"name": "stuck-http", "protocol": "http", "url": format!("http://{}/mcp", hanging_http.addr), "init_timeout": "1s"},
            {"name": "refused", "protocol": "http", "url": format!("http://127.0.0.1:{}/mcp", closed_port())},
            {"name": "off", "command": FIXTURE, "enabled": false},
        ]
    });
    let mut daemon = Daemon::start(config, &[]);
    daemon.wait_settled(Duration::from_secs(30));

    let ok = daemon.wait_state("ok", "Ready", Duration::from_secs(10));
    assert!(ok["tool_count"].as_u64().unwrap() >= 3, "{ok}");
    let ok_pid = ok["pid"].as_u64().unwrap() as u32;
    assert!(pid_alive(ok_pid));
    let grandchild = wait_for(
        Duration::from_secs(5),
        "the grandchild pid in ok's log",
        || grandchild_pid(&daemon.log_dir, "ok"),
    );
    assert!(pid_alive(grandchild));
    daemon.wait_state("web", "Ready", Duration::from_secs(10));
    daemon.wait_state("legacy", "Ready", Duration::from_secs(10));
    assert_eq!(daemon.server("off")["connection_state"], "Disabled");

    // Deterministic failures are auto-disabled with a reason a user understands.
    let missing = daemon.wait_state("missing", "Auto-Disabled", Duration::from_secs(30));
    assert!(
        missing["auto_disable_reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("not found")
            || missing["auto_disable_reason"]
                .as_str()
                .unwrap()
                .contains("No such file"),
        "{missing}"
    );
    let crashy = daemon.wait_state("crashy", "Auto-Disabled", Duration::from_secs(60));
    assert!(!crashy["auto_disable_reason"].as_str().unwrap().is_empty());
    assert!(
        crashy["last_error"]
            .as_str()
            .unwrap()
            .contains("exit code 3"),
        "{crashy}"
    );

    // Transient failures are retried with backoff, with the failure classified.
    for (name, needle) in [
        ("hangs", "timeout"),
        ("stuck-http", "timeout"),
        ("refused", "refused"),
    ] {
        let s = daemon.server(name);
        assert!(
            matches!(
                s["connection_state"].as_str(),
                Some("Sleeping" | "Connecting")
            ),
            "{s}"
        );
        assert!(
            s["last_error"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains(needle),
            "{s}"
        );
    }

    // Auto-disables are persisted in the user's file, with their reasons. The save follows
    // the state change (edits close together share one save, at most one per 200 ms).
    let entry = |file: &Value, n: &str| {
        file["mcpServers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    let file = wait_for(
        Duration::from_secs(10),
        "both auto-disables in the config file",
        || {
            let file = read_json(&daemon.config);
            let saved = |n: &str| entry(&file, n)["auto_disabled"] == true;
            (saved("missing") && saved("crashy")).then_some(file)
        },
    );
    let entry = |n: &str| entry(&file, n);
    assert!(entry("missing")["auto_disable_reason"].as_str().is_some());
    assert_eq!(
        entry("ok").get("auto_disabled"),
        None,
        "untouched servers stay untouched"
    );

    // Tool routing through /mcp's call_tool, over each transport, via the CLI.
    for server in ["ok", "web", "legacy"] {
        let result = call_tool_json(
            &daemon,
            "call_tool",
            json!({"name": format!("{server}:echo"), "args": {"text": "hi there"}}),
        );
        assert!(
            result.to_string().contains("hi there"),
            "{server}: {result}"
        );
    }
    let sum = call_tool_json(
        &daemon,
        "call_tool",
        json!({"name": "web:add", "args": {"a": 2, "b": 40}}),
    );
    assert!(sum.to_string().contains("42"), "{sum}");
    let hits = call_tool_json(
        &daemon,
        "retrieve_tools",
        json!({"query": "echo", "limit": 10}),
    );
    assert!(hits.to_string().contains("ok:echo"), "{hits}");

    // The CLI table and the summary agree with the states.
    let list = daemon.servers();
    assert_eq!(list["summary"]["total"], 9);
    assert_eq!(
        list["summary"]["by_state"]["Ready"], 3,
        "{}",
        list["summary"]
    );
    let table = daemon.cli(&["upstream", "list"]);
    assert!(
        table.contains("Auto-Disabled") && table.contains("ok "),
        "{table}"
    );

    let status = daemon.stop();
    assert!(status.success(), "exit status {status}");
    for pid in [ok_pid, grandchild] {
        wait_for(
            Duration::from_secs(5),
            &format!("pid {pid} to be gone"),
            || (!pid_alive(pid)).then_some(()),
        );
    }
}

/// Once every server has settled, after the start-up and again after servers are added, the
/// daemon gives the free heap back to the system (glibc's `malloc_trim`) and says how
/// resident it was before and after.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn once_the_servers_settle_the_free_heap_is_given_back() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("a", "healthy"), fixture_server("b", "crash")]}),
        &[],
    );
    daemon.wait_settled(Duration::from_secs(60));
    let line = wait_for(Duration::from_secs(30), "the free heap given back", || {
        daemon
            .main_log()
            .lines()
            .find(|l| l.contains("free heap given back"))
            .map(str::to_string)
    });
    // `resident N MiB before, M MiB after`: both read from /proc.
    let sizes: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        matches!(sizes[..], [before, after] if before > 0 && after > 0),
        "{line}"
    );

    let before = daemon.heap_given_back();
    let entry = json!({"command": FIXTURE, "args": ["--mode", "healthy"]});
    let add = json!({"operation": "add", "name": "c", "server": entry});
    call_tool_json(&daemon, "upstream_servers", add);
    daemon.wait_state("c", "Ready", Duration::from_secs(30));
    wait_for(
        Duration::from_secs(30),
        "the free heap given back again",
        || (daemon.heap_given_back() > before).then_some(()),
    );
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let daemon = Daemon::start(json!({"mcpServers": []}), &[]);
    let out = std::process::Command::new(MCPPROXY)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--config".as_ref(), daemon.config.as_os_str()])
        .args(["--data-dir".as_ref(), daemon.data_dir.as_os_str()])
        .args([
            "--log-dir".as_ref(),
            daemon.dir.path().join("logs2").as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already running") && stderr.contains(&daemon.pid().to_string()),
        "{stderr}"
    );
}

#[test]
fn client_commands_say_clearly_when_no_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.json");
    std::fs::write(&config, r#"{"mcpServers": []}"#).unwrap();
    let out = std::process::Command::new(MCPPROXY)
        .args(["status", "--config"])
        .arg(&config)
        .args(["--data-dir".as_ref(), dir.path().as_os_str()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no mcpproxy is running"),
        "{out:?}"
    );
}

#[test]
fn upstream_servers_operations_change_the_daemon_and_the_file_without_a_reload() {
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("a", "healthy")]}), &[]);
    let a = daemon.wait_state("a", "Ready", Duration::from_secs(30));
    let op = |args: Value| call_tool_json(&daemon, "upstream_servers", args);
    let entry_in_file = |name: &str| {
        read_json(&daemon.config)["mcpServers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
    };

    let b_entry = json!({"command": FIXTURE, "args": ["--mode", "healthy", "--tools", "1"]});
    op(json!({"operation": "add", "name": "b", "server": b_entry}));
    let b = daemon.wait_state("b", "Ready", Duration::from_secs(30));
    assert_eq!(b["tool_count"], 4, "{b}");
    assert_eq!(entry_in_file("b").unwrap()["command"], FIXTURE);

    op(json!({"operation": "disable", "name": "a"}));
    daemon.wait_state("a", "Disabled", Duration::from_secs(30));
    let a_pid = a["pid"].as_u64().unwrap() as u32;
    wait_for(Duration::from_secs(10), "a's process to end", || {
        (!pid_alive(a_pid)).then_some(())
    });
    assert_eq!(entry_in_file("a").unwrap()["enabled"], false);
    op(json!({"operation": "enable", "name": "a"}));
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    assert_eq!(entry_in_file("a").unwrap()["enabled"], true);

    op(json!({"operation": "restart", "name": "b"}));
    wait_for(Duration::from_secs(30), "b to restart", || {
        let now = daemon.server("b");
        (now["connection_state"] == "Ready" && now["pid"] != b["pid"]).then_some(())
    });

    op(json!({"operation": "remove", "name": "b"}));
    wait_for(Duration::from_secs(30), "b to be gone", || {
        daemon.server("b").is_null().then_some(())
    });
    assert!(entry_in_file("b").is_none());

    let unknown = std::process::Command::new(MCPPROXY)
        .args([
            "call",
            "tool",
            "--tool-name=upstream_servers",
            r#"--json_args={"operation":"enable","name":"nope"}"#,
        ])
        .args(["--config".as_ref(), daemon.config.as_os_str()])
        .args(["--data-dir".as_ref(), daemon.data_dir.as_os_str()])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("nope"),
        "{unknown:?}"
    );
    // The daemon's own saves never come back as reloads.
    assert_eq!(daemon.status()["config_syncs"], 1);
}

#[test]
fn sigint_stops_the_daemon_cleanly_like_sigterm() {
    let mut daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("one", "healthy")]}),
        &[],
    );
    let pid = daemon.ready_pid("one");
    let status = daemon.stop_with(nix::sys::signal::Signal::SIGINT);
    assert!(status.success(), "exit status {status}");
    wait_for(Duration::from_secs(5), "the upstream to be gone", || {
        (!pid_alive(pid)).then_some(())
    });
    assert!(
        daemon.main_log().contains("SIGINT"),
        "{}",
        daemon.main_log()
    );
}

/// The parent of `pid`, by `/proc`.
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the parenthesised command name: state, then the parent's pid.
    let mut fields = stat.rsplit_once(')').unwrap().1.split_whitespace();
    fields.nth(1).unwrap().parse().unwrap()
}

/// Servers are started by the spawner the daemon forks at start-up (a process with few
/// open files), so when the daemon dies, even by SIGKILL, the spawner kills every server's
/// process group: no server and no grandchild outlives it.
#[test]
fn a_daemon_killed_with_sigkill_leaves_no_server_behind() {
    let mut daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("ok", "spawn-child"), fixture_server("two", "healthy")]}),
        &[],
    );
    let ok = daemon.ready_pid("ok");
    let two = daemon.ready_pid("two");
    let grandchild = wait_for(Duration::from_secs(5), "ok's grandchild", || {
        grandchild_pid(&daemon.log_dir, "ok")
    });
    let spawner = daemon.spawner_pid().expect("the daemon's spawner");
    assert_eq!(parent_of(ok), spawner);
    assert_eq!(parent_of(two), spawner);

    daemon.stop_with(nix::sys::signal::Signal::SIGKILL);
    wait_for(Duration::from_secs(10), "every server to be gone", || {
        [ok, two, grandchild, spawner]
            .iter()
            .all(|&pid| !pid_alive(pid))
            .then_some(())
    });
}

/// Adds a healthy fixture server `name` to the daemon's config; its pid once Ready.
fn add_server(daemon: &Daemon, name: &str) -> u32 {
    let mut config = read_json(daemon.config_path());
    config["mcpServers"]
        .as_array_mut()
        .unwrap()
        .push(fixture_server(name, "healthy"));
    save_atomically(daemon.config_path(), &config);
    daemon.ready_pid(name)
}

/// The spawner outlives SIGTERM (its command line is the daemon's, so `pkill -f` reaches
/// it too). If it dies all the same, the daemon reaps it, stops the servers it had
/// started, starts them again itself, and goes on starting new ones.
#[test]
fn when_the_spawner_dies_the_daemon_restarts_its_servers_itself() {
    let mut daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("one", "healthy")]}),
        &[],
    );
    let first = daemon.ready_pid("one");
    let spawner = daemon.spawner_pid().expect("the daemon's spawner");
    assert_eq!(parent_of(first), spawner);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(spawner as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // Still there and still starting servers.
    assert_eq!(parent_of(add_server(&daemon, "after-term")), spawner);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(spawner as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let again = wait_for(Duration::from_secs(30), "one restarted", || {
        let s = daemon.server("one");
        let pid = s["pid"].as_u64()? as u32;
        (s["connection_state"] == "Ready" && pid != first).then_some(pid)
    });
    assert_eq!(parent_of(again), daemon.pid());
    assert!(!pid_alive(first), "the spawner's server was stopped");
    wait_for(Duration::from_secs(5), "the spawner reaped", || {
        (!std::path::Path::new(&format!("/proc/{spawner}")).exists()).then_some(())
    });
    assert!(
        daemon.main_log().contains("the spawner is gone"),
        "{}",
        daemon.main_log()
    );
    // A server added now is started by the daemon too.
    let two = add_server(&daemon, "two");
    assert_eq!(parent_of(two), daemon.pid());
    let status = daemon.stop();
    assert!(status.success(), "exit status {status}");
    for pid in [again, two] {
        wait_for(Duration::from_secs(5), "the servers to be gone", || {
            (!pid_alive(pid)).then_some(())
        });
    }
}

/// The policy instance pool reserves address space up front. Where that is not allowed
/// (`ulimit -v`), the daemon says so, maps policy instances per decision and still decides;
/// otherwise the pool is in use.
#[test]
fn without_room_for_the_policy_instance_pool_decisions_still_run() {
    use std::os::unix::process::CommandExt;

    let config = json!({
        "listen": "127.0.0.1:0",
        "policy": {"settings": {"deterministic_failures": 1}},
        "mcpServers": [{"name": "missing", "command": "/nonexistent/mcpproxy-test-command"}],
    });
    let normal = Daemon::start(config.clone(), &[]);
    assert_eq!(normal.status()["policy"]["instance_pool"], 8);
    drop(normal);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    // 32 GiB: plenty for the daemon and one policy instance, far from the pool's ~260 GiB.
    let limit = 32 << 30;
    let limited = Daemon::start_with(dir, path, &[], &[], |command| {
        // SAFETY: only a system call between fork and exec.
        unsafe {
            command.pre_exec(move || {
                use nix::sys::resource::{Resource, setrlimit};
                setrlimit(Resource::RLIMIT_AS, limit, limit).map_err(std::io::Error::from)
            });
        }
    });
    let status = limited.status();
    assert!(
        status["policy"]["instance_pool"].is_null(),
        "{}",
        status["policy"]
    );
    let missing = limited.wait_state("missing", "Auto-Disabled", Duration::from_secs(30));
    assert!(
        missing["auto_disable_reason"]
            .as_str()
            .is_some_and(|r| r.contains("not found")),
        "{missing}"
    );
    assert_eq!(limited.status()["policy"]["fallbacks"], 0);
    assert!(
        limited
            .main_log()
            .contains("cannot reserve the policy instance pool")
    );
}

/// A custom policy that traps on one server's failures, in the running daemon: each failed
/// decision falls back to the embedded default (which auto-disables the crashing server),
/// three failures within a minute quarantine the policy, the counters and `/metrics` show it
/// all, and the daemon serves on.
#[test]
fn a_policy_trapping_in_the_daemon_falls_back_is_quarantined_and_serving_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("trapping.wasm");
    // Traps for 6-byte names: "trap01" (the smoke test's server is "example").
    std::fs::write(&policy, guest::trapping_for_name_len(6)).unwrap();
    let daemon = Daemon::start(
        json!({
            "policy": {"path": policy, "deadline_ms": 250},
            "mcpServers": [
                fixture_server("good", "healthy"),
                fixture_server("trap01", "crash"),
            ],
        }),
        &[],
    );
    let trapped = daemon.wait_state("trap01", "Auto-Disabled", Duration::from_secs(60));
    assert!(
        trapped["auto_disable_reason"]
            .as_str()
            .is_some_and(|r| r.contains("before the MCP handshake")),
        "the default's reason: {trapped}"
    );
    daemon.wait_state("good", "Ready", Duration::from_secs(30));

    let status = daemon.status()["policy"].clone();
    assert_eq!(
        status["source"],
        json!(policy.display().to_string()),
        "{status}"
    );
    let count = |outcome: &str| -> u64 {
        ["should-disable", "backoff"]
            .iter()
            .map(|hook| status["decisions"][hook][outcome].as_u64().unwrap_or(0))
            .sum()
    };
    // Failure 1: both hooks trap; failure 2: should-disable traps, the third failure in a
    // minute, and the policy is quarantined; the rest is answered by the default.
    assert_eq!(count("trap"), 3, "{status}");
    assert!(count("quarantined") >= 2, "{status}");
    assert_eq!(
        status["fallbacks"].as_u64(),
        Some(count("trap") + count("quarantined")),
        "{status}"
    );
    assert_eq!(status["quarantine"]["quarantined"], true, "{status}");
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("trapping.wasm") && e.contains("trap")),
        "{status}"
    );
    let metrics = daemon.get("/metrics").unwrap();
    for outcome in ["trap", "quarantined"] {
        let line = format!(
            r#"mcpproxy_policy_decisions_total{{hook="should-disable",outcome="{outcome}"}}"#
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    // Still serving: the proxy answers and lists the healthy server.
    let listed = call_tool_json(&daemon, "upstream_servers", json!({"operation": "list"}));
    assert!(listed.to_string().contains("\"good\""), "{listed}");
}

#[test]
fn a_tool_name_over_64_characters_is_shortened_and_still_routed() {
    let server = "a-server-whose-name-alone-takes-up-nearly-all-of-the-sixty-four";
    assert!(format!("{server}__echo").len() > 64);
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server(server, "healthy")]}),
        &[],
    );
    daemon.wait_state(server, "Ready", Duration::from_secs(30));
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let (mut stream, id) = mcp_session(&addr, "/mcp/all");
    let mut request = |body: Value| -> Value {
        let answer = mcp_post(&mut stream, "/mcp/all", &body.to_string(), Some(&id)).2;
        // An SSE stream starts with an empty priming event; the answer is the data that is not.
        let data = answer
            .lines()
            .filter_map(|l| l.strip_prefix("data:").map(str::trim))
            .find(|d| !d.is_empty());
        serde_json::from_str(data.unwrap_or(&answer)).unwrap_or_else(|e| panic!("{e}: {answer}"))
    };
    let tools = request(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let names: Vec<String> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    // echo, add, sleep: each `server__tool` is too long, so each is shortened, differently.
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.len() == 64), "{names:?}");
    // The shortened names are what clients call, and they reach the server's tools.
    let answers: Vec<String> = names
        .iter()
        .map(|name| {
            let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": name, "arguments": {"text": "still routed", "a": 1, "b": 2}}});
            request(call).to_string()
        })
        .collect();
    assert!(
        answers.iter().any(|a| a.contains("still routed")),
        "{answers:?}"
    );
    assert!(answers.iter().any(|a| a.contains("\"3\"")), "{answers:?}");
}

/// `tools/list` on `/mcp/all` over a fresh session: the tool names.
pub fn listed_tools(daemon: &Daemon) -> Vec<String> {
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let (mut stream, id) = mcp_session(&addr, "/mcp/all");
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let answer = mcp_post(&mut stream, "/mcp/all", list, Some(&id)).2;
    let data = answer
        .lines()
        .filter_map(|l| l.strip_prefix("data:").map(str::trim))
        .find(|d| !d.is_empty())
        .unwrap_or(&answer);
    let tools: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let mut names: Vec<String> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn tool_filters_hide_tools_everywhere_and_apply_without_a_reconnect() {
    let mut server = fixture_server("a", "healthy");
    server["disabled_tools"] = json!(["sleep"]);
    let daemon = Daemon::start(json!({"mcpServers": [server]}), &[]);
    let ready = daemon.wait_state("a", "Ready", Duration::from_secs(30));
    assert_eq!(listed_tools(&daemon), ["a__add", "a__echo"]);
    assert_eq!(ready["tool_count"], 2);
    // Hidden is not callable either, by any route.
    let hidden = daemon.cli_output(&[
        "call",
        "tool",
        "--tool-name=call_tool",
        r#"--json_args={"name": "a:sleep", "args": {"ms": 1}}"#,
    ]);
    let said = String::from_utf8_lossy(&hidden.stdout).to_string()
        + &String::from_utf8_lossy(&hidden.stderr);
    assert!(
        said.contains("hidden by its enabled_tools/disabled_tools"),
        "{said}"
    );
    let search = call_tool_json(&daemon, "retrieve_tools", json!({"query": "sleep"}));
    assert!(!search.to_string().contains("a:sleep"), "{search}");

    // An edit of the filters applies in place: same process, new list.
    let pid = ready["pid"].clone();
    let mut config = read_json(daemon.config_path());
    config["mcpServers"][0]["enabled_tools"] = json!(["echo"]);
    config["mcpServers"][0]
        .as_object_mut()
        .unwrap()
        .remove("disabled_tools");
    save_atomically(daemon.config_path(), &config);
    wait_for(Duration::from_secs(20), "the filter edit to apply", || {
        (listed_tools(&daemon) == ["a__echo"]).then_some(())
    });
    assert_eq!(
        daemon.server("a")["pid"],
        pid,
        "the server was not restarted"
    );
    assert_eq!(daemon.server("a")["tool_count"], 1);
}

/// A request whose answer is all there is gets it as a plain JSON body; one during which the
/// server sends progress keeps its SSE stream, notifications first, in order, then the answer.
#[test]
fn answers_are_plain_json_unless_something_streams_before_them() {
    let daemon = everything_daemon();
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let (mut stream, id) = mcp_session(&addr, "/mcp/all");
    let content_type = |headers: &[String]| {
        headers
            .iter()
            .find_map(|h| h.strip_prefix("content-type:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let echo = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "everything__echo", "arguments": {"message": "plain"}}});
    let (status, headers, body) = mcp_post(&mut stream, "/mcp/all", &echo.to_string(), Some(&id));
    assert!(status.contains("200"), "{status}");
    assert_eq!(content_type(&headers), "application/json", "{headers:?}");
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(answer["id"], 2);
    assert!(answer["result"].to_string().contains("plain"), "{answer}");

    let long = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "everything__trigger-long-running-operation",
        "arguments": {"duration": 1, "steps": 3},
        "_meta": {"progressToken": "p-1"}}});
    let (_, headers, body) = mcp_post(&mut stream, "/mcp/all", &long.to_string(), Some(&id));
    assert!(
        content_type(&headers).starts_with("text/event-stream"),
        "{headers:?}"
    );
    let messages: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:").map(str::trim))
        .filter(|d| !d.is_empty())
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect();
    let progress: Vec<f64> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| {
            assert_eq!(m["params"]["progressToken"], "p-1", "{m}");
            m["params"]["progress"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(progress, [1.0, 2.0, 3.0], "{body}");
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 3, "the answer comes last: {body}");
    assert!(last.get("result").is_some(), "{last}");
}
