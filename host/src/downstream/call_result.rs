//! Turning the backend's answers into MCP tool results. Failures become tool errors
//! (`isError: true`) whose text names the server and tool, so the user reads what went wrong;
//! a result over `tool_response_limit` is cut to it, with a marker that says so.

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

/// Bytes a content block weighs: its text, or its JSON (data of images, audio, resources).
fn weight(block: &ContentBlock) -> usize {
    match block {
        ContentBlock::Text(text) => text.text.len(),
        other => serde_json::to_string(other).map_or(0, |json| json.len()),
    }
}

/// `result` cut to `limit` bytes of content (0: no limit): blocks are kept in order while they
/// fit, the text block that crosses the limit is cut at a character boundary, later blocks
/// and structured content that would not fit are dropped, and a last text block says what
/// was cut and why.
pub fn within_limit(
    server: &str,
    tool: &str,
    mut result: CallToolResult,
    limit: usize,
) -> CallToolResult {
    let structured = result
        .structured_content
        .as_ref()
        .map_or(0, |v| v.to_string().len());
    let total: usize = result.content.iter().map(weight).sum::<usize>() + structured;
    if limit == 0 || total <= limit {
        return result;
    }
    let mut room = limit;
    let mut kept = Vec::new();
    for block in result.content.drain(..) {
        let size = weight(&block);
        if size <= room {
            room -= size;
            kept.push(block);
            continue;
        }
        if let ContentBlock::Text(mut text) = block
            && room > 0
        {
            let mut cut = room;
            while !text.text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.text.truncate(cut);
            room -= cut;
            kept.push(ContentBlock::Text(text));
        }
    }
    if structured > room {
        result.structured_content = None;
    }
    kept.push(ContentBlock::text(format!(
        "[mcpproxy: the result of {server}:{tool} was {total} bytes, over tool_response_limit \
         ({limit}); the rest was cut]"
    )));
    result.content = kept;
    result
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
    fn results_over_the_limit_are_cut_with_a_marker() {
        let small = CallToolResult::success(vec![ContentBlock::text("short")]);
        assert_eq!(within_limit("s", "t", small.clone(), 100), small);
        assert_eq!(
            within_limit("s", "t", small.clone(), 0),
            small,
            "0 is no limit"
        );

        let big = CallToolResult::success(vec![
            ContentBlock::text("a".repeat(60)),
            ContentBlock::text("é".repeat(30)), // 60 bytes
            ContentBlock::image("x".repeat(500), "image/png"),
        ]);
        let cut = within_limit("s", "t", big, 91);
        assert_eq!(cut.content.len(), 3, "{cut:?}");
        assert_eq!(text(&cut).len(), 60);
        let second = cut.content[1].as_text().unwrap().text.as_str();
        assert_eq!(second, "é".repeat(15), "cut at a character boundary");
        let marker = cut.content[2].as_text().unwrap().text.as_str();
        assert!(
            marker.contains("s:t") && marker.contains("tool_response_limit (91)"),
            "{marker}"
        );
        assert_eq!(cut.is_error, Some(false));

        let structured = CallToolResult::structured(json!({"rows": "r".repeat(200)}));
        let cut = within_limit("s", "t", structured, 50);
        assert_eq!(cut.structured_content, None);
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
