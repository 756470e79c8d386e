//! What the tools of `/mcp` do (see `tools` for their definitions): search the catalog, call
//! an upstream tool by `server:tool`, manage servers, and reach resources and prompts for
//! clients that only use tools. An upstream's JSON-RPC error passes through as the error of
//! the call; a mistake in the arguments is a tool error the model can read.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, GetPromptRequest,
    GetPromptRequestParams, GetPromptResult, JsonObject, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResult, ServerResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::backend::{ServersOperation, ServersRequest};
use super::call_result::{call_failed, error_text, json_result, within_limit};
use super::catalog::Scope;
use super::forward::{self, error_for};
use super::names::{effective_limit, parse_qualified};
use super::state::Shared;
use super::tools::{
    CALL_TOOL, CallToolArgs, GET_PROMPT, GetPromptArgs, LIST_PROMPTS, LIST_RESOURCES, ListArgs,
    READ_RESOURCE, RETRIEVE_TOOLS, ReadResourceArgs, RetrieveToolsArgs, UPSTREAM_SERVERS,
};
use crate::auth::Caller;
use crate::upstream::CallError;

/// Runs the `/mcp` tool `request` names.
pub async fn call(
    shared: &Shared,
    session: u64,
    request: CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let name = request.name.as_ref();
    let arguments = request.arguments;
    macro_rules! args {
        () => {
            match parse_args(name, arguments) {
                Ok(args) => args,
                Err(error) => return Ok(*error),
            }
        };
    }
    match name {
        RETRIEVE_TOOLS => Ok(retrieve_tools(shared, args!())),
        CALL_TOOL => call_tool(shared, session, args!(), context).await,
        UPSTREAM_SERVERS => Ok(upstream_servers(shared, args!(), &caller(context)).await),
        LIST_RESOURCES => Ok(list_resources(shared, args!())),
        READ_RESOURCE => read_resource(shared, session, args!(), context).await,
        LIST_PROMPTS => Ok(list_prompts(shared, args!())),
        GET_PROMPT => get_prompt(shared, session, args!(), context).await,
        other => Err(McpError::invalid_params(
            format!(
                "unknown tool {other:?}: /mcp serves {RETRIEVE_TOOLS}, {CALL_TOOL}, \
                 {UPSTREAM_SERVERS}, {LIST_RESOURCES}, {READ_RESOURCE}, {LIST_PROMPTS} and \
                 {GET_PROMPT} (every upstream tool directly is at /mcp/all)"
            ),
            None,
        )),
    }
}

fn retrieve_tools(shared: &Shared, args: RetrieveToolsArgs) -> CallToolResult {
    let limit = effective_limit(args.limit, shared.options.tools_limit());
    let catalog = shared.catalog.get(&Scope::All);
    let hits = catalog.index().search(&args.query, limit);
    json_result(json!({
        "query": args.query,
        "total_tools": catalog.entries().len(),
        "tools": hits,
    }))
}

