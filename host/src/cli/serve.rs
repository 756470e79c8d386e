//! `mcpproxy serve`: set up logging and the runtime, run the daemon, stop cleanly on
//! SIGINT/SIGTERM (exit 0, every upstream stopped).

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{GlobalArgs, ServeArgs, paths};
use crate::daemon::{self, DaemonOptions};
use crate::upstream;

pub fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    return_large_allocations();
    // First, while this process has one thread and few open files.
    let spawner = upstream::start_spawner();
    let log_dir = paths::log_dir(global);
    let _log_guard = daemon::logging::init(&global.log_level, &log_dir)?;
    let opts = DaemonOptions {
        config_path: paths::config_path(global),
        data_dir: global.data_dir.clone(),
        log_dir,
        listen: args.listen,
        policy: args.policy,
    };
    if let Err(error) = spawner {
        warn!("servers are started by the daemon itself: no spawner: {error}");
    }
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

/// glibc raises its mmap threshold to the size of the largest block freed, so after one 10 MB
/// tool result every later large message came from the heap, which it never gives back: the
/// daemon stayed ~60 MB above its resting size. A fixed threshold (which also stops that
/// adjustment) sends blocks above 128 KiB to mmap, returned to the system when freed.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator tunables; it is called before any other thread
    // exists, and a refusal (0) leaves glibc's defaults, which work, only less frugally.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
