//! The one route the CLI's config changes (`import`, `upstream add`, `upstream remove`) take:
//! to the running daemon's config store, which saves and applies them like every other edit;
//! when no daemon runs, to a config store opened here, with the daemon lock held so that none
//! starts meanwhile. Either way the file is written by the store's own save path
//! (generation-stamped, atomic), never by hand.

use anyhow::bail;
use serde_json::{Value, json};

use super::{GlobalArgs, client_cmds, paths};
use crate::config::{ConfigEdit, ConfigStore, StoreOptions, ensure_default};
use crate::daemon::lock::{LockError, RuntimeLock, find_running};

/// Which way an edit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Daemon,
    Local,
}

impl Route {
    /// How the CLI says it.
    pub fn describe(self) -> &'static str {
        match self {
            Route::Daemon => "through the running daemon (applied now)",
            Route::Local => "no daemon running: saved for its next start",
        }
    }
}

/// Applies `edit` and says which way it went.
pub fn apply(global: &GlobalArgs, edit: ConfigEdit) -> anyhow::Result<Route> {
    let data_dir = paths::resolved_data_dir(global);
    match find_running(&data_dir) {
        Ok(_) => {
            client_cmds::upstream_servers(global, request_of(&edit)?)?;
            return Ok(Route::Daemon);
        }
        Err(LockError::NotRunning { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let _lock = RuntimeLock::acquire(&data_dir)?;
    let config = paths::config_path(global);
    ensure_default(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (store, _running, _updates) =
            ConfigStore::open(config.clone(), StoreOptions::new(data_dir))?;
        store.edit(edit).await?;
        anyhow::Ok(())
    })?;
    Ok(Route::Local)
}

/// The `upstream_servers` request that makes the daemon apply `edit`.
fn request_of(edit: &ConfigEdit) -> anyhow::Result<Value> {
    Ok(match edit {
        ConfigEdit::Import { entries } => json!({"operation": "import", "servers": entries}),
        ConfigEdit::RemoveServer { server } => json!({"operation": "remove", "name": server}),
        other => bail!("the CLI does not send {}", other.label()),
    })
}
