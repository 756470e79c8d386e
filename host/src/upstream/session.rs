//! `McpSession`: one initialised rmcp client session, over any transport, as an
//! `UpstreamSession` (tool calls with timeout and cancellation, ping, list-changed ticks,
//! end-of-session detection).
//!
//! What `closed()` covers: for stdio, the child's exit or its stdout closing; for SSE, the
//! event stream ending; for streamable HTTP, only the client transport giving up — a
//! killed HTTP server is NOT noticed here (rmcp keeps the session), so the supervisor's
//! pings and call errors are the liveness check there.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotification,
    CancelledNotificationParam, ClientNotification, ClientRequest, PingRequest, ServerResult, Tool,
};
use rmcp::service::{PeerRequestOptions, RoleClient, RunningService, ServiceError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::client::UpstreamClient;
use super::process::ChildProcess;
use super::{CallError, UpstreamSession};
use crate::contract::Transport;
use crate::contract::{Failure, FailureKind};

/// How long `shutdown` lets rmcp close the transport before the process group is killed.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

pub struct McpSession {
    pub(crate) service: RunningService<RoleClient, UpstreamClient>,
    pub(crate) transport: Transport,
    pub(crate) tools_changed: watch::Receiver<u64>,
    /// Cancelled when the upstream side of the transport ended.
    pub(crate) transport_closed: CancellationToken,
    /// The child, for stdio sessions.
    pub(crate) process: Option<Arc<ChildProcess>>,
}

/// Maps an rmcp error on a forwarded call to a `CallError`.
fn call_error(error: ServiceError, timeout: Duration) -> CallError {
    match error {
        ServiceError::Timeout { .. } => CallError::Timeout(timeout),
        ServiceError::McpError(data) => CallError::Upstream(data.message.to_string()),
        ServiceError::Cancelled { .. } => CallError::Cancelled,
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            CallError::Closed(error.to_string())
        }
        other => CallError::Upstream(other.to_string()),
    }
}

impl UpstreamSession for McpSession {
    fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }

    fn transport(&self) -> Transport {
        self.transport
    }

    fn list_tools(&self) -> BoxFuture<'_, Result<Vec<Tool>, Failure>> {
        Box::pin(async move {
            self.service.peer().list_all_tools().await.map_err(|error| {
                Failure::new(
                    FailureKind::ProtocolError,
                    format!("tools/list failed: {error}"),
                )
            })
        })
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> BoxFuture<'_, Result<CallToolResult, CallError>> {
        Box::pin(async move {
            let peer = self.service.peer();
            let handle = peer
                .send_request_with_option(
                    ClientRequest::CallToolRequest(CallToolRequest::new(request)),
                    PeerRequestOptions::with_timeout(timeout),
                )
                .await
                .map_err(|e| call_error(e, timeout))?;
            let id = handle.id.clone();
            tokio::select! {
                response = handle.await_response() => match response {
                    Ok(ServerResult::CallToolResult(result)) => Ok(result),
                    Ok(_) => Err(CallError::Upstream("unexpected response to tools/call".into())),
                    // rmcp has already sent `notifications/cancelled` on its own timeout.
                    Err(error) => Err(call_error(error, timeout)),
                },
                _ = cancel.cancelled() => {
                    let notification = CancelledNotification::new(CancelledNotificationParam::new(
                        Some(id),
                        Some("cancelled by the client".to_string()),
                    ));
                    let _ = peer
                        .send_notification(ClientNotification::CancelledNotification(notification))
                        .await;
                    Err(CallError::Cancelled)
                }
            }
        })
    }

    fn ping(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let failed = |detail: String| Failure::new(FailureKind::HealthCheck, detail);
            let handle = self
                .service
                .peer()
                .send_request_with_option(
                    ClientRequest::PingRequest(PingRequest::default()),
                    PeerRequestOptions::with_timeout(timeout),
                )
                .await
                .map_err(|e| failed(format!("ping not sent: {e}")))?;
            match handle.await_response().await {
                Ok(_) => Ok(()),
                Err(ServiceError::Timeout { .. }) => {
                    Err(failed(format!("no answer to ping within {timeout:?}")))
                }
                Err(error) => Err(failed(format!("ping failed: {error}"))),
            }
        })
    }

    fn closed(&self) -> BoxFuture<'_, Failure> {
        Box::pin(async move {
            let kind = FailureKind::CrashedAfterReady;
            match &self.process {
                Some(process) => {
                    let exit = tokio::select! {
                        exit = process.exited() => Some(exit),
                        _ = self.transport_closed.cancelled() => {
                            process.exited_within(Duration::from_secs(1)).await
                        }
                    };
                    let mut failure = process.exit_failure(kind, exit).await;
                    if exit.is_none() {
                        failure.detail = format!("stdout closed; {}", failure.detail);
                    }
                    failure
                }
                None => {
                    self.transport_closed.cancelled().await;
                    Failure::new(kind, "connection closed by the server")
                }
            }
        })
    }

    fn tools_changed(&self) -> watch::Receiver<u64> {
        self.tools_changed.clone()
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let McpSession {
                mut service,
                process,
                ..
            } = *self;
            let _ = service.close_with_timeout(CLOSE_WAIT).await;
            if let Some(process) = process {
                process.terminate().await;
            }
        })
    }
}
