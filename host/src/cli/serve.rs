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
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        runtime.worker_threads(workers());
    }
    let runtime = runtime.enable_all().build()?;
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

/// The runtime's workers: half the cores, at least one (`TOKIO_WORKER_THREADS` overrides).
/// A forwarded call is tens of microseconds of work in a few steps, and a step woken on
/// another worker costs a thread wake-up each time: on two cores, one worker took the
/// daemon's CPU per call from 175 to 100 µs at one client and from 115 to 45 µs at eight
/// (`--bench load`). The other cores run the servers and the clients.
fn workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
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
