//! `mcpproxy stdio`: an MCP server on stdin/stdout that forwards to a running daemon's `/mcp`
//! over streamable HTTP, for clients that can only launch stdio servers.
//!
//! It forwards `tools/list`, `tools/call` (with cancellation) and `tools/list_changed`, and
//! holds no state of its own. It must never write anything but MCP messages to stdout.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, SubscriptionFilter,
};
use rmcp::service::{NotificationContext, RequestContext, ServiceError, SubscriptionContext};
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport};
use rmcp::{
    ClientHandler, ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler, ServiceExt,
};
use tokio::sync::watch;

use super::client::mcp_endpoint;
use super::list_changed;

/// Serves MCP on this process's stdin/stdout, forwarding to the daemon at `base_url`, until
/// stdin closes. Logging must go elsewhere (stderr or a file) while this runs.
pub async fn run_stdio(base_url: &str) -> anyhow::Result<()> {
    // Non-blocking pipes when the client launched us with pipes (the usual case).
    run_bridge(base_url, rmcp::transport::stdio_pipes()).await
}

/// Serves MCP on `transport` (stdio, or a pipe in tests), forwarding to the daemon at
/// `base_url`, until the client side closes.
pub async fn run_bridge<T, E, A>(base_url: &str, transport: T) -> anyhow::Result<()>
where
    T: IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let url = mcp_endpoint(base_url);
    let (ticks, changes) = watch::channel(0u64);
    let upstream = DaemonClient { ticks }
        .serve(StreamableHttpClientTransport::from_uri(url.clone()))
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot reach the mcpproxy daemon at {url}: {error} (is `mcpproxy serve` running?)"
            )
        })?;
    let bridge = Bridge {
        daemon: upstream.peer().clone(),
        url: url.clone(),
        changes,
    };
    let served = bridge.serve(transport).await;
    let result = match served {
        Ok(server) => server
            .waiting()
            .await
            .map(|_| ())
            .map_err(|error| anyhow::anyhow!("stdio bridge to {url} stopped: {error}")),
        Err(error) => Err(anyhow::anyhow!(
            "stdio bridge to {url}: client handshake failed: {error}"
        )),
    };
    let _ = upstream.cancel().await;
    result
}

/// The bridge's client side towards the daemon: counts `tools/list_changed`.
struct DaemonClient {
    ticks: watch::Sender<u64>,
}

impl ClientHandler for DaemonClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcpproxy-stdio-bridge", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.ticks.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The bridge's server side towards the stdio client.
struct Bridge {
    daemon: Peer<RoleClient>,
    url: String,
    changes: watch::Receiver<u64>,
}

impl Bridge {
    fn daemon_error(&self, error: ServiceError) -> McpError {
        match error {
            ServiceError::McpError(error) => error,
            other => {
                McpError::internal_error(format!("mcpproxy daemon at {}: {other}", self.url), None)
            }
        }
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        let instructions = self
            .daemon
            .peer_info()
            .and_then(|info| info.instructions.clone());
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        list_changed::server_info("mcpproxy-stdio-bridge", capabilities, instructions)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        self.daemon
            .list_tools(request)
            .await
            .map_err(|error| self.daemon_error(error))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // Dropping the daemon call (when the client cancels) makes rmcp send the daemon
        // `notifications/cancelled` for it.
        tokio::select! {
            result = self.daemon.call_tool_once(request) => {
                result.map_err(|error| self.daemon_error(error))
            }
            _ = context.ct.cancelled() => {
                Err(McpError::internal_error("tool call cancelled by the client", None))
            }
        }
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        list_changed::spawn_for_peer(self.changes.clone(), std::future::pending(), context.peer);
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(list_changed::accepted(requested, &self.get_info()))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        list_changed::listen(self.changes.clone(), context, std::future::pending()).await
    }
}
