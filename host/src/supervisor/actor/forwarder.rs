//! The way from a client's request to a Ready server's session that does not pass the
//! actor's mailbox. The actor publishes a `Forwarder` in its view while the server is Ready
//! and not withheld, with the tools it may call, and withdraws it before the session is torn
//! down; a request it does not carry (a hidden tool, a server not Ready) goes to the actor,
//! which says why not. A forwarded call costs a mailbox hop, a task and two wake-ups less,
//! and runs in the caller's task, tracked like the actor's own for the drain.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rmcp::model::{ClientRequest, ServerResult};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Shared;
use crate::config::secrets::Secret;
use crate::upstream::{CallError, Origin, UpstreamSession};

/// One live session's way in, shared by the actor's calls and the direct ones.
#[derive(Clone)]
pub struct Session {
    pub session: Arc<Box<dyn UpstreamSession>>,
    /// In-flight calls, so that a stop can wait for them.
    pub calls: TaskTracker,
    /// Fired at the drain deadline: cancels what is still in flight.
    pub cancel_calls: CancellationToken,
    /// Why the session was ended, set before `cancel_calls` fires: what the calls it cut
    /// short answer (they were not cancelled by their client).
    pub ended: Arc<OnceLock<String>>,
}

impl Session {
    /// Sends `request` and waits for the answer under `timeout`; `cancel` (the client's)
    /// is passed on to the upstream. Errors have the server's `secrets` redacted.
    pub async fn forward(
        &self,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
        timeout: Duration,
        secrets: &[Secret],
    ) -> Result<ServerResult, CallError> {
        let token = self.cancel_calls.child_token();
        let forward = token.clone();
        let call = self.session.request(request, timeout, token, origin);
        tokio::pin!(call);
        // The client's cancellation is forwarded into the session's token, which the drain
        // deadline also fires; the session answers with `Cancelled`.
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                _ = cancel.cancelled(), if !forward.is_cancelled() => forward.cancel(),
            }
        };
        // Cut short by the session's end, not by the client: say why.
        let result = match result {
            Err(CallError::Cancelled) if !cancel.is_cancelled() => Err(CallError::Closed(
                self.ended
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "the session ended".into()),
            )),
            other => other,
        };
        result.map_err(|e| e.redacted(secrets))
    }
}

/// What the actor publishes while its server may be called directly.
pub struct Forwarder {
    session: Session,
    shared: Arc<Shared>,
    secrets: Vec<Secret>,
    /// The tools clients may call (the exposed offer's).
    tools: HashSet<String>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    pub(super) fn new(
        session: Session,
        shared: Arc<Shared>,
        secrets: Vec<Secret>,
        tools: HashSet<String>,
    ) -> Self {
        Forwarder {
            session,
            shared,
            secrets,
            tools,
        }
    }

    /// Whether this way may carry `request`: any request but a call of a tool not exposed.
    pub fn carries(&self, request: &ClientRequest) -> bool {
        match request {
            ClientRequest::CallToolRequest(call) => self.tools.contains(call.params.name.as_ref()),
            _ => true,
        }
    }

    /// Forwards `request` under the current `call_tool_timeout`, in the caller's task.
    pub async fn forward(
        &self,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
    ) -> Result<ServerResult, CallError> {
        let timeout = self.shared.settings().call_tool_timeout;
        let call = self
            .session
            .forward(request, origin, cancel, timeout, &self.secrets);
        self.session.calls.track_future(call).await
    }
}
