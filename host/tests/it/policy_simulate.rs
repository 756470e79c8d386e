//! `policy::simulate` end to end: scenario files through the real embedded default policy
//! (in a real `PolicyHost`), and `cli_run` loading policy files from disk.

use std::path::{Path, PathBuf};

use mcpproxy::policy::simulate::{Overrides, Scenario, cli_run, run};
use mcpproxy::policy::{PolicyHost, PolicyOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_scenario() -> PathBuf {
    repo().join("examples/scenarios/default-policy.json")
}

fn load(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).unwrap();
    Scenario::from_json(&path.display().to_string(), &text).unwrap()
}

#[test]
fn the_embedded_default_meets_the_example_scenario() {
    let host = PolicyHost::start(PolicyOptions::default()).unwrap();
    let report = run(host.as_ref(), &load(&example_scenario()));
    assert!(!report.failed(), "{report}");
    let rows: Vec<(&str, &str, &str)> = report
        .rows
        .iter()
        .map(|r| (r.target.as_str(), r.event.as_str(), r.decision.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("A", "init_timeout", "keep"),
            ("B", "spawn_error", "keep"),
            ("B", "spawn_error", "keep"),
            ("B", "spawn_error", "DISABLE"),
            ("A", "init_timeout", "keep"),
            ("A", "init_timeout", "keep"),
            ("A", "reload modified [description]", "ignore"),
            ("global:generation", "reload modified", "ignore"),
            ("B", "reload modified [command]", "apply"),
            ("B", "ready", "-"),
        ]
    );
    // the timeouts at 0, 31 s and 93 s: attempts 1..3, each backoff within the default's
    // documented full-jitter range 1 s ..= 1 s * 2^n
    for (row, n) in [
        (&report.rows[0], 1u32),
        (&report.rows[4], 2),
        (&report.rows[5], 3),
    ] {
        assert_eq!((row.attempt, row.consecutive), (Some(n), Some(n)));
        let ms = row.backoff.unwrap().as_millis();
        assert!(
            (1000..=1000 << n).contains(&ms),
            "backoff {ms} ms after failure {n}"
        );
    }
    assert!(
        report.rows[3]
            .reason
            .contains("the command was not found (3 times in a row)")
    );
    let table = report.to_string();
    assert!(
        table.contains("1m33s") && table.contains("ok: every expectation met"),
        "{table}"
    );
}

#[test]
fn same_scenario_same_answers() {
    let host = PolicyHost::start(PolicyOptions::default()).unwrap();
    let s = load(&example_scenario());
    assert_eq!(run(host.as_ref(), &s), run(host.as_ref(), &s));
}

#[test]
fn a_wrong_expectation_fails_and_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.json");
    // The default gives up on a missing command after 3 attempts, not 1; and it does not
    // ignore an `env` edit.
    std::fs::write(
        &path,
        r#"{"steps": [
            {"at": "0s", "server": "B", "kind": "spawn_error", "detail": "command not found",
             "expect": {"disable": true}},
            {"at": "5s", "reload": {"changes": [{"server": "B", "kind": "modified", "fields": ["env"]}]},
             "expect": {"verdicts": ["ignore"]}}
        ]}"#,
    )
    .unwrap();
    let host = PolicyHost::start(PolicyOptions::default()).unwrap();
    let report = run(host.as_ref(), &load(&path));
    assert!(report.failed());
    assert_eq!(report.mismatch_count(), 2, "{report}");
    let table = report.to_string();
    assert!(table.contains("✗ expected disable: true"), "{table}");
    assert!(table.contains("✗ expected verdicts [ignore]"), "{table}");
    assert!(table.contains("FAILED: 2 step(s)"), "{table}");

    // the same through the CLI entry point, with the default loaded from its file
    let (text, passed) = cli_run(
        &repo().join("policies/default.wasm"),
        &path,
        &Overrides::default(),
    )
    .unwrap();
    assert!(!passed);
    assert!(text.contains("FAILED"), "{text}");
}

#[test]
fn cli_run_loads_the_policy_file_and_passes() {
    let (text, passed) = cli_run(
        &repo().join("policies/default.wasm"),
        &example_scenario(),
        &Overrides::default(),
    )
    .unwrap();
    assert!(passed, "{text}");
    assert!(
        text.contains("default.wasm") && text.contains("sha256"),
        "{text}"
    );
}

#[test]
fn settings_override_changes_the_decisions() {
    // With deterministic_failures = 1 the first `command not found` disables B, so the
    // example's expectation "keep at the first failure" no longer holds.
    let (text, passed) = cli_run(
        &repo().join("policies/default.wasm"),
        &example_scenario(),
        &Overrides {
            settings: Some(r#"{"deterministic_failures": 1}"#),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!passed, "{text}");
    assert!(text.contains("✗ expected disable: false"), "{text}");
}

#[test]
fn a_policy_that_does_not_load_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let e = cli_run(&broken, &example_scenario(), &Overrides::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("broken.wasm") && msg.contains("could not be loaded"),
        "{msg}"
    );

    let missing = dir.path().join("missing.wasm");
    let e = cli_run(&missing, &example_scenario(), &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("missing.wasm"), "{e:#}");

    // settings the policy rejects in `configure` also fail the load
    let e = cli_run(
        &repo().join("policies/default.wasm"),
        &example_scenario(),
        &Overrides {
            settings: Some(r#"{"max_consecutive_failures": 0}"#),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("could not be loaded"), "{e:#}");

    let bad_scenario = dir.path().join("bad.json");
    std::fs::write(&bad_scenario, r#"{"steps": [{"at": "soon"}]}"#).unwrap();
    let e = cli_run(
        &repo().join("policies/default.wasm"),
        &bad_scenario,
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("bad.json"), "{e:#}");
}

/// Builds `examples/policies/rust-strict` (into a target dir under mcpproxy's `target/`, so the
/// source folder stays clean and only the first run compiles its dependencies).
fn build_rust_strict() -> PathBuf {
    let target = repo().join("target/scaffold-test");
    let out = std::process::Command::new("cargo")
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .current_dir(repo().join("examples/policies/rust-strict"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("wasm32-wasip2/release/strict_policy.wasm")
}

#[test]
fn the_strict_example_meets_its_scenario_and_not_the_defaults() {
    let strict = build_rust_strict();
    let (text, passed) = cli_run(
        &strict,
        &repo().join("examples/scenarios/strict-policy.json"),
        &Overrides::default(),
    )
    .unwrap();
    assert!(passed, "{text}");
    // strict gives up on a missing command at once: the default's expectations fail
    let (text, passed) = cli_run(&strict, &example_scenario(), &Overrides::default()).unwrap();
    assert!(!passed, "{text}");
    assert!(text.contains("✗ expected disable: false"), "{text}");
}
