//! The load generator: forwarded tool calls through a real daemon, against the same calls made
//! to the upstream directly, in one run (prints a table; asserts only that no call failed).
//!
//! Clients are threads, each on its own kept-alive HTTP/1.1 connection with its own MCP session
//! (`TCP_NODELAY`, one write per request, the response read whole), so a client costs a few
//! microseconds per call and the figures are the servers'. For 1, 8 and 64 clients it prints
//! p50 / p99 latency, calls/s, errors, and CPU per call of the daemon (from `/proc/<pid>/stat`),
//! of the upstream and of the clients themselves (`getrusage`). Baselines: the fixture upstream
//! spoken to directly over stdio (one client: a pipe has one reader) and over streamable HTTP.
//! The proxied calls run in both revisions' ways (2025-11-25 sessions, stateless 2026-07-28
//! requests) and to a dual-era and a 2025-11-25-only upstream.
//! Then the list figures: `tools/list` on `/mcp/all` over 159 servers × 3 tools and
//! `retrieve_tools` over 10,000 tools (p50 / p99).
//!
//! Run: `cargo bench -p mcpproxy --bench load` (`-- quick` for a short run, `-- lists` for the
//! list figures alone). The daemon is the
//! bench profile's (release) build. `-- profile` instead records the daemon with Debian's
//! `perf` while 8 clients call through `/mcp/all`, and prints how to draw the flame graph
//! (`flamegraph-call.svg` here is one, taken after the fast-path changes).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{Daemon, FIXTURE, HttpFixture, fixture_server};
use serde_json::{Value, json};

const PROTOCOL: &str = "2025-11-25";
/// The stateless revision: no session, each request with its `_meta` and headers.
const STATELESS: &str = "2026-07-28";

/// How a client speaks to its endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Revision {
    /// 2025-11-25: a session opened with `initialize`.
    Session,
    /// 2026-07-28: no session.
    Stateless,
}

/// One kept-alive MCP-over-HTTP connection with its session.
struct HttpClient {
    stream: BufReader<TcpStream>,
    /// The request, headers and body, written as is for every call.
    request: Vec<u8>,
    line: String,
    body: Vec<u8>,
}

impl HttpClient {
    /// Connects to `addr`, opens a session on `path` (for `Revision::Session`) and prepares
    /// the call of `call` (a JSON-RPC request body).
    fn connect(addr: &str, path: &str, call: &str, revision: Revision) -> HttpClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut client = HttpClient {
            stream: BufReader::new(stream),
            request: Vec::new(),
            line: String::new(),
            body: Vec::new(),
        };
        if revision == Revision::Stateless {
            client.request = post_stateless(addr, path, call);
            return client;
        }
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "load", "version": "1"}}});
        client.request = post(addr, path, None, &init.to_string());
        let session = client.send().expect("initialize").unwrap();
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        client.request = post(addr, path, Some(&session), initialized);
        client.send().expect("notifications/initialized");
        client.request = post(addr, path, Some(&session), call);
        client
    }

    /// Sends the prepared request and reads the whole answer; returns the session id the
    /// answer names, if any. An error is a failed call (status, or no result).
    fn send(&mut self) -> Result<Option<String>, String> {
        self.stream.get_mut().write_all(&self.request).unwrap();
        self.line.clear();
        self.stream.read_line(&mut self.line).unwrap();
        let ok = self.line.starts_with("HTTP/1.1 2");
        let status = self.line.trim().to_string();
        let (mut length, mut chunked, mut session) = (None, false, None);
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).unwrap();
            let header = self.line.trim();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().unwrap());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.contains("chunked");
            } else if name.eq_ignore_ascii_case("mcp-session-id") {
                session = Some(value.to_string());
            }
        }
        self.body.clear();
        if let Some(length) = length {
            self.body.resize(length, 0);
            self.stream.read_exact(&mut self.body).unwrap();
        } else if chunked {
            loop {
                self.line.clear();
                self.stream.read_line(&mut self.line).unwrap();
                let size = usize::from_str_radix(self.line.trim(), 16).unwrap();
                let start = self.body.len();
                self.body.resize(start + size + 2, 0);
                self.stream.read_exact(&mut self.body[start..]).unwrap();
                self.body.truncate(start + size);
                if size == 0 {
                    break;
                }
            }
        }
        if !ok {
            return Err(status);
        }
        // Notifications get 202 and no body; a request's answer carries a result.
        if !self.body.is_empty() && !contains(&self.body, b"\"result\"") {
            return Err(String::from_utf8_lossy(&self.body).into_owned());
        }
        if contains(&self.body, b"\"isError\":true") {
            return Err(String::from_utf8_lossy(&self.body).into_owned());
        }
        Ok(session)
    }
}

