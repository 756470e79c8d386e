//! Watches the bytes a stdio server writes on stdout before its handshake, to notice output
//! that is not JSON-RPC.
//!
//! rmcp silently skips unparsable lines (as the other SDKs do), so without this a server
//! that prints garbage looks exactly like one that hangs. The watcher never changes the
//! bytes; it only remembers the first line that cannot be a JSON-RPC message.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// How much of an offending line is kept.
const EXCERPT: usize = 200;

#[derive(Debug, Default)]
struct LineState {
    /// The start of the current line (up to `EXCERPT` bytes).
    current: Vec<u8>,
    first_garbage: Option<String>,
}

impl LineState {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.end_line();
            } else if self.current.len() < EXCERPT {
                self.current.push(b);
            }
        }
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.current).trim().to_string();
        self.current.clear();
        if self.first_garbage.is_none() && !line.is_empty() && !line.starts_with('{') {
            self.first_garbage = Some(line);
        }
    }
}

/// Shared record of non-JSON output.
#[derive(Debug, Clone, Default)]
pub struct GarbageRecord(Arc<Mutex<LineState>>);

impl GarbageRecord {
    /// The first non-JSON line seen, if any.
    pub fn first(&self) -> Option<String> {
        self.0.lock().ok().and_then(|s| s.first_garbage.clone())
    }
}

/// An `AsyncRead` that passes bytes through and records non-JSON lines.
pub struct WatchedStdout<R> {
    inner: R,
    record: GarbageRecord,
}

impl<R> WatchedStdout<R> {
    pub fn new(inner: R) -> (WatchedStdout<R>, GarbageRecord) {
        let record = GarbageRecord::default();
        (
            WatchedStdout {
                inner,
                record: record.clone(),
            },
            record,
        )
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for WatchedStdout<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            if !new.is_empty()
                && let Ok(mut state) = self.record.0.lock()
                && state.first_garbage.is_none()
            {
                state.feed(new);
            }
        }
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_non_json_line_is_recorded() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["{\"jsonrpc\":\"2.0\"}\n"], None),
            (&["\n\n"], None),
            (&["hello world\n"], Some("hello world")),
            (&["{\"a\":1}\n", "oops\n", "second\n"], Some("oops")),
            (&["par", "tial\n"], Some("partial")),
            (&["no newline yet"], None),
        ];
        for (chunks, want) in cases {
            let mut state = LineState::default();
            for chunk in *chunks {
                state.feed(chunk.as_bytes());
            }
            assert_eq!(state.first_garbage.as_deref(), *want, "{chunks:?}");
        }
    }
}
