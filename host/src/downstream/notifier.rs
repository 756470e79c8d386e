//! One session's notifier: a task from `notifications/initialized` until the session closes
//! or the daemon stops (or, for a 2026-07-28 client, one `subscriptions/listen` stream while
//! it is open). It tells the client which of its lists changed (tools, resources, prompts:
//! each only when it did) and passes on what the client asked for of the upstreams' notices:
//! log messages at or above its level (all of them before it set one), named after their
//! server, and updates of the resources it subscribed to. A listen stream carries no log
//! messages: 2026-07-28 sends them only with the request that asked for them.
//!
//! It looks at the lists at most once per `LOOK_EVERY`: each look may rebuild the catalog,
//! and a thousand servers starting change it hundreds of times a second.

// Logging and resources/subscribe are legacy-only in 2026-07-28 (SEP-2577); the 2025-11-25
// servers and clients proxied here still use them.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rmcp::model::{
    CustomNotification, LoggingLevel, LoggingMessageNotificationParam,
    ResourceUpdatedNotificationParam, ServerNotification,
};
use rmcp::service::{Peer, RoleServer, SubscriptionSink};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::catalog::{Catalog, Route, Scope, View};
use super::list_changed::Lists;
use super::state::Shared;
use super::tasks;
use crate::legacy_tasks;
use crate::upstream::Notice;

/// At most one look at the lists per this interval; the first change after a quiet spell is
/// told at once.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// What a session asked for. A std mutex each: an update under it, never an await.
pub struct SessionWants {
    level: Mutex<Option<LoggingLevel>>,
    /// Downstream URI → where it is subscribed upstream.
    subscriptions: Mutex<HashMap<String, Route>>,
    /// Subscribed with the handler, taken by the notifier when it starts.
    notices: Mutex<Option<broadcast::Receiver<Arc<Notice>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SessionWants {
    pub fn new(notices: broadcast::Receiver<Arc<Notice>>) -> SessionWants {
        SessionWants {
            level: Mutex::new(None),
            subscriptions: Mutex::default(),
            notices: Mutex::new(Some(notices)),
        }
    }

    pub fn set_level(&self, level: LoggingLevel) {
        *lock(&self.level) = Some(level);
    }

    /// Whether a message at `level` is for this session.
    pub fn wants_log(&self, level: LoggingLevel) -> bool {
        lock(&self.level).is_none_or(|least| severity(level) >= severity(least))
    }

    /// Records a subscription to `uri`; false if the session had it already.
    pub fn subscribe(&self, uri: &str, route: &Route) -> bool {
        lock(&self.subscriptions)
            .insert(uri.to_string(), route.clone())
            .is_none()
    }

    /// Ends the subscription to `uri`, returning where it was held.
    pub fn unsubscribe(&self, uri: &str) -> Option<Route> {
        lock(&self.subscriptions).remove(uri)
    }

    pub fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).contains_key(uri)
    }

    pub fn subscriptions(&self) -> HashMap<String, Route> {
        lock(&self.subscriptions).clone()
    }

    fn take_notices(&self) -> Option<broadcast::Receiver<Arc<Notice>>> {
        lock(&self.notices).take()
    }
}

/// `LoggingLevel` by severity, lowest first.
pub fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

pub struct Notifier {
    pub shared: Arc<Shared>,
    /// The session it serves (`Shared::next_session`).
    pub session: u64,
    /// What the session's opener sees: the lists it is told of, the servers it hears.
    pub view: View,
    /// The lists whose changes this endpoint tells.
    pub lists: Lists,
    pub changes: watch::Receiver<u64>,
    pub wants: Arc<SessionWants>,
    pub stop: CancellationToken,
    pub outlet: Outlet,
}

/// Where a notifier's notifications go.
pub enum Outlet {
    /// A session's client (2025-11-25 and before).
    Session(Peer<RoleServer>),
    /// One `subscriptions/listen` stream (2026-07-28), which carries what it accepted.
    Subscription(SubscriptionSink),
}

impl Outlet {
    async fn tools_changed(&self) -> bool {
        match self {
            Outlet::Session(peer) => peer.notify_tool_list_changed().await.is_ok(),
            Outlet::Subscription(sink) => sink.notify_tool_list_changed().await.is_ok(),
        }
    }

    async fn resources_changed(&self) -> bool {
        match self {
            Outlet::Session(peer) => peer.notify_resource_list_changed().await.is_ok(),
            Outlet::Subscription(sink) => sink.notify_resource_list_changed().await.is_ok(),
        }
    }

    async fn prompts_changed(&self) -> bool {
        match self {
            Outlet::Session(peer) => peer.notify_prompt_list_changed().await.is_ok(),
            Outlet::Subscription(sink) => sink.notify_prompt_list_changed().await.is_ok(),
        }
    }

