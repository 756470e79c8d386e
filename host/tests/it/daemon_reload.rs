//! End-to-end reloads against the real file system: the daemon's own saves never reload,
//! a user's edit touches exactly what changed, bad edits keep the running config.

use crate::guest;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

fn servers_by_name(daemon: &Daemon) -> BTreeMap<String, Value> {
    let list = daemon.servers();
    list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

fn edit_config(daemon: &Daemon, change: impl FnOnce(&mut Value)) {
    let mut config = read_json(&daemon.config);
    change(&mut config);
    save_atomically(&daemon.config, &config);
}

fn server_entry<'a>(config: &'a mut Value, name: &str) -> &'a mut Value {
    config["mcpServers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["name"] == name)
        .unwrap()
}

/// Wait until the daemon has dealt with an outside edit (the watcher handles events in
/// order, so everything written before it has been seen too).
fn wait_reload_handled(daemon: &Daemon, reloads_before: u64) -> Value {
    wait_for(Duration::from_secs(20), "the edit to be handled", || {
        let s = daemon.status();
        (s["config"]["reloads"].as_u64().unwrap() > reloads_before).then_some(s)
    })
}

#[test]
fn a_burst_of_auto_disables_never_triggers_a_reload() {
    let mut servers: Vec<Value> = (0..10)
        .map(|i| fixture_server(&format!("good-{i}"), "healthy"))
        .collect();
    servers.extend((0..30).map(|i| fixture_server(&format!("bad-{i}"), "crash")));
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    wait_for(
        Duration::from_secs(60),
        "all 30 failing servers to be auto-disabled",
        || {
            let list = daemon.servers();
            (list["summary"]["by_state"]["Auto-Disabled"] == 30
                && list["summary"]["by_state"]["Ready"] == 10)
                .then_some(())
        },
    );
    // Every auto-disable is in the file, with its reason.
    let file = wait_for(
        Duration::from_secs(10),
        "all 30 auto-disables to be saved",
        || {
            let file = read_json(&daemon.config);
            let saved = file["mcpServers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["auto_disabled"] == true)
                .count();
            (saved == 30).then_some(file)
        },
    );
    for s in file["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["auto_disabled"] == true)
    {
        assert!(
            s["auto_disable_reason"]
                .as_str()
                .unwrap()
                .contains("exited with code 3"),
            "{s}"
        );
    }
    // The watcher sees the daemon's own saves and recognises them by generation and bytes.
    wait_for(
        Duration::from_secs(10),
        "an own save to be recognised",
        || (daemon.status()["self_writes_suppressed"].as_u64().unwrap() >= 1).then_some(()),
    );
    // A metadata-only user edit after the burst: once it is handled, every earlier save was
    // seen; the policy ignores it, since it changes nothing effective.
    let reloads = daemon.status()["config"]["reloads"].as_u64().unwrap();
    edit_config(&daemon, |c| {
        server_entry(c, "good-0")["description"] = json!("touched by the test")
    });
    wait_reload_handled(&daemon, reloads);
    let status = wait_for(
        Duration::from_secs(10),
        "the policy to ignore the edit",
        || {
            let s = daemon.status();
            (s["reloads_ignored_by_policy"] == 1).then_some(s)
        },
    );

    assert_eq!(
        daemon.main_log().matches("Starting server sync").count(),
        1,
        "only the start-up sync"
    );
    assert_eq!(status["config_syncs"], 1, "{status}");
    assert!(
        status["self_writes_suppressed"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(
        status["config"]["saves"].as_u64().unwrap() < 30,
        "saves are coalesced: {status}"
    );
    // Each failing server was attempted exactly as often as the default policy asks (3
    // deterministic failures in a row).
    for (name, s) in servers_by_name(&daemon)
        .iter()
        .filter(|(n, _)| n.starts_with("bad-"))
    {
        assert_eq!(s["attempts"], 3, "{name}: {s}");
    }
}

#[test]
fn editing_one_server_of_200_restarts_exactly_that_one() {
    let servers: Vec<Value> = (0..200)
        .map(|i| fixture_server(&format!("s{i:03}"), "healthy"))
        .collect();
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    wait_for(Duration::from_secs(120), "200 servers Ready", || {
        (daemon.servers()["summary"]["by_state"]["Ready"] == 200).then_some(())
    });
    let before = servers_by_name(&daemon);
    edit_config(&daemon, |c| {
        server_entry(c, "s042")["args"]
            .as_array_mut()
            .unwrap()
            .extend([json!("--tools"), json!("2")]);
    });
    let after = wait_for(
        Duration::from_secs(30),
        "s042 to restart with its new args",
        || {
            let now = servers_by_name(&daemon);
            let s = &now["s042"];
            (s["connection_state"] == "Ready" && s["pid"] != before["s042"]["pid"]).then_some(now)
        },
    );
    assert_eq!(
        after["s042"]["tool_count"].as_u64(),
        Some(before["s042"]["tool_count"].as_u64().unwrap() + 2)
    );
    for (name, s) in &before {
        if name != "s042" {
            assert_eq!(after[name]["pid"], s["pid"], "{name} kept its process");
            assert_eq!(
                after[name]["connected_at"], s["connected_at"],
                "{name} kept its connection"
            );
        }
    }
    assert_eq!(daemon.main_log().matches("Starting server sync").count(), 2);
}

#[test]
fn an_invalid_edit_keeps_the_running_config_and_the_next_valid_one_applies() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("steady", "healthy")]}),
        &[],
    );
    let steady = daemon.wait_state("steady", "Ready", Duration::from_secs(30));
    let good = read_json(&daemon.config);

    std::fs::write(
        &daemon.config,
        "{\n  \"mcpServers\": [\n    {\"name\": \"x\",, }\n  ]\n}\n",
    )
    .unwrap();
    let status = wait_for(
        Duration::from_secs(20),
        "the config error to be reported",
        || {
            let s = daemon.status();
            s["last_config_error"].is_string().then_some(s)
        },
    );
    let error = status["last_config_error"].as_str().unwrap();
    assert!(
        error.contains("mcp_config.json") && error.contains("line 3"),
        "{error}"
    );
    assert_eq!(
        daemon.server("steady")["pid"],
        steady["pid"],
        "the running server is untouched"
    );

    let mut fixed = good.clone();
    fixed["mcpServers"]
        .as_array_mut()
        .unwrap()
        .push(fixture_server("newcomer", "healthy"));
    // A server entry with a bad field is also refused, naming the server and the field.
    let mut bad_field = fixed.clone();
    bad_field["mcpServers"][1]["protocol"] = json!("carrier-pigeon");
    save_atomically(&daemon.config, &bad_field);
    wait_for(
        Duration::from_secs(20),
        "the field error to be reported",
        || {
            let e = daemon.status()["last_config_error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (e.contains("newcomer") && e.contains("protocol")).then_some(())
        },
    );
    assert!(daemon.server("newcomer").is_null());

    save_atomically(&daemon.config, &fixed);
    daemon.wait_state("newcomer", "Ready", Duration::from_secs(30));
    assert!(daemon.status()["last_config_error"].is_null());
    assert_eq!(daemon.server("steady")["pid"], steady["pid"]);
}

