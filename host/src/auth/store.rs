//! The token file (`<data_dir>/tokens.json`, mode 0600: names, scopes and SHA-256 hashes,
//! never a token) and the admin token's own file (`<data_dir>/admin-token`, mode 0600), which
//! the CLI reads to reach the daemon.
//!
//! Writers (`mcpproxy token`, the daemon's first run) take `tokens.lock` and replace the file
//! atomically; the daemon's `Verifier` notices a replaced file by its inode and mtime on the
//! next request, so there is no window in which a revoked token still works.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::profile::Profile;
use super::token::{Caller, TokenScope, digest, generate, valid_name};

pub const TOKENS_FILE: &str = "tokens.json";
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
const LOCK_FILE: &str = "tokens.lock";
/// The token the first run creates.
const ADMIN_NAME: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a token file: {reason} (fix or remove it; `mcpproxy token create` makes a new one)", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{0}")]
    Name(String),
    #[error("{}: a token named {name:?} exists already (revoke it first, or pick another name)", path.display())]
    Exists { path: PathBuf, name: String },
    #[error("{}: no token named {name:?} (`mcpproxy token list` shows them)", path.display())]
    Unknown { path: PathBuf, name: String },
}

/// One token as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub name: String,
    pub scope: TokenScope,
    /// Which servers and tools it sees; absent: everything. An `Arc`, so that each request's
    /// `Caller` shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Arc<Profile>>,
    /// SHA-256 of the token, in hex.
    pub sha256: String,
    /// RFC 3339, when it was made.
    pub created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

/// The token files of one data dir.
#[derive(Debug, Clone)]
pub struct TokenStore {
    dir: PathBuf,
}

