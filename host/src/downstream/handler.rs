//! The MCP server behind every endpoint, one handler per client session:
//! - `/mcp/all`: every Ready server's tools, resources, templates and prompts, tools and
//!   prompts named `server__name`;
//! - `/mcp/server/<name>`: one server, exactly as it is;
//! - `/mcp`: the same resources, prompts, completions and logging, but the search-style
//!   tools of `meta` instead of every tool.
//!
//! Every request goes to the server its name or URI routes to (`catalog`), made for this
//! session (`forward::origin`), so the server's progress and own requests come back here.
//! The session's notifier (`notifier`) tells the client when lists change and passes on the
//! log messages and resource updates it asked for.
//!
//! Each request sees what its own token's profile allows (`View`); the session's
//! capabilities, instructions and notifications follow the token that opened it.

// Logging and resources/subscribe are legacy-only in 2026-07-28 (SEP-2577); the 2025-11-25
// servers and clients proxied here still use them.
#![allow(deprecated)]

use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CacheScope, CallToolRequest, CallToolRequestParams, CallToolResponse, ClientNotification,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, CustomRequest,
    CustomResult, DiscoverResult, Extensions, GetPromptRequest, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, InitializeRequestParams, InitializeResult, JsonObject,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference, ResourceContents, RootsListChangedNotification, ServerConfig,
    ServerResult, SetLevelRequest, SetLevelRequestParams, SubscribeRequest, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequest, UnsubscribeRequestParams,
};
use rmcp::model::{
    CancelTaskParams, CancelTaskRequest, GetTaskParams, GetTaskRequest, GetTaskResult,
    UpdateTaskParams, UpdateTaskRequest,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::auth::caller_of;
use super::catalog::{Catalog, Route, Scope, View};
use super::forward::{self, page};
use super::input;
use super::list_changed::{self, Lists};
use super::meta;
use super::notifier::{self, Outlet, SessionWants};
use super::state::Shared;
use super::tools::search_tools;
use crate::auth::Profile;
use crate::legacy_tasks;
use crate::upstream::{CacheHint, Origin};

mod legacy_requests;

/// Items per page of every list.
pub const PAGE_SIZE: usize = 1000;

/// Which endpoint a session is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mcp`: search-style tools.
    Search,
    /// `/mcp/all`.
    All,
    /// `/mcp/server/<name>`.
    One(String),
}

impl Endpoint {
    fn scope(&self) -> Scope {
        match self {
            Endpoint::Search | Endpoint::All => Scope::All,
            Endpoint::One(name) => Scope::One(name.clone()),
        }
    }

    fn lists(&self) -> Lists {
        Lists {
            // `/mcp`'s own tools never change.
            tools: *self != Endpoint::Search,
            resources: true,
            prompts: true,
        }
    }
}

pub struct ProxyHandler {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    scope: Scope,
    /// The profile of the token that opened the session (its first request): what its
    /// capabilities, instructions and notifications show.
    opener: OnceLock<Option<Arc<Profile>>>,
    session: u64,
    /// Subscribed when the session (or stateless request) starts, before the client can list
    /// anything, so that no change is missed between its listing and our forwarding.
    changes: watch::Receiver<u64>,
    wants: Arc<SessionWants>,
    /// Fires when the session's handler is dropped (session closed), ending its notifier.
    stop: CancellationToken,
    _stop_guard: DropGuard,
}

impl ProxyHandler {
    /// The server that runs the task `params` names for this caller, and `params` with the
    /// server's own id in it.
    fn task_route<P>(
        &self,
        mut params: P,
        id: impl FnOnce(&mut P) -> &mut String,
        context: &RequestContext<RoleServer>,
    ) -> Result<(String, P), McpError> {
        let caller = caller_of(&context.extensions);
        let task_id = id(&mut params);
        let (server, own) =
            self.shared
                .tasks
                .route(&self.scope, caller.token.as_deref(), task_id)?;
        *task_id = own;
        Ok((server, params))
    }

    /// Sends a `tasks/update` or `tasks/cancel` to `server`; its acknowledgement, or its error.
    async fn task_ack(
        &self,
        server: &str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let method = request.method().to_string();
        forward::forward(&self.shared, self.session, server, request, context)
            .await
            .map(drop)
            .map_err(|error| forward::error_for(server, &method, error))
    }

