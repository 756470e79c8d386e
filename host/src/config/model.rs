//! The one internal representation of mcpproxy's configuration.
//!
//! User files (`mcp_config.json`, compatible with mcpproxy-go) are parsed and normalised into
//! these types by `config::load`; everything else in the daemon reads only these. Runtime
//! state (connection states, pids, counters) never lives here: see `supervisor` and `status`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::secrets::Secret;
use crate::contract::{Limits, OnFailure};

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
    /// Whether a server added by a client (`upstream_servers add`) starts quarantined
    /// (`quarantine_new_servers`, default true).
    pub quarantine_new_servers: bool,
    /// Most tools `retrieve_tools` returns (`tools_limit`, default 15).
    pub tools_limit: usize,
    /// Bytes of a tool result's content passed on; the rest is cut, with a marker
    /// (`tool_response_limit`, as in mcpproxy-go; default 1 MiB; 0: no limit).
    pub tool_response_limit: usize,
    /// Debounce window of the config watcher (`watch_debounce_ms`, default 300 ms).
    pub watch_debounce: Duration,
    /// Interval between MCP pings to Ready servers (`health_check_interval`, default 30 s;
    /// 0 switches health checks off, as in mcpproxy-go).
    pub health_check_interval: Duration,
    /// Browser origins allowed on the MCP endpoints (`allowed_origins`, default none), as
    /// `scheme://host[:port]`: a request that sends any other `Origin` is refused.
    pub allowed_origins: Vec<String>,
    /// Whether the MCP endpoints and `/status` need a bearer token (`auth`: `token`, the
    /// default, or `none`, allowed only when `listen` is a loopback address).
    pub auth: AuthMode,
    /// The same for `/metrics` (`metrics_auth`, default `token`; `none` lets a scraper in
    /// without a token, whatever the listen address).
    pub metrics_auth: AuthMode,
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
    /// The per-decision deadline and memory cap (`policy.deadline_ms`, default 10 ms;
    /// `policy.memory_limit_mib`, default 16 MiB).
    pub limits: Limits,
    /// Who answers when the policy fails (`policy.on_failure`: `fallback-to-default`, the
    /// default, or `deny`).
    pub on_failure: OnFailure,
}

/// The section as an empty `policy` object reads: the embedded default, default limits.
impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            path: None,
            settings: serde_json::Value::Object(Default::default()),
            limits: Limits::DEFAULT,
            on_failure: Default::default(),
        }
    }
}

/// Whether a route needs a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    Token,
    None,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Token => "token",
            AuthMode::None => "none",
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
    /// Only these tools are shown to clients (`enabled_tools`, as in mcpproxy-go); `None`:
    /// every tool.
    pub enabled_tools: Option<Vec<String>>,
    /// These tools are never shown (`disabled_tools`).
    pub disabled_tools: Vec<String>,
    /// Connected and inspected, but nothing of it shown or callable until a user approves it
    /// (`quarantined`, as in mcpproxy-go).
    pub quarantined: bool,
    /// What `${env:NAME}` references in `env`, `headers`, `args` and `url` stood for: never
    /// shown, see `redact`.
    pub secrets: Vec<Secret>,
    /// Keys mcpproxy does not know, kept so that diffs can name them and saves keep them.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ServerConfig {
    /// A server the daemon may start: enabled by the user and not auto-disabled.
    pub fn is_startable(&self) -> bool {
        self.enabled && !self.auto_disabled
    }

    /// Switched on by the user. Enabling also clears an auto-disable and its reason: the
    /// user has seen why and wants the server back. The only place that clears one.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.auto_disabled = false;
        self.auto_disable_reason = None;
    }

    /// A user trusts the server: its tools, resources and prompts are shown. The only place
    /// that clears a quarantine.
    pub fn approve(&mut self) {
        self.quarantined = false;
    }

    /// Nothing of the server is shown until a user approves it.
    pub fn quarantine(&mut self) {
        self.quarantined = true;
    }

    /// Whether clients see (and may call) the tool `name`: listed in `enabled_tools` when
    /// that is set, and not in `disabled_tools`. The only place the filters are read.
    pub fn exposes(&self, name: &str) -> bool {
        let enabled = self
            .enabled_tools
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == name));
        enabled && !self.disabled_tools.iter().any(|t| t == name)
    }

    /// `text` (an error, a reason) with this server's secrets replaced by their references:
    /// what the daemon shows or writes of anything that may contain them.
    pub fn redact(&self, text: &str) -> String {
        super::secrets::redact(text, &self.secrets)
    }

    /// Whether any tool filter is set.
    pub fn filters_tools(&self) -> bool {
        self.enabled_tools.is_some() || !self.disabled_tools.is_empty()
    }

    /// Switched off by the user. An auto-disable record stays; only enabling clears it.
    pub fn disable(&mut self) {
        self.enabled = false;
    }

    /// Switched off by the policy, with its reason.
    pub fn auto_disable(&mut self, reason: String) {
        self.auto_disabled = true;
        self.auto_disable_reason = Some(reason);
    }

    /// This server's connect + handshake deadline.
    pub fn init_timeout_or(&self, global: Duration) -> Duration {
        self.init_timeout.unwrap_or(global)
    }
}

