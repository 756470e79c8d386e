//! Streamable HTTP, legacy SSE and `auto` upstreams against the real `mcp-fixture`, and the
//! HTTP failure classes: refused port, hanging endpoint, HTTP 500 with its body.

use std::time::Duration;

use crate::upstream_support::*;
use mcpproxy::config::Protocol;
use mcpproxy::contract::Transport;
use mcpproxy::contract::{Failure, FailureKind};
use mcpproxy::upstream::{CallError, Connector, Dialer, DialerOptions, Started, UpstreamSession};
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const INIT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

fn dialer() -> Dialer {
    Dialer::new(DialerOptions { log_dir: None })
}

async fn connect(
    protocol: Protocol,
    url: &str,
    timeout: Duration,
) -> Result<Box<dyn UpstreamSession>, Failure> {
    dialer()
        .connect(
            &http_server("remote", protocol, url),
            timeout,
            Started::default(),
        )
        .await
}

async fn echo(session: &dyn UpstreamSession, text: &str) -> String {
    let request = CallToolRequestParams::new("echo")
        .with_arguments(json!({"text": text}).as_object().cloned().unwrap());
    let result = session
        .call_tool(request, INIT, CancellationToken::new())
        .await
        .unwrap();
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn assert_works(session: &dyn UpstreamSession, tools: usize) {
    assert_eq!(session.pid(), None);
    assert_eq!(session.offer().await.unwrap().tools.len(), 3 + tools);
    assert_eq!(echo(session, "over the wire").await, "over the wire");
    session.ping(INIT).await.unwrap();
}

#[tokio::test]
async fn streamable_http_upstream_works() {
    let fixture = HttpFixture::start("http", &["--tools", "2"]);
    let session = connect(Protocol::StreamableHttp, &fixture.url("/mcp"), INIT)
        .await
        .unwrap();
    assert_eq!(session.transport(), Transport::StreamableHttp);
    assert_works(session.as_ref(), 2).await;
    session.shutdown().await;
}

#[tokio::test]
async fn sse_upstream_works_and_closed_fires_when_it_dies() {
    let mut fixture = HttpFixture::start("sse", &["--tools", "1"]);
    let session = connect(Protocol::Sse, &fixture.url("/sse"), INIT)
        .await
        .unwrap();
    assert_eq!(session.transport(), Transport::Sse);
    assert_works(session.as_ref(), 1).await;
    fixture.kill();
    let failure = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("closed() fired");
    assert_eq!(failure.kind, FailureKind::CrashedAfterReady);
}

#[tokio::test]
async fn auto_uses_streamable_http_when_it_works_and_sse_otherwise() {
    let http = HttpFixture::start("http", &[]);
    let session = connect(Protocol::Auto, &http.url("/mcp"), INIT)
        .await
        .unwrap();
    assert_eq!(session.transport(), Transport::StreamableHttp);
    session.shutdown().await;

    let sse = HttpFixture::start("sse", &[]);
    let session = connect(Protocol::Auto, &sse.url("/sse"), INIT)
        .await
        .unwrap();
    assert_eq!(session.transport(), Transport::Sse);
    assert_works(session.as_ref(), 0).await;
    session.shutdown().await;
}

#[tokio::test]
async fn list_changed_over_streamable_http() {
    let fixture = HttpFixture::start("http", &["--mode", "list-changed:100"]);
    let session = connect(Protocol::StreamableHttp, &fixture.url("/mcp"), INIT)
        .await
        .unwrap();
    let mut ticks = session.lists_changed();
    tokio::time::timeout(Duration::from_secs(10), ticks.changed())
        .await
        .expect("list_changed arrived")
        .unwrap();
    assert_eq!(session.offer().await.unwrap().tools.len(), 4);
    session.shutdown().await;
}

#[tokio::test]
async fn refused_port_is_refused_for_every_protocol() {
    let port = refused_port();
    for (protocol, path) in [
        (Protocol::StreamableHttp, "/mcp"),
        (Protocol::Sse, "/sse"),
        (Protocol::Auto, "/mcp"),
    ] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let failure = connect(protocol, &url, INIT).await.err().unwrap();
        assert_eq!(
            failure.kind,
            FailureKind::Refused,
            "{protocol:?}: {failure}"
        );
    }
}

#[tokio::test]
async fn hanging_endpoint_is_init_timeout() {
    let fixture = HttpFixture::start("http", &["--mode", "hang"]);
    for protocol in [Protocol::StreamableHttp, Protocol::Sse, Protocol::Auto] {
        let failure = connect(protocol, &fixture.url("/mcp"), SHORT)
            .await
            .err()
            .unwrap();
        assert_eq!(
            failure.kind,
            FailureKind::InitTimeout,
            "{protocol:?}: {failure}"
        );
    }
}

#[tokio::test]
async fn http_500_is_http_status_with_body_excerpt() {
    let fixture = HttpFixture::start("http", &["--mode", "http-500"]);
    for protocol in [Protocol::StreamableHttp, Protocol::Sse, Protocol::Auto] {
        let failure = connect(protocol, &fixture.url("/mcp"), INIT)
            .await
            .err()
            .unwrap();
        assert_eq!(
            failure.kind,
            FailureKind::HttpStatus,
            "{protocol:?}: {failure}"
        );
        assert_eq!(failure.http_status, Some(500), "{protocol:?}: {failure}");
        assert!(
            failure.detail.contains("internal server error on purpose"),
            "{protocol:?}: {failure}"
        );
    }
}

#[tokio::test]
async fn wrong_path_is_http_404() {
    let fixture = HttpFixture::start("http", &[]);
    let failure = connect(Protocol::StreamableHttp, &fixture.url("/nope"), INIT)
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::HttpStatus, "{failure}");
    assert_eq!(failure.http_status, Some(404), "{failure}");
}

#[tokio::test]
async fn killed_streamable_http_server_fails_pings_and_calls() {
    // rmcp keeps a streamable-HTTP session after its server died; liveness comes from pings.
    let mut fixture = HttpFixture::start("http", &[]);
    let session = connect(Protocol::StreamableHttp, &fixture.url("/mcp"), INIT)
        .await
        .unwrap();
    session.ping(INIT).await.unwrap();
    fixture.kill();
    let failure = session.ping(SHORT).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::HealthCheck, "{failure}");
    let request = CallToolRequestParams::new("echo")
        .with_arguments(json!({"text": "x"}).as_object().cloned().unwrap());
    let error = session
        .call_tool(request, SHORT, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CallError::Closed(_) | CallError::Timeout(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_sse_endpoint_on_another_origin_is_refused_and_no_header_goes_there() {
    // Where the `endpoint` event points: a listener that records whether anyone came.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let port = elsewhere.local_addr().unwrap().port();
    let fixture = HttpFixture::start("sse", &["--mode", &format!("foreign-endpoint:{port}")]);
    let mut server = http_server("remote", Protocol::Sse, &fixture.url("/sse"));
    server
        .headers
        .insert("Authorization".into(), "Bearer do-not-leak".into());
    let failure = dialer()
        .connect(&server, INIT, Started::default())
        .await
        .err()
        .unwrap();
    assert_eq!(failure.kind, FailureKind::ProtocolError, "{failure}");
    assert!(
        failure.detail.contains(&format!("http://127.0.0.1:{port}"))
            && failure.detail.contains("refused"),
        "{failure}"
    );
    assert!(!failure.detail.contains("do-not-leak"), "{failure}");
    match elsewhere.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("something connected to the foreign endpoint: {other:?}"),
    }
}