/// A substring search that costs the client next to nothing, even in a 100 KB answer (a
/// byte-window scan cost ~0.2 ms there, counted as the proxy's latency).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

fn post(addr: &str, path: &str, session: Option<&str>, body: &str) -> Vec<u8> {
    let session = session.map_or(String::new(), |s| {
        format!("Mcp-Session-Id: {s}\r\nMcp-Protocol-Version: {PROTOCOL}\r\n")
    });
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{session}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A 2026-07-28 request: `call` with the `_meta` every request carries, and the headers.
fn post_stateless(addr: &str, path: &str, call: &str) -> Vec<u8> {
    let mut call: Value = serde_json::from_str(call).unwrap();
    call["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientInfo": {"name": "load", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let body = call.to_string();
    let method = call["method"].as_str().unwrap_or_default();
    let name = call["params"]["name"].as_str().unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMcp-Protocol-Version: {STATELESS}\r\n\
         Mcp-Method: {method}\r\nMcp-Name: {name}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The fixture spoken to directly over its stdin and stdout (newline-delimited JSON-RPC).
struct StdioClient {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    call: Vec<u8>,
}

impl StdioClient {
    fn start(call: &str) -> StdioClient {
        let mut child = Command::new(FIXTURE)
            .args(["--transport", "stdio", "--name", "direct"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut client = StdioClient {
            child,
            stdin,
            stdout,
            line: String::new(),
            call: format!("{call}\n").into_bytes(),
        };
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "load", "version": "1"}}});
        client
            .stdin
            .write_all(format!("{init}\n").as_bytes())
            .unwrap();
        client.stdout.read_line(&mut client.line).unwrap();
        let initialized = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
        client.stdin.write_all(initialized.as_bytes()).unwrap();
        client
    }

    fn send(&mut self) -> Result<(), String> {
        self.stdin.write_all(&self.call).unwrap();
        self.line.clear();
        self.stdout.read_line(&mut self.line).unwrap();
        if self.line.contains("\"result\"") && !self.line.contains("\"isError\":true") {
            Ok(())
        } else {
            Err(self.line.clone())
        }
    }
}

impl Drop for StdioClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which may hold spaces: state is the first.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos((ticks(11) + ticks(12)) * 1_000_000_000 / per_second)
}

/// CPU time this process (the clients) has used.
fn own_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    Duration::from_micros(micros(usage.user_time()) + micros(usage.system_time()))
}

/// The direct children of `pid` (over all its threads).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// What a run measured.
struct Row {
    p50: Duration,
    p99: Duration,
    per_second: f64,
    errors: usize,
    server_cpu: Duration,
    upstream_cpu: Option<Duration>,
    client_cpu: Duration,
}

/// Where a run's calls go.
struct Target {
    label: &'static str,
    addr: String,
    path: String,
    call: String,
    /// The process whose CPU is the server's: the daemon, or the upstream spoken to directly.
    server: u32,
    /// The daemon's upstream, whose CPU is shown beside the daemon's.
    upstream: Option<u32>,
    revision: Revision,
}

