//! The daemon's edits to the config document, applied to the raw JSON so that unknown keys
//! and the user's key order survive. Pure: document in, document out.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::ConfigError;
use super::load::{
    DEFAULT_QUARANTINE_NEW_SERVERS, QUARANTINE_NEW_SERVERS_KEY, SERVERS_KEY, parse_server,
};
use super::model::ServerConfig;

/// One change the daemon wants in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEdit {
    /// The policy switched a server off.
    SetAutoDisabled {
        server: String,
        reason: String,
    },
    /// The user switched a server on or off (`ServerConfig::enable` / `disable`).
    SetEnabled {
        server: String,
        enabled: bool,
    },
    /// A new `mcpServers` entry, validated like one in the file.
    AddServer {
        entry: Map<String, Value>,
    },
    RemoveServer {
        server: String,
    },
    /// Servers the user brings in from other clients' configs (`mcpproxy import`), in one
    /// save: validated like entries in the file, trusted as the user's own edit (each keeps
    /// its own `quarantined`), refused whole if any name is taken.
    Import {
        entries: Vec<Map<String, Value>>,
    },
    /// The user trusts a quarantined server (`ServerConfig::approve`).
    Approve {
        server: String,
    },
    /// The policy's tool review quarantined the server.
    Quarantine {
        server: String,
    },
}

impl ConfigEdit {
    /// Whether this edit only changes runtime state (which a state file can hold when the
    /// config cannot be written).
    pub fn is_runtime_state(&self) -> bool {
        matches!(
            self,
            ConfigEdit::SetAutoDisabled { .. } | ConfigEdit::SetEnabled { .. }
        )
    }

    /// The servers the edit is about.
    pub fn servers(&self) -> Vec<&str> {
        fn name(entry: &Map<String, Value>) -> Option<&str> {
            entry.get("name").and_then(Value::as_str)
        }
        match self {
            ConfigEdit::SetAutoDisabled { server, .. }
            | ConfigEdit::SetEnabled { server, .. }
            | ConfigEdit::RemoveServer { server }
            | ConfigEdit::Approve { server }
            | ConfigEdit::Quarantine { server } => vec![server],
            ConfigEdit::AddServer { entry } => name(entry).into_iter().collect(),
            ConfigEdit::Import { entries } => entries.iter().filter_map(name).collect(),
        }
    }

    /// A short description for errors and logs.
    pub fn label(&self) -> String {
        let names = self.servers();
        let name = names.first().copied().unwrap_or("?");
        match self {
            ConfigEdit::SetAutoDisabled { .. } => format!("auto-disable {name}"),
            ConfigEdit::SetEnabled { enabled: true, .. } => format!("enable {name}"),
            ConfigEdit::SetEnabled { enabled: false, .. } => format!("disable {name}"),
            ConfigEdit::AddServer { .. } => format!("add {name}"),
            ConfigEdit::RemoveServer { .. } => format!("remove {name}"),
            ConfigEdit::Import { .. } => format!("import {}", names.join(", ")),
            ConfigEdit::Approve { .. } => format!("approve {name}"),
            ConfigEdit::Quarantine { .. } => format!("quarantine {name}"),
        }
    }
}

/// Applies `edit` to the document of the file at `path` (named in errors). On error the
/// document is unchanged.
pub fn apply(
    path: &Path,
    doc: &mut Map<String, Value>,
    edit: &ConfigEdit,
) -> Result<(), ConfigError> {
    let unknown = |server: &str| ConfigError::UnknownServer {
        file: path.to_path_buf(),
        server: server.to_string(),
    };
    match edit {
        ConfigEdit::SetAutoDisabled { server, reason } => {
            update_runtime_state(path, doc, server, |s| s.auto_disable(reason.clone()))?;
        }
        ConfigEdit::SetEnabled { server, enabled } => {
            update_runtime_state(path, doc, server, |s| match enabled {
                true => s.enable(),
                false => s.disable(),
            })?;
        }
        ConfigEdit::AddServer { entry } => {
            // A client's server is not trusted until a user approves it, unless the config
            // says otherwise; whatever the entry itself claims.
            let mut entry = entry.clone();
            if quarantines_new_servers(doc) {
                entry.insert("quarantined".into(), Value::Bool(true));
            }
            push_server(path, servers_mut(doc, path)?, entry)?;
        }
        ConfigEdit::Import { entries } => {
            // Into a copy first: a refused entry leaves the document as it was.
            let mut servers = servers_mut(doc, path)?.clone();
            for entry in entries {
                push_server(path, &mut servers, entry.clone())?;
            }
            *servers_mut(doc, path)? = servers;
        }
        ConfigEdit::RemoveServer { server } => {
            let servers = servers_mut(doc, path)?;
            let i = position(servers, server).ok_or_else(|| unknown(server))?;
            servers.remove(i);
        }
        ConfigEdit::Approve { server } => {
            let servers = servers_mut(doc, path)?;
            let i = position(servers, server).ok_or_else(|| unknown(server))?;
            let mut parsed = parse_server(path, i, &servers[i])?;
            if !parsed.quarantined {
                return Err(ConfigError::Invalid {
                    file: path.to_path_buf(),
                    server: Some(format!("{SERVERS_KEY}[{i}] {server:?}")),
                    field: "quarantined".into(),
                    message: "the server is not quarantined: nothing to approve".into(),
                });
            }
            parsed.approve();
            if let Some(entry) = servers[i].as_object_mut() {
                entry.insert("quarantined".into(), Value::Bool(parsed.quarantined));
            }
        }
        ConfigEdit::Quarantine { server } => {
            let servers = servers_mut(doc, path)?;
            let i = position(servers, server).ok_or_else(|| unknown(server))?;
            let mut parsed = parse_server(path, i, &servers[i])?;
            parsed.quarantine();
            if let Some(entry) = servers[i].as_object_mut() {
                entry.insert("quarantined".into(), Value::Bool(parsed.quarantined));
            }
        }
    }
    Ok(())
}

