//! The `mcpproxy policy` commands as a user runs them: `check`, `test` (exit status follows the
//! scenario's expectations, so authors can use it in their own CI) and `new`.

use crate::guest;

use std::path::PathBuf;
use std::process::Command;

const MCPPROXY: &str = env!("CARGO_BIN_EXE_mcpproxy");

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(MCPPROXY).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn policy_check_reports_the_world_and_decisions_of_the_default() {
    let default = repo("policies/default.wasm");
    let (ok, out) = run(&["policy", "check", default.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("world      mcpproxy:policy/decisions@0.2.0")
            && out.contains("limits     deadline 10 ms, memory 16 MiB per decision")
            && out.contains("command not found, first attempt / should-disable: keep")
            && out.contains(
                "a description changed after approval / review-tools: search: expose; fetch: hide"
            ),
        "{out}"
    );
    // --settings reach `configure`, and the limits flags the host.
    let (ok, out) = run(&[
        "policy",
        "check",
        default.to_str().unwrap(),
        "--settings",
        r#"{"deterministic_failures": 1}"#,
        "--deadline-ms",
        "50",
        "--memory-limit-mib",
        "32",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(r#"configure  ok with {"deterministic_failures":1}"#)
            && out.contains("limits     deadline 50 ms, memory 32 MiB per decision")
            && out.contains("command not found, first attempt / should-disable: disable:"),
        "{out}"
    );
    // Settings `configure` rejects: an error naming the policy, non-zero exit.
    let (ok, out) = run(&[
        "policy",
        "check",
        default.to_str().unwrap(),
        "--settings",
        r#"{"max_consecutive_failures": 0}"#,
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("default.wasm"), "{out}");
}

/// `policy check` fails (non-zero exit) on a policy whose decisions fail, and on one that
/// cannot run under the limits it is given, so authors can gate on it.
#[test]
fn policy_check_exits_non_zero_when_decisions_fail() {
    let dir = tempfile::tempdir().unwrap();
    let absurd = dir.path().join("absurd.wasm");
    std::fs::write(&absurd, guest::always_absurd_backoff()).unwrap();
    let (ok, out) = run(&["policy", "check", absurd.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("backoff: FAILED"), "{out}");

    let hungry = dir.path().join("hungry.wasm");
    std::fs::write(&hungry, guest::hungry(20)).unwrap();
    let (ok, out) = run(&["policy", "check", hungry.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("hungry.wasm"), "{out}");
    let (ok, out) = run(&[
        "policy",
        "check",
        hungry.to_str().unwrap(),
        "--memory-limit-mib",
        "32",
    ]);
    assert!(ok, "{out}");
}

#[test]
fn policy_test_exits_by_the_scenarios_expectations() {
    let policy = repo("policies/default.wasm");
    let scenario = repo("examples/scenarios/default-policy.json");
    let (ok, out) = run(&[
        "policy",
        "test",
        policy.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("DISABLE") && out.contains("the command was not found"),
        "{out}"
    );

    // The same policy with a stricter setting disables B at its first failure: the scenario's
    // expectation ("not yet") no longer holds, and the command says so by its exit status.
    let (ok, out) = run(&[
        "policy",
        "test",
        policy.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--settings",
        r#"{"deterministic_failures": 1}"#,
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED"), "{out}");
}

/// `policy test --memory-limit-mib` (and `--deadline-ms`) replace the scenario's limits: a
/// policy that needs 20 MiB cannot be tested under the scenario's 16 and passes under 32.
#[test]
fn policy_test_takes_the_limits_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let hungry = dir.path().join("hungry.wasm");
    std::fs::write(&hungry, guest::hungry(20)).unwrap();
    let scenario = dir.path().join("scenario.json");
    let step = r#"{"at": "0s", "server": "A", "kind": "refused", "expect": {"disable": false, "backoff_ms": {"min": 4242, "max": 4242}}}"#;
    std::fs::write(
        &scenario,
        format!(r#"{{"memory_limit_mib": 16, "steps": [{step}]}}"#),
    )
    .unwrap();
    let test = |extra: &[&str]| {
        let mut args = vec![
            "policy",
            "test",
            hungry.to_str().unwrap(),
            "--scenario",
            scenario.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let (ok, out) = test(&[]);
    assert!(!ok, "{out}");
    assert!(out.contains("could not be loaded"), "{out}");
    let (ok, out) = test(&["--memory-limit-mib", "32", "--deadline-ms", "100"]);
    assert!(ok, "{out}");
    assert!(out.contains("ok: every expectation met"), "{out}");
}

#[test]
fn policy_new_scaffolds_a_project_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let new = |name: &str| {
        let out = Command::new(MCPPROXY)
            .args(["policy", "new", "--lang", "rust", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = new("my-policy");
    assert!(ok, "{err}");
    for file in [
        "README.md",
        "build.sh",
        "wit/policy.wit",
        "scenario.json",
        "Cargo.toml",
    ] {
        assert!(
            dir.path().join("my-policy").join(file).exists(),
            "{file} missing"
        );
    }
    let (ok, err) = new("my-policy");
    assert!(!ok && err.contains("my-policy"), "{err}");
}
