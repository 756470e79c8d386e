//! What every downstream session handler shares: the backend, the lazily rebuilt catalog,
//! the options, the daemon's shutdown token, session numbers, and how many sessions hold
//! each upstream resource subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use super::DownstreamOptions;
use super::backend::Backend;
use super::catalog::{CatalogCache, Route};
use super::continuations::Continuations;
use super::tasks::Tasks;

pub struct Shared {
    pub backend: Arc<dyn Backend>,
    pub catalog: CatalogCache,
    pub options: DownstreamOptions,
    /// Fires when the daemon stops serving; session tasks end with it.
    pub shutdown: CancellationToken,
    /// Upstream calls waiting for a 2026-07-28 client's input.
    pub continuations: Continuations,
    /// The upstreams' tasks clients made here, and whose they are.
    pub tasks: Tasks,
    sessions: AtomicU64,
    /// Upstream subscriptions `(server, URI)` → sessions holding them. A std mutex: a map
    /// update under it, never an await.
    subscribers: Mutex<HashMap<(String, String), usize>>,
}

impl Shared {
    pub fn new(
        backend: Arc<dyn Backend>,
        options: DownstreamOptions,
        shutdown: CancellationToken,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            catalog: CatalogCache::new(backend.clone()),
            backend,
            options,
            shutdown,
            continuations: Continuations::default(),
            tasks: Tasks::default(),
            sessions: AtomicU64::new(0),
            subscribers: Mutex::default(),
        })
    }

    /// A number no other session of this daemon has.
    pub fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }

    /// One more session holds `route`'s subscription; true if it is the first (the upstream
    /// is to be subscribed).
    pub fn hold(&self, route: &Route) -> bool {
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = subscribers
            .entry((route.server.clone(), route.name.clone()))
            .or_insert(0);
        *count += 1;
        *count == 1
    }

    /// One session fewer holds `route`'s subscription; true if it was the last (the upstream
    /// is to be unsubscribed).
    pub fn release(&self, route: &Route) -> bool {
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (route.server.clone(), route.name.clone());
        match subscribers.get_mut(&key) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                subscribers.remove(&key);
                true
            }
            None => false,
        }
    }
}
