//! `policies/default.wasm` is reproducible: `policies/build.sh --check` rebuilds it from
//! `policies/default/` in a temporary dir and compares the bytes (takes about a minute).
//! Also checks the embedded copy is that file and `policy check` reports on it.

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
}

#[test]
fn default_policy_rebuilds_to_the_committed_bytes() {
    let out = Command::new("bash")
        .arg(repo().join("policies/build.sh"))
        .arg("--check")
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "build.sh --check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reproducible"));
}

#[test]
fn embedded_default_is_the_committed_file() {
    let committed = std::fs::read(repo().join("policies/default.wasm")).unwrap();
    assert_eq!(mcpproxy::policy::EMBEDDED_DEFAULT, committed.as_slice());
    // Small, as the issue asks: tens of KiB.
    assert!(committed.len() < 64 * 1024, "{} bytes", committed.len());
}

#[test]
fn policy_check_reports_the_default() {
    let path = repo().join("policies/default.wasm");
    let report =
        mcpproxy::policy::check::run(&path, &serde_json::json!({"max_consecutive_failures": 4}))
            .unwrap();
    assert_eq!(report.failures, 0);
    assert!(
        report
            .imports
            .iter()
            .all(|i| i.starts_with("mcpproxy:policy/")),
        "{:?}",
        report.imports
    );
    let text = report.to_string();
    for fragment in [
        "world      mcpproxy:policy/decisions@0.2.0",
        "a new tool, one removed / review-tools: search: expose; delete_all: hide (new since example's tools were approved",
        "configure  ok with {\"max_consecutive_failures\":4}",
        "command not found, 3rd attempt in a row / should-disable: disable: the command was not found",
        "connection refused, 10th attempt / should-disable: disable: failed 10 times in a row",
        "server docs Modified [\"description\"]: ignore",
        "server broken Modified [\"auto_disabled\", \"auto_disable_reason\"]: apply",
    ] {
        assert!(
            text.contains(fragment),
            "report lacks {fragment:?}:\n{text}"
        );
    }
    let err = mcpproxy::policy::check::run(&path, &serde_json::json!({"nope": 1}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown setting `nope`"), "{err}");
}
