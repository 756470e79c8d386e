//! The tools that `/mcp` serves (`retrieve_tools`, `call_tool`, `upstream_servers`): their
//! definitions as clients see them and their argument types.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool};
use serde::Deserialize;

use super::backend::ServersRequest;

pub const RETRIEVE_TOOLS: &str = "retrieve_tools";
pub const CALL_TOOL: &str = "call_tool";
pub const UPSTREAM_SERVERS: &str = "upstream_servers";

/// Arguments of `retrieve_tools`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct RetrieveToolsArgs {
    /// Keywords describing the tool you need, e.g. "read a file" or "weather forecast".
    pub query: String,
    /// How many tools to return at most (default: the daemon's `tools_limit`).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Arguments of `call_tool`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct CallToolArgs {
    /// The tool, as `server:tool` (the `name` of a `retrieve_tools` hit).
    pub name: String,
    /// The tool's arguments.
    #[serde(default, alias = "arguments")]
    pub args: Option<JsonObject>,
    /// The tool's arguments as a JSON string (for clients that cannot send an object).
    #[serde(default)]
    pub args_json: Option<String>,
}

/// The tool list of `/mcp`.
pub fn search_tools() -> Vec<Tool> {
    vec![
        Tool::new(
            RETRIEVE_TOOLS,
            "Search the tools of all connected upstream MCP servers by keywords. Returns the best \
             matches, best first, each with its `server:tool` name, description and input schema; \
             pass the name to call_tool.",
            schema_for_type::<RetrieveToolsArgs>(),
        ),
        Tool::new(
            CALL_TOOL,
            "Call a tool of an upstream MCP server by its `server:tool` name (from retrieve_tools) \
             with its arguments in `args`.",
            schema_for_type::<CallToolArgs>(),
        ),
        Tool::new(
            UPSTREAM_SERVERS,
            "Manage the upstream MCP servers: `list` returns every server with its connection state; \
             `add` (with `server`), `remove`, `enable`, `disable` and `restart` act on the server `name`.",
            servers_schema(),
        ),
    ]
}

fn servers_schema() -> Arc<JsonObject> {
    schema_for_type::<ServersRequest>()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tools_have_object_schemas_with_their_fields() {
        let tools = search_tools();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, [RETRIEVE_TOOLS, CALL_TOOL, UPSTREAM_SERVERS]);
        let fields = [
            ["query", "limit"].as_slice(),
            ["name", "args", "args_json"].as_slice(),
            ["operation", "name", "server"].as_slice(),
        ];
        for (tool, fields) in tools.iter().zip(fields) {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            for field in fields {
                assert!(
                    tool.input_schema["properties"].get(field).is_some(),
                    "{} lacks {field}: {:?}",
                    tool.name,
                    tool.input_schema
                );
            }
        }
    }

    #[test]
    fn call_tool_args_accept_args_and_arguments() {
        let parsed: CallToolArgs =
            serde_json::from_value(json!({"name": "a:b", "arguments": {"x": 1}})).unwrap();
        assert_eq!(parsed.args.unwrap()["x"], 1);
        let parsed: CallToolArgs = serde_json::from_value(json!({"name": "a:b"})).unwrap();
        assert!(parsed.args.is_none());
    }
}
