//! The fault matrix: the real daemon under bad input and faults, one class per test, every
//! member of the class tried. Each asserts that the daemon stays healthy (`/healthz`, its
//! other servers), answers with a clear error, and loses nothing (the user's edits stay in
//! the file and in force).
//!
//! Classes: config edits (each save style, with and without `generation`, racing the
//! daemon's own saves); every duration and number key at 0, negative, huge and of the wrong
//! type; bad HTTP and JSON-RPC input (non-JSON, non-JSON-RPC, oversized, slow headers,
//! thousands of dropped connections); upstream misbehaviour after Ready (huge results,
//! garbage, death mid-call, freezing); and policy answers at their extremes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::guest;

fn healthy(daemon: &Daemon) {
    let body = http_get(&format!("{}/healthz", daemon.base_url)).expect("/healthz answers");
    assert_eq!(body.trim(), "ok");
}

/// Writes `bytes` to `path` the way an editor or tool of `style` saves.
fn save(path: &Path, bytes: &[u8], style: &str) {
    let dir = path.parent().unwrap();
    match style {
        "atomic" => {
            let tmp = dir.join(".edit.tmp");
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
        "in-place" => std::fs::write(path, bytes).unwrap(),
        "vim" => {
            let backup = dir.join("mcp_config.json~");
            std::fs::rename(path, &backup).unwrap();
            std::fs::write(path, bytes).unwrap();
            std::fs::remove_file(&backup).unwrap();
        }
        "recreate" => {
            std::fs::remove_file(path).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        other => panic!("no save style {other}"),
    }
}

fn fixture_args(name: &str, tools: usize) -> Value {
    json!([
        "--transport",
        "stdio",
        "--name",
        name,
        "--mode",
        "healthy",
        "--tools",
        tools.to_string()
    ])
}

fn entry<'a>(config: &'a mut Value, name: &str) -> &'a mut Value {
    config["mcpServers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in the config"))
}

