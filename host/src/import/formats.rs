//! Reading other clients' config files into `mcpServers` entries of ours.
//!
//! Formats, told apart by their keys:
//! - `mcpServers` as an object keyed by name (Claude Desktop, Cursor, Claude Code's
//!   `.mcp.json`); entries `{command, args, env, cwd}` or `{type, url, headers}`;
//! - `servers` keyed by name (VS Code's `mcp.json`), the same entries;
//! - `projects.<dir>.mcpServers` besides the top-level `mcpServers` (Claude Code's
//!   `~/.claude.json`);
//! - `mcpServers` as an array of entries with `name` (mcpproxy-go, and mcpproxy itself),
//!   taken as they are.
//!
//! Keys we have no equivalent for are dropped and named, so the user sees what was left out.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One server found in a file: its name, our entry for it, where it was found and the keys
/// of the original that were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub entry: Map<String, Value>,
    /// `FILE: mcpServers.NAME`, as messages show it.
    pub origin: String,
    pub dropped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not JSON: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error(
        "{}: no servers found: expected `mcpServers` (an object keyed by name, or an array) or \
         VS Code's `servers`", path.display()
    )]
    NoServers { path: PathBuf },
}

/// The servers in the file at `path`.
pub fn read_file(path: &Path) -> Result<Vec<Candidate>, FormatError> {
    let text = std::fs::read_to_string(path).map_err(|source| FormatError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| FormatError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    from_document(path, &doc)
}

/// The servers in `doc`, the content of `path`.
pub fn from_document(path: &Path, doc: &Value) -> Result<Vec<Candidate>, FormatError> {
    let file = path.display();
    let mut found = Vec::new();
    let mut any = false;
    match doc.get("mcpServers") {
        Some(Value::Array(entries)) => {
            any = true;
            for (i, entry) in entries.iter().enumerate() {
                let Some(object) = entry.as_object() else {
                    continue;
                };
                let name = object.get("name").and_then(Value::as_str).unwrap_or("");
                found.push(Candidate {
                    name: name.to_string(),
                    entry: object.clone(),
                    origin: format!("{file}: mcpServers[{i}]"),
                    dropped: Vec::new(),
                });
            }
        }
        Some(Value::Object(servers)) => {
            any = true;
            keyed(servers, &format!("{file}: mcpServers"), &mut found);
        }
        _ => {}
    }
    if let Some(Value::Object(servers)) = doc.get("servers") {
        any = true;
        keyed(servers, &format!("{file}: servers"), &mut found);
    }
    if let Some(Value::Object(projects)) = doc.get("projects") {
        for (dir, project) in projects {
            if let Some(Value::Object(servers)) = project.get("mcpServers") {
                any = true;
                keyed(
                    servers,
                    &format!("{file}: projects.{dir}.mcpServers"),
                    &mut found,
                );
            }
        }
    }
    if !any {
        return Err(FormatError::NoServers {
            path: path.to_path_buf(),
        });
    }
    Ok(found)
}

/// The entries of an object keyed by server name.
fn keyed(servers: &Map<String, Value>, at: &str, found: &mut Vec<Candidate>) {
    for (name, raw) in servers {
        let Some(raw) = raw.as_object() else {
            continue;
        };
        let (entry, dropped) = convert(name, raw);
        found.push(Candidate {
            name: name.clone(),
            entry,
            origin: format!("{at}.{name}"),
            dropped,
        });
    }
}

/// A keyed entry as ours, and the keys left out.
fn convert(name: &str, raw: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let mut entry = Map::new();
    entry.insert("name".into(), Value::String(name.to_string()));
    let mut dropped = Vec::new();
    for (key, value) in raw {
        match key.as_str() {
            "command" | "args" | "env" | "url" | "headers" => {
                entry.insert(key.clone(), value.clone());
            }
            "cwd" => {
                entry.insert("working_dir".into(), value.clone());
            }
            "type" | "transport" => match value.as_str().and_then(protocol) {
                Some(p) => {
                    entry.insert("protocol".into(), Value::String(p.into()));
                }
                None => dropped.push(key.clone()),
            },
            "disabled" | "enabled" if value.is_boolean() => {
                let on = value.as_bool() == Some(key == "enabled");
                entry.insert("enabled".into(), Value::Bool(on));
            }
            _ => dropped.push(key.clone()),
        }
    }
    (entry, dropped)
}

/// Our `protocol` for a client's `type`.
fn protocol(kind: &str) -> Option<&'static str> {
    match kind.to_ascii_lowercase().as_str() {
        "stdio" => Some("stdio"),
        "http" | "streamable-http" | "streamablehttp" | "streamable_http" => Some("http"),
        "sse" => Some("sse"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(found: &[Candidate]) -> Vec<&str> {
        found.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn keyed_entries_become_ours() {
        let doc = json!({"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "fs"], "env": {"A": "1"}, "cwd": "/w"},
            "remote": {"type": "http", "url": "https://x.example/mcp",
                       "headers": {"Authorization": "Bearer ${env:X}"}},
            "old": {"command": "x", "disabled": true, "envFile": ".env"}
        }});
        let found = from_document(Path::new("c.json"), &doc).unwrap();
        assert_eq!(names(&found), ["fs", "remote", "old"]);
        assert_eq!(
            Value::Object(found[0].entry.clone()),
            json!({"name": "fs", "command": "npx", "args": ["-y", "fs"], "env": {"A": "1"},
                   "working_dir": "/w"})
        );
        assert_eq!(found[1].entry["protocol"], "http");
        assert_eq!(found[1].origin, "c.json: mcpServers.remote");
        assert_eq!(found[2].entry["enabled"], false);
        assert_eq!(found[2].dropped, ["envFile"]);
    }

    #[test]
    fn vscode_claude_code_and_mcpproxy_go() {
        let vscode =
            json!({"inputs": [], "servers": {"gh": {"type": "sse", "url": "http://h/sse"}}});
        let found = from_document(Path::new("mcp.json"), &vscode).unwrap();
        assert_eq!(found[0].entry["protocol"], "sse");

        let claude_code = json!({
            "mcpServers": {"user": {"command": "u"}},
            "projects": {"/p": {"mcpServers": {"local": {"type": "stdio", "command": "l"}}},
                         "/q": {"allowedTools": []}}
        });
        let found = from_document(Path::new(".claude.json"), &claude_code).unwrap();
        assert_eq!(names(&found), ["user", "local"]);
        assert_eq!(
            found[1].origin,
            ".claude.json: projects./p.mcpServers.local"
        );

        let go = json!({"mcpServers": [{"name": "a", "url": "http://a", "quarantined": true}]});
        let found = from_document(Path::new("go.json"), &go).unwrap();
        assert_eq!(found[0].entry["quarantined"], true, "taken as it is");
    }

    #[test]
    fn a_file_without_servers_says_what_it_expected() {
        let error = from_document(Path::new("x.json"), &json!({"theme": "dark"})).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("x.json: no servers found") && text.contains("mcpServers"),
            "{text}"
        );
    }
}
