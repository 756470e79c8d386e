//! One supervisor task per upstream server: the sole owner of that server's connection and
//! state. Nothing else connects, pings or stops the server; everyone else sends commands.
//!
//! States are exactly `status::ConnectionState`. Each connection attempt is bounded (the
//! connector's init timeout, plus the actor's own guard); failures are counted and handed to
//! the policy, which either auto-disables the server (persisted through the sink) or sets the
//! backoff before the next attempt. The actor must never start a disabled or auto-disabled
//! server, and never leave a session behind when it stops.
//!
//! Here: the commands, the state machine and the connection attempt. `ready`: the Ready loop
//! (health checks, refreshes, forwarded requests). `view`: the status and offer the actor
//! publishes. `forwarder`: the way calls take to a Ready session without the mailbox.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use rmcp::model::{ClientNotification, ClientRequest, ServerResult};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{DecisionSink, SupervisorError};
use crate::approval::{ApprovalStore, Reviewed};
use crate::config::{Protocol, ServerConfig, connection_changed};
use crate::contract::{DisableDecision, Policy, Transport};
use crate::contract::{Failure, FailureCounters, FailureKind};
use crate::status::{ConnectionState, ServerStatus};
use crate::upstream::{CallError, Connector, Offer, Origin, Started, UpstreamSession};

mod forwarder;
mod ready;
mod report;
mod review;
mod view;

pub use forwarder::Forwarder;
pub use review::Approved;
use view::{idle_state, initial_status};

/// Added to a server's init timeout for the actor's own guard around `connect`: the
/// connector is supposed to time out by itself, this only catches one that does not.
pub const CONNECT_GRACE: Duration = Duration::from_secs(5);
/// How long a connector may keep a start waiting for its turn (`upstream::pacer`) before
/// the supervisor gives up on it: only reached if the pacer stalled.
const QUEUE_GUARD: Duration = Duration::from_secs(600);

/// How long cancelled calls get to wind down after the drain deadline.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// The pause before a crashed supervisor starts again, doubling with each crash in a row.
const CRASH_PAUSE: Duration = Duration::from_secs(1);
const MAX_CRASH_PAUSE: Duration = Duration::from_secs(60);

/// What a panic said, as far as it can be read.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// Settings every actor shares. A config edit may change them while running: each use
/// reads the current value (the next connect, the next call, the next health check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorSettings {
    pub init_timeout: Duration,
    pub health_check_interval: Duration,
    pub call_tool_timeout: Duration,
    pub failure_window: Duration,
    pub drain_timeout: Duration,
}

/// What the actors share with the registry.
pub struct Shared {
    pub connector: Arc<dyn Connector>,
    pub policy: Arc<dyn Policy>,
    pub sink: Arc<dyn DecisionSink>,
    pub approvals: Arc<ApprovalStore>,
    pub settings: watch::Sender<ActorSettings>,
    /// Ticks on every state change of any server.
    pub state_tick: watch::Sender<u64>,
    /// Ticks when the offer of a Ready server appears, changes or goes away.
    pub offer_tick: watch::Sender<u64>,
}

impl Shared {
    pub fn settings(&self) -> ActorSettings {
        *self.settings.borrow()
    }
}

/// What an actor publishes about itself.
#[derive(Debug, Clone)]
pub struct View {
    pub status: ServerStatus,
    /// The server's offer while Ready; empty otherwise.
    pub offer: Arc<Offer>,
    /// The way to forward requests without the actor, while Ready and not withheld.
    pub forwarder: Option<Arc<Forwarder>>,
}

/// How a new config is to be applied (see `plan::PlanStep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigureMode {
    Start,
    Restart,
    Update,
}

pub type Reply<T = ()> = oneshot::Sender<Result<T, SupervisorError>>;

