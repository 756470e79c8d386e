//! `McpSession`: one initialised rmcp client session, over any transport, as an
//! `UpstreamSession` (requests forwarded with timeout, cancellation and their client's
//! routes, the server's offer, ping, list-changed ticks, end-of-session detection).
//!
//! What `closed()` covers: for stdio, the child's exit or its stdout closing; for SSE, the
//! event stream ending; for streamable HTTP, only the client transport giving up — a
//! killed HTTP server is NOT noticed here (rmcp keeps the session), so the supervisor's
//! pings and call errors are the liveness check there.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CancelledNotification, CancelledNotificationParam, ClientNotification, ClientRequest,
    DiscoverRequest, DiscoverRequestParams, PaginatedRequestParams, PingRequest, ServerResult,
};
use rmcp::service::{
    ClientCacheConfig, PeerRequestOptions, RoleClient, RunningService, ServiceError,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::client::{Inbox, UpstreamClient};
use super::modern::{self, Modern};
use super::offer::{CacheHint, Offer};
use super::process::ChildProcess;
use super::routes::{Origin, Routes};
use super::{CallError, UpstreamSession};
use crate::contract::Transport;
use crate::contract::{Failure, FailureKind};

/// How long `shutdown` lets rmcp close the transport before the process group is killed.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

pub struct McpSession {
    service: RunningService<RoleClient, UpstreamClient>,
    transport: Transport,
    lists_changed: watch::Receiver<u64>,
    routes: Arc<Routes>,
    /// Cancelled when the upstream side of the transport ended.
    transport_closed: CancellationToken,
    /// The child, for stdio sessions.
    process: Option<Arc<ChildProcess>>,
    /// Set when the server speaks 2026-07-28 or newer.
    modern: Option<Modern>,
}

/// What a session is made of once its handshake is done.
pub struct Parts {
    pub service: RunningService<RoleClient, UpstreamClient>,
    pub transport: Transport,
    pub lists_changed: watch::Receiver<u64>,
    pub routes: Arc<Routes>,
    pub transport_closed: CancellationToken,
    pub process: Option<Arc<ChildProcess>>,
    pub inbox: Inbox,
}

impl McpSession {
    /// Whether the server speaks only revisions before 2026-07-28.
    pub fn is_legacy(&self) -> bool {
        self.modern.is_none()
    }

    /// The session of a finished handshake: with a 2026-07-28 server, listening for what it
    /// announces. rmcp's response cache is off: the catalog is the proxy's cache, and it is
    /// rebuilt on every list change.
    pub async fn new(parts: Parts) -> McpSession {
        let peer = parts.service.peer().clone();
        peer.set_response_cache_config(ClientCacheConfig::disabled())
            .await;
        let info = peer.peer_info();
        let modern = match info.filter(|info| modern::is_modern(&info.protocol_version)) {
            Some(info) => Some(Modern::start(peer.clone(), &info.capabilities, parts.inbox).await),
            None => None,
        };
        McpSession {
            service: parts.service,
            transport: parts.transport,
            lists_changed: parts.lists_changed,
            routes: parts.routes,
            transport_closed: parts.transport_closed,
            process: parts.process,
            modern,
        }
    }
}

/// Maps an rmcp error on a forwarded call to a `CallError`.
fn call_error(error: ServiceError, timeout: Duration) -> CallError {
    match error {
        ServiceError::Timeout { .. } => CallError::Timeout(timeout),
        ServiceError::McpError(data) => CallError::Rejected(data),
        ServiceError::Cancelled { .. } => CallError::Cancelled,
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            CallError::Closed(error.to_string())
        }
        other => CallError::Upstream(other.to_string()),
    }
}

/// A server that keeps handing out cursors is listed this far and no further.
const MAX_PAGES: usize = 10_000;

/// Every page of a list, and the hint that holds for all of them (the first page's, narrowed
/// by each next one's).
async fn all_pages<T, F, Fut>(mut page: F) -> Result<(Vec<T>, CacheHint), ServiceError>
where
    F: FnMut(Option<PaginatedRequestParams>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>, CacheHint), ServiceError>>,
{
    let (mut items, mut cursor, mut hints) = page(None).await?;
    for _ in 1..MAX_PAGES {
        let Some(next) = cursor.take() else { break };
        let (more, after, more_hints) = page(Some(
            PaginatedRequestParams::default().with_cursor(Some(next)),
        ))
        .await?;
        items.extend(more);
        hints = hints.and(more_hints);
        cursor = after;
    }
    Ok((items, hints))
}

