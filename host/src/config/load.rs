//! Reading and validating `mcp_config.json` into the internal `Config`.
//!
//! Pure apart from `read` and the environment (for `${env:NAME}` references, see `secrets`):
//! `parse(path, text)` only uses `path` to name the file in errors.
//! Validation never panics; every error names the file and, where it applies, the server
//! (`mcpServers[3] "github"`) and the field. Unknown server keys land in
//! `ServerConfig::extra`; unknown top-level keys stay only in the raw document (the store
//! keeps it for saves).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::model::{AuthMode, Config, PolicyConfig, Protocol, ServerConfig};
use crate::contract::{GivenLimits, Limits, OnFailure};
use crate::duration::{parse_value as parse_duration, type_name};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CALL_TOOL_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_TOOLS_LIMIT: usize = 15;
pub const DEFAULT_TOOL_RESPONSE_LIMIT: usize = 1 << 20;
pub const DEFAULT_WATCH_DEBOUNCE: Duration = Duration::from_millis(300);
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Servers a client adds start quarantined unless the config says otherwise.
pub const DEFAULT_QUARANTINE_NEW_SERVERS: bool = true;

/// The largest values the keys take: beyond them a value is a typo, and timers would
/// overflow.
pub const MAX_INIT_TIMEOUT: Duration = Duration::from_secs(3600);
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
pub const MAX_TOOLS_LIMIT: u64 = 10_000;
/// The largest `tool_response_limit`: a request body's own limit is far below it.
pub const MAX_TOOL_RESPONSE_LIMIT: u64 = 1 << 30;
pub const MAX_WATCH_DEBOUNCE_MS: u64 = 60_000;
pub const MAX_POLICY_DEADLINE_MS: u64 = 10_000;
pub const MAX_POLICY_MEMORY_MIB: u64 = 4096;

/// What a duration key's 0 means: off (`health_check_interval`, as in mcpproxy-go), or a
/// mistake (a timeout of 0 would fail every connect or call at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zero {
    Off,
    Invalid,
}

/// The key of the top-level array of servers.
pub const SERVERS_KEY: &str = "mcpServers";
/// The daemon-managed save counter.
pub const GENERATION_KEY: &str = "generation";

/// The server keys that hold runtime state: the daemon writes them (`edit::write_runtime_state`),
/// and they never touch a server's connection.
pub(crate) const RUNTIME_KEYS: [&str; 3] = ["enabled", "auto_disabled", "auto_disable_reason"];

/// Server keys mcpproxy reads, `name` first; every other key of an entry goes to `extra`.
pub(crate) const SERVER_KEYS: &[&str] = &[
    "name",
    "protocol",
    "command",
    "args",
    "env",
    "working_dir",
    "url",
    "headers",
    "enabled",
    "auto_disabled",
    "auto_disable_reason",
    "init_timeout",
    "enabled_tools",
    "disabled_tools",
    "quarantined",
];

/// Server keys that only change what clients see, never the connection (mcpproxy-go's tool
/// filters and quarantine).
pub(crate) const VIEW_KEYS: [&str; 3] = ["enabled_tools", "disabled_tools", "quarantined"];

/// The top-level key that decides whether servers added by a client start quarantined.
pub const QUARANTINE_NEW_SERVERS_KEY: &str = "quarantine_new_servers";

/// Parses and validates a config file's text. `path` names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let doc = parse_document(path, text)?;
    from_document(path, &doc)
}

/// Reads and parses the file at `path`.
pub fn read(path: &Path) -> Result<Config, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, "cannot read", &e))?;
    parse(path, &text)
}

/// The JSON document of a config file: a top-level object, key order kept.
pub fn parse_document(path: &Path, text: &str) -> Result<Map<String, Value>, ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Syntax {
        file: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ConfigError::Syntax {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "the config must be a JSON object, found {}",
                type_name(&other)
            ),
        }),
    }
}

/// The `generation` of a document, if it has a valid one.
pub fn document_generation(doc: &Map<String, Value>) -> Option<u64> {
    doc.get(GENERATION_KEY).and_then(Value::as_u64)
}

