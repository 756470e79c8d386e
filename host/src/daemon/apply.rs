//! Applying the config store's updates: the one route from a config change to the
//! supervisors. The start-up sync, then every `ConfigUpdate` in the order the store sent it.
//!
//! Flow: an update (config, diff, cause) → the policy's reload filter, for the user's edits of
//! the file only (`UpdateCause::Reload`; the daemon's own edits are applied as asked) → the
//! global keys → a plan (pure, `supervisor::plan`) → the registry applies it. Applying never
//! writes the config, so it cannot cause another update; one task applies them, one at a time.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::state::DaemonState;
use crate::config::{AuthMode, Config, ConfigUpdate, GlobalKey, UpdateCause};
use crate::contract::{Change, ChangeTarget, Policy, Verdict};
use crate::downstream::DownstreamOptions;
use crate::supervisor::plan::{PlanStep, initial_plan, plan};

/// Start every startable server of the config the store opened with.
pub async fn initial_sync(state: &DaemonState, config: &Config) {
    let steps = initial_plan(config);
    info!(
        servers = config.servers.len(),
        starting = steps.len(),
        "Starting server sync"
    );
    state.counters.synced();
    run_steps(state, steps).await;
}

/// Hands `steps` to the supervisors; when they start servers, the free heap is given back
/// once every server has settled (a start-up or an import churns the heap alike).
async fn run_steps(state: &DaemonState, steps: Vec<PlanStep>) {
    let starts = steps
        .iter()
        .any(|s| matches!(s, PlanStep::Start(_) | PlanStep::Restart(_)));
    state.registry.apply(steps).await;
    if starts {
        super::memory::give_back_once_settled(state.registry.clone());
    }
}

/// Apply the store's updates until it goes away.
pub async fn run(state: Arc<DaemonState>, mut updates: mpsc::Receiver<ConfigUpdate>) {
    while let Some(update) = updates.recv().await {
        apply(&state, update).await;
    }
}

/// Applies one update. Returning drops it, which tells the edits it carries that they apply.
async fn apply(state: &DaemonState, update: ConfigUpdate) {
    super::logging::remember_secrets(update.config.secrets());
    let verdicts = verdicts(state, &update);
    apply_globals(state, &update.config, &update.diff.changes, &verdicts);
    // From the file, whatever the policy said: a restart reads the file.
    *state
        .restart_needed
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = state.start_only.changed_in(&update.config);
    let steps = plan(&update.config, &update.diff, &verdicts);
    if steps.is_empty() {
        return;
    }
    match &update.cause {
        UpdateCause::Reload(cause) => {
            let count = |f: fn(&PlanStep) -> bool| steps.iter().filter(|s| f(s)).count();
            info!(
                start = count(|s| matches!(s, PlanStep::Start(_))),
                stop = count(|s| matches!(s, PlanStep::Stop(_))),
                restart = count(|s| matches!(s, PlanStep::Restart(_))),
                update = count(|s| matches!(s, PlanStep::Update(_))),
                cause = ?cause,
                "Starting server sync"
            );
            state.counters.synced();
        }
        UpdateCause::Edits(edits) => {
            let edits: Vec<String> = edits.iter().map(|e| e.label()).collect();
            debug!(
                ?edits,
                steps = steps.len(),
                "applying the daemon's own edits"
            );
        }
    }
    run_steps(state, steps).await;
}

/// The verdict on each change of `update`. The policy's reload filter judges the user's edits
/// of the file; the daemon's own edits are exactly what `upstream_servers` or the policy
/// itself asked for, so they apply.
fn verdicts(state: &DaemonState, update: &ConfigUpdate) -> Vec<Verdict> {
    let changes = &update.diff.changes;
    if let UpdateCause::Edits(_) = update.cause {
        return vec![Verdict::Apply; changes.len()];
    }
    let verdicts = state.policy.filter_reload(&update.diff);
    let mut ignored = 0;
    for (change, verdict) in changes.iter().zip(&verdicts) {
        if let Verdict::Ignore { reason } = verdict {
            ignored += 1;
            info!(target: "mcpproxy::reload", change = ?change.target, fields = ?change.fields, "ignored by policy: {reason}");
        }
    }
    state
        .counters
        .ignored(ignored as u64, ignored == changes.len());
    verdicts
}

