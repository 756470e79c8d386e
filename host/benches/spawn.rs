//! Start-up of many servers that are costly to spawn: 1,000 Python stdio servers
//! (`py_server.py`, three tools each, tens of milliseconds of CPU to start), timed from the
//! daemon's launch until `/mcp/all` lists every tool, against the spawn-CPU limit (the CPU
//! one server costs to start, measured alone first, times the servers, divided by the cores). Also prints the attempts per server (a
//! start that timed out was paid twice), the daemon's RSS and its own CPU. Prints figures;
//! asserts only that every tool was listed.
//!
//! Then the same servers behind mcp-hub (installed with the test tools), which spawns every
//! server at once: the time until it says all started and its `/api/servers` shows every
//! tool, its CPU and RSS. Both in one run, so the machine is the same for both.
//!
//! Run: `cargo bench -p mcpproxy --bench spawn` (`-- quick` for 200 servers). Needs the test
//! tools' Python (`host/tests/tools/install.sh`).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Daemon, mcp_post, mcp_session, rss_kib, tools_dir};
use serde_json::{Value, json};

const TOOLS_PER_SERVER: usize = 3;

/// CPU time (user + system) process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos((ticks(11) + ticks(12)) * 1_000_000_000 / per_second)
}

/// The CPU one server costs to start and list its tools, measured alone: `samples` starts
/// one after another, each answering `initialize` and `tools/list`, then exiting.
fn start_cpu(python: &std::path::Path, script: &str, samples: u32) -> Duration {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let children = || {
        let usage =
            nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
        let (user, system) = (usage.user_time(), usage.system_time());
        Duration::from_micros(
            (user.tv_sec() * 1_000_000
                + user.tv_usec()
                + system.tv_sec() * 1_000_000
                + system.tv_usec()) as u64,
        )
    };
    let before = children();
    for _ in 0..samples {
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let requests = concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            "\n"
        );
        child
            .stdin
            .take()
            .unwrap()
            .write_all(requests.as_bytes())
            .unwrap();
        child.wait().unwrap();
    }
    (children() - before) / samples
}

/// Tools `/mcp/all` lists now, every page followed.
fn listed(stream: &mut std::io::BufReader<std::net::TcpStream>, session: &str) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor.map_or(json!({}), |c| json!({"cursor": c}));
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params});
        let (_, _, text) = mcp_post(stream, "/mcp/all", &body.to_string(), Some(session));
        let data = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find(|d| d.contains("\"result\""))
            .unwrap_or(&text);
        let answer: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
        let result = &answer["result"];
        count += result["tools"].as_array().map_or(0, Vec::len);
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return count,
        }
    }
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/py_server.py");

fn python() -> std::path::PathBuf {
    tools_dir().join("venv/bin/python")
}

fn race(servers: usize) {
    let python = python();
    let entries: Vec<Value> = (0..servers)
        .map(|i| json!({"name": format!("py-{i:04}"), "command": python, "args": [SCRIPT]}))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let each = start_cpu(&python, SCRIPT, 20);
    let started = Instant::now();
    let daemon = Daemon::start(json!({"mcpServers": entries}), &[]);
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let want = servers * TOOLS_PER_SERVER;
    let deadline = started + Duration::from_secs(600);
    // Polls with a deadline: `/status` until every server is Ready (a tools/list of
    // thousands of tools ten times a second would cost the daemon more than the /status),
    // then tools/list until every tool is there.
    let ready = || daemon.status()["servers"]["by_state"]["Ready"].as_u64();
    while ready() != Some(servers as u64) {
        assert!(
            Instant::now() < deadline,
            "not every server Ready in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Opened now: a connection left idle for a minute may be closed by then.
    let (mut stream, session) = mcp_session(&addr, "/mcp/all");
    while listed(&mut stream, &session) < want {
        assert!(
            Instant::now() < deadline,
            "not every tool listed in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let all_listed = started.elapsed();
    let spawn_cpu = each * servers as u32;
    let limit = spawn_cpu / cores as u32;
    let list = daemon.servers();
    let attempts: u64 = list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempts"].as_u64().unwrap_or(0))
        .sum();
    println!("\n== {servers} Python stdio servers × {TOOLS_PER_SERVER} tools, {cores} cores");
    println!(
        "every tool listed on /mcp/all   {:.2} s",
        all_listed.as_secs_f64()
    );
    println!(
        "spawn-CPU limit                 {:.2} s ({:.1} ms of CPU per server started alone × {servers} / {cores})",
        limit.as_secs_f64(),
        each.as_secs_f64() * 1000.0,
    );
    println!(
        "listed / limit                  {:.2}",
        all_listed.as_secs_f64() / limit.as_secs_f64()
    );
    println!(
        "attempts per server             {:.2}",
        attempts as f64 / servers as f64
    );
    println!(
        "daemon CPU                      {:.2} s (and its spawner {:.2} s)",
        cpu_of(daemon.pid()).as_secs_f64(),
        daemon
            .spawner_pid()
            .map_or(0.0, |pid| cpu_of(pid).as_secs_f64())
    );
    println!(
        "daemon RSS                      {} MiB",
        rss_kib(daemon.pid()) / 1024
    );
    // Once settled, the daemon gives the start-up's free heap back.
    let given_back = || (daemon.heap_given_back() > 0).then_some(());
    common::wait_for(Duration::from_secs(10), "free heap given back", given_back);
    println!(
        "  after giving back             {} MiB",
        rss_kib(daemon.pid()) / 1024
    );
}

/// The same servers behind mcp-hub: from its launch until it logs that every server started
/// and its `/api/servers` shows every tool (it spawns them all at once, then says so).
fn race_hub(servers: usize) {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hub.json");
    let entries: serde_json::Map<String, Value> = (0..servers)
        .map(|i| {
            let entry = json!({"command": python(), "args": [SCRIPT]});
            (format!("py-{i:04}"), entry)
        })
        .collect();
    std::fs::write(&config, json!({"mcpServers": entries}).to_string()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("hub.log");
    let cli = tools_dir().join("npm/node_modules/mcp-hub/dist/cli.js");
    let started = Instant::now();
    let mut hub = Command::new("node")
        .arg(cli)
        .args(["--port", &port.to_string(), "--config"])
        .arg(&config)
        // Its state and logs go under HOME.
        .env("HOME", dir.path())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs mcp-hub");
    common::wait_for(
        Duration::from_secs(600),
        "mcp-hub to start every server",
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("servers started successfully").then_some(())
        },
    );
    let listing = common::http_get_with(&format!("http://127.0.0.1:{port}/api/servers"), None)
        .expect("mcp-hub answers /api/servers");
    let all_listed = started.elapsed();
    let listing: Value = serde_json::from_str(&listing).unwrap();
    let tools: usize = listing["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "connected")
        .map(|s| s["capabilities"]["tools"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        tools,
        servers * TOOLS_PER_SERVER,
        "mcp-hub lists every tool"
    );
    println!("\n== the same servers behind mcp-hub (4.2.1, every server spawned at once)");
    println!(
        "every tool listed (/api/servers) {:.2} s",
        all_listed.as_secs_f64()
    );
    println!(
        "mcp-hub CPU                     {:.2} s",
        cpu_of(hub.id()).as_secs_f64()
    );
    println!(
        "mcp-hub RSS                     {} MiB",
        rss_kib(hub.id()) / 1024
    );
    // SIGTERM: it stops its servers on the way out.
    let pid = nix::unistd::Pid::from_raw(hub.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = hub.wait();
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let servers = if quick { 200 } else { 1000 };
    race(servers);
    race_hub(servers);
}
