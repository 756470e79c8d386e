//! Which downstream client an upstream's own messages belong to.
//!
//! A request forwarded for a client carries its `Origin`: the downstream session, its peer,
//! the request's id there and the client's progress token. While it is in flight, the
//! upstream session's `Routes` map the request id and progress token rmcp chose upstream back
//! to that origin, so that:
//! - a progress notification goes back to the origin under the client's own token, in the
//!   order it arrived (the transport numbers them, `ProgressSeq`) and before the call's answer;
//! - a server→client request (sampling, elicitation, roots) goes to the origin's client. Over
//!   streamable HTTP the upstream says which request it belongs to (SEP-2260: the POST stream
//!   it came on); over stdio and SSE nothing does, so it goes to the one downstream session
//!   with requests in flight there, and is refused when there are several: the proxy never
//!   guesses and never answers for a client. With none in flight, a `roots/list` goes to the
//!   client that last said its roots changed (the reason servers ask outside a call); any
//!   other request is refused.
//!
//! A plain `Mutex`: every critical section is a few map operations, never held across an
//! await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rmcp::Peer;
use rmcp::RoleServer;
use rmcp::model::{ClientCapabilities, ProgressToken, RequestId};
use tokio::sync::Notify;

use super::ask::AskSender;

/// How long a notification or request whose route is not bound yet waits for it: rmcp hands
/// back the upstream id only after sending, and a fast upstream may answer before that.
const BIND_WAIT: Duration = Duration::from_millis(200);

/// How long a progress notification waits for the ones before it, and a call's answer for
/// its progress: only reached if a handler task is lost, so that nothing waits forever.
const ORDER_WAIT: Duration = Duration::from_secs(2);

/// A progress notification's place among those for its token, counted as they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSeq(pub u64);

/// The downstream request a forwarded request was made for.
#[derive(Clone)]
pub struct Origin {
    /// Distinct per downstream session (one handler each).
    pub session: u64,
    pub peer: Peer<RoleServer>,
    /// The client's request, when the origin is one (not a notification).
    pub request_id: Option<RequestId>,
    /// The client's own progress token, when it asked for progress.
    pub progress_token: Option<ProgressToken>,
    /// What the client declared: in its session (legacy revisions) or in this request's
    /// `_meta` (2026-07-28). The upstream's requests are checked against it, and a 2026-07-28
    /// upstream is told it with each request.
    pub capabilities: ClientCapabilities,
    /// Set for a client that takes the upstream's requests as an `InputRequiredResult` (a
    /// 2026-07-28 client): they go here instead of to `peer`.
    pub asks: Option<AskSender>,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("session", &self.session)
            .field("request_id", &self.request_id)
            .field("progress_token", &self.progress_token)
            .field("asks", &self.asks.is_some())
            .finish()
    }
}

/// Why a server→client request could not be given to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unroutable {
    #[error("no client request is in flight on this server, so no client can answer")]
    NoClient,
    #[error(
        "requests of {0} client sessions are in flight on this server and the transport does not say which one this is for"
    )]
    Ambiguous(usize),
}

#[derive(Default)]
struct Table {
    by_request: HashMap<RequestId, Arc<Origin>>,
    by_progress: HashMap<ProgressToken, Route>,
    /// Per upstream token: progress notifications arrived, and passed on (or dropped).
    progress_order: HashMap<ProgressToken, (u64, u64)>,
    /// Downstream session → (requests in flight, the latest origin).
    sessions: HashMap<u64, (usize, Arc<Origin>)>,
    /// The client that last sent `roots/list_changed` here.
    roots_changed_by: Option<Arc<Origin>>,
}

struct Route {
    origin: Arc<Origin>,
    token: ProgressToken,
}

/// The routes of one upstream session.
#[derive(Default)]
pub struct Routes {
    table: Mutex<Table>,
    bound: Notify,
    /// Fires when a progress notification has been passed on.
    passed: Notify,
}

impl Routes {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before sending: counts the origin's session as in flight. Dropping the `Flight` (the
    /// request answered, failed or given up) removes every route it added.
    pub fn begin(self: &Arc<Self>, origin: Origin) -> Flight {
        let origin = Arc::new(origin);
        let mut table = self.lock();
        let entry = table
            .sessions
            .entry(origin.session)
            .or_insert_with(|| (0, origin.clone()));
        entry.0 += 1;
        entry.1 = origin.clone();
        Flight {
            routes: self.clone(),
            origin,
            bound: None,
        }
    }

    /// From the transport, as messages arrive one by one: the next place for `token`.
    pub fn progress_arrived(&self, token: &ProgressToken) -> ProgressSeq {
        let mut table = self.lock();
        let order = table.progress_order.entry(token.clone()).or_insert((0, 0));
        order.0 += 1;
        ProgressSeq(order.0 - 1)
    }

    /// Waits until every progress notification for `token` before `seq` has been passed on,
    /// then says where this one goes: the client's peer and token, if a call of a client's
    /// has `token`. Call `progress_passed` after passing it on (or not).
    pub async fn progress_target(
        &self,
        token: &ProgressToken,
        seq: Option<ProgressSeq>,
    ) -> Option<(Arc<Origin>, ProgressToken)> {
        if let Some(ProgressSeq(seq)) = seq {
            let turn = || {
                let table = self.lock();
                let passed = table.progress_order.get(token).map_or(0, |o| o.1);
                (passed >= seq).then_some(())
            };
            let _ = tokio::time::timeout(ORDER_WAIT, self.wait_passed(turn)).await;
        }
        let find = || {
            let table = self.lock();
            let route = table.by_progress.get(token)?;
            Some((route.origin.clone(), route.token.clone()))
        };
        self.wait_for(find).await
    }

