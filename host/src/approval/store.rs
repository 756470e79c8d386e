//! `<data_dir>/approved-tools.json`: each server's approved tools, kept across restarts.
//!
//! Only the daemon writes it (it holds the data dir's lock), whole and atomically, under a
//! std mutex that no caller holds across an await: a write is a few kilobytes. A file that
//! cannot be read or parsed is an error at start, never an empty record: that would approve
//! whatever the servers offer next.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::ApprovedTools;
use crate::config::save::write_atomic;

/// The file's name in the data dir.
pub const FILE_NAME: &str = "approved-tools.json";

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is not a valid approved-tools file ({message}); fix or remove it (removing it \
         approves each server's next tools as seen)",
        path.display()
    )]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    servers: BTreeMap<String, ApprovedTools>,
}

const VERSION: u32 = 1;

pub struct ApprovalStore {
    /// `None`: kept in memory only (tests of the supervisor alone).
    path: Option<PathBuf>,
    servers: Mutex<BTreeMap<String, ApprovedTools>>,
}

impl ApprovalStore {
    /// Reads `<data_dir>/approved-tools.json`; a missing file is an empty record.
    pub fn open(data_dir: &Path) -> Result<ApprovalStore, ApprovalError> {
        let path = data_dir.join(FILE_NAME);
        let servers = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: File =
                    serde_json::from_slice(&bytes).map_err(|e| ApprovalError::Parse {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if file.version != VERSION {
                    return Err(ApprovalError::Parse {
                        path,
                        message: format!(
                            "version {} (this mcpproxy reads {VERSION})",
                            file.version
                        ),
                    });
                }
                file.servers
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(ApprovalError::Read { path, error }),
        };
        Ok(ApprovalStore {
            path: Some(path),
            servers: Mutex::new(servers),
        })
    }

    /// A store with no file behind it.
    pub fn in_memory() -> ApprovalStore {
        ApprovalStore {
            path: None,
            servers: Mutex::new(BTreeMap::new()),
        }
    }

    /// The approved tools of `server`, if it has been approved or seen.
    pub fn get(&self, server: &str) -> Option<ApprovedTools> {
        self.lock().get(server).cloned()
    }

    /// Records `tools` as `server`'s approved tools (`None`: forget them, so the next tools
    /// it offers are recorded as seen).
    pub fn set(&self, server: &str, tools: Option<ApprovedTools>) -> Result<(), ApprovalError> {
        let mut servers = self.lock();
        let before = match tools {
            Some(t) => servers.insert(server.to_string(), t),
            None => servers.remove(server),
        };
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = File {
            version: VERSION,
            servers: std::mem::take(&mut *servers),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("serialisable");
        *servers = file.servers;
        write_atomic(path, &bytes).map_err(|error| {
            // Keep memory and file the same: the change did not happen.
            match before {
                Some(b) => {
                    servers.insert(server.to_string(), b);
                }
                None => {
                    servers.remove(server);
                }
            }
            ApprovalError::Write {
                path: path.clone(),
                error,
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ApprovedTools>> {
        self.servers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::ApprovedTool;

    fn tools() -> ApprovedTools {
        let tool = ApprovedTool {
            hash: "ab".into(),
            fields: BTreeMap::new(),
        };
        BTreeMap::from([("search".to_string(), tool)])
    }

    #[test]
    fn approvals_survive_a_reopen_and_can_be_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = ApprovalStore::open(dir.path()).unwrap();
        assert_eq!(store.get("docs"), None);
        store.set("docs", Some(tools())).unwrap();
        let again = ApprovalStore::open(dir.path()).unwrap();
        assert_eq!(again.get("docs"), Some(tools()));
        again.set("docs", None).unwrap();
        assert_eq!(ApprovalStore::open(dir.path()).unwrap().get("docs"), None);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{not json").unwrap();
        let err = ApprovalStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains(FILE_NAME), "{err}");
    }
}