#[test]
fn a_user_fixing_an_auto_disabled_server_gets_it_retried_at_once() {
    let daemon = Daemon::start(
        json!({"mcpServers": [{"name": "fixme", "command": "/nonexistent/server"}]}),
        &[],
    );
    daemon.wait_state("fixme", "Auto-Disabled", Duration::from_secs(30));
    wait_for(
        Duration::from_secs(10),
        "the auto-disable to be saved",
        || (read_json(&daemon.config)["mcpServers"][0]["auto_disabled"] == true).then_some(()),
    );
    edit_config(&daemon, |c| {
        let entry = server_entry(c, "fixme");
        *entry = fixture_server("fixme", "healthy");
    });
    let s = daemon.wait_state("fixme", "Ready", Duration::from_secs(30));
    assert_eq!(s["auto_disabled"], false);
}

/// An edit of the config's `policy` section takes effect while running, settings and limits
/// alike; a `--policy` given at start keeps winning over `policy.path`.
/// A file without a `generation` is the user's newest word: the auto-disable and the added
/// server it lacks stay gone (the policy decides again on the server, which is retried), and
/// status names the daemon edits it superseded.
#[test]
fn a_file_without_generation_wins_over_the_daemons_edits() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("crashy", "crash"), fixture_server("a", "healthy")]}),
        &[],
    );
    daemon.wait_state("crashy", "Auto-Disabled", Duration::from_secs(60));
    call_tool_json(
        &daemon,
        "upstream_servers",
        json!({"operation": "add", "name": "b", "server": {"command": FIXTURE, "args": ["--mode", "healthy"]}}),
    );
    daemon.wait_state("b", "Ready", Duration::from_secs(30));
    let failures = |log: &str| {
        log.lines()
            .filter(|l| l.contains("server=crashy") && l.contains("connection failed"))
            .count()
    };
    assert_eq!(failures(&daemon.main_log()), 3);

    let reloads = daemon.status()["config"]["reloads"].as_u64().unwrap();
    let user = json!({"listen": "127.0.0.1:0", "mcpServers": [fixture_server("crashy", "crash"), fixture_server("a", "healthy")]});
    let tmp = daemon.config.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&user).unwrap()).unwrap();
    std::fs::rename(&tmp, &daemon.config).unwrap();
    let status = wait_reload_handled(&daemon, reloads);
    let superseded = &status["config"]["superseded_edits"];
    assert_eq!(
        superseded,
        &json!(["auto-disable crashy", "add b"]),
        "{status}"
    );
    wait_for(Duration::from_secs(30), "b to be stopped", || {
        daemon.server("b").is_null().then_some(())
    });
    // The policy decides again: three more attempts, then a new auto-disable of its own.
    wait_for(Duration::from_secs(60), "crashy to be retried", || {
        (failures(&daemon.main_log()) == 6).then_some(())
    });
    daemon.wait_state("crashy", "Auto-Disabled", Duration::from_secs(60));
    let file = read_json(&daemon.config);
    let names: Vec<&str> = file["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["crashy", "a"],
        "the added server was written back: {file}"
    );
}

