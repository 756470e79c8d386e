//! A token's profile: which servers, and which of their tools, the token sees. Pure.
//!
//! A token without a profile sees everything. With one, every endpoint shows only what the
//! profile allows, as if nothing else were configured: lists, search, calls, resources,
//! prompts, completions, `/mcp/server/<name>` (404 outside it) and `upstream_servers`.
//!
//! Patterns use `*` (any run of characters) and `?` (one character). Server patterns match a
//! server's name; tool patterns match `server:tool`, the name `/mcp`'s `call_tool` uses.

use std::fmt;

use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

/// What a token sees; `None` in a field: no limit on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Profile {
    /// Server name patterns: only servers that match one are shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<String>>,
    /// `server:tool` patterns: only tools that match one are shown (resources and prompts
    /// follow `servers` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
}

impl Profile {
    /// The profile of these patterns; `None` when neither limits anything.
    pub fn new(
        servers: Option<Vec<String>>,
        tools: Option<Vec<String>>,
    ) -> Result<Option<Profile>, String> {
        for pattern in servers.iter().flatten() {
            if pattern.trim().is_empty() || pattern.contains(':') {
                return Err(format!(
                    "server pattern {pattern:?}: give a server name, or a pattern such as git*"
                ));
            }
        }
        for pattern in tools.iter().flatten() {
            match pattern.split_once(':') {
                Some((server, tool)) if !server.is_empty() && !tool.is_empty() => {}
                _ => {
                    return Err(format!(
                        "tool pattern {pattern:?}: write it server:tool, e.g. github:get_* or \
                         *:read_file"
                    ));
                }
            }
        }
        if servers.is_none() && tools.is_none() {
            return Ok(None);
        }
        Ok(Some(Profile { servers, tools }))
    }

    /// Whether the token sees `server` (its resources, prompts and tools the tool patterns
    /// allow).
    pub fn allows_server(&self, server: &str) -> bool {
        self.servers
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| WildMatch::new(p).matches(server)))
    }

    /// Whether the token sees `server`'s tool `tool`.
    pub fn allows_tool(&self, server: &str, tool: &str) -> bool {
        if !self.allows_server(server) {
            return false;
        }
        let Some(patterns) = &self.tools else {
            return true;
        };
        let qualified = format!("{server}:{tool}");
        patterns
            .iter()
            .any(|p| WildMatch::new(p).matches(&qualified))
    }
}

/// `servers a, b; tools a:x*`, as `token list` and errors show it.
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(servers) = &self.servers {
            parts.push(format!("servers {}", servers.join(", ")));
        }
        if let Some(tools) = &self.tools {
            parts.push(format!("tools {}", tools.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Whether a caller with `profile` sees `server`: everyone sees everything without one.
pub fn allows_server(profile: Option<&Profile>, server: &str) -> bool {
    profile.is_none_or(|p| p.allows_server(server))
}

/// Whether a caller with `profile` sees `server`'s tool `tool`.
pub fn allows_tool(profile: Option<&Profile>, server: &str, tool: &str) -> bool {
    profile.is_none_or(|p| p.allows_tool(server, tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn no_patterns_no_profile() {
        assert_eq!(Profile::new(None, None), Ok(None));
        assert!(allows_tool(None, "any", "thing"));
    }

    #[test]
    fn servers_limit_everything_tools_limit_tools() {
        let p = Profile::new(list(&["git*", "fs"]), None).unwrap().unwrap();
        assert!(p.allows_server("github") && p.allows_server("gitlab") && p.allows_server("fs"));
        assert!(!p.allows_server("fsx") && !p.allows_server("shell"));
        assert!(p.allows_tool("github", "anything"));
        assert!(!p.allows_tool("shell", "run"));

        let p = Profile::new(list(&["github"]), list(&["github:get_*", "*:search"]))
            .unwrap()
            .unwrap();
        assert!(p.allows_tool("github", "get_issue"));
        assert!(p.allows_tool("github", "search"));
        assert!(!p.allows_tool("github", "delete_repo"));
        assert!(!p.allows_tool("fs", "search"), "fs is not in servers");

        let tools_only = Profile::new(None, list(&["*:read_?ile"])).unwrap().unwrap();
        assert!(tools_only.allows_server("any"));
        assert!(tools_only.allows_tool("fs", "read_file"));
        assert!(!tools_only.allows_tool("fs", "write_file"));
        assert_eq!(
            tools_only.to_string(),
            "tools *:read_?ile",
            "as token list shows it"
        );
        assert_eq!(
            Profile::new(list(&["a", "b"]), list(&["a:x"]))
                .unwrap()
                .unwrap()
                .to_string(),
            "servers a, b; tools a:x"
        );
    }

    #[test]
    fn bad_patterns_say_how_to_write_them() {
        let error = Profile::new(None, list(&["read_file"])).unwrap_err();
        assert!(error.contains("server:tool"), "{error}");
        assert!(Profile::new(None, list(&[":x"])).is_err());
        let error = Profile::new(list(&["a:b"]), None).unwrap_err();
        assert!(error.contains("server pattern"), "{error}");
        assert!(Profile::new(list(&[" "]), None).is_err());
    }

    #[test]
    fn an_empty_server_list_shows_nothing() {
        let p = Profile::new(Some(Vec::new()), None).unwrap().unwrap();
        assert!(!p.allows_server("any"));
    }
}
