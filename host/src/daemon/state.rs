//! The daemon's shared state: handles to each part, the running config, and the reload
//! counters that only the daemon glue knows.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Mutex;
use tracing::warn;

use super::policy_source::Pinned;
use super::start_only::StartOnly;
use crate::config::Config;
use crate::config::{ConfigEdit, ConfigStore};
use crate::policy::PolicyHost;
use crate::supervisor::{AutoDisableSink, Registry};

pub struct DaemonState {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub started: Instant,
    pub store: ConfigStore,
    pub policy: Arc<PolicyHost>,
    /// `--policy`: wins over the config's `policy.path`, also when the config is edited.
    pub cli_policy: Option<std::path::PathBuf>,
    /// Watches the policy file in use; follows `policy.path` when the config moves it.
    pub policy_watch: std::sync::Mutex<crate::policy::PolicyWatch>,
    /// The enterprise pin in force, if any.
    pub pinned: Option<Arc<Pinned>>,
    pub registry: Registry,
    /// The downstream server's live options (`tools_limit`).
    pub downstream: crate::downstream::DownstreamOptions,
    /// The config the supervisors were last told about. Held across a whole reload or
    /// `upstream_servers` change, so that those are applied one at a time, in order.
    pub running: Mutex<Config>,
    /// `listen`, `data_dir` and `watch_debounce_ms` as the daemon started with them.
    pub start_only: StartOnly,
    /// Start-only keys the file has changed since: they wait for a restart.
    pub restart_needed: std::sync::Mutex<Vec<&'static str>>,
    pub counters: Counters,
}

/// Reload counters reported by `status`.
#[derive(Default)]
pub struct Counters {
    /// `Starting server sync` lines: the start-up sync plus each applied reload.
    pub config_syncs: AtomicU64,
    /// Reloads of which the policy ignored every change.
    pub reloads_ignored_by_policy: AtomicU64,
    /// Single changes the policy ignored.
    pub changes_ignored_by_policy: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Persists the supervisors' auto-disables through the config store's one, coalesced save.
pub struct StoreSink {
    store: ConfigStore,
}

impl StoreSink {
    pub fn new(store: ConfigStore) -> Self {
        StoreSink { store }
    }
}

impl AutoDisableSink for StoreSink {
    fn auto_disabled(&self, server: &str, reason: &str) {
        let store = self.store.clone();
        let edit = ConfigEdit::SetAutoDisabled {
            server: server.to_string(),
            reason: reason.to_string(),
        };
        let server = server.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.edit(edit).await {
                warn!(server, "could not persist auto-disable: {e}");
            }
        });
    }
}
