//! The daemon's shared state: a handle on each part, and the reload counters that only the
//! daemon glue knows. It holds no config of its own: the config store owns the running
//! config, and the supervisors hear of it only through its updates (`apply`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tracing::warn;

use super::policy_source::Pinned;
use super::policy_watch::PolicyWatch;
use super::start_only::StartOnly;
use crate::config::{ConfigEdit, ConfigStore, GlobalKey};
use crate::policy::PolicyHost;
use crate::supervisor::{DecisionSink, Registry};

pub struct DaemonState {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    /// Where the servers' logs are (the dashboard shows their tails).
    pub log_dir: PathBuf,
    pub listen: SocketAddr,
    pub started: Instant,
    pub store: ConfigStore,
    pub policy: Arc<PolicyHost>,
    /// `--policy`: wins over the config's `policy.path`, also when the config is edited.
    pub cli_policy: Option<PathBuf>,
    /// Watches the policy file in use; follows `policy.path` when the config moves it.
    /// A std mutex: only the update task takes it, briefly, never across an await.
    pub policy_watch: std::sync::Mutex<PolicyWatch>,
    /// The enterprise pin in force, if any.
    pub pinned: Option<Arc<Pinned>>,
    pub registry: Registry,
    /// The upstream sessions' log messages and resource updates.
    pub notices: crate::upstream::NoticeSender,
    /// The downstream server's live options (`tools_limit`).
    pub downstream: crate::downstream::DownstreamOptions,
    /// `listen` and `data_dir` as the daemon started with them.
    pub start_only: StartOnly,
    /// Start-only keys the file has changed since: they wait for a restart.
    pub restart_needed: std::sync::Mutex<Vec<GlobalKey>>,
    pub counters: ReloadCounters,
}

/// Reload counters reported by `status` and `/metrics`.
#[derive(Default)]
pub struct ReloadCounters {
    /// `Starting server sync` lines: the start-up sync plus each applied reload.
    config_syncs: AtomicU64,
    /// Reloads of which the policy ignored every change.
    reloads_ignored_by_policy: AtomicU64,
    /// Single changes the policy ignored.
    changes_ignored_by_policy: AtomicU64,
}

impl ReloadCounters {
    pub fn synced(&self) {
        self.config_syncs.fetch_add(1, Ordering::Relaxed);
    }

    /// The policy ignored `changes` changes of a reload; `whole`: all of them.
    pub fn ignored(&self, changes: u64, whole: bool) {
        self.changes_ignored_by_policy
            .fetch_add(changes, Ordering::Relaxed);
        if whole {
            self.reloads_ignored_by_policy
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn config_syncs(&self) -> u64 {
        self.config_syncs.load(Ordering::Relaxed)
    }

    pub fn reloads_ignored_by_policy(&self) -> u64 {
        self.reloads_ignored_by_policy.load(Ordering::Relaxed)
    }

    pub fn changes_ignored_by_policy(&self) -> u64 {
        self.changes_ignored_by_policy.load(Ordering::Relaxed)
    }
}

/// Takes the supervisors' auto-disables to the config store: one edit each, coalesced into few
/// saves, and back to the supervisors as the store's update.
pub struct StoreSink {
    store: ConfigStore,
}

impl StoreSink {
    pub fn new(store: ConfigStore) -> Self {
        StoreSink { store }
    }
}

impl DecisionSink for StoreSink {
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

    fn quarantined(&self, server: &str, _reason: &str) {
        let store = self.store.clone();
        let edit = ConfigEdit::Quarantine {
            server: server.to_string(),
        };
        let server = server.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.edit(edit).await {
                warn!(server, "could not persist the quarantine: {e}");
            }
        });
    }
}
