//! The config store's actor: the one task that reads and writes the config file, and the one
//! holder of the running config.
//!
//! It classifies watcher signals (own save / nothing new / outside edit), takes outside edits
//! in (validate, re-apply daemon edits a stale version lacked, merge parked runtime state),
//! and saves coalesced daemon edits with a fresh generation, never over a file that is invalid
//! and never over an edit it has not taken in. Either way the new running config is diffed
//! against the old one and published (`publish`) as one `ConfigUpdate`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::access;
use crate::config::diff::diff;
use crate::config::edit::{ConfigEdit, apply, entry_of};
use crate::config::error::ConfigError;
use crate::config::load::{GENERATION_KEY, document_generation, from_document, parse_document};
use crate::config::model::Config;
use crate::config::save::stage;
use crate::config::state::RuntimeState;
use crate::config::suppress::{FileVerdict, OutsideEdit, Seen, classify, outside_case};
use crate::config::watch::{FileWatcher, WatchSignal};

use super::{AppliedSignal, ConfigStats, ConfigUpdate, ReloadCause, Reply, UpdateCause};

/// Edits arriving this close together go into one save.
const GATHER: Duration = Duration::from_millis(20);
/// At most one save per this interval: a burst of edits becomes a handful of writes.
const MIN_SAVE_INTERVAL: Duration = Duration::from_millis(200);
/// Daemon edits remembered for re-applying over an outside edit based on an older generation.
const JOURNAL_LEN: usize = 512;
/// Attempts to save when other writers keep racing the swap.
const MAX_SAVE_ATTEMPTS: usize = 8;

/// The actor's state; built once by `ConfigStore::open`, then owned by `run`.
pub(super) struct Actor {
    pub(super) path: PathBuf,
    /// The file a save replaces (symlink target).
    pub(super) target: PathBuf,
    pub(super) writable: bool,
    pub(super) state_path: PathBuf,
    /// Runtime state not (yet) in the file.
    pub(super) overlay: RuntimeState,
    /// The generation of the file content last read (valid) or written.
    pub(super) generation: u64,
    /// The file's last valid document, without the overlay.
    pub(super) doc: Map<String, Value>,
    /// The running config: `doc` + overlay.
    pub(super) config: Config,
    /// The bytes last read or written.
    pub(super) known: Option<Vec<u8>>,
    /// `known` failed to parse or validate.
    pub(super) file_invalid: bool,
    /// The file was missing at the last look.
    pub(super) missing: bool,
    /// The highest generation ever put in the file, including swaps that were undone.
    pub(super) highest_stamped: u64,
    /// The last save: generation, bytes, seen by the watcher yet.
    pub(super) last_write: Option<(u64, Vec<u8>, bool)>,
    /// Saved daemon edits with the generation that first carried them.
    pub(super) journal: VecDeque<(u64, ConfigEdit)>,
    pub(super) pending: Vec<(ConfigEdit, Reply)>,
    pub(super) first_pending_at: Option<Instant>,
    pub(super) last_save_at: Option<Instant>,
    /// The document needs a save even without pending edits.
    pub(super) dirty: bool,
    pub(super) updates: mpsc::Sender<ConfigUpdate>,
    pub(super) errors: watch::Sender<Option<ConfigError>>,
    pub(super) stats: Arc<Mutex<ConfigStats>>,
}

