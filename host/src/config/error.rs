//! The one error type of the config layer.
//!
//! Every variant names the file, and where it can, the server (by index and name) and the
//! field, so that a message shown to a user points at the line to fix.

use std::path::PathBuf;

/// Why a config could not be read, validated, edited or saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {message}", file.display())]
    Io { file: PathBuf, message: String },

    /// The file is not JSON; `line`/`column` are 1-based as serde_json reports them.
    #[error("{}:{line}:{column}: invalid JSON: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// Valid JSON, invalid config. `server` is e.g. `mcpServers[3] "github"`; `None` for a
    /// top-level field.
    #[error("{}: {}field \"{field}\": {message}", file.display(), server.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
    Invalid {
        file: PathBuf,
        server: Option<String>,
        field: String,
        message: String,
    },

    /// An edit named a server the config does not have.
    #[error("{}: no server named \"{server}\"", file.display())]
    UnknownServer { file: PathBuf, server: String },

    /// An edit that only the file can hold (add/remove) while the file cannot be written.
    #[error("{}: cannot apply \"{edit}\": {reason}", file.display())]
    NotWritable {
        file: PathBuf,
        edit: String,
        reason: String,
    },

    /// The file system watcher could not be set up.
    #[error("{}: cannot watch: {message}", file.display())]
    Watch { file: PathBuf, message: String },

    /// The store's actor has stopped (runtime shut down).
    #[error("config store for {} has stopped", file.display())]
    StoreClosed { file: PathBuf },

    /// `ConfigStore::open` was called outside a tokio runtime.
    #[error("{}: the config store needs a tokio runtime", file.display())]
    NoRuntime { file: PathBuf },
}

impl ConfigError {
    pub(crate) fn io(file: impl Into<PathBuf>, what: &str, err: &std::io::Error) -> Self {
        ConfigError::Io {
            file: file.into(),
            message: format!("{what}: {err}"),
        }
    }
}