/// What is sent to an actor. Large payloads are boxed: a channel allocates its slots in
/// blocks of 32 up front, so at 1,000 servers every byte of `Command` costs 32 KB of memory.
pub enum Command {
    Configure {
        config: Box<ServerConfig>,
        mode: ConfigureMode,
        done: Reply,
    },
    Restart {
        done: Reply,
    },
    /// Record the server's tools as approved; answers how many were hidden.
    ApproveTools {
        done: Reply<review::Approved>,
    },
    /// A request to forward, made for `origin`'s client.
    Forward {
        call: Box<Call<ClientRequest>>,
        cancel: CancellationToken,
        reply: oneshot::Sender<Result<ServerResult, CallError>>,
    },
    /// A notification from `origin`'s client to pass on while Ready (dropped otherwise).
    Notify {
        call: Box<Call<ClientNotification>>,
    },
    /// Drain, end the session, and end the task.
    Stop {
        done: oneshot::Sender<()>,
    },
}

/// A client's message for the server, and the client it came from.
pub struct Call<T> {
    pub message: T,
    pub origin: Option<Origin>,
}

/// Start an actor for `config`; it connects at once if the config is startable.
pub fn spawn(
    shared: Arc<Shared>,
    config: ServerConfig,
) -> (
    mpsc::Sender<Command>,
    watch::Receiver<View>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel(256);
    let status = initial_status(&config);
    let (view_tx, view_rx) = watch::channel(View {
        status,
        offer: Arc::default(),
        forwarder: None,
    });
    let window = shared.settings().failure_window;
    let actor = Actor {
        shared,
        config,
        state: ConnectionState::Pending,
        epoch: 0,
        counters: FailureCounters::new(window),
        last_error: None,
        retry_at: None,
        connected_at: None,
        live: None,
        offer: Arc::default(),
        reviewed: Reviewed::default(),
        crashes: 0,
        reports: report::Reports::default(),
        view: view_tx,
        rx,
    };
    let task = tokio::spawn(actor.supervise());
    (tx, view_rx, task)
}

/// The transport an attempt with `p` uses first (`auto` tries streamable HTTP first).
fn first_transport(p: Protocol) -> Transport {
    match p {
        Protocol::Stdio => Transport::Stdio,
        Protocol::StreamableHttp | Protocol::Auto => Transport::StreamableHttp,
        Protocol::Sse => Transport::Sse,
    }
}

/// The connection while Ready.
struct Live {
    session: Arc<Box<dyn UpstreamSession>>,
    /// In-flight calls, so that a stop can wait for them.
    calls: TaskTracker,
    /// Fired at the drain deadline: cancels what is still in flight.
    cancel_calls: CancellationToken,
    /// Why the session was ended, set before `cancel_calls` fires: what the calls it cut
    /// short answer (they were not cancelled by their client).
    ended: Arc<std::sync::OnceLock<String>>,
    /// `list_changed` ticks since just before the first listing.
    lists_rx: watch::Receiver<u64>,
}

impl Live {
    /// The session with what a call on it needs (the drain's tracker, token and reason).
    fn way(&self) -> forwarder::Session {
        forwarder::Session {
            session: self.session.clone(),
            calls: self.calls.clone(),
            cancel_calls: self.cancel_calls.clone(),
            ended: self.ended.clone(),
        }
    }
}

/// Whether the task goes on after a command.
enum Flow {
    Continue,
    Exit,
}

struct Actor {
    shared: Arc<Shared>,
    config: ServerConfig,
    state: ConnectionState,
    /// Bumped whenever a new state is entered, so that a phase can tell that a command
    /// moved the actor elsewhere.
    epoch: u64,
    counters: FailureCounters,
    last_error: Option<String>,
    retry_at: Option<(Instant, DateTime<Utc>)>,
    connected_at: Option<DateTime<Utc>>,
    live: Option<Live>,
    offer: Arc<Offer>,
    /// What the policy's review of the offer's tools hides (or that it quarantined the server).
    reviewed: Reviewed,
    /// Times the state machine panicked and was started again.
    crashes: u32,
    /// Holds back the log reports of a flapping server.
    reports: report::Reports,
    view: watch::Sender<View>,
    rx: mpsc::Receiver<Command>,
}

type Attempt =
    BoxFuture<'static, Result<(Box<dyn UpstreamSession>, Offer, watch::Receiver<u64>), Failure>>;