/// Validates a parsed document into a `Config`.
pub fn from_document(path: &Path, doc: &Map<String, Value>) -> Result<Config, ConfigError> {
    let f = Fields::top(path);
    let listen = match present(doc, "listen") {
        None => parse_listen(DEFAULT_LISTEN).map_err(|m| f.err("listen", m))?,
        Some(v) => parse_listen(f.as_str(v, "listen")?).map_err(|m| f.err("listen", m))?,
    };
    let data_dir = f.opt_str(doc, "data_dir")?.map(expand_home);
    let init_timeout = f
        .duration(doc, "init_timeout", Zero::Invalid, MAX_INIT_TIMEOUT)?
        .unwrap_or(DEFAULT_INIT_TIMEOUT);
    let call_tool_timeout = f
        .duration(doc, "call_tool_timeout", Zero::Invalid, MAX_INTERVAL)?
        .unwrap_or(DEFAULT_CALL_TOOL_TIMEOUT);
    let tools_limit = f
        .number(doc, "tools_limit", MAX_TOOLS_LIMIT)?
        .map_or(DEFAULT_TOOLS_LIMIT, |n| n as usize);
    // 0 is no limit, as in mcpproxy-go.
    let tool_response_limit = match f.opt_u64(doc, "tool_response_limit")? {
        None => DEFAULT_TOOL_RESPONSE_LIMIT,
        Some(n) if n > MAX_TOOL_RESPONSE_LIMIT => {
            let most = format!("must be at most {MAX_TOOL_RESPONSE_LIMIT} (0 is no limit)");
            return Err(f.err("tool_response_limit", most));
        }
        Some(n) => n as usize,
    };
    let watch_debounce = f
        .number(doc, "watch_debounce_ms", MAX_WATCH_DEBOUNCE_MS)?
        .map_or(DEFAULT_WATCH_DEBOUNCE, Duration::from_millis);
    let health_check_interval = f
        .duration(doc, "health_check_interval", Zero::Off, MAX_INTERVAL)?
        .unwrap_or(DEFAULT_HEALTH_CHECK_INTERVAL);
    let allowed_origins = parse_origins(&f, present(doc, "allowed_origins"))?;
    let auth = parse_auth(&f, doc, "auth")?;
    if auth == AuthMode::None && !listen.ip().is_loopback() {
        return Err(f.err(
            "auth",
            format!(
                "`none` is allowed only when `listen` is a loopback address (127.0.0.1 or ::1), \
                 and {listen} is reachable from other machines: keep tokens on, or listen on loopback"
            ),
        ));
    }
    let metrics_auth = parse_auth(&f, doc, "metrics_auth")?;
    let quarantine_new_servers = f
        .opt_bool(doc, QUARANTINE_NEW_SERVERS_KEY)?
        .unwrap_or(DEFAULT_QUARANTINE_NEW_SERVERS);
    let policy = parse_policy(path, present(doc, "policy"))?;
    let generation = f.opt_u64(doc, GENERATION_KEY)?.unwrap_or(0);

    let servers = match present(doc, SERVERS_KEY) {
        None => Vec::new(),
        Some(Value::Array(entries)) => {
            let mut servers = Vec::with_capacity(entries.len());
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for (index, entry) in entries.iter().enumerate() {
                let server = parse_server(path, index, entry)?;
                if let Some(first) = seen.get(server.name.as_str()) {
                    return Err(Fields::server(path, index, Some(&server.name)).err(
                        "name",
                        format!("duplicate server name (also {SERVERS_KEY}[{first}])"),
                    ));
                }
                if let Some(Value::String(name)) = entry.get("name") {
                    seen.insert(name.as_str(), index);
                }
                servers.push(server);
            }
            servers
        }
        Some(other) => {
            return Err(f.err(
                SERVERS_KEY,
                format!("expected an array of servers, found {}", type_name(other)),
            ));
        }
    };

    Ok(Config {
        listen,
        data_dir,
        init_timeout,
        call_tool_timeout,
        tools_limit,
        quarantine_new_servers,
        tool_response_limit,
        watch_debounce,
        health_check_interval,
        allowed_origins,
        auth,
        metrics_auth,
        policy,
        servers,
        generation,
    })
}

