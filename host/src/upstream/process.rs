//! A stdio upstream's child process: spawned in its own process group, reaped by a task of
//! its own, and killed with its whole group (SIGTERM, a short grace, SIGKILL).
//!
//! Must never leave an orphan: the group is SIGKILLed when the handle is dropped and when
//! the reaper task is dropped (runtime shutdown), even after the leader has exited, so
//! grandchildren die too.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::watch;

pub use super::exit::Exit;
use super::spawner::{self, Started};
use super::stderr_tail::StderrTail;
use crate::config::ServerConfig;
use crate::contract::{Failure, FailureKind};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(1500);

/// A spawned child with its pipes taken out.
pub struct Spawned {
    pub process: Arc<ChildProcess>,
    pub stdin: pipe::Sender,
    pub stdout: pipe::Receiver,
}

/// Owner of a running child's process group.
#[derive(Debug)]
pub struct ChildProcess {
    pid: u32,
    exit: watch::Receiver<Option<Exit>>,
    pub stderr: StderrTail,
}

/// Spawn `server.command` with its args, env and working dir in a new process group:
/// through the spawner if there is one (`spawner.rs` says why), else from here.
/// The error is a `SpawnError` failure carrying the OS message.
pub fn spawn(
    server: &ServerConfig,
    log_file: Option<std::path::PathBuf>,
) -> Result<Spawned, Failure> {
    let Some(program) = server.command.as_deref() else {
        return Err(Failure::new(
            FailureKind::SpawnError,
            format!("server `{}` has no `command`", server.name),
        ));
    };
    let started = match spawner::get() {
        Some(spawner) => spawner.spawn(&spawner::Request {
            program: program.to_string(),
            args: server.args.clone(),
            env: server.env.clone().into_iter().collect(),
            cwd: server.working_dir.clone(),
        }),
        None => spawn_here(server, program),
    };
    let cannot_start = |error: std::io::Error| {
        let dir = server
            .working_dir
            .as_ref()
            .map(|d| format!(" in working_dir `{}`", d.display()))
            .unwrap_or_default();
        Failure::new(
            FailureKind::SpawnError,
            format!("cannot start `{program}`{dir}: {error}"),
        )
    };
    let Started {
        pid,
        stdin,
        stdout,
        stderr,
        exit,
    } = started.map_err(cannot_start)?;
    let pipes = (|| {
        Ok::<_, std::io::Error>((
            pipe::Sender::from_owned_fd(stdin)?,
            pipe::Receiver::from_owned_fd(stdout)?,
            pipe::Receiver::from_owned_fd(stderr)?,
        ))
    })();
    let (stdin, stdout, stderr) = pipes.map_err(|error| {
        signal_group(pid, Signal::SIGKILL);
        cannot_start(error)
    })?;
    let header = format!("pid {pid}: {program} {}", server.args.join(" "));
    let process = ChildProcess {
        pid,
        exit,
        stderr: StderrTail::drain(stderr, log_file, header),
    };
    Ok(Spawned {
        process: Arc::new(process),
        stdin,
        stdout,
    })
}

/// Spawns from the daemon itself; a task of its own reaps the child.
fn spawn_here(server: &ServerConfig, program: &str) -> std::io::Result<Started> {
    let mut command = Command::new(program);
    command
        .args(&server.args)
        .envs(&server.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &server.working_dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or(0);
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("child pipes missing"));
    };
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(async move {
        // Dropped with the task (runtime shutdown) before the child was reaped: kill the group.
        let mut guard = GroupKillGuard { pid, armed: true };
        let status = child.wait().await;
        let exit = status.map(Exit::from).unwrap_or(Exit::UNKNOWN);
        guard.armed = false;
        let _ = exit_tx.send(Some(exit));
    });
    Ok(Started {
        pid,
        stdin: stdin.into_owned_fd()?,
        stdout: stdout.into_owned_fd()?,
        stderr: stderr.into_owned_fd()?,
        exit: exit_rx,
    })
}

struct GroupKillGuard {
    pid: u32,
    armed: bool,
}

impl Drop for GroupKillGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pid, Signal::SIGKILL);
        }
    }
}

fn signal_group(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // ESRCH (group already gone) is the normal case after a clean exit.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

impl ChildProcess {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit, if the child has been reaped.
    pub fn exit_now(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Waits until the child has exited and been reaped.
    pub async fn exited(&self) -> Exit {
        let mut rx = self.exit.clone();
        loop {
            if let Some(exit) = *rx.borrow_and_update() {
                return exit;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().unwrap_or(Exit::UNKNOWN);
            }
        }
    }

    /// The exit within `wait`, if it comes.
    pub async fn exited_within(&self, wait: Duration) -> Option<Exit> {
        tokio::time::timeout(wait, self.exited()).await.ok()
    }

    /// SIGTERM the group, wait up to `KILL_GRACE` for the leader, then SIGKILL the group
    /// (always: grandchildren may outlive the leader) and wait for the reap.
    pub async fn terminate(&self) {
        signal_group(self.pid, Signal::SIGTERM);
        let _ = self.exited_within(KILL_GRACE).await;
        signal_group(self.pid, Signal::SIGKILL);
        let _ = self.exited_within(KILL_GRACE).await;
    }

    /// Failure evidence: the exit (if known) and the stderr tail.
    pub async fn exit_failure(&self, kind: FailureKind, exit: Option<Exit>) -> Failure {
        let tail = self.stderr.text_after_eof(Duration::from_millis(200)).await;
        // The exit code goes into `Failure::exit_code`; only a signal needs words.
        let mut detail = match exit {
            Some(e) if e.code.is_none() => e.describe(),
            _ => String::new(),
        };
        if !tail.is_empty() {
            if !detail.is_empty() {
                detail.push_str("; ");
            }
            detail.push_str("stderr: ");
            detail.push_str(&tail);
        }
        Failure::new(kind, detail).with_exit_code(exit.and_then(|e| e.code))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        // No await here: kill hard. `terminate` is the graceful path.
        signal_group(self.pid, Signal::SIGKILL);
    }
}
