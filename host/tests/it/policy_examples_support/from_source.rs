//! Builds the example policies from source with the project's own scripts
//! (`examples/policies/install-tools.sh`, then each folder's `build.sh`).
//!
//! The tools are installed once per process (the script is idempotent, but parallel runs of
//! `npm ci` into the same folder would trample each other); each language builds on its own,
//! so the per-language tests can run in parallel.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One example policy: its folder under `examples/policies/` and the component it builds.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    pub folder: &'static str,
    pub wasm: &'static str,
}

pub const RUST_STRICT: Example = Example {
    folder: "rust-strict",
    wasm: "strict.wasm",
};
pub const JS_PATIENT: Example = Example {
    folder: "js-patient",
    wasm: "patient.wasm",
};
pub const PYTHON_WINDOWED: Example = Example {
    folder: "python-windowed",
    wasm: "windowed.wasm",
};
pub const ALL: [Example; 3] = [RUST_STRICT, JS_PATIENT, PYTHON_WINDOWED];

/// `examples/policies/` in this checkout.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies")
}

impl Example {
    pub fn dir(&self) -> PathBuf {
        examples_dir().join(self.folder)
    }

    /// Where `build.sh` writes the component.
    pub fn wasm_path(&self) -> PathBuf {
        self.dir().join(self.wasm)
    }

    pub fn expected_json(&self) -> PathBuf {
        self.dir().join("expected.json")
    }

    /// Builds the component from source (installing the tools first) and returns its path
    /// and the build time.
    pub fn build(&self) -> Result<(PathBuf, Duration), String> {
        install_tools()?;
        let started = Instant::now();
        run(&self.dir().join("build.sh"))?;
        let elapsed = started.elapsed();
        let wasm = self.wasm_path();
        if !wasm.is_file() {
            return Err(format!(
                "{}/build.sh succeeded but {} is missing",
                self.folder,
                wasm.display()
            ));
        }
        Ok((wasm, elapsed))
    }

    /// The built component, building it only if it is missing (for the benchmark).
    pub fn built(&self) -> Result<PathBuf, String> {
        let wasm = self.wasm_path();
        if wasm.is_file() {
            return Ok(wasm);
        }
        self.build().map(|(wasm, _)| wasm)
    }
}

/// Runs `install-tools.sh` once per process; every caller gets its result.
pub fn install_tools() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| run(&examples_dir().join("install-tools.sh")))
        .clone()
}

/// Runs a script, keeping its output for the error message.
fn run(script: &Path) -> Result<(), String> {
    let output = Command::new("bash")
        .arg(script)
        // The scripts build with cargo themselves: settings meant for mcpproxy's own build
        // (a shared target dir, a build target) must not redirect the policy builds.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        script.display(),
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    ))
}

/// The last 4 KiB of a script's output: where its error is.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut start = text.len().saturating_sub(4096);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}
