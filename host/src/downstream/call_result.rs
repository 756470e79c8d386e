//! Turning the backend's answers into MCP tool results. Failures become tool errors
//! (`isError: true`) whose text names the server and tool, so the user reads what went wrong.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::Value;

use crate::upstream::CallError;

/// A failed forward of `server`'s `tool`.
pub fn call_failed(server: &str, tool: &str, error: &CallError) -> CallToolResult {
    let text = match error {
        CallError::NotAvailable(reason) => format!("cannot call {server}:{tool}: {reason}"),
        other => format!("call to {server}:{tool} failed: {other}"),
    };
    error_text(text)
}

/// A tool error with a message for the user.
pub fn error_text(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text.into())])
}

/// A JSON answer: structured content for objects (older clients only accept objects there),
/// plus the same JSON as text for clients that read text only.
pub fn json_result(value: Value) -> CallToolResult {
    if value.is_object() {
        CallToolResult::structured(value)
    } else {
        CallToolResult::success(vec![ContentBlock::text(value.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn text(result: &CallToolResult) -> &str {
        result.content[0]
            .as_text()
            .map(|t| t.text.as_str())
            .unwrap_or("")
    }

    #[test]
    fn call_failures_name_server_and_tool() {
        let cases = [
            (
                CallError::NotAvailable("no Ready server named \"nope\"".into()),
                "cannot call nope:echo: no Ready server named \"nope\"",
            ),
            (
                CallError::Timeout(Duration::from_secs(2)),
                "call to nope:echo failed: request timed out after 2s",
            ),
            (
                CallError::Upstream("boom".into()),
                "call to nope:echo failed: upstream error: boom",
            ),
        ];
        for (error, want) in cases {
            let result = call_failed("nope", "echo", &error);
            assert_eq!(result.is_error, Some(true));
            assert_eq!(text(&result), want);
        }
    }

    #[test]
    fn json_results() {
        let object = json_result(json!({"a": 1}));
        assert_eq!(object.structured_content, Some(json!({"a": 1})));
        assert_eq!(text(&object), r#"{"a":1}"#);
        let list = json_result(json!([1, 2]));
        assert_eq!(list.structured_content, None);
        assert_eq!(text(&list), "[1,2]");
    }
}
