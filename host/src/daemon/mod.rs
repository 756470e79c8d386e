//! `mcpproxy serve`: wires the config store, the policy host, the transports, the supervisors
//! and the downstream server together, and runs until told to stop.
//!
//! This is the only place that knows all the parts; each part only knows its seams. Config
//! changes take one route: the store's updates, applied in order by `apply`.

mod apply;
mod backend;
pub mod lock;
pub mod logging;
mod memory;
mod metrics;
mod policy_source;
pub mod policy_watch;
mod progress;
mod start_only;
mod state;
mod welcome;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::approval::ApprovalStore;
use crate::auth::{TokenStore, Verifier};
use crate::config::{AuthMode, Config, ConfigStore, StoreOptions};
use crate::policy::PolicyHost;
use crate::supervisor::{Registry, RegistryOptions};
use crate::upstream::{Dialer, DialerOptions};
use lock::{RuntimeInfo, RuntimeLock};
use policy_watch::PolicyWatch;
use state::DaemonState;

/// The sliding window for the policy's `failures-in-window`.
const FAILURE_WINDOW: Duration = Duration::from_secs(600);
/// How long a removed server's in-flight calls may run before it is stopped anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What `serve` was told on the command line.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config_path: PathBuf,
    /// `--data-dir`; wins over the config's `data_dir`.
    pub data_dir: Option<PathBuf>,
    pub log_dir: PathBuf,
    /// `--listen`; wins over the config's `listen`.
    pub listen: Option<SocketAddr>,
    /// `--policy`; wins over the config's `policy.path`.
    pub policy: Option<PathBuf>,
}

/// The first-run text on stdout: a config without servers is new, or was emptied.
fn print_welcome(opts: &DaemonOptions, config: &Config, tokens: &TokenStore, local: SocketAddr) {
    let mut cli_args = Vec::new();
    if opts.config_path != crate::config::default_config_path() {
        cli_args.extend([
            "--config".to_string(),
            opts.config_path.display().to_string(),
        ]);
    }
    if let Some(dir) = &opts.data_dir {
        cli_args.extend(["--data-dir".to_string(), dir.display().to_string()]);
    }
    let token = (config.auth != AuthMode::None)
        .then(|| tokens.admin_token())
        .flatten();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mcpproxy"));
    let text = welcome::Welcome {
        listen: local,
        token: token.as_deref(),
        exe: &exe,
        cli_args: &cli_args,
    }
    .text();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Run the daemon until `shutdown` fires, then stop every upstream (no orphans) and return.
pub async fn run(opts: DaemonOptions, shutdown: CancellationToken) -> anyhow::Result<()> {
    crate::config::ensure_default(&opts.config_path)?;
    // Read once to learn the data dir: the lock must be held before the store may write.
    let first = crate::config::load::read(&opts.config_path)?;
    let data_dir = opts
        .data_dir
        .clone()
        .or(first.data_dir)
        .unwrap_or_else(crate::config::default_data_dir);
    let mut lock = RuntimeLock::acquire(&data_dir)?;
    let tokens = TokenStore::new(&data_dir);
    if let Some(admin) = tokens.first_run()? {
        // The path, never the token: logs are read by more people than the data dir.
        info!(
            "created the admin token in {} (mode 0600): clients send it as `Authorization: Bearer <token>`; \
             the mcpproxy CLI reads it from there; `mcpproxy token` makes more",
            admin.display()
        );
    }

    let store_opts = StoreOptions {
        data_dir: data_dir.clone(),
        debounce: None,
    };
    let (store, config, updates) = ConfigStore::open(opts.config_path.clone(), store_opts)?;
    logging::remember_secrets(config.secrets());

    let chosen = policy_source::choose(opts.policy.clone(), &config.policy, &data_dir)?;
    let policy = PolicyHost::start(chosen.options.clone()).context("starting the policy host")?;
    let pinned = chosen.pinned.map(Arc::new);
    let _bundle_watch = match &pinned {
        Some(p) => Some(policy_source::watch(
            p.clone(),
            policy.clone(),
            chosen.options.clone(),
        )?),
        None => None,
    };
    // Keep watching the policy file while serving: a new version is checked before it replaces
    // the running one (see `policy_watch`).
    // A policy that cannot be watched (its directory is missing) has already fallen back to
    // the embedded default; the daemon serves on, and a config edit of `policy` retries.
    let policy_watch = PolicyWatch::start(&policy).unwrap_or_else(|e| {
        warn!("{e}; the policy file is not watched until `policy` is edited or mcpproxy restarts");
        PolicyWatch::unwatched()
    });

    let dialer = Dialer::new(DialerOptions {
        log_dir: Some(opts.log_dir.clone()),
    });
    let notices = dialer.notices();
    // A broken record refuses the start: an empty one would approve whatever servers offer.
    let approvals = Arc::new(ApprovalStore::open(&data_dir)?);
    let registry = Registry::new(RegistryOptions {
        connector: Arc::new(dialer),
        policy: policy.clone(),
        sink: Arc::new(state::StoreSink::new(store.clone())),
        approvals,
        init_timeout: config.init_timeout,
        health_check_interval: config.health_check_interval,
        call_tool_timeout: config.call_tool_timeout,
        failure_window: FAILURE_WINDOW,
        drain_timeout: DRAIN_TIMEOUT,
    });

    let listen = opts.listen.unwrap_or(config.listen);
    if config.auth == AuthMode::None && !listen.ip().is_loopback() {
        anyhow::bail!(
            "{}: `auth: none` is allowed only on a loopback address, and mcpproxy would listen on {listen}: \
             keep tokens on, or listen on 127.0.0.1",
            opts.config_path.display()
        );
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    lock.publish(&RuntimeInfo {
        pid: std::process::id(),
        listen: local,
        config: opts.config_path.clone(),
    })?;
    info!(config = %opts.config_path.display(), data_dir = %data_dir.display(), "mcpproxy serving MCP at http://{local}/mcp");
    if config.servers.is_empty() {
        print_welcome(&opts, &config, &tokens, local);
    }

    let downstream = crate::downstream::DownstreamOptions::new(config.tools_limit);
    downstream.set_allowed_origins(config.allowed_origins.clone());
    downstream.set_tool_response_limit(config.tool_response_limit);
    apply::apply_auth(&downstream, &config);
    let state = Arc::new(DaemonState {
        config_path: opts.config_path.clone(),
        data_dir,
        log_dir: opts.log_dir.clone(),
        listen: local,
        started: std::time::Instant::now(),
        store,
        policy,
        cli_policy: opts.policy.clone(),
        policy_watch: std::sync::Mutex::new(policy_watch),
        pinned,
        registry,
        notices,
        downstream: downstream.clone(),
        start_only: start_only::StartOnly::of(&config),
        restart_needed: std::sync::Mutex::default(),
        counters: state::ReloadCounters::default(),
    });
    apply::initial_sync(&state, &config).await;
    drop(config);
    tokio::spawn(progress::log_until_settled(state.registry.clone()));
    tokio::spawn(apply::run(state.clone(), updates));

    let backend = Arc::new(backend::DaemonBackend::new(state.clone()));
    let verifier = Verifier::new(tokens);
    let served =
        crate::downstream::serve(listener, backend, downstream, verifier, shutdown.clone()).await;
    info!("stopping upstream servers");
    state.registry.shutdown().await;
    drop(lock);
    served.context("downstream server")
}
