//! `policy::scaffold` end to end: a generated project builds with its own toolchain and the
//! built component passes the policy host's load checks and its own scenario, unchanged.
//!
//! The Rust project is built with `cargo build --release --locked --target wasm32-wasip2` into a
//! target dir kept under mcpproxy's `target/`, so only the first run compiles wit-bindgen. JS and
//! Python are built when their tools are installed in `examples/policies/.tools` (or in the dir
//! named by `MCPPROXY_POLICY_TOOLS`); otherwise those tests say so and skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use mcpproxy::policy::scaffold::{Lang, new_project};
use mcpproxy::policy::simulate::{Overrides, cli_run};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads the built component the way the daemon does (`cli_run` refuses a policy that falls
/// back to the default) and runs the project's own `scenario.json` through it: it must pass.
fn assert_scenario_passes(project: &Path, wasm: &Path) {
    let (text, passed) =
        cli_run(wasm, &project.join("scenario.json"), &Overrides::default()).unwrap();
    assert!(passed, "{text}");
    assert!(text.contains("ok: every expectation met"), "{text}");
    assert!(text.contains("DISABLE"), "{text}");
}

/// Runs the `mcpproxy policy check` line that `policy new` printed, in the project, with the
/// real binary: the project passes it unchanged (under the limits the line names).
fn assert_printed_check_passes(printed: &str, project: &Path) {
    let line = printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("mcpproxy policy check "))
        .unwrap_or_else(|| panic!("no `policy check` line in:\n{printed}"));
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_mcpproxy"))
        .args(&args)
        .current_dir(project)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "`{line}` failed:\n{text}");
    assert!(!text.contains("FAILED"), "{text}");
}

#[test]
fn rust_project_builds_and_passes_its_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("scaffolded-rust");
    let printed = new_project(Lang::Rust, "scaffolded-rust", &project).unwrap();
    assert!(printed.contains("./build.sh"), "{printed}");
    assert!(project.join("wit/policy.wit").is_file());

    let target = repo().join("target/scaffold-test");
    let out = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        // the test runs under mcpproxy's cargo: don't let its settings leak into the guest build
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("warning:"),
        "the template builds with warnings:\n{stderr}"
    );
    let wasm = target.join("wasm32-wasip2/release/scaffolded_rust.wasm");
    assert_scenario_passes(&project, &wasm);
    std::fs::copy(&wasm, project.join("scaffolded-rust.wasm")).unwrap();
    assert_printed_check_passes(&printed, &project);
}

#[test]
fn an_existing_directory_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("taken");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("README.md"), "mine").unwrap();
    for lang in [Lang::Rust, Lang::Js, Lang::Python] {
        let e = new_project(lang, "taken", &project).unwrap_err();
        assert!(format!("{e:#}").contains("already exists"), "{e:#}");
    }
    assert_eq!(
        std::fs::read_to_string(project.join("README.md")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&project).unwrap().count(), 1);

    let e = new_project(Lang::Rust, "Bad Name", &tmp.path().join("bad")).unwrap_err();
    assert!(e.to_string().contains("`Bad Name`"), "{e}");
    assert!(!tmp.path().join("bad").exists());
}

/// The example tools folder, after running its (idempotent) installer, which `.ci/test` has
/// run already; `MCPPROXY_POLICY_TOOLS` names a folder installed elsewhere.
fn tools() -> PathBuf {
    if let Some(dir) = std::env::var_os("MCPPROXY_POLICY_TOOLS") {
        return PathBuf::from(dir);
    }
    let examples = repo().join("examples/policies");
    let status = Command::new("bash")
        .arg(examples.join("install-tools.sh"))
        .status()
        .unwrap();
    assert!(status.success(), "install-tools.sh failed");
    examples.join(".tools")
}

fn build_with_tool(lang: Lang, name: &str, tool_var: &str, tool: PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join(name);
    let printed = new_project(lang, name, &project).unwrap();
    let out = Command::new(project.join("build.sh"))
        .env(tool_var, &tool)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = project.join(format!("{name}.wasm"));
    assert_scenario_passes(&project, &wasm);
    assert_printed_check_passes(&printed, &project);
}

#[test]
fn js_project_builds_and_passes_its_scenario() {
    let tools = tools();
    let tool = tools.join("node_modules/.bin/componentize-js");
    build_with_tool(Lang::Js, "scaffolded-js", "COMPONENTIZE_JS", tool);
}

#[test]
fn python_project_builds_and_passes_its_scenario() {
    let tools = tools();
    let tool = tools.join("venv/bin/componentize-py");
    build_with_tool(Lang::Python, "scaffolded-py", "COMPONENTIZE_PY", tool);
}
