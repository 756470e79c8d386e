//! The HTTP face of the daemon: the axum router with the MCP endpoints (`/mcp`, `/mcp/all`,
//! `/mcp/server/<name>`: rmcp's streamable HTTP server behind a JSON-RPC body check, with
//! capped sessions, answers as plain JSON where nothing else is streamed, and the 2025-11-25
//! tasks rmcp does not model (`legacy_wire`)), the dashboard (`/ui`, see `ui`) and the health
//! endpoints (`/healthz`, `/readyz`, `/status`, `/metrics`), served by `listener` until the
//! shutdown token fires. Every request passes `guard` (Host, Origin), then `auth` (the bearer
//! token), before any route.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::DownstreamOptions;
use super::auth::{self, Gate};
use super::backend::Backend;
use super::catalog::{Scope, View};
use super::guard::{self, Guard};
use super::handler::{Endpoint, ProxyHandler};
use super::legacy_wire;
use super::sessions::{CappedSessions, MAX_SESSIONS};
use super::state::Shared;
use super::{json_reply, jsonrpc_check};
use crate::auth::{Caller, Verifier, allows_server};

type McpService = StreamableHttpService<ProxyHandler, CappedSessions>;

/// The services of `/mcp/server/<name>`, one per server asked for (each with its sessions),
/// made on first use. A std mutex: looked up or inserted under it, never an await.
struct OneServer {
    shared: Arc<Shared>,
    config: StreamableHttpServerConfig,
    services: Mutex<HashMap<String, McpService>>,
}

impl OneServer {
    /// `name`'s service; `None` when no Ready server has that name and none was made yet.
    fn service(&self, name: &str) -> Option<McpService> {
        let mut services = self.services.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(service) = services.get(name) {
            return Some(service.clone());
        }
        let view = View::whole(Scope::One(name.to_string()));
        if !self.shared.catalog.get(&view).shows_any() {
            return None;
        }
        let service = mcp_service(&self.shared, Endpoint::One(name.to_string()), &self.config);
        services.insert(name.to_string(), service.clone());
        Some(service)
    }
}

fn mcp_service(
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    config: &StreamableHttpServerConfig,
) -> McpService {
    let shared = shared.clone();
    StreamableHttpService::new(
        move || Ok(ProxyHandler::new(shared.clone(), endpoint.clone())),
        Arc::new(CappedSessions::new(MAX_SESSIONS)),
        config.clone(),
    )
}

async fn one_server(
    State(servers): State<Arc<OneServer>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    // Outside the token's profile the server is answered as if it did not exist.
    let caller = request.extensions().get::<Caller>();
    let allowed = allows_server(caller.and_then(Caller::profile), &name);
    match servers.service(&name).filter(|_| allowed) {
        Some(service) => match service.oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        },
        None => (
            StatusCode::NOT_FOUND,
            format!("no Ready upstream server named {name:?}\n"),
        )
            .into_response(),
    }
}

/// A closed session is answered 204: rmcp answers 202, which clients do not expect.
async fn delete_answers_no_content(request: Request, next: Next) -> Response {
    let delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = Body::empty();
    }
    response
}

/// Serves `/mcp`, `/mcp/all`, `/healthz`, `/readyz` and `/status` on `listener` until
/// `shutdown` fires; then open sessions and streams are closed and the call returns. Tokens
/// are checked with `verifier`.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    opts: DownstreamOptions,
    verifier: Verifier,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let guard = Arc::new(Guard::new(local, opts.clone()));
    let gate = Arc::new(Gate::new(verifier, local.ip().is_loopback(), opts.clone()));
    let shared = Shared::new(backend, opts, shutdown.clone());
    // The last layer runs first: Host and Origin, then the token.
    let app = router(shared, mcp_config(&shutdown))
        .layer(middleware::from_fn_with_state(gate, auth::check))
        .layer(middleware::from_fn_with_state(guard, guard::check));
    tracing::info!(address = %local, "serving MCP at /mcp, /mcp/all and /mcp/server/<name>");
    super::listener::serve(listener, app, shutdown).await
}

fn router(shared: Arc<Shared>, config: StreamableHttpServerConfig) -> Router {
    let one = Arc::new(OneServer {
        shared: shared.clone(),
        config: config.clone(),
        services: Mutex::default(),
    });
    let mcp = Router::new()
        .route_service("/mcp", mcp_service(&shared, Endpoint::Search, &config))
        .route_service("/mcp/all", mcp_service(&shared, Endpoint::All, &config))
        .route("/mcp/server/{name}", any(one_server).with_state(one))
        .layer(middleware::from_fn(delete_answers_no_content))
        .layer(middleware::from_fn(json_reply::prefer_json))
        .layer(middleware::from_fn(legacy_wire::rename))
        .layer(middleware::from_fn(jsonrpc_check::check));
    Router::new()
        .merge(mcp)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(shared.backend.clone())
        .merge(super::ui::router(shared.backend.clone()))
}

/// rmcp's server config: sessions end with the daemon (else open SSE streams would hold the
/// graceful shutdown forever). Host and Origin are checked by `guard`, for every route.
fn mcp_config(shutdown: &CancellationToken) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(jsonrpc_check::MAX_BODY_BYTES)
        .disable_allowed_hosts()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(backend): State<Arc<dyn Backend>>) -> impl IntoResponse {
    if backend.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: not every server has settled yet\n",
        )
    }
}

async fn status(State(backend): State<Arc<dyn Backend>>) -> Json<serde_json::Value> {
    Json(backend.status())
}

/// OpenMetrics text, which Prometheus scrapes.
async fn metrics(State(backend): State<Arc<dyn Backend>>) -> impl IntoResponse {
    const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(http::header::CONTENT_TYPE, CONTENT_TYPE)],
        backend.metrics(),
    )
}
