//! `mcpproxy policy ...`: checking policy components.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub fn check(file: &Path, settings: &str) -> anyhow::Result<ExitCode> {
    let settings: serde_json::Value = serde_json::from_str(settings)
        .with_context(|| format!("--settings is not valid JSON: {settings}"))?;
    // INTEGRATION-PENDING
    let _ = (file, settings);
    let report = "";
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}
