//! Connecting HTTP upstreams: streamable HTTP (rmcp's reqwest client), legacy SSE (our
//! `SseClientTransport`), and `auto` (streamable first, SSE only when the answer suggests
//! the wrong protocol). The `init_timeout` clock starts at the dial.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ClientServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::UpstreamSession;
use super::classify::{self, excerpt, suggests_other_protocol};
use super::client::UpstreamClient;
use super::close_signal::CloseSignalled;
use super::eras::Eras;
use super::notice::NoticeSender;
use super::routes::Routes;
use super::session::{McpSession, Parts};
use super::sse::{SseClientTransport, header_map};
use crate::config::{Protocol, ServerConfig};
use crate::contract::Transport;
use crate::contract::{Failure, FailureKind};
use crate::legacy_tasks::StowingClient;

pub async fn connect(
    server: ServerConfig,
    init_timeout: Duration,
    notices: NoticeSender,
    eras: Eras,
) -> Result<Box<dyn UpstreamSession>, Failure> {
    let reach = Reach {
        notices: &notices,
        eras: &eras,
    };
    let deadline = Instant::now() + init_timeout;
    let Some(url) = server.url.clone() else {
        return Err(Failure::new(
            FailureKind::ProtocolError,
            format!("server `{}` has no `url`", server.name),
        ));
    };
    let timeout = || {
        Failure::new(
            FailureKind::InitTimeout,
            format!("no MCP handshake with {url} within {init_timeout:?}"),
        )
    };
    let attempt = async {
        match server.protocol {
            Protocol::Sse => connect_sse(&server, &url, &reach).await,
            Protocol::Auto => match connect_streamable(&server, &url, &reach).await {
                Err(failure) if suggests_other_protocol(&failure) => {
                    connect_sse(&server, &url, &reach)
                        .await
                        .map_err(|sse| Failure {
                            detail: format!("streamable HTTP: {failure}; SSE: {}", sse.detail),
                            ..sse
                        })
                }
                other => other,
            },
            _ => connect_streamable(&server, &url, &reach).await,
        }
    };
    match tokio::time::timeout_at(deadline, attempt).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(failure)) => Err(with_body_excerpt(failure, &server, &url, deadline).await),
        Err(_) => Err(timeout()),
    }
}

/// What every handshake here needs besides the server.
struct Reach<'a> {
    notices: &'a NoticeSender,
    eras: &'a Eras,
}

async fn connect_streamable(
    server: &ServerConfig,
    url: &str,
    reach: &Reach<'_>,
) -> Result<Box<dyn UpstreamSession>, Failure> {
    let headers = header_map(&server.headers).map_err(|e| e.to_failure())?;
    let custom: HashMap<_, _> = headers
        .into_iter()
        .filter_map(|(k, v)| Some((k?, v)))
        .collect();
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).custom_headers(custom);
    let client = streamable_client().map_err(|e| {
        Failure::new(
            FailureKind::SpawnError,
            format!("server {}: cannot make an HTTP client: {e}", server.name),
        )
    })?;
    let transport = StreamableHttpClientTransport::with_client(StowingClient(client), config);
    handshake(transport, Transport::StreamableHttp, server, reach).await
}

/// The HTTP client of one streamable-HTTP upstream. rmcp's own opens a new connection per
/// message (no idle pool), which cost a connect and an accept per forwarded call; this one
/// keeps connections alive and sets `TCP_NODELAY` (a request's headers and body go out in
/// separate writes). Redirects as rmcp follows them: same origin, and only 307 and 308, which
/// keep the method and the body.
fn streamable_client() -> reqwest::Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if keeps_body && same_origin && attempt.previous().len() <= 10 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(redirects)
        .build()
}

/// The MCP handshake over an HTTP-based transport, watched for closing.
async fn handshake<T>(
    transport: T,
    kind: Transport,
    server: &ServerConfig,
    reach: &Reach<'_>,
) -> Result<Box<dyn UpstreamSession>, Failure>
where
    T: rmcp::transport::Transport<rmcp::RoleClient> + Send + 'static,
{
    let transport_closed = CancellationToken::new();
    let routes = Arc::new(Routes::default());
    let transport = CloseSignalled::new(transport, transport_closed.clone(), routes.clone());
    let (client, lists_changed) =
        UpstreamClient::new(&server.name, routes.clone(), reach.notices.clone());
    let inbox = client.inbox();
    let service = client
        .serve_with_lifecycle(transport, reach.eras.lifecycle(server))
        .await
        .map_err(|e| classify::init_error(&e))?;
    let session = McpSession::new(Parts {
        service,
        transport: kind,
        lists_changed,
        routes,
        transport_closed,
        process: None,
        inbox,
    })
    .await;
    reach.eras.learned(server, session.is_legacy());
    Ok(Box::new(session))
}

async fn connect_sse(
    server: &ServerConfig,
    url: &str,
    reach: &Reach<'_>,
) -> Result<Box<dyn UpstreamSession>, Failure> {
    let headers = header_map(&server.headers).map_err(|e| e.to_failure())?;
    let transport = SseClientTransport::connect(url, headers)
        .await
        .map_err(|e| e.to_failure())?;
    handshake(transport, Transport::Sse, server, reach).await
}

/// rmcp drops the body of 5xx answers; fetch it once more (same POST, remaining time) so
/// the failure can quote what the server said.
async fn with_body_excerpt(
    failure: Failure,
    server: &ServerConfig,
    url: &str,
    deadline: Instant,
) -> Failure {
    let needs_body = failure.kind == FailureKind::HttpStatus
        && failure.detail.trim() == format!("HTTP {}", failure.http_status.unwrap_or(0));
    let Ok(headers) = header_map(&server.headers) else {
        return failure;
    };
    if !needs_body {
        return failure;
    }
    let probe = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "mcpproxy", "version": env!("CARGO_PKG_VERSION")}}
        }))
        .send();
    let body = match tokio::time::timeout_at(deadline, probe).await {
        Ok(Ok(response)) => response.text().await.unwrap_or_default(),
        _ => return failure,
    };
    if body.trim().is_empty() {
        return failure;
    }
    Failure {
        detail: format!("{}: {}", failure.detail, excerpt(&body, 300)),
        ..failure
    }
}
