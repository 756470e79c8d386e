//! The daemon's answer to the downstream server: tools and calls from the registry,
//! `upstream_servers` operations as config store edits, and the status document.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use rmcp::model::{ClientNotification, ClientRequest, ServerResult};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::state::DaemonState;
use crate::config::ConfigEdit;
use crate::downstream::{Backend, ServersOperation, ServersRequest};
use crate::upstream::{CallError, Notice, Origin, ServerOffer};

pub struct DaemonBackend {
    state: Arc<DaemonState>,
}

impl DaemonBackend {
    pub fn new(state: Arc<DaemonState>) -> Self {
        DaemonBackend { state }
    }
}

impl Backend for DaemonBackend {
    fn offers(&self) -> Vec<ServerOffer> {
        self.state.registry.offers()
    }

    fn forward(
        &self,
        server: &str,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<ServerResult, CallError>> {
        let registry = self.state.registry.clone();
        let server = server.to_string();
        async move { registry.forward(&server, request, origin, cancel).await }.boxed()
    }

    fn notify(
        &self,
        server: &str,
        notification: ClientNotification,
        origin: Option<Origin>,
    ) -> BoxFuture<'static, ()> {
        let registry = self.state.registry.clone();
        let server = server.to_string();
        async move { registry.notify(&server, notification, origin).await }.boxed()
    }

    fn notices(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.state.notices.subscribe()
    }

    fn upstream_servers(
        &self,
        request: ServersRequest,
    ) -> BoxFuture<'static, Result<Value, String>> {
        let state = self.state.clone();
        async move { servers_operation(&state, request).await }.boxed()
    }

    fn status(&self) -> Value {
        status_document(&self.state)
    }

    fn metrics(&self) -> String {
        super::metrics::render(super::metrics::Snapshot::take(&self.state))
    }

    fn ready(&self) -> bool {
        self.state.registry.settled()
    }

    fn offers_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.state.registry.offers_changed()
    }

    fn server_log(&self, server: &str, max_bytes: usize) -> Option<String> {
        use std::io::{Read, Seek, SeekFrom};
        let path = crate::upstream::log_file_path(&self.state.log_dir, server);
        let mut file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max_bytes as u64)))
            .ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// `upstream_servers`: every change is one edit of the config store, which saves it (so it
/// survives a restart and the user sees it in the file) and sends the update that reaches the
/// supervisors on the same route as a file edit; the answer waits until it has been applied.
/// `restart` changes no config: it goes to the server's supervisor.
async fn servers_operation(state: &DaemonState, request: ServersRequest) -> Result<Value, String> {
    let op = request.operation;
    if op == ServersOperation::List {
        return serde_json::to_value(state.registry.list()).map_err(|e| e.to_string());
    }
    if op == ServersOperation::Import {
        let entries = request
            .servers
            .ok_or("upstream_servers import: `servers` (the entries) is required")?;
        let edit = ConfigEdit::Import { entries };
        let names: Vec<String> = edit.servers().into_iter().map(str::to_string).collect();
        let applied = state.store.edit(edit).await.map_err(|e| e.to_string())?;
        applied.wait().await;
        return Ok(json!({"ok": true, "operation": op, "imported": names}));
    }
    let name = match (&request.name, &request.server) {
        (Some(name), _) => name.clone(),
        (None, Some(entry)) => entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        (None, None) => String::new(),
    };
    if name.is_empty() {
        let op = serde_json::to_value(op).unwrap_or_default();
        return Err(format!(
            "upstream_servers {}: `name` is required",
            op.as_str().unwrap_or("?")
        ));
    }
    let edit = match op {
        ServersOperation::List | ServersOperation::Import => unreachable!("handled above"),
        ServersOperation::Restart => {
            state
                .registry
                .restart(&name)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(json!({"restarted": name}));
        }
        ServersOperation::Add => {
            let mut entry = request
                .server
                .clone()
                .ok_or("upstream_servers add: `server` (the entry) is required")?;
            entry.insert("name".into(), Value::String(name.clone()));
            ConfigEdit::AddServer { entry }
        }
        ServersOperation::Remove => ConfigEdit::RemoveServer {
            server: name.clone(),
        },
        ServersOperation::Approve => {
            let approved = state
                .registry
                .approve_tools(&name)
                .await
                .map_err(|e| e.to_string())?;
            if !approved.config_quarantined {
                if !approved.withheld && approved.hidden == 0 {
                    return Err(format!(
                        "server {name} is not quarantined and has no tools awaiting approval: \
                         nothing to approve"
                    ));
                }
                return Ok(json!({"ok": true, "operation": op, "name": name,
                                 "tools_approved": approved.hidden}));
            }
            ConfigEdit::Approve {
                server: name.clone(),
            }
        }
        ServersOperation::Enable | ServersOperation::Disable => ConfigEdit::SetEnabled {
            server: name.clone(),
            enabled: op == ServersOperation::Enable,
        },
    };
    let applied = state.store.edit(edit).await.map_err(|e| e.to_string())?;
    applied.wait().await;
    Ok(json!({"ok": true, "operation": op, "name": name}))
}

fn status_document(state: &DaemonState) -> Value {
    let list = state.registry.list();
    let config = state.store.stats();
    let c = &state.counters;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "listen": state.listen.to_string(),
        "config_path": state.config_path,
        "data_dir": state.data_dir,
        "uptime_s": state.started.elapsed().as_secs(),
        "settled": state.registry.settled(),
        "config_generation": config.config_generation,
        "config_syncs": c.config_syncs(),
        "self_writes_suppressed": config.self_writes_suppressed,
        "reloads_ignored_by_policy": c.reloads_ignored_by_policy(),
        "changes_ignored_by_policy": c.changes_ignored_by_policy(),
        "last_config_error": config.last_config_error,
        "config_writable": config.writable,
        "config": config,
        "servers": list.summary,
        "settings": settings_in_force(state),
        "policy": state.policy.status(),
        "bundle": state.pinned.as_ref().map(|p| p.status()),
    })
}

/// The global settings the running daemon uses now, and the edited keys that wait for a restart.
fn settings_in_force(state: &DaemonState) -> Value {
    let s = state.registry.settings();
    let restart_needed: Vec<&str> = state
        .restart_needed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|k| k.name())
        .collect();
    json!({
        "init_timeout_ms": s.init_timeout.as_millis() as u64,
        "call_tool_timeout_ms": s.call_tool_timeout.as_millis() as u64,
        "health_check_interval_ms": s.health_check_interval.as_millis() as u64,
        "tools_limit": state.downstream.tools_limit(),
        "watch_debounce_ms": state.store.debounce().as_millis() as u64,
        "restart_needed": restart_needed,
    })
}