/// Appends `entry` to `servers` once it is valid and its name is free.
fn push_server(
    path: &Path,
    servers: &mut Vec<Value>,
    entry: Map<String, Value>,
) -> Result<(), ConfigError> {
    let candidate = Value::Object(entry);
    let parsed = parse_server(path, servers.len(), &candidate)?;
    if let Some(i) = position(servers, &parsed.name) {
        return Err(ConfigError::Invalid {
            file: path.to_path_buf(),
            server: Some(format!(
                "{SERVERS_KEY}[{}] {:?}",
                servers.len(),
                parsed.name
            )),
            field: "name".into(),
            message: format!("duplicate server name (also {SERVERS_KEY}[{i}])"),
        });
    }
    servers.push(candidate);
    Ok(())
}

/// The document's `quarantine_new_servers` (a wrong type is the loader's to report, and
/// quarantines).
fn quarantines_new_servers(doc: &Map<String, Value>) -> bool {
    doc.get(QUARANTINE_NEW_SERVERS_KEY)
        .and_then(Value::as_bool)
        .unwrap_or(DEFAULT_QUARANTINE_NEW_SERVERS)
}

/// Applies one of the model's rules (`ServerConfig::enable` and the like) to server `name`'s
/// entry and writes its runtime keys back; the other keys stay as the user wrote them.
fn update_runtime_state(
    path: &Path,
    doc: &mut Map<String, Value>,
    name: &str,
    rule: impl FnOnce(&mut ServerConfig),
) -> Result<(), ConfigError> {
    let unknown = || ConfigError::UnknownServer {
        file: path.to_path_buf(),
        server: name.to_string(),
    };
    let servers = doc
        .get_mut(SERVERS_KEY)
        .and_then(Value::as_array_mut)
        .ok_or_else(unknown)?;
    let index = position(servers, name).ok_or_else(unknown)?;
    let mut server = parse_server(path, index, &servers[index])?;
    rule(&mut server);
    if let Some(entry) = servers[index].as_object_mut() {
        write_runtime_state(
            entry,
            server.enabled,
            server.auto_disabled,
            server.auto_disable_reason.as_deref(),
        );
    }
    Ok(())
}

/// Writes a server's runtime state into its entry: `enabled` (`true` only where the key
/// already exists: absent means enabled), then `auto_disabled` and its reason, both removed
/// when the server is not auto-disabled.
pub fn write_runtime_state(
    entry: &mut Map<String, Value>,
    enabled: bool,
    auto_disabled: bool,
    reason: Option<&str>,
) {
    if !enabled || entry.contains_key("enabled") {
        entry.insert("enabled".into(), Value::Bool(enabled));
    }
    if auto_disabled {
        entry.insert("auto_disabled".into(), Value::Bool(true));
        match reason {
            Some(r) => entry.insert("auto_disable_reason".into(), Value::String(r.into())),
            None => entry.remove("auto_disable_reason"),
        };
    } else {
        entry.remove("auto_disabled");
        entry.remove("auto_disable_reason");
    }
}

/// The entry of server `name`, if the document has one.
pub fn find_entry<'a>(
    doc: &'a mut Map<String, Value>,
    name: &str,
) -> Option<&'a mut Map<String, Value>> {
    doc.get_mut(SERVERS_KEY)?
        .as_array_mut()?
        .iter_mut()
        .filter_map(Value::as_object_mut)
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

/// The entry of server `name`, read-only.
pub fn entry_of<'a>(doc: &'a Map<String, Value>, name: &str) -> Option<&'a Map<String, Value>> {
    doc.get(SERVERS_KEY)?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

