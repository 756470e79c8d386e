//! The tools that `/mcp` serves (`retrieve_tools`, `call_tool`, `upstream_servers`, and
//! `list_resources`, `read_resource`, `list_prompts`, `get_prompt` for clients that only use
//! tools): their definitions as clients see them and their argument types.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool};
use serde::Deserialize;

use super::backend::ServersRequest;

pub const RETRIEVE_TOOLS: &str = "retrieve_tools";
pub const CALL_TOOL: &str = "call_tool";
pub const UPSTREAM_SERVERS: &str = "upstream_servers";
pub const LIST_RESOURCES: &str = "list_resources";
pub const READ_RESOURCE: &str = "read_resource";
pub const LIST_PROMPTS: &str = "list_prompts";
pub const GET_PROMPT: &str = "get_prompt";

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

/// Arguments of `list_resources` and `list_prompts`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Only this server's (default: every server's).
    #[serde(default)]
    pub server: Option<String>,
}

/// Arguments of `read_resource`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct ReadResourceArgs {
    /// The resource's URI, as `list_resources` gives it (or one a template there matches).
    pub uri: String,
}

/// Arguments of `get_prompt`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct GetPromptArgs {
    /// The prompt, as `server:prompt` (the `name` of a `list_prompts` entry).
    pub name: String,
    /// The prompt's arguments.
    #[serde(default)]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
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
             `add` (with `server`), `remove`, `enable`, `disable`, `restart` and `approve` act on the \
             server `name`. An added server is quarantined (nothing of it shown) until approved; \
             every operation but `list` needs an admin token.",
            servers_schema(),
        ),
        Tool::new(
            LIST_RESOURCES,
            "List the resources (and resource templates) of the connected upstream MCP servers, \
             each with its server; read one with read_resource.",
            schema_for_type::<ListArgs>(),
        ),
        Tool::new(
            READ_RESOURCE,
            "Read a resource of an upstream MCP server by its URI (from list_resources).",
            schema_for_type::<ReadResourceArgs>(),
        ),
        Tool::new(
            LIST_PROMPTS,
            "List the prompts of the connected upstream MCP servers, each named `server:prompt` \
             with its arguments; get one with get_prompt.",
            schema_for_type::<ListArgs>(),
        ),
        Tool::new(
            GET_PROMPT,
            "Get a prompt of an upstream MCP server by its `server:prompt` name, with its \
             arguments.",
            schema_for_type::<GetPromptArgs>(),
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
        assert_eq!(
            names,
            [
                RETRIEVE_TOOLS,
                CALL_TOOL,
                UPSTREAM_SERVERS,
                LIST_RESOURCES,
                READ_RESOURCE,
                LIST_PROMPTS,
                GET_PROMPT
            ]
        );
        let fields = [
            ["query", "limit"].as_slice(),
            ["name", "args", "args_json"].as_slice(),
            ["operation", "name", "server"].as_slice(),
            ["server"].as_slice(),
            ["uri"].as_slice(),
            ["server"].as_slice(),
            ["name", "arguments"].as_slice(),
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
