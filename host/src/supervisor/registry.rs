//! The registry of server actors: applies plans, routes commands and requests, and builds
//! snapshots from what the actors publish.
//!
//! It never connects or changes a server's state itself; it only talks to the actors. Cheap
//! to clone (one `Arc`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientNotification, ClientRequest,
    JsonObject, ServerResult, Tool,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::actor::{self, ActorSettings, Call, Command, ConfigureMode, Shared, View};
use super::plan::PlanStep;
use super::{Approved, DecisionSink, SupervisorError};
use crate::approval::ApprovalStore;
use crate::config::ServerConfig;
use crate::contract::Policy;
use crate::status::{ConnectionState, Phase, ServerList, ServerStatus};
use crate::upstream::{CallError, Connector, Origin, ServerOffer};

/// `wait_settled` looks at the servers at most this often.
const SETTLED_LOOK: Duration = Duration::from_millis(100);

/// What a `Registry` needs.
pub struct RegistryOptions {
    pub connector: Arc<dyn Connector>,
    pub policy: Arc<dyn Policy>,
    pub sink: Arc<dyn DecisionSink>,
    /// Each server's approved tools.
    pub approvals: Arc<ApprovalStore>,
    /// Connect + handshake deadline for servers without their own.
    pub init_timeout: Duration,
    /// Interval between pings to Ready servers.
    pub health_check_interval: Duration,
    /// Deadline for one forwarded tool call.
    pub call_tool_timeout: Duration,
    /// The sliding window of `failures_in_window`.
    pub failure_window: Duration,
    /// How long a stop waits for in-flight calls before cancelling them.
    pub drain_timeout: Duration,
}

/// How far start-up has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Servers that have had their attempt (`Phase::is_settled`).
    pub settled: usize,
    pub total: usize,
}

impl Progress {
    pub fn of(phases: &[Phase]) -> Progress {
        Progress {
            settled: phases.iter().filter(|p| p.is_settled()).count(),
            total: phases.len(),
        }
    }
}

