//! `policy-host-check POLICY.wasm EXPECTED.json [--deadline-ms N]`: loads an example policy in
//! wasmtime 48 the way mcpproxy's host does and replays its decision table under the memory cap and
//! deadline the table asks for (`--deadline-ms` overrides), then prints what the host will see:
//! compile time, compiled size, cache-load time, whether it fits the default 16 MiB memory cap,
//! and fresh-Store decision latency. Exits non-zero when a decision differs.

mod cases;
mod runtime;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wasmtime::component::Component;

use cases::{Case, Expect, Input};
use runtime::{Host, Limits, PolicyPre, State, wit};

const MIB: usize = 1024 * 1024;
const DEFAULT_MEMORY_MIB: usize = 16;
const DEFAULT_DEADLINE_MS: u64 = 10;
const LATENCY_SAMPLES: usize = 200;

/// One decision in a fresh Store, as the host makes it; returns a printable answer.
fn decide(host: &Host, pre: &PolicyPre<State>, limits: Limits, case: &Case) -> Result<String> {
    let (mut store, policy) = runtime::instantiate(host, pre, limits)?;
    let prepared = match policy
        .mcpproxy_policy_decisions()
        .call_configure(&mut store, &case.settings)?
    {
        Ok(bytes) => bytes,
        Err(message) => bail!("configure refused {}: {message}", case.settings),
    };
    // The host configures once and decides in later fresh instances; so does this check.
    let (mut store, policy) = runtime::instantiate(host, pre, limits)?;
    let decisions = policy.mcpproxy_policy_decisions();
    Ok(match (&case.input, &case.expect) {
        (Input::Event(e), Expect::Disable { .. }) => {
            match decisions.call_should_disable(&mut store, &prepared, e)? {
                wit::DisableDecision::Keep => "keep".into(),
                wit::DisableDecision::Disable(reason) => format!("disable: {reason}"),
            }
        }
        (Input::Event(e), Expect::Backoff { .. }) => decisions
            .call_backoff(&mut store, &prepared, e)?
            .to_string(),
        (Input::Diff(d), Expect::Verdicts(_)) => decisions
            .call_filter_reload(&mut store, &prepared, d)?
            .iter()
            .map(|v| match v {
                wit::Verdict::Apply => "apply",
                wit::Verdict::Ignore(_) => "ignore",
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => bail!("case `{}` mixes an event and a diff expectation", case.name),
    })
}

fn meets(expect: &Expect, answer: &str) -> bool {
    match expect {
        Expect::Disable { disable: false, .. } => answer == "keep",
        Expect::Disable {
            disable: true,
            reason: None,
        } => answer.starts_with("disable: "),
        Expect::Disable {
            disable: true,
            reason: Some(r),
        } => answer.strip_prefix("disable: ") == Some(r.as_str()),
        Expect::Backoff { min, max } => answer
            .parse::<u64>()
            .is_ok_and(|ms| (*min..=*max).contains(&ms)),
        Expect::Verdicts(v) => answer == v.join(","),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(wasm), Some(expected)) = (args.first(), args.get(1)) else {
        bail!("usage: policy-host-check POLICY.wasm EXPECTED.json [--deadline-ms N]");
    };
    let deadline_arg = match args.iter().position(|a| a == "--deadline-ms") {
        Some(i) => Some(
            args.get(i + 1)
                .context("--deadline-ms needs a value")?
                .parse::<u64>()?,
        ),
        None => None,
    };
    let wasm = PathBuf::from(wasm);
    let text = std::fs::read_to_string(expected).with_context(|| format!("reading {expected}"))?;
    let table = cases::parse(&text).with_context(|| format!("parsing {expected}"))?;
    let cases = table.cases;
    let deadline_ms = deadline_arg
        .or(table.deadline_ms)
        .unwrap_or(DEFAULT_DEADLINE_MS);
    let memory_mib = table
        .memory_limit_mib
        .map_or(DEFAULT_MEMORY_MIB, |m| m as usize);
    let limits = Limits {
        memory_bytes: memory_mib * MIB,
        deadline_ms,
    };

    let host = Host::new()?;
    let size = std::fs::metadata(&wasm)
        .with_context(|| format!("reading {}", wasm.display()))?
        .len();
    let t = Instant::now();
    let component = Component::from_file(&host.engine, &wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", wasm.display()))?;
    let compile = t.elapsed();
    let compiled = component.serialize()?;
    let t = Instant::now();
    // SAFETY: the bytes were produced by `serialize` on this engine a moment ago, in this process.
    let cached = unsafe { Component::deserialize(&host.engine, &compiled)? };
    let cache_load = t.elapsed();
    let pre = host
        .prepare(&cached)
        .with_context(|| format!("linking {}", wasm.display()))?;

    println!("{}", wasm.display());
    println!(
        "  component {size} bytes; compile {compile:.2?}; compiled {} bytes; cache load {cache_load:.2?}",
        compiled.len()
    );

    let mut failed = 0;
    for case in &cases {
        match decide(&host, &pre, limits, case) {
            Ok(answer) if meets(&case.expect, &answer) => {}
            Ok(answer) => {
                failed += 1;
                println!("  FAIL {}: answered {answer}", case.name);
            }
            Err(err) => {
                failed += 1;
                println!("  FAIL {}: {err:#}", case.name);
            }
        }
    }
    println!(
        "  expected.json: {} passed, {failed} failed (memory cap {} MiB, deadline {deadline_ms} ms)",
        cases.len() - failed,
        limits.memory_bytes / MIB
    );

    let small = Limits {
        memory_bytes: DEFAULT_MEMORY_MIB * MIB,
        ..limits
    };
    match decide(&host, &pre, small, &cases[0]) {
        Ok(_) => println!("  fits the default {DEFAULT_MEMORY_MIB} MiB cap: yes"),
        Err(err) => println!(
            "  fits the default {DEFAULT_MEMORY_MIB} MiB cap: no ({})",
            format!("{err:#}").lines().next().unwrap_or("")
        ),
    }

    // Fresh Store + instantiate + one should-disable call, as every decision in the daemon.
    let (mut store, policy) = runtime::instantiate(&host, &pre, limits)?;
    let prepared = policy
        .mcpproxy_policy_decisions()
        .call_configure(&mut store, "{}")?
        .map_err(anyhow::Error::msg)?;
    let event = match cases.iter().find_map(|c| {
        if let Input::Event(e) = &c.input {
            Some(e.clone())
        } else {
            None
        }
    }) {
        Some(e) => e,
        None => bail!("no event case to time"),
    };
    let (mut total, mut instantiation) = (Vec::new(), Vec::new());
    for _ in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let (mut store, policy) = runtime::instantiate(&host, &pre, limits)?;
        instantiation.push(t.elapsed());
        policy
            .mcpproxy_policy_decisions()
            .call_should_disable(&mut store, &prepared, &event)?;
        total.push(t.elapsed());
    }
    for (what, samples) in [
        ("fresh Store + instantiate + should-disable", &mut total),
        ("of which instantiate", &mut instantiation),
    ] {
        samples.sort();
        println!(
            "  {what} ({LATENCY_SAMPLES} samples): p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            percentile(samples, 0.5),
            percentile(samples, 0.99),
            samples[samples.len() - 1]
        );
    }
    if failed > 0 {
        bail!("{failed} decisions differ from {expected}");
    }
    Ok(())
}
