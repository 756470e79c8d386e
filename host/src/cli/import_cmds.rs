//! `mcpproxy import` and `mcpproxy upstream add | remove`: servers the user brings in, merged
//! through `edit_route` (the daemon's store when it runs, else a store opened here).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use super::edit_route;
use super::{GlobalArgs, paths};
use crate::config::ConfigEdit;
use crate::config::load::parse_document;
use crate::import::{self, Source};

pub fn import(global: &GlobalArgs, from: Option<&str>, dry_run: bool) -> anyhow::Result<ExitCode> {
    let home = dirs::home_dir().unwrap_or_default();
    let cwd = std::env::current_dir().unwrap_or_default();
    let files = source_files(from, &home, &cwd)?;
    let mut candidates = Vec::new();
    let mut unreadable = 0;
    for file in &files {
        match import::read_file(file) {
            Ok(found) => candidates.extend(found),
            // One broken file among the known ones does not stop the others.
            Err(error) if from.is_none() => {
                eprintln!("skipped {error}");
                unreadable += 1;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let config = paths::config_path(global);
    let doc = match std::fs::read_to_string(&config) {
        Ok(text) => parse_document(&config, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(e).with_context(|| format!("{}", config.display())),
    };
    let plan = import::plan(&config, &doc, candidates);
    println!("{plan}");
    let additions = plan.additions();
    if dry_run {
        println!("dry run: {} unchanged", config.display());
    } else if additions.is_empty() {
        println!("nothing to import into {}", config.display());
    } else {
        let count = additions.len();
        let route = edit_route::apply(global, ConfigEdit::Import { entries: additions })?;
        println!(
            "imported {count} server(s) into {}, {}",
            config.display(),
            route.describe()
        );
    }
    Ok(if unreadable > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The files `--from` names: a client's known files that exist, a file, or (no `--from`)
/// every known client's.
fn source_files(from: Option<&str>, home: &Path, cwd: &Path) -> anyhow::Result<Vec<PathBuf>> {
    // A project's file is the user's own when run from the home directory: read it once.
    let existing = |sources: &[Source]| -> Vec<PathBuf> {
        let mut seen = std::collections::HashSet::new();
        let paths = sources.iter().flat_map(|s| s.paths(home, cwd));
        paths
            .filter(|p| p.is_file())
            .filter(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())))
            .collect()
    };
    let looked = |sources: &[Source]| -> String {
        let paths = sources.iter().flat_map(|s| s.paths(home, cwd));
        paths
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match from {
        Some(name) => match Source::from_name(name) {
            Some(source) => {
                let files = existing(&[source]);
                if files.is_empty() {
                    bail!("no {name} config found (looked in {})", looked(&[source]));
                }
                Ok(files)
            }
            None if Path::new(name).is_file() => Ok(vec![PathBuf::from(name)]),
            None => {
                let known: Vec<&str> = Source::ALL.iter().map(|s| s.name()).collect();
                bail!(
                    "--from {name}: neither a file nor a known client ({})",
                    known.join(", ")
                )
            }
        },
        None => {
            let files = existing(&Source::ALL);
            if files.is_empty() {
                bail!(
                    "no MCP client config found (looked in {}); name one with --from FILE",
                    looked(&Source::ALL)
                );
            }
            Ok(files)
        }
    }
}

/// `upstream add NAME --url URL` or `upstream add NAME -- COMMAND ARGS...`: the user's own
/// server, so not quarantined.
pub fn upstream_add(
    global: &GlobalArgs,
    name: &str,
    url: Option<&str>,
    command: &[String],
) -> anyhow::Result<ExitCode> {
    let mut entry = Map::new();
    entry.insert("name".into(), Value::String(name.to_string()));
    match (url, command.split_first()) {
        (Some(url), None) => {
            entry.insert("url".into(), Value::String(url.to_string()));
        }
        (None, Some((program, args))) => {
            entry.insert("command".into(), Value::String(program.clone()));
            if !args.is_empty() {
                entry.insert("args".into(), serde_json::to_value(args)?);
            }
        }
        (Some(_), Some(_)) => bail!("upstream add {name}: give --url or a command, not both"),
        (None, None) => {
            bail!("upstream add {name}: give --url URL, or `-- COMMAND ARGS...` after the name")
        }
    }
    let route = edit_route::apply(
        global,
        ConfigEdit::Import {
            entries: vec![entry],
        },
    )?;
    println!("added {name}, {}", route.describe());
    Ok(ExitCode::SUCCESS)
}

pub fn upstream_remove(global: &GlobalArgs, name: &str) -> anyhow::Result<ExitCode> {
    let edit = ConfigEdit::RemoveServer {
        server: name.to_string(),
    };
    let route = edit_route::apply(global, edit)?;
    println!("removed {name}, {}", route.describe());
    Ok(ExitCode::SUCCESS)
}
