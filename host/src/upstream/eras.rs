//! Which servers speak only the revisions with an `initialize` handshake, learned at their
//! first start: the spec asks a dual-era client to remember a server's era for its
//! configuration rather than probe it with `server/discover` on every start (some older
//! servers answer the probe slowly, or write a page of errors to their stderr each time).
//! A changed connection (command, args, URL, ...) is probed afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ClientLifecycleMode;

use super::client;
use crate::config::{ServerConfig, connection_changed};

/// Per server name: the configuration it was learned under, and whether it is legacy.
#[derive(Debug, Clone, Default)]
pub struct Eras(Arc<Mutex<HashMap<String, (ServerConfig, bool)>>>);

impl Eras {
    /// How to start `server`: `initialize` straight away when it is known to speak nothing
    /// newer, else `server/discover` first.
    pub fn lifecycle(&self, server: &ServerConfig) -> ClientLifecycleMode {
        let eras = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match eras.get(&server.name) {
            Some((known, true)) if !connection_changed(known, server) => {
                ClientLifecycleMode::Initialize
            }
            _ => client::lifecycle(),
        }
    }

    /// `server` was started, speaking a legacy revision or not.
    pub fn learned(&self, server: &ServerConfig, legacy: bool) {
        let mut eras = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        eras.insert(server.name.clone(), (server.clone(), legacy));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(command: &str) -> ServerConfig {
        let text = format!(r#"{{"mcpServers":[{{"name":"old","command":"{command}"}}]}}"#);
        let config = crate::config::load::parse(std::path::Path::new("t.json"), &text).unwrap();
        config.servers[0].clone()
    }

    #[test]
    fn a_legacy_server_is_not_probed_again_until_its_connection_changes() {
        let eras = Eras::default();
        let old = server("old-server");
        assert_eq!(eras.lifecycle(&old), client::lifecycle());
        eras.learned(&old, true);
        assert_eq!(eras.lifecycle(&old), ClientLifecycleMode::Initialize);
        assert_eq!(eras.lifecycle(&server("new-server")), client::lifecycle());
        eras.learned(&old, false);
        assert_eq!(eras.lifecycle(&old), client::lifecycle());
    }
}