/// Each save style, with the daemon's `generation` kept and without it, while the daemon
/// itself saves the file again and again (`upstream_servers` switching another server): every
/// user edit reaches its server and stays in the file; the daemon's own edits never undo it.
#[test]
fn config_edits_in_every_save_style_survive_racing_daemon_saves() {
    let mut edited = fixture_server("edited", "healthy");
    edited["args"] = fixture_args("edited", 0);
    let daemon = Daemon::start(
        json!({"watch_debounce_ms": 100, "mcpServers": [edited, fixture_server("toggled", "healthy")]}),
        &[],
    );
    daemon.wait_state("edited", "Ready", Duration::from_secs(30));
    daemon.wait_state("toggled", "Ready", Duration::from_secs(30));

    let stop = Arc::new(AtomicBool::new(false));
    let toggler = {
        let stop = stop.clone();
        let (config, data_dir) = (daemon.config.clone(), daemon.data_dir.clone());
        std::thread::spawn(move || {
            let mut enable = false;
            let mut saves = 0;
            while !stop.load(Ordering::SeqCst) {
                let op = if enable { "enable" } else { "disable" };
                let out = std::process::Command::new(MCPPROXY)
                    .args(["call", "tool", "--tool-name=upstream_servers"])
                    .arg(format!(
                        r#"--json_args={{"operation":"{op}","name":"toggled"}}"#
                    ))
                    .args(["--config".as_ref(), config.as_os_str()])
                    .args(["--data-dir".as_ref(), data_dir.as_os_str()])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                enable = !enable;
                saves += 1;
            }
            saves
        })
    };

    let mut edits = 0;
    for style in ["atomic", "in-place", "vim", "recreate"] {
        for keep_generation in [true, false] {
            edits += 1;
            let mut config = read_json(&daemon.config);
            entry(&mut config, "edited")["args"] = fixture_args("edited", edits);
            if !keep_generation {
                config.as_object_mut().unwrap().remove("generation");
            }
            save(
                &daemon.config,
                &serde_json::to_vec_pretty(&config).unwrap(),
                style,
            );
            wait_for(
                Duration::from_secs(30),
                &format!("the {style} edit (generation kept: {keep_generation}) to apply"),
                || (daemon.server("edited")["tool_count"] == 3 + edits).then_some(()),
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    let daemon_saves = toggler.join().unwrap();
    assert!(daemon_saves >= 4, "only {daemon_saves} racing daemon edits");

    // Nothing lost: the last edit is in the file and in force, the file and the daemon agree
    // on the toggled server, every edit was one sync and no save ever came back as one.
    wait_for(Duration::from_secs(10), "the last save to settle", || {
        let file = read_json(&daemon.config);
        let toggled = daemon.server("toggled");
        let enabled_in_file = entry(&mut file.clone(), "toggled")["enabled"] != false;
        (toggled["enabled"] == enabled_in_file).then_some(())
    });
    let mut file = read_json(&daemon.config);
    assert_eq!(
        entry(&mut file, "edited")["args"],
        fixture_args("edited", edits)
    );
    assert_eq!(daemon.server("edited")["tool_count"], 3 + edits);
    let status = daemon.status();
    assert_eq!(status["config_syncs"], 1 + edits as u64, "{status}");
    assert!(status["last_config_error"].is_null(), "{status}");
    healthy(&daemon);
}

/// Every duration and number key at 0, negative, huge and of the wrong type, edited into
/// the running daemon: each is refused with an error naming the key, the running config
/// stays (no server restarts), and fixing the file clears the error. `health_check_interval:
/// 0` means off and applies, and the server stays supervised.
#[test]
fn every_duration_and_number_key_at_its_extremes_keeps_the_running_config() {
    let daemon = Daemon::start(
        json!({"watch_debounce_ms": 50, "mcpServers": [fixture_server("a", "healthy")]}),
        &[],
    );
    let pid = daemon.wait_state("a", "Ready", Duration::from_secs(30))["pid"].clone();
    let original = read_json(&daemon.config);
    let write = |config: &Value| {
        save(
            &daemon.config,
            &serde_json::to_vec_pretty(config).unwrap(),
            "atomic",
        )
    };
    let wait_error = |what: &str, want: Option<&str>| {
        wait_for(Duration::from_secs(20), what, || {
            let status = daemon.status();
            let error = status["last_config_error"].as_str().map(str::to_string);
            match (want, error) {
                (None, None) => Some(()),
                (Some(field), Some(e)) if e.contains(field) => Some(()),
                _ => None,
            }
        })
    };
    let keys = [
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
        json!(0),
        json!(-1),
        json!(1e15),
        json!("100000000h"),
        json!(true),
    ];
    for (key, place) in keys {
        for value in &values {
            let mut config = read_json(&daemon.config);
            match place {
                "top" => config[key] = value.clone(),
                "policy" => config["policy"] = json!({ key: value }),
                _ => config["mcpServers"][0][key] = value.clone(),
            }
            write(&config);
            let what = format!("{place} {key} = {value}");
            if (key, place) == ("health_check_interval", "top") && *value == json!(0) {
                wait_for(Duration::from_secs(20), "health checks off", || {
                    (daemon.status()["settings"]["health_check_interval_ms"] == 0).then_some(())
                });
                let answer = call_tool_json(
                    &daemon,
                    "call_tool",
                    json!({"name": "a:echo", "args": {"text": "still served"}}),
                );
                assert!(answer.to_string().contains("still served"), "{answer}");
                let mut back = read_json(&daemon.config);
                back.as_object_mut().unwrap().remove(key);
                write(&back);
                wait_for(Duration::from_secs(20), "health checks back on", || {
                    (daemon.status()["settings"]["health_check_interval_ms"] == 30_000)
                        .then_some(())
                });
                continue;
            }
            let field = if place == "policy" {
                format!("field \"policy.{key}\"")
            } else {
                format!("field \"{key}\"")
            };
            wait_error(&what, Some(&field));
            healthy(&daemon);
            let mut fixed = original.clone();
            if let Some(g) = read_json(&daemon.config).get("generation") {
                fixed["generation"] = g.clone();
            }
            write(&fixed);
            wait_error(&format!("{what} to be fixed"), None);
        }
    }
    let a = daemon.server("a");
    assert_eq!(a["connection_state"], "Ready", "{a}");
    assert_eq!(a["pid"], pid, "an invalid edit restarted the server: {a}");
    assert_eq!(daemon.status()["settings"]["init_timeout_ms"], 30_000);
}

/// Reads what the daemon sends on `stream` until it closes the connection or `limit` passes;
/// `true` when it closed it.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    let start = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return start.elapsed() < limit,
        }
        if start.elapsed() >= limit {
            return false;
        }
    }
}

