//! Log set-up for `serve`: human-readable lines on stderr and in `<log_dir>/main.log`, rotated
//! by size (`MAIN_LOG_BYTES`, `MAIN_LOG_FILES` old ones kept). Upstream servers' own output
//! goes to one rotated file per server (see `upstream`).
//!
//! rmcp logs every client session it opens and closes at info: routine for a proxy, so it
//! is held to warnings unless `--log-level` names `rmcp` itself.
//!
//! No line is written with a server's secret in it (an `${env:NAME}` value: rmcp and reqwest
//! put URLs in their errors): the writer replaces each by its reference.

use std::io::Write;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::{MakeWriterExt, OptionalWriter};

use crate::config::secrets::{Secret, redact};

/// Every secret a config of this daemon held. Global like the subscriber that reads it; only
/// grows, so that a line about a server just removed is still redacted.
static SECRETS: RwLock<Vec<Secret>> = RwLock::new(Vec::new());

/// No log line shows `secrets` from now on.
pub fn remember_secrets(secrets: Vec<Secret>) {
    let mut known = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    for secret in secrets {
        if !known.contains(&secret) {
            known.push(secret);
        }
    }
}

/// Writes each line with the secrets replaced (a line is one `write` from the formatter).
struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
        if secrets.is_empty() {
            return self.0.write(buf);
        }
        let line = redact(&String::from_utf8_lossy(buf), &secrets);
        self.0.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct RedactingWriters<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingWriters<M> {
    type Writer = Redacting<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        Redacting(self.0.make_writer_for(meta))
    }
}

/// `main.log` is rotated past this size ...
pub const MAIN_LOG_BYTES: usize = 10 << 20;
/// ... keeping this many old ones (`main.log.1`, `.2`, ...).
pub const MAIN_LOG_FILES: usize = 5;
/// Lines queued for the log writer thread. Its queue is allocated whole up front: the
/// default 128,000 lines took 4 MiB, a twentieth of the daemon's memory at 1,000 servers.
/// The writer drains thousands of lines per millisecond, so a start-up burst does not fill
/// this one.
const MAIN_LOG_QUEUE: usize = 16_384;

/// Install the global subscriber. Keep the guard alive: dropping it flushes `main.log`.
pub fn init(level: &str, log_dir: &Path) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir)
        .map_err(|e| anyhow::anyhow!("cannot create log dir {}: {e}", log_dir.display()))?;
    let directives = filter_directives(level);
    let filter = EnvFilter::try_new(&directives)
        .map_err(|e| anyhow::anyhow!("--log-level {level:?}: {e}"))?;
    let main_log = FileRotate::new(
        log_dir.join("main.log"),
        AppendCount::new(MAIN_LOG_FILES),
        ContentLimit::BytesSurpassed(MAIN_LOG_BYTES),
        Compression::None,
        None,
    );
    let (file, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(MAIN_LOG_QUEUE)
        .finish(main_log);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingWriters(Console.and(file)))
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging already initialised: {e}"))?;
    Ok(guard)
}

/// The terminal's share of the log: everything, but for info and debug lines while the
/// start-up progress line is shown there (see `progress`).
struct Console;

impl<'a> MakeWriter<'a> for Console {
    type Writer = OptionalWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        OptionalWriter::some(std::io::stderr())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        if super::progress::console_quiet() && *meta.level() > tracing::Level::WARN {
            OptionalWriter::none()
        } else {
            OptionalWriter::some(std::io::stderr())
        }
    }
}

/// The filter for `--log-level LEVEL`: rmcp's per-session lines only when asked for, and
/// its service loop's only at errors: it warns of every JSON-RPC error answered, which for a
/// proxy passing on upstream errors is routine, one line per failed call. Pure.
pub fn filter_directives(level: &str) -> String {
    if level.contains("rmcp") {
        level.to_string()
    } else {
        format!("{level},rmcp=warn,rmcp::service=error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmcp_is_held_to_warnings_unless_named() {
        assert_eq!(
            filter_directives("info"),
            "info,rmcp=warn,rmcp::service=error"
        );
        assert_eq!(
            filter_directives("info,mcpproxy=debug"),
            "info,mcpproxy=debug,rmcp=warn,rmcp::service=error"
        );
        assert_eq!(filter_directives("debug,rmcp=trace"), "debug,rmcp=trace");
    }
}
