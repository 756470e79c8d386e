//! The HTTP face of the daemon: the axum router with the two MCP endpoints (`/mcp`,
//! `/mcp/all`, rmcp's streamable HTTP server behind a JSON-RPC body check, with capped
//! sessions) and the health endpoints (`/healthz`, `/readyz`, `/status`, `/metrics`), served
//! by `listener` until the shutdown token fires.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::DownstreamOptions;
use super::backend::Backend;
use super::direct_handler::DirectHandler;
use super::jsonrpc_check;
use super::search_handler::SearchHandler;
use super::sessions::{CappedSessions, MAX_SESSIONS};
use super::state::Shared;

/// Serves `/mcp`, `/mcp/all`, `/healthz`, `/readyz` and `/status` on `listener` until
/// `shutdown` fires; then open sessions and streams are closed and the call returns.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    opts: DownstreamOptions,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let shared = Shared::new(backend, opts, shutdown.clone());
    let app = router(shared, mcp_config(local, &shutdown));
    tracing::info!(address = %local, "serving MCP at /mcp and /mcp/all");
    super::listener::serve(listener, app, shutdown).await
}

fn router(shared: Arc<Shared>, config: StreamableHttpServerConfig) -> Router {
    let search = {
        let shared = shared.clone();
        StreamableHttpService::new(
            move || Ok(SearchHandler::new(shared.clone())),
            Arc::new(CappedSessions::new(MAX_SESSIONS)),
            config.clone(),
        )
    };
    let direct = {
        let shared = shared.clone();
        StreamableHttpService::new(
            move || Ok(DirectHandler::new(shared.clone())),
            Arc::new(CappedSessions::new(MAX_SESSIONS)),
            config,
        )
    };
    let mcp = Router::new()
        .route_service("/mcp", search)
        .route_service("/mcp/all", direct)
        .layer(middleware::from_fn(jsonrpc_check::check));
    Router::new()
        .merge(mcp)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(shared.backend.clone())
}

/// rmcp's server config: sessions end with the daemon (else open SSE streams would hold the
/// graceful shutdown forever), and the Host check admits the address we listen on.
fn mcp_config(local: SocketAddr, shutdown: &CancellationToken) -> StreamableHttpServerConfig {
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(jsonrpc_check::MAX_BODY_BYTES);
    match allowed_hosts(local) {
        Some(hosts) => config.with_allowed_hosts(hosts),
        None => config.disable_allowed_hosts(),
    }
}

/// Loopback names always; the listen address too when it is a specific one. `None` (no Host
/// check) when listening on every interface: the user chose to be reachable under any name.
fn allowed_hosts(local: SocketAddr) -> Option<Vec<String>> {
    let ip = local.ip();
    if ip.is_unspecified() {
        return None;
    }
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let own = match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    if !ip.is_loopback() {
        hosts.push(own);
    }
    Some(hosts)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_cases() {
        let loopback = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        let cases: [(&str, Option<Vec<String>>); 4] = [
            ("127.0.0.1:8080", Some(loopback.clone())),
            ("0.0.0.0:8080", None),
            ("[::]:8080", None),
            (
                "192.168.1.5:8080",
                Some([loopback.clone(), vec!["192.168.1.5".into()]].concat()),
            ),
        ];
        for (address, want) in cases {
            let address: SocketAddr = address.parse().unwrap();
            assert_eq!(allowed_hosts(address), want, "{address}");
        }
    }
}
