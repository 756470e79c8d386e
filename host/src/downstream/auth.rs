//! The bearer-token check, after `guard` and before any route: a request names its token in
//! `Authorization: Bearer <token>`, and the token's `Caller` rides on the request (rmcp hands
//! the HTTP parts to the handlers, which check the scope where it matters: `upstream_servers`
//! changes need `admin`).
//!
//! Open without a token: `/healthz` and `/readyz` (they tell nothing but up and ready),
//! `/metrics` when `metrics_auth: none`, and everything when `auth: none` on a loopback
//! listener. A missing or wrong token is answered 401 with `WWW-Authenticate`, and nothing
//! else: no hint of what the daemon serves. A token with a profile sees only the MCP
//! endpoints: `/status` and `/metrics` tell of every server, so they answer it 403.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::DownstreamOptions;
use crate::auth::{Caller, Verifier};

/// What the check needs.
pub struct Gate {
    verifier: Verifier,
    /// `auth: none` is honoured only here: a daemon reachable from other machines always
    /// needs tokens, whatever an edit of the config says.
    loopback: bool,
    options: DownstreamOptions,
}

impl Gate {
    pub fn new(verifier: Verifier, loopback: bool, options: DownstreamOptions) -> Gate {
        Gate {
            verifier,
            loopback,
            options,
        }
    }

    /// Who the request is from, or why it is refused.
    fn judge(&self, path: &str, authorization: Option<&HeaderValue>) -> Result<Caller, Refused> {
        if self.options.auth_off() && self.loopback {
            return Ok(Caller::unauthenticated());
        }
        let open = matches!(path, "/healthz" | "/readyz")
            || (path == "/metrics" && self.options.metrics_open());
        if open {
            return Ok(Caller::anonymous());
        }
        let caller = match authorization.map(bearer) {
            Some(Some(token)) => self.verifier.caller(token).ok_or(Refused::Wrong)?,
            Some(None) => return Err(Refused::Wrong),
            None => return Err(Refused::Missing),
        };
        if caller.profile.is_some() && matches!(path, "/status" | "/metrics") {
            return Err(Refused::Profile);
        }
        Ok(caller)
    }
}

/// The token of an `Authorization` value; `None` when it is not a bearer token.
fn bearer(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Missing,
    Wrong,
    /// A known token whose profile keeps it from this route.
    Profile,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        // RFC 6750: no error code when the request had no credentials at all.
        let challenge = match self {
            Refused::Missing => r#"Bearer realm="mcpproxy""#,
            Refused::Wrong => r#"Bearer realm="mcpproxy", error="invalid_token""#,
            Refused::Profile => {
                return (
                    StatusCode::FORBIDDEN,
                    "403 Forbidden: this token has a profile, and this route shows every \
                     server; use a token without one\n",
                )
                    .into_response();
            }
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            "401 Unauthorized: send `Authorization: Bearer <token>` (see `mcpproxy token`)\n",
        )
            .into_response()
    }
}

/// Who sent the MCP message whose context carries `extensions`, as the check found: rmcp
/// hands handlers the HTTP request's parts. A message that came some other way (none does)
/// may only read.
pub fn caller_of(extensions: &rmcp::model::Extensions) -> Caller {
    let parts = extensions.get::<http::request::Parts>();
    let caller = parts.and_then(|p| p.extensions.get::<Caller>());
    caller.cloned().unwrap_or_else(Caller::anonymous)
}

/// The middleware.
pub async fn check(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION);
    match gate.judge(request.uri().path(), authorization) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(refused) => {
            tracing::debug!(path = %request.uri().path(), ?refused, "request without a valid token");
            refused.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{TokenScope, TokenStore};

    fn gate(loopback: bool) -> (tempfile::TempDir, Gate, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let admin = store.create("admin", TokenScope::Admin, None).unwrap();
        let read = store.create("ci", TokenScope::Read, None).unwrap();
        let gate = Gate::new(Verifier::new(store), loopback, DownstreamOptions::default());
        (dir, gate, admin, read)
    }

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn tokens_decide_every_route_but_health() {
        let (_dir, gate, admin, read) = gate(true);
        for path in [
            "/mcp",
            "/mcp/all",
            "/mcp/server/x",
            "/status",
            "/metrics",
            "/",
        ] {
            assert_eq!(gate.judge(path, None), Err(Refused::Missing), "{path}");
            let wrong = value("Bearer mcpp_nope");
            assert_eq!(
                gate.judge(path, Some(&wrong)),
                Err(Refused::Wrong),
                "{path}"
            );
            let basic = value("Basic YWRtaW46eA==");
            assert_eq!(
                gate.judge(path, Some(&basic)),
                Err(Refused::Wrong),
                "{path}"
            );
            let ok = gate.judge(path, Some(&value(&format!("Bearer {admin}"))));
            assert_eq!(ok.unwrap().scope, TokenScope::Admin);
            let ok = gate.judge(path, Some(&value(&format!("bearer  {read} "))));
            assert_eq!(ok.unwrap().token.as_deref(), Some("ci"));
        }
        for path in ["/healthz", "/readyz"] {
            assert_eq!(gate.judge(path, None), Ok(Caller::anonymous()));
            let wrong = value("Bearer mcpp_nope");
            assert_eq!(gate.judge(path, Some(&wrong)), Ok(Caller::anonymous()));
        }
        gate.options.set_auth(false, true);
        assert!(gate.judge("/metrics", None).is_ok());
        assert_eq!(gate.judge("/status", None), Err(Refused::Missing));
        gate.options.set_auth(true, false);
        assert_eq!(gate.judge("/mcp", None), Ok(Caller::unauthenticated()));
    }

    #[test]
    fn a_profiled_token_reaches_mcp_but_not_status_or_metrics() {
        let (dir, gate, _, _) = gate(true);
        let profile = crate::auth::Profile::new(Some(vec!["fs".into()]), None).unwrap();
        let token = TokenStore::new(dir.path())
            .create("fs-only", TokenScope::Read, profile)
            .unwrap();
        let bearer = value(&format!("Bearer {token}"));
        for path in ["/mcp", "/mcp/all", "/mcp/server/fs"] {
            assert!(gate.judge(path, Some(&bearer)).unwrap().profile.is_some());
        }
        for path in ["/status", "/metrics"] {
            assert_eq!(gate.judge(path, Some(&bearer)), Err(Refused::Profile));
        }
        let response = Refused::Profile.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn auth_none_is_ignored_off_loopback() {
        let (_dir, gate, _, _) = gate(false);
        gate.options.set_auth(true, false);
        assert_eq!(gate.judge("/mcp", None), Err(Refused::Missing));
    }
}
