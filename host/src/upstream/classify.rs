//! Classification of HTTP-side connection errors into `Failure`s.
//!
//! rmcp hands back layered errors (`ClientInitializeError` → `DynamicTransportError` → the
//! transport's own error → reqwest/io); this walks them and picks the most telling cause:
//! refused, an HTTP status, a timeout, or else a protocol error with the full text.

use std::error::Error as StdError;

use rmcp::service::ClientInitializeError;
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::contract::{Failure, FailureKind};

/// The errors of the legacy SSE transport (`sse`), each classified by `to_failure`.
#[derive(Debug, thiserror::Error)]
pub enum SseTransportError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the event stream ended before an `endpoint` event")]
    NoEndpoint,
    #[error("bad `endpoint` event {0:?}: {1}")]
    BadEndpoint(String, String),
    #[error(
        "the `endpoint` event points at {endpoint}, not the server's own origin {server}: refused, so the configured headers never go there"
    )]
    ForeignEndpoint { endpoint: String, server: String },
    #[error("event stream error: {0}")]
    Stream(String),
    #[error("invalid header `{0}`")]
    Header(String),
}

impl SseTransportError {
    pub fn to_failure(&self) -> Failure {
        match self {
            SseTransportError::Http(error) => reqwest_error(error),
            SseTransportError::Status { status, body } => {
                let detail = if body.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {body}")
                };
                Failure::new(FailureKind::HttpStatus, detail).with_http_status(*status)
            }
            other => Failure::new(FailureKind::ProtocolError, other.to_string()),
        }
    }
}

/// A `Failure` for an HTTP/SSE handshake error.
pub fn init_error(error: &ClientInitializeError) -> Failure {
    // The `server/discover` probe failed as a legacy server's does, and so did the
    // `initialize` after it: the handshake's own failure is the one that says what is wrong.
    if let ClientInitializeError::LegacyFallbackFailed { fallback, .. } = error {
        return init_error(fallback);
    }
    let text = error.to_string();
    if let ClientInitializeError::TransportError { error: dynamic, .. } = error
        && let Some(failure) = cause(dynamic.error.as_ref())
    {
        return failure;
    }
    if let ClientInitializeError::JsonRpcError(data) = error {
        return Failure::new(
            FailureKind::ProtocolError,
            format!("initialize rejected: {}", data.message),
        );
    }
    Failure::new(FailureKind::ProtocolError, text)
}

/// Walks an error chain for a known cause.
pub fn cause(error: &(dyn StdError + 'static)) -> Option<Failure> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(failure) = known(e) {
            return Some(failure);
        }
        current = e.source();
    }
    None
}

fn known(e: &(dyn StdError + 'static)) -> Option<Failure> {
    if let Some(http) = e.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
        return match http {
            StreamableHttpError::HttpStatus(status) => Some(
                Failure::new(FailureKind::HttpStatus, format!("HTTP {}", status.status))
                    .with_http_status(status.status),
            ),
            StreamableHttpError::UnexpectedServerResponse(text) => Some(status_text(text)),
            StreamableHttpError::SessionExpired => Some(
                Failure::new(FailureKind::HttpStatus, "HTTP 404 (session expired)")
                    .with_http_status(404),
            ),
            StreamableHttpError::AuthRequired(_) => Some(
                Failure::new(FailureKind::HttpStatus, "HTTP 401: authorization required")
                    .with_http_status(401),
            ),
            StreamableHttpError::InsufficientScope(_) => Some(
                Failure::new(FailureKind::HttpStatus, "HTTP 403: insufficient scope")
                    .with_http_status(403),
            ),
            StreamableHttpError::Client(error) => Some(reqwest_error(error)),
            _ => None,
        };
    }
    if let Some(sse) = e.downcast_ref::<SseTransportError>() {
        return Some(sse.to_failure());
    }
    if let Some(error) = e.downcast_ref::<reqwest::Error>() {
        return Some(reqwest_error(error));
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::ConnectionRefused
    {
        return Some(Failure::new(FailureKind::Refused, io.to_string()));
    }
    None
}

/// A reqwest error: refused (connect failure), timed out, or a protocol error.
pub fn reqwest_error(error: &reqwest::Error) -> Failure {
    let text = chain_text(error);
    if error.is_connect() {
        return Failure::new(FailureKind::Refused, text);
    }
    if error.is_timeout() {
        return Failure::new(FailureKind::InitTimeout, text);
    }
    if let Some(status) = error.status() {
        return Failure::new(FailureKind::HttpStatus, text).with_http_status(status.as_u16());
    }
    Failure::new(FailureKind::ProtocolError, text)
}

/// "error: cause: cause" for a whole chain (reqwest's own Display hides the causes).
pub fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}

/// rmcp reports non-5xx statuses as text "HTTP 404 Not Found: <body>".
fn status_text(text: &str) -> Failure {
    let text = text.trim().trim_end_matches(':');
    match parse_status_prefix(text) {
        Some(status) => {
            Failure::new(FailureKind::HttpStatus, excerpt(text, 300)).with_http_status(status)
        }
        None => Failure::new(FailureKind::ProtocolError, excerpt(text, 300)),
    }
}

/// The status code from text starting with "HTTP <code>".
pub fn parse_status_prefix(text: &str) -> Option<u16> {
    let rest = text.trim_start().strip_prefix("HTTP ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) && digits.len() == 3 => Some(code),
        _ => None,
    }
}

/// At most `max` bytes of `text`, cut on a char boundary, trimmed.
pub fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Whether a streamable-HTTP failure suggests the server speaks another protocol (so that
/// `auto` should try legacy SSE). Refused ports, timeouts and server errors do not.
pub fn suggests_other_protocol(failure: &Failure) -> bool {
    match failure.kind {
        FailureKind::HttpStatus => {
            matches!(failure.http_status, Some(400 | 404 | 405 | 406 | 415))
        }
        FailureKind::ProtocolError => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_prefix() {
        let cases = [
            ("HTTP 404 Not Found: nope", Some(404)),
            ("HTTP 405", Some(405)),
            ("  HTTP 500 Internal", Some(500)),
            ("HTTP 99 x", None),
            ("HTTP 1234", None),
            ("http 404", None),
            ("unexpected", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_status_prefix(text), want, "{text}");
        }
    }

    #[test]
    fn other_protocol_is_suggested_only_by_wrong_endpoint_answers() {
        let status = |code| Failure::new(FailureKind::HttpStatus, "").with_http_status(code);
        let cases = [
            (status(404), true),
            (status(405), true),
            (status(400), true),
            (status(500), false),
            (status(401), false),
            (
                Failure::new(FailureKind::ProtocolError, "bad content type"),
                true,
            ),
            (Failure::new(FailureKind::Refused, ""), false),
            (Failure::new(FailureKind::InitTimeout, ""), false),
        ];
        for (failure, want) in cases {
            assert_eq!(suggests_other_protocol(&failure), want, "{failure}");
        }
    }

    #[test]
    fn excerpts_cut_on_char_boundaries() {
        assert_eq!(excerpt("  short  ", 10), "short");
        assert_eq!(excerpt("ééé", 3), "é…");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