    async fn resource_updated(&self, uri: String) -> bool {
        match self {
            Outlet::Session(peer) => {
                let params = ResourceUpdatedNotificationParam::new(uri);
                peer.notify_resource_updated(params).await.is_ok()
            }
            Outlet::Subscription(sink) => sink.notify_resource_updated(uri).await.is_ok(),
        }
    }

    /// A 2025-11-25 task's status; a listen stream (2026-07-28) has none of these.
    async fn task_status(&self, task: serde_json::Value) -> bool {
        match self {
            Outlet::Session(peer) => {
                let status = CustomNotification::new(legacy_tasks::STATUS, Some(task));
                let notification = ServerNotification::CustomNotification(status);
                peer.send_notification(notification).await.is_ok()
            }
            Outlet::Subscription(_) => true,
        }
    }

    async fn log(&self, params: LoggingMessageNotificationParam) -> bool {
        match self {
            Outlet::Session(peer) => peer.notify_logging_message(params).await.is_ok(),
            Outlet::Subscription(_) => true,
        }
    }
}

pub fn spawn(notifier: Notifier) {
    tokio::spawn(notifier.run());
}

impl Notifier {
    /// Runs until the client is gone or `stop` fires.
    pub async fn run(mut self) {
        let mut notices = self.wants.take_notices();
        let mut last = self.shared.catalog.get(&self.view);
        // A change before now may have fallen between the client's listing and `last`: tell
        // it about every list (at worst it lists once more).
        if self.changes.has_changed().unwrap_or(false) {
            self.changes.borrow_and_update();
            if !self.tell(self.lists).await {
                return;
            }
        }
        let mut looked: Option<Instant> = None;
        // When a change waits for its look.
        let mut due: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                changed = self.changes.changed(), if due.is_none() => {
                    if changed.is_err() {
                        return;
                    }
                    due = Some(looked.map_or_else(Instant::now, |at| at + LOOK_EVERY));
                }
                () = sleep_until(due) => {
                    due = None;
                    looked = Some(Instant::now());
                    self.changes.borrow_and_update();
                    let now = self.shared.catalog.get(&self.view);
                    let which = self.lists.and(Lists::changed(&last, &now));
                    last = now;
                    if !self.tell(which).await {
                        return;
                    }
                }
                notice = recv(&mut notices) => match notice {
                    Ok(notice) => {
                        if !self.deliver(&last, &notice).await {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(lost)) => {
                        tracing::warn!(lost, "a slow client session missed upstream notices");
                    }
                    Err(RecvError::Closed) => notices = None,
                },
            }
        }
    }

    /// Sends the list-changed notifications of `lists`; false once the client is gone.
    async fn tell(&self, lists: Lists) -> bool {
        let outlet = &self.outlet;
        (!lists.tools || outlet.tools_changed().await)
            && (!lists.resources || outlet.resources_changed().await)
            && (!lists.prompts || outlet.prompts_changed().await)
    }

    /// Passes `notice` on if this session asked for it; false once the client is gone.
    async fn deliver(&self, catalog: &Catalog, notice: &Notice) -> bool {
        match notice {
            Notice::Log { server, params } => {
                if !catalog.shows(server) || !self.wants.wants_log(params.level) {
                    return true;
                }
                let mut params = params.clone();
                if self.view.scope == Scope::All {
                    params.logger = Some(match params.logger.take() {
                        Some(logger) => format!("{server}:{logger}"),
                        None => server.clone(),
                    });
                }
                self.outlet.log(params).await
            }
            Notice::ResourceUpdated { server, uri } => {
                if !catalog.shows(server) {
                    return true;
                }
                let shown = catalog.downstream_uri(server, uri);
                if !self.wants.is_subscribed(&shown) {
                    return true;
                }
                self.outlet.resource_updated(shown).await
            }
            Notice::TaskStatus { server, task } => {
                let id = task.get("taskId").and_then(|id| id.as_str());
                let made_here = id.is_some_and(|id| {
                    self.shared.tasks.session_of(server, id) == Some(self.session)
                });
                if !made_here {
                    return true;
                }
                let mut task = task.clone();
                let shown = tasks::shown(&self.view.scope, server, id.unwrap_or_default());
                task["taskId"] = serde_json::Value::String(shown);
                self.outlet.task_status(task).await
            }
        }
    }
}

/// Until `due`, or never.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

async fn recv(
    notices: &mut Option<broadcast::Receiver<Arc<Notice>>>,
) -> Result<Arc<Notice>, RecvError> {
    match notices {
        Some(notices) => notices.recv().await,
        None => std::future::pending().await,
    }
}