impl Actor {
    pub(super) async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<(ConfigEdit, Reply)>,
        mut signals: mpsc::UnboundedReceiver<WatchSignal>,
        watcher: FileWatcher,
    ) {
        tracing::debug!(file = %self.path.display(), dirs = ?watcher.dirs(), "config store running");
        let mut watching = true;
        loop {
            let deadline = self.save_deadline();
            tokio::select! {
                request = requests.recv() => match request {
                    Some(r) => self.enqueue(r),
                    None => break,
                },
                signal = signals.recv(), if watching => match signal {
                    Some(WatchSignal::Changed) => self.on_file_event().await,
                    Some(WatchSignal::Error(e)) => {
                        tracing::warn!(file = %self.path.display(), error = %e, "config watcher error; re-reading");
                        self.on_file_event().await;
                    }
                    None => watching = false,
                },
                _ = sleep_until_opt(deadline), if deadline.is_some() => self.save().await,
            }
        }
        if !self.pending.is_empty() || self.dirty {
            self.save().await;
        }
        drop(watcher);
        tracing::debug!(file = %self.path.display(), "config store stopped");
    }

    fn enqueue(&mut self, request: (ConfigEdit, Reply)) {
        if self.pending.is_empty() {
            self.first_pending_at = Some(Instant::now());
        }
        self.pending.push(request);
    }

    fn save_deadline(&self) -> Option<Instant> {
        if self.pending.is_empty() && !self.dirty {
            return None;
        }
        let gathered = self.first_pending_at.unwrap_or_else(Instant::now) + GATHER;
        Some(match self.last_save_at {
            Some(last) => gathered.max(last + MIN_SAVE_INTERVAL),
            None => gathered,
        })
    }

    /// What outside edits are compared with: the last generation this daemon stamped, else
    /// the one last read. (Not the last read after a stamp: a stale edit taken in must not
    /// make the next stale edit look current.)
    fn reference_generation(&self) -> u64 {
        self.last_write.as_ref().map_or(self.generation, |w| w.0)
    }

    /// Records the outside edit that failed (or `None` once a valid one arrived) for
    /// `stats()` and `ConfigStore::errors()`.
    fn set_error(&self, error: Option<ConfigError>) {
        let text = error.as_ref().map(ToString::to_string);
        self.with_stats(|s| s.last_config_error = text);
        self.errors.send_if_modified(|current| {
            let changed = *current != error;
            *current = error;
            changed
        });
    }

    fn with_stats(&self, f: impl FnOnce(&mut ConfigStats)) {
        match self.stats.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The watcher saw something: look at the file.
    async fn on_file_event(&mut self) {
        self.with_stats(|s| s.watch_events += 1);
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.missing {
                    tracing::warn!(file = %self.path.display(), "config file deleted; keeping the running config");
                    self.missing = true;
                }
                return;
            }
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "cannot read the config file; keeping the running config");
                return;
            }
        };
        if std::mem::take(&mut self.missing) {
            tracing::info!(file = %self.path.display(), "config file is back");
        }
        let parsed = parse_document(&self.path, &String::from_utf8_lossy(&bytes));
        let disk_generation = parsed.as_ref().ok().and_then(document_generation);
        let seen = Seen {
            known: self.known.as_deref(),
            last_write: self
                .last_write
                .as_ref()
                .map(|(g, b, ack)| (*g, b.as_slice(), *ack)),
            generation: self.reference_generation(),
        };
        match classify(&bytes, disk_generation, &seen) {
            FileVerdict::OwnWrite => {
                if let Some(w) = self.last_write.as_mut() {
                    w.2 = true;
                }
                self.with_stats(|s| s.self_writes_suppressed += 1);
                tracing::debug!(file = %self.path.display(), generation = ?disk_generation, "own save seen; not reloading");
            }
            FileVerdict::Unchanged => {
                tracing::debug!(file = %self.path.display(), "config event without a change");
            }
            FileVerdict::Outside(edit) => {
                tracing::info!(file = %self.path.display(), case = %edit, "config file edited outside the daemon");
                self.take_in(bytes, parsed, ReloadCause::Watcher { edit })
                    .await;
            }
        }
    }

    /// Takes an outside version of the file in: validate, re-apply daemon edits the version
    /// was not based on, merge runtime state, diff, send. Returns whether it was valid.
    async fn take_in(
        &mut self,
        bytes: Vec<u8>,
        parsed: Result<Map<String, Value>, ConfigError>,
        cause: ReloadCause,
    ) -> bool {
        self.known = Some(bytes);
        // The file has moved on from our last save: if the user later restores exactly those
        // bytes, that is their edit, not our save.
        if let Some(w) = self.last_write.as_mut() {
            w.2 = true;
        }
        let validated = parsed.and_then(|doc| from_document(&self.path, &doc).map(|c| (doc, c)));
        let (mut doc, file_config) = match validated {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "invalid config edit; keeping the running config");
                self.file_invalid = true;
                self.set_error(Some(e));
                return false;
            }
        };
        let edit = match cause {
            ReloadCause::Watcher { edit } | ReloadCause::BeforeSave { edit } => edit,
        };
        let mut merged = false;
        match edit {
            // A restored or stale copy lacks the daemon's later edits: re-apply them.
            OutsideEdit::LowerGeneration { disk, .. } => {
                merged = self.reapply_since(disk, &mut doc)
            }
            // A file without a generation is the user's newest word: what it says wins.
            OutsideEdit::NoGeneration => self.supersede_journal(&doc),
            OutsideEdit::ChangedKeepingStamp { .. } | OutsideEdit::HigherGeneration { .. } => {}
        }
        let mut effective = doc.clone();
        if !self.overlay.is_empty() {
            self.overlay.apply(&mut effective);
            // Runtime state parked while the file was unusable goes into the file now (the
            // save re-checks whether the file can be written).
            self.dirty = true;
            merged = true;
        }
        let file_generation = file_config.generation;
        let config = match merged {
            // Validating 1,000 servers twice is the bulk of a reload: only redo it if needed.
            false => Ok(file_config),
            true => from_document(&self.path, &effective),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "config invalid after merging runtime state; keeping the running config");
                self.file_invalid = true;
                self.set_error(Some(e));
                return false;
            }
        };
        self.generation = file_generation;
        self.doc = doc;
        self.file_invalid = false;
        let generation = self.generation;
        self.set_error(None);
        self.with_stats(|s| s.config_generation = generation);
        self.publish(config, UpdateCause::Reload(cause), AppliedSignal::default())
            .await;
        true
    }

    /// Re-applies the journalled daemon edits made after generation `disk` to `doc`; returns
    /// whether there were any.
    fn reapply_since(&mut self, disk: u64, doc: &mut Map<String, Value>) -> bool {
        let mut reapplied = 0;
        for (g, e) in &self.journal {
            if *g > disk && apply(&self.path, doc, e).is_ok() {
                reapplied += 1;
            }
        }
        if reapplied == 0 {
            return false;
        }
        tracing::info!(
            count = reapplied,
            since = disk,
            "re-applying daemon edits the older version lacked"
        );
        self.dirty = true;
        true
    }

    /// The user's file `doc`, without a generation, replaces everything the daemon did before
    /// it: the journalled edits it lacks are superseded, said so in the log and in status, and
    /// never re-applied (an auto-disable so lost is decided again by the policy). The journal
    /// starts afresh from this file.
    fn supersede_journal(&mut self, doc: &Map<String, Value>) {
        let mut replayed = doc.clone();
        let mut lacked = Vec::new();
        for (_, e) in &self.journal {
            let entry = |d: &Map<String, Value>| {
                let names = e.servers();
                names
                    .iter()
                    .map(|s| entry_of(d, s).cloned())
                    .collect::<Vec<_>>()
            };
            let before = entry(&replayed);
            let applied = apply(&self.path, &mut replayed, e).is_ok();
            if applied && before != entry(&replayed) {
                lacked.push(e.label());
            }
        }
        self.journal.clear();
        if lacked.is_empty() || replayed == *doc {
            return;
        }
        tracing::warn!(
            file = %self.path.display(),
            superseded = ?lacked,
            "the config file has no generation: the user's version wins over the daemon edits it lacks"
        );
        self.with_stats(|s| s.superseded_edits = lacked);
    }

    /// Makes `config` the running config and sends the change, if any, as one update.
    async fn publish(&mut self, config: Config, cause: UpdateCause, applied: AppliedSignal) {
        let mut changes = diff(&self.config, &config);
        changes.stamped_generation = self.last_write.as_ref().map(|w| w.0);
        self.config = config;
        if changes.is_empty() {
            tracing::debug!(file = %self.path.display(), ?cause, "changes nothing effective");
            return;
        }
        if let UpdateCause::Reload(_) = cause {
            self.with_stats(|s| s.reloads += 1);
        }
        let update = ConfigUpdate {
            config: self.config.clone(),
            diff: changes,
            cause,
            applied,
        };
        if self.updates.send(update).await.is_err() {
            tracing::debug!("no one listens for config updates");
        }
    }

    /// Writes pending edits (and any folded runtime state) with the next generation.
    async fn save(&mut self) {
        let batch = std::mem::take(&mut self.pending);
        self.first_pending_at = None;
        self.last_save_at = Some(Instant::now());
        // Whatever made the document dirty is handled by this save (or set again below).
        self.dirty = false;
        // Permissions and symlinks can change while the daemon runs.
        let access = access::check(&self.path);
        if access.writable() != self.writable {
            tracing::info!(file = %self.path.display(), writable = access.writable(), why = ?access.read_only_because, "config file writability changed");
            self.writable = access.writable();
            let writable = self.writable;
            self.with_stats(|s| s.writable = writable);
        }
        self.target = access.target;
        if !self.writable {
            self.park(batch, "the config file is read-only").await;
            return;
        }
        let mut displaced_ours: Option<Vec<u8>> = None;
        for _attempt in 0..MAX_SAVE_ATTEMPTS {
            // Take in any edit made since the store last looked, so it is not overwritten.
            let on_disk = match std::fs::read(&self.path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return self.park(batch, "the config file is missing").await;
                }
                Err(e) => {
                    let why = format!("cannot read the config file: {e}");
                    return self.park(batch, &why).await;
                }
            };
            let unchanged = self.known.as_deref() == Some(on_disk.as_slice())
                || displaced_ours.as_deref() == Some(on_disk.as_slice());
            if !unchanged {
                let parsed = parse_document(&self.path, &String::from_utf8_lossy(&on_disk));
                let edit = outside_case(
                    parsed.as_ref().ok().and_then(document_generation),
                    self.reference_generation(),
                );
                tracing::info!(file = %self.path.display(), case = %edit, "config edited outside the daemon before a save; taking it in first");
                if !self
                    .take_in(on_disk, parsed, ReloadCause::BeforeSave { edit })
                    .await
                {
                    return self.park(batch, "the config file is invalid").await;
                }
            } else if self.file_invalid {
                return self.park(batch, "the config file is invalid").await;
            }

            let mut doc = self.doc.clone();
            self.overlay.apply(&mut doc);
            let results: Vec<Result<(), ConfigError>> = batch
                .iter()
                .map(|(e, _)| apply(&self.path, &mut doc, e))
                .collect();
            // Never reuse a number, not even one of a swap that was undone or raced: an edit
            // based on that content must compare as older than what replaces it.
            let generation = self.generation.max(self.highest_stamped) + 1;
            self.highest_stamped = generation;
            doc.insert(GENERATION_KEY.into(), Value::from(generation));
            let config = match from_document(&self.path, &doc) {
                Ok(c) => c,
                Err(e) => return reply_all(batch, e),
            };
            let mut bytes = match serde_json::to_vec_pretty(&doc) {
                Ok(b) => b,
                Err(e) => {
                    let e =
                        ConfigError::io(&self.path, "cannot serialise", &std::io::Error::other(e));
                    return reply_all(batch, e);
                }
            };
            bytes.push(b'\n');

            let committed = match stage(&self.target, &bytes).and_then(|s| s.commit()) {
                Ok(c) => c,
                Err(e) if is_permission_error(&e) => {
                    tracing::warn!(file = %self.target.display(), error = %e, "cannot write the config file; switching to the state file");
                    self.writable = false;
                    self.with_stats(|s| s.writable = false);
                    return self.park(batch, "the config file cannot be written").await;
                }
                Err(e) => {
                    let e = ConfigError::io(&self.target, "cannot save", &e);
                    tracing::error!(error = %e, "config save failed");
                    return reply_all(batch, e);
                }
            };
            let raced = committed
                .displaced
                .as_ref()
                .filter(|old| {
                    self.known.as_ref() != Some(*old) && displaced_ours.as_ref() != Some(*old)
                })
                .cloned();
            if let Some(theirs) = raced {
                // Someone wrote between our read and our swap; their version is in our temp file.
                let parsed = parse_document(&self.path, &String::from_utf8_lossy(&theirs));
                let valid = parsed
                    .as_ref()
                    .is_ok_and(|d| from_document(&self.path, d).is_ok());
                let edit = outside_case(
                    parsed.as_ref().ok().and_then(document_generation),
                    self.reference_generation(),
                );
                tracing::info!(file = %self.path.display(), case = %edit, "config edited during a save; taking it in and saving again");
                if !valid {
                    // Do not overwrite an invalid edit: put it back.
                    if let Err(e) = committed.undo() {
                        tracing::error!(error = %e, "cannot put the edited config back");
                    }
                    self.take_in(theirs, parsed, ReloadCause::BeforeSave { edit })
                        .await;
                    return self.park(batch, "the config file is invalid").await;
                }
                if let Err(e) = committed.finish() {
                    tracing::warn!(error = %e, "cannot clean up after a save");
                }
                self.take_in(theirs, parsed, ReloadCause::BeforeSave { edit })
                    .await;
                // What is on disk now is our swapped-in version; the next round rewrites it.
                displaced_ours = Some(bytes);
                continue;
            }
            if let Err(e) = committed.finish() {
                tracing::warn!(error = %e, "cannot make the config save durable");
            }
            return self
                .saved(batch, results, generation, bytes, doc, config)
                .await;
        }
        tracing::warn!(file = %self.path.display(), "config keeps changing under every save; parking the edits");
        self.park(batch, "the file kept changing during the save")
            .await;
        // Retried at the next save window, or folded in by the next outside edit.
        self.dirty = !self.overlay.is_empty();
    }

    async fn saved(
        &mut self,
        batch: Vec<(ConfigEdit, Reply)>,
        results: Vec<Result<(), ConfigError>>,
        generation: u64,
        bytes: Vec<u8>,
        doc: Map<String, Value>,
        config: Config,
    ) {
        self.known = Some(bytes.clone());
        self.last_write = Some((generation, bytes, false));
        self.generation = generation;
        self.doc = doc;
        self.file_invalid = false;
        self.dirty = false;
        if !self.overlay.is_empty() {
            // Parked runtime state is now in the file: journal it like the edits it came from.
            for edit in std::mem::take(&mut self.overlay).as_edits() {
                self.journal.push_back((generation, edit));
            }
            if let Err(e) = self.overlay.store(&self.state_path) {
                tracing::warn!(error = %e, "cannot remove the state file");
            }
        }
        self.with_stats(|s| {
            s.saves += 1;
            s.config_generation = generation;
            s.state_file = None;
        });
        tracing::debug!(file = %self.path.display(), generation, edits = batch.len(), "config saved");
        let mut edits = Vec::new();
        let mut signal = AppliedSignal::default();
        for ((edit, reply), result) in batch.into_iter().zip(results) {
            let answer = result.map(|()| {
                self.journal.push_back((generation, edit.clone()));
                if self.journal.len() > JOURNAL_LEN {
                    self.journal.pop_front();
                }
                edits.push(edit);
                signal.applied()
            });
            let _ = reply.send(answer);
        }
        self.publish(config, UpdateCause::Edits(edits), signal)
            .await;
    }

    /// The file cannot take the edits now: runtime state goes to the state file (merged into
    /// the running config), other edits fail with the reason.
    async fn park(&mut self, batch: Vec<(ConfigEdit, Reply)>, why: &str) {
        if batch.is_empty() {
            return;
        }
        let mut effective = self.doc.clone();
        self.overlay.apply(&mut effective);
        let mut results = Vec::new();
        let mut touched = Vec::new();
        for (edit, reply) in batch {
            let result = if edit.is_runtime_state() {
                apply(&self.path, &mut effective, &edit)
            } else {
                Err(ConfigError::NotWritable {
                    file: self.path.clone(),
                    edit: edit.label(),
                    reason: why.to_string(),
                })
            };
            if result.is_ok() {
                touched.extend(edit.servers().into_iter().map(str::to_string));
            }
            results.push((edit, reply, result));
        }
        let mut parked = None;
        if !touched.is_empty() {
            let stored = from_document(&self.path, &effective).and_then(|config| {
                for name in &touched {
                    if let Some(s) = config.server(name) {
                        self.overlay.record(s);
                    }
                }
                self.overlay.store(&self.state_path).map(|()| config)
            });
            match stored {
                Err(e) => {
                    tracing::error!(error = %e, "cannot keep runtime state");
                    for (_, _, result) in results.iter_mut() {
                        if result.is_ok() {
                            *result = Err(e.clone());
                        }
                    }
                }
                Ok(config) => {
                    tracing::warn!(file = %self.path.display(), reason = why, state_file = %self.state_path.display(),
                        "config not written; runtime state kept in the state file");
                    let state_path = self.state_path.clone();
                    self.with_stats(|s| s.state_file = Some(state_path));
                    parked = Some(config);
                }
            }
        }
        let mut edits = Vec::new();
        let mut signal = AppliedSignal::default();
        for (edit, reply, result) in results {
            let answer = result.map(|()| {
                edits.push(edit);
                signal.applied()
            });
            let _ = reply.send(answer);
        }
        if let Some(config) = parked {
            self.publish(config, UpdateCause::Edits(edits), signal)
                .await;
        }
    }
}

/// Fails every edit of `batch` with `error`.
fn reply_all(batch: Vec<(ConfigEdit, Reply)>, error: ConfigError) {
    for (_, reply) in batch {
        let _ = reply.send(Err(error.clone()));
    }
}

fn is_permission_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