/// Top-level keys the policy let through. `listen` and `data_dir` are read at start only;
/// the others apply while running.
fn apply_globals(state: &DaemonState, new: &Config, changes: &[Change], verdicts: &[Verdict]) {
    let applied_globals = changes
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| matches!(v, Verdict::Apply))
        .filter_map(|(c, _)| match &c.target {
            ChangeTarget::Global(key) => GlobalKey::from_name(key),
            ChangeTarget::Server(_) => None,
        });
    for key in applied_globals {
        match key {
            GlobalKey::Policy => apply_policy(state, new),
            // Each from its next use: the next connect, call or health check.
            GlobalKey::InitTimeout => {
                state
                    .registry
                    .update_settings(|s| s.init_timeout = new.init_timeout);
                info!(init_timeout = ?new.init_timeout, "applied from the next connect");
            }
            GlobalKey::CallToolTimeout => {
                state
                    .registry
                    .update_settings(|s| s.call_tool_timeout = new.call_tool_timeout);
                info!(call_tool_timeout = ?new.call_tool_timeout, "applied from the next call");
            }
            GlobalKey::HealthCheckInterval => {
                state
                    .registry
                    .update_settings(|s| s.health_check_interval = new.health_check_interval);
                info!(health_check_interval = ?new.health_check_interval, "applied to Ready servers");
            }
            GlobalKey::QuarantineNewServers => {
                // Read from the file by each `upstream_servers add`.
                info!(
                    quarantine_new_servers = new.quarantine_new_servers,
                    "applied from the next server a client adds"
                );
            }
            GlobalKey::ToolsLimit => {
                state.downstream.set_tools_limit(new.tools_limit);
                info!(
                    tools_limit = new.tools_limit,
                    "applied from the next search"
                );
            }
            GlobalKey::ToolResponseLimit => {
                state
                    .downstream
                    .set_tool_response_limit(new.tool_response_limit);
                info!(
                    tool_response_limit = new.tool_response_limit,
                    "applied from the next call"
                );
            }
            GlobalKey::AllowedOrigins => {
                state
                    .downstream
                    .set_allowed_origins(new.allowed_origins.clone());
                info!(allowed_origins = ?new.allowed_origins, "applied from the next request");
            }
            GlobalKey::Auth | GlobalKey::MetricsAuth => {
                apply_auth(&state.downstream, new);
                info!(
                    auth = new.auth.as_str(),
                    metrics_auth = new.metrics_auth.as_str(),
                    "applied from the next request"
                );
            }
            GlobalKey::WatchDebounceMs => {
                state.store.set_debounce(new.watch_debounce);
                info!(watch_debounce = ?new.watch_debounce, "applied from the next burst of file events");
            }
            GlobalKey::Listen | GlobalKey::DataDir => {
                warn!(
                    "`{}` changed in the config; it takes effect when mcpproxy restarts",
                    key.name()
                )
            }
        }
    }
}

/// `auth` and `metrics_auth` into the downstream's options, with a warning when the config
/// lets requests in without a token.
pub fn apply_auth(downstream: &DownstreamOptions, config: &Config) {
    downstream.set_auth(
        config.auth == AuthMode::None,
        config.metrics_auth == AuthMode::None,
    );
    if config.auth == AuthMode::None {
        warn!(
            "`auth: none`: every process on this machine may use mcpproxy without a token, \
             and add servers that run commands as you"
        );
    }
}

/// An edited `policy` section: the new policy replaces the running one if it loads, and the
/// watch follows its file.
fn apply_policy(state: &DaemonState, new: &Config) {
    if let Some(pinned) = &state.pinned {
        // The pin decides the policy; a config edit cannot replace it.
        warn!(
            pin = %pinned.pin.path.display(),
            "`policy` changed in the config, but the enterprise pin {} decides the policy; the pinned bundle stays",
            pinned.pin.path.display()
        );
        return;
    }
    let opts =
        super::policy_source::user_options(state.cli_policy.clone(), &new.policy, &state.data_dir);
    if let Err(e) = state.policy.apply(&opts) {
        warn!("new policy config not applied, the previous policy keeps running: {e}");
    }
    // Even a file that failed to load is watched, so fixing it takes effect.
    let mut watch = state.policy_watch.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = watch.follow(&state.policy) {
        warn!("{e}; edits of the new policy file are not picked up until restart");
    }
}
