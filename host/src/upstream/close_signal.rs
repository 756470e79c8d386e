//! A transport wrapper that reports when the upstream closed the connection, and numbers
//! progress notifications in the order they arrive.
//!
//! rmcp's `RunningService` offers no way to await the end of a session without consuming
//! it; the session's `closed()` needs one. And rmcp handles each notification in a task of
//! its own, so a call's progress could reach the client out of order or after the call's
//! answer; here, where messages still come one by one, each progress notification gets its
//! place (`routes::ProgressSeq`, never on the wire). Nothing else it carries changes.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{JsonRpcMessage, ServerNotification};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio_util::sync::CancellationToken;

use super::routes::Routes;

pub struct CloseSignalled<T> {
    inner: T,
    closed: CancellationToken,
    routes: Arc<Routes>,
}

impl<T> CloseSignalled<T> {
    /// `closed` is cancelled when the upstream side ends (end of stream); progress is
    /// numbered in `routes`.
    pub fn new(inner: T, closed: CancellationToken, routes: Arc<Routes>) -> Self {
        CloseSignalled {
            inner,
            closed,
            routes,
        }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for CloseSignalled<T> {
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let mut message = self.inner.receive().await;
        match &mut message {
            None => self.closed.cancel(),
            Some(JsonRpcMessage::Notification(n)) => {
                if let ServerNotification::ProgressNotification(progress) = &mut n.notification {
                    let seq = self
                        .routes
                        .progress_arrived(&progress.params.progress_token);
                    progress.extensions.insert(seq);
                }
            }
            Some(_) => {}
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
