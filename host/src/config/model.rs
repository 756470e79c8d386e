//! The one internal representation of mcpproxy's configuration.
//!
//! User files (`mcp_config.json`, compatible with mcpproxy-go) are parsed and normalised into
//! these types by `config::load`; everything else in the daemon reads only these. Runtime
//! state (connection states, pids, counters) never lives here: see `supervisor` and `status`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration, as the daemon runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the downstream MCP endpoint listens (`listen`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `data_dir` from the file, if set (the CLI's `--data-dir` wins over it).
    pub data_dir: Option<PathBuf>,
    /// Connect + handshake deadline for every server without its own (`init_timeout`, default 30 s).
    pub init_timeout: Duration,
    /// Deadline for one forwarded tool call (`call_tool_timeout`, default 2 min).
    pub call_tool_timeout: Duration,
    /// Most tools `retrieve_tools` returns (`tools_limit`, default 15).
    pub tools_limit: usize,
    /// Debounce window of the config watcher (`watch_debounce_ms`, default 300 ms).
    pub watch_debounce: Duration,
    /// Interval between MCP pings to Ready servers (`health_check_interval`, default 30 s).
    pub health_check_interval: Duration,
    /// Which policy component decides failures and reloads (`policy`).
    pub policy: PolicyConfig,
    /// The upstream servers (`mcpServers`), in file order; names are unique.
    pub servers: Vec<ServerConfig>,
    /// The daemon-managed save counter (`generation`); 0 when the file has none.
    pub generation: u64,
}

/// The `policy` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// A policy component to use instead of the embedded default (`policy.path`).
    pub path: Option<PathBuf>,
    /// Settings handed to the policy's `configure` (`policy.settings`, default `{}`).
    pub settings: serde_json::Value,
    /// Per-decision deadline (`policy.deadline_ms`, default 10 ms).
    pub deadline: Duration,
    /// Per-instance linear memory cap in bytes (`policy.memory_limit_mib`, default 16 MiB).
    pub memory_limit: usize,
    /// Who answers when the policy fails (`policy.on_failure`: `fallback-to-default`, the
    /// default, or `deny`).
    pub on_failure: crate::policy::OnFailure,
}

/// The section as an empty `policy` object reads: the embedded default, default limits.
impl Default for PolicyConfig {
    fn default() -> Self {
        use super::load::{DEFAULT_POLICY_DEADLINE, DEFAULT_POLICY_MEMORY_MIB};
        PolicyConfig {
            path: None,
            settings: serde_json::Value::Object(Default::default()),
            deadline: DEFAULT_POLICY_DEADLINE,
            memory_limit: DEFAULT_POLICY_MEMORY_MIB << 20,
            on_failure: Default::default(),
        }
    }
}

/// How to reach an upstream server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Stdio,
    /// `http` and `streamable-http` in the file.
    StreamableHttp,
    Sse,
    /// Try streamable HTTP, then SSE.
    Auto,
}

/// One entry of `mcpServers`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    pub protocol: Protocol,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<PathBuf>,
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// Switched off by the user.
    pub enabled: bool,
    /// Switched off by the daemon's policy; cleared by re-enabling.
    pub auto_disabled: bool,
    pub auto_disable_reason: Option<String>,
    /// Overrides the global `init_timeout` for this server.
    pub init_timeout: Option<Duration>,
    /// Keys mcpproxy does not know, kept so that diffs can name them and saves keep them.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ServerConfig {
    /// A server the daemon may start: enabled by the user and not auto-disabled.
    pub fn is_startable(&self) -> bool {
        self.enabled && !self.auto_disabled
    }

    /// This server's connect + handshake deadline.
    pub fn init_timeout_or(&self, global: Duration) -> Duration {
        self.init_timeout.unwrap_or(global)
    }
}

impl Config {
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }
}
