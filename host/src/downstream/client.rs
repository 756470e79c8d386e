//! A small MCP client for the CLI (`mcpproxy call tool`, `upstream list`, `status`): talks to a
//! running daemon over streamable HTTP (rmcp) and reads `/status` with reqwest.
//!
//! Every error names the daemon's address, and tool errors carry the tool's own message. A
//! token, when given, goes in `Authorization: Bearer`.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, StreamableHttpClientTransportConfig,
};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach the mcpproxy daemon at {url}: {reason} (is `mcpproxy serve` running?)")]
    Connect { url: String, reason: String },
    #[error("request to the mcpproxy daemon at {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error(
        "the mcpproxy daemon at {url} refused the request (401): {}", match given {
            true => "the token was not accepted (revoked? `mcpproxy token list` shows the tokens)",
            false => "it needs a token: pass --token or set MCPPROXY_TOKEN (the admin token is in the data dir's admin-token)",
        }
    )]
    Unauthorized { url: String, given: bool },
    /// The tool ran and reported an error (`isError: true`).
    #[error("tool {name} failed: {message}")]
    Tool { name: String, message: String },
}

/// A connected MCP session with the daemon's `/mcp` endpoint.
pub struct Client {
    url: String,
    service: RunningService<RoleClient, ()>,
}

/// Connects to the daemon at `base_url` (`http://127.0.0.1:8080`, or a listen address such as
/// `127.0.0.1:8080`) with `token`; the MCP endpoint is `/mcp` unless the URL already names one.
pub async fn connect(base_url: &str, token: Option<&str>) -> Result<Client, ClientError> {
    let url = mcp_endpoint(base_url);
    let transport = StreamableHttpClientTransport::from_config(transport_config(&url, token));
    match ().serve(transport).await {
        Ok(service) => Ok(Client { url, service }),
        Err(ClientInitializeError::TransportError { error, .. }) if auth_required(&error) => {
            let given = token.is_some();
            Err(ClientError::Unauthorized { url, given })
        }
        Err(error) => Err(ClientError::Connect {
            url,
            reason: error.to_string(),
        }),
    }
}

/// Whether rmcp's transport was answered 401 somewhere down `error`'s chain (rmcp's
/// initialize error does not name its transport error as the source, so callers start there).
fn auth_required(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<AuthRequiredError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// rmcp's client config for `url`, with `token` as the bearer token.
pub fn transport_config(url: &str, token: Option<&str>) -> StreamableHttpClientTransportConfig {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    match token {
        Some(token) => config.auth_header(token),
        None => config,
    }
}

impl Client {
    /// The MCP endpoint this client talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn list_tools(&self) -> Result<Vec<Tool>, ClientError> {
        self.service
            .peer()
            .list_all_tools()
            .await
            .map_err(|error| self.request_error(error))
    }

    /// Calls `name` with `args` and returns its JSON result: the structured content if any,
    /// else the text content parsed as JSON (or as a JSON string when it is not JSON).
    pub async fn call_tool(&self, name: &str, args: JsonObject) -> Result<Value, ClientError> {
        let params = CallToolRequestParams::new(name.to_string()).with_arguments(args);
        let result = self
            .service
            .peer()
            .call_tool(params)
            .await
            .map_err(|error| self.request_error(error))?;
        tool_json(result).map_err(|message| ClientError::Tool {
            name: name.to_string(),
            message,
        })
    }

    /// Ends the session (the daemon drops it at once instead of on timeout).
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }

    fn request_error(&self, error: impl std::fmt::Display) -> ClientError {
        ClientError::Request {
            url: self.url.clone(),
            reason: error.to_string(),
        }
    }
}

/// `GET /status` of the daemon at `base_url`, with `token`.
pub async fn status(base_url: &str, token: Option<&str>) -> Result<Value, ClientError> {
    let url = format!("{}/status", http_base(base_url));
    let connect_error = |error: reqwest::Error| ClientError::Connect {
        url: url.clone(),
        reason: error.to_string(),
    };
    let mut request = reqwest::Client::new().get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(connect_error)?;
    let code = response.status();
    if code == reqwest::StatusCode::UNAUTHORIZED {
        let given = token.is_some();
        return Err(ClientError::Unauthorized { url, given });
    }
    if !code.is_success() {
        return Err(ClientError::Request {
            url,
            reason: format!("HTTP {code}"),
        });
    }
    response
        .json::<Value>()
        .await
        .map_err(|error| ClientError::Request {
            url: url.clone(),
            reason: format!("invalid JSON: {error}"),
        })
}