/// Bad input on the HTTP side: bodies that are not JSON or not JSON-RPC get JSON-RPC errors
/// (not a bare 415), an oversized one a 413, a wrong `Content-Type` a 415; a request whose
/// headers never finish is dropped after the header timeout; thousands of connections opened
/// and dropped, some mid-request, leave no file descriptor behind and the daemon serving.
#[test]
fn bad_http_and_json_rpc_input_gets_clear_errors_and_loses_nothing() {
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("a", "healthy")]}), &[]);
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    let mcp = format!("{}/mcp", daemon.base_url);
    let json_error = |body: &str| -> Value {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not a JSON-RPC error ({e}): {body}"))
    };

    let (status, body) = http_post(&mcp, "application/json", b"{\"jsonrpc\": ".to_vec());
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_error(&body)["error"]["code"], -32700, "{body}");
    let (status, body) = http_post(&mcp, "application/json", b"[1, 2, 3]".to_vec());
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_error(&body)["error"]["code"], -32600, "{body}");
    let (status, body) = http_post(
        &format!("{}/mcp/all", daemon.base_url),
        "application/json",
        br#"{"jsonrpc": "2.0", "id": 9, "method": 9}"#.to_vec(),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_error(&body)["id"], 9, "{body}");
    let huge = format!(
        r#"{{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {{"x": "{}"}}}}"#,
        "y".repeat(5 << 20)
    );
    let (status, body) = http_post(&mcp, "application/json", huge.into_bytes());
    assert_eq!(status, 413, "{body}");
    assert_eq!(json_error(&body)["error"]["code"], -32600, "{body}");
    let (status, _) = http_post(&mcp, "text/plain", b"{}".to_vec());
    assert_eq!(status, 415);

    let pid = daemon.pid();
    let fds_before = fd_count(pid);
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    // Headers that never end: dropped after the header timeout, while others are served.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        .unwrap();
    healthy(&daemon);
    assert!(
        closed_within(&mut slow, Duration::from_secs(30)),
        "a request with unfinished headers still holds its connection"
    );
    // Thousands of connections dropped at once or halfway through a request.
    for i in 0..2000 {
        let mut c = TcpStream::connect(&addr).unwrap();
        if i % 10 == 0 {
            let _ = c.write_all(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"js",
            );
        }
    }
    healthy(&daemon);
    wait_for(
        Duration::from_secs(30),
        "the dropped connections' descriptors to close",
        || (fd_count(pid) <= fds_before + 2).then_some(()),
    );
    let answer = call_tool_json(
        &daemon,
        "call_tool",
        json!({"name": "a:echo", "args": {"text": "after the storm"}}),
    );
    assert!(answer.to_string().contains("after the storm"), "{answer}");
}

