//! Generated config files for property tests (`proptest`): documents a user could write, valid
//! ones and arbitrary JSON, and pairs of valid configs to diff. Test-only.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::load::from_document;
use super::model::Config;

/// Server names: few, so that two generated configs share servers.
const NAMES: [&str; 6] = ["a", "b", "c", "github", "fs", "weather"];

/// One valid `mcpServers` entry named `name`.
fn server_entry(name: &'static str) -> impl Strategy<Value = Value> {
    let transport = prop_oneof![
        prop::collection::vec("[a-z0-9-]{1,6}", 0..3)
            .prop_map(|args| json!({"command": "fixture", "args": args})),
        (0u16..3).prop_map(|p| json!({"url": format!("http://127.0.0.1:{}/mcp", 8000 + p)})),
        Just(json!({"url": "http://127.0.0.1:9/sse", "protocol": "sse"})),
    ];
    (
        transport,
        any::<Option<bool>>(),
        any::<Option<bool>>(),
        prop::option::of("[a-z ]{0,12}"),
        prop::option::of(1u64..120),
        prop::option::of(prop::collection::btree_map(
            "[A-Z]{1,3}",
            "[a-z]{0,3}",
            0..3,
        )),
        prop::option::of("[a-z]{0,8}"),
    )
        .prop_map(
            move |(transport, enabled, auto, reason, timeout, env, note)| {
                let mut entry = transport.as_object().cloned().unwrap_or_default();
                entry.insert("name".into(), json!(name));
                let mut put = |key: &str, value: Option<Value>| {
                    if let Some(v) = value {
                        entry.insert(key.into(), v);
                    }
                };
                put("enabled", enabled.map(Value::Bool));
                put("auto_disabled", auto.map(Value::Bool));
                put("auto_disable_reason", reason.map(Value::String));
                put("init_timeout", timeout.map(|s| json!(format!("{s}s"))));
                put("env", env.map(|e| json!(e)));
                put("description", note.map(Value::String));
                Value::Object(entry)
            },
        )
}

/// A valid config document: some of the servers, in some order, and some top-level keys.
pub fn valid_document() -> impl Strategy<Value = Map<String, Value>> {
    let servers = prop::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len())
        .prop_flat_map(|names| names.into_iter().map(server_entry).collect::<Vec<_>>())
        .prop_shuffle();
    (
        servers,
        prop::option::of(1u64..60),
        prop::option::of(0u64..120),
        prop::option::of(1u64..40),
        prop::option::of(1u64..20),
    )
        .prop_map(|(servers, init, health, tools, deadline)| {
            let mut doc = Map::new();
            doc.insert("mcpServers".into(), Value::Array(servers));
            if let Some(s) = init {
                doc.insert("init_timeout".into(), json!(s));
            }
            if let Some(s) = health {
                doc.insert("health_check_interval".into(), json!(format!("{s}s")));
            }
            if let Some(n) = tools {
                doc.insert("tools_limit".into(), json!(n));
            }
            if let Some(ms) = deadline {
                doc.insert("policy".into(), json!({"deadline_ms": ms}));
            }
            doc
        })
}

/// A valid config, parsed.
pub fn valid_config() -> impl Strategy<Value = Config> {
    valid_document().prop_map(|doc| {
        from_document(Path::new("gen.json"), &doc).expect("generated documents are valid")
    })
}

/// Any JSON value, nested a little: what a broken or hostile edit could hold anywhere.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("mcpServers".to_string()),
                    Just("name".to_string()),
                    Just("command".to_string()),
                    Just("url".to_string()),
                    Just("init_timeout".to_string()),
                    Just("policy".to_string()),
                    Just("enabled".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
