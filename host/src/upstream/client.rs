//! The MCP client side of every upstream session: what mcpproxy says it is in the
//! handshake, and where `notifications/tools/list_changed` goes.

use rmcp::ClientHandler;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::watch;

/// Counts `tools/list_changed` notifications into a watch channel.
pub struct UpstreamClient {
    tools_changed: watch::Sender<u64>,
}

impl UpstreamClient {
    pub fn new() -> (UpstreamClient, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        (UpstreamClient { tools_changed: tx }, rx)
    }
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        // The newest version that still has an `initialize` handshake: every server we
        // proxy (npm, PyPI, older SDKs) speaks it, and sessions need it.
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcpproxy", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.send_modify(|n| *n += 1);
    }
}