/// `mcpproxy call tool` of `call_tool` for `server:tool`: success, stdout, stderr.
fn call(daemon: &Daemon, name: &str, args: Value) -> (bool, String, String) {
    let json_args = json!({"name": name, "args": args}).to_string();
    let out = daemon.cli_output(&[
        "call",
        "tool",
        "--tool-name=call_tool",
        &format!("--json_args={json_args}"),
    ]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A result over `tool_response_limit` (default 1 MiB) is cut to it with a marker, whatever
/// the route, and the memory the whole result took goes back; an edit of the limit applies
/// to the next call.
#[test]
fn an_oversized_result_is_cut_with_a_marker_and_its_memory_goes_back() {
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("s", "healthy")]}), &[]);
    daemon.wait_state("s", "Ready", Duration::from_secs(30));
    let pid = daemon.pid();
    let _ = call(&daemon, "s:echo", json!({"text": "warm up"}));
    let resting = rss_anon_kib(pid);
    for _ in 0..3 {
        let (ok, out, err) = call(&daemon, "s:big", json!({"bytes": 8_000_000}));
        assert!(ok, "{err}");
        assert!(
            out.len() < (1 << 20) + 4096,
            "{} bytes passed on",
            out.len()
        );
        assert!(
            out.contains("was 8000000 bytes, over tool_response_limit (1048576)"),
            "no marker in {}",
            &out[out.len().saturating_sub(300)..]
        );
    }
    let grown = rss_anon_kib(pid).saturating_sub(resting);
    println!("anonymous memory after three cut 8 MB results: +{grown} KiB");
    assert!(grown < 30 * 1024, "kept {grown} KiB");

    let mut config = read_json(daemon.config_path());
    config["tool_response_limit"] = json!(10_000_000);
    save_atomically(daemon.config_path(), &config);
    wait_for(Duration::from_secs(20), "the new limit to apply", || {
        let (_, out, _) = call(&daemon, "s:big", json!({"bytes": 2_000_000}));
        (out.len() >= 2_000_000 && !out.contains("tool_response_limit")).then_some(())
    });
}

