//! A child's stderr: drained into the per-server log file, with the last few KiB kept in
//! memory so that a failure can quote what the server said before it died.
//!
//! The drain never blocks the child: it reads as fast as stderr produces, and a log file
//! that cannot be written only loses the file copy, never the in-memory tail. The file is
//! rotated by size (`SERVER_LOG_BYTES`, `SERVER_LOG_FILES` old ones kept), so a chatty or
//! flapping server cannot fill the disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::io::Write;

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// How much of the end of stderr a failure quotes.
pub const TAIL_BYTES: usize = 4096;
/// A server's log is rotated past this size ...
pub const SERVER_LOG_BYTES: usize = 1 << 20;
/// ... keeping this many old ones (`stderr.log.1`, `.2`, ...).
pub const SERVER_LOG_FILES: usize = 3;

/// The last `TAIL_BYTES` of a stream.
#[derive(Debug, Default)]
pub struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > TAIL_BYTES {
            let cut = self.bytes.len() - TAIL_BYTES;
            self.bytes.drain(..cut);
        }
    }

    /// The tail as text, trimmed; a line cut in half at the front is dropped.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let text = if self.bytes.len() >= TAIL_BYTES {
            match text.find('\n') {
                Some(i) => &text[i + 1..],
                None => &text[..],
            }
        } else {
            &text[..]
        };
        text.trim().to_string()
    }
}

/// The shared view of a draining stderr.
#[derive(Debug, Clone)]
pub struct StderrTail {
    tail: Arc<Mutex<Tail>>,
    eof: CancellationToken,
}

impl StderrTail {
    /// Start draining `stderr` into `log_file` (if any, after a `header` line that marks
    /// this run) and the in-memory tail.
    pub fn drain<R>(stderr: R, log_file: Option<PathBuf>, header: String) -> StderrTail
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let this = StderrTail {
            tail: Arc::new(Mutex::new(Tail::default())),
            eof: CancellationToken::new(),
        };
        let shared = this.clone();
        tokio::spawn(async move {
            let _eof = shared.eof.clone().drop_guard();
            let mut file = match log_file {
                Some(path) => ServerLog::open(path).await,
                None => ServerLog(None),
            };
            let line = format!("--- {} {header} ---\n", chrono::Utc::now().to_rfc3339());
            file.write(line.into_bytes()).await;
            let mut stderr = stderr;
            let mut buf = vec![0u8; 4096];
            loop {
                let n = match stderr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if let Ok(mut tail) = shared.tail.lock() {
                    tail.push(&buf[..n]);
                }
                file.write(buf[..n].to_vec()).await;
            }
        });
        this
    }

    /// The tail as it is now.
    pub fn text(&self) -> String {
        self.tail.lock().map(|t| t.text()).unwrap_or_default()
    }

    /// The tail once stderr reached end of file, or after `wait` at most (a grandchild may
    /// hold stderr open long after the child died).
    pub async fn text_after_eof(&self, wait: Duration) -> String {
        let _ = tokio::time::timeout(wait, self.eof.cancelled()).await;
        self.text()
    }
}

/// A server's log file, rotated by size; `None` once it could not be opened or written.
/// Its blocking writes run on tokio's blocking pool.
struct ServerLog(Option<FileRotate<AppendCount>>);

impl ServerLog {
    async fn open(path: PathBuf) -> ServerLog {
        let shown = path.display().to_string();
        let opened = tokio::task::spawn_blocking(move || {
            FileRotate::new(
                path,
                AppendCount::new(SERVER_LOG_FILES),
                ContentLimit::BytesSurpassed(SERVER_LOG_BYTES),
                Compression::None,
                None,
            )
        })
        .await;
        match opened {
            Ok(file) => ServerLog(Some(file)),
            // `FileRotate::new` panics when it cannot create the log dir.
            Err(error) => {
                tracing::warn!("cannot open server log {shown}: {error}");
                ServerLog(None)
            }
        }
    }

    async fn write(&mut self, bytes: Vec<u8>) {
        let Some(mut file) = self.0.take() else {
            return;
        };
        let written = tokio::task::spawn_blocking(move || {
            let ok = file.write_all(&bytes).and_then(|()| file.flush()).is_ok();
            ok.then_some(file)
        })
        .await;
        self.0 = written.ok().flatten();
    }
}

/// `<log_dir>/server-<name>/stderr.log`, with characters that do not belong in a file name
/// replaced. A directory per server: opening a rotated file lists its directory (and stats
/// every entry), which with a thousand servers' logs side by side cost more CPU than
/// starting the servers.
pub fn log_file_path(log_dir: &Path, server: &str) -> PathBuf {
    let safe: String = server
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    log_dir.join(format!("server-{safe}")).join("stderr.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_and_drops_a_cut_line() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&["hello\n"], "hello"),
            (&["a\n", "b\n"], "a\nb"),
        ];
        for (chunks, want) in cases {
            let mut tail = Tail::default();
            for chunk in *chunks {
                tail.push(chunk.as_bytes());
            }
            assert_eq!(tail.text(), *want);
        }
        let mut tail = Tail::default();
        tail.push(&vec![b'x'; TAIL_BYTES]);
        tail.push(b"\nlast line\n");
        assert_eq!(tail.text(), "last line");
        assert!(tail.bytes.len() <= TAIL_BYTES);
    }

    #[test]
    fn log_file_names_are_safe() {
        let dir = Path::new("/logs");
        let cases = [
            ("github", "/logs/server-github/stderr.log"),
            ("a/b c", "/logs/server-a_b_c/stderr.log"),
            ("..", "/logs/server-../stderr.log"),
            ("../x", "/logs/server-.._x/stderr.log"),
        ];
        for (name, want) in cases {
            assert_eq!(log_file_path(dir, name), PathBuf::from(want));
        }
    }
}
