//! The difference between two configs: what a reload would change.
//!
//! Pure: `diff(running, new)` compares parsed configs, so formatting and key order never
//! show up. The result goes to the policy's reload filter (see `policy`) before any server
//! is touched.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::load::{RUNTIME_KEYS, SERVER_KEYS, VIEW_KEYS};
use super::model::{Config, GlobalKey, ServerConfig};
use crate::contract::{Change, ChangeKind, ChangeTarget, ConfigDiff};

/// What changed from `old` (running) to `new` (just read): servers removed (in `old`'s order),
/// then added and modified (in `new`'s order), then global keys. `generation` is not a change:
/// it goes to `disk_generation`; the store fills `stamped_generation`. Pure.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let mut changes = Vec::new();
    let old_by_name: HashMap<&str, &ServerConfig> =
        old.servers.iter().map(|s| (s.name.as_str(), s)).collect();
    let new_names: HashSet<&str> = new.servers.iter().map(|s| s.name.as_str()).collect();

    for s in &old.servers {
        if !new_names.contains(s.name.as_str()) {
            changes.push(Change {
                target: ChangeTarget::Server(s.name.clone()),
                kind: ChangeKind::Removed,
                fields: Vec::new(),
            });
        }
    }
    for s in &new.servers {
        match old_by_name.get(s.name.as_str()) {
            None => changes.push(Change {
                target: ChangeTarget::Server(s.name.clone()),
                kind: ChangeKind::Added,
                fields: Vec::new(),
            }),
            Some(before) if *before == s => {}
            Some(before) => {
                let fields = changed_server_fields(before, s);
                if !fields.is_empty() {
                    changes.push(Change {
                        target: ChangeTarget::Server(s.name.clone()),
                        kind: ChangeKind::Modified,
                        fields,
                    });
                }
            }
        }
    }
    for key in changed_global_keys(old, new) {
        changes.push(Change {
            target: ChangeTarget::Global(key.to_string()),
            kind: ChangeKind::Modified,
            fields: Vec::new(),
        });
    }
    ConfigDiff {
        changes,
        disk_generation: Some(new.generation),
        stamped_generation: None,
    }
}

/// The file names of the fields that differ between two versions of one server, known
/// fields first (in file-schema order), then unknown keys (sorted).
pub fn changed_server_fields(a: &ServerConfig, b: &ServerConfig) -> Vec<String> {
    let differs = |field: &str| match field {
        "protocol" => a.protocol != b.protocol,
        "command" => a.command != b.command,
        "args" => a.args != b.args,
        "env" => a.env != b.env,
        "working_dir" => a.working_dir != b.working_dir,
        "url" => a.url != b.url,
        "headers" => a.headers != b.headers,
        "enabled" => a.enabled != b.enabled,
        "auto_disabled" => a.auto_disabled != b.auto_disabled,
        "auto_disable_reason" => a.auto_disable_reason != b.auto_disable_reason,
        "init_timeout" => a.init_timeout != b.init_timeout,
        "enabled_tools" => a.enabled_tools != b.enabled_tools,
        "disabled_tools" => a.disabled_tools != b.disabled_tools,
        "quarantined" => a.quarantined != b.quarantined,
        _ => false,
    };
    // Every known key but the name (a renamed server is a removal plus an addition).
    let mut fields: Vec<String> = SERVER_KEYS[1..]
        .iter()
        .filter(|f| differs(f))
        .map(|f| f.to_string())
        .collect();
    let extra_keys: BTreeSet<&String> = a.extra.keys().chain(b.extra.keys()).collect();
    fields.extend(
        extra_keys
            .into_iter()
            .filter(|k| a.extra.get(*k) != b.extra.get(*k))
            .cloned(),
    );
    fields
}

fn changed_global_keys(a: &Config, b: &Config) -> impl Iterator<Item = &'static str> {
    GlobalKey::ALL
        .into_iter()
        .filter(|k| k.differs(a, b))
        .map(GlobalKey::name)
}

/// Whether any of a modified server's changed `fields` is one its connection depends on: every
/// server key mcpproxy reads but its name, its runtime state (`RUNTIME_KEYS`) and its tool
/// filters (`VIEW_KEYS`). A change to one restarts the server; unknown keys never do.
pub fn touches_connection(fields: &[String]) -> bool {
    fields.iter().any(|f| {
        let f = f.as_str();
        SERVER_KEYS[1..].contains(&f) && !RUNTIME_KEYS.contains(&f) && !VIEW_KEYS.contains(&f)
    })
}

/// True when a field that the connection depends on differs.
pub fn connection_changed(old: &ServerConfig, new: &ServerConfig) -> bool {
    touches_connection(&changed_server_fields(old, new))
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
