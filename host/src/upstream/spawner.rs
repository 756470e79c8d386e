//! The spawner: a small process that `mcpproxy serve` forks before it opens anything, and
//! that starts the stdio servers for the daemon.
//!
//! Starting a child copies the parent's table of open files, and its `exec` then closes
//! every one of them. The daemon holds about four per running server (three pipes and a
//! log), so at 1,000 servers each start copied and closed thousands: the start-up grew
//! with the square of the servers, and a third of the daemon's start-up CPU went there.
//! The spawner's table holds a handful, so a start costs the same at the thousandth server
//! as at the first.
//!
//! It reaps its children and reports their exits to the daemon. When the daemon is gone
//! (its end of the socket closes, however it died, SIGKILL included) the spawner kills
//! every server's process group and exits: no server outlives the daemon.
//!
//! Two socket pairs: spawn requests, each with the child's three pipe ends attached, and
//! their replies (one at a time, under a mutex: the spawn blocks its caller until the
//! `exec` anyway, as `posix_spawn` in the daemon did); and exits, read by a thread of the
//! daemon's. Without a spawner (library tests, commands other than `serve`, or after the
//! spawner died) `process::spawn` starts children itself.

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, killpg, sigaction};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe2, setpgid};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::exit::Exit;

/// A request larger than this is refused: a socket's datagram must fit its send buffer.
const MAX_MESSAGE: usize = 128 * 1024;
/// A failed spawn's message, in characters at most (replies and exits are short).
const REPLY_TEXT: usize = 512;

/// What to start; the environment and working directory are the spawner's (the daemon's
/// at start-up) with `env` and `cwd` applied, as `Command` would in the daemon.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Started { pid: u32 },
    Failed { errno: Option<i32>, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Exited {
    pid: u32,
    exit: Exit,
}

/// A child just started (by the spawner, or by the daemon without one): its pid, the
/// daemon's ends of its pipes, and its exit once reaped.
pub struct Started {
    pub pid: u32,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub exit: watch::Receiver<Option<Exit>>,
}

/// The daemon's side of the spawner.
pub struct Spawner {
    /// A std mutex: held across one blocking send and receive, never an await.
    requests: Mutex<OwnedFd>,
    exits: Arc<Mutex<Exits>>,
}

/// Exits by pid, for children still running; those reported before their spawn's reply
/// was handled wait in `early`.
#[derive(Default)]
struct Exits {
    watching: HashMap<u32, watch::Sender<Option<Exit>>>,
    early: HashMap<u32, Exit>,
    /// The spawner is gone: every child it had is reported as exited.
    gone: bool,
}

static SPAWNER: OnceLock<Spawner> = OnceLock::new();

/// The spawner, if `start` ran and it is still there.
pub fn get() -> Option<&'static Spawner> {
    SPAWNER.get().filter(|spawner| !spawner.lock_exits().gone)
}

/// Forks the spawner. Only while this process has a single thread (a fork of a threaded
/// process may only call async-signal-safe functions); otherwise, or if the fork fails,
/// children are started by the daemon itself.
pub fn start() -> io::Result<()> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "{threads} threads: the spawner is forked before any other"
        )));
    }
    let pair = || {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
    };
    let (requests, requests_far) = pair()?;
    let (exits, exits_far) = pair()?;
    // SAFETY: this process has one thread (checked above), so the child may do anything.
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(requests);
            drop(exits);
            serve(requests_far, exits_far)
        }
        ForkResult::Parent { child } => {
            drop(requests_far);
            drop(exits_far);
            let spawner = Spawner {
                requests: Mutex::new(requests),
                exits: Arc::default(),
            };
            let reported = spawner.exits.clone();
            std::thread::Builder::new()
                .name("spawner-exits".into())
                .spawn(move || {
                    read_exits(exits, &reported);
                    // Gone: reaped here, or it would stay a zombie until the daemon exits.
                    let _ = waitpid(child, None);
                })?;
            let _ = SPAWNER.set(spawner);
            Ok(())
        }
    }
}

