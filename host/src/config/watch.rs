//! The debounced directory watcher, for the config file and the files the config names (the
//! policy component, a pinned bundle): one mechanism for every file the daemon follows.
//!
//! Watches the file's **directory** (non-recursively; a watch on the file itself dies with
//! the first atomic save) with `notify`, keeps only events about the file's name, the
//! daemon's own save temp files or a Kubernetes `..data` swap, and signals once per burst:
//! the first relevant event opens a window that every further one extends. It never reads the
//! file or decides anything: its owner (the config store, the policy watch) does, when
//! signalled.
//!
//! Why not `notify-debouncer-full`: it follows rename chains, and the daemon's save (a temp
//! file swapped with the config by `RENAME_EXCHANGE`, then deleted) makes it move the config's
//! queued events onto the temp path and drop them all with the delete. The daemon's own saves
//! then never reached the store, and neither did a user's edit landing just before one. The
//! debounce needed here is a timer over relevant events, with no rename bookkeeping.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::error::ConfigError;
use super::paths::parent_dir;

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSignal {
    /// Something happened to the file (or its `..data` link) during the last burst.
    Changed,
    /// The watcher itself reported errors (e.g. the inotify queue overflowed); the file may
    /// have changed, so the store should look.
    Error(String),
}

/// A running watcher; dropping it stops it.
pub struct FileWatcher {
    /// Dropping the watcher closes its channel, which ends the debounce thread.
    _watcher: RecommendedWatcher,
    dirs: Vec<PathBuf>,
    window: DebounceWindow,
}

impl FileWatcher {
    /// The directories being watched.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The debounce window, changeable while watching (an edited `watch_debounce_ms`).
    pub fn window(&self) -> DebounceWindow {
        self.window.clone()
    }
}

/// The debounce window the watcher thread reads at each event; clones share it. A change
/// applies from the next event on.
#[derive(Debug, Clone)]
pub struct DebounceWindow(Arc<AtomicU64>);

impl DebounceWindow {
    fn new(window: Duration) -> Self {
        let shared = DebounceWindow(Arc::new(AtomicU64::new(0)));
        shared.set(window);
        shared
    }

    pub fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, window: Duration) {
        let nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        self.0.store(nanos, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
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
    /// The file's name, plus its symlink target's name when it is a symlink.
    pub fn for_file(path: &Path) -> Self {
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

    /// Whether `event` can have changed what the path reads as. Pure.
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
                    self.names.iter().any(|x| x == n)
                        || n.to_string_lossy().starts_with("..data")
                        || self.is_save_temp(&n.to_string_lossy())
                }
                None => false,
            })
    }

    /// A temp file of the daemon's own save (`.{name}.{pid}.{n}.tmp`, see `config::save`).
    /// A save swaps it with the config and then deletes it; the debouncer follows the rename
    /// chain and folds the config's events into that delete, so without this the watcher
    /// would never see the daemon's own saves (and could not count them as suppressed).
    fn is_save_temp(&self, file: &str) -> bool {
        file.ends_with(".tmp")
            && self.names.iter().any(|n| {
                file.strip_prefix('.')
                    .and_then(|rest| rest.strip_prefix(n.to_string_lossy().as_ref()))
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    }
}

/// A burst that never goes quiet still signals after this many windows, so that a file
/// rewritten continuously (a sync tool looping) is still looked at.
const MAX_WINDOWS_PER_BURST: u32 = 10;

/// Starts watching `file` with the given debounce window; `on_signal` runs on the watcher's
/// own thread, once per burst that touched the file.
pub fn watch_file(
    file: &Path,
    debounce: Duration,
    on_signal: impl FnMut(WatchSignal) + Send + 'static,
) -> Result<FileWatcher, ConfigError> {
    let names = WatchedNames::for_file(file);
    let err = |e: notify::Error| ConfigError::Watch {
        file: file.to_path_buf(),
        message: e.to_string(),
    };
    let (events, rx) = channel();
    let mut watcher = notify::recommended_watcher(events).map_err(err)?;
    let mut dirs = vec![parent_dir(file)];
    // A symlinked file whose target lives elsewhere (not a ConfigMap `..data` link, which
    // swaps in the file's own directory): watch the target's directory too.
    if let Ok(target) = std::fs::canonicalize(file) {
        let target_dir = parent_dir(&target);
        let same = std::fs::canonicalize(&dirs[0]).is_ok_and(|d| d == target_dir);
        let in_data = super::access::is_configmap_mount(file, &target);
        if !same && !in_data {
            dirs.push(target_dir);
        }
    }
    for dir in &dirs {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(err)?;
    }
    let window = DebounceWindow::new(debounce);
    let thread_window = window.clone();
    std::thread::Builder::new()
        .name("file-watch".into())
        .spawn(move || run_bursts(rx, thread_window, names, on_signal))
        .map_err(|e| ConfigError::Watch {
            file: file.to_path_buf(),
            message: format!("cannot start the watcher thread: {e}"),
        })?;
    Ok(FileWatcher {
        _watcher: watcher,
        dirs,
        window,
    })
}

/// One signal per burst of relevant events, `window` after the last of them. Returns when
/// the watcher is dropped.
fn run_bursts(
    rx: Receiver<notify::Result<notify::Event>>,
    window: DebounceWindow,
    names: WatchedNames,
    mut on_signal: impl FnMut(WatchSignal),
) {
    let mut burst: Option<(Instant, Instant)> = None; // (started, quiet deadline)
    let mut errors: Vec<String> = Vec::new();
    loop {
        let received = match burst {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some((started, quiet)) => {
                let limit = started + window.get() * MAX_WINDOWS_PER_BURST;
                rx.recv_timeout(quiet.min(limit).saturating_duration_since(Instant::now()))
            }
        };
        let relevant = match received {
            Ok(Ok(event)) => names.is_relevant(&event.kind, &event.paths),
            Ok(Err(e)) => {
                errors.push(e.to_string());
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                burst = None;
                on_signal(if errors.is_empty() {
                    WatchSignal::Changed
                } else {
                    WatchSignal::Error(std::mem::take(&mut errors).join("; "))
                });
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if relevant {
            let now = Instant::now();
            let started = burst.map_or(now, |(s, _)| s);
            burst = Some((started, now + window.get()));
        }
    }
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
                "our save's temp file removed after the swap",
                EventKind::Remove(RemoveKind::File),
                p("/d/.mcp_config.json.4242.7.tmp"),
                true,
            ),
            (
                "someone else's temp file",
                EventKind::Remove(RemoveKind::File),
                p("/d/.other.json.4242.7.tmp"),
                false,
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
