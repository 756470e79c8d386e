//! `mcpproxy stdio`: an MCP server on stdin/stdout that is a running daemon's `/mcp`, for
//! clients that can only launch stdio servers.
//!
//! A pipe, not a second proxy: every JSON-RPC message from the client goes to the daemon over
//! streamable HTTP as it is, and every message from the daemon comes back as it is, so the
//! handshake, every feature, request ids, progress tokens, cancellation and the daemon's own
//! requests to the client pass untouched. It holds no state of its own and must never write
//! anything but MCP messages to stdout.

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::RoleServer;
use rmcp::transport::async_rw::TransportAdapterAsyncRW;
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, Transport};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A message on its way to the client.
type Delivery = BoxFuture<'static, Result<(), String>>;

use super::client::{healthz_url, mcp_endpoint, transport_config};
use super::legacy_wire::BridgeRenamer;
use crate::legacy_tasks::{self, RewrittenReader, RewrittenWriter, StowingClient, Unstow};
use reqwest::header::{HeaderName, HeaderValue};

/// How long the bridge waits for the daemon to answer its first check.
const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves MCP on this process's stdin/stdout, forwarding to the daemon at `base_url` with
/// `token`, until stdin closes. Logging must go elsewhere (stderr or a file) while this runs.
pub async fn run_stdio(base_url: &str, token: Option<&str>) -> anyhow::Result<()> {
    // Non-blocking pipes when the client launched us with pipes (the usual case).
    run_bridge(base_url, token, rmcp::transport::stdio_pipes()).await
}

/// Serves MCP on `client` (stdin and stdout, or a pipe's halves in tests), forwarding to the
/// daemon at `base_url` with `token`, until either side closes.
///
/// rmcp reads and writes typed messages on both sides, so the 2025-11-25 task parts it does
/// not model are carried as the daemon's own endpoint carries them: the client's task requests
/// renamed (`BridgeRenamer`), the daemon's answers stowed (`StowingClient`) and put back for
/// the client (`Unstow`).
pub async fn run_bridge<R, W>(
    base_url: &str,
    token: Option<&str>,
    (reader, writer): (R, W),
) -> anyhow::Result<()>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let url = mcp_endpoint(base_url);
    // The daemon is only dialled with the client's first message: check it is there now,
    // so that a client without a daemon hears so at once rather than at its handshake.
    reach(base_url, token).await?;
    let reader = RewrittenReader::new(reader, BridgeRenamer::default());
    let writer = RewrittenWriter::new(writer, Unstow);
    let mut client =
        IntoTransport::<RoleServer, std::io::Error, TransportAdapterAsyncRW>::into_transport((
            reader, writer,
        ));
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let stowed = [(
        HeaderName::from_static(legacy_tasks::STOWED_HEADER),
        HeaderValue::from_static("1"),
    )];
    let config = transport_config(&url, token).custom_headers(stowed.into_iter().collect());
    let mut daemon = StreamableHttpClientTransport::with_client(StowingClient(http), config);
    // Sends to the daemon run as tasks, as rmcp's own service runs them: each waits for its
    // POST, and nothing else may wait meanwhile. Sends to the client are written one after
    // the other, in the order they came: a call's progress before its answer.
    let mut sends: JoinSet<Result<(), String>> = JoinSet::new();
    let (to_client, mut queued) = mpsc::unbounded_channel::<Delivery>();
    let writer = tokio::spawn(async move {
        while let Some(send) = queued.recv().await {
            if let Err(error) = send.await {
                tracing::warn!(%error, "stdio bridge: a message was not delivered to the client");
            }
        }
    });
    let outcome = loop {
        tokio::select! {
            message = client.receive() => match message {
                Some(message) => {
                    let send = daemon.send(message);
                    sends.spawn(async move { send.await.map_err(|e| e.to_string()) });
                }
                None => break Ok(()),
            },
            message = daemon.receive() => match message {
                Some(message) => {
                    let send = client.send(message);
                    let _ = to_client.send(Box::pin(async move { send.await.map_err(|e| e.to_string()) }));
                }
                None => break Err(anyhow::anyhow!("the mcpproxy daemon at {url} closed the session")),
            },
            Some(Ok(Err(error))) = sends.join_next(), if !sends.is_empty() => {
                tracing::warn!(%error, "stdio bridge: a message was not delivered to the daemon");
            }
        }
    };
    drop(to_client);
    let _ = writer.await;
    let _ = daemon.close().await;
    let _ = client.close().await;
    outcome
}

/// The daemon answers at all, and takes the token.
async fn reach(base_url: &str, token: Option<&str>) -> anyhow::Result<()> {
    let url = healthz_url(base_url);
    let get = reqwest::Client::new()
        .get(&url)
        .timeout(REACH_TIMEOUT)
        .send();
    let unreachable = |e: String| {
        let url = mcp_endpoint(base_url);
        anyhow::anyhow!(
            "cannot reach the mcpproxy daemon at {url}: {e} (is `mcpproxy serve` running?)"
        )
    };
    match get.await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => return Err(unreachable(format!("{url} answered {}", response.status()))),
        Err(error) => return Err(unreachable(error.to_string())),
    }
    // The token too: a refused one would otherwise surface only as a client left waiting.
    match super::client::status(base_url, token).await {
        Err(error @ super::client::ClientError::Unauthorized { .. }) => Err(error.into()),
        _ => Ok(()),
    }
}