    pub fn new(shared: Arc<Shared>, endpoint: Endpoint) -> ProxyHandler {
        let stop = shared.shutdown.child_token();
        ProxyHandler {
            changes: shared.backend.offers_changed(),
            wants: Arc::new(SessionWants::new(shared.backend.notices())),
            session: shared.next_session(),
            scope: endpoint.scope(),
            opener: OnceLock::new(),
            endpoint,
            shared,
            _stop_guard: stop.clone().drop_guard(),
            stop,
        }
    }

    /// What the sender of a message with `extensions` sees here; the first one opens the
    /// session.
    fn view(&self, extensions: &Extensions) -> View {
        let profile = caller_of(extensions).profile;
        self.opener.get_or_init(|| profile.clone());
        View {
            scope: self.scope.clone(),
            profile,
        }
    }

    /// What the sender of `context`'s request sees here.
    fn catalog(&self, context: &RequestContext<RoleServer>) -> Arc<Catalog> {
        self.shared.catalog.get(&self.view(&context.extensions))
    }

    /// What the session's opener sees here.
    fn session_view(&self) -> View {
        View {
            scope: self.scope.clone(),
            profile: self.opener.get().cloned().flatten(),
        }
    }

    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        server: &str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<T, McpError> {
        forward::request(&self.shared, self.session, server, request, context).await
    }

    /// `hint` as this daemon may pass it on: while tokens are on, what one caller sees may
    /// differ from what another sees (token profiles), so nothing is for every caller.
    fn shared_hint(&self, hint: CacheHint) -> CacheHint {
        if self.shared.options.auth_off() {
            hint
        } else {
            hint.private()
        }
    }

    /// `request` (one that may need the client's input) forwarded to `server`: its final
    /// answer, marked complete, or its request for input.
    async fn ask(
        &self,
        server: &str,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        let method = request.method().to_string();
        let answer = input::forward(&self.shared, self.session, server, request, context).await;
        answer.map_err(|error| forward::error_for(server, &method, error))
    }

    /// This client subscribes to `uri` (at `route`); the upstream is subscribed when it is
    /// the first client to. The subscription ends with the handler (`Drop`).
    async fn hold(
        &self,
        uri: &str,
        route: &Route,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if !self.wants.subscribe(uri, route) || !self.shared.hold(route) {
            return Ok(());
        }
        let params = SubscribeRequestParams::new(route.name.clone());
        let forwarded = ClientRequest::SubscribeRequest(SubscribeRequest::new(params));
        let answer: Result<serde_json::Value, McpError> =
            self.request(&route.server, forwarded, context).await;
        if let Err(error) = answer {
            self.shared.release(route);
            self.wants.unsubscribe(uri);
            return Err(error);
        }
        Ok(())
    }

    fn route_uri(&self, catalog: &Catalog, uri: &str) -> Result<Route, McpError> {
        catalog.route_uri(uri).ok_or_else(|| {
            McpError::resource_not_found(
                format!("no Ready upstream server has a resource {uri:?}"),
                None,
            )
        })
    }

    fn own_instructions(&self) -> Option<&'static str> {
        match self.endpoint {
            Endpoint::Search => Some(
                "mcpproxy serves many upstream MCP servers. Find a tool with retrieve_tools, \
                 then call it with call_tool using its `server:tool` name; list_resources, \
                 read_resource, list_prompts and get_prompt reach their resources and prompts.",
            ),
            Endpoint::All => Some(
                "mcpproxy: every tool and prompt of every connected upstream MCP server, named \
                 server__name, and their resources. Each server's own instructions follow.",
            ),
            Endpoint::One(_) => None,
        }
    }
}

impl Drop for ProxyHandler {
    /// The upstream subscriptions only this session held end with it.
    fn drop(&mut self) {
        let held: Vec<Route> = self.wants.subscriptions().into_values().collect();
        let last: Vec<Route> = held
            .into_iter()
            .filter(|r| self.shared.release(r))
            .collect();
        if last.is_empty() {
            return;
        }
        let backend = self.shared.backend.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            for route in last {
                let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
                    UnsubscribeRequestParams::new(route.name.clone()),
                ));
                let _ = backend
                    .forward(&route.server, request, None, CancellationToken::new())
                    .await;
            }
        });
    }
}

