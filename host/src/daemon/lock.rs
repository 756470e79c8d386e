//! One daemon per data dir: an exclusive lock on `<data_dir>/mcpproxy.lock`, which also tells
//! client commands where the running daemon listens.
//!
//! The lock is an OS file lock (released by the kernel when the process dies), so a stale file
//! left by a crash never blocks a new daemon; clients tell a live daemon from a stale file by
//! trying to take the lock themselves.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const LOCK_FILE: &str = "mcpproxy.lock";

/// What a running daemon publishes in its lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    /// The address the MCP endpoint actually listens on (resolved when `listen` has port 0).
    pub listen: SocketAddr,
    pub config: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another mcpproxy (pid {pid}) is already running for data dir {}", data_dir.display())]
    Held { data_dir: PathBuf, pid: String },
    #[error("no mcpproxy is running for data dir {} (start one with `mcpproxy serve`)", data_dir.display())]
    NotRunning { data_dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the daemon's lifetime; dropping it releases the lock.
#[derive(Debug)]
pub struct RuntimeLock {
    file: File,
    path: PathBuf,
}

impl RuntimeLock {
    pub fn acquire(data_dir: &Path) -> Result<RuntimeLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(RuntimeLock { file, path }),
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = serde_json::from_str::<RuntimeInfo>(&text)
                    .map(|i| i.pid.to_string())
                    .unwrap_or_else(|_| "unknown".into());
                Err(LockError::Held {
                    data_dir: data_dir.to_path_buf(),
                    pid,
                })
            }
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// Write where this daemon listens, for client commands.
    pub fn publish(&mut self, info: &RuntimeInfo) -> Result<(), LockError> {
        let io = |source| LockError::Io {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_vec(info).expect("RuntimeInfo serialises");
        self.file.set_len(0).map_err(io)?;
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(&text).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Find the daemon running for `data_dir`, for client commands.
pub fn find_running(data_dir: &Path) -> Result<RuntimeInfo, LockError> {
    let path = data_dir.join(LOCK_FILE);
    let not_running = || LockError::NotRunning {
        data_dir: data_dir.to_path_buf(),
    };
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_running()),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    // If we can take the lock, nobody holds it: the file is a leftover.
    match file.try_lock_shared() {
        Ok(()) => return Err(not_running()),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(source)) => return Err(LockError::Io { path, source }),
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    // A daemon that has locked but not yet published is still starting.
    serde_json::from_str(&text).map_err(|_| not_running())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_daemon_is_refused_and_clients_find_the_first() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            find_running(dir.path()),
            Err(LockError::NotRunning { .. })
        ));
        let mut lock = RuntimeLock::acquire(dir.path()).unwrap();
        let info = RuntimeInfo {
            pid: 42,
            listen: "127.0.0.1:9".parse().unwrap(),
            config: "/c.json".into(),
        };
        lock.publish(&info).unwrap();
        match RuntimeLock::acquire(dir.path()) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, "42"),
            other => panic!("second lock: {other:?}"),
        }
        assert_eq!(find_running(dir.path()).unwrap(), info);
        drop(lock);
        // The file stays behind but nobody holds it any more.
        assert!(matches!(
            find_running(dir.path()),
            Err(LockError::NotRunning { .. })
        ));
        assert!(RuntimeLock::acquire(dir.path()).is_ok());
    }
}
