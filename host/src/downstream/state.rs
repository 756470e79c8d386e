//! What every downstream session handler shares: the backend, the lazily rebuilt tool
//! catalog, the options and the daemon's shutdown token.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::DownstreamOptions;
use super::backend::Backend;
use super::catalog::CatalogCache;

pub struct Shared {
    pub backend: Arc<dyn Backend>,
    pub catalog: CatalogCache,
    pub options: DownstreamOptions,
    /// Fires when the daemon stops serving; session tasks end with it.
    pub shutdown: CancellationToken,
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
        })
    }
}
