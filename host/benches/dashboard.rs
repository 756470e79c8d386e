//! The dashboard with 1,000 servers, in headless chromium over WebDriver (prints figures;
//! asserts nothing about speed):
//! - time to first render (navigation start until the first full table stood, as the page
//!   records it) and what the page downloads (HTML, script, style, first state), and the
//!   size of each one-second poll;
//! - whether `/ui` slows the daemon: tool-call latency through `/mcp/all` and the daemon's
//!   CPU, with the page closed and with it open.
//!
//! Run: `cargo bench -p mcpproxy --bench dashboard` (needs `tests/tools/install-browser.sh`).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::browser::{browser, driver};
use common::{Daemon, fixture_server};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

const SERVERS: usize = 1000;
const CALLS: usize = 1000;

/// The daemon's user + system CPU so far, in seconds (`/proc/<pid>/stat`).
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `CALLS` sequential `echo` calls through `/mcp/all`: (p50, p99) in ms, and the daemon's CPU
/// per call in µs.
async fn calls(daemon: &Daemon) -> (f64, f64, f64) {
    let url = format!("{}/mcp/all", daemon.base_url);
    let client = ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_uri(
            url,
        ))
        .await
        .unwrap();
    let call = |i: usize| {
        let params = CallToolRequestParams::new("s0000__echo").with_arguments(
            json!({"text": format!("hi {i}")})
                .as_object()
                .unwrap()
                .clone(),
        );
        let client = client.clone();
        async move { client.call_tool(params).await.unwrap() }
    };
    for i in 0..50 {
        call(i).await;
    }
    let cpu = cpu_s(daemon.pid());
    let mut lat = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let t = Instant::now();
        call(i).await;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu_per_call = (cpu_s(daemon.pid()) - cpu) / CALLS as f64 * 1e6;
    let _ = client.cancel().await;
    lat.sort_by(f64::total_cmp);
    (percentile(&lat, 0.5), percentile(&lat, 0.99), cpu_per_call)
}

/// The daemon's CPU share over `window` (percent of one core).
async fn cpu_share(daemon: &Daemon, window: Duration) -> f64 {
    let before = cpu_s(daemon.pid());
    tokio::time::sleep(window).await;
    (cpu_s(daemon.pid()) - before) / window.as_secs_f64() * 100.0
}

fn main() {
    let servers: Vec<Value> = (0..SERVERS)
        .map(|i| fixture_server(&format!("s{i:04}"), "healthy"))
        .collect();
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    daemon.wait_settled(Duration::from_secs(300));
    let driver = driver();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let idle_closed = cpu_share(&daemon, Duration::from_secs(10)).await;
        let closed = calls(&daemon).await;

        let client = browser(&driver).await;
        client.goto(&format!("{}/ui", daemon.base_url)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let first_render_ms = loop {
            let at = client
                .execute("return window.mcpproxyFirstRender ?? null", vec![])
                .await
                .unwrap();
            if let Some(ms) = at.as_f64() {
                break ms;
            }
            assert!(Instant::now() < deadline, "the dashboard never rendered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let rows = client
            .execute("return document.querySelectorAll('#servers tbody tr').length", vec![])
            .await
            .unwrap();
        let sizes = client
            .execute(
                "const nav = performance.getEntriesByType('navigation')[0];
                 const res = performance.getEntriesByType('resource');
                 const state = res.filter(r => r.name.endsWith('/ui/api/state'));
                 return {page: nav.transferSize, decoded: nav.decodedBodySize,
                         assets: res.filter(r => !r.name.includes('/ui/api/'))
                                    .reduce((n, r) => n + r.transferSize, 0),
                         state: state.length ? state[0].transferSize : 0,
                         polls: state.length};",
                vec![],
            )
            .await
            .unwrap();
        let idle_open = cpu_share(&daemon, Duration::from_secs(10)).await;
        let open = calls(&daemon).await;
        client.close().await.unwrap();

        println!("\n== dashboard with {SERVERS} servers (headless chromium)");
        println!("rows rendered          {rows}");
        println!("time to first render   {first_render_ms:.0} ms (navigation start to full table)");
        let kib = |key: &str| sizes[key].as_f64().unwrap_or(0.0) / 1024.0;
        println!(
            "downloaded             {:.1} KiB page + {:.1} KiB script and style + {:.1} KiB first state",
            kib("page"),
            kib("assets"),
            kib("state")
        );
        println!(
            "each 1 s poll          {:.1} KiB ({} polls by then)",
            kib("state"),
            sizes["polls"]
        );
        println!(
            "daemon CPU, idle       page closed {idle_closed:.1} %   page open {idle_open:.1} % (of one core)"
        );
        for (label, (p50, p99, cpu)) in [("page closed", closed), ("page open", open)] {
            println!(
                "tools/call /mcp/all    {label:<12} p50 {p50:.3} ms  p99 {p99:.3} ms  daemon CPU {cpu:.0} µs/call"
            );
        }
    });
}
