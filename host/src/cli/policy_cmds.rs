//! `mcpproxy policy ...`: checking policy components and handling signed policy bundles.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{BundleCommand, LimitArgs, PolicyCommand};
use crate::contract::Limits;
use crate::policy::bundle::cli as bundle;
use crate::policy::check::CheckReport;
use crate::policy::simulate::Overrides;

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let text = match command {
        PolicyCommand::Check {
            file,
            settings,
            limits,
        } => {
            let report = check(&file, &settings, limits)?;
            print!("{report}");
            return Ok(if report.failures == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        PolicyCommand::Test {
            policy,
            scenario,
            settings,
            limits,
        } => {
            let overrides = Overrides {
                settings: settings.as_deref(),
                limits: limits.into(),
            };
            let (table, passed) = crate::policy::simulate::cli_run(&policy, &scenario, &overrides)?;
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

fn check(file: &Path, settings: &str, limits: LimitArgs) -> anyhow::Result<CheckReport> {
    let settings: serde_json::Value = serde_json::from_str(settings)
        .with_context(|| format!("--settings is not valid JSON: {settings}"))?;
    let limits = Limits::DEFAULT.with(limits.into());
    Ok(crate::policy::check::run_with(
        file, &settings, limits, None,
    )?)
}
