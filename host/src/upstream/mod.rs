//! Upstream transports: how the daemon reaches the MCP servers it proxies (stdio child
//! processes, streamable HTTP, legacy SSE), and how their failures are classified.
//!
//! The supervisor sees only the two traits below, so that its state machine can be tested
//! with scripted sessions and the transports with real servers.

mod classify;
mod client;
mod close_signal;
mod dialer;
mod http;
mod process;
mod session;
mod sse;
mod stderr_tail;
mod stdio;
mod stdout_watch;

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::contract::{Failure, Transport};
pub use dialer::{Dialer, DialerOptions};
pub use stderr_tail::{SERVER_LOG_BYTES, SERVER_LOG_FILES, log_file_path};

/// Opens sessions to upstream servers.
pub trait Connector: Send + Sync + 'static {
    /// Spawn or dial `server` and complete the MCP handshake within `init_timeout`, counted
    /// from the moment the process was spawned (or the connection dialled), not from when the
    /// call was made: waiting for a spawn slot does not eat into a server's timeout.
    fn connect(
        &self,
        server: &ServerConfig,
        init_timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<dyn UpstreamSession>, Failure>>;
}

/// A live, initialised MCP session with one upstream server.
///
/// Dropping it must end it: a stdio server's whole process group is killed, an HTTP session
/// is closed. `shutdown` does the same but waits for it.
pub trait UpstreamSession: Send + Sync + 'static {
    /// The child's pid, for stdio servers.
    fn pid(&self) -> Option<u32>;
    /// The transport that is actually in use (for `auto`: the one that worked).
    fn transport(&self) -> Transport;
    /// The server's tools (all pages).
    fn list_tools(&self) -> BoxFuture<'_, Result<Vec<Tool>, Failure>>;
    /// Forward a tool call. On `timeout` or when `cancel` fires, the upstream is sent
    /// `notifications/cancelled` and the call ends with the matching `CallError`.
    fn call_tool(
        &self,
        request: CallToolRequestParams,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<CallToolResult, CallError>>;
    /// MCP `ping` with a deadline; a failure is classified as `HealthCheck`.
    fn ping(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Failure>>;
    /// Resolves when the session ends by itself (process exit, transport closed), with the
    /// failure classified as `CrashedAfterReady` and its exit code / stderr tail attached.
    fn closed(&self) -> BoxFuture<'_, Failure>;
    /// Ticks each time the server sends `notifications/tools/list_changed`.
    fn tools_changed(&self) -> tokio::sync::watch::Receiver<u64>;
    /// End the session and wait until it is gone (process group killed and reaped).
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Why a forwarded tool call did not return a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("tool call timed out after {0:?}")]
    Timeout(Duration),
    #[error("tool call cancelled by the client")]
    Cancelled,
    /// The upstream answered with an MCP error.
    #[error("upstream error: {0}")]
    Upstream(String),
    /// The session broke while the call was in flight.
    #[error("upstream connection lost: {0}")]
    Closed(String),
    /// No Ready server of that name.
    #[error("{0}")]
    NotAvailable(String),
}
