//! The catalog the downstream handlers read: one snapshot of what the Ready servers offer
//! (tools with their search index, resources, templates, prompts, capabilities and
//! instructions) as one endpoint shows it, with the tables that route names and URIs back to
//! their server.
//!
//! Names: at `/mcp/all` (and `/mcp`), tools and prompts are `server__name` (see
//! `names::direct_name`); at `/mcp/server/<name>` they are the server's own.
//!
//! URIs are never renamed in the common case. When two servers list the same URI, the first
//! by server name keeps it and the others' copies are listed as `mcpproxy://<server>/<URI,
//! percent-encoded>`, which routes to that server with its own URI. A URI in no list goes to
//! the first server (by name) with a template that matches it.
//!
//! A caller whose token has a profile gets a catalog of what the profile allows (a `View` is
//! the endpoint's scope and the profile), so every list, search, call and route of that
//! caller is limited in this one place.
//!
//! Rebuilt lazily, on the first read after `Backend::offers_changed` ticks, never per query;
//! readers share the snapshot through an `Arc`. The search index is built on the first
//! search of a snapshot: while a thousand servers start, snapshots follow one another
//! faster than anyone searches them. It never talks to upstream servers itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rmcp::model::{
    Prompt, PromptsCapability, Resource, ResourceTemplate, ResourcesCapability, ServerCapabilities,
    TASKS_EXTENSION_ID, Tool, ToolsCapability,
};
use tokio::sync::watch;

use super::backend::{Backend, ToolEntry};
use super::names::{direct_name, parse_proxy_uri, proxy_uri, template_matches};
use super::search::ToolIndex;
use crate::auth::{self, Profile};
use crate::legacy_tasks;
use crate::upstream::{CacheHint, ListHints, ServerOffer};

/// Which upstreams an endpoint shows, and how it names their tools and prompts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every Ready server, names prefixed with the server's (`/mcp`, `/mcp/all`).
    All,
    /// One server, exactly as it is (`/mcp/server/<name>`).
    One(String),
}

/// What one caller of one endpoint sees: the endpoint's scope, limited by the caller's
/// token profile if it has one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct View {
    pub scope: Scope,
    pub profile: Option<Arc<Profile>>,
}

impl View {
    /// `scope` for a caller without a profile.
    pub fn whole(scope: Scope) -> View {
        View {
            scope,
            profile: None,
        }
    }

    fn allows_server(&self, server: &str) -> bool {
        let in_scope = match &self.scope {
            Scope::All => true,
            Scope::One(name) => name == server,
        };
        in_scope && auth::allows_server(self.profile.as_deref(), server)
    }
}

/// Where a name or URI leads: the server and the name or URI it has there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub server: String,
    pub name: String,
}

/// One snapshot of what an endpoint shows.
#[derive(Debug)]
pub struct Catalog {
    scope: Scope,
    profile: Option<Arc<Profile>>,
    servers: Vec<ServerOffer>,
    /// Tools ordered by server, then tool name.
    entries: Vec<ToolEntry>,
    /// Of `entries`, built on first use.
    index: OnceLock<ToolIndex>,
    /// Downstream tool name → position in `entries`.
    direct: HashMap<String, usize>,
    /// As listed downstream.
    resources: Vec<Resource>,
    /// Downstream URI → route, for every listed resource.
    by_uri: HashMap<String, Route>,
    /// `(server, its URI)` → the proxy URI it is listed under, for the renamed ones.
    renamed: HashMap<(String, String), String>,
    templates: Vec<(String, ResourceTemplate)>,
    prompts: Vec<Prompt>,
    by_prompt: HashMap<String, Route>,
}