impl TokenStore {
    pub fn new(data_dir: &Path) -> TokenStore {
        TokenStore {
            dir: data_dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(TOKENS_FILE)
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.dir.join(ADMIN_TOKEN_FILE)
    }

    /// The admin token the first run wrote, if its file is still there.
    pub fn admin_token(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.admin_token_path()).ok()?;
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// The tokens, in the order they were made; none when there is no file yet.
    pub fn list(&self) -> Result<Vec<TokenEntry>, AuthError> {
        Ok(read(&self.path())?.map(|f| f.tokens).unwrap_or_default())
    }

    /// Makes a token named `name` with `scope` (and `profile`, if it has one) and returns
    /// it: the only time it is shown.
    pub fn create(
        &self,
        name: &str,
        scope: TokenScope,
        profile: Option<Profile>,
    ) -> Result<String, AuthError> {
        valid_name(name).map_err(AuthError::Name)?;
        let _lock = self.lock()?;
        self.add(name, scope, profile)
    }

    /// Removes the token `name`; if it is the one in `admin-token`, that file goes too.
    pub fn revoke(&self, name: &str) -> Result<TokenEntry, AuthError> {
        let _lock = self.lock()?;
        let path = self.path();
        let mut file = read(&path)?.unwrap_or_default();
        let Some(at) = file.tokens.iter().position(|t| t.name == name) else {
            return Err(AuthError::Unknown {
                path,
                name: name.to_string(),
            });
        };
        let entry = file.tokens.remove(at);
        write_private(
            &path,
            &serde_json::to_vec_pretty(&file).expect("serialisable"),
        )?;
        let admin = self.admin_token_path();
        if self
            .admin_token()
            .is_some_and(|t| digest(&t) == entry.sha256)
        {
            std::fs::remove_file(&admin).map_err(|source| AuthError::Io {
                path: admin.clone(),
                source,
            })?;
        }
        Ok(entry)
    }

    /// On the first run (no token file yet) makes the admin token and writes it to
    /// `admin-token`, whose path it returns. Later runs leave everything as it is: a user who
    /// revoked the admin token keeps it revoked.
    pub fn first_run(&self) -> Result<Option<PathBuf>, AuthError> {
        let _lock = self.lock()?;
        if self.path().exists() {
            return Ok(None);
        }
        let token = self.add(ADMIN_NAME, TokenScope::Admin, None)?;
        let admin = self.admin_token_path();
        write_private(&admin, format!("{token}\n").as_bytes())?;
        Ok(Some(admin))
    }

    /// Adds a token under the lock the caller holds.
    fn add(
        &self,
        name: &str,
        scope: TokenScope,
        profile: Option<Profile>,
    ) -> Result<String, AuthError> {
        let path = self.path();
        let mut file = read(&path)?.unwrap_or_default();
        if file.tokens.iter().any(|t| t.name == name) {
            let name = name.to_string();
            return Err(AuthError::Exists { path, name });
        }
        let token = generate();
        file.tokens.push(TokenEntry {
            name: name.to_string(),
            scope,
            profile: profile.map(Arc::new),
            sha256: digest(&token),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        write_private(
            &path,
            &serde_json::to_vec_pretty(&file).expect("serialisable"),
        )?;
        Ok(token)
    }

    /// Writers one at a time (two `mcpproxy token create` at once would lose one).
    fn lock(&self) -> Result<File, AuthError> {
        let path = self.dir.join(LOCK_FILE);
        let io = |source| AuthError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }
}

/// The file, if there is one.
fn read(path: &Path) -> Result<Option<TokenFile>, AuthError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            let path = path.to_path_buf();
            return Err(AuthError::Io { path, source });
        }
    };
    let file: TokenFile = serde_json::from_slice(&bytes).map_err(|e| AuthError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(Some(file))
}

/// Replaces `path` with `bytes`, readable by the user alone, atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let io = |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile makes its files 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Which version of the file the daemon has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

fn identity(path: &Path) -> Option<Identity> {
    let m = std::fs::metadata(path).ok()?;
    Some(Identity {
        dev: m.dev(),
        ino: m.ino(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        len: m.len(),
    })
}

/// What the daemon checks tokens with: the file's entries, read again whenever the file
/// changes (a `stat` per request, a read per change).
pub struct Verifier {
    store: TokenStore,
    /// A std mutex: a `stat` and, after a change, a read of a small file under it; never an
    /// await.
    cache: Mutex<Cache>,
}

struct Cache {
    identity: Option<Identity>,
    /// `Err`: the file cannot be read or parsed, so no token is accepted (fail closed).
    entries: Result<Arc<Vec<TokenEntry>>, String>,
}

impl Verifier {
    pub fn new(store: TokenStore) -> Verifier {
        Verifier {
            store,
            cache: Mutex::new(Cache {
                identity: None,
                entries: Ok(Arc::default()),
            }),
        }
    }

    /// The token file's entries as they are on disk now.
    fn entries(&self) -> Result<Arc<Vec<TokenEntry>>, String> {
        let path = self.store.path();
        let now = identity(&path);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.identity != now || now.is_none() {
            cache.identity = now;
            let fresh = self.store.list().map(Arc::new).map_err(|e| e.to_string());
            if let (Err(error), Ok(_)) = (&fresh, &cache.entries) {
                tracing::error!("{error}; every token is refused until it is fixed");
            }
            cache.entries = fresh;
        }
        cache.entries.clone()
    }

    /// Who `presented` is, if it is a known token. Every entry is compared, in constant
    /// time, so the time taken tells nothing about how close a guess came.
    pub fn caller(&self, presented: &str) -> Option<Caller> {
        let entries = self.entries().ok()?;
        let presented = digest(presented);
        let mut found = None;
        for entry in entries.iter() {
            if bool::from(presented.as_bytes().ct_eq(entry.sha256.as_bytes())) {
                found = Some(entry);
            }
        }
        found.map(|entry| Caller {
            token: Some(entry.name.clone()),
            scope: entry.scope,
            profile: entry.profile.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_run_makes_one_admin_token_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let admin = store.first_run().unwrap().expect("first run");
        assert_eq!(store.first_run().unwrap(), None, "only once");
        assert_eq!(mode(&admin), 0o600);
        assert_eq!(mode(&store.path()), 0o600);
        let token = std::fs::read_to_string(&admin).unwrap();
        let file = std::fs::read_to_string(store.path()).unwrap();
        assert!(!file.contains(token.trim()), "the file keeps hashes only");
        let verifier = Verifier::new(store.clone());
        let caller = verifier.caller(token.trim()).unwrap();
        assert_eq!(caller.token.as_deref(), Some("admin"));
        assert_eq!(caller.scope, TokenScope::Admin);
        assert_eq!(verifier.caller("mcpp_wrong"), None);
        assert_eq!(verifier.caller(""), None);
    }

    #[test]
    fn created_and_revoked_tokens_count_from_the_next_check() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let verifier = Verifier::new(store.clone());
        let read = store.create("ci", TokenScope::Read, None).unwrap();
        assert_eq!(verifier.caller(&read).unwrap().scope, TokenScope::Read);
        assert!(matches!(
            store.create("ci", TokenScope::Admin, None),
            Err(AuthError::Exists { .. })
        ));
        assert!(matches!(
            store.create("bad name", TokenScope::Admin, None),
            Err(AuthError::Name(_))
        ));
        let other = store.create("ops", TokenScope::Admin, None).unwrap();
        store.revoke("ci").unwrap();
        assert_eq!(verifier.caller(&read), None, "revoked at once");
        assert!(verifier.caller(&other).is_some());
        let names: Vec<String> = store.list().unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["ops"]);
        assert!(matches!(store.revoke("ci"), Err(AuthError::Unknown { .. })));
    }

    #[test]
    fn a_profile_is_kept_and_rides_on_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let profile = Profile::new(Some(vec!["fs".into()]), None).unwrap();
        let token = store.create("fs-only", TokenScope::Read, profile).unwrap();
        let caller = Verifier::new(store.clone()).caller(&token).unwrap();
        let profile = caller.profile().expect("a profile");
        assert!(profile.allows_server("fs") && !profile.allows_server("shell"));
        let file = std::fs::read_to_string(store.path()).unwrap();
        assert!(file.contains(r#""servers": ["#), "{file}");
        // A file written before profiles existed still reads: no profile, everything seen.
        std::fs::write(
            store.path(),
            r#"{"tokens":[{"name":"old","scope":"read","sha256":"00","created_at":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(store.list().unwrap()[0].profile, None);
    }

    #[test]
    fn revoking_the_admin_token_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let admin = store.first_run().unwrap().unwrap();
        store.revoke("admin").unwrap();
        assert!(!admin.exists());
        assert_eq!(store.first_run().unwrap(), None, "not made again");
    }

    #[test]
    fn a_broken_file_refuses_every_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let token = store.create("ci", TokenScope::Admin, None).unwrap();
        let verifier = Verifier::new(store.clone());
        assert!(verifier.caller(&token).is_some());
        std::fs::write(store.path(), "{ not json").unwrap();
        assert_eq!(verifier.caller(&token), None);
        let error = store.list().unwrap_err().to_string();
        assert!(
            error.contains("tokens.json") && error.contains("not a token file"),
            "{error}"
        );
        std::fs::remove_file(store.path()).unwrap();
        assert_eq!(verifier.caller(&token), None, "no file: no tokens");
    }
}
