//! `Dialer`: the `Connector` the daemon uses — stdio children, streamable HTTP, legacy SSE
//! and `auto`, stdio starts paced by the CPU that is free (`pacer`).

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;

use super::eras::Eras;
use super::notice::{NoticeSender, notice_channel};
use super::pacer::Pacer;
use super::{Connector, Started, UpstreamSession, http, stdio};
use crate::config::{Protocol, ServerConfig};
use crate::contract::Failure;

/// Options of a `Dialer`.
#[derive(Debug, Clone)]
pub struct DialerOptions {
    /// Where stdio servers' stderr goes (`server-<name>/stderr.log`); `None` keeps only the tail.
    pub log_dir: Option<PathBuf>,
}

/// Reaches upstream servers over their configured transport.
pub struct Dialer {
    pacer: Pacer,
    log_dir: Option<PathBuf>,
    notices: NoticeSender,
    eras: Eras,
}

impl Dialer {
    pub fn new(options: DialerOptions) -> Dialer {
        Dialer {
            pacer: Pacer::new(),
            log_dir: options.log_dir,
            notices: notice_channel(),
            eras: Eras::default(),
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
        mut started: Started,
    ) -> BoxFuture<'static, Result<Box<dyn UpstreamSession>, Failure>> {
        let server = server.clone();
        match server.protocol {
            Protocol::Stdio => Box::pin(stdio::connect(
                server,
                init_timeout,
                self.pacer.clone(),
                started,
                self.log_dir.clone(),
                self.notices.clone(),
                self.eras.clone(),
            )),
            Protocol::StreamableHttp | Protocol::Sse | Protocol::Auto => {
                started.fire();
                let (notices, eras) = (self.notices.clone(), self.eras.clone());
                Box::pin(http::connect(server, init_timeout, notices, eras))
            }
        }
    }
}
