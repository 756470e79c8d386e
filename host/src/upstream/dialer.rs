//! `Dialer`: the `Connector` the daemon uses — stdio children, streamable HTTP, legacy SSE
//! and `auto`, with a spawn-concurrency limit that is held only while spawning.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use super::notice::{NoticeSender, notice_channel};
use super::{Connector, UpstreamSession, http, stdio};
use crate::config::{Protocol, ServerConfig};
use crate::contract::Failure;

/// Options of a `Dialer`.
#[derive(Debug, Clone)]
pub struct DialerOptions {
    /// Processes being spawned at once (at least 1). Never held during a handshake.
    pub spawn_concurrency: usize,
    /// Where stdio servers' stderr goes (`server-<name>.log`); `None` keeps only the tail.
    pub log_dir: Option<PathBuf>,
}

/// Reaches upstream servers over their configured transport.
pub struct Dialer {
    spawn_slots: Arc<Semaphore>,
    log_dir: Option<PathBuf>,
    notices: NoticeSender,
}

impl Dialer {
    pub fn new(options: DialerOptions) -> Dialer {
        Dialer {
            spawn_slots: Arc::new(Semaphore::new(options.spawn_concurrency.max(1))),
            log_dir: options.log_dir,
            notices: notice_channel(),
        }
    }

    /// Where every session's log messages and resource updates go.
    pub fn notices(&self) -> NoticeSender {
        self.notices.clone()
    }
}

impl Connector for Dialer {
    fn connect(
        &self,
        server: &ServerConfig,
        init_timeout: Duration,
    ) -> BoxFuture<'static, Result<Box<dyn UpstreamSession>, Failure>> {
        let server = server.clone();
        match server.protocol {
            Protocol::Stdio => Box::pin(stdio::connect(
                server,
                init_timeout,
                self.spawn_slots.clone(),
                self.log_dir.clone(),
                self.notices.clone(),
            )),
            Protocol::StreamableHttp | Protocol::Sse | Protocol::Auto => {
                Box::pin(http::connect(server, init_timeout, self.notices.clone()))
            }
        }
    }
}
