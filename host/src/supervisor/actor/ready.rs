//! The Ready state of a server's actor: health checks at the (live) interval, crash
//! detection, offer refreshes, and forwarding requests without leaving the loop.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{ClientNotification, ClientRequest, ServerResult};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Actor, Command, Flow, poll_opt};
use crate::contract::Failure;
use crate::contract::Transport;
use crate::status::ConnectionState;
use crate::upstream::{CallError, Offer, Origin, UpstreamSession};

/// Why the Ready loop stopped serving calls.
enum ReadyEvent {
    Failed(Failure, Transport),
    Command(Box<Command>),
    ChannelClosed,
}

impl Actor {
    /// Ready: health checks, crash detection and tool refreshes, until something ends it.
    ///
    /// Calls are served without leaving the inner loop. Anything else that may end the
    /// session (a failure, a command) first leaves the inner scope, so that no clone of the
    /// session is alive here when `teardown` wants it back for a graceful `shutdown`.
    pub(super) async fn ready(&mut self) -> Flow {
        let epoch = self.epoch;
        let mut settings = self.shared.settings.subscribe();
        let mut interval = settings.borrow_and_update().health_check_interval;
        let mut ping_timeout = interval.min(self.init_timeout());
        let mut ticks = health_ticks(interval);
        let Some(mut lists_rx) = self.live.as_ref().map(|l| l.lists_rx.clone()) else {
            // Cannot happen: Ready is only entered with a live session.
            self.enter_idle();
            return Flow::Continue;
        };
        let mut lists_open = true;
        // A change between the first listing and now needs a refresh at once.
        let mut refresh_pending = lists_rx.has_changed().unwrap_or(false);
        if refresh_pending {
            lists_rx.borrow_and_update();
        }

        while epoch == self.epoch {
            let event = {
                let Some(session) = self.live.as_ref().map(|l| l.session.clone()) else {
                    self.enter_idle();
                    return Flow::Continue;
                };
                let transport = session.transport();
                let list = |s: &Arc<Box<dyn UpstreamSession>>| -> BoxFuture<'static, Result<Offer, Failure>> {
                    let s = s.clone();
                    Box::pin(async move { s.offer().await })
                };
                let mut closed: Option<BoxFuture<'static, Failure>> = Some({
                    let s = session.clone();
                    Box::pin(async move { s.closed().await })
                });
                let mut ping: Option<BoxFuture<'static, Result<(), Failure>>> = None;
                let mut refresh = refresh_pending.then(|| list(&session));
                loop {
                    tokio::select! {
                        failure = poll_opt(&mut closed) => {
                            break ReadyEvent::Failed(failure, transport);
                        }
                        Ok(()) = settings.changed() => {
                            // A new interval counts from now; a ping under way finishes.
                            let new = settings.borrow_and_update().health_check_interval;
                            if new != interval {
                                interval = new;
                                ticks = health_ticks(interval);
                            }
                            ping_timeout = interval.min(self.init_timeout());
                        }
                        _ = next_tick(&mut ticks), if ping.is_none() => {
                            let s = session.clone();
                            ping = Some(Box::pin(async move { s.ping(ping_timeout).await }));
                        }
                        result = poll_opt(&mut ping) => {
                            ping = None;
                            if let Err(failure) = result {
                                break ReadyEvent::Failed(failure, transport);
                            }
                        }
                        // Not while a refresh runs: a change that arrives then is seen when
                        // it ends (below), not marked seen and lost.
                        changed = lists_rx.changed(), if lists_open && refresh.is_none() => {
                            if changed.is_err() {
                                lists_open = false;
                            } else {
                                refresh = Some(list(&session));
                            }
                        }
                        result = poll_opt(&mut refresh) => {
                            refresh = None;
                            match result {
                                Ok(offer) => {
                                    self.offer = Arc::new(offer);
                                    self.review_tools();
                                    self.publish();
                                }
                                Err(failure) => {
                                    tracing::warn!(server = %self.config.name, %failure, "offer refresh failed");
                                }
                            }
                            // A change that arrived during the refresh needs another one.
                            if lists_rx.has_changed().unwrap_or(false) {
                                lists_rx.borrow_and_update();
                                refresh = Some(list(&session));
                            }
                        }
                        cmd = self.rx.recv() => match cmd {
                            None => break ReadyEvent::ChannelClosed,
                            Some(Command::Forward { call, cancel, reply }) => {
                                self.forward(call.message, call.origin, cancel, reply);
                            }
                            Some(Command::Notify { call }) => {
                                self.notify(call.message, call.origin);
                            }
                            Some(other) => {
                                refresh_pending = refresh.is_some();
                                break ReadyEvent::Command(Box::new(other));
                            }
                        }
                    }
                }
            };
            match event {
                ReadyEvent::Failed(failure, transport) => self.on_failure(failure, transport).await,
                ReadyEvent::Command(cmd) => {
                    if let Flow::Exit = self.handle(*cmd).await {
                        return Flow::Exit;
                    }
                }
                ReadyEvent::ChannelClosed => {
                    self.teardown(true, "the server was stopped").await;
                    return Flow::Exit;
                }
            }
        }
        Flow::Continue
    }

    pub(super) fn forward(
        &mut self,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
        reply: oneshot::Sender<Result<ServerResult, CallError>>,
    ) {
        if self.withheld() {
            let _ = reply.send(Err(CallError::NotAvailable(format!(
                "server {0} is quarantined: nothing of it is shown or called until a user \
                 approves it (`mcpproxy upstream approve {0}`)",
                self.config.name
            ))));
            return;
        }
        if let ClientRequest::CallToolRequest(call) = &request
            && let Some(reason) = self.reviewed.hidden.get(call.params.name.as_ref())
        {
            let _ = reply.send(Err(CallError::NotAvailable(format!(
                "tool {} of server {} is hidden: {reason}",
                call.params.name, self.config.name
            ))));
            return;
        }
        if let ClientRequest::CallToolRequest(call) = &request
            && !self.config.exposes(&call.params.name)
        {
            let _ = reply.send(Err(CallError::NotAvailable(format!(
                "tool {} of server {} is hidden by its enabled_tools/disabled_tools",
                call.params.name, self.config.name
            ))));
            return;
        }
        let Some(live) = self
            .live
            .as_ref()
            .filter(|_| self.state == ConnectionState::Ready)
        else {
            let _ = reply.send(Err(CallError::NotAvailable(format!(
                "server {} is {}",
                self.config.name,
                self.state.as_str()
            ))));
            return;
        };
        let way = live.way();
        let timeout = self.shared.settings().call_tool_timeout;
        let secrets = self.config.secrets.clone();
        let call = async move {
            let result = way
                .forward(request, origin, cancel, timeout, &secrets)
                .await;
            let _ = reply.send(result);
        };
        tokio::spawn(live.calls.track_future(call));
    }

    /// Passes `notification` to the server while Ready; otherwise there is no one to tell.
    pub(super) fn notify(&mut self, notification: ClientNotification, origin: Option<Origin>) {
        let Some(live) = self
            .live
            .as_ref()
            .filter(|_| self.state == ConnectionState::Ready)
        else {
            return;
        };
        let session = live.session.clone();
        tokio::spawn(live.calls.track_future(async move {
            session.notify(notification, origin).await;
        }));
    }
}

/// Health-check ticks every `interval`, the first one `interval` from now; none when the
/// interval is 0 (health checks off).
fn health_ticks(interval: Duration) -> Option<tokio::time::Interval> {
    if interval.is_zero() {
        return None;
    }
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    Some(ticks)
}

/// The next health-check tick; never, with health checks off.
async fn next_tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}