struct Handle {
    tx: mpsc::Sender<Command>,
    view: watch::Receiver<View>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Servers {
    /// Names in the order they were added (file order on start-up).
    order: Vec<String>,
    map: HashMap<String, Handle>,
}

struct Inner {
    shared: Arc<Shared>,
    servers: RwLock<Servers>,
    shut_down: AtomicBool,
}

/// All server actors. Clones share the same actors.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Registry {
    pub fn new(options: RegistryOptions) -> Self {
        let shared = Shared {
            connector: options.connector,
            policy: options.policy,
            sink: options.sink,
            approvals: options.approvals,
            settings: watch::channel(ActorSettings {
                init_timeout: options.init_timeout,
                health_check_interval: options.health_check_interval,
                call_tool_timeout: options.call_tool_timeout,
                failure_window: options.failure_window,
                drain_timeout: options.drain_timeout,
            })
            .0,
            state_tick: watch::channel(0).0,
            offer_tick: watch::channel(0).0,
        };
        Registry {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                servers: RwLock::new(Servers::default()),
                shut_down: AtomicBool::new(false),
            }),
        }
    }

    /// Servers joined or left the list: progress and the offers both changed.
    fn tick_state_and_offers(&self) {
        let shared = &self.inner.shared;
        shared.state_tick.send_modify(|n| *n = n.wrapping_add(1));
        shared.offer_tick.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn read(&self) -> RwLockReadGuard<'_, Servers> {
        self.inner.servers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Servers> {
        self.inner
            .servers
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn sender(&self, server: &str) -> Result<mpsc::Sender<Command>, SupervisorError> {
        self.read()
            .map
            .get(server)
            .map(|h| h.tx.clone())
            .ok_or_else(|| SupervisorError::UnknownServer(server.to_string()))
    }

    /// Apply a plan. Returns once every actor has taken its step (a stop has drained and
    /// ended its session); connecting servers are not waited for (see `wait_settled`).
    pub async fn apply(&self, plan: Vec<PlanStep>) {
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let mut pending = Vec::new();
        let mut stopping = Vec::new();
        for step in plan {
            match step {
                PlanStep::Start(config) => {
                    pending.extend(self.configure_or_spawn(config, ConfigureMode::Start))
                }
                PlanStep::Restart(config) => {
                    pending.extend(self.configure_or_spawn(config, ConfigureMode::Restart))
                }
                PlanStep::Update(config) => {
                    pending.extend(self.configure_or_spawn(config, ConfigureMode::Update))
                }
                PlanStep::Stop(name) => {
                    let handle = {
                        let mut servers = self.write();
                        servers.order.retain(|n| n != &name);
                        servers.map.remove(&name)
                    };
                    if let Some(handle) = handle {
                        stopping.push(stop(handle));
                    }
                    // A server removed from the config takes its tool approval along: one
                    // added again under its name is recorded afresh, as a new one is.
                    if let Err(e) = self.inner.shared.approvals.set(&name, None) {
                        tracing::warn!(server = %name, "could not drop the approval of its tools: {e}");
                    }
                }
            }
        }
        let configured =
            futures::future::join_all(pending.into_iter().map(|(tx, cmd, rx)| async move {
                // A send error means the actor is gone; nothing to wait for.
                if tx.send(cmd).await.is_ok() {
                    let _ = rx.await;
                }
            }));
        futures::future::join(configured, futures::future::join_all(stopping)).await;
        // The stopped servers left the list: progress and offers changed.
        self.tick_state_and_offers();
    }

    /// For an existing server, the command to send; a new one is spawned (it starts by
    /// itself if its config is startable).
    #[allow(clippy::type_complexity)]
    fn configure_or_spawn(
        &self,
        config: ServerConfig,
        mode: ConfigureMode,
    ) -> Option<(
        mpsc::Sender<Command>,
        Command,
        oneshot::Receiver<Result<(), SupervisorError>>,
    )> {
        let mut servers = self.write();
        if let Some(handle) = servers.map.get(&config.name) {
            let (done, rx) = oneshot::channel();
            let config = Box::new(config);
            let cmd = Command::Configure { config, mode, done };
            return Some((handle.tx.clone(), cmd, rx));
        }
        let name = config.name.clone();
        let (tx, view, task) = actor::spawn(self.inner.shared.clone(), config);
        servers.order.push(name.clone());
        servers.map.insert(name, Handle { tx, view, task });
        None
    }

    /// Every server's status, in the order they were added.
    pub fn snapshot(&self) -> Vec<ServerStatus> {
        let servers = self.read();
        servers
            .order
            .iter()
            .filter_map(|n| servers.map.get(n))
            .map(|h| h.view.borrow().status.clone())
            .collect()
    }

    /// Every server's start-up phase, in the order they were added: `snapshot` without
    /// copying every status.
    pub fn phases(&self) -> Vec<Phase> {
        let servers = self.read();
        servers
            .order
            .iter()
            .filter_map(|n| servers.map.get(n))
            .map(|h| h.view.borrow().status.phase())
            .collect()
    }

    /// The answer of `upstream_servers list`.
    pub fn list(&self) -> ServerList {
        ServerList::new(self.snapshot())
    }

    /// `server`'s status.
    pub fn status(&self, server: &str) -> Option<ServerStatus> {
        self.read()
            .map
            .get(server)
            .map(|h| h.view.borrow().status.clone())
    }

    /// The offer of every Ready server that is not quarantined, in server order.
    pub fn offers(&self) -> Vec<ServerOffer> {
        let servers = self.read();
        servers
            .order
            .iter()
            .filter_map(|n| servers.map.get(n))
            .filter_map(|handle| {
                let view = handle.view.borrow();
                let ready = view.status.connection_state == ConnectionState::Ready;
                // A quarantined server is not offered at all, not even as an empty one.
                (ready && !view.status.quarantined).then(|| ServerOffer {
                    server: view.status.name.clone(),
                    offer: view.offer.clone(),
                })
            })
            .collect()
    }

    /// The tools of every Ready server, as `(server, tool)`.
    pub fn tools(&self) -> Vec<(String, Tool)> {
        let offers = self.offers();
        let tools = offers.iter().flat_map(|o| {
            o.offer
                .tools
                .iter()
                .map(|tool| (o.server.clone(), tool.clone()))
        });
        tools.collect()
    }

    /// Forward `request` to `server` under `call_tool_timeout`, made for `origin`'s client;
    /// `cancel` propagates to the upstream.
    pub async fn forward(
        &self,
        server: &str,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
    ) -> Result<ServerResult, CallError> {
        let not_available = || CallError::NotAvailable(format!("no server named {server}"));
        // Straight to the session when its actor publishes the way; else through the actor,
        // which answers or says why not.
        let direct = self.read().map.get(server).and_then(|h| {
            let view = h.view.borrow();
            view.forwarder.clone().filter(|f| f.carries(&request))
        });
        if let Some(forwarder) = direct {
            return forwarder.forward(request, origin, cancel).await;
        }
        let tx = self.sender(server).map_err(|_| not_available())?;
        let (reply, rx) = oneshot::channel();
        let gone = || CallError::NotAvailable(format!("server {server} was stopped"));
        let call = Box::new(Call {
            message: request,
            origin,
        });
        tx.send(Command::Forward {
            call,
            cancel,
            reply,
        })
        .await
        .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Forward a call to `server`'s `tool`, made for no client in particular.
    pub async fn call_tool(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<JsonObject>,
        cancel: CancellationToken,
    ) -> Result<CallToolResult, CallError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        match self.forward(server, request, None, cancel).await? {
            ServerResult::CallToolResult(result) => Ok(result),
            other => Err(CallError::unexpected("tools/call", &other)),
        }
    }

    /// Pass `notification` from `origin`'s client to `server` if it is Ready.
    pub async fn notify(
        &self,
        server: &str,
        notification: ClientNotification,
        origin: Option<Origin>,
    ) {
        if let Ok(tx) = self.sender(server) {
            let _ = tx
                .send(Command::Notify {
                    call: Box::new(Call {
                        message: notification,
                        origin,
                    }),
                })
                .await;
        }
    }

    async fn command<T>(
        &self,
        server: &str,
        make: impl FnOnce(actor::Reply<T>) -> Command,
    ) -> Result<T, SupervisorError> {
        let tx = self.sender(server)?;
        let (done, rx) = oneshot::channel();
        let stopped = || SupervisorError::Stopped(server.to_string());
        tx.send(make(done)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// A user approves `server`'s tools as it offers them now (or, for a quarantined server
    /// that is not Ready, as it will first offer them).
    pub async fn approve_tools(&self, server: &str) -> Result<Approved, SupervisorError> {
        self.command(server, |done| Command::ApproveTools { done })
            .await
    }

    /// Drain, disconnect and connect `server` again with fresh counters.
    pub async fn restart(&self, server: &str) -> Result<(), SupervisorError> {
        self.command(server, |done| Command::Restart { done }).await
    }

    /// Change the settings every server shares, while running. Each takes effect at its
    /// next use: `init_timeout` at the next connect (of servers without their own),
    /// `call_tool_timeout` for the next call, `health_check_interval` at once for Ready ones.
    pub fn update_settings(&self, change: impl FnOnce(&mut ActorSettings)) {
        self.inner.shared.settings.send_if_modified(|settings| {
            let before = *settings;
            change(settings);
            *settings != before
        });
    }

    /// The settings every server shares.
    pub fn settings(&self) -> ActorSettings {
        self.inner.shared.settings()
    }

    /// Ticks whenever the offers of Ready servers change.
    pub fn offers_changed(&self) -> watch::Receiver<u64> {
        self.inner.shared.offer_tick.subscribe()
    }

    /// Ticks on every state change of any server (for progress logging).
    pub fn state_changes(&self) -> watch::Receiver<u64> {
        self.inner.shared.state_tick.subscribe()
    }

    pub fn progress(&self) -> Progress {
        Progress::of(&self.phases())
    }

    /// True when every server has had its attempt (`Phase::is_settled`).
    pub fn settled(&self) -> bool {
        let p = self.progress();
        p.settled == p.total
    }

    /// Wait until `settled()`. A look passes over every server, and a thousand starting
    /// change state thousands of times: looking at each change took a tenth of the
    /// daemon's start-up CPU, so it looks at most every `SETTLED_LOOK`.
    pub async fn wait_settled(&self) {
        let mut changes = self.state_changes();
        loop {
            let looked = tokio::time::Instant::now();
            changes.borrow_and_update();
            if self.settled() {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
            tokio::time::sleep_until(looked + SETTLED_LOOK).await;
        }
    }

    /// Stop every server (drained, sessions ended) and wait for their tasks. Later plans
    /// are ignored.
    pub async fn shutdown(&self) {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        let handles: Vec<Handle> = {
            let mut servers = self.write();
            servers.order.clear();
            servers.map.drain().map(|(_, h)| h).collect()
        };
        futures::future::join_all(handles.into_iter().map(stop)).await;
        self.tick_state_and_offers();
    }
}

/// Stop one actor and wait for its task to end.
async fn stop(handle: Handle) {
    let (done, rx) = oneshot::channel();
    if handle.tx.send(Command::Stop { done }).await.is_ok() {
        let _ = rx.await;
    }
    drop(handle.tx);
    if let Err(e) = handle.task.await {
        tracing::error!(error = %e, "server actor ended abnormally");
    }
}
