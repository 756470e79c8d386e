//! The supervisor's own overhead, with scripted upstreams (no processes, no sockets): how
//! long N actors take to settle, what they cost in memory, and what the registry adds to a
//! tool call compared with calling the session directly. Prints its figures.
//!
//! Run: `cargo bench -p mcpproxy --bench supervisor_registry`

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpproxy::config::ServerConfig;
use mcpproxy::contract::{Failure, FailureKind};
use mcpproxy::supervisor::testing::{
    Outcome, RecordingSink, ScriptedConnector, ScriptedPolicy, tool,
};
use mcpproxy::supervisor::{Registry, RegistryOptions, initial_plan};
use mcpproxy::upstream::{Connector, Started};
use rmcp::model::CallToolRequestParams;
use tokio_util::sync::CancellationToken;

fn server(name: &str) -> ServerConfig {
    mcpproxy::supervisor::testing::stdio_server(name, "scripted")
}

fn config(servers: Vec<ServerConfig>) -> mcpproxy::config::Config {
    mcpproxy::config::Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: None,
        init_timeout: Duration::from_secs(2),
        call_tool_timeout: Duration::from_secs(60),
        tools_limit: 15,
        quarantine_new_servers: true,
        tool_response_limit: 1 << 20,
        watch_debounce: Duration::from_millis(300),
        health_check_interval: Duration::from_secs(30),
        allowed_origins: Vec::new(),
        auth: Default::default(),
        metrics_auth: Default::default(),
        policy: mcpproxy::config::PolicyConfig::default(),
        servers,
        generation: 0,
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn registry(conn: Arc<ScriptedConnector>) -> Registry {
    Registry::new(RegistryOptions {
        connector: conn,
        policy: Arc::new(ScriptedPolicy::fixed(Duration::from_secs(600))),
        sink: Arc::new(RecordingSink::new()),
        approvals: Arc::new(mcpproxy::approval::ApprovalStore::in_memory()),
        init_timeout: Duration::from_secs(2),
        health_check_interval: Duration::from_secs(30),
        call_tool_timeout: Duration::from_secs(60),
        failure_window: Duration::from_secs(300),
        drain_timeout: Duration::from_secs(5),
    })
}

/// N servers: a quarter hang past their timeout (the actor's guard would end them, but the
/// connector answers `InitTimeout` after 2 s), a quarter fail at once, half become Ready.
async fn settle(n: usize) {
    let conn = Arc::new(ScriptedConnector::new());
    let mut servers = Vec::new();
    for i in 0..n {
        let name = format!("s{i}");
        let outcome = match i % 4 {
            0 => Outcome::FailAfter(
                Duration::from_secs(2),
                Failure::new(FailureKind::InitTimeout, "no handshake"),
            ),
            1 => Outcome::Fail(Failure::new(FailureKind::SpawnError, "not found")),
            _ => Outcome::ReadyAfter(Duration::from_millis(50), vec![tool("echo")]),
        };
        conn.script(&name, vec![outcome]);
        servers.push(server(&name));
    }
    let reg = registry(conn);
    let rss0 = rss_kib();
    let t0 = Instant::now();
    reg.apply(initial_plan(&config(servers))).await;
    let applied = t0.elapsed();
    reg.wait_settled().await;
    let settled = t0.elapsed();
    let rss1 = rss_kib();
    let list = reg.list();
    let max_attempts = list.servers.iter().map(|s| s.attempts).max().unwrap_or(0);
    println!(
        "settle n={n}: apply {applied:?}, all settled after {settled:?} (slowest scripted 2 s), \
         max attempts {max_attempts}, by state {:?}, RSS +{} KiB ({:.1} KiB/server)",
        list.summary.by_state,
        rss1.saturating_sub(rss0),
        rss1.saturating_sub(rss0) as f64 / n as f64
    );
    let t1 = Instant::now();
    reg.shutdown().await;
    println!("shutdown n={n}: {:?}", t1.elapsed());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    println!(
        "{label}: p50 {:?}, p99 {:?}, {:.0} calls/s",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len() as f64 / total.as_secs_f64()
    );
}

async fn call_overhead(calls: usize) {
    let conn = Arc::new(ScriptedConnector::new());
    let reg = registry(conn.clone());
    reg.apply(initial_plan(&config(vec![server("a")]))).await;
    reg.wait_settled().await;
    let args = serde_json::json!({"x": 1}).as_object().cloned();

    // Through the registry (command channel to the actor, a task per call).
    let mut through = Vec::with_capacity(calls);
    let t0 = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let r = reg
            .call_tool("a", "echo", args.clone(), CancellationToken::new())
            .await;
        through.push(t.elapsed());
        assert!(r.is_ok());
    }
    report("call via registry", through, t0.elapsed());

    // Directly on a session of the same kind.
    let session = conn
        .connect(
            &server("direct"),
            Duration::from_secs(2),
            Started::default(),
        )
        .await
        .expect("scripted session");
    let mut direct = Vec::with_capacity(calls);
    let t0 = Instant::now();
    for _ in 0..calls {
        let mut request = CallToolRequestParams::new("echo");
        if let Some(a) = args.clone() {
            request = request.with_arguments(a);
        }
        let t = Instant::now();
        let r = session
            .call_tool(request, Duration::from_secs(60), CancellationToken::new())
            .await;
        direct.push(t.elapsed());
        assert!(r.is_ok());
    }
    report("call direct on the session", direct, t0.elapsed());
    reg.shutdown().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        settle(159).await;
        settle(1000).await;
        settle(10_000).await;
        call_overhead(20_000).await;
    });
}
