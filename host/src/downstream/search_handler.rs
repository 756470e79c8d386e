//! The MCP server at `/mcp`: three tools (`retrieve_tools`, `call_tool`,
//! `upstream_servers`) that let a client find and call any upstream tool without listing them
//! all. One handler per client session.
//!
//! Resources and prompts (a later issue) plug in as further `ServerHandler` methods here, with
//! their capabilities added in `get_info`.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, JsonObject, ListToolsResult,
    PaginatedRequestParams, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::backend::ServersRequest;
use super::call_result::{call_failed, error_text, json_result};
use super::list_changed;
use super::names::{effective_limit, parse_qualified};
use super::state::Shared;
use super::tools::{
    CALL_TOOL, CallToolArgs, RETRIEVE_TOOLS, RetrieveToolsArgs, UPSTREAM_SERVERS, search_tools,
};

pub struct SearchHandler {
    shared: Arc<Shared>,
}

impl SearchHandler {
    pub fn new(shared: Arc<Shared>) -> SearchHandler {
        SearchHandler { shared }
    }

    fn retrieve_tools(&self, args: RetrieveToolsArgs) -> CallToolResult {
        let limit = effective_limit(args.limit, self.shared.options.tools_limit());
        let catalog = self.shared.catalog.get();
        let hits = catalog.index().search(&args.query, limit);
        json_result(json!({
            "query": args.query,
            "total_tools": catalog.entries().len(),
            "tools": hits,
        }))
    }

    async fn call_tool(&self, args: CallToolArgs, cancel: CancellationToken) -> CallToolResult {
        let (server, tool) = match parse_qualified(&args.name) {
            Ok(pair) => pair,
            Err(error) => return error_text(format!("call_tool: {error}")),
        };
        let arguments = match call_arguments(args.args, args.args_json.as_deref()) {
            Ok(arguments) => arguments,
            Err(message) => return error_text(format!("call_tool {server}:{tool}: {message}")),
        };
        let call = self
            .shared
            .backend
            .call_tool(server, tool, arguments, cancel);
        match call.await {
            Ok(result) => result,
            Err(error) => call_failed(server, tool, &error),
        }
    }

    async fn upstream_servers(&self, request: ServersRequest) -> CallToolResult {
        let operation = request.operation;
        match self.shared.backend.upstream_servers(request).await {
            Ok(value) => json_result(value),
            Err(message) => error_text(format!("upstream_servers {operation:?}: {message}")),
        }
    }
}

/// The arguments to forward: `args` wins over `args_json`; neither means none.
fn call_arguments(
    args: Option<JsonObject>,
    args_json: Option<&str>,
) -> Result<Option<JsonObject>, String> {
    if args.is_some() {
        return Ok(args);
    }
    match args_json.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Ok(Some(object)),
            Ok(other) => Err(format!("args_json must be a JSON object, got {other}")),
            Err(error) => Err(format!("args_json is not valid JSON: {error}")),
        },
    }
}

/// Parses a tool's arguments into the tool error a client sees when they do not fit.
fn parse_args<T: DeserializeOwned>(
    tool: &str,
    arguments: Option<JsonObject>,
) -> Result<T, Box<CallToolResult>> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|error| Box::new(error_text(format!("invalid arguments for {tool}: {error}"))))
}

impl ServerHandler for SearchHandler {
    fn get_info(&self) -> ServerConfig {
        list_changed::server_info(
            "mcpproxy",
            false,
            Some(
                "mcpproxy serves many upstream MCP servers. Find a tool with retrieve_tools, \
                 then call it with call_tool using its `server:tool` name."
                    .into(),
            ),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(search_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.as_ref();
        let result = match name {
            RETRIEVE_TOOLS => match parse_args(name, request.arguments) {
                Ok(args) => self.retrieve_tools(args),
                Err(error) => *error,
            },
            CALL_TOOL => match parse_args(name, request.arguments) {
                Ok(args) => self.call_tool(args, context.ct.clone()).await,
                Err(error) => *error,
            },
            UPSTREAM_SERVERS => match parse_args(name, request.arguments) {
                Ok(args) => self.upstream_servers(args).await,
                Err(error) => *error,
            },
            other => {
                return Err(McpError::invalid_params(
                    format!(
                        "unknown tool {other:?}: /mcp serves {RETRIEVE_TOOLS}, {CALL_TOOL} and \
                         {UPSTREAM_SERVERS} (every upstream tool directly is at /mcp/all)"
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_arguments_cases() {
        let object = json!({"x": 1}).as_object().cloned();
        // (args, args_json, the arguments forwarded or the start of the error)
        type Case<'a> = (
            Option<JsonObject>,
            Option<&'a str>,
            Result<Option<JsonObject>, &'a str>,
        );
        let cases: [Case; 6] = [
            (object.clone(), Some("{\"y\":2}"), Ok(object.clone())),
            (None, Some("{\"x\":1}"), Ok(object.clone())),
            (None, None, Ok(None)),
            (None, Some("  "), Ok(None)),
            (
                None,
                Some("[1]"),
                Err("args_json must be a JSON object, got [1]"),
            ),
            (None, Some("{"), Err("args_json is not valid JSON")),
        ];
        for (args, args_json, want) in cases {
            let got = call_arguments(args, args_json);
            match want {
                Ok(want) => assert_eq!(got, Ok(want), "{args_json:?}"),
                Err(prefix) => {
                    let message = got.unwrap_err();
                    assert!(message.starts_with(prefix), "{args_json:?}: {message}");
                }
            }
        }
    }
}