/// Upstream servers that misbehave after Ready, over stdio and streamable HTTP: a 10 MB
/// result arrives whole and its memory goes back; garbage on stdout, a death mid-call and a
/// server that freezes each end in a clear error (never a hang past `call_tool_timeout`), the
/// server is reconnected where it can be, and the other servers are served throughout.
#[test]
fn upstream_misbehaviour_after_ready_ends_in_clear_errors() {
    let http = HttpFixture::start("http", "healthy");
    let daemon = Daemon::start(
        json!({
            "call_tool_timeout": "3s",
            "health_check_interval": "1s",
            "init_timeout": "5s",
            // Whole results here; cutting them is the next test's.
            "tool_response_limit": 0,
            "mcpServers": [
                fixture_server("s", "healthy"),
                {"name": "h", "url": format!("http://{}/mcp", http.addr), "protocol": "streamable-http"},
                fixture_server("bystander", "healthy"),
            ]
        }),
        &[],
    );
    for name in ["s", "h", "bystander"] {
        daemon.wait_state(name, "Ready", Duration::from_secs(30));
    }
    let pid = daemon.pid();
    let bystander_pid = daemon.server("bystander")["pid"].clone();
    let bystander = || {
        let (ok, out, err) = call(&daemon, "bystander:echo", json!({"text": "fine"}));
        assert!(ok && out.contains("fine"), "{out} {err}");
    };

    // A 10 MB result over each transport, whole; and the memory it took goes back (glibc
    // used to keep ~60 MB after one such result).
    let _ = call(&daemon, "s:echo", json!({"text": "warm up"}));
    let resting = rss_anon_kib(pid);
    for name in ["s:big", "h:big"] {
        let (ok, out, err) = call(&daemon, name, json!({"bytes": 10_000_000}));
        assert!(ok, "{name}: {err}");
        assert!(out.len() >= 10_000_000, "{name}: {} bytes", out.len());
    }
    let grown = rss_anon_kib(pid).saturating_sub(resting);
    println!("anonymous memory after two 10 MB results: +{grown} KiB");
    assert!(
        grown < 30 * 1024,
        "kept {grown} KiB after the 10 MB results"
    );
    bystander();

    // Garbage on stdout mid-session: an answer or a clear error, and the server is back.
    let (_, out, err) = call(&daemon, "s:garbage", json!({}));
    assert!(
        out.contains("wrote garbage") || !err.is_empty(),
        "{out} {err}"
    );
    daemon.wait_state("s", "Ready", Duration::from_secs(30));
    bystander();

    // Death mid-call: the call fails saying so, and the server is started again.
    let before = daemon.server("s")["pid"].clone();
    let (ok, _, err) = call(&daemon, "s:die", json!({}));
    assert!(!ok, "a call whose server died succeeded");
    assert!(
        err.contains("s") && err.to_lowercase().contains("lost"),
        "{err}"
    );
    wait_for(Duration::from_secs(30), "s to be started again", || {
        let s = daemon.server("s");
        (s["connection_state"] == "Ready" && s["pid"] != before).then_some(())
    });

    // Freezing: the health check (1 s) notices before call_tool_timeout (3 s) would, the
    // call ends saying so (not "cancelled by the client"), and the process is replaced.
    let frozen = daemon.server("s")["pid"].as_u64().unwrap() as u32;
    let started = Instant::now();
    let (ok, _, err) = call(&daemon, "s:freeze", json!({}));
    assert!(!ok && err.contains("health check failed"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    wait_for(
        Duration::from_secs(30),
        "the frozen process to be gone",
        || (!pid_alive(frozen)).then_some(()),
    );
    daemon.wait_state("s", "Ready", Duration::from_secs(30));

    // The HTTP upstream dies mid-call: a clear error, and the server goes through the
    // failure path (nothing listens there any more).
    let (ok, _, err) = call(&daemon, "h:die", json!({}));
    assert!(!ok && !err.is_empty(), "{err}");
    wait_for(Duration::from_secs(30), "h to fail", || {
        let h = daemon.server("h");
        (h["connection_state"] != "Ready" && !h["last_error"].is_null()).then_some(())
    });
    bystander();
    assert_eq!(daemon.server("bystander")["pid"], bystander_pid);
    healthy(&daemon);
}

/// Policy answers at their extremes, in the running daemon: a backoff of 0 from a policy that
/// never disables is raised to the 100 ms floor (counted), so a crashing server is retried at
/// most ten times a second; the longest backoff allowed (24 h) is kept; a policy whose backoff
/// is beyond it is refused when it loads and the running one stays.
#[test]
fn policy_answers_at_their_extremes_are_held_to_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::write(&policy, guest::backoff_of(0)).unwrap();
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("crashy", "crash"), fixture_server("ok", "healthy")]}),
        &["--policy", policy.to_str().unwrap()],
    );
    daemon.wait_state("ok", "Ready", Duration::from_secs(30));
    let started = Instant::now();
    let first = daemon.server("crashy")["attempts"].as_u64().unwrap();
    let status = wait_for(Duration::from_secs(30), "clamped backoffs", || {
        let s = daemon.status();
        (s["policy"]["backoffs_clamped"].as_u64().unwrap_or(0) >= 10).then_some(s)
    });
    let attempts = daemon.server("crashy")["attempts"].as_u64().unwrap() - first;
    let ceiling = (started.elapsed().as_millis() / 100) as u64 + 2;
    assert!(
        attempts <= ceiling,
        "{attempts} attempts in {:?}",
        started.elapsed()
    );
    assert_eq!(status["policy"]["fallbacks"], 0, "{}", status["policy"]);
    healthy(&daemon);

    // The longest backoff a policy may give: kept as it is.
    let tmp = dir.path().join(".policy.tmp");
    std::fs::write(&tmp, guest::backoff_of(86_400_000)).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let crashy = wait_for(Duration::from_secs(60), "a 24 h backoff", || {
        let s = daemon.server("crashy");
        let at = s["next_retry_at"].as_str()?;
        let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
        let wait = at.signed_duration_since(chrono::Utc::now());
        (wait > chrono::Duration::hours(23)).then_some(s)
    });
    assert_eq!(crashy["connection_state"], "Sleeping", "{crashy}");

    // Beyond it: refused at load, the running policy stays.
    let running = daemon.status()["policy"]["sha256"].clone();
    std::fs::write(&tmp, guest::always_absurd_backoff()).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let status = wait_for(
        Duration::from_secs(60),
        "the absurd policy to be refused",
        || {
            let s = daemon.status();
            s["policy"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("policy.wasm"))
                .then_some(s)
        },
    );
    assert_eq!(status["policy"]["sha256"], running, "{}", status["policy"]);
    healthy(&daemon);
}
