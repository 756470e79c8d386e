//! The figures of the defects found under faults, against the real daemon (prints them;
//! asserts nothing about speed):
//! - per-call latency of `tools/call` on one kept-alive connection and on a fresh connection
//!   each time (p50/p99, calls/s), with a bare HTTP/1.1 client as simple clients are (one
//!   write per request, no `TCP_NODELAY`, like Python's `http.client`);
//! - a bounded soak: 200 flapping servers (Ready, then exiting after 5-30 s, under a policy
//!   that never gives up on them) and a client polling `mcpproxy status` every second; bytes
//!   written to `main.log` (rotated files included) and the server logs, extrapolated to an
//!   hour; RSS and open file descriptors at the start and the end.
//!
//! Run: `cargo bench -p mcpproxy --bench faults` (`SOAK_SECS=600` sets the soak's length,
//! default 600; `-- latency` runs the latency part only).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::io::BufReader;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Daemon, fd_count, fixture_server, mcp_post, mcp_session, rss_kib};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn session(addr: &str) -> (BufReader<TcpStream>, String) {
    mcp_session(addr, "/mcp/all")
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"bench"}}}"#;

fn report(what: &str, mut times: Vec<Duration>, total: Duration) {
    times.sort();
    println!(
        "  {what:<34} p50 {}  p99 {}  {:.0} calls/s",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        times.len() as f64 / total.as_secs_f64()
    );
}

fn latency() {
    const CALLS: usize = 500;
    let daemon = Daemon::start(json!({"mcpServers": [fixture_server("a", "healthy")]}), &[]);
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    println!("\n== tools/call through /mcp/all, {CALLS} sequential calls");

    let (mut stream, id) = session(&addr);
    let started = Instant::now();
    let times: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let t = Instant::now();
            mcp_post(&mut stream, "/mcp/all", CALL, Some(&id));
            t.elapsed()
        })
        .collect();
    report("one kept-alive connection", times, started.elapsed());

    let started = Instant::now();
    let times: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let t = Instant::now();
            let mut fresh = BufReader::new(TcpStream::connect(&addr).unwrap());
            mcp_post(&mut fresh, "/mcp/all", CALL, Some(&id));
            t.elapsed()
        })
        .collect();
    report("a fresh connection per call", times, started.elapsed());
}

/// Bytes of `dir`'s files whose names start with `prefix` (a log and its rotated copies).
fn bytes_of(dir: &Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn soak(secs: u64) {
    const SERVERS: usize = 200;
    let servers: Vec<_> = (0..SERVERS)
        .map(|i| {
            let ready_ms = 5_000 + (i * 137) % 25_000;
            fixture_server(
                &format!("flappy-{i:03}"),
                &format!("exit-after-ready:{ready_ms}"),
            )
        })
        .collect();
    // A policy that never gives up on a flapping server: the worst case for the logs.
    let config = json!({"policy": {"settings": {"max_failures_in_window": 1_000_000, "max_consecutive_failures": 1_000_000}}, "mcpServers": servers});
    let daemon = Daemon::start(config, &["--log-level", "info"]);
    daemon.wait_settled(Duration::from_secs(120));
    let pid = daemon.pid();
    let (rss0, fds0) = (rss_kib(pid), fd_count(pid));
    let (main0, servers0) = (
        bytes_of(&daemon.log_dir, "main.log"),
        bytes_of(&daemon.log_dir, "server-"),
    );
    let started = Instant::now();
    let mut polls = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        daemon.cli(&["status"]);
        polls += 1;
        std::thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
    }
    let took = started.elapsed().as_secs_f64();
    let main = bytes_of(&daemon.log_dir, "main.log") - main0;
    let server_logs = bytes_of(&daemon.log_dir, "server-").saturating_sub(servers0);
    let list = daemon.servers();
    let attempts: u64 = list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempts"].as_u64().unwrap_or(0))
        .sum();
    let per_hour = |b: u64| b as f64 * 3600.0 / took / 1e6;
    println!("\n== soak: {SERVERS} flapping servers, `mcpproxy status` every second, {took:.0} s");
    println!("  status polls            {polls}; connection attempts {attempts}");
    println!(
        "  main.log                {main} bytes: {:.2} MB/hour extrapolated",
        per_hour(main)
    );
    println!(
        "  server logs (all)       {server_logs} bytes: {:.2} MB/hour extrapolated (each rotated at 1 MiB, 3 kept)",
        per_hour(server_logs)
    );
    println!(
        "  daemon RSS              {} MiB at the start, {} MiB at the end",
        rss0 / 1024,
        rss_kib(pid) / 1024
    );
    println!(
        "  open file descriptors   {fds0} at the start, {} at the end",
        fd_count(pid)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    latency();
    if args.iter().any(|a| a == "latency") {
        return;
    }
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    soak(secs);
}
