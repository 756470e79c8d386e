//! An upstream's own request (sampling, elicitation, roots) handed to the downstream side as a
//! value instead of being sent to the client as a request.
//!
//! A 2026-07-28 client takes no requests from servers: it is asked with an
//! `InputRequiredResult` and answers by retrying its call (multi round-trip requests). When a
//! legacy upstream asks during such a client's call, the call's `Origin` carries an
//! `AskSender`; the upstream session puts the request there and waits for the reply, which
//! the downstream side sends once the client has retried with its answer (or drops, and the
//! upstream gets an error: the proxy never answers for a client).

use rmcp::ErrorData as McpError;
use rmcp::model::{ClientResult, ServerRequest};
use tokio::sync::{mpsc, oneshot};

/// One request of the upstream's, waiting for the client's answer.
#[derive(Debug)]
pub struct Ask {
    pub request: ServerRequest,
    pub reply: oneshot::Sender<Result<ClientResult, McpError>>,
}

/// Where a call's asks go; cloned into the call's `Origin`.
pub type AskSender = mpsc::UnboundedSender<Ask>;
pub type AskReceiver = mpsc::UnboundedReceiver<Ask>;

/// A channel for the asks of one call.
pub fn channel() -> (AskSender, AskReceiver) {
    mpsc::unbounded_channel()
}

/// Gives `request` to the downstream side and waits for the client's answer; an error if
/// that side is gone or gave up (the client never retried).
pub async fn ask(asks: &AskSender, request: ServerRequest) -> Result<ClientResult, McpError> {
    let (reply, answer) = oneshot::channel();
    let gone = || {
        McpError::internal_error(
            "mcpproxy: the client did not answer (it never retried its request with the input)",
            None,
        )
    };
    asks.send(Ask { request, reply }).map_err(|_| gone())?;
    answer.await.map_err(|_| gone())?
}
