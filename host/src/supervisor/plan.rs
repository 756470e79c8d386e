//! Planning: which servers to start, stop, restart or update after a config update.
//!
//! Pure: the new config, its diff from the previous one and the policy's verdicts in, steps
//! out. It never touches a server; the registry applies the steps. Ignored changes produce
//! nothing, unchanged servers never appear, and a server is only restarted when something its
//! connection depends on changed.

use crate::config::diff::touches_connection;
use crate::config::{Config, ServerConfig};
use crate::contract::{ChangeKind, ChangeTarget, ConfigDiff, Verdict};

/// One thing the registry must do to one server.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanStep {
    /// A new server, or one the user switched back on: create its actor if needed and
    /// connect at once (no backoff wait). A config that is not startable (disabled or
    /// auto-disabled) only registers the server; it is never started.
    Start(ServerConfig),
    /// The server is gone from the config: stop it (bounded drain) and forget it.
    Stop(String),
    /// Something the connection depends on changed: drain, disconnect, connect again with
    /// fresh counters.
    Restart(ServerConfig),
    /// Apply the new config to the running actor, doing the least needed: fields that do not
    /// touch the connection change in place (the session is kept); a config that is no
    /// longer startable stops the connection and leaves the server Disabled/Auto-Disabled.
    Update(ServerConfig),
}

impl PlanStep {
    /// The server this step is about.
    pub fn server(&self) -> &str {
        match self {
            PlanStep::Start(c) | PlanStep::Restart(c) | PlanStep::Update(c) => &c.name,
            PlanStep::Stop(name) => name,
        }
    }
}

/// Start every configured server (the registry leaves non-startable ones Disabled).
pub fn initial_plan(config: &Config) -> Vec<PlanStep> {
    config
        .servers
        .iter()
        .map(|s| PlanStep::Start(s.clone()))
        .collect()
}

/// The steps that take the daemon to `new`, which differs from the previous config by `diff`.
///
/// `verdicts[i]` is the policy's verdict on `diff.changes[i]`; a change without a verdict
/// is applied (a policy that says nothing does not block a reload). Global changes produce
/// no server steps: the caller handles them (e.g. `call_tool_timeout`).
pub fn plan(new: &Config, diff: &ConfigDiff, verdicts: &[Verdict]) -> Vec<PlanStep> {
    let mut steps: Vec<PlanStep> = Vec::new();
    for (i, change) in diff.changes.iter().enumerate() {
        if matches!(verdicts.get(i), Some(Verdict::Ignore { .. })) {
            continue;
        }
        let ChangeTarget::Server(name) = &change.target else {
            continue;
        };
        if steps.iter().any(|s| s.server() == name) {
            continue;
        }
        let step = match (change.kind, new.server(name)) {
            (ChangeKind::Removed, _) | (_, None) => Some(PlanStep::Stop(name.clone())),
            (ChangeKind::Added, Some(next)) => Some(PlanStep::Start(next.clone())),
            (ChangeKind::Modified, Some(next)) => step_for_modified(&change.fields, next),
        };
        steps.extend(step);
    }
    steps
}

/// The step for a server whose `fields` changed, now configured as `new`; none if nothing did.
fn step_for_modified(fields: &[String], new: &ServerConfig) -> Option<PlanStep> {
    if fields.is_empty() {
        return None;
    }
    let step = match (was_startable(fields, new), new.is_startable()) {
        // Switched back on (enabled set or auto_disabled cleared): retry at once.
        (false, true) => PlanStep::Start(new.clone()),
        (true, true) if touches_connection(fields) => PlanStep::Restart(new.clone()),
        // In place, or switched off: the actor stops the connection itself.
        _ => PlanStep::Update(new.clone()),
    };
    Some(step)
}

