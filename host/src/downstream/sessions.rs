//! The MCP endpoints' sessions: rmcp's `LocalSessionManager` with a cap on how many are open
//! at once, so clients that `initialize` and never close cannot pile sessions up without
//! bound. rmcp reaps an idle session after its `keep_alive` (5 minutes); past the cap a new
//! `initialize` is refused with a message that says why, and open sessions keep working.

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

/// Sessions open at once, per endpoint.
pub const MAX_SESSIONS: usize = 1000;

/// `LocalSessionManager`, refusing new sessions past `max`.
#[derive(Debug)]
pub struct CappedSessions {
    inner: LocalSessionManager,
    max: usize,
}

impl CappedSessions {
    pub fn new(max: usize) -> Self {
        CappedSessions {
            inner: LocalSessionManager::default(),
            max,
        }
    }

    /// Sessions open now.
    pub async fn open(&self) -> usize {
        self.inner.sessions.read().await.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error(
        "too many open MCP sessions ({0}): close the ones no longer used (HTTP DELETE), or wait for idle ones to expire"
    )]
    Full(usize),
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

impl SessionManager for CappedSessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let open = self.open().await;
        if open >= self.max {
            tracing::warn!(open, "refusing a new MCP session: too many open");
            return Err(SessionsError::Full(open));
        }
        Ok(self.inner.create_session().await?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(self.inner.restore_session(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_past_the_cap_are_refused_and_closing_one_makes_room() {
        let sessions = CappedSessions::new(2);
        let (a, _ta) = sessions.create_session().await.unwrap();
        let (_b, _tb) = sessions.create_session().await.unwrap();
        let refused = sessions.create_session().await;
        assert!(
            matches!(refused, Err(SessionsError::Full(2))),
            "{:?}",
            refused.map(|(id, _)| id)
        );
        assert!(
            refused
                .err()
                .unwrap()
                .to_string()
                .contains("too many open MCP sessions")
        );
        sessions.close_session(&a).await.unwrap();
        assert_eq!(sessions.open().await, 1);
        sessions.create_session().await.unwrap();
    }
}
