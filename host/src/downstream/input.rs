//! Requests that may need the client's input (`tools/call`, `prompts/get`,
//! `resources/read`), across protocol revisions.
//!
//! Servers ask their client for input (sampling, elicitation, roots) in two ways: up to
//! 2025-11-25 with requests of their own during the call, from 2026-07-28 with an
//! `InputRequiredResult` that the client answers by retrying the call with `inputResponses`
//! (multi round-trip requests). The proxy sits between clients and servers of either kind:
//! - both of one kind: the requests, or the `InputRequiredResult` and the retry, pass
//!   through unchanged;
//! - a 2025-11-25 client, a 2026-07-28 server: each input request goes to the client as a
//!   request on the call's stream, and the call is retried upstream with the answers;
//! - a 2026-07-28 client, a 2025-11-25 server: the server's request ends the client's
//!   request with an `InputRequiredResult` while the upstream call is kept waiting
//!   (`Continuations`); the client's retry hands the answer to the server and waits on.
//!
//! A request goes only to a client that declared the capability it needs; otherwise the call
//! fails with `-32021`. The proxy never answers for a client.

use futures::future::BoxFuture;
use rmcp::model::{
    ClientRequest, GetExtensions, InputRequest, InputRequests, InputRequiredResult, InputResponses,
    ServerRequest, ServerResult,
};
use rmcp::service::{OriginatingRequestId, PeerRequestOptions, RequestContext, ServiceError};
use rmcp::{ErrorData as McpError, RoleServer};
use tokio_util::sync::CancellationToken;

use super::auth::caller_of;
use super::continuations::{Binding, Next, Pending};
use super::forward;
use super::state::Shared;
use crate::upstream::ask;
use crate::upstream::{
    CallError, client_capabilities_missing, is_modern, missing_capability_error,
};

/// Rounds of input one call may ask for, as rmcp's own client allows.
pub const MAX_ROUNDS: usize = rmcp::model::DEFAULT_MRTR_MAX_ROUNDS;

/// Whether the client of `context` speaks 2026-07-28 or newer (this request's revision).
pub fn client_is_modern(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|v| is_modern(&v))
}

