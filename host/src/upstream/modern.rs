//! A 2026-07-28 upstream, spoken to in its own revision while the rest of the daemon keeps
//! one model of a server.
//!
//! Such a server has no session-wide state: it sends list changes and resource updates only
//! on a `subscriptions/listen` stream, takes the client's capabilities and log level with
//! each request (`_meta`), and no longer knows `resources/subscribe`, `logging/setLevel` or
//! `ping`. Here a subscription becomes a URI in the listen filter, a level is remembered and
//! sent along, and the health check asks `server/discover`. The listen stream is reopened
//! whenever the filter changes or the server ends it.

// Logging and resources/subscribe are legacy-only in 2026-07-28 (SEP-2577); the 2025-11-25
// clients proxied here still use them.
#![allow(deprecated)]

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rmcp::Peer;
use rmcp::model::{
    ClientRequest, EmptyResult, ErrorCode, LoggingLevel, ProtocolVersion, RequestId,
    RequestMetaObject, ServerCapabilities, ServerResult, SubscriptionFilter,
    SubscriptionsListenRequest, SubscriptionsListenRequestParams,
};
use rmcp::service::{PeerRequestOptions, RoleClient, ServiceError};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::client::Inbox;
use super::routes::Origin;

/// How long a new session waits for its listen stream to open before it lists anything (a
/// change between the two would be missed).
const FIRST_LISTEN_WAIT: Duration = Duration::from_secs(2);

/// How long to wait before reopening a listen stream the server refused or ended; doubled on
/// each failure in a row, up to `RELISTEN_PAUSE_MAX`.
const RELISTEN_PAUSE: Duration = Duration::from_secs(1);
const RELISTEN_PAUSE_MAX: Duration = Duration::from_secs(60);

/// Whether a session negotiated 2026-07-28 or newer.
pub fn is_modern(version: &ProtocolVersion) -> bool {
    // ISO dates compare as strings.
    version.as_str() >= ProtocolVersion::V_2026_07_28.as_str()
}

/// The modern-only state of one upstream session.
pub struct Modern {
    /// The resource URIs clients subscribed to (the downstream side counts subscribers and
    /// subscribes once per URI).
    uris: Mutex<BTreeSet<String>>,
    filter: watch::Sender<SubscriptionFilter>,
    /// The last `logging/setLevel`, sent with every request from then on.
    level: Mutex<Option<LoggingLevel>>,
    _stop: DropGuard,
}

impl Modern {
    /// Starts listening for what `capabilities` says the server can announce, until the
    /// returned value is dropped; returns once the stream is open (or refused, or after
    /// `FIRST_LISTEN_WAIT`), so that the lists read next miss no change.
    pub async fn start(
        peer: Peer<RoleClient>,
        capabilities: &ServerCapabilities,
        inbox: Inbox,
    ) -> Modern {
        let base = base_filter(capabilities);
        let (filter, changes) = watch::channel(base);
        let stop = CancellationToken::new();
        let (opened, first) = oneshot::channel();
        tokio::spawn(listen(peer, changes, inbox, stop.clone(), opened));
        let _ = tokio::time::timeout(FIRST_LISTEN_WAIT, first).await;
        Modern {
            uris: Mutex::default(),
            filter,
            level: Mutex::default(),
            _stop: stop.drop_guard(),
        }
    }

    /// The answer to a request that a 2026-07-28 server no longer takes, taken here instead:
    /// `resources/subscribe` and `unsubscribe` change the listen filter, `logging/setLevel`
    /// the level sent with requests. `None`: forward the request.
    pub fn take(&self, request: &ClientRequest) -> Option<ServerResult> {
        match request {
            ClientRequest::SubscribeRequest(r) => self.subscriptions(|uris| {
                uris.insert(r.params.uri.clone());
            }),
            ClientRequest::UnsubscribeRequest(r) => self.subscriptions(|uris| {
                uris.remove(&r.params.uri);
            }),
            ClientRequest::SetLevelRequest(r) => {
                *self.level.lock().unwrap_or_else(PoisonError::into_inner) = Some(r.params.level);
            }
            _ => return None,
        }
        Some(ServerResult::EmptyResult(EmptyResult {}))
    }

    fn subscriptions(&self, change: impl FnOnce(&mut BTreeSet<String>)) {
        let mut uris = self.uris.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut uris);
        let list: Vec<String> = uris.iter().cloned().collect();
        self.filter.send_modify(|filter| {
            filter.resource_subscriptions = (!list.is_empty()).then_some(list);
        });
    }

    /// The `_meta` a request made for `origin` carries: that client's capabilities (so the
    /// server asks it only for what it can answer) and the log level.
    pub fn meta(&self, origin: Option<&Origin>) -> RequestMetaObject {
        let mut meta = RequestMetaObject::default();
        if let Some(origin) = origin {
            meta.set_client_capabilities(origin.capabilities.clone());
        }
        if let Some(level) = *self.level.lock().unwrap_or_else(PoisonError::into_inner) {
            meta.set_log_level(level);
        }
        meta
    }
}