/// The policy's reload filter judges the user's edits of the file, not the daemon's own: with a
/// policy that ignores every change, a server the user adds to the file is not started, and one
/// added through `upstream_servers add` is, on the same route minus the filter.
#[test]
fn upstream_servers_add_is_applied_though_the_policy_ignores_every_file_edit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("ignoring.wasm");
    std::fs::write(&policy, guest::ignoring_reloads()).unwrap();
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("a", "healthy")]}),
        &["--policy", policy.to_str().unwrap()],
    );
    daemon.wait_state("a", "Ready", Duration::from_secs(30));

    let reloads = daemon.status()["config"]["reloads"].as_u64().unwrap();
    edit_config(&daemon, |c| {
        c["mcpServers"]
            .as_array_mut()
            .unwrap()
            .push(fixture_server("b", "healthy"))
    });
    wait_reload_handled(&daemon, reloads);
    wait_for(
        Duration::from_secs(20),
        "the policy to ignore the edit",
        || (daemon.status()["changes_ignored_by_policy"] == 1).then_some(()),
    );
    assert!(daemon.server("b").is_null(), "{}", daemon.server("b"));

    let added = call_tool_json(
        &daemon,
        "upstream_servers",
        json!({"operation": "add", "name": "c", "server": {"command": FIXTURE, "args": ["--mode", "healthy"]}}),
    );
    assert_eq!(added["ok"], true, "{added}");
    daemon.wait_state("c", "Ready", Duration::from_secs(30));
    let status = daemon.status();
    assert_eq!(status["changes_ignored_by_policy"], 1, "{status}");
    assert_eq!(
        status["config_syncs"], 1,
        "the daemon's edit is no reload: {status}"
    );
    assert!(daemon.server("b").is_null());
}

