//! What an import would do to the config: each server found is added, skipped (the config
//! has it already, the same), a conflict (a server of that name exists and differs) or
//! invalid (mcpproxy could not run it as written). Pure: the config document and the
//! candidates in, the plan out; nothing is ever overwritten.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::formats::Candidate;
use crate::config::load::{SERVERS_KEY, parse_server};
use crate::config::{ConfigError, ServerConfig, connection_changed};

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Add,
    Skip(String),
    Conflict(String),
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub candidate: Candidate,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// The entries to add, in the order found.
    pub fn additions(&self) -> Vec<Map<String, Value>> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Add)
            .map(|s| s.candidate.entry.clone())
            .collect()
    }

    /// How many steps have an outcome like `which`.
    fn count(&self, which: fn(&Outcome) -> bool) -> usize {
        self.steps.iter().filter(|s| which(&s.outcome)).count()
    }

    /// `2 to add, 1 skipped, 1 conflict, 0 invalid`.
    pub fn summary(&self) -> String {
        format!(
            "{} to add, {} skipped, {} conflicts, {} invalid",
            self.count(|o| *o == Outcome::Add),
            self.count(|o| matches!(o, Outcome::Skip(_))),
            self.count(|o| matches!(o, Outcome::Conflict(_))),
            self.count(|o| matches!(o, Outcome::Invalid(_))),
        )
    }
}

/// One line per server: what happens to it, and why; then the summary.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            let c = &step.candidate;
            let (word, why) = match &step.outcome {
                Outcome::Add => ("add", String::new()),
                Outcome::Skip(why) => ("skip", format!(": {why}")),
                Outcome::Conflict(why) => ("conflict", format!(": {why}")),
                Outcome::Invalid(why) => ("invalid", format!(": {why}")),
            };
            writeln!(f, "{word:<9}{:<24} from {}{why}", c.name, c.origin)?;
            if !c.dropped.is_empty() && step.outcome == Outcome::Add {
                writeln!(f, "{:9}(left out: {})", "", c.dropped.join(", "))?;
            }
        }
        write!(f, "{}", self.summary())
    }
}

/// What importing `candidates` into the config document `doc` (of the file at `config`)
/// would do. A name found twice in the import counts once: the first.
pub fn plan(config: &Path, doc: &Map<String, Value>, candidates: Vec<Candidate>) -> Plan {
    let mut have: BTreeMap<String, (ServerConfig, String)> = BTreeMap::new();
    if let Some(Value::Array(entries)) = doc.get(SERVERS_KEY) {
        for (i, entry) in entries.iter().enumerate() {
            if let Ok(server) = parse_server(config, i, entry) {
                let at = format!("{}", config.display());
                have.insert(server.name.clone(), (server, at));
            }
        }
    }
    let mut steps = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let at = Path::new(&candidate.origin);
        let outcome = match parse_server(at, 0, &Value::Object(candidate.entry.clone())) {
            Err(error) => Outcome::Invalid(without_location(error)),
            Ok(server) => match have.get(&server.name) {
                Some((old, where_)) if connection_changed(old, &server) => {
                    Outcome::Conflict(format!(
                        "a different server of that name is in {where_}; not imported (remove \
                         or rename one of them)"
                    ))
                }
                Some((_, where_)) => Outcome::Skip(format!("already in {where_}")),
                None => {
                    have.insert(server.name.clone(), (server, candidate.origin.clone()));
                    Outcome::Add
                }
            },
        };
        steps.push(Step { candidate, outcome });
    }
    Plan { steps }
}

/// The config error without the file and position, which the plan shows itself.
fn without_location(error: ConfigError) -> String {
    match error {
        ConfigError::Invalid { field, message, .. } => format!("field \"{field}\": {message}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn candidate(name: &str, entry: Value) -> Candidate {
        let mut entry = entry.as_object().unwrap().clone();
        entry.insert("name".into(), json!(name));
        Candidate {
            name: name.into(),
            entry,
            origin: format!("claude.json: mcpServers.{name}"),
            dropped: Vec::new(),
        }
    }

    #[test]
    fn adds_skips_and_conflicts_and_never_overwrites() {
        let doc = json!({"mcpServers": [
            {"name": "same", "command": "a"},
            {"name": "differs", "command": "a"},
        ]});
        let plan = plan(
            Path::new("mcp_config.json"),
            doc.as_object().unwrap(),
            vec![
                candidate("new", json!({"command": "n", "args": ["x"]})),
                candidate("same", json!({"command": "a"})),
                candidate("differs", json!({"command": "b"})),
                candidate("new", json!({"command": "other"})),
                candidate("bad", json!({"args": ["no command"]})),
            ],
        );
        let outcomes: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match s.outcome {
                Outcome::Add => "add",
                Outcome::Skip(_) => "skip",
                Outcome::Conflict(_) => "conflict",
                Outcome::Invalid(_) => "invalid",
            })
            .collect();
        assert_eq!(outcomes, ["add", "skip", "conflict", "conflict", "invalid"]);
        assert_eq!(plan.additions().len(), 1);
        let text = plan.to_string();
        assert!(
            text.contains("conflict differs") && text.contains("mcp_config.json"),
            "{text}"
        );
        assert!(
            text.contains("a different server of that name is in claude.json: mcpServers.new"),
            "{text}"
        );
        assert!(
            text.contains("invalid  bad") && text.contains("command"),
            "{text}"
        );
        assert!(
            text.ends_with("1 to add, 1 skipped, 2 conflicts, 1 invalid"),
            "{text}"
        );
    }
}