/// Connects and lists the offer, under the supervisor's guards: `QUEUE_GUARD` until the
/// connector starts the server, then `init_timeout + CONNECT_GRACE`.
fn attempt(connector: Arc<dyn Connector>, config: ServerConfig, init_timeout: Duration) -> Attempt {
    let guard = init_timeout + CONNECT_GRACE;
    Box::pin(async move {
        let (started, started_rx) = Started::channel();
        let connect = async {
            let session = connector.connect(&config, init_timeout, started).await?;
            // Subscribed before listing, so that a change in between is not lost.
            let lists_rx = session.lists_changed();
            let offer = session.offer().await?;
            Ok((session, offer, lists_rx))
        };
        tokio::pin!(connect);
        // The guard runs from the start, not while the start waits its turn.
        tokio::select! {
            result = &mut connect => return result,
            _ = started_rx => {}
            _ = tokio::time::sleep(QUEUE_GUARD) => {
                return Err(Failure::new(
                    FailureKind::InitTimeout,
                    format!("not started within {QUEUE_GUARD:?} of asking (supervisor guard)"),
                ));
            }
        }
        match tokio::time::timeout(guard, connect).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new(
                FailureKind::InitTimeout,
                format!("no handshake within {guard:?} of starting (supervisor guard)"),
            )),
        }
    })
}

