//! Tasks as MCP 2025-11-25 has them (SEP-1686), which rmcp 3.11 does not model: a tool's
//! `execution` (`taskSupport`), the `task` of a `tools/call`, `tasks/result` and `tasks/list`,
//! and `tasks/get` and `tasks/cancel` answered with a bare task (`ttl`, `pollInterval`).
//! rmcp's typed decode drops what it does not model, so these parts travel through its types
//! where it keeps them, and come out whole at the other side:
//!
//! - from an upstream, `stow` rewrites a message before rmcp reads it: the `tasks` capability
//!   goes under `experimental` (`CAPABILITY`), a tool's `execution` under the tool's `_meta`
//!   (`EXECUTION`), and a task answer (a task, a created task, a task list) is wrapped under
//!   `RAW`, which nothing in rmcp's model matches, so rmcp keeps it whole as a custom result;
//! - towards a client, `unwrap` takes a wrapped answer out, `execution` reads a tool's, `strip`
//!   and `lift` take it off a tool or put it back where the spec has it, and `unstow` undoes
//!   `stow` on a whole message rmcp wrote.
//!
//! `lines` and `http` put `stow` (and `unstow`) on the byte streams rmcp reads and writes.
//! A leaf: it knows rmcp's model, transports and JSON, nothing of the daemon.

use memchr::memmem;
use rmcp::model::{ServerResult, Tool};
use serde_json::{Map, Value};

mod http;
mod lines;

pub use http::StowingClient;
pub use lines::{Rewrite, RewrittenReader, RewrittenWriter};

/// Where a tool's `execution` is kept, in its `_meta`, between upstream and client.
pub const EXECUTION: &str = "mcpproxy/execution";

/// The method of a task's status notification (rmcp models only 2026-07-28's
/// `notifications/tasks`).
pub const STATUS: &str = "notifications/tasks/status";

/// Where an `initialize` answer's `tasks` capability is kept, under `capabilities.experimental`.
pub const CAPABILITY: &str = "mcpproxy/tasks";

/// The header with which mcpproxy's own stdio bridge asks the daemon for answers as `stow`
/// leaves them (it reads them with rmcp, and puts them back with `unstow` for its client).
pub const STOWED_HEADER: &str = "mcpproxy-stowed";

/// The one key of a wrapped task answer.
pub const RAW: &str = "mcpproxy/raw";