impl Catalog {
    pub fn build(offers: Vec<ServerOffer>, view: &View) -> Catalog {
        let mut servers: Vec<ServerOffer> = offers
            .into_iter()
            .filter(|o| view.allows_server(&o.server))
            .collect();
        servers.sort_by(|a, b| a.server.cmp(&b.server));
        let View { scope, profile } = view.clone();
        let tool_allowed =
            |server: &str, tool: &str| auth::allows_tool(profile.as_deref(), server, tool);
        let name_of = |server: &str, name: &str| match scope {
            Scope::All => direct_name(server, name),
            Scope::One(_) => name.to_string(),
        };

        let mut entries: Vec<ToolEntry> = servers
            .iter()
            .flat_map(|o| {
                o.offer
                    .tools
                    .iter()
                    .filter(|tool| tool_allowed(&o.server, &tool.name))
                    .map(|tool| ToolEntry {
                        server: o.server.clone(),
                        tool: tool.clone(),
                    })
            })
            .collect();
        entries.sort_by(|a, b| (&a.server, &a.tool.name).cmp(&(&b.server, &b.tool.name)));
        let mut direct = HashMap::with_capacity(entries.len());
        for (position, entry) in entries.iter().enumerate() {
            let name = name_of(&entry.server, &entry.tool.name);
            // Two pairs can only collide through `__` inside names; the first (in sorted
            // order) keeps the name so that routing stays deterministic.
            if direct.contains_key(&name) {
                tracing::warn!(tool = %name, "two upstream tools map to the same name; serving the first");
                continue;
            }
            direct.insert(name, position);
        }

        let mut resources = Vec::new();
        let mut by_uri = HashMap::new();
        let mut renamed = HashMap::new();
        for offer in &servers {
            for resource in &offer.offer.resources {
                let route = Route {
                    server: offer.server.clone(),
                    name: resource.uri.clone(),
                };
                let mut listed = resource.clone();
                if by_uri.contains_key(&resource.uri) {
                    let proxied = proxy_uri(&offer.server, &resource.uri);
                    renamed.insert(
                        (offer.server.clone(), resource.uri.clone()),
                        proxied.clone(),
                    );
                    listed.uri = proxied;
                }
                by_uri.entry(listed.uri.clone()).or_insert(route);
                resources.push(listed);
            }
        }
        let templates = servers
            .iter()
            .flat_map(|o| {
                o.offer
                    .templates
                    .iter()
                    .map(|t| (o.server.clone(), t.clone()))
            })
            .collect();

        let mut prompts = Vec::new();
        let mut by_prompt = HashMap::new();
        for offer in &servers {
            for prompt in &offer.offer.prompts {
                let name = name_of(&offer.server, &prompt.name);
                if by_prompt.contains_key(&name) {
                    continue;
                }
                let route = Route {
                    server: offer.server.clone(),
                    name: prompt.name.clone(),
                };
                by_prompt.insert(name.clone(), route);
                let mut listed = prompt.clone();
                listed.name = name;
                prompts.push(listed);
            }
        }

        Catalog {
            scope,
            profile,
            servers,
            entries,
            index: OnceLock::new(),
            direct,
            resources,
            by_uri,
            renamed,
            templates,
            prompts,
            by_prompt,
        }
    }

    pub fn entries(&self) -> &[ToolEntry] {
        &self.entries
    }

    pub fn index(&self) -> &ToolIndex {
        self.index.get_or_init(|| ToolIndex::build(&self.entries))
    }

    /// The cache hint of one merged list (`list` picks it from each server's): the shortest
    /// freshness and the narrowest scope of the servers in it. With no server, the list is
    /// stale at once (one may come any moment).
    pub fn hint(&self, list: fn(&ListHints) -> CacheHint) -> CacheHint {
        let hints = self.servers.iter().map(|o| list(&o.offer.hints));
        hints.reduce(CacheHint::and).unwrap_or_default().said()
    }

    pub fn servers(&self) -> &[ServerOffer] {
        &self.servers
    }

    /// Whether a tool shown here runs as a 2025-11-25 task (`execution.taskSupport`).
    pub fn runs_tasks(&self) -> bool {
        self.direct
            .values()
            .any(|p| legacy_tasks::runs_as_task(&self.entries[*p].tool))
    }

    /// The tools as this endpoint names them, every field as the server gave it (`execution`
    /// kept in `_meta`, where `legacy_wire` takes it from).
    pub fn direct_tools(&self) -> Vec<Tool> {
        let mut tools: Vec<(&String, &usize)> = self.direct.iter().collect();
        tools.sort_by_key(|(_, position)| **position);
        tools
            .into_iter()
            .filter_map(|(name, position)| {
                let mut tool = self.entries.get(*position)?.tool.clone();
                tool.name = name.clone().into();
                Some(tool)
            })
            .collect()
    }

