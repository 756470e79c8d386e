//! A child's stderr: drained into the per-server log file, with the last few KiB kept in
//! memory so that a failure can quote what the server said before it died.
//!
//! The drain never blocks the child: it reads as fast as stderr produces, and a log file
//! that cannot be written only loses the file copy, never the in-memory tail.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// How much of the end of stderr a failure quotes.
pub const TAIL_BYTES: usize = 4096;

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
                Some(path) => open_log(&path).await,
                None => None,
            };
            if let Some(f) = file.as_mut() {
                let line = format!("--- {} {header} ---\n", chrono::Utc::now().to_rfc3339());
                if f.write_all(line.as_bytes()).await.is_err() {
                    file = None;
                }
            }
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
                if let Some(f) = file.as_mut()
                    && f.write_all(&buf[..n]).await.is_err()
                {
                    file = None;
                }
            }
            if let Some(mut f) = file {
                let _ = f.flush().await;
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

async fn open_log(path: &Path) -> Option<tokio::fs::File> {
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
    {
        Ok(file) => Some(file),
        Err(error) => {
            tracing::warn!("cannot open server log {}: {error}", path.display());
            None
        }
    }
}

/// `<log_dir>/server-<name>.log`, with characters that do not belong in a file name replaced.
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
    log_dir.join(format!("server-{safe}.log"))
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
            ("github", "/logs/server-github.log"),
            ("a/b c", "/logs/server-a_b_c.log"),
            ("../x", "/logs/server-.._x.log"),
        ];
        for (name, want) in cases {
            assert_eq!(log_file_path(dir, name), PathBuf::from(want));
        }
    }
}
