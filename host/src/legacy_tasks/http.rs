//! The HTTP client of a streamable-HTTP upstream (rmcp's, on reqwest) with every event of the
//! server's streams passed through `legacy_tasks::stow` before rmcp reads it.
//!
//! An answer a server sends as one JSON body (rather than as an event stream) is read by rmcp's
//! client before anything can see it. So the requests whose answers `stow` changes (the tool
//! list, a task's state) are posted here, and their answer stowed whether it is a body or a
//! stream; an answer of any other kind (an error status, an auth challenge) is left to rmcp's
//! client, which posts the request again and reads it as it does any other.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::{Sse, SseStream};

use super as legacy_tasks;

/// The session header of streamable HTTP.
const SESSION_HEADER: &str = "mcp-session-id";

type Events = BoxStream<'static, Result<Sse, SseError>>;
type Outcome<T> = Result<T, StreamableHttpError<reqwest::Error>>;

#[derive(Clone)]
pub struct StowingClient(pub reqwest::Client);

fn stowed(events: Events) -> Events {
    events
        .map(|event| {
            event.map(|mut event| {
                if let Some(data) = &event.data
                    && let Some(stowed) = legacy_tasks::stow(data.as_bytes())
                {
                    event.data = String::from_utf8(stowed).ok().or(event.data);
                }
                event
            })
        })
        .boxed()
}

fn stowed_answer(answer: StreamableHttpPostResponse) -> StreamableHttpPostResponse {
    match answer {
        StreamableHttpPostResponse::Sse(events, session) => {
            StreamableHttpPostResponse::Sse(stowed(events), session)
        }
        other => other,
    }
}

/// Whether `message` is a request whose answer `stow` changes.
fn answer_is_stowed(message: &ClientJsonRpcMessage) -> bool {
    let ClientJsonRpcMessage::Request(request) = message else {
        return false;
    };
    matches!(
        request.request.method(),
        "tools/list" | "tasks/get" | "tasks/cancel"
    )
}

/// Where and how one request is posted.
struct Post {
    uri: Arc<str>,
    session_id: Option<Arc<str>>,
    auth_header: Option<String>,
    custom_headers: HashMap<HeaderName, HeaderValue>,
}

impl StowingClient {
    /// Posts `message` and reads a successful answer, stowed; `None` for any other answer.
    async fn post_stowed(
        &self,
        post: Post,
        message: &ClientJsonRpcMessage,
        limits: &StreamableHttpResponseLimits,
    ) -> Option<Outcome<StreamableHttpPostResponse>> {
        let mut request = self
            .0
            .post(post.uri.as_ref())
            .header(ACCEPT, "text/event-stream, application/json")
            .json(message);
        if let Some(token) = post.auth_header {
            request = request.bearer_auth(token);
        }
        for (name, value) in post.custom_headers {
            request = request.header(name, value);
        }
        if let Some(session) = &post.session_id {
            request = request.header(SESSION_HEADER, session.as_ref());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Some(Err(StreamableHttpError::Client(error))),
        };
        if response.status() != reqwest::StatusCode::OK {
            return None;
        }
        let header = |name| {
            let value = response.headers().get(name)?;
            value.to_str().ok().map(str::to_string)
        };
        let session = header(SESSION_HEADER);
        let content_type = header(CONTENT_TYPE.as_str()).unwrap_or_default();
        if content_type.starts_with("text/event-stream") {
            let events = SseStream::from_bytes_stream(response.bytes_stream()).boxed();
            return Some(Ok(StreamableHttpPostResponse::Sse(stowed(events), session)));
        }
        if !content_type.starts_with("application/json") {
            return None;
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Some(Err(StreamableHttpError::Client(error))),
        };
        if body.len() > limits.max_json_response_size {
            let max_size = limits.max_json_response_size;
            return Some(Err(StreamableHttpError::ResponseBodyTooLarge { max_size }));
        }
        let body = legacy_tasks::stow(&body).unwrap_or_else(|| body.to_vec());
        let answer = serde_json::from_slice(&body).map_err(StreamableHttpError::Deserialize);
        Some(answer.map(|message| StreamableHttpPostResponse::Json(message, session)))
    }
}

/// rmcp's transport posts with `post_message_with_response_limits` and opens streams with
/// `get_stream_with_max_sse_event_size`; the rest are the trait's required forms.
impl StreamableHttpClient for StowingClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Outcome<StreamableHttpPostResponse> {
        let limits = StreamableHttpResponseLimits::default();
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Outcome<StreamableHttpPostResponse> {
        if answer_is_stowed(&message) {
            let post = Post {
                uri: uri.clone(),
                session_id: session_id.clone(),
                auth_header: auth_header.clone(),
                custom_headers: custom_headers.clone(),
            };
            if let Some(answer) = self.post_stowed(post, &message, &limits).await {
                return answer;
            }
        }
        self.0
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
            .map(stowed_answer)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Outcome<()> {
        self.0
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Outcome<Events> {
        self.0
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
            .map(stowed)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Outcome<Events> {
        self.0
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await
            .map(stowed)
    }
}