/// `calls` calls of `send` (true: it succeeded): the time of each, and how many failed.
fn timed(calls: usize, mut send: impl FnMut() -> bool) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(calls);
    let mut errors = 0;
    for _ in 0..calls {
        let t = Instant::now();
        if !send() {
            errors += 1;
        }
        times.push(t.elapsed());
    }
    (times, errors)
}

/// `calls` calls from each of `clients` concurrent clients (after `warm` untimed ones each).
fn run_http(target: &Target, clients: usize, calls: usize, warm: usize) -> Row {
    let barrier = Barrier::new(clients + 1);
    let mut cpu_before = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut started = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = HttpClient::connect(
                        &target.addr,
                        &target.path,
                        &target.call,
                        target.revision,
                    );
                    for _ in 0..warm {
                        client.send().expect("warm-up call");
                    }
                    barrier.wait();
                    timed(calls, || client.send().is_ok())
                })
            })
            .collect();
        barrier.wait();
        cpu_before = (
            cpu_of(target.server),
            target.upstream.map_or(Duration::ZERO, cpu_of),
            own_cpu(),
        );
        started = Instant::now();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let after = (
        cpu_of(target.server),
        target.upstream.map_or(Duration::ZERO, cpu_of),
        own_cpu(),
    );
    row(results, wall, cpu_before, after, target.upstream.is_some())
}

fn row(
    results: Vec<(Vec<Duration>, usize)>,
    wall: Duration,
    before: (Duration, Duration, Duration),
    after: (Duration, Duration, Duration),
    has_upstream: bool,
) -> Row {
    let errors = results.iter().map(|r| r.1).sum();
    let mut times: Vec<Duration> = results.into_iter().flat_map(|r| r.0).collect();
    times.sort();
    let n = times.len() as u32;
    Row {
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
        per_second: times.len() as f64 / wall.as_secs_f64(),
        errors,
        server_cpu: (after.0 - before.0) / n,
        upstream_cpu: has_upstream.then(|| (after.1 - before.1) / n),
        client_cpu: after.2.saturating_sub(before.2) / n,
    }
}

fn run_stdio(call: &str, calls: usize, warm: usize) -> Row {
    let mut client = StdioClient::start(call);
    for _ in 0..warm {
        client.send().expect("warm-up call");
    }
    let pid = client.child.id();
    let before = (cpu_of(pid), Duration::ZERO, own_cpu());
    let started = Instant::now();
    let result = timed(calls, || client.send().is_ok());
    let wall = started.elapsed();
    let after = (cpu_of(pid), Duration::ZERO, own_cpu());
    row(vec![result], wall, before, after, false)
}

fn print_header() {
    println!(
        "{:<38} {:>7} {:>9} {:>9} {:>9} {:>6} {:>11} {:>11} {:>11}",
        "target",
        "clients",
        "p50",
        "p99",
        "calls/s",
        "errors",
        "server CPU",
        "upstream",
        "client CPU"
    );
}

fn print_row(label: &str, clients: usize, row: &Row) {
    println!(
        "{:<38} {:>7} {:>9} {:>9} {:>9.0} {:>6} {:>11} {:>11} {:>11}",
        label,
        clients,
        us(row.p50),
        us(row.p99),
        row.per_second,
        row.errors,
        us(row.server_cpu),
        row.upstream_cpu.map_or("-".into(), us),
        us(row.client_cpu),
    );
}

fn call_body(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": {"text": "load"}}})
    .to_string()
}

fn wrapped_call_body() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "call_tool", "arguments": {"name": "echo:echo", "args": {"text": "load"}}}})
    .to_string()
}

fn addr_of(daemon: &Daemon) -> String {
    daemon.base_url.trim_start_matches("http://").to_string()
}

