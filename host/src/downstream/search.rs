//! The tool index behind `retrieve_tools`: BM25 ranking (the `bm25` crate) over the names,
//! titles and descriptions of the tools of Ready servers.
//!
//! Built from a snapshot of tool entries and never mutated: when the tool set changes, the
//! caller builds a new index. It must never do I/O or talk to upstream servers.

use std::cmp::Ordering;

use bm25::{Embedder, EmbedderBuilder, Language, Scorer};
use rmcp::model::JsonObject;
use serde::Serialize;

use super::ToolEntry;

/// One search result, as `retrieve_tools` returns it: the tool's whole definition as its
/// server gives it (`title`, `description`, `inputSchema`, `outputSchema`, `annotations`,
/// `icons`, `_meta`), named `server:tool`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// `server:tool`, the name `call_tool` takes.
    pub name: String,
    pub server: String,
    /// The tool's own name on its server.
    pub tool: String,
    pub score: f32,
    /// Every other field of the tool's definition.
    #[serde(flatten)]
    pub definition: JsonObject,
}

/// A BM25 index over a fixed set of tools.
pub struct ToolIndex {
    entries: Vec<ToolEntry>,
    /// Tokenises and weighs text; fit to this tool set's average document length.
    embedder: Embedder,
    /// Document embeddings keyed by position in `entries`.
    scorer: Scorer<usize>,
}

impl std::fmt::Debug for ToolIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolIndex")
            .field("tools", &self.entries.len())
            .finish()
    }
}

impl ToolIndex {
    pub fn build(entries: &[ToolEntry]) -> ToolIndex {
        let documents: Vec<String> = entries.iter().map(document_text).collect();
        let corpus: Vec<&str> = documents.iter().map(String::as_str).collect();
        let embedder: Embedder =
            EmbedderBuilder::with_fit_to_corpus(Language::English, &corpus).build();
        let mut scorer = Scorer::new();
        for (position, document) in documents.iter().enumerate() {
            scorer.upsert(&position, embedder.embed(document));
        }
        ToolIndex {
            entries: entries.to_vec(),
            embedder,
            scorer,
        }
    }

    /// Number of tools indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best `limit` tools for `query`, best first; tools that share no term with the
    /// query are not returned. Equal scores are ordered by name so results are stable.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        if limit == 0 || self.entries.is_empty() {
            return Vec::new();
        }
        let query = self.embedder.embed(&identifier_words(query));
        let mut matches = self.scorer.matches(&query);
        // The scorer's order among equal scores depends on hash-set iteration: break ties by
        // `server:tool` so results are stable. Hits (which copy schemas) are made only for
        // the ones returned.
        let key = |id: usize| {
            self.entries
                .get(id)
                .map(|e| (e.server.as_str(), e.tool.name.as_ref()))
        };
        matches.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| key(a.id).cmp(&key(b.id)))
        });
        matches
            .into_iter()
            .take(limit)
            .filter_map(|scored| Some(hit(self.entries.get(scored.id)?, scored.score)))
            .collect()
    }
}

