//! Applying config changes: the start-up sync, and each outside edit the store reports.
//!
//! Flow: diff (from the store) → the policy's reload filter → a plan (pure, `supervisor::plan`)
//! → the registry applies it. A reload never writes the config, so it cannot cause another.

use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::state::{Counters, DaemonState};
use crate::config::{ChangeTarget, Config, ConfigUpdate};
use crate::policy::{Policy, Verdict};
use crate::supervisor::plan::{PlanStep, initial_plan, plan};

/// Start every startable server of the loaded config.
pub async fn initial_sync(state: &DaemonState) {
    let running = state.running.lock().await;
    let steps = initial_plan(&running);
    info!(
        servers = running.servers.len(),
        starting = steps.len(),
        "Starting server sync"
    );
    Counters::bump(&state.counters.config_syncs, 1);
    state.registry.apply(steps).await;
}

/// Apply outside edits until the store goes away.
pub async fn run(state: Arc<DaemonState>, mut updates: mpsc::Receiver<ConfigUpdate>) {
    while let Some(update) = updates.recv().await {
        apply(&state, update).await;
    }
}

async fn apply(state: &DaemonState, update: ConfigUpdate) {
    let verdicts = state.policy.filter_reload(&update.diff);
    let mut running = state.running.lock().await;
    let mut ignored = 0;
    for (change, verdict) in update.diff.changes.iter().zip(&verdicts) {
        if let Verdict::Ignore { reason } = verdict {
            ignored += 1;
            info!(target: "mcpproxy::reload", change = ?change.target, fields = ?change.fields, "ignored by policy: {reason}");
        }
    }
    Counters::bump(&state.counters.changes_ignored_by_policy, ignored as u64);
    if ignored == update.diff.changes.len() {
        Counters::bump(&state.counters.reloads_ignored_by_policy, 1);
    }
    apply_globals(
        state,
        &running,
        &update.config,
        &update.diff.changes,
        &verdicts,
    );
    // From the file, whatever the policy said: a restart reads the file.
    *state
        .restart_needed
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = state.start_only.changed_in(&update.config);
    let steps = plan(&running, &update.config, &update.diff, &verdicts);
    *running = update.config;
    if steps.is_empty() {
        return;
    }
    let count = |f: fn(&PlanStep) -> bool| steps.iter().filter(|s| f(s)).count();
    info!(
        start = count(|s| matches!(s, PlanStep::Start(_))),
        stop = count(|s| matches!(s, PlanStep::Stop(_))),
        restart = count(|s| matches!(s, PlanStep::Restart(_))),
        update = count(|s| matches!(s, PlanStep::Update(_))),
        cause = ?update.cause,
        "Starting server sync"
    );
    Counters::bump(&state.counters.config_syncs, 1);
    state.registry.apply(steps).await;
}

/// Top-level keys the policy let through. `listen` and `data_dir` are read at start only;
/// the others apply while running.
fn apply_globals(
    state: &DaemonState,
    old: &Config,
    new: &Config,
    changes: &[crate::config::Change],
    verdicts: &[Verdict],
) {
    let applied_globals = changes
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| matches!(v, Verdict::Apply))
        .filter_map(|(c, _)| match &c.target {
            ChangeTarget::Global(key) => Some(key.as_str()),
            ChangeTarget::Server(_) => None,
        });
    for key in applied_globals {
        match key {
            "policy" if old.policy != new.policy => {
                if let Some(pinned) = &state.pinned {
                    // The pin decides the policy; a config edit cannot replace it.
                    warn!(
                        pin = %pinned.pin.path.display(),
                        "`policy` changed in the config, but the enterprise pin {} decides the policy; the pinned bundle stays",
                        pinned.pin.path.display()
                    );
                    continue;
                }
                let opts = super::policy_source::user_options(
                    state.cli_policy.clone(),
                    &new.policy,
                    &state.data_dir,
                );
                if let Err(e) = state.policy.apply(&opts) {
                    warn!("new policy config not applied, the previous policy keeps running: {e}");
                }
                // Even a file that failed to load is watched, so fixing it takes effect.
                let mut watch = state.policy_watch.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = watch.follow(&state.policy) {
                    warn!("{e}; edits of the new policy file are not picked up until restart");
                }
            }
            // Each from its next use: the next connect, call or health check.
            "init_timeout" => {
                state
                    .registry
                    .update_settings(|s| s.init_timeout = new.init_timeout);
                info!(init_timeout = ?new.init_timeout, "applied from the next connect");
            }
            "call_tool_timeout" => {
                state
                    .registry
                    .update_settings(|s| s.call_tool_timeout = new.call_tool_timeout);
                info!(call_tool_timeout = ?new.call_tool_timeout, "applied from the next call");
            }
            "health_check_interval" => {
                state
                    .registry
                    .update_settings(|s| s.health_check_interval = new.health_check_interval);
                info!(health_check_interval = ?new.health_check_interval, "applied to Ready servers");
            }
            "tools_limit" => {
                state.downstream.set_tools_limit(new.tools_limit);
                info!(
                    tools_limit = new.tools_limit,
                    "applied from the next search"
                );
            }
            "watch_debounce_ms" => {
                state.store.set_debounce(new.watch_debounce);
                info!(watch_debounce = ?new.watch_debounce, "applied from the next burst of file events");
            }
            "listen" | "data_dir" => {
                warn!("`{key}` changed in the config; it takes effect when mcpproxy restarts")
            }
            _ => {}
        }
    }
}
