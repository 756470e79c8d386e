//! The tool catalog the downstream handlers read: one snapshot of the Ready servers' tools
//! with its search index and the `/mcp/all` routing table.
//!
//! Rebuilt lazily, on the first read after `Backend::tools_changed` ticks, never per query;
//! readers share the snapshot through an `Arc`. It never talks to upstream servers itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rmcp::model::Tool;
use tokio::sync::watch;

use super::backend::{Backend, ToolEntry};
use super::names::direct_name;
use super::search::ToolIndex;

/// One snapshot of the tool set.
#[derive(Debug)]
pub struct Catalog {
    /// Tools ordered by server, then tool name.
    entries: Vec<ToolEntry>,
    index: ToolIndex,
    /// `server__tool` → position in `entries`.
    direct: HashMap<String, usize>,
}

impl Catalog {
    pub fn build(mut entries: Vec<ToolEntry>) -> Catalog {
        entries.sort_by(|a, b| (&a.server, &a.tool.name).cmp(&(&b.server, &b.tool.name)));
        let index = ToolIndex::build(&entries);
        let mut direct = HashMap::with_capacity(entries.len());
        for (position, entry) in entries.iter().enumerate() {
            let name = direct_name(&entry.server, &entry.tool.name);
            // Two pairs can only collide through `__` inside names; the first (in sorted
            // order) keeps the name so that routing stays deterministic.
            if direct.contains_key(&name) {
                tracing::warn!(tool = %name, "two upstream tools map to the same /mcp/all name; serving the first");
                continue;
            }
            direct.insert(name, position);
        }
        Catalog {
            entries,
            index,
            direct,
        }
    }

    pub fn entries(&self) -> &[ToolEntry] {
        &self.entries
    }

    pub fn index(&self) -> &ToolIndex {
        &self.index
    }

    /// The tools served at `/mcp/all`, renamed `server__tool`.
    pub fn direct_tools(&self) -> Vec<Tool> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(position, entry)| {
                let name = direct_name(&entry.server, &entry.tool.name);
                if self.direct.get(&name) != Some(&position) {
                    return None;
                }
                let mut tool = entry.tool.clone();
                tool.name = name.into();
                Some(tool)
            })
            .collect()
    }

    /// The `(server, tool)` behind an `/mcp/all` name.
    pub fn resolve_direct(&self, name: &str) -> Option<(&str, &str)> {
        let entry = self.entries.get(*self.direct.get(name)?)?;
        Some((entry.server.as_str(), entry.tool.name.as_ref()))
    }
}

/// Holds the current snapshot and rebuilds it when the backend's tool set has changed.
pub struct CatalogCache {
    backend: Arc<dyn Backend>,
    changes: Mutex<watch::Receiver<u64>>,
    current: Mutex<Option<Arc<Catalog>>>,
}

impl CatalogCache {
    pub fn new(backend: Arc<dyn Backend>) -> CatalogCache {
        let changes = backend.tools_changed();
        CatalogCache {
            backend,
            changes: Mutex::new(changes),
            current: Mutex::new(None),
        }
    }

    /// The current snapshot, rebuilt first if the backend ticked since the last build.
    pub fn get(&self) -> Arc<Catalog> {
        // Mark the tick as seen before reading the tools: a change that lands in between
        // ticks again and is picked up by the next read.
        let changed = {
            let mut changes = lock(&self.changes);
            let changed = changes.has_changed().unwrap_or(false);
            changes.borrow_and_update();
            changed
        };
        let mut current = lock(&self.current);
        if let Some(catalog) = current.as_ref()
            && !changed
        {
            return catalog.clone();
        }
        let catalog = Arc::new(Catalog::build(self.backend.tools()));
        *current = Some(catalog.clone());
        catalog
    }
}

/// The data behind these locks stays consistent even if a holder panicked (it is replaced
/// whole), so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::Tool;

    use super::*;

    fn entry(server: &str, tool: &str) -> ToolEntry {
        ToolEntry {
            server: server.to_string(),
            tool: Tool::new(
                tool.to_string(),
                format!("{tool} tool"),
                Arc::new(Default::default()),
            ),
        }
    }

    #[test]
    fn direct_names_route_to_server_and_tool() {
        let catalog = Catalog::build(vec![
            entry("weather", "get_alerts"),
            entry("fs", "read_file"),
            entry("fs", "write_file"),
        ]);
        let names: Vec<String> = catalog
            .direct_tools()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(
            names,
            ["fs__read_file", "fs__write_file", "weather__get_alerts"]
        );
        let cases = [
            ("fs__read_file", Some(("fs", "read_file"))),
            ("weather__get_alerts", Some(("weather", "get_alerts"))),
            ("fs__missing", None),
            ("read_file", None),
            ("fs:read_file", None),
        ];
        for (name, want) in cases {
            assert_eq!(catalog.resolve_direct(name), want, "{name}");
        }
    }

    #[test]
    fn colliding_direct_names_keep_the_first() {
        // "a__b" + "c" and "a" + "b__c" both give "a__b__c".
        let catalog = Catalog::build(vec![entry("a__b", "c"), entry("a", "b__c")]);
        assert_eq!(catalog.direct_tools().len(), 1);
        assert_eq!(catalog.resolve_direct("a__b__c"), Some(("a", "b__c")));
    }
}
