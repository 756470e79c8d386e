//! `mcpproxy policy ...`: checking policy components and handling signed policy bundles.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{BundleCommand, PolicyCommand};
use crate::policy::bundle::cli as bundle;

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let text = match command {
        PolicyCommand::Check { file, settings } => check(&file, &settings)?,
        PolicyCommand::Test {
            policy,
            scenario,
            settings,
        } => {
            let (table, passed) =
                crate::policy::simulate::cli_run(&policy, &scenario, settings.as_deref())?;
            print!("{table}");
            return Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        PolicyCommand::New { lang, name } => {
            let lang: crate::policy::scaffold::Lang = lang.parse()?;
            crate::policy::scaffold::new_project(lang, &name, Path::new(&name))?
        }
        PolicyCommand::Keygen { prefix } => bundle::keygen(&prefix)?,
        PolicyCommand::Bundle(BundleCommand::Pack { dir, output }) => bundle::pack(&dir, &output)?,
        PolicyCommand::Bundle(BundleCommand::Sign { bundle: path, key }) => {
            bundle::sign(&path, &key)?
        }
        PolicyCommand::Bundle(BundleCommand::Verify {
            bundle: path,
            pubkey,
        }) => bundle::verify(&path, &pubkey)?,
        PolicyCommand::Bundle(BundleCommand::Inspect { bundle: path }) => bundle::inspect(&path)?,
    };
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn check(file: &Path, settings: &str) -> anyhow::Result<String> {
    let settings: serde_json::Value = serde_json::from_str(settings)
        .with_context(|| format!("--settings is not valid JSON: {settings}"))?;
    Ok(crate::policy::check::run(file, &settings)?.to_string())
}
