//! `ConfigStore`: the single owner of the running config and of the config file.
//!
//! An actor task holds the last bytes read or written, the generation it last stamped, the
//! running config and the raw document (unknown keys, key order). Every change takes one
//! route: the user's edits of the file (the directory watcher's signals, classified as own
//! save / nothing new / outside edit) and the daemon's own edits (`ConfigStore::edit`:
//! `upstream_servers`, auto-disables, imports, the dashboard; coalesced into few saves) are
//! applied here, and each change of the running config goes out as one `ConfigUpdate` with
//! its diff against the previous running config and its cause, in the order they happened.
//! Nothing else writes the file or holds a running config of its own. Dropping every handle
//! stops the actor and the watcher.
//!
//! The actor (in `actor`) does its small file I/O inline: a save is one temp file + fsync +
//! rename.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::access;
use crate::config::edit::ConfigEdit;
use crate::config::error::ConfigError;
use crate::config::load::{from_document, parse_document};
use crate::config::model::Config;
use crate::config::state::{RuntimeState, STATE_FILE_NAME};
use crate::config::suppress::OutsideEdit;
use crate::config::watch::{DebounceWindow, watch_file};
use crate::contract::ConfigDiff;

mod actor;
use actor::Actor;

/// Updates queued for the consumer before the actor waits for it.
const UPDATE_QUEUE: usize = 256;

/// How the store is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Where `state.json` goes when the config cannot hold runtime state.
    pub data_dir: PathBuf,
    /// The watcher's debounce window; `None` → `watch_debounce_ms` from the file.
    pub debounce: Option<Duration>,
}

impl StoreOptions {
    /// State file in `data_dir`, debounce from the file.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        StoreOptions {
            data_dir: data_dir.into(),
            debounce: None,
        }
    }
}

/// How an outside edit of the file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "found_by", rename_all = "snake_case")]
pub enum ReloadCause {
    /// The watcher saw an outside edit.
    Watcher { edit: OutsideEdit },
    /// A save found the file changed since the store last saw it, and took the edit in first.
    BeforeSave { edit: OutsideEdit },
}

/// Why the running config changed.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateCause {
    /// The user edited the file (and it parsed and validated). The only cause the policy's
    /// reload filter sees: it may ignore changes the user made.
    Reload(ReloadCause),
    /// The daemon's own edits, saved (or parked in the state file): applied as asked, never
    /// filtered, since the user or the policy asked for exactly these.
    Edits(Vec<ConfigEdit>),
}

/// One change of the running config, against the previous running config.
#[derive(Debug)]
pub struct ConfigUpdate {
    /// The new running config (runtime state from the state file merged in).
    pub config: Config,
    pub diff: ConfigDiff,
    pub cause: UpdateCause,
    /// Dropped with the update once its consumer has applied it: that wakes the `Applied`
    /// of each edit it carries.
    pub applied: AppliedSignal,
}

/// Held by a `ConfigUpdate`; dropping it signals the edits' `Applied`.
#[derive(Debug, Default)]
pub struct AppliedSignal(Vec<oneshot::Sender<()>>);

impl AppliedSignal {
    /// One more edit whose `Applied` this signal wakes.
    fn applied(&mut self) -> Applied {
        let (tx, applied) = Applied::pair();
        self.0.push(tx);
        applied
    }
}

/// Returned for a saved edit: resolves once the `ConfigUpdate` carrying it has been applied
/// (its consumer dropped it), or at once if the edit changed nothing.
#[derive(Debug)]
pub struct Applied(oneshot::Receiver<()>);

impl Applied {
    /// A signal and the `Applied` it wakes.
    fn pair() -> (oneshot::Sender<()>, Applied) {
        let (tx, rx) = oneshot::channel();
        (tx, Applied(rx))
    }

    pub async fn wait(self) {
        // An error is the signal dropped: that is the signal.
        let _ = self.0.await;
    }
}

/// Counters and state for `status --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigStats {
    /// The generation of the config file as last read or written.
    pub config_generation: u64,
    /// Watcher events recognised as the daemon's own saves.
    pub self_writes_suppressed: u64,
    /// Outside edits delivered as `ConfigUpdate`s (the daemon's own edits are not counted).
    pub reloads: u64,
    /// Debounced watcher signals looked at (own saves, touches and edits alike).
    pub watch_events: u64,
    /// Saves written to the config file.
    pub saves: u64,
    /// The last outside edit that failed to parse or validate (file, line/column, server,
    /// field); cleared by the next valid one.
    pub last_config_error: Option<String>,
    /// The daemon edits that the user's last file without a `generation` superseded (that
    /// file said otherwise, and the user's newest word wins), e.g. `auto-disable github`.
    pub superseded_edits: Vec<String>,
    /// Whether the daemon can write the config file.
    pub writable: bool,
    /// Set while runtime state lives in `<data_dir>/state.json`.
    pub state_file: Option<PathBuf>,
}

type Reply = oneshot::Sender<Result<Applied, ConfigError>>;

/// A cheap handle on the store's actor.
#[derive(Clone)]
pub struct ConfigStore {
    requests: mpsc::UnboundedSender<(ConfigEdit, Reply)>,
    errors: watch::Receiver<Option<ConfigError>>,
    stats: Arc<Mutex<ConfigStats>>,
    path: PathBuf,
    /// The watcher's debounce window.
    debounce: DebounceWindow,
    /// The file's `watch_debounce_ms` decides the window (the caller did not fix it).
    debounce_from_file: bool,
}

