//! The MCP client side of every upstream session: what mcpproxy declares in the handshake,
//! and where the upstream's own messages go.
//!
//! mcpproxy declares what a client may offer (sampling, elicitation in form and URL mode,
//! roots) so that servers show every tool; whether the client behind a given call has it is
//! checked per request. The upstream's requests go to the client whose call they belong to
//! (`routes`), with that client's answer or error sent back; a request no client can take
//! gets a JSON-RPC error, never a made-up answer. Progress goes back to the call's client
//! under its own token; log messages and resource updates go to the notice channel; list
//! changes tick `lists_changed`.

// Sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577); the 2025-11-25
// servers and clients proxied here still use them.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::{
    CancelledNotificationParam, ClientCapabilities, ClientConfig, ClientResult,
    ElicitRequestParams, ElicitationCapability, EmptyResult, ErrorCode, FormElicitationCapability,
    GetExtensions, Implementation, ProtocolVersion, RootsCapabilities, SamplingCapability,
    ServerNotification, ServerRequest, UrlElicitationCapability,
};
use rmcp::service::{
    InboundStreamOrigin, NotificationContext, OriginatingRequestId, PeerRequestOptions,
    RequestContext, RoleClient, Service, ServiceError,
};
use rmcp::{ErrorData as McpError, Peer, RoleServer};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::notice::{Notice, NoticeSender};
use super::routes::{Origin, ProgressSeq, Routes};

/// One upstream session's client handler.
pub struct UpstreamClient {
    server: String,
    routes: Arc<Routes>,
    notices: NoticeSender,
    lists_changed: watch::Sender<u64>,
}

impl UpstreamClient {
    pub fn new(
        server: &str,
        routes: Arc<Routes>,
        notices: NoticeSender,
    ) -> (UpstreamClient, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        let client = UpstreamClient {
            server: server.to_string(),
            routes,
            notices,
            lists_changed: tx,
        };
        (client, rx)
    }

    /// Gives `request` to the client its call came from and returns that client's answer.
    async fn forward(
        &self,
        request: ServerRequest,
        context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, McpError> {
        let related = match context.extensions.get::<InboundStreamOrigin>() {
            Some(InboundStreamOrigin::OutboundRequest(id)) => Some(id.clone()),
            _ => None,
        };
        let method = method_of(&request);
        let roots = matches!(request, ServerRequest::ListRootsRequest(_));
        let origin = self
            .routes
            .request_target(related.as_ref(), roots)
            .await
            .map_err(|why| {
                McpError::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!("mcpproxy cannot forward {method}: {why}"),
                    None,
                )
            })?;
        if let Some(missing) = missing_capability(&origin.peer, &request) {
            return Err(McpError::new(
                ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
                format!("the client of this call did not declare the {missing} capability"),
                None,
            ));
        }
        // In a task of its own: rmcp marks requests sent from inside a handler as belonging
        // to the request being handled, which here is the upstream's, not the client's. The
        // marker set below puts it on the client call's own response stream instead.
        let mut request = request;
        if let Some(id) = &origin.request_id {
            request
                .extensions_mut()
                .insert(OriginatingRequestId(id.clone()));
        }
        let send = tokio::spawn(send_to_client(origin, request, context.ct.clone()));
        match send.await {
            Ok(answer) => answer,
            Err(_) => Err(McpError::internal_error(
                "mcpproxy: forwarding task failed",
                None,
            )),
        }
    }
}

fn method_of(request: &ServerRequest) -> String {
    match request {
        ServerRequest::PingRequest(_) => "ping".into(),
        ServerRequest::CreateMessageRequest(_) => "sampling/createMessage".into(),
        ServerRequest::ListRootsRequest(_) => "roots/list".into(),
        ServerRequest::ElicitRequest(_) => "elicitation/create".into(),
        ServerRequest::CustomRequest(r) => r.method.clone(),
        _ => "a request".into(),
    }
}

