//! The MCP server at `/mcp/all`: every upstream tool served directly as `server__tool`,
//! calls routed to their server, and `notifications/tools/list_changed` sent to the client
//! whenever the backend's tool set changes. One handler per client session.
//!
//! Resources and prompts (a later issue) plug in as further `ServerHandler` methods here.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::call_result::call_failed;
use super::state::Shared;

pub struct DirectHandler {
    shared: Arc<Shared>,
    /// Fires when the session's handler is dropped (session closed), ending its notifier.
    session: CancellationToken,
    _session_guard: DropGuard,
}

impl DirectHandler {
    pub fn new(shared: Arc<Shared>) -> DirectHandler {
        let session = shared.shutdown.child_token();
        DirectHandler {
            shared,
            _session_guard: session.clone().drop_guard(),
            session,
        }
    }
}

impl ServerHandler for DirectHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcpproxy-all",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "mcpproxy: every tool of every connected upstream MCP server, named server__tool.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.shared.catalog.get().direct_tools(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let catalog = self.shared.catalog.get();
        let Some((server, tool)) = catalog.resolve_direct(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool {:?}: no Ready upstream server serves it (names are server__tool)",
                    request.name
                ),
                None,
            ));
        };
        let call =
            self.shared
                .backend
                .call_tool(server, tool, request.arguments, context.ct.clone());
        let result = match call.await {
            Ok(result) => result,
            Err(error) => call_failed(server, tool, &error),
        };
        Ok(result.into())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let changes = self.shared.backend.tools_changed();
        tokio::spawn(forward_list_changed(
            changes,
            context.peer,
            self.session.clone(),
        ));
    }
}

/// Sends `tools/list_changed` to one client on every tick, until the session or the daemon
/// ends or the client is gone.
async fn forward_list_changed(
    mut changes: watch::Receiver<u64>,
    peer: Peer<RoleServer>,
    stop: CancellationToken,
) {
    changes.borrow_and_update();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                if let Err(error) = peer.notify_tool_list_changed().await {
                    tracing::debug!(%error, "client gone; no more list_changed for it");
                    return;
                }
            }
        }
    }
}
