//! A transport wrapper that reports when the upstream closed the connection.
//!
//! rmcp's `RunningService` offers no way to await the end of a session without consuming
//! it; the session's `closed()` needs one. The wrapper changes nothing it carries.

use std::borrow::Cow;

use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio_util::sync::CancellationToken;

pub struct CloseSignalled<T> {
    inner: T,
    closed: CancellationToken,
}

impl<T> CloseSignalled<T> {
    /// `closed` is cancelled when the upstream side ends (end of stream).
    pub fn new(inner: T, closed: CancellationToken) -> Self {
        CloseSignalled { inner, closed }
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
        let message = self.inner.receive().await;
        if message.is_none() {
            self.closed.cancel();
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
