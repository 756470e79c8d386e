//! `GET /metrics`: the daemon's counters in the Prometheus text format, taken at each scrape
//! from the same snapshots `status` shows: servers by state, config reloads and saves, and
//! the policy's decisions, fallbacks, latency and quarantine.

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::state::DaemonState;
use crate::config::ConfigStats;
use crate::policy::PolicyStatus;

/// Everything one scrape reports.
#[derive(Debug)]
pub struct Snapshot {
    /// Servers by connection state.
    pub servers: BTreeMap<String, usize>,
    pub quarantined: usize,
    pub tools_awaiting_approval: usize,
    pub config: ConfigStats,
    pub config_syncs: u64,
    pub changes_ignored_by_policy: u64,
    pub policy: PolicyStatus,
}

impl Snapshot {
    pub fn take(state: &DaemonState) -> Snapshot {
        let summary = state.registry.list().summary;
        Snapshot {
            servers: summary.by_state,
            quarantined: summary.quarantined,
            tools_awaiting_approval: summary.tools_awaiting_approval,
            config: state.store.stats(),
            config_syncs: state.counters.config_syncs(),
            changes_ignored_by_policy: state.counters.changes_ignored_by_policy(),
            policy: state.policy.status(),
        }
    }
}

/// The text a Prometheus scrape gets (OpenMetrics text).
pub fn render(snapshot: Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    // Writing to a `String` cannot fail, and the collector only fails if its writer does.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&value, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let mut servers = e.encode_descriptor(
            "mcpproxy_servers",
            "Upstream servers by connection state.",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in &self.servers {
            servers
                .encode_family(&[("state", state.as_str())])?
                .encode_gauge(&(*n as i64))?;
        }
        gauge(
            &mut e,
            "mcpproxy_servers_quarantined",
            "Servers that show nothing until a user approves them.",
            self.quarantined as i64,
        )?;
        gauge(
            &mut e,
            "mcpproxy_tools_awaiting_approval",
            "Tools hidden until their server's tools are approved again.",
            self.tools_awaiting_approval as i64,
        )?;
        let c = &self.config;
        gauge(
            &mut e,
            "mcpproxy_config_generation",
            "Generation of the config file.",
            c.config_generation as i64,
        )?;
        counter(
            &mut e,
            "mcpproxy_config_reloads",
            "Outside edits of the config file read.",
            c.reloads,
        )?;
        counter(
            &mut e,
            "mcpproxy_config_saves",
            "Saves of the config file.",
            c.saves,
        )?;
        counter(
            &mut e,
            "mcpproxy_config_self_writes_suppressed",
            "Watcher events recognised as the daemon's own saves.",
            c.self_writes_suppressed,
        )?;
        counter(
            &mut e,
            "mcpproxy_config_syncs",
            "Server syncs applied (start-up and reloads).",
            self.config_syncs,
        )?;
        counter(
            &mut e,
            "mcpproxy_config_changes_ignored_by_policy",
            "Config changes the policy's reload filter ignored.",
            self.changes_ignored_by_policy,
        )?;

        let p = &self.policy;
        let mut decisions = e.encode_descriptor(
            "mcpproxy_policy_decisions",
            "Policy decisions by hook and outcome (ok, trap, timeout, limit, invalid, quarantined).",
            None,
            MetricType::Counter,
        )?;
        for (hook, outcomes) in &p.decisions {
            for (outcome, n) in outcomes {
                decisions
                    .encode_family(&[("hook", hook.as_str()), ("outcome", outcome.as_str())])?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }
        counter(
            &mut e,
            "mcpproxy_policy_fallbacks",
            "Decisions the active policy failed or could not make, answered as on_failure says.",
            p.fallbacks,
        )?;
        counter(
            &mut e,
            "mcpproxy_policy_backoffs_clamped",
            "Backoffs a policy answered below the 100 ms floor, raised to it.",
            p.backoffs_clamped,
        )?;
        let buckets: Vec<(f64, u64)> = p
            .latency_us
            .iter()
            .map(|b| (b.le_us.map_or(f64::INFINITY, |us| us as f64 / 1e6), b.count))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        e.encode_descriptor(
            "mcpproxy_policy_decision_duration_seconds",
            "Time a policy decision took, fallbacks included.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(
            p.latency_sum_us as f64 / 1e6,
            count,
            &buckets,
            None,
        )?;
        gauge(
            &mut e,
            "mcpproxy_policy_quarantined",
            "1 while the custom policy is quarantined.",
            i64::from(p.quarantine.quarantined),
        )?;
        Ok(())
    }
}
