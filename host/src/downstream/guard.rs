//! The checks every request passes before any route (the MCP endpoints and `/status`,
//! `/metrics`, `/healthz`, `/readyz` alike):
//! - its `Host` must name this daemon, so a page that rebinds its own DNS name to 127.0.0.1
//!   cannot read or drive it (skipped when listening on every interface: the user chose to be
//!   reachable under any name);
//! - an `Origin`, when sent (browsers send it, other clients do not), must be the daemon's own
//!   or one the config's `allowed_origins` lists; `null` only when listed.
//!
//! A refusal is HTTP 403, with a JSON-RPC error body on the MCP endpoints (as the MCP
//! transport spec asks) and text elsewhere; it says which header and what to change.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::DownstreamOptions;
use super::jsonrpc_check::Rejection;

/// What the checks compare with.
pub struct Guard {
    /// Names this daemon answers to; `None`: any.
    hosts: Option<Vec<String>>,
    /// The daemon's own origins (its pages may call it).
    own_origins: Vec<String>,
    options: DownstreamOptions,
}

impl Guard {
    pub fn new(local: SocketAddr, options: DownstreamOptions) -> Guard {
        let hosts = allowed_hosts(local);
        let port = local.port();
        let own_origins = hosts
            .iter()
            .flatten()
            .map(|host| match host.contains(':') {
                true => format!("http://[{host}]:{port}"),
                false => format!("http://{host}:{port}"),
            })
            .collect();
        Guard {
            hosts,
            own_origins,
            options,
        }
    }
}

/// Loopback names always; the listen address too when it is a specific one. `None` (no Host
/// check) when listening on every interface.
pub fn allowed_hosts(local: SocketAddr) -> Option<Vec<String>> {
    let ip = local.ip();
    if ip.is_unspecified() {
        return None;
    }
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !ip.is_loopback() {
        hosts.push(ip.to_string());
    }
    Some(hosts)
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Host(String),
    NoHost,
    Origin(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Host(host) => write!(
                f,
                "Host {host:?} is not this daemon's (reach it as localhost or 127.0.0.1)"
            ),
            Refusal::NoHost => write!(f, "the request has no Host"),
            Refusal::Origin(origin) => write!(
                f,
                "Origin {origin:?} is not allowed: add it to `allowed_origins` in the config to let pages from it use mcpproxy"
            ),
        }
    }
}

/// The verdict on a request's `host` and `origin` headers. Pure.
pub fn verdict(
    hosts: Option<&[String]>,
    own_origins: &[String],
    allowed_origins: &[String],
    host: Option<&str>,
    origin: Option<&str>,
) -> Result<(), Refusal> {
    if let Some(hosts) = hosts {
        let host = host.ok_or(Refusal::NoHost)?;
        let name = host_name(host);
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            return Err(Refusal::Host(host.to_string()));
        }
    }
    if let Some(origin) = origin {
        let normal = origin.trim().to_ascii_lowercase();
        let listed = |list: &[String]| list.contains(&normal);
        if !listed(own_origins) && !listed(allowed_origins) {
            return Err(Refusal::Origin(origin.to_string()));
        }
    }
    Ok(())
}

/// `host[:port]` without the port; an IPv6 literal without its brackets.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// The verdict on `request`.
fn judge(guard: &Guard, request: &Request) -> Result<(), Refusal> {
    let header_text = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)").to_string())
    };
    let host =
        header_text(header::HOST).or_else(|| request.uri().authority().map(|a| a.to_string()));
    let origin = header_text(header::ORIGIN);
    let allowed = guard.options.allowed_origins();
    verdict(
        guard.hosts.as_deref(),
        &guard.own_origins,
        &allowed,
        host.as_deref(),
        origin.as_deref(),
    )
}

/// The middleware.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    match judge(&guard, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(path = %request.uri().path(), %refusal, "request refused");
            if request.uri().path().starts_with("/mcp") {
                Rejection {
                    status: StatusCode::FORBIDDEN,
                    code: -32600,
                    id: serde_json::Value::Null,
                    message: refusal.to_string(),
                }
                .into_response()
            } else {
                (StatusCode::FORBIDDEN, format!("{refusal}\n")).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn allowed_hosts_cases() {
        let loopback = strings(&["localhost", "127.0.0.1", "::1"]);
        let cases: [(&str, Option<Vec<String>>); 4] = [
            ("127.0.0.1:8080", Some(loopback.clone())),
            ("0.0.0.0:8080", None),
            ("[::]:8080", None),
            (
                "192.168.1.5:8080",
                Some([loopback.clone(), strings(&["192.168.1.5"])].concat()),
            ),
        ];
        for (address, want) in cases {
            let address: SocketAddr = address.parse().unwrap();
            assert_eq!(allowed_hosts(address), want, "{address}");
        }
    }

    #[test]
    fn verdict_cases() {
        let guard = Guard::new(
            "127.0.0.1:8080".parse().unwrap(),
            DownstreamOptions::default(),
        );
        let hosts = guard.hosts.as_deref();
        let own = &guard.own_origins;
        let allowed = strings(&["http://localhost:6274"]);
        let check =
            |host: Option<&str>, origin: Option<&str>| verdict(hosts, own, &allowed, host, origin);
        assert_eq!(check(Some("127.0.0.1:8080"), None), Ok(()));
        assert_eq!(check(Some("localhost:8080"), None), Ok(()));
        assert_eq!(check(Some("LOCALHOST"), None), Ok(()));
        assert_eq!(check(Some("[::1]:8080"), None), Ok(()));
        assert_eq!(
            check(Some("evil.example"), None),
            Err(Refusal::Host("evil.example".into()))
        );
        assert_eq!(
            check(Some("evil.example:8080"), None),
            Err(Refusal::Host("evil.example:8080".into()))
        );
        assert_eq!(check(None, None), Err(Refusal::NoHost));
        // Origins: the daemon's own, the listed ones, nothing else; `null` only if listed.
        assert_eq!(
            check(Some("localhost:8080"), Some("http://127.0.0.1:8080")),
            Ok(())
        );
        assert_eq!(
            check(Some("localhost:8080"), Some("http://[::1]:8080")),
            Ok(())
        );
        assert_eq!(
            check(Some("localhost:8080"), Some("http://localhost:6274")),
            Ok(())
        );
        for bad in [
            "http://evil.example",
            "null",
            "http://localhost:6275",
            "http://127.0.0.1:8081",
        ] {
            assert_eq!(
                check(Some("localhost:8080"), Some(bad)),
                Err(Refusal::Origin(bad.into())),
                "{bad}"
            );
        }
        let with_null = strings(&["null"]);
        assert_eq!(
            verdict(hosts, own, &with_null, Some("localhost"), Some("null")),
            Ok(())
        );
        // Listening on every interface: any Host, Origins still checked.
        let open = Guard::new(
            "0.0.0.0:8080".parse().unwrap(),
            DownstreamOptions::default(),
        );
        assert_eq!(
            verdict(None, &open.own_origins, &[], Some("evil.example"), None),
            Ok(())
        );
        assert!(
            verdict(
                None,
                &open.own_origins,
                &[],
                Some("x"),
                Some("http://evil.example")
            )
            .is_err()
        );
    }
}