    /// The `(server, tool)` behind a tool name of this endpoint.
    /// The tool a downstream name stands for, as the server defines it.
    pub fn direct_tool(&self, name: &str) -> Option<&Tool> {
        let entry = self.entries.get(*self.direct.get(name)?)?;
        Some(&entry.tool)
    }

    pub fn resolve_direct(&self, name: &str) -> Option<(&str, &str)> {
        let entry = self.entries.get(*self.direct.get(name)?)?;
        Some((entry.server.as_str(), entry.tool.name.as_ref()))
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// Whether `other` lists the same tools, resources (with templates) and prompts.
    pub fn same_lists(&self, other: &Catalog) -> (bool, bool, bool) {
        let tools = self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.server == b.server && a.tool == b.tool);
        let resources = self.resources == other.resources && self.templates == other.templates;
        (tools, resources, self.prompts == other.prompts)
    }

    pub fn templates(&self) -> Vec<ResourceTemplate> {
        self.templates.iter().map(|(_, t)| t.clone()).collect()
    }

    pub fn prompts(&self) -> &[Prompt] {
        &self.prompts
    }

    pub fn resolve_prompt(&self, name: &str) -> Option<&Route> {
        self.by_prompt.get(name)
    }

    /// The server a URI of this endpoint belongs to, and its URI there.
    pub fn route_uri(&self, uri: &str) -> Option<Route> {
        if let Some(route) = self.by_uri.get(uri) {
            return Some(route.clone());
        }
        if let Some((server, original)) = parse_proxy_uri(uri)
            && self.servers.iter().any(|o| o.server == server)
        {
            return Some(Route {
                server: server.to_string(),
                name: original,
            });
        }
        self.templates
            .iter()
            .find(|(_, t)| template_matches(&t.uri_template, uri))
            .map(|(server, _)| Route {
                server: server.clone(),
                name: uri.to_string(),
            })
    }

    /// The server of a resource template (a completion's `ref/resource`), given as listed.
    pub fn route_template(&self, uri_template: &str) -> Option<Route> {
        let exact = self
            .templates
            .iter()
            .find(|(_, t)| t.uri_template == uri_template);
        match exact {
            Some((server, _)) => Some(Route {
                server: server.clone(),
                name: uri_template.to_string(),
            }),
            None => self.route_uri(uri_template),
        }
    }

    /// The URI under which this endpoint shows `server`'s `uri`.
    pub fn downstream_uri(&self, server: &str, uri: &str) -> String {
        self.renamed
            .get(&(server.to_string(), uri.to_string()))
            .cloned()
            .unwrap_or_else(|| uri.to_string())
    }

    /// Whether any Ready server is in this catalog.
    pub fn shows_any(&self) -> bool {
        !self.servers.is_empty()
    }

    /// Whether this endpoint shows `server`.
    pub fn shows(&self, server: &str) -> bool {
        match &self.scope {
            Scope::All => self.servers.iter().any(|o| o.server == server),
            Scope::One(name) => {
                name == server && auth::allows_server(self.profile.as_deref(), server)
            }
        }
    }

    /// What this endpoint offers: tools always (their list follows the servers'), and each
    /// other feature when a server it shows offers it. Every-server endpoints always offer
    /// resources and prompts too: a client that connects while servers are still starting
    /// would otherwise never look for the ones that come (capabilities are only told once).
    pub fn capabilities(&self) -> ServerCapabilities {
        let mut capabilities = ServerCapabilities::default();
        let mut tools = ToolsCapability::default();
        tools.list_changed = Some(true);
        capabilities.tools = Some(tools);
        let offers = || self.servers.iter().map(|o| &o.offer.capabilities);
        let every = self.scope == Scope::All;
        if every || offers().any(|c| c.resources.is_some()) {
            let mut resources = ResourcesCapability::default();
            resources.list_changed = Some(true);
            resources.subscribe = offers()
                .any(|c| {
                    c.resources
                        .as_ref()
                        .is_some_and(|r| r.subscribe == Some(true))
                })
                .then_some(true);
            capabilities.resources = Some(resources);
        }
        if every || offers().any(|c| c.prompts.is_some()) {
            let mut prompts = PromptsCapability::default();
            prompts.list_changed = Some(true);
            capabilities.prompts = Some(prompts);
        }
        if offers().any(|c| c.completions.is_some()) {
            capabilities.completions = Some(Default::default());
        }
        if offers().any(|c| c.logging.is_some()) {
            capabilities.logging = Some(Default::default());
        }
        if offers().any(|c| c.supports_tasks()) {
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(TASKS_EXTENSION_ID.to_string(), Default::default());
        }
        capabilities
    }