#[test]
fn a_policy_edit_applies_its_settings_and_limits_and_keeps_the_cli_policy() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("my-policy.wasm");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.wasm"),
        &policy,
    )
    .unwrap();
    let daemon = Daemon::start(
        json!({"mcpServers": []}),
        &["--policy", policy.to_str().unwrap()],
    );
    let before = daemon.status();
    assert_eq!(
        before["policy"]["configured_path"],
        json!(policy),
        "{}",
        before["policy"]
    );
    assert_eq!(before["policy"]["deadline_ms"], 10);

    let reloads = before["config"]["reloads"].as_u64().unwrap();
    edit_config(&daemon, |c| {
        c["policy"] = json!({"settings": {"deterministic_failures": 1}, "deadline_ms": 30, "memory_limit_mib": 24});
    });
    wait_reload_handled(&daemon, reloads);
    let after = wait_for(Duration::from_secs(30), "the new limits", || {
        let s = daemon.status();
        (s["policy"]["deadline_ms"] == 30).then_some(s)
    });
    let p = &after["policy"];
    assert_eq!(p["memory_limit_mib"], 24, "{p}");
    assert_eq!(
        p["configured_path"],
        json!(policy),
        "--policy still wins: {p}"
    );
    assert!(p["last_error"].is_null(), "{p}");
}

/// When an edit points `policy.path` at another file, that file is the one watched from then
/// on: saving a new version of it swaps the running policy.
#[test]
fn the_policy_watch_follows_an_edited_policy_path() {
    let dir = tempfile::tempdir().unwrap();
    let default = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.wasm");
    let (first, second) = (
        dir.path().join("first.wasm"),
        dir.path().join("second.wasm"),
    );
    std::fs::copy(&default, &first).unwrap();
    std::fs::copy(&default, &second).unwrap();
    let daemon = Daemon::start(json!({"mcpServers": [], "policy": {"path": first}}), &[]);
    assert_eq!(daemon.status()["policy"]["configured_path"], json!(first));

    edit_config(&daemon, |c| c["policy"]["path"] = json!(second));
    wait_for(Duration::from_secs(30), "the second policy file", || {
        (daemon.status()["policy"]["configured_path"] == json!(second)).then_some(())
    });

    // A new version of the second file, saved the way editors and build tools do.
    let guest = guest::policy(guest::Misbehaviour::Nothing);
    let staged = dir.path().join("second.wasm.tmp");
    std::fs::write(&staged, &guest).unwrap();
    std::fs::rename(&staged, &second).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&guest))
    };
    let status = wait_for(Duration::from_secs(30), "the new version to run", || {
        let s = daemon.status();
        (s["policy"]["sha256"] == json!(sha)).then_some(s)
    });
    assert!(
        status["policy"]["last_error"].is_null(),
        "{}",
        status["policy"]
    );
}

/// A policy path in a directory that does not exist: the daemon serves on the embedded
/// default and says why; pointing `policy.path` at a real file then loads and watches it.
#[test]
fn a_policy_in_a_missing_directory_falls_back_and_the_daemon_serves() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/policy.wasm");
    let daemon = Daemon::start(json!({"mcpServers": [], "policy": {"path": missing}}), &[]);
    let policy = daemon.status()["policy"].clone();
    assert_eq!(policy["source"], "embedded", "{policy}");
    assert_eq!(policy["fallback_active"], true, "{policy}");
    assert!(
        policy["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no-such-dir")),
        "{policy}"
    );

    let real = dir.path().join("policy.wasm");
    std::fs::write(&real, guest::policy(guest::Misbehaviour::Nothing)).unwrap();
    edit_config(&daemon, |c| c["policy"]["path"] = json!(real));
    wait_for(
        Duration::from_secs(30),
        "the real policy file to run",
        || {
            let p = daemon.status()["policy"].clone();
            (p["source"] == json!(real.display().to_string())).then_some(())
        },
    );
    // ...and it is watched: a new version replaces it.
    std::fs::write(&real, guest::always_absurd_backoff()).unwrap();
    let policy = wait_for(
        Duration::from_secs(30),
        "the new version to be refused",
        || {
            let p = daemon.status()["policy"].clone();
            p["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("smoke test failed"))
                .then_some(p)
        },
    );
    assert_eq!(
        policy["source"],
        json!(real.display().to_string()),
        "{policy}"
    );
}