/// `$result` (a list or read result) with the cache hint `$hint`.
macro_rules! hinted {
    ($result:expr, $hint:expr) => {{
        let mut result = $result;
        let hint: CacheHint = $hint;
        result.ttl_ms = hint.ttl_ms;
        result.cache_scope = hint.scope;
        result
    }};
}

/// How long `/mcp`'s own tools stay fresh: they never change while the daemon runs.
const SEARCH_TOOLS_TTL_MS: u64 = 3_600_000;

/// The page of a list that `request`'s cursor asks for, `PAGE_SIZE` items long.
/// The `tasks` capability of 2025-11-25: tasks listed, cancelled, and made by `tools/call`.
fn legacy_tasks_capability() -> JsonObject {
    let capability =
        serde_json::json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}});
    capability.as_object().cloned().unwrap_or_default()
}

fn paged<T: Clone>(
    items: &[T],
    request: &Option<PaginatedRequestParams>,
) -> Result<(Vec<T>, Option<String>), McpError> {
    let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
    page(items, cursor, PAGE_SIZE)
}

/// `contents` with `server`'s URIs as this endpoint shows them.
fn show_uris(
    catalog: &Catalog,
    server: &str,
    mut result: ReadResourceResult,
) -> ReadResourceResult {
    for contents in &mut result.contents {
        let uri = match contents {
            ResourceContents::TextResourceContents { uri, .. } => uri,
            ResourceContents::BlobResourceContents { uri, .. } => uri,
            _ => continue,
        };
        *uri = catalog.downstream_uri(server, uri);
    }
    result
}

impl ServerHandler for ProxyHandler {
    fn get_info(&self) -> ServerConfig {
        let catalog = self.shared.catalog.get(&self.session_view());
        let mut capabilities = catalog.capabilities();
        if self.endpoint == Endpoint::Search
            && let Some(tools) = capabilities.tools.as_mut()
        {
            tools.list_changed = None;
        }
        let name = match &self.endpoint {
            Endpoint::Search => "mcpproxy".to_string(),
            Endpoint::All => "mcpproxy-all".to_string(),
            Endpoint::One(server) => format!("mcpproxy-server-{server}"),
        };
        list_changed::server_info(
            &name,
            capabilities,
            catalog.instructions(self.own_instructions()),
        )
    }

    /// A tool's definition, for rmcp's check of a 2026-07-28 request's `Mcp-Param-*` headers
    /// against the parameters the tool marks `x-mcp-header` (SEP-2243).
    fn get_tool(&self, name: &str) -> Option<Tool> {
        if self.endpoint == Endpoint::Search {
            return None;
        }
        let catalog = self.shared.catalog.get(&self.session_view());
        let mut tool = catalog.direct_tool(name)?.clone();
        tool.name = name.to_string().into();
        legacy_tasks::strip(&mut tool);
        Some(tool)
    }