impl Spawner {
    fn lock_exits(&self) -> std::sync::MutexGuard<'_, Exits> {
        self.exits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `request` in a process group of its own, with new pipes as its stdin, stdout
    /// and stderr. The error is the one the spawn itself gave (a missing program: ENOENT).
    pub fn spawn(&self, request: &Request) -> io::Result<Started> {
        let message = serde_json::to_vec(request)?;
        if message.len() > MAX_MESSAGE {
            return Err(io::Error::other(format!(
                "command line and env over {} KiB",
                MAX_MESSAGE / 1024
            )));
        }
        // (read end, write end); the child gets the far ones.
        let (stdin_far, stdin) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (stdout, stdout_far) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (stderr, stderr_far) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let fds = [
            stdin_far.as_raw_fd(),
            stdout_far.as_raw_fd(),
            stderr_far.as_raw_fd(),
        ];
        let reply = {
            let socket = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            send(socket.as_raw_fd(), &message, &fds)?;
            let mut buffer = [0; REPLY_TEXT * 4 + 256];
            let (len, _) = receive(socket.as_raw_fd(), &mut buffer)?;
            if len == 0 {
                return Err(io::Error::other("the spawner is gone"));
            }
            serde_json::from_slice::<Reply>(&buffer[..len])?
        };
        // The child's ends live on in the child only.
        drop((stdin_far, stdout_far, stderr_far));
        match reply {
            Reply::Started { pid } => Ok(Started {
                pid,
                stdin,
                stdout,
                stderr,
                exit: self.watch(pid),
            }),
            Reply::Failed {
                errno: Some(errno), ..
            } => Err(io::Error::from_raw_os_error(errno)),
            Reply::Failed { message, .. } => Err(io::Error::other(message)),
        }
    }

    fn watch(&self, pid: u32) -> watch::Receiver<Option<Exit>> {
        let mut exits = self.lock_exits();
        if let Some(exit) = exits.early.remove(&pid) {
            return watch::channel(Some(exit)).1;
        }
        if exits.gone {
            return watch::channel(Some(Exit::UNKNOWN)).1;
        }
        let (tx, rx) = watch::channel(None);
        exits.watching.insert(pid, tx);
        rx
    }
}

/// The daemon's thread: hands each reported exit to its child's watchers; when the
/// spawner is gone, reports every child it had as exited.
fn read_exits(socket: OwnedFd, exits: &Mutex<Exits>) {
    let mut buffer = [0; 256];
    loop {
        let report = match receive(socket.as_raw_fd(), &mut buffer) {
            Ok((0, _)) | Err(_) => break,
            Ok((len, _)) => serde_json::from_slice::<Exited>(&buffer[..len]),
        };
        let Ok(Exited { pid, exit }) = report else {
            continue;
        };
        let mut exits = exits.lock().unwrap_or_else(PoisonError::into_inner);
        match exits.watching.remove(&pid) {
            Some(tx) => {
                let _ = tx.send(Some(exit));
            }
            None => {
                exits.early.insert(pid, exit);
            }
        }
    }
    let mut exits = exits.lock().unwrap_or_else(PoisonError::into_inner);
    exits.gone = true;
    tracing::warn!(
        running = exits.watching.len(),
        "the spawner is gone: its servers are stopped and restarted by the daemon itself"
    );
    // Nobody reaps them for the daemon now, or tells when they end: stop them, so that
    // their supervisors start them again.
    for (pid, tx) in exits.watching.drain() {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = tx.send(Some(Exit::UNKNOWN));
    }
}

fn send(socket: RawFd, message: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let control = [ControlMessage::ScmRights(fds)];
    let control = if fds.is_empty() {
        &[][..]
    } else {
        &control[..]
    };
    loop {
        match sendmsg::<()>(
            socket,
            &[IoSlice::new(message)],
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(Errno::EINTR) => continue,
            result => return result.map(drop).map_err(io::Error::from),
        }
    }
}