/// The URL to reach a daemon that listens on `listen` (`127.0.0.1:8080`, `0.0.0.0:8080`,
/// `[::]:8080`): an unspecified address is reached through loopback.
pub fn base_url_for_listen(listen: &str) -> String {
    let listen = listen.trim();
    let rest = listen
        .strip_prefix("0.0.0.0:")
        .map(|port| format!("127.0.0.1:{port}"))
        .or_else(|| {
            listen
                .strip_prefix("[::]:")
                .map(|port| format!("[::1]:{port}"))
        });
    format!("http://{}", rest.as_deref().unwrap_or(listen))
}

/// `base_url` with a scheme, split before its MCP path (`/mcp`, `/mcp/all`,
/// `/mcp/server/<name>`), if it has one.
fn split_endpoint(base_url: &str) -> (String, Option<String>) {
    let trimmed = base_url.trim().trim_end_matches('/');
    let with_scheme = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_string()
    } else {
        base_url_for_listen(trimmed)
    };
    let path_start = with_scheme
        .find("://")
        .and_then(|scheme| with_scheme[scheme + 3..].find('/').map(|p| scheme + 3 + p));
    match path_start {
        Some(at) if with_scheme[at..] == *"/mcp" || with_scheme[at..].starts_with("/mcp/") => {
            let (base, path) = with_scheme.split_at(at);
            (base.to_string(), Some(path.to_string()))
        }
        _ => (with_scheme, None),
    }
}

/// `base_url` with a scheme and without a trailing `/` or MCP path.
fn http_base(base_url: &str) -> String {
    split_endpoint(base_url).0
}

/// The MCP endpoint for `base_url`: its own MCP path if it has one, else `/mcp`.
pub fn mcp_endpoint(base_url: &str) -> String {
    let (base, path) = split_endpoint(base_url);
    format!("{base}{}", path.as_deref().unwrap_or("/mcp"))
}

/// `GET /healthz` of the daemon at `base_url`.
pub fn healthz_url(base_url: &str) -> String {
    format!("{}/healthz", http_base(base_url))
}

/// The JSON of a tool result; `Err` with the tool's message when it reports an error.
pub fn tool_json(result: CallToolResult) -> Result<Value, String> {
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    let text = text.join("\n");
    if result.is_error == Some(true) {
        return Err(if text.is_empty() {
            result
                .structured_content
                .map(|v| v.to_string())
                .unwrap_or_else(|| "the tool reported an error without a message".to_string())
        } else {
            text
        });
    }
    if let Some(structured) = result.structured_content {
        return Ok(structured);
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    #[test]
    fn endpoint_cases() {
        let cases = [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/mcp"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/mcp"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080/mcp"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000/mcp"),
            ("[::]:9000", "http://[::1]:9000/mcp"),
            ("http://h:1/mcp", "http://h:1/mcp"),
            ("http://h:1/mcp/all", "http://h:1/mcp/all"),
            ("h:1/mcp", "http://h:1/mcp"),
            ("http://h:1/mcp/server/fs", "http://h:1/mcp/server/fs"),
            ("http://h:1/mcpx", "http://h:1/mcpx/mcp"),
        ];
        for (input, want) in cases {
            assert_eq!(mcp_endpoint(input), want, "{input}");
        }
        assert_eq!(http_base("http://h:1/mcp/"), "http://h:1");
        assert_eq!(http_base("0.0.0.0:80"), "http://127.0.0.1:80");
        assert_eq!(
            healthz_url("http://h:1/mcp/server/fs"),
            "http://h:1/healthz"
        );
    }

    #[test]
    fn tool_json_cases() {
        let structured = CallToolResult::structured(json!({"a": 1}));
        assert_eq!(tool_json(structured), Ok(json!({"a": 1})));
        let json_text = CallToolResult::success(vec![ContentBlock::text("[1,2]")]);
        assert_eq!(tool_json(json_text), Ok(json!([1, 2])));
        let plain = CallToolResult::success(vec![ContentBlock::text("hello")]);
        assert_eq!(tool_json(plain), Ok(json!("hello")));
        let failed = CallToolResult::error(vec![ContentBlock::text("cannot call a:b: gone")]);
        assert_eq!(tool_json(failed), Err("cannot call a:b: gone".to_string()));
        let empty_error = CallToolResult::error(vec![]);
        assert!(
            tool_json(empty_error)
                .unwrap_err()
                .contains("without a message")
        );
    }
}
