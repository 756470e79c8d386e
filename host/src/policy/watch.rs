//! Watching the configured policy file: a changed file is compiled, configured and
//! smoke-tested by `PolicyHost::replace` before it replaces the running policy.
//!
//! Watches the file's directory (watching the file itself breaks after the first atomic
//! save) through a debouncer, and filters on the file name. Holds only a weak reference to
//! the host, and stops when the returned `PolicyWatch` is dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::RecursiveMode;
use notify::event::EventKind;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::error::PolicyError;
use super::host::PolicyHost;
use super::loaded::sha256_hex;

/// How long the file must be quiet before it is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Stops watching when dropped.
pub struct PolicyWatch {
    _debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    path: Option<PathBuf>,
}

impl PolicyWatch {
    /// A watch of nothing: what the daemon keeps when the policy file cannot be watched
    /// (its directory is missing), so that a later `follow` tries again.
    pub fn unwatched() -> PolicyWatch {
        PolicyWatch {
            _debouncer: None,
            path: None,
        }
    }

    /// The watched policy file; `None` when the embedded default is configured.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Watches the file `host` is asked for now, if that is not the watched one (a config
    /// edit moved `policy.path`).
    pub fn follow(&mut self, host: &Arc<PolicyHost>) -> Result<(), PolicyError> {
        let (requested, _) = host.requested();
        let wanted = requested.as_ref().and_then(|f| f.single());
        if wanted.map(PathBuf::as_path) != self.path() {
            *self = host.watch_file()?;
        }
        Ok(())
    }
}

impl PolicyHost {
    /// Watches the configured policy file (even one that failed to load, so fixing it takes
    /// effect) and reloads it on change. With no policy file, or a bundle's file per hook
    /// (a bundle changes as a whole, and its pin watches it), watches nothing. A different
    /// file given to `replace` later needs a new watch. A save made before the watch started
    /// is picked up when it starts.
    pub fn watch_file(self: &Arc<Self>) -> Result<PolicyWatch, PolicyError> {
        let (Some(files), _) = self.requested() else {
            return Ok(PolicyWatch::unwatched());
        };
        let Some(path) = files.single().cloned() else {
            return Ok(PolicyWatch::unwatched());
        };
        let watch_err = |message: String| PolicyError::Watch {
            path: path.clone(),
            message,
        };
        let name = path
            .file_name()
            .map(OsString::from)
            .ok_or_else(|| watch_err("not a file path".into()))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let host = Arc::downgrade(self);
        let target = path.clone();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            on_events(&host, &target, &name, result)
        })
        .map_err(|e| watch_err(e.to_string()))?;
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_err(format!("cannot watch {}: {e}", dir.display())))?;
        // A save between the host loading the file and this watch starting sent its events
        // to no one: look once now that the watch is on. (A file that failed to load is not
        // retried here: its error is already reported, and the next save is watched.)
        if !self.status().fallback_active {
            reload_if_changed(self, &path);
        }
        Ok(PolicyWatch {
            _debouncer: Some(debouncer),
            path: Some(path),
        })
    }
}

fn on_events(host: &Weak<PolicyHost>, path: &Path, name: &OsString, result: DebounceEventResult) {
    let events = match result {
        Ok(events) => events,
        Err(errors) => {
            for e in errors {
                tracing::warn!(policy = %path.display(), "policy watch error: {e}");
            }
            return;
        }
    };
    let touched = events.iter().any(|e| {
        !matches!(e.event.kind, EventKind::Access(_))
            && e.event
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
    });
    if !touched {
        return;
    }
    let Some(host) = host.upgrade() else { return };
    reload_if_changed(&host, path);
}

/// Reload `path` when it is still the requested policy and its content differs from the
/// running one; a failed load leaves the running policy in place.
fn reload_if_changed(host: &Arc<PolicyHost>, path: &Path) {
    let (requested, settings) = host.requested();
    if requested
        .as_ref()
        .and_then(|f| f.single())
        .map(PathBuf::as_path)
        != Some(path)
    {
        return; // The config moved on to another policy.
    }
    // Saves often come as several events; an unchanged file is not reloaded.
    match std::fs::read(path) {
        Ok(bytes) if sha256_hex(&bytes) == host.active_sha256() => return,
        Ok(_) => {}
        // Mid-save (renamed away): the event that recreates it follows.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => {}
    }
    match host.replace(Some(path.into()), settings) {
        Ok(()) => tracing::info!(policy = %path.display(), "policy file changed; reloaded"),
        Err(e) => tracing::warn!("{e}; the running policy stays"),
    }
}