/// Sends `request` to `server` for the client of `context` and returns its final answer
/// (marked complete, `forward::completed`), or, for a 2026-07-28 client, an
/// `InputRequiredResult` when the server needs its input.
pub async fn forward(
    shared: &Shared,
    session: u64,
    server: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, CallError> {
    let answer = if client_is_modern(context) {
        for_modern_client(shared, session, server, request, context).await?
    } else {
        for_legacy_client(shared, session, server, request, context).await?
    };
    if let ServerResult::InputRequiredResult(asked) = &answer {
        let requests = asked.input_requests.iter().flatten();
        let requests: Vec<ServerRequest> = requests
            .filter_map(|(_, r)| server_request(r.clone()))
            .collect();
        check_capabilities(context, &requests)?;
    }
    Ok(forward::completed(answer))
}

/// A 2025-11-25 client: a 2026-07-28 server's input requests are sent to it one by one, and
/// the call is retried upstream with its answers, at most `MAX_ROUNDS` times.
async fn for_legacy_client(
    shared: &Shared,
    session: u64,
    server: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, CallError> {
    let mut request = request;
    for _ in 0..MAX_ROUNDS {
        // Kept for a retry; only a 2026-07-28 server can ask for one.
        let again = request.clone();
        let answer = forward::forward(shared, session, server, request, context).await?;
        let ServerResult::InputRequiredResult(asked) = answer else {
            return Ok(answer);
        };
        let responses = ask_client(context, asked.input_requests.unwrap_or_default()).await?;
        request = with_input(again, responses, asked.request_state);
    }
    Err(CallError::Rejected(McpError::internal_error(
        format!("{server} asked for input more than {MAX_ROUNDS} times in one request"),
        None,
    )))
}

/// Each of `requests` sent to the client of `context`, on the stream of its call; its
/// answers by key.
async fn ask_client(
    context: &RequestContext<RoleServer>,
    requests: InputRequests,
) -> Result<InputResponses, CallError> {
    let requests = requests
        .into_iter()
        .map(|(key, input)| match server_request(input) {
            Some(request) => Ok((key, request)),
            None => Err(CallError::Rejected(McpError::internal_error(
                format!("input request {key:?} is of a kind mcpproxy cannot pass on"),
                None,
            ))),
        });
    let requests: Vec<(String, ServerRequest)> = requests.collect::<Result<_, _>>()?;
    check_capabilities(context, requests.iter().map(|(_, r)| r))?;
    let mut responses = InputResponses::new();
    for (key, mut request) in requests {
        request
            .extensions_mut()
            .insert(OriginatingRequestId(context.id.clone()));
        let sent = context
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await;
        let answer = match sent {
            Ok(handle) => handle.await_response().await,
            Err(error) => Err(error),
        };
        let answer = answer.map_err(|error| match error {
            ServiceError::McpError(error) => CallError::Rejected(error),
            other => CallError::Rejected(McpError::internal_error(
                format!("the client did not answer input request {key:?}: {other}"),
                None,
            )),
        })?;
        let value = serde_json::to_value(answer).map_err(|e| CallError::Upstream(e.to_string()))?;
        responses.insert(key, value);
    }
    Ok(responses)
}

/// A 2026-07-28 client: a retry carrying a `requestState` of ours resumes the upstream call
/// it belongs to; anything else is forwarded, with the server's own requests coming back as
/// input requests.
async fn for_modern_client(
    shared: &Shared,
    session: u64,
    server: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, CallError> {
    let binding = binding(server, &request, context);
    if let Some(state) = request_state(&request).filter(|s| shared.continuations.is_ours(s)) {
        let mut pending = shared
            .continuations
            .take(state, &binding)
            .map_err(|refused| CallError::Rejected(McpError::invalid_params(refused, None)))?;
        pending.answer(input_responses(&request));
        return wait(shared, pending, binding, context).await;
    }
    let (asks, mut asked) = ask::channel();
    let mut origin = forward::origin(session, context);
    origin.asks = Some(asks);
    let cancel = CancellationToken::new();
    let mut call: BoxFuture<'static, Result<ServerResult, CallError>> =
        shared
            .backend
            .forward(server, request, Some(origin), cancel.clone());
    // Most calls need no input: the call runs here, and moves to a task of its own only when
    // it has to outlive this request.
    tokio::select! {
        answer = &mut call => answer,
        Some(ask) = asked.recv() => {
            let pending = Pending::new(call, asked, ask, cancel);
            ask_through_result(shared, pending, binding)
        }
        _ = context.ct.cancelled() => {
            cancel.cancel();
            Err(CallError::Cancelled)
        }
    }
}

/// Waits for what comes first: the upstream's answer, or its next request for input.
async fn wait(
    shared: &Shared,
    mut pending: Pending,
    binding: Binding,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, CallError> {
    // Input the client left out is asked for again at once: the server is waiting for it.
    if pending.has_unanswered() {
        return ask_through_result(shared, pending, binding);
    }
    let next = tokio::select! {
        next = pending.next() => next,
        _ = context.ct.cancelled() => return Err(CallError::Cancelled),
    };
    match next {
        Next::Answer(answer) => *answer,
        Next::Asked => ask_through_result(shared, pending, binding),
    }
}

/// The `InputRequiredResult` that asks the client for what `pending` waits for; `pending`
/// is parked until the client retries.
fn ask_through_result(
    shared: &Shared,
    pending: Pending,
    binding: Binding,
) -> Result<ServerResult, CallError> {
    let requests = pending.input_requests();
    let state = shared
        .continuations
        .park(pending, &binding)
        .map_err(|full| CallError::Rejected(McpError::internal_error(full, None)))?;
    Ok(ServerResult::InputRequiredResult(InputRequiredResult::new(
        Some(requests),
        Some(state),
    )))
}

/// What a `requestState` of ours is tied to: the caller's token, the method and its target
/// (tool, prompt or URI) on `server`, so that it resumes nothing else.
fn binding(server: &str, request: &ClientRequest, context: &RequestContext<RoleServer>) -> Binding {
    let caller = caller_of(&context.extensions);
    let target = match request {
        ClientRequest::CallToolRequest(r) => r.params.name.to_string(),
        ClientRequest::GetPromptRequest(r) => r.params.name.clone(),
        ClientRequest::ReadResourceRequest(r) => r.params.uri.clone(),
        _ => String::new(),
    };
    Binding::new(&[
        caller.token.as_deref().unwrap_or(""),
        request.method(),
        server,
        &target,
    ])
}

/// Every request's capability is one the client of `context` declared; else `-32021`.
fn check_capabilities<'a>(
    context: &RequestContext<RoleServer>,
    requests: impl IntoIterator<Item = &'a ServerRequest>,
) -> Result<(), CallError> {
    let declared = context.client_capabilities().unwrap_or_default();
    match client_capabilities_missing(&declared, requests) {
        Some(missing) => Err(CallError::Rejected(missing_capability_error(missing))),
        None => Ok(()),
    }
}

/// An input request as the server→client request it stands for; `None` for a kind a later
/// revision may add, which mcpproxy cannot pass on.
fn server_request(input: InputRequest) -> Option<ServerRequest> {
    match input {
        InputRequest::CreateMessage(r) => Some(ServerRequest::CreateMessageRequest(r)),
        InputRequest::Elicitation(r) => Some(ServerRequest::ElicitRequest(r)),
        InputRequest::ListRoots(r) => Some(ServerRequest::ListRootsRequest(r)),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn request_state(request: &ClientRequest) -> Option<&str> {
    match request {
        ClientRequest::CallToolRequest(r) => r.params.request_state.as_deref(),
        ClientRequest::GetPromptRequest(r) => r.params.request_state.as_deref(),
        ClientRequest::ReadResourceRequest(r) => r.params.request_state.as_deref(),
        _ => None,
    }
}

fn input_responses(request: &ClientRequest) -> InputResponses {
    let responses = match request {
        ClientRequest::CallToolRequest(r) => r.params.input_responses.as_ref(),
        ClientRequest::GetPromptRequest(r) => r.params.input_responses.as_ref(),
        ClientRequest::ReadResourceRequest(r) => r.params.input_responses.as_ref(),
        _ => None,
    };
    responses.cloned().unwrap_or_default()
}

/// `request` retried with the client's `responses` and the server's `state`.
fn with_input(
    request: ClientRequest,
    responses: InputResponses,
    state: Option<String>,
) -> ClientRequest {
    let responses = (!responses.is_empty()).then_some(responses);
    match request {
        ClientRequest::CallToolRequest(mut r) => {
            r.params.input_responses = responses;
            r.params.request_state = state;
            ClientRequest::CallToolRequest(r)
        }
        ClientRequest::GetPromptRequest(mut r) => {
            r.params.input_responses = responses;
            r.params.request_state = state;
            ClientRequest::GetPromptRequest(r)
        }
        ClientRequest::ReadResourceRequest(mut r) => {
            r.params.input_responses = responses;
            r.params.request_state = state;
            ClientRequest::ReadResourceRequest(r)
        }
        other => other,
    }
}
