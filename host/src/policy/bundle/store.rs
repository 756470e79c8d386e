//! The activation store: `<data_dir>/policy-bundles/<name>/` holds the last-known-good bundle
//! (`rev-<revision>/`, unpacked) and `state.json` (last activated revision, manifest sha256,
//! key id, activation time, last error). Activation is atomic: the bundle is written to a
//! temporary directory, renamed into place, and only then does `state.json` (itself replaced by
//! rename) point at it. A refused bundle only records its error; the last-known-good stays.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::archive::Bundle;
use super::error::BundleError;
use super::keys::TrustedKey;
use super::manifest::check_name;
use super::status::BundleStatus;
use super::verify::{VerifiedBundle, verify};

/// The store's directory under the data dir.
pub const STORE_DIR: &str = "policy-bundles";
pub const STATE_FILE: &str = "state.json";

/// `state.json` of one bundle name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleState {
    /// The last activated (last-known-good) bundle, if any ever was.
    #[serde(default)]
    pub active: Option<ActiveRecord>,
    /// Why the last refused bundle was refused; cleared by the next activation.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_at: Option<DateTime<Utc>>,
}

impl BundleState {
    /// What `status` shows of bundle `name` in this state.
    pub fn status(&self, name: &str) -> BundleStatus {
        let active = self.active.as_ref();
        BundleStatus {
            name: name.to_string(),
            revision: active.map(|a| a.revision),
            manifest_sha256: active.map(|a| a.manifest_sha256.clone()),
            key_id: active.map(|a| a.key_id.clone()),
            activated_at: active.map(|a| a.activated_at),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
        }
    }
}

/// What was activated, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRecord {
    pub revision: u64,
    pub manifest_sha256: String,
    pub key_id: String,
    pub activated_at: DateTime<Utc>,
}

/// The bundles activated on this machine, under one data dir.
#[derive(Debug, Clone)]
pub struct BundleStore {
    root: PathBuf,
}

impl BundleStore {
    pub fn new(data_dir: &Path) -> BundleStore {
        BundleStore {
            root: data_dir.join(STORE_DIR),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn name_dir(&self, name: &str) -> Result<PathBuf, BundleError> {
        check_name(name)?;
        Ok(self.root.join(name))
    }

    /// The directory holding the active bundle's files, if one is active.
    pub fn active_dir(&self, name: &str) -> Result<Option<PathBuf>, BundleError> {
        let dir = self.name_dir(name)?;
        Ok(self
            .state(name)?
            .active
            .map(|a| dir.join(rev_dir(a.revision))))
    }

    /// The state of `name` (the default, empty state if nothing was ever recorded).
    pub fn state(&self, name: &str) -> Result<BundleState, BundleError> {
        let path = self.name_dir(name)?.join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| BundleError::Store {
                path,
                reason: format!("unreadable state: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BundleState::default()),
            Err(e) => Err(BundleError::io(path, e)),
        }
    }

    pub fn status(&self, name: &str) -> Result<BundleStatus, BundleError> {
        Ok(self.state(name)?.status(name))
    }

    /// The last-known-good bundle, verified again (keys may have changed, it may have expired,
    /// the disk may have been tampered with); its revision and manifest must match `state.json`.
    pub fn load_last_known_good(
        &self,
        name: &str,
        trusted: &[TrustedKey],
        now: DateTime<Utc>,
    ) -> Result<Option<VerifiedBundle>, BundleError> {
        let Some(active) = self.state(name)?.active else {
            return Ok(None);
        };
        let dir = self.name_dir(name)?.join(rev_dir(active.revision));
        let bundle = Bundle::from_dir(&dir)?;
        let verified = verify(bundle, trusted, now, active.revision.checked_sub(1))?;
        if verified.manifest().revision != active.revision
            || verified.manifest_sha256() != active.manifest_sha256
            || verified.manifest().name != name
        {
            return Err(BundleError::Store {
                path: dir,
                reason: format!("stored bundle does not match {STATE_FILE}"),
            });
        }
        Ok(Some(verified))
    }

    /// Make `bundle` the last-known-good of its name. Refuses a revision not newer than the
    /// active one (the caller's `verify` should already have).
    pub fn activate(
        &self,
        bundle: &VerifiedBundle,
        now: DateTime<Utc>,
    ) -> Result<ActiveRecord, BundleError> {
        let manifest = bundle.manifest();
        let dir = self.name_dir(&manifest.name)?;
        fs::create_dir_all(&dir).map_err(|e| BundleError::io(&dir, e))?;
        let state = self.state(&manifest.name)?;
        if let Some(active) = &state.active
            && manifest.revision <= active.revision
        {
            return Err(BundleError::Rollback {
                name: manifest.name.clone(),
                revision: manifest.revision,
                last: active.revision,
            });
        }

        let incoming = dir.join(format!(
            ".incoming-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        fs::create_dir(&incoming).map_err(|e| BundleError::io(&incoming, e))?;
        if let Err(e) = bundle.bundle().write_dir(&incoming) {
            let _ = fs::remove_dir_all(&incoming);
            return Err(e);
        }
        let target = dir.join(rev_dir(manifest.revision));
        if target.exists() {
            // Left over from an activation that crashed before its state.json was written.
            fs::remove_dir_all(&target).map_err(|e| BundleError::io(&target, e))?;
        }
        fs::rename(&incoming, &target).map_err(|e| BundleError::io(&target, e))?;

        let record = ActiveRecord {
            revision: manifest.revision,
            manifest_sha256: bundle.manifest_sha256().to_string(),
            key_id: bundle.key_id().to_string(),
            activated_at: now,
        };
        let new_state = BundleState {
            active: Some(record.clone()),
            last_error: None,
            last_error_at: None,
        };
        write_state(&dir, &new_state)?;
        remove_stale(&dir, &rev_dir(manifest.revision));
        Ok(record)
    }

    /// Record why a bundle of `name` was refused; the active bundle is left as it is.
    pub fn record_error(
        &self,
        name: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), BundleError> {
        let dir = self.name_dir(name)?;
        fs::create_dir_all(&dir).map_err(|e| BundleError::io(&dir, e))?;
        let mut state = self.state(name)?;
        state.last_error = Some(error.to_string());
        state.last_error_at = Some(now);
        write_state(&dir, &state)
    }
}

fn rev_dir(revision: u64) -> String {
    format!("rev-{revision}")
}

/// Replace `state.json` atomically: write a temporary file, flush it to disk, rename.
fn write_state(dir: &Path, state: &BundleState) -> Result<(), BundleError> {
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!(
        ".{STATE_FILE}.{}-{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| BundleError::Store {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()
    };
    write().map_err(|e| BundleError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| BundleError::io(&path, e))
}

/// Best effort: drop older revisions and abandoned temporary directories.
fn remove_stale(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != keep && (name.starts_with("rev-") || name.starts_with(".incoming-")) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
