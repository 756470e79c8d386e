//! Classified connection failures: what went wrong with an upstream, with the evidence.
//!
//! Transports produce a `Failure`; the supervisor adds counters (`FailureCounters`) and asks
//! the policy what to do. The kinds are `failure-kind` in `wit/policy.wit`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The command could not be started (not found, permission denied, bad working dir).
    SpawnError,
    /// The process exited before the MCP handshake completed.
    ExitedBeforeHandshake,
    /// Connect + handshake did not finish within `init_timeout`.
    InitTimeout,
    /// Not valid MCP: garbage output, a failed handshake.
    ProtocolError,
    /// Connection refused.
    Refused,
    /// An HTTP error status.
    HttpStatus,
    /// Was Ready, then the process died or the connection closed.
    CrashedAfterReady,
    /// Was Ready, then stopped answering pings.
    HealthCheck,
}

/// One failure with what is known about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// OS error text, stderr tail, HTTP body excerpt: whatever helps a user.
    pub detail: String,
    pub exit_code: Option<i32>,
    pub http_status: Option<u16>,
}

impl Failure {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            exit_code: None,
            http_status: None,
        }
    }

    pub fn with_exit_code(mut self, code: Option<i32>) -> Self {
        self.exit_code = code;
        self
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            FailureKind::SpawnError => "spawn error",
            FailureKind::ExitedBeforeHandshake => "exited before handshake",
            FailureKind::InitTimeout => "init timeout",
            FailureKind::ProtocolError => "protocol error",
            FailureKind::Refused => "connection refused",
            FailureKind::HttpStatus => "HTTP error status",
            FailureKind::CrashedAfterReady => "crashed after ready",
            FailureKind::HealthCheck => "health check failed",
        };
        f.write_str(s)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(code) = self.exit_code {
            write!(f, " (exit code {code})")?;
        }
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}
