//! The bearer-token check, after `guard` and before any route: a request names its token in
//! `Authorization: Bearer <token>`, and the token's `Caller` rides on the request (rmcp hands
//! the HTTP parts to the handlers, which check the scope where it matters: `upstream_servers`
//! changes need `admin`).
//!
//! Open without a token: `/healthz` and `/readyz` (they tell nothing but up and ready),
//! `/metrics` when `metrics_auth: none`, and everything when `auth: none` on a loopback
//! listener. A missing or wrong token is answered 401 with `WWW-Authenticate`, and nothing
//! else: no hint of what the daemon serves. A token with a profile sees only the MCP
//! endpoints: `/status`, `/metrics` and the dashboard tell of every server, so they answer it
//! 403.
//!
//! The dashboard (`/ui`) also takes the token from the `mcpproxy_token` cookie, which
//! `POST /ui/login` sets for a valid token (HttpOnly, SameSite=Strict); a browser without one
//! is sent to the login page instead of a bare 401.

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::DownstreamOptions;
use crate::auth::{Caller, Verifier};

/// The dashboard's cookie.
const COOKIE: &str = "mcpproxy_token";
/// The login page, open to all.
const LOGIN: &str = "/ui/login";
/// How long a browser keeps the dashboard's cookie.
const COOKIE_MAX_AGE_S: u32 = 30 * 24 * 3600;

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
        self.judge_with(path, authorization.map(bearer))
    }

    /// `judge` for a token already taken out of the request (`Some(None)`: credentials that
    /// are not a bearer token).
    fn judge_with(&self, path: &str, presented: Option<Option<&str>>) -> Result<Caller, Refused> {
        if self.options.auth_off() && self.loopback {
            return Ok(Caller::unauthenticated());
        }
        let open = matches!(
            path,
            "/healthz" | "/readyz" | LOGIN | "/ui/app.css" | "/ui/app.js"
        ) || (path == "/metrics" && self.options.metrics_open());
        if open {
            return Ok(Caller::anonymous());
        }
        let caller = match presented {
            Some(Some(token)) => self.verifier.caller(token).ok_or(Refused::Wrong)?,
            Some(None) => return Err(Refused::Wrong),
            None => return Err(Refused::Missing),
        };
        if caller.profile.is_some() && (matches!(path, "/status" | "/metrics") || is_ui(path)) {
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

/// Whether `path` is the dashboard's.
fn is_ui(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The dashboard's token from the request's cookies.
fn cookie_token(request: &Request) -> Option<String> {
    let cookies = request.headers().get_all(header::COOKIE);
    cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

/// `POST /ui/login`: a valid token without a profile becomes the dashboard's cookie.
async fn login(gate: &Gate, request: Request) -> Response {
    let see_other = |to: &str| {
        let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/ui"));
        (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
    };
    let Ok(axum::Form(form)) = axum::Form::<LoginForm>::from_request(request, &()).await else {
        return see_other("/ui/login?refused");
    };
    let token = form.token.trim();
    match gate.verifier.caller(token) {
        Some(caller) if caller.profile.is_none() => {
            let cookie = format!(
                "{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_S}"
            );
            let mut response = see_other("/ui");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        _ => see_other("/ui/login?refused"),
    }
}

/// The middleware.
pub async fn check(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if path == LOGIN && request.method() == Method::POST {
        return login(&gate, request).await;
    }
    let authorization = request.headers().get(header::AUTHORIZATION);
    let cookie = match authorization {
        None if is_ui(&path) => cookie_token(&request),
        _ => None,
    };
    let judged = match &cookie {
        Some(token) => gate.judge_with(&path, Some(Some(token))),
        None => gate.judge(&path, authorization),
    };
    match judged {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        // A browser page without a valid token: the login page, not a bare 401.
        Err(Refused::Missing | Refused::Wrong) if is_ui(&path) && !path.starts_with("/ui/api/") => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, LOGIN)]).into_response()
        }
        Err(refused) => {
            tracing::debug!(%path, ?refused, "request without a valid token");
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
        for path in ["/status", "/metrics", "/ui", "/ui/api/state"] {
            assert_eq!(gate.judge(path, Some(&bearer)), Err(Refused::Profile));
        }
        let response = Refused::Profile.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn the_dashboard_takes_its_cookie_and_opens_only_its_login() {
        let (_dir, gate, admin, _) = gate(true);
        let request = |cookie: &str| {
            Request::builder()
                .uri("/ui")
                .header(header::COOKIE, cookie)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let with = request(&format!("theme=dark; mcpproxy_token={admin}; x=1"));
        assert_eq!(cookie_token(&with).as_deref(), Some(admin.as_str()));
        assert_eq!(cookie_token(&request("mcpproxy_tokenx=1")), None);
        for open in ["/ui/login", "/ui/app.js", "/ui/app.css"] {
            assert_eq!(gate.judge(open, None), Ok(Caller::anonymous()), "{open}");
        }
        for closed in ["/ui", "/ui/", "/ui/api/state", "/ui/api/servers/a/enable"] {
            assert_eq!(gate.judge(closed, None), Err(Refused::Missing), "{closed}");
        }
        assert!(gate.judge_with("/ui/api/state", Some(Some(&admin))).is_ok());
        assert!(is_ui("/ui") && is_ui("/ui/x") && !is_ui("/uix"));
    }

    #[test]
    fn auth_none_is_ignored_off_loopback() {
        let (_dir, gate, _, _) = gate(false);
        gate.options.set_auth(true, false);
        assert_eq!(gate.judge("/mcp", None), Err(Refused::Missing));
    }
}
