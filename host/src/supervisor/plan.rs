//! Reload planning: which servers to start, stop, restart or update after a config change.
//!
//! Pure: configs, the diff and the policy's verdicts in, steps out. It never touches a
//! server; the registry applies the steps. Ignored changes produce nothing, unchanged servers
//! never appear, and a server is only restarted when something its connection depends on
//! changed.

use crate::config::{ChangeKind, ChangeTarget, Config, ConfigDiff, ServerConfig};
use crate::policy::Verdict;

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

/// The steps that take the daemon from `running` to `new`.
///
/// `verdicts[i]` is the policy's verdict on `diff.changes[i]`; a change without a verdict
/// is applied (a policy that says nothing does not block a reload). Global changes produce
/// no server steps: the caller handles them (e.g. `call_tool_timeout`).
pub fn plan(
    running: &Config,
    new: &Config,
    diff: &ConfigDiff,
    verdicts: &[Verdict],
) -> Vec<PlanStep> {
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
        let old = running.server(name);
        let next = new.server(name);
        let step = match (change.kind, old, next) {
            (ChangeKind::Removed, _, _) | (_, Some(_), None) => Some(PlanStep::Stop(name.clone())),
            (_, None, Some(next)) => Some(PlanStep::Start(next.clone())),
            (_, Some(old), Some(next)) => step_for_modified(old, next),
            (_, None, None) => None,
        };
        steps.extend(step);
    }
    steps
}

/// The step for a server present in both configs, or none if nothing differs.
fn step_for_modified(old: &ServerConfig, new: &ServerConfig) -> Option<PlanStep> {
    if old == new {
        return None;
    }
    let step = match (old.is_startable(), new.is_startable()) {
        // Switched back on (enabled set or auto_disabled cleared): retry at once.
        (false, true) => PlanStep::Start(new.clone()),
        (true, true) if connection_changed(old, new) => PlanStep::Restart(new.clone()),
        // In place, or switched off: the actor stops the connection itself.
        _ => PlanStep::Update(new.clone()),
    };
    Some(step)
}

/// True when a field that the connection depends on differs. `enabled`, `auto_disabled`,
/// `auto_disable_reason` and unknown keys do not touch the connection.
pub fn connection_changed(old: &ServerConfig, new: &ServerConfig) -> bool {
    old.protocol != new.protocol
        || old.command != new.command
        || old.args != new.args
        || old.env != new.env
        || old.working_dir != new.working_dir
        || old.url != new.url
        || old.headers != new.headers
        || old.init_timeout != new.init_timeout
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Change, PolicyConfig, Protocol};
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
            watch_debounce: Duration::from_millis(300),
            health_check_interval: Duration::from_secs(30),
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
        let auto = with(|s| {
            s.auto_disabled = true;
            s.auto_disable_reason = Some("crashed 5 times".into());
        });
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

        // (case, running servers, new servers, changes, verdicts, expected)
        type Case = (
            &'static str,
            Vec<ServerConfig>,
            Vec<ServerConfig>,
            Vec<Change>,
            Vec<Verdict>,
            Vec<PlanStep>,
        );
        let cases: Vec<Case> = vec![
            (
                "added",
                vec![],
                vec![base.clone()],
                vec![change("a", Added, &[])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(base.clone())],
            ),
            (
                "removed",
                vec![base.clone()],
                vec![],
                vec![change("a", Removed, &[])],
                vec![Verdict::Apply],
                vec![PlanStep::Stop("a".into())],
            ),
            (
                "connection field modified",
                vec![base.clone()],
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![Verdict::Apply],
                vec![PlanStep::Restart(args.clone())],
            ),
            (
                "metadata only",
                vec![base.clone()],
                vec![meta.clone()],
                vec![change("a", Modified, &["description"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(meta.clone())],
            ),
            (
                "disabled by user",
                vec![base.clone()],
                vec![disabled.clone()],
                vec![change("a", Modified, &["enabled"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(disabled.clone())],
            ),
            (
                "enabled by user",
                vec![disabled.clone()],
                vec![base.clone()],
                vec![change("a", Modified, &["enabled"])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(base.clone())],
            ),
            (
                "auto_disabled cleared",
                vec![auto.clone()],
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
                vec![auto.clone()],
                vec![args.clone()],
                vec![change("a", Modified, &["auto_disabled", "args"])],
                vec![Verdict::Apply],
                vec![PlanStep::Start(args.clone())],
            ),
            (
                "reason changed while still auto-disabled",
                vec![auto.clone()],
                vec![reason_only.clone()],
                vec![change("a", Modified, &["auto_disable_reason"])],
                vec![Verdict::Apply],
                vec![PlanStep::Update(reason_only.clone())],
            ),
            (
                "ignored by the policy",
                vec![base.clone()],
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![ignore.clone()],
                vec![],
            ),
            (
                "missing verdict applies",
                vec![base.clone()],
                vec![args.clone()],
                vec![change("a", Modified, &["args"])],
                vec![],
                vec![PlanStep::Restart(args.clone())],
            ),
            (
                "unchanged server never appears",
                vec![base.clone(), server("b")],
                vec![base.clone(), server("b")],
                vec![change("a", Modified, &["args"])],
                vec![Verdict::Apply],
                vec![],
            ),
            (
                "global change makes no server step",
                vec![base.clone()],
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
                vec![base.clone(), server("b")],
                vec![args.clone()],
                vec![change("a", Modified, &["args"]), change("b", Removed, &[])],
                vec![ignore.clone(), Verdict::Apply],
                vec![PlanStep::Stop("b".into())],
            ),
        ];

        for (name, running, new, changes, verdicts, expected) in cases {
            let got = plan(&config(running), &config(new), &diff(changes), &verdicts);
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

    #[test]
    fn connection_fields() {
        let base = server("a");
        let cases: Vec<(&str, ServerConfig, bool)> = vec![
            ("same", base.clone(), false),
            ("command", with(|s| s.command = Some("other".into())), true),
            (
                "env",
                with(|s| {
                    s.env.insert("K".into(), "V".into());
                }),
                true,
            ),
            ("url", with(|s| s.url = Some("http://x".into())), true),
            ("protocol", with(|s| s.protocol = Protocol::Sse), true),
            (
                "headers",
                with(|s| {
                    s.headers.insert("A".into(), "b".into());
                }),
                true,
            ),
            (
                "working_dir",
                with(|s| s.working_dir = Some("/tmp".into())),
                true,
            ),
            (
                "init_timeout",
                with(|s| s.init_timeout = Some(Duration::from_secs(1))),
                true,
            ),
            ("enabled", with(|s| s.enabled = false), false),
            (
                "reason",
                with(|s| s.auto_disable_reason = Some("r".into())),
                false,
            ),
            (
                "extra",
                with(|s| {
                    s.extra.insert("k".into(), serde_json::json!(1));
                }),
                false,
            ),
        ];
        for (name, other, expected) in cases {
            assert_eq!(connection_changed(&base, &other), expected, "field: {name}");
        }
    }
}
