//! Snapshots of runtime state, as `upstream_servers list`, `upstream list` and `status` report them.
//!
//! Plain serialisable values, built from the supervisors' state on demand; nothing reads them
//! back to make decisions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A server's connection state (`connection_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Configured and startable, not yet attempted.
    Pending,
    /// Spawned or dialled; handshake under way.
    Connecting,
    Ready,
    /// Waiting to retry (`next_retry_at`).
    Sleeping,
    /// Switched off by the policy (`auto_disable_reason`).
    #[serde(rename = "Auto-Disabled")]
    AutoDisabled,
    /// Switched off by the user.
    Disabled,
}

/// Where a server is in start-up: its state, and whether it is connecting again after a
/// failure (retrying) rather than for the first time since it was (re)configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    pub state: ConnectionState,
    pub retrying: bool,
}

impl Phase {
    /// Whether the server has had its attempt: Ready, Auto-Disabled and Disabled end a
    /// start-up; Sleeping, and Connecting again after a failure, count as settled too, since
    /// the server's first outcome is known and further attempts follow the policy's backoff.
    /// (Counting a retry as unsettled made "every server settled" a race: a few hundred
    /// hanging servers, started over longer than their first backoff, are never all Sleeping
    /// at once.)
    pub fn is_settled(self) -> bool {
        match self.state {
            ConnectionState::Pending => false,
            ConnectionState::Connecting => self.retrying,
            _ => true,
        }
    }
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Pending => "Pending",
            ConnectionState::Connecting => "Connecting",
            ConnectionState::Ready => "Ready",
            ConnectionState::Sleeping => "Sleeping",
            ConnectionState::AutoDisabled => "Auto-Disabled",
            ConnectionState::Disabled => "Disabled",
        }
    }
}

/// One server as reported to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub name: String,
    /// `stdio`, `streamable-http`, `sse` or `auto`.
    pub protocol: String,
    pub connection_state: ConnectionState,
    pub enabled: bool,
    pub auto_disabled: bool,
    pub auto_disable_reason: Option<String>,
    pub last_error: Option<String>,
    /// Connection attempts since the server was (re)configured.
    pub attempts: u32,
    pub consecutive_failures: u32,
    /// RFC 3339, when Sleeping.
    pub next_retry_at: Option<String>,
    /// RFC 3339, when Ready.
    pub connected_at: Option<String>,
    /// The child's pid, for a running stdio server.
    pub pid: Option<u32>,
    pub tool_count: usize,
    /// Connected and inspected, nothing shown until approved (`quarantined`, or the policy's
    /// tool review quarantined it).
    #[serde(default)]
    pub quarantined: bool,
    /// Why the policy's tool review quarantined the server (kept until it is approved, or the
    /// daemon restarts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_reason: Option<String>,
    /// Tools the policy's tool review hides until the server's tools are approved again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_tools: Vec<HiddenTool>,
    /// Resources and prompts while Ready.
    #[serde(default)]
    pub resource_count: usize,
    #[serde(default)]
    pub prompt_count: usize,
    /// Times this server's supervisor crashed and was started again (0 normally).
    #[serde(default)]
    pub supervisor_restarts: u32,
    /// The MCP revision spoken with the server while Ready (`2026-07-28`, `2025-11-25`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
}

impl ServerStatus {
    pub fn phase(&self) -> Phase {
        Phase {
            state: self.connection_state,
            retrying: self.consecutive_failures > 0,
        }
    }
}

/// A tool hidden since it differs from what a user approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenTool {
    pub name: String,
    /// The policy's reason, as users see it.
    pub reason: String,
}

/// The answer of `upstream_servers {operation: "list"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerList {
    pub servers: Vec<ServerStatus>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    /// Count per `connection_state`, e.g. `{"Ready": 150, "Auto-Disabled": 9}`.
    pub by_state: BTreeMap<String, usize>,
    /// Servers that show nothing until a user approves them.
    #[serde(default)]
    pub quarantined: usize,
    /// Tools hidden until their server's tools are approved again, over all servers.
    #[serde(default)]
    pub tools_awaiting_approval: usize,
}

impl Summary {
    /// `3 servers: 2 Ready, 1 Auto-Disabled; 1 quarantined`, as `status` prints it.
    pub fn words(&self) -> String {
        let noun = if self.total == 1 { "server" } else { "servers" };
        if self.total == 0 {
            return format!("no {noun}");
        }
        let states: Vec<String> = self
            .by_state
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        let mut text = format!("{} {noun}: {}", self.total, states.join(", "));
        let mut notes = Vec::new();
        if self.quarantined > 0 {
            notes.push(format!("{} quarantined", self.quarantined));
        }
        if self.tools_awaiting_approval > 0 {
            notes.push(format!(
                "{} tools awaiting approval",
                self.tools_awaiting_approval
            ));
        }
        if !notes.is_empty() {
            text.push_str(&format!("; {}", notes.join(", ")));
        }
        text
    }
}

impl ServerList {
    pub fn new(servers: Vec<ServerStatus>) -> Self {
        let mut by_state = BTreeMap::new();
        for s in &servers {
            *by_state
                .entry(s.connection_state.as_str().to_string())
                .or_insert(0) += 1;
        }
        let summary = Summary {
            total: servers.len(),
            by_state,
            quarantined: servers.iter().filter(|s| s.quarantined).count(),
            tools_awaiting_approval: servers.iter().map(|s| s.hidden_tools.len()).sum(),
        };
        ServerList { servers, summary }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_settled_once_it_has_had_its_attempt() {
        use ConnectionState::*;
        let phase = |state, retrying| Phase { state, retrying };
        for state in [Ready, Sleeping, AutoDisabled, Disabled] {
            assert!(phase(state, false).is_settled(), "{state:?}");
        }
        assert!(!phase(Pending, false).is_settled());
        assert!(!phase(Connecting, false).is_settled());
        assert!(phase(Connecting, true).is_settled());
    }

    #[test]
    fn a_summary_in_words() {
        let mut by_state = BTreeMap::new();
        by_state.insert("Ready".to_string(), 2);
        by_state.insert("Auto-Disabled".to_string(), 1);
        let summary = Summary {
            total: 3,
            by_state,
            quarantined: 1,
            tools_awaiting_approval: 0,
        };
        assert_eq!(
            summary.words(),
            "3 servers: 1 Auto-Disabled, 2 Ready; 1 quarantined"
        );
        let none = Summary {
            total: 0,
            by_state: BTreeMap::new(),
            quarantined: 0,
            tools_awaiting_approval: 0,
        };
        assert_eq!(none.words(), "no servers");
    }
}
