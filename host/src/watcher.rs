//! The debounced config-directory watcher.
//!
//! Watches the config file's **directory** (non-recursively; a watch on the file itself dies
//! with the first atomic save) with `notify-debouncer-full`, keeps only events about the
//! config's name or a Kubernetes `..data` swap, and signals once per debounced burst. It never
//! reads the file or decides anything: the config store does, when signalled.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::config::error::ConfigError;
use crate::config::paths::parent_dir;

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSignal {
    /// Something happened to the config file (or its `..data` link) during the last burst.
    Changed,
    /// The watcher itself reported errors (e.g. the inotify queue overflowed); the file may
    /// have changed, so the store should look.
    Error(String),
}

/// A running watcher; dropping it stops it.
pub struct ConfigWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    dirs: Vec<PathBuf>,
}

impl ConfigWatcher {
    /// The directories being watched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("dirs", &self.dirs)
            .finish()
    }
}

/// The names an event must touch to matter.
#[derive(Debug, Clone)]
pub struct WatchedNames {
    names: Vec<OsString>,
}

impl WatchedNames {
    /// The config's file name, plus its symlink target's name when it is a symlink.
    pub fn for_config(path: &Path) -> Self {
        let mut names: Vec<OsString> = path
            .file_name()
            .map(|n| vec![n.to_os_string()])
            .unwrap_or_default();
        if let Ok(target) = std::fs::canonicalize(path)
            && let Some(n) = target.file_name()
            && !names.iter().any(|x| x == n)
        {
            names.push(n.to_os_string());
        }
        WatchedNames { names }
    }

    /// Whether `event` can have changed what the config path reads as. Pure.
    pub fn is_relevant(&self, kind: &EventKind, paths: &[PathBuf]) -> bool {
        let content_may_change = match kind {
            // Our own reads open the file; only a close after writing matters.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        content_may_change
            && paths.iter().any(|p| match p.file_name() {
                Some(n) => {
                    self.names.iter().any(|x| x == n) || n.to_string_lossy().starts_with("..data")
                }
                None => false,
            })
    }
}

/// Starts watching `config` with the given debounce window; `on_signal` runs on the
/// debouncer's thread, once per burst that touched the config.
pub fn watch_config(
    config: &Path,
    debounce: Duration,
    mut on_signal: impl FnMut(WatchSignal) + Send + 'static,
) -> Result<ConfigWatcher, ConfigError> {
    let names = WatchedNames::for_config(config);
    let err = |e: notify::Error| ConfigError::Watch {
        file: config.to_path_buf(),
        message: e.to_string(),
    };
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            if events
                .iter()
                .any(|e| names.is_relevant(&e.event.kind, &e.event.paths))
            {
                on_signal(WatchSignal::Changed);
            }
        }
        Err(errors) => {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            on_signal(WatchSignal::Error(text.join("; ")));
        }
    };
    // The debouncer checks its queue every tick: a finer tick than its default (a quarter of
    // the window) keeps the delay after the window short. Costs a wake-up per tick.
    let tick = (debounce / 10).clamp(Duration::from_millis(1), Duration::from_millis(25));
    let mut debouncer = new_debouncer(debounce, Some(tick.min(debounce)), handler).map_err(err)?;
    let mut dirs = vec![parent_dir(config)];
    // A symlinked config whose target lives elsewhere (not a ConfigMap `..data` link, which
    // swaps in the config's own directory): watch the target's directory too.
    if let Ok(target) = std::fs::canonicalize(config) {
        let target_dir = parent_dir(&target);
        let same = std::fs::canonicalize(&dirs[0]).is_ok_and(|d| d == target_dir);
        let in_data = crate::config::access::is_configmap_mount(config, &target);
        if !same && !in_data {
            dirs.push(target_dir);
        }
    }
    for dir in &dirs {
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(err)?;
    }
    Ok(ConfigWatcher {
        _debouncer: debouncer,
        dirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    #[test]
    fn relevance_table() {
        let names = WatchedNames {
            names: vec!["mcp_config.json".into()],
        };
        let p = |s: &str| vec![PathBuf::from(s)];
        let cases: Vec<(&str, EventKind, Vec<PathBuf>, bool)> = vec![
            (
                "create",
                EventKind::Create(CreateKind::File),
                p("/d/mcp_config.json"),
                true,
            ),
            (
                "write",
                EventKind::Modify(ModifyKind::Any),
                p("/d/mcp_config.json"),
                true,
            ),
            (
                "close write",
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                p("/d/mcp_config.json"),
                true,
            ),
            (
                "our own read",
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                p("/d/mcp_config.json"),
                false,
            ),
            (
                "remove",
                EventKind::Remove(RemoveKind::File),
                p("/d/mcp_config.json"),
                true,
            ),
            (
                "rename temp over config",
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                vec!["/d/.tmp123".into(), "/d/mcp_config.json".into()],
                true,
            ),
            (
                "vim backup",
                EventKind::Remove(RemoveKind::File),
                p("/d/mcp_config.json~"),
                false,
            ),
            (
                "other file",
                EventKind::Modify(ModifyKind::Any),
                p("/d/other.json"),
                false,
            ),
            (
                "configmap swap",
                EventKind::Create(CreateKind::Any),
                p("/d/..data"),
                true,
            ),
            (
                "configmap tmp link",
                EventKind::Create(CreateKind::Any),
                p("/d/..data_tmp"),
                true,
            ),
            (
                "state file",
                EventKind::Modify(ModifyKind::Any),
                p("/d/state.json"),
                false,
            ),
        ];
        for (name, kind, paths, want) in cases {
            assert_eq!(names.is_relevant(&kind, &paths), want, "{name}");
        }
    }
}
