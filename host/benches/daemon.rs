//! Daemon benchmarks against real processes (prints figures; asserts nothing about speed):
//! - the known failure scenario at 159 and at 1,000 servers (healthy, hanging, crashing,
//!   command-not-found, slow): time until every server has settled, attempts per server,
//!   `Starting server sync` count, daemon RSS;
//! - the time from writing a one-server edit to a 1,000-server config until it is applied;
//! - tool-call overhead through the proxy vs. calling the upstream directly (p50/p99, calls/s).
//!
//! Run: `cargo bench -p mcpproxy --bench daemon` (`-- quick` for the 159-server part only).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Daemon, FIXTURE, fixture_server, rss_kib, wait_for};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

/// The known scenario's mix, per 159 servers.
const MIX: [(&str, &str, usize); 5] = [
    ("healthy", "healthy", 100),
    ("hang", "hang", 20),
    ("crash", "crash", 15),
    ("missing", "", 12),
    ("slow", "slow-handshake:2000", 12),
];

const INIT_TIMEOUT_S: u64 = 10;

fn scenario(total: usize) -> Value {
    let mut servers = Vec::new();
    for (kind, mode, per159) in MIX {
        let n = (per159 * total).div_ceil(159);
        for i in 0..n {
            let name = format!("{kind}-{i:04}");
            servers.push(if kind == "missing" {
                json!({"name": name, "command": "/nonexistent/mcp-server-that-is-not-installed"})
            } else {
                fixture_server(&name, mode)
            });
        }
    }
    servers.truncate(total);
    json!({"init_timeout": format!("{INIT_TIMEOUT_S}s"), "mcpServers": servers})
}

fn startup(total: usize) -> Daemon {
    let started = Instant::now();
    let daemon = Daemon::start(scenario(total), &[]);
    let status = daemon.wait_settled(Duration::from_secs(INIT_TIMEOUT_S + 120));
    let settled = started.elapsed();
    // Read before the bench's own requests below (the server list of 1,000 is large):
    // what a daemon left alone after its start-up holds.
    let rss_settled = rss_kib(daemon.pid()) / 1024;
    // Once settled, the daemon gives the start-up's free heap back.
    let given_back = || (daemon.heap_given_back() > 0).then_some(());
    common::wait_for(Duration::from_secs(10), "free heap given back", given_back);
    let rss_given_back = rss_kib(daemon.pid()) / 1024;
    let list = daemon.servers();
    let servers = list["servers"].as_array().unwrap();
    println!("\n== {total} servers (init_timeout {INIT_TIMEOUT_S} s)");
    println!(
        "all settled after      {:.2} s (timeout + {:.2} s)",
        settled.as_secs_f64(),
        settled.as_secs_f64() - INIT_TIMEOUT_S as f64
    );
    println!("states                 {}", list["summary"]["by_state"]);
    for (kind, _, _) in MIX {
        let of_kind: Vec<&Value> = servers
            .iter()
            .filter(|s| s["name"].as_str().unwrap().starts_with(kind))
            .collect();
        let attempts: u64 = of_kind
            .iter()
            .map(|s| s["attempts"].as_u64().unwrap_or(0))
            .sum();
        println!(
            "attempts per {kind:<9} {:.2} (n={})",
            attempts as f64 / of_kind.len().max(1) as f64,
            of_kind.len()
        );
    }
    let syncs = daemon.main_log().matches("Starting server sync").count();
    println!("'Starting server sync'  {syncs}");
    println!("config generation      {}", status["config_generation"]);
    println!(
        "self-writes suppressed {}",
        status["self_writes_suppressed"]
    );
    println!("daemon RSS             {rss_settled} MiB");
    println!("  after giving back    {rss_given_back} MiB");
    daemon
}

/// Edit one server of the running config and time until the daemon has applied it.
fn reload_latency(daemon: &Daemon, rounds: usize) {
    let debounce_ms = 300.0;
    let mut samples = Vec::new();
    for round in 0..rounds {
        let syncs_before = daemon.status()["config_syncs"].as_u64().unwrap();
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(daemon.config_path()).unwrap()).unwrap();
        let servers = config["mcpServers"].as_array_mut().unwrap();
        let target = servers
            .iter_mut()
            .find(|s| s["name"] == "healthy-0000")
            .unwrap();
        target["args"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("--tools={}", round % 3)));
        let bytes = serde_json::to_vec_pretty(&config).unwrap();
        let written = Instant::now();
        std::fs::write(daemon.config_path(), bytes).unwrap();
        wait_for(Duration::from_secs(30), "the edit to be applied", || {
            (daemon.status()["config_syncs"].as_u64().unwrap() > syncs_before).then_some(())
        });
        samples.push(written.elapsed().as_secs_f64() * 1000.0 - debounce_ms);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "one-server edit applied {:.1} ms p50, {:.1} ms max beyond the {debounce_ms} ms debounce ({rounds} edits)",
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// 2,000 `echo` calls directly over stdio vs. through the proxy's `call_tool`.
fn call_overhead() {
    let calls = 2000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let direct = rt.block_on(async {
        let mut child = tokio::process::Command::new(FIXTURE)
            .args([
                "--transport",
                "stdio",
                "--name",
                "direct",
                "--mode",
                "healthy",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let io = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
        let client = ().serve(io).await.unwrap();
        time_calls(calls, |i| {
            let client = client.clone();
            async move {
                let args = json!({"text": format!("hello {i}")});
                let req = CallToolRequestParams::new("echo")
                    .with_arguments(args.as_object().unwrap().clone());
                client.call_tool(req).await.unwrap();
            }
        })
        .await
    });
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("bench", "healthy")]}),
        &[],
    );
    daemon.wait_state("bench", "Ready", Duration::from_secs(30));
    let url = format!("{}/mcp", daemon.base_url);
    let proxied = rt.block_on(async {
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url);
        let client = ().serve(transport).await.unwrap();
        time_calls(calls, |i| {
            let client = client.clone();
            async move {
                let args = json!({"name": "bench:echo", "args": {"text": format!("hello {i}")}});
                let req = CallToolRequestParams::new("call_tool")
                    .with_arguments(args.as_object().unwrap().clone());
                client.call_tool(req).await.unwrap();
            }
        })
        .await
    });
    println!("\n== tool-call overhead ({calls} sequential calls)");
    for (label, (mut lat, total)) in [("direct stdio", direct), ("through proxy", proxied)] {
        lat.sort_by(f64::total_cmp);
        println!(
            "{label:<14} p50 {:.3} ms  p99 {:.3} ms  {:.0} calls/s",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            calls as f64 / total
        );
    }
}

async fn time_calls<F, Fut>(calls: usize, mut call: F) -> (Vec<f64>, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..50 {
        call(i).await; // warm-up
    }
    let mut lat = Vec::with_capacity(calls);
    let start = Instant::now();
    for i in 0..calls {
        let t = Instant::now();
        call(i).await;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (lat, start.elapsed().as_secs_f64())
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    drop(startup(159));
    if !quick {
        let big = startup(1000);
        reload_latency(&big, 10);
        drop(big);
    }
    call_overhead();
}