/// Whether the server was startable before the change: the changed fields say which of
/// `enabled` and `auto_disabled` flipped to reach `now`.
fn was_startable(fields: &[String], now: &ServerConfig) -> bool {
    let flipped = |field: &str| fields.iter().any(|f| f == field);
    let enabled = now.enabled != flipped("enabled");
    let auto_disabled = now.auto_disabled != flipped("auto_disabled");
    enabled && !auto_disabled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyConfig;
    use crate::contract::Change;
    use std::time::Duration;

    fn server(name: &str) -> ServerConfig {
        ServerConfig {
            args: vec!["healthy".into()],
            ..crate::supervisor::testing::stdio_server(name, "fixture")
        }
    }

    fn config(servers: Vec<ServerConfig>) -> Config {
        Config {
            listen: "127.0.0.1:8080".parse().unwrap(),
            data_dir: None,
            init_timeout: Duration::from_secs(30),
            call_tool_timeout: Duration::from_secs(120),
            tools_limit: 15,
            quarantine_new_servers: true,
            tool_response_limit: 1 << 20,
            watch_debounce: Duration::from_millis(300),
            health_check_interval: Duration::from_secs(30),
            allowed_origins: Vec::new(),
            auth: Default::default(),
            metrics_auth: Default::default(),
            policy: PolicyConfig::default(),
            servers,
            generation: 0,
        }
    }

    fn change(name: &str, kind: ChangeKind, fields: &[&str]) -> Change {
        Change {
            target: ChangeTarget::Server(name.into()),
            kind,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn diff(changes: Vec<Change>) -> ConfigDiff {
        ConfigDiff {
            changes,
            ..Default::default()
        }
    }

    fn with(f: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
        let mut s = server("a");
        f(&mut s);
        s
    }

    #[test]
    fn plan_table() {
        use ChangeKind::*;
        let base = server("a");
        let disabled = with(|s| s.enabled = false);
        let meta = with(|s| {
            s.extra.insert("description".into(), serde_json::json!("x"));
        });
        let args = with(|s| s.args = vec!["slow".into()]);
        let reason_only = with(|s| {
            s.auto_disabled = true;
            s.auto_disable_reason = Some("other reason".into());
        });
        let ignore = Verdict::Ignore {
            reason: "policy says no".into(),
        };

        // (case, new servers, their changes from the previous config, verdicts, expected)
        type Case = (
            &'static str,
            Vec<ServerConfig>,
            Vec<Change>,
            Vec<Verdict>,
            Vec<PlanStep>,
        );
        let cases: Vec<Case> = vec![
            (
                "added",
                vec![base.clone()],
                vec![change("a", Added, &[])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(base.clone())],
            ),
            (
                "removed",
                vec![],
                vec![change("a", Removed, &[])],
                vec![Verdict::Apply],
                vec![PlanStep::Stop("a".into())],
            ),
            (
                "connection field modified",
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![Verdict::Apply],
                vec![PlanStep::Restart(args.clone())],
            ),
            (
                "metadata only",
                vec![meta.clone()],
                vec![change("a", Modified, &["description"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(meta.clone())],
            ),
            (
                "disabled by user",
                vec![disabled.clone()],
                vec![change("a", Modified, &["enabled"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(disabled.clone())],
            ),
            (
                "enabled by user",
                vec![base.clone()],
                vec![change("a", Modified, &["enabled"])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(base.clone())],
            ),
            (
                "auto_disabled cleared",
                vec![base.clone()],
                vec![change(
                    "a",
                    Modified,
                    &["auto_disabled", "auto_disable_reason"],
                )],
                vec![Verdict::Apply],
                vec![PlanStep::Start(base.clone())],
            ),
            (
                "auto_disabled cleared and command fixed",
                vec![args.clone()],
                vec![change("a", Modified, &["auto_disabled", "args"])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(args.clone())],
            ),
            (
                "reason changed while still auto-disabled",
                vec![reason_only.clone()],
                vec![change("a", Modified, &["auto_disable_reason"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(reason_only.clone())],
            ),
            (
                "ignored by the policy",
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![ignore.clone()],
                vec![],
            ),
            (
                "missing verdict applies",
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![],
                vec![PlanStep::Restart(args.clone())],
            ),
            (
                "a server the diff does not name never appears",
                vec![args.clone(), server("b")],
                vec![change("a", Modified, &["args"])],
                vec![Verdict::Apply],
                vec![PlanStep::Restart(args.clone())],
            ),
            (
                "global change makes no server step",
                vec![base.clone()],
                vec![Change {
                    target: ChangeTarget::Global("call_tool_timeout".into()),
                    kind: Modified,
                    fields: vec![],
                }],
                vec![Verdict::Apply],
                vec![],
            ),
            (
                "only the applied change of two",
                vec![args.clone()],
                vec![change("a", Modified, &["args"]), change("b", Removed, &[])],
                vec![ignore.clone(), Verdict::Apply],
                vec![PlanStep::Stop("b".into())],
            ),
        ];

        for (name, new, changes, verdicts, expected) in cases {
            let got = plan(&config(new), &diff(changes), &verdicts);
            assert_eq!(got, expected, "case: {name}");
        }
    }

    #[test]
    fn initial_plan_starts_every_server_in_file_order() {
        let disabled = {
            let mut s = server("b");
            s.enabled = false;
            s
        };
        let got = initial_plan(&config(vec![server("a"), disabled.clone()]));
        assert_eq!(
            got,
            vec![PlanStep::Start(server("a")), PlanStep::Start(disabled)]
        );
    }

    mod properties {
        use super::*;
        use crate::config::arbitrary::valid_config;
        use crate::config::{connection_changed, diff};
        use proptest::prelude::*;

        proptest! {
            /// The plan made from the diff alone (no copy of the old config) takes each server
            /// exactly where comparing its old and new config says it must go.
            #[test]
            fn the_plan_from_the_diff_is_what_the_configs_ask(a in valid_config(), b in valid_config()) {
                let steps = plan(&b, &diff(&a, &b), &[]);
                let mut want = Vec::new();
                for s in &a.servers {
                    if b.server(&s.name).is_none() {
                        want.push(PlanStep::Stop(s.name.clone()));
                    }
                }
                for new in &b.servers {
                    let step = match a.server(&new.name) {
                        None => Some(PlanStep::Start(new.clone())),
                        Some(old) if old == new => None,
                        Some(old) => Some(match (old.is_startable(), new.is_startable()) {
                            (false, true) => PlanStep::Start(new.clone()),
                            (true, true) if connection_changed(old, new) => PlanStep::Restart(new.clone()),
                            _ => PlanStep::Update(new.clone()),
                        }),
                    };
                    want.extend(step);
                }
                prop_assert_eq!(steps, want);
            }
        }
    }
}
