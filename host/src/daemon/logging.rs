//! Log set-up for `serve`: human-readable lines on stderr and in `<log_dir>/main.log`.
//! Upstream servers' own output goes to one file per server (see `upstream`).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Install the global subscriber. Keep the guard alive: dropping it flushes `main.log`.
pub fn init(level: &str, log_dir: &Path) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| anyhow::anyhow!("cannot create log dir {}: {e}", log_dir.display()))?;
    let filter =
        EnvFilter::try_new(level).map_err(|e| anyhow::anyhow!("--log-level {level:?}: {e}"))?;
    let (file, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(log_dir, "main.log"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr.and(file))
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging already initialised: {e}"))?;
    Ok(guard)
}