/// Sends `request` to the origin's client and waits for its answer; when the server cancels
/// its request (`cancelled`), the client is told so in turn.
async fn send_to_client(
    origin: Arc<Origin>,
    request: ServerRequest,
    cancelled: CancellationToken,
) -> Result<ClientResult, McpError> {
    let not_answered = |error: ServiceError| match error {
        ServiceError::McpError(error) => error,
        other => McpError::internal_error(
            format!("mcpproxy: the client did not answer: {other}"),
            None,
        ),
    };
    let peer = &origin.peer;
    let handle = peer
        .send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .map_err(not_answered)?;
    let id = handle.id.clone();
    tokio::select! {
        answer = handle.await_response() => answer.map_err(not_answered),
        _ = cancelled.cancelled() => {
            let notice = CancelledNotificationParam::new(Some(id), Some("cancelled by the server".into()));
            let _ = peer.notify_cancelled(notice).await;
            Err(McpError::internal_error("cancelled by the server", None))
        }
    }
}

/// The capability `request` needs that the client behind `peer` did not declare.
fn missing_capability(peer: &Peer<RoleServer>, request: &ServerRequest) -> Option<&'static str> {
    let declared = peer.peer_info().map(|info| info.capabilities.clone());
    let declared = declared.unwrap_or_default();
    match request {
        ServerRequest::CreateMessageRequest(_) => declared.sampling.is_none().then_some("sampling"),
        ServerRequest::ListRootsRequest(_) => declared.roots.is_none().then_some("roots"),
        ServerRequest::ElicitRequest(elicit) => {
            let Some(elicitation) = declared.elicitation else {
                return Some("elicitation");
            };
            match &elicit.params {
                // An empty `elicitation` object means form mode (2025-06-18 clients).
                ElicitRequestParams::FormElicitationParams { .. } => (elicitation.form.is_none()
                    && elicitation.url.is_some())
                .then_some("elicitation.form"),
                ElicitRequestParams::UrlElicitationParams { .. } => {
                    elicitation.url.is_none().then_some("elicitation.url")
                }
                _ => None,
            }
        }
        _ => None,
    }
}

impl Service<RoleClient> for UpstreamClient {
    async fn handle_request(
        &self,
        request: ServerRequest,
        context: RequestContext<RoleClient>,
    ) -> Result<ClientResult, McpError> {
        match request {
            // A ping is for mcpproxy itself.
            ServerRequest::PingRequest(_) => Ok(ClientResult::EmptyResult(EmptyResult {})),
            other => self.forward(other, context).await,
        }
    }

    async fn handle_notification(
        &self,
        notification: ServerNotification,
        context: NotificationContext<RoleClient>,
    ) -> Result<(), McpError> {
        match notification {
            ServerNotification::ProgressNotification(progress) => {
                let seq = context.extensions.get::<ProgressSeq>().copied();
                let mut params = progress.params;
                let upstream_token = params.progress_token.clone();
                let target = self.routes.progress_target(&upstream_token, seq).await;
                if let Some((origin, token)) = target {
                    params.progress_token = token;
                    let _ = origin.peer.notify_progress(params).await;
                }
                self.routes.progress_passed(&upstream_token);
            }
            ServerNotification::LoggingMessageNotification(message) => {
                let _ = self.notices.send(Arc::new(Notice::Log {
                    server: self.server.clone(),
                    params: message.params,
                }));
            }
            ServerNotification::ResourceUpdatedNotification(updated) => {
                let _ = self.notices.send(Arc::new(Notice::ResourceUpdated {
                    server: self.server.clone(),
                    uri: updated.params.uri,
                }));
            }
            ServerNotification::ToolListChangedNotification(_)
            | ServerNotification::ResourceListChangedNotification(_)
            | ServerNotification::PromptListChangedNotification(_) => {
                self.lists_changed.send_modify(|n| *n = n.wrapping_add(1));
            }
            _ => {}
        }
        Ok(())
    }

    fn get_info(&self) -> ClientConfig {
        // The newest version that still has an `initialize` handshake: every server we
        // proxy (npm, PyPI, older SDKs) speaks it, and sessions need it.
        ClientConfig::new(
            declared_capabilities(),
            Implementation::new("mcpproxy", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }
}

/// Everything a client may offer a server; each request is checked against the client it
/// goes to.
fn declared_capabilities() -> ClientCapabilities {
    let mut capabilities = ClientCapabilities::default();
    capabilities.sampling = Some(SamplingCapability::default());
    capabilities.elicitation = Some(
        ElicitationCapability::new()
            .with_form(FormElicitationCapability::default())
            .with_url(UrlElicitationCapability::default()),
    );
    let mut roots = RootsCapabilities::default();
    roots.list_changed = Some(true);
    capabilities.roots = Some(roots);
    capabilities
}
