//! Helpers for the upstream transport tests: fixture servers, server configs, pid checks
//! and deadline polling (never sleeps as synchronisation).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcpproxy::config::{Protocol, ServerConfig};

pub const FIXTURE: &str = env!("CARGO_BIN_EXE_mcp-fixture");

/// A stdio server running the fixture with `args`.
pub fn stdio_server(name: &str, args: &[&str]) -> ServerConfig {
    let mut all = vec!["--name".to_string(), name.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    ServerConfig {
        name: name.to_string(),
        protocol: Protocol::Stdio,
        command: Some(FIXTURE.to_string()),
        args: all,
        env: BTreeMap::new(),
        working_dir: None,
        url: None,
        headers: BTreeMap::new(),
        enabled: true,
        auto_disabled: false,
        auto_disable_reason: None,
        init_timeout: None,
        enabled_tools: None,
        disabled_tools: Vec::new(),
        quarantined: false,
        secrets: Vec::new(),
        extra: serde_json::Map::new(),
    }
}

/// An HTTP-side server at `url`.
pub fn http_server(name: &str, protocol: Protocol, url: &str) -> ServerConfig {
    ServerConfig {
        protocol,
        command: None,
        args: Vec::new(),
        url: Some(url.to_string()),
        ..stdio_server(name, &[])
    }
}

/// A fixture serving HTTP or SSE, killed when dropped.
pub struct HttpFixture {
    pub child: Child,
    pub addr: String,
}

impl HttpFixture {
    /// Starts `mcp-fixture --transport <transport> --port 0 <args>` and reads its address.
    pub fn start(transport: &str, args: &[&str]) -> HttpFixture {
        let mut child = Command::new(FIXTURE)
            .args(["--transport", transport, "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fixture");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read LISTENING");
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("fixture said {line:?}"))
            .to_string();
        HttpFixture { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HttpFixture {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `cond` until it holds or `within` has passed; returns whether it held.
pub async fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; a zombie ('Z') is dead but not yet reaped by its parent.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reads `GRANDCHILD <pid>` from a server log, waiting for it to appear.
pub async fn grandchild_pid(log: &std::path::Path) -> u32 {
    let mut pid = None;
    let found = wait_until(Duration::from_secs(5), || {
        pid = std::fs::read_to_string(log).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("GRANDCHILD ")?.trim().parse().ok())
        });
        pid.is_some()
    })
    .await;
    assert!(found, "no GRANDCHILD line in {}", log.display());
    pid.unwrap_or(0)
}

/// A port nothing listens on (bound, then released).
pub fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Live processes whose command line has the argument `arg` (for servers whose pid the
/// test never learns).
pub fn pids_with_arg(arg: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}
