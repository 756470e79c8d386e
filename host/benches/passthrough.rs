//! The figures of the transparent proxy against the real daemon (prints them; asserts
//! nothing about speed): with 159 fixture servers, each offering 5 resources and 3 prompts
//! (795 resources, 477 prompts), the latency of `resources/list`, `prompts/list`,
//! `resources/read` and `prompts/get` through `/mcp/all`, and of `tools/call` for
//! comparison, on one kept-alive connection with a bare HTTP/1.1 client (p50/p99, per s).
//!
//! Run: `cargo bench -p mcpproxy --bench passthrough`.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Daemon, fixture_server, mcp_post, mcp_session};
use serde_json::{Value, json};

const SERVERS: usize = 159;
const REQUESTS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn server(i: usize) -> Value {
    let mut entry = fixture_server(&format!("s{i:03}"), "healthy");
    let args = entry["args"].as_array_mut().unwrap();
    args.extend(["--resources", "5", "--prompts", "3"].map(|a| json!(a)));
    entry
}

fn main() {
    let servers: Vec<Value> = (0..SERVERS).map(server).collect();
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    let status = daemon.wait_settled(Duration::from_secs(120));
    let ready = status["servers"]["by_state"]["Ready"].as_u64().unwrap_or(0);
    assert_eq!(
        ready as usize, SERVERS,
        "not every server is Ready: {status}"
    );
    let addr = daemon.base_url.trim_start_matches("http://").to_string();
    let (mut stream, id) = mcp_session(&addr, "/mcp/all");
    println!(
        "\n== {SERVERS} servers (5 resources, 3 prompts each) through /mcp/all, {REQUESTS} requests each"
    );
    let cases = [
        (
            "resources/list",
            json!({"method": "resources/list", "params": {}}),
        ),
        (
            "prompts/list",
            json!({"method": "prompts/list", "params": {}}),
        ),
        (
            "resources/read",
            json!({"method": "resources/read", "params": {"uri": "fixture://s080/resource/3"}}),
        ),
        (
            "prompts/get",
            json!({"method": "prompts/get",
                   "params": {"name": "s080__prompt_1", "arguments": {"topic": "bench"}}}),
        ),
        (
            "tools/call",
            json!({"method": "tools/call",
                   "params": {"name": "s080__echo", "arguments": {"text": "bench"}}}),
        ),
    ];
    for (what, request) in cases {
        let mut body = request;
        body["jsonrpc"] = json!("2.0");
        body["id"] = json!(7);
        let body = body.to_string();
        // One answer checked, and the first (cold) one left out.
        let answer = mcp_post(&mut stream, "/mcp/all", &body, Some(&id)).2;
        assert!(answer.contains("\"result\""), "{what}: {answer}");
        let started = Instant::now();
        let mut times: Vec<Duration> = (0..REQUESTS)
            .map(|_| {
                let t = Instant::now();
                mcp_post(&mut stream, "/mcp/all", &body, Some(&id));
                t.elapsed()
            })
            .collect();
        let total = started.elapsed();
        times.sort();
        println!(
            "  {what:<16} p50 {}  p99 {}  {:.0}/s  ({} bytes)",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            REQUESTS as f64 / total.as_secs_f64(),
            answer.len()
        );
    }
}
