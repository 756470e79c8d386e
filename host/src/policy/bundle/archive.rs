//! A bundle's bytes in memory: every file by its relative path, read from a directory or a
//! `.tar`, written back as a directory or a deterministic `.tar` (sorted entries, mtime 0,
//! mode 0644). Knows nothing of manifests or signatures; refuses links and unsafe paths.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path};

use super::error::BundleError;
use super::manifest::{MANIFEST_FILE, SIGNATURE_FILE, check_path};

/// Upper bound on a bundle's total size: policies in JS or Python are ~10-20 MiB each.
pub const MAX_BUNDLE_BYTES: u64 = 512 * 1024 * 1024;

/// The files of a bundle, by relative '/'-separated path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Read a bundle from a directory or a `.tar` file.
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        let meta = fs::metadata(path).map_err(|e| BundleError::io(path, e))?;
        if meta.is_dir() {
            Bundle::from_dir(path)
        } else {
            let bytes = fs::read(path).map_err(|e| BundleError::io(path, e))?;
            Bundle::from_tar(&bytes).map_err(|e| match e {
                BundleError::Archive { reason, .. } => BundleError::Archive {
                    path: path.display().to_string(),
                    reason,
                },
                other => other,
            })
        }
    }

    /// Read every regular file under `dir` (recursively); symbolic links are refused.
    pub fn from_dir(dir: &Path) -> Result<Bundle, BundleError> {
        let mut bundle = Bundle::default();
        let mut total = 0u64;
        let mut pending = vec![(dir.to_path_buf(), String::new())];
        while let Some((at, prefix)) = pending.pop() {
            let entries = fs::read_dir(&at).map_err(|e| BundleError::io(&at, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| BundleError::io(&at, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                let full = entry.path();
                let kind = entry.file_type().map_err(|e| BundleError::io(&full, e))?;
                if kind.is_dir() {
                    pending.push((full, rel));
                } else if kind.is_file() {
                    let bytes = fs::read(&full).map_err(|e| BundleError::io(&full, e))?;
                    total += bytes.len() as u64;
                    if total > MAX_BUNDLE_BYTES {
                        return Err(too_big(dir));
                    }
                    bundle.insert(&rel, bytes)?;
                } else {
                    return Err(BundleError::Layout {
                        path: dir.display().to_string(),
                        reason: format!(
                            "{rel} is not a regular file or directory (links are refused)"
                        ),
                    });
                }
            }
        }
        Ok(bundle)
    }

    /// Read a tar archive; only regular files and directories are allowed.
    pub fn from_tar(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let archive_err = |reason: String| BundleError::Archive {
            path: "<tar>".into(),
            reason,
        };
        let mut archive = tar::Archive::new(bytes);
        let mut bundle = Bundle::default();
        let mut total = 0u64;
        let entries = archive.entries().map_err(|e| archive_err(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| archive_err(e.to_string()))?;
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                // Directories are implied by file paths (and `tar -cf x.tar .` adds "./").
                continue;
            }
            let raw_path = entry
                .path()
                .map_err(|e| archive_err(e.to_string()))?
                .into_owned();
            let rel = tar_path(&raw_path)?;
            if !kind.is_file() {
                return Err(archive_err(format!(
                    "{rel} is not a regular file (links and devices are refused)"
                )));
            }
            total += entry.size();
            if total > MAX_BUNDLE_BYTES {
                return Err(archive_err(format!("larger than {MAX_BUNDLE_BYTES} bytes")));
            }
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut data)
                .map_err(|e| archive_err(format!("{rel}: {e}")))?;
            bundle.insert(&rel, data)?;
        }
        Ok(bundle)
    }

    /// A deterministic tar of the bundle: the same files always give the same bytes.
    pub fn to_tar(&self) -> Result<Vec<u8>, BundleError> {
        let err = |e: std::io::Error| BundleError::Archive {
            path: "<tar>".into(),
            reason: e.to_string(),
        };
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            builder
                .append_data(&mut header, path, data.as_slice())
                .map_err(err)?;
        }
        builder.into_inner().map_err(err)
    }

    /// Write the files under `dir` (which must exist), creating subdirectories.
    pub fn write_dir(&self, dir: &Path) -> Result<(), BundleError> {
        for (path, data) in &self.files {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                fs::create_dir_all(parent).map_err(|e| BundleError::io(parent, e))?;
            }
            fs::write(&full, data).map_err(|e| BundleError::io(&full, e))?;
        }
        Ok(())
    }

    /// Add a file; refuses unsafe and duplicate paths.
    pub fn insert(&mut self, path: &str, data: Vec<u8>) -> Result<(), BundleError> {
        check_path(path)?;
        if self.files.contains_key(path) {
            return Err(BundleError::Layout {
                path: path.to_string(),
                reason: "appears twice".into(),
            });
        }
        self.files.insert(path.to_string(), data);
        Ok(())
    }

    /// Add or replace a file (used to (re)place the signature).
    pub fn replace(&mut self, path: &str, data: Vec<u8>) -> Result<(), BundleError> {
        check_path(path)?;
        self.files.insert(path.to_string(), data);
        Ok(())
    }

    pub fn remove(&mut self, path: &str) -> Option<Vec<u8>> {
        self.files.remove(path)
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// All paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The paths the manifest must list: all but the manifest and its signature.
    pub fn payload_paths(&self) -> impl Iterator<Item = &str> {
        self.paths()
            .filter(|p| *p != MANIFEST_FILE && *p != SIGNATURE_FILE)
    }

    pub fn manifest_bytes(&self) -> Result<&[u8], BundleError> {
        self.get(MANIFEST_FILE)
            .ok_or(BundleError::MissingPart(MANIFEST_FILE))
    }

    pub fn signature_text(&self) -> Result<&str, BundleError> {
        let bytes = self
            .get(SIGNATURE_FILE)
            .ok_or(BundleError::MissingPart(SIGNATURE_FILE))?;
        std::str::from_utf8(bytes).map_err(|_| BundleError::Signature("not UTF-8 text".into()))
    }
}

