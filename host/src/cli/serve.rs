//! `mcpproxy serve`: set up logging and the runtime, run the daemon, stop cleanly on
//! SIGINT/SIGTERM (exit 0, every upstream stopped).

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{GlobalArgs, ServeArgs, paths};
use crate::daemon::{self, DaemonOptions};

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let log_dir = paths::log_dir(global);
    let _log_guard = daemon::logging::init(&global.log_level, &log_dir)?;
    let opts = DaemonOptions {
        config_path: paths::config_path(global),
        data_dir: global.data_dir.clone(),
        log_dir,
        listen: args.listen,
        policy: args.policy,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = sigint.recv() => info!("SIGINT: shutting down"),
                _ = sigterm.recv() => info!("SIGTERM: shutting down"),
            }
            on_signal.cancel();
        });
        daemon::run(opts, shutdown).await
    })?;
    info!("mcpproxy stopped");
    Ok(ExitCode::SUCCESS)
}
