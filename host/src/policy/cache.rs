//! The compile cache: compiled policy code in `<data dir>/policy-cache/`, keyed by the
//! component's sha256, the wasmtime version and the engine's compatibility hash.
//!
//! Loading compiled code skips validation, so the cache must only ever be read from the
//! directory the daemon itself writes (never a path from a config file or a policy bundle).

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The wasmtime version pinned in `host/Cargo.toml` (`=48.0.8`); wasmtime exports no
/// constant for it. Part of every cache key, with the engine compatibility hash.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// How a component came to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled and written to the cache.
    Stored,
    /// Compiled; no cache dir (or the write failed, which is logged).
    Compiled,
}

/// The cache file for a component in `dir`.
pub fn entry_path(engine: &Engine, dir: &Path, sha256: &str) -> PathBuf {
    // `DefaultHasher::new()` uses fixed keys: the same engine settings give the same value
    // in every run of this binary, which is all the key needs (the wasmtime version is in
    // the name as well).
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!(
        "{sha256}-{}-{:016x}.cwasm",
        WASMTIME_VERSION,
        h.finish()
    ))
}

/// Loads `bytes` (with digest `sha256`) from the cache in `dir`, or compiles and stores it.
pub fn load_or_compile(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    dir: Option<&Path>,
) -> Result<(Component, CacheOutcome), wasmtime::Error> {
    let Some(dir) = dir else {
        return Ok((Component::new(engine, bytes)?, CacheOutcome::Compiled));
    };
    let entry = entry_path(engine, dir, sha256);
    match trusted(dir, &entry) {
        Ok(true) => {
            // SAFETY: `entry` is a regular file in our own cache dir, both owned by this
            // user and writable by no one else (`trusted`), written only by `store` below
            // from `Component::serialize` of the component whose sha256 is in its name;
            // wasmtime still checks the header's version and engine compatibility.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(cache = %entry.display(), "ignoring unusable policy cache entry: {e:#}")
                }
            }
        }
        Ok(false) => {}
        Err(why) => {
            tracing::warn!(cache = %entry.display(), "not trusting policy cache entry ({why}); compiling again")
        }
    }
    let component = Component::new(engine, bytes)?;
    match component
        .serialize()
        .map_err(|e| format!("{e:#}"))
        .and_then(|code| store(dir, &entry, &code).map_err(|e| e.to_string()))
    {
        Ok(()) => Ok((component, CacheOutcome::Stored)),
        Err(e) => {
            tracing::warn!(cache = %entry.display(), "cannot write policy cache entry: {e}");
            Ok((component, CacheOutcome::Compiled))
        }
    }
}

/// Whether `entry` may be loaded as compiled code: `Ok(false)` when there is none, `Err`
/// saying why an entry that is there is not trusted. Only a regular file (not a link) in a
/// real directory, both owned by this user, that no other user can write, is ever loaded:
/// anyone who could plant a file there could run native code in the daemon.
fn trusted(dir: &Path, entry: &Path) -> Result<bool, String> {
    let file = match fs::symlink_metadata(entry) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    if !file.file_type().is_file() {
        return Err("not a regular file".into());
    }
    let dir_meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !dir_meta.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        if dir_meta.uid() != me || dir_meta.mode() & 0o077 != 0 {
            return Err(format!(
                "{} is not private to this user (owner {}, mode {:o})",
                dir.display(),
                dir_meta.uid(),
                dir_meta.mode() & 0o777
            ));
        }
        if file.uid() != me || file.mode() & 0o022 != 0 {
            return Err(format!(
                "owner {}, mode {:o}: written by someone else",
                file.uid(),
                file.mode() & 0o777
            ));
        }
    }
    Ok(true)
}

/// Writes `code` to `entry` atomically: a temporary file in the same dir, then a rename.
fn store(dir: &Path, entry: &Path, code: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Only the daemon's user may plant code here.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(code)?;
    tmp.as_file().sync_all()?;
    tmp.persist(entry).map_err(|e| e.error)?;
    Ok(())
}
