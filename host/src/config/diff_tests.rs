//! Table-driven tests of `diff`: parsed configs in, changes out.

use std::path::Path;

use super::*;
use std::time::Duration;

use crate::config::Protocol;
use crate::config::load::parse;

fn cfg(text: &str) -> Config {
    parse(Path::new("t.json"), text).unwrap()
}

fn server_change(name: &str, kind: ChangeKind, fields: &[&str]) -> Change {
    Change {
        target: ChangeTarget::Server(name.into()),
        kind,
        fields: fields.iter().map(|f| f.to_string()).collect(),
    }
}

#[test]
fn diff_cases() {
    let base = r#"{"generation": 3, "mcpServers": [
        {"name": "a", "command": "a-bin"},
        {"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "x"}]}"#;
    let cases: Vec<(&str, &str, Vec<Change>)> = vec![
        ("identical", base, vec![]),
        (
            "formatting, key order and generation only",
            r#"{"mcpServers": [{"command": "a-bin", "name": "a", "protocol": "stdio"},
                {"note": "x", "url": "http://127.0.0.1:1/mcp", "name": "b"}], "generation": 9}"#,
            vec![],
        ),
        (
            "server added",
            r#"{"mcpServers": [{"name": "a", "command": "a-bin"},
                {"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "x"},
                {"name": "c", "command": "c"}]}"#,
            vec![server_change("c", ChangeKind::Added, &[])],
        ),
        (
            "server removed",
            r#"{"mcpServers": [{"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "x"}]}"#,
            vec![server_change("a", ChangeKind::Removed, &[])],
        ),
        (
            "known and unknown fields modified",
            r#"{"mcpServers": [{"name": "a", "command": "a-bin", "args": ["-v"], "auto_disabled": true},
                {"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "y", "tags": []}]}"#,
            vec![
                server_change("a", ChangeKind::Modified, &["args", "auto_disabled"]),
                server_change("b", ChangeKind::Modified, &["note", "tags"]),
            ],
        ),
        (
            "global keys",
            r#"{"listen": "127.0.0.1:9000", "tools_limit": 3, "policy": {"deadline_ms": 5},
                "mcpServers": [{"name": "a", "command": "a-bin"},
                {"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "x"}]}"#,
            vec![
                Change {
                    target: ChangeTarget::Global("listen".into()),
                    kind: ChangeKind::Modified,
                    fields: vec![],
                },
                Change {
                    target: ChangeTarget::Global("tools_limit".into()),
                    kind: ChangeKind::Modified,
                    fields: vec![],
                },
                Change {
                    target: ChangeTarget::Global("policy".into()),
                    kind: ChangeKind::Modified,
                    fields: vec![],
                },
            ],
        ),
        (
            "rename is remove + add",
            r#"{"mcpServers": [{"name": "a2", "command": "a-bin"},
                {"name": "b", "url": "http://127.0.0.1:1/mcp", "note": "x"}]}"#,
            vec![
                server_change("a", ChangeKind::Removed, &[]),
                server_change("a2", ChangeKind::Added, &[]),
            ],
        ),
    ];
    let old = cfg(base);
    for (name, new_text, want) in cases {
        let new = cfg(new_text);
        let d = diff(&old, &new);
        assert_eq!(d.changes, want, "{name}");
        assert_eq!(d.disk_generation, Some(new.generation), "{name}");
        assert_eq!(d.stamped_generation, None, "{name}");
    }
}

#[test]
fn connection_fields() {
    let base = cfg(r#"{"mcpServers": [{"name": "a", "command": "fixture", "args": ["healthy"]}]}"#)
        .servers[0]
        .clone();
    let with = |f: &dyn Fn(&mut ServerConfig)| {
        let mut s = base.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, ServerConfig, bool)> = vec![
        ("same", base.clone(), false),
        (
            "command",
            with(&|s: &mut ServerConfig| s.command = Some("other".into())),
            true,
        ),
        (
            "env",
            with(&|s: &mut ServerConfig| {
                s.env.insert("K".into(), "V".into());
            }),
            true,
        ),
        (
            "url",
            with(&|s: &mut ServerConfig| s.url = Some("http://x".into())),
            true,
        ),
        (
            "protocol",
            with(&|s: &mut ServerConfig| s.protocol = Protocol::Sse),
            true,
        ),
        (
            "headers",
            with(&|s: &mut ServerConfig| {
                s.headers.insert("A".into(), "b".into());
            }),
            true,
        ),
        (
            "working_dir",
            with(&|s: &mut ServerConfig| s.working_dir = Some("/tmp".into())),
            true,
        ),
        (
            "init_timeout",
            with(&|s: &mut ServerConfig| s.init_timeout = Some(Duration::from_secs(1))),
            true,
        ),
        (
            "enabled",
            with(&|s: &mut ServerConfig| s.enabled = false),
            false,
        ),
        (
            "reason",
            with(&|s: &mut ServerConfig| s.auto_disable_reason = Some("r".into())),
            false,
        ),
        (
            "extra",
            with(&|s: &mut ServerConfig| {
                s.extra.insert("k".into(), serde_json::json!(1));
            }),
            false,
        ),
        (
            "enabled_tools",
            with(&|s: &mut ServerConfig| s.enabled_tools = Some(vec!["echo".into()])),
            false,
        ),
        (
            "disabled_tools",
            with(&|s: &mut ServerConfig| s.disabled_tools = vec!["echo".into()]),
            false,
        ),
    ];
    for (name, other, expected) in cases {
        assert_eq!(connection_changed(&base, &other), expected, "field: {name}");
    }
}

mod properties {
    use super::*;
    use crate::config::arbitrary::valid_config;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_config_has_no_diff_with_itself(c in valid_config()) {
            prop_assert!(diff(&c, &c).is_empty());
        }

        /// The diff names exactly what differs: each server in one config only as removed or
        /// added, each server that differs as modified with the fields that differ, each
        /// global key whose value differs; nothing else, nothing twice.
        #[test]
        fn the_diff_names_exactly_what_differs(a in valid_config(), b in valid_config()) {
            let d = diff(&a, &b);
            let mut want = Vec::new();
            for s in &a.servers {
                if b.server(&s.name).is_none() {
                    want.push(Change { target: ChangeTarget::Server(s.name.clone()), kind: ChangeKind::Removed, fields: vec![] });
                }
            }
            for s in &b.servers {
                match a.server(&s.name) {
                    None => want.push(Change { target: ChangeTarget::Server(s.name.clone()), kind: ChangeKind::Added, fields: vec![] }),
                    Some(old) if old == s => {}
                    Some(old) => {
                        let fields = changed_server_fields(old, s);
                        prop_assert!(!fields.is_empty(), "{old:?} != {s:?} with no field named");
                        want.push(Change { target: ChangeTarget::Server(s.name.clone()), kind: ChangeKind::Modified, fields });
                    }
                }
            }
            for key in GlobalKey::ALL {
                if key.differs(&a, &b) {
                    want.push(Change { target: ChangeTarget::Global(key.name().into()), kind: ChangeKind::Modified, fields: vec![] });
                }
            }
            prop_assert_eq!(d.changes, want);
        }
    }
}