/// `auth` / `metrics_auth`: `token` (the default) or `none`.
fn parse_auth(f: &Fields, doc: &Map<String, Value>, key: &str) -> Result<AuthMode, ConfigError> {
    match f.opt_str(doc, key)?.as_deref() {
        None | Some("token") => Ok(AuthMode::Token),
        Some("none") => Ok(AuthMode::None),
        Some(other) => Err(f.err(key, format!("{other:?}: expected \"token\" or \"none\""))),
    }
}

/// `allowed_origins`: an array of origins, each normalised (see `normalise_origin`).
fn parse_origins(f: &Fields, value: Option<&Value>) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "allowed_origins";
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        let found = type_name(value);
        return Err(f.err(KEY, format!("expected an array of origins, found {found}")));
    };
    let origin = |(i, item): (usize, &Value)| match item.as_str() {
        Some(text) => normalise_origin(text).map_err(|m| f.err(KEY, format!("entry {i}: {m}"))),
        None => Err(f.err(
            KEY,
            format!("entry {i}: expected a string, found {}", type_name(item)),
        )),
    };
    items.iter().enumerate().map(origin).collect()
}

/// An origin as browsers send it: `scheme://host[:port]` in lower case, no path; or `null`
/// (sandboxed frames, `file:` pages), which must be listed as such to be allowed.
pub fn normalise_origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "null" {
        return Ok(text.to_string());
    }
    let url = reqwest::Url::parse(text)
        .map_err(|e| format!("{text:?} is not an origin like http://localhost:6274 ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} is not an http or https origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?} has a path; an origin is only scheme://host[:port]"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// Validates one `mcpServers` entry; `index` is its position, for error messages.
pub fn parse_server(path: &Path, index: usize, entry: &Value) -> Result<ServerConfig, ConfigError> {
    let name_hint = entry.get("name").and_then(Value::as_str);
    let f = Fields::server(path, index, name_hint);
    let Value::Object(obj) = entry else {
        return Err(f.err(
            "",
            format!("expected an object, found {}", type_name(entry)),
        ));
    };
    let name = match f.opt_str(obj, "name")? {
        Some(n) if !n.trim().is_empty() => n,
        Some(_) => return Err(f.err("name", "must not be empty".into())),
        None => return Err(f.err("name", "missing".into())),
    };
    if let Some(why) = unroutable_name(&name) {
        return Err(f.err("name", why));
    }
    let command = f.opt_str(obj, "command")?;
    if command.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(f.err("command", "must not be empty".into()));
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let mut secrets = Vec::new();
    let mut expand = |field: String, text: String| -> Result<String, ConfigError> {
        let (value, found) =
            super::secrets::expand(&text, &lookup).map_err(|m| f.err(&field, m))?;
        secrets.extend(found);
        Ok(value)
    };
    let url = match f.opt_str(obj, "url")? {
        Some(u) => Some(expand("url".into(), u)?),
        None => None,
    };
    if let Some(u) = &url {
        validate_url(u).map_err(|m| f.err("url", m))?;
    }
    let args = f
        .string_list(obj, "args")?
        .into_iter()
        .enumerate()
        .map(|(i, arg)| expand(format!("args[{i}]"), arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = f.string_map(obj, "env")?;
    for (key, value) in env.iter_mut() {
        *value = expand(format!("env.{key}"), std::mem::take(value))?;
    }
    let mut headers = f.string_map(obj, "headers")?;
    for (key, value) in headers.iter_mut() {
        *value = expand(format!("headers.{key}"), std::mem::take(value))?;
    }
    let protocol = match f.opt_str(obj, "protocol")? {
        Some(p) => parse_protocol(&p).map_err(|m| f.err("protocol", m))?,
        None if command.is_some() => Protocol::Stdio,
        None if url.is_some() => Protocol::Auto,
        None => {
            return Err(f.err(
                "command",
                "missing: a server needs \"command\" or \"url\"".into(),
            ));
        }
    };
    match protocol {
        Protocol::Stdio if command.is_none() => {
            return Err(f.err(
                "command",
                "missing: protocol \"stdio\" needs a command".into(),
            ));
        }
        Protocol::StreamableHttp | Protocol::Sse | Protocol::Auto if url.is_none() => {
            return Err(f.err("url", "missing: an HTTP or SSE server needs a url".into()));
        }
        _ => {}
    }
    let extra: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !SERVER_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ServerConfig {
        name,
        protocol,
        command,
        args,
        env,
        working_dir: f.opt_str(obj, "working_dir")?.map(expand_home),
        url,
        headers,
        enabled: f.opt_bool(obj, "enabled")?.unwrap_or(true),
        auto_disabled: f.opt_bool(obj, "auto_disabled")?.unwrap_or(false),
        auto_disable_reason: f.opt_str(obj, "auto_disable_reason")?,
        init_timeout: f.duration(obj, "init_timeout", Zero::Invalid, MAX_INIT_TIMEOUT)?,
        enabled_tools: match present(obj, "enabled_tools") {
            Some(_) => Some(f.string_list(obj, "enabled_tools")?),
            None => None,
        },
        disabled_tools: f.string_list(obj, "disabled_tools")?,
        quarantined: f.opt_bool(obj, "quarantined")?.unwrap_or(false),
        secrets,
        extra,
    })
}

/// Why clients could not reach a server named `name`: `call_tool` splits `server:tool` at the
/// first `:`, and `/mcp/server/<name>` is one path segment.
fn unroutable_name(name: &str) -> Option<String> {
    let bad = name
        .chars()
        .find(|c| matches!(c, ':' | '/' | '?' | '#') || c.is_control())?;
    Some(format!(
        "must not contain {bad:?} (clients name tools `server:tool` and reach a server at \
         /mcp/server/<name>)"
    ))
}

/// The file spelling of a protocol.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Stdio => "stdio",
        Protocol::StreamableHttp => "streamable-http",
        Protocol::Sse => "sse",
        Protocol::Auto => "auto",
    }
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "stdio" => Ok(Protocol::Stdio),
        "http" | "streamable-http" | "streamable_http" | "streamablehttp" => {
            Ok(Protocol::StreamableHttp)
        }
        "sse" => Ok(Protocol::Sse),
        "auto" => Ok(Protocol::Auto),
        _ => Err(format!(
            "unknown protocol {s:?} (expected stdio, http, streamable-http, sse or auto)"
        )),
    }
}

