//! The three example policies (`examples/policies/`: Rust, JavaScript, Python) built from
//! source with their own scripts, then run in the real `PolicyHost` under the limits their
//! `expected.json` names, which is replayed through the `Policy` trait.
//!
//! Each policy is started twice with one compile cache: the first start compiles (and
//! stores), the second must load from the cache; both load times are printed. Slow by nature
//! (componentize ~15 s, wasmtime compile of a 12–18 MiB component ~45 s on 2 cores), so one
//! test per language, which cargo runs in parallel.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::policy_examples_support::expected::{self, Table};
use crate::policy_examples_support::from_source::{self, Example};
use mcpproxy::policy::{CacheOutcome, PolicyHost, PolicyOptions, PolicyStatus};
use sha2::{Digest, Sha256};

#[test]
fn rust_strict_built_from_source_decides_as_expected_in_the_host() {
    built_policy_decides_as_expected(from_source::RUST_STRICT);
}

#[test]
fn js_patient_built_from_source_decides_as_expected_in_the_host() {
    built_policy_decides_as_expected(from_source::JS_PATIENT);
}

#[test]
fn python_windowed_built_from_source_decides_as_expected_in_the_host() {
    built_policy_decides_as_expected(from_source::PYTHON_WINDOWED);
}

fn built_policy_decides_as_expected(example: Example) {
    let (wasm, build_time) = example.build().unwrap();
    let table = Table::read(&example.expected_json()).unwrap();
    assert_eq!(
        table.policy, example.wasm,
        "{}: expected.json names another component",
        example.folder
    );
    let sha256 = hex::encode(Sha256::digest(std::fs::read(&wasm).unwrap()));
    let tmp = tempfile::tempdir().unwrap();
    let cache_dir = tmp.path().join("policy-cache");

    let (cold, cold_time) = start(&table, &wasm, &cache_dir);
    assert_active(&cold.status(), &wasm, &sha256, CacheOutcome::Stored);
    drop(cold);

    let (host, cached_time) = start(&table, &wasm, &cache_dir);
    assert_active(&host.status(), &wasm, &sha256, CacheOutcome::Hit);
    eprintln!(
        "{}: {} bytes, built in {build_time:.1?}; PolicyHost::start compiling: {cold_time:.2?}, from the cache: {cached_time:.2?}",
        example.wasm,
        std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0),
    );

    let wrong = expected::replay(&host, &wasm, &table);
    assert!(
        wrong.is_empty(),
        "{}: {} of {} decisions differ from expected.json:\n{}",
        example.wasm,
        wrong.len(),
        table.cases.len(),
        wrong.join("\n")
    );
    // Every decision was the policy's own: none fell back to the embedded default (which
    // would hide a trap, timeout or limit hit behind a plausible answer).
    let status = host.status();
    assert_eq!(
        status.sha256, sha256,
        "{}: the replay ended on another policy",
        example.wasm
    );
    assert_eq!(
        status.fallbacks, 0,
        "{}: fallbacks during the replay: {status:?}",
        example.wasm
    );
    assert_eq!(status.last_error, None, "{}", example.wasm);
    let decided: u64 = status
        .decisions
        .values()
        .flat_map(|by_outcome| {
            by_outcome.iter().map(|(outcome, n)| {
                assert_eq!(
                    outcome, "ok",
                    "{}: {n} decisions ended {outcome}",
                    example.wasm
                );
                *n
            })
        })
        .sum();
    assert!(
        decided >= table.cases.len() as u64,
        "{}: {decided} decisions counted for {} cases",
        example.wasm,
        table.cases.len()
    );

    // The example is worth having: the embedded default decides several of its cases
    // otherwise.
    let default = PolicyHost::start(PolicyOptions::default()).unwrap();
    let (checked, differing) = expected::differences(&default, &table);
    assert!(
        differing.len() >= 2,
        "{}: the default decides {} of its {checked} cases the same way: {differing:?}",
        example.wasm,
        checked - differing.len()
    );
    eprintln!(
        "{}: the default decides {} of {checked} cases otherwise",
        example.wasm,
        differing.len()
    );
}

/// Starts a host on `wasm` with the table's limits, timing it.
fn start(table: &Table, wasm: &Path, cache_dir: &Path) -> (Arc<PolicyHost>, Duration) {
    let started = Instant::now();
    let host = PolicyHost::start(table.options(wasm, cache_dir)).unwrap();
    (host, started.elapsed())
}

/// The policy at `wasm` is the active one (not the embedded fallback), with its code obtained
/// as `cache`.
fn assert_active(status: &PolicyStatus, wasm: &Path, sha256: &str, cache: CacheOutcome) {
    assert!(
        !status.fallback_active,
        "{}: the embedded default runs instead: {:?}",
        wasm.display(),
        status.last_error
    );
    assert_eq!(status.source, wasm.display().to_string());
    assert_eq!(status.sha256, sha256, "{}", wasm.display());
    assert_eq!(status.cache, cache, "{}: compile cache", wasm.display());
    assert_eq!(status.last_error, None, "{}", wasm.display());
}
