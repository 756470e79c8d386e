//! Watching the configured policy file: a changed file is compiled, configured and
//! smoke-tested by `PolicyHost::replace` before it replaces the running policy. The policy
//! host only decides; watching is the daemon's I/O, with the same debounced directory watcher
//! as the config file (`config::watch`).
//!
//! Holds only a weak reference to the host, and stops when the `PolicyWatch` is dropped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::config::ConfigError;
use crate::config::watch::{FileWatcher, watch_file};
use crate::policy::PolicyHost;
use crate::policy::sha256_hex;

/// How long the file must be quiet before it is reloaded.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Stops watching when dropped.
pub struct PolicyWatch {
    _watcher: Option<FileWatcher>,
    path: Option<PathBuf>,
}

impl PolicyWatch {
    /// A watch of nothing: what the daemon keeps when the policy file cannot be watched
    /// (its directory is missing), so that a later `follow` tries again.
    pub fn unwatched() -> PolicyWatch {
        PolicyWatch {
            _watcher: None,
            path: None,
        }
    }

    /// Watches the policy file `host` is asked for (even one that failed to load, so fixing it
    /// takes effect) and reloads it on change. With no policy file, or a bundle's file per
    /// hook (a bundle changes as a whole, and its pin watches it), watches nothing. A save made
    /// before the watch started is picked up when it starts.
    pub fn start(host: &Arc<PolicyHost>) -> Result<PolicyWatch, ConfigError> {
        let (Some(files), _) = host.requested() else {
            return Ok(PolicyWatch::unwatched());
        };
        let Some(path) = files.single().cloned() else {
            return Ok(PolicyWatch::unwatched());
        };
        let weak: Weak<PolicyHost> = Arc::downgrade(host);
        let target = path.clone();
        let watcher = watch_file(&path, DEBOUNCE, move |_| {
            if let Some(host) = weak.upgrade() {
                reload_if_changed(&host, &target);
            }
        })?;
        // A save between the host loading the file and this watch starting sent its events
        // to no one: look once now that the watch is on. (A file that failed to load is not
        // retried here: its error is already reported, and the next save is watched.)
        if !host.status().fallback_active {
            reload_if_changed(host, &path);
        }
        Ok(PolicyWatch {
            _watcher: Some(watcher),
            path: Some(path),
        })
    }

    /// The watched policy file; `None` when the embedded default is configured.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Watches the file `host` is asked for now, if that is not the watched one (a config
    /// edit moved `policy.path`).
    pub fn follow(&mut self, host: &Arc<PolicyHost>) -> Result<(), ConfigError> {
        let (requested, _) = host.requested();
        let wanted = requested.as_ref().and_then(|f| f.single());
        if wanted.map(PathBuf::as_path) != self.path() {
            *self = PolicyWatch::start(host)?;
        }
        Ok(())
    }
}

/// Reload `path` when it is still the requested policy and its content differs from the
/// running one; a failed load leaves the running policy in place.
fn reload_if_changed(host: &PolicyHost, path: &Path) {
    let (requested, settings) = host.requested();
    if requested
        .as_ref()
        .and_then(|f| f.single())
        .map(PathBuf::as_path)
        != Some(path)
    {
        return; // The config moved on to another policy.
    }
    // Saves often come as several bursts; an unchanged file is not reloaded.
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