/// One datagram into `buffer`: its length (0: the other end closed) and the descriptors
/// that came with it.
fn receive(socket: RawFd, buffer: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut control = nix::cmsg_space!([RawFd; 3]);
    loop {
        let mut iov = [IoSliceMut::new(buffer)];
        match recvmsg::<()>(
            socket,
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            Err(error) => return Err(error.into()),
            Ok(message) => {
                let mut fds = Vec::new();
                for cmsg in message.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(received) = cmsg {
                        // SAFETY: descriptors just received are owned by nobody else.
                        fds.extend(
                            received
                                .into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                if message.flags.contains(MsgFlags::MSG_TRUNC) {
                    return Err(io::Error::other("message too large"));
                }
                return Ok((message.bytes, fds));
            }
        }
    }
}

/// The children the spawner started and has not reaped yet.
#[derive(Default)]
struct Children {
    running: HashSet<u32>,
}

/// The spawner process: starts what it is asked to, until the daemon is gone. Never returns.
fn serve(requests: OwnedFd, exits: OwnedFd) -> ! {
    // Out of the daemon's process group: a Ctrl-C at the terminal is the daemon's to handle,
    // which stops the servers through this process.
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let _ = nix::sys::prctl::set_name(c"mcpproxy-spawn");
    // Its command line is the daemon's, so `pkill -f 'mcpproxy serve'` reaches it too: it
    // outlives such signals and ends with the daemon. Caught, not ignored: a caught
    // signal is reset at `exec`, an ignored one would be ignored by every server too.
    extern "C" fn outlive(_: nix::libc::c_int) {}
    let action = SigAction::new(
        SigHandler::Handler(outlive),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler does nothing, which is async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
    let children = Arc::new((Mutex::new(Children::default()), Condvar::new()));
    let exits = Arc::new(exits);
    {
        let (children, exits) = (children.clone(), exits.clone());
        std::thread::spawn(move || reap(&children, &exits));
    }
    let mut buffer = vec![0; MAX_MESSAGE];
    loop {
        let (len, fds) = match receive(requests.as_raw_fd(), &mut buffer) {
            Ok((0, _)) | Err(_) => break,
            Ok(received) => received,
        };
        let reply = match (
            serde_json::from_slice::<Request>(&buffer[..len]),
            <[OwnedFd; 3]>::try_from(fds),
        ) {
            (Ok(request), Ok(fds)) => {
                // Held until the reply is sent, so that the child's exit is reported after it.
                let (lock, started) = &*children;
                let mut running = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let reply = match start_child(request, fds) {
                    Ok(pid) => {
                        running.running.insert(pid);
                        started.notify_one();
                        Reply::Started { pid }
                    }
                    Err(error) => Reply::Failed {
                        errno: error.raw_os_error(),
                        message: error.to_string().chars().take(REPLY_TEXT).collect(),
                    },
                };
                let sent = send_json(requests.as_raw_fd(), &reply);
                drop(running);
                sent
            }
            _ => send_json(
                requests.as_raw_fd(),
                &Reply::Failed {
                    errno: None,
                    message: "malformed spawn request".into(),
                },
            ),
        };
        if reply.is_err() {
            break;
        }
    }
    // The daemon is gone: so are its servers.
    let (lock, _) = &*children;
    for &pid in &lock.lock().unwrap_or_else(PoisonError::into_inner).running {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    std::process::exit(0)
}

fn send_json<T: Serialize>(socket: RawFd, value: &T) -> io::Result<()> {
    send(socket, &serde_json::to_vec(value)?, &[])
}

fn start_child(request: Request, [stdin, stdout, stderr]: [OwnedFd; 3]) -> io::Result<u32> {
    let mut command = std::process::Command::new(&request.program);
    command
        .args(&request.args)
        .envs(request.env)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0);
    if let Some(dir) = &request.cwd {
        command.current_dir(dir);
    }
    // Dropping a std `Child` neither kills nor waits: `reap` waits for every child.
    Ok(command.spawn()?.id())
}

/// The spawner's thread: waits for any child and reports its exit.
fn reap(children: &(Mutex<Children>, Condvar), exits: &OwnedFd) {
    let (lock, started) = children;
    loop {
        let (pid, exit) = match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) => (
                pid,
                Exit {
                    code: Some(code),
                    signal: None,
                },
            ),
            Ok(WaitStatus::Signaled(pid, signal, _)) => (
                pid,
                Exit {
                    code: None,
                    signal: Some(signal as i32),
                },
            ),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => {
                // No child yet: wait for one to be started.
                let running = lock.lock().unwrap_or_else(PoisonError::into_inner);
                let _running = started
                    .wait_while(running, |c| c.running.is_empty())
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
        };
        let pid = pid.as_raw() as u32;
        let mut running = lock.lock().unwrap_or_else(PoisonError::into_inner);
        running.running.remove(&pid);
        let _ = send_json(exits.as_raw_fd(), &Exited { pid, exit });
    }
}
