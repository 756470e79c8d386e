//! Upstream calls kept waiting for a 2026-07-28 client's input.
//!
//! When a legacy server asks for input during such a client's call, the client's request is
//! answered with an `InputRequiredResult` while the upstream call waits (`Pending`). The
//! `requestState` handed out is sealed (HMAC-SHA256, rmcp's `RequestStateCodec`, a key made
//! at start) over the pending call's number and bound to the caller's token, the method, the
//! server and the target, so it cannot be forged, altered, or used for another request. Each
//! resumes its call once; a pending call lives at most `TTL` after it asked, and at most
//! `MAX_PARKED` wait at once: past either the upstream call is cancelled and the server's
//! request gets an error.
//!
//! The calls live in this daemon's memory: a retry must reach the daemon that asked (see
//! the README on running several daemons).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    ClientResult, InputRequest, InputRequests, InputResponses, RequestStateCodec, SealOptions,
    ServerRequest, ServerResult,
};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::upstream::CallError;
use crate::upstream::ask::{Ask, AskReceiver};

/// How long a call waits for its client's input after asking.
pub const TTL: Duration = Duration::from_secs(300);

/// Calls that may wait for input at once.
pub const MAX_PARKED: usize = 1_000;

/// Marks a `requestState` as this proxy's (any other belongs to the upstream and is passed on).
const PREFIX: &str = "mcpproxy.";

/// A server→client request as an input request; `None` for one that cannot be one (a
/// `ping`, a custom request).
fn input_request(request: ServerRequest) -> Option<InputRequest> {
    match request {
        ServerRequest::CreateMessageRequest(r) => Some(InputRequest::CreateMessage(r)),
        ServerRequest::ElicitRequest(r) => Some(InputRequest::Elicitation(r)),
        ServerRequest::ListRootsRequest(r) => Some(InputRequest::ListRoots(r)),
        _ => None,
    }
}

/// The client's answer to one of the server's requests, from its `inputResponses`.
fn client_result(value: serde_json::Value) -> Result<ClientResult, McpError> {
    serde_json::from_value(value)
        .map_err(|e| McpError::invalid_params(format!("an input response does not fit: {e}"), None))
}

/// Keys for the server's requests: what each asks for, numbered.
fn input_key(request: &ServerRequest, n: usize) -> String {
    let kind = match request {
        ServerRequest::CreateMessageRequest(_) => "sampling",
        ServerRequest::ElicitRequest(_) => "elicitation",
        ServerRequest::ListRootsRequest(_) => "roots",
        _ => "input",
    };
    format!("{kind}-{n}")
}

/// Collects the asks of one upstream call by key.
type Waiting = BTreeMap<String, Ask>;

/// What a `requestState` is bound to.
pub struct Binding(Vec<u8>);

impl Binding {
    pub fn new(parts: &[&str]) -> Binding {
        Binding(parts.join("\0").into_bytes())
    }
}

/// One upstream call waiting for its client's input.
pub struct Pending {
    call: JoinHandle<Result<ServerResult, CallError>>,
    asks: AskReceiver,
    waiting: Waiting,
    asked: usize,
    _cancel: DropGuard,
}

/// What a pending call did next.
pub enum Next {
    /// The upstream answered (boxed: an answer is large, and most calls never get here).
    Answer(Box<Result<ServerResult, CallError>>),
    /// The upstream asked for more input.
    Asked,
}

impl Pending {
    /// `call`, moved to a task of its own, with its first request for input; `cancel` ends
    /// the call when the pending call is dropped.
    pub fn new(
        call: BoxFuture<'static, Result<ServerResult, CallError>>,
        asks: AskReceiver,
        first: Ask,
        cancel: CancellationToken,
    ) -> Pending {
        let mut pending = Pending {
            call: tokio::spawn(call),
            asks,
            waiting: Waiting::new(),
            asked: 0,
            _cancel: cancel.drop_guard(),
        };
        pending.add(first);
        pending.drain();
        pending
    }

