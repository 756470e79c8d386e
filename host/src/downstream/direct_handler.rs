//! The MCP server at `/mcp/all`: every upstream tool served directly as `server__tool`,
//! calls routed to their server, and `notifications/tools/list_changed` sent to the client
//! whenever the backend's tool set changes. One handler per client session.
//!
//! Resources and prompts (a later issue) plug in as further `ServerHandler` methods here.

use std::sync::Arc;

use rmcp::model::SubscriptionFilter;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListToolsResult, PaginatedRequestParams, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::call_result::call_failed;
use super::list_changed;
use super::state::Shared;

pub struct DirectHandler {
    shared: Arc<Shared>,
    /// Subscribed when the session (or stateless request) starts, before the client can list
    /// tools, so that no change is missed between its listing and our forwarding.
    changes: watch::Receiver<u64>,
    /// Fires when the session's handler is dropped (session closed), ending its notifier.
    session: CancellationToken,
    _session_guard: DropGuard,
}

impl DirectHandler {
    pub fn new(shared: Arc<Shared>) -> DirectHandler {
        let session = shared.shutdown.child_token();
        DirectHandler {
            changes: shared.backend.tools_changed(),
            shared,
            _session_guard: session.clone().drop_guard(),
            session,
        }
    }
}

impl ServerHandler for DirectHandler {
    fn get_info(&self) -> ServerConfig {
        list_changed::server_info(
            "mcpproxy-all",
            true,
            Some(
                "mcpproxy: every tool of every connected upstream MCP server, named server__tool."
                    .into(),
            ),
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
        let stop = self.session.clone().cancelled_owned();
        list_changed::spawn_for_peer(self.changes.clone(), stop, context.peer);
    }

    /// 2026-07-28 clients have no session: they ask for notifications with
    /// `subscriptions/listen`, which stays open while this runs.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(list_changed::accepted(requested, &self.get_info()))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let shutdown = self.shared.shutdown.cancelled();
        list_changed::listen(self.changes.clone(), context, shutdown).await
    }
}
