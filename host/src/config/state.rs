//! The runtime-state file (`<data_dir>/state.json`): where auto-disable and enable/disable
//! go when the config file cannot take them (read-only file, ConfigMap mount, or a file
//! that is currently invalid). Merged over the file's entries at every load.
//!
//! Holds only per-server runtime state, never server definitions.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::edit::{ConfigEdit, find_entry, write_runtime_state};
use super::error::ConfigError;
use super::model::ServerConfig;
use super::save::write_atomic;

/// The file name inside the data dir.
pub const STATE_FILE_NAME: &str = "state.json";

/// One server's runtime state, as the daemon last set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    pub enabled: bool,
    pub auto_disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_disable_reason: Option<String>,
}

/// Runtime state per server name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeState {
    #[serde(default)]
    pub servers: BTreeMap<String, ServerState>,
}

impl RuntimeState {
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Remembers `server`'s current runtime state.
    pub fn record(&mut self, server: &ServerConfig) {
        self.servers.insert(
            server.name.clone(),
            ServerState {
                enabled: server.enabled,
                auto_disabled: server.auto_disabled,
                auto_disable_reason: server.auto_disable_reason.clone(),
            },
        );
    }

    /// Writes the recorded state over the matching entries of `doc`; servers the document
    /// no longer has are skipped.
    pub fn apply(&self, doc: &mut Map<String, Value>) {
        for (name, s) in &self.servers {
            if let Some(entry) = find_entry(doc, name) {
                write_runtime_state(
                    entry,
                    s.enabled,
                    s.auto_disabled,
                    s.auto_disable_reason.as_deref(),
                );
            }
        }
    }

    /// The edits that recreate this state (for the store's journal).
    pub fn as_edits(&self) -> Vec<ConfigEdit> {
        let mut edits = Vec::new();
        for (name, s) in &self.servers {
            edits.push(ConfigEdit::SetEnabled {
                server: name.clone(),
                enabled: s.enabled,
            });
            if s.auto_disabled {
                edits.push(ConfigEdit::SetAutoDisabled {
                    server: name.clone(),
                    reason: s.auto_disable_reason.clone().unwrap_or_default(),
                });
            }
        }
        edits
    }

    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ConfigError::Syntax {
                file: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError::io(path, "cannot read the state file", &e)),
        }
    }

    /// Writes the state file atomically; an empty state removes it.
    pub fn store(&self, path: &Path) -> Result<(), ConfigError> {
        if self.is_empty() {
            return match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(ConfigError::io(path, "cannot remove the state file", &e)),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ConfigError::io(dir, "cannot create the data dir", &e))?;
        }
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| {
            ConfigError::io(
                path,
                "cannot serialise the state",
                &std::io::Error::other(e),
            )
        })?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
            .map_err(|e| ConfigError::io(path, "cannot write the state file", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_overrides_runtime_keys_only() {
        let mut doc = json!({"mcpServers": [
            {"name": "a", "command": "x", "auto_disabled": true, "auto_disable_reason": "old"},
            {"name": "b", "command": "y", "extra": 1}
        ]})
        .as_object()
        .unwrap()
        .clone();
        let mut st = RuntimeState::default();
        st.servers.insert(
            "a".into(),
            ServerState {
                enabled: true,
                auto_disabled: false,
                auto_disable_reason: None,
            },
        );
        st.servers.insert(
            "b".into(),
            ServerState {
                enabled: false,
                auto_disabled: true,
                auto_disable_reason: Some("boom".into()),
            },
        );
        st.servers.insert(
            "gone".into(),
            ServerState {
                enabled: false,
                auto_disabled: false,
                auto_disable_reason: None,
            },
        );
        st.apply(&mut doc);
        assert_eq!(
            Value::Object(doc).to_string(),
            json!({"mcpServers": [
                {"name": "a", "command": "x"},
                {"name": "b", "command": "y", "extra": 1, "enabled": false, "auto_disabled": true, "auto_disable_reason": "boom"}
            ]})
            .to_string()
        );
    }

    #[test]
    fn store_and_load_round_trip_and_empty_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/state.json");
        assert_eq!(RuntimeState::load(&path).unwrap(), RuntimeState::default());
        let mut st = RuntimeState::default();
        st.servers.insert(
            "a".into(),
            ServerState {
                enabled: true,
                auto_disabled: true,
                auto_disable_reason: Some("r".into()),
            },
        );
        st.store(&path).unwrap();
        assert_eq!(RuntimeState::load(&path).unwrap(), st);
        RuntimeState::default().store(&path).unwrap();
        assert!(!path.exists());
    }
}