    fn add(&mut self, ask: Ask) {
        if input_request(ask.request.clone()).is_none() {
            let refused = McpError::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "mcpproxy: a 2026-07-28 client can be asked only for sampling, elicitation or roots",
                None,
            );
            let _ = ask.reply.send(Err(refused));
            return;
        }
        self.asked += 1;
        let key = input_key(&ask.request, self.asked);
        self.waiting.insert(key, ask);
    }

    /// Takes the requests that have already arrived (a server may ask several at once).
    fn drain(&mut self) {
        while let Ok(ask) = self.asks.try_recv() {
            self.add(ask);
        }
    }

    /// What the client is asked for now.
    pub fn input_requests(&self) -> InputRequests {
        let requests = self.waiting.iter().filter_map(|(key, ask)| {
            let request = input_request(ask.request.clone())?;
            Some((key.clone(), request))
        });
        requests.collect()
    }

    /// Hands the client's answers to the requests they answer; other keys are ignored.
    pub fn answer(&mut self, responses: InputResponses) {
        for (key, value) in responses {
            if let Some(ask) = self.waiting.remove(&key) {
                let _ = ask.reply.send(client_result(value));
            }
        }
    }

    /// Whether a request of the server's is still without an answer.
    pub fn has_unanswered(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Waits for the upstream's answer or its next request for input.
    pub async fn next(&mut self) -> Next {
        tokio::select! {
            answer = &mut self.call => Next::Answer(Box::new(joined(answer))),
            ask = self.asks.recv() => match ask {
                Some(ask) => {
                    self.add(ask);
                    self.drain();
                    if self.has_unanswered() {
                        Next::Asked
                    } else {
                        Next::Answer(Box::new(joined((&mut self.call).await)))
                    }
                }
                // The call ended: its answer is there.
                None => Next::Answer(Box::new(joined((&mut self.call).await))),
            },
        }
    }
}

fn joined(
    answer: Result<Result<ServerResult, CallError>, tokio::task::JoinError>,
) -> Result<ServerResult, CallError> {
    answer.unwrap_or_else(|e| Err(CallError::Upstream(format!("the call's task failed: {e}"))))
}

/// The calls waiting for input, by number. A std mutex: map updates under it, never an await.
pub struct Continuations {
    codec: RequestStateCodec,
    parked: Mutex<HashMap<u64, (Pending, Instant)>>,
    next: AtomicU64,
    ttl: Duration,
    max: usize,
}

impl Default for Continuations {
    fn default() -> Self {
        Continuations::with_limits(TTL, MAX_PARKED)
    }
}

impl Continuations {
    fn with_limits(ttl: Duration, max: usize) -> Continuations {
        Continuations {
            codec: RequestStateCodec::try_new(rand::random::<[u8; 32]>().to_vec())
                .expect("32 bytes is a long enough key"),
            parked: Mutex::default(),
            next: AtomicU64::new(0),
            ttl,
            max,
        }
    }

    /// Whether `state` is one this proxy handed out (it may still be forged).
    pub fn is_ours(&self, state: &str) -> bool {
        state.starts_with(PREFIX)
    }

