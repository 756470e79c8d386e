//! The web dashboard at `/ui`: a small page (HTML, CSS and a little JS embedded in the
//! binary: no CDN, works offline) that polls `/ui/api/state` for the status document and the
//! server list, shows a server's tools and log tail, and sends the same `upstream_servers`
//! operations the CLI sends, through `Backend::upstream_servers`.
//!
//! Protected like every route: the token comes from an `Authorization` header or, for a
//! browser, from the `mcpproxy_token` cookie that `auth`'s login sets (`mcpproxy ui` prints
//! the link). Actions are POSTs that must carry `X-Mcpproxy-UI: 1`, which no cross-site form
//! can send; the cookie is `SameSite=Strict` besides.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::backend::{Backend, ServersOperation, ServersRequest};
use crate::auth::Caller;

/// The header every action must carry.
pub const ACTION_HEADER: &str = "x-mcpproxy-ui";
/// Bytes of a server's log the detail view shows.
const LOG_TAIL_BYTES: usize = 16 * 1024;

const INDEX: &str = include_str!("assets/index.html");
const LOGIN: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The `/ui` routes.
pub fn router(backend: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/ui", get(|| page(INDEX)))
        .route("/ui/", get(|| page(INDEX)))
        .route("/ui/login", get(|| page(LOGIN)))
        .route(
            "/ui/app.js",
            get(|| asset(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/ui/app.css",
            get(|| asset(STYLE, "text/css; charset=utf-8")),
        )
        .route("/ui/api/state", get(state))
        .route("/ui/api/servers/{name}", get(server))
        .route("/ui/api/servers/{name}/{operation}", post(action))
        .with_state(backend)
}

async fn page(html: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Nothing but its own files; no framing by other pages.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The status document and the server list, in one poll.
async fn state(State(backend): State<Arc<dyn Backend>>) -> Response {
    let list = ServersRequest {
        operation: ServersOperation::List,
        name: None,
        server: None,
        servers: None,
    };
    match backend.upstream_servers(list).await {
        Ok(servers) => {
            Json(json!({"status": backend.status(), "servers": servers})).into_response()
        }
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    }
}

/// One server: its status, the tools it offers (when Ready) and the tail of its log.
async fn server(State(backend): State<Arc<dyn Backend>>, Path(name): Path<String>) -> Response {
    let list = ServersRequest {
        operation: ServersOperation::List,
        name: None,
        server: None,
        servers: None,
    };
    let servers = match backend.upstream_servers(list).await {
        Ok(servers) => servers,
        Err(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    };
    let found = servers["servers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name.as_str()).cloned());
    let Some(status) = found else {
        return error(StatusCode::NOT_FOUND, &format!("no server named {name:?}"));
    };
    let tools: Vec<Value> = backend
        .offers()
        .into_iter()
        .filter(|o| o.server == name)
        .flat_map(|o| o.offer.tools.clone())
        .map(|t| json!({"name": t.name, "description": t.description}))
        .collect();
    let log = backend.server_log(&name, LOG_TAIL_BYTES);
    Json(json!({"server": status, "tools": tools, "log": log})).into_response()
}

/// enable, disable, restart or approve: the `upstream_servers` operation the CLI sends.
async fn action(
    State(backend): State<Arc<dyn Backend>>,
    Path((name, operation)): Path<(String, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    if headers.get(ACTION_HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return error(
            StatusCode::FORBIDDEN,
            "dashboard actions need the X-Mcpproxy-UI: 1 header",
        );
    }
    let caller = request.extensions().get::<Caller>().cloned();
    if !caller.as_ref().is_some_and(Caller::may_change_servers) {
        let who = caller.map_or("this caller".into(), |c| c.describe());
        return error(
            StatusCode::FORBIDDEN,
            &format!(
                "{operation} {name}: not allowed for {who}: it needs a token with scope admin"
            ),
        );
    }
    let operation = match operation.as_str() {
        "enable" => ServersOperation::Enable,
        "disable" => ServersOperation::Disable,
        "restart" => ServersOperation::Restart,
        "approve" => ServersOperation::Approve,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("unknown action {other:?}: enable, disable, restart or approve"),
            );
        }
    };
    let request = ServersRequest {
        operation,
        name: Some(name),
        server: None,
        servers: None,
    };
    match backend.upstream_servers(request).await {
        Ok(answer) => Json(answer).into_response(),
        Err(message) => error(StatusCode::UNPROCESSABLE_ENTITY, &message),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