    /// The default, after binding the session to the token that opens it.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let catalog = self.catalog(&context);
        context.peer.set_peer_info(request.clone());
        let mut answer = self.negotiate_initialize(&request)?;
        // 2025-11-25 tasks, where a tool shown here runs as one (`legacy_wire` moves it).
        if self.endpoint != Endpoint::Search && catalog.runs_tasks() {
            let experimental = answer.capabilities.experimental.get_or_insert_default();
            experimental.insert(
                legacy_tasks::CAPABILITY.to_string(),
                legacy_tasks_capability(),
            );
        }
        Ok(answer)
    }

    /// The 2025-11-25 task requests, renamed on their way in (`legacy_wire`).
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        self.legacy_request(request, context).await
    }

    /// The default, with what the asking token sees.
    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        self.view(&context.extensions);
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        ))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let (tools, hint) = match self.endpoint {
            Endpoint::Search => {
                let hint = CacheHint::new(Some(SEARCH_TOOLS_TTL_MS), Some(CacheScope::Public));
                (search_tools(), hint)
            }
            _ => {
                let catalog = self.catalog(&context);
                let hint = self.shared_hint(catalog.hint(|h| h.tools));
                (catalog.direct_tools(), hint)
            }
        };
        let (items, next) = paged(&tools, &request)?;
        let mut result = hinted!(ListToolsResult::with_all_items(items), hint);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if self.endpoint == Endpoint::Search {
            return meta::call(&self.shared, self.session, request, &context).await;
        }
        let catalog = self.catalog(&context);
        let Some((server, tool)) = catalog.resolve_direct(&request.name) else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool {:?}: no Ready upstream server serves it{}",
                    request.name,
                    match self.scope {
                        Scope::All => " (names are server__tool)",
                        Scope::One(_) => "",
                    }
                ),
                None,
            ));
        };
        let mut params = request;
        params.name = tool.to_string().into();
        let forwarded = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let answer = input::forward(&self.shared, self.session, server, forwarded, &context).await;
        meta::tool_answer(
            &self.shared,
            (&self.scope, &context),
            (server, tool),
            answer,
        )
    }

    /// `tasks/get`: the task's state from the server that runs it, under the id shown here.
    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let shown = request.task_id.clone();
        let (server, params) = self.task_route(request, |p| &mut p.task_id, &context)?;
        let forwarded = ClientRequest::GetTaskRequest(GetTaskRequest::new(params));
        let mut result: GetTaskResult =
            forward::request(&self.shared, self.session, &server, forwarded, &context).await?;
        result.task.task.task_id = shown;
        Ok(result)
    }

    /// `tasks/update`: the client's answers to what a task asked, for the server that runs it.
    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (server, params) = self.task_route(request, |p| &mut p.task_id, &context)?;
        let forwarded = ClientRequest::UpdateTaskRequest(UpdateTaskRequest::new(params));
        self.task_ack(&server, forwarded, &context).await
    }

    /// `tasks/cancel`, for the server that runs the task.
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let (server, params) = self.task_route(request, |p| &mut p.task_id, &context)?;
        let forwarded = ClientRequest::CancelTaskRequest(CancelTaskRequest::new(params));
        self.task_ack(&server, forwarded, &context).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let catalog = self.catalog(&context);
        let (items, next) = paged(catalog.resources(), &request)?;
        let hint = self.shared_hint(catalog.hint(|h| h.resources));
        let mut result = hinted!(ListResourcesResult::with_all_items(items), hint);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let catalog = self.catalog(&context);
        let (items, next) = paged(&catalog.templates(), &request)?;
        let hint = self.shared_hint(catalog.hint(|h| h.templates));
        let mut result = hinted!(ListResourceTemplatesResult::with_all_items(items), hint);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let catalog = self.catalog(&context);
        let route = self.route_uri(&catalog, &request.uri)?;
        let mut params = request;
        params.uri = route.name.clone();
        let forwarded = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
        let method = "resources/read";
        match self.ask(&route.server, forwarded, &context).await? {
            ServerResult::InputRequiredResult(asked) => Ok(asked.into()),
            answer => {
                let result: ReadResourceResult = forward::answer_as(&route.server, method, answer)?;
                let hint = CacheHint::new(result.ttl_ms, result.cache_scope);
                let result = hinted!(result, self.shared_hint(hint));
                Ok(show_uris(&catalog, &route.server, result).into())
            }
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let route = self.route_uri(&self.catalog(&context), &request.uri)?;
        self.hold(&request.uri, &route, &context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let Some(route) = self.wants.unsubscribe(&request.uri) else {
            return Ok(());
        };
        if self.shared.release(&route) {
            let mut params = request;
            params.uri = route.name.clone();
            let forwarded = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(params));
            let _: serde_json::Value = self.request(&route.server, forwarded, &context).await?;
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let catalog = self.catalog(&context);
        let (items, next) = paged(catalog.prompts(), &request)?;
        let hint = self.shared_hint(catalog.hint(|h| h.prompts));
        let mut result = hinted!(ListPromptsResult::with_all_items(items), hint);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let Some(route) = self
            .catalog(&context)
            .resolve_prompt(&request.name)
            .cloned()
        else {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt {:?}: no Ready upstream server has it",
                    request.name
                ),
                None,
            ));
        };
        let mut params = request;
        params.name = route.name.clone();
        let forwarded = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
        match self.ask(&route.server, forwarded, &context).await? {
            ServerResult::InputRequiredResult(asked) => Ok(asked.into()),
            answer => {
                let result: GetPromptResult =
                    forward::answer_as(&route.server, "prompts/get", answer)?;
                Ok(result.into())
            }
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let catalog = self.catalog(&context);
        let mut params = request;
        let route = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let route = catalog.resolve_prompt(&prompt.name).cloned();
                if let Some(route) = &route {
                    prompt.name = route.name.clone();
                }
                route
            }
            Reference::Resource(resource) => {
                let route = catalog.route_template(&resource.uri);
                if let Some(route) = &route {
                    resource.uri = route.name.clone();
                }
                route
            }
            _ => None,
        };
        let Some(route) = route else {
            return Err(McpError::invalid_params(
                "completion/complete: no Ready upstream server has the prompt or template referred to",
                None,
            ));
        };
        let forwarded = ClientRequest::CompleteRequest(CompleteRequest::new(params));
        self.request(&route.server, forwarded, &context).await
    }

    /// The level is this session's (log messages below it are not sent here) and goes to
    /// every server this endpoint shows that logs: servers have one level for all clients,
    /// so the most recent `setLevel` of any session is what they use.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.wants.set_level(request.level);
        let catalog = self.catalog(&context);
        let servers: Vec<String> = catalog
            .servers()
            .iter()
            .filter(|o| o.offer.has_logging())
            .map(|o| o.server.clone())
            .collect();
        let sends = servers.iter().map(|server| {
            let forwarded = ClientRequest::SetLevelRequest(SetLevelRequest::new(
                SetLevelRequestParams::new(request.level),
            ));
            let context = &context;
            async move {
                let answer: Result<serde_json::Value, McpError> =
                    self.request(server, forwarded, context).await;
                (server, answer)
            }
        });
        for (server, answer) in futures::future::join_all(sends).await {
            if let Err(error) = answer {
                tracing::warn!(%server, %error.message, "logging/setLevel not taken");
            }
        }
        Ok(())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.view(&context.extensions);
        notifier::spawn(notifier::Notifier {
            shared: self.shared.clone(),
            session: self.session,
            view: self.session_view(),
            lists: self.endpoint.lists(),
            changes: self.changes.clone(),
            wants: self.wants.clone(),
            stop: self.stop.clone(),
            outlet: Outlet::Session(context.peer),
        });
    }

    /// Every server this endpoint shows is told; a server that then asks for the roots
    /// outside a call is answered by this client.
    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let catalog = self.shared.catalog.get(&self.view(&context.extensions));
        for offer in catalog.servers() {
            let notification = ClientNotification::RootsListChangedNotification(
                RootsListChangedNotification::default(),
            );
            let origin = Origin {
                session: self.session,
                peer: context.peer.clone(),
                request_id: None,
                progress_token: None,
                capabilities: context
                    .peer
                    .peer_info()
                    .map(|info| info.capabilities.clone())
                    .unwrap_or_default(),
                asks: None,
            };
            let backend = &self.shared.backend;
            backend
                .notify(&offer.server, notification, Some(origin))
                .await;
        }
    }

    /// 2026-07-28 clients have no session: they ask for notifications with
    /// `subscriptions/listen`, which stays open while `listen` runs. Of the resources asked
    /// for, those a server here lists or a template matches are accepted.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = list_changed::accepted(requested, &self.get_info());
        let catalog = self.shared.catalog.get(&self.session_view());
        if let Some(uris) = accepted.resource_subscriptions.as_mut() {
            uris.retain(|uri| catalog.route_uri(uri).is_some());
        }
        Some(accepted)
    }

    /// The list changes and resource updates the stream accepted, until the client ends it
    /// or the daemon stops.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let request = context.request_context();
        let view = self.view(&request.extensions);
        let catalog = self.shared.catalog.get(&view);
        let accepted = context.accepted().clone();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            if let Some(route) = catalog.route_uri(uri)
                && let Err(error) = self.hold(uri, &route, request).await
            {
                tracing::warn!(%uri, server = %route.server, %error.message, "resource not subscribed");
            }
        }
        let asked = |flag: Option<bool>| flag == Some(true);
        let lists = self.endpoint.lists().and(Lists {
            tools: asked(accepted.tools_list_changed),
            resources: asked(accepted.resources_list_changed),
            prompts: asked(accepted.prompts_list_changed),
        });
        let notifier = notifier::Notifier {
            shared: self.shared.clone(),
            session: self.session,
            view,
            lists,
            changes: self.changes.clone(),
            wants: self.wants.clone(),
            stop: self.stop.clone(),
            outlet: Outlet::Subscription(context.sink().clone()),
        };
        tokio::select! {
            () = notifier.run() => {}
            () = context.cancelled() => {}
            () = self.shared.shutdown.cancelled() => {}
        }
        Ok(())
    }
}