/// The list changes `capabilities` says the server announces.
fn base_filter(capabilities: &ServerCapabilities) -> SubscriptionFilter {
    let mut filter = SubscriptionFilter::new();
    let changes = |flag: Option<bool>| flag.unwrap_or(false).then_some(true);
    if let Some(tools) = &capabilities.tools {
        filter.tools_list_changed = changes(tools.list_changed);
    }
    if let Some(prompts) = &capabilities.prompts {
        filter.prompts_list_changed = changes(prompts.list_changed);
    }
    if let Some(resources) = &capabilities.resources {
        filter.resources_list_changed = changes(resources.list_changed);
    }
    filter
}

fn is_empty(filter: &SubscriptionFilter) -> bool {
    filter == &SubscriptionFilter::new()
}

/// Keeps one listen stream open with the current filter; what arrives on it reaches `inbox`
/// through the session's handler. A reopened stream (new filter, or the server ended the
/// last one) may have missed a list change, so the lists are looked at again.
///
/// The stream is a plain request whose notifications the session's handler takes, not rmcp's
/// `Subscription`: that one buffers its notifications in a channel of its own, whose first
/// block (32 slots) cost ~13 KiB per server, 9 MiB at 700 Ready servers.
async fn listen(
    peer: Peer<RoleClient>,
    mut changes: watch::Receiver<SubscriptionFilter>,
    inbox: Inbox,
    stop: CancellationToken,
    opened: oneshot::Sender<()>,
) {
    // Dropped (the session goes on) on the first outcome: open, refused or failed.
    let mut opened = Some(opened);
    let mut acknowledged = inbox.acknowledged();
    let mut reopened = false;
    let mut pause = RELISTEN_PAUSE;
    loop {
        let filter = changes.borrow_and_update().clone();
        if is_empty(&filter) {
            opened.take();
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
            continue;
        }
        let request = ClientRequest::SubscriptionsListenRequest(SubscriptionsListenRequest::new(
            SubscriptionsListenRequestParams::new(filter),
        ));
        // Boxed, as the other futures awaited only briefly below: the task waits in its inner
        // loop for hours, and its size is that of its largest await.
        let sent =
            Box::pin(peer.send_request_with_option(request, PeerRequestOptions::no_options()));
        let mut handle = match sent.await {
            Ok(handle) => handle,
            Err(error) => {
                opened.take();
                tracing::debug!(%error, ?pause, "subscriptions/listen not sent; trying again");
                if !paused(&stop, &mut pause).await {
                    return;
                }
                continue;
            }
        };
        let id = handle.id.clone();
        let mut open = false;
        let reopen = loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    let _ = Box::pin(handle.cancel(None)).await;
                    return;
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let _ = Box::pin(handle.cancel(Some("new filter".into()))).await;
                    break true;
                }
                acked = acknowledged_as(&mut acknowledged, &id), if !open => {
                    if !acked {
                        return;
                    }
                    open = true;
                    opened.take();
                    if reopened {
                        inbox.lists_may_have_changed();
                    }
                    reopened = true;
                    pause = RELISTEN_PAUSE;
                }
                // The stream's only answer comes when it ends.
                ended = &mut handle.rx => {
                    opened.take();
                    if let Ok(Err(ServiceError::McpError(error))) = &ended
                        && error.code == ErrorCode::METHOD_NOT_FOUND
                    {
                        // A server without `subscriptions/listen` announces nothing.
                        tracing::debug!(%error.message, "the server has no subscriptions/listen");
                        return;
                    }
                    break false;
                }
            }
        };
        if !reopen && !paused(&stop, &mut pause).await {
            return;
        }
    }
}

/// Waits until the server acknowledges listen request `id`; false if the session is gone.
async fn acknowledged_as(
    acknowledged: &mut watch::Receiver<Option<RequestId>>,
    id: &RequestId,
) -> bool {
    acknowledged
        .wait_for(|ack| ack.as_ref() == Some(id))
        .await
        .is_ok()
}

/// Waits `pause` (then doubles it, up to the maximum); false if `stop` fired first.
async fn paused(stop: &CancellationToken, pause: &mut Duration) -> bool {
    let wait = *pause;
    *pause = (*pause * 2).min(RELISTEN_PAUSE_MAX);
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}