    /// `own`, then each server's instructions under its name.
    pub fn instructions(&self, own: Option<&str>) -> Option<String> {
        let mut parts: Vec<String> = own.map(str::to_string).into_iter().collect();
        for offer in &self.servers {
            if let Some(text) = offer
                .offer
                .instructions
                .as_deref()
                .filter(|t| !t.trim().is_empty())
            {
                parts.push(match self.scope {
                    Scope::All => format!("## {}\n\n{}", offer.server, text.trim()),
                    Scope::One(_) => text.to_string(),
                });
            }
        }
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }
}

/// Holds the current snapshots (one per view in use) and rebuilds them when the backend's
/// offers have changed.
pub struct CatalogCache {
    backend: Arc<dyn Backend>,
    changes: Mutex<watch::Receiver<u64>>,
    current: Mutex<HashMap<View, Arc<Catalog>>>,
}

impl CatalogCache {
    pub fn new(backend: Arc<dyn Backend>) -> CatalogCache {
        let changes = backend.offers_changed();
        CatalogCache {
            backend,
            changes: Mutex::new(changes),
            current: Mutex::new(HashMap::new()),
        }
    }

    /// The current snapshot of `view`, rebuilt first if the backend ticked since the last
    /// build.
    pub fn get(&self, view: &View) -> Arc<Catalog> {
        // Mark the tick as seen before reading the offers: a change that lands in between
        // ticks again and is picked up by the next read.
        let changed = {
            let mut changes = lock(&self.changes);
            let changed = changes.has_changed().unwrap_or(false);
            changes.borrow_and_update();
            changed
        };
        let mut current = lock(&self.current);
        if changed {
            current.clear();
        }
        if let Some(catalog) = current.get(view) {
            return catalog.clone();
        }
        let catalog = Arc::new(Catalog::build(self.backend.offers(), view));
        // Views of servers or tokens that are gone are dropped with the next change.
        current.insert(view.clone(), catalog.clone());
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

    use rmcp::model::{CacheScope, Tool};

    use super::*;
    use crate::upstream::Offer;

    fn tool(name: &str) -> Tool {
        Tool::new(
            name.to_string(),
            format!("{name} tool"),
            Arc::new(Default::default()),
        )
    }

    fn offer(server: &str, tools: &[&str]) -> ServerOffer {
        ServerOffer {
            server: server.to_string(),
            offer: Arc::new(Offer::tools(tools.iter().map(|t| tool(t)).collect())),
        }
    }

    /// A merged list is as fresh as its stalest server's, and private if any server's is (or
    /// says nothing, as servers before 2026-07-28 do); with no server it is stale at once.
    #[test]
    fn a_merged_lists_cache_hint_is_the_narrowest_of_its_servers() {
        let hinted = |server: &str, ttl: Option<u64>, scope: Option<CacheScope>| {
            let mut offer = Offer::tools(vec![tool("t")]);
            offer.hints.tools = CacheHint::new(ttl, scope);
            ServerOffer {
                server: server.to_string(),
                offer: Arc::new(offer),
            }
        };
        let public = Some(CacheScope::Public);
        let hint = |offers: Vec<ServerOffer>| {
            Catalog::build(offers, &View::whole(Scope::All)).hint(|h| h.tools)
        };
        let cases = [
            (vec![], Some(0), CacheScope::Private),
            (
                vec![hinted("a", Some(60_000), public)],
                Some(60_000),
                CacheScope::Public,
            ),
            (
                vec![
                    hinted("a", Some(60_000), public),
                    hinted("b", Some(5_000), public),
                ],
                Some(5_000),
                CacheScope::Public,
            ),
            (
                vec![
                    hinted("a", Some(60_000), public),
                    hinted("b", Some(90_000), Some(CacheScope::Private)),
                ],
                Some(60_000),
                CacheScope::Private,
            ),
            (
                vec![hinted("a", Some(60_000), public), hinted("old", None, None)],
                Some(0),
                CacheScope::Private,
            ),
        ];
        for (offers, ttl, scope) in cases {
            let names: Vec<String> = offers.iter().map(|o| o.server.clone()).collect();
            assert_eq!(hint(offers), CacheHint::new(ttl, Some(scope)), "{names:?}");
        }
    }

    fn with_resources(server: &str, uris: &[&str], templates: &[&str]) -> ServerOffer {
        let mut offer = Offer::tools(Vec::new());
        offer.capabilities.resources = Some(Default::default());
        offer.resources = uris
            .iter()
            .map(|u| Resource::new(*u, u.to_string()))
            .collect();
        offer.templates = templates
            .iter()
            .map(|t| ResourceTemplate::new(*t, t.to_string()))
            .collect();
        ServerOffer {
            server: server.to_string(),
            offer: Arc::new(offer),
        }
    }

    #[test]
    fn direct_names_route_to_server_and_tool() {
        let catalog = Catalog::build(
            vec![
                offer("weather", &["get_alerts"]),
                offer("fs", &["read_file", "write_file"]),
            ],
            &View::whole(Scope::All),
        );
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
    fn one_server_scope_keeps_names_as_they_are() {
        let offers = vec![
            offer("fs", &["read_file"]),
            offer("weather", &["get_alerts"]),
        ];
        let catalog = Catalog::build(offers, &View::whole(Scope::One("fs".into())));
        let names: Vec<String> = catalog
            .direct_tools()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["read_file"]);
        assert_eq!(
            catalog.resolve_direct("read_file"),
            Some(("fs", "read_file"))
        );
        assert_eq!(catalog.resolve_direct("get_alerts"), None);
    }

    #[test]
    fn colliding_direct_names_keep_the_first() {
        // "a__b" + "c" and "a" + "b__c" both give "a__b__c".
        let catalog = Catalog::build(
            vec![offer("a__b", &["c"]), offer("a", &["b__c"])],
            &View::whole(Scope::All),
        );
        assert_eq!(catalog.direct_tools().len(), 1);
        assert_eq!(catalog.resolve_direct("a__b__c"), Some(("a", "b__c")));
    }

    #[test]
    fn uris_route_to_their_server_and_collisions_get_proxy_uris() {
        let catalog = Catalog::build(
            vec![
                with_resources("b", &["file:///shared", "b://only"], &["b://items/{id}"]),
                with_resources("a", &["file:///shared", "a://only"], &[]),
            ],
            &View::whole(Scope::All),
        );
        let listed: Vec<&str> = catalog.resources().iter().map(|r| r.uri.as_str()).collect();
        let proxied = proxy_uri("b", "file:///shared");
        assert_eq!(
            listed,
            ["file:///shared", "a://only", proxied.as_str(), "b://only"]
        );
        let route = |uri: &str| catalog.route_uri(uri).map(|r| (r.server, r.name));
        assert_eq!(
            route("file:///shared"),
            Some(("a".into(), "file:///shared".into()))
        );
        assert_eq!(route(&proxied), Some(("b".into(), "file:///shared".into())));
        assert_eq!(route("b://only"), Some(("b".into(), "b://only".into())));
        assert_eq!(
            route("b://items/42"),
            Some(("b".into(), "b://items/42".into()))
        );
        assert_eq!(route("c://nothing"), None);
        assert_eq!(catalog.downstream_uri("b", "file:///shared"), proxied);
        assert_eq!(
            catalog.downstream_uri("a", "file:///shared"),
            "file:///shared"
        );
        // A proxy URI for a server this endpoint does not show leads nowhere.
        assert_eq!(route(&proxy_uri("zz", "x://y")), None);
    }

    #[test]
    fn same_lists_tells_which_list_changed() {
        let before = Catalog::build(
            vec![offer("a", &["t"]), with_resources("b", &["b://1"], &[])],
            &View::whole(Scope::All),
        );
        let same = Catalog::build(
            vec![offer("a", &["t"]), with_resources("b", &["b://1"], &[])],
            &View::whole(Scope::All),
        );
        assert_eq!(before.same_lists(&same), (true, true, true));
        let more = Catalog::build(
            vec![
                offer("a", &["t"]),
                with_resources("b", &["b://1", "b://2"], &[]),
            ],
            &View::whole(Scope::All),
        );
        assert_eq!(before.same_lists(&more), (true, false, true));
        let other_tool = Catalog::build(
            vec![offer("a", &["u"]), with_resources("b", &["b://1"], &[])],
            &View::whole(Scope::All),
        );
        assert_eq!(before.same_lists(&other_tool), (false, true, true));
    }

    #[test]
    fn capabilities_are_the_union_and_instructions_name_their_server() {
        let mut first = Offer::tools(Vec::new());
        first.instructions = Some("Use fs for files.".into());
        first.capabilities.logging = Some(Default::default());
        let catalog = Catalog::build(
            vec![
                ServerOffer {
                    server: "fs".into(),
                    offer: Arc::new(first),
                },
                with_resources("docs", &["d://1"], &[]),
            ],
            &View::whole(Scope::All),
        );
        let capabilities = catalog.capabilities();
        assert!(capabilities.logging.is_some());
        assert!(capabilities.resources.is_some());
        assert!(capabilities.completions.is_none());
        assert_eq!(
            catalog.instructions(Some("mcpproxy.")).as_deref(),
            Some("mcpproxy.\n\n## fs\n\nUse fs for files.")
        );
        // Every-server endpoints always offer resources and prompts; one server's, its own.
        let tools_only = vec![offer("x", &["t"])];
        let all = Catalog::build(tools_only.clone(), &View::whole(Scope::All));
        assert!(all.capabilities().resources.is_some());
        assert!(all.capabilities().prompts.is_some());
        assert_eq!(all.capabilities().logging, None);
        let one = Catalog::build(tools_only, &View::whole(Scope::One("x".into())));
        assert_eq!(one.capabilities().resources, None);
        assert_eq!(one.capabilities().prompts, None);
        assert_eq!(all.instructions(None), None);
    }

    #[test]
    fn a_profile_limits_servers_tools_resources_and_routes() {
        let mut fs = Offer::tools(vec![tool("read_file"), tool("write_file")]);
        fs.instructions = Some("fs here.".into());
        let offers = vec![
            ServerOffer {
                server: "fs".into(),
                offer: Arc::new(fs),
            },
            offer("shell", &["run"]),
            with_resources("docs", &["d://1"], &["d://{id}"]),
        ];
        let profile = Profile::new(
            Some(vec!["fs".into(), "doc?".into()]),
            Some(vec!["*:read_*".into()]),
        )
        .unwrap()
        .map(Arc::new);
        let view = View {
            scope: Scope::All,
            profile: profile.clone(),
        };
        let catalog = Catalog::build(offers.clone(), &view);
        let names: Vec<String> = catalog
            .direct_tools()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["fs__read_file"]);
        assert_eq!(catalog.resolve_direct("fs__write_file"), None);
        assert_eq!(catalog.resolve_direct("shell__run"), None);
        assert!(!catalog.shows("shell") && catalog.shows("docs"));
        assert_eq!(catalog.route_uri("d://1").unwrap().server, "docs");
        assert_eq!(catalog.route_uri("d://7").unwrap().server, "docs");
        assert_eq!(catalog.index().search("run", 10).len(), 0);
        assert_eq!(
            catalog.instructions(None).as_deref(),
            Some("## fs\n\nfs here.")
        );

        let outside = View {
            scope: Scope::One("shell".into()),
            profile,
        };
        let catalog = Catalog::build(offers, &outside);
        assert!(!catalog.shows_any() && !catalog.shows("shell"));
    }
}