async fn poll_opt<T>(f: &mut Option<BoxFuture<'static, T>>) -> T {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl Actor {
    /// Runs the state machine until told to stop. A panic anywhere in it (a bug, a transport
    /// that panics) does not leave the server unsupervised while its status says otherwise:
    /// the session is dropped (which ends it), the crash shows as the server's `last_error` and
    /// `supervisor_restarts`, and the state machine starts again after a pause (1 s, doubling
    /// with every crash, up to a minute).
    async fn supervise(mut self) {
        if self.config.is_startable() {
            self.enter_connecting();
        } else {
            self.enter_idle();
        }
        loop {
            match AssertUnwindSafe(self.run()).catch_unwind().await {
                Ok(()) => return,
                Err(panic) => self.recover(&panic_text(panic.as_ref())),
            }
        }
    }

    /// After a crash: nothing of the old connection stays, and the server waits out the pause
    /// (Sleeping) before it connects again, answering commands meanwhile.
    fn recover(&mut self, why: &str) {
        self.crashes = self.crashes.saturating_add(1);
        let pause = CRASH_PAUSE
            .saturating_mul(1 << (self.crashes - 1).min(6))
            .min(MAX_CRASH_PAUSE);
        tracing::error!(server = %self.config.name, crashes = self.crashes, ?pause, "supervisor crashed ({why}); starting it again");
        self.live = None;
        self.offer = Arc::default();
        self.counters.reset();
        self.last_error = Some(format!("supervisor crashed: {why}"));
        if self.config.is_startable() {
            let wall = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
            self.retry_at = Some((Instant::now() + pause, wall));
            self.enter(ConnectionState::Sleeping);
        } else {
            self.enter_idle();
        }
    }

    /// The state machine, from whatever state the actor is in.
    async fn run(&mut self) {
        loop {
            let flow = match self.state {
                ConnectionState::Connecting => self.connecting().await,
                ConnectionState::Ready => self.ready().await,
                ConnectionState::Sleeping => self.sleeping().await,
                ConnectionState::Pending
                | ConnectionState::Disabled
                | ConnectionState::AutoDisabled => self.idle().await,
            };
            if let Flow::Exit = flow {
                break;
            }
        }
    }

    fn init_timeout(&self) -> Duration {
        self.config
            .init_timeout_or(self.shared.settings().init_timeout)
    }

    fn enter(&mut self, state: ConnectionState) {
        self.state = state;
        self.epoch += 1;
        if state != ConnectionState::Sleeping {
            self.retry_at = None;
        }
        if state != ConnectionState::Ready {
            self.connected_at = None;
        }
        self.publish();
    }

    fn enter_connecting(&mut self) {
        self.counters.begin_attempt();
        self.enter(ConnectionState::Connecting);
    }

    fn enter_idle(&mut self) {
        self.enter(idle_state(&self.config));
    }

    /// Pending, Disabled, Auto-Disabled: only commands move the actor.
    async fn idle(&mut self) -> Flow {
        let epoch = self.epoch;
        while epoch == self.epoch {
            let Some(cmd) = self.rx.recv().await else {
                return Flow::Exit;
            };
            if let Flow::Exit = self.handle(cmd).await {
                return Flow::Exit;
            }
        }
        Flow::Continue
    }

    /// One bounded connection attempt, answering commands meanwhile.
    async fn connecting(&mut self) -> Flow {
        let epoch = self.epoch;
        let init_timeout = self.init_timeout();
        let attempt = attempt(
            self.shared.connector.clone(),
            self.config.clone(),
            init_timeout,
        );
        let mut attempt = Some(attempt);
        while epoch == self.epoch {
            tokio::select! {
                result = poll_opt(&mut attempt) => {
                    attempt = None;
                    match result {
                        Ok((session, offer, lists_rx)) => self.on_ready(session, offer, lists_rx),
                        Err(failure) => {
                            let transport = first_transport(self.config.protocol);
                            self.on_failure(failure, transport).await;
                        }
                    }
                }
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { return Flow::Exit };
                    if let Flow::Exit = self.handle(cmd).await {
                        return Flow::Exit;
                    }
                }
            }
        }
        Flow::Continue
    }

    fn on_ready(
        &mut self,
        session: Box<dyn UpstreamSession>,
        offer: Offer,
        lists_rx: watch::Receiver<u64>,
    ) {
        self.counters.ready(Instant::now());
        self.connected_at = Some(Utc::now());
        self.offer = Arc::new(offer);
        self.review_tools();
        self.live = Some(Live {
            session: Arc::new(session),
            calls: TaskTracker::new(),
            cancel_calls: CancellationToken::new(),
            ended: Arc::default(),
            lists_rx,
        });
        match self.reports.recoveries.admit(Instant::now()) {
            Some(held) => {
                tracing::info!(server = %self.config.name, tools = self.offer.tools.len(), "ready{}", report::held_note(held))
            }
            None => {
                tracing::debug!(server = %self.config.name, tools = self.offer.tools.len(), "ready")
            }
        }
        self.enter(ConnectionState::Ready);
    }

    /// Waiting out the policy's backoff.
    async fn sleeping(&mut self) -> Flow {
        let epoch = self.epoch;
        let Some((until, _)) = self.retry_at else {
            self.enter_connecting();
            return Flow::Continue;
        };
        let wake = tokio::time::sleep_until(until);
        tokio::pin!(wake);
        while epoch == self.epoch {
            tokio::select! {
                _ = &mut wake => self.enter_connecting(),
                cmd = self.rx.recv() => {
                    let Some(cmd) = cmd else { return Flow::Exit };
                    if let Flow::Exit = self.handle(cmd).await {
                        return Flow::Exit;
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Count the failure, ask the policy, and go to Auto-Disabled or Sleeping.
    async fn on_failure(&mut self, mut failure: Failure, transport: Transport) {
        // From here on the failure is shown, logged, handed to the policy and perhaps written
        // to the file as the auto-disable reason: never with the server's secrets in it.
        failure.detail = self.config.redact(&failure.detail);
        self.teardown(false, &failure.to_string()).await;
        let now = Instant::now();
        let event = self.counters.fail(
            now,
            &self.config.name,
            transport,
            &failure,
            rand::random::<u64>(),
        );
        self.last_error = Some(failure.to_string());
        match self.reports.failures.admit(now) {
            Some(held) => {
                tracing::warn!(server = %self.config.name, attempt = event.attempt, %failure, "connection failed{}", report::held_note(held))
            }
            None => {
                tracing::debug!(server = %self.config.name, attempt = event.attempt, %failure, "connection failed")
            }
        }
        match self.shared.policy.should_disable(&event) {
            DisableDecision::Disable { reason } => {
                tracing::warn!(server = %self.config.name, %reason, "auto-disabled");
                // Stopped at once; the sink takes it to the config store, whose update then
                // brings this same config back through the plan.
                self.shared.sink.auto_disabled(&self.config.name, &reason);
                self.config.auto_disable(reason);
                self.enter(ConnectionState::AutoDisabled);
            }
            DisableDecision::Keep => {
                let wait = self.shared.policy.backoff(&event);
                let wall =
                    Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                self.retry_at = Some((now + wait, wall));
                self.enter(ConnectionState::Sleeping);
            }
        }
    }

    /// End the live session, if any: with `drain`, in-flight calls get until the drain
    /// deadline to finish; then what is left is cancelled, told `why`, and the session shut
    /// down.
    async fn teardown(&mut self, drain: bool, why: &str) {
        let Some(live) = self.live.take() else {
            return;
        };
        // No new call takes the direct way, and the view holds no clone of the session.
        self.view.send_modify(|view| view.forwarder = None);
        live.calls.close();
        if drain {
            let _ =
                tokio::time::timeout(self.shared.settings().drain_timeout, live.calls.wait()).await;
        }
        let _ = live.ended.set(why.to_string());
        live.cancel_calls.cancel();
        let _ = tokio::time::timeout(CANCEL_GRACE, live.calls.wait()).await;
        match Arc::try_unwrap(live.session) {
            Ok(session) => session.shutdown().await,
            // A call that ignored its cancellation still holds the session: dropping the
            // last reference ends it (the `UpstreamSession` contract).
            Err(shared) => drop(shared),
        }
    }

    /// Forget the current connection and connect again with fresh counters.
    async fn reconnect(&mut self) {
        self.teardown(true, "the server is being restarted").await;
        self.counters.reset();
        self.reports.reset();
        self.last_error = None;
        self.enter_connecting();
    }

    /// Stop whatever runs and show Disabled / Auto-Disabled.
    async fn switch_off(&mut self) {
        self.teardown(true, "the server was switched off").await;
        self.counters.reset();
        self.enter_idle();
    }

    async fn handle(&mut self, cmd: Command) -> Flow {
        match cmd {
            Command::Configure { config, mode, done } => {
                self.configure(*config, mode).await;
                let _ = done.send(Ok(()));
            }
            Command::Restart { done } => {
                if self.config.is_startable() {
                    self.reconnect().await;
                    let _ = done.send(Ok(()));
                } else {
                    let _ = done.send(Err(SupervisorError::NotStartable {
                        server: self.config.name.clone(),
                        state: self.state.as_str(),
                    }));
                }
            }
            Command::ApproveTools { done } => {
                let _ = done.send(self.approve_tools());
            }
            Command::Forward {
                call,
                cancel,
                reply,
            } => self.forward(call.message, call.origin, cancel, reply),
            Command::Notify { call } => self.notify(call.message, call.origin),
            Command::Stop { done } => {
                self.teardown(true, "the server was stopped").await;
                let _ = done.send(());
                return Flow::Exit;
            }
        }
        Flow::Continue
    }

    async fn configure(&mut self, mut new: ServerConfig, mode: ConfigureMode) {
        // Only the user clears an auto-disable, and the plan says so with a Start (or, with new
        // connection settings, a Restart). An Update without it can only be a config taken
        // in before this actor's own auto-disable reached the store: it keeps the record.
        if mode == ConfigureMode::Update && self.config.auto_disabled && !new.auto_disabled {
            new.auto_disabled = true;
            new.auto_disable_reason = self.config.auto_disable_reason.clone();
        }
        let was_startable = self.config.is_startable();
        let conn_changed = connection_changed(&self.config, &new);
        let quarantine_changed = self.config.quarantined != new.quarantined;
        self.config = new;
        if conn_changed {
            // The user pointed the server somewhere new (command, args, URL...): its tools
            // are the ones the user chose now, recorded as seen at the next connect.
            self.forget_approval();
        }
        if quarantine_changed && self.state == ConnectionState::Ready {
            // Not Ready: nothing to review; the next connect reviews its tools.
            self.review_tools();
        }
        let idle = matches!(
            self.state,
            ConnectionState::Pending
                | ConnectionState::Sleeping
                | ConnectionState::Disabled
                | ConnectionState::AutoDisabled
        );
        if !self.config.is_startable() {
            if was_startable || self.state != idle_state(&self.config) {
                self.switch_off().await;
            } else {
                self.publish();
            }
        } else if !was_startable || conn_changed || mode == ConfigureMode::Restart {
            self.reconnect().await;
        } else if mode == ConfigureMode::Start && idle {
            // Asked to start while waiting out a backoff: try now.
            self.enter_connecting();
        } else {
            // In place (a start while Connecting joins the attempt under way).
            self.publish();
        }
    }
}