async fn call_tool(
    shared: &Shared,
    session: u64,
    args: CallToolArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let (server, tool) = match parse_qualified(&args.name) {
        Ok(pair) => pair,
        Err(error) => return Ok(error_text(format!("call_tool: {error}"))),
    };
    let arguments = match call_arguments(args.args, args.args_json.as_deref()) {
        Ok(arguments) => arguments,
        Err(message) => return Ok(error_text(format!("call_tool {server}:{tool}: {message}"))),
    };
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Some(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let answer = forward::forward(shared, session, server, request, context).await;
    tool_answer(shared, server, tool, answer)
}

/// An upstream tool's answer as the answer of a tool here: its result, its JSON-RPC error
/// unchanged, or a tool error that says what the proxy could not do.
pub fn tool_answer(
    shared: &Shared,
    server: &str,
    tool: &str,
    answer: Result<ServerResult, CallError>,
) -> Result<CallToolResult, McpError> {
    let result = match answer {
        Ok(ServerResult::CallToolResult(result)) => result,
        Ok(other) => forward::answer_as(server, "tools/call", other)?,
        Err(CallError::Rejected(error)) => return Err(error),
        Err(error) => return Ok(call_failed(server, tool, &error)),
    };
    let limit = shared.options.tool_response_limit();
    Ok(within_limit(server, tool, result, limit))
}

/// Who made the request, as the token check found; a request that came some other way
/// (none does) may only read.
fn caller(context: &RequestContext<RoleServer>) -> Caller {
    let parts = context.extensions.get::<http::request::Parts>();
    let caller = parts.and_then(|p| p.extensions.get::<Caller>());
    caller.cloned().unwrap_or_else(Caller::anonymous)
}

/// `upstream_servers`: `list` for every token; a change (it may run a command) only for an
/// `admin` one.
async fn upstream_servers(
    shared: &Shared,
    request: ServersRequest,
    caller: &Caller,
) -> CallToolResult {
    let operation = request.operation;
    if operation != ServersOperation::List && !caller.may_change_servers() {
        return error_text(format!(
            "upstream_servers {operation:?}: not allowed for {}: changing servers needs a token \
             with scope admin (`mcpproxy token create NAME --scope admin`)",
            caller.describe()
        ));
    }
    match shared.backend.upstream_servers(request).await {
        Ok(value) => json_result(value),
        Err(message) => error_text(format!("upstream_servers {operation:?}: {message}")),
    }
}

fn list_resources(shared: &Shared, args: ListArgs) -> CallToolResult {
    let catalog = shared.catalog.get(&Scope::All);
    let wanted = |server: &str| args.server.as_deref().is_none_or(|s| s == server);
    let resources: Vec<Value> = catalog
        .resources()
        .iter()
        .filter_map(|resource| {
            let route = catalog.route_uri(&resource.uri)?;
            wanted(&route.server).then(|| with_server(resource, &route.server))
        })
        .collect();
    let templates: Vec<Value> = catalog
        .servers()
        .iter()
        .filter(|o| wanted(&o.server))
        .flat_map(|o| {
            o.offer
                .templates
                .iter()
                .map(|template| with_server(template, &o.server))
        })
        .collect();
    json_result(json!({"resources": resources, "resourceTemplates": templates}))
}

async fn read_resource(
    shared: &Shared,
    session: u64,
    args: ReadResourceArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let catalog = shared.catalog.get(&Scope::All);
    let Some(route) = catalog.route_uri(&args.uri) else {
        return Ok(error_text(format!(
            "read_resource: no Ready server has a resource {:?} (see list_resources)",
            args.uri
        )));
    };
    let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(
        ReadResourceRequestParams::new(route.name.clone()),
    ));
    let answer: Result<ReadResourceResult, McpError> =
        forward::request(shared, session, &route.server, request, context).await;
    Ok(json_result(
        serde_json::to_value(answer?).unwrap_or_default(),
    ))
}

fn list_prompts(shared: &Shared, args: ListArgs) -> CallToolResult {
    let catalog = shared.catalog.get(&Scope::All);
    let prompts: Vec<Value> = catalog
        .servers()
        .iter()
        .filter(|o| args.server.as_deref().is_none_or(|s| s == o.server))
        .flat_map(|o| {
            o.offer.prompts.iter().map(|prompt| {
                let mut entry = with_server(prompt, &o.server);
                entry["name"] = json!(format!("{}:{}", o.server, prompt.name));
                entry
            })
        })
        .collect();
    json_result(json!({"prompts": prompts}))
}

async fn get_prompt(
    shared: &Shared,
    session: u64,
    args: GetPromptArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let (server, prompt) = match parse_qualified(&args.name) {
        Ok(pair) => pair,
        Err(error) => return Ok(error_text(format!("get_prompt: {error}"))),
    };
    let mut params = GetPromptRequestParams::new(prompt.to_string());
    if let Some(arguments) = args.arguments {
        params = params.with_arguments(arguments);
    }
    let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
    let answer = forward::forward(shared, session, server, request, context).await;
    let result: GetPromptResult = match answer {
        Ok(answer) => forward::answer_as(server, "prompts/get", answer)?,
        Err(CallError::NotAvailable(reason)) => {
            return Ok(error_text(format!(
                "get_prompt {server}:{prompt}: {reason}"
            )));
        }
        Err(error) => return Err(error_for(server, "prompts/get", error)),
    };
    Ok(json_result(
        serde_json::to_value(result).unwrap_or_default(),
    ))
}

/// `item` as JSON, with the server it comes from.
fn with_server(item: &impl serde::Serialize, server: &str) -> Value {
    let mut entry = serde_json::to_value(item).unwrap_or_default();
    entry["server"] = json!(server);
    entry
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