fn validate_url(u: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(u).map_err(|e| format!("not a valid URL: {u:?} ({e})"))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "not a valid URL: {u:?} (scheme {other:?}, expected http or https)"
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("not a valid URL: {u:?} (no host)"));
    }
    Ok(())
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    // Go-style ":8080" means every interface.
    let spelled = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_string()
    };
    if let Ok(addr) = spelled.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = spelled.strip_prefix("localhost:") {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("not a valid port in {s:?}"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    // No DNS here: parsing stays pure, and a daemon should not listen on whatever a name
    // resolves to today.
    Err(format!(
        "not a host:port address with an IP or localhost: {s:?}"
    ))
}

fn parse_policy(path: &Path, value: Option<&Value>) -> Result<PolicyConfig, ConfigError> {
    let f = Fields::top(path);
    let empty = Map::new();
    let obj = match value {
        None => &empty,
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(f.err(
                "policy",
                format!("expected an object, found {}", type_name(other)),
            ));
        }
    };
    let f = Fields {
        file: path,
        server: None,
        prefix: "policy.",
    };
    let settings = present(obj, "settings")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let given = GivenLimits {
        deadline_ms: f.number(obj, "deadline_ms", MAX_POLICY_DEADLINE_MS)?,
        memory_limit_mib: f.number(obj, "memory_limit_mib", MAX_POLICY_MEMORY_MIB)?,
    };
    let limits = Limits::DEFAULT.with(given);
    let on_failure = match f.opt_str(obj, "on_failure")?.as_deref() {
        None | Some("fallback-to-default") => OnFailure::FallbackToDefault,
        Some("deny") => OnFailure::Deny,
        Some(other) => {
            return Err(f.err(
                "on_failure",
                format!("expected \"fallback-to-default\" or \"deny\", found {other:?}"),
            ));
        }
    };
    Ok(PolicyConfig {
        path: f.opt_str(obj, "path")?.map(expand_home),
        settings,
        limits,
        on_failure,
    })
}