/// `message` (one JSON-RPC message from an upstream) with what rmcp would drop put where it
/// keeps it; `None` when nothing is to change, which is nearly always (two substring
/// searches decide, and only a message that has one of the words is parsed).
pub fn stow(message: &[u8]) -> Option<Vec<u8>> {
    if !may_stow(message) {
        return None;
    }
    let mut value: Value = serde_json::from_slice(message).ok()?;
    let result = value.get_mut("result")?.as_object_mut()?;
    if !stow_result(result) {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

/// Whether `bytes` may hold a message `stow` changes.
fn may_stow(bytes: &[u8]) -> bool {
    memmem::find(bytes, b"\"task").is_some() || memmem::find(bytes, b"\"execution\"").is_some()
}

/// `stow` on a stream of lines (a stdio server's stdout).
pub struct Stow;

impl Rewrite for Stow {
    fn may_change(&self, bytes: &[u8]) -> bool {
        may_stow(bytes)
    }

    fn rewrite(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        stow(message)
    }
}

/// `message` (a server's message as rmcp wrote it, for a client that reads JSON-RPC itself)
/// with what `stow` moved put back: an `initialize` answer's `tasks` capability, each tool's
/// `execution`, a task answer unwrapped. `None` when nothing is to change.
pub fn unstow(message: &[u8]) -> Option<Vec<u8>> {
    memmem::find(message, b"mcpproxy/")?;
    let mut value: Value = serde_json::from_slice(message).ok()?;
    let result = value.get_mut("result")?;
    if let Some(Value::Object(capabilities)) = result.get_mut("capabilities") {
        let experimental = capabilities.get_mut("experimental")?.as_object_mut()?;
        let tasks = experimental.remove(CAPABILITY)?;
        if experimental.is_empty() {
            capabilities.remove("experimental");
        }
        capabilities.insert("tasks".to_string(), tasks);
    } else if let Some(Value::Array(tools)) = result.get_mut("tools") {
        tools.iter_mut().for_each(lift);
    } else if let Some(answer) = result.as_object_mut().and_then(|r| r.remove(RAW)) {
        *result = answer;
    }
    serde_json::to_vec(&value).ok()
}

/// `body` (an answer whose tools rmcp serialized with their kept `execution` in `_meta`) with
/// each tool's `execution` back where 2025-11-25 has it (`keep`), or dropped (2026-07-28 has
/// none). A rewrite of the bytes, not a parse of the answer: a merged tool list is tens of
/// kilobytes, and parsing and writing it again would cost more than the list itself. Only the
/// kept values are parsed (to find their ends); `None` when there is nothing to change.
pub fn lift_tools(body: &[u8], keep: bool) -> Option<Vec<u8>> {
    let key = memmem::Finder::new(b"\"mcpproxy/execution\":");
    key.find(body)?;
    match lift_tools_in_place(body, keep, &key) {
        Some(lifted) => Some(lifted),
        // A shape rmcp does not write (say, our key not last in `_meta`): the slow way.
        None => lift_tools_parsed(body, keep),
    }
}

fn lift_tools_in_place(body: &[u8], keep: bool, key: &memmem::Finder<'_>) -> Option<Vec<u8>> {
    const ALONE: &[u8] = b"\"_meta\":{";
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = key.find(rest) {
        let after = &rest[at + key.needle().len()..];
        let mut values =
            serde_json::Deserializer::from_slice(after).into_iter::<serde::de::IgnoredAny>();
        values.next()?.ok()?;
        let end = values.byte_offset();
        // Our key is the last in `_meta` (it is added last): a `}` closes `_meta` after it.
        if after.get(end) != Some(&b'}') {
            return None;
        }
        let value = &after[..end];
        let before = &rest[..at];
        let mut next = end + 1;
        if let Some(head) = before.strip_suffix(ALONE) {
            // `"_meta":{KEY X}` → `"execution":X`, or nothing (with a comma beside it).
            match (keep, head.strip_suffix(b",")) {
                (false, Some(head)) => out.extend_from_slice(head),
                (false, None) if after.get(next) == Some(&b',') => {
                    out.extend_from_slice(head);
                    next += 1;
                }
                (false, None) => return None,
                (true, _) => {
                    out.extend_from_slice(head);
                    out.extend_from_slice(b"\"execution\":");
                    out.extend_from_slice(value);
                }
            }
        } else if let Some(head) = before.strip_suffix(b",") {
            // `"_meta":{…,KEY X}` → `"_meta":{…},"execution":X`, or `"_meta":{…}`.
            out.extend_from_slice(head);
            out.push(b'}');
            if keep {
                out.extend_from_slice(b",\"execution\":");
                out.extend_from_slice(value);
            }
        } else {
            return None;
        }
        rest = &after[next..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

fn lift_tools_parsed(body: &[u8], keep: bool) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let tools = value.pointer_mut("/result/tools")?.as_array_mut()?;
    for tool in tools.iter_mut() {
        lift(tool);
        if !keep && let Some(tool) = tool.as_object_mut() {
            tool.remove("execution");
        }
    }
    serde_json::to_vec(&value).ok()
}

/// `unstow` on a stream of lines (the stdio bridge's client side).
pub struct Unstow;

impl Rewrite for Unstow {
    fn may_change(&self, bytes: &[u8]) -> bool {
        memmem::find(bytes, b"mcpproxy/").is_some()
    }

    fn rewrite(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        lift_tools(message, true).or_else(|| unstow(message))
    }
}

/// Stows in one result; whether it changed.
fn stow_result(result: &mut Map<String, Value>) -> bool {
    if let Some(Value::Object(capabilities)) = result.get_mut("capabilities") {
        let Some(tasks) = capabilities.remove("tasks") else {
            return false;
        };
        let experimental = capabilities
            .entry("experimental")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(experimental) = experimental.as_object_mut() {
            experimental.insert(CAPABILITY.to_string(), tasks);
        }
        return true;
    }
    if let Some(Value::Array(tools)) = result.get_mut("tools") {
        let mut changed = false;
        for tool in tools.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(execution) = tool.remove("execution") {
                let meta = tool
                    .entry("_meta")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert(EXECUTION.to_string(), execution);
                    changed = true;
                }
            }
        }
        return changed;
    }
    // 2026-07-28 results say what they are (`resultType`); a 2025-11-25 task answer never does.
    if result.contains_key("resultType") || !is_task_answer(result) {
        return false;
    }
    let answer = std::mem::take(result);
    result.insert(RAW.to_string(), Value::Object(answer));
    true
}

/// A bare task (`tasks/get`, `tasks/cancel`), a created one (`tools/call` with a `task`), or a
/// list of them (`tasks/list`).
fn is_task_answer(result: &Map<String, Value>) -> bool {
    let bare = result.contains_key("taskId") && result.contains_key("ttl");
    let created = result.get("task").is_some_and(Value::is_object);
    let listed = result.get("tasks").is_some_and(Value::is_array);
    bare || created || listed
}

/// An upstream's answer as JSON: a wrapped task answer as the server gave it, any other answer
/// as rmcp read it.
pub fn unwrap(result: ServerResult) -> Value {
    match result {
        ServerResult::CustomResult(custom) => match custom.0 {
            Value::Object(mut object) if object.len() == 1 && object.contains_key(RAW) => {
                object.remove(RAW).unwrap_or_default()
            }
            other => other,
        },
        other => serde_json::to_value(other).unwrap_or_default(),
    }
}

/// The `execution` its server gave `tool`.
fn execution(tool: &Tool) -> Option<&Value> {
    tool.meta.as_ref()?.get(EXECUTION)
}

/// Whether a client may (or must) call `tool` as a task.
pub fn runs_as_task(tool: &Tool) -> bool {
    let support = execution(tool).and_then(|e| e.get("taskSupport"));
    matches!(
        support.and_then(Value::as_str),
        Some("optional" | "required")
    )
}

/// `tool` without its kept `execution`, as rmcp's model (and 2026-07-28) has tools.
pub fn strip(tool: &mut Tool) {
    if let Some(meta) = tool.meta.as_mut() {
        meta.remove(EXECUTION);
        if meta.is_empty() {
            tool.meta = None;
        }
    }
}

/// A tool as JSON with its kept `execution` back where 2025-11-25 has it.
pub fn lift(tool: &mut Value) {
    let Some(object) = tool.as_object_mut() else {
        return;
    };
    let Some(Value::Object(meta)) = object.get_mut("_meta") else {
        return;
    };
    let Some(execution) = meta.remove(EXECUTION) else {
        return;
    };
    if meta.is_empty() {
        object.remove("_meta");
    }
    object.insert("execution".to_string(), execution);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ListToolsResult, ServerJsonRpcMessage};
    use serde_json::json;

    fn task() -> Value {
        json!({"taskId": "t-1", "status": "working", "createdAt": "2026-12-06T10:00:00Z",
               "lastUpdatedAt": "2026-12-06T10:00:01Z", "ttl": 300000, "pollInterval": 1000})
    }

    /// What rmcp makes of `result` after `stow`, turned back into JSON.
    fn through_rmcp(result: Value) -> Value {
        let line = json!({"jsonrpc": "2.0", "id": 7, "result": result}).to_string();
        let stowed = stow(line.as_bytes()).map_or(line, |b| String::from_utf8(b).unwrap());
        let message: ServerJsonRpcMessage = serde_json::from_str(&stowed).unwrap();
        match message {
            ServerJsonRpcMessage::Response(response) => unwrap(response.result),
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn lifting_tools_in_place_matches_lifting_them_parsed() {
        let exec = json!({"taskSupport": "optional"});
        let tools = json!([
            {"name": "a", "inputSchema": {}, "_meta": {EXECUTION: exec}},
            {"name": "b", "inputSchema": {}, "_meta": {"x/y": 1, EXECUTION: exec}},
            {"name": "c", "inputSchema": {}},
            {"_meta": {EXECUTION: exec}, "name": "d", "description": "\"_meta\":{\"mcpproxy/execution\":"},
        ]);
        let body = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}).to_string();
        let key = memmem::Finder::new(b"\"mcpproxy/execution\":");
        for keep in [true, false] {
            let fast = lift_tools_in_place(body.as_bytes(), keep, &key).unwrap();
            let fast: Value = serde_json::from_slice(&fast).unwrap();
            let slow: Value =
                serde_json::from_slice(&lift_tools_parsed(body.as_bytes(), keep).unwrap()).unwrap();
            assert_eq!(fast, slow, "keep {keep}");
            assert_eq!(fast["result"]["tools"][1]["_meta"], json!({"x/y": 1}));
            let lifted = fast["result"]["tools"][0].get("execution");
            assert_eq!(lifted, keep.then_some(&exec));
        }
        assert_eq!(lift_tools(b"{\"result\":{\"tools\":[]}}", true), None);
    }

    #[test]
    fn unstow_undoes_stow() {
        let tasks = json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
        let initialized = json!({"protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}, "tasks": tasks}, "serverInfo": {"name": "s", "version": "1"}});
        for result in [task(), json!({"tasks": [task()]}), initialized] {
            let line = json!({"jsonrpc": "2.0", "id": 3, "result": result});
            let stowed = stow(line.to_string().as_bytes()).unwrap();
            let unstowed = unstow(&stowed).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&unstowed).unwrap(), line);
        }
        // The capability stowed is kept by rmcp's model.
        let line = json!({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-11-25",
            "capabilities": {"tasks": tasks}, "serverInfo": {"name": "s", "version": "1"}}});
        let stowed = stow(line.to_string().as_bytes()).unwrap();
        let message: ServerJsonRpcMessage = serde_json::from_slice(&stowed).unwrap();
        let written = serde_json::to_vec(&message).unwrap();
        let unstowed: Value = serde_json::from_slice(&unstow(&written).unwrap()).unwrap();
        assert_eq!(unstowed["result"]["capabilities"]["tasks"], tasks);
    }

    #[test]
    fn task_answers_come_through_rmcp_whole() {
        for answer in [
            task(),
            json!({"task": task()}),
            json!({"task": task(), "_meta": {"io.modelcontextprotocol/model-immediate-response": "soon"}}),
            json!({"tasks": [task()], "nextCursor": "2"}),
            json!({"tasks": []}),
        ] {
            assert_eq!(through_rmcp(answer.clone()), answer);
        }
    }

    #[test]
    fn a_tools_execution_is_kept_under_meta_and_lifted_back() {
        let tool = json!({"name": "research", "inputSchema": {"type": "object"},
                          "execution": {"taskSupport": "required"}});
        let line = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [tool.clone()]}});
        let stowed = stow(line.to_string().as_bytes()).unwrap();
        let message: ServerJsonRpcMessage = serde_json::from_slice(&stowed).unwrap();
        let ServerJsonRpcMessage::Response(response) = message else {
            panic!("not a response")
        };
        let ServerResult::ListToolsResult(ListToolsResult { tools, .. }) = response.result else {
            panic!("not a tool list: {:?}", response.result)
        };
        assert!(runs_as_task(&tools[0]));
        let mut shown = serde_json::to_value(&tools[0]).unwrap();
        lift(&mut shown);
        assert_eq!(shown, tool);
        // And as a whole message, as the stdio bridge hands it to its client.
        let written = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [&tools[0]]}});
        let unstowed = unstow(written.to_string().as_bytes()).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&unstowed).unwrap(), line);
        let mut stripped = tools[0].clone();
        strip(&mut stripped);
        assert_eq!(stripped.meta, None);
        assert!(!runs_as_task(&stripped));
    }

    #[test]
    fn other_messages_are_left_as_they_are() {
        for message in [
            json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": "\"task"}]}}),
            json!({"jsonrpc": "2.0", "id": 1, "result": {"resultType": "task", "taskId": "t", "ttl": 1}}),
            json!({"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task()}),
            json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "plain"}]}}),
        ] {
            assert_eq!(stow(message.to_string().as_bytes()), None, "{message}");
        }
    }
}