fn position(servers: &[Value], name: &str) -> Option<usize> {
    servers
        .iter()
        .position(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

fn servers_mut<'a>(
    doc: &'a mut Map<String, Value>,
    path: &Path,
) -> Result<&'a mut Vec<Value>, ConfigError> {
    let slot = doc
        .entry(SERVERS_KEY)
        .or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().ok_or_else(|| ConfigError::Invalid {
        file: path.to_path_buf(),
        server: None,
        field: SERVERS_KEY.into(),
        message: "expected an array of servers".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn edits_table() {
        let base = json!({"z": 1, "mcpServers": [
            {"name": "a", "command": "x", "keep": true},
            {"name": "b", "command": "y", "enabled": false, "auto_disabled": true, "auto_disable_reason": "r"}
        ], "generation": 2});
        let sa = |s: &str, r: &str| ConfigEdit::SetAutoDisabled {
            server: s.into(),
            reason: r.into(),
        };
        let en = |s: &str, e: bool| ConfigEdit::SetEnabled {
            server: s.into(),
            enabled: e,
        };
        let cases: Vec<(&str, ConfigEdit, Result<Value, &str>)> = vec![
            (
                "auto-disable",
                sa("a", "boom"),
                Ok(json!({"z": 1, "mcpServers": [
                    {"name": "a", "command": "x", "keep": true, "auto_disabled": true, "auto_disable_reason": "boom"},
                    {"name": "b", "command": "y", "enabled": false, "auto_disabled": true, "auto_disable_reason": "r"}
                ], "generation": 2})),
            ),
            (
                "enable clears auto-disable",
                en("b", true),
                Ok(json!({"z": 1, "mcpServers": [
                    {"name": "a", "command": "x", "keep": true},
                    {"name": "b", "command": "y", "enabled": true}
                ], "generation": 2})),
            ),
            (
                "disable keeps auto-disable record",
                en("a", false),
                Ok(json!({"z": 1, "mcpServers": [
                    {"name": "a", "command": "x", "keep": true, "enabled": false},
                    {"name": "b", "command": "y", "enabled": false, "auto_disabled": true, "auto_disable_reason": "r"}
                ], "generation": 2})),
            ),
            (
                "remove",
                ConfigEdit::RemoveServer { server: "a".into() },
                Ok(json!({"z": 1, "mcpServers": [
                    {"name": "b", "command": "y", "enabled": false, "auto_disabled": true, "auto_disable_reason": "r"}
                ], "generation": 2})),
            ),
            (
                "unknown server",
                sa("nope", "x"),
                Err("no server named \"nope\""),
            ),
            (
                "add duplicate",
                ConfigEdit::AddServer {
                    entry: doc(json!({"name": "a", "command": "q"})),
                },
                Err("mcpServers[2] \"a\": field \"name\": duplicate"),
            ),
            (
                "add invalid",
                ConfigEdit::AddServer {
                    entry: doc(json!({"name": "c", "url": "nope"})),
                },
                Err("mcpServers[2] \"c\": field \"url\": not a valid URL"),
            ),
        ];
        for (name, edit, want) in cases {
            let mut d = doc(base.clone());
            let got = apply(Path::new("f.json"), &mut d, &edit);
            match want {
                Ok(v) => {
                    got.unwrap();
                    // Compare serialised text: key order matters.
                    assert_eq!(serde_json::to_string(&d).unwrap(), v.to_string(), "{name}");
                }
                Err(msg) => {
                    let e = got.unwrap_err().to_string();
                    assert!(e.contains(msg), "{name}: {e}");
                    assert_eq!(d, doc(base.clone()), "{name}: document changed on error");
                }
            }
        }
    }

    #[test]
    fn add_to_a_document_without_servers() {
        let mut d = doc(json!({"listen": "127.0.0.1:1"}));
        let entry = doc(json!({"name": "n", "url": "http://127.0.0.1:2/mcp", "x-extra": 1}));
        apply(
            Path::new("f.json"),
            &mut d,
            &ConfigEdit::AddServer { entry },
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"listen":"127.0.0.1:1","mcpServers":[{"name":"n","url":"http://127.0.0.1:2/mcp","x-extra":1,"quarantined":true}]}"#,
            "a client's server starts quarantined"
        );
    }

    #[test]
    fn an_import_is_one_edit_trusted_as_the_users_and_refused_whole() {
        let base = json!({"mcpServers": [{"name": "a", "command": "x"}]});
        let entry = |v: Value| v.as_object().unwrap().clone();
        let path = Path::new("c.json");
        let mut d = doc(base.clone());
        let edit = ConfigEdit::Import {
            entries: vec![
                entry(json!({"name": "b", "command": "y"})),
                entry(json!({"name": "c", "url": "http://c", "quarantined": true})),
            ],
        };
        assert_eq!(edit.servers(), ["b", "c"]);
        assert_eq!(edit.label(), "import b, c");
        apply(path, &mut d, &edit).unwrap();
        assert_eq!(
            Value::Object(d),
            json!({"mcpServers": [{"name": "a", "command": "x"}, {"name": "b", "command": "y"},
                                  {"name": "c", "url": "http://c", "quarantined": true}]}),
            "not quarantined by the import; each keeps its own key"
        );

        let mut d = doc(base.clone());
        let clash = ConfigEdit::Import {
            entries: vec![
                entry(json!({"name": "b", "command": "y"})),
                entry(json!({"name": "a", "command": "other"})),
            ],
        };
        let error = apply(path, &mut d, &clash).unwrap_err().to_string();
        assert!(error.contains("duplicate server name"), "{error}");
        assert_eq!(Value::Object(d), base, "nothing added");
    }
}
