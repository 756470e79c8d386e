//! Newline-delimited JSON-RPC streams (stdio) with each message passed through a `Rewrite`
//! (`stow`, `unstow`, or the stdio bridge's renaming) on its way to or from rmcp's codec.
//!
//! The common read or write, whole lines none of which the rewrite may change (its cheap
//! `may_change` look says so), goes through untouched. Otherwise the bytes are held until their
//! line ends, and handed on rewritten.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use memchr::{memchr, memrchr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read at a time while lines are held.
const CHUNK: usize = 8 * 1024;

/// What is done to each message.
pub trait Rewrite: Send + Unpin {
    /// Whether any line in `bytes` may change (a quick look, usually substring searches).
    fn may_change(&self, bytes: &[u8]) -> bool;
    /// The line `message` rewritten (without its newline); `None`: as it is.
    fn rewrite(&mut self, message: &[u8]) -> Option<Vec<u8>>;
}

/// Lines not yet ended, and rewritten ones not yet handed on.
struct Held<W> {
    rewrite: W,
    /// Their line has not ended yet.
    open: Vec<u8>,
    /// Ready to hand on, from `handed`.
    ready: Vec<u8>,
    handed: usize,
}

impl<W: Rewrite> Held<W> {
    fn new(rewrite: W) -> Held<W> {
        Held {
            rewrite,
            open: Vec::new(),
            ready: Vec::new(),
            handed: 0,
        }
    }

    /// Moves the open lines that have ended to `ready`, rewritten.
    fn take_lines(&mut self) {
        let Some(last) = memrchr(b'\n', &self.open) else {
            return;
        };
        let mut start = 0;
        while start <= last {
            let end = start + memchr(b'\n', &self.open[start..=last]).unwrap_or(last - start);
            let line = &self.open[start..end];
            match self.rewrite.rewrite(line) {
                Some(rewritten) => self.ready.extend_from_slice(&rewritten),
                None => self.ready.extend_from_slice(line),
            }
            self.ready.push(b'\n');
            start = end + 1;
        }
        self.open.drain(..=last);
    }

    fn left(&self) -> &[u8] {
        &self.ready[self.handed..]
    }

    fn handed(&mut self, n: usize) {
        self.handed += n;
        if self.handed == self.ready.len() {
            self.ready.clear();
            self.handed = 0;
        }
    }
}

/// A reader whose lines are rewritten.
pub struct RewrittenReader<R, W> {
    inner: R,
    held: Held<W>,
}

impl<R, W: Rewrite> RewrittenReader<R, W> {
    pub fn new(inner: R, rewrite: W) -> RewrittenReader<R, W> {
        RewrittenReader {
            inner,
            held: Held::new(rewrite),
        }
    }

    /// Hands on what is ready into `buf`; false when nothing was.
    fn hand_on(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let left = self.held.left();
        if left.is_empty() {
            return false;
        }
        let n = left.len().min(buf.remaining());
        buf.put_slice(&left[..n]);
        self.held.handed(n);
        true
    }
}

impl<R: AsyncRead + Unpin, W: Rewrite> AsyncRead for RewrittenReader<R, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.hand_on(buf) {
                return Poll::Ready(Ok(()));
            }
            if this.held.open.is_empty() {
                let before = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                let fresh = &buf.filled()[before..];
                let whole = fresh.ends_with(b"\n") && !this.held.rewrite.may_change(fresh);
                if fresh.is_empty() || whole {
                    return Poll::Ready(Ok(()));
                }
                this.held.open.extend_from_slice(fresh);
                buf.set_filled(before);
            } else {
                let mut chunk = [0u8; CHUNK];
                let mut read = ReadBuf::new(&mut chunk);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                if read.filled().is_empty() {
                    // The end: a last line without its newline goes on as it is.
                    let rest = std::mem::take(&mut this.held.open);
                    this.held.ready.extend_from_slice(&rest);
                    this.hand_on(buf);
                    return Poll::Ready(Ok(()));
                }
                this.held.open.extend_from_slice(read.filled());
            }
            this.held.take_lines();
        }
    }
}

/// A writer whose lines are rewritten. Bytes are taken at once; a line goes on when it ends
/// (rmcp's codec writes whole lines and flushes after each).
pub struct RewrittenWriter<T, W> {
    inner: T,
    held: Held<W>,
}

impl<T, W: Rewrite> RewrittenWriter<T, W> {
    pub fn new(inner: T, rewrite: W) -> RewrittenWriter<T, W> {
        RewrittenWriter {
            inner,
            held: Held::new(rewrite),
        }
    }
}

impl<T: AsyncWrite + Unpin, W: Rewrite> RewrittenWriter<T, W> {
    /// Writes what is ready; `Pending` until all of it is written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.held.left().is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, self.held.left()))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.held.handed(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin, W: Rewrite> AsyncWrite for RewrittenWriter<T, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        let whole = buf.ends_with(b"\n") && !this.held.rewrite.may_change(buf);
        if this.held.open.is_empty() && whole {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.held.open.extend_from_slice(buf);
        this.held.take_lines();
        // What could not be written now is written by the next write or flush.
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // A last line without its newline goes on as it is.
        let rest = std::mem::take(&mut self.held.open);
        self.held.ready.extend_from_slice(&rest);
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy_tasks::{RAW, Stow};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Gives one chunk per read, as a pipe may.
    struct Chunks(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(mut chunk) = self.0.pop_front() {
                let rest = chunk.split_off(chunk.len().min(buf.remaining()));
                buf.put_slice(&chunk);
                if !rest.is_empty() {
                    self.0.push_front(rest);
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    const TASK: &str = r#"{"jsonrpc":"2.0","id":2,"result":{"taskId":"t","status":"working","createdAt":"a","lastUpdatedAt":"b","ttl":5}}"#;
    const PLAIN: &str = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";

    fn check(out: &str) {
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(lines[0], PLAIN);
        let stowed: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(stowed["result"][RAW]["ttl"], 5);
        assert_eq!(lines[2], "{\"partial\":true}");
    }

    #[tokio::test]
    async fn a_reader_passes_plain_lines_and_rewrites_lines_split_across_reads() {
        let (head, tail) = TASK.split_at(40);
        let plain = format!("{PLAIN}\n");
        let chunks = [plain.as_str(), head, tail, "\n", "{\"partial\":", "true}"];
        let chunks = chunks.iter().map(|c| c.as_bytes().to_vec()).collect();
        let mut out = String::new();
        RewrittenReader::new(Chunks(chunks), Stow)
            .read_to_string(&mut out)
            .await
            .unwrap();
        check(&out);
    }

    #[tokio::test]
    async fn a_writer_rewrites_lines_written_in_pieces() {
        let (head, tail) = TASK.split_at(40);
        let mut written = Vec::new();
        {
            let mut writer = RewrittenWriter::new(&mut written, Stow);
            for piece in [&format!("{PLAIN}\n"), head, tail, "\n{\"partial\":true}"] {
                writer.write_all(piece.as_bytes()).await.unwrap();
                writer.flush().await.unwrap();
            }
            writer.shutdown().await.unwrap();
        }
        check(&String::from_utf8(written).unwrap());
    }
}