    /// One more progress notification for `token` has been passed on.
    pub fn progress_passed(&self, token: &ProgressToken) {
        let mut table = self.lock();
        if let Some(order) = table.progress_order.get_mut(token) {
            order.1 += 1;
            // Progress of no call in flight (late, or for a request made for no client):
            // nothing will wait for it.
            if order.1 >= order.0 && !table.by_progress.contains_key(token) {
                table.progress_order.remove(token);
            }
        }
        drop(table);
        self.passed.notify_waiters();
    }

    /// Waits until every progress notification that arrived for `token` has been passed on.
    async fn progress_settled(&self, token: &ProgressToken) {
        let settled = || {
            let table = self.lock();
            let (arrived, passed) = table.progress_order.get(token).copied().unwrap_or((0, 0));
            (passed >= arrived).then_some(())
        };
        let _ = tokio::time::timeout(ORDER_WAIT, self.wait_passed(settled)).await;
    }

    async fn wait_passed(&self, done: impl Fn() -> Option<()>) {
        loop {
            let passed = self.passed.notified();
            if done().is_some() {
                return;
            }
            passed.await;
        }
    }

    /// `origin`'s client said its roots changed (and this server was told).
    pub fn roots_changed(&self, origin: Origin) {
        self.lock().roots_changed_by = Some(Arc::new(origin));
    }

    /// The client a server→client request goes to: the origin of `related` (the upstream
    /// request it says it belongs to), else the one session with requests in flight, else,
    /// for `roots/list`, the client that last said its roots changed.
    pub async fn request_target(
        &self,
        related: Option<&RequestId>,
        roots: bool,
    ) -> Result<Arc<Origin>, Unroutable> {
        if let Some(id) = related {
            let find = || self.lock().by_request.get(id).cloned();
            if let Some(origin) = self.wait_for(find).await {
                return Ok(origin);
            }
        }
        let table = self.lock();
        let mut sessions = table.sessions.values();
        match (sessions.next(), table.sessions.len()) {
            (Some((_, origin)), 1) => Ok(origin.clone()),
            (None, _) => match (&table.roots_changed_by, roots) {
                (Some(origin), true) => Ok(origin.clone()),
                _ => Err(Unroutable::NoClient),
            },
            (_, n) => Err(Unroutable::Ambiguous(n)),
        }
    }

    /// `find`, and if it finds nothing, again after each bind until `BIND_WAIT` has passed.
    async fn wait_for<T>(&self, find: impl Fn() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + BIND_WAIT;
        loop {
            let bound = self.bound.notified();
            if let Some(found) = find() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, bound).await.is_err() {
                return None;
            }
        }
    }
}

/// One forwarded request in flight.
pub struct Flight {
    routes: Arc<Routes>,
    origin: Arc<Origin>,
    bound: Option<(RequestId, ProgressToken)>,
}

impl Flight {
    /// After sending: the upstream request id and progress token rmcp chose.
    pub fn bind(&mut self, request_id: RequestId, progress_token: ProgressToken) {
        {
            let mut table = self.routes.lock();
            table
                .by_request
                .insert(request_id.clone(), self.origin.clone());
            if let Some(token) = self.origin.progress_token.clone() {
                table.by_progress.insert(
                    progress_token.clone(),
                    Route {
                        origin: self.origin.clone(),
                        token,
                    },
                );
            }
        }
        self.bound = Some((request_id, progress_token));
        self.routes.bound.notify_waiters();
    }

    /// Before the call's answer goes back: its progress has all been passed on.
    pub async fn settle(&self) {
        if let (Some((_, token)), Some(_)) = (&self.bound, &self.origin.progress_token) {
            self.routes.progress_settled(token).await;
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut table = self.routes.lock();
        if let Some((id, token)) = self.bound.take() {
            table.by_request.remove(&id);
            table.by_progress.remove(&token);
            table.progress_order.remove(&token);
        }
        let session = self.origin.session;
        if let Some(entry) = table.sessions.get_mut(&session) {
            entry.0 -= 1;
            if entry.0 == 0 {
                table.sessions.remove(&session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use rmcp::model::NumberOrString;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn progress_is_passed_on_in_the_order_it_arrived() {
        let routes = Arc::new(Routes::default());
        let token = ProgressToken(NumberOrString::Number(7));
        let places: Vec<ProgressSeq> = (0..5).map(|_| routes.progress_arrived(&token)).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        // rmcp's handler tasks may run in any order: here, the worst one.
        let handlers: Vec<_> = places
            .into_iter()
            .rev()
            .map(|seq| {
                let (routes, order, token) = (routes.clone(), order.clone(), token.clone());
                tokio::spawn(async move {
                    let _ = routes.progress_target(&token, Some(seq)).await;
                    order.lock().unwrap().push(seq.0);
                    routes.progress_passed(&token);
                })
            })
            .collect();
        for handler in handlers {
            handler.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
        // Nothing is kept for a token no call has.
        assert!(routes.lock().progress_order.is_empty());
    }
}
