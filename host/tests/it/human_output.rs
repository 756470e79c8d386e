//! What people read: `status` in words (never raw JSON without `--json`), the last config
//! error prominent, and, when `serve` runs on a terminal (a real pty from util-linux's
//! `script`), one start-up progress line rewritten in place instead of scrolling log lines.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

#[test]
fn status_speaks_words_and_names_a_broken_config() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("a", "healthy"), fixture_server("b", "healthy")]}),
        &[],
    );
    daemon.wait_state("a", "Ready", Duration::from_secs(30));
    daemon.wait_state("b", "Ready", Duration::from_secs(30));
    let status = daemon.cli(&["status"]);
    assert!(
        status.contains("servers     2 servers: 2 Ready"),
        "{status}"
    );
    assert!(status.contains("config errors  none"), "{status}");
    assert!(!status.contains("{\""), "no raw JSON: {status}");

    std::fs::write(daemon.config_path(), "{ broken").unwrap();
    let status = wait_for(Duration::from_secs(10), "the error to show", || {
        let status = daemon.cli(&["status"]);
        status.contains("LAST CONFIG ERROR").then_some(status)
    });
    assert!(
        status.contains("(the running config is kept)") && status.contains("mcp_config.json"),
        "{status}"
    );
    assert!(status.contains("2 servers: 2 Ready"), "{status}");
}

/// `serve` under `script`: on drop (a failed assertion too) the daemon gets SIGTERM and
/// `script` is reaped, so no daemon outlives the test.
struct OnPty {
    script: std::process::Child,
    data: std::path::PathBuf,
}

impl OnPty {
    /// SIGTERM to the daemon (its pid from the lock file); true if there was one.
    fn stop_daemon(&self) -> bool {
        let lock = std::fs::read(self.data.join("mcpproxy.lock")).unwrap_or_default();
        let Some(pid) = serde_json::from_slice::<Value>(&lock)
            .ok()
            .and_then(|info| info["pid"].as_i64())
        else {
            return false;
        };
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok()
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        self.stop_daemon();
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

#[test]
fn serve_on_a_terminal_shows_one_progress_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    let doc = json!({"listen": "127.0.0.1:0", "auth": "none", "mcpServers": [
        fixture_server("a", "healthy"), fixture_server("b", "healthy"),
        fixture_server("off", "healthy"),
    ]});
    let mut doc = doc;
    doc["mcpServers"][2]["enabled"] = json!(false);
    std::fs::write(&config, doc.to_string()).unwrap();
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    let serve = format!(
        "exec {MCPPROXY} serve --config {} --data-dir {} --log-dir {}",
        config.display(),
        data.display(),
        logs.display()
    );
    let script = Command::new("script")
        .args(["-qefc", &serve, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux's script (Debian's bsdutils, always installed)");
    let mut pty = OnPty {
        script,
        data: data.clone(),
    };
    let mut out = pty.script.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let shown = loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains("2/3 ready, 1 disabled\r\n") {
            break text;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => seen.extend(bytes),
            Err(_) => panic!("no final progress line; the terminal showed:\n{text}"),
        }
    };
    assert!(shown.contains("\r\x1b[2K"), "rewritten in place: {shown:?}");
    assert!(
        !shown.contains("servers settled"),
        "no scrolling info lines: {shown:?}"
    );
    // The log file still gets the lines (written behind a buffer: polled).
    wait_for(
        Duration::from_secs(10),
        "the settled line in main.log",
        || {
            let log = std::fs::read_to_string(logs.join("main.log")).unwrap_or_default();
            log.contains("3/3 servers settled").then_some(())
        },
    );

    assert!(pty.stop_daemon());
    let status = pty.script.wait().unwrap();
    assert!(
        status.success(),
        "serve stopped cleanly on SIGTERM: {status}"
    );
}

#[test]
fn a_reader_that_stops_early_ends_a_command_quietly() {
    // A pipe whose reader is already gone: the first write fails, every time.
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(MCPPROXY)
        .args(["--data-dir".as_ref(), dir.path().as_os_str()])
        .args(["token", "list"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE, as `head` expects"
    );
}
