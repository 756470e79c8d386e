//! Whether the daemon may write the config file, and which file a save replaces.
//!
//! A symlinked config is written through to its target, except a Kubernetes ConfigMap mount
//! (a link into `..data`), which is read-only by design. A file whose mode has no write bit,
//! or whose directory the daemon cannot write, is read-only too.

use std::path::{Path, PathBuf};

use super::paths::parent_dir;

/// The outcome of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAccess {
    /// The file a save replaces (the symlink's target for a symlinked config).
    pub target: PathBuf,
    /// `None` when writable, else why not.
    pub read_only_because: Option<String>,
}

impl WriteAccess {
    pub fn writable(&self) -> bool {
        self.read_only_because.is_none()
    }
}

/// Checks `path` as it is on disk now.
pub fn check(path: &Path) -> WriteAccess {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = if is_link {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let read_only = |why: String| WriteAccess {
        target: target.clone(),
        read_only_because: Some(why),
    };
    if is_link && is_configmap_mount(path, &target) {
        return read_only("a Kubernetes ConfigMap mount (symlink into ..data)".into());
    }
    match std::fs::metadata(&target) {
        Ok(m) if m.permissions().readonly() => {
            return read_only("the file has no write permission".into());
        }
        Ok(_) => {}
        // A missing file (deleted, about to be recreated) is judged by its directory.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return read_only(format!("cannot stat: {e}")),
    }
    let dir = parent_dir(&target);
    if let Err(e) = nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK) {
        return read_only(format!("cannot write its directory {}: {e}", dir.display()));
    }
    WriteAccess {
        target,
        read_only_because: None,
    }
}

/// A ConfigMap volume links each file to `..data/<name>`, and `..data` to a timestamped
/// directory next to it: the config resolves into what `..data` points at.
pub(crate) fn is_configmap_mount(path: &Path, target: &Path) -> bool {
    let data = parent_dir(path).join("..data");
    let is_data_link = std::fs::symlink_metadata(&data).is_ok_and(|m| m.file_type().is_symlink());
    is_data_link && std::fs::canonicalize(&data).is_ok_and(|d| target.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn plain_readonly_symlinked_and_configmap_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let plain = d.join("plain.json");
        std::fs::write(&plain, "{}").unwrap();
        assert!(check(&plain).writable());
        assert_eq!(check(&plain).target, plain);

        let ro = d.join("ro.json");
        std::fs::write(&ro, "{}").unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
        assert!(!check(&ro).writable());

        let elsewhere = tempfile::tempdir().unwrap();
        let real = elsewhere.path().join("real.json");
        std::fs::write(&real, "{}").unwrap();
        let link = d.join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let a = check(&link);
        assert!(a.writable());
        assert_eq!(a.target, std::fs::canonicalize(&real).unwrap());

        let cm = d.join("cm");
        std::fs::create_dir_all(cm.join("..2024_01_01")).unwrap();
        std::fs::write(cm.join("..2024_01_01/mcp_config.json"), "{}").unwrap();
        std::os::unix::fs::symlink("..2024_01_01", cm.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/mcp_config.json", cm.join("mcp_config.json")).unwrap();
        assert!(!check(&cm.join("mcp_config.json")).writable());
    }
}
