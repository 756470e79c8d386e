//! The example policies (`examples/policies/`: Rust, JavaScript, Python) in the real
//! `PolicyHost`: a cold start (compiling the component, filling an empty compile cache) vs a
//! start from the cache, and the latency of each decision (fresh Store and instance per call,
//! as the daemon runs them) under the limits each `expected.json` names. Prints a table.
//!
//! Builds a component from source only if its `.wasm` is missing (run
//! `examples/policies/build-all.sh` to rebuild).
//! Run: `cargo bench -p mcpproxy --bench policy_examples`
//! or, where wasmtime has no release build yet, `cargo bench --profile dev -p mcpproxy --bench
//! policy_examples` (dependencies at opt-level 1: same guest code, slightly slower host side).
//! (`POLICY_BENCH_DECISIONS=N` for N timed decisions per hook, default 500).

#[path = "../tests/it/policy_examples_support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use mcpproxy::contract::ConfigDiff;
use mcpproxy::contract::{FailureEvent, Policy};
use mcpproxy::policy::{CacheOutcome, PolicyHost};
use support::expected::{Input, Table};
use support::from_source::{self, Example};

/// Cached starts timed per policy (the median is shown).
const CACHED_STARTS: usize = 3;
/// Untimed decisions first: the first instantiations touch fresh memory.
const WARM_UP: usize = 10;

fn main() {
    let decisions = std::env::var("POLICY_BENCH_DECISIONS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(500);
    println!(
        "policy_examples: cold vs cached PolicyHost::start, fresh-Store decisions ({decisions} per hook)"
    );
    println!(
        "{:<14} {:>9} {:>6} {:>7} {:>12} {:>12}  {:<15} {:>9} {:>9}",
        "component", "size", "mem", "dl", "cold start", "cached", "hook", "p50", "p99"
    );
    for example in from_source::ALL {
        if let Err(e) = bench(example, decisions) {
            println!("{:<14} skipped: {e}", example.wasm);
        }
    }
}

fn bench(example: Example, decisions: usize) -> Result<(), String> {
    let wasm = example.built()?;
    let table = Table::read(&example.expected_json())?;
    let size = std::fs::metadata(&wasm).map_err(|e| e.to_string())?.len();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache_dir = tmp.path().join("policy-cache");

    let (cold, outcome) = timed_start(&table, &wasm, &cache_dir)?;
    if outcome != CacheOutcome::Stored {
        return Err(format!("cold start: cache {outcome:?}, expected Stored"));
    }
    let mut cached = Vec::new();
    let mut host = None;
    for _ in 0..CACHED_STARTS {
        let started = Instant::now();
        let h = PolicyHost::start(table.options(&wasm, &cache_dir)).map_err(|e| e.to_string())?;
        cached.push(started.elapsed());
        if h.status().cache != CacheOutcome::Hit {
            return Err(format!("cached start: cache {:?}", h.status().cache));
        }
        host = Some(h);
    }
    let host = host.ok_or("no host")?;
    cached.sort();

    let event = first_event(&table).ok_or("expected.json has no event case")?;
    let diff = first_diff(&table).unwrap_or_default();
    let hooks: [(&str, &dyn Fn()); 3] = [
        ("should-disable", &|| {
            black_box(host.should_disable(&event));
        }),
        ("backoff", &|| {
            black_box(host.backoff(&event));
        }),
        ("filter-reload", &|| {
            black_box(host.filter_reload(&diff));
        }),
    ];
    for (i, (hook, decide)) in hooks.iter().enumerate() {
        let samples = latencies(decide, decisions);
        let first = i == 0;
        println!(
            "{:<14} {:>9} {:>6} {:>7} {:>12} {:>12}  {:<15} {:>9} {:>9}",
            if first { example.wasm } else { "" },
            if first {
                format!("{:.1} MB", size as f64 / 1e6)
            } else {
                String::new()
            },
            if first {
                format!("{}M", table.memory_limit_mib)
            } else {
                String::new()
            },
            if first {
                format!("{}ms", table.deadline_ms)
            } else {
                String::new()
            },
            if first { fmt(cold) } else { String::new() },
            if first {
                fmt(cached[cached.len() / 2])
            } else {
                String::new()
            },
            hook,
            fmt(percentile(&samples, 0.50)),
            fmt(percentile(&samples, 0.99)),
        );
    }
    let status = host.status();
    if status.fallbacks > 0 {
        // A fallback means the embedded default answered: the figures above are not the
        // example's own.
        println!(
            "{:<14} WARNING: {} decisions fell back to the embedded default: {:?}",
            "", status.fallbacks, status.last_error
        );
    }
    Ok(())
}

fn timed_start(
    table: &Table,
    wasm: &Path,
    cache_dir: &Path,
) -> Result<(Duration, CacheOutcome), String> {
    let started = Instant::now();
    let host = PolicyHost::start(table.options(wasm, cache_dir)).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let status = host.status();
    if status.fallback_active {
        return Err(format!(
            "the embedded default runs instead: {:?}",
            status.last_error
        ));
    }
    Ok((elapsed, status.cache))
}

/// `n` timings of `decide`, sorted, after a warm-up.
fn latencies(decide: &dyn Fn(), n: usize) -> Vec<Duration> {
    for _ in 0..WARM_UP {
        decide();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            decide();
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples
}

/// The first event of the table's cases that run with default settings (the host runs `{}`).
fn first_event(table: &Table) -> Option<FailureEvent> {
    table.cases.iter().find_map(|c| match &c.input {
        Input::Event(e) if is_default(&c.settings) => Some(e.clone()),
        _ => None,
    })
}

fn first_diff(table: &Table) -> Option<ConfigDiff> {
    table.cases.iter().find_map(|c| match &c.input {
        Input::Diff(d) if is_default(&c.settings) => Some(d.clone()),
        _ => None,
    })
}

fn is_default(settings: &serde_json::Value) -> bool {
    settings.as_object().is_some_and(|o| o.is_empty())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn fmt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.3} ms")
    }
}