/// `call_tool_timeout`, `tools_limit`, `init_timeout`, `health_check_interval` and
/// `watch_debounce_ms` edited in the file apply to the running daemon, without restarting it
/// or any server; an edited start-only key is shown as waiting for a restart.
#[test]
fn edited_timeouts_and_tools_limit_apply_while_running() {
    let daemon = Daemon::start(
        json!({
            "init_timeout": "60s",
            "call_tool_timeout": "60s",
            "tools_limit": 15,
            "mcpServers": [fixture_server("steady", "healthy")],
        }),
        &[],
    );
    let steady = daemon.wait_state("steady", "Ready", Duration::from_secs(30));
    let hits = |daemon: &Daemon| -> usize {
        let out = daemon.cli(&[
            "call",
            "tool",
            "--tool-name=retrieve_tools",
            r#"--json_args={"query": "steady"}"#,
        ]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["tools"].as_array().unwrap_or_else(|| panic!("{v}")).len()
    };
    assert!(hits(&daemon) > 1, "the fixture has several tools");

    let reloads = daemon.status()["config"]["reloads"].as_u64().unwrap();
    edit_config(&daemon, |c| {
        c["call_tool_timeout"] = json!("300ms");
        c["tools_limit"] = json!(1);
        c["init_timeout"] = json!("1s");
        c["health_check_interval"] = json!("45s");
        c["watch_debounce_ms"] = json!(1500);
        // Read only at start: status says it waits for a restart.
        c["listen"] = json!("127.0.0.1:1");
        // Without its own init_timeout: its connect runs under the edited global one.
        c["mcpServers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "hangs", "command": FIXTURE, "args": ["--mode", "hang"]}));
    });
    wait_reload_handled(&daemon, reloads);
    // The store counts the reload when it hands it over; the daemon applies it just after.
    let expected = json!({
        "init_timeout_ms": 1000,
        "call_tool_timeout_ms": 300,
        "health_check_interval_ms": 45000,
        "tools_limit": 1,
        "watch_debounce_ms": 1500,
        "restart_needed": ["listen"],
    });
    // `restart_needed` is set last, after the live settings.
    let settings = wait_for(Duration::from_secs(10), "the edit to be applied", || {
        let s = daemon.status()["settings"].clone();
        (s["restart_needed"] != json!([])).then_some(s)
    });
    assert_eq!(settings, expected);
    let text = daemon.cli(&["status"]);
    assert!(
        text.contains("restart needed to apply the edited listen"),
        "{text}"
    );

    assert_eq!(hits(&daemon), 1, "tools_limit 1");
    let out = std::process::Command::new(MCPPROXY)
        .args([
            "call",
            "tool",
            "--tool-name=call_tool",
            r#"--json_args={"name": "steady:sleep", "args": {"ms": 20000}}"#,
        ])
        .args(["--config".as_ref(), daemon.config.as_os_str()])
        .args(["--data-dir".as_ref(), daemon.data_dir.as_os_str()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("timed out after 300ms"), "{text}");

    // A 60 s init timeout would leave it Connecting far beyond this deadline.
    let hangs = wait_for(
        Duration::from_secs(15),
        "the hanging server to time out under the 1 s init_timeout",
        || {
            let s = daemon.server("hangs");
            s["last_error"].is_string().then_some(s)
        },
    );
    assert!(
        hangs["last_error"]
            .as_str()
            .unwrap()
            .contains("init timeout"),
        "{hangs}"
    );
    // The watcher now waits 1.5 s after the last event of a save (300 ms before).
    let written = std::time::Instant::now();
    edit_config(&daemon, |c| c["tools_limit"] = json!(2));
    wait_for(Duration::from_secs(20), "the next edit", || {
        (daemon.status()["settings"]["tools_limit"] == 2).then_some(())
    });
    let seen_after = written.elapsed();
    assert!(
        seen_after >= Duration::from_millis(1500),
        "an edit was applied {seen_after:?} after its save, within the edited 1.5 s debounce"
    );

    let now = daemon.server("steady");
    assert_eq!(now["pid"], steady["pid"], "steady was not restarted");
    assert_eq!(now["connection_state"], "Ready", "{now}");
}