fn tool_calls() {
    let quick = std::env::args().any(|a| a == "quick");
    let scale = if quick { 1 } else { 4 };
    let warm = 100;
    let per_client = |clients: usize| (2_000 * scale / clients).max(100);

    let http_upstream = HttpFixture::start("http", "healthy");
    let mut legacy = fixture_server("old", "healthy");
    legacy["args"]
        .as_array_mut()
        .unwrap()
        .push(json!("--legacy"));
    let daemon = Daemon::start(
        json!({"mcpServers": [
            fixture_server("echo", "healthy"),
            legacy,
            {"name": "web", "url": format!("http://{}/mcp", http_upstream.addr)},
        ]}),
        &[],
    );
    daemon.wait_settled(Duration::from_secs(60));
    // Started by the daemon's spawner, not the daemon: the pid from the daemon's status.
    let upstream_named = |name: &str| {
        daemon.server(name)["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("the daemon's stdio upstream {name}")) as u32
    };
    let stdio_upstream = upstream_named("echo");
    let legacy_upstream = upstream_named("old");
    let http_pid = http_upstream_pid(&http_upstream);

    println!("\n== tool calls (echo), {} calls per run", 2_000 * scale);
    print_header();
    let direct = run_stdio(&call_body("echo"), 2_000 * scale, warm);
    print_row("direct stdio upstream", 1, &direct);
    let direct_http = Target {
        label: "direct streamable-HTTP upstream",
        addr: http_upstream.addr.clone(),
        path: "/mcp".into(),
        call: call_body("echo"),
        server: http_pid,
        upstream: None,
        revision: Revision::Session,
    };
    let proxied = |label, path: &str, call: String, upstream| Target {
        label,
        addr: addr_of(&daemon),
        path: path.into(),
        call,
        server: daemon.pid(),
        upstream: Some(upstream),
        revision: Revision::Session,
    };
    let stateless = |target: Target| Target {
        revision: Revision::Stateless,
        ..target
    };
    let targets = [
        (direct_http, vec![1, 8, 64]),
        (
            proxied(
                "/mcp/all → stdio",
                "/mcp/all",
                call_body("echo__echo"),
                stdio_upstream,
            ),
            vec![1, 8, 64],
        ),
        (
            stateless(proxied(
                "/mcp/all → stdio, stateless 2026-07-28",
                "/mcp/all",
                call_body("echo__echo"),
                stdio_upstream,
            )),
            vec![1, 8],
        ),
        (
            proxied(
                "/mcp/all → stdio, 2025-11-25 upstream",
                "/mcp/all",
                call_body("old__echo"),
                legacy_upstream,
            ),
            vec![1, 8],
        ),
        (
            proxied(
                "/mcp/server/echo → stdio",
                "/mcp/server/echo",
                call_body("echo"),
                stdio_upstream,
            ),
            vec![1],
        ),
        (
            proxied(
                "/mcp call_tool → stdio",
                "/mcp",
                wrapped_call_body(),
                stdio_upstream,
            ),
            vec![1],
        ),
        (
            proxied(
                "/mcp/all → streamable HTTP",
                "/mcp/all",
                call_body("web__echo"),
                http_pid,
            ),
            vec![1, 8],
        ),
    ];
    let mut first = None;
    for (target, counts) in &targets {
        for &clients in counts {
            let row = run_http(target, clients, per_client(clients), warm);
            print_row(target.label, clients, &row);
            assert_eq!(row.errors, 0, "{}: calls failed", target.label);
            if target.label.starts_with("/mcp/all → stdio") && clients == 1 {
                first = Some(row);
            }
        }
    }
    if let Some(proxied) = first {
        println!(
            "added over direct stdio at 1 client: p50 {}  p99 {}",
            us(proxied.p50.saturating_sub(direct.p50)),
            us(proxied.p99.saturating_sub(direct.p99))
        );
    }
}

/// The fixture's pid: the HTTP fixture is this process's child.
fn http_upstream_pid(fixture: &HttpFixture) -> u32 {
    children_of(std::process::id())
        .into_iter()
        .find(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("http") && c.contains("mcp-fixture"))
        })
        .unwrap_or_else(|| panic!("no pid for the fixture at {}", fixture.addr))
}

