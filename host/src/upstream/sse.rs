//! Legacy HTTP+SSE client transport for rmcp (rmcp no longer ships one), on reqwest and
//! `sse-stream`.
//!
//! Protocol: `GET <url>` opens an event stream whose first `endpoint` event names the URL
//! (relative or absolute) to POST JSON-RPC messages to; every server message arrives as a
//! `message` event. The session ends when the stream ends.
//!
//! The configured headers (often credentials) only ever go to the server's own origin: an
//! `endpoint` on another origin is refused, and so is a redirect to one.

use std::collections::BTreeMap;

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use sse_stream::{Sse, SseStream};

use super::classify::{SseTransportError, excerpt};

/// Bytes of an error body kept in failures.
const BODY_EXCERPT: usize = 300;

pub struct SseClientTransport {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    headers: HeaderMap,
    events: BoxStream<'static, Result<Sse, sse_stream::Error>>,
}

/// Builds a header map from the config's `headers`.
pub fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, SseTransportError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| SseTransportError::Header(name.clone()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| SseTransportError::Header(name.to_string()))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// Redirects within the origin the request went to; none elsewhere.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same && attempt.previous().len() < 10 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

async fn status_error(response: reqwest::Response) -> SseTransportError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    SseTransportError::Status {
        status,
        body: excerpt(&body, BODY_EXCERPT),
    }
}

impl SseClientTransport {
    /// Opens the event stream and waits for the `endpoint` event.
    pub async fn connect(url: &str, headers: HeaderMap) -> Result<Self, SseTransportError> {
        let base = reqwest::Url::parse(url)
            .map_err(|e| SseTransportError::BadEndpoint(url.to_string(), e.to_string()))?;
        let client = reqwest::Client::builder()
            .redirect(same_origin_redirects())
            .build()?;
        let response = client
            .get(base.clone())
            .headers(headers.clone())
            .header(ACCEPT, "text/event-stream")
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(status_error(response).await);
        }
        let mut events = SseStream::from_bytes_stream(response.bytes_stream()).boxed();
        let endpoint = loop {
            match events.next().await {
                None => return Err(SseTransportError::NoEndpoint),
                Some(Err(error)) => return Err(SseTransportError::Stream(error.to_string())),
                Some(Ok(event)) if event.event.as_deref() == Some("endpoint") => {
                    let data = event.data.unwrap_or_default();
                    let endpoint = base
                        .join(data.trim())
                        .map_err(|e| SseTransportError::BadEndpoint(data.clone(), e.to_string()))?;
                    if endpoint.origin() != base.origin() {
                        return Err(SseTransportError::ForeignEndpoint {
                            endpoint: endpoint.origin().ascii_serialization(),
                            server: base.origin().ascii_serialization(),
                        });
                    }
                    break endpoint;
                }
                Some(Ok(_)) => continue,
            }
        };
        Ok(SseClientTransport {
            client,
            endpoint,
            headers,
            events,
        })
    }
}

impl Transport<RoleClient> for SseClientTransport {
    type Error = SseTransportError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .client
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .json(&item);
        async move {
            let response = request.send().await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(status_error(response).await)
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let event = match self.events.next().await? {
                Ok(event) => event,
                Err(error) => {
                    tracing::debug!("SSE upstream stream error: {error}");
                    return None;
                }
            };
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            let Some(data) = event.data else { continue };
            let stowed = crate::legacy_tasks::stow(data.as_bytes());
            match serde_json::from_slice(stowed.as_deref().unwrap_or(data.as_bytes())) {
                Ok(message) => return Some(message),
                Err(error) => {
                    tracing::debug!(
                        "skipping unparsable SSE message: {error}: {}",
                        excerpt(&data, 200)
                    );
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.events = futures::stream::empty().boxed();
        Ok(())
    }
}