/// A key's value, treating `null` as absent.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn expand_home(s: String) -> PathBuf {
    match s.strip_prefix("~/") {
        Some(rest) => match dirs::home_dir() {
            Some(home) => home.join(rest),
            None => PathBuf::from(s),
        },
        None => PathBuf::from(s),
    }
}

/// Typed field readers that build errors naming the file, server and field.
struct Fields<'a> {
    file: &'a Path,
    server: Option<String>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    fn top(file: &'a Path) -> Self {
        Fields {
            file,
            server: None,
            prefix: "",
        }
    }

    fn server(file: &'a Path, index: usize, name: Option<&str>) -> Self {
        let server = match name {
            Some(n) => format!("{SERVERS_KEY}[{index}] {n:?}"),
            None => format!("{SERVERS_KEY}[{index}]"),
        };
        Fields {
            file,
            server: Some(server),
            prefix: "",
        }
    }

    fn err(&self, field: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            server: self.server.clone(),
            field: format!("{}{field}", self.prefix),
            message,
        }
    }

    fn as_str<'v>(&self, v: &'v Value, key: &str) -> Result<&'v str, ConfigError> {
        v.as_str()
            .ok_or_else(|| self.err(key, format!("expected a string, found {}", type_name(v))))
    }

    fn opt_str(&self, obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
        present(obj, key)
            .map(|v| self.as_str(v, key).map(str::to_string))
            .transpose()
    }

    fn opt_bool(&self, obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, ConfigError> {
        present(obj, key)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    self.err(
                        key,
                        format!("expected true or false, found {}", type_name(v)),
                    )
                })
            })
            .transpose()
    }

    fn opt_u64(&self, obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ConfigError> {
        present(obj, key)
            .map(|v| {
                v.as_u64().ok_or_else(|| {
                    self.err(key, format!("expected a non-negative integer, found {v}"))
                })
            })
            .transpose()
    }

    /// A duration key, at most `max`; what its 0 means is `zero`'s.
    fn duration(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        zero: Zero,
        max: Duration,
    ) -> Result<Option<Duration>, ConfigError> {
        let Some(v) = present(obj, key) else {
            return Ok(None);
        };
        let d = parse_duration(v).map_err(|m| self.err(key, m))?;
        if d.is_zero() && zero == Zero::Invalid {
            return Err(self.err(key, "must be more than 0".into()));
        }
        if d > max {
            return Err(self.err(
                key,
                format!("must be at most {}", humantime::format_duration(max)),
            ));
        }
        Ok(Some(d))
    }

    /// A whole-number key from 1 to `max`.
    fn number(
        &self,
        obj: &Map<String, Value>,
        key: &str,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        match self.opt_u64(obj, key)? {
            Some(0) => Err(self.err(key, "must be at least 1".into())),
            Some(n) if n > max => Err(self.err(key, format!("must be at most {max}"))),
            n => Ok(n),
        }
    }

    fn string_list(&self, obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, ConfigError> {
        match present(obj, key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        self.err(
                            &format!("{key}[{i}]"),
                            format!("expected a string, found {}", type_name(v)),
                        )
                    })
                })
                .collect(),
            Some(other) => Err(self.err(
                key,
                format!("expected an array of strings, found {}", type_name(other)),
            )),
        }
    }

    fn string_map(
        &self,
        obj: &Map<String, Value>,
        key: &str,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        match present(obj, key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    // Numbers and booleans in env are common in hand-written files.
                    Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
                    other => Err(self.err(
                        &format!("{key}.{k}"),
                        format!("expected a string, found {}", type_name(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.err(
                key,
                format!("expected an object of strings, found {}", type_name(other)),
            )),
        }
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