/// p50 / p99 of `requests` sequential `body` requests on `path`.
fn list_figures(label: &str, daemon: &Daemon, path: &str, body: &str, requests: usize) {
    let mut client = HttpClient::connect(&addr_of(daemon), path, body, Revision::Session);
    client.send().expect("first request");
    let cpu_before = cpu_of(daemon.pid());
    let mut times: Vec<Duration> = (0..requests)
        .map(|_| {
            let t = Instant::now();
            client.send().expect("request");
            t.elapsed()
        })
        .collect();
    let cpu = (cpu_of(daemon.pid()) - cpu_before) / requests as u32;
    times.sort();
    println!(
        "{label:<52} p50 {:>9}  p99 {:>9}  daemon CPU {:>9}  ({} bytes)",
        us(percentile(&times, 0.5)),
        us(percentile(&times, 0.99)),
        us(cpu),
        client.body.len()
    );
}

fn lists() {
    println!("\n== lists");
    let servers: Vec<Value> = (0..159)
        .map(|i| fixture_server(&format!("s{i:03}"), "healthy"))
        .collect();
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    daemon.wait_settled(Duration::from_secs(120));
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    list_figures(
        "tools/list, /mcp/all, 159 servers × 3 tools",
        &daemon,
        "/mcp/all",
        list,
        300,
    );
    drop(daemon);

    // 100 servers × (97 generated + echo, add, sleep) = 10,000 tools.
    let servers: Vec<Value> = (0..100)
        .map(|i| {
            let mut server = fixture_server(&format!("t{i:03}"), "healthy");
            let args = server["args"].as_array_mut().unwrap();
            args.extend([json!("--tools"), json!("97")]);
            server
        })
        .collect();
    let daemon = Daemon::start(json!({"mcpServers": servers}), &[]);
    daemon.wait_settled(Duration::from_secs(120));
    let search = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "retrieve_tools", "arguments": {"query": "echo the text back"}}})
    .to_string();
    list_figures(
        "retrieve_tools, /mcp, 10,000 tools",
        &daemon,
        "/mcp",
        &search,
        300,
    );
}

/// `perf record` of the daemon under 8 clients calling through `/mcp/all`.
fn profile() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("echo", "healthy")]}),
        &[],
    );
    daemon.wait_settled(Duration::from_secs(60));
    let target = Target {
        label: "/mcp/all → stdio",
        addr: addr_of(&daemon),
        path: "/mcp/all".into(),
        call: call_body("echo__echo"),
        server: daemon.pid(),
        upstream: None,
        revision: Revision::Session,
    };
    run_http(&target, 8, 200, 100);
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/load-perf.data");
    let mut perf = Command::new("perf")
        .args([
            "record",
            "-F",
            "1999",
            "-e",
            "cpu-clock",
            "--call-graph",
            "dwarf,16384",
        ])
        .args(["-o", data, "-p", &daemon.pid().to_string()])
        .stderr(Stdio::null())
        .spawn()
        .expect("perf (Debian's linux-perf)");
    std::thread::sleep(Duration::from_millis(500)); // perf attaches; nothing to wait on
    let row = run_http(&target, 8, 2_500, 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(perf.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    perf.wait().unwrap();
    print_header();
    print_row("/mcp/all → stdio (under perf)", 8, &row);
    println!(
        "flame graph (as host/benches/flamegraph-call.svg; `cargo install inferno`): perf script -i \
         {data} | inferno-collapse-perf | inferno-flamegraph --minwidth 1.5 > flame.svg"
    );
}

fn main() {
    if std::env::args().any(|a| a == "profile") {
        return profile();
    }
    if std::env::args().any(|a| a == "lists") {
        return lists();
    }
    tool_calls();
    lists();
}
