//! What the tools of `/mcp` do (see `tools` for their definitions): search the catalog, call
//! an upstream tool by `server:tool`, manage servers, and reach resources and prompts for
//! clients that only use tools. An upstream's JSON-RPC error passes through as the error of
//! the call; a mistake in the arguments is a tool error the model can read. A caller whose
//! token has a profile finds, calls and manages only what the profile allows.

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, ClientRequest,
    GetPromptRequest, GetPromptRequestParams, GetPromptResult, JsonObject, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResult, ServerResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::caller_of;
use super::backend::{ServersOperation, ServersRequest};
use super::call_result::{call_failed, error_text, json_result, within_limit};
use super::catalog::{Catalog, Scope, View};
use super::forward::{self, error_for};
use super::input;
use super::names::{effective_limit, parse_qualified};
use super::state::Shared;
use super::tools::{
    CALL_TOOL, CallToolArgs, GET_PROMPT, GetPromptArgs, LIST_PROMPTS, LIST_RESOURCES, ListArgs,
    READ_RESOURCE, RETRIEVE_TOOLS, ReadResourceArgs, RetrieveToolsArgs, UPSTREAM_SERVERS,
};
use crate::auth::{self, Caller};
use crate::status::ServerList;
use crate::upstream::CallError;

/// Runs the `/mcp` tool `request` names.
pub async fn call(
    shared: &Shared,
    session: u64,
    request: CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, McpError> {
    let name = request.name.as_ref();
    let arguments = request.arguments;
    // A retry with the client's input (2026-07-28) goes on to the upstream tool.
    let input = (request.input_responses, request.request_state);
    let caller = caller_of(&context.extensions);
    let catalog = || {
        shared.catalog.get(&View {
            scope: Scope::All,
            profile: caller.profile.clone(),
        })
    };
    macro_rules! args {
        () => {
            match parse_args(name, arguments) {
                Ok(args) => args,
                Err(error) => return Ok((*error).into()),
            }
        };
    }
    let result = match name {
        RETRIEVE_TOOLS => Ok(retrieve_tools(shared, &catalog(), args!())),
        CALL_TOOL => return call_tool(shared, session, args!(), input, &caller, context).await,
        UPSTREAM_SERVERS => Ok(upstream_servers(shared, args!(), &caller).await),
        LIST_RESOURCES => Ok(list_resources(&catalog(), args!())),
        READ_RESOURCE => read_resource(shared, session, &catalog(), args!(), context).await,
        LIST_PROMPTS => Ok(list_prompts(&catalog(), args!())),
        GET_PROMPT => get_prompt(shared, session, args!(), &caller, context).await,
        other => Err(McpError::invalid_params(
            format!(
                "unknown tool {other:?}: /mcp serves {RETRIEVE_TOOLS}, {CALL_TOOL}, \
                 {UPSTREAM_SERVERS}, {LIST_RESOURCES}, {READ_RESOURCE}, {LIST_PROMPTS} and \
                 {GET_PROMPT} (every upstream tool directly is at /mcp/all)"
            ),
            None,
        )),
    };
    result.map(Into::into)
}

fn retrieve_tools(shared: &Shared, catalog: &Catalog, args: RetrieveToolsArgs) -> CallToolResult {
    let limit = effective_limit(args.limit, shared.options.tools_limit());
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
    (responses, state): (Option<rmcp::model::InputResponses>, Option<String>),
    caller: &Caller,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, McpError> {
    let (server, tool) = match parse_qualified(&args.name) {
        Ok(pair) => pair,
        Err(error) => return Ok(error_text(format!("call_tool: {error}")).into()),
    };
    if !auth::allows_tool(caller.profile(), server, tool) {
        return Ok(outside_profile("call_tool", &args.name, caller).into());
    }
    let arguments = match call_arguments(args.args, args.args_json.as_deref()) {
        Ok(arguments) => arguments,
        Err(message) => {
            return Ok(error_text(format!("call_tool {server}:{tool}: {message}")).into());
        }
    };
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Some(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    params.input_responses = responses;
    params.request_state = state;
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let answer = input::forward(shared, session, server, request, context).await;
    tool_answer(shared, (&Scope::All, context), (server, tool), answer)
}

/// An upstream tool's answer as the answer of a tool here, for the client of `context` on an
/// endpoint of `scope`: its result (or its request for the client's input, or the task it
/// runs as), its JSON-RPC error unchanged, or a tool error that says what the proxy could
/// not do.
pub fn tool_answer(
    shared: &Shared,
    (scope, context): (&Scope, &RequestContext<RoleServer>),
    (server, tool): (&str, &str),
    answer: Result<ServerResult, CallError>,
) -> Result<CallToolResponse, McpError> {
    let result = match answer {
        Ok(ServerResult::CallToolResult(result)) => result,
        Ok(ServerResult::InputRequiredResult(asked)) => return Ok(asked.into()),
        Ok(ServerResult::CreateTaskResult(mut created)) => {
            let token = caller_of(&context.extensions).token;
            let task = &mut created.task;
            task.task_id = shared
                .tasks
                .adopt(scope, token.as_deref(), server, &task.task_id);
            return Ok(created.into());
        }
        Ok(other) => forward::answer_as(server, "tools/call", other)?,
        Err(CallError::Rejected(error)) => return Err(error),
        Err(error) => return Ok(call_failed(server, tool, &error).into()),
    };
    let limit = shared.options.tool_response_limit();
    Ok(within_limit(server, tool, result, limit).into())
}

/// The tool error for a name outside the caller's profile: the same whether or not such a
/// thing exists, so a profile hides what lies outside it.
fn outside_profile(tool: &str, name: &str, caller: &Caller) -> CallToolResult {
    error_text(format!(
        "{tool} {name}: not available to {} (see `mcpproxy token list`)",
        caller.describe()
    ))
}

/// `upstream_servers`: `list` for every token; a change (it may run a command) only for an
/// `admin` one. A token with a profile lists and changes only the servers it allows.
async fn upstream_servers(
    shared: &Shared,
    request: ServersRequest,
    caller: &Caller,
) -> CallToolResult {
    let operation = request.operation;
    let target = request.name.clone().or_else(|| {
        let entry = request.server.as_ref()?;
        Some(entry.get("name")?.as_str()?.to_string())
    });
    let imported = request.servers.iter().flatten();
    let imported = imported.filter_map(|e| e.get("name")?.as_str().map(str::to_string));
    let targets = target.into_iter().chain(imported);
    for name in targets.filter(|_| operation != ServersOperation::List) {
        if !auth::allows_server(caller.profile(), &name) {
            return outside_profile("upstream_servers", &name, caller);
        }
    }
    if operation != ServersOperation::List && !caller.may_change_servers() {
        return error_text(format!(
            "upstream_servers {operation:?}: not allowed for {}: changing servers needs a token \
             with scope admin (`mcpproxy token create NAME --scope admin`)",
            caller.describe()
        ));
    }
    match shared.backend.upstream_servers(request).await {
        Ok(value) if operation == ServersOperation::List && caller.profile.is_some() => {
            json_result(visible_servers(value, caller))
        }
        Ok(value) => json_result(value),
        Err(message) => error_text(format!("upstream_servers {operation:?}: {message}")),
    }
}

/// The server list with only the servers `caller`'s profile allows, summary counted again.
fn visible_servers(list: Value, caller: &Caller) -> Value {
    let Ok(list) = serde_json::from_value::<ServerList>(list) else {
        // Not a list this daemon makes: show nothing rather than everything.
        return json!({"servers": []});
    };
    let servers = list
        .servers
        .into_iter()
        .filter(|s| auth::allows_server(caller.profile(), &s.name))
        .collect();
    serde_json::to_value(ServerList::new(servers)).unwrap_or_default()
}

fn list_resources(catalog: &Catalog, args: ListArgs) -> CallToolResult {
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
    catalog: &Catalog,
    args: ReadResourceArgs,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
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

fn list_prompts(catalog: &Catalog, args: ListArgs) -> CallToolResult {
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
    caller: &Caller,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let (server, prompt) = match parse_qualified(&args.name) {
        Ok(pair) => pair,
        Err(error) => return Ok(error_text(format!("get_prompt: {error}"))),
    };
    if !auth::allows_server(caller.profile(), server) {
        return Ok(outside_profile("get_prompt", &args.name, caller));
    }
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