impl std::fmt::Debug for ConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigStore")
            .field("path", &self.path)
            .finish()
    }
}

impl ConfigStore {
    /// Loads `path` (which must exist and be valid; see `ensure_default`), merges runtime
    /// state from the state file, starts the watcher and the actor (on the current tokio
    /// runtime). Returns the handle, the running config and the stream of its updates.
    pub fn open(
        path: PathBuf,
        opts: StoreOptions,
    ) -> Result<(ConfigStore, Config, mpsc::Receiver<ConfigUpdate>), ConfigError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| ConfigError::NoRuntime { file: path.clone() })?;
        let bytes = std::fs::read(&path).map_err(|e| ConfigError::io(&path, "cannot read", &e))?;
        let text = String::from_utf8_lossy(&bytes);
        let doc = parse_document(&path, &text)?;
        let file_config = from_document(&path, &doc)?;
        let access = access::check(&path);
        if let Some(why) = &access.read_only_because {
            tracing::warn!(file = %path.display(), reason = %why, "config file is read-only; runtime state goes to the state file");
        }
        let state_path = opts.data_dir.join(STATE_FILE_NAME);
        let overlay = RuntimeState::load(&state_path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring an unreadable state file");
            RuntimeState::default()
        });
        let writable = access.writable();
        let mut effective = doc.clone();
        overlay.apply(&mut effective);
        let config = from_document(&path, &effective)?;
        let stats = Arc::new(Mutex::new(ConfigStats {
            config_generation: file_config.generation,
            writable,
            state_file: (!writable || !overlay.is_empty()).then(|| state_path.clone()),
            ..ConfigStats::default()
        }));

        let (watch_tx, watch_rx) = mpsc::unbounded_channel();
        let debounce = opts.debounce.unwrap_or(config.watch_debounce);
        let watcher = watch_file(&path, debounce, move |signal| {
            let _ = watch_tx.send(signal);
        })?;
        let debounce_window = watcher.window();
        let (req_tx, req_rx) = mpsc::unbounded_channel();
        let (update_tx, update_rx) = mpsc::channel(UPDATE_QUEUE);
        let (error_tx, error_rx) = watch::channel(None);
        let actor = Actor {
            // A writable config whose state file still holds edits folds them in right away.
            dirty: writable && !overlay.is_empty(),
            path: path.clone(),
            target: access.target,
            writable,
            state_path,
            overlay,
            generation: file_config.generation,
            doc,
            config: config.clone(),
            known: Some(bytes),
            file_invalid: false,
            missing: false,
            highest_stamped: 0,
            last_write: None,
            journal: VecDeque::new(),
            pending: Vec::new(),
            first_pending_at: None,
            last_save_at: None,
            updates: update_tx,
            errors: error_tx,
            stats: stats.clone(),
        };
        runtime.spawn(actor.run(req_rx, watch_rx, watcher));
        let store = ConfigStore {
            requests: req_tx,
            errors: error_rx,
            stats,
            path,
            debounce: debounce_window,
            debounce_from_file: opts.debounce.is_none(),
        };
        Ok((store, config, update_rx))
    }

    /// Applies `edit` and resolves once it is persisted (in the config file, or in the state
    /// file when the config cannot be written). Edits close together share one save, and one
    /// `ConfigUpdate`; `Applied` says when that has been applied.
    pub async fn edit(&self, edit: ConfigEdit) -> Result<Applied, ConfigError> {
        let closed = || ConfigError::StoreClosed {
            file: self.path.clone(),
        };
        let (tx, rx) = oneshot::channel();
        self.requests.send((edit, tx)).map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// The invalid-edit notification path: the last outside edit that failed to parse or
    /// validate, `None` once a valid one arrived. `changed().await` wakes on every change.
    pub fn errors(&self) -> watch::Receiver<Option<ConfigError>> {
        self.errors.clone()
    }

    /// Apply an accepted edit of `watch_debounce_ms` to the watcher, from its next burst on.
    /// Does nothing when the caller fixed the window at open (`StoreOptions::debounce`).
    pub fn set_debounce(&self, window: Duration) {
        if self.debounce_from_file {
            self.debounce.set(window);
        }
    }

    /// The watcher's debounce window now.
    pub fn debounce(&self) -> Duration {
        self.debounce.get()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ConfigStats {
        match self.stats.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The config file this store owns.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialise_with_the_status_field_names() {
        let stats = ConfigStats {
            config_generation: 7,
            state_file: Some(PathBuf::from("/d/state.json")),
            last_config_error: Some("f.json:1:2: invalid JSON: x".into()),
            ..ConfigStats::default()
        };
        let v = serde_json::to_value(&stats).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "config_generation",
                "self_writes_suppressed",
                "reloads",
                "watch_events",
                "saves",
                "last_config_error",
                "superseded_edits",
                "writable",
                "state_file"
            ]
        );
        assert_eq!(v["state_file"], "/d/state.json");
        let cause = ReloadCause::Watcher {
            edit: OutsideEdit::LowerGeneration { disk: 3, ours: 5 },
        };
        assert_eq!(
            serde_json::to_value(cause).unwrap(),
            serde_json::json!({"found_by": "watcher", "edit": {"case": "lower_generation", "disk": 3, "ours": 5}})
        );
    }
}