impl Config {
    /// What every server's `${env:NAME}` references stood for.
    pub fn secrets(&self) -> Vec<Secret> {
        self.servers
            .iter()
            .flat_map(|s| s.secrets.iter().cloned())
            .collect()
    }

    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }
}

/// A top-level key a reload can change, as the file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalKey {
    Listen,
    DataDir,
    InitTimeout,
    CallToolTimeout,
    ToolsLimit,
    ToolResponseLimit,
    WatchDebounceMs,
    HealthCheckInterval,
    AllowedOrigins,
    QuarantineNewServers,
    Auth,
    MetricsAuth,
    Policy,
}

impl GlobalKey {
    /// Every key, in the order a diff lists them.
    pub const ALL: [GlobalKey; 13] = [
        GlobalKey::Listen,
        GlobalKey::DataDir,
        GlobalKey::InitTimeout,
        GlobalKey::CallToolTimeout,
        GlobalKey::ToolsLimit,
        GlobalKey::ToolResponseLimit,
        GlobalKey::WatchDebounceMs,
        GlobalKey::HealthCheckInterval,
        GlobalKey::AllowedOrigins,
        GlobalKey::QuarantineNewServers,
        GlobalKey::Auth,
        GlobalKey::MetricsAuth,
        GlobalKey::Policy,
    ];

    /// The key as the file spells it.
    pub fn name(self) -> &'static str {
        match self {
            GlobalKey::Listen => "listen",
            GlobalKey::DataDir => "data_dir",
            GlobalKey::InitTimeout => "init_timeout",
            GlobalKey::CallToolTimeout => "call_tool_timeout",
            GlobalKey::ToolsLimit => "tools_limit",
            GlobalKey::ToolResponseLimit => "tool_response_limit",
            GlobalKey::WatchDebounceMs => "watch_debounce_ms",
            GlobalKey::HealthCheckInterval => "health_check_interval",
            GlobalKey::AllowedOrigins => "allowed_origins",
            GlobalKey::QuarantineNewServers => "quarantine_new_servers",
            GlobalKey::Auth => "auth",
            GlobalKey::MetricsAuth => "metrics_auth",
            GlobalKey::Policy => "policy",
        }
    }

    /// The key the file spells `name`, if it is one.
    pub fn from_name(name: &str) -> Option<GlobalKey> {
        GlobalKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Read only when the daemon starts: an edit waits for a restart.
    pub fn is_start_only(self) -> bool {
        matches!(self, GlobalKey::Listen | GlobalKey::DataDir)
    }

    /// Whether the key's value differs between `a` and `b`.
    pub fn differs(self, a: &Config, b: &Config) -> bool {
        match self {
            GlobalKey::Listen => a.listen != b.listen,
            GlobalKey::DataDir => a.data_dir != b.data_dir,
            GlobalKey::InitTimeout => a.init_timeout != b.init_timeout,
            GlobalKey::CallToolTimeout => a.call_tool_timeout != b.call_tool_timeout,
            GlobalKey::ToolsLimit => a.tools_limit != b.tools_limit,
            GlobalKey::ToolResponseLimit => a.tool_response_limit != b.tool_response_limit,
            GlobalKey::WatchDebounceMs => a.watch_debounce != b.watch_debounce,
            GlobalKey::HealthCheckInterval => a.health_check_interval != b.health_check_interval,
            GlobalKey::AllowedOrigins => a.allowed_origins != b.allowed_origins,
            GlobalKey::QuarantineNewServers => a.quarantine_new_servers != b.quarantine_new_servers,
            GlobalKey::Auth => a.auth != b.auth,
            GlobalKey::MetricsAuth => a.metrics_auth != b.metrics_auth,
            GlobalKey::Policy => a.policy != b.policy,
        }
    }
}
