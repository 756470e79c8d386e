//! Where the config and data live by default, and the first-run default config.
//!
//! `ensure_default` never overwrites an existing file (it links a finished temp file into
//! place, which fails if the name exists).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::ConfigError;

/// The config written on first run: minimal and valid (JSON has no comments; see
/// `examples/configs/` for documented examples).
pub const DEFAULT_CONFIG: &str = include_str!("../../../examples/configs/default.json");

/// `~/.mcpproxy` (falls back to `./.mcpproxy` when there is no home directory).
pub fn default_data_dir() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".mcpproxy")
}

/// `~/.mcpproxy/mcp_config.json`.
pub fn default_config_path() -> PathBuf {
    default_data_dir().join("mcp_config.json")
}

/// Creates `path` with the default config unless it exists. Returns whether it created it.
/// Missing parent directories are created (mode 0700: configs may hold secrets).
pub fn ensure_default(path: &Path) -> Result<bool, ConfigError> {
    if path.exists() {
        return Ok(false);
    }
    let dir = parent_dir(path);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| ConfigError::io(&dir, "cannot create the config directory", &e))?;
    let tmp = dir.join(format!(
        ".{}.{}.default.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config"),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<bool> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(DEFAULT_CONFIG.as_bytes())?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => {}
            // Someone else created it first: theirs wins.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(true)
    })();
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| ConfigError::io(path, "cannot create the default config", &e))
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_empty() {
        let c = super::super::load::parse(Path::new("default.json"), DEFAULT_CONFIG).unwrap();
        assert!(c.servers.is_empty());
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn ensure_default_creates_once_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mcp_config.json");
        assert!(ensure_default(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), DEFAULT_CONFIG);
        std::fs::write(&path, "{\"mine\": 1}").unwrap();
        assert!(!ensure_default(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"mine\": 1}");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
    }

    #[test]
    fn example_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs");
        for name in ["default.json", "mixed.json", "custom-policy.json"] {
            super::super::load::read(&dir.join(name)).unwrap();
        }
    }
}
