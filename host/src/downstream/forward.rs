//! Forwarding one client request to the server it routes to: the `Origin` that lets the
//! server's progress and own requests find this client, and the answer turned into what the
//! client asked for. An upstream JSON-RPC error reaches the client unchanged (code, message,
//! data); a failure of the proxy's own names the server.

use rmcp::model::{ClientRequest, ErrorCode, ResultType, ServerResult};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde::de::DeserializeOwned;

use super::state::Shared;
use crate::upstream::{CallError, Origin};

/// The origin of the request `context` belongs to, in session `session`.
pub fn origin(session: u64, context: &RequestContext<RoleServer>) -> Origin {
    Origin {
        session,
        peer: context.peer.clone(),
        request_id: Some(context.id.clone()),
        progress_token: context.meta.get_progress_token(),
        capabilities: context.client_capabilities().unwrap_or_default(),
        asks: None,
    }
}

/// Sends `request` to `server` for the client of `context` and waits for the answer.
pub async fn forward(
    shared: &Shared,
    session: u64,
    server: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<ServerResult, CallError> {
    let origin = origin(session, context);
    let call = shared
        .backend
        .forward(server, request, Some(origin), context.ct.clone());
    call.await
}

/// `answer` marked `resultType: "complete"` when the upstream (an older revision) left it
/// out; rmcp takes the mark off again for clients of older revisions.
pub fn completed(mut answer: ServerResult) -> ServerResult {
    let result_type = match &mut answer {
        ServerResult::CompleteResult(r) => &mut r.result_type,
        ServerResult::GetPromptResult(r) => &mut r.result_type,
        ServerResult::ListPromptsResult(r) => &mut r.result_type,
        ServerResult::ListResourcesResult(r) => &mut r.result_type,
        ServerResult::ListResourceTemplatesResult(r) => &mut r.result_type,
        ServerResult::ReadResourceResult(r) => &mut r.result_type,
        ServerResult::ListToolsResult(r) => &mut r.result_type,
        ServerResult::CallToolResult(r) => &mut r.result_type,
        _ => return answer,
    };
    result_type.get_or_insert(ResultType::COMPLETE);
    answer
}

/// The answer as the type the client's request expects. rmcp decodes answers into an
/// untagged union, so one may land in a look-alike variant: it is read again as `T`.
pub fn answer_as<T: DeserializeOwned>(
    server: &str,
    method: &str,
    answer: ServerResult,
) -> Result<T, McpError> {
    let value = serde_json::to_value(&answer)
        .map_err(|e| McpError::internal_error(format!("{method} on {server}: {e}"), None))?;
    serde_json::from_value(value).map_err(|e| {
        McpError::internal_error(
            format!("{method} on {server}: the server's answer does not fit: {e}"),
            None,
        )
    })
}

/// A failed forward as the JSON-RPC error the client gets.
pub fn error_for(server: &str, method: &str, error: CallError) -> McpError {
    match error {
        CallError::Rejected(error) => error,
        CallError::NotAvailable(reason) => McpError::new(
            ErrorCode::INVALID_PARAMS,
            format!("cannot send {method} to {server}: {reason}"),
            None,
        ),
        other => McpError::internal_error(format!("{method} to {server} failed: {other}"), None),
    }
}

/// `forward`, then `answer_as`, with failures as `error_for`.
pub async fn request<T: DeserializeOwned>(
    shared: &Shared,
    session: u64,
    server: &str,
    request: ClientRequest,
    context: &RequestContext<RoleServer>,
) -> Result<T, McpError> {
    let method = request.method().to_string();
    match forward(shared, session, server, request, context).await {
        Ok(answer) => answer_as(server, &method, completed(answer)),
        Err(error) => Err(error_for(server, &method, error)),
    }
}

/// The page of `items` that `cursor` (an offset this endpoint handed out) starts, and the
/// cursor of the next page.
pub fn page<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match cursor {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= items.len())
            .ok_or_else(|| McpError::invalid_params(format!("invalid cursor {text:?}"), None))?,
    };
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ErrorData;

    use super::*;

    #[test]
    fn pages_cover_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = page(&items, cursor.as_deref(), 3).unwrap();
            seen.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(page(&items, Some("8"), 3).is_err());
        assert!(page(&items, Some("x"), 3).is_err());
        assert_eq!(page::<u32>(&[], None, 3).unwrap(), (vec![], None));
    }

    #[test]
    fn upstream_errors_pass_unchanged_and_own_failures_name_the_server() {
        let upstream = ErrorData::new(
            ErrorCode(-32042),
            "URL elicitation required",
            Some(serde_json::json!({"elicitations": [{"url": "https://example.com"}]})),
        );
        assert_eq!(
            error_for("srv", "tools/call", CallError::Rejected(upstream.clone())),
            upstream
        );
        let own = error_for(
            "srv",
            "resources/read",
            CallError::Timeout(std::time::Duration::from_secs(3)),
        );
        assert_eq!(own.code, ErrorCode::INTERNAL_ERROR);
        assert!(
            own.message.contains("resources/read to srv"),
            "{}",
            own.message
        );
    }
}
