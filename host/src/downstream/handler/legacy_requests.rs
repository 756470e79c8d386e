//! The requests `legacy_wire` renamed for a 2025-11-25 client: a `tools/call` with a `task`,
//! and `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel` (SEP-1686). Each goes to
//! the server that runs the tool or the task, with the task's own id there, and its answer
//! comes back as the server gave it, under the id this endpoint shows (`tasks::shown`). A task
//! is the token's that made it (`Tasks`); its status notifications go to the session that
//! made it.

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ClientRequest, CustomRequest, CustomResult, ErrorCode, ServerResult,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, ServerHandler};
use serde_json::{Map, Value, json};

use super::{Endpoint, ProxyHandler};
use crate::downstream::auth::caller_of;
use crate::downstream::catalog::Scope;
use crate::downstream::forward;
use crate::downstream::legacy_wire::RENAMED;
use crate::downstream::meta;
use crate::downstream::tasks;
use crate::legacy_tasks;

/// Pages of one server's `tasks/list` read at most for one client's list.
const MAX_LIST_PAGES: usize = 20;

/// The id of a related task in a message's `_meta`.
const RELATED_TASK: &str = "/_meta/io.modelcontextprotocol~1related-task/taskId";

impl ProxyHandler {
    /// A renamed request's answer.
    pub(super) async fn legacy_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let Some(method) = request.method.strip_prefix(RENAMED) else {
            return Err(McpError::new(
                ErrorCode::METHOD_NOT_FOUND,
                request.method,
                None,
            ));
        };
        let params = match request.params {
            Some(Value::Object(params)) => params,
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(McpError::invalid_params("params must be an object", None)),
        };
        let answer = match method {
            "tools/call" => self.task_call(params, context).await?,
            "tasks/list" => self.task_list(&context).await,
            "tasks/get" | "tasks/result" | "tasks/cancel" => {
                self.task_request(method, params, &context).await?
            }
            other => {
                return Err(McpError::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    other.to_string(),
                    None,
                ));
            }
        };
        Ok(CustomResult(answer))
    }

    /// `tools/call` with a `task`: the server's task under the id shown here, or the tool's
    /// answer when the server ran it at once (as a server that does not do tasks must).
    async fn task_call(
        &self,
        mut params: Map<String, Value>,
        context: RequestContext<RoleServer>,
    ) -> Result<Value, McpError> {
        let route = match self.endpoint {
            // `/mcp` offers no tasks: the call runs as if it had asked for none.
            Endpoint::Search => None,
            _ => {
                let name = params
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let catalog = self.catalog(&context);
                let route = catalog.resolve_direct(name);
                route.map(|(server, tool)| (server.to_string(), tool.to_string()))
            }
        };
        let Some((server, tool)) = route else {
            params.remove("task");
            let request: CallToolRequestParams = serde_json::from_value(Value::Object(params))
                .map_err(|e| McpError::invalid_params(format!("tools/call: {e}"), None))?;
            let answer = self.call_tool(request, context).await?;
            return Ok(serde_json::to_value(ServerResult::from(answer)).unwrap_or_default());
        };
        params.insert("name".to_string(), Value::String(tool.clone()));
        let forwarded = CustomRequest::new("tools/call", Some(Value::Object(params)));
        let answer = forward::forward(
            &self.shared,
            self.session,
            &server,
            ClientRequest::CustomRequest(forwarded),
            &context,
        )
        .await;
        let answer = match answer {
            Ok(answer @ ServerResult::CustomResult(_)) => legacy_tasks::unwrap(answer),
            other => {
                let scope = (&self.scope, &context);
                let response = meta::tool_answer(&self.shared, scope, (&server, &tool), other)?;
                return Ok(serde_json::to_value(ServerResult::from(response)).unwrap_or_default());
            }
        };
        Ok(self.adopted(&server, answer, &context))
    }

    /// `answer` (a created task) with its task adopted for this caller and shown under the id
    /// this endpoint gives it.
    fn adopted(
        &self,
        server: &str,
        mut answer: Value,
        context: &RequestContext<RoleServer>,
    ) -> Value {
        let token = caller_of(&context.extensions).token;
        let id = answer.pointer_mut("/task/taskId");
        if let Some(Value::String(id)) = id {
            let own = id.clone();
            *id = self
                .shared
                .tasks
                .adopt(&self.scope, token.as_deref(), server, &own);
            self.shared.tasks.made_in(server, &own, self.session);
        }
        answer
    }

    /// `tasks/get`, `tasks/result` or `tasks/cancel`, for the server that runs the task.
    async fn task_request(
        &self,
        method: &str,
        mut params: Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, McpError> {
        let Some(Value::String(shown)) = params.get("taskId").cloned() else {
            return Err(McpError::invalid_params(
                format!("{method}: no taskId"),
                None,
            ));
        };
        let token = caller_of(&context.extensions).token;
        let (server, own) = self
            .shared
            .tasks
            .route(&self.scope, token.as_deref(), &shown)?;
        params.insert("taskId".to_string(), Value::String(own));
        let forwarded = CustomRequest::new(method, Some(Value::Object(params)));
        let request = ClientRequest::CustomRequest(forwarded);
        let answer = forward::forward(&self.shared, self.session, &server, request, context)
            .await
            .map_err(|error| forward::error_for(&server, method, error))?;
        let mut answer = legacy_tasks::unwrap(answer);
        // The client's id wherever the answer names the task: a task's own, or the mark of a
        // result that belongs to it.
        for pointer in ["/taskId", RELATED_TASK] {
            if let Some(id) = answer.pointer_mut(pointer) {
                *id = Value::String(shown.clone());
            }
        }
        Ok(answer)
    }

    /// `tasks/list`: the caller's tasks, each as its server lists it, under the ids shown
    /// here. One page: a caller's tasks are at most `tasks::MAX_TASKS`.
    async fn task_list(&self, context: &RequestContext<RoleServer>) -> Value {
        let token = caller_of(&context.extensions).token;
        let mut mine: Vec<(String, String)> = self.shared.tasks.made_by(token.as_deref());
        if let Scope::One(server) = &self.scope {
            mine.retain(|(s, _)| s == server);
        }
        let mut servers: Vec<&str> = mine.iter().map(|(s, _)| s.as_str()).collect();
        servers.sort_unstable();
        servers.dedup();
        let mut listed = Vec::new();
        for server in servers {
            for mut task in self.server_tasks(server, context).await {
                let Some(Value::String(id)) = task.get("taskId").cloned() else {
                    continue;
                };
                if mine.iter().any(|(s, i)| s == server && *i == id) {
                    task["taskId"] = Value::String(tasks::shown(&self.scope, server, &id));
                    listed.push(task);
                }
            }
        }
        json!({ "tasks": listed })
    }

    /// Every task `server` lists for this daemon (all its clients'), as far as it answers.
    async fn server_tasks(&self, server: &str, context: &RequestContext<RoleServer>) -> Vec<Value> {
        let mut tasks = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            let request = ClientRequest::CustomRequest(CustomRequest::new("tasks/list", params));
            let answer =
                forward::forward(&self.shared, self.session, server, request, context).await;
            let Ok(answer) = answer else {
                tracing::debug!(
                    server,
                    "tasks/list failed; its tasks are left out of the list"
                );
                break;
            };
            let mut page = legacy_tasks::unwrap(answer);
            if let Some(Value::Array(items)) = page.get_mut("tasks") {
                tasks.append(items);
            }
            match page.get("nextCursor").and_then(Value::as_str) {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        tasks
    }
}
