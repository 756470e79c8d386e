//! The 2025-11-25 requests whose tasks parts rmcp's typed decode would drop (see
//! `legacy_tasks`), renamed on their way in (`RENAMED` + the method) so that rmcp hands them to
//! the handler whole, as custom requests; and the `tasks` capability moved where a 2025-11-25
//! client looks for it in the `initialize` answer (rmcp's capabilities have no such field, so
//! the handler puts it under `experimental`, `legacy_tasks::CAPABILITY`). mcpproxy's stdio
//! bridge, which reads answers with rmcp, gets them stowed instead (`STOWED_HEADER`).
//!
//! Renamed, for a client of 2025-11-25 (a request whose `MCP-Protocol-Version` is older than
//! 2026-07-28, or has none): `tools/call` with a `task`, and `tasks/get`, `tasks/result`,
//! `tasks/list`, `tasks/cancel`. A 2026-07-28 request is left alone: its tasks are rmcp's.
//! Substring searches decide for every other body, so a forwarded call costs no parse here.
//! The stdio bridge renames the same requests on its client's stream (`BridgeRenamer`), since
//! rmcp reads them there too.
//!
//! A tool list goes out as rmcp writes it, with each tool's `execution` kept in its `_meta`
//! (`legacy_tasks::EXECUTION`), and is rewritten here: `execution` back in place for a
//! 2025-11-25 client, dropped for a 2026-07-28 one (`legacy_tasks::lift_tools`).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use memchr::memmem;
use serde_json::Value;

use super::jsonrpc_check::MAX_BODY_BYTES;
use crate::legacy_tasks::{self, Rewrite};

/// The prefix of a renamed method.
pub const RENAMED: &str = "mcpproxy/";

/// The first revision whose tasks rmcp models.
const MODERN: &str = "2026-07-28";

/// The middleware.
pub async fn rename(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let stowed = request.headers().contains_key(legacy_tasks::STOWED_HEADER);
    if is_modern(&request) {
        // A 2026-07-28 request names its method in a header: no body to read for a call.
        let method = request.headers().get("mcp-method");
        let lists_tools = method.is_some_and(|m| m.as_bytes() == b"tools/list");
        let response = next.run(request).await;
        return match lists_tools && !stowed {
            true => rewritten(response, |body| legacy_tasks::lift_tools(body, false)).await,
            false => response,
        };
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let initialize = memmem::find(&bytes, b"\"initialize\"").is_some();
    let lists_tools = memmem::find(&bytes, b"\"tools/list\"").is_some();
    let renamed = renamed(&bytes);
    // The stdio bridge renames its client's requests itself.
    let task = renamed.is_some() || memmem::find(&bytes, RENAMED.as_bytes()).is_some();
    let bytes = renamed.map_or(bytes, Bytes::from);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if stowed {
        // The stdio bridge reads the answer with rmcp: as from any server, stowed (a tool
        // list is so already).
        return match task || initialize {
            true => rewritten(response, legacy_tasks::stow).await,
            false => response,
        };
    }
    if initialize {
        // The capability the handler put under `experimental`, where the client looks.
        return rewritten(response, legacy_tasks::unstow).await;
    }
    if lists_tools {
        return rewritten(response, |body| legacy_tasks::lift_tools(body, true)).await;
    }
    response
}

fn is_modern(request: &Request) -> bool {
    let version = request.headers().get("mcp-protocol-version");
    version
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= MODERN)
}

/// Whether `body` may be one of the requests above.
fn may_rename(body: &[u8]) -> bool {
    memmem::find(body, b"\"task").is_some()
}

/// `body` with its method renamed, when it is one of the requests above.
fn renamed(body: &[u8]) -> Option<Vec<u8>> {
    if !may_rename(body) {
        return None;
    }
    let mut message: Value = serde_json::from_slice(body).ok()?;
    let method = message.get("method")?.as_str()?;
    let rename = match method {
        "tasks/get" | "tasks/result" | "tasks/list" | "tasks/cancel" => true,
        "tools/call" => message
            .pointer("/params/task")
            .is_some_and(Value::is_object),
        _ => false,
    };
    if !rename {
        return None;
    }
    message["method"] = Value::String(format!("{RENAMED}{method}"));
    serde_json::to_vec(&message).ok()
}

/// `renamed` on the stdio bridge's stream from its client, once the client has opened a
/// 2025-11-25 session (`initialize`, which 2026-07-28 has not); a 2026-07-28 client's requests
/// go on as they are, as they do over HTTP.
#[derive(Default)]
pub struct BridgeRenamer {
    legacy: bool,
}

impl Rewrite for BridgeRenamer {
    fn may_change(&self, bytes: &[u8]) -> bool {
        if self.legacy {
            may_rename(bytes)
        } else {
            memmem::find(bytes, b"\"initialize\"").is_some()
        }
    }

    fn rewrite(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        if self.legacy {
            return renamed(message);
        }
        let message: Value = serde_json::from_slice(message).ok()?;
        self.legacy = message.get("method").and_then(Value::as_str) == Some("initialize");
        None
    }
}

/// A JSON answer passed through `rewrite` (a whole body: `json_reply` sends an answer that is
/// the only message as plain JSON); any other answer is left as it is.
async fn rewritten(response: Response, rewrite: impl Fn(&[u8]) -> Option<Vec<u8>>) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let Some(rewritten) = rewrite(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Ok(length) = HeaderValue::from_str(&rewritten.len().to_string()) {
        parts.headers.insert(header::CONTENT_LENGTH, length);
    }
    Response::from_parts(parts, Body::from(rewritten))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn method_after(message: Value) -> String {
        let body = message.to_string();
        let out = renamed(body.as_bytes()).unwrap_or(body.into_bytes());
        let message: Value = serde_json::from_slice(&out).unwrap();
        message["method"].as_str().unwrap().to_string()
    }

    #[test]
    fn task_requests_and_the_tool_list_are_renamed_and_nothing_else() {
        let request = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let cases = [
            (request("tools/list", json!({})), "tools/list"),
            (
                request("tools/call", json!({"name": "a", "task": {"ttl": 1000}})),
                "mcpproxy/tools/call",
            ),
            (
                request("tools/call", json!({"name": "a", "arguments": {"task": 1}})),
                "tools/call",
            ),
            (
                request("tasks/get", json!({"taskId": "x"})),
                "mcpproxy/tasks/get",
            ),
            (
                request("tasks/result", json!({"taskId": "x"})),
                "mcpproxy/tasks/result",
            ),
            (request("tasks/list", json!({})), "mcpproxy/tasks/list"),
            (
                request("tasks/cancel", json!({"taskId": "x"})),
                "mcpproxy/tasks/cancel",
            ),
            (request("prompts/list", json!({})), "prompts/list"),
        ];
        for (message, want) in cases {
            assert_eq!(method_after(message.clone()), want, "{message}");
        }
    }

    #[test]
    fn the_bridge_renames_once_its_client_has_initialized() {
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tasks/list"}).to_string();
        let mut renamer = BridgeRenamer::default();
        assert_eq!(renamer.rewrite(list.as_bytes()), None);
        let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25"}});
        assert!(renamer.may_change(initialize.to_string().as_bytes()));
        assert_eq!(renamer.rewrite(initialize.to_string().as_bytes()), None);
        assert!(renamer.may_change(list.as_bytes()));
        assert!(renamer.rewrite(list.as_bytes()).is_some());
    }
}
