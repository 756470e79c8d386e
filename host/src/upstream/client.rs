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
    GetExtensions, Implementation, NotificationMetaObject, ProtocolVersion, RequestId,
    RootsCapabilities, SamplingCapability, ServerNotification, ServerRequest,
    UrlElicitationCapability,
};
use rmcp::service::{
    InboundStreamOrigin, NotificationContext, OriginatingRequestId, PeerRequestOptions,
    RequestContext, RoleClient, Service, ServiceError,
};
use rmcp::{ClientLifecycleMode, ErrorData as McpError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ask;
use super::notice::{Notice, NoticeSender};
use super::routes::{Origin, ProgressSeq, Routes};
use crate::legacy_tasks;

/// One upstream session's client handler.
pub struct UpstreamClient {
    inbox: Inbox,
}

/// Where an upstream's notifications go, from its session or from its
/// `subscriptions/listen` stream (a 2026-07-28 upstream sends list changes and resource
/// updates only there).
#[derive(Clone)]
pub struct Inbox {
    server: String,
    routes: Arc<Routes>,
    notices: NoticeSender,
    lists_changed: watch::Sender<u64>,
    /// The `subscriptions/listen` request the server last acknowledged.
    acknowledged: watch::Sender<Option<RequestId>>,
}

impl UpstreamClient {
    pub fn new(
        server: &str,
        routes: Arc<Routes>,
        notices: NoticeSender,
    ) -> (UpstreamClient, watch::Receiver<u64>) {
        let (tx, rx) = watch::channel(0);
        let inbox = Inbox {
            server: server.to_string(),
            routes,
            notices,
            lists_changed: tx,
            acknowledged: watch::channel(None).0,
        };
        (UpstreamClient { inbox }, rx)
    }

    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
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
            .inbox
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
        if let Some(missing) = missing_capability(&origin.capabilities, &request) {
            return Err(missing_capability_error(missing));
        }
        // A 2026-07-28 client is asked through its call's result, not with a request.
        if let Some(asks) = &origin.asks {
            return ask::ask(asks, request).await;
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

/// The capability `request` needs that a client with `declared` capabilities lacks.
pub fn missing_capability(
    declared: &ClientCapabilities,
    request: &ServerRequest,
) -> Option<&'static str> {
    match request {
        ServerRequest::CreateMessageRequest(_) => declared.sampling.is_none().then_some("sampling"),
        ServerRequest::ListRootsRequest(_) => declared.roots.is_none().then_some("roots"),
        ServerRequest::ElicitRequest(elicit) => {
            let Some(elicitation) = &declared.elicitation else {
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

/// The first capability one of `requests` needs that `declared` lacks.
pub fn client_capabilities_missing<'a>(
    declared: &ClientCapabilities,
    requests: impl IntoIterator<Item = &'a ServerRequest>,
) -> Option<&'static str> {
    requests
        .into_iter()
        .find_map(|request| missing_capability(declared, request))
}

/// The JSON-RPC error for a client that lacks `missing`, with the capability it needs in
/// `data` as the revision's `MissingRequiredClientCapabilityError` has it.
pub fn missing_capability_error(missing: &str) -> McpError {
    let mut required = serde_json::Map::new();
    let mut at = &mut required;
    let mut parts = missing.split('.').peekable();
    while let Some(part) = parts.next() {
        at.insert(
            part.to_string(),
            serde_json::Value::Object(Default::default()),
        );
        if parts.peek().is_some() {
            let next = at.get_mut(part).and_then(serde_json::Value::as_object_mut);
            at = next.expect("just inserted as an object");
        }
    }
    McpError::new(
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("the client of this call did not declare the {missing} capability"),
        Some(serde_json::json!({ "requiredCapabilities": required })),
    )
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
        if let ServerNotification::SubscriptionsAcknowledgedNotification(_) = &notification {
            // rmcp hands the notification's `_meta` over among its extensions.
            let meta = context.extensions.get::<NotificationMetaObject>();
            let id = meta.and_then(NotificationMetaObject::subscription_id);
            self.inbox.acknowledged.send_replace(id);
            return Ok(());
        }
        let seq = context.extensions.get::<ProgressSeq>().copied();
        self.inbox.handle(notification, seq).await;
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

impl Inbox {
    /// Progress goes back to the call's client under its own token (`seq`: its place among
    /// the call's progress); log messages and resource updates go to the notice channel;
    /// list changes tick `lists_changed`.
    pub async fn handle(&self, notification: ServerNotification, seq: Option<ProgressSeq>) {
        match notification {
            ServerNotification::ProgressNotification(progress) => {
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
                self.lists_may_have_changed();
            }
            ServerNotification::CustomNotification(custom)
                if custom.method == legacy_tasks::STATUS && custom.params.is_some() =>
            {
                let _ = self.notices.send(Arc::new(Notice::TaskStatus {
                    server: self.server.clone(),
                    task: custom.params.unwrap_or_default(),
                }));
            }
            _ => {}
        }
    }

    /// Which `subscriptions/listen` request the server acknowledged last.
    pub fn acknowledged(&self) -> watch::Receiver<Option<RequestId>> {
        self.acknowledged.subscribe()
    }

    /// A list may have changed without a notification saying so (one was possibly missed).
    pub fn lists_may_have_changed(&self) {
        self.lists_changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// How a session starts: `server/discover` first, and the `initialize` handshake when the
/// server turns out to speak only an older revision (the spec's dual-era client). The
/// newest revision both sides speak is used.
pub fn lifecycle() -> ClientLifecycleMode {
    ClientLifecycleMode::Auto {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
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
