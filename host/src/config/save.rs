//! The atomic write under every daemon save: temp file in the target's directory, fsync,
//! swap into place, fsync the directory; the file mode is kept.
//!
//! On Linux the swap is `renameat2(RENAME_EXCHANGE)`, so the caller gets back exactly what
//! was in place at the instant of the swap: if someone else wrote the file between the
//! store's last read and the swap, their version is not lost (the store takes it in, or puts
//! it back with `Committed::undo`). Elsewhere, or on file systems without exchange, it falls
//! back to a plain rename. This module never decides what to write.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::paths::parent_dir;

/// Mode of a config file the daemon creates: it may hold secrets.
const NEW_FILE_MODE: u32 = 0o600;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fully written, fsynced temp file next to `target`, not yet in place. Dropping it
/// removes the temp file.
#[derive(Debug)]
pub struct Staged {
    tmp: Option<PathBuf>,
    target: PathBuf,
}

/// A new file in place. `displaced` is the content that was at the target at the instant of
/// the swap (`None` when there was no file or the platform could only rename).
#[derive(Debug)]
pub struct Committed {
    /// Where the displaced file now is (after an exchange).
    old: Option<PathBuf>,
    target: PathBuf,
    pub displaced: Option<Vec<u8>>,
}

/// Writes `bytes` to a temp file in `target`'s directory with `target`'s mode, and fsyncs it.
pub fn stage(target: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config");
    let mode = std::fs::metadata(target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(NEW_FILE_MODE);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let staged = Staged {
        tmp: Some(tmp.clone()),
        target: target.to_path_buf(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    // `mode` at open is filtered by the umask; set it exactly.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(staged)
}

impl Staged {
    /// Puts the staged file in place.
    pub fn commit(mut self) -> std::io::Result<Committed> {
        let Some(tmp) = self.tmp.take() else {
            return Err(std::io::Error::other("staged file already used"));
        };
        match exchange(&tmp, &self.target) {
            Ok(()) => {
                let displaced = std::fs::read(&tmp);
                let committed = Committed {
                    old: Some(tmp),
                    target: self.target.clone(),
                    displaced: displaced.ok(),
                };
                Ok(committed)
            }
            Err(e) if exchange_unsupported(&e) => {
                if let Err(e) = std::fs::rename(&tmp, &self.target) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
                sync_dir(&self.target)?;
                Ok(Committed {
                    old: None,
                    target: self.target.clone(),
                    displaced: None,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

impl Committed {
    /// Removes the displaced file and makes the swap durable.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(old) = self.old.take() {
            std::fs::remove_file(old)?;
        }
        sync_dir(&self.target)
    }

    /// Puts the displaced file back (only possible after an exchange); the new file is dropped.
    pub fn undo(mut self) -> std::io::Result<()> {
        let Some(old) = self.old.take() else {
            return Err(std::io::Error::other(
                "nothing to put back after a plain rename",
            ));
        };
        exchange(&old, &self.target)?;
        std::fs::remove_file(old)?;
        sync_dir(&self.target)
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        if let Some(old) = self.old.take() {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Stage + commit + finish, for files no one else writes (the state file).
pub fn write_atomic(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    stage(target, bytes)?.commit()?.finish()
}

fn sync_dir(target: &Path) -> std::io::Result<()> {
    std::fs::File::open(parent_dir(target))?.sync_all()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Errors after which a plain rename is the right fallback: no target yet (ENOENT), or no
/// exchange support in the kernel or file system.
fn exchange_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::Unsupported
    ) || matches!(e.raw_os_error(), Some(code) if code == libc_einval() || code == libc_enosys())
}

fn libc_einval() -> i32 {
    nix::errno::Errno::EINVAL as i32
}

fn libc_enosys() -> i32 {
    nix::errno::Errno::ENOSYS as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_keeps_mode_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn new_file_gets_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"{}").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn commit_returns_what_it_displaced_and_undo_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, "theirs").unwrap();
        let committed = stage(&path, b"ours").unwrap().commit().unwrap();
        if committed.displaced.is_none() {
            // No RENAME_EXCHANGE on this file system: plain rename semantics.
            assert_eq!(std::fs::read(&path).unwrap(), b"ours");
            return;
        }
        assert_eq!(committed.displaced.as_deref(), Some(&b"theirs"[..]));
        assert_eq!(std::fs::read(&path).unwrap(), b"ours");
        committed.undo().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
