//! `<data_dir>/approved-tools.json`: each server's approved tools, kept across restarts.
//!
//! Only the daemon writes it (it holds the data dir's lock), whole and atomically, under a
//! std mutex that no caller holds across an await. A user's approval is written before it
//! is answered; tools recorded as seen on a server's first start are written together, once
//! per `SEEN_DELAY` (a thousand servers starting one after another would otherwise rewrite
//! a file that grows with each of them a thousand times). A crash in between loses only
//! records that the servers' next start makes again. A file that cannot be read or parsed is
//! an error at start, never an empty record: that would approve whatever the servers offer
//! next.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// How long tools recorded as seen wait to be written with the next ones.
const SEEN_DELAY: Duration = Duration::from_millis(500);

pub struct ApprovalStore {
    /// `None`: kept in memory only (tests of the supervisor alone).
    path: Option<PathBuf>,
    servers: Mutex<BTreeMap<String, ApprovedTools>>,
    /// Records in memory that the file does not have yet.
    unwritten: AtomicBool,
    /// A write of the unwritten records is on its way.
    write_due: AtomicBool,
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
            unwritten: AtomicBool::new(false),
            write_due: AtomicBool::new(false),
        })
    }

    /// A store with no file behind it.
    pub fn in_memory() -> ApprovalStore {
        ApprovalStore {
            path: None,
            servers: Mutex::new(BTreeMap::new()),
            unwritten: AtomicBool::new(false),
            write_due: AtomicBool::new(false),
        }
    }

    /// The approved tools of `server`, if it has been approved or seen.
    pub fn get(&self, server: &str) -> Option<ApprovedTools> {
        self.lock().get(server).cloned()
    }

    /// Records `tools` as the tools `server` was first seen with; written within
    /// `SEEN_DELAY`, with the others recorded meanwhile (or when the store is dropped).
    pub fn record_seen(self: &Arc<Self>, server: &str, tools: ApprovedTools) {
        self.lock().insert(server.to_string(), tools);
        if self.path.is_none() {
            return;
        }
        self.unwritten.store(true, Ordering::SeqCst);
        let runtime = tokio::runtime::Handle::try_current();
        match runtime {
            Ok(runtime) if !self.write_due.swap(true, Ordering::SeqCst) => {
                let store = self.clone();
                runtime.spawn(async move {
                    tokio::time::sleep(SEEN_DELAY).await;
                    store.write_due.store(false, Ordering::SeqCst);
                    // A write ends in fsync: off the runtime's threads.
                    let _ = tokio::task::spawn_blocking(move || store.write_unwritten()).await;
                });
            }
            Ok(_) => {}
            Err(_) => self.write_unwritten(),
        }
    }

    /// Writes the records the file does not have yet, if any; a failure is logged and left
    /// for the next write.
    fn write_unwritten(&self) {
        let Some(path) = &self.path else { return };
        let servers = self.lock();
        if !self.unwritten.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Err(error) = write_atomic(path, &file_bytes(&servers)) {
            self.unwritten.store(true, Ordering::SeqCst);
            tracing::warn!(file = %path.display(), %error, "cannot record the tools servers were first seen with");
        }
    }

    /// Records `tools` as `server`'s approved tools (`None`: forget them, so the next tools
    /// it offers are recorded as seen), in the file before it returns.
    pub fn set(&self, server: &str, tools: Option<ApprovedTools>) -> Result<(), ApprovalError> {
        let mut servers = self.lock();
        let before = match tools {
            Some(t) => servers.insert(server.to_string(), t),
            None => servers.remove(server),
        };
        let Some(path) = &self.path else {
            return Ok(());
        };
        let unwritten = self.unwritten.swap(false, Ordering::SeqCst);
        write_atomic(path, &file_bytes(&servers)).map_err(|error| {
            self.unwritten.store(unwritten, Ordering::SeqCst);
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

impl Drop for ApprovalStore {
    /// What was recorded as seen and not written yet is written now.
    fn drop(&mut self) {
        self.write_unwritten();
    }
}

fn file_bytes(servers: &BTreeMap<String, ApprovedTools>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Out<'a> {
        version: u32,
        servers: &'a BTreeMap<String, ApprovedTools>,
    }
    let out = Out {
        version: VERSION,
        servers,
    };
    serde_json::to_vec_pretty(&out).expect("serialisable")
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

    #[tokio::test]
    async fn tools_seen_at_once_are_written_together_and_by_the_drop_at_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Arc::new(ApprovalStore::open(dir.path()).unwrap());
        store.record_seen("a", tools());
        store.record_seen("b", tools());
        // Written by the one deferred write (a poll with a deadline).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reopened = ApprovalStore::open(dir.path()).unwrap();
            if reopened.get("a").is_some() && reopened.get("b").is_some() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A user's approval is in the file when `set` returns, with what was seen before.
        store.record_seen("c", tools());
        store.set("d", Some(tools())).unwrap();
        let reopened = ApprovalStore::open(dir.path()).unwrap();
        assert!(reopened.get("c").is_some() && reopened.get("d").is_some());
        assert!(path.exists());
    }

    #[test]
    fn tools_seen_and_not_yet_written_are_written_when_the_daemon_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(ApprovalStore::open(dir.path()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { store.record_seen("e", tools()) });
        // The runtime goes first, its deferred write never run; then the store.
        drop(runtime);
        assert_eq!(ApprovalStore::open(dir.path()).unwrap().get("e"), None);
        drop(store);
        assert_eq!(
            ApprovalStore::open(dir.path()).unwrap().get("e"),
            Some(tools())
        );
    }
}