    /// Keeps `pending` until its client retries; the `requestState` for that retry. Calls
    /// that waited too long are dropped (cancelled) first.
    pub fn park(&self, pending: Pending, binding: &Binding) -> Result<String, String> {
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        parked.retain(|_, (_, until)| *until > now);
        if parked.len() >= self.max {
            return Err(format!(
                "mcpproxy already holds {} requests waiting for their clients' input; try again \
                 later",
                self.max
            ));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        parked.insert(id, (pending, now + self.ttl));
        let options = SealOptions::new().associated_data(&binding.0).ttl(self.ttl);
        Ok(format!(
            "{PREFIX}{}",
            self.codec.seal_with(&id.to_be_bytes(), &options)
        ))
    }

    /// The pending call `state` stands for, taken (a state resumes its call once).
    pub fn take(&self, state: &str, binding: &Binding) -> Result<Pending, String> {
        let refused = |why: &str| format!("requestState refused: {why}");
        let sealed = state.strip_prefix(PREFIX).unwrap_or(state);
        let opened = self.codec.open_with(sealed, &binding.0).map_err(|_| {
            refused(
                "it was altered, has expired, belongs to another request, or was issued by \
                 another mcpproxy (a request waiting for input is held by the daemon that asked)",
            )
        })?;
        let id = <[u8; 8]>::try_from(opened.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| refused("malformed"))?;
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        match parked.remove(&id) {
            Some((pending, until)) if until > Instant::now() => Ok(pending),
            _ => Err(refused(
                "its request was already answered, or waited longer than mcpproxy keeps one \
                 (5 minutes)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ElicitRequest, ElicitRequestParams, ServerRequest};
    use tokio::sync::oneshot;

    use super::*;
    use crate::upstream::ask;

    /// A call that waits until cancelled, with one elicitation asked: its cancel token, and
    /// what the upstream will hear as the answer to its request.
    fn waiting_call() -> (
        Pending,
        CancellationToken,
        oneshot::Receiver<Result<rmcp::model::ClientResult, McpError>>,
    ) {
        let cancel = CancellationToken::new();
        let ended = cancel.clone();
        let call: BoxFuture<'static, Result<ServerResult, CallError>> = Box::pin(async move {
            ended.cancelled().await;
            Err(CallError::Cancelled)
        });
        let (_, asks) = ask::channel();
        let (reply, answer) = oneshot::channel();
        let params: ElicitRequestParams = serde_json::from_value(serde_json::json!({
            "message": "name?",
            "requestedSchema": {"type": "object", "properties": {}}
        }))
        .unwrap();
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        let pending = Pending::new(call, asks, Ask { request, reply }, cancel.clone());
        (pending, cancel, answer)
    }

    #[tokio::test]
    async fn calls_wait_within_their_limits_and_are_cancelled_past_them() {
        let store = Continuations::with_limits(Duration::from_millis(50), 2);
        let binding = Binding::new(&["token", "tools/call", "old", "tool"]);
        let (first, first_cancel, first_answer) = waiting_call();
        let state = store.park(first, &binding).unwrap();
        let (second, _, _) = waiting_call();
        store.park(second, &binding).unwrap();
        let (third, third_cancel, _) = waiting_call();
        let full = store.park(third, &binding).unwrap_err();
        assert!(full.contains("2 requests"), "{full}");
        // Refused, the third call is ended at once.
        assert!(third_cancel.is_cancelled());

        // Past the TTL the waiting calls are dropped: cancelled upstream, and the server's
        // request gets an error, not an answer; the state no longer resumes anything.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (fourth, _, _) = waiting_call();
        store.park(fourth, &binding).unwrap();
        assert!(first_cancel.is_cancelled());
        assert!(first_answer.await.is_err());
        assert!(store.take(&state, &binding).is_err());
    }

    #[tokio::test]
    async fn a_state_opens_only_with_its_binding_and_only_once() {
        let store = Continuations::default();
        let binding = Binding::new(&["token", "tools/call", "old", "tool"]);
        let (pending, _, _) = waiting_call();
        let state = store.park(pending, &binding).unwrap();
        assert!(store.is_ours(&state));
        let other = Binding::new(&["token", "tools/call", "old", "other_tool"]);
        assert!(store.take(&state, &other).is_err());
        let mut forged = state.clone();
        forged.push('x');
        assert!(store.take(&forged, &binding).is_err());
        // Neither attempt took it.
        let mut taken = store.take(&state, &binding).unwrap();
        assert_eq!(taken.input_requests().len(), 1);
        taken.answer(Default::default());
        assert!(taken.has_unanswered());
        assert!(store.take(&state, &binding).is_err());
    }
}
