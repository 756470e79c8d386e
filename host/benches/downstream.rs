//! Downstream benchmarks (run: `cargo bench -p mcpproxy --bench downstream`), printing:
//! - the tool index (`retrieve_tools`): build time and query latency at 1,000 and 10,000 tools;
//! - tool-call overhead of the downstream layer: a call through `/mcp` `call_tool` and through
//!   `/mcp/all` (rmcp client over HTTP on 127.0.0.1, fake backend that answers at once) vs. the
//!   backend called directly; p50/p99 and calls/s over sequential calls.

#[path = "../tests/it/downstream_support/mod.rs"]
mod downstream_support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use downstream_support::{FakeBackend, default_tools, entry, start};
use mcpproxy::downstream::ToolEntry;
use mcpproxy::downstream::search::ToolIndex;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const VERBS: [&str; 10] = [
    "read", "write", "list", "search", "create", "delete", "update", "fetch", "send", "describe",
];
const NOUNS: [&str; 20] = [
    "file",
    "issue",
    "repository",
    "message",
    "calendar",
    "event",
    "ticket",
    "document",
    "image",
    "user",
    "database",
    "table",
    "query",
    "commit",
    "branch",
    "invoice",
    "order",
    "forecast",
    "alert",
    "contact",
];

fn synthetic_tools(count: usize) -> Vec<ToolEntry> {
    (0..count)
        .map(|i| {
            let verb = VERBS[i % VERBS.len()];
            let noun = NOUNS[(i / VERBS.len()) % NOUNS.len()];
            let other = NOUNS[(i * 7 + 3) % NOUNS.len()];
            entry(
                &format!("server{}", i / 10),
                &format!("{verb}_{noun}"),
                &format!("{verb} a {noun} and return its {other} details with metadata"),
            )
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    println!(
        "{label:<34} p50 {:>9.1?}  p99 {:>9.1?}  {:>8.0} calls/s",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.len() as f64 / total.as_secs_f64()
    );
}

fn bench_index() {
    let queries = [
        "read a file",
        "search issues in a repository",
        "weather forecast alerts",
        "send a message to a contact",
        "delete a database table",
    ];
    for count in [1_000, 10_000] {
        let tools = synthetic_tools(count);
        let started = Instant::now();
        let index = ToolIndex::build(&tools);
        let build = started.elapsed();
        let rounds = 200;
        let started = Instant::now();
        for round in 0..rounds {
            black_box(index.search(queries[round % queries.len()], 15));
        }
        let per_query = started.elapsed() / rounds as u32;
        println!(
            "tool index, {count:>6} tools: build {build:>9.1?}, query (limit 15) {per_query:>9.1?}"
        );
    }
}

async fn bench_calls() {
    let backend = FakeBackend::new(default_tools());
    let running = start(backend.clone(), 15).await;
    let calls = 2_000;

    let mut samples = Vec::with_capacity(calls);
    let started = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let args = json!({"text": "x"}).as_object().cloned();
        let result = backend
            .call_tool("fs", "echo", args, CancellationToken::new())
            .await;
        black_box(result.ok());
        samples.push(t.elapsed());
    }
    report("backend directly", samples, started.elapsed());

    for (path, name, args) in [
        (
            "/mcp",
            "call_tool",
            json!({"name": "fs:echo", "args": {"text": "x"}}),
        ),
        ("/mcp/all", "fs__echo", json!({"text": "x"})),
    ] {
        let client =
            ().serve(StreamableHttpClientTransport::from_uri(running.url(path)))
                .await
                .expect("client handshake");
        let args = args.as_object().cloned().unwrap_or_default();
        let mut samples = Vec::with_capacity(calls);
        let started = Instant::now();
        for _ in 0..calls {
            let params = CallToolRequestParams::new(name).with_arguments(args.clone());
            let t = Instant::now();
            let result = client.peer().call_tool(params).await.expect("call");
            black_box(result);
            samples.push(t.elapsed());
        }
        report(&format!("via {path} ({name})"), samples, started.elapsed());
        let _ = client.cancel().await;
    }
    running.stop().await;
}

fn main() {
    bench_index();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench_calls());
}