fn hit(entry: &ToolEntry, score: f32) -> Hit {
    let mut definition = serde_json::to_value(&entry.tool).unwrap_or_default();
    // The whole definition, `execution` where 2025-11-25 has it.
    crate::legacy_tasks::lift(&mut definition);
    let mut definition = match definition {
        serde_json::Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    definition.remove("name");
    Hit {
        name: format!("{}:{}", entry.server, entry.tool.name),
        server: entry.server.clone(),
        tool: entry.tool.name.to_string(),
        score,
        definition,
    }
}

/// The text a tool is found by. The tool name is split into words (`read_file` →
/// `read file`) and given twice, so a name match outweighs a passing mention in some other
/// tool's description.
fn document_text(entry: &ToolEntry) -> String {
    let name = identifier_words(&entry.tool.name);
    let mut text = format!("{name} {name} {}", identifier_words(&entry.server));
    if let Some(title) = &entry.tool.title {
        text.push(' ');
        text.push_str(title);
    }
    if let Some(description) = &entry.tool.description {
        text.push(' ');
        text.push_str(description);
    }
    text
}

/// Splits identifiers into words: separators (`_ - . : /`) become spaces and a lower-case
/// letter followed by an upper-case one starts a new word (`getWeather` → `get Weather`).
/// Plain prose passes through unchanged.
pub fn identifier_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if matches!(c, '_' | '-' | '.' | ':' | '/') {
            out.push(' ');
        } else {
            if c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit())
            {
                out.push(' ');
            }
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rmcp::model::Tool;
    use serde_json::json;

    use super::*;

    fn entry(server: &str, name: &str, description: &str) -> ToolEntry {
        let schema = json!({"type": "object", "properties": {"x": {"type": "string"}}});
        let schema = schema.as_object().cloned().unwrap_or_default();
        ToolEntry {
            server: server.to_string(),
            tool: Tool::new(name.to_string(), description.to_string(), Arc::new(schema)),
        }
    }

    fn catalog() -> Vec<ToolEntry> {
        vec![
            entry("fs", "read_file", "Read the contents of a file from disk"),
            entry("fs", "write_file", "Write text to a file on disk"),
            entry("fs", "list_directory", "List the entries of a directory"),
            entry("weather", "getForecast", "Weather forecast for a city"),
            entry(
                "weather",
                "get_alerts",
                "Severe weather alerts for a US state",
            ),
            entry("git", "git_commit", "Record changes to the repository"),
            entry("git", "git_log", "Show the commit history of a repository"),
            entry("search", "web_search", "Search the web with a query"),
        ]
    }

    #[test]
    fn identifier_words_splits_names() {
        let cases = [
            ("read_file", "read file"),
            ("getForecast", "get Forecast"),
            ("list-dir.v2", "list dir v2"),
            ("server:tool", "server tool"),
            ("HTTPServer", "HTTPServer"),
            ("fetch2Json", "fetch2 Json"),
            ("plain words stay", "plain words stay"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(identifier_words(input), want, "input {input:?}");
        }
    }

    #[test]
    fn ranks_the_matching_tool_first() {
        let index = ToolIndex::build(&catalog());
        let cases = [
            ("read a file", "fs:read_file"),
            ("write file", "fs:write_file"),
            ("weather forecast", "weather:getForecast"),
            ("forecast", "weather:getForecast"),
            ("alerts for my state", "weather:get_alerts"),
            ("commit history", "git:git_log"),
            ("git commit", "git:git_commit"),
            ("search the web", "search:web_search"),
            ("directory listing", "fs:list_directory"),
            ("read_file", "fs:read_file"),
        ];
        for (query, want) in cases {
            let hits = index.search(query, 3);
            assert!(!hits.is_empty(), "no hits for {query:?}");
            assert_eq!(hits[0].name, want, "query {query:?}: {hits:#?}");
        }
    }

    #[test]
    fn honours_limit_and_orders_by_score() {
        let index = ToolIndex::build(&catalog());
        for limit in [0, 1, 2, 3] {
            let hits = index.search("file", limit);
            assert_eq!(hits.len(), limit.min(2), "limit {limit}");
        }
        let hits = index.search("weather repository file", 10);
        assert!(hits.len() >= 6, "{hits:#?}");
        for pair in hits.windows(2) {
            assert!(pair[0].score >= pair[1].score, "{hits:#?}");
        }
    }

    #[test]
    fn hit_carries_server_tool_description_and_schema() {
        let index = ToolIndex::build(&catalog());
        let hits = index.search("forecast", 1);
        let hit = &hits[0];
        assert_eq!(hit.server, "weather");
        assert_eq!(hit.tool, "getForecast");
        assert_eq!(hit.definition["description"], "Weather forecast for a city");
        assert_eq!(hit.definition["inputSchema"]["type"], "object");
        assert!(hit.definition.get("name").is_none());
        assert!(hit.score > 0.0);
    }

    #[test]
    fn a_hit_carries_the_tools_execution_where_2025_11_25_has_it() {
        let mut entries = catalog();
        let execution = serde_json::json!({"taskSupport": "optional"});
        let mut meta = rmcp::model::MetaObject::default();
        meta.insert(
            crate::legacy_tasks::EXECUTION.to_string(),
            execution.clone(),
        );
        entries[0].tool.meta = Some(meta);
        let name = entries[0].tool.name.to_string();
        let hits = ToolIndex::build(&entries).search(&name, 1);
        assert_eq!(hits[0].definition["execution"], execution);
        assert!(hits[0].definition.get("_meta").is_none(), "{:?}", hits[0]);
    }

    #[test]
    fn no_match_and_empty_index_return_nothing() {
        let index = ToolIndex::build(&catalog());
        assert!(index.search("zebra", 5).is_empty());
        assert!(index.search("", 5).is_empty());
        let empty = ToolIndex::build(&[]);
        assert!(empty.is_empty());
        assert!(empty.search("file", 5).is_empty());
    }

    #[test]
    fn equal_scores_are_ordered_by_name() {
        let tools = vec![
            entry("beta", "echo", "Echo the input"),
            entry("alpha", "echo", "Echo the input"),
            entry("gamma", "echo", "Echo the input"),
        ];
        let index = ToolIndex::build(&tools);
        let names: Vec<String> = index
            .search("echo", 10)
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["alpha:echo", "beta:echo", "gamma:echo"]);
    }
}
