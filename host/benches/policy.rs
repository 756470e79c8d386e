//! Policy decision latency and load times, printed as figures (no assertions):
//! - a backoff decision in a fresh Store + instance (what the host does), p50/p99;
//! - the same through `PolicyHost` (locks, metrics, validation included), from one thread
//!   and from 16 (more than the instance pool holds);
//! - a backoff decision on a reused instance, for comparison;
//! - cold compile of `default.wasm` vs. a compile-cache hit.
//!
//! Targets (issue 4): fresh-Store p50 ≤ 30 µs, p99 ≤ 150 µs; reused ≤ 1 µs; cached load ≤ 5 ms.
//! Run: `cargo bench -p mcpproxy --bench policy`.

use std::time::{Duration, Instant};

use mcpproxy::contract::FailureKind;
use mcpproxy::contract::{FailureEvent, Policy, Transport};
use mcpproxy::policy::bench_support::Bench;
use mcpproxy::policy::{PolicyHost, PolicyOptions};

const DECISIONS: usize = 20_000;
const LOADS: usize = 20;

fn event() -> FailureEvent {
    FailureEvent {
        server: "bench".into(),
        transport: Transport::Stdio,
        kind: FailureKind::InitTimeout,
        detail: "no handshake within 30s".into(),
        exit_code: None,
        http_status: None,
        attempt: 4,
        consecutive_failures: 4,
        failures_in_window: 4,
        window: Duration::from_secs(600),
        since_first_failure: Duration::from_secs(20),
        ready_for: None,
        seed: 12345,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{name:<42} n={:<6} p50={:>9.2} µs  p99={:>9.2} µs  max={:>9.2} µs",
        samples.len(),
        us(percentile(&samples, 0.50)),
        us(percentile(&samples, 0.99)),
        us(*samples.last().unwrap_or(&Duration::ZERO)),
    );
}

fn main() {
    let bench = Bench::new().expect("the embedded default loads");
    let e = event();

    // Warm up caches and the allocator before measuring.
    bench.fresh_store(&e, 1_000).expect("decisions succeed");
    report(
        "fresh Store + instance, backoff",
        bench.fresh_store(&e, DECISIONS).expect("decisions succeed"),
    );

    let host = PolicyHost::start(PolicyOptions::default()).expect("host starts");
    let through_host: Vec<Duration> = (0..DECISIONS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(host.backoff(&e));
            t.elapsed()
        })
        .collect();
    report("PolicyHost::backoff (fresh Store)", through_host);

    // More threads than the instance pool has slots: callers queue for a slot.
    let threads = 16;
    let started = Instant::now();
    let concurrent: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    (0..DECISIONS / threads)
                        .map(|_| {
                            let t = Instant::now();
                            std::hint::black_box(host.backoff(&e));
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let rate = concurrent.len() as f64 / started.elapsed().as_secs_f64();
    report(
        &format!("PolicyHost::backoff, {threads} threads"),
        concurrent,
    );
    println!(
        "{:<42} {rate:.0} decisions/s, fallbacks {}",
        "",
        host.status().fallbacks
    );

    bench.reused_instance(&e, 1_000).expect("decisions succeed");
    report(
        "reused instance, backoff",
        bench
            .reused_instance(&e, DECISIONS)
            .expect("decisions succeed"),
    );

    let cold: Vec<Duration> = (0..LOADS)
        .map(|_| bench.compile(None).expect("compiles").0)
        .collect();
    report("cold compile of default.wasm", cold);

    let dir = tempfile::tempdir().expect("temp dir");
    let (_, first) = bench
        .compile(Some(dir.path()))
        .expect("compiles and stores");
    let cached: Vec<Duration> = (0..LOADS)
        .map(|_| {
            let (took, outcome) = bench.compile(Some(dir.path())).expect("loads");
            assert_eq!(
                outcome,
                mcpproxy::policy::CacheOutcome::Hit,
                "after {first:?}"
            );
            took
        })
        .collect();
    report("cached load of default.wasm", cached);

    // The whole start of a policy from a file whose code is cached: read, hash, load from
    // the cache, inspect the world, link, configure and smoke-test.
    let file = dir.path().join("default.wasm");
    std::fs::write(&file, mcpproxy::policy::EMBEDDED_DEFAULT).expect("writes the policy");
    let opts = PolicyOptions {
        files: Some(file.as_path().into()),
        cache_dir: Some(dir.path().join("policy-cache")),
        ..PolicyOptions::default()
    };
    PolicyHost::start(opts.clone()).expect("host starts and stores");
    let starts: Vec<Duration> = (0..LOADS)
        .map(|_| {
            let t = Instant::now();
            let host = PolicyHost::start(opts.clone()).expect("host starts");
            let took = t.elapsed();
            assert_eq!(host.status().cache, mcpproxy::policy::CacheOutcome::Hit);
            assert!(!host.status().fallback_active, "{:?}", host.status());
            took
        })
        .collect();
    report("PolicyHost::start, default.wasm cached", starts);
}