fn too_big(dir: &Path) -> BundleError {
    BundleError::Layout {
        path: dir.display().to_string(),
        reason: format!("larger than {MAX_BUNDLE_BYTES} bytes"),
    }
}

/// A tar entry path as a bundle path: `./` prefixes dropped, anything else unusual refused.
fn tar_path(raw: &Path) -> Result<String, BundleError> {
    let mut parts = Vec::new();
    for component in raw.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => match part.to_str() {
                Some(s) => parts.push(s),
                None => return Err(BundleError::UnsafePath(raw.display().to_string())),
            },
            _ => return Err(BundleError::UnsafePath(raw.display().to_string())),
        }
    }
    let joined = parts.join("/");
    check_path(&joined)?;
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_round_trip_is_deterministic() {
        let mut b = Bundle::default();
        b.insert("z.wasm", vec![1, 2, 3]).unwrap();
        b.insert("sub/a.json", b"{}".to_vec()).unwrap();
        let tar = b.to_tar().unwrap();
        assert_eq!(tar, b.to_tar().unwrap());
        assert_eq!(Bundle::from_tar(&tar).unwrap(), b);
    }

    #[test]
    fn unsafe_and_duplicate_paths_are_refused() {
        let mut b = Bundle::default();
        for bad in ["../x", "/abs", "a//b", "a/./b", "", "a\\b"] {
            assert!(b.insert(bad, vec![]).is_err(), "{bad:?}");
        }
        b.insert("a", vec![]).unwrap();
        assert!(b.insert("a", vec![]).is_err());
    }

    #[test]
    fn tar_with_a_symlink_is_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "policy.wasm", "/etc/passwd")
            .unwrap();
        let bytes = builder.into_inner().unwrap();
        let err = Bundle::from_tar(&bytes).unwrap_err().to_string();
        assert!(err.contains("policy.wasm"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_tar() {
        assert!(Bundle::from_tar(&[b'x'; 1024]).is_err());
    }
}
