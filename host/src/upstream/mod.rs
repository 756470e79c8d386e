//! Upstream transports: how the daemon reaches the MCP servers it proxies (stdio child
//! processes, streamable HTTP, legacy SSE), and how their failures are classified.
//!
//! The supervisor sees only the two traits below, so that its state machine can be tested
//! with scripted sessions and the transports with real servers.

pub mod ask;
mod classify;
mod client;
mod close_signal;
mod dialer;
mod eras;
mod exit;
mod http;
mod modern;
mod notice;
mod offer;
mod pacer;
mod process;
mod routes;
mod session;
mod spawner;
mod sse;
mod stderr_tail;
mod stdio;
mod stdout_watch;

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientNotification, ClientRequest,
    ServerResult,
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::contract::{Failure, Transport};
pub use client::{client_capabilities_missing, missing_capability_error};
pub use dialer::{Dialer, DialerOptions};
pub use modern::is_modern;
pub use notice::{Notice, NoticeSender};
pub use offer::{CacheHint, ListHints, Offer, ServerOffer};
pub use routes::Origin;
pub use spawner::start as start_spawner;
pub use stderr_tail::{SERVER_LOG_BYTES, SERVER_LOG_FILES, log_file_path};

/// Opens sessions to upstream servers.
pub trait Connector: Send + Sync + 'static {
    /// Spawn or dial `server` and complete the MCP handshake within `init_timeout`, counted
    /// from the moment the process was spawned (or the connection dialled), not from when the
    /// call was made: waiting for a place to start in (`pacer`) does not eat into a server's
    /// timeout. `started` is fired at that moment (or dropped).
    fn connect(
        &self,
        server: &ServerConfig,
        init_timeout: Duration,
        started: Started,
    ) -> BoxFuture<'static, Result<Box<dyn UpstreamSession>, Failure>>;
}

/// A connector's word that it is starting the server now (spawning it, dialling it): from
/// then on the server's `init_timeout` runs, and the supervisor's guard with it. Dropped
/// unfired, it says the same.
#[derive(Debug, Default)]
pub struct Started(Option<oneshot::Sender<()>>);

impl Started {
    /// A `Started` and what hears it.
    pub fn channel() -> (Started, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Started(Some(tx)), rx)
    }

    pub fn fire(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
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
    /// What the server offers (every page of each list it declares).
    fn offer(&self) -> BoxFuture<'_, Result<Offer, Failure>>;
    /// Forward a request made for `origin` (a downstream client's request, if any). On
    /// `timeout` or when `cancel` fires, the upstream is sent `notifications/cancelled` and
    /// the request ends with the matching `CallError`. While it is in flight, the server's
    /// progress and its own requests go to `origin`'s client.
    fn request(
        &self,
        request: ClientRequest,
        timeout: Duration,
        cancel: CancellationToken,
        origin: Option<Origin>,
    ) -> BoxFuture<'_, Result<ServerResult, CallError>>;
    /// Forward a tool call made for no client in particular.
    fn call_tool(
        &self,
        request: CallToolRequestParams,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<CallToolResult, CallError>> {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
        let answer = self.request(request, timeout, cancel, None);
        Box::pin(async move {
            match answer.await? {
                ServerResult::CallToolResult(result) => Ok(result),
                other => Err(CallError::unexpected("tools/call", &other)),
            }
        })
    }
    /// Send a notification (e.g. `roots/list_changed`) from `origin`'s client; a session
    /// that is gone drops it.
    fn notify(&self, notification: ClientNotification, origin: Option<Origin>)
    -> BoxFuture<'_, ()>;
    /// MCP `ping` with a deadline; a failure is classified as `HealthCheck`.
    fn ping(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Failure>>;
    /// Resolves when the session ends by itself (process exit, transport closed), with the
    /// failure classified as `CrashedAfterReady` and its exit code / stderr tail attached.
    fn closed(&self) -> BoxFuture<'_, Failure>;
    /// Ticks each time the server says its tools, resources or prompts changed.
    fn lists_changed(&self) -> tokio::sync::watch::Receiver<u64>;
    /// End the session and wait until it is gone (process group killed and reaped).
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Why a forwarded request did not return a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("request cancelled by the client")]
    Cancelled,
    /// The upstream answered with a JSON-RPC error: passed to the client as it is.
    #[error("upstream error {}: {}", .0.code.0, .0.message)]
    Rejected(ErrorData),
    /// The upstream's answer was not an answer to the request.
    #[error("upstream error: {0}")]
    Upstream(String),
    /// The session broke while the call was in flight.
    #[error("upstream connection lost: {0}")]
    Closed(String),
    /// No Ready server of that name.
    #[error("{0}")]
    NotAvailable(String),
}

impl CallError {
    /// The error with `secrets` replaced by their references in its text.
    pub fn redacted(self, secrets: &[crate::config::secrets::Secret]) -> CallError {
        use crate::config::secrets::redact;
        match self {
            CallError::Upstream(text) => CallError::Upstream(redact(&text, secrets)),
            CallError::Closed(text) => CallError::Closed(redact(&text, secrets)),
            CallError::NotAvailable(text) => CallError::NotAvailable(redact(&text, secrets)),
            other => other,
        }
    }

    /// An answer of the wrong kind to `method`.
    pub fn unexpected(method: &str, answer: &ServerResult) -> CallError {
        let kind = serde_json::to_value(answer)
            .ok()
            .and_then(|v| {
                v.as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
            })
            .unwrap_or_default();
        CallError::Upstream(format!("unexpected answer to {method} (fields: {kind})"))
    }
}
