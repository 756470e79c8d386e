//! Connecting a stdio upstream: spawn the child ourselves (own process group, stderr to the
//! server log) once the pacer gives the start a place, and handshake over its stdout/stdin
//! within `init_timeout` counted from the spawn (time spent waiting for a place is not the
//! server's).
//!
//! Every failure path kills the process group (in the background, so that a server that
//! ignores SIGTERM does not delay the verdict).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ClientServiceExt;
use rmcp::service::RoleClient;
use rmcp::transport::IntoTransport;
use rmcp::transport::async_rw::TransportAdapterAsyncRW;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::UpstreamClient;
use super::close_signal::CloseSignalled;
use super::eras::Eras;
use super::notice::NoticeSender;
use super::pacer::Pacer;
use super::process::{self, ChildProcess, Spawned};
use super::routes::Routes;
use super::session::{McpSession, Parts};
use super::stderr_tail::log_file_path;
use super::stdout_watch::{GarbageRecord, WatchedStdout};
use super::{Started, UpstreamSession};
use crate::config::ServerConfig;
use crate::contract::Transport;
use crate::contract::{Failure, FailureKind};
use crate::legacy_tasks;

/// After a failed handshake, how long to wait for the child's exit status.
const EXIT_WAIT: Duration = Duration::from_millis(500);

pub async fn connect(
    server: ServerConfig,
    init_timeout: Duration,
    pacer: Pacer,
    mut started: Started,
    log_dir: Option<PathBuf>,
    notices: NoticeSender,
    eras: Eras,
) -> Result<Box<dyn UpstreamSession>, Failure> {
    let log_file = log_dir.map(|dir| log_file_path(&dir, &server.name));
    // Held until the handshake ends, either way (given up earlier if the process idles).
    let place = pacer.admit().await;
    started.fire();
    let Spawned {
        process,
        stdin,
        stdout,
    } = process::spawn(&server, log_file)?;
    place.started(Some(process.pid()));
    let deadline = Instant::now() + init_timeout;

    let (stdout, garbage) = WatchedStdout::new(stdout);
    let stdout = legacy_tasks::RewrittenReader::new(stdout, legacy_tasks::Stow);
    let transport_closed = CancellationToken::new();
    let routes = Arc::new(Routes::default());
    let transport = CloseSignalled::new(
        IntoTransport::<RoleClient, std::io::Error, TransportAdapterAsyncRW>::into_transport((
            stdout, stdin,
        )),
        transport_closed.clone(),
        routes.clone(),
    );
    let (client, lists_changed) = UpstreamClient::new(&server.name, routes.clone(), notices);
    let inbox = client.inbox();
    let handshake = client.serve_with_lifecycle(transport, eras.lifecycle(&server));
    let outcome = tokio::time::timeout_at(deadline, handshake).await;
    drop(place);
    let failure = match outcome {
        Ok(Ok(service)) => {
            let session = McpSession::new(Parts {
                service,
                transport: Transport::Stdio,
                lists_changed,
                routes,
                transport_closed,
                process: Some(process),
                inbox,
            })
            .await;
            eras.learned(&server, session.is_legacy());
            return Ok(Box::new(session));
        }
        Ok(Err(error)) => {
            let exit = process.exited_within(EXIT_WAIT).await;
            handshake_failure(
                &process,
                exit,
                &garbage,
                format!("handshake failed: {error}"),
            )
            .await
        }
        Err(_elapsed) => {
            let exit = process.exit_now();
            let failure = handshake_failure(
                &process,
                exit,
                &garbage,
                format!("no MCP handshake within {init_timeout:?} of spawning"),
            )
            .await;
            if failure.kind == FailureKind::ProtocolError && garbage.first().is_none() {
                Failure {
                    kind: FailureKind::InitTimeout,
                    ..failure
                }
            } else {
                failure
            }
        }
    };
    tokio::spawn(async move { process.terminate().await });
    Err(failure)
}

/// Why a handshake did not complete: exited (code + stderr), non-JSON output, or `reason`.
async fn handshake_failure(
    process: &ChildProcess,
    exit: Option<process::Exit>,
    garbage: &GarbageRecord,
    reason: String,
) -> Failure {
    if exit.is_some() {
        return process
            .exit_failure(FailureKind::ExitedBeforeHandshake, exit)
            .await;
    }
    let mut failure = match garbage.first() {
        Some(line) => Failure::new(
            FailureKind::ProtocolError,
            format!("not MCP: stdout has non-JSON-RPC output: {line:?}"),
        ),
        None => Failure::new(FailureKind::ProtocolError, reason),
    };
    let tail = process.stderr.text();
    if !tail.is_empty() {
        failure.detail = format!("{}; stderr: {tail}", failure.detail);
    }
    failure
}
