//! A request's answer as plain JSON when nothing else comes before it. rmcp answers every
//! POST in a session with an SSE stream: an empty priming event, the answer, the end of the
//! stream, each its own write, TCP segment and wake-up of the client, and an SSE parse on
//! the client's side. The spec lets a server answer a request with `application/json`
//! instead, as long as it has nothing else to send on that request's stream.
//!
//! So the stream is held back until its first message: if that is the answer to the request,
//! the client gets it as a JSON body; if it is anything else (progress, a log message, a
//! request of the server's such as an elicitation), a keep-alive comment, the end of the
//! stream, or nothing within `HOLD`, the stream goes out as it is, from its first byte.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

/// How long an answer is held back waiting for its first message before the stream is
/// sent as it is: well under the 30 s that clients wait for response headers by default.
const HOLD: Duration = Duration::from_secs(5);

/// The middleware.
pub async fn prefer_json(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if response.status() != StatusCode::OK || !is_sse {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut frames = body.into_data_stream();
    let mut held: Vec<Bytes> = Vec::new();
    let mut pending = Events::default();
    let deadline = tokio::time::Instant::now() + HOLD;
    let answer = loop {
        let frame = match tokio::time::timeout_at(deadline, frames.next()).await {
            Ok(Some(Ok(frame))) => frame,
            // An error, the end of the stream, or the hold is over: pass on what there is.
            _ => break None,
        };
        pending.buf.extend_from_slice(&frame);
        held.push(frame);
        match pending.first_message() {
            Seen::Nothing => continue,
            Seen::Answer(data) => break Some(data),
            Seen::Other => break None,
        }
    };
    match answer {
        Some(data) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            parts.headers.remove(header::CACHE_CONTROL);
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::TRANSFER_ENCODING);
            Response::from_parts(parts, Body::from(data))
        }
        None => {
            let replay = futures::stream::iter(held.into_iter().map(Ok::<_, axum::Error>));
            Response::from_parts(parts, Body::from_stream(replay.chain(frames)))
        }
    }
}

/// What the first complete events of a stream show.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Only priming events (no data) so far, or no complete event yet.
    Nothing,
    /// The first message is a response (a result or an error): its JSON.
    Answer(Vec<u8>),
    /// Something else comes first: a notification, a request, a comment.
    Other,
}

/// The bytes of a stream not yet read as events.
#[derive(Default)]
struct Events {
    buf: Vec<u8>,
    /// How far `buf` is known to hold no event end, so that no byte is scanned twice.
    searched: usize,
}

impl Events {
    /// Reads complete events off the front (consuming them) up to the first one that
    /// decides. Pure.
    fn first_message(&mut self) -> Seen {
        loop {
            let from = self.searched.saturating_sub(1);
            let Some(end) = memchr::memmem::find(&self.buf[from..], b"\n\n").map(|i| from + i)
            else {
                self.searched = self.buf.len();
                return Seen::Nothing;
            };
            let seen = read_event(&self.buf[..end]);
            self.buf.drain(..end + 2);
            self.searched = 0;
            if let Some(seen) = seen {
                return seen;
            }
        }
    }
}

/// What one event (its lines, without the blank line that ends it) decides; `None` for the
/// priming event (an id and a retry, no data).
fn read_event(event: &[u8]) -> Option<Seen> {
    let mut data: Vec<u8> = Vec::new();
    let mut lines = 0;
    for line in event.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b":") {
            // A keep-alive comment: the stream is one that lasts.
            return Some(Seen::Other);
        }
        if let Some(value) = line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if lines > 0 {
                data.push(b'\n');
            }
            data.extend_from_slice(value);
            lines += 1;
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(if is_response(&data) {
        Seen::Answer(data)
    } else {
        Seen::Other
    })
}

/// Whether `data` is a JSON-RPC response: an object with an id and no method. rmcp writes
/// `{"jsonrpc":"2.0","id":<id>,` and then `"result"`, `"error"` or `"method"`, so that prefix
/// decides without reading a long answer through; anything else is parsed.
fn is_response(data: &[u8]) -> bool {
    if let Some(rest) = data.strip_prefix(br#"{"jsonrpc":"2.0","id":"#) {
        let id_len = match rest.first() {
            Some(b'"') => rest[1..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .filter(|&i| rest[1 + i] == b'"')
                .map(|i| i + 2),
            _ => rest.iter().position(|b| !b.is_ascii_digit() && *b != b'-'),
        };
        if let Some(after) = id_len.map(|n| &rest[n..]) {
            if after.starts_with(br#","result":"#) || after.starts_with(br#","error":"#) {
                return true;
            }
            if after.starts_with(br#","method":"#) {
                return false;
            }
        }
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        method: Option<serde::de::IgnoredAny>,
        id: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Shape>(data).is_ok_and(|s| s.method.is_none() && s.id.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_table() {
        let answer = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        let cases: [(&[u8], Seen); 7] = [
            (b"id: 0\nretry: 3000\ndata:\n\n", Seen::Nothing),
            (b"id: 0\nretry: 3000\ndata:\n\ndata: {\"jsonrpc\"", Seen::Nothing),
            (
                b"id: 0\nretry: 3000\ndata:\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\nid: 1\n\n",
                Seen::Answer(answer.to_vec()),
            ),
            (
                b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"x\"}}\n\n",
                Seen::Answer(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}"#.to_vec()),
            ),
            (
                b"data:\n\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
                Seen::Other,
            ),
            (
                b"data: {\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"elicitation/create\",\"params\":{}}\n\n",
                Seen::Other,
            ),
            (b"data:\n\n: ping\n\n", Seen::Other),
        ];
        for (stream, want) in cases {
            // Whole, and in two frames split at every byte.
            let mut events = Events {
                buf: stream.to_vec(),
                searched: 0,
            };
            let text = String::from_utf8_lossy(stream);
            assert_eq!(events.first_message(), want, "{text}");
            for split in 1..stream.len() {
                let mut events = Events::default();
                events.buf.extend_from_slice(&stream[..split]);
                let first = events.first_message();
                if first != Seen::Nothing {
                    assert_eq!(first, want, "{text} split at {split}");
                    continue;
                }
                events.buf.extend_from_slice(&stream[split..]);
                assert_eq!(events.first_message(), want, "{text} split at {split}");
            }
        }
    }

    #[test]
    fn responses_are_told_from_requests_and_notifications() {
        let cases: [(&str, bool); 8] = [
            (r#"{"jsonrpc":"2.0","id":1,"result":{"method":"x"}}"#, true),
            (
                r#"{"jsonrpc":"2.0","id":"a-b","error":{"code":1,"message":"m"}}"#,
                true,
            ),
            (r#"{"jsonrpc":"2.0","id":"a\"b","result":{}}"#, true),
            (r#"{"id":1,"jsonrpc":"2.0","result":{}}"#, true),
            (
                r#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage"}"#,
                false,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
                false,
            ),
            (r#"{"method":"ping","jsonrpc":"2.0","id":4}"#, false),
            ("not json", false),
        ];
        for (data, want) in cases {
            assert_eq!(is_response(data.as_bytes()), want, "{data}");
        }
    }
}