impl UpstreamSession for McpSession {
    fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid())
    }

    fn transport(&self) -> Transport {
        self.transport
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, Failure>> {
        Box::pin(async move {
            let peer = self.service.peer();
            let failed = |what: &str, error: ServiceError| {
                Failure::new(
                    FailureKind::ProtocolError,
                    format!("{what} failed: {error}"),
                )
            };
            let info = peer.peer_info();
            let capabilities = info
                .as_ref()
                .map(|i| i.capabilities.clone())
                .unwrap_or_default();
            let mut offer = Offer {
                protocol_version: info.as_ref().map(|i| i.protocol_version.to_string()),
                instructions: info.as_ref().and_then(|i| i.instructions.clone()),
                ..Offer::default()
            };
            // A server that declares nothing is asked for its tools all the same (older
            // servers forget the capability); the rest only when declared.
            (offer.tools, offer.hints.tools) = all_pages(|p| async move {
                let page = peer.list_tools(p).await?;
                Ok((
                    page.tools,
                    page.next_cursor,
                    CacheHint::new(page.ttl_ms, page.cache_scope),
                ))
            })
            .await
            .map_err(|e| failed("tools/list", e))?;
            if capabilities.resources.is_some() {
                (offer.resources, offer.hints.resources) = all_pages(|p| async move {
                    let page = peer.list_resources(p).await?;
                    Ok((
                        page.resources,
                        page.next_cursor,
                        CacheHint::new(page.ttl_ms, page.cache_scope),
                    ))
                })
                .await
                .map_err(|e| failed("resources/list", e))?;
                (offer.templates, offer.hints.templates) = all_pages(|p| async move {
                    let page = peer.list_resource_templates(p).await?;
                    let templates = page.resource_templates;
                    Ok((
                        templates,
                        page.next_cursor,
                        CacheHint::new(page.ttl_ms, page.cache_scope),
                    ))
                })
                .await
                .map_err(|e| failed("resources/templates/list", e))?;
            }
            if capabilities.prompts.is_some() {
                (offer.prompts, offer.hints.prompts) = all_pages(|p| async move {
                    let page = peer.list_prompts(p).await?;
                    Ok((
                        page.prompts,
                        page.next_cursor,
                        CacheHint::new(page.ttl_ms, page.cache_scope),
                    ))
                })
                .await
                .map_err(|e| failed("prompts/list", e))?;
            }
            offer.capabilities = capabilities;
            Ok(offer)
        })
    }

    fn request(
        &self,
        request: ClientRequest,
        timeout: Duration,
        cancel: CancellationToken,
        origin: Option<Origin>,
    ) -> BoxFuture<'_, Result<ServerResult, CallError>> {
        Box::pin(async move {
            let mut options = PeerRequestOptions::with_timeout(timeout);
            if let Some(modern) = &self.modern {
                if let Some(answer) = modern.take(&request) {
                    return Ok(answer);
                }
                options = options.with_meta(modern.meta(origin.as_ref()));
            }
            let peer = self.service.peer();
            // Counted as in flight before it is sent: the server may ask back at once.
            let mut flight = origin.map(|origin| self.routes.begin(origin));
            let handle = peer
                .send_request_with_option(request, options)
                .await
                .map_err(|e| call_error(e, timeout))?;
            if let Some(flight) = flight.as_mut() {
                flight.bind(handle.id.clone(), handle.progress_token.clone());
            }
            let id = handle.id.clone();
            let result = tokio::select! {
                // rmcp has already sent `notifications/cancelled` on its own timeout.
                response = handle.await_response() => {
                    // The progress that came before the answer reaches the client before it.
                    if let Some(flight) = &flight {
                        flight.settle().await;
                    }
                    response.map_err(|e| call_error(e, timeout))
                }
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
            };
            drop(flight);
            result
        })
    }

    fn notify(
        &self,
        notification: ClientNotification,
        origin: Option<Origin>,
    ) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // The server may ask for the roots next, outside any call: it is that client's.
            if let (ClientNotification::RootsListChangedNotification(_), Some(origin)) =
                (&notification, origin)
            {
                self.routes.roots_changed(origin);
            }
            let _ = self.service.peer().send_notification(notification).await;
        })
    }

    fn ping(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Failure>> {
        Box::pin(async move {
            let failed = |detail: String| Failure::new(FailureKind::HealthCheck, detail);
            // 2026-07-28 has no `ping`; `server/discover` is its cheapest request.
            let probe = match self.modern {
                Some(_) => {
                    ClientRequest::DiscoverRequest(DiscoverRequest::new(DiscoverRequestParams {}))
                }
                None => ClientRequest::PingRequest(PingRequest::default()),
            };
            let handle = self
                .service
                .peer()
                .send_request_with_option(probe, PeerRequestOptions::with_timeout(timeout))
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

    fn lists_changed(&self) -> watch::Receiver<u64> {
        self.lists_changed.clone()
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
